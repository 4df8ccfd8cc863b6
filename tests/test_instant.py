"""Issue 16, "instant and unbreakable": what is imported when, and clean failures.

No test here times anything (timings depend on the machine's load; they are measured by
``scripts/bench_startup.py``): the startup tests check *which modules* a process has
imported, which is what makes it slow or fast.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

import smsem
from smsem import cli
from smsem.estimate import ml
from smsem.estimate.backend import fit_semopy
from smsem.io import read_survey, read_table, write_text
from smsem.montecarlo import load_config, run_study
from smsem.montecarlo.runner import LOCK_NAME, chunk_size, iter_chunks, iter_pending, study_lock

from conftest import ROOT
from montecarlo_helpers import write_config

EXAMPLE = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"
HEAVY = ("semopy", "sympy", "matplotlib", "dask", "distributed", "pyarrow", "scipy.stats", "sklearn",
         "statsmodels")


def _imported_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; return the heavy modules it imported and its output."""
    probe = textwrap.dedent(f"""
        import contextlib, io, json, sys
        out, err = io.StringIO(), io.StringIO()
        status = None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
{textwrap.indent(textwrap.dedent(code), " " * 16)}
            except SystemExit as exc:
                status = exc.code
        heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
        print(json.dumps({{"heavy": heavy, "status": status, "out": out.getvalue(), "err": err.getvalue()}}))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- startup: nothing heavy before it is needed ------------------------------------------

def test_import_smsem_imports_nothing_heavy():
    got = _imported_after("import smsem\nassert smsem.__version__")
    assert got["heavy"] == []


def test_lazy_api_still_resolves_every_public_name():
    for name in smsem.__all__:
        assert getattr(smsem, name) is not None, name
    assert callable(smsem.bootstrap) and callable(smsem.simulate)  # functions, as before
    assert set(smsem.__all__) <= set(dir(smsem))
    with pytest.raises(AttributeError):
        smsem.no_such_name  # noqa: B018


def test_help_version_and_argument_errors_import_nothing_heavy():
    got = _imported_after("""
        from smsem.cli import main
        for argv in (["--help"], ["--version"], ["fit", "--help"], ["power", "--help"],
                     ["fit", "x.csv", "--boot", "-1"], ["fit", "x.csv", "--level", "2"]):
            try:
                main(argv)
            except SystemExit:
                pass
    """)
    assert got["heavy"] == []
    assert "examples:" in got["out"] and "smsem 0." in got["out"]
    assert got["err"].count("smsem fit: error:") == 2


def test_fit_without_bootstrap_imports_no_optimizer_stats_or_semopy():
    """`smsem fit FILE --boot 0` (the command a student repeats) needs pandas and
    scipy.special, not scipy.optimize (0.2 s: Fisher scoring and Newton converge without
    it; the RMSEA interval's root is bisected), scipy.stats, statsmodels or semopy."""
    probe = textwrap.dedent(f"""
        import contextlib, io, json, sys
        from smsem.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = main(["fit", {str(EXAMPLE)!r}, "--boot", "0", "--quiet"])
        slow = ("scipy.optimize", "scipy.stats", "statsmodels", "semopy", "sympy", "sklearn", "matplotlib",
                "dask", "scipy.linalg")
        print(json.dumps({{"code": code, "loaded": [m for m in slow if m in sys.modules],
                          "rmsea": "RMSEA 90% CI upper" in out.getvalue()}}))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"code": 0, "loaded": [], "rmsea": True}


def test_input_file_errors_come_before_the_estimation_imports(tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("grid: {n: [100]}\nreplications: 10\nsed: 3\n", encoding="utf-8")
    got = _imported_after(f"""
        from smsem.cli import main
        codes = [main(["fit", {str(tmp_path / 'absent.csv')!r}, "--boot", "0"]),
                 main(["fit", {str(EXAMPLE)!r}, "--model", "no_such_model"]),
                 main(["power", {str(bad_yaml)!r}])]
        print(codes)
    """)
    assert got["heavy"] == []
    assert "[2, 2, 2]" in got["out"]
    lines = got["err"].strip().splitlines()
    assert len(lines) == 3 and all(ln.startswith("smsem: error: ") for ln in lines)
    assert "absent.csv: file not found" in lines[0] and "no_such_model" in lines[1] and "key sed" in lines[2]


def test_every_subcommand_help_has_examples(capsys):
    for name in cli._COMMANDS:
        with pytest.raises(SystemExit):
            cli.main([name, "--help"])
        out = capsys.readouterr().out
        examples = out.split("examples:")[1]
        assert sum(ln.startswith(f"  smsem {name} ") for ln in examples.splitlines()) >= 2, name
    with pytest.raises(SystemExit):
        cli.main(["fit", "--help"])
    out = capsys.readouterr().out
    assert "--model" in out.split("options:")[0]  # the description says any model can be fitted


# --- bounded resources: the plan of a huge study is streamed -------------------------------

def _huge(tmp_path):
    return load_config(write_config(tmp_path / "huge.yaml", grid={"n": [60]}, replications=100_000_000_000))


def test_plan_of_a_huge_study_takes_no_memory(tmp_path):
    cfg = _huge(tmp_path)
    tracemalloc.start()
    try:
        chunks = iter_chunks(iter_pending(cfg, set()), chunk_size(cfg.n_tasks, 2))
        first = [next(chunks) for _ in range(3)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [reps[0] for _, reps in first] == [0, 256, 512] and all(len(r) == 256 for _, r in first)
    assert peak < 5_000_000  # bytes; a materialized plan of 1e11 tasks would never get here


HUGE_RUN = """
import resource, sys
from smsem.montecarlo import load_config, run_study
from smsem.montecarlo import runner
resource.setrlimit(resource.RLIMIT_AS, (AS_BYTES, AS_BYTES))  # a materialized plan dies here, not the machine
runner.MAX_CHUNK = 4  # small chunks: the first rows come at once
cfg = load_config(sys.argv[1])
rows = []

def stop(row):
    rows.append(row)
    if len(rows) >= 3:
        raise KeyboardInterrupt

try:
    run_study(cfg, sys.argv[2], progress=False, on_row=stop)
except KeyboardInterrupt:
    pass
with open("/proc/self/status") as fh:
    peak = [ln for ln in fh if ln.startswith("VmHWM")][0].split()[1]
print(len(rows), cfg.n_tasks, peak)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses RLIMIT_AS and /proc")
def test_huge_study_runs_and_stops_with_bounded_memory(tmp_path):
    path = write_config(tmp_path / "huge.yaml", grid={"n": [60]}, replications=100_000_000_000)
    limit = 4 * 1024 ** 3
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", HUGE_RUN.replace("AS_BYTES", str(limit)), str(path),
                           str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stored, total, peak_kb = map(int, proc.stdout.split())
    assert stored == 3 and total == 100_000_000_000
    assert peak_kb < 500 * 1024  # resident peak under 500 MB


# --- clean failures: one line, exit status 2 ---------------------------------------------

def _run_main(argv, capsys):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_power_out_under_a_regular_file_is_one_line(tmp_path, capsys):
    cfg = write_config(tmp_path / "study.yaml", grid={"n": [60]}, replications=2)
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a folder", encoding="utf-8")
    code, _, err = _run_main(["power", cfg, "--out", blocker / "study", "--quiet"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("smsem: error: ") and "cannot write the study there" in err and "--out" in err


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True,
                    reason="root ignores permission bits (the regular-file case covers root)")
def test_power_out_in_a_read_only_folder_is_one_line(tmp_path, capsys):  # pragma: no cover - non-root
    cfg = write_config(tmp_path / "study.yaml", grid={"n": [60]}, replications=2)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, _, err = _run_main(["power", cfg, "--out", ro / "study", "--quiet"], capsys)
    finally:
        ro.chmod(0o700)
    assert code == 2 and err.count("\n") == 1 and "cannot write the study there" in err


def test_power_with_too_small_n_is_refused_up_front(tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("population: {model: integrative}\ngrid: {n: [10, 300]}\nreplications: 10\n", encoding="utf-8")
    code, out, err = _run_main(["power", cfg, "--out", tmp_path / "out", "--quiet"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    model = smsem.load_model("integrative")
    need = max(len(model.items) + 1, model.n_free)
    assert "grid.n 10 is too small" in err and f"n >= {need}" in err
    assert not (tmp_path / "out").exists()  # nothing was started


def test_second_writer_of_a_study_is_refused_naming_the_holder(tmp_path, capsys):
    cfg = write_config(tmp_path / "study.yaml", grid={"n": [60]}, replications=2)
    out = tmp_path / "out"
    with study_lock(out):
        assert (out / LOCK_NAME).read_text(encoding="ascii").strip() == str(os.getpid())
        code, _, err = _run_main(["power", cfg, "--out", out, "--quiet"], capsys)
        assert code == 2 and err.count("\n") == 1
        assert f"in use by another smsem run (PID {os.getpid()})" in err
        assert not (out / "study.sqlite").exists()  # the refused run touched nothing
    code, _, err = _run_main(["power", cfg, "--out", out, "--quiet"], capsys)  # lock released
    assert code == 0, err


def test_second_writer_in_another_process_is_refused(tmp_path):
    cfg = write_config(tmp_path / "study.yaml", grid={"n": [60]}, replications=2)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with study_lock(out):  # the timeout only ends a run that waits for the lock (the failure tested)
        proc = subprocess.run([sys.executable, "-m", "smsem", "power", str(cfg), "--out", str(out), "--quiet"],
                              capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"PID {os.getpid()}" in proc.stderr


CP1252_HEADERS = {
    "COM1": "Communication – fréquence", "COM2": "Échanges d’information", "COM3": "Cœur de métier",
    "MA1": "Budget €", "MA2": "Attitude « direction »", "MA3": "Soutien…",
}


def test_cp1252_headers_are_decoded_and_matched_by_a_column_map(tmp_path):
    model = smsem.load_model("integrative")
    base = read_survey(EXAMPLE, model)
    raw = pd.read_csv(EXAMPLE, dtype=str).rename(columns=CP1252_HEADERS)
    path = tmp_path / "excel.csv"
    path.write_bytes(raw.to_csv(index=False, sep=";", lineterminator="\r\n").encode("cp1252"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # really not UTF-8
    assert list(read_table(path).columns[:6]) == list(CP1252_HEADERS.values())
    cmap = tmp_path / "map.yaml"
    cmap.write_text(yaml.safe_dump({v: k for k, v in CP1252_HEADERS.items()}, allow_unicode=True),
                    encoding="utf-8")
    got = read_survey(path, model, columns=cmap)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), base.reset_index(drop=True))


def test_fit_verbose_reports_the_detected_encoding(tmp_path, capsys):
    raw = pd.read_csv(EXAMPLE, dtype=str).rename(columns={"COM1": CP1252_HEADERS["COM1"]})
    path = tmp_path / "excel.csv"
    path.write_bytes(raw.to_csv(index=False, sep=";").encode("cp1252"))
    cmap = tmp_path / "map.yaml"
    cmap.write_text(f"{CP1252_HEADERS['COM1']}: COM1\n", encoding="utf-8")
    code, out, err = _run_main(["fit", path, "--columns", cmap, "--boot", "0", "--quiet", "--verbose",
                                "--format", "csv"], capsys)
    assert code == 0, err
    assert f"smsem: {path}: read as Windows-1252" in err and "P1" in out
    log = logging.getLogger("smsem")  # main() leaves no logging state behind
    assert log.handlers == [] and log.propagate and log.level == logging.NOTSET


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_bytes(b"COM1\x81x,COM2\n1,2\n")  # 0x81 is unassigned in cp1252
    assert read_table(path).columns[0] == "COM1\x81x"


def test_force_removes_temporaries_left_by_a_killed_writer(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old", encoding="utf-8")
    strays = [tmp_path / ".report.md.k1llD.tmp", tmp_path / ".report.md.zz9.tmp"]
    other = tmp_path / ".other.md.abc.tmp"  # another output's temporary file is left alone
    for f in [*strays, other]:
        f.write_text("partial", encoding="utf-8")
    write_text(target, "new", force=True)
    assert target.read_text(encoding="utf-8") == "new"
    assert not any(f.exists() for f in strays) and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.md.abc.tmp", "report.md"]


# --- convergence judged by the gradient and the step --------------------------------------

@pytest.fixture(scope="module")
def misfit_problem():
    """A badly misfitting sample (items shuffled across constructs, a third reversed, n = 80,
    F about 4) on which Fisher scoring converges linearly and needs more than 50 iterations
    (the old cap). Its solution is improper (negative variances): the optimizer is what
    is tested here, not admissibility."""
    model = smsem.load_model("integrative")
    seed = 11
    x = smsem.simulate(model, n=80, seed=seed)[model.items].astype(float)
    x = x.iloc[:, np.random.default_rng(seed).permutation(len(model.items))]
    x.columns = model.items
    for c in model.items[::3]:
        x[c] = 6 - x[c]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sfit = fit_semopy(model.parsed, x)
    pm = sfit.param_map()
    s = ml.sample_moments(x[list(pm.base.observed)].to_numpy())[1]
    return pm, np.asarray(sfit.start, dtype=float), s


def _max_grad(pm, theta, s):
    sigma = pm.matrices_at(theta).implied_cov
    return float(np.max(np.abs(ml.ml_gradient(ml.sigma_jacobian(pm, theta), s, sigma))))


def test_fisher_scoring_is_not_judged_by_an_iteration_cap(misfit_problem):
    pm, start, s = misfit_problem
    _, ok50 = ml.fisher_scoring(pm, start, s, max_iter=50)
    theta, ok = ml.fisher_scoring(pm, start, s)
    assert not ok50  # the case needs more than the old cap ...
    assert ok and _max_grad(pm, theta, s) < 1e-6  # ... and is converged, by its gradient
    # At the optimum a single iteration with an unreachable step tolerance still converges:
    # the gradient says so.
    again, ok1 = ml.fisher_scoring(pm, theta, s, max_iter=1, tol=0.0)
    assert ok1 and np.max(np.abs(again - theta)) < 1e-6
    # ... and an estimate far from the optimum is not called converged when the cap is hit.
    _, ok2 = ml.fisher_scoring(pm, start, s, max_iter=1, tol=0.0)
    assert not ok2


# --- lost workers: one line with what is stored, and --resume ------------------------------

def test_killed_local_worker_reports_stored_count_and_resume(tmp_path, capsys):
    import multiprocessing

    path = write_config(tmp_path / "study.yaml", grid={"n": [60]}, replications=40)
    cfg = load_config(path)
    seen = []

    def kill_a_worker(row):
        seen.append(row)
        if len(seen) == 1:
            for child in multiprocessing.active_children():
                os.kill(child.pid, 9)

    with pytest.raises(smsem.exceptions.WorkerLostError) as err:
        run_study(cfg, tmp_path / "out", jobs=2, progress=False, on_row=kill_a_worker)
    msg = str(err.value)
    assert "a worker process failed during the study" in msg and "--resume" in msg
    stored = int(msg.split(" of 40 replications are stored")[0].rsplit(" ", 1)[1])
    assert 1 <= stored < 40
    # the folder is not locked by the dead run, and --resume completes the study
    res = run_study(cfg, tmp_path / "out", jobs=1, resume=True, progress=False)
    assert res.complete and len(res.replications) == 40


def _dask_study(tmp_path, replications):
    return load_config(write_config(tmp_path / "study.yaml", grid={"n": [60]}, replications=replications))


@pytest.mark.slow
def test_dask_worker_killed_mid_study_is_retried(tmp_path):
    distributed = pytest.importorskip("distributed")
    cfg = _dask_study(tmp_path, 40)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster.scheduler_address) as client:
            pids = list(client.run(os.getpid).values())
        seen = []

        def kill_worker(row):
            seen.append(row)
            if len(seen) == 2:
                os.kill(pids[0], 9)  # the nanny starts a new worker; lost tasks run again

        res = run_study(cfg, tmp_path / "out", scheduler=cluster.scheduler_address, progress=False,
                        on_row=kill_worker)
    assert res.complete and len(res.replications) == 40


@pytest.mark.slow
def test_dask_cluster_gone_mid_study_is_one_clear_error(tmp_path):
    distributed = pytest.importorskip("distributed")
    cfg = _dask_study(tmp_path, 400)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        seen = []

        def close_cluster(row):
            seen.append(row)
            if len(seen) == 2:
                cluster.close()

        with pytest.raises(smsem.exceptions.WorkerLostError) as err:
            run_study(cfg, tmp_path / "out", scheduler=cluster.scheduler_address, progress=False,
                      on_row=close_cluster)
    msg = str(err.value)
    assert msg.startswith("the Dask cluster failed during the study") and "--resume" in msg
    assert " of 400 replications are stored in " in msg


def _children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(x) for x in fh.read().split()]
        except FileNotFoundError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow  # waits for a real fit before its pool starts (15-30 s on a loaded machine)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_bootstrap_workers_die_with_a_killed_parent(tmp_path):
    import signal
    import time

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "smsem", "fit", str(EXAMPLE), "--boot", "1000000", "--jobs", "2",
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 240  # generous: no timing is asserted, only the outcome
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            workers = _children(proc.pid)
        assert len(workers) >= 2, "the bootstrap pool did not start"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 60
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for w in workers:  # never leave a stray worker behind, even when the test fails
            if _alive(w):
                os.kill(w, signal.SIGKILL)


def test_first_chunks_are_small_then_double():
    from smsem.montecarlo.runner import Cell

    cell = Cell(0, n=100, likert=5, effect_multiplier=1.0, missing=0.0, estimator="ML")
    sizes = [len(reps) for _, reps in iter_chunks(((cell, r) for r in range(200)), 64, first=4)]
    assert sizes[:5] == [4, 8, 16, 32, 64] and set(sizes[5:]) <= {64, 12} and sum(sizes) == 200

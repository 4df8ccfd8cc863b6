"""The engine: identical rows for any number of processes, on Dask, and after SIGKILL + resume."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from conftest import ROOT
from montecarlo_helpers import config, write_config
from smsem.montecarlo import Store, run_study
from smsem.montecarlo.runner import chunk_tasks, pending_tasks


def _tables(out):
    """(replications, estimates) stored in ``out``, read through the Store API."""
    with sqlite3.connect(out / "study.sqlite") as conn:
        fp = conn.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()[0]
        cj = conn.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0]
    with Store(out / "study.sqlite", fp, cj) as st:
        return st.replications(), st.estimates()


def _children(pid: int) -> list[int]:
    """Child process ids of ``pid`` (Linux /proc)."""
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
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _assert_same(a, b):
    # Exact equality: the rows must not depend on the process that computed them.
    pd.testing.assert_frame_equal(a[0], b[0], check_exact=True)
    pd.testing.assert_frame_equal(a[1], b[1], check_exact=True)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("engine")
    cfg = config(tmp, grid={"n": [60, 100]}, replications=8)
    run_study(cfg, tmp / "jobs1", jobs=1, progress=False)
    return cfg, tmp, _tables(tmp / "jobs1")


def test_jobs_2_equals_jobs_1(study):
    cfg, tmp, ref = study
    assert len(ref[0]) == 16 and (ref[0].status == "ok").all()
    run_study(cfg, tmp / "jobs2", jobs=2, progress=False)
    _assert_same(_tables(tmp / "jobs2"), ref)


def test_dask_local_cluster_equals_jobs_1(study):
    distributed = pytest.importorskip("distributed")
    cfg, tmp, ref = study
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        res = run_study(cfg, tmp / "dask", scheduler=cluster.scheduler_address, progress=False)
    assert res.complete
    _assert_same(_tables(tmp / "dask"), ref)


def test_split_run_equals_whole_run(study):
    """A run interrupted in-process (an exception after 5 rows) and resumed gives the same rows."""
    cfg, tmp, ref = study

    class Stop(Exception):
        pass

    seen = []

    def stop_after_five(row):
        seen.append(row)
        if len(seen) == 5:
            raise Stop

    with pytest.raises(Stop):
        run_study(cfg, tmp / "split", jobs=2, progress=False, on_row=stop_after_five)
    # Stored before counted: every counted row is in the store, and nothing beyond the
    # chunk (committed in one transaction) that held the fifth row.
    stored = _tables(tmp / "split")[0]
    keys = set(zip(stored["cell"], stored["rep"]))
    assert {(r["cell"], r["rep"]) for r in seen} <= keys
    size = max(len(reps) for _, reps in chunk_tasks(pending_tasks(cfg, set()), 2))
    assert 5 <= len(keys) <= 5 + size - 1
    res = run_study(cfg, tmp / "split", jobs=1, resume=True, progress=False)
    assert res.complete
    _assert_same(_tables(tmp / "split"), ref)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the worker processes")
def test_resume_after_sigkill_equals_uninterrupted(tmp_path):
    cfgfile = write_config(tmp_path / "study.yaml", grid={"n": [60, 100]}, replications=40)
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "smsem", "power", str(cfgfile), "--out", str(out), "--no-progress"]
    # The run pauses right after committing its third chunk of replications (smsem._testhooks)
    # and stays there until killed: the kill lands mid-run however loaded the machine is.
    marker = tmp_path / "stored"
    pause = {"SMSEM_TEST_PAUSE_AT": f"montecarlo-stored@3={marker}"}
    proc = subprocess.Popen([*cmd, "--jobs", "2"], env={**env, **pause}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    db = out / "study.sqlite"
    t0 = time.monotonic()
    try:
        while not (marker.exists() and marker.read_text()):
            assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()}"
            assert time.monotonic() - t0 < 600, "the run never reached its pause point"
            time.sleep(0.02)
        with sqlite3.connect(db, timeout=5) as conn:
            stored = conn.execute("SELECT COUNT(*) FROM replications").fetchone()[0]
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)  # the main process only, as a user's kill -9 would
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    # Its worker processes must not outlive it (they would wait forever for tasks).
    t_end = time.monotonic() + 20
    while any(_alive(w) for w in workers) and time.monotonic() < t_end:
        time.sleep(0.05)
    survivors = [w for w in workers if _alive(w)]
    for w in survivors:  # clean up before failing
        os.kill(w, signal.SIGKILL)
    assert len(workers) == 2 and not survivors
    with sqlite3.connect(db) as conn:
        after = conn.execute("SELECT COUNT(*) FROM replications").fetchone()[0]
    assert after == stored and 3 <= after < 80  # nothing stored was lost, and the kill came mid-run
    r = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "80 of 80 replications stored" in r.stdout

    whole = tmp_path / "whole"
    full_cfg = config(tmp_path, grid={"n": [60, 100]}, replications=40)
    run_study(full_cfg, whole, jobs=1, progress=False)
    _assert_same(_tables(out), _tables(whole))
    # The exported raw table equals the uninterrupted run's, row for row.
    from smsem.report.montecarlo import write_outputs
    from smsem.montecarlo import StudyResults

    with Store(whole / "study.sqlite", full_cfg.fingerprint, "{}") as st:
        write_outputs(StudyResults.from_store(full_cfg, st), whole, plots=False)
    for name in ("replications.csv", "estimates.csv", "parameters.csv"):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name

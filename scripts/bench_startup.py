"""Startup and one-fit wall times of the ``smsem`` command, side by side with R + lavaan.

Each command runs as a fresh process (best of N runs, wall clock and CPU), from the
repository root, with the smsem found on ``PYTHONPATH`` / installed in this interpreter;
the smsem fit and the Rscript fit run alternately, so that both see the same load:

    PYTHONPATH=. python scripts/bench_startup.py [N]
    PYTHONPATH=. python scripts/bench_startup.py --breakdown [N]   # one fit, stage by stage

Rows: a bare ``python -c pass`` (the interpreter's own start), ``import smsem``,
``smsem --help``, ``smsem --version``, a one-line input error, ``smsem fit`` of the
integrative model to the shipped n = 300 survey without bootstrap, and, when ``Rscript``
is on PATH with lavaan installed, one Rscript process that loads lavaan and fits the same
model (``models/integrative.lav``) to the same CSV. The ratio column compares each row
with the bare interpreter and, for the fit, smsem with Rscript. Timings depend on the
machine and its load; nothing here is asserted by the test suite.

Python runs with a bytecode cache, as an installed package does (``pip install`` compiles
the ``.pyc`` files, and R byte-compiles lavaan when it is installed): the caches go to a
temporary ``PYTHONPYCACHEPREFIX`` (the repository is not written to), one unmeasured run of
each command fills them, and ``PYTHONDONTWRITEBYTECODE`` is dropped from the children's
environment. ``--no-bytecode-cache`` measures the other case, a checkout run with
``PYTHONDONTWRITEBYTECODE=1``: where the checkout has no ``__pycache__`` (a fresh clone),
every smsem module is compiled from source in every process (the installed libraries keep
their own ``.pyc``).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SURVEY = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"
MODEL = ROOT / "models" / "integrative.lav"
SMSEM = [sys.executable, "-c", "import sys; from smsem.cli import main; sys.exit(main())"]

R_FIT = """
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
model <- paste(readLines(args[1]), collapse = "\\n")
d <- read.csv(args[2])
fit <- sem(model, data = d)
stopifnot(lavInspect(fit, "converged"))
cat(sprintf("chisq %.4f df %d\\n", fitMeasures(fit, "chisq"), as.integer(fitMeasures(fit, "df"))))
"""


def wall(cmd: list[str], env: dict[str, str], expect: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in expect:
        raise SystemExit(f"bench_startup: {' '.join(cmd)} exited {proc.returncode}: "
                         f"{proc.stderr.decode(errors='replace').strip()[-500:]}")
    return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best(cmd: list[str], env: dict[str, str], n: int, expect: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """The smallest wall-clock and the smallest CPU time of ``n`` runs."""
    wall(cmd, env, expect)  # unmeasured: fills the bytecode cache (and the OS file cache)
    runs = [wall(cmd, env, expect) for _ in range(n)]
    return min(w for w, _ in runs), min(c for _, c in runs)


def main(n: int = 5, bytecode_cache: bool = True) -> None:
    with tempfile.TemporaryDirectory(prefix="smsem-bench-pycache-") as cache:
        env = dict(os.environ)
        env.setdefault("PYTHONPATH", str(ROOT))
        if bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = cache
        else:  # the caller's environment, never writing a cache
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        _run(n, env, bytecode_cache)


def _run(n: int, env: dict[str, str], bytecode_cache: bool) -> None:
    rows: list[tuple[str, list[str], tuple[int, ...]]] = [
        ("python -c pass", [sys.executable, "-c", "pass"], (0,)),
        ("python -c 'import smsem'", [sys.executable, "-c", "import smsem"], (0,)),
        ("smsem --help", [*SMSEM, "--help"], (0,)),
        ("smsem --version", [*SMSEM, "--version"], (0,)),
        ("smsem fit missing.csv (error)", [*SMSEM, "fit", "no-such-file.csv", "--boot", "0"], (2,)),
        ("smsem fit n300 --boot 0 --quiet",
         [*SMSEM, "fit", str(SURVEY), "--boot", "0", "--quiet"], (0,)),
    ]
    rscript = shutil.which("Rscript")
    r_ok = rscript is not None and subprocess.run(
        [rscript, "-e", "suppressPackageStartupMessages(library(lavaan))"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    if r_ok:
        rows.append(("Rscript: library(lavaan) + sem()", [rscript, "-e", R_FIT, str(MODEL), str(SURVEY)], (0,)))
    print(f"best of {n} runs each, wall clock, {os.cpu_count()} cores; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; bytecode cache "
          f"{'on (as installed)' if bytecode_cache else 'not written (PYTHONDONTWRITEBYTECODE=1)'}")
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    paired = ("smsem fit n300 --boot 0 --quiet", "Rscript: library(lavaan) + sem()")
    for label, cmd, expect in rows:
        if label not in paired:
            times[label], cpu[label] = best(cmd, env, n, expect)
    # The smsem fit and the Rscript fit run alternately, so that both see the same load.
    pair = [(label, cmd, expect) for label, cmd, expect in rows if label in paired]
    for _, cmd, expect in pair:
        wall(cmd, env, expect)  # unmeasured: fills the caches
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in pair}
    for _ in range(n):
        for label, cmd, expect in pair:
            runs[label].append(wall(cmd, env, expect))
    for label, got in runs.items():
        times[label], cpu[label] = min(w for w, _ in got), min(c for _, c in got)
    base = times["python -c pass"]
    width = max(len(label) for label in times)
    # CPU seconds (user + system of the process and its children) move less with the load of a
    # shared machine than wall-clock seconds do; both are the best of the N runs.
    print(f"{'command':<{width}}  {'seconds':>8}  {'- bare python':>13}  {'x bare python':>13}  {'CPU s':>6}")
    for label, t in times.items():
        print(f"{label:<{width}}  {t:8.3f}  {t - base:13.3f}  {t / base:13.1f}  {cpu[label]:6.3f}")
    fit = times["smsem fit n300 --boot 0 --quiet"]
    if r_ok:
        r = times["Rscript: library(lavaan) + sem()"]
        print(f"\nsmsem fit / Rscript + lavaan = {fit:.3f} / {r:.3f} = {fit / r:.2f} (wall clock); "
              f"CPU {cpu['smsem fit n300 --boot 0 --quiet']:.3f} / {cpu['Rscript: library(lavaan) + sem()']:.3f} = "
              f"{cpu['smsem fit n300 --boot 0 --quiet'] / cpu['Rscript: library(lavaan) + sem()']:.2f}")
    else:
        print("\nRscript with lavaan not found: no R comparison")


# One `smsem fit FILE --boot 0 --quiet` split into its stages, in the order cli._cmd_fit runs
# them (imports of the libraries first, so that each smsem stage is charged only its own
# work); every stage is timed by CPU (process_time) and wall clock in a fresh process.
STAGES = r"""
import os, sys, time, json, io, contextlib
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1"); os.environ.setdefault("OMP_NUM_THREADS", "1")
out = []
def mark(name, c=[time.process_time()], w=[time.perf_counter()]):
    c1, w1 = time.process_time(), time.perf_counter()
    out.append((name, c1 - c[0], w1 - w[0])); c[0], w[0] = c1, w1
import numpy; mark("import numpy")
import pandas; mark("import pandas (+ pyarrow)")
import scipy.special; mark("import scipy.special")
from smsem import cli; from smsem.model import load_model; mark("import smsem.cli, smsem.model")
args = cli.build_parser().parse_args(["fit", sys.argv[1], "--boot", "0", "--quiet"])
model = load_model(args.model); mark("load_model (YAML, syntax, table, identification)")
from smsem.io import read_survey
from smsem import effects, fit, proposition_table, reliability
from smsem.report import render_effects, render_propositions, render_quality
from smsem.report.fit_section import render_fit, render_parameters; mark("import smsem fit and report modules")
data = read_survey(args.file, model); mark("read_survey (read and check the CSV)")
res = fit(model, data); mark("fit (ML, SEs, fit indices)")
eff = effects(res); mark("effects")
quality = reliability(res); mark("reliability")
table = proposition_table(res, None, n_boot=0); mark("proposition_table")
text = render_propositions(table, "text") + render_fit(res, "text"); mark("render propositions, fit")
text = render_parameters(res, "text"); mark("render_parameters (+ standardized solution)")
text = render_effects(eff, "text") + render_quality(quality, "text") + cli._render_after_fit(res, None)
mark("render effects, quality, R-square")
print(json.dumps(out))
"""


def breakdown(n: int, env: dict[str, str]) -> None:
    """Best (smallest) CPU and wall seconds of each stage over ``n`` fresh processes."""
    import json

    runs = []
    for _ in range(n + 1):  # the first fills the bytecode cache
        proc = subprocess.run([sys.executable, "-c", STAGES, str(SURVEY)], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True)
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    runs = runs[1:]
    names = [r[0] for r in runs[0]]
    width = max(len(x) for x in names)
    print(f"\nstages of one fit, best of {n} processes each (CPU = user + system of the process)")
    print(f"{'stage':<{width}}  {'CPU s':>6}  {'wall s':>6}")
    tot_c = tot_w = 0.0
    for k, name in enumerate(names):
        c = min(r[k][1] for r in runs)
        w = min(r[k][2] for r in runs)
        tot_c, tot_w = tot_c + c, tot_w + w
        print(f"{name:<{width}}  {c:6.3f}  {w:6.3f}")
    print(f"{'sum of the stages':<{width}}  {tot_c:6.3f}  {tot_w:6.3f}")


if __name__ == "__main__":
    if "--breakdown" in sys.argv[1:]:
        rest = [a for a in sys.argv[1:] if not a.startswith("--")]
        with tempfile.TemporaryDirectory(prefix="smsem-bench-pycache-") as cache:
            env = dict(os.environ)
            env.setdefault("PYTHONPATH", str(ROOT))
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = cache
            print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
            breakdown(int(rest[0]) if rest else 5, env)
        raise SystemExit(0)
    argv = [a for a in sys.argv[1:] if a != "--no-bytecode-cache"]
    main(int(argv[0]) if argv else 5, bytecode_cache="--no-bytecode-cache" not in sys.argv[1:])

"""Plant known bugs one at a time and check that the test suite catches each.

    python scripts/mutation_check.py            # every mutation (about 10 minutes on 2 cores)
    python scripts/mutation_check.py srmr_implied_sd rmsea_ci_n_minus_1   # only these
    python scripts/mutation_check.py --list     # the mutations and the tests they run

The repository (package, tests, data, models, scripts) is copied once to a temporary
directory. For each mutation in ``MUTATIONS`` the script replaces one exact piece of
source text in the copy — the text must occur exactly once, otherwise the script stops
with an error, so a mutation never silently stops applying when the code changes — runs
the mutation's test files there with the copy first on ``PYTHONPATH`` (and checks that
``import smsem`` resolves to the copy), then restores the file. A mutation is *caught*
when pytest reports a failing test (exit code 1); a collection or usage error (exit code
2-5) counts as not caught, so a mutation that merely breaks imports proves nothing.

The table ``mutation | caught by`` names the first failing test; the last line reads
``caught N/M``. The exit status is 0 only when every mutation is caught.

To keep the run short each mutation lists the test files that cover its module (``-x``
stops at the first failure). Add a mutation for every convention a reviewer could get
wrong: one line in ``MUTATIONS`` with the file, the exact old and new text, the tests.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str       # path relative to the repository root
    old: str        # exact text; must occur exactly once in the file
    new: str
    tests: tuple[str, ...]
    why: str        # what a wrong implementation would look like


M = Mutation
MUTATIONS: list[Mutation] = [
    # --- the six of issue 18 -------------------------------------------------------------------
    M("bca_computes_bc", "smsem/bootstrap.py",
      "lo, hi = bca_ci(ok, self.estimate, self.jackknife, level)",
      "lo, hi = bca_ci(ok, self.estimate, None, level)",
      ("tests/test_bootstrap_ci.py",),
      "BootstrapResults.conf_int(method='bca') silently computing BC (no jackknife passed)"),
    M("jackknife_mean_over_n", "smsem/bootstrap.py",
      "mean = (colsum[None, :] - xi) / (n - 1)",
      "mean = (colsum[None, :] - xi) / n",
      ("tests/test_bootstrap_ci.py",),
      "the jackknife's leave-one-out mean divided by n instead of n - 1"),
    M("srmr_implied_sd", "smsem/estimate/fitindices.py",
      "    sd = np.sqrt(np.diag(s))\n    r = (s - sigma)",
      "    sd = np.sqrt(np.diag(sigma))\n    r = (s - sigma)",
      ("tests/test_lavaan_ml.py",),
      "SRMR standardized by the model-implied SDs instead of the sample SDs"),
    M("rmsea_ci_n_minus_1", "smsem/estimate/fitindices.py",
      "return math.sqrt(c_hat * lam_l / (n * df)), math.sqrt(c_hat * lam_u / (n * df))",
      "return math.sqrt(c_hat * lam_l / ((n - 1) * df)), math.sqrt(c_hat * lam_u / ((n - 1) * df))",
      ("tests/test_lavaan_ml.py",),
      "N - 1 instead of N in the RMSEA confidence interval"),
    M("ml_se_n_minus_1", "smsem/estimate/results.py",
      "return ind, np.linalg.inv(info) / n",
      "return ind, np.linalg.inv(info) / (n - 1)",
      ("tests/test_lavaan_ml.py",),
      "N - 1 instead of N in the ML standard errors"),
    M("mc_coverage_vs_estimate", "smsem/montecarlo/summary.py",
      'est["boot_covered"] = ((est["boot_lower"] <= est["pop"]) & (est["pop"] <= est["boot_upper"])',
      'est["boot_covered"] = ((est["boot_lower"] <= est["est"]) & (est["est"] <= est["boot_upper"])',
      ("tests/test_montecarlo.py",),
      "Monte Carlo bootstrap coverage counted around the estimate instead of the population value"),
    M("include_inadmissible_ignored", "smsem/bootstrap.py",
      "use = bf.ok | (job.include_inadmissible & np.isin(bf.status, (2, 3)))",
      "use = bf.ok",
      ("tests/test_bootstrap_ci.py",),
      "include_inadmissible ignored: inadmissible draws always dropped"),
]


def _copy_repo(dest: Path) -> None:
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pyc", ".pytest_cache", ".hypothesis",
                                    "smsem-output", "*.egg-info", "build", "dist")
    for name in ("smsem", "tests", "scripts", "data", "models", "docs"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy), str(copy / "tests")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _check_import(copy: Path) -> None:
    out = subprocess.run([sys.executable, "-c", "import smsem, sys; sys.stdout.write(smsem.__file__)"],
                         capture_output=True, text=True, cwd=copy, env=_env(copy), check=True)
    if not Path(out.stdout).resolve().is_relative_to(copy.resolve()):
        sys.exit(f"import smsem resolved to {out.stdout}, not to the copy in {copy}")


def _apply(copy: Path, m: Mutation) -> str:
    path = copy / m.file
    text = path.read_text(encoding="utf-8")
    count = text.count(m.old)
    if count != 1:
        sys.exit(f"mutation {m.name}: the text to replace occurs {count} times in {m.file} (must be once):\n{m.old}")
    path.write_text(text.replace(m.old, m.new), encoding="utf-8")
    return text


def _run(copy: Path, m: Mutation, timeout: float) -> tuple[str, float]:
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", "-rf",
           "--no-header", *m.tests]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=copy, env=_env(copy), timeout=timeout)
    except subprocess.TimeoutExpired:
        return "NOT CAUGHT (timeout)", time.perf_counter() - t0
    dt = time.perf_counter() - t0
    if out.returncode == 1:
        hit = re.search(r"^FAILED (\S+)", out.stdout, re.M)
        return (hit.group(1) if hit else "a failing test"), dt
    if out.returncode == 0:
        return "NOT CAUGHT", dt
    tail = (out.stdout + out.stderr).strip().splitlines()[-1:]
    return f"NOT CAUGHT (pytest exit {out.returncode}: {' '.join(tail)[:80]})", dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="run only these mutations")
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per mutation (default 600)")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        ap.error(f"unknown mutation(s): {', '.join(sorted(unknown))}")
    if args.list:
        for m in chosen:
            print(f"{m.name:32s} {m.file:36s} {' '.join(m.tests)}\n{'':32s} {m.why}")
        return 0
    width = max(len(m.name) for m in chosen)
    caught = 0
    with tempfile.TemporaryDirectory(prefix="smsem-mutation-") as tmp:
        copy = Path(tmp)
        _copy_repo(copy)
        _check_import(copy)
        # Every mutation must apply before any is run: fail loudly, not after ten minutes.
        for m in chosen:
            original = _apply(copy, m)
            (copy / m.file).write_text(original, encoding="utf-8")
        print(f"{'mutation':{width}s} | caught by")
        print(f"{'-' * width} | {'-' * 40}")
        for m in chosen:
            original = _apply(copy, m)
            try:
                _check_import(copy)
                result, dt = _run(copy, m, args.timeout)
            finally:
                (copy / m.file).write_text(original, encoding="utf-8")
            caught += not result.startswith("NOT CAUGHT")
            print(f"{m.name:{width}s} | {result}  ({dt:.0f} s)", flush=True)
    print(f"caught {caught}/{len(chosen)}")
    return 0 if caught == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())

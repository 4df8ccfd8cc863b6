"""Peak memory of ``smsem fit --boot B`` against what the draws' statistics need.

Each B runs ``smsem fit SURVEY --boot B --quiet`` (the integrative model, the shipped
n = 300 survey, one process: ``--jobs 1``) in a fresh Python process and reads that
process's peak resident set size (``ru_maxrss``). The draws' statistics are a B x k
array of float64 (k statistics per draw; k is printed) plus a chi-square and a status
per draw, so what they need is ``B (8 k + 16)`` bytes. The table prints, per B, the
peak, the peak minus the ``--boot 0`` run's peak (everything the bootstrap adds), that
figure divided by the draws' bytes, and the growth between consecutive Bs divided by the
growth of the draws' bytes (1.0 = memory grows exactly as the statistics do)::

    PYTHONPATH=. python scripts/bench_memory.py [B ...]     # default: 1000 10000 100000
    PYTHONPATH=. python scripts/bench_memory.py --traced [B ...]  # tracemalloc, in-process

The peak depends on the machine's allocator (and a little on its load: not at all on the
timing); nothing here is asserted by the test suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SURVEY = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"

# Runs the CLI in-process, then prints its peak RSS (kB on Linux) and the number of
# statistics per draw as JSON on the last line of stderr.
PROBE = r"""
import io, json, resource, sys, contextlib
from smsem import cli
import smsem.bootstrap as _b  # the module (the package attribute is the function)
mod = sys.modules["smsem.bootstrap"]
seen = {}
orig = mod._execute
def _execute(job, *a, **kw):
    seen["k"] = len(job.targets.names)
    return orig(job, *a, **kw)
mod._execute = _execute
with contextlib.redirect_stdout(io.StringIO()):
    rc = cli.main(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.stderr.write("\n" + json.dumps({"rc": rc, "peak_kb": peak, "k": seen.get("k", 0)}) + "\n")
"""


def run(boot: int, env: dict[str, str]) -> dict:
    cmd = [sys.executable, "-c", PROBE, "fit", str(SURVEY), "--boot", str(boot), "--jobs", "1", "--quiet"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    try:
        out = json.loads(proc.stderr.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise SystemExit(f"bench_memory: --boot {boot} failed:\n{proc.stderr[-2000:]}") from None
    if out["rc"] != 0:
        raise SystemExit(f"bench_memory: --boot {boot} exited {out['rc']}:\n{proc.stderr[-2000:]}")
    out["seconds"] = took
    return out


def main(boots: list[int]) -> None:
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(ROOT))
    print(f"smsem fit {SURVEY.name} --boot B --jobs 1 --quiet; {os.cpu_count()} cores; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    base = run(0, env)
    print(f"--boot 0: peak RSS {base['peak_kb'] / 1024:.1f} MB ({base['seconds']:.1f} s)")
    print(f"{'B':>8}  {'k':>4}  {'draws MB':>9}  {'peak MB':>8}  {'added MB':>9}  {'added/draws':>11}  "
          f"{'growth ratio':>12}  {'seconds':>8}")
    prev = None
    for b in boots:
        r = run(b, env)
        need = b * (8 * r["k"] + 16) / 2 ** 20
        added = (r["peak_kb"] - base["peak_kb"]) / 1024
        growth = ""
        if prev is not None:
            growth = f"{(r['peak_kb'] - prev[1]['peak_kb']) / 1024 / (need - prev[0]):12.2f}"
        print(f"{b:8d}  {r['k']:4d}  {need:9.1f}  {r['peak_kb'] / 1024:8.1f}  {added:9.1f}  "
              f"{added / need:11.2f}  {growth:>12}  {r['seconds']:8.1f}")
        prev = (need, r)


def traced(boots: list[int]) -> None:
    """``--traced``: in this process, the bootstrap's traced (tracemalloc) peak against its
    draws' array: what the draws need plus the chunks' work space, whatever B."""
    import tracemalloc

    sys.path.insert(0, str(ROOT))
    import smsem
    from smsem.io import read_survey

    model = smsem.load_model("integrative")
    res = smsem.fit(model, read_survey(str(SURVEY), model))
    for b in boots:
        tracemalloc.start()
        boot = smsem.bootstrap(res, n_boot=b, seed=1, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"B {b}: bootstrap() traced peak {peak / 2 ** 20:.1f} MB, draws {boot.draws.nbytes / 2 ** 20:.1f} MB, "
              f"peak - draws {(peak - boot.draws.nbytes) / 2 ** 20:.1f} MB")
        del boot


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--traced"]:
        traced([int(a) for a in args[1:]] or [1000, 100000])
    else:
        main([int(a) for a in args] or [1000, 10000, 100000])

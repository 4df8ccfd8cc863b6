"""Why was ``smsem fit FILE --missing fiml --boot 1000 --jobs 2`` not faster than ``--jobs 1``?

    PYTHONPATH=. python scripts/bench_fiml_jobs.py [--boot 1000] [--rounds 3] [--cli]

Fits the integrative model by FIML to the committed survey with missing answers
(data/synthetic/integrative_n300_seed1_missing.csv), then, alternating ``jobs=1`` and
``jobs=2`` for ``--rounds`` rounds (so that a change in the machine's load hits both):

- ``smsem.bootstrap(res, n_boot, jobs=j)``: wall time, CPU time of this process and of its
  worker processes (``getrusage(RUSAGE_CHILDREN)``), and the CPU the whole run got
  (``(parent + children CPU) / wall``, in cores);
- the parts that are not draws: the FIML setup (patterns, targets, full-sample Hessian),
  the start of a 2-process pool (fork) and one chunk's draw-independent setup in a worker;
- with ``--control``, only a control without smsem: the CPU that 1 and 2 forked busy-loop
  processes get in 4 s of wall time;
- with ``--cli``, the command ``smsem fit FILE --missing fiml --boot B --jobs j --quiet``
  end to end (wall, and CPU of the command and its children).

It prints the load average before and after each measurement, the CPUs this process may
use (``os.sched_getaffinity``) and whether the kernel's autogroup scheduling is on
(``/proc/sys/kernel/sched_autogroup_enabled``): with it, CPU time is shared fairly between
sessions, and a session's worker processes share its one slice, so on a saturated machine a
second process adds no CPU (the "cores used" column stays the same for jobs=1 and jobs=2).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "data" / "synthetic" / "integrative_n300_seed1_missing.csv"


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _load() -> str:
    return "{:.2f}".format(os.getloadavg()[0])


def _busy(seconds: float) -> float:
    """A pure-Python loop for ``seconds`` of wall time; returns the CPU time it got."""
    c, t = time.process_time(), time.perf_counter()
    x = 0
    while time.perf_counter() - t < seconds:
        for i in range(10000):
            x += i
    return time.process_time() - c


def _control(seconds: float = 4.0) -> None:
    """The same question without smsem: the CPU that 1 and 2 busy processes of this session
    get in the same wall time (forked like the bootstrap's pool)."""
    import multiprocessing

    print(f"\ncontrol without smsem: busy loops for {seconds:g} s of wall time")
    for k in (1, 2, 1, 2):
        l0 = _load()
        with multiprocessing.get_context().Pool(k) as pool:
            cpu = pool.map(_busy, [seconds] * k)
        print(f"  {k} process(es): {sum(cpu):.2f} s of CPU in total ({sum(cpu) / seconds:.2f} cores), load {l0}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cli", action="store_true")
    ap.add_argument("--control", action="store_true", help="only the busy-loop control")
    a = ap.parse_args()
    if a.control:
        _control()
        return

    import smsem
    import importlib

    bs = importlib.import_module("smsem.bootstrap")

    try:
        autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
        group = Path("/proc/self/autogroup").read_text().strip()
    except OSError:
        autogroup, group = "?", "?"
    print(f"cpu_count {os.cpu_count()}, affinity {sorted(os.sched_getaffinity(0))}, load {_load()}, "
          f"sched_autogroup_enabled {autogroup} ({group})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smsem.fit(smsem.load_model("integrative"), pd.read_csv(DATA), missing="fiml")

    # parts that are not draws
    t = time.perf_counter()
    pat, fs, targets, hess0 = bs._fiml_setup(res)
    print(f"FIML setup (patterns, targets, Hessian) in the parent: {time.perf_counter() - t:.3f} s")
    job = bs._FimlJob(res.param_map, np.asarray(res.start, dtype=float), hess0, pat, pat.n, 1, a.boot, targets,
                      False)
    chunks = bs._fiml_chunks(job)
    print(f"{len(chunks)} chunks of {chunks[0][1] - chunks[0][0]} draws ({pat.n_patterns} patterns, {pat.p} items)")
    import pickle

    print(f"pickled job: {len(pickle.dumps(job)) / 1e6:.2f} MB (not sent: the pool forks)")
    import multiprocessing

    t = time.perf_counter()
    pool = multiprocessing.get_context().Pool(2, initializer=bs._init_worker, initargs=(job, os.getpid()))
    pool.map(abs, [1, 2])
    print(f"start of a 2-process pool (fork) and a first trivial task: {time.perf_counter() - t:.3f} s")
    pool.close()
    pool.join()
    from smsem.estimate.batched import FimlStructure, ModelStructure, fiml_moments

    t = time.perf_counter()
    FimlStructure(ModelStructure(job.pmap))
    fiml_moments(job.patterns, np.ones((chunks[0][1] - chunks[0][0], pat.n)))
    print(f"per-chunk setup (structure, the chunk's weighted pattern moments): {time.perf_counter() - t:.3f} s")
    t0, c0 = time.perf_counter(), time.process_time()
    bs._run_chunk(job, *chunks[0])
    print(f"one chunk in this process: {time.perf_counter() - t0:.2f} s wall, {time.process_time() - c0:.2f} s CPU")

    print("\nsmsem.bootstrap(res, n_boot, jobs=j)")
    print("round  jobs   wall s  parent CPU s  workers CPU s  cores used  load before/after")
    walls: dict[int, list[float]] = {1: [], 2: []}
    ref = None
    for r in range(a.rounds):
        for j in (1, 2):
            l0 = _load()
            t, c, ch = time.perf_counter(), time.process_time(), _children_cpu()
            boot = smsem.bootstrap(res, n_boot=a.boot, seed=1, jobs=j, progress=False)
            wall, cpu, chc = time.perf_counter() - t, time.process_time() - c, _children_cpu() - ch
            walls[j].append(wall)
            same = "" if ref is None else ("  identical draws" if np.array_equal(ref, boot.draws, equal_nan=True)
                                           else "  DRAWS DIFFER")
            ref = boot.draws if ref is None else ref
            print(f"{r:5d}  {j:4d}  {wall:7.2f}  {cpu:12.2f}  {chc:13.2f}  {(cpu + chc) / wall:10.2f}  "
                  f"{l0}/{_load()}{same}")
    m1, m2 = np.median(walls[1]), np.median(walls[2])
    print(f"median wall: jobs=1 {m1:.2f} s, jobs=2 {m2:.2f} s, ratio {m1 / m2:.2f}")

    if a.cli:
        print("\nsmsem fit FILE --missing fiml --boot B --jobs j --quiet (end to end)")
        print("round  jobs   wall s  CPU s (command + children)  load before/after")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        for r in range(a.rounds):
            for j in (1, 2):
                l0 = _load()
                ch = _children_cpu()
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "smsem", "fit", str(DATA), "--missing", "fiml", "--boot",
                                str(a.boot), "--jobs", str(j), "--quiet"], env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wall = time.perf_counter() - t
                print(f"{r:5d}  {j:4d}  {wall:7.2f}  {_children_cpu() - ch:26.2f}  {l0}/{_load()}")


if __name__ == "__main__":
    main()

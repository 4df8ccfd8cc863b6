"""No result lost, no truncated file: interrupting or killing smsem mid-way.

* ``reproduce --boot 200000`` interrupted (SIGINT, SIGTERM) or killed (SIGKILL) during the
  bootstrap leaves no output and no temporary file (SIGKILL may leave nothing at all).
* A process killed with SIGKILL *while* :func:`smsem.io.write_text` is writing a large file
  leaves the previous complete file (or none), never a truncated one; SIGINT during the
  write also removes the temporary file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}


def _start(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV, cwd=ROOT, **kw)


def _finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    """communicate(); a child that outlives the timeout is killed, never left running."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


def _wait_for(proc: subprocess.Popen, marker_file, timeout=120.0) -> None:
    t0 = time.monotonic()
    while not marker_file.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout
        time.sleep(0.05)


# A driver that runs the CLI and touches a marker when the bootstrap starts, so the
# signal provably lands mid-way (after fit, during the draws, before any write).
DRIVER = textwrap.dedent("""
    import signal, sys, pathlib
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the test runner ignores SIGINT
    import smsem.bootstrap
    b = sys.modules["smsem.bootstrap"]  # the package exports a function of the same name
    marker = pathlib.Path(sys.argv[1])
    real = b._run_chunk  # one chunk of bootstrap draws
    def run_chunk(*a, **k):
        marker.touch()
        return real(*a, **k)
    b._run_chunk = run_chunk
    from smsem.cli import main
    sys.exit(main(sys.argv[2:]))
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_reproduce_interrupted_mid_bootstrap_leaves_no_partial_output(tmp_path, sig):
    out = tmp_path / "out"
    marker = tmp_path / "bootstrapping"
    proc = _start("-c", DRIVER, str(marker), "reproduce", "--n", "200", "--boot", "200000", "--out",
                  str(out))
    try:
        _wait_for(proc, marker)
        time.sleep(0.5)
        assert proc.poll() is None  # still bootstrapping: 200000 draws take far longer
        proc.send_signal(sig)
    finally:
        stdout, stderr = _finish(proc)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 130, stderr
        assert stderr.strip().splitlines()[-1].startswith("smsem: interrupted")
        assert "Traceback" not in stderr
    leftovers = sorted(p.name for p in out.rglob("*")) if out.exists() else []
    assert leftovers == [], leftovers


WRITER = textwrap.dedent("""
    import signal, sys, traceback
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the test runner ignores SIGINT
    from smsem.io import write_text
    target, size = sys.argv[1], int(sys.argv[2])
    # Built once: the loop then spends nearly all its time inside write_text, so a signal
    # sent at a random moment lands mid-write even on an idle machine.
    body = ("7" * 1000 + "\\n") * (size // 1001)
    i = 0
    try:
        while True:
            i += 1
            write_text(target, f"BEGIN {i}\\n{body}END {i} {len(body)}\\n", force=True)
            if i == 1:
                print("first", flush=True)
    except KeyboardInterrupt:
        inside = any(f.f_code.co_name == "write_text" for f, _ in traceback.walk_tb(sys.exc_info()[2]))
        print("inside" if inside else "outside", flush=True)
        sys.exit(130)
""")


def _whole(path) -> bool:
    text = path.read_text()
    first, _, rest = text.partition("\n")
    body, _, last = rest.rstrip("\n").rpartition("\n")
    i = first.split()[1]
    return first == f"BEGIN {i}" and last == f"END {i} {len(body) + 1}"


def _run_writer(tmp_path, sig, delay):
    target = tmp_path / "result.txt"
    proc = _start("-c", WRITER, str(target), str(30_000_000))
    try:
        assert proc.stdout.readline().strip() == "first"
        time.sleep(delay)
    finally:
        proc.send_signal(sig)
        out, err = _finish(proc)
    return target, out.strip(), proc.returncode


def test_sigkill_during_write_never_leaves_a_truncated_file(tmp_path):
    # Retry until a kill lands mid-write (a leftover temporary file proves it); the target
    # must be whole every time.
    landed = 0
    for attempt, delay in enumerate([0.05, 0.13, 0.21, 0.29, 0.37, 0.45]):
        d = tmp_path / str(attempt)
        d.mkdir()
        target, _, rc = _run_writer(d, signal.SIGKILL, delay)
        assert rc == -signal.SIGKILL
        assert target.is_file() and _whole(target)
        temps = list(d.glob(".result.txt.*.tmp"))
        landed += bool(temps)
        if landed >= 1:
            break
    assert landed >= 1, "no kill landed during a write; the test proved nothing"


def test_sigint_during_write_removes_the_temporary_file(tmp_path):
    inside = 0
    for attempt, delay in enumerate([0.05, 0.13, 0.21, 0.29, 0.37, 0.45]):
        d = tmp_path / str(attempt)
        d.mkdir()
        target, where, rc = _run_writer(d, signal.SIGINT, delay)
        assert rc == 130
        assert target.is_file() and _whole(target)
        assert list(d.glob("*.tmp")) == [] and [p.name for p in d.iterdir()] == ["result.txt"]
        inside += where == "inside"
        if inside >= 1:
            break
    assert inside >= 1, "no interrupt landed inside write_text; the test proved nothing"

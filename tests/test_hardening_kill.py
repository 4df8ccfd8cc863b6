"""No result lost, no truncated file: interrupting or killing smsem mid-way.

* ``reproduce --boot 200000`` interrupted (SIGINT, SIGTERM) or killed (SIGKILL) during the
  bootstrap leaves no output and no temporary file (SIGKILL may leave nothing at all).
* A process killed with SIGKILL *while* :func:`smsem.io.write_text` is writing a file
  leaves the previous complete file, never a truncated one; SIGINT during the write also
  removes the temporary file.

Deterministic on a machine under any load: the child pauses at the exact point to
interrupt (``SMSEM_TEST_PAUSE_AT``, :mod:`smsem._testhooks`), writes a marker file and
blocks there until the signal arrives; the test waits for the marker, never for a time.
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


def _start(*args: str, pause: str | None = None, **kw) -> subprocess.Popen:
    env = {**ENV, "SMSEM_TEST_PAUSE_AT": pause} if pause else ENV
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT, **kw)


def _finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    """communicate(); a child that outlives the timeout is killed, never left running."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


def _wait_for(proc: subprocess.Popen, marker_file, timeout=600.0) -> None:
    """Until the child is paused at its pause point (it stays there until signalled; the
    timeout only bounds a broken run)."""
    t0 = time.monotonic()
    while not (marker_file.exists() and marker_file.read_text()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "the child never reached its pause point"
        time.sleep(0.02)


# The CLI with Python's SIGINT handler even if the test runner ignores SIGINT.
DRIVER = textwrap.dedent("""
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from smsem.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_reproduce_interrupted_mid_bootstrap_leaves_no_partial_output(tmp_path, sig):
    out = tmp_path / "out"
    marker = tmp_path / "bootstrapping"
    # Paused before the first chunk of draws: after the fit, before any output is written.
    proc = _start("-c", DRIVER, "reproduce", "--n", "200", "--boot", "200000", "--out", str(out),
                  pause=f"bootstrap-chunk={marker}")
    try:
        _wait_for(proc, marker)
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


# Writes a whole file once, then pauses inside the second write (temporary file written,
# target not yet replaced) until the test's signal arrives.
WRITER = textwrap.dedent("""
    import os, signal, sys, traceback
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the test runner ignores SIGINT
    from smsem.io import write_text
    target, marker = sys.argv[1], sys.argv[2]
    body = ("7" * 1000 + "\\n") * 1000
    write_text(target, f"BEGIN 1\\n{body}END 1 {len(body)}\\n", force=True)
    os.environ["SMSEM_TEST_PAUSE_AT"] = f"write-file={marker}"
    try:
        write_text(target, f"BEGIN 2\\n{body}END 2 {len(body)}\\n", force=True)
    except KeyboardInterrupt:
        inside = any(f.f_code.co_name == "_write_atomic" for f, _ in traceback.walk_tb(sys.exc_info()[2]))
        print("inside" if inside else "outside", flush=True)
        sys.exit(130)
""")


def _whole(path) -> bool:
    text = path.read_text()
    first, _, rest = text.partition("\n")
    body, _, last = rest.rstrip("\n").rpartition("\n")
    i = first.split()[1]
    return first == f"BEGIN {i}" and last == f"END {i} {len(body) + 1}"


def _run_writer(tmp_path, sig):
    target, marker = tmp_path / "result.txt", tmp_path.parent / f"{tmp_path.name}.paused"
    proc = _start("-c", WRITER, str(target), str(marker))
    try:
        _wait_for(proc, marker)
    finally:
        proc.send_signal(sig)
        out, err = _finish(proc)
    return target, out.strip(), proc.returncode


def test_sigkill_during_write_never_leaves_a_truncated_file(tmp_path):
    d = tmp_path / "kill"
    d.mkdir()
    target, _, rc = _run_writer(d, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    # Killed between writing the temporary file and the rename: the previous file is whole
    # and the temporary file is left behind (proof that the kill landed mid-write).
    assert target.is_file() and _whole(target) and target.read_text().startswith("BEGIN 1\n")
    assert len(list(d.glob(".result.txt.*.tmp"))) == 1


def test_sigint_during_write_removes_the_temporary_file(tmp_path):
    d = tmp_path / "int"
    d.mkdir()
    target, where, rc = _run_writer(d, signal.SIGINT)
    assert rc == 130 and where == "inside"
    assert target.is_file() and _whole(target) and target.read_text().startswith("BEGIN 1\n")
    assert [p.name for p in d.iterdir()] == ["result.txt"]

"""`smsem fit` bootstrap flags: --ci, --level, --jobs, --quiet, progress bar, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT

SURVEY = str(ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv")
pty = pytest.importorskip("pty")


def _main(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (a subprocess would re-import semopy each time)."""
    from smsem.cli import main

    try:
        rc = main(list(args))
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_jobs_1_and_2_print_identical_tables(capsys):
    rc1, one, err1 = _main(capsys, "fit", SURVEY, "--boot", "600", "--ci", "bc", "--jobs", "1", "--format", "csv")
    rc2, two, err2 = _main(capsys, "fit", SURVEY, "--boot", "600", "--ci", "bc", "--jobs", "2", "--format", "csv")
    assert rc1 == 0 and rc2 == 0, err1 + err2
    assert one == two


def test_level_and_method_reach_the_table(capsys):
    rc, out, err = _main(capsys, "fit", SURVEY, "--boot", "300", "--ci", "bca", "--level", "0.9")
    assert rc == 0, err
    assert "90% CI (std)" in out
    assert "bca CI of the standardized estimate" in out


@pytest.mark.parametrize("args, needle", [
    (["--boot", "100", "--ci", "bca"], "BCa intervals need at least as many successful bootstrap draws"),
    (["--level", "95"], "--level: expected a level strictly between 0 and 1"),
    (["--ci", "studentized"], "--ci: invalid choice"),
    (["--jobs", "0"], "--jobs: expected a number >= 1"),
])
def test_bad_options_one_line(capsys, args, needle):
    rc, out, err = _main(capsys, "fit", SURVEY, *args)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err


class _Tty:
    """Run ``smsem`` with stderr on a pseudo-terminal of 100 columns; collect its output."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        import fcntl
        import struct
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **(env or {}))
        self.proc = subprocess.Popen([sys.executable, "-m", "smsem", *args], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        self.master = master
        self.err = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.err += chunk

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        out = self.proc.stdout.read().decode()
        self.reader.join(timeout=5)
        os.close(self.master)
        return rc, out, self.err.decode(errors="replace")


def test_progress_bar_on_a_terminal_and_quiet():
    rc, out, err = _Tty("fit", SURVEY, "--boot", "300").finish()
    assert rc == 0 and "bootstrap:" in err and "draw" in err
    rc, out, err = _Tty("fit", SURVEY, "--boot", "300", "--quiet").finish()
    assert rc == 0 and "bootstrap:" not in err


def test_ctrl_c_stops_cleanly(tmp_path):
    # The workers pause before their first chunk of draws (smsem._testhooks) and stay there
    # until the interrupt: it lands mid-bootstrap however loaded the machine is.
    marker = tmp_path / "drawing"
    run = _Tty("fit", SURVEY, "--boot", "100000", "--jobs", "2",
               env={"SMSEM_TEST_PAUSE_AT": f"bootstrap-chunk={marker}"})
    t0 = time.monotonic()
    while not (marker.exists() and marker.read_text()):
        assert run.proc.poll() is None, "smsem ended before its draws"
        assert time.monotonic() - t0 < 600, "the draws never started"
        time.sleep(0.02)
    run.proc.send_signal(signal.SIGINT)
    rc, out, err = run.finish(timeout=60)
    assert rc == 130
    lines = [ln for ln in err.replace("\r", "\n").splitlines() if ln.startswith("smsem:")]
    assert lines == ["smsem: interrupted; no partial output was written"]
    assert "Traceback" not in err and out == ""

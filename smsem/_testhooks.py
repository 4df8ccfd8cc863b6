"""A pause point for tests that interrupt smsem at an exact place (no sleeps, no timing).

Set the environment variable ``SMSEM_TEST_PAUSE_AT`` to ``POINT[@K]=MARKER``: the K-th time
(default the first) a process reaches :func:`pause_point` ``(POINT)``, it writes its pid to
the file ``MARKER`` and blocks until a signal ends it (SIGINT and SIGTERM raise as usual,
so the interrupt unwinds from exactly that place; SIGKILL stops it there). A test waits for
the marker file, then sends the signal. Unset — always, outside tests — a pause point costs
one environment lookup.

Points:

``bootstrap-chunk``
    :func:`smsem.bootstrap._run_chunk`, before a chunk of draws (in a worker with jobs > 1).
``write-file``
    :func:`smsem.io._write_atomic`, with the data written to the temporary file and before
    it replaces the target.
``montecarlo-stored``
    :func:`smsem.montecarlo.runner.run_study`, after a chunk of replications is committed.
"""

from __future__ import annotations

import os
import time

ENV = "SMSEM_TEST_PAUSE_AT"
_reached: dict[str, int] = {}


def pause_point(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    point, _, marker = spec.partition("=")
    want, _, nth = point.partition("@")
    if want != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] != int(nth or 1):
        return
    with open(marker, "w", encoding="utf-8") as fh:
        fh.write(str(os.getpid()))
    while True:  # until a signal: its handler raises (SIGINT, SIGTERM) or the process dies
        time.sleep(3600)

"""Worker processes that end with their parent, however the parent ends.

Forked pool workers share their task pipe with each other, so after the parent is killed
(SIGKILL included) they would never see it close and would wait, or compute, forever. On
Linux the kernel sends them SIGKILL instead when the parent dies (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import os
import sys

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Pool initializer: end this worker when process ``parent`` dies (Linux; elsewhere no-op)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # pragma: no cover - exotic libc
            pass
    if os.getppid() != parent:  # the parent died before the call above
        os._exit(1)

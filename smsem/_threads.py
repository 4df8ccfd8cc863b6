"""One BLAS/OpenMP thread for a block of work, so every process computes the same bits.

BLAS and LAPACK results can differ in the last bits with the number of threads, and Dask
workers run single-threaded: bootstrap chunks and Monte Carlo replications pin one thread.
``threadpoolctl.threadpool_limits`` scans the loaded libraries on every call (about 3 ms);
a :class:`threadpoolctl.ThreadpoolController` made once per process does the scan once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from threadpoolctl import ThreadpoolController

__all__ = ["single_thread"]


@lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    # Load the BLAS of numpy and the one scipy bundles before the scan, so both are found.
    import importlib

    for name in ("numpy.linalg", "scipy.linalg"):
        importlib.import_module(name)
    return ThreadpoolController()


def single_thread() -> Any:
    """Context manager limiting every BLAS/OpenMP pool of this process to one thread."""
    return _controller().limit(limits=1)

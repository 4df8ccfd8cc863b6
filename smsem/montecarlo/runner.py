"""Run a study: local processes or a dask.distributed cluster, every row stored first.

The parent process is the only writer of the store. Workers return the rows of a chunk
of replications; they are committed (:meth:`Store.add_many`, one transaction) before the
progress bar counts them. Tasks already in the
store are skipped, so a killed run continues with ``resume=True`` and ends with exactly
the rows of an uninterrupted run (each row depends only on ``(config, cell, rep)``).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import multiprocessing
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from .._testhooks import pause_point
from .._processes import die_with_parent
from .._validation import check_int
from ..exceptions import OptionError, SmsemError, WorkerLostError
from .config import Cell, StudyConfig
from .replication import run_replications
from .store import STORE_NAME, Store

if TYPE_CHECKING:  # pragma: no cover
    from .summary import StudyResults

__all__ = ["run_study", "pending_tasks", "iter_pending", "chunk_tasks", "chunk_size", "iter_chunks", "open_store", "study_lock",
           "LOCK_NAME"]

Task = tuple[Cell, int]
Chunk = tuple[Cell, tuple[int, ...]]
#: Most replications of one cell fitted together on the fast path (a chunk's rows
#: do not depend on the chunking; it only amortizes Python overhead).
MAX_CHUNK = 256
#: Size of a run's first chunks (then doubling up to the chunk size): early progress and ETA.
FIRST_CHUNK = 4


def open_store(config: StudyConfig, out: str | Path, *, resume: bool = False, force: bool = False) -> Store:
    """Open (or create) the store of ``config`` in folder ``out``.

    An existing store is continued only with ``resume=True`` and only if it was made by
    the same configuration; ``force=True`` deletes it and starts again.
    """
    path = Path(out) / STORE_NAME
    if path.exists() and not resume:
        if not force:
            raise OptionError(f"{path} already holds a study; use --resume to continue it "
                              "or --force to start again")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return Store(path, config.fingerprint, json.dumps(config.to_mapping(), sort_keys=True))


#: The advisory lock file beside the store: one writer per study folder.
LOCK_NAME = "study.sqlite.lock"


@contextlib.contextmanager
def study_lock(out: str | Path) -> Iterator[Path]:
    """Hold the study folder ``out`` for this process (creating it); refuse a second writer.

    An advisory ``fcntl.flock`` on :data:`LOCK_NAME`, which holds the PID of the holder;
    the kernel releases it when the process ends, however it ends. A folder that cannot
    be created or written is reported as :class:`OptionError`. (No lock on Windows.)
    """
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fh = open(out / LOCK_NAME, "a+", encoding="ascii")
    except OSError as exc:
        raise OptionError(f"{out}: cannot write the study there ({exc.strerror or exc}); "
                          "choose another --out folder") from None
    with fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.seek(0)
                holder = fh.read().strip() or "unknown"
                raise OptionError(f"{out / STORE_NAME} is in use by another smsem run (PID {holder}); "
                                  "wait for it to finish or stop it, then rerun with --resume") from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
        yield out


def iter_pending(config: StudyConfig, done: set[tuple[int, int]]) -> Iterator[Task]:
    """The ``(cell, rep)`` tasks not yet stored, in cell then replication order, one at a time.

    A generator, so the plan of a study takes no memory whatever its replication count.
    """
    for c in config.cells:
        for r in range(config.replications):
            if (c.index, r) not in done:
                yield c, r


def pending_tasks(config: StudyConfig, done: set[tuple[int, int]]) -> list[Task]:
    """The ``(cell, rep)`` tasks not yet stored, in cell then replication order (a list)."""
    return list(iter_pending(config, done))


def chunk_size(count: int, workers: int) -> int:
    """Replications per chunk: at most :data:`MAX_CHUNK`, small enough that every worker
    gets about four chunks of the ``count`` pending tasks."""
    return max(1, min(MAX_CHUNK, -(-count // (4 * max(1, workers)))))


def iter_chunks(tasks: Iterable[Task], size: int, *, first: int | None = None) -> Iterator[Chunk]:
    """Group consecutive tasks of the same cell into chunks of at most ``size`` (lazily).

    With ``first``, the chunks start at that size and double up to ``size``: the first
    rows (and the progress bar's first rate and ETA) come within seconds, while later
    chunks amortize the per-chunk overhead. Rows never depend on the chunking.
    """
    cap = min(size, first) if first else size
    cell: Cell | None = None
    reps: list[int] = []
    for c, rep in tasks:
        if reps and (c != cell or len(reps) >= cap):
            yield cell, tuple(reps)  # type: ignore[misc]
            reps = []
            cap = min(size, 2 * cap)
        cell = c
        reps.append(rep)
    if reps:
        yield cell, tuple(reps)  # type: ignore[misc]


def chunk_tasks(tasks: list[Task], workers: int) -> list[Chunk]:
    """Group consecutive tasks of the same cell into chunks of at most :data:`MAX_CHUNK`,
    small enough that every worker gets about four chunks."""
    return list(iter_chunks(tasks, chunk_size(len(tasks), workers)))


def _run_task(task: Chunk, config: StudyConfig) -> list[dict[str, Any]]:
    return run_replications(task[0], task[1], config)


#: Worker initializer (kept under its old name): workers end when the parent dies.
_die_with_parent = die_with_parent


def _local(tasks: Iterable[Chunk], config: StudyConfig, jobs: int) -> Iterator[list[dict[str, Any]]]:
    if jobs == 1:
        for t in tasks:
            yield _run_task(t, config)
        return
    # fork: workers inherit the loaded modules (fast start); they only compute and
    # return rows, never touch the store.
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    window = 2 * jobs  # chunks in flight: bounded so an interrupt stops quickly
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_die_with_parent,
                                initargs=(os.getpid(),)) as pool:
        it = iter(tasks)
        running = {pool.submit(_run_task, t, config) for t in _take(it, window)}
        try:
            while running:
                finished, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for f in finished:
                    yield f.result()
                running |= {pool.submit(_run_task, t, config) for t in _take(it, len(finished))}
        finally:
            for f in running:
                f.cancel()


def _connect(scheduler: str) -> Any:
    from distributed import Client

    try:
        return Client(scheduler, timeout="30s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise OptionError(f"could not connect to the Dask scheduler at {scheduler!r}: {exc}") from None


def _dask(tasks: Iterable[Chunk], config: StudyConfig, client: Any) -> Iterator[list[dict[str, Any]]]:
    from distributed import as_completed

    threads = max(1, sum(client.nthreads().values()))
    window = 2 * threads  # chunks in flight: bounded so an interrupt loses little work
    it = iter(tasks)
    first = _take(it, window)
    if not first:
        return
    # The configuration travels with each task (a few hundred bytes), not scattered once:
    # scattered data dies with the worker holding it, while a task is simply run again on
    # another worker (or on the one the nanny restarts) when its worker is lost.
    pending = {client.submit(_run_task, t, config, pure=False) for t in first}
    ac = as_completed(pending)
    try:
        for f in ac:
            pending.discard(f)
            yield f.result()
            f.release()
            for t in _take(it, 1):
                nf = client.submit(_run_task, t, config, pure=False)
                pending.add(nf)
                ac.add(nf)
    finally:
        client.cancel(list(pending))


def _take(it: Iterator[Chunk], k: int) -> list[Chunk]:
    out = []
    for _ in range(k):
        try:
            out.append(next(it))
        except StopIteration:
            break
    return out


def _progress(total: int, initial: int, enabled: bool | None) -> Any:
    from tqdm import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    # smoothing=0: the rate (and ETA) is the average since this run started, not a moving
    # average of the last chunks, which jumps with the chunk sizes.
    return tqdm(total=total, initial=initial, disable=not enabled, unit="rep", file=sys.stderr,
                dynamic_ncols=True, desc="replications", smoothing=0)


def _guarded(chunks: Iterable[list[dict[str, Any]]], store: Store, config: StudyConfig, out: str | Path,
             dask: bool) -> Iterator[list[dict[str, Any]]]:
    """The chunks' rows; a failure of the workers or the cluster (not of a replication,
    which is a stored row with its reason) becomes one :class:`WorkerLostError`."""
    it = iter(chunks)
    try:
        while True:
            try:
                rows = next(it)
            except StopIteration:
                return
            except (KeyboardInterrupt, SmsemError):
                raise
            except Exception as exc:
                where = "the Dask cluster" if dask else "a worker process"
                raise WorkerLostError(
                    f"{where} failed during the study ({type(exc).__name__}: {exc or 'no detail'}); "
                    f"{store.count()} of {config.n_tasks} replications are stored in {Path(out)}; "
                    "rerun with --resume to continue") from exc
            yield rows
    finally:  # stop the workers now (pool shut down, futures cancelled), also when interrupted
        close = getattr(it, "close", None)
        if close is not None:
            close()


def run_study(
    config: StudyConfig,
    out: str | Path,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> "StudyResults":
    """Run every replication of a study not yet stored in ``out`` and summarize it.

    Parameters
    ----------
    config : StudyConfig
    out : str or Path
        Folder of the study's store (``study.sqlite``).
    jobs : int, default=1
        Local worker processes (ignored with ``scheduler``).
    scheduler : str, optional
        Address of a dask.distributed scheduler (``tcp://HOST:PORT``); the workers must
        be able to import smsem.
    resume : bool, default=False
        Continue the study stored in ``out``.
    force : bool, default=False
        Delete a study stored in ``out`` and start again.
    progress : bool, optional
        Show a tqdm progress bar with ETA (default: when stderr is a terminal).
    on_row : callable, optional
        Called with each row after it is stored (tests use it to interrupt a run).

    Returns
    -------
    StudyResults
    """
    from .summary import StudyResults

    jobs = check_int("jobs", jobs, low=1)
    client = _connect(scheduler) if scheduler else None  # fail before creating a store
    try:
        with study_lock(out), open_store(config, out, resume=resume, force=force) as store:
            done = store.done()
            workers = max(1, sum(client.nthreads().values())) if client is not None else jobs
            # The plan is streamed (generators): memory does not grow with the replication count.
            size = chunk_size(max(0, config.n_tasks - len(done)), workers)
            tasks = iter_chunks(iter_pending(config, done), size, first=FIRST_CHUNK)
            chunks: Iterable[list[dict[str, Any]]] = (_dask(tasks, config, client) if client is not None
                                                      else _local(tasks, config, jobs))
            bar = _progress(config.n_tasks, len(done), progress)
            try:
                for rows in _guarded(chunks, store, config, out, client is not None):
                    added = store.add_many(rows)  # committed before they are counted
                    pause_point("montecarlo-stored")  # tests kill the run here (smsem._testhooks)
                    for row, new in zip(rows, added):
                        if new:
                            bar.update(1)
                            if on_row is not None:
                                on_row(row)
            finally:
                bar.close()
            return StudyResults.from_store(config, store)
    finally:
        if client is not None:
            client.close()

"""Random streams of a Monte Carlo study.

Replication ``rep`` of cell ``cell`` draws from ``SeedSequence(entropy=seed,
spawn_key=(cell, rep, stream))``: a pure function of the study seed and the task, never
of the order, process or machine that runs it. ``stream`` separates the uses within one
replication (data, bootstrap), so adding a use never shifts another. The data stream
seeds :func:`smsem.simulate`, which spawns its own sub-streams (responses, missingness).
Stream 1 is reserved (unused).
"""

from __future__ import annotations

import numpy as np

__all__ = ["DATA", "MISSING", "BOOTSTRAP", "replication_seedseq", "replication_seed", "replication_rng"]

DATA, MISSING, BOOTSTRAP = 0, 1, 2


def replication_seedseq(seed: int, cell: int, rep: int, stream: int = DATA) -> np.random.SeedSequence:
    """The :class:`~numpy.random.SeedSequence` of one stream of one replication."""
    return np.random.SeedSequence(entropy=int(seed), spawn_key=(int(cell), int(rep), int(stream)))


def replication_seed(seed: int, cell: int, rep: int, stream: int = DATA) -> int:
    """A 128-bit integer seed for APIs that take an int (``smsem.simulate(seed=...)``).

    Four 32-bit words of the stream's state, so distinct tasks get distinct seeds with
    overwhelming probability.
    """
    words = replication_seedseq(seed, cell, rep, stream).generate_state(4, dtype=np.uint32)
    return int(sum(int(w) << (32 * i) for i, w in enumerate(words)))


def replication_rng(seed: int, cell: int, rep: int, stream: int = DATA) -> np.random.Generator:
    """A numpy Generator on one stream of one replication."""
    return np.random.default_rng(replication_seedseq(seed, cell, rep, stream))

"""The statistical core of ordinal SEM (lavaan's WLSMV chain, step by step).

* :mod:`.thresholds` — item codes and univariate thresholds (``lav_uvord``);
* :mod:`.polychoric` — two-step polychoric and polyserial correlations (``lav_bvord``, ``lav_bvmix``);
* :mod:`.nacov` — their asymptotic covariance matrix (``muthen1984``: NACOV, WLS.obs, DWLS weights);
* :mod:`.batched` — thresholds and polychorics of many bootstrap draws at once (resampling by counts).
"""

from .batched import BatchedPolychoric, BatchResult, draw_counts, dwls_diagonal
from .nacov import SampleStats, nacov_from, sample_stats
from .polychoric import CorrelationResult, bvn_cdf, polychoric_matrix, polyserial, two_step
from .thresholds import MAX_LEVELS, OrdinalData, prepare, thresholds

__all__ = [
    "BatchedPolychoric",
    "BatchResult",
    "draw_counts",
    "dwls_diagonal",
    "SampleStats",
    "nacov_from",
    "sample_stats",
    "MAX_LEVELS",
    "OrdinalData",
    "prepare",
    "thresholds",
    "CorrelationResult",
    "bvn_cdf",
    "polychoric_matrix",
    "polyserial",
    "two_step",
]

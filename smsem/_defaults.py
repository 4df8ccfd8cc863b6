"""Default seeds and option values the command line shows in its help.

They live in this import-free module so that ``smsem --help`` and argument errors are
answered without importing numpy, pandas, scipy or semopy; the modules that use them
import them from here (one definition).
"""

DEFAULT_SEED = 20190101  # data seed of ``simulate`` / ``smsem generate`` / ``smsem reproduce``
DEFAULT_BOOT_SEED = 20190102  # bootstrap seed
DEFAULT_DIAG_SEED = 20060701  # seed of ``simulate_diagnostic``
CI_METHODS = ("percentile", "bc", "bca", "normal")  # bootstrap confidence-interval methods

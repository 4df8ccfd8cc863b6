"""Exception and warning classes of smsem.

Every error a user can cause by their input (a file, model syntax, an option) is a
subclass of :class:`SmsemError`; the command line turns it into one line on stderr and
exit status 2. Estimation trouble is a warning, never an exception.
"""

from __future__ import annotations

__all__ = [
    "SmsemError",
    "SpecError",
    "IdentificationError",
    "DataError",
    "OptionError",
    "EstimationError",
    "WorkerLostError",
    "SmsemWarning",
    "ConvergenceWarning",
    "HeywoodWarning",
    "NonPositiveDefiniteWarning",
    "SingularInformationWarning",
    "DataWarning",
    "ReverseCodedWarning",
    "MissingDataWarning",
    "OutlierWarning",
]


class SmsemError(Exception):
    """Base class of the errors caused by user input."""


class SpecError(SmsemError):
    """A model specification (lavaan syntax, codebook, population) is invalid."""


class IdentificationError(SpecError):
    """The model is not identified: it cannot be estimated whatever the data."""


class DataError(SmsemError):
    """A survey data set cannot be used (missing column, bad value, too few rows)."""


class OptionError(SmsemError, ValueError):
    """An option has a value outside its allowed set or range."""


class EstimationError(SmsemError):
    """The model could not be estimated at all on the given data."""


class WorkerLostError(SmsemError):
    """A Monte Carlo study lost its worker processes or Dask cluster; what is stored is kept."""


class SmsemWarning(UserWarning):
    """Base class of smsem's warnings."""


class ConvergenceWarning(SmsemWarning):
    """The optimizer did not converge; estimates may be unreliable."""


class HeywoodWarning(SmsemWarning):
    """An inadmissible solution: a negative variance or a non-positive-definite matrix."""


class NonPositiveDefiniteWarning(HeywoodWarning):
    """An estimated covariance matrix is not positive definite (e.g. a correlation beyond 1)."""


class SingularInformationWarning(SmsemWarning):
    """The information matrix cannot be inverted: no standard errors (empirical under-identification?)."""


class DataWarning(SmsemWarning):
    """The data can be fitted, but something in them deserves a look."""


class ReverseCodedWarning(DataWarning):
    """An item correlates negatively with the rest of its construct (reverse-coded?)."""


class MissingDataWarning(DataWarning):
    """An item or the data as a whole has many missing values."""


class OutlierWarning(DataWarning):
    """Some respondents are multivariate outliers (Mahalanobis distance)."""

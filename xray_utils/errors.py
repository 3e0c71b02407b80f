"""Exceptions the package raises on purpose.

Every error a user can cause (a wrong folder, a typo in a parameter, a broken
weights file) is one of these, with a message that names what was wrong and
where, so notebooks and the command line can show it without a deep traceback.
"""


class XrayError(Exception):
    """Base class for the package's own, user-facing errors."""


class DataError(XrayError):
    """The data folder is missing, malformed, or holds unusable images."""


class DownloadError(DataError):
    """The Kaggle download failed; the message says how to get the data by hand."""


class ConfigError(XrayError, ValueError):
    """A parameter, profile or override has a value that is not allowed."""


class WeightsError(XrayError):
    """A weights file is missing, corrupt, or does not fit the architecture."""


class RunError(XrayError):
    """A run folder is missing, incomplete, or locked by another process."""

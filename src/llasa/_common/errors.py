"""One error family with messages meant for users (the CLI prints them without a traceback)."""


class LlasaError(Exception):
    """Base of every error llasa raises on purpose."""


class InputError(LlasaError, ValueError):
    """Bad input from a user: text, audio, paths, sizes, settings."""


class ModelLoadError(LlasaError):
    """A model or checkpoint could not be found, read or matched to the architecture."""


class BudgetError(LlasaError):
    """A compute, length or context budget cannot be met."""


class Cancelled(LlasaError):
    """Work stopped on request (``should_stop()`` said so: client gone, time limit, shutdown)."""

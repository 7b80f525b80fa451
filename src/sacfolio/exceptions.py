"""Domain exceptions. Every message names the offending value and says how to fix it.

The CLI maps :class:`SacfolioError` subclasses to exit code 2 with the message and no
traceback; the API maps them to 4xx with the same message.
"""

from __future__ import annotations


class SacfolioError(Exception):
    """Base class of every error a user can act on."""


class DataError(SacfolioError, ValueError):
    """Input data is invalid. Carries the file, column and row when known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        column: str | None = None,
        row: object | None = None,
        fix: str | None = None,
    ) -> None:
        self.path, self.column, self.row, self.fix = path, column, row, fix
        where = []
        if path is not None:
            where.append(f"file {path}")
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        text = message if not where else f"{message} ({', '.join(where)})."
        if not text.endswith("."):
            text += "."
        if fix:
            text += f" {fix}"
        super().__init__(text)


class ConfigError(SacfolioError, ValueError):
    """A configuration value is out of its valid range."""


class EvaluationWindowError(SacfolioError, ValueError):
    """The requested evaluation window does not fit inside the data."""


class UnsafeLearningRateError(ConfigError):
    """A learning rate above the safe range was requested without --allow-unsafe-lr."""


class TrainingHealthError(SacfolioError, RuntimeError):
    """Training was stopped because the model's weights, gradients or losses went bad."""


class RegistryError(SacfolioError):
    """A model registry operation failed (missing version, corrupt artifact, lock)."""


class ModelNotFoundError(RegistryError, KeyError):
    """No model of that name, or no such version, exists in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CorruptArtifactError(RegistryError):
    """A version directory is missing a file or holds one that cannot be read."""


class LayoutMismatchError(RegistryError):
    """A model's symbol order or state layout does not match the data it is applied to."""


class InvalidArtifactError(RegistryError, ValueError):
    """Artifacts handed to the registry cannot be stored (bad file name, non-tensor, non-JSON value)."""


class DataWarning(UserWarning):
    """Input data was usable but repaired: missing prices forward-filled or marked unavailable."""


class CheckpointError(SacfolioError, ValueError):
    """A checkpoint cannot be read as weights: missing, not a state dict, or holding pickled objects."""


class ServiceRequestError(SacfolioError, ValueError):
    """A request to the HTTP service cannot be served as asked.

    ``status_code`` is the HTTP status the API answers with (422 invalid input by
    default, 404 unknown job or resource); the response carries the same message.
    """

    def __init__(self, message: str, *, status_code: int = 422) -> None:
        if not 400 <= status_code < 500:
            raise ValueError(f"status_code must be a 4xx code, got {status_code}")
        self.status_code = status_code
        super().__init__(message)


class MissingDependencyError(SacfolioError, ImportError):
    """An optional integration (e.g. transformers for FinBERT) is used but not installed."""


class BarSourceError(SacfolioError, ValueError):
    """The bar source cannot be read or does not fit the ledger's instruments."""

"""kmslab: learn how a customer-managed AWS KMS key protects a DynamoDB table, hands on."""

from ._errors import (
    ApplyError,
    CannotEvaluateError,
    ConfigurationError,
    HCLSyntaxError,
    KmslabError,
    LabError,
    ReferenceError_,
    UnsupportedError,
    ValidationError,
)

from ._lab import Lab

__version__ = "0.1.0"

__all__ = [
    "ApplyError",
    "CannotEvaluateError",
    "ConfigurationError",
    "HCLSyntaxError",
    "KmslabError",
    "Lab",
    "LabError",
    "ReferenceError_",
    "UnsupportedError",
    "ValidationError",
    "__version__",
]

"""kmslab: learn how a customer-managed AWS KMS key protects a DynamoDB table, hands on."""

from ._errors import (
    ApplyError,
    CannotEvaluateError,
    ConfigurationError,
    HCLSyntaxError,
    KmslabError,
    LabError,
    MalformedPolicyError,
    ReferenceError_,
    UnsupportedError,
    ValidationError,
)
from ._evaluator import (
    REASONS,
    Decision,
    Lock,
    MatchedStatement,
    Policy,
    Step,
    check_policy_document,
    evaluate,
)
from ._lab import Account, Lab

__version__ = "0.1.0"

__all__ = [
    "REASONS",
    "Account",
    "ApplyError",
    "CannotEvaluateError",
    "ConfigurationError",
    "Decision",
    "HCLSyntaxError",
    "KmslabError",
    "Lab",
    "LabError",
    "Lock",
    "MalformedPolicyError",
    "MatchedStatement",
    "Policy",
    "ReferenceError_",
    "Step",
    "UnsupportedError",
    "ValidationError",
    "__version__",
    "check_policy_document",
    "evaluate",
]

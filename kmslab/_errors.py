"""The exceptions kmslab raises, drawn once.

::

    KmslabError                      base of everything kmslab raises itself
    ├── ConfigurationError           a .tf configuration was refused before any AWS call
    │   ├── HCLSyntaxError           the file does not parse (names file and line)
    │   ├── UnsupportedError         a construct kmslab's applier does not support
    │   ├── ReferenceError_          an unknown variable, local, resource or attribute
    │   └── ValidationError          an argument value the AWS provider would refuse
    ├── ApplyError                   an AWS call failed while applying; state stays consistent
    ├── CannotEvaluateError          the policy evaluator met something it cannot decide
    ├── MalformedPolicyError         a policy document AWS would refuse (carries AWS's code and words)
    └── LabError                     the lab itself refused (wrong target, safety guard, closed lab)

Errors that AWS itself returns are never wrapped: a denied boto3 call raises botocore's
``ClientError`` (or the service's modelled exception) exactly as it would against AWS.

Every ``ConfigurationError`` carries ``file`` and ``line`` (where known) and, where there is
one, ``suggestion``: the closest valid name ("did you mean ...").
"""

from __future__ import annotations


class KmslabError(Exception):
    """Base class of every error kmslab raises itself."""


class ConfigurationError(KmslabError, ValueError):
    """A Terraform configuration was refused before any AWS call was made."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 suggestion: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.suggestion = suggestion
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        hint = f' Did you mean "{self.suggestion}"?' if self.suggestion else ""
        return f"{where}{self.message}{hint}"


class HCLSyntaxError(ConfigurationError):
    """The file is not valid HCL."""


class UnsupportedError(ConfigurationError):
    """A construct the embedded applier does not support (count, for_each, module, ...)."""


class ReferenceError_(ConfigurationError):
    """A reference to something that is not declared."""


class ValidationError(ConfigurationError):
    """An argument value that the AWS provider (or Terraform) would refuse."""


class ApplyError(KmslabError):
    """An AWS call failed during apply. The state records exactly what was created."""


class CannotEvaluateError(KmslabError):
    """The evaluator met an operator or key it cannot evaluate."""


class MalformedPolicyError(KmslabError, ValueError):
    """A policy document (or a request to the evaluator) that AWS would refuse as malformed.

    ``code`` is the error code AWS returns for the document's kind (``MalformedPolicyDocument`` for
    IAM policies and role trust policies, ``MalformedPolicyDocumentException`` for KMS key
    policies), ``aws_message`` the sentence AWS gives, and ``detail`` where kmslab found the
    problem (statement and element), which AWS does not say. ``kind`` names the document:
    ``"identity-based policy"``, ``"key policy"``, ``"resource-based policy"`` or
    ``"trust policy"``. ``str(error)`` reads ``"<code>: <aws_message> (<detail>)"``.
    """

    def __init__(self, aws_message: str, detail: str, *, kind: str = "identity-based policy",
                 label: str | None = None) -> None:
        self.aws_message = aws_message
        self.detail = detail
        self.kind = kind
        self.label = label
        super().__init__(f"{self.code}: {aws_message} ({self._where()}{detail})")

    @property
    def code(self) -> str:
        return "MalformedPolicyDocumentException" if self.kind == "key policy" else "MalformedPolicyDocument"

    def _where(self) -> str:
        return f"{self.label}: " if self.label else ""

    def for_document(self, kind: str, label: str | None) -> MalformedPolicyError:
        """The same problem, told for a document of ``kind`` named ``label``."""
        return type(self)(self.aws_message, self.detail, kind=kind, label=label)


class LabError(KmslabError, RuntimeError):
    """The lab refused: a closed lab, an unknown target, or a safety guard on real AWS."""

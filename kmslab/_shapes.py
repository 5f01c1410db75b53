"""Request parameters checked against the service's own input shape, as AWS checks them before anything else.

A request that reaches the lab without botocore's client-side validation (a raw HTTP request to the
emulator, a client with ``parameter_validation=False``, a hand-edited body) is answered the way the
service answers it: a value of the wrong type is a ``SerializationException`` (JSON services); a missing
required member or a value outside its documented constraint is a ``ValidationException`` (JSON services)
or ``ValidationError`` (IAM, STS) with AWS's sentence, "1 validation error detected: Value 'x' at
'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+".
The constraints (required members, lengths, ranges, patterns, enums) are botocore's copy of AWS's service
models, so nothing here is typed by hand except DynamoDB's table-name rule, which its model leaves out
because it also takes ARNs (DynamoDB guide, "Naming rules": 3 to 255 characters of ``a-z A-Z 0-9 _ - .``).

Not modelled: nested members of the query protocol (IAM's ``Tags.member.N``) are not checked, and a
pattern that Python's ``re`` cannot read (Java's ``\\p{...}`` classes) is skipped. The members are named
in the message as AWS's Coral frameworks name them (the first letter in lower case); only the first
errors of a request are listed, as AWS lists at most a few.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_TABLE_NAME = re.compile(r"[a-zA-Z0-9_.\-]+")
#: AWS lists a few violations, then stops.
_MAX_LISTED = 3


class ShapeError(Exception):
    """A request AWS would refuse for its parameters alone: ``code`` and AWS's ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@lru_cache(maxsize=8)
def _model(service: str) -> Any:
    import botocore.session
    return botocore.session.get_session().get_service_model(service)


@lru_cache(maxsize=512)
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:
        return None


def check(service: str, operation: str, params: Any, *, protocol: str) -> None:
    """Raise :class:`ShapeError` if AWS would refuse ``params`` for ``service:operation`` on their shape."""
    model = _model(service)
    try:
        shape = model.operation_model(operation).input_shape
    except Exception:  # an operation this model does not have: the closed world answers for it
        return
    if shape is None:
        return
    problems: list[str] = []
    if protocol == "json":
        _check_json(shape, params, "", problems)
    else:
        _check_query(shape, params, problems)
    if service == "dynamodb" and operation == "CreateTable" and isinstance(params, dict):
        _check_table_name(params.get("TableName"), problems)
    if problems:
        listed = problems[:_MAX_LISTED]
        count = len(problems)
        noun = "validation error" if count == 1 else "validation errors"
        code = "ValidationException" if protocol == "json" else "ValidationError"
        raise ShapeError(code, f"{count} {noun} detected: " + "; ".join(listed))


def _name(member: str) -> str:
    return member[:1].lower() + member[1:]


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 100 else text[:100] + "..."


def _serialization() -> ShapeError:
    # DynamoDB and KMS answer a value of the wrong JSON type with this code and no message.
    return ShapeError("SerializationException", "")


def _check_json(shape: Any, value: Any, path: str, problems: list[str], depth: int = 0) -> None:
    if depth > 40:
        raise _serialization()
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise _serialization()
        for required in shape.required_members:
            if value.get(required) is None:
                problems.append(f"Value null at '{path}{_name(required)}' failed to satisfy constraint: "
                                "Member must not be null")
        for member, item in value.items():
            if member in shape.members and item is not None:
                _check_json(shape.members[member], item, f"{path}{_name(member)}.", problems, depth + 1)
        return
    where = path[:-1]
    if kind == "list":
        if not isinstance(value, list):
            raise _serialization()
        _check_size(shape, len(value), value, where, problems, "length")
        for index, item in enumerate(value, 1):
            if item is not None:
                _check_json(shape.member, item, f"{where}.{index}.member.", problems, depth + 1)
        return
    if kind == "map":
        if not isinstance(value, dict):
            raise _serialization()
        for key, item in value.items():
            _check_json(shape.key, key, f"{where}.key.", problems, depth + 1)
            if item is not None:
                _check_json(shape.value, item, f"{where}.{key}.member.", problems, depth + 1)
        return
    if kind == "string":
        if not isinstance(value, str):
            raise _serialization()
        _check_string(shape, value, where, problems)
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _serialization()
        _check_size(shape, value, value, where, problems, "value")
    elif kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _serialization()
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _serialization()
    elif kind in ("blob", "timestamp"):
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise _serialization()


def _check_string(shape: Any, value: str, where: str, problems: list[str]) -> None:
    before = len(problems)
    _check_size(shape, len(value), value, where, problems, "length")
    if len(problems) > before:
        return  # AWS checks the length first: no pattern is tried on a string of the wrong length
    enum = shape.enum
    if enum and value not in enum:
        problems.append(f"Value '{_shown(value)}' at '{where}' failed to satisfy constraint: Member must "
                        f"satisfy enum value set: [{', '.join(enum)}]")
        return
    text = shape.metadata.get("pattern")
    pattern = _pattern(text) if text else None
    if pattern is not None and pattern.fullmatch(value) is None:
        problems.append(f"Value '{_shown(value)}' at '{where}' failed to satisfy constraint: Member must "
                        f"satisfy regular expression pattern: {text}")


def _check_size(shape: Any, size: int, value: Any, where: str, problems: list[str], what: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    shown = f"Value '{_shown(value)}'"
    if low is not None and size < low:
        problems.append(f"{shown} at '{where}' failed to satisfy constraint: Member must have {what} "
                        f"greater than or equal to {low}")
    elif high is not None and size > high:
        problems.append(f"{shown} at '{where}' failed to satisfy constraint: Member must have {what} "
                        f"less than or equal to {high}")


def _check_query(shape: Any, params: Any, problems: list[str]) -> None:
    """Query-protocol forms are flat strings: check the top-level scalar members."""
    if not isinstance(params, dict):
        return
    for required in shape.required_members:
        member = shape.members[required]
        if member.type_name in ("string", "integer", "long", "boolean") and params.get(required) in (None, ""):
            if params.get(required) is None:
                problems.append(f"Value null at '{_name(required)}' failed to satisfy constraint: Member must "
                                "not be null")
    for name, value in params.items():
        member = shape.members.get(name)
        if member is None or not isinstance(value, str):
            continue
        if member.type_name == "string":
            _check_string(member, value, _name(name), problems)
        elif member.type_name in ("integer", "long"):
            try:
                number = int(value)
            except ValueError:
                problems.append(f"Value '{_shown(value)}' at '{_name(name)}' failed to satisfy constraint: "
                                "Member must be a number")
                continue
            _check_size(member, number, number, _name(name), problems, "value")


def _check_table_name(name: Any, problems: list[str]) -> None:
    if not isinstance(name, str) or name.startswith("arn:"):
        return
    if not 3 <= len(name) <= 255:
        bound = "greater than or equal to 3" if len(name) < 3 else "less than or equal to 255"
        problems.append(f"Value '{_shown(name)}' at 'tableName' failed to satisfy constraint: Member must have "
                        f"length {bound}")
    elif _TABLE_NAME.fullmatch(name) is None:
        problems.append(f"Value '{_shown(name)}' at 'tableName' failed to satisfy constraint: Member must "
                        "satisfy regular expression pattern: [a-zA-Z0-9_.-]+")

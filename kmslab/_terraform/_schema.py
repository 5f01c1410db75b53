"""Schemas: what each resource type accepts, its defaults, and the provider's validation rules.

A schema is a plain description (no AWS calls): :class:`Arg` for an argument or exported attribute,
:class:`BlockSpec` for a nested block. The handlers in :mod:`._resources` and :mod:`._data` declare
their schemas with these; the planner uses them to fill defaults, decide "update in place" versus
"replace" (``force_new``) and show ``(known after apply)`` and ``(sensitive value)``.

The validation messages follow the Terraform AWS provider's (its ``validation`` helpers), e.g.
``expected deletion_window_in_days to be in the range (7 - 30), got 5``.

JSON policy arguments (``kind="json"``) follow the provider: an IAM policy argument
(``policy="iam"``: ``aws_iam_policy``, ``aws_iam_user_policy``) must be a JSON object without
duplicate keys (``"policy" contains duplicate JSON keys: duplicate key "Statement.0.Condition.StringEquals"``,
one line per duplicate); a KMS key policy need only be JSON. Leading whitespace is allowed (the
provider trims it). In state a policy is kept as the provider keeps it, through its
``NormalizeJsonString`` (compact, keys sorted, ``<>&`` escaped), and two policies that differ only in
the order of their actions, resources, principals, condition values or statements, or in a
one-element list written as a string, are equivalent (the provider's
``SuppressEquivalentPolicyDiffs``): such a change plans nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ._expr import UNKNOWN, to_number, to_string


@dataclass(frozen=True)
class Arg:
    """One argument or exported attribute of a resource or nested block.

    ``kind`` is ``string``, ``number``, ``bool``, ``list`` (of strings), ``map`` (of strings) or
    ``json`` (a string holding a JSON policy document). ``argument=False`` marks an attribute that
    only AWS sets (``arn``); ``computed=True`` on an argument means AWS fills it when it is not set.
    """

    kind: str = "string"
    required: bool = False
    default: Any = None
    computed: bool = False
    argument: bool = True
    force_new: bool = False
    sensitive: bool = False
    choices: tuple[str, ...] = ()
    int_range: tuple[int, int] | None = None
    whole: bool = False  # the provider's TypeInt: "Attribute must be a whole number"
    policy: str = "iam"  # for kind="json": "iam" (ValidIAMPolicyJSON), "json" (StringIsJSON) or "framework"
    normalize: bool = True  # for kind="json": kept in state as NormalizeJsonString leaves it (the SDK's StateFunc)
    pattern: tuple[str, str] | None = None  # validation.StringMatch: (regular expression, message)
    drop_null: bool = False  # for kind="map": null elements are dropped (tags), not refused
    length: tuple[int, int] | None = None  # validation.StringLenBetween (checked before ``pattern``)
    arn: bool = False  # verify.ValidARN
    framework_arn: bool = False  # the plugin-framework provider's fwtypes.ARNType (arn.IsARN)
    forbidden: tuple[str, str] | None = None  # validation.StringDoesNotMatch: (regular expression, message)


def Attr(kind: str = "string", sensitive: bool = False) -> Arg:  # noqa: N802 - reads like a type
    """An exported attribute that only AWS sets (``arn``, ``id``...)."""
    return Arg(kind=kind, computed=True, argument=False, sensitive=sensitive)


@dataclass(frozen=True)
class BlockSpec:
    """A nested block type: its arguments and how many blocks may appear.

    ``computed=True``: when the configuration has no such block, AWS reports one after apply (shown
    as ``+ point_in_time_recovery (known after apply)``). ``is_set=True``: the provider keeps these
    blocks in a set, so they cannot be indexed (``attribute[0]`` is refused, as Terraform refuses it).
    """

    args: dict[str, Arg]
    blocks: dict[str, BlockSpec] = field(default_factory=dict)
    min_items: int = 0
    max_items: int | None = None
    force_new: bool = False
    computed: bool = False
    is_set: bool = False


@dataclass(frozen=True)
class Schema:
    args: dict[str, Arg]
    blocks: dict[str, BlockSpec] = field(default_factory=dict)

    def names(self) -> list[str]:
        return [*self.args, *self.blocks]


class Problem(Exception):
    """A value the provider would refuse; ``arg`` names the argument (for the file:line)."""

    def __init__(self, message: str, arg: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.arg = arg


def coerce(name: str, arg: Arg, value: Any) -> Any:
    """Convert a configured value to the argument's kind, as Terraform does, or raise :class:`Problem`."""
    if value is None or value is UNKNOWN:
        return value
    if arg.kind in ("string", "json"):
        text = to_string(value)
        if text is None:
            raise Problem(f'Incorrect attribute value type: inappropriate value for attribute "{name}": '
                          "string required.", name)
        return text
    if arg.kind == "number":
        number = to_number(value)
        if number is None:
            raise Problem(f'Incorrect attribute value type: inappropriate value for attribute "{name}": '
                          "a number is required.", name)
        return number
    if arg.kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise Problem(f'Incorrect attribute value type: inappropriate value for attribute "{name}": '
                      "bool required.", name)
    if arg.kind == "list":
        if not isinstance(value, list):
            raise Problem(f'Incorrect attribute value type: inappropriate value for attribute "{name}": '
                          "list of string required.", name)
        return [_element(name, v) for v in value]
    if arg.kind == "map":
        if not isinstance(value, dict):
            raise Problem(f'Incorrect attribute value type: inappropriate value for attribute "{name}": '
                          "map of string required.", name)
        if arg.drop_null:  # the provider drops a tag whose value is null (tags = { k = null })
            value = {k: v for k, v in value.items() if v is not None}
        return {k: _element(name, v) for k, v in value.items()}
    raise AssertionError(f"unknown kind {arg.kind}")  # pragma: no cover


def _element(name: str, value: Any) -> Any:
    if value is UNKNOWN:
        return value
    text = to_string(value)
    if text is None:
        raise Problem(f'Incorrect attribute value type: inappropriate value for attribute "{name}": '
                      "elements must be strings.", name)
    return text


def check_value(name: str, arg: Arg, value: Any) -> None:
    """The provider's per-argument validation (enums, ranges, JSON policies), for a known value."""
    if value is None or value is UNKNOWN:
        return
    if arg.choices and value not in arg.choices:
        listed = " ".join(json.dumps(c) for c in arg.choices)
        raise Problem(f"expected {name} to be one of [{listed}], got {value}", name)
    if arg.whole and isinstance(value, float) and not value.is_integer():  # the provider's TypeInt
        raise Problem(f"Attribute must be a whole number, got {to_string(value)}", name)
    if arg.length and isinstance(value, str) and not arg.length[0] <= len(value) <= arg.length[1]:
        low, high = arg.length
        raise Problem(f"expected length of {name} to be in the range ({low} - {high}), got {value}", name)
    if arg.forbidden and isinstance(value, str) and re.search(arg.forbidden[0], value):
        raise Problem(f"invalid value for {name} ({arg.forbidden[1]})", name)
    if arg.arn and isinstance(value, str):
        check_arn(name, value)
    if arg.pattern and isinstance(value, str) and not re.fullmatch(arg.pattern[0], value):
        raise Problem(f"invalid value for {name} ({arg.pattern[1]})", name)
    if arg.int_range and isinstance(value, (int, float)):
        low, high = arg.int_range
        if not low <= value <= high:
            raise Problem(f"expected {name} to be in the range ({low} - {high}), got {to_string(value)}", name)
    if arg.kind == "json" and arg.policy == "framework":
        check_framework_policy(name, value)
    elif arg.kind == "json":
        check_policy_json(name, value, iam=arg.policy == "iam")
    if arg.framework_arn and isinstance(value, str) and not is_arn(value):
        raise Problem(f"Invalid ARN Value\n\nThe provided value cannot be parsed as an ARN.\n\nPath: {name}\n"
                      f"Value: {value}", name)


def is_arn(value: str) -> bool:
    """The AWS SDK's ``arn.IsARN``: the ``arn:`` prefix and six sections."""
    return value.startswith("arn:") and value.count(":") >= 5


def check_framework_policy(name: str, value: str) -> None:
    """The plugin-framework provider's ``fwtypes.IAMPolicyType``: any valid JSON text (no duplicate-key check)."""
    try:
        json.loads(value)
    except (ValueError, RecursionError):
        raise Problem(f"Invalid IAM Policy Value\n\nThe provided value is not valid JSON string format (RFC 7159)."
                      f"\n\nPath: {name}\nValue: {value}", name) from None


_ACCOUNT = r"(aws|aws-managed|third-party|aws-marketplace|\d{12}|cw.{10})"


def check_arn(name: str, value: str) -> None:
    """The provider's ``verify.ValidARN``: an empty string, or an ARN that the AWS SDK's ``arn.Parse``
    reads, with a partition, a well-formed region and account (when given) and a resource. The
    account pattern is the one the provider prints; the region pattern is kmslab's reading of the
    provider's (it prints none); the provider's check of the partition's form is not made."""
    if value == "":
        return
    sections = value.split(":", 5)
    reason = None
    if not value.startswith("arn:"):
        reason = "arn: invalid prefix"
    elif len(sections) < 6:
        reason = "arn: not enough sections"
    elif sections[1] == "":
        reason = "missing partition value"
    elif sections[3] and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", sections[3]):
        reason = "invalid region value"
    elif sections[4] and not re.fullmatch(_ACCOUNT, sections[4]):
        reason = f"invalid account ID value (expecting to match regular expression: ^{_ACCOUNT}$)"
    elif sections[5] == "":
        reason = "missing resource value"
    if reason:
        raise Problem(f'"{name}" ({value}) is an invalid ARN: {reason}', name)


class _Pairs(list):
    """A JSON object read as its (key, value) pairs, duplicates kept."""


def _read_pairs(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_Pairs)


def _duplicates(value: Any, path: str = "") -> list[str]:
    """Every duplicate key, as the provider names it (``Statement.0.Condition.StringEquals``), in
    document order."""
    found: list[str] = []
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, item in value:
            where = f"{path}.{key}" if path else key
            if key in seen:
                found.append(where)
            seen.add(key)
            found += _duplicates(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _duplicates(item, f"{path}.{index}" if path else str(index))
    return found


def check_policy_json(name: str, value: str, iam: bool = True) -> None:
    """The provider's ``ValidIAMPolicyJSON`` (``iam``) or ``StringIsJSON``.

    ``ValidIAMPolicyJSON`` looks at the first character after leading whitespace before it parses
    (its words, as the 5.x provider prints them): an empty string, a JSON-encoded string, an array,
    anything else that is not an object. A ``{`` that does not parse is refused with Python's JSON
    message where the provider gives Go's (kmslab's words, the same refusal)."""
    what = "JSON policy" if iam else "JSON"
    if iam:
        first = value.lstrip()[:1]
        if value == "":
            raise Problem(f'"{name}" is an empty string, which is not a valid JSON value', name)
        if first == '"':
            raise Problem(f'"{name}" contains an invalid JSON policy: contains a JSON-encoded string, not a '
                          "JSON-encoded object", name)
        if first == "[":
            raise Problem(f'"{name}" contains an invalid JSON policy: contains a JSON array, not a JSON object', name)
        if first != "{":
            raise Problem(f'"{name}" contains an invalid JSON policy: not a JSON object', name)
    try:
        parsed = _read_pairs(value)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = f"{exc.msg} (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) \
            else "nested too deeply"
        raise Problem(f'"{name}" contains an invalid {what}: {detail}', name) from None
    if not iam:
        return
    duplicates = _duplicates(parsed)
    if duplicates:
        raise Problem(f'"{name}" contains duplicate JSON keys: ' + "\n".join(f'duplicate key "{d}"' for d in duplicates),
                      name)


def normalized_json(value: Any) -> Any:
    """The provider's ``structure.NormalizeJsonString``: what a JSON policy looks like in state."""
    from ._expr import json_encode
    if not isinstance(value, str):
        return value
    try:
        return json_encode(json.loads(value))
    except (ValueError, RecursionError):
        return value


def _as_set(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(json.dumps(v, sort_keys=True) for v in value)
    return [json.dumps(value, sort_keys=True)]


def _statement_key(statement: Any) -> str:
    if not isinstance(statement, dict):
        return json.dumps(statement, sort_keys=True)
    normal: dict[str, Any] = {}
    for key, value in statement.items():
        if key in ("Action", "NotAction", "Resource", "NotResource"):
            normal[key] = _as_set(value)
        elif key in ("Principal", "NotPrincipal"):
            if value == "*":
                value = {"AWS": "*"}
            normal[key] = {k: _as_set(v) for k, v in value.items()} if isinstance(value, dict) else value
        elif key == "Condition" and isinstance(value, dict):
            normal[key] = {op: {k: _as_set(v) for k, v in block.items()} if isinstance(block, dict) else block
                           for op, block in value.items()}
        else:
            normal[key] = value
    return json.dumps(normal, sort_keys=True)


def policies_equivalent(a: Any, b: Any) -> bool:
    """The provider's ``SuppressEquivalentPolicyDiffs`` (awspolicyequivalence), for two JSON strings."""
    if a == b:
        return True
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    try:
        left, right = json.loads(a), json.loads(b)
    except (ValueError, RecursionError):
        return False
    if not isinstance(left, dict) or not isinstance(right, dict):
        return left == right
    if {k: v for k, v in left.items() if k != "Statement"} != {k: v for k, v in right.items() if k != "Statement"}:
        return False
    statements = [s if isinstance(s, list) else [s] for s in (left.get("Statement", []), right.get("Statement", []))]
    return sorted(map(_statement_key, statements[0])) == sorted(map(_statement_key, statements[1]))


def tags_arg() -> Arg:
    return Arg(kind="map", drop_null=True)


def tags_all_attr() -> Arg:
    return Attr(kind="map")

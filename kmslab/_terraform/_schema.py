"""Schemas: what each resource type accepts, its defaults, and the provider's validation rules.

A schema is a plain description (no AWS calls): :class:`Arg` for an argument or exported attribute,
:class:`BlockSpec` for a nested block. The handlers in :mod:`._resources` and :mod:`._data` declare
their schemas with these; the planner uses them to fill defaults, decide "update in place" versus
"replace" (``force_new``) and show ``(known after apply)`` and ``(sensitive value)``.

The validation messages follow the Terraform AWS provider's (its ``validation`` helpers), e.g.
``expected deletion_window_in_days to be in the range (7 - 30), got 5``.
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
    pattern: tuple[str, str] | None = None  # validation.StringMatch: (regular expression, message)


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
    if arg.pattern and isinstance(value, str) and not re.fullmatch(arg.pattern[0], value):
        raise Problem(f"invalid value for {name} ({arg.pattern[1]})", name)
    if arg.int_range and isinstance(value, (int, float)):
        low, high = arg.int_range
        if not low <= value <= high:
            raise Problem(f"expected {name} to be in the range ({low} - {high}), got {to_string(value)}", name)
    if arg.kind == "json":
        check_policy_json(name, value)


def check_policy_json(name: str, value: str) -> None:
    """The provider's ``ValidIAMPolicyJSON``: a JSON object, no leading space."""
    if not value or value[:1].isspace():
        raise Problem(f'"{name}" contains an invalid JSON policy: leading space characters are not allowed',
                      name)
    if value[:1] != "{":
        raise Problem(f'"{name}" contains an invalid JSON policy: not a JSON object', name)
    try:
        json.loads(value)
    except json.JSONDecodeError as exc:
        raise Problem(f'"{name}" contains an invalid JSON policy: {exc.msg} (line {exc.lineno}, column '
                      f"{exc.colno})", name) from None


def tags_arg() -> Arg:
    return Arg(kind="map")


def tags_all_attr() -> Arg:
    return Attr(kind="map")

"""Terraform's plan and output text, reproduced.

The layout follows Terraform 1.11's human-readable renderer, checked against the real CLI with the
AWS provider 5.100: a symbol column (``+`` create, ``~`` update, ``-`` destroy, ``-/+`` replace),
names aligned within each block, nested values indented four columns per level with their closing
bracket two columns in, JSON strings shown as ``jsonencode(...)``, unchanged attributes counted in a
``# (N unchanged attributes hidden)`` line, except ``id``, ``name`` and ``tags``, which Terraform
always shows to identify the object.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from ._expr import UNKNOWN, number_to_string
from ._schema import Arg, BlockSpec

IDENTIFYING = ("id", "name", "tags")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def scalar(value: Any) -> str:
    if value is UNKNOWN:
        return "(known after apply)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_to_string(value)
    return json.dumps(value, ensure_ascii=False).replace("${", "$${")


def json_document(value: Any) -> Any:
    """The decoded document when ``value`` is a string holding a JSON object or array, else None."""
    if not isinstance(value, str) or value[:1] not in ("{", "["):
        return None
    try:
        document = json.loads(value)
    except ValueError:
        return None
    return document if isinstance(document, (dict, list)) else None


def _label(key: str, quoted: bool) -> str:
    return key if not quoted and _IDENTIFIER.match(key) else json.dumps(key, ensure_ascii=False)


def _pad(col: int) -> str:
    return " " * col


def value_lines(value: Any, sym: str, col: int, quoted_keys: bool = False) -> list[str]:
    """A whole value, every element marked ``sym``; the first line continues the current line."""
    document = json_document(value)
    if document is not None:
        inner = value_lines(document, sym, col + 4, False)
        return ["jsonencode(", _pad(col + 4) + "  " + inner[0], *inner[1:], _pad(col + 2) + ")"]
    if isinstance(value, dict):
        if not value:
            return ["{}"]
        labels = {k: _label(k, quoted_keys) for k in value}
        width = max(len(label) for label in labels.values())
        lines = ["{"]
        for key in sorted(value):
            child = value_lines(value[key], sym, col + 4, quoted_keys)
            lines.append(f"{_pad(col + 4)}{sym} {labels[key].ljust(width)} = {child[0]}")
            lines.extend(child[1:])
        lines.append(_pad(col + 2) + "}")
        return lines
    if isinstance(value, list):
        if not value:
            return ["[]"]
        lines = ["["]
        for item in value:
            child = value_lines(item, sym, col + 4, quoted_keys)
            child[-1] += ","
            lines.append(f"{_pad(col + 4)}{sym} {child[0]}")
            lines.extend(child[1:])
        lines.append(_pad(col + 2) + "]")
        return lines
    return [scalar(value)]


def _structured_pair(before: Any, after: Any) -> bool:
    if json_document(before) is not None and json_document(after) is not None:
        return type(json_document(before)) is type(json_document(after))
    return (isinstance(before, dict) and isinstance(after, dict)) or (
        isinstance(before, list) and isinstance(after, list))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def diff_lines(before: Any, after: Any, col: int, quoted_keys: bool = False) -> list[str]:
    """A changed value: nested changes marked ``+``/``-``/``~``, the rest counted as hidden."""
    if not _structured_pair(before, after):
        old = value_lines(before, "-", col, quoted_keys)
        new = value_lines(after, "+", col, quoted_keys)
        return [*old[:-1], f"{old[-1]} -> {new[0]}", *new[1:]]
    doc_before, doc_after = json_document(before), json_document(after)
    if doc_before is not None:
        inner = diff_lines(doc_before, doc_after, col + 4, False)
        return ["jsonencode(", f"{_pad(col + 4)}~ {inner[0]}", *inner[1:], _pad(col + 2) + ")"]
    if isinstance(before, dict):
        return _diff_dict(before, after, col, quoted_keys)
    return _diff_list(before, after, col, quoted_keys)


def _diff_dict(before: dict, after: dict, col: int, quoted_keys: bool) -> list[str]:
    keys = sorted(set(before) | set(after))
    labels = {k: _label(k, quoted_keys) for k in keys}
    width = max(len(label) for label in labels.values())
    lines = ["{"]
    hidden = 0
    for key in keys:
        label = labels[key].ljust(width)
        if key in before and key in after and _canonical(before[key]) == _canonical(after[key]):
            hidden += 1
        elif key not in before:
            child = value_lines(after[key], "+", col + 4, quoted_keys)
            lines += [f"{_pad(col + 4)}+ {label} = {child[0]}", *child[1:]]
        elif key not in after:
            child = value_lines(before[key], "-", col + 4, quoted_keys)
            child[-1] += " -> null"
            lines += [f"{_pad(col + 4)}- {label} = {child[0]}", *child[1:]]
        else:
            child = diff_lines(before[key], after[key], col + 4, quoted_keys)
            lines += [f"{_pad(col + 4)}~ {label} = {child[0]}", *child[1:]]
    if hidden:
        noun = "element" if quoted_keys else "attribute"
        lines.append(f"{_pad(col + 6)}# ({hidden} unchanged {noun}{'' if hidden == 1 else 's'} hidden)")
    lines.append(_pad(col + 2) + "}")
    return lines


def _diff_list(before: list, after: list, col: int, quoted_keys: bool) -> list[str]:
    lines = ["["]
    matcher = difflib.SequenceMatcher(a=[_canonical(v) for v in before], b=[_canonical(v) for v in after],
                                      autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            count = i2 - i1
            lines.append(f"{_pad(col + 6)}# ({count} unchanged element{'' if count == 1 else 's'} hidden)")
            continue
        old, new = before[i1:i2], after[j1:j2]
        if tag == "replace" and len(old) == len(new) and all(_structured_pair(o, n) for o, n in zip(old, new, strict=True)):
            for o, n in zip(old, new, strict=True):
                child = diff_lines(o, n, col + 4, quoted_keys)
                child[-1] += ","
                lines += [f"{_pad(col + 4)}~ {child[0]}", *child[1:]]
            continue
        for sym, items in (("-", old), ("+", new)):
            for item in items:
                child = value_lines(item, sym, col + 4, quoted_keys)
                child[-1] += ","
                lines += [f"{_pad(col + 4)}{sym} {child[0]}", *child[1:]]
    lines.append(_pad(col + 2) + "]")
    return lines


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def body_lines(before: dict | None, after: dict | None, args: dict[str, Arg], blocks: dict[str, BlockSpec],
               col: int, forces: frozenset[str] = frozenset(), forced_block: bool = False) -> list[str]:
    """The lines inside a resource or nested block (``col`` is the symbol column of its attributes).

    ``before`` None means create; ``after`` None means destroy; otherwise a diff. ``forces`` names
    the arguments and blocks whose change forces replacement.
    """
    mode = "create" if before is None else "delete" if after is None else "update"
    before = before or {}
    after = after or {}
    lines: list[str] = []
    hidden = 0
    shown: list[tuple[str, str, list[str]]] = []  # (symbol, name, value lines)
    for name in sorted(args):
        arg = args[name]
        old, new = before.get(name), after.get(name)
        if mode == "create":
            if new is not None:
                shown.append(("+", name, _sensitive(arg, new) or value_lines(new, "+", col, arg.kind == "map")))
            continue
        if mode == "delete":
            if old is None:
                hidden += 1
            else:
                value = _sensitive(arg, old) or value_lines(old, "-", col, arg.kind == "map")
                shown.append(("-", name, [*value[:-1], value[-1] + " -> null"]))
            continue
        if old is None and new is None:
            hidden += 1
        elif new is not UNKNOWN and _canonical(old) == _canonical(new):
            if name in IDENTIFYING and old is not None:
                shown.append((" ", name, _sensitive(arg, old) or value_lines(old, " ", col, arg.kind == "map")))
            else:
                hidden += 1
        elif old is None:
            shown.append(("+", name, _sensitive(arg, new) or value_lines(new, "+", col, arg.kind == "map")))
        elif new is None:
            value = _sensitive(arg, old) or value_lines(old, "-", col, arg.kind == "map")
            shown.append(("-", name, [*value[:-1], value[-1] + " -> null"]))
        else:
            if arg.sensitive:
                value = ["(sensitive value)"]
            elif new is UNKNOWN:
                old_lines = value_lines(old, "-", col, arg.kind == "map")
                value = [*old_lines[:-1], old_lines[-1] + " -> (known after apply)"]
            else:
                value = diff_lines(old, new, col, arg.kind == "map")
            if name in forces or forced_block:
                value[-1] += " # forces replacement"
            shown.append(("~", name, value))
    if shown:
        # Terraform aligns on every attribute that has a value, shown or hidden.
        width = max(len(name) for name in args if before.get(name) is not None or after.get(name) is not None)
        for sym, name, value in shown:
            lines.append(f"{_pad(col)}{sym} {name.ljust(width)} = {value[0]}")
            lines.extend(value[1:])
    if hidden and mode != "create":
        lines.append(f"{_pad(col + 2)}# ({_plural(hidden, 'unchanged attribute')} hidden)")
    hidden_blocks = 0
    for block_type in sorted(blocks):
        spec = blocks[block_type]
        old_blocks, new_blocks = before.get(block_type), after.get(block_type)
        group: list[str] = []
        if mode == "create" and new_blocks is UNKNOWN:
            group.append(f"{_pad(col)}+ {block_type} (known after apply)")
        elif mode != "create" and mode != "delete" and new_blocks is UNKNOWN:
            group.append(f"{_pad(col)}~ {block_type} (known after apply)")
        else:
            old_list = old_blocks if isinstance(old_blocks, list) else []
            new_list = new_blocks if isinstance(new_blocks, list) else []
            if mode == "create":
                old_list = []
            if mode == "delete":
                new_list = []
            for index in range(max(len(old_list), len(new_list))):
                old = old_list[index] if index < len(old_list) else None
                new = new_list[index] if index < len(new_list) else None
                if old is not None and new is not None and _canonical(old) == _canonical(new):
                    hidden_blocks += 1
                    continue
                sym = "+" if old is None else "-" if new is None else "~"
                inner = body_lines(old, new, spec.args, spec.blocks, col + 4,
                                   forces, forced_block or (block_type in forces and spec.force_new))
                group += [f"{_pad(col)}{sym} {block_type} {{", *inner, f"{_pad(col + 2)}}}"]
        if group:
            lines += ["", *group]
    if hidden_blocks:
        lines += ["", f"{_pad(col + 2)}# ({_plural(hidden_blocks, 'unchanged block')} hidden)"]
    return lines


def _sensitive(arg: Arg, value: Any) -> list[str] | None:
    if arg.sensitive and value is not None:
        return ["(sensitive value)"]
    return None


def output_value_lines(value: Any, indent: int = 0) -> list[str]:
    """An output value as ``terraform output`` and the end of ``apply`` print it."""
    if isinstance(value, str) and "\n" in value:
        return ["<<EOT", *value.rstrip("\n").split("\n"), "EOT"]
    if isinstance(value, dict):
        if not value:
            return ["{}"]
        lines = ["{"]
        for key in sorted(value):
            child = output_value_lines(value[key], indent + 2)
            lines.append(f"{_pad(indent + 2)}{json.dumps(key, ensure_ascii=False)} = {child[0]}")
            lines.extend(child[1:])
        return [*lines, _pad(indent) + "}"]
    if isinstance(value, list):
        if not value:
            return ["[]"]
        lines = ["["]
        for item in value:
            child = output_value_lines(item, indent + 2)
            child[-1] += ","
            lines.append(f"{_pad(indent + 2)}{child[0]}")
            lines.extend(child[1:])
        return [*lines, _pad(indent) + "]"]
    return [scalar(value)]

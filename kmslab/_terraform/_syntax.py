"""HCL expressions as small frozen dataclasses, built from python-hcl2's lark parse tree.

python-hcl2 8.x turns expressions into unevaluated ``${...}`` strings when it serialises a file, and
only its lark parse tree (``hcl2.parses_to_tree``) keeps line numbers. So this module walks that tree
and builds its own expression nodes, each carrying the file and line it came from. Evaluation lives
in :mod:`._expr`; this module never evaluates anything and never imports boto3.

Supported: literals, strings with ``${...}`` interpolation, heredocs (``<<EOT`` and ``<<-EOT``),
tuples, objects, references and traversals (``a.b[0]["k"]``), function calls (including a final
``...`` argument), unary, binary and conditional operators. Refused with :class:`UnsupportedError`:
``for`` expressions, splats (``[*]``, ``.*``), template directives (``%{if}``/``%{for}``) and
provider-defined functions (``provider::ns::fn``).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hcl2
from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from .._errors import HCLSyntaxError, UnsupportedError


@dataclass(frozen=True)
class Loc:
    """Where something was written: a file name (relative to the configuration directory) and a line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Expr:
    """Base class of expression nodes. Every node has a ``loc``."""

    loc: Loc


@dataclass(frozen=True)
class Literal(Expr):
    value: Any  # str, int, float, bool or None
    loc: Loc


@dataclass(frozen=True)
class Template(Expr):
    """A quoted string or heredoc: literal text (``str``) and interpolated expressions."""

    parts: tuple[Any, ...]
    loc: Loc


@dataclass(frozen=True)
class Name(Expr):
    """A bare identifier: the root of a reference (``var``, ``aws_kms_key``) or a type keyword."""

    name: str
    loc: Loc


@dataclass(frozen=True)
class GetAttr(Expr):
    target: Expr
    name: str
    loc: Loc


@dataclass(frozen=True)
class Index(Expr):
    target: Expr
    key: Expr
    loc: Loc


@dataclass(frozen=True)
class TupleExpr(Expr):
    items: tuple[Expr, ...]
    loc: Loc


@dataclass(frozen=True)
class ObjectExpr(Expr):
    """``{ key = value, ... }``; a bare identifier key is stored as a :class:`Literal` string."""

    items: tuple[tuple[Expr, Expr], ...]
    loc: Loc


@dataclass(frozen=True)
class Call(Expr):
    name: str
    args: tuple[Expr, ...]
    expand_final: bool
    loc: Loc


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # "-" or "!"
    operand: Expr
    loc: Loc


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr
    loc: Loc


@dataclass(frozen=True)
class Conditional(Expr):
    condition: Expr
    if_true: Expr
    if_false: Expr
    loc: Loc


# --------------------------------------------------------------------------------------------------
# Reading lark trees

#: Python's default recursion limit (1000) stops at about 150 nested brackets; Terraform reads far
#: deeper. Parsing and evaluating run with this limit; past it kmslab refuses, saying it is its limit.
RECURSION_LIMIT = 6000


@contextlib.contextmanager
def deep_recursion() -> Iterator[None]:
    old = sys.getrecursionlimit()
    if old < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def parse_text(text: str, file: str) -> Tree:
    """Parse HCL text to python-hcl2's lark tree, mapping its exceptions to :class:`HCLSyntaxError`."""
    try:
        return hcl2.parses_to_tree(text)
    except UnexpectedInput as exc:
        line = multiline_string_line(text)
        if line is not None:  # HCL's scanner reports this on the string's own line, before parsing
            raise HCLSyntaxError("Invalid multi-line string: Quoted strings may not be split over multiple lines. "
                                 "To produce a multi-line string, either use the \\n escape to represent a "
                                 'newline character or use the "heredoc" multi-line template syntax.',
                                 file=file, line=line) from None
        raise _syntax_error(exc, text, file) from None
    except LarkError as exc:  # pragma: no cover - lark raises UnexpectedInput subclasses in practice
        raise HCLSyntaxError(f"Invalid HCL: {exc}", file=file) from None


_HEREDOC = re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_-]*)\r?\n")


def multiline_string_line(text: str) -> int | None:
    """The line where a quoted string runs into a newline (HCL's "Invalid multi-line string"), or None.

    A small scanner: comments, heredocs and ``${...}``/``%{...}`` inside strings are skipped as HCL's
    scanner skips them; a newline inside quotes (outside an interpolation) is the error."""
    stack: list[list] = [["code", 0]]  # ["code", brace depth] or ["string", start line]
    pos, line, size = 0, 1, len(text)
    while pos < size:
        char = text[pos]
        frame = stack[-1]
        if frame[0] == "string":
            if char == "\\":
                if text.startswith("\n", pos + 1):
                    return frame[1]
                pos += 2
                continue
            if text.startswith(("$${", "%%{"), pos):
                pos += 3
                continue
            if text.startswith(("${", "%{"), pos):
                stack.append(["code", 0])
                pos += 2
                continue
            if char == '"':
                stack.pop()
            elif char == "\n":
                return frame[1]
            pos += 1
            continue
        if char == "#" or text.startswith("//", pos):
            end = text.find("\n", pos)
            pos = size if end < 0 else end
            continue
        if text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            end = size if end < 0 else end + 2
            line += text.count("\n", pos, end)
            pos = end
            continue
        heredoc = _HEREDOC.match(text, pos) if char == "<" else None
        if heredoc:
            closing = re.compile(r"^[ \t]*" + re.escape(heredoc.group(1)) + r"[ \t]*\r?$", re.MULTILINE)
            found = closing.search(text, heredoc.end())
            end = size if found is None else found.end()
            line += text.count("\n", pos, end)
            pos = end
            continue
        if char == '"':
            stack.append(["string", line])
        elif char == "{":
            frame[1] += 1
        elif char == "}":
            if frame[1] > 0:
                frame[1] -= 1
            elif len(stack) > 1:
                stack.pop()  # the end of an interpolation: back in its string
        elif char == "\n":
            line += 1
        pos += 1
    return None


def _syntax_error(exc: UnexpectedInput, text: str, file: str) -> HCLSyntaxError:
    last_line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
    line = min(getattr(exc, "line", None) or last_line, last_line)
    if isinstance(exc, UnexpectedEOF) or getattr(getattr(exc, "token", None), "type", "") == "$END":
        what = "unexpected end of file"
    elif isinstance(exc, UnexpectedCharacters):
        what = f"unexpected character {text[exc.pos_in_stream]!r}" if exc.pos_in_stream < len(text) \
            else "unexpected end of file"
    else:
        token = str(getattr(exc, "token", "")).strip() or "newline"
        what = f"unexpected {token[:30]!r}"
    return HCLSyntaxError(f"Invalid HCL syntax: {what} (an unclosed string, bracket or block?)",
                          file=file, line=line)


def is_tree(node: Any, *names: str) -> bool:
    return isinstance(node, Tree) and (not names or node.data in names)


def trees(node: Tree) -> list[Tree]:
    """The child trees of ``node`` that carry meaning (comments and newlines dropped)."""
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def line_of(node: Any, offset: int = 0) -> int:
    if isinstance(node, Token):
        return (node.line or 1) + offset
    meta = getattr(node, "meta", None)
    line = getattr(meta, "line", None) if meta is not None and not getattr(meta, "empty", True) else None
    if line is None:
        for child in node.children:
            found = line_of(child, 0)
            if found:
                return found + offset
        return 1 + offset
    return line + offset


def identifier_text(node: Any) -> str:
    """The text of an ``identifier``/``keyword``/``literal_value`` tree, or of a token."""
    if isinstance(node, Token):
        return str(node)
    return "".join(str(t) for t in node.scan_values(lambda _: True))


class ExprBuilder:
    """Builds :class:`Expr` nodes from lark expression trees of one file."""

    def __init__(self, file: str, line_offset: int = 0) -> None:
        self.file = file
        self.line_offset = line_offset

    def loc(self, node: Any) -> Loc:
        return Loc(self.file, line_of(node, self.line_offset))

    def unsupported(self, node: Any, what: str) -> UnsupportedError:
        return UnsupportedError(f'{what} is not modelled by kmslab\'s applier (use engine="terraform").',
                                file=self.file, line=line_of(node, self.line_offset))

    def build(self, node: Any) -> Expr:
        if isinstance(node, Token):  # pragma: no cover - expressions are always trees
            raise HCLSyntaxError(f"Unexpected token {node!s}", file=self.file, line=line_of(node))
        method = getattr(self, "_" + node.data, None)
        if method is None:
            raise self.unsupported(node, f"The expression form {node.data!r}")
        return method(node)

    # -- terms -------------------------------------------------------------------------------------

    def _expr_term(self, node: Tree) -> Expr:
        inner = trees(node)
        if len(inner) != 1:  # pragma: no cover - grammar guarantees one meaningful child
            raise HCLSyntaxError("Malformed expression", file=self.file, line=line_of(node))
        return self.build(inner[0])

    def _number_not_modelled(self, node: Tree) -> UnsupportedError:
        return UnsupportedError("Number not modelled: a number this large is not modelled by kmslab's applier "
                                '(use engine="terraform"): kmslab keeps numbers as 64-bit floats (up to about '
                                "1.8e308), Terraform as arbitrary-precision numbers.", file=self.file,
                                line=line_of(node, self.line_offset))

    def _int_lit(self, node: Tree) -> Expr:
        text = str(node.children[0])
        if len(text) > 308:
            raise self._number_not_modelled(node)
        return Literal(int(text), self.loc(node))

    def _float_lit(self, node: Tree) -> Expr:
        value = float(str(node.children[0]))
        if value in (float("inf"), float("-inf")):
            raise self._number_not_modelled(node)
        return Literal(int(value) if value.is_integer() and "e" not in str(node.children[0]).lower()
                       else value, self.loc(node))

    def _literal_value(self, node: Tree) -> Expr:
        text = identifier_text(node)
        return Literal({"true": True, "false": False, "null": None}[text], self.loc(node))

    def _identifier(self, node: Tree) -> Expr:
        return Name(identifier_text(node), self.loc(node))

    def _keyword(self, node: Tree) -> Expr:
        return Name(identifier_text(node), self.loc(node))

    def _string(self, node: Tree) -> Expr:
        parts: list[Any] = []
        for part in node.children:
            if not is_tree(part, "string_part"):
                continue  # the quotes
            (child,) = part.children
            if isinstance(child, Token):
                if child.type == "ESCAPED_INTERPOLATION":
                    parts.append(str(child)[1:])  # $${x} is the literal text ${x}
                elif child.type == "ESCAPED_DIRECTIVE":
                    parts.append(str(child)[1:])
                else:
                    parts.append(unescape(str(child), self.file, line_of(child, self.line_offset)))
            elif is_tree(child, "interpolation"):
                parts.append(self.build(trees(child)[0]))
            else:
                raise self.unsupported(child, "A template directive (%{if ...} / %{for ...})")
        return Template(tuple(_merge_text(parts)), self.loc(node))

    def _template_string(self, node: Tree) -> Expr:
        raise self.unsupported(node, "A template directive (%{if ...} / %{for ...})")

    def _heredoc_template(self, node: Tree) -> Expr:
        return self._heredoc(node, trim=False)

    def _heredoc_template_trim(self, node: Tree) -> Expr:
        return self._heredoc(node, trim=True)

    def _heredoc(self, node: Tree, trim: bool) -> Expr:
        raw = str(node.children[0])
        lines = raw.split("\n")
        # lines[0] is "<<EOT" / "<<-EOT"; the last non-empty line is the closing marker.
        body_lines = lines[1:-2] if lines[-1] == "" else lines[1:-1]
        if trim:
            indents = [len(ln) - len(ln.lstrip(" \t")) for ln in body_lines if ln.strip()]
            cut = min(indents, default=0)
            body_lines = [ln[cut:] for ln in body_lines]
        body = "".join(ln.rstrip("\r") + "\n" for ln in body_lines)
        first_line = line_of(node, self.line_offset) + 1
        return Template(tuple(_merge_text(split_template(body, self.file, first_line))), self.loc(node))

    def _tuple(self, node: Tree) -> Expr:
        return TupleExpr(tuple(self.build(c) for c in trees(node)), self.loc(node))

    def _object(self, node: Tree) -> Expr:
        items = []
        for elem in trees(node):
            key_node, value_node = trees(elem)
            (key_child,) = trees(key_node) or [key_node.children[0]]
            key_expr = self.build(key_child) if isinstance(key_child, Tree) else None
            if isinstance(key_expr, Name) or key_expr is None:
                name = key_expr.name if key_expr else str(key_child)
                key_expr = Literal(name, self.loc(elem))
            items.append((key_expr, self.build(value_node)))
        return ObjectExpr(tuple(items), self.loc(node))

    def _function_call(self, node: Tree) -> Expr:
        if any(isinstance(c, Token) and c.type == "COLONS" for c in node.children):
            raise self.unsupported(node, "A provider-defined function (provider::...)")
        name_node = node.children[0]
        args_node = next((c for c in trees(node)[1:] if c.data == "arguments"), None)
        args: tuple[Expr, ...] = ()
        expand = False
        if args_node is not None:
            args = tuple(self.build(c) for c in trees(args_node))
            expand = any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in args_node.children)
        return Call(identifier_text(name_node), args, expand, self.loc(node))

    def _index_expr_term(self, node: Tree) -> Expr:
        target_node, index_node = trees(node)
        target = self.build(target_node)
        if index_node.data == "short_index":  # a.0 is the legacy form of a[0]
            key: Expr = Literal(int(str(index_node.children[-1])), self.loc(index_node))
        else:
            key = self.build(trees(index_node)[0])
        return Index(target, key, self.loc(node))

    def _get_attr_expr_term(self, node: Tree) -> Expr:
        target_node, attr_node = trees(node)
        return GetAttr(self.build(target_node), identifier_text(trees(attr_node)[0]), self.loc(node))

    def _attr_splat_expr_term(self, node: Tree) -> Expr:
        raise self.unsupported(node, "A splat expression (.*)")

    def _full_splat_expr_term(self, node: Tree) -> Expr:
        raise self.unsupported(node, "A splat expression ([*])")

    def _for_tuple_expr(self, node: Tree) -> Expr:
        raise self.unsupported(node, "A for expression")

    def _for_object_expr(self, node: Tree) -> Expr:
        raise self.unsupported(node, "A for expression")

    # -- operators ---------------------------------------------------------------------------------

    def _unary_op(self, node: Tree) -> Expr:
        op = str(node.children[0])
        return Unary(op, self.build(trees(node)[0]), self.loc(node))

    def _binary_op(self, node: Tree) -> Expr:
        left_node, term = trees(node)[:2]
        op_node, right_node = trees(term)[:2]
        return Binary(identifier_text(op_node), self.build(left_node), self.build(right_node), self.loc(node))

    def _conditional(self, node: Tree) -> Expr:
        cond, if_true, if_false = trees(node)
        return Conditional(self.build(cond), self.build(if_true), self.build(if_false), self.loc(node))


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")


def unescape(text: str, file: str, line: int) -> str:
    """Apply HCL's backslash escapes (``\\n``, ``\\"``, ``\\uNNNN`` ...) to quoted-string text."""

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "uU" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code in _ESCAPES:
            return _ESCAPES[code]
        raise HCLSyntaxError(f"Invalid escape sequence: the symbol {code!r} is not a valid escape "
                             "sequence selector.", file=file, line=line)

    return _ESCAPE_RE.sub(replace, text)


def _merge_text(parts: list[Any]) -> list[Any]:
    merged: list[Any] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return merged


def split_template(text: str, file: str, first_line: int) -> list[Any]:
    """Split heredoc text into literal text and interpolated expressions.

    Heredocs reach us as one raw token, so their ``${...}`` sequences are found here: the end of each
    interpolation is located by counting braces outside quoted strings, and the expression is parsed
    again with python-hcl2 (line numbers shifted to where the interpolation sits in the file).
    """
    parts: list[Any] = []
    pos = 0
    buf: list[str] = []
    while pos < len(text):
        if text.startswith("$${", pos) or text.startswith("%%{", pos):
            buf.append(text[pos + 1:pos + 3])
            pos += 3
        elif text.startswith("%{", pos):
            raise UnsupportedError("A template directive (%{if ...} / %{for ...}) is not modelled by kmslab's "
                                   'applier (use engine="terraform").', file=file,
                                   line=first_line + text.count("\n", 0, pos))
        elif text.startswith("${", pos):
            line = first_line + text.count("\n", 0, pos)
            end = _interpolation_end(text, pos + 2, file, line)
            parts.append("".join(buf))
            buf = []
            parts.append(parse_expression(text[pos + 2:end], file, line))
            pos = end + 1
        else:
            buf.append(text[pos])
            pos += 1
    parts.append("".join(buf))
    return parts


def _interpolation_end(text: str, pos: int, file: str, line: int) -> int:
    """Index of the ``}`` closing an interpolation whose expression starts at ``pos``."""
    depth = 0
    while pos < len(text):
        char = text[pos]
        if char == '"':
            pos = _string_end(text, pos + 1, file, line)
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return pos
            depth -= 1
        pos += 1
    raise HCLSyntaxError("Invalid HCL syntax: an interpolation ${ ... } is not closed.", file=file, line=line)


def _string_end(text: str, pos: int, file: str, line: int) -> int:
    while pos < len(text):
        if text[pos] == "\\":
            pos += 2
            continue
        if text[pos] == '"':
            return pos
        if text.startswith("${", pos):
            pos = _interpolation_end(text, pos + 2, file, line)
        pos += 1
    raise HCLSyntaxError("Invalid HCL syntax: a quoted string is not closed.", file=file, line=line)


def parse_expression(source: str, file: str, line: int) -> Expr:
    """Parse one expression's source text (used for heredoc interpolations)."""
    tree = parse_text(f"x = {source}\n", file)
    attribute = trees(trees(tree)[0])[0]
    return ExprBuilder(file, line_offset=line - 1).build(trees(attribute)[1])


def walk(expr: Expr):
    """Yield ``expr`` and every expression nested in it."""
    yield expr
    if isinstance(expr, Template):
        for part in expr.parts:
            if isinstance(part, Expr):
                yield from walk(part)
    elif isinstance(expr, GetAttr):
        yield from walk(expr.target)
    elif isinstance(expr, Index):
        yield from walk(expr.target)
        yield from walk(expr.key)
    elif isinstance(expr, TupleExpr):
        for item in expr.items:
            yield from walk(item)
    elif isinstance(expr, ObjectExpr):
        for key, value in expr.items:
            yield from walk(key)
            yield from walk(value)
    elif isinstance(expr, Call):
        for arg in expr.args:
            yield from walk(arg)
    elif isinstance(expr, Unary):
        yield from walk(expr.operand)
    elif isinstance(expr, Binary):
        yield from walk(expr.left)
        yield from walk(expr.right)
    elif isinstance(expr, Conditional):
        yield from walk(expr.condition)
        yield from walk(expr.if_true)
        yield from walk(expr.if_false)


@dataclass(frozen=True)
class Reference:
    """A reference found in an expression: its root name and the static attribute/index path after it.

    ``aws_dynamodb_table.t.attribute[0].name`` gives ``root="aws_dynamodb_table"`` and
    ``path=("t", "attribute", 0, "name")``; a dynamic index (``x[var.i]``) ends the path.
    """

    root: str
    path: tuple[Any, ...]
    loc: Loc


def references(expr: Expr) -> list[Reference]:
    """Every reference in ``expr`` (outermost traversal only, so each appears once)."""
    found: list[Reference] = []
    _collect(expr, found)
    return found


def _collect(expr: Expr, found: list[Reference]) -> None:
    path: list[Any] = []
    node = expr
    while isinstance(node, (GetAttr, Index)):
        if isinstance(node, GetAttr):
            path.append(node.name)
        elif isinstance(node.key, Literal) and isinstance(node.key.value, (int, str)):
            path.append(node.key.value)
        else:
            path.clear()  # dynamic index: only the part before it is static
            _collect(node.key, found)
        node = node.target
    if isinstance(node, Name):
        found.append(Reference(node.name, tuple(reversed(path)), node.loc))
        return
    if node is not expr:
        _collect(node, found)
        return
    if isinstance(expr, Template):
        for part in expr.parts:
            if isinstance(part, Expr):
                _collect(part, found)
    elif isinstance(expr, TupleExpr):
        for item in expr.items:
            _collect(item, found)
    elif isinstance(expr, ObjectExpr):
        for key, value in expr.items:
            _collect(key, found)
            _collect(value, found)
    elif isinstance(expr, Call):
        for arg in expr.args:
            _collect(arg, found)
    elif isinstance(expr, Unary):
        _collect(expr.operand, found)
    elif isinstance(expr, Binary):
        _collect(expr.left, found)
        _collect(expr.right, found)
    elif isinstance(expr, Conditional):
        for sub in (expr.condition, expr.if_true, expr.if_false):
            _collect(sub, found)

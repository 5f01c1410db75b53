"""Evaluate HCL expressions the way Terraform does, on plain Python values.

Values are ``str``, ``int``/``float`` (Terraform's number), ``bool``, ``None`` (null), ``list`` and
``dict``, plus :data:`UNKNOWN` for a value that will only be known after apply (a new key's ARN
while planning). Any operation or function that touches an unknown value gives :data:`UNKNOWN`, as
in Terraform, so a plan can show ``(known after apply)``.

Functions: ``jsonencode`` ``jsondecode`` ``merge`` ``concat`` ``format`` ``lower`` ``upper``
``replace`` ``length`` ``lookup`` ``tostring`` ``tonumber`` ``file``; see the Terraform function
reference (https://developer.hashicorp.com/terraform/language/functions). Anything else is refused
with the closest supported name.

Limits of kmslab's own, refused as not modelled (Terraform accepts them; ``engine="terraform"``
runs them): numbers beyond a 64-bit float (Terraform's are arbitrary-precision, so
``tonumber("1e99999")`` and ``jsonencode(1e400)`` work there), ``format`` widths and precisions
over 100000, nesting deeper than Python's recursion allows, and a ``replace`` regular expression
that runs longer than a second. Terraform matches with RE2, in linear time; kmslab uses the
``regex`` package with a timeout, and refuses first, in Go's words, what RE2's syntax rejects
(look-arounds, back-references, atomic groups, possessive repeats, ``\\Z``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import regex

from .._errors import ReferenceError_, UnsupportedError, ValidationError
from ._parse import NOT_MODELLED, TypeSpec, closest
from ._syntax import (
    Binary,
    Call,
    Conditional,
    Expr,
    GetAttr,
    Index,
    Literal,
    Loc,
    Name,
    ObjectExpr,
    Template,
    TupleExpr,
    Unary,
)


class _Unknown:
    """A value that is only known after apply."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(known after apply)"

    def __deepcopy__(self, memo: dict) -> _Unknown:
        return self

    def __copy__(self) -> _Unknown:
        return self


UNKNOWN = _Unknown()


def is_known(value: Any) -> bool:
    """True when ``value`` contains no :data:`UNKNOWN` anywhere."""
    if value is UNKNOWN:
        return False
    if isinstance(value, dict):
        return all(is_known(v) for v in value.values())
    if isinstance(value, list):
        return all(is_known(v) for v in value)
    return True


def _error(message: str, loc: Loc, cls: type = ValidationError, suggestion: str | None = None) -> Exception:
    return cls(message, file=loc.file, line=loc.line, suggestion=suggestion)


# --------------------------------------------------------------------------------------------------
# Values and conversions


def type_name(value: Any) -> str:
    """Terraform's name for the type of a value, as used in its error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "tuple"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def number_to_string(value: int | float) -> str:
    """Format a number as Terraform does (``2``, ``2.5``, never ``2.0`` or an exponent)."""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        text = format(Decimal(repr(value)), "f")
        return text
    return str(value)


def to_string(value: Any) -> str | None:
    """Convert a primitive to a string as Terraform does; None if it cannot be."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_to_string(value)
    if isinstance(value, str):
        return value
    return None


def to_number(value: Any) -> int | float | None:
    """Convert a number or numeric string to a number; None if it cannot be."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            return None
        if not number.is_finite():
            return None
        if abs(number) >= _LARGEST:
            check_range(float("inf"))
        return int(number) if number == number.to_integral_value() else float(number)
    return None


_LARGEST = 2**1024  # beyond this a 64-bit float is infinite


class NotModelled(Exception):
    """Something Terraform accepts that kmslab's applier does not model; the evaluator adds file and line."""


def check_range(value: Any) -> Any:
    """Numbers kmslab models: those a 64-bit float can hold (Terraform's are arbitrary-precision)."""
    if isinstance(value, float) and not math.isfinite(value) or isinstance(value, int) and abs(value) >= _LARGEST:
        raise NotModelled(f"a number this large is {NOT_MODELLED}: kmslab keeps numbers as 64-bit floats (up to "
                          "about 1.8e308), Terraform as arbitrary-precision numbers")
    return value


def _normalise_number(value: float | int) -> int | float:
    check_range(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


class TypeMismatch(Exception):
    """A value does not fit a type constraint; the message reads like Terraform's (cty's)."""


def convert(value: Any, spec: TypeSpec) -> Any:
    """Convert ``value`` to the type ``spec`` as Terraform does for input variables."""
    if value is None or value is UNKNOWN or spec.kind == "any":
        return value
    kind = spec.kind
    if kind == "string":
        text = to_string(value)
        if text is None:
            raise TypeMismatch("string required")
        return text
    if kind == "number":
        number = to_number(value)
        if number is None:
            raise TypeMismatch("a number is required")
        return number
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise TypeMismatch("a bool is required")
    if kind in ("list", "set"):
        if not isinstance(value, list):
            raise TypeMismatch(f"{kind} of {spec.element} required")
        return [_convert_at(v, spec.element, f"element {i}") for i, v in enumerate(value)]
    if kind == "tuple":
        if not isinstance(value, list) or len(value) != len(spec.elements):
            raise TypeMismatch(f"tuple required with {len(spec.elements)} elements")
        return [_convert_at(v, t, f"element {i}") for i, (v, t) in enumerate(zip(value, spec.elements, strict=True))]
    if kind == "map":
        if not isinstance(value, dict):
            raise TypeMismatch(f"map of {spec.element} required")
        return {k: _convert_at(v, spec.element, f"element {json.dumps(k)}") for k, v in value.items()}
    if kind == "object":
        if not isinstance(value, dict):
            raise TypeMismatch("object required")
        result = {}
        for name, attr_spec in spec.attributes:
            if name not in value:
                raise TypeMismatch(f'attribute "{name}" is required')
            result[name] = _convert_at(value[name], attr_spec, f'attribute "{name}"')
        return result
    raise TypeMismatch(f"unsupported type {spec}")  # pragma: no cover - parse_type refuses others


def _convert_at(value: Any, spec: TypeSpec | None, where: str) -> Any:
    try:
        return convert(value, spec or TypeSpec("any"))
    except TypeMismatch as exc:
        raise TypeMismatch(f"{where}: {exc}") from None


# --------------------------------------------------------------------------------------------------
# jsonencode


def json_encode(value: Any) -> str:
    """Terraform's ``jsonencode``: compact, object keys sorted, ``<``, ``>``, ``&`` escaped as ``\\u003c``...

    Go's encoder (which Terraform uses) also escapes U+2028 and U+2029 and leaves other non-ASCII
    characters as they are.
    """
    text = json.dumps(_plain_numbers(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False,
                      allow_nan=False)
    return html_escape_json(text)


def html_escape_json(text: str) -> str:
    """Escape the characters Go's JSON encoder escapes by default."""
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _plain_numbers(value: Any) -> Any:
    if isinstance(value, float):
        return _normalise_number(value)
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    return value


def _json_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name.lstrip('-')[0]}' looking for beginning of value")


def _json_decode_numbers(text: str) -> Any:
    """JSON as Go reads it: ``NaN`` and ``Infinity`` are not JSON."""
    return json.loads(text, parse_float=lambda s: _normalise_number(float(s)),
                      parse_int=lambda s: check_range(int(s)) if len(s) < 400 else check_range(float("inf")),
                      parse_constant=_json_constant)


# --------------------------------------------------------------------------------------------------
# Functions


class _Function:
    def __init__(self, impl: Callable[..., Any], min_args: int, max_args: int | None, params: tuple[str, ...],
                 allow_unknown: bool = False) -> None:
        self.impl = impl
        self.min_args = min_args
        self.max_args = max_args
        self.params = params
        self.allow_unknown = allow_unknown


class FunctionError(Exception):
    """Raised inside a function; the evaluator adds the file and line."""


def _fn_jsonencode(value: Any) -> str:
    return json_encode(value)


def _fn_jsondecode(text: Any) -> Any:
    if not isinstance(text, str):
        raise FunctionError('Invalid value for "str" parameter: string required.')
    try:
        return _json_decode_numbers(text)
    except json.JSONDecodeError as exc:
        raise FunctionError(f'Invalid value for "str" parameter: {exc.msg} at character {exc.pos}.') from None
    except RecursionError:
        raise NotModelled(f"JSON nested this deeply is {NOT_MODELLED}") from None
    except ValueError as exc:  # NaN, Infinity: Go's encoding/json refuses them
        raise FunctionError(f"Invalid value for \"str\" parameter: {exc}.") from None


def _fn_merge(*maps: Any) -> Any:
    result: dict[str, Any] = {}
    for i, item in enumerate(maps):
        if item is None:
            continue
        if not isinstance(item, dict):
            raise FunctionError(f"Invalid value for argument {i + 1}: arguments must be maps or objects, "
                                f"got {type_name(item)}.")
        result.update(item)
    return result


def _fn_concat(*lists: Any) -> Any:
    result: list[Any] = []
    for i, item in enumerate(lists):
        if not isinstance(item, list):
            raise FunctionError(f"Invalid value for argument {i + 1}: all arguments must be lists or tuples; "
                                f"got {type_name(item)}.")
        result.extend(item)
    return result


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def _fn_format(spec: Any, *args: Any) -> str:
    if not isinstance(spec, str):
        raise FunctionError('Invalid value for "format" parameter: string required.')
    out: list[str] = []
    pos = 0
    arg_index = 0
    for match in _VERB.finditer(spec):
        out.append(spec[pos:match.start()])
        pos = match.end()
        flags, width, precision, verb = match.groups()
        for number in (width, precision):
            if number is not None and (len(number) > 6 or int(number) > 100000):
                raise NotModelled(f"a format width or precision of {number} is {NOT_MODELLED}")
        if verb == "%":
            out.append("%")
            continue
        if arg_index >= len(args):
            raise FunctionError(f"Error in function call: not enough arguments for %{verb} at offset "
                                f"{match.start()}.")
        value = args[arg_index]
        arg_index += 1
        out.append(_format_one(value, verb, flags, width, precision, match.start()))
    out.append(spec[pos:])
    if arg_index < len(args):
        raise FunctionError(f"Error in function call: too many arguments; only {arg_index} used by format "
                            "string.")
    return "".join(out)


def _format_one(value: Any, verb: str, flags: str, width: str | None, precision: str | None, offset: int) -> str:
    if verb == "v":
        text = to_string(value) if not isinstance(value, (list, dict)) and value is not None else json_encode(value)
    elif verb == "s":
        text = to_string(value)
        if text is None:
            raise FunctionError(f"Error in function call: unsupported value for \"%s\" at {offset}: string "
                                "required.")
    elif verb == "q":
        text = to_string(value)
        if text is None:
            raise FunctionError(f"Error in function call: unsupported value for \"%q\" at {offset}: string "
                                "required.")
        text = html_escape_json(json.dumps(text, ensure_ascii=False))
    elif verb == "d":
        number = to_number(value)
        if number is None or float(number) != int(number):
            raise FunctionError(f"Error in function call: unsupported value for \"%d\" at {offset}: an "
                                "integer is required.")
        text = str(int(number))
        if "+" in flags and int(number) >= 0:
            text = "+" + text
    elif verb == "t":
        if not isinstance(value, bool):
            raise FunctionError(f"Error in function call: unsupported value for \"%t\" at {offset}: bool "
                                "required.")
        text = "true" if value else "false"
    elif verb == "f":
        number = to_number(value)
        if number is None:
            raise FunctionError(f"Error in function call: unsupported value for \"%f\" at {offset}: a "
                                "number is required.")
        text = f"{float(number):.{int(precision) if precision else 6}f}"
    else:
        raise FunctionError(f"Error in function call: unsupported format verb %{verb} at offset {offset} "
                            "(kmslab supports %s %d %q %v %t %f and %%).")
    if width:
        text = text.ljust(int(width)) if "-" in flags else text.rjust(int(width), "0" if "0" in flags else " ")
    return text


def _string_arg(value: Any, param: str) -> str:
    text = to_string(value)
    if text is None:
        raise FunctionError(f'Invalid value for "{param}" parameter: string required.')
    return text


def _fn_lower(text: Any) -> str:
    return _string_arg(text, "str").lower()


def _fn_upper(text: Any) -> str:
    return _string_arg(text, "str").upper()


def _fn_replace(text: Any, substring: Any, replacement: Any) -> str:
    text = _string_arg(text, "str")
    substring = _string_arg(substring, "substr")
    replacement = _string_arg(replacement, "replace")
    if len(substring) > 1 and substring.startswith("/") and substring.endswith("/"):
        pattern = compile_re2(substring[1:-1])
        # Go writes group references as $1 or ${name}; Python as \g<1>.
        python_repl = re.sub(r"\$\{(\w+)\}|\$(\d+)", lambda m: rf"\g<{m.group(1) or m.group(2)}>",
                             replacement.replace("\\", "\\\\"))
        try:
            return pattern.sub(python_repl, text, timeout=REGEX_SECONDS)
        except TimeoutError:
            raise NotModelled(f"this regular expression ran longer than {REGEX_SECONDS:g} s in kmslab's applier "
                              f"(Terraform's RE2 matches in linear time); such a pattern is {NOT_MODELLED}") from None
        except (regex.error, IndexError) as exc:
            raise FunctionError(f"invalid replacement: {exc}.") from None
    return text.replace(substring, replacement)


REGEX_SECONDS = 1.0
# What RE2 (Go's regexp/syntax) rejects that Python's engines accept, with Go's words for it.
_PERL_ONLY = re.compile(r"\(\?(<=|<!|=|!|>|\||#|P=|P>|&|R|\d|[+-]\d)")
_BAD_ESCAPE = re.compile(r"\\([1-9]|[ZGgkKhHRXNoyYaeu]|$)")
_POSSESSIVE = re.compile(r"(?<!\\)([*+?}])\+")


def compile_re2(pattern: str) -> Any:
    """Compile a pattern for ``replace``, refusing what RE2 would refuse, in Go's words."""
    if "\\" not in pattern:
        scan = pattern
    else:
        scan = re.sub(r"\\\\", "", pattern)
    perl = _PERL_ONLY.search(scan)
    if perl:
        raise FunctionError(f"error parsing regexp: invalid or unsupported Perl syntax: `{perl.group(0)}`.")
    escape = _BAD_ESCAPE.search(scan)
    if escape:
        if escape.group(1) == "":
            raise FunctionError("error parsing regexp: trailing backslash at end of expression: ``.")
        raise FunctionError(f"error parsing regexp: invalid escape sequence: `{escape.group(0)}`.")
    possessive = _POSSESSIVE.search(scan)
    if possessive:
        raise FunctionError(f"error parsing regexp: invalid nested repetition operator: `{possessive.group(0)}`.")
    try:
        return regex.compile(pattern, regex.VERSION0)
    except regex.error as exc:
        raise FunctionError(f"error parsing regexp: {_go_regexp_error(exc.msg, pattern)}.") from None
    except RecursionError:
        raise NotModelled(f"a regular expression nested this deeply is {NOT_MODELLED}") from None


def _go_regexp_error(message: str, pattern: str) -> str:
    """Python's compile error in Go's regexp/syntax words (ErrMissingParen ...)."""
    if "missing )" in message:
        return f"missing closing ): `{pattern}`"
    if "unbalanced parenthesis" in message:
        return f"unexpected ): `{pattern}`"
    if "unterminated character set" in message:
        return f"missing closing ]: `{pattern[pattern.rfind('['):]}`"
    if "nothing to repeat" in message:
        return "missing argument to repetition operator: `" + (pattern[:1] or "") + "`"
    if "multiple repeat" in message:
        return "invalid nested repetition operator"
    if "bad character range" in message:
        return "invalid character class range"
    return message


def _fn_length(value: Any) -> int:
    if isinstance(value, (str, list, dict)):
        return len(value)
    raise FunctionError(f'Invalid value for "value" parameter: argument must be a string, a collection type, '
                        f"or a structural type; got {type_name(value)}.")


def _fn_lookup(mapping: Any, key: Any, *default: Any) -> Any:
    if not isinstance(mapping, dict):
        raise FunctionError('Invalid value for "inputMap" parameter: the given value must be a map or object.')
    key = _string_arg(key, "key")
    if key in mapping:
        return mapping[key]
    if default:
        return default[0]
    raise FunctionError(f'Invalid function argument: the given key "{key}" does not exist in the map, and '
                        "no default was given.")


def _fn_tostring(value: Any) -> Any:
    if value is None:
        return None
    text = to_string(value)
    if text is None:
        raise FunctionError(f'Invalid value for "v" parameter: cannot convert {type_name(value)} to string.')
    return text


def _fn_tonumber(value: Any) -> Any:
    if value is None:
        return None
    number = to_number(value)
    if number is None:
        raise FunctionError('Invalid value for "v" parameter: cannot convert '
                            f"{json.dumps(value) if isinstance(value, str) else type_name(value)} to number; "
                            "given string must be a decimal representation of a number.")
    return number


FUNCTIONS: dict[str, _Function] = {
    "jsonencode": _Function(_fn_jsonencode, 1, 1, ("val",)),
    "jsondecode": _Function(_fn_jsondecode, 1, 1, ("str",)),
    "merge": _Function(_fn_merge, 0, None, ("maps",)),
    "concat": _Function(_fn_concat, 0, None, ("seqs",)),
    "format": _Function(_fn_format, 1, None, ("format", "args")),
    "lower": _Function(_fn_lower, 1, 1, ("str",)),
    "upper": _Function(_fn_upper, 1, 1, ("str",)),
    "replace": _Function(_fn_replace, 3, 3, ("str", "substr", "replace")),
    "length": _Function(_fn_length, 1, 1, ("value",)),
    "lookup": _Function(_fn_lookup, 2, 3, ("inputMap", "key", "default")),
    "tostring": _Function(_fn_tostring, 1, 1, ("v",)),
    "tonumber": _Function(_fn_tonumber, 1, 1, ("v",)),
    "file": _Function(lambda path: path, 1, 1, ("path",)),  # replaced per evaluator: needs the base directory
}


def check_function(call: Call) -> None:
    """Refuse an unknown function or a wrong number of arguments (called before any evaluation)."""
    function = FUNCTIONS.get(call.name)
    if function is None:
        from ._provider_schema import TERRAFORM_FUNCTIONS
        if call.name in TERRAFORM_FUNCTIONS:  # Terraform has it; kmslab does not model it
            raise _error(f'Function not modelled: Terraform\'s function "{call.name}" is {NOT_MODELLED} (kmslab '
                         f"models {', '.join(sorted(FUNCTIONS))}).", call.loc, UnsupportedError)
        raise _error(f'Call to unknown function: There is no function named "{call.name}".', call.loc,
                     ValidationError, closest(call.name, FUNCTIONS))
    if call.expand_final:
        return
    count = len(call.args)
    if count < function.min_args:
        missing = function.params[min(count, len(function.params) - 1)]
        raise _error(f'Not enough function arguments: function "{call.name}" expects at least '
                     f'{function.min_args} argument(s). Missing value for "{missing}".', call.loc)
    if function.max_args is not None and count > function.max_args:
        raise _error(f'Too many function arguments: function "{call.name}" expects only '
                     f"{function.max_args} argument(s).", call.loc)


# --------------------------------------------------------------------------------------------------
# The evaluator

_ARITHMETIC = {"+", "-", "*", "/", "%"}
_ORDERING = {"<", ">", "<=", ">="}


class Evaluator:
    """Evaluates expressions against a scope.

    ``scope`` maps each root name (``var``, ``local``, ``path``, ``data``, a resource type) to a
    value; references are plain attribute and index steps into it. ``base_dir`` is where ``file()``
    reads from.
    """

    def __init__(self, scope: dict[str, Any], base_dir: Path) -> None:
        self.scope = scope
        self.base_dir = base_dir

    def evaluate(self, expr: Expr) -> Any:
        method = getattr(self, "_eval_" + type(expr).__name__)
        return method(expr)

    # -- leaves and collections --------------------------------------------------------------------

    def _eval_Literal(self, expr: Literal) -> Any:
        return expr.value

    def _eval_Name(self, expr: Name) -> Any:
        if expr.name not in self.scope:
            raise _error(f'Unknown reference: "{expr.name}" is not a variable, local, data source or resource '
                         "type declared in this configuration.", expr.loc, ReferenceError_,
                         closest(expr.name, self.scope))
        return self.scope[expr.name]

    def _eval_TupleExpr(self, expr: TupleExpr) -> Any:
        return [self.evaluate(item) for item in expr.items]

    def _eval_ObjectExpr(self, expr: ObjectExpr) -> Any:
        result: dict[str, Any] = {}
        for key_expr, value_expr in expr.items:
            key = self.evaluate(key_expr)
            if key is UNKNOWN:
                return UNKNOWN
            text = to_string(key)
            if text is None:
                raise _error("Invalid object key: a string is required for an object key.", key_expr.loc)
            result[text] = self.evaluate(value_expr)
        return result

    def _eval_Template(self, expr: Template) -> Any:
        if len(expr.parts) == 1 and isinstance(expr.parts[0], Expr):
            return self.evaluate(expr.parts[0])  # "${x}" alone keeps x's type, as in Terraform
        pieces: list[str] = []
        unknown = False
        for part in expr.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            value = self.evaluate(part)
            if not is_known(value):
                unknown = True
                continue
            if value is None:
                raise _error("Invalid template interpolation value: the expression result is null. Cannot "
                             "include a null value in a string template.", part.loc)
            text = to_string(value)
            if text is None:
                raise _error("Invalid template interpolation value: cannot include the given value in a string "
                             f"template: string required, got {type_name(value)}.", part.loc)
            pieces.append(text)
        return UNKNOWN if unknown else "".join(pieces)

    # -- traversals --------------------------------------------------------------------------------

    def _eval_GetAttr(self, expr: GetAttr) -> Any:
        target = self.evaluate(expr.target)
        if target is UNKNOWN:
            return UNKNOWN
        if isinstance(target, dict):
            if expr.name in target:
                return target[expr.name]
            raise _error(f'Unsupported attribute: this object does not have an attribute named "{expr.name}".',
                         expr.loc, ReferenceError_, closest(expr.name, target))
        if target is None:
            raise _error(f'Attempt to get attribute "{expr.name}" from a null value: this value is null, so it '
                         "does not have any attributes.", expr.loc)
        raise _error(f'Unsupported attribute: can\'t access attribute "{expr.name}" on a value of type '
                     f"{type_name(target)}.", expr.loc, ReferenceError_)

    def _eval_Index(self, expr: Index) -> Any:
        target = self.evaluate(expr.target)
        key = self.evaluate(expr.key)
        if target is UNKNOWN or key is UNKNOWN:
            return UNKNOWN
        if isinstance(target, list):
            number = to_number(key)
            if number is None or float(number) != int(number):
                raise _error("Invalid index: a whole number is required to index a list or tuple.", expr.key.loc)
            if not 0 <= int(number) < len(target):
                raise _error(f"Invalid index: the given key does not identify an element in this collection "
                             f"value (index {int(number)}, length {len(target)}).", expr.key.loc)
            return target[int(number)]
        if isinstance(target, dict):
            name = to_string(key)
            if name is None:
                raise _error("Invalid index: a string key is required to index a map or object.", expr.key.loc)
            if name not in target:
                raise _error(f'Invalid index: the given key does not identify an element in this collection '
                             f'value: no element named "{name}".', expr.key.loc, ReferenceError_,
                             closest(name, target))
            return target[name]
        if target is None:
            raise _error("Attempt to index null value: this value is null, so it does not have any indices.",
                         expr.loc)
        raise _error(f"Invalid index: this value of type {type_name(target)} does not have any indices.", expr.loc)

    # -- calls and operators -----------------------------------------------------------------------

    def _eval_Call(self, expr: Call) -> Any:
        check_function(expr)
        args = [self.evaluate(a) for a in expr.args]
        if expr.expand_final and args:
            final = args.pop()
            if final is UNKNOWN:
                return UNKNOWN
            if not isinstance(final, list):
                raise _error("Invalid expanding argument value: the expanding argument (indicated by ...) must "
                             "be of a tuple or list type.", expr.args[-1].loc)
            args.extend(final)
        if not all(is_known(a) for a in args):
            return UNKNOWN
        try:
            if expr.name == "file":
                return self._file(args)
            return FUNCTIONS[expr.name].impl(*args)
        except FunctionError as exc:
            raise _error(f"Error in function call to {expr.name}(): {exc}", expr.loc) from None
        except NotModelled as exc:
            raise _error(f"Error in function call to {expr.name}(): {exc}.", expr.loc, UnsupportedError) from None
        except TypeError:
            raise _error(f'Invalid number of arguments for function "{expr.name}".', expr.loc) from None

    def _file(self, args: list[Any]) -> str:
        if len(args) != 1:
            raise FunctionError("file() takes exactly one argument.")
        name = _string_arg(args[0], "path")
        path = Path(name)
        if not path.is_absolute():
            path = self.base_dir / path
        try:
            if path.is_dir():  # Go's os.ReadFile answers "read /tmp: is a directory"
                raise FunctionError(f'Invalid value for "path" parameter: failed to read file: read {name}: is a '
                                    "directory.")
            if path.exists() and not path.is_file():  # kmslab's choice: a FIFO or device could block
                raise FunctionError(f'Invalid value for "path" parameter: failed to read file: {name} is not a '
                                    "regular file (kmslab reads only regular files, which cannot block).")
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FunctionError(f'Invalid value for "path" parameter: no file exists at "{name}" (paths are '
                                "relative to the configuration directory).") from None
        except OSError as exc:  # a symlink loop, no permission...
            raise FunctionError(f'Invalid value for "path" parameter: failed to read file: open {name}: '
                                f"{(exc.strerror or str(exc)).lower()}.") from None
        except UnicodeDecodeError:
            raise FunctionError(f'Invalid value for "path" parameter: contents of "{name}" are not valid UTF-8; '
                                "use the filebase64 function to obtain the Base64 encoded contents.") from None

    def _eval_Unary(self, expr: Unary) -> Any:
        value = self.evaluate(expr.operand)
        if value is UNKNOWN:
            return UNKNOWN
        if expr.op == "!":
            if not isinstance(value, bool):
                raise _error("Invalid operand: unsuitable value for unary operand: bool required.", expr.loc)
            return not value
        number = to_number(value)
        if number is None:
            raise _error("Invalid operand: unsuitable value for unary operand: a number is required.", expr.loc)
        return -number

    def _eval_Binary(self, expr: Binary) -> Any:
        try:
            return self._binary(expr)
        except NotModelled as exc:
            raise _error(f"Operation not modelled: {exc}.", expr.loc, UnsupportedError) from None

    def _binary(self, expr: Binary) -> Any:
        left = self.evaluate(expr.left)
        right = self.evaluate(expr.right)
        op = expr.op
        if op in ("==", "!="):
            if not (is_known(left) and is_known(right)):
                return UNKNOWN
            equal = _equal(left, right)
            return equal if op == "==" else not equal
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        if op in ("&&", "||"):
            for side, value in (("left", left), ("right", right)):
                if not isinstance(value, bool):
                    raise _error(f"Invalid operand: unsuitable value for {side} operand: bool required.", expr.loc)
            return (left and right) if op == "&&" else (left or right)
        numbers = []
        for side, value in (("left", left), ("right", right)):
            number = to_number(value)
            if number is None:
                raise _error(f"Invalid operand: unsuitable value for {side} operand: a number is required.",
                             expr.loc)
            numbers.append(number)
        a, b = numbers
        if op in _ORDERING:
            return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        if op in ("/", "%") and b == 0:
            raise _error("Operation failed: error while calculating: division by zero.", expr.loc)
        if op == "+":
            return _normalise_number(a + b)
        if op == "-":
            return _normalise_number(a - b)
        if op == "*":
            return _normalise_number(a * b)
        if op == "/":
            return _normalise_number(a / b)
        return _normalise_number(a % b)

    def _eval_Conditional(self, expr: Conditional) -> Any:
        condition = self.evaluate(expr.condition)
        if condition is UNKNOWN:
            return UNKNOWN
        if not isinstance(condition, bool):
            converted = {"true": True, "false": False}.get(condition) if isinstance(condition, str) else None
            if converted is None:
                raise _error("Incorrect condition type: the condition expression must be of type bool.",
                             expr.condition.loc)
            condition = converted
        return self.evaluate(expr.if_true if condition else expr.if_false)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if type(left) is not type(right) and not (left is None or right is None):
        return False
    return left == right

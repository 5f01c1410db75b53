"""Condition operators, wildcard patterns and policy variables for kmslab's evaluator.

This module holds the pieces of IAM policy matching that do not depend on who asks for what:

* :func:`parse_template` and the ``*_pattern`` helpers turn policy strings (``Action``, ``Resource``,
  condition values) into :class:`Glob` matchers once (hand-written and linear: no regular expression
  is ever built from policy text, so no pattern can make matching slow), keeping policy variables (``${aws:username}``) as holes that
  are filled from the request context at evaluation time;
* :data:`OPERATORS` is the operator *table*: one entry per base operator (``StringEquals``,
  ``NumericLessThan``, ``IpAddress``...), each with its value parser and comparison function.
  ``...IfExists`` and the ``ForAnyValue:`` / ``ForAllValues:`` set operators are applied around an
  entry, never copied into it;
* :func:`compile_condition` turns a statement's ``Condition`` block into a :class:`Condition` whose
  :meth:`Condition.evaluate` answers ``True``, ``False`` or ``None`` (cannot evaluate), with a note.

Rules followed (IAM User Guide, "Condition operators",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html,
"Creating a condition with multiple keys or values", and "Policy variables",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html):

* "If the key that you specify in a policy condition is not present in the request context, the values
  do not match and the condition is false. If the policy condition requires that the key is not matched,
  such as StringNotLike or ArnNotLike, and the right key is not present, the condition is true."
  ``...IfExists`` on an absent key is true; ``Null`` tests presence (``true`` = absent).
* Set operators: ``ForAllValues`` is true when the key is absent or empty, ``ForAnyValue`` is false.
  For an absent key the checks apply in this order: ``Null``; ``...IfExists`` (true); the set
  operator; then the negated-or-not rule above.
* Several values for one key are ORed; for a negated operator the request value must match *none* of
  them. Several keys in one operator, and several operators, are ANDed.
* Condition key names are case-insensitive; values are case-sensitive except for the ``IgnoreCase``
  operators.
* Policy variables are substituted in ``Resource`` (after the fifth colon) and in the values of the
  string and ARN operators only, and only for policies with ``"Version": "2012-10-17"``. ``${*}``,
  ``${?}`` and ``${$}`` stand for a literal ``*``, ``?`` and ``$``; ``${key, 'default'}`` supplies a
  default value.

Choices where the documentation is silent (marked [INFERRED] where they appear):

* A policy variable whose key is absent (and has no default) makes that one value match nothing.
* A value substituted for a variable is literal text: a ``*`` in a user name is not a wildcard.
* A single-valued operator (no ``ForAnyValue:``/``ForAllValues:``) applied to a key that carries
  several values in the request cannot be evaluated: AWS says multivalued keys "require" a set operator
  but does not say what happens without one.
* ``ArnLike`` with the bare pattern ``*`` matches any value.
* ``BinaryEquals`` takes the request value as bytes (or as base-64 text, which is decoded).
* The documentation disagrees with itself on whether ``Bool`` accepts policy variables (the operators
  page says yes, the variables page says no); kmslab does not substitute them there.

Keys whose value depends on something kmslab does not model (tags, organizations, network, MFA, key
metadata...) are listed in :data:`NOT_MODELLED_KEYS` / :data:`NOT_MODELLED_PREFIXES`. When a condition
uses one of them and the caller did not put it in the request context, the condition cannot be
evaluated: kmslab will not pretend such a key is absent, because in AWS it usually is not. Any other key
that the request does not carry is simply absent, exactly as in AWS.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

__all__ = [
    "ABSENT",
    "NOT_MODELLED_KEYS",
    "NOT_MODELLED_PREFIXES",
    "OPERATORS",
    "Condition",
    "RequestContext",
    "Template",
    "Glob",
    "action_pattern",
    "arn_like_pattern",
    "compile_condition",
    "is_not_modelled",
    "parse_template",
    "resource_pattern",
    "string_like_pattern",
]


_SHOWN = reprlib.Repr()
_SHOWN.maxstring = 60
_SHOWN.maxother = 60
_SHOWN.maxlevel = 3


def _shown(value: Any) -> str:
    """A short, safe picture of a value for a message (bounded depth and length)."""
    return _SHOWN.repr(value)


class _Absent:
    """The value of a context key that the request does not carry."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()

# --------------------------------------------------------------------------------------------------
# Keys kmslab knows about but does not model. Lower case: condition keys are case-insensitive.
# --------------------------------------------------------------------------------------------------

NOT_MODELLED_KEYS = frozenset(
    {
        # who the principal is, beyond its ARN: organizations, sessions, MFA
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalisawsservice",
        "aws:principalservicename",
        "aws:principalservicenameslist",
        "aws:multifactorauthpresent",
        "aws:multifactorauthage",
        "aws:tokenissuetime",
        "aws:federatedprovider",
        "aws:sourceidentity",
        "aws:rolesessionname",
        "aws:ec2instancesourcevpc",
        "aws:ec2instancesourceprivateipv4",
        "ec2:sourceinstancearn",
        # where the request comes from: network and transport
        "aws:securetransport",
        "aws:sourceip",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:vpcsourceip",
        "aws:useragent",
        "aws:referer",
        "aws:requestedregion",
        # service-to-service chains
        "aws:calledvia",
        "aws:calledviafirst",
        "aws:calledvialast",
        "aws:viaawsservice",
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        # the resource's owner and organization
        "aws:resourceaccount",
        "aws:resourceorgid",
        "aws:resourceorgpaths",
        # facts about the KMS key itself (its metadata and aliases)
        "kms:keyspec",
        "kms:keyusage",
        "kms:keyorigin",
        "kms:multiregion",
        "kms:multiregionkeytype",
        "kms:resourcealiases",
        "kms:requestalias",
        "kms:expirationmodel",
        "kms:validto",
        "kms:customermasterkeyspec",
        "kms:customermasterkeyusage",
    }
)
NOT_MODELLED_PREFIXES = (
    "aws:principaltag/",
    "aws:resourcetag/",
    "iam:resourcetag/",
    "kms:recipientattestation:",
)


def is_not_modelled(key: str) -> bool:
    """True for a (lower-case) condition key whose value kmslab cannot know unless it is given."""
    return key in NOT_MODELLED_KEYS or key.startswith(NOT_MODELLED_PREFIXES)


# --------------------------------------------------------------------------------------------------
# The request context
# --------------------------------------------------------------------------------------------------


class RequestContext:
    """Context keys of one request, looked up case-insensitively.

    ``values`` must already have lower-case keys. ``aws:CurrentTime`` and ``aws:EpochTime`` are always
    present in AWS; when the caller does not give them they are read from the clock, once, the first
    time a condition asks (pass them for reproducible results).
    """

    __slots__ = ("_values", "_now")

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values
        self._now: datetime | None = None

    def get(self, key: str) -> Any:
        value = self._values.get(key, ABSENT)
        if value is ABSENT and key in ("aws:currenttime", "aws:epochtime"):
            if self._now is None:
                self._now = datetime.now(timezone.utc).replace(microsecond=0)
            return self._now.strftime("%Y-%m-%dT%H:%M:%SZ") if key == "aws:currenttime" else int(
                self._now.timestamp())
        return value

    def keys(self) -> list[str]:
        return sorted(self._values)


def _is_multi(value: Any) -> bool:
    return isinstance(value, (list, tuple, set, frozenset))


def _scalar_text(value: Any) -> str:
    """Text of a single context value, as a policy variable or string operator sees it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _format_datetime(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _format_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------------
# Templates: policy strings with variables
# --------------------------------------------------------------------------------------------------

_ESCAPES = {"*": "*", "?": "?", "$": "$"}

# A template is a tuple of parts:
#   ("glob", text)          policy text: in a pattern, * and ? are wildcards
#   ("lit", text)           literal text (an escape such as ${*}, or a substituted value)
#   ("var", key, default)   a policy variable; key is lower case, default is None or a string


@dataclass(frozen=True, slots=True)
class Template:
    """A policy string split into literal text, wildcards and policy variables."""

    source: str
    parts: tuple[tuple[Any, ...], ...]
    has_variables: bool

    def resolve(self, ctx: RequestContext) -> tuple[tuple[str, str], ...] | None | str:
        """Fill the variables from ``ctx``.

        Returns the resolved parts, ``None`` when a variable has no value and no default (the value
        then matches nothing), or a string: the note explaining why it cannot be evaluated.
        """
        if not self.has_variables:
            return self.parts  # type: ignore[return-value]
        out: list[tuple[str, str]] = []
        for part in self.parts:
            if part[0] != "var":
                out.append(part)  # type: ignore[arg-type]
                continue
            _, key, default = part
            value = ctx.get(key)
            if value is ABSENT:
                if default is not None:
                    out.append(("lit", default))
                    continue
                if is_not_modelled(key):
                    return (f"the policy variable ${{{key}}} refers to a key kmslab does not model; "
                            f"pass its value in the request context")
                return None
            if _is_multi(value):
                items = list(value)
                if len(items) != 1:
                    return (f"the policy variable ${{{key}}} refers to a key with several values; "
                            f"AWS does not allow multivalued keys as policy variables")
                value = items[0]
            out.append(("lit", _scalar_text(value)))
        return tuple(out)

    def text(self, parts: tuple[tuple[str, str], ...]) -> str:
        return "".join(p[1] for p in parts)


def _variables_in(body: str) -> list[tuple[int, int]]:
    """Where each ``${...}`` is: (start, end) with ``body[start:end] == "${...}"``.

    A scan with :meth:`str.find`, linear in the text: a ``${`` runs to the first ``}`` after it,
    and with no ``}`` left there is no further variable.
    """
    found = []
    position = 0
    while True:
        start = body.find("${", position)
        if start < 0:
            return found
        close = body.find("}", start + 2)
        if close < 0:
            return found
        found.append((start, close + 1))
        position = close + 1


def _key_and_default(inner: str) -> tuple[str, str | None]:
    """``"aws:username"`` or ``"aws:username, 'nobody'"`` → (key, default or None)."""
    key, comma, rest = inner.partition(",")
    rest = rest.strip()
    if comma and key.strip() and len(rest) >= 2 and rest[0] == rest[-1] == "'" and "'" not in rest[1:-1]:
        return key.strip(), rest[1:-1]
    return inner.strip(), None


def parse_template(text: str, *, variables: bool, resource: bool = False) -> Template:
    """Split ``text`` into a :class:`Template`.

    ``variables`` is False for policies written in the 2008-10-17 language (or with no Version):
    there ``${...}`` is plain text. With ``resource=True`` variables are recognised only after the
    fifth colon, the resource part of an ARN, as the IAM documentation requires.
    """
    if not variables or "${" not in text:
        return Template(text, (("glob", text),), False)
    head = ""
    body = text
    if resource:
        pieces = text.split(":", 5)
        if len(pieces) == 6:
            head = ":".join(pieces[:5]) + ":"
            body = pieces[5]
        else:
            return Template(text, (("glob", text),), False)
    parts: list[tuple[Any, ...]] = []
    if head:
        parts.append(("glob", head))
    position = 0
    has_vars = False
    for start, end in _variables_in(body):
        if start > position:
            parts.append(("glob", body[position:start]))
        inner = body[start + 2:end - 1]
        stripped = inner.strip()
        if stripped in _ESCAPES:
            parts.append(("lit", _ESCAPES[stripped]))
        elif stripped:
            key, default = _key_and_default(inner)
            parts.append(("var", key.lower(), default))
            has_vars = True
        else:
            parts.append(("glob", body[start:end]))
        position = end
    if position < len(body):
        parts.append(("glob", body[position:]))
    return Template(text, tuple(parts), has_vars)


# --------------------------------------------------------------------------------------------------
# Wildcard patterns: a linear matcher, never a regular expression built from policy text
# --------------------------------------------------------------------------------------------------

# Tokens of a compiled pattern. A literal character is itself (a one-character string); the others
# are these small integers, so a token list needs no wrapper objects.
_ANY = 1  # ``?``: any one character
_ANY_IN_SEGMENT = 2  # ``?`` where it may not match a colon (the first five ARN components)
_STAR = 3  # ``*``: any run of characters
_STAR_IN_SEGMENT = 4  # ``*`` that may not cross a colon


def _token_matches(token: Any, char: str) -> bool:
    if token.__class__ is str:
        return token == char
    return token == _ANY or char != ":"


@dataclass(frozen=True, slots=True)
class Glob:
    """A compiled wildcard pattern; :meth:`matches` answers in time linear in the value's length
    times the pattern's, whatever the pattern (no backtracking explosion).

    ``kind`` picks the fastest correct strategy, decided once: ``"exact"`` (no wildcard),
    ``"prefix"`` (one trailing ``*``), ``"chunks"`` (pieces separated by ``*`` that may match
    anything, found left to right with :meth:`str.find`; a single piece for ``?`` without ``*``), ``"segments"`` (``ArnLike``: six components
    compared one by one) or ``"nfa"`` (a ``*`` that must not cross a colon mixed with one that may:
    a set-of-states simulation).
    """

    source: str
    kind: str
    text: str  # exact / prefix: the literal text
    chunks: tuple[tuple[Any, ...], ...]  # chunks: token runs between free stars
    segments: tuple[Glob, ...]  # segments: one pattern per ARN component
    machine: _BitMachine | None  # nfa: the pattern as bit masks

    def matches(self, value: str) -> bool:
        kind = self.kind
        if kind == "exact":
            return value == self.text
        if kind == "prefix":
            return value.startswith(self.text)
        if kind == "chunks":
            return _match_chunks(self.chunks, value)
        if kind == "segments":
            parts = value.split(":", 5)
            return len(parts) == len(self.segments) and all(
                segment.matches(part) for segment, part in zip(self.segments, parts, strict=True))
        assert self.machine is not None
        return self.machine.matches(value)


def _literal(chunk: tuple[Any, ...]) -> str | None:
    """The chunk as text when it holds only literal characters."""
    if all(token.__class__ is str for token in chunk):
        return "".join(chunk)
    return None


def _chunk_at(chunk: tuple[Any, ...], value: str, start: int) -> bool:
    if start + len(chunk) > len(value):
        return False
    for offset, token in enumerate(chunk):
        if not _token_matches(token, value[start + offset]):
            return False
    return True


def _find_chunk(chunk: tuple[Any, ...], value: str, start: int, end: int) -> int:
    """The first position >= start where ``chunk`` matches and ends by ``end``; -1 if none."""
    text = _literal(chunk)
    if text is not None:
        return value.find(text, start, end)
    for position in range(start, end - len(chunk) + 1):
        if _chunk_at(chunk, value, position):
            return position
    return -1


def _match_chunks(chunks: tuple[tuple[Any, ...], ...], value: str) -> bool:
    """``chunks[0] * chunks[1] * ... * chunks[-1]`` where every ``*`` matches any run.

    The first chunk is anchored at the start and the last at the end; each middle chunk is taken at
    its leftmost place, which is always the best choice when the stars around it are unrestricted.
    Each character of the value is compared at most once per chunk: O(len(value) * len(pattern)).
    """
    first, last = chunks[0], chunks[-1]
    if len(chunks) == 1:
        return len(value) == len(first) and _chunk_at(first, value, 0)
    if len(first) + len(last) > len(value):
        return False
    if not _chunk_at(first, value, 0) or not _chunk_at(last, value, len(value) - len(last)):
        return False
    position = len(first)
    end = len(value) - len(last)
    for chunk in chunks[1:-1]:
        found = _find_chunk(chunk, value, position, end)
        if found < 0:
            return False
        position = found + len(chunk)
    return True


@dataclass(frozen=True, slots=True)
class _BitMachine:
    """A pattern as bit masks for a bit-parallel simulation (bit ``i`` = "at token ``i``")."""

    literals: Mapping[str, int]  # character -> tokens that are that literal character
    any_char: int  # ``?``
    any_in_segment: int  # ``?`` that may not match a colon
    stars: int  # ``*``
    stars_in_segment: int  # ``*`` that may not cross a colon
    accept: int  # the bit after the last token

    @classmethod
    def of(cls, tokens: tuple[Any, ...]) -> _BitMachine:
        literals: dict[str, int] = {}
        masks = {_ANY: 0, _ANY_IN_SEGMENT: 0, _STAR: 0, _STAR_IN_SEGMENT: 0}
        for index, token in enumerate(tokens):
            if token.__class__ is str:
                literals[token] = literals.get(token, 0) | (1 << index)
            else:
                masks[token] |= 1 << index
        return cls(literals, masks[_ANY], masks[_ANY_IN_SEGMENT], masks[_STAR], masks[_STAR_IN_SEGMENT],
                   1 << len(tokens))

    def matches(self, value: str) -> bool:
        """The set of reachable pattern positions after each character, as one integer.

        A few integer operations per character of the value, so O(len(value) * len(pattern) / word
        size) with no backtracking at all. Consecutive stars were merged when the pattern was
        compiled, so one step of closure (a star may match nothing) is enough.
        """
        stars_all = self.stars | self.stars_in_segment
        states = 1 | ((1 & stars_all) << 1)
        literals = self.literals
        for char in value:
            if char == ":":
                stay = self.stars
                advance = literals.get(char, 0) | self.any_char
            else:
                stay = stars_all
                advance = literals.get(char, 0) | self.any_char | self.any_in_segment
            states = (states & stay) | ((states & advance) << 1)
            if not states:
                return False
            states |= (states & stars_all) << 1
        return bool(states & self.accept)


def _tokens(parts: tuple[tuple[str, str], ...], mode: str) -> list[Any]:
    """Turn resolved template parts into tokens.

    ``mode`` is one of:

    * ``"string"``: StringLike. ``*`` is any run of characters, ``?`` any one character.
    * ``"action"``: the same, used on lower-cased actions.
    * ``"arn"``: ArnLike, compiled per component (see :func:`_compile`).
    * ``"resource"``: the Resource element. In the first five colon-delimited components a wildcard
      stays within its component, except that "if the * wildcard is the last character of a
      resource ARN segment, it can expand to match beyond the colon boundaries"; the sixth (the
      resource part) may contain colons.

    Only ``("glob", text)`` parts carry wildcards; ``("lit", text)`` parts (escapes such as
    ``${*}`` and substituted values) are literal, but their colons still count as separators.
    """
    chars: list[tuple[str, bool]] = []
    for kind, text in parts:
        glob = kind == "glob"
        chars.extend((c, glob) for c in text)
    out: list[Any] = []
    colons = 0
    segmented = mode == "resource"
    for i, (char, glob) in enumerate(chars):
        if glob and char == "*":
            if segmented and colons < 5:
                at_segment_end = i + 1 == len(chars) or chars[i + 1][0] == ":"
                out.append(_STAR if at_segment_end else _STAR_IN_SEGMENT)
            else:
                out.append(_STAR)
        elif glob and char == "?":
            out.append(_ANY_IN_SEGMENT if segmented and colons < 5 else _ANY)
        else:
            if char == ":":
                colons += 1
            out.append(char)
    # Several stars in a row mean the same as one (of the most permissive kind among them).
    merged: list[Any] = []
    for token in out:
        if merged and token in (_STAR, _STAR_IN_SEGMENT) and merged[-1] in (_STAR, _STAR_IN_SEGMENT):
            merged[-1] = _STAR if _STAR in (token, merged[-1]) else _STAR_IN_SEGMENT
        else:
            merged.append(token)
    return merged


def _from_tokens(source: str, tokens: list[Any]) -> Glob:
    if _STAR_IN_SEGMENT in tokens:
        return Glob(source, "nfa", "", (), (), _BitMachine.of(tuple(tokens)))
    if _STAR not in tokens:
        text = _literal(tuple(tokens))
        if text is not None:
            return Glob(source, "exact", text, (), (), None)
        return Glob(source, "chunks", "", (tuple(tokens),), (), None)
    chunks: list[tuple[Any, ...]] = [()]
    for token in tokens:
        if token == _STAR:
            chunks.append(())
        else:
            chunks[-1] = (*chunks[-1], token)
    if len(chunks) == 2 and not chunks[1]:
        text = _literal(chunks[0])
        if text is not None:
            return Glob(source, "prefix", text, (), (), None)
    return Glob(source, "chunks", "", tuple(chunks), (), None)


@lru_cache(maxsize=4096)
def _compile(parts: tuple[tuple[str, str], ...], mode: str) -> Glob:
    source = "".join(p[1] for p in parts)
    if mode != "arn":
        return _from_tokens(source, _tokens(parts, mode))
    # ArnLike: "Each of the six colon-delimited components of the ARN is checked separately". The
    # value is split the same way, so a wildcard in the first five components never meets a colon,
    # and the sixth component (the resource part) may contain colons on both sides.
    tokens = _tokens(parts, "string")
    segments: list[list[Any]] = [[]]
    for token in tokens:
        if token == ":" and len(segments) < 6:
            segments.append([])
        else:
            segments[-1].append(token)
    compiled = tuple(_from_tokens(source, segment) for segment in segments)
    return Glob(source, "segments", "", (), compiled, None)


def string_like_pattern(parts: tuple[tuple[str, str], ...]) -> Glob:
    """``StringLike``: case-sensitive, ``*`` any run of characters, ``?`` any one character."""
    return _compile(parts, "string")


def arn_like_pattern(parts: tuple[tuple[str, str], ...]) -> Glob:
    """``ArnLike``: case-sensitive, each of the six ARN components matched on its own."""
    return _compile(parts, "arn")


def resource_pattern(parts: tuple[tuple[str, str], ...]) -> Glob:
    """The ``Resource`` element: case-sensitive, ARN-aware (see :func:`_tokens`)."""
    return _compile(parts, "resource")


def action_pattern(pattern: str) -> Glob:
    """One ``Action`` pattern, lower-cased (actions are case-insensitive); match lower-cased actions."""
    return _compile((("glob", pattern.lower()),), "action")


# --------------------------------------------------------------------------------------------------
# The operator table
# --------------------------------------------------------------------------------------------------


class _BadValue(ValueError):
    """A policy or request value that the operator cannot interpret."""


def _request_string(value: Any) -> str:
    if isinstance(value, (dict, list, tuple, set)):
        raise _BadValue(f"{_shown(value)} is not a string")
    return _scalar_text(value)


def _parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _BadValue(f"{_shown(value)} is not a number")
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise _BadValue(f"{_shown(value)} is not a number") from None
    if not number.is_finite():
        raise _BadValue(f"{_shown(value)} is not a finite number")
    return number


_EPOCH = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def _from_epoch(value: Any) -> datetime:
    """Epoch seconds as a date; a number no calendar date has is a value the operator cannot read."""
    try:
        return datetime.fromtimestamp(float(value), timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise _BadValue(f"{_shown(value)} is not a date AWS can represent (epoch seconds out of range)") from None


def _parse_datetime(value: Any) -> datetime:
    """ISO 8601 (W3C profile) or epoch seconds, as the Date operators accept."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, bool):
        raise _BadValue(f"{_shown(value)} is not a date")
    if isinstance(value, (int, float, Decimal)):
        return _from_epoch(value)
    text = str(value).strip()
    if _EPOCH.match(text):
        return _from_epoch(text)
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        raise _BadValue(f"{_shown(value)} is not an ISO 8601 date or epoch time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _parse_bool(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise _BadValue(f"{_shown(value)} is not true or false")
    return text


def _parse_network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise _BadValue(f"{_shown(value)} is not an IP address or CIDR range") from None


def _parse_address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise _BadValue(f"{_shown(value)} is not an IP address") from None


def _parse_base64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise _BadValue(f"{_shown(value)} is not base-64") from None


def _request_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return _parse_base64(value)


@dataclass(frozen=True, slots=True)
class Operator:
    """One row of the operator table.

    ``parse_policy`` turns a policy value into what ``test`` compares against (for string and ARN
    operators it receives resolved template parts); ``parse_request`` does the same for a request
    value; ``test(request_value, policy_value)`` says whether they match. ``negated`` operators
    match when the request value matches none of the policy values. ``variables`` says whether
    policy variables are substituted in this operator's values.
    """

    name: str
    negated: bool
    variables: bool
    parse_policy: Callable[[Any], Any]
    parse_request: Callable[[Any], Any]
    test: Callable[[Any, Any], bool]


def _string_op(name: str, negated: bool, *, ignore_case: bool = False, like: bool = False,
               arn: bool = False) -> Operator:
    if like or arn:
        compile_ = arn_like_pattern if arn else string_like_pattern

        def parse_policy(parts: tuple[tuple[str, str], ...]) -> Any:
            if arn and parts == (("glob", "*"),):
                return None  # the bare "*": any value
            return compile_(parts)

        def test(value: str, pattern: Any) -> bool:
            return pattern is None or pattern.matches(value)

        return Operator(name, negated, True, parse_policy, _request_string, test)
    if ignore_case:
        return Operator(name, negated, True,
                        lambda parts: "".join(p[1] for p in parts).lower(),
                        lambda v: _request_string(v).lower(),
                        str.__eq__)
    return Operator(name, negated, True, lambda parts: "".join(p[1] for p in parts),
                    _request_string, str.__eq__)


def _compare_op(name: str, parse: Callable[[Any], Any], compare: Callable[[Any, Any], bool],
                negated: bool = False) -> Operator:
    return Operator(name, negated, False, parse, parse, compare)


def _in_network(address: Any, network: Any) -> bool:
    return address.version == network.version and address in network


def _build_operators() -> dict[str, Operator]:
    ops = [
        _string_op("StringEquals", False),
        _string_op("StringNotEquals", True),
        _string_op("StringEqualsIgnoreCase", False, ignore_case=True),
        _string_op("StringNotEqualsIgnoreCase", True, ignore_case=True),
        _string_op("StringLike", False, like=True),
        _string_op("StringNotLike", True, like=True),
        _string_op("ArnEquals", False, arn=True),
        _string_op("ArnLike", False, arn=True),
        _string_op("ArnNotEquals", True, arn=True),
        _string_op("ArnNotLike", True, arn=True),
        _compare_op("NumericEquals", _parse_decimal, lambda a, b: a == b),
        _compare_op("NumericNotEquals", _parse_decimal, lambda a, b: a == b, negated=True),
        _compare_op("NumericLessThan", _parse_decimal, lambda a, b: a < b),
        _compare_op("NumericLessThanEquals", _parse_decimal, lambda a, b: a <= b),
        _compare_op("NumericGreaterThan", _parse_decimal, lambda a, b: a > b),
        _compare_op("NumericGreaterThanEquals", _parse_decimal, lambda a, b: a >= b),
        _compare_op("DateEquals", _parse_datetime, lambda a, b: a == b),
        _compare_op("DateNotEquals", _parse_datetime, lambda a, b: a == b, negated=True),
        _compare_op("DateLessThan", _parse_datetime, lambda a, b: a < b),
        _compare_op("DateLessThanEquals", _parse_datetime, lambda a, b: a <= b),
        _compare_op("DateGreaterThan", _parse_datetime, lambda a, b: a > b),
        _compare_op("DateGreaterThanEquals", _parse_datetime, lambda a, b: a >= b),
        _compare_op("Bool", _parse_bool, lambda a, b: a == b),
        Operator("BinaryEquals", False, False, _parse_base64, _request_bytes, lambda a, b: a == b),
        Operator("IpAddress", False, False, _parse_network, _parse_address, _in_network),
        Operator("NotIpAddress", True, False, _parse_network, _parse_address, _in_network),
        # Null compares presence, not values; evaluate_clause treats it specially.
        Operator("Null", False, False, _parse_bool, _parse_bool, lambda a, b: a == b),
    ]
    return {op.name: op for op in ops}


OPERATORS: dict[str, Operator] = _build_operators()
"""The condition operator table: base operator name → :class:`Operator`."""

_SET_PREFIXES = {"ForAnyValue": "any", "ForAllValues": "all"}


# --------------------------------------------------------------------------------------------------
# Compiled conditions
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _PolicyValue:
    """One policy value: compiled now when it has no variables, else kept as a template."""

    template: Template
    compiled: Any  # the parsed value, or None when it has variables


@dataclass(frozen=True, slots=True)
class Clause:
    """One key under one operator, e.g. ``"StringLike": {"kms:ViaService": [...]}``."""

    operator_name: str  # as written in the policy, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # as written
    key_lower: str
    operator: Operator | None  # None: cannot be evaluated (see problem)
    set_op: str | None  # "any", "all" or None
    if_exists: bool
    values: tuple[_PolicyValue, ...]
    raw_values: tuple[str, ...]
    problem: str | None = None
    malformed: bool = False  # the problem is one of shape, which AWS refuses when the policy is stored

    def describe(self) -> str:
        shown = ", ".join(f'"{v}"' for v in self.raw_values)
        if len(self.raw_values) != 1:
            shown = f"[{shown}]"
        return f"{self.operator_name} {self.key} {shown}"

    def evaluate(self, ctx: RequestContext) -> tuple[bool | None, str | None]:
        """``(True|False|None, note)``: ``None`` means cannot evaluate, and the note says why."""
        if self.problem is not None:
            return None, self.problem
        op = self.operator
        assert op is not None
        raw = ctx.get(self.key_lower)
        if raw is ABSENT and is_not_modelled(self.key_lower):
            return None, (f'condition key "{self.key}" in {self.operator_name} is not modelled by '
                          f"kmslab; pass its value in the request context to evaluate it")
        if raw is ABSENT:
            request_values: list[Any] = []
        elif _is_multi(raw):
            request_values = list(raw)
        else:
            request_values = [raw]

        if op.name == "Null":
            absent = not request_values
            return any((value == "true") == absent for value in self._static_values()), None

        if not request_values:
            if self.if_exists:
                return True, None
            if self.set_op == "all":
                return True, None
            if self.set_op == "any":
                return False, None
            return op.negated, None
        if self.set_op is None and len(request_values) > 1:
            return None, (f'"{self.key}" has {len(request_values)} values in the request, but '
                          f"{self.operator_name} is a single-valued operator; AWS requires "
                          f"ForAnyValue: or ForAllValues: for a multivalued key")
        try:
            converted = [op.parse_request(value) for value in request_values]
        except _BadValue as exc:
            return None, f'the request value of "{self.key}" does not suit {self.operator_name}: {exc}'

        policy_values: list[Any] = []
        for value in self.values:
            if value.compiled is not None or not value.template.has_variables:
                policy_values.append(value.compiled)
                continue
            resolved = value.template.resolve(ctx)
            if resolved is None:
                continue  # [INFERRED] an unresolvable variable makes this value match nothing
            if isinstance(resolved, str):
                return None, resolved
            try:
                policy_values.append(op.parse_policy(resolved))
            except _BadValue as exc:  # pragma: no cover - string operators do not raise
                return None, str(exc)

        test = op.test

        def hit(value: Any) -> bool:
            return any(test(value, policy_value) for policy_value in policy_values)

        if self.set_op is None:
            matched = hit(converted[0])
            return (not matched if op.negated else matched), None
        per_value = [(not hit(v)) if op.negated else hit(v) for v in converted]
        return (all(per_value) if self.set_op == "all" else any(per_value)), None

    def _static_values(self) -> list[Any]:
        return [value.compiled for value in self.values]

    def request_value_text(self, ctx: RequestContext) -> str:
        """How the request looks for this clause's key, in words (for explanations)."""
        raw = ctx.get(self.key_lower)
        if raw is ABSENT:
            return f"the request has no {self.key}"
        if _is_multi(raw):
            items = ", ".join(f'"{_scalar_text(v)}"' for v in raw)
            return f"the request has {self.key} = [{items}]"
        return f'the request has {self.key} = "{_scalar_text(raw)}"'


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled ``Condition`` block: every clause must hold."""

    clauses: tuple[Clause, ...]

    def evaluate(self, ctx: RequestContext) -> tuple[bool | None, Clause | None, tuple[str, ...]]:
        """``(result, failing clause, notes)``.

        Kleene AND: one false clause makes the block false even when another cannot be evaluated;
        otherwise any clause that cannot be evaluated makes the block unknown (``None``).
        """
        notes: list[str] = []
        for clause in self.clauses:
            result, note = clause.evaluate(ctx)
            if result is False:
                return False, clause, ()
            if result is None:
                notes.append(note or f"{clause.describe()} cannot be evaluated")
        if notes:
            return None, None, tuple(notes)
        return True, None, ()


def _value_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _bad_clause(operator_name: str, key: str, raw_values: tuple[str, ...], problem: str, *,
                malformed: bool = False) -> Clause:
    return Clause(operator_name, key, key.lower(), None, None, False, (), raw_values, problem, malformed)


def _split_operator(name: str) -> tuple[str | None, str, bool]:
    set_op = None
    base = name
    if ":" in name:
        prefix, _, base = name.partition(":")
        set_op = _SET_PREFIXES.get(prefix, "?")
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    return set_op, base, if_exists


def compile_condition(block: Any, *, variables: bool) -> Condition:
    """Compile a statement's ``Condition`` element.

    Never raises: an unknown operator, a malformed block or a value the operator cannot read becomes
    a clause that evaluates to ``None`` (cannot evaluate) with a note naming the operator and key.
    """
    if not isinstance(block, Mapping) or not block:
        return Condition((_bad_clause("Condition", "", (), (
            f"the Condition element is malformed: expected an object of operators, got {_shown(block)}"),
            malformed=True),))
    clauses: list[Clause] = []
    for operator_name, keys in block.items():
        set_op, base, if_exists = _split_operator(str(operator_name))
        operator = OPERATORS.get(base)
        if not isinstance(keys, Mapping) or not keys:
            clauses.append(_bad_clause(str(operator_name), "", (), (
                f'condition operator "{_shown(operator_name)}" is malformed: expected an object of '
                f"condition keys, got {_shown(keys)}"), malformed=True))
            continue
        for key, raw in keys.items():
            key = str(key)
            items = raw if isinstance(raw, list) else [raw]
            texts = [_value_text(item) for item in items]
            raw_values = tuple(t if t is not None else _shown(item) for t, item in zip(texts, items, strict=True))
            problem = None
            malformed = False
            if operator is None or set_op == "?":
                problem = (f'unknown condition operator "{operator_name}" (on key "{key}"); kmslab '
                           f"evaluates only the operators in its table")
            elif base == "Null" and (if_exists or set_op):
                problem = (f'"{operator_name}" is not a valid operator: AWS allows neither IfExists '
                           f"nor a set operator on Null")
            elif not items or any(t is None for t in texts):
                problem = (f'condition {operator_name} on key "{key}" has a malformed value '
                           f"{_shown(raw)}: expected a string or a list of strings")
                malformed = True
            if problem:
                clauses.append(_bad_clause(str(operator_name), key, raw_values, problem, malformed=malformed))
                continue
            assert operator is not None
            values: list[_PolicyValue] = []
            use_vars = variables and operator.variables
            try:
                for text in texts:
                    assert text is not None
                    if operator.variables:
                        template = parse_template(text, variables=use_vars)
                        compiled = None if template.has_variables else operator.parse_policy(
                            template.parts)
                    else:
                        template = Template(text, (("glob", text),), False)
                        compiled = operator.parse_policy(text)
                    values.append(_PolicyValue(template, compiled))
            except _BadValue as exc:
                clauses.append(_bad_clause(str(operator_name), key, raw_values, (
                    f'condition {operator_name} on key "{key}" has a value AWS would not accept: {exc}')))
                continue
            clauses.append(Clause(str(operator_name), key, key.lower(), operator, set_op, if_exists,
                                  tuple(values), raw_values))
    return Condition(tuple(clauses))

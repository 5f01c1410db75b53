"""Wildcard matching without regular expressions: IAM's rules, and no pattern that makes it slow.

Rules (IAM User Guide): "You can use wildcard characters (* and ?) within any ARN segment... An
asterisk (*) represents any combination of zero or more characters, and a question mark (?) represents
any single character" ("IAM JSON policy elements: Resource"); "If the * wildcard is the last character
of a resource ARN segment, it can expand to match beyond the colon boundaries" (same page); ArnLike:
"Each of the six colon-delimited components of the ARN is checked separately and each can include
multi-character match wildcards (*) or single-character match wildcards (?)" ("Condition operators",
ARN condition operators); action names are case-insensitive ("IAM JSON policy elements: Action"), ARNs
and StringLike values case-sensitive.

Issue 12 item 7: patterns used to become backtracking regular expressions, so `table/*a*a*a*a*b`
against a 255-character name took seconds. The matcher is now hand-written; this file checks it against
a reference (a regular expression built here, in the test, over a tiny alphabet) and checks that no
regular expression is compiled from anything but a literal in the evaluator's modules.
"""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

import pytest

from kmslab._conditions import (
    action_pattern,
    arn_like_pattern,
    parse_template,
    resource_pattern,
    string_like_pattern,
)
from kmslab._evaluator import evaluate

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"


def parts(text: str):
    return parse_template(text, variables=False).parts


def reference_regex(pattern: str, mode: str) -> re.Pattern[str]:
    """The rules as a regular expression, for comparison only (patterns here come from the test)."""
    out = []
    if mode == "arn":
        # Split into the six components; a wildcard in the first five stays inside its component.
        pieces = pattern.split(":", 5)
        for n, piece in enumerate(pieces):
            any_run, any_one = (".*", ".") if n == 5 else ("[^:]*", "[^:]")
            out.append("".join(any_run if c == "*" else any_one if c == "?" else re.escape(c) for c in piece))
        return re.compile(":".join(out), re.DOTALL)
    colons = 0
    for i, c in enumerate(pattern):
        if c == "*":
            if mode == "resource" and colons < 5:
                at_end = i + 1 == len(pattern) or pattern[i + 1] == ":"
                out.append(".*" if at_end else "[^:]*")
            else:
                out.append(".*")
        elif c == "?":
            out.append("[^:]" if mode == "resource" and colons < 5 else ".")
        else:
            colons += c == ":"
            out.append(re.escape(c))
    return re.compile("".join(out), re.DOTALL)


COMPILERS = {"string": string_like_pattern, "arn": arn_like_pattern, "resource": resource_pattern}


@pytest.mark.parametrize("mode", sorted(COMPILERS))
def test_matcher_agrees_with_the_rules_on_random_patterns(mode):
    """Every IAM wildcard rule above, over 3,000 random pattern/value pairs per mode (fixed seed):
    the hand-written matcher answers exactly what the rule-by-rule reference answers."""
    rng = random.Random(12)
    pattern_alphabet = "ab:*?"
    value_alphabet = "ab:"
    for _ in range(3000):
        pattern = "".join(rng.choice(pattern_alphabet) for _ in range(rng.randint(0, 9)))
        value = "".join(rng.choice(value_alphabet) for _ in range(rng.randint(0, 12)))
        expected = reference_regex(pattern, mode).fullmatch(value) is not None
        assert COMPILERS[mode](parts(pattern)).matches(value) is expected, (mode, pattern, value)


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    ("table/*a*a*a*a*b", "table/" + "a" * 249, False),
    ("table/*a*a*a*a*b", "table/" + "a" * 248 + "b", True),
    ("*a*a*a*a*a*b", "a" * 255, False),
    ("a*?*?*?*?*?b", "a" * 255, False),
])
def test_adversarial_patterns_give_the_right_answer(pattern, value, expected):
    """The issue's patterns (many wildcards that can each match almost anything) are decided
    correctly in every mode; with the old backtracking regex they took seconds to minutes."""
    for compile_ in COMPILERS.values():
        assert compile_(parts(pattern)).matches(value) is expected
    resource = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:{value}"
    pattern_arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:{pattern}"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": pattern_arn}]}
    assert evaluate(USER, "dynamodb:Scan", resource, identity_policies=[policy]).allowed is expected


def test_restricted_and_free_stars_mixed_in_one_resource():
    """A * in the middle of an ARN component stays in it; a * that ends a component may cross colons
    (Resource element rule). "arn:aws:kms:us*1:*" mixes the two."""
    glob = resource_pattern(parts("arn:aws:kms:us*1:*:key/k"))
    assert glob.matches(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k")
    assert glob.matches(f"arn:aws:kms:us-east-1:{ACCOUNT}:extra:key/k")  # the second * crosses colons
    assert not glob.matches(f"arn:aws:kms:us-east:2:1:{ACCOUNT}:key/k")  # the first * may not


def test_actions_are_case_insensitive_arns_and_strings_are_not():
    """Action names are case-insensitive; ARNs (Resource, ArnLike) and StringLike values are not."""
    assert action_pattern("KMS:De*").matches("kms:decrypt")
    assert not resource_pattern(parts("arn:aws:s3:::Bucket/*")).matches("arn:aws:s3:::bucket/x")
    assert not arn_like_pattern(parts("arn:aws:s3:::Bucket/*")).matches("arn:aws:s3:::bucket/x")
    assert not string_like_pattern(parts("Music*")).matches("music-table")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "KMS:DESCRIBE*", "Resource": "*"}]}
    assert evaluate(USER, "kms:ListKeys", "*", identity_policies=[policy]).allowed is False
    assert evaluate(USER, "kms:DescribeCustomKeyStores", "*", identity_policies=[policy]).allowed


def test_question_mark_matches_exactly_one_character():
    """"?" is one character, never zero and never two."""
    glob = string_like_pattern(parts("key-?"))
    assert glob.matches("key-1")
    assert not glob.matches("key-")
    assert not glob.matches("key-12")


def test_substituted_and_escaped_text_is_literal():
    """A value substituted for a policy variable, and the escapes ${*} and ${?}, are literal text
    ("${*}" stands for a literal *, IAM User Guide, "Policy variables", special characters)."""
    template = parse_template("arn:aws:s3:::b/${*}x", variables=True, resource=True)
    glob = resource_pattern(template.parts)
    assert glob.matches("arn:aws:s3:::b/*x")
    assert not glob.matches("arn:aws:s3:::b/yx")


def _regex_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"):
            yield node


@pytest.mark.parametrize("module", ["kmslab/_evaluator.py", "kmslab/_conditions.py", "kmslab/_catalogue.py"])
def test_no_regular_expression_is_built_from_policy_text(module):
    """Issue 12 item 7: every regular expression in the evaluator's modules is a literal written in
    the source (fixed and linear), never one assembled from a policy, a request or a context value."""
    path = ROOT / module
    if not path.exists():
        pytest.skip(f"{module} does not exist")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for call in _regex_calls(tree):
        assert call.func.attr in ("compile",), f"{module}:{call.lineno}: re.{call.func.attr} called directly"
        first = call.args[0]
        assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
            f"{module}:{call.lineno}: re.compile of something other than a literal")

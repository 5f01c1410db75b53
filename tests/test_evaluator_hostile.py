"""Hostile policies, contexts and grants: refused in AWS's words, never an internal exception.

Issue 12 items 10-11: a key policy ``{"Statement": ["x"]}`` raised AttributeError, deep nesting raised
RecursionError, context values of the wrong type silently made a Deny not match, and a grant naming
another account's key matched a bare key ID of the lab's key.

AWS's words for malformed IAM documents (MalformedPolicyDocument): "This policy contains invalid Json",
"Syntax errors in policy.", "Policy statement must contain actions.", "Policy statement must contain
resources.", "Policy document should not specify a principal." (identity policies), "Missing required
field Principal" (resource-based policies and role trust policies), "Has prohibited field Resource"
(role trust policies). KMS answers a malformed key policy with MalformedPolicyDocumentException.
"""

from __future__ import annotations

import json
import random

import pytest

import kmslab
from kmslab import MalformedPolicyError, check_policy_document, evaluate

ACCOUNT = "123456789012"
OTHER = "999988887777"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}"
DEFAULT_KEY_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
     "Resource": "*"}]}
ALLOW_DECRYPT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY}]}


def nested(depth: int) -> str:
    return '{"Statement": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize(("document", "aws_message"), [
    ('{"Statement":["x"]}', "Syntax errors in policy."),
    ({"Statement": ["x"]}, "Syntax errors in policy."),
    ({"Statement": [1, 2]}, "Syntax errors in policy."),
    ({"Statement": [None]}, "Syntax errors in policy."),
    ({"Statement": "Allow"}, "Syntax errors in policy."),
    ({"Statement": [{"Effect": "Allow", "Action": {"a": 1}, "Resource": "*"}]}, "Syntax errors in policy."),
    ({"Statement": [{"Effect": ["Allow"], "Action": "s3:*", "Resource": "*"}]}, "Syntax errors in policy."),
    ({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": [["*"]]}]}, "Syntax errors in policy."),
    ({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Sid": 7}]}, "Syntax errors in policy."),
    ({"Version": ["2012-10-17"], "Statement": []}, "Syntax errors in policy."),
    ({"Statement": [], "Extra": 1}, "Syntax errors in policy."),
    ({"Id": {"x": 1}, "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
     "Syntax errors in policy."),
    ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "Policy statement must contain actions."),
    ({"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}, "Policy statement must contain resources."),
    ("{not json", "This policy contains invalid Json"),
    ("[1, 2]", "This policy contains invalid Json"),
    (nested(100_000), "This policy contains invalid Json"),
    ({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": float("nan")}]},
     "This policy contains invalid Json"),
])
def test_malformed_identity_policy_is_refused_in_aws_words(document, aws_message):
    """IAM's MalformedPolicyDocument sentences, whatever the shape of the damage."""
    with pytest.raises(MalformedPolicyError) as caught:
        evaluate(USER, "s3:GetObject", "arn:aws:s3:::b/k", identity_policies=[("mine", document)])
    assert caught.value.code == "MalformedPolicyDocument"
    assert caught.value.aws_message == aws_message
    assert str(caught.value).startswith(f"MalformedPolicyDocument: {aws_message} (mine: ")
    assert isinstance(caught.value, ValueError)  # callers catching ValueError keep working


def test_deeply_nested_dict_is_refused_not_a_recursion_error():
    """A Python dict nested 100,000 deep (no JSON text involved) is refused as invalid JSON."""
    document: dict = {"Statement": []}
    inner = document
    for _ in range(100_000):
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(MalformedPolicyError, match="nested too deeply"):
        evaluate(USER, "s3:GetObject", "*", identity_policies=[document])


def test_deep_condition_values_are_shown_briefly():
    """A condition value that is a deep structure is a condition kmslab cannot evaluate, and the note
    shows it briefly (no RecursionError from repr, no megabyte message)."""
    value: list = []
    for _ in range(200):
        value = [value]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"StringEquals": {"s3:x": value}}},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    decision = evaluate(USER, "s3:GetObject", "*", identity_policies=[policy])
    assert decision.reason == "CANNOT_EVALUATE" and not decision.allowed
    assert all(len(note) < 400 for note in decision.unresolved)


def test_key_policy_errors_carry_kms_code():
    """KMS refuses a malformed key policy with MalformedPolicyDocumentException."""
    with pytest.raises(MalformedPolicyError) as caught:
        evaluate(USER, "kms:Decrypt", KEY, resource_policy={"Statement": ["x"]})
    assert caught.value.code == "MalformedPolicyDocumentException"
    assert caught.value.kind == "key policy"


def test_identity_policy_with_a_principal_is_refused_in_aws_words():
    """IAM: "Policy document should not specify a principal." (issue 13 asked for words, not a ValueError
    about internals)."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}]}
    with pytest.raises(MalformedPolicyError) as caught:
        evaluate(USER, "kms:Decrypt", KEY, identity_policies=[policy], resource_policy=DEFAULT_KEY_POLICY)
    assert caught.value.aws_message == "Policy document should not specify a principal."


# ------------------------------------------------------------------------------------------------
# check_policy_document: what the enforcer calls before storing a policy
# ------------------------------------------------------------------------------------------------


def test_check_policy_document_returns_the_parsed_policy():
    text = json.dumps(DEFAULT_KEY_POLICY)
    assert check_policy_document(text) == DEFAULT_KEY_POLICY
    assert check_policy_document(DEFAULT_KEY_POLICY, kind="key policy") == DEFAULT_KEY_POLICY
    assert kmslab.check_policy_document is check_policy_document


@pytest.mark.parametrize(("document", "kind", "code", "aws_message"), [
    ('{"Statement":["x"]}', "key policy", "MalformedPolicyDocumentException", "Syntax errors in policy."),
    ({"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}, "key policy",
     "MalformedPolicyDocumentException", "Missing required field Principal"),
    ({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}]},
     "identity-based policy", "MalformedPolicyDocument", "Policy document should not specify a principal."),
    ({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}, "trust policy",
     "MalformedPolicyDocument", "Missing required field Principal"),
    ({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole",
                     "Resource": "*"}]}, "trust policy", "MalformedPolicyDocument", "Has prohibited field Resource"),
    (nested(50_000), "key policy", "MalformedPolicyDocumentException", "This policy contains invalid Json"),
])
def test_check_policy_document_refuses_as_aws_does(document, kind, code, aws_message):
    """Each kind of policy with its own rule: a key policy and a trust policy must name principals, an
    identity policy must not, a trust policy applies to its role and has no Resource."""
    with pytest.raises(MalformedPolicyError) as caught:
        check_policy_document(document, kind=kind)
    assert (caught.value.code, caught.value.aws_message) == (code, aws_message)


def test_check_policy_document_accepts_a_trust_policy_as_aws_writes_it():
    """IAM User Guide, "Creating a role to delegate permissions to an IAM user": the trust policy has
    Principal and Action, and no Resource."""
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    assert check_policy_document(trust, kind="trust policy") == trust


def test_check_policy_document_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        check_policy_document(DEFAULT_KEY_POLICY, kind="bucket policy")


# ------------------------------------------------------------------------------------------------
# Context values of the wrong type
# ------------------------------------------------------------------------------------------------

DENY_UNLESS_VIA_DYNAMODB = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY},
    {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": KEY,
     "Condition": {"Null": {"kms:ViaService": "true"}}}]}


@pytest.mark.parametrize("value", [None, {"a": 1}, [["dynamodb.us-east-1.amazonaws.com"]], float("nan"), object()])
def test_context_values_of_no_request_type_are_refused(value):
    """[CHOICE] A request context carries text, numbers, booleans, dates and bytes (or lists of them).
    Anything else is refused as input; before, ``None`` read as "present" and let a ``Null`` Deny pass."""
    with pytest.raises(ValueError, match="context value of 'kms:ViaService'"):
        evaluate(USER, "kms:Decrypt", KEY, identity_policies=[DENY_UNLESS_VIA_DYNAMODB],
                 resource_policy=DEFAULT_KEY_POLICY, context={"kms:ViaService": value})


@pytest.mark.parametrize(("operator", "value"), [
    ("NumericLessThan", "not a number"),
    ("DateGreaterThan", "yesterday"),
    ("IpAddress", "localhost"),
    ("Bool", "yes"),
])
def test_a_deny_whose_value_does_not_suit_its_operator_is_never_dropped(operator, value):
    """[CHOICE] AWS does not document what a value of the wrong type does to a condition; kmslab reads
    the clause as "cannot be evaluated", so the Deny may apply and the request is not allowed."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY},
        {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": KEY,
         "Condition": {operator: {"test:key": {"NumericLessThan": "5", "DateGreaterThan": "2020-01-01T00:00:00Z",
                                               "IpAddress": "10.0.0.0/8", "Bool": "true"}[operator]}}}]}
    decision = evaluate(USER, "kms:Decrypt", KEY, identity_policies=[policy], resource_policy=DEFAULT_KEY_POLICY,
                        context={"test:key": value})
    assert not decision.allowed
    assert decision.reason == "CANNOT_EVALUATE"


# ------------------------------------------------------------------------------------------------
# Grants and key identifiers
# ------------------------------------------------------------------------------------------------


def grant(key_id: str) -> dict:
    return {"GrantId": "g1", "KeyId": key_id, "GranteePrincipal": USER, "Operations": ["Decrypt"]}


def test_grant_on_another_accounts_key_does_not_match_a_bare_key_id():
    """A bare key ID names a key in the caller's account (KMS API Reference, KeyId: "To specify a KMS key
    in a different AWS account, you must use the key ARN or alias ARN")."""
    foreign = f"arn:aws:kms:us-east-1:{OTHER}:key/{KEY_ID}"
    decision = evaluate(USER, "kms:Decrypt", KEY_ID, resource_policy={"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ADMIN_ONLY}, "Action": "kms:*", "Resource": "*"}]},
        grants=[grant(foreign)])
    assert not decision.allowed
    assert "is for another key" in decision.text()
    own = evaluate(USER, "kms:Decrypt", KEY_ID, resource_policy={"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ADMIN_ONLY}, "Action": "kms:*", "Resource": "*"}]},
        grants=[grant(KEY)])
    assert own.allowed and own.reason == "ALLOWED_BY_GRANT"


def test_two_key_arns_must_be_equal():
    """A grant lists one key; another key with the same ID in another account is another key."""
    foreign = f"arn:aws:kms:us-east-1:{OTHER}:key/{KEY_ID}"
    decision = evaluate(USER, "kms:Decrypt", KEY, resource_policy={"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ADMIN_ONLY}, "Action": "kms:*", "Resource": "*"}]},
        grants=[grant(foreign)])
    assert not decision.allowed


ADMIN_ONLY = f"arn:aws:iam::{ACCOUNT}:user/admin"


# ------------------------------------------------------------------------------------------------
# A bounded fuzz: random JSON-shaped policies and contexts never raise anything but ValueError
# ------------------------------------------------------------------------------------------------

_ATOMS = ["Allow", "Deny", "*", "kms:*", "kms:Decrypt", KEY, "s3:Get*", "", "${aws:username}", "x",
          "2012-10-17", "StringEquals", "kms:ViaService", "AWS", ACCOUNT, 0, 1.5, True, None, -1]
_KEYS = ["Version", "Statement", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal",
         "NotPrincipal", "Condition", "Sid", "Id", "AWS", "Service", "StringLike", "Null", "ForAnyValue:StringLike",
         "kms:ViaService", "aws:username", "Bool"]


def _random_value(rng: random.Random, depth: int):
    roll = rng.random()
    if depth > 4 or roll < 0.35:
        return rng.choice(_ATOMS)
    if roll < 0.65:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(_KEYS): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _random_policy(rng: random.Random, *, resource_based: bool):
    """A valid policy with, now and then, one element replaced by something random."""
    statements = []
    for _ in range(rng.randint(1, 3)):
        statement = {"Effect": rng.choice(["Allow", "Deny"]),
                     "Action": rng.choice(["kms:*", "kms:Decrypt", ["kms:De*", "s3:*"], "kms:?ecrypt"]),
                     "Resource": rng.choice(["*", KEY, "arn:aws:kms:*:*:key/*", "arn:aws:kms:*:${aws:username}"])}
        if resource_based:
            statement["Principal"] = rng.choice(["*", {"AWS": ACCOUNT}, {"AWS": [USER]}, {"Service": "x.amazonaws.com"}])
        if rng.random() < 0.5:
            statement["Condition"] = {rng.choice(["StringLike", "Null", "ForAnyValue:StringLike", "Bool",
                                                  "NumericLessThan", "StringNotEqualsIfExists"]):
                                      {rng.choice(["kms:ViaService", "aws:username", "test:n"]):
                                       rng.choice(["dynamodb.*.amazonaws.com", "true", "5", ["a", "b*"]])}}
        if rng.random() < 0.3:
            statement[rng.choice(_KEYS[2:11])] = _random_value(rng, 2)
        statements.append(statement)
    if rng.random() < 0.1:
        return _random_value(rng, 0)
    return {"Version": rng.choice(["2012-10-17", "2008-10-17"]), "Statement": statements}


def _random_context(rng: random.Random) -> dict:
    context = {}
    for _ in range(rng.randint(0, 3)):
        key = rng.choice(["kms:ViaService", "test:n", "aws:SourceIp", "kms:EncryptionContext:t"])
        context[key] = rng.choice(["dynamodb.us-east-1.amazonaws.com", "3", 7, True, ["a", "b"], "10.0.0.1", ""])
    if rng.random() < 0.1:
        context[rng.choice(_KEYS)] = _random_value(rng, 3)
    return context


def test_fuzzed_policies_and_contexts_raise_only_value_errors():
    """2,000 random documents (valid ones with a random element now and then) and contexts (fixed seed): each call returns a Decision or raises a
    ValueError (MalformedPolicyError for documents); never TypeError, AttributeError, KeyError or
    RecursionError."""
    rng = random.Random(1214)
    outcomes = {"decision": 0, "refused": 0}
    for _ in range(2000):
        identity = _random_policy(rng, resource_based=False)
        key_policy = _random_policy(rng, resource_based=True)
        context = _random_context(rng)
        try:
            decision = evaluate(USER, "kms:Decrypt", KEY, identity_policies=[identity], resource_policy=key_policy,
                                context=context)
        except ValueError:
            outcomes["refused"] += 1
        else:
            assert decision.text()
            outcomes["decision"] += 1
    assert outcomes["decision"] > 50 and outcomes["refused"] > 50, outcomes


# ------------------------------------------------------------------------------------------------
# Every operator against hostile values, on both sides
# ------------------------------------------------------------------------------------------------

_HOSTILE_VALUES = ["1e99999", "nan", "-inf", "9" * 400, "99999999999999999999", "-99999999999999999999", "1e20",
                   "99999-01-01", "0001-01-01T00:00:00-23:59", "", " ", "true", "1.2.3.4/99", "::/0", "\x00", "💥",
                   "1" * 5000, 10**400, 1e308, True, "${aws:username}", "${", "}${x, 'y'}"]


def test_every_operator_reads_hostile_values_without_an_internal_exception():
    """Huge or odd numbers, dates no calendar has, epoch times out of range, broken variables: each
    clause answers true, false or "cannot evaluate", on the policy side and the request side alike.
    (Epoch seconds beyond the platform's range used to raise OverflowError.)"""
    from kmslab._conditions import OPERATORS, RequestContext, compile_condition

    request_values = ["99999999999999999999", "-1e400", "0001-01-01", "x", 10**400, ["1", "2"], [], "1.2.3.4"]
    for base in OPERATORS:
        for name in (base, f"ForAnyValue:{base}", f"ForAllValues:{base}IfExists"):
            for policy_value in _HOSTILE_VALUES:
                condition = compile_condition({name: {"test:k": policy_value}}, variables=True)
                for request_value in request_values:
                    result, _clause, _notes = condition.evaluate(
                        RequestContext({"test:k": request_value, "aws:username": request_value}))
                    assert result in (True, False, None)


@pytest.mark.parametrize("condition", [
    "StringEquals",
    {"StringEquals": "kms:ViaService"},
    {"StringEquals": {"kms:ViaService": {"nested": "object"}}},
    {"StringEquals": {"kms:ViaService": []}},
])
def test_check_policy_document_refuses_a_malformed_condition(condition):
    """IAM refuses a Condition that is not an object of operators, each an object of keys whose values
    are strings (or lists of them): "Syntax errors in policy." evaluate() reads the same clause as one
    it cannot evaluate, so a Deny carrying it is never dropped."""
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
         "Resource": "*", "Condition": condition}]}
    with pytest.raises(MalformedPolicyError) as caught:
        check_policy_document(document)
    assert caught.value.aws_message == "Syntax errors in policy."
    assert "statement 1" in caught.value.detail

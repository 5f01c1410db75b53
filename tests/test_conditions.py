"""The evaluator's primitives, tested directly: condition operators, wildcards, policy variables.

Each test names the AWS rule it follows. The rules are quoted from the IAM User Guide:
"Condition operators" (reference_policies_elements_condition_operators.html), "Creating a condition
with multiple keys or values" (reference_policies_multi-value-conditions.html), "Policy variables"
(reference_policies_variables.html) and "Resource" (reference_policies_elements_resource.html).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from kmslab._conditions import (
    OPERATORS,
    RequestContext,
    action_pattern,
    arn_like_pattern,
    compile_condition,
    is_not_modelled,
    parse_template,
    resource_pattern,
    string_like_pattern,
)


def check(block: dict, context: dict | None = None, *, variables: bool = True):
    """Evaluate a Condition block against a request context; returns True, False or None."""
    ctx = RequestContext({k.lower(): v for k, v in (context or {}).items()})
    result, _clause, _notes = compile_condition(block, variables=variables).evaluate(ctx)
    return result


def notes(block: dict, context: dict | None = None) -> tuple[str, ...]:
    ctx = RequestContext({k.lower(): v for k, v in (context or {}).items()})
    return compile_condition(block, variables=True).evaluate(ctx)[2]


def glob(text: str):
    return parse_template(text, variables=False).parts


# ------------------------------------------------------------------------------------------------
# The operator table
# ------------------------------------------------------------------------------------------------


def test_operator_table_lists_every_documented_base_operator():
    """The IAM guide's operator categories: string, numeric, date, boolean, binary, IP, ARN, Null."""
    documented = {
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
        "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
        "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
        "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
        "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals",
        "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
    }
    assert set(OPERATORS) == documented
    negated = {name for name, op in OPERATORS.items() if op.negated}
    assert negated == {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike",
                       "NumericNotEquals", "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike"}


# Each operator with a value that matches and one that does not (present key).
PRESENT_CASES = [
    ("StringEquals", "dynamodb", "dynamodb", True),
    ("StringEquals", "dynamodb", "DynamoDB", False),  # "Exact matching, case sensitive"
    ("StringNotEquals", "dynamodb", "s3", True),
    ("StringNotEquals", "dynamodb", "dynamodb", False),
    ("StringEqualsIgnoreCase", "DynamoDB", "dynamodb", True),  # "Exact matching, ignoring case"
    ("StringEqualsIgnoreCase", "DynamoDB", "dynamo", False),
    ("StringNotEqualsIgnoreCase", "DynamoDB", "dynamodb", False),
    ("StringNotEqualsIgnoreCase", "DynamoDB", "s3", True),
    ("StringLike", "dynamodb.*.amazonaws.com", "dynamodb.eu-west-1.amazonaws.com", True),
    ("StringLike", "dynamodb.*.amazonaws.com", "s3.eu-west-1.amazonaws.com", False),
    ("StringLike", "t?.micro", "t2.micro", True),  # "?" is one character
    ("StringLike", "t?.micro", "t22.micro", False),
    ("StringLike", "Music", "music", False),  # StringLike is case-sensitive
    ("StringNotLike", "dynamodb.*", "s3.us-east-1.amazonaws.com", True),
    ("StringNotLike", "dynamodb.*", "dynamodb.us-east-1.amazonaws.com", False),
    ("NumericEquals", "10", "10.0", True),
    ("NumericEquals", "10", 11, False),
    ("NumericNotEquals", "10", "11", True),
    ("NumericNotEquals", "10", "10", False),
    ("NumericLessThan", "10", "9", True),
    ("NumericLessThan", "10", "10", False),
    ("NumericLessThanEquals", "10", "10", True),
    ("NumericLessThanEquals", "10", "11", False),
    ("NumericGreaterThan", "10", "11", True),
    ("NumericGreaterThan", "10", "10", False),
    ("NumericGreaterThanEquals", "10", "10", True),
    ("NumericGreaterThanEquals", "10", "9.5", False),
    ("DateEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00+00:00", True),
    ("DateEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z", False),
    ("DateNotEquals", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", True),
    ("DateNotEquals", "2024-01-01T00:00:00Z", "1704067200", False),  # epoch time of the same instant
    ("DateLessThan", "2024-06-01T00:00:00Z", "2024-05-31T23:59:59Z", True),
    ("DateLessThan", "2024-06-01T00:00:00Z", "2024-06-01T00:00:00Z", False),
    ("DateLessThanEquals", "2024-06-01T00:00:00Z", "2024-06-01T00:00:00Z", True),
    ("DateLessThanEquals", "2024-06-01", "2024-06-01T00:00:01Z", False),
    ("DateGreaterThan", "1704067200", "2024-01-01T00:00:01Z", True),
    ("DateGreaterThan", "2024-01-01T00:00:00Z", "2023-12-31T23:59:59Z", False),
    ("DateGreaterThanEquals", "2024-01-01T00:00:00Z",
     datetime(2024, 1, 1, tzinfo=timezone.utc), True),
    ("DateGreaterThanEquals", "2024-01-01T00:00:00Z", "2023-01-01T00:00:00Z", False),
    ("Bool", "true", "true", True),
    ("Bool", "false", True, False),
    ("Bool", True, "TRUE", True),  # JSON true in the policy, a Python bool or text in the request
    ("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", b"BinaryValueInBase64", True),
    ("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", b"other", False),
    ("IpAddress", "203.0.113.0/24", "203.0.113.77", True),
    ("IpAddress", "203.0.113.0/24", "198.51.100.1", False),
    ("IpAddress", "203.0.113.5", "203.0.113.5", True),  # no prefix: /32
    ("IpAddress", "2001:DB8:1234:5678::/64", "2001:db8:1234:5678::1", True),
    ("IpAddress", "2001:DB8:1234:5678::/64", "203.0.113.5", False),
    ("NotIpAddress", "203.0.113.0/24", "198.51.100.1", True),
    ("NotIpAddress", "203.0.113.0/24", "203.0.113.1", False),
    ("ArnEquals", "arn:aws:sns:us-east-1:123456789012:topic", "arn:aws:sns:us-east-1:123456789012:topic", True),
    ("ArnEquals", "arn:aws:sns:*:123456789012:*", "arn:aws:sns:eu-west-1:123456789012:t", True),
    ("ArnLike", "arn:aws:sns:*:123456789012:*", "arn:aws:sns:eu-west-1:999999999999:t", False),
    ("ArnNotEquals", "arn:aws:sns:*:123456789012:*", "arn:aws:sns:eu-west-1:999999999999:t", True),
    ("ArnNotLike", "arn:aws:sns:*:123456789012:*", "arn:aws:sns:eu-west-1:123456789012:t", False),
]


@pytest.mark.parametrize(("operator", "policy_value", "request_value", "expected"), PRESENT_CASES,
                         ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(PRESENT_CASES)])
def test_each_operator_with_the_key_present(operator, policy_value, request_value, expected):
    """Each operator of the IAM guide's tables compares the request value with the policy value."""
    assert check({operator: {"test:key": policy_value}}, {"test:key": request_value}) is expected


ABSENT_CASES = [
    # "If the key ... is not present in the request context, the values do not match and the
    # condition is false. If the policy condition requires that the key is not matched, such as
    # StringNotLike or ArnNotLike, and the right key is not present, the condition is true."
    (name, "*" if name.startswith(("String", "Arn")) else value, OPERATORS[name].negated)
    for name, value in [
        ("StringEquals", "x"), ("StringNotEquals", "x"), ("StringEqualsIgnoreCase", "x"),
        ("StringNotEqualsIgnoreCase", "x"), ("StringLike", "x"), ("StringNotLike", "x"),
        ("NumericEquals", "1"), ("NumericNotEquals", "1"), ("NumericLessThan", "1"),
        ("NumericLessThanEquals", "1"), ("NumericGreaterThan", "1"),
        ("NumericGreaterThanEquals", "1"), ("DateEquals", "2024-01-01"),
        ("DateNotEquals", "2024-01-01"), ("DateLessThan", "2024-01-01"),
        ("DateLessThanEquals", "2024-01-01"), ("DateGreaterThan", "2024-01-01"),
        ("DateGreaterThanEquals", "2024-01-01"), ("Bool", "true"), ("BinaryEquals", "AA=="),
        ("IpAddress", "10.0.0.0/8"), ("NotIpAddress", "10.0.0.0/8"), ("ArnEquals", "x"),
        ("ArnLike", "x"), ("ArnNotEquals", "x"), ("ArnNotLike", "x"),
    ]
]


@pytest.mark.parametrize(("operator", "policy_value", "expected"), ABSENT_CASES,
                         ids=[c[0] for c in ABSENT_CASES])
def test_absent_key_matches_only_negated_operators(operator, policy_value, expected):
    """Absent key: a positive operator does not match; a negated one (…Not…) does."""
    assert check({operator: {"test:absent": policy_value}}, {"other:key": "1"}) is expected


@pytest.mark.parametrize("operator", [name for name in OPERATORS if name != "Null"])
def test_if_exists_on_an_absent_key_matches(operator):
    """"If the key is not present, evaluate the condition element as true" (…IfExists)."""
    value = {"Bool": "true", "BinaryEquals": "AA==", "IpAddress": "10.0.0.0/8",
             "NotIpAddress": "10.0.0.0/8"}.get(operator, "1" if operator.startswith(("Numeric",)) else
                                                  "2024-01-01" if operator.startswith("Date") else "x")
    assert check({operator + "IfExists": {"test:absent": value}}) is True


def test_if_exists_on_a_present_key_applies_the_operator():
    """"If the policy key is present in the context of the request, process the key as specified"."""
    block = {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}
    assert check(block, {"ec2:InstanceType": "t2.micro"}) is True
    assert check(block, {"ec2:InstanceType": "c5.large"}) is False


def test_negated_if_exists_with_absent_key_still_matches_for_deny():
    """"If you are using an Effect: Deny element with a negated condition operator like
    StringNotEqualsIfExists, the request is still denied even if the tag is missing.\""""
    assert check({"StringNotEqualsIfExists": {"aws:RequestTag/team": "blue"}}) is True


@pytest.mark.parametrize(("value", "present", "expected"), [
    ("true", False, True), ("true", True, False), ("false", True, True), ("false", False, False),
])
def test_null_checks_presence(value, present, expected):
    """Null: "true (the key doesn't exist — it is null) or false (the key exists...)"."""
    context = {"aws:RequestTag/owner": "alice"} if present else {}
    assert check({"Null": {"aws:RequestTag/owner": value}}, context) is expected


def test_null_on_a_key_kmslab_does_not_model_cannot_be_evaluated():
    """aws:TokenIssueTime exists only for temporary credentials, which kmslab cannot see from an ARN."""
    assert check({"Null": {"aws:TokenIssueTime": "true"}}) is None
    assert check({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "2024-01-01"}) is False


def test_null_if_exists_cannot_be_evaluated():
    """"You can add IfExists to the end of any condition operator name except the Null condition"."""
    assert check({"NullIfExists": {"aws:TokenIssueTime": "true"}}) is None
    assert "Null" in notes({"NullIfExists": {"aws:TokenIssueTime": "true"}})[0]


# ------------------------------------------------------------------------------------------------
# Several values, several keys, several operators
# ------------------------------------------------------------------------------------------------


def test_several_values_for_one_key_are_ored():
    """Several values of one key: the condition matches if the request value matches any (OR)."""
    block = {"StringEquals": {"aws:username": ["alice", "bob"]}}
    assert check(block, {"aws:username": "bob"}) is True
    assert check(block, {"aws:username": "carol"}) is False


def test_several_values_for_a_negated_operator_must_all_miss():
    """Negated operator with several values: the request value must match none of them (NOR)."""
    block = {"StringNotEquals": {"aws:username": ["alice", "bob"]}}
    assert check(block, {"aws:username": "carol"}) is True
    assert check(block, {"aws:username": "bob"}) is False


def test_several_keys_in_one_operator_are_anded():
    """Several keys under one operator must all match (AND): the aws/dynamodb key policy shape."""
    block = {"StringEquals": {"kms:CallerAccount": "111122223333",
                              "kms:ViaService": "dynamodb.us-west-2.amazonaws.com"}}
    both = {"kms:CallerAccount": "111122223333", "kms:ViaService": "dynamodb.us-west-2.amazonaws.com"}
    assert check(block, both) is True
    assert check(block, {**both, "kms:CallerAccount": "444455556666"}) is False
    assert check(block, {"kms:CallerAccount": "111122223333"}) is False


def test_several_operators_are_anded():
    """Several operators in one Condition element must all match (AND)."""
    block = {"StringEquals": {"aws:username": "alice"}, "Bool": {"aws:SecureTransport": "true"}}
    assert check(block, {"aws:username": "alice", "aws:SecureTransport": "true"}) is True
    assert check(block, {"aws:username": "alice", "aws:SecureTransport": "false"}) is False


def test_condition_keys_are_case_insensitive_values_are_not():
    """"Key names are case-insensitive"; string values compare case-sensitively."""
    assert check({"StringEquals": {"AWS:UserName": "alice"}}, {"aws:username": "alice"}) is True
    assert check({"StringEquals": {"aws:username": "Alice"}}, {"AWS:USERNAME": "alice"}) is False


# ------------------------------------------------------------------------------------------------
# Set operators
# ------------------------------------------------------------------------------------------------

ALLOWED_ATTRIBUTES = {"ForAllValues:StringLike": {"dynamodb:requestedAttributes": [
    "PostDateTime", "Message", "Tags"]}}
FORBIDDEN_ATTRIBUTES = {"ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}}


def test_for_all_values_requires_every_request_value_to_match():
    """ForAllValues: "true if there's a match between every one of the specified key values in the
    request and at least one value in the policy" (the guide's Thread table example)."""
    assert check(ALLOWED_ATTRIBUTES, {"dynamodb:requestedAttributes": ["PostDateTime", "Message"]}) is True
    assert check(ALLOWED_ATTRIBUTES, {"dynamodb:requestedAttributes": ["PostDateTime", "UserName"]}) is False


def test_for_any_value_requires_one_request_value_to_match():
    """ForAnyValue: "true if any one of the key values in the request matches any one of the condition
    values in the policy"."""
    ctx = {"dynamodb:requestedAttributes": ["UserName", "Message", "PostDateTime"]}
    assert check(FORBIDDEN_ATTRIBUTES, ctx) is True
    assert check(FORBIDDEN_ATTRIBUTES, {"dynamodb:requestedAttributes": ["UserName"]}) is False


@pytest.mark.parametrize("request_value", [None, []], ids=["absent", "empty"])
def test_set_operators_on_an_absent_or_empty_key(request_value):
    """"If the key values in the request resolve to an empty data set ..., ForAllValues returns true,
    and ForAnyValue returns false"; likewise for an absent key."""
    context = {} if request_value is None else {"dynamodb:requestedAttributes": request_value}
    assert check(ALLOWED_ATTRIBUTES, context) is True
    assert check(FORBIDDEN_ATTRIBUTES, context) is False
    # A negated operator does not change the set-operator rule for an absent key.
    assert check({"ForAnyValue:StringNotEquals": {"dynamodb:requestedAttributes": "ID"}}, context) is False
    assert check({"ForAllValues:StringNotEquals": {"dynamodb:requestedAttributes": "ID"}}, context) is True


def test_if_exists_comes_before_the_set_operator_rule_for_an_absent_key():
    """…IfExists: "If the key is not present, evaluate the condition element as true" — also with
    ForAnyValue, which would otherwise be false for an absent key."""
    assert check({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "team"}}) is True
    assert check({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "team"}}, {"aws:TagKeys": ["env"]}) is False


def test_set_operator_with_negated_operator_tests_each_request_value_against_all_policy_values():
    """ForAllValues:StringNotEquals: every request value must differ from every policy value."""
    block = {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret", "owner"]}}
    assert check(block, {"aws:TagKeys": ["team", "env"]}) is True
    assert check(block, {"aws:TagKeys": ["team", "owner"]}) is False
    any_block = {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["secret", "owner"]}}
    assert check(any_block, {"aws:TagKeys": ["owner", "team"]}) is True
    assert check(any_block, {"aws:TagKeys": ["owner"]}) is False


def test_single_valued_operator_on_a_multivalued_request_key_cannot_be_evaluated():
    """"Multivalued context keys require a condition set operator"; AWS does not say what happens
    without one, so kmslab refuses to guess."""
    block = {"StringEquals": {"kms:EncryptionContextKeys": "aws:dynamodb:tableName"}}
    ctx = {"kms:EncryptionContextKeys": ["aws:dynamodb:tableName", "aws:dynamodb:subscriberId"]}
    assert check(block, ctx) is None
    assert "ForAnyValue" in notes(block, ctx)[0]
    # One value in a list is a single value.
    assert check(block, {"kms:EncryptionContextKeys": ["aws:dynamodb:tableName"]}) is True


# ------------------------------------------------------------------------------------------------
# Cannot evaluate: unknown operators, malformed blocks, keys kmslab does not model
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [
    {"StringEqualsAnything": {"aws:username": "x"}},
    {"stringequals": {"aws:username": "x"}},
    {"ForSomeValues:StringEquals": {"aws:username": "x"}},
], ids=["unknown", "wrong-case", "unknown-set-operator"])
def test_unknown_operator_cannot_be_evaluated_and_is_named(block):
    """An operator outside the table is never silently true or false."""
    assert check(block, {"aws:username": "x"}) is None
    (note,) = notes(block, {"aws:username": "x"})
    assert next(iter(block)) in note and "unknown condition operator" in note


@pytest.mark.parametrize("block", [
    "not an object", {}, {"StringEquals": "aws:username"}, {"StringEquals": {}},
    {"StringEquals": {"aws:username": {"nested": "object"}}}, {"StringEquals": {"aws:username": []}},
    {"NumericEquals": {"s3:max-keys": "ten"}}, {"IpAddress": {"aws:SourceIp": "not-an-ip"}},
    {"DateLessThan": {"aws:CurrentTime": "yesterday"}}, {"Bool": {"aws:SecureTransport": "yes"}},
    {"BinaryEquals": {"test:key": "***"}},
], ids=["string", "empty", "keys-not-object", "no-keys", "nested-value", "no-values", "numeric",
        "ip", "date", "bool", "base64"])
def test_malformed_condition_cannot_be_evaluated(block):
    """A malformed Condition element (or a value AWS would refuse) yields cannot-evaluate."""
    context = {"aws:username": "x", "s3:max-keys": "10", "aws:SourceIp": "10.0.0.1",
               "aws:CurrentTime": "2024-01-01T00:00:00Z", "aws:SecureTransport": "true", "test:key": b"x"}
    assert check(block, context) is None


def test_request_value_of_the_wrong_type_cannot_be_evaluated():
    assert check({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "many"}) is None


def test_not_modelled_key_absent_cannot_be_evaluated_but_given_it_is_used():
    """aws:SecureTransport is always present in AWS; kmslab does not see the transport, so it cannot
    treat the key as absent. Given in the context, it is evaluated normally."""
    block = {"Bool": {"aws:SecureTransport": "false"}}
    assert is_not_modelled("aws:securetransport")
    assert check(block) is None
    assert "aws:SecureTransport" in notes(block)[0]
    assert check(block, {"aws:SecureTransport": False}) is True
    assert check(block, {"aws:SecureTransport": "true"}) is False
    # Prefix families: tags are not modelled either.
    assert check({"StringEquals": {"aws:PrincipalTag/team": "blue"}}) is None


def test_unknown_but_ordinary_key_that_is_absent_is_simply_absent():
    """An absent key is absent: "the values do not match and the condition is false" — not a refusal."""
    assert check({"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}) is False
    assert check({"StringEquals": {"myapp:SomethingNew": "x"}}) is False


def test_one_false_clause_decides_even_beside_an_unevaluable_one():
    """Kleene AND: a definitely false clause makes the block false whatever the unknown one says."""
    block = {"StringEquals": {"aws:username": "alice"}, "Bogus": {"aws:username": "x"}}
    assert check(block, {"aws:username": "bob"}) is False
    assert check(block, {"aws:username": "alice"}) is None


def test_current_time_is_always_present():
    """aws:CurrentTime is in every request; kmslab reads the clock when the caller does not give it."""
    assert check({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}) is True
    assert check({"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
                 {"aws:CurrentTime": "2019-06-01T00:00:00Z"}) is True
    assert check({"NumericGreaterThan": {"aws:EpochTime": "1577836800"}}) is True


# ------------------------------------------------------------------------------------------------
# Policy variables
# ------------------------------------------------------------------------------------------------


def test_policy_variable_in_a_string_condition_is_substituted():
    """"You can use a policy variable for Condition values in any condition that involves the string
    operators or the ARN operators\""""
    block = {"StringLike": {"s3:prefix": "home/${aws:username}/*"}}
    assert check(block, {"aws:username": "alice", "s3:prefix": "home/alice/photos"}) is True
    assert check(block, {"aws:username": "bob", "s3:prefix": "home/alice/photos"}) is False


def test_policy_variable_in_an_arn_condition_is_substituted():
    block = {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:${aws:PrincipalAccount}:topic"}}
    assert check(block, {"aws:PrincipalAccount": "123456789012",
                         "aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic"}) is True


def test_policy_variable_with_absent_key_makes_the_value_match_nothing():
    """[INFERRED from "not present ... any attempt to match it fails"]: that value matches nothing."""
    block = {"StringEquals": {"aws:username": "${aws:PrincipalAccount}"}}
    assert check(block, {"aws:username": "alice"}) is False
    # For a negated operator the unresolved value excludes nothing.
    assert check({"StringNotEquals": {"aws:username": "${aws:PrincipalAccount}"}},
                 {"aws:username": "alice"}) is True


def test_policy_variable_default_value():
    """"${aws:userid, 'anonymous'}": the default is used when the key is absent."""
    block = {"StringEquals": {"test:owner": "${aws:userid, 'anonymous'}"}}
    assert check(block, {"test:owner": "anonymous"}) is True
    assert check(block, {"test:owner": "anonymous", "aws:userid": "AIDAEXAMPLE"}) is False


def test_special_character_variables_are_literal():
    """${*}, ${?} and ${$} stand for literal characters, not wildcards."""
    block = {"StringLike": {"test:name": "report${*}${?}${$}"}}
    assert check(block, {"test:name": "report*?$"}) is True
    assert check(block, {"test:name": "reportXY$"}) is False


def test_substituted_value_is_literal_text_not_a_wildcard():
    """[INFERRED]: a * inside a user's name must not turn into a wildcard."""
    block = {"StringLike": {"test:path": "home/${aws:username}"}}
    assert check(block, {"aws:username": "a*", "test:path": "home/a*"}) is True
    assert check(block, {"aws:username": "a*", "test:path": "home/abc"}) is False


def test_variables_are_literal_in_2008_policies():
    """"If you don't include the Version element and set it to an appropriate version date, variables
    like ${aws:username} are treated as literal strings in the policy.\""""
    block = {"StringEquals": {"test:value": "${aws:username}"}}
    assert check(block, {"aws:username": "alice", "test:value": "alice"}, variables=False) is False
    assert check(block, {"aws:username": "alice", "test:value": "${aws:username}"}, variables=False) is True


def test_variables_are_not_substituted_in_numeric_operators():
    """"You can not use a policy variable with the Numeric condition operator.\""""
    assert check({"NumericEquals": {"s3:max-keys": "${aws:username}"}},
                 {"s3:max-keys": "10", "aws:username": "10"}) is None


def test_multivalued_key_as_a_variable_cannot_be_evaluated():
    """"You can use any available single-valued context key as a policy variable, but not multivalued\"."""
    block = {"StringEquals": {"test:x": "${aws:TagKeys}"}}
    assert check(block, {"aws:TagKeys": ["a", "b"], "test:x": "a"}) is None


def test_variable_in_resource_is_only_recognised_after_the_fifth_colon():
    """"You can use a policy variable in the Resource element, but only in the resource portion of the
    ARN. This portion of the ARN appears after the fifth colon.\""""
    template = parse_template("arn:aws:s3:::bucket/${aws:username}/*", variables=True, resource=True)
    assert template.has_variables
    early = parse_template("arn:aws:sqs:${aws:region}:123456789012:q", variables=True, resource=True)
    assert not early.has_variables


# ------------------------------------------------------------------------------------------------
# Wildcards in Action, Resource and ARN conditions
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "action", "expected"), [
    ("kms:*", "kms:decrypt", True),
    ("kms:Describe*", "kms:describekey", True),
    ("kms:ReEncrypt*", "kms:reencryptfrom", True),
    ("kms:Get?eyPolicy", "kms:getkeypolicy", True),
    ("kms:Get?eyPolicy", "kms:getkkeypolicy", False),
    ("iam:*AccessKey*", "iam:createaccesskey", True),
    ("dynamodb:*", "kms:decrypt", False),
])
def test_action_wildcards(pattern, action, expected):
    """Actions: "*" for any characters, "?" for one; matched on lower-cased actions."""
    assert action_pattern(pattern).matches(action) is expected


@pytest.mark.parametrize(("pattern", "resource", "expected"), [
    ("arn:aws:iam::123456789012:user/accounting/*", "arn:aws:iam::123456789012:user/accounting/bob", True),
    ("arn:aws:iam::123456789012:user/Bob", "arn:aws:iam::123456789012:user/bob", False),  # case-sensitive
    ("arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", "arn:aws:s3:::amzn-s3-demo-bucket/1/2/test/3/object.jpg", True),
    ("arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", "arn:aws:s3:::amzn-s3-demo-bucket/1-test/object.jpg", False),
    ("arn:aws:kms:*:123456789012:key/*", "arn:aws:kms:eu-west-1:123456789012:key/abc", True),
    ("arn:aws:kms:us-*-1:123456789012:key/*", "arn:aws:kms:us-east-1:123456789012:key/abc", True),
    # "If the * wildcard is the last character of a resource ARN segment, it can expand to match
    # beyond the colon boundaries."
    ("arn:aws:kms:*", "arn:aws:kms:us-east-1:123456789012:key/abc", True),
    # A * that is not last in its segment stays inside the segment.
    ("arn:aws:kms:us*1:123456789012:key/abc", "arn:aws:kms:us-east-1:999:1:123456789012:key/abc", False),
    ("arn:aws:s3:::example?bucket/*", "arn:aws:s3:::example1bucket/key", True),
    ("*", "arn:aws:dynamodb:us-east-1:123456789012:table/Music", True),
])
def test_resource_wildcards(pattern, resource, expected):
    """The Resource element: wildcards within ARN segments; the resource part may contain colons."""
    assert resource_pattern(glob(pattern)).matches(resource) is expected


def test_arn_like_checks_each_component_separately():
    """The guide's example: StringLike matches, ArnLike does not, because "the first asterisk matches
    only us-east-2 and fails on 999999999999:store/abc:"."""
    pattern = glob("arn:aws:someservice:*:111122223333:finance/*")
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    assert string_like_pattern(pattern).matches(value)
    assert not arn_like_pattern(pattern).matches(value)
    assert arn_like_pattern(pattern).matches("arn:aws:someservice:us-east-2:111122223333:finance/a:b")


def test_arn_like_bare_star_matches_any_value():
    """[INFERRED] "*" alone in ArnLike means any ARN, as it does everywhere else in a policy."""
    assert check({"ArnLike": {"aws:SourceArn": "*"}}, {"aws:SourceArn": "arn:aws:sns:us-east-1:1:t"}) is True

"""Differential test: kmslab's evaluator agrees with moto's own IAM policy check where moto is right.

moto's ``moto.iam.access_control.IAMPolicy(document).is_action_permitted(action)`` answers
``PermissionResult.PERMITTED``, ``DENIED`` or ``NEUTRAL`` for one identity-based policy, checking the
action against resource ``"*"``; ``IAMRequestBase.check_action_permitted`` combines several policies:
any DENIED denies, otherwise any PERMITTED permits. That is the IAM rule "an explicit deny in any
policy overrides any allows; otherwise the request is implicitly denied unless something allows it".

moto's check is only faithful for statements with ``Resource: "*"`` and no ``Condition`` (it ignores
resource-level ARNs when checking "*", and treats an Allow whose condition fails as a DENY). So the
AWS managed policies are filtered to those statements, and the actions are spelled with AWS's own
capitalisation, because moto matches actions case-sensitively where IAM does not.
"""

from __future__ import annotations

import itertools
import json

import botocore.session
import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.aws_managed_policies import aws_managed_policies_data

from kmslab._evaluator import evaluate

MANAGED = json.loads(aws_managed_policies_data)
USER = "arn:aws:iam::123456789012:user/dynamo_test_user"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/Music"


def unconditional_star_statements(name: str) -> dict:
    """The managed policy's statements that have Resource "*" and no Condition."""
    document = MANAGED[name]["Document"]
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    kept = [s for s in statements if s.get("Resource") in ("*", ["*"]) and "Condition" not in s]
    assert kept, name
    return {"Version": document.get("Version", "2012-10-17"), "Statement": kept}


POLICIES = {
    name: unconditional_star_statements(name)
    for name in ("AmazonDynamoDBFullAccess", "AdministratorAccess", "AmazonDynamoDBReadOnlyAccess",
                 "IAMReadOnlyAccess", "IAMFullAccess", "PowerUserAccess")
}
POLICIES["DenyDynamoDBWrites"] = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": ["dynamodb:Put*", "dynamodb:Delete*", "dynamodb:Update*",
                                  "dynamodb:BatchWriteItem"], "Resource": "*"}]}
POLICIES["DenyAllButDynamoDBReads"] = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "NotAction": ["dynamodb:Get*", "dynamodb:Describe*", "dynamodb:List*",
                                     "dynamodb:Query", "dynamodb:Scan", "iam:Get*", "iam:List*"],
     "Resource": "*"}]}
POLICIES["AllowAllButIAM"] = {"Version": "2012-10-17", "Statement": {
    "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}
POLICIES["DenyIAMUsers"] = {"Version": "2012-10-17", "Statement": [
    {"Sid": "NoUserChanges", "Effect": "Deny", "Action": ["iam:*User*", "iam:*AccessKey*"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["iam:List*", "dax:Describe*"], "Resource": "*"}]}

COMBINATIONS = [
    ("AmazonDynamoDBFullAccess",),
    ("AdministratorAccess",),
    ("AmazonDynamoDBReadOnlyAccess",),
    ("PowerUserAccess",),
    ("IAMReadOnlyAccess", "AmazonDynamoDBReadOnlyAccess"),
    ("AmazonDynamoDBFullAccess", "DenyDynamoDBWrites"),
    ("AdministratorAccess", "DenyAllButDynamoDBReads"),
    ("AdministratorAccess", "DenyIAMUsers"),
    ("IAMFullAccess", "DenyIAMUsers"),
    ("AllowAllButIAM",),
    ("AllowAllButIAM", "IAMReadOnlyAccess", "DenyDynamoDBWrites"),
    ("DenyDynamoDBWrites",),
    (),
]


def _operations(service: str) -> list[str]:
    model = botocore.session.get_session().get_service_model(service)
    return [f"{service}:{name}" for name in model.operation_names]


ACTIONS = _operations("dynamodb") + _operations("iam") + _operations("dax")
KMS_ACTIONS_WITHOUT_A_KEY = ["kms:ListAliases", "kms:ListKeys", "kms:CreateKey", "kms:GenerateRandom"]


def moto_verdict(names: tuple[str, ...], action: str) -> PermissionResult:
    """moto's combination of several policies, as in IAMRequestBase.check_action_permitted."""
    permitted = False
    for name in names:
        result = IAMPolicy(json.dumps(POLICIES[name])).is_action_permitted(action)
        if result == PermissionResult.DENIED:
            return PermissionResult.DENIED
        permitted = permitted or result == PermissionResult.PERMITTED
    return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL


EXPECTED_REASON = {
    PermissionResult.PERMITTED: "ALLOWED",
    PermissionResult.DENIED: "EXPLICIT_DENY",
    PermissionResult.NEUTRAL: "NO_IDENTITY_ALLOW",
}


def test_the_action_list_is_large():
    assert len(ACTIONS) > 200


@pytest.mark.parametrize("names", COMBINATIONS, ids=["+".join(c) or "no-policy" for c in COMBINATIONS])
def test_evaluator_agrees_with_moto(names):
    """Identity-based policies only, Resource "*", no conditions: the same three outcomes as moto."""
    policies = [(name, POLICIES[name]) for name in names]
    disagreements = []
    cases = itertools.chain(
        ((action, resource) for action in ACTIONS for resource in ("*", TABLE)),
        ((action, "*") for action in KMS_ACTIONS_WITHOUT_A_KEY),
    )
    for action, resource in cases:
        expected = EXPECTED_REASON[moto_verdict(names, action)]
        decision = evaluate(USER, action, resource, identity_policies=policies)
        if decision.reason != expected or decision.allowed != (expected == "ALLOWED"):
            disagreements.append((action, resource, expected, decision.reason))
    assert not disagreements, disagreements[:10]


def test_the_matrix_exercises_all_three_outcomes():
    """A differential test where moto always says the same thing would test little."""
    outcomes = {moto_verdict(names, action) for names in COMBINATIONS for action in ACTIONS}
    assert outcomes == set(PermissionResult)

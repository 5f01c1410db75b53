"""Permissions boundaries and session policies, in AWS's documented order (issue 14 item 2, stretch).

IAM User Guide, "Permissions boundaries for IAM entities": a boundary "sets the maximum permissions that
an identity-based policy can grant to an IAM entity"; "an entity's permissions boundary allows it to
perform only the actions that are allowed by both its identity-based policies and its permissions
boundaries". Resource-based policies: "Within the same account, resource-based policies that grant
permissions to an IAM user ARN ... are not limited by an implicit deny in an identity-based policy or
permissions boundary"; those that name an IAM role are. IAM User Guide, "Session policies": the session's
permissions "are the intersection of the identity-based policies for the IAM entity ... and the session
policies"; a resource-based policy that names the session ARN directly is not limited by the session
policy, one that names the role ARN is. "Policy evaluation logic": an explicit deny in a boundary or a
session policy is an explicit deny; the order is deny, resource-based, identity-based, boundary, session.
"""

from __future__ import annotations

import pytest

from kmslab import evaluate

ACCOUNT = "123456789012"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/reader"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/alice-session"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Music"
OBJECT = "arn:aws:s3:::lab-bucket/report.csv"
DEFAULT_KEY_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
     "Resource": "*"}]}


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str, resource: str = "*") -> dict:
    return policy({"Effect": "Allow", "Action": action, "Resource": resource})


ADMIN = ("AdministratorAccess", allow("*"))
DYNAMODB_ONLY = ("DynamoDBOnlyBoundary", allow("dynamodb:*"))


def test_boundary_caps_an_identity_allow():
    """Only what both the identity-based policies and the boundary allow."""
    denied = evaluate(USER, "kms:Decrypt", KEY, identity_policies=[ADMIN], resource_policy=DEFAULT_KEY_POLICY,
                      permissions_boundary=DYNAMODB_ONLY)
    assert not denied.allowed and denied.reason == "BOUNDARY_DOES_NOT_ALLOW"
    assert denied.message == (f"User: {USER} is not authorized to perform: kms:Decrypt on resource: {KEY} "
                              f"because no permissions boundary allows the kms:Decrypt action")
    locks = {lock.name: lock.state for lock in denied.locks}
    assert locks["IAM policies"] == "open" and locks["permissions boundary"] == "closed"
    assert [step.title for step in denied.steps][:5] == ["Explicit deny", "Key policy", "IAM policies",
                                                         "Permissions boundary", "Grants"]
    allowed = evaluate(USER, "dynamodb:Scan", TABLE, identity_policies=[ADMIN], permissions_boundary=DYNAMODB_ONLY)
    assert allowed.allowed and allowed.reason == "ALLOWED"


def test_boundary_grants_nothing_by_itself():
    """"A permissions boundary does not grant permissions on its own.\""""
    decision = evaluate(USER, "dynamodb:Scan", TABLE, permissions_boundary=DYNAMODB_ONLY)
    assert decision.reason == "NO_IDENTITY_ALLOW"


def test_deny_in_a_boundary_is_an_explicit_deny():
    boundary = ("NoDeletes", policy({"Effect": "Allow", "Action": "*", "Resource": "*"},
                                    {"Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}))
    decision = evaluate(USER, "kms:ScheduleKeyDeletion", KEY, identity_policies=[ADMIN],
                        resource_policy=DEFAULT_KEY_POLICY, permissions_boundary=boundary)
    assert decision.reason == "EXPLICIT_DENY"
    assert decision.message.endswith("with an explicit deny in a permissions boundary")


def test_resource_policy_naming_the_user_is_not_capped_by_the_boundary():
    """Same account: a resource-based allow to the IAM user ARN is not limited by the boundary (a bucket
    policy, and a key policy that names the user)."""
    bucket_policy = policy({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "s3:GetObject",
                            "Resource": OBJECT})
    decision = evaluate(USER, "s3:GetObject", OBJECT, resource_policy=bucket_policy,
                        permissions_boundary=DYNAMODB_ONLY)
    assert decision.allowed and decision.reason == "ALLOWED_BY_RESOURCE_POLICY"
    key_policy = policy({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "kms:Decrypt", "Resource": "*"})
    decision = evaluate(USER, "kms:Decrypt", KEY, resource_policy=key_policy, permissions_boundary=DYNAMODB_ONLY)
    assert decision.allowed and decision.reason == "ALLOWED_BY_KEY_POLICY"


def test_resource_policy_naming_the_role_is_capped_for_its_session():
    """A resource-based allow to the role ARN is limited by the role's boundary; to the session ARN it
    is not."""
    to_role = policy({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": OBJECT})
    capped = evaluate(SESSION, "s3:GetObject", OBJECT, resource_policy=to_role, permissions_boundary=DYNAMODB_ONLY)
    assert capped.reason == "BOUNDARY_DOES_NOT_ALLOW"
    to_session = policy({"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": "s3:GetObject",
                         "Resource": OBJECT})
    free = evaluate(SESSION, "s3:GetObject", OBJECT, resource_policy=to_session, permissions_boundary=DYNAMODB_ONLY)
    assert free.allowed


def test_session_policy_caps_the_role():
    """The session has the intersection of the role's policies and its session policies."""
    session_policy = ("passed at AssumeRole", allow("kms:Decrypt", KEY))
    scan = evaluate(SESSION, "dynamodb:Scan", TABLE, identity_policies=[ADMIN], session_policies=[session_policy])
    assert scan.reason == "SESSION_POLICY_DOES_NOT_ALLOW"
    assert scan.message.endswith("because no session policy allows the dynamodb:Scan action")
    assert any(lock.name == "session policies" and lock.state == "closed" for lock in scan.locks)
    decrypt = evaluate(SESSION, "kms:Decrypt", KEY, identity_policies=[ADMIN], resource_policy=DEFAULT_KEY_POLICY,
                       session_policies=[session_policy])
    assert decrypt.allowed and decrypt.reason == "ALLOWED"


def test_several_session_policies_are_combined():
    """An inline session policy and managed session policies (PolicyArns) together: an allow in any."""
    decision = evaluate(SESSION, "dynamodb:Scan", TABLE, identity_policies=[ADMIN],
                        session_policies=[allow("kms:Decrypt"), allow("dynamodb:Scan")])
    assert decision.allowed


def test_session_policy_does_not_cap_a_resource_policy_naming_the_session():
    to_session = policy({"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": "s3:GetObject",
                         "Resource": OBJECT})
    to_role = policy({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": OBJECT})
    narrow = [allow("kms:Decrypt")]
    assert evaluate(SESSION, "s3:GetObject", OBJECT, resource_policy=to_session, session_policies=narrow).allowed
    assert evaluate(SESSION, "s3:GetObject", OBJECT, resource_policy=to_role,
                    session_policies=narrow).reason == "SESSION_POLICY_DOES_NOT_ALLOW"


def test_deny_in_a_session_policy_is_an_explicit_deny():
    session_policy = policy({"Effect": "Allow", "Action": "*", "Resource": "*"},
                            {"Effect": "Deny", "Action": "dynamodb:DeleteTable", "Resource": "*"})
    decision = evaluate(SESSION, "dynamodb:DeleteTable", TABLE, identity_policies=[ADMIN],
                        session_policies=[session_policy])
    assert decision.reason == "EXPLICIT_DENY"
    assert decision.message.endswith("with an explicit deny in a session policy")


def test_grants_are_not_capped():
    """[CHOICE] A KMS grant allows on its own ("A grant can allow access to a KMS key"); AWS documents
    boundaries and session policies as limits on identity-based permissions, not on grants."""
    grant = {"GrantId": "g", "KeyId": KEY, "GranteePrincipal": USER, "Operations": ["Decrypt"]}
    decision = evaluate(USER, "kms:Decrypt", KEY, resource_policy=DEFAULT_KEY_POLICY, grants=[grant],
                        permissions_boundary=DYNAMODB_ONLY)
    assert decision.allowed and decision.reason == "ALLOWED_BY_GRANT"


@pytest.mark.parametrize(("principal", "kwargs", "message"), [
    (USER, {"session_policies": [allow("*")]}, "no session policies"),
    (f"arn:aws:iam::{ACCOUNT}:root", {"permissions_boundary": allow("*")}, "cannot have a permissions boundary"),
])
def test_guardrails_only_where_aws_has_them(principal, kwargs, message):
    """Boundaries exist for IAM users and roles; session policies only for sessions."""
    with pytest.raises(ValueError, match=message):
        evaluate(principal, "s3:GetObject", OBJECT, **kwargs)

"""An organization's guardrails: service control policies and resource control policies.

The rules (IAM User Guide, "Policy evaluation logic" and its deny/allow flow; AWS Organizations User Guide,
"Service control policies" and "Resource control policies"): an explicit deny in an SCP or RCP is an
explicit deny; otherwise, at every level of the organization (root, OUs, account) some attached policy must
allow, RCPs checked before SCPs; neither grants anything; the management account is not affected.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from test_enforcement import build_seed_world

from kmslab import Lab, evaluate
from kmslab._directory import MANAGEMENT_ACCOUNT, organization_policies

ACCOUNT = "123456789012"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/admin/s1"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
KEY_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}]}
RCP_EVERYTHING = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/break-glass"
NO_KEY_DELETION = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
    "Condition": {"ArnNotLike": {"aws:PrincipalArn": BREAK_GLASS}}}]}


def levels(*extra_at_root, account=(("FullAWSAccess", EVERYTHING),)) -> dict:
    return {"root": [("FullAWSAccess", EVERYTHING), *extra_at_root], f"account {ACCOUNT}": list(account)}


def decide(action="kms:ScheduleKeyDeletion", principal_arn=f"arn:aws:iam::{ACCOUNT}:role/admin", **kwargs):
    return evaluate(SESSION, action, KEY, identity_policies=[EVERYTHING], resource_policy=KEY_POLICY,
                    context={"aws:PrincipalArn": principal_arn}, **kwargs)


# -- the evaluator -------------------------------------------------------------------------------------

def test_an_scp_deny_is_an_explicit_deny_whatever_the_accounts_policies_say():
    """Deny evaluation: an explicit deny in an SCP overrides every allow (identity, key policy)."""
    decision = decide(service_control_policies=levels(("no-key-deletion", NO_KEY_DELETION)))
    assert decision.reason == "EXPLICIT_DENY"
    assert decision.message.endswith("with an explicit deny in a service control policy")
    lock = next(lock for lock in decision.locks if lock.name == "service control policies")
    assert lock.state == "closed" and "no-key-deletion" in lock.why.lower()


def test_the_scp_exception_lets_only_the_break_glass_role_through():
    """The SCP's condition on aws:PrincipalArn exempts one role; the account's own policies then decide."""
    decision = decide(principal_arn=BREAK_GLASS,
                      service_control_policies=levels(("no-key-deletion", NO_KEY_DELETION)))
    assert decision.allowed and decision.reason == "ALLOWED"


def test_every_level_must_allow():
    """SCP inheritance: a request must be allowed at the root and at every OU and account below it. The
    account's only SCP allows DynamoDB, so a KMS action is refused although the root allows everything."""
    dynamodb_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}
    decision = decide("kms:DescribeKey", service_control_policies=levels(account=[("dynamodb-only", dynamodb_only)]))
    assert decision.reason == "SCP_DOES_NOT_ALLOW"
    assert decision.message.endswith("because no service control policy allows the kms:DescribeKey action")
    assert "attached at account 123456789012" in decision.text()


def test_an_scp_grants_nothing_itself():
    """SCPs "never grant permissions": FullAWSAccess everywhere, and no identity-based allow, is a denial."""
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Music"
    decision = evaluate(SESSION, "dynamodb:Scan", table, service_control_policies=levels())
    assert decision.reason == "NO_IDENTITY_ALLOW"


def test_an_scp_restricts_the_member_accounts_root_user():
    """SCPs affect every principal of a member account, its root user included."""
    root = f"arn:aws:iam::{ACCOUNT}:root"
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Music"
    deny_scan = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "dynamodb:Scan", "Resource": "*"}]}
    assert evaluate(root, "dynamodb:Scan", table).allowed
    assert evaluate(root, "dynamodb:Scan", table,
                    service_control_policies=levels(("deny-scan", deny_scan))).reason == "EXPLICIT_DENY"


def test_scps_do_not_restrict_aws_service_principals():
    """SCPs affect only principals managed by the organization's accounts, not AWS services."""
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "dynamodb.amazonaws.com"},
                                                      "Action": "kms:Decrypt", "Resource": "*"}]}
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    decision = evaluate("dynamodb.amazonaws.com", "kms:Decrypt", KEY, resource_policy=policy,
                        service_control_policies=levels(("deny-all", deny)))
    assert decision.allowed


def test_an_rcp_deny_closes_the_resource_to_everyone():
    """RCPs limit what anyone may do to a member account's resources: a deny with Principal "*"."""
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt",
                                                    "Resource": "*"}]}
    decision = decide("kms:Decrypt", resource_control_policies={"root": [("RCPFullAWSAccess", RCP_EVERYTHING),
                                                                          ("no-decrypt", deny)]})
    assert decision.reason == "EXPLICIT_DENY"
    assert decision.message.endswith("with an explicit deny in a resource control policy")


def test_rcps_are_checked_before_scps():
    """AWS's flow: the RCP step comes before the SCP step, so when neither allows, the RCP is named."""
    nothing = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    rcp_nothing = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}
    decision = decide("kms:Decrypt", service_control_policies={"root": [("narrow", nothing)]},
                      resource_control_policies={"root": [("narrow", rcp_nothing)]})
    assert decision.reason == "RCP_DOES_NOT_ALLOW"
    steps = [step.title for step in decision.steps]
    assert steps.index("Resource control policies") < steps.index("Service control policies")


@pytest.mark.parametrize("document, kind", [
    ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]},
     "service_control_policies"),
    ({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]},
     "resource_control_policies"),
])
def test_a_malformed_organization_policy_is_refused_as_input(document, kind):
    """An SCP names no principal; an RCP must (IAM's policy grammar for each kind)."""
    with pytest.raises(ValueError):
        decide(**{kind: {"root": [("bad", document)]}})


def test_levels_must_be_a_mapping():
    with pytest.raises(ValueError):
        decide(service_control_policies=[EVERYTHING])


# -- the lab --------------------------------------------------------------------------------------------

@pytest.fixture
def lab():
    with Lab() as lab:
        yield lab


def _role(lab: Lab, name: str) -> None:
    iam = lab.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/lab-admin"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName=name, PolicyName="keys", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}))


def test_an_scp_stops_key_deletion_for_everyone_but_one_role(lab):
    """The guardrail of the brief: lab-admin and an admin role are refused ScheduleKeyDeletion with AWS's
    SCP message; the break-glass role schedules it."""
    world = build_seed_world(lab)
    for name in ("admin", "break-glass"):
        _role(lab, name)
    lab.organization().attach("scp", "no-key-deletion", NO_KEY_DELETION)
    for kms in (lab.client("kms"), lab.assume_role("admin").client("kms")):
        with pytest.raises(ClientError) as excinfo:
            kms.schedule_key_deletion(KeyId=world["key_id"], PendingWindowInDays=7)
        assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"
        assert excinfo.value.response["Error"]["Message"].endswith("with an explicit deny in a service control policy")
    kms = lab.assume_role("break-glass").client("kms")
    assert kms.schedule_key_deletion(KeyId=world["key_id"], PendingWindowInDays=7)["KeyState"] == "PendingDeletion"


def test_scps_do_not_apply_outside_an_organization_or_before_one_is_attached(lab):
    """Without an organization nothing is read; joining one adds only AWS's FullAWSAccess, which changes no
    decision."""
    world = build_seed_world(lab)
    assert organization_policies(ACCOUNT, "scp") is None
    org = lab.organization()
    assert organization_policies(ACCOUNT, "scp") == {"root": [("FullAWSAccess", json.dumps(EVERYTHING))],
                                                     f"account {ACCOUNT}": [("FullAWSAccess", json.dumps(EVERYTHING))]}
    assert lab.client("kms").describe_key(KeyId=world["key_id"])["KeyMetadata"]["KeyState"] == "Enabled"
    org.attach("scp", "no-key-deletion", NO_KEY_DELETION)
    org.detach("no-key-deletion")
    lab.client("kms").schedule_key_deletion(KeyId=world["key_id"], PendingWindowInDays=7)


def test_the_management_account_is_not_affected_by_scps():
    """AWS Organizations User Guide: SCPs do not affect users or roles in the management account."""
    assert organization_policies(MANAGEMENT_ACCOUNT, "scp") is None


def test_an_rcp_on_sts_guards_the_accounts_roles(lab):
    """RCPs apply to STS: a deny of sts:AssumeRole for every caller closes the roles, trust policies
    notwithstanding."""
    build_seed_world(lab)
    _role(lab, "admin")
    lab.organization().attach("rcp", "no-sessions", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}]})
    with pytest.raises(ClientError) as excinfo:
        lab.assume_role("admin")
    assert excinfo.value.response["Error"]["Message"].endswith("with an explicit deny in a resource control policy")

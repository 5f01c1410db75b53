"""The evaluator's decisions: the KMS key-policy rule, grants, explicit denies, the same-account rule.

Each test names the AWS rule it follows. Sources: KMS Developer Guide "Key policies" and "Default key
policy", "Troubleshooting key access" (policy-evaluation.html), "Grants"; IAM User Guide "Policy
evaluation logic", "Troubleshooting access denied error messages", "NotPrincipal"; DynamoDB Developer
Guide "Encryption at rest usage notes" (the aws/dynamodb key policy). See
``shared/reference/aws-facts.md`` sections 1, 2, 4, 5 and 6.
"""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import pytest
from moto.iam.aws_managed_policies import aws_managed_policies_data

import kmslab._evaluator as evaluator_module
from kmslab._errors import CannotEvaluateError
from kmslab._evaluator import REASONS, Decision, Policy, evaluate

MANAGED = json.loads(aws_managed_policies_data)
DYNAMODB_FULL_ACCESS = ("AmazonDynamoDBFullAccess", MANAGED["AmazonDynamoDBFullAccess"]["Document"])
ADMINISTRATOR_ACCESS = ("AdministratorAccess", MANAGED["AdministratorAccess"]["Document"])

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "999988887777"
USER = f"arn:aws:iam::{ACCOUNT}:user/dynamo_test_user"
ADMIN = f"arn:aws:iam::{ACCOUNT}:user/admin"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Music"
VIA_DYNAMODB = {
    "kms:ViaService": "dynamodb.us-east-1.amazonaws.com",
    "kms:EncryptionContext:aws:dynamodb:tableName": "Music",
    "kms:EncryptionContext:aws:dynamodb:subscriberId": ACCOUNT,
}

# The default key policy (KMS Developer Guide, "Default key policy"; moto's generate_default_policy).
DEFAULT_KEY_POLICY = {
    "Version": "2012-10-17", "Id": "key-default-1",
    "Statement": [{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                   "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}],
}


def key_policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow_kms(*actions: str, resource: str = KEY, sid: str | None = None) -> dict:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": resource}
    if sid:
        statement["Sid"] = sid
    return {"Version": "2012-10-17", "Statement": [statement]}


def decrypt(principal: str = USER, **kwargs) -> Decision:
    kwargs.setdefault("context", VIA_DYNAMODB)
    return evaluate(principal, "kms:Decrypt", KEY, **kwargs)


def test_module_imports_neither_boto3_nor_moto():
    """The evaluator is pure: it must be usable with no AWS SDK at all."""
    for module in ("_evaluator.py", "_conditions.py"):
        tree = ast.parse((Path(evaluator_module.__file__).parent / module).read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert not imported & {"boto3", "botocore", "moto"}, module


def test_reason_catalogue_explains_every_code():
    assert set(REASONS) == {"ALLOWED", "ALLOWED_BY_KEY_POLICY", "ALLOWED_BY_RESOURCE_POLICY",
                            "ALLOWED_BY_GRANT", "ALLOWED_AS_ROOT", "EXPLICIT_DENY", "NO_IDENTITY_ALLOW",
                            "KEY_POLICY_DOES_NOT_ALLOW", "CANNOT_EVALUATE", "ALLOWED_ALWAYS", "RESERVED_BY_AWS",
                            "TRUST_POLICY_DOES_NOT_ALLOW", "BOUNDARY_DOES_NOT_ALLOW", "SESSION_POLICY_DOES_NOT_ALLOW",
                            "SCP_DOES_NOT_ALLOW", "RCP_DOES_NOT_ALLOW", "RESOURCE_POLICY_DOES_NOT_ALLOW"}
    assert all(len(text) > 40 for text in REASONS.values())


# ------------------------------------------------------------------------------------------------
# (a) The seed tutorial's denied user: AmazonDynamoDBFullAccess and the default key policy
# ------------------------------------------------------------------------------------------------


def test_seed_user_can_scan_the_table():
    """AmazonDynamoDBFullAccess statement 1 allows dynamodb:* (aws-facts §5, §6)."""
    decision = evaluate(USER, "dynamodb:Scan", TABLE, identity_policies=[DYNAMODB_FULL_ACCESS])
    assert decision.allowed and decision.reason == "ALLOWED"
    assert [m.source for m in decision.matched] == ["AmazonDynamoDBFullAccess, statement 1"]
    assert decision.message is None


def test_seed_user_is_denied_kms_decrypt_with_the_exact_aws_message():
    """KMS "Example 1 (Alice)": the key policy delegates to IAM, no IAM policy allows kms:Decrypt,
    so the request is implicitly denied, "because no identity-based policy allows" (aws-facts §2)."""
    decision = decrypt(identity_policies=[DYNAMODB_FULL_ACCESS], resource_policy=DEFAULT_KEY_POLICY)
    assert not decision.allowed
    assert decision.reason == "NO_IDENTITY_ALLOW"
    assert decision.message == (
        "User: arn:aws:iam::123456789012:user/dynamo_test_user is not authorized to perform: "
        "kms:Decrypt on resource: arn:aws:kms:us-east-1:123456789012:key/"
        "1234abcd-12ab-34cd-56ef-1234567890ab because no identity-based policy allows the kms:Decrypt action")
    assert [(m.source, m.effect, m.via) for m in decision.matched] == [
        ('key policy, statement "Enable IAM User Permissions"', "Allow", "account")]
    assert decision.key_lock.state == "delegated"
    assert decision.identity_lock.state == "closed"
    assert decision.grant_lock.state == "closed"
    assert decision.what_would_change[0].startswith(
        "add kms:Decrypt for this key to one of the user dynamo_test_user's IAM policies")
    assert "already delegates" in decision.what_would_change[0]


def test_seed_user_can_describe_the_key():
    """AmazonDynamoDBFullAccess includes kms:DescribeKey, and the default key policy delegates."""
    decision = evaluate(USER, "kms:DescribeKey", KEY, identity_policies=[DYNAMODB_FULL_ACCESS],
                        resource_policy=DEFAULT_KEY_POLICY, context=VIA_DYNAMODB)
    assert decision.allowed and decision.reason == "ALLOWED"
    assert {m.source for m in decision.matched} == {
        'key policy, statement "Enable IAM User Permissions"', "AmazonDynamoDBFullAccess, statement 1"}
    assert decision.key_lock.state == "delegated" and decision.identity_lock.state == "open"


def test_kms_steps_follow_aws_order():
    decision = decrypt(identity_policies=[DYNAMODB_FULL_ACCESS], resource_policy=DEFAULT_KEY_POLICY)
    assert [step.title for step in decision.steps] == [
        "Explicit deny", "Key policy", "IAM policies", "Grants", "Decision"]
    assert [step.verdict for step in decision.steps] == ["none", "delegates", "no allow", "no allow", "denied"]


# ------------------------------------------------------------------------------------------------
# (b) Root delegation with and without an IAM allow
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("principal_form", [f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT], ids=["root-arn", "account-id"])
def test_root_delegation_lets_an_iam_allow_count(principal_form):
    """"When the principal in a key policy statement is the account principal ... it allows the account
    to use IAM policies to delegate the permissions"; the bare account ID means the same."""
    policy = key_policy({"Effect": "Allow", "Principal": {"AWS": principal_form}, "Action": "kms:*",
                         "Resource": "*"})
    allowed = decrypt(identity_policies=[("kms-decrypt", allow_kms("kms:Decrypt"))], resource_policy=policy)
    assert allowed.allowed and allowed.reason == "ALLOWED"
    assert allowed.key_lock.state == "delegated" and allowed.identity_lock.state == "open"
    denied = decrypt(identity_policies=[], resource_policy=policy)
    assert denied.reason == "NO_IDENTITY_ALLOW"


def test_iam_allow_scoped_to_another_key_does_not_count():
    """Resource in an IAM policy is matched against the key ARN (case-sensitive)."""
    other_key = allow_kms("kms:Decrypt", resource=KEY.upper())
    decision = decrypt(identity_policies=[other_key], resource_policy=DEFAULT_KEY_POLICY)
    assert decision.reason == "NO_IDENTITY_ALLOW"


def test_iam_allow_with_wildcard_action_and_resource():
    """"kms:De*" and "arn:aws:kms:*:<account>:key/*": wildcards in Action and in an ARN segment."""
    policy = allow_kms("kms:De*", resource=f"arn:aws:kms:*:{ACCOUNT}:key/*")
    assert decrypt(identity_policies=[policy], resource_policy=DEFAULT_KEY_POLICY).allowed


# ------------------------------------------------------------------------------------------------
# (c) A key policy that names the user; a key policy without root delegation
# ------------------------------------------------------------------------------------------------


def test_key_policy_naming_the_user_allows_without_any_iam_policy():
    """A key policy statement that names the principal gives access by itself."""
    policy = key_policy({"Sid": "Allow use of the key", "Effect": "Allow", "Principal": {"AWS": USER},
                         "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"})
    decision = decrypt(resource_policy=policy)
    assert decision.allowed and decision.reason == "ALLOWED_BY_KEY_POLICY"
    assert decision.key_lock.state == "open" and decision.identity_lock.state == "closed"
    assert decision.matched[0].source == 'key policy, statement "Allow use of the key"'
    assert decision.matched[0].via == "principal"


def test_without_root_delegation_an_iam_allow_is_ineffective():
    """"Without this permission, IAM policies that allow access to the key are ineffective"; the message
    then says "because no resource-based policy allows" (aws-facts §2, lab alias/aws/s3 example)."""
    policy = key_policy({"Sid": "Key administrators", "Effect": "Allow", "Principal": {"AWS": ADMIN},
                         "Action": "kms:*", "Resource": "*"})
    decision = decrypt(identity_policies=[("kms-decrypt", allow_kms("kms:Decrypt"))], resource_policy=policy)
    assert not decision.allowed
    assert decision.reason == "KEY_POLICY_DOES_NOT_ALLOW"
    assert decision.message.endswith("because no resource-based policy allows the kms:Decrypt action")
    assert decision.identity_lock.state == "open"  # IAM says yes ...
    assert decision.key_lock.state == "closed"  # ... but the key is closed
    iam_step = next(s for s in decision.steps if s.title == "IAM policies")
    assert iam_step.verdict == "ineffective"
    assert any(f"Principal arn:aws:iam::{ACCOUNT}:root" in s and "takes effect" in s
               for s in decision.what_would_change)


def test_absent_key_policy_allows_nothing():
    """Documented choice: resource_policy=None on a key means no key policy; even an administrator is
    refused, because "no AWS principal ... has any permissions to a KMS key unless explicitly allowed\"."""
    decision = decrypt(ADMIN, identity_policies=[ADMINISTRATOR_ACCESS], resource_policy=None)
    assert decision.reason == "KEY_POLICY_DOES_NOT_ALLOW"
    assert decision.steps[1].sentence.startswith("No key policy was supplied")


def test_alias_half_of_an_alias_operation_is_a_plain_iam_decision():
    """"To use this operation, the caller needs kms:CreateAlias permission on two resources: the alias
    (in an IAM policy) and the KMS key (in a key policy)": the alias ARN is the IAM half."""
    alias = f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/dynamo"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:CreateAlias", "Resource": f"arn:aws:kms:*:{ACCOUNT}:alias/*"}]}
    assert evaluate(USER, "kms:CreateAlias", alias, identity_policies=[policy]).reason == "ALLOWED"
    key_half = evaluate(USER, "kms:CreateAlias", KEY, identity_policies=[policy], resource_policy=DEFAULT_KEY_POLICY)
    assert key_half.reason == "NO_IDENTITY_ALLOW" and key_half.key_lock is not None


def test_kms_actions_on_no_particular_key_are_plain_iam_decisions():
    """"Use this format ["*"] for operations that don't use any particular KMS key, namely CreateKey,
    GenerateRandom, ListAliases, and ListKeys": no key policy is involved."""
    allowed = evaluate(USER, "kms:ListAliases", "*", identity_policies=[DYNAMODB_FULL_ACCESS])
    assert allowed.allowed and allowed.reason == "ALLOWED" and allowed.key_lock is None
    denied = evaluate(USER, "kms:CreateKey", "*", identity_policies=[DYNAMODB_FULL_ACCESS])
    assert denied.reason == "NO_IDENTITY_ALLOW"
    # The IAM guide's example message omits "on resource:" for such actions.
    assert denied.message == (f"User: {USER} is not authorized to perform: kms:CreateKey because no "
                              f"identity-based policy allows the kms:CreateKey action")


# ------------------------------------------------------------------------------------------------
# (d) Explicit deny, administrators included
# ------------------------------------------------------------------------------------------------

DENY_DECRYPT = {"Version": "2012-10-17", "Statement": [
    {"Sid": "NoDecrypt", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}]}


def test_administrator_is_allowed_through_root_delegation():
    decision = decrypt(ADMIN, identity_policies=[ADMINISTRATOR_ACCESS], resource_policy=DEFAULT_KEY_POLICY)
    assert decision.allowed and decision.reason == "ALLOWED"


def test_explicit_deny_in_an_identity_policy_beats_administrator_access():
    """"An explicit deny in any policy overrides any allows"; an IAM deny needs no key-policy permission."""
    decision = decrypt(ADMIN, identity_policies=[ADMINISTRATOR_ACCESS, ("deny-decrypt", DENY_DECRYPT)],
                       resource_policy=DEFAULT_KEY_POLICY)
    assert decision.reason == "EXPLICIT_DENY"
    assert decision.message == (f"User: {ADMIN} is not authorized to perform: kms:Decrypt on resource: "
                                f"{KEY} with an explicit deny in an identity-based policy")
    assert ("deny-decrypt, statement \"NoDecrypt\"", "Deny") in [(m.source, m.effect) for m in decision.matched]
    assert decision.identity_lock.state == "closed"
    assert "remove or narrow the Deny in deny-decrypt" in decision.what_would_change[0]


def test_iam_deny_counts_even_when_the_key_policy_does_not_delegate():
    """"You can use an IAM policy to deny a permission to a KMS key without permission from a key policy\"."""
    policy = key_policy({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "kms:*", "Resource": "*"})
    decision = decrypt(identity_policies=[("deny-decrypt", DENY_DECRYPT)], resource_policy=policy)
    assert decision.reason == "EXPLICIT_DENY"


def test_explicit_deny_in_the_key_policy_beats_administrator_access():
    policy = key_policy(
        DEFAULT_KEY_POLICY["Statement"][0],
        {"Sid": "Nobody decrypts directly", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt",
         "Resource": "*", "Condition": {"Null": {"kms:ViaService": "true"}}},
    )
    direct = decrypt(ADMIN, identity_policies=[ADMINISTRATOR_ACCESS], resource_policy=policy, context={})
    assert direct.reason == "EXPLICIT_DENY"
    assert direct.message.endswith("with an explicit deny in a resource-based policy")
    assert direct.key_lock.state == "closed"
    via = decrypt(ADMIN, identity_policies=[ADMINISTRATOR_ACCESS], resource_policy=policy)
    assert via.allowed


def test_deny_in_both_policy_types_names_one_of_them():
    """"If multiple policy types deny an authorization request, AWS includes only one of those policy
    types"; kmslab names the resource-based (key) policy (documented choice)."""
    policy = key_policy(DEFAULT_KEY_POLICY["Statement"][0],
                        {"Effect": "Deny", "Principal": {"AWS": USER}, "Action": "kms:*", "Resource": "*"})
    decision = decrypt(identity_policies=[DENY_DECRYPT], resource_policy=policy)
    assert decision.message.endswith("with an explicit deny in a resource-based policy")
    assert sum(m.effect == "Deny" for m in decision.matched) == 2


# ------------------------------------------------------------------------------------------------
# (e) Grants
# ------------------------------------------------------------------------------------------------


def grant(**overrides) -> dict:
    entry = {
        "KeyId": KEY, "GrantId": "0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60",
        "Name": "decrypt-for-dynamo-test-user", "IssuingAccount": ROOT, "GranteePrincipal": USER,
        "Operations": ["Decrypt", "DescribeKey"],
        "Constraints": {"EncryptionContextSubset": {"aws:dynamodb:tableName": "Music"}},
    }
    entry.update(overrides)
    return entry


def test_grant_allows_the_grantee_when_the_context_fits():
    """A grant "can allow access to a KMS key": grantee, operation and constraint all match."""
    decision = decrypt(identity_policies=[DYNAMODB_FULL_ACCESS], resource_policy=DEFAULT_KEY_POLICY,
                       grants=[grant()])
    assert decision.allowed and decision.reason == "ALLOWED_BY_GRANT"
    assert decision.grant_lock.state == "open"
    assert decision.matched[-1].source == 'grant "decrypt-for-dynamo-test-user"'
    assert decision.matched[-1].policy_type == "grant"


def test_grant_allows_even_when_the_key_policy_does_not_mention_the_principal():
    policy = key_policy({"Effect": "Allow", "Principal": {"AWS": ADMIN}, "Action": "kms:*", "Resource": "*"})
    assert decrypt(resource_policy=policy, grants=[grant()]).reason == "ALLOWED_BY_GRANT"


def test_grant_constraint_mismatch_does_not_allow():
    """EncryptionContextSubset: the request's encryption context must contain the pairs."""
    context = {**VIA_DYNAMODB, "kms:EncryptionContext:aws:dynamodb:tableName": "Other"}
    decision = decrypt(identity_policies=[DYNAMODB_FULL_ACCESS], resource_policy=DEFAULT_KEY_POLICY,
                       grants=[grant()], context=context)
    assert decision.reason == "NO_IDENTITY_ALLOW"
    grant_step = next(s for s in decision.steps if s.title == "Grants")
    assert "its EncryptionContextSubset constraint (aws:dynamodb:tableName=Music) is not contained in the " \
        "request's encryption context (aws:dynamodb:subscriberId=123456789012, aws:dynamodb:tableName=Other)" \
        in grant_step.sentence


def test_grant_constraint_keys_are_case_insensitive_values_are_not():
    """"In a grant constraint, the key in each key-value pair is not case sensitive, but the value is\"."""
    upper_key = {**VIA_DYNAMODB, "kms:EncryptionContext:AWS:DynamoDB:TableName": "Music"}
    del upper_key["kms:EncryptionContext:aws:dynamodb:tableName"]
    assert decrypt(resource_policy=DEFAULT_KEY_POLICY, grants=[grant()], context=upper_key).allowed
    other_case_value = {**VIA_DYNAMODB, "kms:EncryptionContext:aws:dynamodb:tableName": "music"}
    assert not decrypt(resource_policy=DEFAULT_KEY_POLICY, grants=[grant()], context=other_case_value).allowed


def test_grant_encryption_context_equals_needs_an_exact_match():
    constraint = {"EncryptionContextEquals": {"aws:dynamodb:tableName": "Music"}}
    exact = {"kms:EncryptionContext:aws:dynamodb:tableName": "Music"}
    assert decrypt(resource_policy=DEFAULT_KEY_POLICY, grants=[grant(Constraints=constraint)], context=exact).allowed
    assert not decrypt(resource_policy=DEFAULT_KEY_POLICY, grants=[grant(Constraints=constraint)]).allowed


def test_grant_constraints_do_not_apply_to_describe_key():
    """"Grant constraints are not applied to operations that do not support an encryption context, such
    as ... DescribeKey or RetireGrant" (GrantConstraints, KMS API Reference)."""
    decision = evaluate(USER, "kms:DescribeKey", KEY, resource_policy=DEFAULT_KEY_POLICY, grants=[grant()])
    assert decision.reason == "ALLOWED_BY_GRANT"


def test_grant_for_another_grantee_does_not_allow():
    """The grants DynamoDB creates name the service (dynamodb.<region>.amazonaws.com), not the user."""
    dynamodb_grant = grant(GranteePrincipal="dynamodb.us-east-1.amazonaws.com",
                           Operations=["DescribeKey", "GenerateDataKey", "Decrypt", "Encrypt",
                                       "ReEncryptFrom", "ReEncryptTo", "RetireGrant"])
    decision = decrypt(identity_policies=[DYNAMODB_FULL_ACCESS], resource_policy=DEFAULT_KEY_POLICY,
                       grants=[dynamodb_grant])
    assert decision.reason == "NO_IDENTITY_ALLOW"
    assert "is for dynamodb.us-east-1.amazonaws.com, not this principal" in decision.grant_lock.why
    # ... and the service itself is allowed by its grant.
    service = evaluate("dynamodb.us-east-1.amazonaws.com", "kms:Decrypt", KEY,
                       resource_policy=DEFAULT_KEY_POLICY, grants=[dynamodb_grant], context=VIA_DYNAMODB)
    assert service.reason == "ALLOWED_BY_GRANT"


def test_grant_without_the_operation_or_for_another_key_does_not_allow():
    """A grant allows only the operations it lists, on its own key."""
    assert not decrypt(resource_policy=DEFAULT_KEY_POLICY, grants=[grant(Operations=["Encrypt"])]).allowed
    other_key = KEY.replace("1234abcd", "ffffffff")
    assert not decrypt(resource_policy=DEFAULT_KEY_POLICY, grants=[grant(KeyId=other_key)]).allowed


def test_grant_cannot_override_an_explicit_deny():
    """"A grant can allow access to a KMS key, but not deny access" — and it cannot undo a deny."""
    decision = decrypt(identity_policies=[("deny-decrypt", DENY_DECRYPT)], resource_policy=DEFAULT_KEY_POLICY,
                       grants=[grant()])
    assert decision.reason == "EXPLICIT_DENY"
    assert decision.grant_lock.state == "open"  # the grant matched, and still does not count


def test_constrained_grant_listing_create_grant_cannot_be_evaluated_for_create_grant():
    decision = evaluate(USER, "kms:CreateGrant", KEY, resource_policy=DEFAULT_KEY_POLICY,
                        grants=[grant(Operations=["CreateGrant"])])
    assert decision.reason == "CANNOT_EVALUATE"
    assert "CreateGrant" in decision.unresolved[0]


# ------------------------------------------------------------------------------------------------
# (f) kms:ViaService and encryption-context conditions
# ------------------------------------------------------------------------------------------------


def via_service_policy(operator: str, value: str) -> dict:
    return key_policy({"Sid": "Use through DynamoDB only", "Effect": "Allow", "Principal": {"AWS": USER},
                       "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*",
                       "Condition": {operator: {"kms:ViaService": value}}})


@pytest.mark.parametrize(("operator", "value"), [
    ("StringEquals", "dynamodb.us-east-1.amazonaws.com"),
    ("StringLike", "dynamodb.*.amazonaws.com"),  # the DynamoDB guide's example key policy
])
def test_via_service_allows_through_dynamodb_but_not_directly(operator, value):
    """kms:ViaService "limits use of a KMS key to requests from specified AWS services"; a direct call
    carries no kms:ViaService, so the condition is false."""
    policy = via_service_policy(operator, value)
    assert decrypt(resource_policy=policy).reason == "ALLOWED_BY_KEY_POLICY"
    direct = decrypt(resource_policy=policy, context={})
    assert direct.reason == "KEY_POLICY_DOES_NOT_ALLOW"
    assert "the request has no kms:ViaService" in direct.key_lock.why
    assert any("would allow kms:Decrypt if its condition held" in s for s in direct.what_would_change)
    through_s3 = decrypt(resource_policy=policy, context={"kms:ViaService": "s3.us-east-1.amazonaws.com"})
    assert not through_s3.allowed


def test_via_service_string_like_covers_every_region():
    policy = via_service_policy("StringLike", "dynamodb.*.amazonaws.com")
    assert decrypt(resource_policy=policy, context={"kms:ViaService": "dynamodb.eu-west-3.amazonaws.com"}).allowed
    equals = via_service_policy("StringEquals", "dynamodb.us-east-1.amazonaws.com")
    assert not decrypt(resource_policy=equals, context={"kms:ViaService": "dynamodb.eu-west-3.amazonaws.com"}).allowed


def test_encryption_context_condition_limits_use_to_one_table():
    """kms:EncryptionContext:<context-key> tests one pair of the request's encryption context."""
    policy = key_policy({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "kms:Decrypt", "Resource": "*",
                         "Condition": {"StringEquals": {"kms:EncryptionContext:aws:dynamodb:tableName": "Music"}}})
    assert decrypt(resource_policy=policy).allowed
    other_table = {**VIA_DYNAMODB, "kms:EncryptionContext:aws:dynamodb:tableName": "Books"}
    assert not decrypt(resource_policy=policy, context=other_table).allowed


def test_encryption_context_keys_are_derived_from_the_pairs():
    """kms:EncryptionContextKeys is multivalued: the keys of the request's encryption context."""
    policy = key_policy({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "kms:Decrypt", "Resource": "*",
                         "Condition": {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": [
                             "aws:dynamodb:tableName", "aws:dynamodb:subscriberId"]}}})
    assert decrypt(resource_policy=policy).allowed
    extra = {**VIA_DYNAMODB, "kms:EncryptionContext:project": "x"}
    assert not decrypt(resource_policy=policy, context=extra).allowed


def test_iam_policy_condition_on_via_service():
    """The same conditions work in an identity-based policy."""
    iam = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY,
           "Condition": {"StringLike": {"kms:ViaService": "dynamodb.*.amazonaws.com"}}}]}
    assert decrypt(identity_policies=[iam], resource_policy=DEFAULT_KEY_POLICY).allowed
    direct = decrypt(identity_policies=[("decrypt-via-dynamodb", iam)], resource_policy=DEFAULT_KEY_POLICY, context={})
    assert direct.reason == "NO_IDENTITY_ALLOW"
    assert "decrypt-via-dynamodb, statement 1 would allow it, but its condition StringLike kms:ViaService" \
        in direct.identity_lock.why


# ------------------------------------------------------------------------------------------------
# (g) The AWS managed key aws/dynamodb
# ------------------------------------------------------------------------------------------------

AWS_DYNAMODB_KEY_POLICY = {  # shape shown verbatim in the DynamoDB guide's usage notes (aws-facts §1)
    "Version": "2012-10-17", "Id": "auto-dynamodb-1",
    "Statement": [
        {"Sid": "Allow access through Amazon DynamoDB for all principals in the account that are authorized "
                "to use Amazon DynamoDB",
         "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant",
                    "kms:DescribeKey"],
         "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT,
                                        "kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}},
        {"Sid": "Allow direct access to key metadata to the account", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"], "Resource": "*"},
        {"Sid": "Allow DynamoDB Service with service principal name dynamodb.amazonaws.com to describe the key "
                "directly",
         "Effect": "Allow", "Principal": {"Service": "dynamodb.amazonaws.com"},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*"], "Resource": "*"},
    ],
}


def test_aws_managed_key_allows_any_account_user_through_dynamodb():
    """Principal "*" with kms:CallerAccount and kms:ViaService: no IAM policy for the key is needed."""
    decision = decrypt(identity_policies=[DYNAMODB_FULL_ACCESS], resource_policy=AWS_DYNAMODB_KEY_POLICY)
    assert decision.allowed and decision.reason == "ALLOWED_BY_KEY_POLICY"
    assert decision.matched[0].source.startswith('key policy, statement "Allow access through Amazon DynamoDB')


def test_aws_managed_key_denies_a_direct_call():
    decision = decrypt(identity_policies=[DYNAMODB_FULL_ACCESS], resource_policy=AWS_DYNAMODB_KEY_POLICY,
                       context={})
    assert decision.reason == "KEY_POLICY_DOES_NOT_ALLOW"
    assert decision.message.endswith("because no resource-based policy allows the kms:Decrypt action")


def test_aws_managed_key_delegates_describe_to_the_account():
    decision = evaluate(USER, "kms:DescribeKey", KEY, identity_policies=[DYNAMODB_FULL_ACCESS],
                        resource_policy=AWS_DYNAMODB_KEY_POLICY)
    assert decision.reason == "ALLOWED"  # statement 2 delegates kms:Describe* to IAM


def test_aws_managed_key_denies_another_account():
    """kms:CallerAccount is the caller's account: a principal of another account fails the condition."""
    outsider = f"arn:aws:iam::{OTHER_ACCOUNT}:user/outsider"
    decision = decrypt(outsider, identity_policies=[ADMINISTRATOR_ACCESS], resource_policy=AWS_DYNAMODB_KEY_POLICY)
    assert not decision.allowed
    assert decision.reason == "KEY_POLICY_DOES_NOT_ALLOW"
    assert "kms:CallerAccount" in decision.key_lock.why


def test_cross_account_needs_the_key_policy_and_the_callers_iam():
    """KMS developer guide, "Allowing users in other accounts to use a KMS key": the key policy must allow
    the other account (or its principal), and that account's IAM policies must allow the use too."""
    outsider = f"arn:aws:iam::{OTHER_ACCOUNT}:user/outsider"
    policy = key_policy(DEFAULT_KEY_POLICY["Statement"][0],
                        {"Effect": "Allow", "Principal": {"AWS": OTHER_ACCOUNT}, "Action": "kms:Decrypt",
                         "Resource": "*"})
    decision = decrypt(outsider, identity_policies=[ADMINISTRATOR_ACCESS], resource_policy=policy)
    assert decision.reason == "ALLOWED" and decision.allowed
    without_iam = decrypt(outsider, resource_policy=policy)
    assert without_iam.reason == "NO_IDENTITY_ALLOW"
    assert without_iam.message.endswith("because no identity-based policy allows the kms:Decrypt action")
    not_named = decrypt(outsider, identity_policies=[ADMINISTRATOR_ACCESS], resource_policy=DEFAULT_KEY_POLICY)
    assert not_named.reason == "KEY_POLICY_DOES_NOT_ALLOW"
    named = key_policy(DEFAULT_KEY_POLICY["Statement"][0],
                       {"Effect": "Allow", "Principal": {"AWS": outsider}, "Action": "kms:Decrypt", "Resource": "*"})
    assert decrypt(outsider, resource_policy=named).reason == "NO_IDENTITY_ALLOW"  # naming is not enough across


# ------------------------------------------------------------------------------------------------
# The same-account rule for other services, and the root user
# ------------------------------------------------------------------------------------------------

TABLE_POLICY_NAMING_USER = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ReadForTestUser", "Effect": "Allow", "Principal": {"AWS": USER}, "Action": "dynamodb:GetItem",
     "Resource": TABLE}]}
TABLE_POLICY_NAMING_ACCOUNT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "dynamodb:GetItem", "Resource": TABLE}]}


def test_resource_policy_naming_the_principal_suffices_within_the_account():
    """"An Allow to the IAM user ARN ... can be decisive within the same account" (aws-facts §6)."""
    decision = evaluate(USER, "dynamodb:GetItem", TABLE, resource_policy=TABLE_POLICY_NAMING_USER)
    assert decision.allowed and decision.reason == "ALLOWED_BY_RESOURCE_POLICY"
    assert decision.locks[1].name == "resource policy" and decision.locks[1].state == "open"


def test_resource_policy_naming_only_the_account_needs_an_identity_allow():
    denied = evaluate(USER, "dynamodb:GetItem", TABLE, resource_policy=TABLE_POLICY_NAMING_ACCOUNT)
    assert denied.reason == "NO_IDENTITY_ALLOW" and denied.locks[1].state == "delegated"
    allowed = evaluate(USER, "dynamodb:GetItem", TABLE, resource_policy=TABLE_POLICY_NAMING_ACCOUNT,
                       identity_policies=[DYNAMODB_FULL_ACCESS])
    assert allowed.reason == "ALLOWED"


def test_resource_policy_for_everyone():
    """Principal "*" names every principal, so within the account it is decisive on its own."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "dynamodb:GetItem", "Resource": TABLE}]}
    assert evaluate(USER, "dynamodb:GetItem", TABLE, resource_policy=policy).reason == "ALLOWED_BY_RESOURCE_POLICY"


def test_root_user_has_full_access_except_for_a_resource_policy_deny():
    """"All requests are implicitly denied with the exception of the AWS account root user, which has full
    access"; an explicit deny in a resource-based policy still applies."""
    assert evaluate(ROOT, "dynamodb:DeleteTable", TABLE).reason == "ALLOWED_AS_ROOT"
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "dynamodb:DeleteTable", "Resource": TABLE}]}
    decision = evaluate(ROOT, "dynamodb:DeleteTable", TABLE, resource_policy=deny)
    assert decision.reason == "EXPLICIT_DENY"
    assert decision.message.endswith("with an explicit deny in a resource-based policy")


def test_root_user_needs_the_key_policy_for_kms():
    """"No AWS principal, including the account root user ... has any permissions to a KMS key unless
    they are explicitly allowed ... in a key policy"."""
    assert decrypt(ROOT, resource_policy=DEFAULT_KEY_POLICY).reason == "ALLOWED_BY_KEY_POLICY"
    only_admin = key_policy({"Effect": "Allow", "Principal": {"AWS": ADMIN}, "Action": "kms:*", "Resource": "*"})
    assert decrypt(ROOT, resource_policy=only_admin).reason == "KEY_POLICY_DOES_NOT_ALLOW"


def test_root_and_services_cannot_have_identity_policies():
    with pytest.raises(ValueError, match="root user cannot have identity-based policies"):
        evaluate(ROOT, "dynamodb:Scan", TABLE, identity_policies=[ADMINISTRATOR_ACCESS])


# ------------------------------------------------------------------------------------------------
# NotAction, NotResource, NotPrincipal
# ------------------------------------------------------------------------------------------------


def test_not_action_allow_covers_everything_else():
    """PowerUserAccess: Allow NotAction iam:*, organizations:*, account:*."""
    power_user = ("PowerUserAccess", MANAGED["PowerUserAccess"]["Document"])
    assert evaluate(USER, "dynamodb:Scan", TABLE, identity_policies=[power_user]).allowed
    assert not evaluate(USER, "iam:CreateUser", "*", identity_policies=[power_user]).allowed
    assert evaluate(USER, "iam:ListRoles", "*", identity_policies=[power_user]).allowed  # statement 2


def test_not_action_deny_denies_everything_else():
    """Deny with NotAction: every action except those listed is explicitly denied."""
    deny_all_but_reads = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "NotAction": ["dynamodb:Get*", "dynamodb:Query"], "Resource": "*"}]}
    policies = [ADMINISTRATOR_ACCESS, deny_all_but_reads]
    assert evaluate(USER, "dynamodb:GetItem", TABLE, identity_policies=policies).allowed
    assert evaluate(USER, "dynamodb:PutItem", TABLE, identity_policies=policies).reason == "EXPLICIT_DENY"


def test_not_resource():
    """NotResource: the statement applies to every resource except those listed."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:*", "NotResource": f"arn:aws:dynamodb:*:{ACCOUNT}:table/Secret*"}]}
    assert evaluate(USER, "dynamodb:Scan", TABLE, identity_policies=[policy]).allowed
    secret = TABLE.replace("Music", "SecretMusic")
    assert not evaluate(USER, "dynamodb:Scan", secret, identity_policies=[policy]).allowed


def test_not_principal_deny_with_principal_and_account_listed_spares_them():
    """The NotPrincipal guide's example lists "the ARN of both the user Bob and the AWS account"."""
    policy = key_policy(DEFAULT_KEY_POLICY["Statement"][0],
                        {"Effect": "Deny", "NotPrincipal": {"AWS": [USER, ROOT]}, "Action": "kms:*", "Resource": "*"})
    mine = decrypt(identity_policies=[ADMINISTRATOR_ACCESS], resource_policy=policy)
    assert mine.allowed
    other = decrypt(ADMIN, identity_policies=[ADMINISTRATOR_ACCESS], resource_policy=policy)
    assert other.reason == "EXPLICIT_DENY"


def test_not_principal_deny_without_the_account_cannot_be_evaluated():
    """"When you use NotPrincipal with Deny, you must also specify the account ARN ... AWS might validate
    the account first": without it, the outcome depends on the service."""
    policy = key_policy(DEFAULT_KEY_POLICY["Statement"][0],
                        {"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": "kms:*", "Resource": "*"})
    decision = decrypt(identity_policies=[ADMINISTRATOR_ACCESS], resource_policy=policy)
    assert decision.reason == "CANNOT_EVALUATE"
    assert "might validate the account first" in decision.unresolved[0]


# ------------------------------------------------------------------------------------------------
# Policy variables and versions through evaluate
# ------------------------------------------------------------------------------------------------


def own_table_policy(version: str | None) -> dict:
    policy = {"Statement": [{"Effect": "Allow", "Action": "dynamodb:*",
                             "Resource": f"arn:aws:dynamodb:*:{ACCOUNT}:table/${{aws:username}}-*"}]}
    if version:
        policy["Version"] = version
    return policy


def test_policy_variable_in_resource():
    """${aws:username} is "the friendly name of the actual current user"."""
    mine = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/dynamo_test_user-data"
    theirs = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/admin-data"
    assert evaluate(USER, "dynamodb:Scan", mine, identity_policies=[own_table_policy("2012-10-17")]).allowed
    assert not evaluate(USER, "dynamodb:Scan", theirs, identity_policies=[own_table_policy("2012-10-17")]).allowed


@pytest.mark.parametrize("version", ["2008-10-17", None])
def test_policy_variables_are_literal_in_old_or_versionless_policies(version):
    """"If you don't include the Version element ..., variables like ${aws:username} are treated as
    literal strings in the policy.\""""
    mine = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/dynamo_test_user-data"
    literal = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/${{aws:username}}-data"
    assert not evaluate(USER, "dynamodb:Scan", mine, identity_policies=[own_table_policy(version)]).allowed
    assert evaluate(USER, "dynamodb:Scan", literal, identity_policies=[own_table_policy(version)]).allowed


def test_role_has_no_username_so_the_variable_matches_nothing():
    """aws:username is "not present" for a role; the resource pattern then matches nothing."""
    policy = ("own", own_table_policy("2012-10-17"))
    arn = f"arn:aws:iam::{ACCOUNT}:role/worker"
    decision = evaluate(arn, "dynamodb:Scan", TABLE.replace("Music", "-x"), identity_policies=[policy])
    assert not decision.allowed


def test_principal_context_keys_are_derived_from_the_arn():
    """aws:PrincipalType is "Account" for root and "User" for users; kms:CallerAccount is the account."""
    def key_policy_requiring(key: str, value: str) -> dict:
        return key_policy({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
                           "Condition": {"StringEquals": {key: value}}})

    assert decrypt(resource_policy=key_policy_requiring("aws:PrincipalType", "User")).allowed
    assert decrypt(ROOT, resource_policy=key_policy_requiring("aws:PrincipalType", "Account")).allowed
    assert decrypt(resource_policy=key_policy_requiring("aws:username", "dynamo_test_user")).allowed
    assert decrypt(ROOT, resource_policy=key_policy_requiring("aws:userid", ACCOUNT)).allowed
    assert decrypt(resource_policy=key_policy_requiring("aws:PrincipalArn", USER)).allowed
    assert decrypt(resource_policy=key_policy_requiring("kms:CallerAccount", ACCOUNT)).allowed
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/Reader/alice"
    decision = decrypt(session, resource_policy=key_policy_requiring(
        "aws:PrincipalArn", f"arn:aws:iam::{ACCOUNT}:role/Reader"))
    assert decision.allowed
    # Caller-provided context overrides a derived key.
    assert not decrypt(resource_policy=key_policy_requiring("aws:username", "dynamo_test_user"),
                       context={**VIA_DYNAMODB, "aws:username": "someone-else"}).allowed


# ------------------------------------------------------------------------------------------------
# Cannot evaluate, in three-valued logic
# ------------------------------------------------------------------------------------------------

UNKNOWN_OPERATOR_ALLOW = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Odd", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringFuzzyMatch": {"kms:ViaService": "dynamodb"}}}]}
SECURE_TRANSPORT_DENY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "TLSOnly", "Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def test_unknown_operator_in_the_only_allow_is_cannot_evaluate():
    decision = decrypt(identity_policies=[("odd", UNKNOWN_OPERATOR_ALLOW)], resource_policy=DEFAULT_KEY_POLICY)
    assert decision.reason == "CANNOT_EVALUATE" and not decision.allowed and not decision.decided
    assert decision.message is None
    assert decision.unresolved[0].startswith('odd, statement "Odd": unknown condition operator "StringFuzzyMatch"')
    assert decision.identity_lock.state == "unknown"
    with pytest.raises(CannotEvaluateError, match="StringFuzzyMatch"):
        decision.raise_if_cannot_evaluate()


def test_unknown_operator_that_cannot_change_the_outcome_is_reported_not_refused():
    """An allow that no unknown statement could take away stands; the steps still say what was skipped."""
    decision = decrypt(identity_policies=[("odd", UNKNOWN_OPERATOR_ALLOW), ("kms", allow_kms("kms:Decrypt"))],
                       resource_policy=DEFAULT_KEY_POLICY)
    assert decision.reason == "ALLOWED" and decision.decided
    assert decision.unresolved and "whatever they say, the outcome is the same" in decision.steps[-1].sentence
    assert decision.raise_if_cannot_evaluate() is decision


def test_unknown_deny_that_could_apply_is_cannot_evaluate():
    decision = evaluate(USER, "dynamodb:Scan", TABLE,
                        identity_policies=[DYNAMODB_FULL_ACCESS, ("tls-only", SECURE_TRANSPORT_DENY)])
    assert decision.reason == "CANNOT_EVALUATE"
    assert "aws:SecureTransport" in decision.unresolved[0]
    assert decision.steps[0].verdict == "unknown"


def test_unknown_deny_does_not_matter_when_nothing_allows():
    decision = evaluate(USER, "dynamodb:Scan", TABLE, identity_policies=[("tls-only", SECURE_TRANSPORT_DENY)])
    assert decision.reason == "NO_IDENTITY_ALLOW"


@pytest.mark.parametrize(("secure", "reason"), [(True, "ALLOWED"), (False, "EXPLICIT_DENY")])
def test_not_modelled_key_given_in_the_context_is_evaluated(secure, reason):
    decision = evaluate(USER, "dynamodb:Scan", TABLE,
                        identity_policies=[DYNAMODB_FULL_ACCESS, ("tls-only", SECURE_TRANSPORT_DENY)],
                        context={"aws:SecureTransport": secure})
    assert decision.reason == reason


def test_ordinary_absent_key_is_absent_not_unknown():
    """AmazonDynamoDBFullAccess statement 3 allows iam:PassRole only with iam:PassedToService; without
    the key the statement simply does not apply."""
    role = f"arn:aws:iam::{ACCOUNT}:role/autoscaling"
    decision = evaluate(USER, "iam:PassRole", role, identity_policies=[DYNAMODB_FULL_ACCESS])
    assert decision.reason == "NO_IDENTITY_ALLOW" and not decision.unresolved
    passed = evaluate(USER, "iam:PassRole", role, identity_policies=[DYNAMODB_FULL_ACCESS],
                      context={"iam:PassedToService": "dax.amazonaws.com"})
    assert passed.allowed
    service_linked = evaluate(USER, "iam:CreateServiceLinkedRole", "*", identity_policies=[DYNAMODB_FULL_ACCESS],
                              context={"iam:AWSServiceName": "replication.dynamodb.amazonaws.com"})
    assert service_linked.allowed


# ------------------------------------------------------------------------------------------------
# Inputs: labels, formats, validation, caching
# ------------------------------------------------------------------------------------------------


def test_policy_inputs_and_labels():
    """Dicts, JSON text, (label, document) pairs and Policy objects are all accepted."""
    inline = allow_kms("kms:Decrypt", sid="DecryptTheKey")
    forms = [
        (inline, 'identity policy 1, statement "DecryptTheKey"'),
        (json.dumps(inline), 'identity policy 1, statement "DecryptTheKey"'),
        (("inline: decrypt", inline), 'inline: decrypt, statement "DecryptTheKey"'),
        (Policy(inline, label="customer managed: decrypt"), 'customer managed: decrypt, statement "DecryptTheKey"'),
        (Policy(json.dumps(inline)), 'identity policy 1, statement "DecryptTheKey"'),
    ]
    for form, label in forms:
        decision = decrypt(identity_policies=[form], resource_policy=DEFAULT_KEY_POLICY)
        assert decision.allowed
        assert label in [m.source for m in decision.matched], form
    second = decrypt(identity_policies=[DENY_DECRYPT, allow_kms("kms:Decrypt")], resource_policy=DEFAULT_KEY_POLICY)
    assert [m.source for m in second.matched if m.effect == "Deny"] == ['identity policy 1, statement "NoDecrypt"']
    labelled_key_policy = decrypt(resource_policy=("key policy of alias/dynamo", DEFAULT_KEY_POLICY))
    assert labelled_key_policy.matched[0].source == (
        'key policy of alias/dynamo, statement "Enable IAM User Permissions"')


def test_statement_without_sid_is_labelled_by_its_position():
    """Sid is optional; without one a statement is named by its 1-based position."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}
    decision = decrypt(identity_policies=[("two statements", policy)], resource_policy=DEFAULT_KEY_POLICY)
    assert "two statements, statement 2" in [m.source for m in decision.matched]


@pytest.mark.parametrize(("document", "message"), [
    ("{not json", "not valid JSON"),
    ("[]", "must be a JSON object"),
    ({"Version": "2012-10-17"}, "no Statement"),
    ({"Statement": []}, "non-empty list"),
    ({"Statement": [{"Effect": "allow", "Action": "s3:*", "Resource": "*"}]}, "Effect must be"),
    ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "exactly one of Action and NotAction"),
    ({"Statement": [{"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*", "Resource": "*"}]},
     "exactly one of Action"),
    ({"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}, "exactly one of Resource"),
    ({"Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]}, "service:Action"),
    ({"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}, "non-empty string or list"),
    ({"Version": "2020-01-01", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
     "unknown policy Version"),
    ({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Conditions": {}}]}, "unknown element"),
    ({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]},
     "has a Principal element"),
], ids=["not-json", "array", "no-statement", "empty-statement", "bad-effect", "no-action", "both-actions",
        "no-resource", "no-service-prefix", "empty-action", "bad-version", "unknown-element", "principal"])
def test_malformed_identity_policy_raises_value_error(document, message):
    with pytest.raises(ValueError, match=message):
        evaluate(USER, "s3:GetObject", "arn:aws:s3:::bucket/key", identity_policies=[document])


def test_resource_policy_statement_needs_a_principal():
    """Resource-based policies must name a Principal (or NotPrincipal) in every statement."""
    with pytest.raises(ValueError, match="needs a Principal"):
        decrypt(resource_policy=key_policy({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}))
    with pytest.raises(ValueError, match="unknown principal type"):
        decrypt(resource_policy=key_policy({"Effect": "Allow", "Principal": {"User": "x"}, "Action": "kms:*",
                                            "Resource": "*"}))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"principal": "dynamo_test_user"}, "neither an IAM/STS principal ARN"),
    ({"principal": f"arn:aws:iam::{ACCOUNT}:group/devs"}, "not a principal kmslab can evaluate"),
    ({"action": "Decrypt"}, "service:Operation"),
    ({"resource": ""}, "resource must be"),
    ({"grants": [{"Operations": ["Decrypt"]}]}, "no GranteePrincipal"),
    ({"grants": [{"GranteePrincipal": USER, "Operations": ["Decrypt"], "Constraints": {"Other": {}}}]},
     "Constraints may hold only"),
    ({"context": {1: "x"}}, "context keys must be strings"),
])
def test_malformed_request_raises_value_error(kwargs, message):
    """A principal that is not an ARN, an action without a service prefix, a malformed grant."""
    arguments = {"principal": USER, "action": "kms:Decrypt", "resource": KEY, "resource_policy": DEFAULT_KEY_POLICY}
    arguments.update(kwargs)
    principal, action, resource = arguments.pop("principal"), arguments.pop("action"), arguments.pop("resource")
    with pytest.raises(ValueError, match=message):
        evaluate(principal, action, resource, **arguments)


def test_matched_statements_are_read_only_views():
    decision = decrypt(resource_policy=DEFAULT_KEY_POLICY)
    with pytest.raises(TypeError):
        decision.matched[0].statement["Effect"] = "Deny"  # type: ignore[index]


def test_normalised_documents_are_cached_and_mutation_is_noticed():
    """Normalise once: the same dict is not parsed again, unless it has changed since."""
    policy = copy.deepcopy(DEFAULT_KEY_POLICY)
    first = evaluator_module._load(policy)
    assert evaluator_module._load(policy) is first
    assert evaluator_module._load(json.dumps(policy, separators=(",", ":"))) is first
    assert decrypt(identity_policies=[allow_kms("kms:Decrypt")], resource_policy=policy).allowed
    policy["Statement"][0]["Principal"] = {"AWS": ADMIN}
    assert evaluator_module._load(policy) is not first
    assert decrypt(identity_policies=[allow_kms("kms:Decrypt")], resource_policy=policy).reason == \
        "KEY_POLICY_DOES_NOT_ALLOW"


def test_policy_object_validates_at_construction():
    """Policies are input: a malformed one is an error, not a decision."""
    with pytest.raises(ValueError, match="no Statement"):
        Policy({"Version": "2012-10-17"}, label="broken")


# ------------------------------------------------------------------------------------------------
# Renderings
# ------------------------------------------------------------------------------------------------


def test_text_rendering_uses_words_and_symbols():
    """No colour-only cues: every symbol comes with a word."""
    decision = decrypt(identity_policies=[DYNAMODB_FULL_ACCESS], resource_policy=DEFAULT_KEY_POLICY)
    text = str(decision)
    assert text.startswith("✘ DENIED: kms:Decrypt on " + KEY)
    assert "reason:    NO_IDENTITY_ALLOW" in text
    assert "What AWS says:\n  " + decision.message in text
    assert "➜ key policy: delegated:" in text and "✘ IAM policies: closed:" in text
    assert "  2. ➜ Key policy: delegates." in text
    assert text == decision.text()


def test_renderings_are_deterministic():
    """No timestamps or ids: the same request renders the same text (stable notebook outputs)."""
    one = decrypt(identity_policies=[DYNAMODB_FULL_ACCESS], resource_policy=AWS_DYNAMODB_KEY_POLICY, context={})
    two = decrypt(identity_policies=[DYNAMODB_FULL_ACCESS], resource_policy=AWS_DYNAMODB_KEY_POLICY, context={})
    assert one == two
    assert one.text() == two.text() and one._repr_html_() == two._repr_html_()


def test_html_rendering_is_escaped_and_labelled():
    policy = Policy(allow_kms("kms:Decrypt"), label="<script>alert(1)</script>")
    decision = decrypt(identity_policies=[policy], resource_policy=DEFAULT_KEY_POLICY)
    page = decision._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'role="region"' in page and "<caption>Locks</caption>" in page
    assert "✔ ALLOWED" in page and "✔ open" in page  # words beside symbols, not colour alone


def test_allowed_decision_says_what_would_deny_it():
    """For an allow, "what would change" names the load-bearing statements and the deny rule."""
    decision = decrypt(identity_policies=[("kms", allow_kms("kms:Decrypt"))], resource_policy=DEFAULT_KEY_POLICY)
    assert any(s.startswith("an explicit Deny for kms:Decrypt") for s in decision.what_would_change)
    assert "removing kms, statement 1 would leave nothing that allows kms:Decrypt" in decision.what_would_change
    assert any("the delegation to the account" in s for s in decision.what_would_change)

"""The evaluator's small rules (issue 14 item 4) and its catalogue warnings (issue 13 item 3).

Each test names the AWS rule it follows.
"""

from __future__ import annotations

import pytest

from kmslab import MalformedPolicyError, evaluate

ACCOUNT = "123456789012"
OTHER = "999988887777"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/reader"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DEFAULT_KEY_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
     "Resource": "*"}]}


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ADMIN = policy({"Effect": "Allow", "Action": "*", "Resource": "*"})

# ------------------------------------------------------------------------------------------------
# sts:GetCallerIdentity
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("identity", [[], [policy({"Effect": "Deny", "Action": "sts:*", "Resource": "*"})],
                                      [policy({"Effect": "Deny", "Action": "sts:GetCallerIdentity",
                                               "Resource": "*"})]],
                         ids=["no-policy", "deny-sts-star", "deny-by-name"])
def test_get_caller_identity_is_always_allowed(identity):
    """STS API Reference, GetCallerIdentity: "No permissions are required to perform this operation. If an
    administrator attaches a policy to your identity that explicitly denies access to the
    sts:GetCallerIdentity action, you can still perform this operation.\""""
    decision = evaluate(USER, "sts:GetCallerIdentity", "*", identity_policies=identity)
    assert decision.allowed and decision.reason == "ALLOWED_ALWAYS"
    assert decision.message is None
    assert "not even an explicit Deny" in decision.what_would_change[0]
    assert [lock.state for lock in decision.locks] == ["not used"]


def test_other_sts_actions_still_need_permission():
    """Only GetCallerIdentity is exempt: GetSessionToken follows the usual rules."""
    decision = evaluate(USER, "sts:GetSessionToken", "*")
    assert not decision.allowed and decision.reason == "NO_IDENTITY_ALLOW"


# ------------------------------------------------------------------------------------------------
# alias/aws/ is reserved
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "code"), [
    ("kms:CreateAlias", "InvalidAliasNameException"),
    ("kms:DeleteAlias", "NotAuthorizedException"),
    ("kms:UpdateAlias", "NotAuthorizedException"),
])
def test_aliases_under_alias_aws_are_reserved(action, code):
    """KMS API Reference, CreateAlias, AliasName: "The alias name cannot begin with alias/aws/. The
    alias/aws/ prefix is reserved for AWS managed keys." Even an administrator is refused; CreateAlias
    answers with its documented InvalidAliasNameException ([CHOICE] the other two, undocumented, answer
    NotAuthorizedException as moto does)."""
    alias = f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/mine"
    decision = evaluate(USER, action, alias, identity_policies=[ADMIN])
    assert not decision.allowed and decision.reason == "RESERVED_BY_AWS"
    assert decision.error_code == code
    assert decision.message.startswith("The alias name cannot begin with alias/aws/.")
    assert decision.decided


def test_an_alias_that_only_contains_aws_is_not_reserved():
    """Only the alias/aws/ prefix is reserved: alias/awsome and alias/team/aws/x are customer names."""
    for name in ("alias/awsome", "alias/team/aws/x"):
        decision = evaluate(USER, "kms:CreateAlias", f"arn:aws:kms:us-east-1:{ACCOUNT}:{name}",
                            identity_policies=[ADMIN])
        assert decision.allowed, name


# ------------------------------------------------------------------------------------------------
# Trust policies and resource policies
# ------------------------------------------------------------------------------------------------


def test_trust_policy_without_resource_is_accepted():
    """IAM User Guide, "IAM JSON policy elements: Resource": role trust policies have no Resource; the
    statement applies to the role it is attached to."""
    trust = policy({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "sts:AssumeRole"})
    decision = evaluate(USER, "sts:AssumeRole", ROLE, resource_policy=trust)
    assert decision.allowed
    assert "trust policy" in decision.text()


def test_statement_without_resource_is_refused_elsewhere():
    """"Policy statement must contain resources." for identity and key policies."""
    with pytest.raises(MalformedPolicyError) as caught:
        evaluate(USER, "kms:Decrypt", KEY, resource_policy=policy(
            {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "kms:Decrypt"}))
    assert caught.value.aws_message == "Policy statement must contain resources."
    assert caught.value.code == "MalformedPolicyDocumentException"


@pytest.mark.parametrize(("resource", "action", "code"), [
    (KEY, "kms:Decrypt", "MalformedPolicyDocumentException"),
    ("arn:aws:s3:::bucket/key", "s3:GetObject", "MalformedPolicyDocument"),
    (ROLE, "sts:AssumeRole", "MalformedPolicyDocument"),
])
def test_principal_less_statement_in_a_resource_policy_is_refused(resource, action, code):
    """A resource-based policy must name who it applies to ("Missing required field Principal", IAM's
    answer for a trust policy and S3's for a bucket policy)."""
    document = policy({"Effect": "Allow", "Action": action, "Resource": "*"})
    with pytest.raises(MalformedPolicyError) as caught:
        evaluate(USER, action, resource, resource_policy=document)
    assert caught.value.aws_message == "Missing required field Principal"
    assert caught.value.code == code


# ------------------------------------------------------------------------------------------------
# The resource's account
# ------------------------------------------------------------------------------------------------

BUCKET_OBJECT = "arn:aws:s3:::their-bucket/key"
ALLOW_S3 = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": BUCKET_OBJECT})


def test_cross_account_is_caught_when_the_arn_has_no_account():
    """S3 ARNs carry no account. Told the owner (resource_account), the evaluator knows the request is
    cross-account: an identity allow alone is not enough ("Cross-account policy evaluation logic": both
    accounts must allow), so the request is not allowed."""
    same = evaluate(USER, "s3:GetObject", BUCKET_OBJECT, identity_policies=[ALLOW_S3])
    assert same.allowed
    other = evaluate(USER, "s3:GetObject", BUCKET_OBJECT, identity_policies=[ALLOW_S3], resource_account=OTHER)
    assert not other.allowed
    assert OTHER in other.text()
    via_context = evaluate(USER, "s3:GetObject", BUCKET_OBJECT, identity_policies=[ALLOW_S3],
                           context={"aws:ResourceAccount": OTHER})
    assert not via_context.allowed


def test_resource_account_feeds_the_condition_key():
    """aws:ResourceAccount is the account that owns the resource (IAM global condition keys); a Deny on
    it applies once the evaluator knows the owner."""
    guard = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                   {"Effect": "Deny", "Action": "s3:*", "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:ResourceAccount": ACCOUNT}}})
    assert evaluate(USER, "s3:GetObject", BUCKET_OBJECT, identity_policies=[guard],
                    resource_account=ACCOUNT).allowed
    denied = evaluate(USER, "s3:GetObject", BUCKET_OBJECT, identity_policies=[guard], resource_account=OTHER)
    assert denied.reason == "EXPLICIT_DENY"


def test_resource_account_must_agree_with_the_arn():
    with pytest.raises(ValueError, match="disagrees with the account"):
        evaluate(USER, "kms:Decrypt", KEY, resource_policy=DEFAULT_KEY_POLICY, resource_account=OTHER)
    with pytest.raises(ValueError, match="12-digit account ID"):
        evaluate(USER, "s3:GetObject", BUCKET_OBJECT, resource_account="me")


# ------------------------------------------------------------------------------------------------
# Warnings from the catalogue: unknown actions and condition keys
# ------------------------------------------------------------------------------------------------


def test_misspelt_requested_action_warns_and_keeps_aws_decision():
    """Issue 13: explain("lab-admin", "kms:Decrpyt", key) must warn with "did you mean kms:Decrypt". The
    decision stays what AWS's evaluation gives (kms:* matches the text), only a warning is added."""
    decision = evaluate(USER, "kms:Decrpyt", KEY, identity_policies=[ADMIN], resource_policy=DEFAULT_KEY_POLICY)
    assert decision.allowed
    assert decision.warnings == ("the request: kms:Decrpyt is not an action of AWS Key Management Service; "
                                 "did you mean kms:Decrypt?",)
    assert "Warnings (they do not change the decision):" in decision.text()
    assert "did you mean kms:Decrypt?" in decision._repr_html_()


def test_misspelt_action_in_a_policy_warns_and_matches_nothing():
    """An action that does not exist matches no request (IAM evaluates the text as written), and IAM
    Access Analyzer's policy validation reports it as an invalid action."""
    typo = ("mine", policy({"Effect": "Allow", "Action": "kms:Decryp", "Resource": KEY}))
    decision = evaluate(USER, "kms:Decrypt", KEY, identity_policies=[typo], resource_policy=DEFAULT_KEY_POLICY)
    assert not decision.allowed and decision.reason == "NO_IDENTITY_ALLOW"
    assert decision.warnings == ("mine, statement 1: kms:Decryp is not an action of AWS Key Management Service; "
                                 "did you mean kms:Decrypt?",)


def test_misspelt_condition_key_warns():
    """"kms:ViaSevice" is no key of KMS: a condition on it is false (the request never carries it), and
    the warning names the key it was meant to be."""
    typo = ("mine", policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY,
                            "Condition": {"StringLike": {"kms:ViaSevice": "dynamodb.*.amazonaws.com"}}}))
    decision = evaluate(USER, "kms:Decrypt", KEY, identity_policies=[typo], resource_policy=DEFAULT_KEY_POLICY,
                        context={"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"})
    assert not decision.allowed
    assert decision.warnings == ("mine, statement 1: kms:ViaSevice is not a condition key of AWS Key Management "
                                 "Service; did you mean kms:ViaService?",)


@pytest.mark.parametrize(("key", "expected"), [
    ("aws:PrincipleArn", "aws:PrincipleArn is not a global condition key; did you mean aws:PrincipalArn?"),
    ("kmss:ViaService", "condition key kmss:ViaService: no AWS service defines condition keys beginning with "
                        "kmss:; did you mean kms?"),
    ("catalog:ChangeType", None),  # defined by AWS Marketplace under its own prefix
    ("aws:IsSomethingNew", None),  # far from every listed global key: perhaps newer than the list
])
def test_global_keys_and_service_prefixes_are_checked(key, expected):
    """Global keys come from the IAM User Guide's list (a key far from all of them is not warned about:
    AWS adds global keys); service keys are grouped by their own prefix, whichever service lists them."""
    document = ("p", policy({"Effect": "Deny", "Action": "s3:*", "Resource": "*",
                             "Condition": {"Null": {key: "true"}}}))
    decision = evaluate(USER, "s3:GetObject", BUCKET_OBJECT, identity_policies=[document])
    assert decision.warnings == ((f"p, statement 1: {expected}",) if expected else ())


@pytest.mark.parametrize("name", ["kms:EncryptionContext:aws:dynamodb:tableName", "aws:PrincipalTag/team",
                                  "aws:principalarn", "KMS:VIASERVICE", "aws:ResourceAccount"])
def test_real_keys_give_no_warning(name):
    """Condition key names are case-insensitive; catalogue patterns such as
    kms:EncryptionContext:${EncryptionContextKey} accept any key in place of the placeholder."""
    document = policy({"Effect": "Deny", "Action": "kms:*", "Resource": "*", "Condition": {"Null": {name: "true"}}})
    decision = evaluate(USER, "kms:Decrypt", KEY, identity_policies=[document], resource_policy=DEFAULT_KEY_POLICY,
                        context={name: ACCOUNT})
    assert decision.warnings == ()


def test_wildcard_action_that_matches_nothing_warns():
    """kms:Decrpt* matches no KMS action; kms:ReEncrypt* matches two and gives no warning."""
    document = ("p", policy({"Effect": "Allow", "Action": ["kms:Decrpt*", "kms:ReEncrypt*"], "Resource": "*"}))
    decision = evaluate(USER, "kms:ReEncryptFrom", KEY, identity_policies=[document],
                        resource_policy=DEFAULT_KEY_POLICY)
    assert decision.allowed
    assert decision.warnings == ("p, statement 1: kms:Decrpt* matches no action of AWS Key Management Service",)


def test_bundled_policies_give_no_warnings():
    """AmazonDynamoDBFullAccess and the default key policy name only real actions."""
    import json

    from moto.iam.aws_managed_policies import aws_managed_policies_data
    full_access = json.loads(aws_managed_policies_data)["AmazonDynamoDBFullAccess"]["Document"]
    decision = evaluate(USER, "kms:Decrypt", KEY, identity_policies=[full_access], resource_policy=DEFAULT_KEY_POLICY)
    assert decision.warnings == ()


# ------------------------------------------------------------------------------------------------
# Role trust policies must themselves allow the principal (issue 14)
# ------------------------------------------------------------------------------------------------

ASSUME_ANY_ROLE = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
PARTNER_USER = f"arn:aws:iam::{OTHER}:user/partner"


def trust(*principals: str) -> dict:
    return policy({"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole"})


def assume(principal: str = USER, *, identity=(ASSUME_ANY_ROLE,), trust_policy=None):
    return evaluate(principal, "sts:AssumeRole", ROLE, identity_policies=list(identity), resource_policy=trust_policy)


def test_iam_allow_does_not_open_a_role_whose_trust_policy_names_someone_else():
    """IAM User Guide, "Policy evaluation logic": "IAM role trust policies and KMS key policies are
    exceptions to this logic, because they must explicitly allow access for principals.\""""
    decision = assume(trust_policy=trust(f"arn:aws:iam::{ACCOUNT}:user/bob"))
    assert not decision.allowed and decision.reason == "TRUST_POLICY_DOES_NOT_ALLOW"
    assert decision.message.endswith("because no resource-based policy allows the sts:AssumeRole action")
    lock = {lock.name: lock.state for lock in decision.locks}
    assert lock == {"IAM policies": "open", "trust policy": "closed"}
    assert "does not delegate to the account, so this IAM allow does not count" in decision.text()


def test_trust_policy_naming_the_user_is_enough_in_one_account():
    """Same account: a resource-based policy that names the principal allows on its own."""
    decision = assume(identity=(), trust_policy=trust(USER))
    assert decision.allowed and decision.reason == "ALLOWED_BY_RESOURCE_POLICY"


def test_trust_policy_naming_the_account_delegates_to_iam():
    """Principal "arn:aws:iam::<account>:root" lets the account's IAM policies decide."""
    root = f"arn:aws:iam::{ACCOUNT}:root"
    without = assume(identity=(), trust_policy=trust(root))
    assert not without.allowed and without.reason == "NO_IDENTITY_ALLOW"
    with_iam = assume(trust_policy=trust(root))
    assert with_iam.allowed and with_iam.reason == "ALLOWED"


def test_missing_trust_policy_opens_nothing():
    """Every role has a trust policy; without one nobody can assume it."""
    decision = assume(trust_policy=None)
    assert decision.reason == "TRUST_POLICY_DOES_NOT_ALLOW"


def test_cross_account_role_needs_both_sides():
    """"Cross-account policy evaluation logic": the role's trust policy must trust the other account (or
    its user), and that user's own identity policies must allow sts:AssumeRole."""
    both = assume(PARTNER_USER, trust_policy=trust(f"arn:aws:iam::{OTHER}:root"))
    assert both.allowed and both.decided
    no_iam = assume(PARTNER_USER, identity=(), trust_policy=trust(PARTNER_USER))
    assert no_iam.reason == "NO_IDENTITY_ALLOW"
    not_trusted = assume(PARTNER_USER, trust_policy=trust(USER))
    assert not_trusted.reason == "TRUST_POLICY_DOES_NOT_ALLOW"


def test_explicit_deny_beats_the_trust_policy():
    """An explicit deny in any policy overrides every allow."""
    deny = policy({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": ROLE})
    decision = assume(identity=(deny,), trust_policy=trust(USER))
    assert decision.reason == "EXPLICIT_DENY"


def test_explanation_is_written_once_on_first_read():
    """The outcome is decided at once; steps, locks and suggestions are written when first read, then
    kept (the same objects on every read), and the text shows them."""
    decision = evaluate(USER, "kms:Decrypt", KEY, resource_policy=DEFAULT_KEY_POLICY)
    assert decision._explained == []
    steps = decision.steps
    assert decision.steps is steps and decision.locks is decision.locks
    assert [step.title for step in steps] == ["Explicit deny", "Key policy", "IAM policies", "Grants", "Decision"]
    assert "How AWS decides, in order:" in decision.text()


# ------------------------------------------------------------------------------------------------
# AWS managed policies (IAM User Guide, "AWS managed policies": "You cannot change the permissions defined
# in AWS managed policies")
# ------------------------------------------------------------------------------------------------

MANAGED = "arn:aws:iam::aws:policy/AdministratorAccess"


@pytest.mark.parametrize("action", ["iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:DeletePolicy",
                                    "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy"])
def test_an_aws_managed_policy_cannot_be_changed_even_by_an_administrator(action):
    decision = evaluate(USER, action, MANAGED, identity_policies=[ADMIN])
    assert not decision.allowed and decision.reason == "RESERVED_BY_AWS"
    assert decision.error_code == "AccessDenied"
    assert decision.message == f"User: {USER} is not authorized to perform: {action} on resource: {MANAGED}"
    assert [lock.name for lock in decision.locks] == ["AWS managed policy"]


@pytest.mark.parametrize("action, resource", [
    ("iam:GetPolicy", MANAGED),  # reading it is allowed as usual
    ("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess"),  # a customer managed one
])
def test_reading_an_aws_managed_policy_or_changing_your_own_is_decided_by_the_policies(action, resource):
    assert evaluate(USER, action, resource, identity_policies=[ADMIN]).allowed
    assert not evaluate(USER, action, resource).allowed


def test_the_lab_refuses_a_new_version_of_an_aws_managed_policy():
    import json

    from botocore.exceptions import ClientError

    from kmslab import Lab
    with Lab() as lab:
        iam = lab.client("iam")
        document = json.dumps(policy({"Effect": "Allow", "Action": "*", "Resource": "*"}))
        with pytest.raises(ClientError) as excinfo:
            iam.create_policy_version(PolicyArn=MANAGED, PolicyDocument=document, SetAsDefault=True)
        assert excinfo.value.response["Error"]["Code"] == "AccessDenied"
        assert len(iam.list_policy_versions(PolicyArn=MANAGED)["Versions"]) == 1  # nothing changed


# ------------------------------------------------------------------------------------------------
# A resource-based allow that names the role is capped by the role's boundary, whoever asks as the role
# (IAM User Guide, "Permissions boundaries for IAM entities": within one account, a resource-based policy
# that names the role ARN is limited by the boundary; one naming the session ARN or a user ARN is not)
# ------------------------------------------------------------------------------------------------

def test_an_allow_naming_the_role_is_capped_by_its_boundary_when_the_role_asks():
    bucket = "arn:aws:s3:::mybucket/object"
    resource_policy = policy({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject",
                              "Resource": bucket})
    boundary = policy({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/s1"
    for principal in (ROLE, session):
        decision = evaluate(principal, "s3:GetObject", bucket, resource_account=ACCOUNT,
                            resource_policy=resource_policy, permissions_boundary=boundary)
        assert decision.reason == "BOUNDARY_DOES_NOT_ALLOW", (principal, decision.reason)
    named_session = policy({"Effect": "Allow", "Principal": {"AWS": session}, "Action": "s3:GetObject",
                            "Resource": bucket})
    assert evaluate(session, "s3:GetObject", bucket, resource_account=ACCOUNT, resource_policy=named_session,
                    permissions_boundary=boundary).allowed  # the session's own ARN escapes the boundary

"""Roles, their sessions and permissions boundaries, enforced on plain boto3 clients as AWS enforces them.

Each test names the AWS rule it follows (IAM User Guide, "Policy evaluation logic", "Permissions boundaries
for IAM entities", "Session policies", "AWS global condition context keys"; STS API Reference, AssumeRole;
CloudTrail User Guide, "CloudTrail userIdentity element").
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from test_enforcement import TABLE, USER, build_seed_world
from test_trail import RECORD

from kmslab import Lab

ACCOUNT = "123456789012"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/{USER}"
ADMIN_ARN = f"arn:aws:iam::{ACCOUNT}:user/lab-admin"
ITEM_KEY = {"id": {"S": "42"}}


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def trusting(principal: str) -> str:
    return document({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"})


def error_of(excinfo) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error.get("Message", "")


def make_role(lab: Lab, name: str = "reader", *, trust: str | None = None, actions=("dynamodb:GetItem",),
              path: str = "/", **kwargs) -> str:
    iam = lab.client("iam")
    role = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust or trusting(USER_ARN),
                           **kwargs)["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="read",
                        PolicyDocument=document(allow([*actions, "kms:Decrypt"])))
    return role["Arn"]


# -- AssumeRole: two locks ------------------------------------------------------------------------------

def test_assume_role_is_refused_unless_the_trust_policy_allows_the_caller(lab, world):
    """IAM User Guide, "Policy evaluation logic": role trust policies, like KMS key policies, must
    themselves allow the principal. The caller's IAM allows sts:AssumeRole; the trust policy names someone
    else, so AWS refuses with AccessDenied naming the resource-based policy."""
    make_role(lab, trust=trusting(ADMIN_ARN))
    lab.client("iam").put_user_policy(UserName=USER, PolicyName="assume",
                                      PolicyDocument=document(allow("sts:AssumeRole")))
    with pytest.raises(ClientError) as excinfo:
        lab.assume_role("reader", user=USER)
    code, message = error_of(excinfo)
    assert code == "AccessDenied"
    assert message == (f"User: {USER_ARN} is not authorized to perform: sts:AssumeRole on resource: "
                       f"arn:aws:iam::{ACCOUNT}:role/reader because no resource-based policy allows the "
                       f"sts:AssumeRole action")
    assert lab.why().checks[-1].decision.reason == "TRUST_POLICY_DOES_NOT_ALLOW"


def test_a_trust_policy_that_names_the_account_delegates_to_the_callers_iam(lab, world):
    """IAM User Guide: a trust policy that names the account (``:root``) lets the account's IAM policies
    decide, so the caller also needs an identity-based allow of sts:AssumeRole."""
    make_role(lab, trust=trusting(f"arn:aws:iam::{ACCOUNT}:root"))
    with pytest.raises(ClientError) as excinfo:
        lab.assume_role("reader", user=USER)
    assert error_of(excinfo)[0] == "AccessDenied"
    assert "because no identity-based policy allows the sts:AssumeRole action" in error_of(excinfo)[1]
    lab.client("iam").put_user_policy(UserName=USER, PolicyName="assume",
                                      PolicyDocument=document(allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/reader")))
    session = lab.assume_role("reader", user=USER)
    assert session.client("sts").get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/lab-session"


def test_a_trust_policy_that_names_the_user_allows_on_its_own_within_the_account(lab, world):
    """IAM User Guide, same-account evaluation: a resource-based policy that names the principal itself
    allows without an identity-based allow (the caller here has none for sts:AssumeRole)."""
    make_role(lab)
    session = lab.assume_role("reader", "alice", user=USER)
    assert session.client("sts").get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/alice"


def test_a_role_that_does_not_exist_is_refused_like_one_that_does_not_trust_you(lab, world):
    """STS answers AccessDenied without saying whether the role exists: nothing allows the call."""
    with pytest.raises(ClientError) as excinfo:
        lab.assume_role(f"arn:aws:iam::{ACCOUNT}:role/nobody", user=USER)
    assert error_of(excinfo)[0] == "AccessDenied"
    assert "because no resource-based policy allows the sts:AssumeRole action" in error_of(excinfo)[1]


# -- the session's own calls --------------------------------------------------------------------------

def test_a_session_is_authorized_with_its_roles_policies_not_the_users(lab, world):
    """A role session's identity-based policies are its role's (inline and attached): the user has
    AmazonDynamoDBFullAccess, the role only GetItem, so the session may read one item and not scan, and
    AWS names the session's assumed-role ARN."""
    make_role(lab)
    ddb = lab.assume_role("reader", "alice", user=USER).client("dynamodb")
    assert ddb.get_item(TableName=TABLE, Key=ITEM_KEY)["Item"]["id"] == {"S": "42"}
    with pytest.raises(ClientError) as excinfo:
        ddb.scan(TableName=TABLE)
    code, message = error_of(excinfo)
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/reader/alice is not authorized "
                              f"to perform: dynamodb:Scan")


def test_an_attached_managed_policy_counts_for_the_session(lab, world):
    """Identity-based policies of a role include its attached managed policies."""
    make_role(lab, actions=("dynamodb:DescribeTable",))
    lab.client("iam").attach_role_policy(RoleName="reader",
                                         PolicyArn="arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess")
    ddb = lab.assume_role("reader", user=USER).client("dynamodb")
    assert ddb.scan(TableName=TABLE)["Count"] == 1


def test_the_session_carries_the_role_arn_as_aws_principal_arn(lab, world):
    """Global condition keys: for a role session aws:PrincipalArn is the role's ARN (with its path), not
    the session's ARN; aws:PrincipalType is AssumedRole."""
    role_arn = make_role(lab, path="/ops/", actions=())
    lab.client("iam").put_role_policy(RoleName="reader", PolicyName="conditional", PolicyDocument=document(
        allow("dynamodb:GetItem", Condition={"ArnEquals": {"aws:PrincipalArn": role_arn},
                                             "StringEquals": {"aws:PrincipalType": "AssumedRole"}})))
    assert role_arn == f"arn:aws:iam::{ACCOUNT}:role/ops/reader"
    ddb = lab.assume_role(role_arn, user=USER).client("dynamodb")
    assert "Item" in ddb.get_item(TableName=TABLE, Key=ITEM_KEY)


def test_get_caller_identity_answers_the_assumed_role_arn_and_its_user_id(lab, world):
    """STS GetCallerIdentity for a session: the assumed-role ARN and ``<role ID>:<session name>``."""
    role_id = lab.client("iam").get_role(RoleName="reader")["Role"]["RoleId"] if make_role(lab) else None
    identity = lab.assume_role("reader", "alice", user=USER).client("sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/alice"
    assert identity["UserId"] == f"{role_id}:alice" and identity["Account"] == ACCOUNT


# -- session policies ---------------------------------------------------------------------------------

def test_an_inline_session_policy_caps_the_session(lab, world):
    """IAM User Guide, "Session policies": the session's permissions are the intersection of the role's
    identity-based policies and the session policy. The role allows GetItem and Scan; the session policy
    only Scan, so GetItem is refused, naming the session policy."""
    make_role(lab, actions=("dynamodb:GetItem", "dynamodb:Scan"))
    ddb = lab.assume_role("reader", user=USER, policy=json.loads(document(allow(["dynamodb:Scan", "kms:Decrypt"])))
                          ).client("dynamodb")
    assert ddb.scan(TableName=TABLE)["Count"] == 1
    with pytest.raises(ClientError) as excinfo:
        ddb.get_item(TableName=TABLE, Key=ITEM_KEY)
    assert error_of(excinfo)[1].endswith("because no session policy allows the dynamodb:GetItem action")


def test_a_managed_session_policy_caps_the_session(lab, world):
    """AssumeRole's PolicyArns are session policies too: AmazonDynamoDBReadOnlyAccess allows no PutItem,
    although the role does."""
    make_role(lab, actions=("dynamodb:GetItem", "dynamodb:PutItem"))
    ddb = lab.assume_role("reader", user=USER,
                          policy_arns=["arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess"]).client("dynamodb")
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(TableName=TABLE, Item={"id": {"S": "43"}})
    assert "because no session policy allows the dynamodb:PutItem action" in error_of(excinfo)[1]


def test_a_malformed_session_policy_is_refused_in_stss_words(lab, world):
    """STS validates the Policy parameter before it issues credentials: MalformedPolicyDocument."""
    make_role(lab)
    with pytest.raises(ClientError) as excinfo:
        lab.assume_role("reader", user=USER, policy="{not json")
    assert error_of(excinfo)[0] == "MalformedPolicyDocument"


# -- the front door for temporary credentials ------------------------------------------------------------

def _credentials(lab: Lab) -> dict:
    make_role(lab)
    sts = lab.session_for(USER).client("sts")
    return sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/reader", RoleSessionName="probe")["Credentials"]


def _client(lab: Lab, credentials: dict, token: str | None) -> object:
    session = lab._new_session(credentials["AccessKeyId"], credentials["SecretAccessKey"], token)
    assert isinstance(session, boto3.Session)
    return session.client("dynamodb")


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_a_temporary_key_needs_its_own_session_token(lab, world, token):
    """Temporary credentials are the key, the secret and the session token together (IAM User Guide,
    "Use temporary credentials with AWS resources"): without the token STS issued, or with another,
    DynamoDB answers UnrecognizedClientException, "The security token included in the request is invalid"."""
    ddb = _client(lab, _credentials(lab), token)
    with pytest.raises(ClientError) as excinfo:
        ddb.get_item(TableName=TABLE, Key=ITEM_KEY)
    assert error_of(excinfo) == ("UnrecognizedClientException", "The security token included in the request is invalid")


def test_a_wrong_secret_for_a_session_fails_the_signature(lab, world):
    """The signature of a session's request is computed with its own secret access key."""
    credentials = dict(_credentials(lab), SecretAccessKey="x" * 40)
    with pytest.raises(ClientError) as excinfo:
        _client(lab, credentials, credentials["SessionToken"]).get_item(TableName=TABLE, Key=ITEM_KEY)
    assert error_of(excinfo)[0] == "InvalidSignatureException"


def test_a_session_expires_after_its_duration_on_the_lab_clock(lab, world):
    """AssumeRole's DurationSeconds (default 3600): afterwards the credentials are refused with
    ExpiredTokenException, "The security token included in the request is expired"."""
    make_role(lab)
    ddb = lab.assume_role("reader", user=USER, duration_seconds=900).client("dynamodb")
    ddb.get_item(TableName=TABLE, Key=ITEM_KEY)
    lab.advance(minutes=15)
    with pytest.raises(ClientError) as excinfo:
        ddb.get_item(TableName=TABLE, Key=ITEM_KEY)
    assert error_of(excinfo) == ("ExpiredTokenException", "The security token included in the request is expired")


# -- the trail ----------------------------------------------------------------------------------------

def test_the_trail_shows_an_assumed_role_identity_with_its_session_context(lab, world):
    """CloudTrail userIdentity element: a session's calls are type AssumedRole, principalId
    ``<role ID>:<session>``, with sessionContext.sessionIssuer naming the role; the record stays valid
    against the lab's CloudTrail schema."""
    make_role(lab)
    role_id = lab.client("iam").get_role(RoleName="reader")["Role"]["RoleId"]
    lab.assume_role("reader", "alice", user=USER).client("dynamodb").get_item(TableName=TABLE, Key=ITEM_KEY)
    records = lab.trail.to_cloudtrail()["Records"]
    assume = next(r for r in records if r["eventName"] == "AssumeRole")
    assert assume["userIdentity"]["type"] == "IAMUser"
    assert assume["resources"] == [{"ARN": f"arn:aws:iam::{ACCOUNT}:role/reader", "accountId": ACCOUNT,
                                    "type": "AWS::IAM::Role"}]
    get = next(r for r in records if r["eventName"] == "GetItem")
    identity = get["userIdentity"]
    assert identity["type"] == "AssumedRole" and identity["principalId"] == f"{role_id}:alice"
    assert identity["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/alice"
    assert identity["accessKeyId"].startswith("ASIA")
    assert identity["sessionContext"]["sessionIssuer"] == {
        "type": "Role", "principalId": role_id, "arn": f"arn:aws:iam::{ACCOUNT}:role/reader",
        "accountId": ACCOUNT, "userName": "reader"}
    assert identity["sessionContext"]["attributes"] == {"creationDate": assume["eventTime"],
                                                        "mfaAuthenticated": "false"}
    decrypt = [r for r in records if r["eventName"] == "Decrypt"][-1]
    assert decrypt["userIdentity"]["type"] == "AssumedRole"
    for record in records:
        RECORD.validate(record)


def test_a_session_of_a_deleted_role_is_denied_everything(lab, world):
    """A session's permissions are its role's, read on every request: once the role and its policies are
    deleted the session's calls are implicitly denied (kmslab's choice of error: AccessDenied)."""
    make_role(lab)
    ddb = lab.assume_role("reader", user=USER).client("dynamodb")
    iam = lab.client("iam")
    iam.delete_role_policy(RoleName="reader", PolicyName="read")
    iam.delete_role(RoleName="reader")
    with pytest.raises(ClientError) as excinfo:
        ddb.get_item(TableName=TABLE, Key=ITEM_KEY)
    assert error_of(excinfo)[0] == "AccessDeniedException"


# -- permissions boundaries -----------------------------------------------------------------------------

def _boundary(lab: Lab, name: str, *actions: str) -> str:
    return lab.client("iam").create_policy(PolicyName=name, PolicyDocument=document(allow(list(actions))))[
        "Policy"]["Arn"]


def test_a_boundary_caps_a_too_broad_role(lab, world):
    """IAM User Guide, "Permissions boundaries for IAM entities": the effective permissions are the
    intersection of the identity-based policies and the boundary. The role allows dynamodb:* and kms:*; its
    boundary only GetItem and Decrypt, so Scan is refused, naming the boundary."""
    boundary = _boundary(lab, "read-one-item", "dynamodb:GetItem", "kms:Decrypt")
    make_role(lab, actions=("dynamodb:*", "kms:*"), PermissionsBoundary=boundary)
    ddb = lab.assume_role("reader", user=USER).client("dynamodb")
    assert "Item" in ddb.get_item(TableName=TABLE, Key=ITEM_KEY)
    with pytest.raises(ClientError) as excinfo:
        ddb.scan(TableName=TABLE)
    assert error_of(excinfo)[1].endswith("because no permissions boundary allows the dynamodb:Scan action")
    assert lab.why().checks[-1].decision.reason == "BOUNDARY_DOES_NOT_ALLOW"


def test_a_boundary_put_and_deleted_later_takes_effect_at_once(lab, world):
    """PutRolePermissionsBoundary / DeleteRolePermissionsBoundary change what the role's sessions may do
    from the next request on (policies are read on every request)."""
    make_role(lab, actions=("dynamodb:GetItem", "dynamodb:Scan"))
    ddb = lab.assume_role("reader", user=USER).client("dynamodb")
    assert ddb.scan(TableName=TABLE)["Count"] == 1
    iam = lab.client("iam")
    iam.put_role_permissions_boundary(RoleName="reader",
                                      PermissionsBoundary=_boundary(lab, "items", "dynamodb:GetItem", "kms:Decrypt"))
    with pytest.raises(ClientError):
        ddb.scan(TableName=TABLE)
    iam.delete_role_permissions_boundary(RoleName="reader")
    assert ddb.scan(TableName=TABLE)["Count"] == 1


def test_a_boundary_does_not_grant_anything_itself(lab, world):
    """A boundary "does not grant permissions on its own": a role whose policies allow only GetItem gets no
    Scan from a boundary that allows everything."""
    make_role(lab, PermissionsBoundary="arn:aws:iam::aws:policy/AdministratorAccess")
    with pytest.raises(ClientError) as excinfo:
        lab.assume_role("reader", user=USER).client("dynamodb").scan(TableName=TABLE)
    assert "because no identity-based policy allows the dynamodb:Scan action" in error_of(excinfo)[1]


def test_a_user_created_with_a_boundary_is_capped(lab, world):
    """CreateUser with PermissionsBoundary: the user's AmazonDynamoDBFullAccess counts only as far as the
    boundary allows."""
    iam = lab.client("iam")
    boundary = _boundary(lab, "describe-only", "dynamodb:DescribeTable")
    iam.create_user(UserName="bounded", PermissionsBoundary=boundary)
    iam.attach_user_policy(UserName="bounded", PolicyArn="arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess")
    iam.create_access_key(UserName="bounded")
    ddb = lab.session_for("bounded").client("dynamodb")
    assert ddb.describe_table(TableName=TABLE)["Table"]["TableName"] == TABLE
    with pytest.raises(ClientError) as excinfo:
        ddb.scan(TableName=TABLE)
    assert "because no permissions boundary allows the dynamodb:Scan action" in error_of(excinfo)[1]


def test_a_boundary_that_names_no_policy_is_refused(lab, world):
    """IAM refuses a boundary ARN that names no managed policy (NoSuchEntity) and creates nothing."""
    iam = lab.client("iam")
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=trusting(USER_ARN),
                        PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/missing")
    assert error_of(excinfo)[0] == "NoSuchEntity"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == []


def test_iam_permissions_boundary_condition_key_is_the_boundary_arn(lab, world):
    """Service authorization reference: iam:CreateRole supports iam:PermissionsBoundary, the ARN of the
    boundary being set; a policy can require a boundary on every role a user creates."""
    boundary = _boundary(lab, "items", "dynamodb:GetItem")
    lab.client("iam").put_user_policy(UserName=USER, PolicyName="create-bounded-roles", PolicyDocument=document(
        allow("iam:CreateRole", Condition={"StringEquals": {"iam:PermissionsBoundary": boundary}})))
    iam = lab.session_for(USER).client("iam")
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName="free", AssumeRolePolicyDocument=trusting(USER_ARN))
    assert error_of(excinfo)[0] == "AccessDenied"
    iam.create_role(RoleName="bounded", AssumeRolePolicyDocument=trusting(USER_ARN), PermissionsBoundary=boundary)


def test_explain_decides_for_a_role_and_reads_the_trust_policy(lab, world):
    """lab.explain answers for a session of a role (its policies and boundary) and, for sts:AssumeRole on
    a role, with the role's trust policy: the same decisions the enforcer makes."""
    make_role(lab, actions=("dynamodb:*",),
              PermissionsBoundary=_boundary(lab, "get-only", "dynamodb:GetItem"))
    assert lab.explain("role/reader", "dynamodb:GetItem", TABLE).allowed
    assert lab.explain("role/reader", "dynamodb:Scan", TABLE).reason == "BOUNDARY_DOES_NOT_ALLOW"
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/reader"
    assert lab.explain(USER, "sts:AssumeRole", role_arn).reason == "ALLOWED_BY_RESOURCE_POLICY"
    assert lab.explain("lab-admin", "sts:AssumeRole", role_arn).reason == "TRUST_POLICY_DOES_NOT_ALLOW"


def test_a_session_works_over_http_on_the_emulator():
    """The emulator target's front door verifies a session's signature and token like the offline one:
    the session reads with its role's policies, and the same key without its token is refused."""
    with Lab(target="emulator", quiet=True) as lab:
        build_seed_world(lab)
        make_role(lab)
        session = lab.assume_role("reader", "over-http", user=USER)
        ddb = session.client("dynamodb")
        assert ddb.meta.endpoint_url == lab.endpoint
        assert ddb.get_item(TableName=TABLE, Key=ITEM_KEY)["Item"]["id"] == {"S": "42"}
        credentials = session.get_credentials()
        bare = boto3.client("dynamodb", endpoint_url=lab.endpoint, region_name=lab.region,
                            aws_access_key_id=credentials.access_key, aws_secret_access_key=credentials.secret_key)
        with pytest.raises(ClientError) as excinfo:
            bare.get_item(TableName=TABLE, Key=ITEM_KEY)
        assert excinfo.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_role_chaining_works_and_is_limited_to_one_hour(lab, world):
    """A role session may assume another role whose trust policy names the first role (its sessions
    match the role's ARN); STS limits a chained session to one hour, and any session to the role's
    MaxSessionDuration (ValidationError, in STS's words)."""
    make_role(lab)
    iam = lab.client("iam")
    iam.create_role(RoleName="second", AssumeRolePolicyDocument=trusting(f"arn:aws:iam::{ACCOUNT}:role/reader"),
                    MaxSessionDuration=7200)
    first = lab.assume_role("reader", user=USER).client("sts")
    chained = first.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/second", RoleSessionName="hop")
    assert chained["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/second/hop"
    with pytest.raises(ClientError) as excinfo:
        first.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/second", RoleSessionName="hop",
                          DurationSeconds=7200)
    assert error_of(excinfo) == ("ValidationError", "The requested DurationSeconds exceeds the 1 hour session "
                                                    "limit for roles assumed by role chaining.")
    with pytest.raises(ClientError) as excinfo:
        lab.assume_role("reader", user=USER, duration_seconds=7200)
    assert error_of(excinfo)[1] == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."


def test_a_trust_policy_can_require_an_external_id(lab, world):
    """sts:ExternalId is a condition key of AssumeRole: a trust policy that requires it refuses a call
    without it, or with another, and allows the right one."""
    make_role(lab, trust=document({"Effect": "Allow", "Principal": {"AWS": USER_ARN}, "Action": "sts:AssumeRole",
                                   "Condition": {"StringEquals": {"sts:ExternalId": "partner-7"}}}))
    sts = lab.session_for(USER).client("sts")
    arn = f"arn:aws:iam::{ACCOUNT}:role/reader"
    for extra in ({}, {"ExternalId": "guess"}):
        with pytest.raises(ClientError) as excinfo:
            sts.assume_role(RoleArn=arn, RoleSessionName="ext", **extra)
        assert error_of(excinfo)[0] == "AccessDenied"
    assert sts.assume_role(RoleArn=arn, RoleSessionName="ext", ExternalId="partner-7")["Credentials"]["AccessKeyId"]

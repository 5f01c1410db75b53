"""Routes around the key, tried as a database admin with AmazonDynamoDBFullAccess and no KMS permission.

Each is refused for the reason AWS gives; the rules and their sources are in the enforcer's docstrings
(``kmslab/_enforce.py``: ``_before_restore``, ``_before_update_table``) and the closed world's table
(``kmslab/_operations.py``).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from kmslab._enforce import NOT_MODELLED
from tests.test_enforcement import TABLE, USER, add_user_policy, error_of


@pytest.fixture
def admin(lab, world):
    return lab.session.client("dynamodb")


@pytest.fixture
def user(lab, world):
    return lab.session_for(USER).client("dynamodb")


def _backup(client) -> str:
    return client.create_backup(TableName=TABLE, BackupName="nightly")["BackupDetails"]["BackupArn"]


# -- backups and restores --------------------------------------------------------------------------------

def test_a_backup_stays_under_the_tables_key(admin, world):
    """DynamoDB guide: "DynamoDB backups are encrypted"; the backup keeps its table's customer managed key."""
    arn = _backup(admin)
    described = admin.describe_backup(BackupArn=arn)["BackupDescription"]
    assert described["SourceTableFeatureDetails"]["SSEDescription"]["KMSMasterKeyArn"] == world["key_arn"]


@pytest.mark.parametrize("override", [None, {"Enabled": False}, {"Enabled": True, "SSEType": "KMS"}])
def test_restoring_a_backup_needs_the_backups_key(lab, user, world, override):
    """The restore reads the backup under its key (the caller's kms:Decrypt, through DynamoDB), whatever key
    the restored table is to have: the admin gets AWS's KMS access denial, and no table appears."""
    arn = _backup(user)  # CreateBackup needs no KMS permission of the caller: DynamoDB uses its grant
    kwargs = {"TargetTableName": "stolen", "BackupArn": arn}
    if override is not None:
        kwargs["SSESpecificationOverride"] = override
    with pytest.raises(ClientError) as excinfo:
        user.restore_table_from_backup(**kwargs)
    code, message, _ = error_of(excinfo)
    assert code == "AccessDeniedException"
    assert "kms:Decrypt" in message and world["key_arn"] in message
    assert "stolen" not in lab.session.client("dynamodb").list_tables()["TableNames"]
    decrypt = lab.trail.filter(event="Decrypt")[-1]
    assert decrypt["errorCode"] == "AccessDenied"


def test_point_in_time_restore_needs_the_tables_key(lab, user, world):
    lab.session.client("dynamodb").update_continuous_backups(
        TableName=TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    with pytest.raises(ClientError) as excinfo:
        user.restore_table_to_point_in_time(SourceTableName=TABLE, TargetTableName="stolen",
                                            UseLatestRestorableTime=True,
                                            SSESpecificationOverride={"Enabled": False})
    assert error_of(excinfo)[0] == "AccessDeniedException"
    assert "stolen" not in lab.session.client("dynamodb").list_tables()["TableNames"]


def test_the_key_admin_restores_and_the_copy_stays_locked(lab, admin, user, world):
    """A legitimate restore: the restored table is under the same key, with DynamoDB's own grant for it,
    and the admin still cannot read the copy."""
    arn = _backup(admin)
    restored = admin.restore_table_from_backup(TargetTableName="restored", BackupArn=arn)["TableDescription"]
    assert restored["SSEDescription"]["KMSMasterKeyArn"] == world["key_arn"]
    assert admin.describe_table(TableName="restored")["Table"]["SSEDescription"]["KMSMasterKeyArn"] == \
        world["key_arn"]
    grants = lab.session.client("kms").list_grants(KeyId=world["key_id"])["Grants"]
    tables = {g["Constraints"]["EncryptionContextSubset"]["aws:dynamodb:tableName"] for g in grants}
    assert tables == {TABLE, "restored"}
    assert admin.scan(TableName="restored")["Count"] == 1
    with pytest.raises(ClientError) as excinfo:
        user.scan(TableName="restored")
    assert error_of(excinfo)[0] == "AccessDeniedException"


def test_a_restore_to_the_aws_owned_key_is_the_key_admins_choice(admin, world):
    arn = _backup(admin)
    restored = admin.restore_table_from_backup(TargetTableName="plain", BackupArn=arn,
                                               SSESpecificationOverride={"Enabled": False})
    assert "SSEDescription" not in restored["TableDescription"]
    assert "SSEDescription" not in admin.describe_table(TableName="plain")["Table"]


def test_a_restore_fails_while_the_key_is_disabled(lab, admin, world):
    """DynamoDB guide: to restore, "the last customer managed key on the table must be enabled"."""
    arn = _backup(admin)
    lab.session.client("kms").disable_key(KeyId=world["key_id"])
    with pytest.raises(ClientError) as excinfo:
        admin.restore_table_from_backup(TargetTableName="restored", BackupArn=arn)
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException" and "DisabledException" in message


def test_a_restore_needs_read_and_write_permissions_on_the_target(lab, world):
    """DynamoDB guide, "Using IAM with DynamoDB backup and restore": read and write permissions on the
    target table are necessary. An explicit Deny of PutItem on the target refuses the restore."""
    add_user_policy(lab, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": world["key_arn"]},
        {"Effect": "Deny", "Action": "dynamodb:PutItem",
         "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/copy"}]})
    user = lab.session_for(USER).client("dynamodb")
    arn = _backup(user)
    with pytest.raises(ClientError) as excinfo:
        user.restore_table_from_backup(TargetTableName="copy", BackupArn=arn)
    code, message, _ = error_of(excinfo)
    assert code == "AccessDeniedException" and "dynamodb:PutItem" in message and "explicit deny" in message


def test_a_backup_of_another_region_is_not_found(admin, world):
    arn = _backup(admin).replace("us-east-1", "eu-west-1")
    with pytest.raises(ClientError) as excinfo:
        admin.restore_table_from_backup(TargetTableName="copy", BackupArn=arn)
    assert error_of(excinfo)[0] == "BackupNotFoundException"


# -- switching the table's key ---------------------------------------------------------------------------

@pytest.mark.parametrize("sse", [{"Enabled": False}, {"Enabled": True, "SSEType": "KMS"}])
def test_the_admin_cannot_switch_the_table_off_its_key(lab, user, world, sse):
    with pytest.raises(ClientError) as excinfo:
        user.update_table(TableName=TABLE, SSESpecification=sse)
    code, message, _ = error_of(excinfo)
    assert code == "AccessDeniedException" and "kms:Decrypt" in message
    table = lab.session.client("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert table["SSEDescription"]["KMSMasterKeyArn"] == world["key_arn"]


def test_the_admin_cannot_switch_the_table_to_a_key_of_their_own(lab, world):
    add_user_policy(lab, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:*", "NotResource": world["key_arn"]}]})
    session = lab.session_for(USER)
    mine = session.client("kms").create_key(Description="mine")["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as excinfo:
        session.client("dynamodb").update_table(TableName=TABLE, SSESpecification={
            "Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": mine})
    assert error_of(excinfo)[0] == "AccessDeniedException"
    assert world["key_arn"] in error_of(excinfo)[1]


def test_the_key_admin_switches_keys_and_dynamodb_moves_its_grant(lab, admin, world):
    kms = lab.session.client("kms")
    new_key = kms.create_key(Description="next")["KeyMetadata"]
    answer = admin.update_table(TableName=TABLE, SSESpecification={
        "Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": new_key["KeyId"]})["TableDescription"]
    assert answer["TableStatus"] == "UPDATING"
    assert answer["SSEDescription"] == {"Status": "UPDATING", "SSEType": "KMS", "KMSMasterKeyArn": new_key["Arn"]}
    table = admin.describe_table(TableName=TABLE)["Table"]
    assert table["TableStatus"] == "ACTIVE" and table["SSEDescription"]["KMSMasterKeyArn"] == new_key["Arn"]
    assert kms.list_grants(KeyId=world["key_id"])["Grants"] == []
    assert len(kms.list_grants(KeyId=new_key["KeyId"])["Grants"]) == 1
    retired = lab.trail.filter(event="RetireGrant")[-1]
    assert world["key_arn"] in json.dumps(retired)
    kms.disable_key(KeyId=world["key_id"])  # the old key no longer matters
    assert admin.scan(TableName=TABLE)["Count"] == 1


def test_a_switch_to_the_aws_owned_key_removes_the_sse_description(admin, world):
    admin.update_table(TableName=TABLE, SSESpecification={"Enabled": False})
    assert "SSEDescription" not in admin.describe_table(TableName=TABLE)["Table"]


# -- the closed world ------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda c: c.import_table(S3BucketSource={"S3Bucket": "b"}, InputFormat="DYNAMODB_JSON",
                             TableCreationParameters={"TableName": "imported", "AttributeDefinitions": [
                                 {"AttributeName": "id", "AttributeType": "S"}], "KeySchema": [
                                 {"AttributeName": "id", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}),
    lambda c: c.export_table_to_point_in_time(TableArn=f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}",
                                              S3Bucket="b"),
    lambda c: c.create_global_table(GlobalTableName=TABLE, ReplicationGroup=[{"RegionName": "eu-west-1"}]),
], ids=["ImportTable", "ExportTableToPointInTime", "CreateGlobalTable"])
def test_what_the_lab_does_not_model_is_refused_before_moto(lab, admin, call):
    with pytest.raises(ClientError) as excinfo:
        call(admin)
    code, message, _ = error_of(excinfo)
    assert code == NOT_MODELLED and "kmslab does not model dynamodb:" in message
    assert lab.trail[-1]["errorCode"] == NOT_MODELLED


def test_an_operation_name_is_matched_exactly(lab, user):
    """AWS's operation names are exact: ``scan`` is not ``Scan`` (and must not slip past the KMS lock)."""
    def lower_case(request, **kwargs):
        request.headers.replace_header("X-Amz-Target", "DynamoDB_20120810.scan")
    user.meta.events.register("before-sign.dynamodb.Scan", lower_case)
    with pytest.raises(ClientError) as excinfo:
        user.scan(TableName=TABLE)
    assert error_of(excinfo)[0] == "UnknownOperationException"


# -- PartiQL ---------------------------------------------------------------------------------------------

def test_partiql_table_comes_from_the_parser_not_a_pattern(lab, user, world):
    """A quoted string that looks like another table does not move the KMS check off the real table."""
    lab.session.client("dynamodb").create_table(
        TableName="decoy", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    with pytest.raises(ClientError) as excinfo:
        user.execute_statement(Statement=f'SELECT secret, "from decoy" FROM "{TABLE}"')
    code, message, _ = error_of(excinfo)
    assert code == "AccessDeniedException" and world["key_arn"] in message


@pytest.mark.parametrize("statement", [f'SELECT * FROM"{TABLE}"', "  SELECT * FROM t", "EXISTS(SELECT 1)"])
def test_a_statement_the_parser_cannot_read_is_refused_cleanly(admin, statement):
    with pytest.raises(ClientError) as excinfo:
        admin.execute_statement(Statement=statement)
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException" and message.startswith("Statement wasn't well formed")


# -- identifiers -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("rewrite, message", [
    (lambda arn: arn.replace("us-east-1", "eu-west-1"), "Invalid arn eu-west-1"),
    (lambda arn: arn.replace("123456789012", "210987654321"), "does not exist"),
])
def test_a_key_arn_of_elsewhere_never_names_the_lab_key(lab, world, rewrite, message):
    kms = lab.session.client("kms")
    for call in (lambda k: kms.describe_key(KeyId=k), lambda k: kms.encrypt(KeyId=k, Plaintext=b"x")):
        with pytest.raises(ClientError) as excinfo:
            call(rewrite(world["key_arn"]))
        assert error_of(excinfo)[0] == "NotFoundException" and message in error_of(excinfo)[1]


def test_a_table_arn_is_the_table(lab, world):
    """A table named by its ARN is authorized on that ARN: an explicit Deny on it holds, an Allow on it works."""
    add_user_policy(lab, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "dynamodb:DescribeTable", "Resource": world["table_arn"]}]})
    user = lab.session_for(USER).client("dynamodb")
    for name in (TABLE, world["table_arn"]):
        with pytest.raises(ClientError) as excinfo:
            user.describe_table(TableName=name)
        assert "explicit deny" in error_of(excinfo)[1]


def test_a_table_arn_of_another_account_is_a_cross_account_request(lab, user, world):
    foreign = world["table_arn"].replace("123456789012", "210987654321")
    with pytest.raises(ClientError) as excinfo:
        user.get_item(TableName=foreign, Key={"id": {"S": "42"}})
    code, message, _ = error_of(excinfo)
    assert code == "AccessDeniedException" and foreign in message


def test_a_table_arn_of_another_region_is_not_here(admin, world):
    with pytest.raises(ClientError) as excinfo:
        admin.get_item(TableName=world["table_arn"].replace("us-east-1", "eu-west-1"), Key={"id": {"S": "42"}})
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


# -- the cache is per connection -------------------------------------------------------------------------

def test_a_new_client_asks_kms_again(lab, world):
    """DynamoDB guide: the table key is cached "for each connection". A user whose permission was removed
    keeps reading on the old connection for a while, but a new client asks KMS and is refused."""
    add_user_policy(lab, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": world["key_arn"]}]}, name="reader")
    session = lab.session_for(USER)
    old = session.client("dynamodb")
    assert old.scan(TableName=TABLE)["Count"] == 1
    lab.session.client("iam").delete_user_policy(UserName=USER, PolicyName="reader")
    assert old.scan(TableName=TABLE)["Count"] == 1  # cached on this connection
    with pytest.raises(ClientError) as excinfo:
        session.client("dynamodb").scan(TableName=TABLE)
    assert error_of(excinfo)[0] == "AccessDeniedException"


# -- IAM and STS -----------------------------------------------------------------------------------------

def _deny_user(lab, action: str, resource: str) -> None:
    add_user_policy(lab, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": action, "Resource": resource}]}, name="iam")


def test_add_user_to_group_is_authorized_on_the_group(lab, world):
    """Service authorization reference: iam:AddUserToGroup acts on the group resource, not the user."""
    lab.session.client("iam").create_group(GroupName="admins", Path="/ops/")
    _deny_user(lab, "iam:AddUserToGroup", "arn:aws:iam::123456789012:group/ops/admins")
    iam = lab.session_for(USER).client("iam")
    with pytest.raises(ClientError) as excinfo:
        iam.add_user_to_group(GroupName="admins", UserName=USER)
    assert error_of(excinfo)[0] == "AccessDenied" and "group/ops/admins" in error_of(excinfo)[1]


def test_an_access_key_without_user_name_is_the_callers_own(lab, world):
    """IAM: without UserName, CreateAccessKey acts on the user who signs the request."""
    _deny_user(lab, "iam:CreateAccessKey", world["user_arn"])
    with pytest.raises(ClientError) as excinfo:
        lab.session_for(USER).client("iam").create_access_key()
    assert error_of(excinfo)[0] == "AccessDenied" and world["user_arn"] in error_of(excinfo)[1]


def test_putting_a_users_boundary_later_is_refused_as_not_modelled(lab):
    """The lab's emulator keeps no user's boundary after CreateUser (roles' boundaries are modelled):
    PutUserPermissionsBoundary is refused before it reaches the emulator, and nothing changes."""
    iam = lab.session.client("iam")
    iam.create_user(UserName="bounded")
    with pytest.raises(ClientError) as excinfo:
        iam.put_user_permissions_boundary(UserName="bounded", PermissionsBoundary=FULL_ACCESS_ARN)
    assert error_of(excinfo)[0] == NOT_MODELLED
    assert "iam:PutUserPermissionsBoundary" in error_of(excinfo)[1]


def test_sessions_are_refused_as_not_modelled(lab):
    with pytest.raises(ClientError) as excinfo:
        lab.session.client("sts").get_session_token()
    assert error_of(excinfo)[0] == NOT_MODELLED and "sts:GetSessionToken" in error_of(excinfo)[1]


def test_get_caller_identity_is_answered_even_under_an_explicit_deny(lab, world):
    """IAM User Guide: no permission is required for GetCallerIdentity, and an explicit Deny does not block it."""
    add_user_policy(lab, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    identity = lab.session_for(USER).client("sts").get_caller_identity()
    assert identity["Arn"] == world["user_arn"]


FULL_ACCESS_ARN = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"


# -- hostile policies ------------------------------------------------------------------------------------

@pytest.mark.parametrize("policy", ['{"Statement": ["x"]}', "not json", '{"Statement": ' * 300 + "{}" + "}" * 300])
def test_a_malformed_key_policy_is_refused_in_kmss_words(lab, world, policy):
    kms = lab.session.client("kms")
    before = kms.get_key_policy(KeyId=world["key_id"], PolicyName="default")["Policy"]
    with pytest.raises(ClientError) as excinfo:
        kms.put_key_policy(KeyId=world["key_id"], PolicyName="default", Policy=policy)
    assert error_of(excinfo)[0] == "MalformedPolicyDocumentException"
    assert kms.get_key_policy(KeyId=world["key_id"], PolicyName="default")["Policy"] == before


def test_a_malformed_identity_policy_is_refused_in_iams_words(lab, world):
    iam = lab.session.client("iam")
    with pytest.raises(ClientError) as excinfo:
        iam.put_user_policy(UserName=USER, PolicyName="broken", PolicyDocument='{"Statement": ["x"]}')
    assert error_of(excinfo)[0] == "MalformedPolicyDocument"
    assert iam.list_user_policies(UserName=USER)["PolicyNames"] == []


def test_an_aws_reserved_alias_is_refused(lab, world):
    """KMS API reference: alias names beginning with alias/aws/ are reserved for AWS managed keys."""
    with pytest.raises(ClientError) as excinfo:
        lab.session.client("kms").create_alias(AliasName="alias/aws/mine", TargetKeyId=world["key_id"])
    assert error_of(excinfo)[0] == "InvalidAliasNameException"

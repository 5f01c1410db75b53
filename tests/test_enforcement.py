"""The two locks, enforced on plain boto3 clients as AWS enforces them.

Each test names the AWS rule it follows; the rules and their sources are in
``shared/reference/aws-facts.md`` (sections 1-4 and 6).
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from kmslab import Lab

TABLE = "my-encrypted-table"
USER = "dynamo_test_user"
FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"


def build_seed_world(lab: Lab, *, key_policy: dict | None = None, sse: str = "cmk") -> dict:
    """The seed tutorial's world, made with lab-admin's own boto3 calls."""
    kms = lab.session.client("kms")
    kwargs = {"Description": "KMS key for encrypting DynamoDB tables"}
    if key_policy is not None:
        kwargs["Policy"] = json.dumps(key_policy)
    key = kms.create_key(**kwargs)["KeyMetadata"]
    ddb = lab.session.client("dynamodb")
    table_args = {
        "TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    }
    if sse == "cmk":
        table_args["SSESpecification"] = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["KeyId"]}
    elif sse == "aws-managed":
        table_args["SSESpecification"] = {"Enabled": True, "SSEType": "KMS"}
    ddb.create_table(**table_args)
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "42"}, "secret": {"S": "grandma's cookie recipe"}})
    iam = lab.session.client("iam")
    iam.create_user(UserName=USER)
    iam.attach_user_policy(UserName=USER, PolicyArn=FULL_ACCESS)
    iam.create_access_key(UserName=USER)
    return {"key_id": key["KeyId"], "key_arn": key["Arn"],
            "table_arn": f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}",
            "user_arn": f"arn:aws:iam::123456789012:user/{USER}"}


@pytest.fixture
def user_ddb(lab, world):
    return lab.session_for(USER).client("dynamodb")


def add_user_policy(lab: Lab, document: dict, name: str = "extra") -> None:
    lab.session.client("iam").put_user_policy(UserName=USER, PolicyName=name, PolicyDocument=json.dumps(document))


def error_of(excinfo: pytest.ExceptionInfo) -> tuple[str, str, int]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


READS_AND_WRITES = {
    "Scan": lambda c: c.scan(TableName=TABLE),
    "GetItem": lambda c: c.get_item(TableName=TABLE, Key={"id": {"S": "42"}}),
    "Query": lambda c: c.query(TableName=TABLE, KeyConditionExpression="id = :v",
                               ExpressionAttributeValues={":v": {"S": "42"}}),
    "PutItem": lambda c: c.put_item(TableName=TABLE, Item={"id": {"S": "43"}}),
    "ExecuteStatement": lambda c: c.execute_statement(Statement=f'SELECT * FROM "{TABLE}"'),
    "DeleteItem": lambda c: c.delete_item(TableName=TABLE, Key={"id": {"S": "42"}}),
    "BatchGetItem": lambda c: c.batch_get_item(RequestItems={TABLE: {"Keys": [{"id": {"S": "42"}}]}}),
}


# -- the seed's denied admin ----------------------------------------------------------------------------

@pytest.mark.parametrize("operation", sorted(READS_AND_WRITES))
def test_full_access_admin_is_denied_every_item_call(lab, world, user_ddb, operation):
    """AWS rule: reading or writing a table under a CMK needs kms:Decrypt as the caller; the key policy
    delegates to IAM, and AmazonDynamoDBFullAccess has no kms:Decrypt, so KMS denies (implicit deny)."""
    with pytest.raises(ClientError) as excinfo:
        READS_AND_WRITES[operation](user_ddb)
    code, message, status = error_of(excinfo)
    assert (code, status) == ("AccessDeniedException", 400)
    assert message.startswith("KMS key access denied error: com.amazonaws.services.kms.model.AWSKMSException: "
                              f"User: {world['user_arn']} is not authorized to perform: kms:Decrypt on resource: "
                              f"{world['key_arn']} because no identity-based policy allows the kms:Decrypt action")
    assert "(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: " in message


def test_modelled_exception_class_is_raised(lab, world, user_ddb):
    """botocore turns the wire error into DynamoDB's modelled exception, as against AWS."""
    with pytest.raises(user_ddb.exceptions.ClientError) as excinfo:
        user_ddb.scan(TableName=TABLE)
    assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"


def test_denied_write_changes_nothing(lab, world, user_ddb):
    with pytest.raises(ClientError):
        user_ddb.put_item(TableName=TABLE, Item={"id": {"S": "new"}})
    items = lab.session.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert [i["id"]["S"] for i in items] == ["42"]


def test_control_plane_calls_need_no_key(lab, world, user_ddb):
    """DescribeTable does not touch the table key; AmazonDynamoDBFullAccess includes kms:DescribeKey."""
    table = user_ddb.describe_table(TableName=TABLE)["Table"]
    assert table["SSEDescription"]["KMSMasterKeyArn"] == world["key_arn"]
    kms = lab.session_for(USER).client("kms")
    assert kms.describe_key(KeyId=world["key_id"])["KeyMetadata"]["Arn"] == world["key_arn"]


def test_admin_can_read_through_root_delegation(lab, world):
    """Default key policy delegates to the account; AdministratorAccess allows kms:*."""
    items = lab.session.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert items[0]["secret"]["S"] == "grandma's cookie recipe"


# -- identity policies on the key ----------------------------------------------------------------------

def test_identity_allow_on_the_key_arn_opens_both_paths(lab, world, user_ddb):
    """Root delegation + an IAM allow of kms:Decrypt on the key ARN: allowed via DynamoDB and directly."""
    add_user_policy(lab, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": world["key_arn"]}]})
    assert user_ddb.scan(TableName=TABLE)["Count"] == 1
    kms_admin = lab.session.client("kms")
    blob = kms_admin.encrypt(KeyId=world["key_id"], Plaintext=b"hi")["CiphertextBlob"]
    assert lab.session_for(USER).client("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"hi"


def test_via_service_allows_dynamodb_but_not_direct_decrypt(lab, world, user_ddb):
    """kms:ViaService: the condition holds only for requests DynamoDB makes on the caller's behalf."""
    add_user_policy(lab, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": world["key_arn"],
         "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}}]})
    assert user_ddb.get_item(TableName=TABLE, Key={"id": {"S": "42"}})["Item"]["id"]["S"] == "42"
    blob = lab.session.client("kms").encrypt(KeyId=world["key_id"], Plaintext=b"hi")["CiphertextBlob"]
    with pytest.raises(ClientError) as excinfo:
        lab.session_for(USER).client("kms").decrypt(CiphertextBlob=blob)
    code, message, status = error_of(excinfo)
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (f"User: {world['user_arn']} is not authorized to perform: kms:Decrypt on resource: "
                       f"{world['key_arn']} because no identity-based policy allows the kms:Decrypt action")


def test_encryption_context_condition_limits_to_one_table(lab, world, user_ddb):
    """kms:EncryptionContext:aws:dynamodb:tableName carries the table name DynamoDB sends to KMS."""
    add_user_policy(lab, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": world["key_arn"],
         "Condition": {"StringEquals": {"kms:EncryptionContext:aws:dynamodb:tableName": "another-table"}}}]})
    with pytest.raises(ClientError):
        user_ddb.scan(TableName=TABLE)
    add_user_policy(lab, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": world["key_arn"],
         "Condition": {"StringEquals": {"kms:EncryptionContext:aws:dynamodb:tableName": TABLE}}}]})
    lab.advance(minutes=5)
    assert user_ddb.scan(TableName=TABLE)["Count"] == 1


def test_explicit_deny_beats_administrator_access(lab, world):
    """An explicit deny in any policy overrides every allow, AdministratorAccess included."""
    lab.session.client("iam").put_user_policy(
        UserName="lab-admin", PolicyName="no-decrypt", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}]}))
    ddb = boto3.client("dynamodb")  # a plain client acts as lab-admin
    lab.advance(minutes=5)  # lab-admin's connection cached the table key when it put the test item
    with pytest.raises(ClientError) as excinfo:
        ddb.scan(TableName=TABLE)
    code, message, _ = error_of(excinfo)
    assert code == "AccessDeniedException"
    assert "with an explicit deny in an identity-based policy" in message


# -- the key policy ------------------------------------------------------------------------------------

def _policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ADMIN_STATEMENT = {"Sid": "KeyAdmin", "Effect": "Allow",
                   "Principal": {"AWS": "arn:aws:iam::123456789012:user/lab-admin"},
                   "Action": "kms:*", "Resource": "*"}


def test_key_policy_without_root_delegation_makes_iam_allow_ineffective(lab):
    """KMS: without delegation in the key policy, IAM policies that allow access to the key are ineffective."""
    world = build_seed_world(lab, key_policy=_policy(ADMIN_STATEMENT))
    add_user_policy(lab, _policy({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}))
    with pytest.raises(ClientError) as excinfo:
        lab.session_for(USER).client("dynamodb").scan(TableName=TABLE)
    _, message, _ = error_of(excinfo)
    assert (f"User: {world['user_arn']} is not authorized to perform: kms:Decrypt on resource: "
            f"{world['key_arn']} because no resource-based policy allows the kms:Decrypt action") in message


def test_key_policy_naming_the_user_needs_no_iam_policy(lab):
    """A key policy statement naming the user allows it on its own."""
    user_arn = "arn:aws:iam::123456789012:user/" + USER
    lab.session.client("iam").create_user(UserName=USER)  # the principal must exist before the policy names it
    kms = lab.session.client("kms")
    key = kms.create_key(Policy=json.dumps(_policy(ADMIN_STATEMENT, {
        "Sid": "TableReaders", "Effect": "Allow", "Principal": {"AWS": user_arn},
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringLike": {"kms:ViaService": "dynamodb.*.amazonaws.com"}}})))["KeyMetadata"]
    ddb = lab.session.client("dynamodb")
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]})
    iam = lab.session.client("iam")
    iam.attach_user_policy(UserName=USER, PolicyArn=FULL_ACCESS)
    iam.create_access_key(UserName=USER)
    assert lab.session_for(USER).client("dynamodb").scan(TableName=TABLE)["Count"] == 0


def test_explicit_deny_in_key_policy(lab):
    world = build_seed_world(lab, key_policy=_policy(
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "NoTestUser", "Effect": "Deny",
         "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"aws:username": USER}}}))
    add_user_policy(lab, _policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": world["key_arn"]}))
    with pytest.raises(ClientError) as excinfo:
        lab.session_for(USER).client("dynamodb").scan(TableName=TABLE)
    assert "with an explicit deny in a resource-based policy" in error_of(excinfo)[1]
    assert lab.session.client("dynamodb").scan(TableName=TABLE)["Count"] == 1  # the admin is not denied


# -- grants --------------------------------------------------------------------------------------------

def test_grant_for_the_user_allows_and_its_constraint_binds(lab, world, user_ddb):
    """A grant adds permission; its encryption-context constraint must match DynamoDB's context."""
    kms = lab.session.client("kms")
    grant = kms.create_grant(KeyId=world["key_id"], GranteePrincipal=world["user_arn"], Operations=["Decrypt"],
                             Constraints={"EncryptionContextSubset": {"aws:dynamodb:tableName": "other"}})
    with pytest.raises(ClientError):
        user_ddb.scan(TableName=TABLE)
    kms.revoke_grant(KeyId=world["key_id"], GrantId=grant["GrantId"])
    kms.create_grant(KeyId=world["key_id"], GranteePrincipal=world["user_arn"], Operations=["Decrypt"],
                     Constraints={"EncryptionContextSubset": {"aws:dynamodb:tableName": TABLE}})
    assert user_ddb.scan(TableName=TABLE)["Count"] == 1


def test_dynamodb_creates_its_own_grant_for_the_table(lab, world):
    """CreateTable with a CMK: DynamoDB creates a grant for itself, constrained to the table's context."""
    grants = lab.session.client("kms").list_grants(KeyId=world["key_id"])["Grants"]
    assert len(grants) == 1
    assert grants[0]["GranteePrincipal"] == "dynamodb.us-east-1.amazonaws.com"
    assert grants[0]["Constraints"]["EncryptionContextSubset"] == {
        "aws:dynamodb:subscriberId": "123456789012", "aws:dynamodb:tableName": TABLE}
    lab.session.client("dynamodb").delete_table(TableName=TABLE)
    assert lab.session.client("kms").list_grants(KeyId=world["key_id"])["Grants"] == []


# -- other keys ----------------------------------------------------------------------------------------

def test_aws_managed_key_needs_nothing_from_the_caller(lab):
    """aws/dynamodb's policy lets any principal of the account use it through DynamoDB (and only so)."""
    build_seed_world(lab, sse="aws-managed")
    user = lab.session_for(USER)
    assert user.client("dynamodb").scan(TableName=TABLE)["Count"] == 1
    key_arn = user.client("dynamodb").describe_table(TableName=TABLE)["Table"]["SSEDescription"]["KMSMasterKeyArn"]
    policy = json.loads(lab.session.client("kms").get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": "*"}
    assert lab.session.client("kms").describe_key(KeyId=key_arn)["KeyMetadata"]["KeyManager"] == "AWS"


def test_aws_owned_key_table_makes_no_kms_call(lab):
    build_seed_world(lab, sse="none")
    before = len(lab.trail.filter(service="kms"))
    assert lab.session_for(USER).client("dynamodb").scan(TableName=TABLE)["Count"] == 1
    assert len(lab.trail.filter(service="kms")) == before


def test_create_table_reports_the_key_arn_and_refuses_a_missing_key(lab):
    """DynamoDB returns the key ARN whatever reference was given; a missing key fails CreateTable."""
    world = build_seed_world(lab)
    table = lab.session.client("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert table["SSEDescription"]["KMSMasterKeyArn"] == world["key_arn"]
    with pytest.raises(ClientError) as excinfo:
        lab.session.client("dynamodb").create_table(
            TableName="t2-table", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            SSESpecification={"Enabled": True, "SSEType": "KMS",
                              "KMSMasterKeyId": "11111111-2222-3333-4444-555555555555"})
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException" and "NotFoundException" in message
    assert "t2-table" not in lab.session.client("dynamodb").list_tables()["TableNames"]


# -- key states, the cache and the clock ---------------------------------------------------------------

def test_disabled_key_locks_everyone_out(lab, world):
    """A disabled key cannot be used in any cryptographic operation, by anyone, directly or via DynamoDB."""
    kms = lab.session.client("kms")
    blob = kms.encrypt(KeyId=world["key_id"], Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=world["key_id"])
    with pytest.raises(kms.exceptions.DisabledException) as excinfo:
        kms.decrypt(CiphertextBlob=blob)
    assert error_of(excinfo)[1] == f"{world['key_arn']} is disabled."
    lab.advance(minutes=5)  # past any cached table key (none yet for this connection anyway)
    with pytest.raises(ClientError) as excinfo:
        lab.session.client("dynamodb").get_item(TableName=TABLE, Key={"id": {"S": "42"}})
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException"
    assert message.startswith("KMS key disabled error: com.amazonaws.services.kms.model.DisabledException: "
                              f"{world['key_arn']} is disabled.")


def test_table_becomes_inaccessible_then_active_again_once_dynamodb_notices(lab, world):
    """API reference, SSEDescription: InaccessibleEncryptionDateTime "will automatically be cleared when
    DynamoDB detects that the table's AWS KMS key is accessible again": not at once (the lab's delay is
    RECOVERY_DELAY, a modelling choice)."""
    from kmslab._enforce import RECOVERY_DELAY
    ddb, kms = lab.session.client("dynamodb"), lab.session.client("kms")
    kms.disable_key(KeyId=world["key_id"])
    assert ddb.describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE"
    lab.advance(minutes=15)
    table = ddb.describe_table(TableName=TABLE)["Table"]
    assert table["TableStatus"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
    assert "InaccessibleEncryptionDateTime" in table["SSEDescription"]
    kms.enable_key(KeyId=world["key_id"])
    assert ddb.describe_table(TableName=TABLE)["Table"]["TableStatus"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
    assert ddb.scan(TableName=TABLE)["Count"] == 1  # the key itself is usable again at once
    lab.advance(seconds=RECOVERY_DELAY.total_seconds())
    table = ddb.describe_table(TableName=TABLE)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert "InaccessibleEncryptionDateTime" not in table["SSEDescription"]


def test_a_key_reenabled_before_dynamodb_noticed_leaves_the_table_active(lab, world):
    ddb, kms = lab.session.client("dynamodb"), lab.session.client("kms")
    kms.disable_key(KeyId=world["key_id"])
    lab.advance(minutes=5)
    kms.enable_key(KeyId=world["key_id"])
    lab.advance(minutes=30)
    assert ddb.describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE"


def test_table_is_archiving_then_archived_after_seven_days_inaccessible(lab, world):
    """DynamoDB guide: a key inaccessible for more than seven days gets the table archived; API reference,
    TableStatus: ARCHIVING ("operations are not allowed until archival is complete"), then ARCHIVED."""
    from kmslab._enforce import ARCHIVING_TAKES
    ddb = lab.session.client("dynamodb")
    lab.session.client("kms").disable_key(KeyId=world["key_id"])
    lab.advance(minutes=15)
    lab.advance(days=6, hours=23)
    assert ddb.describe_table(TableName=TABLE)["Table"]["TableStatus"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
    lab.advance(hours=1)
    assert ddb.describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ARCHIVING"
    lab.advance(seconds=ARCHIVING_TAKES.total_seconds())
    table = ddb.describe_table(TableName=TABLE)["Table"]
    assert table["TableStatus"] == "ARCHIVED"
    assert table["ArchivalSummary"]["ArchivalReason"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
    assert table["ArchivalSummary"]["ArchivalBackupArn"].startswith(f"{table['TableArn']}/backup/")


def test_an_archived_table_stays_archived_when_the_key_comes_back(lab, world):
    """DynamoDB guide: an archived table "can no longer be accessed"; its data comes back only by restoring
    the archival backup to a new table, with the key enabled."""
    ddb, kms = lab.session.client("dynamodb"), lab.session.client("kms")
    kms.disable_key(KeyId=world["key_id"])
    lab.advance(days=8)
    kms.enable_key(KeyId=world["key_id"])
    lab.advance(days=1)
    table = ddb.describe_table(TableName=TABLE)["Table"]
    assert table["TableStatus"] == "ARCHIVED"
    with pytest.raises(ClientError) as excinfo:
        ddb.scan(TableName=TABLE)
    assert error_of(excinfo)[0] == "ValidationException"
    restored = ddb.restore_table_from_backup(TargetTableName="restored",
                                             BackupArn=table["ArchivalSummary"]["ArchivalBackupArn"])
    assert restored["TableDescription"]["SSEDescription"]["KMSMasterKeyArn"] == world["key_arn"]
    assert ddb.scan(TableName="restored")["Count"] == 1


def test_pending_deletion_then_cancel_leaves_the_key_disabled(lab, world):
    kms = lab.session.client("kms")
    kms.schedule_key_deletion(KeyId=world["key_id"], PendingWindowInDays=7)
    lab.advance(minutes=6)
    with pytest.raises(ClientError) as excinfo:
        lab.session.client("dynamodb").scan(TableName=TABLE)
    assert "KMSInvalidStateException" in error_of(excinfo)[1]
    with pytest.raises(kms.exceptions.KMSInvalidStateException) as excinfo:
        kms.encrypt(KeyId=world["key_id"], Plaintext=b"x")
    assert error_of(excinfo)[1] == f"{world['key_arn']} is pending deletion."
    kms.cancel_key_deletion(KeyId=world["key_id"])
    assert kms.describe_key(KeyId=world["key_id"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_key_is_deleted_when_its_window_ends(lab, world):
    kms = lab.session.client("kms")
    kms.schedule_key_deletion(KeyId=world["key_id"], PendingWindowInDays=7)
    lab.advance(days=6)
    assert kms.describe_key(KeyId=world["key_id"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    lab.advance(days=1)
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=world["key_id"])
    deleted = lab.trail.filter(event="DeleteKey")[0]  # KMS's own service event (KMS guide, DeleteKey entry)
    assert (deleted["eventType"], deleted["userIdentity"]["invokedBy"]) == ("AwsServiceEvent", "AWS Internal")


def test_cached_table_key_outlives_disable_for_five_minutes(lab, world):
    """DynamoDB caches the plaintext table key per connection and asks KMS again after five minutes."""
    ddb = lab.session.client("dynamodb")
    ddb.scan(TableName=TABLE)
    lab.session.client("kms").disable_key(KeyId=world["key_id"])
    lab.advance(seconds=299)
    assert ddb.scan(TableName=TABLE)["Count"] == 1
    lab.advance(seconds=2)
    with pytest.raises(ClientError):
        ddb.scan(TableName=TABLE)


def test_revoked_permission_takes_effect_after_the_cache(lab, world, user_ddb):
    add_user_policy(lab, _policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": world["key_arn"]}))
    assert user_ddb.scan(TableName=TABLE)["Count"] == 1
    lab.session.client("iam").delete_user_policy(UserName=USER, PolicyName="extra")
    assert user_ddb.scan(TableName=TABLE)["Count"] == 1
    lab.advance(minutes=5)
    with pytest.raises(ClientError):
        user_ddb.scan(TableName=TABLE)


# -- credentials and KMS guard rails -------------------------------------------------------------------

@pytest.mark.parametrize("service, call, code", [
    ("dynamodb", lambda c: c.list_tables(), "UnrecognizedClientException"),
    ("kms", lambda c: c.list_keys(), "UnrecognizedClientException"),
    ("iam", lambda c: c.list_users(), "InvalidClientTokenId"),
])
def test_unknown_credentials_are_refused(lab, service, call, code):
    client = boto3.client(service, aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                          aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region_name="us-east-1")
    with pytest.raises(ClientError) as excinfo:
        call(client)
    code_seen, message, _ = error_of(excinfo)
    assert code_seen == code
    assert message == "The security token included in the request is invalid."


def test_lockout_safety_check(lab):
    """CreateKey refuses a policy that would not let the caller change it later, unless told to bypass."""
    kms = lab.session.client("kms")
    other_only = _policy({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/lab-admin"},
                          "Action": "kms:Decrypt", "Resource": "*"})
    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException) as excinfo:
        kms.create_key(Policy=json.dumps(other_only))
    assert error_of(excinfo)[1] == "The new key policy will not allow you to update the key policy in the future."
    assert kms.list_keys()["Keys"] == []
    kms.create_key(Policy=json.dumps(other_only), BypassPolicyLockoutSafetyCheck=True)
    assert len(kms.list_keys()["Keys"]) == 1


def test_key_policy_naming_a_missing_principal_is_malformed(lab):
    kms = lab.session.client("kms")
    policy = _policy(ADMIN_STATEMENT, {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/nobody"},
                                       "Action": "kms:Decrypt", "Resource": "*"})
    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException) as excinfo:
        kms.create_key(Policy=json.dumps(policy))
    assert error_of(excinfo)[1] == "Policy contains a statement with one or more invalid principals."


def test_iam_denial_is_the_query_protocol_error(lab, world):
    iam = lab.session_for(USER).client("iam")
    with pytest.raises(ClientError) as excinfo:
        iam.create_user(UserName="mallory")
    code, message, status = error_of(excinfo)
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f"User: {world['user_arn']} is not authorized to perform: iam:CreateUser on resource: "
                       "arn:aws:iam::123456789012:user/mallory because no identity-based policy allows the "
                       "iam:CreateUser action")


# -- explanations and the trail ------------------------------------------------------------------------

def test_trail_shows_the_decrypt_made_on_the_users_behalf(lab, world, user_ddb):
    with pytest.raises(ClientError):
        user_ddb.scan(TableName=TABLE)
    inner = lab.trail.filter(service="kms", event="Decrypt", user=USER)[-1]
    assert inner["userIdentity"]["invokedBy"] == "dynamodb.amazonaws.com"
    assert inner["sourceIPAddress"] == "dynamodb.amazonaws.com"
    assert inner["userIdentity"]["arn"] == world["user_arn"]
    assert inner["errorCode"] == "AccessDenied"
    assert inner["requestParameters"]["encryptionContext"]["aws:dynamodb:tableName"] == TABLE
    outer = lab.trail[-1]
    assert (outer["eventName"], outer["errorCode"]) == ("Scan", "AccessDeniedException")
    assert "Decrypt" in str(lab.trail.last(2))


def test_explain_scan_allowed_but_decrypt_denied(lab, world):
    scan = lab.explain(USER, "dynamodb:Scan", TABLE)
    assert scan.allowed
    decrypt = lab.explain(USER, "kms:Decrypt", world["key_arn"],
                          context={"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"})
    assert not decrypt.allowed
    assert decrypt.reason == "NO_IDENTITY_ALLOW"


def test_why_explains_the_last_refused_call_lock_by_lock(lab, world, user_ddb):
    with pytest.raises(ClientError):
        user_ddb.get_item(TableName=TABLE, Key={"id": {"S": "42"}})
    why = lab.why()
    assert why.call == "dynamodb:GetItem" and not why.allowed
    assert [c.passed for c in why.checks] == [True, False]
    assert why.checks[0].decision.allowed and not why.checks[1].decision.allowed
    assert "kms:Decrypt" in str(why)


# -- the offline lab stays offline ---------------------------------------------------------------------

def test_no_request_leaves_an_offline_lab(monkeypatch, tmp_path):
    """Even with real-looking credentials and a profile configured, nothing reaches the network."""
    import socket
    config = tmp_path / "config"
    config.write_text("[profile work]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_PROFILE", "work")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-looking-secret")
    connections = []

    def refuse(self, address):
        connections.append(address)
        raise OSError("network use in an offline lab")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    with Lab() as lab:
        build_seed_world(lab)
        assert boto3.client("sts").get_caller_identity()["Arn"].endswith(":user/lab-admin")
        with pytest.raises(ClientError) as excinfo:
            boto3.client("sqs").list_queues()  # a service the lab does not emulate
        assert "was not sent anywhere" in excinfo.value.response["Error"]["Message"]
    assert connections == []
    import os
    assert os.environ["AWS_PROFILE"] == "work"  # given back on close


def test_two_labs_give_the_same_ids():
    with Lab() as lab:
        first = build_seed_world(lab)
    with Lab() as lab:
        second = build_seed_world(lab)
    assert first == second


def test_key_operations_take_the_key_arn_as_kms_does(lab, world):
    kms = lab.session.client("kms")
    kms.disable_key(KeyId=world["key_arn"])
    kms.enable_key(KeyId=world["key_arn"])
    scheduled = kms.schedule_key_deletion(KeyId=world["key_arn"], PendingWindowInDays=7)
    assert (scheduled["KeyId"], scheduled["KeyState"], scheduled["PendingWindowInDays"]) == \
        (world["key_arn"], "PendingDeletion", 7)
    assert kms.cancel_key_deletion(KeyId=world["key_arn"])["KeyId"] == world["key_arn"]


@pytest.mark.parametrize("days, bound", [(6, "greater than or equal to 7"), (31, "less than or equal to 30")])
def test_deletion_window_outside_7_to_30_days_is_refused(lab, world, days, bound):
    kms = lab.session.client("kms")
    with pytest.raises(ClientError) as excinfo:
        kms.schedule_key_deletion(KeyId=world["key_id"], PendingWindowInDays=days)
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException" and bound in message
    assert kms.describe_key(KeyId=world["key_id"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_service_calls_are_recorded_as_the_service(lab, world):
    """CloudTrail shows DynamoDB's own calls (GenerateDataKey, RetireGrant) with userIdentity type AWSService."""
    lab.session.client("dynamodb").delete_table(TableName=TABLE)
    for event in ("GenerateDataKey", "RetireGrant"):
        record = lab.trail.filter(service="kms", event=event)[-1]
        assert record["userIdentity"]["type"] == "AWSService"
        assert "accessKeyId" not in record["userIdentity"]
        assert record["userIdentity"]["invokedBy"] == "dynamodb.amazonaws.com"


def test_explain_call_decides_both_locks_without_calling(lab, world):
    """A what-if for a whole call: DynamoDB's lock and the key's, as a new connection would meet them."""
    before = len(lab.trail)
    why = lab.explain_call(USER, "dynamodb:GetItem", TABLE)
    assert len(lab.trail) == before  # nothing was called
    assert [c.passed for c in why.checks] == [True, False, True]
    assert not why.allowed and why.error_code == "AccessDeniedException"
    assert why.checks[1].decision.reason == "NO_IDENTITY_ALLOW"
    # a control-plane call needs only the first lock
    assert lab.explain_call(USER, "dynamodb:DescribeTable", TABLE).allowed
    add_user_policy(lab, _policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": world["key_arn"]}))
    assert lab.explain_call(USER, "dynamodb:GetItem", TABLE).allowed
    lab.session.client("kms").disable_key(KeyId=world["key_id"])
    disabled = lab.explain_call(USER, "dynamodb:GetItem", TABLE)
    assert [c.passed for c in disabled.checks] == [True, True, False]
    assert disabled.error_code == "ValidationException"

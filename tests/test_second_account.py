"""A second account in the lab (issue 14, item 3): a partner reads the table only when both sides agree.

The rules tested here are AWS's "Cross-account policy evaluation logic" (IAM User Guide): a request from
one account to a resource of another is allowed only when the resource's policy (the table's resource-based
policy, the key policy) allows the caller or names its account, *and* the caller's own IAM policies allow
it; an explicit deny on either side wins. Reading a table under a customer managed key also meets the key:
DynamoDB calls ``kms:Decrypt`` on the caller's behalf, so the key policy must allow the partner too. Which
operations take another account's table ARN is the DynamoDB developer guide's table ("DynamoDB API
operations supported by resource-based policies"); which KMS operations take another account's key ARN is
each operation's "Cross-account use" line in the KMS API reference.
"""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError
from test_enforcement import TABLE, build_seed_world

from kmslab import Account, Lab, LabError

HOME = "123456789012"
PARTNER = "444455556666"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{HOME}:table/{TABLE}"
READ = ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query"]


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def partner(lab, world) -> Account:
    return lab.add_account()


def share_table(lab: Lab, principal: str, actions=READ, effect="Allow") -> None:
    lab.client("dynamodb").put_resource_policy(ResourceArn=TABLE_ARN, Policy=policy(
        {"Effect": effect, "Principal": {"AWS": principal}, "Action": actions, "Resource": TABLE_ARN}))


def share_key(lab: Lab, key_arn: str, principal: str) -> None:
    """The default key policy (the account's IAM decides) plus decrypt for ``principal`` of the partner."""
    lab.client("kms").put_key_policy(KeyId=key_arn, PolicyName="default", Policy=policy(
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{HOME}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Partner decrypts", "Effect": "Allow", "Principal": {"AWS": principal},
         "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}))


def reader(partner: Account, actions: list[str], name: str = "analyst") -> object:
    """A partner user whose own IAM allows ``actions`` on everything (and nothing else)."""
    iam = partner.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="reads", PolicyDocument=policy(
        {"Effect": "Allow", "Action": actions, "Resource": "*"}))
    iam.create_access_key(UserName=name)
    return partner.session_for(name)


def error_of(call, *args, **kwargs) -> dict:
    with pytest.raises(ClientError) as excinfo:
        call(*args, **kwargs)
    return excinfo.value.response["Error"]


def test_the_partner_is_an_account_of_its_own(lab, partner):
    assert partner.account_id == PARTNER
    assert partner.client("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{PARTNER}:user/partner-admin"
    assert partner.client("dynamodb").list_tables()["TableNames"] == []  # the lab's table is not theirs
    partner.client("dynamodb").create_table(
        TableName="their-own", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    assert lab.client("dynamodb").list_tables()["TableNames"] == [TABLE]
    assert partner.client("dynamodb").list_tables()["TableNames"] == ["their-own"]
    assert lab.add_account() is partner  # the same account when asked again


def test_without_a_resource_policy_the_table_refuses_another_account(lab, partner):
    """Across accounts the resource's side must allow: no table policy, no access, whatever the caller's
    own IAM says (the partner's administrator has AdministratorAccess)."""
    error = error_of(partner.client("dynamodb").describe_table, TableName=TABLE_ARN)
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (f"User: arn:aws:iam::{PARTNER}:user/partner-admin is not authorized to perform: "
                                f"dynamodb:DescribeTable on resource: {TABLE_ARN} because no resource-based "
                                "policy allows the dynamodb:DescribeTable action")


def test_a_table_policy_alone_is_not_enough_across_accounts(lab, partner):
    """The table's policy names the partner's account; the partner's user has no IAM allow of its own:
    refused, for the identity side ("no identity-based policy allows")."""
    share_table(lab, partner.root_arn)
    iam = partner.client("iam")
    iam.create_user(UserName="nobody")
    iam.create_access_key(UserName="nobody")
    error = error_of(partner.session_for("nobody").client("dynamodb").describe_table, TableName=TABLE_ARN)
    assert error["Message"].endswith("because no identity-based policy allows the dynamodb:DescribeTable action")


def test_both_sides_allow_then_the_key_is_the_third_lock(lab, world, partner):
    share_table(lab, partner.root_arn)
    ddb = reader(partner, READ + ["kms:Decrypt"]).client("dynamodb")
    assert ddb.describe_table(TableName=TABLE_ARN)["Table"]["TableArn"] == TABLE_ARN
    error = error_of(ddb.get_item, TableName=TABLE_ARN, Key={"id": {"S": "42"}})
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"].startswith("KMS key access denied error: com.amazonaws.services.kms.model."
                                       f"AWSKMSException: User: arn:aws:iam::{PARTNER}:user/analyst is not "
                                       f"authorized to perform: kms:Decrypt on resource: {world['key_arn']} "
                                       "because no resource-based policy allows the kms:Decrypt action")
    share_key(lab, world["key_arn"], partner.root_arn)
    item = ddb.get_item(TableName=TABLE_ARN, Key={"id": {"S": "42"}})["Item"]
    assert item["secret"] == {"S": "grandma's cookie recipe"}
    assert ddb.scan(TableName=TABLE_ARN)["Count"] == 1


def test_the_key_policy_naming_the_account_still_needs_the_callers_iam(lab, world, partner):
    """The key policy names the partner's account root: the partner's IAM must then allow kms:Decrypt
    itself, as for any key policy that delegates to an account."""
    share_table(lab, partner.root_arn)
    share_key(lab, world["key_arn"], partner.root_arn)
    ddb = reader(partner, READ).client("dynamodb")  # DynamoDB reads, no kms:Decrypt
    error = error_of(ddb.get_item, TableName=TABLE_ARN, Key={"id": {"S": "42"}})
    assert "because no identity-based policy allows the kms:Decrypt action" in error["Message"]


def test_an_explicit_deny_in_the_table_policy_wins(lab, world, partner):
    lab.client("dynamodb").put_resource_policy(ResourceArn=TABLE_ARN, Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": partner.root_arn}, "Action": READ, "Resource": TABLE_ARN},
        {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{PARTNER}:user/analyst"},
         "Action": "dynamodb:Scan", "Resource": TABLE_ARN}))
    share_key(lab, world["key_arn"], partner.root_arn)
    ddb = reader(partner, READ + ["kms:Decrypt"]).client("dynamodb")
    assert ddb.get_item(TableName=TABLE_ARN, Key={"id": {"S": "42"}})["Item"]
    error = error_of(ddb.scan, TableName=TABLE_ARN)
    assert error["Message"].endswith("with an explicit deny in a resource-based policy")


def test_a_write_needs_its_own_allow_on_both_sides(lab, world, partner):
    share_table(lab, partner.root_arn)  # reads only
    share_key(lab, world["key_arn"], partner.root_arn)
    ddb = reader(partner, ["dynamodb:*", "kms:*"]).client("dynamodb")
    error = error_of(ddb.put_item, TableName=TABLE_ARN, Item={"id": {"S": "7"}})
    assert error["Message"].endswith("because no resource-based policy allows the dynamodb:PutItem action")
    assert lab.client("dynamodb").scan(TableName=TABLE)["Count"] == 1  # nothing changed


def test_the_trail_shows_the_callers_account_and_the_tables(lab, world, partner):
    share_table(lab, partner.root_arn)
    share_key(lab, world["key_arn"], partner.root_arn)
    reader(partner, READ + ["kms:Decrypt"]).client("dynamodb").get_item(TableName=TABLE_ARN, Key={"id": {"S": "42"}})
    record = next(r for r in reversed(list(lab.trail)) if r["eventName"] == "GetItem")
    assert record["userIdentity"]["accountId"] == PARTNER
    assert record["userIdentity"]["arn"] == f"arn:aws:iam::{PARTNER}:user/analyst"
    assert record["recipientAccountId"] == HOME
    assert record["resources"] == [{"ARN": TABLE_ARN, "accountId": HOME, "type": "AWS::DynamoDB::Table"}]


def test_kms_calls_reach_the_key_by_its_arn_only_where_kms_allows_it(lab, world, partner):
    """DescribeKey and Decrypt are cross-account operations (by key ARN); DisableKey is not: another
    account's key ARN names no key of the caller's account."""
    kms = reader(partner, ["kms:*"]).client("kms")
    error = error_of(kms.describe_key, KeyId=world["key_arn"])
    assert error["Message"].endswith("because no resource-based policy allows the kms:DescribeKey action")
    share_key(lab, world["key_arn"], partner.root_arn)
    assert kms.describe_key(KeyId=world["key_arn"])["KeyMetadata"]["Arn"] == world["key_arn"]
    error = error_of(kms.disable_key, KeyId=world["key_arn"])
    assert (error["Code"], error["Message"]) == ("NotFoundException", f"Key '{world['key_arn']}' does not exist")
    assert lab.client("kms").describe_key(KeyId=world["key_arn"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_a_ciphertext_of_the_lab_key_decrypts_only_when_the_key_policy_allows(lab, world, partner):
    blob = lab.client("kms").encrypt(KeyId=world["key_id"], Plaintext=b"shared")["CiphertextBlob"]
    kms = reader(partner, ["kms:Decrypt"]).client("kms")
    error = error_of(kms.decrypt, CiphertextBlob=blob)
    assert world["key_arn"] in error["Message"] and "no resource-based policy" in error["Message"]
    share_key(lab, world["key_arn"], partner.root_arn)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
    assert base64.b64encode(blob)  # the ciphertext was the lab account's own


def test_assuming_a_role_of_the_other_account_is_refused_as_not_modelled(lab, partner):
    lab.client("iam").create_role(RoleName="shared-reader", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": partner.root_arn}, "Action": "sts:AssumeRole"}))
    error = error_of(partner.client("sts").assume_role, RoleArn=f"arn:aws:iam::{HOME}:role/shared-reader",
                     RoleSessionName="s1")
    assert error["Code"] == "NotModelledInLab"


def test_one_request_naming_tables_of_both_accounts_is_refused_as_not_modelled(lab, partner):
    share_table(lab, partner.root_arn)
    partner.client("dynamodb").create_table(
        TableName="theirs", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    error = error_of(partner.client("dynamodb").batch_get_item, RequestItems={
        TABLE_ARN: {"Keys": [{"id": {"S": "42"}}]}, "theirs": {"Keys": [{"id": {"S": "1"}}]}})
    assert error["Code"] == "NotModelledInLab"


def test_explain_decides_for_the_partner_as_the_calls_do(lab, world, partner):
    share_table(lab, partner.root_arn)
    decision = lab.explain(f"arn:aws:iam::{PARTNER}:user/partner-admin", "dynamodb:GetItem", TABLE_ARN)
    assert decision.allowed
    assert not partner.explain("partner-admin", "dynamodb:PutItem", TABLE_ARN).allowed
    assert not partner.explain("partner-admin", "kms:Decrypt", world["key_arn"]).allowed
    share_key(lab, world["key_arn"], partner.root_arn)
    assert partner.explain("partner-admin", "kms:Decrypt", world["key_arn"]).allowed


def test_the_partners_keys_keep_their_own_clock(lab, partner):
    kms = partner.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    lab.advance(days=8)
    error = error_of(kms.describe_key, KeyId=key_id)
    assert error["Code"] == "NotFoundException"


def test_a_terraform_provider_alias_creates_in_the_partner_account(lab, partner, tmp_path):
    (tmp_path / "main.tf").write_text('''
provider "aws" {
  alias = "partner"
}
resource "aws_iam_user" "analyst" {
  provider = aws.partner
  name     = "tf-analyst"
}
''')
    lab.terraform(tmp_path, providers={"partner": partner}, out=lambda line: None).apply()
    assert [u["UserName"] for u in partner.client("iam").list_users()["Users"]].count("tf-analyst") == 1
    assert "tf-analyst" not in [u["UserName"] for u in lab.client("iam").list_users()["Users"]]


def test_add_account_refuses_the_labs_own_id(lab):
    with pytest.raises(LabError, match="12 digits and not the lab's own"):
        lab.add_account(account_id=HOME)


def test_the_served_emulator_routes_the_partner_too():
    with Lab("emulator") as lab:
        build_seed_world(lab)
        partner = lab.add_account()
        share_table(lab, partner.root_arn)
        assert partner.client("dynamodb").describe_table(TableName=TABLE_ARN)["Table"]["TableName"] == TABLE
        error = error_of(partner.client("dynamodb").scan, TableName=TABLE_ARN)
        assert error["Message"].startswith("KMS key access denied error")


def test_a_key_policy_may_name_a_user_of_the_partner_but_not_one_that_does_not_exist(lab, world, partner):
    """KMS refuses a key policy whose principal does not exist; a partner's user exists in its account."""
    reader(partner, ["kms:Decrypt"])
    share_key(lab, world["key_arn"], f"arn:aws:iam::{PARTNER}:user/analyst")
    with pytest.raises(ClientError) as excinfo:
        share_key(lab, world["key_arn"], f"arn:aws:iam::{PARTNER}:user/nobody-of-that-name")
    assert excinfo.value.response["Error"]["Message"] == \
        "Policy contains a statement with one or more invalid principals."


def test_operations_that_do_not_cross_accounts_stay_shut_even_when_the_table_policy_allows_all(lab, world, partner):
    """DynamoDB's table of cross-account support says No for backups, TTL, resource policies and PartiQL:
    a table policy allowing dynamodb:* to the partner does not open them."""
    share_table(lab, partner.root_arn, actions="dynamodb:*")
    ddb = partner.client("dynamodb")
    for call, kwargs in ((ddb.create_backup, {"TableName": TABLE_ARN, "BackupName": "bak"}),
                         (ddb.update_time_to_live, {"TableName": TABLE_ARN, "TimeToLiveSpecification": {
                             "Enabled": True, "AttributeName": "ttl"}}),
                         (ddb.delete_resource_policy, {"ResourceArn": TABLE_ARN}),
                         (ddb.execute_statement, {"Statement": f'SELECT * FROM "{TABLE_ARN}"'})):
        assert error_of(call, **kwargs)["Code"] == "AccessDeniedException", call
    assert lab.client("dynamodb").list_backups()["BackupSummaries"] == []
    assert lab.client("dynamodb").get_resource_policy(ResourceArn=TABLE_ARN)["Policy"]  # still there


def test_a_forged_account_header_does_not_move_a_request_into_the_lab_account(lab, world, partner):
    ddb = partner.session.client("dynamodb")
    ddb.meta.events.register("before-sign.dynamodb.*", lambda request, **kwargs: request.headers.__setitem__(
        "x-moto-account-id", HOME))
    assert ddb.list_tables()["TableNames"] == []
    assert list(lab.trail)[-1]["recipientAccountId"] == PARTNER


def test_a_partner_role_session_is_the_partners_principal_across_accounts(lab, world, partner):
    iam = partner.client("iam")
    iam.create_role(RoleName="reader", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": partner.root_arn}, "Action": "sts:AssumeRole"}))
    iam.attach_role_policy(RoleName="reader", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    session = partner.assume_role("reader", "s1")
    assert session.client("sts").get_caller_identity()["Arn"] == f"arn:aws:sts::{PARTNER}:assumed-role/reader/s1"
    assert error_of(session.client("dynamodb").describe_table, TableName=TABLE_ARN)["Code"] == "AccessDeniedException"
    share_table(lab, f"arn:aws:iam::{PARTNER}:role/reader")  # the role, named in the table's policy
    assert session.client("dynamodb").describe_table(TableName=TABLE_ARN)["Table"]["TableArn"] == TABLE_ARN

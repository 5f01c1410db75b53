"""A table's resource-based policy (DynamoDB PutResourcePolicy), evaluated as AWS evaluates one.

Within one account (IAM User Guide, "Policy evaluation logic", same-account requests): a resource-based
policy that names the principal allows on its own; a Deny in it is an explicit deny that no IAM allow
overrides; the DynamoDB permission is decided before the KMS one. The second account of issue 14 is not
built yet: these are the table-policy half of it.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from test_enforcement import TABLE, USER

ACCOUNT = "123456789012"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/{USER}"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_a_deny_in_the_tables_policy_is_an_explicit_deny(lab, world):
    """The user's AmazonDynamoDBFullAccess allows DescribeTable; the table's policy denies it to them:
    AWS answers "with an explicit deny in a resource-based policy"."""
    ddb = lab.client("dynamodb")
    ddb.put_resource_policy(ResourceArn=TABLE_ARN, Policy=policy(
        {"Effect": "Deny", "Principal": {"AWS": USER_ARN}, "Action": "dynamodb:DescribeTable", "Resource": TABLE_ARN}))
    with pytest.raises(ClientError) as excinfo:
        lab.session_for(USER).client("dynamodb").describe_table(TableName=TABLE)
    assert excinfo.value.response["Error"]["Message"].endswith("with an explicit deny in a resource-based policy")


def test_a_table_policy_that_names_the_principal_allows_without_iam(lab, world):
    """Same account: an allow in the table's policy for the role session's ARN is enough on its own for
    the DynamoDB lock (the role has no DynamoDB permission of its own)."""
    iam = lab.client("iam")
    iam.create_role(RoleName="describer", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": USER_ARN}, "Action": "sts:AssumeRole"}))
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/describer/d1"
    ddb = lab.assume_role("describer", "d1", user=USER).client("dynamodb")
    with pytest.raises(ClientError):
        ddb.describe_table(TableName=TABLE)
    lab.client("dynamodb").put_resource_policy(ResourceArn=TABLE_ARN, Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": session_arn}, "Action": "dynamodb:DescribeTable",
         "Resource": TABLE_ARN}))
    assert ddb.describe_table(TableName=TABLE)["Table"]["TableName"] == TABLE


def test_the_policy_can_be_read_and_deleted_and_stops_counting(lab, world):
    """GetResourcePolicy answers the document; after DeleteResourcePolicy its Deny no longer applies."""
    ddb = lab.client("dynamodb")
    document = policy({"Effect": "Deny", "Principal": {"AWS": USER_ARN}, "Action": "dynamodb:DescribeTable",
                       "Resource": TABLE_ARN})
    ddb.put_resource_policy(ResourceArn=TABLE_ARN, Policy=document)
    assert json.loads(ddb.get_resource_policy(ResourceArn=TABLE_ARN)["Policy"]) == json.loads(document)
    ddb.delete_resource_policy(ResourceArn=TABLE_ARN)
    assert lab.session_for(USER).client("dynamodb").describe_table(TableName=TABLE)["Table"]["TableName"] == TABLE


def test_putting_a_policy_needs_the_permission_on_the_table(lab, world):
    """dynamodb:PutResourcePolicy is authorized on the table's ARN like every table action."""
    lab.client("iam").put_user_policy(UserName=USER, PolicyName="no-policies", PolicyDocument=policy(
        {"Effect": "Deny", "Action": "dynamodb:PutResourcePolicy", "Resource": TABLE_ARN}))
    with pytest.raises(ClientError) as excinfo:
        lab.session_for(USER).client("dynamodb").put_resource_policy(ResourceArn=TABLE_ARN, Policy=policy(
            {"Effect": "Allow", "Principal": {"AWS": USER_ARN}, "Action": "dynamodb:*", "Resource": TABLE_ARN}))
    assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_policy_without_principal_is_refused_before_it_is_stored(lab, world):
    """A resource-based policy must name its principals; the malformed one is refused (ValidationException,
    kmslab's choice of code) and nothing is stored."""
    ddb = lab.client("dynamodb")
    with pytest.raises(ClientError) as excinfo:
        ddb.put_resource_policy(ResourceArn=TABLE_ARN, Policy=policy(
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": TABLE_ARN}))
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        ddb.get_resource_policy(ResourceArn=TABLE_ARN)
    assert excinfo.value.response["Error"]["Code"] == "PolicyNotFoundException"


# -- the evaluator across accounts ----------------------------------------------------------------------

PARTNER = "444455556666"
PARTNER_USER = f"arn:aws:iam::{PARTNER}:user/analyst"
ALLOW_GET = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE_ARN}]}


def table_policy(principal) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "dynamodb:GetItem", "Resource": TABLE_ARN}]}


def test_across_accounts_both_sides_must_allow():
    """IAM User Guide, "Cross-account policy evaluation logic": the table's policy must allow the partner
    (its account or the principal) and the partner's own IAM policies must allow the request too."""
    from kmslab import evaluate
    both = evaluate(PARTNER_USER, "dynamodb:GetItem", TABLE_ARN, identity_policies=[ALLOW_GET],
                    resource_policy=table_policy(PARTNER))
    assert both.allowed and both.reason == "ALLOWED"
    assert any(step.title == "Cross-account" for step in both.steps)
    only_table = evaluate(PARTNER_USER, "dynamodb:GetItem", TABLE_ARN, resource_policy=table_policy(PARTNER_USER))
    assert only_table.reason == "NO_IDENTITY_ALLOW"
    only_iam = evaluate(PARTNER_USER, "dynamodb:GetItem", TABLE_ARN, identity_policies=[ALLOW_GET])
    assert only_iam.reason == "RESOURCE_POLICY_DOES_NOT_ALLOW"
    assert only_iam.message.endswith("because no resource-based policy allows the dynamodb:GetItem action")


def test_resource_account_makes_an_arn_without_account_cross_account():
    """S3 ARNs carry no account: told the owner, the evaluator applies the cross-account rule."""
    from kmslab import evaluate
    obj = "arn:aws:s3:::their-bucket/report.csv"
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": obj}]}
    bucket = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": PARTNER}, "Action": "s3:GetObject", "Resource": obj}]}
    assert evaluate(PARTNER_USER, "s3:GetObject", obj, identity_policies=[allow],
                    resource_account=ACCOUNT).reason == "RESOURCE_POLICY_DOES_NOT_ALLOW"
    assert evaluate(PARTNER_USER, "s3:GetObject", obj, identity_policies=[allow], resource_policy=bucket,
                    context={"aws:ResourceAccount": ACCOUNT}).allowed

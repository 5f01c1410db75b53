"""The bundled stack applied, changed, targeted, failed half-way and destroyed against in-process moto."""

from __future__ import annotations

import datetime
import json
import shutil

import _tf_helpers
import pytest
from _tf_helpers import BUNDLED, Lines, write_config
from botocore.exceptions import ClientError

from kmslab import ApplyError, ReferenceError_
from kmslab._terraform import Stack

_moto_for_module = _tf_helpers._moto_for_module  # fixtures shared by the test_terraform_* modules
aws_session = _tf_helpers.aws_session

TABLE = "my-encrypted-table"


@pytest.fixture
def bundled(tmp_path):
    """A copy of the bundled configuration that a test may edit."""
    return shutil.copytree(BUNDLED, tmp_path / "terraform", ignore=shutil.ignore_patterns("*.md"))


def test_apply_creates_key_table_user_and_returns_plain_outputs(aws_session):
    out = Lines()
    outputs = Stack(BUNDLED, session=aws_session, out=out).apply()

    kms = aws_session.client("kms")
    key = kms.describe_key(KeyId=outputs["kms_key_id"])["KeyMetadata"]
    assert key["Description"] == "KMS key for encrypting DynamoDB tables"
    assert key["KeyState"] == "Enabled"
    assert outputs["kms_key_arn"] == key["Arn"]

    table = aws_session.client("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSEDescription"]["SSEType"] == "KMS"
    assert table["SSEDescription"]["KMSMasterKeyArn"] == key["Arn"]

    iam = aws_session.client("iam")
    attached = iam.list_attached_user_policies(UserName="dynamo_test_user")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonDynamoDBFullAccess"]
    access_keys = iam.list_access_keys(UserName="dynamo_test_user")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in access_keys] == [outputs["test_user_access_key_id"]]

    assert outputs["dynamodb_table_name"] == TABLE
    assert outputs["test_user_arn"] == "arn:aws:iam::123456789012:user/dynamo_test_user"
    assert isinstance(outputs["test_user_secret_access_key"], str) and len(outputs["test_user_secret_access_key"]) == 40
    assert json.loads(json.dumps(outputs)) == outputs  # plain values only

    assert out.lines[:2] == ["aws_iam_user.dynamo_test_user: Creating...",
                             "aws_iam_user.dynamo_test_user: Creation complete after 0s [id=dynamo_test_user]"]
    assert f"aws_kms_key.dynamodb_key: Creation complete after 0s [id={key['KeyId']}]" in out.lines
    assert "Apply complete! Resources: 5 added, 0 changed, 0 destroyed." in out.lines
    assert "test_user_secret_access_key = <sensitive>" in out.lines
    assert f'dynamodb_table_name = "{TABLE}"' in out.lines
    assert outputs["test_user_secret_access_key"] not in out.text


def test_progress_follows_dependency_order(aws_session):
    out = Lines()
    Stack(BUNDLED, session=aws_session, out=out).apply()
    created = [line.split(":")[0] for line in out.lines if line.endswith("Creating...")]
    assert created.index("aws_kms_key.dynamodb_key") < created.index("aws_dynamodb_table.encrypted_table")
    assert created.index("aws_iam_user.dynamo_test_user") < created.index("aws_iam_access_key.dynamo_test_user")


def test_second_plan_and_apply_change_nothing(aws_session):
    stack = Stack(BUNDLED, session=aws_session, out=Lines())
    first = stack.apply()
    plan = stack.plan()
    assert plan.summary == "No changes. Your infrastructure matches the configuration."
    assert str(plan).startswith("No changes. Your infrastructure matches the configuration.")
    assert {action for _, action in plan.changes} == {"no-op"}

    out = Lines()
    stack._out = out
    assert stack.apply() == first
    # Terraform refreshes first: one "Refreshing state..." line per resource in the state, then a blank line
    assert out.lines[:6] == [f"{address}: Refreshing state... [id={entry['attributes']['id']}]"
                             for address, entry in sorted(stack.state.items())] + [""]
    assert out.lines[6] == "No changes. Your infrastructure matches the configuration."
    assert "Apply complete! Resources: 0 added, 0 changed, 0 destroyed." in out.lines
    assert not any(line.endswith(("Creating...", "Destroying...")) for line in out.lines)


def test_state_is_terraform_like_and_a_copy(aws_session):
    stack = Stack(BUNDLED, session=aws_session, out=Lines())
    outputs = stack.apply()
    state = stack.state
    table = state["aws_dynamodb_table.encrypted_table"]
    assert table["type"] == "aws_dynamodb_table" and table["name"] == "encrypted_table"
    assert table["dependencies"] == ["aws_kms_key.dynamodb_key"]
    assert table["attributes"]["server_side_encryption"] == [{"enabled": True, "kms_key_arn": outputs["kms_key_arn"]}]
    assert state["aws_kms_key.dynamodb_key"]["attributes"]["id"] == outputs["kms_key_id"]
    policy = json.loads(state["aws_kms_key.dynamodb_key"]["attributes"]["policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    state.clear()
    assert stack.state, "state must be a copy"


def test_changed_description_is_an_in_place_update(aws_session, bundled):
    stack = Stack(bundled, session=aws_session, out=Lines())
    outputs = stack.apply()
    kms_tf = bundled / "kms.tf"
    kms_tf.write_text(kms_tf.read_text().replace("KMS key for encrypting DynamoDB tables", "Key for the diary"))

    out = Lines()
    changed = Stack(bundled, session=aws_session, out=out)
    changed._state, changed._outputs = stack.state, stack.outputs
    plan = changed.plan()
    assert [c for c in plan.changes if c[1] != "no-op"] == [("aws_kms_key.dynamodb_key", "update")]
    assert dict(plan.changes)["aws_kms_key.dynamodb_key"] == "update"
    text = str(plan)
    assert "  # aws_kms_key.dynamodb_key will be updated in-place" in text
    assert '  ~ resource "aws_kms_key" "dynamodb_key" {' in text
    assert ('      ~ description                        = "KMS key for encrypting DynamoDB tables" -> '
            '"Key for the diary"') in text
    assert f'        id                                 = "{outputs["kms_key_id"]}"' in text
    assert plan.summary == "Plan: 0 to add, 1 to change, 0 to destroy."

    changed.apply()
    assert f"aws_kms_key.dynamodb_key: Modifying... [id={outputs['kms_key_id']}]" in out.lines
    assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in out.lines
    key = aws_session.client("kms").describe_key(KeyId=outputs["kms_key_id"])["KeyMetadata"]
    assert key["Description"] == "Key for the diary"


def test_renamed_table_is_replaced(aws_session, bundled):
    stack = Stack(bundled, session=aws_session, out=Lines())
    stack.apply()
    dynamodb_tf = bundled / "dynamodb.tf"
    text = dynamodb_tf.read_text()
    assert f'{TABLE}"' in text
    dynamodb_tf.write_text(text.replace(f'{TABLE}"', 'my-locked-diary"'))
    out = Lines()
    renamed = Stack(bundled, session=aws_session, out=out)
    renamed._state, renamed._outputs = stack.state, stack.outputs

    plan = renamed.plan()
    assert dict(plan.changes)["aws_dynamodb_table.encrypted_table"] == "replace"
    text = str(plan)
    assert "-/+ destroy and then create replacement" in text
    assert "  # aws_dynamodb_table.encrypted_table must be replaced" in text
    assert '      ~ name             = "my-encrypted-table" -> "my-locked-diary" # forces replacement' in text
    assert '      ~ arn              = "arn:aws:dynamodb:us-east-1:123456789012:table/my-encrypted-table" -> (known after apply)' in text
    assert plan.summary == "Plan: 1 to add, 0 to change, 1 to destroy."
    assert '  ~ dynamodb_table_name = "my-encrypted-table" -> "my-locked-diary"' in text

    outputs = renamed.apply()
    # after the refresh lines of plan() and of apply()
    assert out.lines[12:14] == ["aws_dynamodb_table.encrypted_table: Destroying... [id=my-encrypted-table]",
                             "aws_dynamodb_table.encrypted_table: Destruction complete after 0s"]
    assert "Apply complete! Resources: 1 added, 0 changed, 1 destroyed." in out.lines
    assert outputs["dynamodb_table_name"] == "my-locked-diary"
    assert aws_session.client("dynamodb").list_tables()["TableNames"] == ["my-locked-diary"]


def test_variable_override_updates_in_place(aws_session, tmp_path):
    config = write_config(tmp_path / "cfg", '''
variable "description" {
  type    = string
  default = "first"
}
resource "aws_kms_key" "k" {
  description = var.description
  tags        = { Owner = "lab" }
}
''')
    stack = Stack(config, session=aws_session, out=Lines())
    stack.apply()
    changed = Stack(config, session=aws_session, variables={"description": "second"}, out=Lines())
    changed._state = stack.state
    text = str(changed.plan())
    assert '      ~ description                        = "first" -> "second"' in text
    assert '        tags                               = {\n            "Owner" = "lab"\n        }' in text
    assert "        # (11 unchanged attributes hidden)" in text


def test_replaced_key_updates_the_table_in_place(aws_session, bundled):
    stack = Stack(bundled, session=aws_session, out=Lines())
    stack.apply()
    kms_tf = bundled / "kms.tf"
    kms_tf.write_text(kms_tf.read_text().replace("deletion_window_in_days = 7",
                                                 'deletion_window_in_days = 7\n  key_usage = "ENCRYPT_DECRYPT"\n'
                                                 "  multi_region = true"))
    changed = Stack(bundled, session=aws_session, out=Lines())
    changed._state, changed._outputs = stack.state, stack.outputs
    plan = changed.plan()
    assert dict(plan.changes)["aws_kms_key.dynamodb_key"] == "replace"
    assert dict(plan.changes)["aws_dynamodb_table.encrypted_table"] == "update"
    assert "      ~ multi_region                       = false -> true # forces replacement" in str(plan)
    outputs = changed.apply()
    state = changed.state["aws_dynamodb_table.encrypted_table"]["attributes"]
    assert state["server_side_encryption"][0]["kms_key_arn"] == outputs["kms_key_arn"]


def test_destroy_schedules_the_key_and_removes_the_rest(aws_session):
    out = Lines()
    stack = Stack(BUNDLED, session=aws_session, out=out)
    key_id = stack.apply()["kms_key_id"]
    out.clear()
    stack.destroy()

    destroyed = [line.split(":")[0] for line in out.lines if line.endswith("Destruction complete after 0s")]
    assert destroyed.index("aws_iam_access_key.dynamo_test_user") < destroyed.index("aws_iam_user.dynamo_test_user")
    assert destroyed.index("aws_iam_user_policy_attachment.dynamo_full_access") < \
        destroyed.index("aws_iam_user.dynamo_test_user")
    assert destroyed.index("aws_dynamodb_table.encrypted_table") < destroyed.index("aws_kms_key.dynamodb_key")
    assert out.lines[-1] == "Destroy complete! Resources: 5 destroyed."
    assert stack.state == {} and stack.outputs == {}

    assert aws_session.client("dynamodb").list_tables()["TableNames"] == []
    assert aws_session.client("iam").list_users()["Users"] == []
    key = aws_session.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]
    assert key["KeyState"] == "PendingDeletion"
    window = key["DeletionDate"] - datetime.datetime.now(tz=key["DeletionDate"].tzinfo)
    assert 6 <= window.days <= 7  # ScheduleKeyDeletion with PendingWindowInDays=7


def test_destroy_plan_lists_every_resource(aws_session):
    stack = Stack(BUNDLED, session=aws_session, out=Lines())
    stack.apply()
    plan = stack.plan(destroy=True)
    assert plan.summary == "Plan: 0 to add, 0 to change, 5 to destroy."
    assert "  # aws_kms_key.dynamodb_key will be destroyed" in str(plan)
    assert "      - deletion_window_in_days            = 7 -> null" in str(plan)
    assert "  - test_user_secret_access_key = (sensitive value) -> null" in str(plan)


def test_target_applies_only_the_address_and_its_dependencies(aws_session):
    out = Lines()
    stack = Stack(BUNDLED, session=aws_session, out=out)
    plan = stack.plan(target="aws_dynamodb_table.encrypted_table")
    assert sorted(address for address, _ in plan.changes) == ["aws_dynamodb_table.encrypted_table",
                                                              "aws_kms_key.dynamodb_key"]
    assert plan.summary == "Plan: 2 to add, 0 to change, 0 to destroy."
    assert "Warning: Resource targeting is in effect" in str(plan)

    outputs = stack.apply(target="aws_dynamodb_table.encrypted_table")
    assert aws_session.client("iam").list_users()["Users"] == []
    assert set(outputs) == {"kms_key_id", "kms_key_arn", "dynamodb_table_name", "test_user_name"}
    assert sorted(stack.state) == ["aws_dynamodb_table.encrypted_table", "aws_kms_key.dynamodb_key"]

    rest = stack.plan()
    assert rest.summary == "Plan: 3 to add, 0 to change, 0 to destroy."
    stack.apply()
    assert len(stack.state) == 5


def test_unknown_target_is_refused_with_a_suggestion(aws_session):
    stack = Stack(BUNDLED, session=aws_session, out=Lines())
    with pytest.raises(ReferenceError_) as caught:
        stack.plan(target="aws_kms_key.dynamo_key")
    assert caught.value.suggestion == "aws_kms_key.dynamodb_key"


def _fail_on(session, operation: str, code: str = "LimitExceeded", message: str = "Too many things"):
    """Make ``operation`` fail, as AWS would, on clients made from ``session``; return a function that stops it.

    Clients copy the session's event handlers when they are made, so the handler stays registered
    and a switch turns it off.
    """
    failing = [True]

    def handler(**_):
        if not failing[0]:
            return None
        from botocore.awsrequest import AWSResponse

        response = AWSResponse("https://example.invalid", 400, {}, None)
        return response, {"Error": {"Code": code, "Message": message},
                          "ResponseMetadata": {"HTTPStatusCode": 400}}

    session.events.register(f"before-call.*.{operation}", handler)
    return lambda: failing.__setitem__(0, False)


def test_failure_half_way_keeps_an_exact_state_and_resume_creates_the_rest(aws_session):
    restore = _fail_on(aws_session, "CreateAccessKey")
    out = Lines()
    stack = Stack(BUNDLED, session=aws_session, out=out)
    with pytest.raises(ApplyError) as caught:
        stack.apply()
    error = caught.value
    assert error.address == "aws_iam_access_key.dynamo_test_user"
    assert error.code == "LimitExceeded"
    assert "aws_iam_access_key.dynamo_test_user" in str(error)
    assert "LimitExceeded: Too many things" in str(error)
    assert isinstance(error.__cause__, ClientError)
    assert sorted(stack.state) == ["aws_iam_user.dynamo_test_user"]
    assert stack.outputs == {}

    restore()
    resumed = Lines()
    stack._out = resumed
    plan = stack.plan()
    assert dict(plan.changes)["aws_iam_user.dynamo_test_user"] == "no-op"
    stack.apply()
    assert [line for line in resumed.lines if line.startswith("aws_iam_user.dynamo_test_user:")] == [
        "aws_iam_user.dynamo_test_user: Refreshing state... [id=dynamo_test_user]"] * 2  # plan, apply
    assert "Apply complete! Resources: 4 added, 0 changed, 0 destroyed." in resumed.lines
    assert len(aws_session.client("iam").list_users()["Users"]) == 1


def test_missing_managed_policy_fails_on_the_attachment(aws_session, tmp_path):
    config = write_config(tmp_path / "cfg", '''
resource "aws_iam_user" "u" {
  name = "u"
}
resource "aws_kms_key" "k" {
  description = "k"
}
resource "aws_iam_user_policy_attachment" "a" {
  user       = aws_iam_user.u.name
  policy_arn = "arn:aws:iam::aws:policy/NoSuchPolicy"
}
''')
    stack = Stack(config, session=aws_session, out=Lines())
    with pytest.raises(ApplyError) as caught:
        stack.apply()
    assert caught.value.address == "aws_iam_user_policy_attachment.a"
    assert caught.value.operation == "AttachUserPolicy"
    # resources are applied one at a time in dependency order (ties by name), so the key was not reached
    assert sorted(stack.state) == ["aws_iam_user.u"]
    assert aws_session.client("kms").list_keys()["Keys"] == []


def test_failed_step_inside_a_create_taints_the_resource(aws_session, tmp_path):
    config = write_config(tmp_path / "cfg", '''
resource "aws_kms_key" "k" {
  description         = "k"
  enable_key_rotation = true
}
''')
    restore = _fail_on(aws_session, "EnableKeyRotation", "KMSInternalException", "try again")
    stack = Stack(config, session=aws_session, out=Lines())
    with pytest.raises(ApplyError):
        stack.apply()
    entry = stack.state["aws_kms_key.k"]
    assert entry["status"] == "tainted"
    assert entry["attributes"]["key_id"]
    restore()
    plan = stack.plan()
    assert plan.changes == [("aws_kms_key.k", "replace")]
    assert "  # aws_kms_key.k is tainted, so must be replaced" in str(plan)
    stack.apply()
    assert "status" not in stack.state["aws_kms_key.k"]


def test_state_file_round_trip(aws_session, tmp_path):
    path = tmp_path / "kmslab.tfstate.json"
    stack = Stack(BUNDLED, session=aws_session, out=Lines(), state_path=path)
    stack.apply()
    reloaded = Stack(BUNDLED, session=aws_session, out=Lines(), state_path=path)
    assert reloaded.state == stack.state
    assert reloaded.plan().summary == "No changes. Your infrastructure matches the configuration."


def test_removed_resource_is_destroyed(aws_session, tmp_path):
    config = write_config(tmp_path / "cfg", '''
resource "aws_kms_key" "k" {
  description = "k"
}
resource "aws_kms_alias" "a" {
  name          = "alias/diary"
  target_key_id = aws_kms_key.k.key_id
}
''')
    stack = Stack(config, session=aws_session, out=Lines())
    stack.apply()
    write_config(config, 'resource "aws_kms_key" "k" {\n  description = "k"\n}\n')
    smaller = Stack(config, session=aws_session, out=Lines())
    smaller._state = stack.state
    plan = smaller.plan()
    assert "  # (because aws_kms_alias.a is not in configuration)" in str(plan)
    smaller.apply()
    assert aws_session.client("kms").list_aliases(KeyId=stack.state["aws_kms_key.k"]["attributes"]["key_id"])[
        "Aliases"] == []

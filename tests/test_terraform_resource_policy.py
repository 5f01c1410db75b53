"""``aws_dynamodb_resource_policy`` in the embedded applier (issue 14 item 5): a table's resource-based
policy, applied to plain moto and in the lab, whose enforcer models resource policies.

Messages were compared with terraform 1.11.4 and the AWS provider 5.100.0 on this machine.
"""

from __future__ import annotations

import json

import _tf_helpers
import pytest
from _tf_helpers import Lines, write_config

from kmslab import ValidationError
from kmslab._terraform import Stack, State

_moto_for_module = _tf_helpers._moto_for_module
aws_session = _tf_helpers.aws_session

CONFIG = '''
data "aws_caller_identity" "current" {}

resource "aws_dynamodb_table" "t" {
  name         = "shared"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {
    name = "id"
    type = "S"
  }
}

resource "aws_dynamodb_resource_policy" "p" {
  resource_arn = aws_dynamodb_table.t.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::111122223333:root" }
      Action    = %(actions)s
      Resource  = aws_dynamodb_table.t.arn
    }]
  })
}
'''


def _config(tmp_path, actions='["dynamodb:GetItem", "dynamodb:Query"]'):
    return write_config(tmp_path / "cfg", CONFIG % {"actions": actions})


def test_the_policy_reaches_the_table_and_an_equivalent_one_plans_nothing(aws_session, tmp_path):
    """PutResourcePolicy after CreateTable (the ARN reference orders them); id is the table's ARN, revision_id
    AWS's answer; reordered actions are the same policy (the framework type's semantic equality)."""
    state = State()
    Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state).apply()
    dynamodb = aws_session.client("dynamodb")
    arn = dynamodb.describe_table(TableName="shared")["Table"]["TableArn"]
    stored = dynamodb.get_resource_policy(ResourceArn=arn)
    assert json.loads(stored["Policy"])["Statement"][0]["Action"] == ["dynamodb:GetItem", "dynamodb:Query"]
    attributes = state.resources["aws_dynamodb_resource_policy.p"]["attributes"]
    assert attributes["id"] == arn and attributes["revision_id"] == stored["RevisionId"]
    assert attributes["confirm_remove_self_resource_access"] is False
    reordered = Stack(_config(tmp_path, '["dynamodb:Query", "dynamodb:GetItem"]'), session=aws_session, out=Lines(),
                      state=state)
    assert reordered.plan().summary.startswith("No changes.")


def test_a_changed_policy_is_put_again_in_place_and_destroy_deletes_it(aws_session, tmp_path):
    state = State()
    Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state).apply()
    changed = Stack(_config(tmp_path, '"dynamodb:GetItem"'), session=aws_session, out=Lines(), state=state)
    assert ("aws_dynamodb_resource_policy.p", "update") in changed.plan().changes
    changed.apply()
    dynamodb = aws_session.client("dynamodb")
    arn = state.resources["aws_dynamodb_table.t"]["attributes"]["arn"]
    assert json.loads(dynamodb.get_resource_policy(ResourceArn=arn)["Policy"])["Statement"][0]["Action"] == \
        "dynamodb:GetItem"
    Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state).destroy()
    assert dynamodb.list_tables()["TableNames"] == [] and state.resources == {}


def test_a_policy_removed_outside_terraform_is_created_again(aws_session, tmp_path):
    """Refresh: GetResourcePolicy's PolicyNotFoundException means gone (the provider's findResourcePolicyByARN)."""
    state = State()
    Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state).apply()
    arn = state.resources["aws_dynamodb_table.t"]["attributes"]["arn"]
    aws_session.client("dynamodb").delete_resource_policy(ResourceArn=arn)
    plan = Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state).plan()
    assert ("aws_dynamodb_resource_policy.p", "create") in plan.changes


@pytest.mark.parametrize(("argument", "value", "message"), [
    ("resource_arn", '"nope"', "Invalid ARN Value\n\nThe provided value cannot be parsed as an ARN.\n\n"
                               "Path: resource_arn\nValue: nope"),
    ("policy", '"not json"', "Invalid IAM Policy Value\n\nThe provided value is not valid JSON string format "
                             "(RFC 7159).\n\nPath: policy\nValue: not json"),
])
def test_the_framework_providers_validation_in_its_words(tmp_path, argument, value, message):
    body = {"resource_arn": '"arn:aws:dynamodb:us-east-1:123456789012:table/x"', "policy": '"{}"', argument: value}
    text = 'resource "aws_dynamodb_resource_policy" "p" {\n' + "".join(f"  {k} = {v}\n" for k, v in body.items()) + "}\n"
    with pytest.raises(ValidationError) as caught:
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines()).plan()
    assert message in caught.value.message


def test_duplicate_keys_are_not_refused_here(tmp_path):
    """Unlike the SDK resources' ValidIAMPolicyJSON, the framework's IAM policy type checks only that the text is
    JSON: terraform validate accepts duplicate keys in this policy."""
    text = ('resource "aws_dynamodb_resource_policy" "p" {\n  resource_arn = "arn:aws:dynamodb:us-east-1:123456789012:'
            'table/x"\n  policy = "{\\"a\\": 1, \\"a\\": 2}"\n}\n')
    Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines()).plan()


def test_resource_policy_in_the_lab(aws_session, tmp_path):  # aws_session: the module's moto, emptied first
    from kmslab import Lab

    with Lab(quiet=True) as lab:
        lab.terraform(_config(tmp_path)).apply()
        arn = lab.session.client("dynamodb").describe_table(TableName="shared")["Table"]["TableArn"]
        assert lab.session.client("dynamodb").get_resource_policy(ResourceArn=arn)["Policy"]


def test_a_create_cut_short_after_put_resource_policy_is_recorded_tainted(aws_session, tmp_path):
    """The policy exists once AWS has answered PutResourcePolicy: a fault in the provider's wait that follows
    (GetResourcePolicy) leaves it in the state, tainted, as Terraform marks a create that did not finish."""
    def fail(**_):
        raise KeyboardInterrupt

    state = State()
    Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state).apply(target="aws_dynamodb_table.t")
    aws_session.events.register("before-call.dynamodb.GetResourcePolicy", fail)
    try:
        with pytest.raises(KeyboardInterrupt):
            Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state).apply()
    finally:
        aws_session.events.unregister("before-call.dynamodb.GetResourcePolicy", fail)
    entry = state.resources["aws_dynamodb_resource_policy.p"]
    assert entry["status"] == "tainted" and entry["attributes"]["revision_id"]
    plan = Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state).plan()
    assert ("aws_dynamodb_resource_policy.p", "replace") in plan.changes

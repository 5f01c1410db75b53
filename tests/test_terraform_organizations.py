"""Organization policies in the embedded applier (issue 14 items 2 and 5): ``aws_organizations_policy`` and
``aws_organizations_policy_attachment`` through moto's Organizations (the lab's enforcer does not model
Organizations yet, so these run on plain moto, as the provider would see AWS).
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

SCP = '''
variable "root" {
  type = string
}
resource "aws_organizations_policy" "no_key_deletion" {
  name        = "%(name)s"
  description = "Nobody but break-glass schedules a key's deletion"
  skip_destroy = %(skip)s
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Deny"
      Action    = %(actions)s
      Resource  = "*"
      Condition = { ArnNotLike = { "aws:PrincipalArn" = "arn:aws:iam::*:role/break-glass" } }
    }]
  })
  tags = { guardrail = "kms" }
}
resource "aws_organizations_policy_attachment" "root" {
  policy_id = aws_organizations_policy.no_key_deletion.id
  target_id = var.root
}
'''


@pytest.fixture
def root(aws_session):
    """An organization with SCPs enabled on its root (what the provider needs already in place)."""
    organizations = aws_session.client("organizations")
    try:
        organizations.describe_organization()
    except organizations.exceptions.AWSOrganizationsNotInUseException:
        organizations.create_organization(FeatureSet="ALL")
    root_id = organizations.list_roots()["Roots"][0]["Id"]
    for policy in organizations.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]:
        if not policy["AwsManaged"]:
            for target in organizations.list_targets_for_policy(PolicyId=policy["Id"])["Targets"]:
                organizations.detach_policy(PolicyId=policy["Id"], TargetId=target["TargetId"])
            organizations.delete_policy(PolicyId=policy["Id"])
    return root_id


def _config(tmp_path, name="no-key-deletion", skip="false",
            actions='["kms:ScheduleKeyDeletion", "kms:DisableKey"]'):
    return write_config(tmp_path / "cfg", SCP % {"name": name, "skip": skip, "actions": actions})


def _policies(session):
    return [p for p in session.client("organizations").list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
            if not p["AwsManaged"]]


def test_an_scp_is_created_attached_to_the_root_and_destroyed(aws_session, root, tmp_path):
    """CreatePolicy (type SERVICE_CONTROL_POLICY by default, with its tags), AttachPolicy to the root; id is the
    policy's, the attachment's is target_id:policy_id; destroy detaches and deletes."""
    state = State()
    Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state, variables={"root": root}).apply()
    organizations = aws_session.client("organizations")
    (policy,) = _policies(aws_session)
    described = organizations.describe_policy(PolicyId=policy["Id"])["Policy"]
    assert json.loads(described["Content"])["Statement"][0]["Action"] == ["kms:ScheduleKeyDeletion", "kms:DisableKey"]
    assert described["PolicySummary"]["Type"] == "SERVICE_CONTROL_POLICY"
    assert organizations.list_tags_for_resource(ResourceId=policy["Id"])["Tags"] == [
        {"Key": "guardrail", "Value": "kms"}]
    assert [t["TargetId"] for t in organizations.list_targets_for_policy(PolicyId=policy["Id"])["Targets"]] == [root]
    attachment = state.resources["aws_organizations_policy_attachment.root"]["attributes"]
    assert attachment["id"] == f"{root}:{policy['Id']}"
    assert Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state,
                 variables={"root": root}).plan().summary.startswith("No changes.")
    Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state, variables={"root": root}).destroy()
    assert _policies(aws_session) == []


def test_content_order_counts_and_a_rename_is_in_place(aws_session, root, tmp_path):
    """SuppressEquivalentJSONDiffs compares JSON values: reordered actions are a change (unlike IAM policy
    arguments); name and content change through UpdatePolicy, in place."""
    state = State()
    Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state, variables={"root": root}).apply()
    reordered = Stack(_config(tmp_path, actions='["kms:DisableKey", "kms:ScheduleKeyDeletion"]'), session=aws_session,
                      out=Lines(), state=state, variables={"root": root})
    assert ("aws_organizations_policy.no_key_deletion", "update") in reordered.plan().changes
    renamed = Stack(_config(tmp_path, name="guardrail"), session=aws_session, out=Lines(), state=state,
                    variables={"root": root})
    assert ("aws_organizations_policy.no_key_deletion", "update") in renamed.plan().changes
    renamed.apply()
    assert [p["Name"] for p in _policies(aws_session)] == ["guardrail"]


def test_skip_destroy_leaves_the_policy_and_its_attachment(aws_session, root, tmp_path):
    state = State()
    config = write_config(tmp_path / "cfg", (SCP % {"name": "kept", "skip": "true", "actions": '"kms:DisableKey"'})
                          .replace("target_id = var.root", "target_id = var.root\n  skip_destroy = true"))
    Stack(config, session=aws_session, out=Lines(), state=state, variables={"root": root}).apply()
    Stack(config, session=aws_session, out=Lines(), state=state, variables={"root": root}).destroy()
    (policy,) = _policies(aws_session)
    assert policy["Name"] == "kept" and state.resources == {}
    targets = aws_session.client("organizations").list_targets_for_policy(PolicyId=policy["Id"])["Targets"]
    assert [t["TargetId"] for t in targets] == [root]


@pytest.mark.parametrize(("argument", "value", "message"), [
    ("type", '"NOPE"', 'expected type to be one of ["SERVICE_CONTROL_POLICY" "RESOURCE_CONTROL_POLICY" "TAG_POLICY" '
                       '"BACKUP_POLICY" "AISERVICES_OPT_OUT_POLICY" "CHATBOT_POLICY" "DECLARATIVE_POLICY_EC2"], got NOPE'),
    ("content", '"not json"', '"content" contains an invalid JSON: '),
])
def test_the_providers_validation_in_its_words(tmp_path, argument, value, message):
    body = {"name": '"p"', "content": '"{}"', argument: value}
    text = 'resource "aws_organizations_policy" "p" {\n' + "".join(f"  {k} = {v}\n" for k, v in body.items()) + "}\n"
    with pytest.raises(ValidationError) as caught:
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines()).plan()
    assert message in caught.value.message


def test_duplicate_keys_in_content_are_accepted_as_the_provider_accepts_them(tmp_path):
    """content is checked with StringIsJSON only (terraform validate accepted duplicate keys on this machine)."""
    text = 'resource "aws_organizations_policy" "p" {\n  name = "p"\n  content = "{\\"a\\": 1, \\"a\\": 2}"\n}\n'
    Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines()).plan()

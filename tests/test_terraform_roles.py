"""Roles in the embedded applier (issue 14 item 5, issue 16 point 6): ``aws_iam_role`` with a trust policy
built by ``data "aws_iam_policy_document"``, ``aws_iam_role_policy``, ``aws_iam_role_policy_attachment``.

Applied to plain moto (as the provider sees AWS); the validation messages were compared with terraform
1.11.4 and the AWS provider 5.100.0 on this machine (``terraform validate``).
"""

from __future__ import annotations

import json

import _tf_helpers
import pytest
from _tf_helpers import Lines, write_config

from kmslab import UnsupportedError, ValidationError
from kmslab._terraform import Stack, State

_moto_for_module = _tf_helpers._moto_for_module
aws_session = _tf_helpers.aws_session

TRUST = '''
data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::123456789012:root"]
    }
    principals {
      type        = "Service"
      identifiers = ["dynamodb.amazonaws.com"]
    }
    condition {
      test     = "Bool"
      variable = "aws:MultiFactorAuthPresent"
      values   = ["true"]
    }
  }
  statement {
    effect  = "Deny"
    actions = ["sts:AssumeRole"]
    not_principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::123456789012:root"]
    }
  }
}
'''

ROLE = TRUST + '''
resource "aws_iam_role" "reader" {
  name                  = "reader"
  path                  = "/lab/"
  description           = "%(description)s"
  max_session_duration  = %(duration)s
  assume_role_policy    = data.aws_iam_policy_document.trust.json
  force_detach_policies = %(force)s
  tags                  = { team = "lab" }
}

resource "aws_iam_role_policy" "read" {
  role   = aws_iam_role.reader.name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = %(actions)s, Resource = "*" }]
  })
}

resource "aws_iam_policy" "describe" {
  name   = "describe"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "kms:DescribeKey", Resource = "*" }]
  })
}

resource "aws_iam_role_policy_attachment" "describe" {
  role       = aws_iam_role.reader.name
  policy_arn = aws_iam_policy.describe.arn
}
'''


def _role(tmp_path, description="Reads the table", duration=7200, force="false",
          actions='["dynamodb:GetItem", "dynamodb:Query"]'):
    return write_config(tmp_path / "cfg", ROLE % {"description": description, "duration": duration, "force": force,
                                                  "actions": actions})


def test_a_role_its_trust_policy_inline_and_attached_policies_reach_iam(aws_session, tmp_path):
    """CreateRole carries the trust policy (principals, not_principals and the condition, as the
    provider's policy document renders them), path, description, session duration and tags; PutRolePolicy
    and AttachRolePolicy follow, each after the role (their references order them)."""
    state = State()
    lines = Lines()
    Stack(_role(tmp_path), session=aws_session, out=lines, state=state).apply()
    iam = aws_session.client("iam")
    role = iam.get_role(RoleName="reader")["Role"]
    assert role["Path"] == "/lab/" and role["Description"] == "Reads the table"
    assert role["MaxSessionDuration"] == 7200
    trust = role["AssumeRolePolicyDocument"]
    trust = trust if isinstance(trust, dict) else json.loads(trust)
    allow, deny = trust["Statement"]
    assert allow["Principal"] == {"AWS": "arn:aws:iam::123456789012:root", "Service": "dynamodb.amazonaws.com"}
    assert allow["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    assert deny["NotPrincipal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert iam.list_role_tags(RoleName="reader")["Tags"] == [{"Key": "team", "Value": "lab"}]
    assert iam.list_role_policies(RoleName="reader")["PolicyNames"] == \
        [state.resources["aws_iam_role_policy.read"]["attributes"]["name"]]
    assert [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="reader")["AttachedPolicies"]] == \
        ["describe"]
    attributes = state.resources["aws_iam_role.reader"]["attributes"]
    assert attributes["id"] == "reader" and attributes["arn"] == "arn:aws:iam::123456789012:role/lab/reader"
    assert attributes["unique_id"] == role["RoleId"] and attributes["create_date"].endswith("Z")
    # the provider's StateFunc keeps the trust policy as NormalizeJsonString leaves it
    assert attributes["assume_role_policy"] == json.dumps(json.loads(attributes["assume_role_policy"]),
                                                          separators=(",", ":"), sort_keys=True)
    inline = state.resources["aws_iam_role_policy.read"]["attributes"]
    assert inline["id"] == f"reader:{inline['name']}" and inline["name"].startswith("terraform-")
    assert inline["name_prefix"] == "terraform-"
    assert state.resources["aws_iam_role_policy_attachment.describe"]["attributes"]["id"] == \
        "reader/arn:aws:iam::123456789012:policy/describe"
    assert Stack(_role(tmp_path), session=aws_session, out=Lines(), state=state).plan().summary == \
        "No changes. Your infrastructure matches the configuration."


def test_changes_in_place_use_the_providers_calls_and_reordered_actions_plan_nothing(aws_session, tmp_path):
    """UpdateRoleDescription and UpdateRole (max_session_duration) change the role in place; a policy whose
    actions are only reordered is equivalent (SuppressEquivalentPolicyDiffs)."""
    state = State()
    Stack(_role(tmp_path), session=aws_session, out=Lines(), state=state).apply()
    reordered = Stack(_role(tmp_path, actions='["dynamodb:Query", "dynamodb:GetItem"]'), session=aws_session,
                      out=Lines(), state=state)
    assert reordered.plan().summary.startswith("No changes.")
    changed = Stack(_role(tmp_path, description="Reads it", duration=3600), session=aws_session, out=Lines(),
                    state=state)
    assert [c for c in changed.plan().changes if c[1] != "no-op"] == [("aws_iam_role.reader", "update")]
    changed.apply()
    role = aws_session.client("iam").get_role(RoleName="reader")["Role"]
    assert (role["Description"], role["MaxSessionDuration"]) == ("Reads it", 3600)


def test_a_new_name_or_path_replaces_the_role(aws_session, tmp_path):
    """name, name_prefix and path are ForceNew in the provider's schema."""
    state = State()
    Stack(_role(tmp_path), session=aws_session, out=Lines(), state=state).apply()
    text = (tmp_path / "cfg" / "main.tf").read_text().replace('path                  = "/lab/"', 'path = "/ops/"')
    (tmp_path / "cfg" / "main.tf").write_text(text)
    plan = Stack(tmp_path / "cfg", session=aws_session, out=Lines(), state=state).plan()
    assert ("aws_iam_role.reader", "replace") in plan.changes


def test_destroy_without_force_detach_meets_iams_delete_conflict(aws_session, tmp_path):
    """IAM refuses DeleteRole while policies are attached (DeleteConflict); the provider detaches them first
    only with force_detach_policies = true. Terraform destroys dependents first, so a full destroy works either
    way; a role with a policy attached outside the configuration shows the difference."""
    state = State()
    Stack(_role(tmp_path, force="true"), session=aws_session, out=Lines(), state=state).apply()
    iam = aws_session.client("iam")
    iam.attach_role_policy(RoleName="reader", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.put_role_policy(RoleName="reader", PolicyName="outside", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    Stack(_role(tmp_path, force="true"), session=aws_session, out=Lines(), state=state).destroy()
    assert iam.list_roles()["Roles"] == []

    state = State()
    Stack(_role(tmp_path), session=aws_session, out=Lines(), state=state).apply()
    iam.attach_role_policy(RoleName="reader", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    with pytest.raises(Exception, match="DeleteConflict"):
        Stack(_role(tmp_path), session=aws_session, out=Lines(), state=state).destroy()
    assert "aws_iam_role.reader" in state.resources  # still there, as AWS left it
    iam.detach_role_policy(RoleName="reader", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")


def test_generated_names_follow_the_providers_create_name(aws_session, tmp_path):
    text = '''
resource "aws_iam_role" "g" {
  name_prefix        = "lab-"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow",
    Action = "sts:AssumeRole", Principal = { Service = "dynamodb.amazonaws.com" } }] })
}
resource "aws_iam_role" "plain" {
  assume_role_policy = aws_iam_role.g.assume_role_policy
}
'''
    state = State()
    Stack(write_config(tmp_path / "cfg", text), session=aws_session, out=Lines(), state=state).apply()
    prefixed = state.resources["aws_iam_role.g"]["attributes"]
    plain = state.resources["aws_iam_role.plain"]["attributes"]
    assert prefixed["name"].startswith("lab-") and prefixed["name_prefix"] == "lab-"
    assert plain["name"].startswith("terraform-") and len(plain["name"]) == len("terraform-") + 26
    names = {r["RoleName"] for r in aws_session.client("iam").list_roles()["Roles"]}
    assert names == {prefixed["name"], plain["name"]}


@pytest.mark.parametrize(("argument", "value", "message"), [
    ("name", '"bad name!"', r"invalid value for name (must match [\w+=,.@-])"),
    ("name", '"' + "a" * 65 + '"', "expected length of name to be in the range (1 - 64), got " + "a" * 65),
    ("name_prefix", '"' + "a" * 39 + '"', "expected length of name_prefix to be in the range (1 - 38), got "),
    ("max_session_duration", "100", "expected max_session_duration to be in the range (3600 - 43200), got 100"),
    ("permissions_boundary", '"not-an-arn"', '"permissions_boundary" (not-an-arn) is an invalid ARN: arn: invalid '
                                             "prefix"),
    ("permissions_boundary", '"arn:aws:iam"', "is an invalid ARN: arn: not enough sections"),
    ("permissions_boundary", '"arn::iam::123456789012:policy/x"', "is an invalid ARN: missing partition value"),
    ("permissions_boundary", '"arn:aws:iam::123456789012:"', "is an invalid ARN: missing resource value"),
    ("permissions_boundary", '"arn:aws:iam::123:policy/a"', "is an invalid ARN: invalid account ID value"),
    ("description", '"a \u201cquoted\u201d one"', "invalid value for description (cannot contain specially "
                                                   "formatted single or double quotes: [\u201c\u2018])"),
    ("assume_role_policy", '"not json"', '"assume_role_policy" contains an invalid JSON policy: not a JSON object'),
    ("assume_role_policy", '"[]"', "contains an invalid JSON policy: contains a JSON array, not a JSON object"),
    ("assume_role_policy", r'"\"x\""', "contains a JSON-encoded string, not a JSON-encoded object"),
    ("assume_role_policy", '""', '"assume_role_policy" is an empty string, which is not a valid JSON value'),
    ("assume_role_policy", r'"{\"a\": 1, \"a\": 2}"', '"assume_role_policy" contains duplicate JSON keys: '
                                                      'duplicate key "a"'),
])
def test_the_providers_validation_in_its_words(tmp_path, argument, value, message):
    """Each message as terraform validate printed it with provider 5.100.0."""
    body = {"assume_role_policy": '"{}"', argument: value}
    text = 'resource "aws_iam_role" "r" {\n' + "".join(f"  {k} = {v}\n" for k, v in body.items()) + "}\n"
    with pytest.raises(ValidationError) as caught:
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines()).plan()
    assert message in caught.value.message


def test_role_policy_and_attachment_validation(tmp_path):
    policy = 'resource "aws_iam_role_policy" "p" {\n  role = "r"\n  name = "bad name"\n  policy = "{}"\n}\n'
    with pytest.raises(ValidationError, match=r"invalid value for name \(must match"):
        Stack(write_config(tmp_path / "one", policy), session=None, out=Lines()).plan()
    attachment = 'resource "aws_iam_role_policy_attachment" "a" {\n  role = "r"\n  policy_arn = "nope"\n}\n'
    with pytest.raises(ValidationError, match=r'"policy_arn" \(nope\) is an invalid ARN: arn: invalid prefix'):
        Stack(write_config(tmp_path / "two", attachment), session=None, out=Lines()).plan()
    both = 'resource "aws_iam_role_policy" "p" {\n  role = "r"\n  name = "a"\n  name_prefix = "b"\n  policy = "{}"\n}\n'
    with pytest.raises(ValidationError, match='"name": conflicts with name_prefix'):
        Stack(write_config(tmp_path / "three", both), session=None, out=Lines()).plan()


@pytest.mark.parametrize(("body", "what"), [
    ('  managed_policy_arns = []\n', 'the argument "managed_policy_arns"'),
    ('  inline_policy {\n    name = "x"\n  }\n', '"inline_policy" blocks'),
])
def test_the_deprecated_inline_and_managed_arguments_are_not_modelled(tmp_path, body, what):
    """The provider accepts them (deprecated); kmslab refuses them as its own limit, not as invalid."""
    text = 'resource "aws_iam_role" "r" {\n  assume_role_policy = "{}"\n' + body + "}\n"
    with pytest.raises(UnsupportedError, match='use engine="terraform"') as caught:
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines())
    assert what in caught.value.message


BOUNDED = '''
resource "aws_iam_policy" "cap" {
  name   = "cap"
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "dynamodb:*",
    Resource = "*" }] })
}
resource "aws_iam_role" "capped" {
  name                 = "capped"
  permissions_boundary = %(boundary)s
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow",
    Action = "sts:AssumeRole", Principal = { AWS = "arn:aws:iam::123456789012:root" } }] })
}
resource "aws_iam_user" "capped" {
  name                 = "capped"
  permissions_boundary = %(boundary)s
}
'''


def _bounded(tmp_path, boundary="aws_iam_policy.cap.arn", user=True):
    """The policy and role, and the user too unless ``user=False`` (moto does not implement
    Put/DeleteUserPermissionsBoundary, so only a user's create is tried on plain moto)."""
    text = BOUNDED % {"boundary": boundary}
    if not user:
        text = text[:text.index('resource "aws_iam_user"')]
    return write_config(tmp_path / "cfg", text)


def test_a_roles_permissions_boundary_is_set_changed_and_removed(aws_session, tmp_path):
    """CreateRole carries PermissionsBoundary; removing it is DeleteRolePermissionsBoundary, setting it again
    PutRolePermissionsBoundary, each an update in place (the provider's resourceRoleUpdate)."""
    state = State()
    Stack(_bounded(tmp_path, user=False), session=aws_session, out=Lines(), state=state).apply()
    iam = aws_session.client("iam")
    cap = state.resources["aws_iam_policy.cap"]["attributes"]["arn"]
    assert iam.get_role(RoleName="capped")["Role"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": cap}
    assert state.resources["aws_iam_role.capped"]["attributes"]["permissions_boundary"] == cap
    removed = Stack(_bounded(tmp_path, boundary="null", user=False), session=aws_session, out=Lines(), state=state)
    assert ("aws_iam_role.capped", "update") in removed.plan().changes
    removed.apply()
    assert "PermissionsBoundary" not in iam.get_role(RoleName="capped")["Role"]
    Stack(_bounded(tmp_path, boundary='"arn:aws:iam::aws:policy/ReadOnlyAccess"', user=False), session=aws_session,
          out=Lines(), state=state).apply()
    assert iam.get_role(RoleName="capped")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == \
        "arn:aws:iam::aws:policy/ReadOnlyAccess"


def test_a_users_permissions_boundary_goes_in_create_user(aws_session, tmp_path):
    """CreateUser carries PermissionsBoundary (moto keeps no user boundary, so the request itself is checked)."""
    sent = []
    aws_session.events.register("provide-client-params.iam.CreateUser", lambda params, **_: sent.append(params))
    try:
        Stack(_bounded(tmp_path, boundary='"arn:aws:iam::aws:policy/ReadOnlyAccess"'), session=aws_session,
              out=Lines(), state=State()).apply()
    finally:
        aws_session.events.unregister("provide-client-params.iam.CreateUser")
    assert [p.get("PermissionsBoundary") for p in sent] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]


def test_a_users_boundary_is_only_length_checked_a_roles_must_be_an_arn(tmp_path):
    """The provider validates aws_iam_user.permissions_boundary with StringLenBetween(0, 2048) and
    aws_iam_role.permissions_boundary with ValidARN."""
    user = 'resource "aws_iam_user" "u" {\n  name = "u"\n  permissions_boundary = "%s"\n}\n'
    Stack(write_config(tmp_path / "ok", user % "arn:aws"), session=None, out=Lines()).plan()
    with pytest.raises(ValidationError, match=r"expected length of permissions_boundary to be in the range "
                                              r"\(0 - 2048\)"):
        Stack(write_config(tmp_path / "long", user % ("a" * 2049)), session=None, out=Lines()).plan()


def test_boundaries_in_the_lab(aws_session, tmp_path):  # aws_session: the module's moto, emptied first
    from kmslab import Lab

    with Lab(quiet=True) as lab:
        lab.terraform(_bounded(tmp_path)).apply()
        assert lab.session.client("iam").get_role(RoleName="capped")["Role"]["PermissionsBoundary"]


def test_a_new_trust_policy_and_new_tags_change_the_role_in_place(aws_session, tmp_path):
    """UpdateAssumeRolePolicy for assume_role_policy, TagRole / UntagRole for tags (the provider's
    resourceRoleUpdate); the role keeps its unique ID."""
    state = State()
    Stack(_role(tmp_path), session=aws_session, out=Lines(), state=state).apply()
    unique_id = state.resources["aws_iam_role.reader"]["attributes"]["unique_id"]
    text = (tmp_path / "cfg" / "main.tf").read_text()
    text = text.replace('"aws:MultiFactorAuthPresent"', '"aws:SecureTransport"').replace(
        'tags                  = { team = "lab" }', 'tags = { owner = "ops" }')
    (tmp_path / "cfg" / "main.tf").write_text(text)
    changed = Stack(tmp_path / "cfg", session=aws_session, out=Lines(), state=state)
    assert [c for c in changed.plan().changes if c[1] != "no-op"] == [("aws_iam_role.reader", "update")]
    changed.apply()
    iam = aws_session.client("iam")
    role = iam.get_role(RoleName="reader")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = trust if isinstance(trust, dict) else json.loads(trust)
    assert trust["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "true"}}
    assert iam.list_role_tags(RoleName="reader")["Tags"] == [{"Key": "owner", "Value": "ops"}]
    assert role["RoleId"] == unique_id

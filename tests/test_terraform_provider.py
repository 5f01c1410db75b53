"""The applier agrees with the AWS provider (5.x) where configurations from its own tests differ (issue 16).

Each rule was checked on this machine against terraform 1.11.4 with the provider 5.100.0
(``terraform plan`` against an unreachable endpoint: everything here is decided at plan time).
"""

from __future__ import annotations

import json
import re

import _tf_helpers
import pytest
from _tf_helpers import Lines, write_config

from kmslab import UnsupportedError, ValidationError
from kmslab._terraform import Stack, State
from kmslab._terraform._schema import policies_equivalent

_moto_for_module = _tf_helpers._moto_for_module
aws_session = _tf_helpers.aws_session

NOT_MODELLED = 'not modelled by kmslab\'s applier (use engine="terraform")'
GENERATED = r"\d{18}[0-9a-f]{8}"  # the provider's id.PrefixedUniqueId suffix


def _policy(extra: str = "") -> str:
    return ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", '
            '"Condition": {"StringEquals": {"aws:a": "1"}' + extra + "}}]}")


@pytest.mark.parametrize("resource", ['resource "aws_iam_policy" "p" {\n  name = "p"\n',
                                      'resource "aws_iam_user_policy" "p" {\n  user = "u"\n'])
def test_duplicate_keys_in_an_iam_policy_are_refused_in_the_providers_words(tmp_path, resource):
    """Provider: "policy" contains duplicate JSON keys: duplicate key "Statement.0.Condition.StringEquals"
    (otherwise the stored policy would silently keep only the last condition)."""
    text = resource + "  policy = <<EOT\n" + _policy(', "StringEquals": {"aws:b": "2"}') + "\nEOT\n}\n"
    with pytest.raises(ValidationError) as caught:
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines())
    assert caught.value.line == 3
    assert caught.value.message.startswith(
        '"policy" contains duplicate JSON keys: duplicate key "Statement.0.Condition.StringEquals"')


def test_every_duplicate_key_is_listed_one_per_line(tmp_path):
    text = ('resource "aws_iam_policy" "p" {\n  name = "p"\n  policy = jsonencode({})\n}\n'
            'resource "aws_iam_policy" "q" {\n  name = "q"\n'
            '  policy = "{\\"a\\": {\\"b\\": 1, \\"b\\": 2}, \\"c\\": [{\\"d\\": 1}, {\\"d\\": 1, \\"d\\": 2}]}"\n}\n')
    with pytest.raises(ValidationError) as caught:
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines())
    assert caught.value.message.startswith('"policy" contains duplicate JSON keys: duplicate key "a.b"\n'
                                           'duplicate key "c.1.d"')


def test_a_kms_key_policy_with_duplicate_keys_passes_the_plan_as_the_provider_lets_it(tmp_path):
    """aws_kms_key.policy is only checked to be JSON (StringIsJSON): the provider plans it."""
    text = 'resource "aws_kms_key" "k" {\n  policy = "{\\"Sid\\": \\"a\\", \\"Sid\\": \\"b\\"}"\n}\n'
    assert list(Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines()).config.resources)


def test_an_iam_policy_that_is_an_array_is_not_a_json_object(tmp_path):
    text = 'resource "aws_iam_user_policy" "p" {\n  user = "u"\n  policy = "[]"\n}\n'
    with pytest.raises(ValidationError, match='"policy" contains an invalid JSON policy: contains a JSON array, '
                                              "not a JSON object"):
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines())


def test_heredoc_policy_with_leading_whitespace_is_valid(aws_session, tmp_path):
    """The provider trims leading whitespace (the issue's "valid configuration refused")."""
    text = ('resource "aws_iam_user" "u" {\n  name = "u"\n}\n'
            'resource "aws_iam_user_policy" "p" {\n  name = "p"\n  user = aws_iam_user.u.name\n'
            '  policy = <<EOT\n    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", '
            '"Resource": "*"}]}\nEOT\n}\n')
    Stack(write_config(tmp_path / "cfg", text), session=aws_session, out=Lines()).apply()
    assert aws_session.client("iam").list_user_policies(UserName="u")["PolicyNames"] == ["p"]


def test_alias_target_key_arn_is_kept_as_the_key_id(aws_session, tmp_path):
    """Provider: target_key_id is read back as the key ID, and an ARN and its key's ID are the same value
    (no diff on the next plan)."""
    text = ('resource "aws_kms_key" "k" {\n  description = "k"\n}\n'
            'resource "aws_kms_alias" "a" {\n  name = "alias/diary"\n  target_key_id = aws_kms_key.k.arn\n}\n')
    state = State()
    config = write_config(tmp_path / "cfg", text)
    Stack(config, session=aws_session, out=Lines(), state=state).apply()
    key = state.resources["aws_kms_key.k"]["attributes"]
    alias = state.resources["aws_kms_alias.a"]["attributes"]
    assert alias["target_key_id"] == key["key_id"] != key["arn"]
    assert alias["target_key_arn"] == key["arn"]
    assert Stack(config, session=aws_session, out=Lines(), state=state).plan().summary.startswith("No changes.")


def test_reordered_actions_plan_no_changes_and_state_holds_normalised_json(aws_session, tmp_path):
    """Provider: SuppressEquivalentPolicyDiffs (reordered actions are the same policy) and a policy in
    state through NormalizeJsonString (compact, keys sorted)."""
    policy = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
              '"Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": "*"}]}')
    text = ('resource "aws_iam_policy" "p" {\n  name = "p"\n  policy = <<EOT\n' + policy + '\nEOT\n}\n')
    config = write_config(tmp_path / "cfg", text)
    state = State()
    Stack(config, session=aws_session, out=Lines(), state=state).apply()
    stored = state.resources["aws_iam_policy.p"]["attributes"]["policy"]
    assert stored == json.dumps(json.loads(policy), separators=(",", ":"), sort_keys=True)
    (config / "main.tf").write_text(text.replace('"dynamodb:GetItem", "dynamodb:PutItem"',
                                                 '"dynamodb:PutItem", "dynamodb:GetItem"'), encoding="utf-8")
    plan = Stack(config, session=aws_session, out=Lines(), state=state).plan()
    assert plan.summary == "No changes. Your infrastructure matches the configuration."
    (config / "main.tf").write_text(text.replace('"dynamodb:GetItem", ', ""), encoding="utf-8")
    assert Stack(config, session=aws_session, out=Lines(), state=state).plan().summary == \
        "Plan: 0 to add, 1 to change, 0 to destroy."  # a real change still plans


@pytest.mark.parametrize(("a", "b", "same"), [
    ('{"Statement": [{"Action": "s3:GetObject"}]}', '{"Statement": {"Action": ["s3:GetObject"]}}', True),
    ('{"Statement": [{"Sid": "1"}, {"Sid": "2"}]}', '{"Statement": [{"Sid": "2"}, {"Sid": "1"}]}', True),
    ('{"Statement": [{"Principal": "*"}]}', '{"Statement": [{"Principal": {"AWS": "*"}}]}', True),
    ('{"Statement": [{"Condition": {"StringEquals": {"k": ["a", "b"]}}}]}',
     '{"Statement": [{"Condition": {"StringEquals": {"k": ["b", "a"]}}}]}', True),
    ('{"Statement": [{"Effect": "Allow"}]}', '{"Statement": [{"Effect": "Deny"}]}', False),
    ('{"Version": "2012-10-17", "Statement": []}', '{"Version": "2008-10-17", "Statement": []}', False),
])
def test_policy_equivalence_follows_the_providers_rules(a, b, same):
    assert policies_equivalent(a, b) is same


def test_alias_and_user_policy_without_name_get_generated_names(aws_session, tmp_path):
    """Provider: create.Name -- "alias/" or name_prefix, "terraform-" for a user policy, then a unique
    suffix; name_prefix reads back as the generated name's prefix."""
    text = ('resource "aws_kms_key" "k" {\n  description = "k"\n}\n'
            'resource "aws_kms_alias" "a" {\n  target_key_id = aws_kms_key.k.key_id\n}\n'
            'resource "aws_kms_alias" "b" {\n  name_prefix = "alias/diary-"\n  target_key_id = aws_kms_key.k.key_id\n}\n'
            'resource "aws_iam_user" "u" {\n  name = "u"\n}\n'
            'resource "aws_iam_user_policy" "p" {\n  user = aws_iam_user.u.name\n'
            '  policy = jsonencode({Version = "2012-10-17", Statement = [{Effect = "Allow", Action = "s3:*", '
            'Resource = "*"}]})\n}\n')
    config = write_config(tmp_path / "cfg", text)
    state = State()
    plan = Stack(config, session=aws_session, out=Lines(), state=state).plan()
    assert "      + name           = (known after apply)" in str(plan)
    Stack(config, session=aws_session, out=Lines(), state=state).apply()
    a = state.resources["aws_kms_alias.a"]["attributes"]
    b = state.resources["aws_kms_alias.b"]["attributes"]
    p = state.resources["aws_iam_user_policy.p"]["attributes"]
    assert re.fullmatch("alias/" + GENERATED, a["name"]) and a["name_prefix"] == "alias/"
    assert re.fullmatch("alias/diary-" + GENERATED, b["name"]) and b["name_prefix"] == "alias/diary-"
    assert re.fullmatch("terraform-" + GENERATED, p["name"]) and p["id"] == f"u:{p['name']}"
    aliases = {x["AliasName"] for x in aws_session.client("kms").list_aliases()["Aliases"]}
    assert {a["name"], b["name"]} <= aliases
    assert aws_session.client("iam").list_user_policies(UserName="u")["PolicyNames"] == [p["name"]]
    assert Stack(config, session=aws_session, out=Lines(), state=state).plan().summary.startswith("No changes.")


def test_name_and_name_prefix_conflict(tmp_path):
    """Terraform SDK ConflictsWith: "name": conflicts with name_prefix."""
    text = ('resource "aws_kms_alias" "a" {\n  name = "alias/x"\n  name_prefix = "alias/y-"\n'
            '  target_key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"\n}\n')
    with pytest.raises(ValidationError) as caught:
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines())
    assert '"name": conflicts with name_prefix' in caught.value.message
    assert '"name_prefix": conflicts with name' in caught.value.message


def test_null_tags_are_dropped(aws_session, tmp_path):
    """terraform plan shows tags = { "j" = "v" } for tags = { k = null, j = "v" }: the null tag is dropped."""
    text = 'resource "aws_iam_user" "u" {\n  name = "u"\n  tags = { k = null, j = "v" }\n}\n'
    state = State()
    Stack(write_config(tmp_path / "cfg", text), session=aws_session, out=Lines(), state=state).apply()
    assert state.resources["aws_iam_user.u"]["attributes"]["tags"] == {"j": "v"}
    assert aws_session.client("iam").list_user_tags(UserName="u")["Tags"] == [{"Key": "j", "Value": "v"}]


# -- two kinds of refusal ---------------------------------------------------------------------------

def test_an_argument_the_provider_accepts_is_not_modelled(tmp_path):
    """issue 16 point 5: the real provider accepts the argument; kmslab says the limit is its own."""
    text = ('resource "aws_dynamodb_table" "t" {\n  name = "t"\n  billing_mode = "PAY_PER_REQUEST"\n'
            '  hash_key = "id"\n  restore_to_latest_time = true\n  attribute {\n    name = "id"\n    type = "S"\n  }\n}\n')
    with pytest.raises(UnsupportedError) as caught:
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines())
    assert caught.value.line == 5
    assert NOT_MODELLED in caught.value.message
    assert "Unsupported argument" not in caught.value.message


def test_an_argument_the_provider_refuses_is_invalid_in_terraforms_words(tmp_path):
    text = 'resource "aws_kms_key" "k" {\n  deletion_window_days = 7\n}\n'
    with pytest.raises(ValidationError) as caught:
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines())
    assert caught.value.message == 'Unsupported argument: An argument named "deletion_window_days" is not expected here.'
    assert caught.value.suggestion == "deletion_window_in_days"


def test_a_computed_attribute_is_unconfigurable(tmp_path):
    with pytest.raises(ValidationError, match='Value for unconfigurable attribute: Can\'t configure a value for "arn"'):
        Stack(write_config(tmp_path / "cfg", 'resource "aws_kms_key" "k" {\n  arn = "x"\n}\n'), session=None,
              out=Lines())


def test_resource_types_the_provider_has_are_not_modelled_others_invalid(tmp_path):
    with pytest.raises(UnsupportedError) as modelled:
        Stack(write_config(tmp_path / "a", 'resource "aws_s3_bucket" "b" {\n}\n'), session=None, out=Lines())
    assert NOT_MODELLED in modelled.value.message
    with pytest.raises(ValidationError) as invalid:
        Stack(write_config(tmp_path / "b", 'resource "aws_kms_keys" "k" {\n}\n'), session=None, out=Lines())
    assert invalid.value.message == 'Invalid resource type: The provider hashicorp/aws does not support resource ' \
                                    'type "aws_kms_keys".'
    assert invalid.value.suggestion == "aws_kms_key"


def test_terraform_functions_kmslab_lacks_are_not_modelled_unknown_ones_invalid(tmp_path):
    text = 'locals {\n  x = %s\n}\n'
    with pytest.raises(UnsupportedError, match=re.escape(NOT_MODELLED)):
        Stack(write_config(tmp_path / "a", text % 'join("", ["a"])'), session=None, out=Lines())
    with pytest.raises(ValidationError, match='There is no function named "jsonencod"'):
        Stack(write_config(tmp_path / "b", text % "jsonencod(1)"), session=None, out=Lines())

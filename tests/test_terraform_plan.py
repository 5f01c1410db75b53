"""Plan text and HTML, data sources, and the parts of the plan that mirror the real CLI's layout."""

from __future__ import annotations

import json
import zlib

import _tf_helpers
import pytest
from _tf_helpers import BUNDLED, FIXTURES, Lines, write_config

from kmslab._terraform import Plan, Stack
from kmslab._terraform._render import body_lines, diff_lines, value_lines

_moto_for_module = _tf_helpers._moto_for_module  # fixtures shared by the test_terraform_* modules
aws_session = _tf_helpers.aws_session


def test_first_plan_of_the_bundled_stack(aws_session):
    plan = Stack(BUNDLED, session=aws_session, out=Lines()).plan()
    assert isinstance(plan, Plan)
    text = str(plan)
    lines = text.splitlines()
    assert lines[:3] == ["Terraform used the selected providers to generate the following execution",
                         "plan. Resource actions are indicated with the following symbols:", "  + create"]
    assert "Terraform will perform the following actions:" in lines
    for expected in [
        "  # aws_kms_key.dynamodb_key will be created",
        '  + resource "aws_kms_key" "dynamodb_key" {',
        "      + arn                                = (known after apply)",
        "      + deletion_window_in_days            = 7",
        '      + description                        = "KMS key for encrypting DynamoDB tables"',
        '      + key_usage                          = "ENCRYPT_DECRYPT"',
        "    }",
        '  + resource "aws_dynamodb_table" "encrypted_table" {',
        '      + billing_mode     = "PAY_PER_REQUEST"',  # aligned on stream_view_type, as terraform 1.11 prints
        "      + stream_view_type = (known after apply)",
        "      + attribute {",
        '          + name = "id"',
        "        }",
        "      + point_in_time_recovery (known after apply)",
        "      + server_side_encryption {",
        "          + enabled     = true",
        "      + ttl (known after apply)",
        "          + kms_key_arn = (known after apply)",
        "      + secret = (sensitive value)",
        "Plan: 5 to add, 0 to change, 0 to destroy.",
        "Changes to Outputs:",
        '  + dynamodb_table_name         = "my-encrypted-table"',
        "  + kms_key_arn                 = (known after apply)",
        "  + test_user_secret_access_key = (sensitive value)",
    ]:
        assert expected in lines, expected
    assert plan.summary == "Plan: 5 to add, 0 to change, 0 to destroy."
    assert sorted(plan.changes) == [
        ("aws_dynamodb_table.encrypted_table", "create"), ("aws_iam_access_key.dynamo_test_user", "create"),
        ("aws_iam_user.dynamo_test_user", "create"), ("aws_iam_user_policy_attachment.dynamo_full_access", "create"),
        ("aws_kms_key.dynamodb_key", "create")]
    # resources appear in address order, as Terraform lists them
    headers = [line for line in lines if line.startswith("  # ")]
    assert headers == sorted(headers)


def test_plan_changes_nothing_in_aws(aws_session):
    Stack(BUNDLED, session=aws_session, out=Lines()).plan()
    assert _tf_helpers.nothing_created(aws_session)


def test_plan_html_is_accessible(aws_session):
    html = Stack(BUNDLED, session=aws_session, out=Lines()).plan()._repr_html_()
    assert '<pre class="kmslab-tf-plan"' in html
    assert 'aria-label="Terraform plan: Plan: 5 to add, 0 to change, 0 to destroy."' in html
    assert '<span class="kmslab-tf-add">  + resource &quot;aws_kms_key&quot; &quot;dynamodb_key&quot; {</span>' in html


def test_repr_is_the_summary(aws_session):
    plan = Stack(BUNDLED, session=aws_session, out=Lines()).plan()
    assert repr(plan) == "<Plan 'Plan: 5 to add, 0 to change, 0 to destroy.'>"


def test_json_policy_is_shown_as_jsonencode(aws_session, tmp_path):
    config = write_config(tmp_path / "cfg", '''
resource "aws_iam_policy" "p" {
  name   = "p"
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["kms:Decrypt"], Resource = "*" }] })
}
''')
    text = str(Stack(config, session=aws_session, out=Lines()).plan())
    assert '''      + policy    = jsonencode(
            {
              + Statement = [
                  + {
                      + Action   = [
                          + "kms:Decrypt",
                        ]
                      + Effect   = "Allow"
                      + Resource = "*"
                    },
                ]
              + Version   = "2012-10-17"
            }
        )''' in text


def test_policy_update_shows_a_nested_diff(aws_session, tmp_path):
    template = '''
resource "aws_iam_user" "u" {
  name = "u"
}
resource "aws_iam_user_policy" "p" {
  name   = "p"
  user   = aws_iam_user.u.name
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "%s", Resource = "*" }] })
}
'''
    config = write_config(tmp_path / "cfg", template % "kms:Decrypt")
    stack = Stack(config, session=aws_session, out=Lines())
    stack.apply()
    write_config(config, template % "kms:Encrypt")
    changed = Stack(config, session=aws_session, out=Lines())
    changed._state = stack.state
    text = str(changed.plan())
    assert '''      ~ policy      = jsonencode(
          ~ {
              ~ Statement = [
                  ~ {
                      ~ Action   = "kms:Decrypt" -> "kms:Encrypt"
                        # (2 unchanged attributes hidden)
                    },
                ]
                # (1 unchanged attribute hidden)
            }
        )''' in text
    changed.apply()
    document = aws_session.client("iam").get_user_policy(UserName="u", PolicyName="p")["PolicyDocument"]
    assert (document if isinstance(document, dict) else json.loads(document))["Statement"][0]["Action"] == \
        "kms:Encrypt"


def test_managed_policy_update_creates_a_default_version_and_prunes(aws_session, tmp_path):
    template = '''
resource "aws_iam_policy" "p" {
  name   = "p"
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "kms:%s", Resource = "*" }] })
}
'''
    config = write_config(tmp_path / "cfg", template % "Decrypt")
    state = tmp_path / "state.json"
    Stack(config, session=aws_session, out=Lines(), state_path=state).apply()
    for action in ("Encrypt", "Sign", "Verify", "DescribeKey", "GenerateDataKey"):
        write_config(config, template % action)
        Stack(config, session=aws_session, out=Lines(), state_path=state).apply()
    arn = json.loads(state.read_text())["resources"]["aws_iam_policy.p"]["attributes"]["arn"]
    versions = aws_session.client("iam").list_policy_versions(PolicyArn=arn)["Versions"]
    assert len(versions) == 5
    default = next(v for v in versions if v["IsDefaultVersion"])
    document = aws_session.client("iam").get_policy_version(PolicyArn=arn, VersionId=default["VersionId"])
    assert "GenerateDataKey" in json.dumps(document["PolicyVersion"]["Document"])


def test_tags_update_in_place(aws_session, tmp_path):
    template = 'resource "aws_iam_user" "u" {\n  name = "u"\n  tags = { %s }\n}\n'
    config = write_config(tmp_path / "cfg", template % 'Team = "blue", Old = "x"')
    stack = Stack(config, session=aws_session, out=Lines())
    stack.apply()
    write_config(config, template % 'Team = "red"')
    changed = Stack(config, session=aws_session, out=Lines())
    changed._state = stack.state
    text = str(changed.plan())
    assert '''      ~ tags          = {
          - "Old"  = "x" -> null
          ~ "Team" = "blue" -> "red"
        }''' in text
    changed.apply()
    tags = aws_session.client("iam").list_user_tags(UserName="u")["Tags"]
    assert tags == [{"Key": "Team", "Value": "red"}]


def test_key_settings_update_in_place(aws_session, tmp_path):
    template = '''
resource "aws_kms_key" "k" {
  description         = "k"
  enable_key_rotation = %s
  is_enabled          = %s
}
'''
    config = write_config(tmp_path / "cfg", template % ("false", "true"))
    state = tmp_path / "state.json"
    Stack(config, session=aws_session, out=Lines(), state_path=state).apply()
    write_config(config, template % ("true", "false"))
    stack = Stack(config, session=aws_session, out=Lines(), state_path=state)
    plan = stack.plan()
    assert plan.changes == [("aws_kms_key.k", "update")]
    stack.apply()
    key_id = stack.state["aws_kms_key.k"]["attributes"]["key_id"]
    kms = aws_session.client("kms")
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_table_settings_update_in_place(aws_session, tmp_path):
    template = '''
resource "aws_kms_key" "k" {
  description = "k"
}
resource "aws_dynamodb_table" "t" {
  name                        = "t"
  billing_mode                = "%s"
  hash_key                    = "id"
  deletion_protection_enabled = %s
  %s
  attribute {
    name = "id"
    type = "S"
  }
  point_in_time_recovery {
    enabled = %s
  }
}
'''
    config = write_config(tmp_path / "cfg", template % ("PAY_PER_REQUEST", "false", "", "false"))
    state = tmp_path / "state.json"
    Stack(config, session=aws_session, out=Lines(), state_path=state).apply()
    write_config(config, template % ("PROVISIONED", "true", "read_capacity = 2\n  write_capacity = 3", "true"))
    stack = Stack(config, session=aws_session, out=Lines(), state_path=state)
    plan = stack.plan()
    assert dict(plan.changes)["aws_dynamodb_table.t"] == "update"
    assert '      ~ billing_mode                = "PAY_PER_REQUEST" -> "PROVISIONED"' in str(plan)
    stack.apply()
    dynamodb = aws_session.client("dynamodb")
    table = dynamodb.describe_table(TableName="t")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 3
    assert table["DeletionProtectionEnabled"] is True
    backups = dynamodb.describe_continuous_backups(TableName="t")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert stack.plan().summary.startswith("No changes.")


def test_everything_configuration_applies_and_settles(aws_session):
    out = Lines()
    stack = Stack(FIXTURES / "good_everything", session=aws_session, out=out)
    outputs = stack.apply()
    assert outputs["table_name"] == "diary-lab_table"
    assert outputs["table_key_arn"] == stack.state["aws_kms_key.diary"]["attributes"]["arn"]
    assert outputs["summary"] == {
        "alias": "alias/diary-lab", "readers": 2, "owner": "nobody",
        "tags": {"Environment": "LAB", "Course": "kms"},
        "note": "Owned by 123456789012\n  in us-east-1\n",
    }
    kms = aws_session.client("kms")
    key_id = stack.state["aws_kms_key.diary"]["attributes"]["key_id"]
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    assert policy["Id"] == "diary-key-policy"
    assert policy["Statement"][1]["Condition"] == {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    grants = kms.list_grants(KeyId=key_id)["Grants"]
    assert grants[0]["Constraints"] == {"EncryptionContextSubset": {"aws:dynamodb:tableName": "diary-lab_table"}}
    inline = aws_session.client("iam").get_user_policy(UserName="alice", PolicyName="read-diary")["PolicyDocument"]
    document = inline if isinstance(inline, dict) else json.loads(inline)
    assert document["Statement"][0]["Condition"]["StringLike"]["dynamodb:LeadingKeys"] == ["<alice>&"]
    sent = stack.state["aws_iam_user_policy.read_diary"]["attributes"]["policy"]
    assert "\\u003calice\\u003e\\u0026" in sent  # jsonencode escapes <, > and & as Terraform does
    assert stack.plan().summary == "No changes. Your infrastructure matches the configuration."
    assert "data.aws_caller_identity.current: Read complete after 0s [id=123456789012]" in out.lines
    stack.destroy()
    assert aws_session.client("iam").list_users()["Users"] == []


def test_caller_identity_is_asked_once_per_stack(aws_session, tmp_path):
    calls = []
    aws_session.events.register("before-call.sts.GetCallerIdentity", lambda **_: calls.append(1))
    config = write_config(tmp_path / "cfg", '''
data "aws_caller_identity" "me" {}
resource "aws_kms_alias" "a" {
  name          = "alias/x"
  target_key_id = aws_kms_key.k.key_id
}
resource "aws_kms_key" "k" {
  description = data.aws_caller_identity.me.account_id
}
''')
    stack = Stack(config, session=aws_session, out=Lines())
    stack.plan()
    stack.apply()
    assert len(calls) == 1
    assert stack.state["aws_kms_alias.a"]["attributes"]["arn"] == "arn:aws:kms:us-east-1:123456789012:alias/x"


def test_region_data_source(aws_session, tmp_path):
    config = write_config(tmp_path / "cfg", 'data "aws_region" "r" {}\noutput "r" {\n  value = data.aws_region.r\n}\n')
    outputs = Stack(config, session=aws_session, out=Lines()).apply()
    assert outputs["r"] == {"description": "US East (N. Virginia)", "endpoint": "ec2.us-east-1.amazonaws.com",
                            "id": "us-east-1", "name": "us-east-1", "region": "us-east-1"}


def test_policy_document_renders_like_the_provider(aws_session, tmp_path):
    config = write_config(tmp_path / "cfg", '''
data "aws_iam_policy_document" "p" {
  statement {
    sid       = "A"
    actions   = ["dynamodb:GetItem"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::123456789012:root"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.us-east-1.amazonaws.com"]
    }
  }
  statement {
    effect      = "Deny"
    not_actions = ["kms:*", "s3:*"]
    resources   = ["arn:aws:s3:::a", "arn:aws:s3:::b"]
    not_principals {
      type        = "*"
      identifiers = ["*"]
    }
  }
}
output "doc" {
  value = data.aws_iam_policy_document.p.json
}
output "id" {
  value = data.aws_iam_policy_document.p.id
}
''')
    outputs = Stack(config, session=aws_session, out=Lines()).apply()
    assert outputs["doc"] == '''{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "A",
      "Effect": "Allow",
      "Action": "dynamodb:GetItem",
      "Resource": "*",
      "Principal": {
        "AWS": "arn:aws:iam::123456789012:root"
      },
      "Condition": {
        "StringEquals": {
          "kms:ViaService": "dynamodb.us-east-1.amazonaws.com"
        }
      }
    },
    {
      "Effect": "Deny",
      "NotAction": [
        "kms:*",
        "s3:*"
      ],
      "Resource": [
        "arn:aws:s3:::a",
        "arn:aws:s3:::b"
      ],
      "NotPrincipal": "*"
    }
  ]
}'''
    assert outputs["id"] == str(zlib.crc32(outputs["doc"].encode()))


def test_value_rendering_primitives():
    assert value_lines({"b": 1, "a:b": "x"}, "+", 6, quoted_keys=False) == [
        "{", '          + "a:b" = "x"', "          + b     = 1", "        }"]
    assert value_lines({"b": 1}, "+", 6, quoted_keys=True) == ["{", '          + "b" = 1', "        }"]
    assert value_lines([], "+", 6) == ["[]"]
    assert diff_lines("a", "b", 6) == ['"a" -> "b"']
    assert diff_lines([1, 2, 3], [1, 3, 4], 2) == [
        "[", "        # (1 unchanged element hidden)", "      - 2,", "        # (1 unchanged element hidden)",
        "      + 4,", "    ]"]


@pytest.mark.parametrize(("before", "after", "expected"), [
    ({"a": "x"}, {"a": "x"}, ["        # (1 unchanged attribute hidden)"]),
    ({"a": None}, {"a": "y"}, ['      + a = "y"']),
    ({"a": "x"}, {"a": None}, ['      - a = "x" -> null']),
])
def test_body_lines_symbols(before, after, expected):
    from kmslab._terraform._schema import Arg

    assert body_lines(before, after, {"a": Arg()}, {}, 6) == expected

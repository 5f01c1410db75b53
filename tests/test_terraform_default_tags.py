"""The AWS provider's ``default_tags`` and the bundled stack's ``name_prefix``: what real AWS needs.

In real AWS every resource of a lab is tagged ``kmslab:lab=<lab id>`` and its names are prefixed, so that
learners can share an account and ``kmslab cleanup`` can find what they made. The bundled configuration
does it with the provider's ``default_tags { tags = var.default_tags }`` and ``var.name_prefix``; with
the defaults it must build exactly the offline lab's world. The plan texts asserted here were copied
from the real terraform 1.11.4 CLI with the AWS provider 5.100.0 against moto (``-refresh=false`` for
updates, as the embedded applier does not refresh). Each test opens its own offline ``Lab``; the last
one also runs the real CLI, where it and a provider mirror exist.
"""

from __future__ import annotations

import json

import boto3
import pytest
from _tf_helpers import BUNDLED, Lines, write_config

from kmslab import Lab
from kmslab._errors import ReferenceError_, ValidationError
from kmslab._terraform import Stack
from kmslab._tfcli import terraform_available

AVAILABLE, WHY_NOT = terraform_available()
needs_cli = pytest.mark.skipif(not AVAILABLE, reason=f"real-terraform check skipped: {WHY_NOT}")

LAB_TAGS = {"default_tags": {"kmslab:lab": "lab-1234"}, "name_prefix": "lab-1234-"}

#: The bundled stack's first plan with the default variables, as it was before default_tags and
#: name_prefix existed (the real CLI's plan did not change either, apart from the attributes kmslab
#: does not model). The workbook's stored outputs depend on it.
DEFAULT_PLAN = """\
Terraform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  + create

Terraform will perform the following actions:

  # aws_dynamodb_table.encrypted_table will be created
  + resource "aws_dynamodb_table" "encrypted_table" {
      + arn              = (known after apply)
      + billing_mode     = "PAY_PER_REQUEST"
      + hash_key         = "id"
      + id               = (known after apply)
      + name             = "my-encrypted-table"
      + read_capacity    = (known after apply)
      + stream_arn       = (known after apply)
      + stream_label     = (known after apply)
      + stream_view_type = (known after apply)
      + tags_all         = (known after apply)
      + write_capacity   = (known after apply)

      + attribute {
          + name = "id"
          + type = "S"
        }

      + point_in_time_recovery (known after apply)

      + server_side_encryption {
          + enabled     = true
          + kms_key_arn = (known after apply)
        }

      + ttl (known after apply)
    }

  # aws_iam_access_key.dynamo_test_user will be created
  + resource "aws_iam_access_key" "dynamo_test_user" {
      + id     = (known after apply)
      + secret = (sensitive value)
      + status = "Active"
      + user   = "dynamo_test_user"
    }

  # aws_iam_user.dynamo_test_user will be created
  + resource "aws_iam_user" "dynamo_test_user" {
      + arn           = (known after apply)
      + force_destroy = false
      + id            = (known after apply)
      + name          = "dynamo_test_user"
      + path          = "/"
      + tags_all      = (known after apply)
      + unique_id     = (known after apply)
    }

  # aws_iam_user_policy_attachment.dynamo_full_access will be created
  + resource "aws_iam_user_policy_attachment" "dynamo_full_access" {
      + id         = (known after apply)
      + policy_arn = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
      + user       = "dynamo_test_user"
    }

  # aws_kms_key.dynamodb_key will be created
  + resource "aws_kms_key" "dynamodb_key" {
      + arn                                = (known after apply)
      + bypass_policy_lockout_safety_check = false
      + customer_master_key_spec           = "SYMMETRIC_DEFAULT"
      + deletion_window_in_days            = 7
      + description                        = "KMS key for encrypting DynamoDB tables"
      + enable_key_rotation                = false
      + id                                 = (known after apply)
      + is_enabled                         = true
      + key_id                             = (known after apply)
      + key_usage                          = "ENCRYPT_DECRYPT"
      + multi_region                       = (known after apply)
      + policy                             = (known after apply)
      + tags_all                           = (known after apply)
    }

Plan: 5 to add, 0 to change, 0 to destroy.

Changes to Outputs:
  + dynamodb_table_name         = "my-encrypted-table"
  + kms_key_arn                 = (known after apply)
  + kms_key_id                  = (known after apply)
  + test_user_access_key_id     = (known after apply)
  + test_user_arn               = (known after apply)
  + test_user_name              = "dynamo_test_user"
  + test_user_secret_access_key = (sensitive value)"""

#: A stack with every taggable type: default tags from a variable and a local; a key whose own tags
#: override one default; a user with tags of its own; a policy and a table with none.
MIXED = """
variable "dt" {
  type    = map(string)
  default = {}
}

locals {
  extra = { Course = "kms" }
}

provider "aws" {
  region = "us-east-1"
  default_tags {
    tags = merge(var.dt, local.extra)
  }
}

resource "aws_kms_key" "k" {
  description             = "k"
  deletion_window_in_days = 7
  tags                    = { Owner = "me", Env = "override" }
}

resource "aws_iam_policy" "p" {
  name   = "p"
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "kms:Decrypt", Resource = "*" }] })
}

resource "aws_iam_user" "u" {
  name = "u"
  tags = { Team = "blue" }
}

resource "aws_dynamodb_table" "t" {
  name         = "t"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {
    name = "id"
    type = "S"
  }
}
"""


def _as_dict(tags: list[dict], key: str = "Key", value: str = "Value") -> dict[str, str]:
    # moto's DynamoDB TagResource appends a changed key instead of replacing it; the last one is current
    return {tag[key]: tag[value] for tag in tags}


def tags_in_aws(session, key_id: str | None = None, table: str | None = None, user: str | None = None,
                policy_arn: str | None = None) -> dict[str, dict[str, str]]:
    """The tags AWS reports for each resource named (read back through boto3)."""
    found = {}
    if key_id:
        found["key"] = _as_dict(session.client("kms").list_resource_tags(KeyId=key_id)["Tags"], "TagKey", "TagValue")
    if table:
        ddb = session.client("dynamodb")
        arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
        found["table"] = _as_dict(ddb.list_tags_of_resource(ResourceArn=arn)["Tags"])
    if user:
        found["user"] = _as_dict(session.client("iam").list_user_tags(UserName=user)["Tags"])
    if policy_arn:
        found["policy"] = _as_dict(session.client("iam").list_policy_tags(PolicyArn=policy_arn)["Tags"])
    return found


def bundled_tags(session, outputs: dict) -> dict[str, dict[str, str]]:
    return tags_in_aws(session, outputs["kms_key_id"], outputs["dynamodb_table_name"], outputs["test_user_name"])


def block(text: str, address: str, attribute: str) -> list[str]:
    """The lines of ``attribute`` (through its closing brace) in ``address``'s part of a plan."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  # {address} "))
    for i in range(start, len(lines)):
        words = lines[i].split()
        if attribute in words[:2]:
            if not lines[i].rstrip().endswith("{"):
                return [lines[i]]
            end = lines.index("        }", i)  # a resource's map attributes close two columns in
            return lines[i:end + 1]
        if lines[i] == "    }":
            break
    raise AssertionError(f"no {attribute} in {address}:\n{text}")


def squeezed(lines: list[str]) -> list[str]:
    """Lines without their alignment (the CLI aligns on attributes kmslab does not model)."""
    return [" ".join(line.split()) for line in lines]


# --------------------------------------------------------------------------------------------------
# With the defaults: today's world


def test_defaults_leave_todays_world_unchanged():
    with Lab(quiet=True) as lab:
        assert str(Stack(BUNDLED, session=lab.session, out=Lines()).plan()) == DEFAULT_PLAN
        explicit = Stack(BUNDLED, session=lab.session, out=Lines(), variables={"default_tags": {}, "name_prefix": ""})
        assert str(explicit.plan()) == DEFAULT_PLAN

        out = Lines()
        outputs = Stack(BUNDLED, session=lab.session, out=out).apply()
        # variables and the provider's default_tags do not change the order: dependencies, ties by address
        assert [line.split(":")[0] for line in out.lines if line.endswith(": Creating...")] == [
            "aws_iam_user.dynamo_test_user", "aws_iam_access_key.dynamo_test_user",
            "aws_iam_user_policy_attachment.dynamo_full_access", "aws_kms_key.dynamodb_key",
            "aws_dynamodb_table.encrypted_table"]
        assert outputs["dynamodb_table_name"] == "my-encrypted-table"
        assert outputs["test_user_name"] == "dynamo_test_user"
        assert lab.session.client("dynamodb").list_tables()["TableNames"] == ["my-encrypted-table"]
        assert bundled_tags(lab.session, outputs) == {"key": {}, "table": {}, "user": {}}


def test_default_state_has_empty_tags_all_and_a_second_plan_is_clean(tmp_path):
    with Lab(quiet=True) as lab:
        state = tmp_path / "state.json"
        Stack(BUNDLED, session=lab.session, out=Lines(), state_path=state).apply()
        resources = json.loads(state.read_text())["resources"]
        for address in ("aws_kms_key.dynamodb_key", "aws_dynamodb_table.encrypted_table",
                        "aws_iam_user.dynamo_test_user"):
            assert resources[address]["attributes"]["tags_all"] == {}
            assert resources[address]["attributes"]["tags"] is None
        again = Stack(BUNDLED, session=lab.session, out=Lines(), state_path=state)
        assert again.plan().summary == "No changes. Your infrastructure matches the configuration."


# --------------------------------------------------------------------------------------------------
# default_tags


def test_default_tags_reach_every_taggable_resource():
    with Lab(quiet=True) as lab:
        stack = Stack(BUNDLED, session=lab.session, out=Lines(), variables=LAB_TAGS)
        text = str(stack.plan())
        # as the real CLI prints a resource with default tags and none of its own
        assert block(text, "aws_kms_key.dynamodb_key", "tags_all") == [
            "      + tags_all                           = {",
            '          + "kmslab:lab" = "lab-1234"',
            "        }"]
        assert block(text, "aws_iam_user.dynamo_test_user", "tags_all") == [
            "      + tags_all      = {",
            '          + "kmslab:lab" = "lab-1234"',
            "        }"]
        assert block(text, "aws_dynamodb_table.encrypted_table", "tags_all") == [
            "      + tags_all         = {",
            '          + "kmslab:lab" = "lab-1234"',
            "        }"]
        assert "tags " not in text.replace("tags_all", "")  # no resource has tags of its own

        outputs = stack.apply()
        assert bundled_tags(lab.session, outputs) == {"key": {"kmslab:lab": "lab-1234"},
                                                      "table": {"kmslab:lab": "lab-1234"},
                                                      "user": {"kmslab:lab": "lab-1234"}}
        state = stack.state
        assert state["aws_kms_key.dynamodb_key"]["attributes"]["tags_all"] == {"kmslab:lab": "lab-1234"}
        assert "tags_all" not in state["aws_iam_access_key.dynamo_test_user"]["attributes"]
        assert stack.plan().summary == "No changes. Your infrastructure matches the configuration."


def test_resource_tags_win_over_default_tags(tmp_path):
    config = write_config(tmp_path / "cfg", MIXED)
    with Lab(quiet=True) as lab:
        stack = Stack(config, session=lab.session, out=Lines(), variables={"dt": {"Env": "lab"}})
        text = str(stack.plan())
        assert block(text, "aws_kms_key.k", "tags") == [
            "      + tags                               = {",
            '          + "Env"   = "override"',
            '          + "Owner" = "me"',
            "        }"]
        assert block(text, "aws_kms_key.k", "tags_all") == [
            "      + tags_all                           = {",
            '          + "Course" = "kms"',
            '          + "Env"    = "override"',
            '          + "Owner"  = "me"',
            "        }"]
        assert block(text, "aws_iam_user.u", "tags_all") == [
            "      + tags_all      = {",
            '          + "Course" = "kms"',
            '          + "Env"    = "lab"',
            '          + "Team"   = "blue"',
            "        }"]
        assert squeezed(block(text, "aws_iam_policy.p", "tags_all")) == [
            "+ tags_all = {", '+ "Course" = "kms"', '+ "Env" = "lab"', "}"]

        stack.apply()
        state = stack.state
        found = tags_in_aws(lab.session, key_id=state["aws_kms_key.k"]["attributes"]["key_id"], table="t", user="u",
                            policy_arn=state["aws_iam_policy.p"]["attributes"]["arn"])
        assert found == {
            "key": {"Course": "kms", "Env": "override", "Owner": "me"},
            "table": {"Course": "kms", "Env": "lab"},
            "user": {"Course": "kms", "Env": "lab", "Team": "blue"},
            "policy": {"Course": "kms", "Env": "lab"},
        }
        assert state["aws_kms_key.k"]["attributes"]["tags"] == {"Env": "override", "Owner": "me"}


def test_changing_default_tags_updates_tags_all_in_place(tmp_path):
    config = write_config(tmp_path / "cfg", MIXED)
    state_path = tmp_path / "state.json"
    with Lab(quiet=True) as lab:
        Stack(config, session=lab.session, out=Lines(), state_path=state_path, variables={"dt": {"Env": "lab"}}).apply()
        out = Lines()
        changed = Stack(config, session=lab.session, out=out, state_path=state_path,
                        variables={"dt": {"Env": "lab2", "New": "x"}})
        plan = changed.plan()
        assert sorted(plan.changes) == [("aws_dynamodb_table.t", "update"), ("aws_iam_policy.p", "update"),
                                        ("aws_iam_user.u", "update"), ("aws_kms_key.k", "update")]
        text = str(plan)
        assert "  ~ update in-place" in text
        assert plan.summary == "Plan: 0 to add, 4 to change, 0 to destroy."
        key_id = changed.state["aws_kms_key.k"]["attributes"]["key_id"]
        # the key's own tags are unchanged, so they are shown as they are; tags_all gains New
        assert f'        id                                 = "{key_id}"' in text
        assert block(text, "aws_kms_key.k", "tags") == [
            "        tags                               = {",
            '            "Env"   = "override"',
            '            "Owner" = "me"',
            "        }"]
        assert block(text, "aws_kms_key.k", "tags_all") == [
            "      ~ tags_all                           = {",
            '          + "New"    = "x"',
            "            # (3 unchanged elements hidden)",
            "        }"]
        for address, hidden in (("aws_iam_user.u", "2 unchanged elements"), ("aws_iam_policy.p", "1 unchanged element"),
                                ("aws_dynamodb_table.t", "1 unchanged element")):
            assert block(text, address, "tags_all")[1:] == [
                '          ~ "Env"    = "lab" -> "lab2"',
                '          + "New"    = "x"',
                f"            # ({hidden} hidden)",
                "        }"], address
            assert block(text, address, "tags_all")[0].startswith("      ~ tags_all ")

        changed.apply()
        assert "aws_kms_key.k: Modifications complete after 0s [id=" + key_id + "]" in out.lines
        assert "Apply complete! Resources: 0 added, 4 changed, 0 destroyed." in out.lines
        state = changed.state
        policy_arn = state["aws_iam_policy.p"]["attributes"]["arn"]
        assert tags_in_aws(lab.session, key_id, "t", "u", policy_arn) == {
            "key": {"Course": "kms", "Env": "override", "Owner": "me", "New": "x"},
            "table": {"Course": "kms", "Env": "lab2", "New": "x"},
            "user": {"Course": "kms", "Env": "lab2", "New": "x", "Team": "blue"},
            "policy": {"Course": "kms", "Env": "lab2", "New": "x"},
        }
        assert state["aws_iam_user.u"]["attributes"]["tags_all"] == {"Course": "kms", "Env": "lab2", "New": "x",
                                                                     "Team": "blue"}
        assert Stack(config, session=lab.session, out=Lines(), state_path=state_path,
                     variables={"dt": {"Env": "lab2", "New": "x"}}).plan().summary.startswith("No changes.")

        # a default tag that goes away is untagged
        dropped = Stack(config, session=lab.session, out=Lines(), state_path=state_path,
                        variables={"dt": {"Env": "lab2"}})
        assert block(str(dropped.plan()), "aws_iam_policy.p", "tags_all")[1:] == [
            '          - "New"    = "x" -> null',
            "            # (2 unchanged elements hidden)",
            "        }"]
        dropped.apply()
        assert tags_in_aws(lab.session, key_id, "t", "u", policy_arn) == {
            "key": {"Course": "kms", "Env": "override", "Owner": "me"},
            "table": {"Course": "kms", "Env": "lab2"},
            "user": {"Course": "kms", "Env": "lab2", "Team": "blue"},
            "policy": {"Course": "kms", "Env": "lab2"},
        }


def test_default_tags_added_later_and_all_removed(tmp_path):
    config = write_config(tmp_path / "cfg", '''
variable "default_tags" {
  type    = map(string)
  default = {}
}

provider "aws" {
  default_tags {
    tags = var.default_tags
  }
}

resource "aws_iam_user" "u" {
  name = "u"
}
''')
    state_path = tmp_path / "state.json"
    with Lab(quiet=True) as lab:
        Stack(config, session=lab.session, out=Lines(), state_path=state_path).apply()
        tagged = Stack(config, session=lab.session, out=Lines(), state_path=state_path,
                       variables={"default_tags": {"K": "v"}})
        assert block(str(tagged.plan()), "aws_iam_user.u", "tags_all") == [
            "      ~ tags_all      = {",
            '          + "K" = "v"',
            "        }"]
        tagged.apply()
        assert tags_in_aws(lab.session, user="u") == {"user": {"K": "v"}}

        untagged = Stack(config, session=lab.session, out=Lines(), state_path=state_path)
        assert block(str(untagged.plan()), "aws_iam_user.u", "tags_all") == [
            "      ~ tags_all      = {",
            '          - "K" = "v" -> null',
            "        }"]
        untagged.apply()
        assert tags_in_aws(lab.session, user="u") == {"user": {}}
        assert Stack(config, session=lab.session, out=Lines(), state_path=state_path).plan().summary.startswith(
            "No changes.")


def test_tags_all_is_unknown_while_the_tags_are(tmp_path):
    config = write_config(tmp_path / "cfg", '''
provider "aws" {
  default_tags {
    tags = { Course = "kms" }
  }
}

resource "aws_kms_key" "k" {
  description = "k"
}

resource "aws_iam_user" "u" {
  name = "u"
  tags = { Key = aws_kms_key.k.key_id }
}
''')
    with Lab(quiet=True) as lab:
        stack = Stack(config, session=lab.session, out=Lines())
        assert block(str(stack.plan()), "aws_iam_user.u", "tags_all") == [
            "      + tags_all      = (known after apply)"]
        stack.apply()
        key_id = stack.state["aws_kms_key.k"]["attributes"]["key_id"]
        assert tags_in_aws(lab.session, key_id=key_id, user="u") == {"key": {"Course": "kms"},
                                                                     "user": {"Course": "kms", "Key": key_id}}


# --------------------------------------------------------------------------------------------------
# name_prefix


def test_name_prefix_prefixes_the_table_and_the_user():
    with Lab(quiet=True) as lab:
        stack = Stack(BUNDLED, session=lab.session, out=Lines(), variables={"name_prefix": "lab-1234-"})
        text = str(stack.plan())
        assert '      + name             = "lab-1234-my-encrypted-table"' in text
        assert '      + name          = "lab-1234-dynamo_test_user"' in text
        assert '      + user   = "lab-1234-dynamo_test_user"' in text
        outputs = stack.apply()
        assert outputs["dynamodb_table_name"] == "lab-1234-my-encrypted-table"
        assert outputs["test_user_name"] == "lab-1234-dynamo_test_user"
        assert outputs["test_user_arn"] == "arn:aws:iam::123456789012:user/lab-1234-dynamo_test_user"
        assert lab.session.client("dynamodb").list_tables()["TableNames"] == ["lab-1234-my-encrypted-table"]
        iam = lab.session.client("iam")
        assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="lab-1234-dynamo_test_user")
                ["AccessKeyMetadata"]] == [outputs["test_user_access_key_id"]]
        assert [p["PolicyName"] for p in iam.list_attached_user_policies(UserName="lab-1234-dynamo_test_user")
                ["AttachedPolicies"]] == ["AmazonDynamoDBFullAccess"]
        # the addresses stay what the workbook uses
        assert sorted(stack.state) == [
            "aws_dynamodb_table.encrypted_table", "aws_iam_access_key.dynamo_test_user",
            "aws_iam_user.dynamo_test_user", "aws_iam_user_policy_attachment.dynamo_full_access",
            "aws_kms_key.dynamodb_key"]


# --------------------------------------------------------------------------------------------------
# What is refused


@pytest.mark.parametrize(("text", "error", "line", "message"), [
    ('provider "aws" {\n  region = "us-east-1"\n  default_tags {\n    tag = { a = "b" }\n  }\n}\n',
     ValidationError, 4, 'An argument named "tag" is not expected here.'),
    ('provider "aws" {\n  default_tags {\n    tags {\n    }\n  }\n}\n',
     ValidationError, 3, 'Did you mean to define argument "tags"?'),
    ('provider "aws" {\n  default_tags {\n  }\n  default_tags {\n  }\n}\n',
     ValidationError, 4, "Too many default_tags blocks"),
    ('provider "aws" {\n  default_tags {\n    tags = ["a"]\n  }\n}\n',
     ValidationError, 3, 'inappropriate value for attribute "tags": map of string required'),
    ('provider "aws" {\n  default_tags {\n    tags = var.tagz\n  }\n}\nvariable "tags" {\n  default = {}\n}\n',
     ReferenceError_, 3, 'an input variable with the name "tagz" has not been declared'),
    ('provider "aws" {\n  default_tags {\n    tags = { arn = aws_iam_user.u.arn }\n  }\n}\n'
     'resource "aws_iam_user" "u" {\n  name = "u"\n}\n',
     ValidationError, 6, "Cycle: aws_iam_user.u -> provider.aws -> aws_iam_user.u"),
    ('provider "aws" {\n}\n\nprovider "aws" {\n  region = "eu-west-1"\n}\n',
     ValidationError, 4, "Duplicate provider configuration"),
], ids=["unsupported-argument", "tags-as-a-block", "two-blocks", "not-a-map", "undeclared-variable", "cycle",
        "duplicate-provider"])
def test_default_tags_refusals_name_file_and_line(tmp_path, text, error, line, message):
    config = write_config(tmp_path / "cfg", text)
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="unused", aws_secret_access_key="unused")
    with pytest.raises(error) as excinfo:
        Stack(config, session=session, out=Lines())  # refused before any AWS call
    raised = excinfo.value
    assert isinstance(raised, error), raised
    assert (raised.file, raised.line) == ("main.tf", line)
    assert message in str(raised)


def test_other_provider_arguments_and_aliases_are_read_and_ignored(tmp_path):
    config = write_config(tmp_path / "cfg", '''
provider "aws" {
  region  = "eu-west-3"
  profile = "nobody"
  default_tags {
    tags = { a = "1" }
  }
  ignore_tags {
    keys = ["b"]
  }
}

provider "aws" {
  alias = "other"
  default_tags {
    tags = { b = "2" }
  }
}

resource "aws_iam_user" "u" {
  name = "u"
}
''')
    with Lab(quiet=True) as lab:
        Stack(config, session=lab.session, out=Lines()).apply()
        assert tags_in_aws(lab.session, user="u") == {"user": {"a": "1"}}


# --------------------------------------------------------------------------------------------------
# The real CLI


@needs_cli
def test_real_cli_and_embedded_applier_tag_identically(tmp_path):
    first = LAB_TAGS
    second = {**LAB_TAGS, "default_tags": {**LAB_TAGS["default_tags"], "Course": "kms"}}
    watched = ("aws_kms_key.dynamodb_key", "aws_dynamodb_table.encrypted_table", "aws_iam_user.dynamo_test_user")

    with Lab(quiet=True) as lab:
        state = tmp_path / "embedded.json"
        stack = Stack(BUNDLED, session=lab.session, out=Lines(), state_path=state, variables=first)
        embedded_plan = str(stack.plan())
        outputs = stack.apply()
        embedded = {"names": outputs, "tags": bundled_tags(lab.session, outputs)}
        changed = Stack(BUNDLED, session=lab.session, out=Lines(), state_path=state, variables=second)
        embedded_update = str(changed.plan())
        changed.apply()
        embedded["retagged"] = bundled_tags(lab.session, outputs)

    with Lab(quiet=True) as lab:
        cli = lab.terraform(BUNDLED, variables=first, engine="terraform")
        try:
            real_plan = str(cli.plan())
            outputs = cli.apply()
            real = {"names": outputs, "tags": bundled_tags(lab.session, outputs)}
            # the same working copy and state, new default tags (the CLI stack passes variables as TF_VAR_*)
            cli._env["TF_VAR_default_tags"] = json.dumps(second["default_tags"])
            real_update = str(cli.plan())
            cli.apply()
            real["retagged"] = bundled_tags(lab.session, outputs)
            cli.destroy()
        finally:
            cli.close()

    for name in ("dynamodb_table_name", "test_user_name", "test_user_arn"):
        assert real["names"][name] == embedded["names"][name]
    assert real["tags"] == embedded["tags"] == {part: {"kmslab:lab": "lab-1234"} for part in ("key", "table", "user")}
    assert real["retagged"] == embedded["retagged"] == {
        part: {"kmslab:lab": "lab-1234", "Course": "kms"} for part in ("key", "table", "user")}
    for address in watched:
        assert squeezed(block(real_plan, address, "tags_all")) == squeezed(block(embedded_plan, address, "tags_all"))
        assert squeezed(block(real_update, address, "tags_all")) == \
            squeezed(block(embedded_update, address, "tags_all")) == [
                "~ tags_all = {", '+ "Course" = "kms"', "# (1 unchanged element hidden)", "}"]
    assert block(real_plan, "aws_kms_key.dynamodb_key", "tags_all") == \
        block(embedded_plan, "aws_kms_key.dynamodb_key", "tags_all")
    assert "Plan: 0 to add, 3 to change, 0 to destroy." in real_update
    assert "Plan: 0 to add, 3 to change, 0 to destroy." in embedded_update


"""What real configurations use most (issue 16 point 6): DynamoDB streams, indexes, TTL, table class and
timeouts; lifecycle; data aws_partition, aws_service and aws_kms_alias. Each applied to moto and read back.

Plans and messages were compared with terraform 1.11.4 and the AWS provider 5.100.0 on this machine.
"""

from __future__ import annotations

import _tf_helpers
import pytest
from _tf_helpers import Lines, write_config

from kmslab import ApplyError, UnsupportedError, ValidationError
from kmslab._terraform import Stack, State

_moto_for_module = _tf_helpers._moto_for_module
aws_session = _tf_helpers.aws_session

TABLE = '''
resource "aws_kms_key" "k" {
  description = "k"
}
resource "aws_dynamodb_table" "t" {
  name             = "t"
  billing_mode     = "PAY_PER_REQUEST"
  hash_key         = "id"
  range_key        = "sk"
  stream_enabled   = true
  stream_view_type = "NEW_IMAGE"
  table_class      = "STANDARD_INFREQUENT_ACCESS"
  attribute {
    name = "id"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }
  attribute {
    name = "g"
    type = "S"
  }
  attribute {
    name = "l"
    type = "N"
  }
  global_secondary_index {
    name            = "%(gsi)s"
    hash_key        = "g"
    projection_type = "ALL"
  }
  local_secondary_index {
    name            = "lsi"
    range_key       = "l"
    projection_type = "KEYS_ONLY"
  }
  ttl {
    attribute_name = "expires"
    enabled        = %(ttl)s
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.k.arn
  }
  timeouts {
    create = "10m"
  }
}
'''


def _table(tmp_path, gsi="by_g", ttl="true"):
    return write_config(tmp_path / "cfg", TABLE % {"gsi": gsi, "ttl": ttl})


def test_stream_indexes_ttl_and_class_reach_dynamodb_under_the_tables_key(aws_session, tmp_path):
    """CreateTable carries the StreamSpecification, both indexes and the table class, with the table's
    SSE key (DynamoDB encrypts indexes and streams with the table's key); TTL via UpdateTimeToLive."""
    state = State()
    config = _table(tmp_path)
    plan = Stack(config, session=aws_session, out=Lines(), state=state).plan()
    text = str(plan)
    assert "      + stream_view_type = \"NEW_IMAGE\"" in text
    assert "      + timeouts {\n          + create = \"10m\"\n        }" in text
    Stack(config, session=aws_session, out=Lines(), state=state).apply()
    dynamodb = aws_session.client("dynamodb")
    table = dynamodb.describe_table(TableName="t")["Table"]
    key_arn = state.resources["aws_kms_key.k"]["attributes"]["arn"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by_g"]
    assert [i["IndexName"] for i in table["LocalSecondaryIndexes"]] == ["lsi"]
    # (moto keeps no TableClassSummary; the request's TableClass is checked by the differential test's CLI side)
    assert table["SSEDescription"]["KMSMasterKeyArn"] == key_arn
    assert dynamodb.describe_time_to_live(TableName="t")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    attributes = state.resources["aws_dynamodb_table.t"]["attributes"]
    assert attributes["table_class"] == "STANDARD_INFREQUENT_ACCESS"
    assert attributes["stream_arn"] == table["LatestStreamArn"] and attributes["stream_label"]
    assert Stack(config, session=aws_session, out=Lines(), state=state).plan().summary.startswith("No changes.")


def test_global_index_and_ttl_change_in_place_local_index_forces_replacement(aws_session, tmp_path):
    state = State()
    Stack(_table(tmp_path), session=aws_session, out=Lines(), state=state).apply()
    changed = Stack(_table(tmp_path, gsi="by_g2", ttl="false"), session=aws_session, out=Lines(), state=state)
    assert changed.plan().changes[-1] == ("aws_dynamodb_table.t", "update")
    changed.apply()
    dynamodb = aws_session.client("dynamodb")
    assert [i["IndexName"] for i in dynamodb.describe_table(TableName="t")["Table"]["GlobalSecondaryIndexes"]] == \
        ["by_g2"]
    assert dynamodb.describe_time_to_live(TableName="t")["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"
    text = (tmp_path / "cfg" / "main.tf").read_text().replace('"KEYS_ONLY"', '"ALL"')
    (tmp_path / "cfg" / "main.tf").write_text(text)
    replaced = Stack(tmp_path / "cfg", session=aws_session, out=Lines(), state=state).plan()
    assert ("aws_dynamodb_table.t", "replace") in replaced.changes


def test_stream_enabled_without_view_type_is_the_providers_error(tmp_path):
    text = ('resource "aws_dynamodb_table" "t" {\n  name = "t"\n  billing_mode = "PAY_PER_REQUEST"\n  hash_key = "id"\n'
            '  stream_enabled = true\n  attribute {\n    name = "id"\n    type = "S"\n  }\n}\n')
    with pytest.raises(ValidationError, match="stream_view_type is required when stream_enabled = true"):
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines())


def test_index_keys_count_as_used_attributes(tmp_path):
    """The provider's "all attributes must be indexed" counts index keys too."""
    Stack(_table(tmp_path), session=None, out=Lines())  # g and l are index keys, not unused


def test_replica_is_not_modelled(tmp_path):
    text = ('resource "aws_dynamodb_table" "t" {\n  name = "t"\n  billing_mode = "PAY_PER_REQUEST"\n  hash_key = "id"\n'
            '  attribute {\n    name = "id"\n    type = "S"\n  }\n  replica {\n    region_name = "eu-west-1"\n  }\n}\n')
    with pytest.raises(UnsupportedError, match='not modelled by kmslab\'s applier \\(use engine="terraform"\\)'):
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines())


# -- lifecycle --------------------------------------------------------------------------------------

USER = '''resource "aws_iam_user" "u" {
  name = "%s"
  tags = { team = "%s" }
  lifecycle {
    %s
  }
}
'''


def test_prevent_destroy_refuses_destroy_and_replacement(aws_session, tmp_path):
    """Terraform: "Instance cannot be destroyed: Resource ... has lifecycle.prevent_destroy set"."""
    config = write_config(tmp_path / "cfg", USER % ("u", "a", "prevent_destroy = true"))
    state = State()
    Stack(config, session=aws_session, out=Lines(), state=state).apply()
    with pytest.raises(ValidationError, match="Instance cannot be destroyed: Resource aws_iam_user.u has "
                                              "lifecycle.prevent_destroy set"):
        Stack(config, session=aws_session, out=Lines(), state=state).destroy()
    assert aws_session.client("iam").get_user(UserName="u")
    kms = write_config(tmp_path / "kms", 'resource "aws_kms_key" "k" {\n  key_usage = "ENCRYPT_DECRYPT"\n'
                       '  lifecycle {\n    prevent_destroy = true\n  }\n}\n')
    kms_state = State()
    Stack(kms, session=aws_session, out=Lines(), state=kms_state).apply()
    (kms / "main.tf").write_text((kms / "main.tf").read_text().replace("ENCRYPT_DECRYPT", "SIGN_VERIFY"))
    with pytest.raises(ValidationError, match="Instance cannot be destroyed"):
        Stack(kms, session=aws_session, out=Lines(), state=kms_state).plan()


def test_ignore_changes_keeps_the_states_value(aws_session, tmp_path):
    config = write_config(tmp_path / "cfg", USER % ("u", "a", "ignore_changes = [tags]"))
    state = State()
    Stack(config, session=aws_session, out=Lines(), state=state).apply()
    write_config(config, USER % ("u", "b", "ignore_changes = [tags]"))
    assert Stack(config, session=aws_session, out=Lines(), state=state).plan().summary.startswith("No changes.")
    write_config(config, USER % ("v", "b", "ignore_changes = all"))
    assert Stack(config, session=aws_session, out=Lines(), state=state).plan().summary.startswith("No changes.")


@pytest.mark.parametrize("body", ["create_before_destroy = true", "replace_triggered_by = [aws_iam_user.u]"])
def test_lifecycle_arguments_kmslab_does_not_model(tmp_path, body):
    with pytest.raises(UnsupportedError, match="not modelled by kmslab's applier"):
        Stack(write_config(tmp_path / "cfg", USER % ("u", "a", body)), session=None, out=Lines())


# -- data sources -----------------------------------------------------------------------------------

def test_partition_service_and_kms_alias_data_sources(aws_session, tmp_path):
    """Values as the provider's plan shows them (aws_partition, aws_service); aws_kms_alias read at
    apply because it depends on an alias being created (Terraform defers such reads)."""
    config = write_config(tmp_path / "cfg", '''
data "aws_partition" "p" {}
data "aws_service" "s" {
  service_id = "dynamodb"
}
data "aws_service" "r" {
  reverse_dns_name = "com.amazonaws.us-east-1.kms"
}
resource "aws_kms_key" "k" {
  description = "k"
}
resource "aws_kms_alias" "a" {
  name          = "alias/diary"
  target_key_id = aws_kms_key.k.key_id
}
data "aws_kms_alias" "a" {
  name = aws_kms_alias.a.name
}
output "p" { value = data.aws_partition.p }
output "s" { value = data.aws_service.s }
output "r" { value = data.aws_service.r.dns_name }
output "a" { value = data.aws_kms_alias.a }
''')
    outputs = Stack(config, session=aws_session, out=Lines()).apply()
    assert outputs["p"] == {"dns_suffix": "amazonaws.com", "id": "aws", "partition": "aws",
                            "reverse_dns_prefix": "com.amazonaws"}
    assert outputs["s"] == {"dns_name": "dynamodb.us-east-1.amazonaws.com", "id": "com.amazonaws.us-east-1.dynamodb",
                            "partition": "aws", "region": "us-east-1",
                            "reverse_dns_name": "com.amazonaws.us-east-1.dynamodb", "reverse_dns_prefix": "com.amazonaws",
                            "service_id": "dynamodb", "supported": True}
    assert outputs["r"] == "kms.us-east-1.amazonaws.com"
    key = aws_session.client("kms").describe_key(KeyId="alias/diary")["KeyMetadata"]
    assert outputs["a"]["target_key_id"] == key["KeyId"] and outputs["a"]["target_key_arn"] == key["Arn"]
    assert outputs["a"]["arn"] == "arn:aws:kms:us-east-1:123456789012:alias/diary"


def test_kms_alias_data_source_that_finds_nothing_is_an_error(aws_session, tmp_path):
    config = write_config(tmp_path / "cfg", 'data "aws_kms_alias" "a" {\n  name = "alias/nope"\n}\n')
    with pytest.raises(ApplyError, match=r"reading KMS Alias \(alias/nope\): couldn't find resource"):
        Stack(config, session=aws_session, out=Lines()).plan()

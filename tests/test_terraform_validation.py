"""Every configuration the applier refuses: the error class, the provider's words, file:line, and nothing created.

Each case is a folder under ``tests/fixtures/tf/``.
"""

from __future__ import annotations

import _tf_helpers
import pytest
from _tf_helpers import FIXTURES, Lines, nothing_created

from kmslab import HCLSyntaxError, ReferenceError_, UnsupportedError, ValidationError
from kmslab._terraform import Stack

_moto_for_module = _tf_helpers._moto_for_module  # fixtures shared by the test_terraform_* modules
aws_session = _tf_helpers.aws_session

PAY_PER_REQUEST_ERRORS = (
    "2 errors occurred:\n"
    '  * read_capacity can not be set when billing_mode is "PAY_PER_REQUEST"\n'
    '  * write_capacity can not be set when billing_mode is "PAY_PER_REQUEST"'
)

CASES = [
    # (fixture folder, error class, text in the message, line, suggestion)
    ("seed_tutorial", ValidationError, PAY_PER_REQUEST_ERRORS, 6, None),
    ("deletion_window_too_short", ValidationError,
     "expected deletion_window_in_days to be in the range (7 - 30), got 5", 3, None),
    ("provisioned_without_capacity", ValidationError,
     'read_capacity must be set when billing_mode is "PROVISIONED"', 1, None),
    ("hash_key_without_attribute", ValidationError,
     'all indexes must match a defined attribute. Unmatched indexes: ["sk"]', 1, None),
    ("unused_attribute", ValidationError, 'all attributes must be indexed. Unused attributes: ["email"]', 1, None),
    ("invalid_policy_json", ValidationError, '"policy" contains an invalid JSON', 3, None),  # kms: StringIsJSON
    ("alias_without_prefix", ValidationError, "\"name\" must begin with 'alias/'", 5, None),
    ("bad_billing_mode", ValidationError,
     'expected billing_mode to be one of ["PROVISIONED" "PAY_PER_REQUEST"], got ON_DEMAND', 3, None),
    ("bad_key_usage", ValidationError,
     'expected key_usage to be one of ["ENCRYPT_DECRYPT" "SIGN_VERIFY" "GENERATE_VERIFY_MAC"], got ENCRYPT', 2, None),
    ("bad_attribute_type", ValidationError, 'expected type to be one of ["S" "N" "B"], got STRING', 8, None),
    ("wrong_argument_type", ValidationError,
     'inappropriate value for attribute "deletion_window_in_days": a number is required', 2, None),
    ("missing_required_argument", ValidationError, 'the argument "hash_key" is required', 1, None),
    ("read_only_argument", ValidationError, 'Value for unconfigurable attribute: Can\'t configure a value for "arn"', 3,
     None),
    ("unknown_resource_type", ValidationError, 'does not support resource type "aws_kms_keys"', 1, "aws_kms_key"),
    ("unknown_argument", ValidationError, 'An argument named "deletion_window_days" is not expected', 3,
     "deletion_window_in_days"),
    ("unknown_attribute_reference", ReferenceError_, 'exported attribute named "arnn"', 6, "arn"),
    ("index_set_block", ReferenceError_, 'Cannot index a set value: block type "attribute" is represented by a set',
     13, None),
    ("undeclared_resource_reference", ReferenceError_, 'a managed resource "aws_kms_key" "dynamo_key" has not been '
     "declared", 7, "aws_kms_key.dynamodb_key"),
    ("undeclared_variable", ReferenceError_, 'an input variable with the name "regoin" has not been declared', 6,
     "var.region"),
    ("unknown_function", ValidationError, 'There is no function named "jsonencod"', 3, "jsonencode"),
    ("count_meta_argument", UnsupportedError, "The count meta-argument is not modelled by kmslab's applier (use engine=\"terraform\")", 2, None),
    ("for_each_meta_argument", UnsupportedError, "The for_each meta-argument is not modelled by kmslab's applier (use engine=\"terraform\")", 2, None),
    ("dynamic_block", UnsupportedError, "A dynamic block is not modelled by kmslab's applier", 6, None),
    ("module_block", UnsupportedError, "A module block is not modelled by kmslab's applier", 1, None),
    ("syntax_error", HCLSyntaxError, "Invalid multi-line string", 4, None),  # HCL: the string that runs on
    ("duplicate_resource", ValidationError, 'a resource named "aws_kms_key.k" was already declared at main.tf:1', 5,
     None),
    ("reference_cycle", ValidationError, "Cycle: local.a -> local.b -> local.a", 2, None),
    ("missing_required_variable", ValidationError, 'the root module input variable "table_name" is not set', 1, None),
    ("wrong_variable_default_type", ValidationError,
     "this default value is not compatible with the variable's type constraint: a number is required", 1, None),
]


@pytest.mark.parametrize(("folder", "error", "text", "line", "suggestion"), CASES, ids=[c[0] for c in CASES])
def test_refused_before_any_aws_call(aws_session, folder, error, text, line, suggestion):
    with pytest.raises(error) as caught:
        Stack(FIXTURES / folder, session=aws_session, out=Lines())
    exc = caught.value
    assert text in exc.message
    assert (exc.file, exc.line) == ("main.tf", line)
    assert str(exc).startswith(f"main.tf:{line}: ")
    assert exc.suggestion == suggestion
    if suggestion:
        assert str(exc).endswith(f'Did you mean "{suggestion}"?')
    assert nothing_created(aws_session)


def test_provider_errors_name_the_resource(aws_session):
    with pytest.raises(ValidationError) as caught:
        Stack(FIXTURES / "seed_tutorial", session=aws_session)
    assert caught.value.address == "aws_dynamodb_table.encrypted_table"
    assert caught.value.errors == ['read_capacity can not be set when billing_mode is "PAY_PER_REQUEST"',
                                   'write_capacity can not be set when billing_mode is "PAY_PER_REQUEST"']
    assert str(caught.value).endswith("with aws_dynamodb_table.encrypted_table")


def test_missing_variable_can_be_given(aws_session):
    stack = Stack(FIXTURES / "missing_required_variable", session=aws_session, variables={"table_name": "diary"},
                  out=Lines())
    assert stack.plan().summary == "Plan: 1 to add, 0 to change, 0 to destroy."


@pytest.mark.parametrize(("variables", "text"), [
    ({"table_name": ["a"]}, "the given value is not suitable for var.table_name declared at main.tf:1: string required"),
    ({"tabel_name": "x"}, 'a variable named "tabel_name" was given'),
])
def test_bad_variable_values(aws_session, variables, text):
    with pytest.raises((ValidationError, ReferenceError_)) as caught:
        Stack(FIXTURES / "missing_required_variable", session=aws_session, variables=variables)
    assert text in str(caught.value)
    if "tabel_name" in variables:
        assert caught.value.suggestion == "table_name"


def test_switching_to_on_demand_tolerates_old_capacities(aws_session, tmp_path):
    """The provider lets read/write_capacity stay while a table moves from PROVISIONED to PAY_PER_REQUEST."""
    from _tf_helpers import write_config

    provisioned = '''
resource "aws_dynamodb_table" "t" {
  name           = "t"
  billing_mode   = "%s"
  hash_key       = "id"
  read_capacity  = 5
  write_capacity = 5
  attribute {
    name = "id"
    type = "S"
  }
}
'''
    config = write_config(tmp_path / "cfg", provisioned % "PROVISIONED")
    state_path = tmp_path / "state.json"
    Stack(config, session=aws_session, out=Lines(), state_path=state_path).apply()
    write_config(config, provisioned % "PAY_PER_REQUEST")
    with pytest.raises(ValidationError):
        Stack(config, session=aws_session)  # without that state: refused, as the provider refuses it
    switching = Stack(config, session=aws_session, out=Lines(), state_path=state_path)
    assert dict(switching.plan().changes)["aws_dynamodb_table.t"] == "update"
    switching.apply()
    table = aws_session.client("dynamodb").describe_table(TableName="t")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_plan_time_check_uses_variable_values(aws_session, tmp_path):
    from _tf_helpers import write_config

    config = write_config(tmp_path / "cfg", '''
variable "days" {
  type = number
}
resource "aws_kms_key" "k" {
  deletion_window_in_days = var.days
}
''')
    with pytest.raises(ValidationError) as caught:
        Stack(config, session=aws_session, variables={"days": 31})
    assert "expected deletion_window_in_days to be in the range (7 - 30), got 31" in str(caught.value)
    assert caught.value.line == 6  # the attribute, counting the leading blank line

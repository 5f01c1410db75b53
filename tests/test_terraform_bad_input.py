"""Bad input answered as Terraform (or the AWS provider) answers it, never with an internal traceback.

Each refusal is a kmslab ConfigurationError with the file (and the line where Terraform gives one).
Where Terraform accepts something kmslab's applier does not model, the refusal says so ("not
modelled by kmslab's applier (use engine="terraform")") instead of calling the configuration wrong.
The messages were checked against terraform 1.11 and the AWS provider 5.x on this machine.
"""

from __future__ import annotations

import os
import string

import pytest
from _tf_helpers import write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmslab import ConfigurationError, HCLSyntaxError, UnsupportedError, ValidationError
from kmslab._terraform import Stack

NOT_MODELLED = 'not modelled by kmslab\'s applier (use engine="terraform")'


def _stack(directory):
    return Stack(directory, session=None, out=lambda line: None)


def _refusal(directory) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        _stack(directory)
    return caught.value


def _local(tmp_path, expression: str):
    return write_config(tmp_path / "cfg", f'locals {{\n  x = {expression}\n}}\noutput "o" {{\n  value = local.x\n}}\n')


# -- files ------------------------------------------------------------------------------------------

def test_latin1_file_is_invalid_character_encoding_at_its_line(tmp_path):
    """HCL: "Invalid character encoding: All input files must be UTF-8 encoded..." on the bad byte's line."""
    directory = tmp_path / "cfg"
    directory.mkdir()
    (directory / "main.tf").write_bytes(b'resource "aws_kms_key" "k" {\n  description = "caf\xe9"\n}\n')
    error = _refusal(directory)
    assert isinstance(error, HCLSyntaxError)
    assert (error.file, error.line) == ("main.tf", 2)
    assert error.message.startswith("Invalid character encoding: All input files must be UTF-8 encoded.")


def test_utf16_file_is_invalid_character_encoding_on_line_1(tmp_path):
    directory = tmp_path / "cfg"
    directory.mkdir()
    (directory / "main.tf").write_bytes('resource "aws_kms_key" "k" {\n}\n'.encode("utf-16"))
    error = _refusal(directory)
    assert (error.file, error.line) == ("main.tf", 1)
    assert "Invalid character encoding" in error.message


def test_a_directory_named_main_tf_is_skipped_as_terraform_skips_it(tmp_path):
    """Terraform's module loader skips directories whatever their name."""
    directory = write_config(tmp_path / "cfg", 'resource "aws_kms_key" "k" {\n}\n', name="key.tf")
    (directory / "main.tf").mkdir()
    assert list(_stack(directory).config.resources) == ["aws_kms_key.k"]


def test_symlink_loop_is_failed_to_read_file(tmp_path):
    """Terraform: "Failed to read file: The file "a.tf" could not be read."."""
    directory = write_config(tmp_path / "cfg", 'resource "aws_kms_key" "k" {\n}\n', name="key.tf")
    os.symlink("b.tf", directory / "a.tf")
    os.symlink("a.tf", directory / "b.tf")
    error = _refusal(directory)
    assert isinstance(error, ValidationError)
    assert error.file == "a.tf"
    assert error.message == 'Failed to read file: The file "a.tf" could not be read.'


def test_a_fifo_named_x_tf_is_refused_without_blocking(tmp_path):
    """Terraform would block reading a FIFO; kmslab refuses every name that is not a regular file."""
    directory = write_config(tmp_path / "cfg", 'resource "aws_kms_key" "k" {\n}\n', name="key.tf")
    os.mkfifo(directory / "pipe.tf")
    error = _refusal(directory)
    assert error.file == "pipe.tf"
    assert "is not a regular file" in error.message


def test_editor_backups_and_hidden_files_are_ignored(tmp_path):
    """Terraform's IsIgnoredFile: names starting with "." or ending with "~", and "#...#"."""
    directory = write_config(tmp_path / "cfg", 'resource "aws_kms_key" "k" {\n}\n')
    for name in (".hidden.tf", "main.tf~", "#main.tf#"):
        (directory / name).write_text("this is not HCL {", encoding="utf-8")
    assert list(_stack(directory).config.resources) == ["aws_kms_key.k"]


def test_tf_json_is_refused_as_not_modelled(tmp_path):
    """Terraform reads *.tf.json (its JSON syntax); kmslab's applier does not, and says so."""
    directory = write_config(tmp_path / "cfg", '{"resource": {"aws_kms_key": {"k": {}}}}', name="main.tf.json")
    error = _refusal(directory)
    assert isinstance(error, UnsupportedError)
    assert error.file == "main.tf.json"
    assert NOT_MODELLED in error.message


@pytest.mark.parametrize("name", ["override.tf", "keys_override.tf"])
def test_override_files_are_refused_as_not_modelled(tmp_path, name):
    """Terraform merges override files into the other files' blocks (not a duplicate resource)."""
    directory = write_config(tmp_path / "cfg", 'resource "aws_kms_key" "k" {\n}\n')
    (directory / name).write_text('resource "aws_kms_key" "k" {\n  description = "x"\n}\n', encoding="utf-8")
    error = _refusal(directory)
    assert isinstance(error, UnsupportedError)
    assert error.file == name and NOT_MODELLED in error.message


# -- syntax and names -------------------------------------------------------------------------------

def test_unterminated_string_is_invalid_multi_line_string_on_its_own_line(tmp_path):
    """HCL reports "Invalid multi-line string" where the string starts, not at the end of the file."""
    text = 'resource "aws_kms_key" "k" {\n  description = "abc\n}\n\n' + \
        'resource "aws_kms_key" "j" {\n  description = "x${1}"\n}\n' * 8
    error = _refusal(write_config(tmp_path / "cfg", text))
    assert isinstance(error, HCLSyntaxError)
    assert error.line == 2
    assert error.message.startswith("Invalid multi-line string: Quoted strings may not be split over multiple lines.")


@pytest.mark.parametrize("label", ["k.x", "", "1k"])
def test_bad_resource_labels_are_invalid_resource_name(tmp_path, label):
    """Terraform: "Invalid resource name: A name must start with a letter or underscore and may contain
    only letters, digits, underscores, and dashes."."""
    error = _refusal(write_config(tmp_path / "cfg", f'resource "aws_kms_key" "{label}" {{\n}}\n'))
    assert isinstance(error, ValidationError)
    assert error.line == 1
    assert error.message == ("Invalid resource name: A name must start with a letter or underscore and may contain "
                             "only letters, digits, underscores, and dashes.")


@pytest.mark.parametrize(("block", "kind"), [('data "aws_region" "a.b" {\n}\n', "data resource"),
                                             ('variable "1v" {\n}\n', "variable"),
                                             ('output "o.x" {\n  value = 1\n}\n', "output")])
def test_other_bad_names_use_terraforms_kind(tmp_path, block, kind):
    error = _refusal(write_config(tmp_path / "cfg", block))
    assert error.message.startswith(f"Invalid {kind} name: A name must start with a letter")


def test_deep_nesting_terraform_reads_is_read(tmp_path):
    """Terraform reads 200 nested brackets; so does kmslab (no RecursionError)."""
    stack = _stack(_local(tmp_path, "[" * 200 + "]" * 200))
    assert "local.x" in stack.graph.nodes


def test_nesting_past_kmslabs_limit_is_refused_as_not_modelled(tmp_path):
    error = _refusal(_local(tmp_path, "[" * 3000 + "]" * 3000))
    assert isinstance(error, UnsupportedError)
    assert error.file == "main.tf" and NOT_MODELLED in error.message


# -- functions and numbers --------------------------------------------------------------------------

def test_file_of_a_directory_is_terraforms_error(tmp_path):
    """Terraform: Invalid value for "path" parameter: failed to read file: read sub: is a directory."""
    directory = _local(tmp_path, 'file("sub")')
    (directory / "sub").mkdir()
    error = _refusal(directory)
    assert isinstance(error, ValidationError) and error.line == 2
    assert 'Invalid value for "path" parameter: failed to read file: read sub: is a directory.' in error.message


def test_file_of_a_fifo_is_refused_without_blocking(tmp_path):
    directory = _local(tmp_path, 'file("pipe")')
    os.mkfifo(directory / "pipe")
    error = _refusal(directory)
    assert "is not a regular file" in error.message and error.line == 2


def test_jsondecode_nan_is_go_json_error(tmp_path):
    """Terraform (Go's encoding/json): invalid character 'N' looking for beginning of value."""
    error = _refusal(_local(tmp_path, 'jsondecode("NaN")'))
    assert isinstance(error, ValidationError)
    assert "invalid character 'N' looking for beginning of value" in error.message


@pytest.mark.parametrize("expression", ['tonumber("1e99999")', "jsonencode(1e400)", "jsonencode(1e300 * 1e300)",
                                        'jsondecode("1e400")', 'format("%d", 1e400)', "9" * 5000])
def test_numbers_terraform_holds_but_kmslab_cannot_are_not_modelled(tmp_path, expression):
    """Terraform's numbers are arbitrary-precision (tonumber("1e99999") succeeds there); kmslab's are
    64-bit floats, so it says the limit is its own."""
    error = _refusal(_local(tmp_path, expression))
    assert isinstance(error, UnsupportedError)
    assert error.line == 2 and NOT_MODELLED in error.message


def test_format_with_a_huge_width_is_not_modelled(tmp_path):
    error = _refusal(_local(tmp_path, 'format("%999999999999999999999d", 1)'))
    assert isinstance(error, UnsupportedError) and NOT_MODELLED in error.message


@pytest.mark.parametrize(("pattern", "message"), [
    ("(", "error parsing regexp: missing closing ): `(`."),
    ("(?=a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`."),
    ("(a)\\\\1", "error parsing regexp: invalid escape sequence: `\\1`."),
])
def test_replace_refuses_what_re2_refuses_in_gos_words(tmp_path, pattern, message):
    """Terraform's replace uses Go's regexp (RE2 syntax): no look-arounds, no back-references."""
    error = _refusal(_local(tmp_path, f'replace("aa", "/{pattern}/", "x")'))
    assert isinstance(error, ValidationError)
    assert error.message.endswith(message)


def test_replace_with_a_catastrophic_pattern_does_not_hang(tmp_path):
    """RE2 matches in linear time; kmslab either answers as RE2 does or says its limit is reached."""
    text = "a" * 40 + "b"
    directory = _local(tmp_path, f'replace("{text}", "/^(a+)+$/", "x")')
    try:
        stack = _stack(directory)
    except UnsupportedError as error:
        assert NOT_MODELLED in error.message
    else:
        assert stack.config.locals["x"]
        from kmslab._terraform._expr import Evaluator
        assert Evaluator({}, directory).evaluate(stack.config.locals["x"].expr) == text  # no match: unchanged


def test_replace_with_re2_syntax_still_works(tmp_path):
    from kmslab._terraform._expr import Evaluator
    stack = _stack(_local(tmp_path, 'replace("key-1 key-22", "/key-(\\\\d+)/", "k$1")'))
    assert Evaluator({}, tmp_path).evaluate(stack.config.locals["x"].expr) == "k1 k22"


# -- the provider's validation ----------------------------------------------------------------------

def test_fractional_deletion_window_is_not_a_whole_number(tmp_path):
    """terraform plan: "Attribute must be a whole number, got 7.5" (deletion_window_in_days is TypeInt)."""
    error = _refusal(write_config(tmp_path / "cfg", 'resource "aws_kms_key" "k" {\n  deletion_window_in_days = 7.5\n}\n'))
    assert error.line == 2
    assert error.message.startswith("Attribute must be a whole number, got 7.5")


def test_iam_user_name_with_a_space_is_the_providers_message(tmp_path):
    """The provider's StringMatch on aws_iam_user.name."""
    error = _refusal(write_config(tmp_path / "cfg", 'resource "aws_iam_user" "u" {\n  name = "has space"\n}\n'))
    assert error.message.startswith("invalid value for name (must only contain alphanumeric characters, hyphens, "
                                    "underscores, commas, periods, @ symbols, plus and equals signs)")


def test_long_iam_user_name_and_odd_table_name_pass_the_plan_as_the_provider_lets_them(tmp_path):
    """The provider checks neither the length of a user name nor a table name's characters at plan
    time (terraform plan accepts both); AWS refuses them at apply."""
    config = write_config(tmp_path / "cfg", f'''
resource "aws_iam_user" "u" {{
  name = "{"a" * 1000}"
}}
resource "aws_dynamodb_table" "t" {{
  name         = "bad name!"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {{
    name = "id"
    type = "S"
  }}
}}
''')
    assert sorted(_stack(config).config.resources) == ["aws_dynamodb_table.t", "aws_iam_user.u"]


# -- fuzz -------------------------------------------------------------------------------------------

_PIECES = st.sampled_from([
    'resource "aws_kms_key" "k" {', "}", "{", "[", "]", "(", ")", '"', "${", "%{", "<<EOT\n", "EOT\n", "=", "\n",
    "description", " = ", '"x"', "1e400", "7.5", "-", "*", "/", "jsonencode(", "jsondecode(", 'replace("a", "/(/", "")',
    'format("%9999999999d", 1)', "tonumber(", "file(", "var.", "local.", "aws_kms_key.k.arn", "locals {", "#", "//",
    "/*", "*/", "\\", "\u00e9", "\x00", "null", "true", ",", ".", ":", "?", "...", "!", "==", "&&",
])


@settings(max_examples=int(os.environ.get("KMSLAB_FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(_PIECES, st.text(alphabet=string.printable, max_size=6)), max_size=30))
def test_fuzzed_hcl_raises_only_kmslab_errors_with_a_file(tmp_path_factory, pieces):
    """Whatever the text, Stack() accepts it or raises a ConfigurationError naming the file."""
    directory = tmp_path_factory.mktemp("fuzz")
    (directory / "main.tf").write_bytes("".join(pieces).encode("utf-8", "surrogatepass"))
    try:
        _stack(directory)
    except ConfigurationError as error:
        assert error.file is not None, error


_JSON_PIECES = st.sampled_from(['{', '}', '[', ']', '"Statement"', '"Version"', ':', ',', '"a"', '1e400', 'NaN', '-',
                                'true', 'null', ' ', '\\u0000', '"\\ud800"', '{"a": 1, "a": 2}', '[' * 50])


@settings(max_examples=int(os.environ.get("KMSLAB_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_JSON_PIECES, max_size=25))
def test_fuzzed_policy_json_is_accepted_or_refused_in_the_providers_words(tmp_path_factory, pieces):
    """Whatever the policy text, the provider's ValidIAMPolicyJSON answers: valid, or a ValidationError
    on the policy's line (never a traceback from the JSON reader)."""
    policy = "".join(pieces).replace("\\", "\\\\").replace('"', '\\"')
    directory = tmp_path_factory.mktemp("policy")
    (directory / "main.tf").write_text(f'resource "aws_iam_policy" "p" {{\n  name   = "p"\n  policy = "{policy}"\n}}\n',
                                       encoding="utf-8")
    try:
        _stack(directory)
    except ValidationError as error:
        # the empty string has the provider's own sentence ("is an empty string, which is not a valid JSON value")
        assert error.line == 3 and error.message.startswith(('"policy" contains', '"policy" is an empty string')), error

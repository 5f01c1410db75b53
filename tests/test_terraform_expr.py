"""HCL expressions and functions, evaluated directly (no AWS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmslab import HCLSyntaxError, ReferenceError_, UnsupportedError, ValidationError
from kmslab._terraform._expr import UNKNOWN, Evaluator, TypeMismatch, convert, json_encode
from kmslab._terraform._parse import parse_type
from kmslab._terraform._syntax import parse_expression, references

SCOPE = {
    "var": {"name": "Diary", "n": 3, "tags": {"Team": "blue"}, "list": ["a", "b"], "flag": True},
    "local": {"obj": {"k": [10, 20]}},
    "aws_kms_key": {"k": {"arn": "arn:aws:kms:us-east-1:123456789012:key/abc", "id": "abc"},
                    "new": {"arn": UNKNOWN}},
    "aws_dynamodb_table": {"t": {"server_side_encryption": [{"enabled": True, "kms_key_arn": "arn:k"}]}},
    "path": {"module": "/cfg"},
}


def ev(source: str, base: Path = Path(".")):
    return Evaluator(SCOPE, base).evaluate(parse_expression(source, "main.tf", 1))


@pytest.mark.parametrize(("source", "value"), [
    ('"plain"', "plain"),
    ("42", 42),
    ("1.5", 1.5),
    ("-2", -2),
    ("true", True),
    ("null", None),
    ('"${var.name}-table"', "Diary-table"),
    ('"${var.n}"', 3),  # a lone interpolation keeps its type
    ('"n=${var.n} ok=${var.flag}"', "n=3 ok=true"),
    ('"$${literal} %%{x}"', "${literal} %{x}"),
    ('"tab\\there \\"q\\" \\u00e9"', 'tab\there "q" é'),
    ("var.list[1]", "b"),
    ('var.tags["Team"]', "blue"),
    ("local.obj.k[0] + local.obj.k[1]", 30),
    ("aws_dynamodb_table.t.server_side_encryption[0].kms_key_arn", "arn:k"),
    ("aws_kms_key.k.arn", "arn:aws:kms:us-east-1:123456789012:key/abc"),
    ("7 / 2", 3.5),
    ("8 / 2", 4),
    ("7 % 4 * 2 - 1", 5),
    ("(1 + 2) * 3", 9),
    ("var.n > 2 && !false", True),
    ("var.n >= 4 || var.n == 3", True),
    ('1 == "1"', False),
    ('var.n != 3 ? "x" : "y"', "y"),
    ("[1, \"a\", [true]]", [1, "a", [True]]),
    ('{ a = 1, "b-c" = 2, (var.name) = 3 }', {"a": 1, "b-c": 2, "Diary": 3}),
    ("aws_kms_key.new.arn", UNKNOWN),
    ('"${aws_kms_key.new.arn}/x"', UNKNOWN),
    ("jsonencode({ arn = aws_kms_key.new.arn })", UNKNOWN),
    ("path.module", "/cfg"),
])
def test_expressions(source, value):
    assert ev(source) == value


@pytest.mark.parametrize(("source", "value"), [
    ('jsonencode({ b = [1, 2.5, true, null], a = "<x>&" })', '{"a":"\\u003cx\\u003e\\u0026","b":[1,2.5,true,null]}'),
    ('jsonencode("é")', '"é"'),
    ("jsondecode(\"{\\\"a\\\": [1, 2.0]}\")", {"a": [1, 2]}),
    ("merge({ a = 1, b = 2 }, { b = 3 }, null)", {"a": 1, "b": 3}),
    ("concat([1], [], [2, 3])", [1, 2, 3]),
    ('format("%s has %d keys (%q) %v %%", "kms", 2, "k\\"1", true)', 'kms has 2 keys ("k\\"1") true %'),
    ('format("%5s|%-4d|%05d", "a", 7, 42)', "    a|7   |00042"),
    ('format("%v", [1, "a"])', '[1,"a"]'),
    ('lower("ABC")', "abc"),
    ('upper("abc")', "ABC"),
    ('replace("a-b-c", "-", "_")', "a_b_c"),
    ('replace("table-2024", "/(\\\\w+)-(\\\\d+)/", "$2_$1")', "2024_table"),
    ('replace("aaa", "/a+/", "b")', "b"),
    ('length("héllo")', 5),
    ("length(var.list)", 2),
    ("length(var.tags)", 1),
    ('lookup(var.tags, "Team", "none")', "blue"),
    ('lookup(var.tags, "Owner", "none")', "none"),
    ("tostring(5)", "5"),
    ("tostring(true)", "true"),
    ('tonumber("2.50")', 2.5),
    ("tonumber(null)", None),
    ("concat(var.list, [\"c\"]...)", None),
])
def test_functions(source, value):
    if source.endswith("...)"):
        with pytest.raises(ValidationError):
            ev(source)  # concat(list, ["c"]...) expands ["c"] into a string argument: refused
        return
    assert ev(source) == value


def test_file_reads_relative_to_the_configuration(tmp_path):
    (tmp_path / "policy.json").write_text('{"Version": "2012-10-17"}')
    assert ev('jsondecode(file("policy.json"))', tmp_path) == {"Version": "2012-10-17"}
    with pytest.raises(ValidationError, match='no file exists at "missing.json"'):
        ev('file("missing.json")', tmp_path)


def test_heredocs_keep_or_strip_indentation():
    plain = parse_expression('<<EOT\n  a ${var.name}\n    b\nEOT\n', "main.tf", 3)
    trimmed = parse_expression('<<-EOT\n    a ${var.name}\n      b\n    EOT\n', "main.tf", 3)
    evaluator = Evaluator(SCOPE, Path("."))
    assert evaluator.evaluate(plain) == "  a Diary\n    b\n"
    assert evaluator.evaluate(trimmed) == "a Diary\n  b\n"


def test_heredoc_interpolation_errors_carry_their_own_line():
    expr = parse_expression('<<EOT\nfirst\nsecond ${var.nope}\nEOT\n', "main.tf", 10)
    with pytest.raises(ReferenceError_) as caught:
        Evaluator(SCOPE, Path(".")).evaluate(expr)
    assert caught.value.line == 12


@pytest.mark.parametrize(("source", "error", "text"), [
    ("var.nope", ReferenceError_, 'attribute named "nope"'),
    ("var.list[5]", ValidationError, "index 5, length 2"),
    ('var.tags["Tem"]', ReferenceError_, 'no element named "Tem"'),
    ('1 + "x"', ValidationError, "a number is required"),
    ('"a" && true', ValidationError, "bool required"),
    ('"x${var.list}"', ValidationError, "string required"),
    ('"x${null}"', ValidationError, "null value"),
    ("1 / 0", ValidationError, "division by zero"),
    ('lookup(var.tags, "x")', ValidationError, "no default"),
    ('tonumber("ten")', ValidationError, "cannot convert"),
    ('jsondecode("{")', ValidationError, "Invalid value"),
    ('format("%d", "x")', ValidationError, "integer is required"),
    ('format("%s %s", "a")', ValidationError, "not enough arguments"),
    ("lower()", ValidationError, "Not enough function arguments"),
    ('upper("a", "b")', ValidationError, "Too many function arguments"),
    ('tolist(["a"])', UnsupportedError, 'Terraform\'s function "tolist" is not modelled by kmslab\'s applier'),
    ('lenght("a")', ValidationError, 'There is no function named "lenght"'),
    ("null.x", ValidationError, "null"),
    ('"abc"[0]', ValidationError, "does not have any indices"),
])
def test_expression_errors_name_the_line(source, error, text):
    with pytest.raises(error) as caught:
        ev(source)
    assert text in str(caught.value)
    assert caught.value.file == "main.tf" and caught.value.line == 1


def test_unknown_function_suggests_the_closest():
    with pytest.raises(ValidationError) as caught:
        ev('lenght("a")')
    assert caught.value.suggestion == "length"


@pytest.mark.parametrize(("source", "what"), [
    ("[for x in var.list : x]", "A for expression"),
    ("{ for k, v in var.tags : k => v }", "A for expression"),
    ("var.list[*]", "A splat expression"),
    ('"%{ if true }x%{ endif }"', "A template directive"),
    ("<<EOT\n%{ for x in var.list }x%{ endfor }\nEOT\n", "A template directive"),
    ('provider::aws::arn_parse("x")', "A provider-defined function"),
])
def test_unsupported_syntax_is_refused_at_parse_time(source, what):
    with pytest.raises(UnsupportedError, match=what):
        parse_expression(source, "main.tf", 1)


def test_unclosed_heredoc_interpolation_is_a_syntax_error():
    with pytest.raises(HCLSyntaxError):
        parse_expression("<<EOT\n${var.name\nEOT\n", "main.tf", 1)


def test_references_are_found_with_their_static_path():
    expr = parse_expression('"${aws_dynamodb_table.t.server_side_encryption[0].kms_key_arn}-${var.list[local.i]}"',
                            "m.tf", 4)
    found = {(r.root, r.path) for r in references(expr)}
    assert found == {("aws_dynamodb_table", ("t", "server_side_encryption", 0, "kms_key_arn")), ("var", ("list",)),
                     ("local", ("i",))}


def test_jsonencode_matches_terraform_byte_for_byte():
    value = {"Statement": [{"Resource": "*", "Effect": "Allow", "Condition": {"StringLike": {"k": "<a&b>"}}}],
             "Version": "2012-10-17", "n": 1.0, "line": "\u2028"}
    assert json_encode(value) == ('{"Statement":[{"Condition":{"StringLike":{"k":"\\u003ca\\u0026b\\u003e"}},'
                                  '"Effect":"Allow","Resource":"*"}],"Version":"2012-10-17","line":"\\u2028","n":1}')


@pytest.mark.parametrize(("type_source", "value", "converted"), [
    ("string", 5, "5"),
    ("string", True, "true"),
    ("number", "7", 7),
    ("bool", "false", False),
    ("list(string)", [1, "a"], ["1", "a"]),
    ("map(number)", {"a": "1"}, {"a": 1}),
    ("object({ name = string, size = number })", {"name": "t", "size": 2, "extra": 1}, {"name": "t", "size": 2}),
    ("tuple([string, bool])", ["a", True], ["a", True]),
    ("any", {"x": [1]}, {"x": [1]}),
])
def test_variable_type_conversion(type_source, value, converted):
    assert convert(value, parse_type(parse_expression(type_source, "v.tf", 1))) == converted


@pytest.mark.parametrize(("type_source", "value", "message"), [
    ("string", ["a"], "string required"),
    ("number", "seven", "a number is required"),
    ("bool", "yes", "a bool is required"),
    ("list(number)", ["x"], "element 0: a number is required"),
    ("map(string)", "x", "map of string required"),
    ("object({ name = string })", {}, 'attribute "name" is required'),
])
def test_variable_type_mismatch_messages(type_source, value, message):
    with pytest.raises(TypeMismatch, match=message):
        convert(value, parse_type(parse_expression(type_source, "v.tf", 1)))


def test_bad_type_constraint_suggests_a_type():
    with pytest.raises(ValidationError) as caught:
        parse_type(parse_expression("strng", "v.tf", 2))
    assert caught.value.suggestion == "string" and caught.value.line == 2

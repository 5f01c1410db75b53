"""Hostile bodies, correctly signed: every answer is AWS-shaped, never an internal exception.

The front door's own fuzz test (tests/test_frontdoor.py) covers headers and unsigned garbage; this one signs
whatever it sends (the body is replaced before botocore signs it), so every request passes the signature
check and reaches the enforcer and the emulator. Bounded and seeded: the same cases every run.
"""

from __future__ import annotations

import json
import random

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kmslab._shapes import ShapeError, check
from tests.test_enforcement import TABLE, USER, build_seed_world

SEED = 20261202
CASES_PER_OPERATION = 6

_DYNAMODB = ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
             "TransactGetItems", "TransactWriteItems", "ExecuteStatement", "BatchExecuteStatement",
             "ExecuteTransaction", "CreateTable", "UpdateTable", "DescribeTable", "DeleteTable", "CreateBackup",
             "RestoreTableFromBackup", "RestoreTableToPointInTime", "TagResource", "ListTables"]
_KMS = ["Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "DescribeKey", "CreateGrant", "RetireGrant",
        "PutKeyPolicy", "ScheduleKeyDeletion", "CreateAlias", "CreateKey", "ListGrants", "TagResource"]


def _junk(rng: random.Random, depth: int = 0):
    choice = rng.randrange(9 if depth < 3 else 6)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([0, -1, 7, 10**12, 2**63])
    if choice == 3:
        return rng.choice([1.5, -0.0, 1e308])
    if choice == 4:
        return rng.choice(["", "x", TABLE, "alias/aws/dynamodb", "a" * 300, "arn:aws:kms:eu-west-1:1:key/x",
                           "\u00e9\u2603", "SELECT * FROM t", "arn:aws:dynamodb:us-east-1:123456789012:table/x"])
    if choice == 5:
        return rng.choice([{"S": "42"}, {"N": "x"}, {"id": {"S": "42"}}])
    if choice == 6:
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {rng.choice(["TableName", "Key", "KeyId", "Item", "S", "Statement", "Put", "x"]): _junk(rng, depth + 1)
            for _ in range(rng.randrange(3))}


def _body(rng: random.Random, members: list[str]) -> dict:
    body = {}
    for name in members:
        if rng.random() < 0.7:
            body[name] = _junk(rng)
    return body


@pytest.fixture(scope="module")
def lab():
    from kmslab import Lab
    with Lab() as lab:
        build_seed_world(lab)
        yield lab


@pytest.mark.parametrize("service, operations", [("dynamodb", _DYNAMODB), ("kms", _KMS)])
def test_signed_hostile_bodies_get_aws_shaped_answers(lab, service, operations):
    rng = random.Random(f"{SEED}-{service}")
    client = lab.session_for(USER).client(service, config=Config(retries={"max_attempts": 1},
                                                                 parameter_validation=False))
    model = client.meta.service_model
    codes: set[str] = set()
    carrier, carrier_args = ("DescribeTable", {"TableName": TABLE}) if service == "dynamodb" else \
        ("ListKeys", {})
    prefix = model.metadata["targetPrefix"]
    for operation in operations:
        members = list(model.operation_model(operation).input_shape.members)
        for _ in range(CASES_PER_OPERATION):
            body = json.dumps(_body(rng, members)).encode()

            def replace(request, body=body, operation=operation, **kwargs):
                # a carrier call, turned into the fuzzed operation before botocore signs it
                request.headers.replace_header("X-Amz-Target", f"{prefix}.{operation}")
                request.data = body

            handler_id = f"fuzz-{operation}"
            client.meta.events.register(f"before-sign.{service}.{carrier}", replace, unique_id=handler_id)
            try:
                getattr(client, _method(carrier))(**carrier_args)
            except ClientError as error:  # AWS's answer: any code, but a code
                code = error.response["Error"]["Code"]
                assert code and code not in ("500", "InternalFailure", "InternalServerError"), (operation, body)
                codes.add(code)
            finally:
                client.meta.events.unregister(f"before-sign.{service}.{carrier}", unique_id=handler_id)
    assert "SerializationException" in codes and "ValidationException" in codes


def _method(operation: str) -> str:
    from botocore import xform_name
    return xform_name(operation)


@pytest.mark.parametrize("params, message", [
    ({"UserName": "has space"}, "Member must satisfy regular expression pattern: [\\w+=,.@-]+"),
    ({"UserName": "u" * 100_000}, "Member must have length less than or equal to 64"),
    ({}, "Value null at 'userName' failed to satisfy constraint: Member must not be null"),
])
def test_iam_user_names_are_checked_as_iam_checks_them(params, message):
    with pytest.raises(ShapeError) as excinfo:
        check("iam", "CreateUser", params, protocol="query")
    assert excinfo.value.code == "ValidationError" and message in excinfo.value.message


def test_a_table_name_is_checked_as_dynamodb_checks_it(lab):
    """DynamoDB guide, naming rules: 3 to 255 characters of a-z, A-Z, 0-9, _, - and ."""
    client = lab.session.client("dynamodb")
    with pytest.raises(ClientError) as excinfo:
        client.create_table(TableName="bad name!", BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern" in \
        excinfo.value.response["Error"]["Message"]
    assert "bad name!" not in client.list_tables()["TableNames"]


def test_a_missing_required_member_is_named_as_aws_names_it():
    with pytest.raises(ShapeError) as excinfo:
        check("dynamodb", "GetItem", {"TableName": TABLE}, protocol="json")
    assert excinfo.value.message == ("1 validation error detected: Value null at 'key' failed to satisfy "
                                     "constraint: Member must not be null")


def test_a_value_of_the_wrong_type_is_a_serialization_error():
    with pytest.raises(ShapeError) as excinfo:
        check("dynamodb", "Scan", {"TableName": ["not", "a", "string"]}, protocol="json")
    assert excinfo.value.code == "SerializationException"

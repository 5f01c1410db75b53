"""A foreign emulator: a plain moto server kmslab did not start, with the two locks enforced client-side."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from kmslab import Lab, LabError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def moto_server():
    from moto.core.base_backend import BackendDict
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    saved = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # AdministratorAccess, AmazonDynamoDBFullAccess
    BackendDict.reset()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        BackendDict.reset()
        if saved is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = saved


def _world(session: boto3.Session) -> tuple[str, str]:
    """A customer managed key, a table under it, and dynamo_test_user with AmazonDynamoDBFullAccess."""
    kms, dynamodb, iam = (session.client(n) for n in ("kms", "dynamodb", "iam"))
    account = session.client("sts").get_caller_identity()["Account"]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]}
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
    dynamodb.create_table(TableName="Orders", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["KeyId"]})
    iam.create_user(UserName="dynamo_test_user")
    iam.attach_user_policy(UserName="dynamo_test_user",
                           PolicyArn="arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess")
    iam.create_access_key(UserName="dynamo_test_user")
    return key["Arn"], "Orders"


def test_the_two_locks_on_a_foreign_moto_server(moto_server):
    with Lab(target="emulator", endpoint_url=moto_server, quiet=True) as lab:
        assert lab._foreign and lab._server is None  # something listens there: kmslab does not serve
        assert lab.endpoint == moto_server
        key_arn, table = _world(lab.session)
        user = lab.session_for("dynamo_test_user")
        dynamodb = user.client("dynamodb")
        assert dynamodb.meta.endpoint_url == moto_server

        # lock 1 open (DynamoDB permission), lock 2 shut (the key policy delegates, no IAM allow on the key)
        description = dynamodb.describe_table(TableName=table)["Table"]
        assert description["SSEDescription"]["KMSMasterKeyArn"] == key_arn
        with pytest.raises(ClientError) as excinfo:
            dynamodb.scan(TableName=table)
        error = excinfo.value.response["Error"]
        assert error["Code"] == "AccessDeniedException"
        assert error["Message"].startswith("KMS key access denied error: com.amazonaws.services.kms.model.")
        explanation = lab.why()
        assert explanation.call == "dynamodb:Scan" and not explanation.allowed
        assert [c.passed for c in explanation.checks] == [True, False]
        assert "kms:Decrypt" in str(explanation)
        assert lab.trail.filter(event="Decrypt", denied=True)[-1]["userIdentity"]["invokedBy"] == "dynamodb.amazonaws.com"

        # DynamoDB made its grant on the key when the table was created, through the emulator's API
        grants = lab.session.client("kms").list_grants(KeyId=key_arn)["Grants"]
        assert [g["GranteePrincipal"] for g in grants] == ["dynamodb.us-east-1.amazonaws.com"]

        # an IAM allow on the key, only through DynamoDB
        lab.session.client("iam").put_user_policy(
            UserName="dynamo_test_user", PolicyName="KeyViaDynamoDB", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn,
                    "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}}]}))
        assert dynamodb.scan(TableName=table)["Count"] == 0
        ciphertext = lab.session.client("kms").encrypt(KeyId=key_arn, Plaintext=b"x")["CiphertextBlob"]
        with pytest.raises(ClientError) as excinfo:
            user.client("kms").decrypt(CiphertextBlob=ciphertext)
        assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"
        assert lab.why().call == "kms:Decrypt"
        assert lab.explain_call("dynamo_test_user", "dynamodb:Scan", table).allowed

        # the lab clock still drives the table-key cache and DynamoDB noticing a disabled key
        lab.session.client("kms").disable_key(KeyId=key_arn)
        assert dynamodb.scan(TableName=table)["Count"] == 0  # the cached table key
        lab.advance(minutes=16)
        with pytest.raises(ClientError) as excinfo:
            dynamodb.scan(TableName=table)
        assert excinfo.value.response["Error"]["Code"] == "ValidationException"
        status = dynamodb.describe_table(TableName=table)["Table"]["TableStatus"]
        assert status == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"

        # deletion windows follow the emulator's clock: the lab clock ends none
        kms = lab.session.client("kms")
        kms.enable_key(KeyId=key_arn)
        answer = kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7)
        assert answer["KeyState"] == "PendingDeletion" and answer["KeyId"] == key_arn
        lab.advance(days=8)
        assert kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "PendingDeletion"

        # the request never reached moto when refused: the trail says who asked, the emulator nothing changed
        assert boto3.client("dynamodb").describe_table(TableName=table)["Table"]["TableName"] == table


def test_unknown_credentials_and_other_hosts(moto_server):
    with Lab(target="emulator", endpoint_url=moto_server, quiet=True) as lab:
        client = lab.session.client("kms")
        unknown = boto3.client("kms", aws_access_key_id="AKIAUNKNOWN0000000000", aws_secret_access_key="x",
                               region_name="us-east-1")
        assert unknown.meta.endpoint_url == moto_server
        with pytest.raises(ClientError) as excinfo:
            unknown.list_keys()
        assert excinfo.value.response["Error"]["Code"] == "UnrecognizedClientException"
        # the admin credential that created lab-admin is not a lab principal either
        root = boto3.client("dynamodb", aws_access_key_id="test", aws_secret_access_key="test",
                            region_name="us-east-1")
        with pytest.raises(ClientError) as excinfo:
            root.list_tables()
        assert excinfo.value.response["Error"]["Code"] == "UnrecognizedClientException"
        assert client.list_keys()["Keys"] == []
        # nothing goes anywhere but the emulator
        elsewhere = boto3.client("kms", endpoint_url="https://kms.us-east-1.amazonaws.com")
        with pytest.raises(ClientError) as excinfo:
            elsewhere.list_keys()
        assert excinfo.value.response["Error"]["Code"] == "ForeignEmulatorLab"
        with pytest.raises(LabError, match="past kmslab's enforcement"):
            lab.terraform(ROOT / "terraform", engine="terraform")
    assert "AWS_ENDPOINT_URL" not in os.environ or os.environ["AWS_ENDPOINT_URL"] != moto_server


def test_the_bundled_terraform_on_a_foreign_emulator(moto_server):
    with Lab(target="emulator", endpoint_url=moto_server, quiet=True) as lab:
        outputs = lab.terraform(ROOT / "terraform").apply()
        user = lab.session_for("dynamo_test_user").client("dynamodb")
        with pytest.raises(ClientError) as excinfo:
            user.scan(TableName=outputs["dynamodb_table_name"])
        assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"
        assert user.describe_table(TableName=outputs["dynamodb_table_name"])["Table"]["TableStatus"] == "ACTIVE"
        assert boto3.client("dynamodb").scan(TableName=outputs["dynamodb_table_name"])["Count"] == 0


def test_serve_false_on_a_free_port_says_it_is_unreachable():
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LabError, match="foreign emulator"):
        Lab(target="emulator", endpoint_url=f"http://127.0.0.1:{port}", serve=False, quiet=True)

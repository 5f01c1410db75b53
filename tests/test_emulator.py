"""The emulator target: the lab served over HTTP on 127.0.0.1, with the two locks still enforced."""

from __future__ import annotations

import socket
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from kmslab import Lab, LabError

ROOT = Path(__file__).resolve().parents[1]


def test_emulator_enforces_the_locks_over_http():
    with Lab(target="emulator", quiet=True) as lab:
        assert lab.endpoint.startswith("http://127.0.0.1:")
        outputs = lab.terraform(ROOT / "terraform").apply()
        user = lab.session_for("dynamo_test_user").client("dynamodb")
        assert user.meta.endpoint_url == lab.endpoint  # really over HTTP, not in-process
        with pytest.raises(ClientError) as excinfo:
            user.scan(TableName=outputs["dynamodb_table_name"])
        assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert user.describe_table(TableName=outputs["dynamodb_table_name"])["Table"]["TableStatus"] == "ACTIVE"
        # a plain client with no endpoint argument reaches the emulator as lab-admin
        assert boto3.client("dynamodb").scan(TableName=outputs["dynamodb_table_name"])["Count"] == 0
        assert lab.why().call == "dynamodb:Scan"
        assert lab.trail.filter(event="Decrypt", denied=True)[-1]["userIdentity"]["invokedBy"] == "dynamodb.amazonaws.com"


def test_emulator_ids_match_the_offline_lab():
    with Lab(quiet=True) as lab:
        offline = lab.terraform(ROOT / "terraform").apply()
    with Lab(target="emulator", quiet=True) as lab:
        served = lab.terraform(ROOT / "terraform").apply()
    assert {k: v for k, v in offline.items() if "secret" not in k} == \
        {k: v for k, v in served.items() if "secret" not in k}


def test_unknown_credentials_over_http():
    with Lab(target="emulator", quiet=True) as lab:
        client = boto3.client("kms", endpoint_url=lab.endpoint, aws_access_key_id="AKIAUNKNOWN0000000000",
                              aws_secret_access_key="x", region_name="us-east-1")
        with pytest.raises(ClientError) as excinfo:
            client.list_keys()
        assert excinfo.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_emulator_on_a_given_loopback_port_and_refusal_elsewhere():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Lab(target="emulator", endpoint_url=f"http://127.0.0.1:{port}", quiet=True) as lab:
        assert lab.endpoint == f"http://127.0.0.1:{port}"
    with pytest.raises(LabError, match="not a loopback address"):
        Lab(target="emulator", endpoint_url="http://10.1.2.3:4566")


def test_offline_lab_serves_an_endpoint_on_demand():
    with Lab(quiet=True) as lab:
        kms = boto3.client("kms", endpoint_url=lab.endpoint)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        # the same account, whichever door the call came through
        assert lab.session.client("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyId"] == key

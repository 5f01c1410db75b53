"""The real-AWS target: opt-in guards, no simulated enforcement, tag-based clean-up after lost state.

A moto server on 127.0.0.1 stands in for AWS: the lab takes exactly the code path it takes against AWS
(the learner's own credentials, the endpoint from the environment), and kmslab must not add any denial.
"""

from __future__ import annotations

import pytest

from kmslab import Lab, LabError
from kmslab import __main__ as cli
from kmslab._aws import TAG_KEY, delete_lab_resources, find_lab_resources


@pytest.fixture
def fake_aws(monkeypatch):
    """A plain moto server (no kmslab in front of it) and an environment that points at it."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    from moto.core.base_backend import BackendDict
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    BackendDict.reset()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    yield
    server.stop()
    BackendDict.reset()


@pytest.fixture
def opted_in(monkeypatch, fake_aws):
    monkeypatch.setenv("KMSLAB_ALLOW_REAL_AWS", "1")
    monkeypatch.setenv("KMSLAB_AWS_ACCOUNTS", "123456789012")


def test_refused_without_opt_in(fake_aws, monkeypatch):
    monkeypatch.delenv("KMSLAB_ALLOW_REAL_AWS", raising=False)
    with pytest.raises(LabError) as excinfo:
        Lab(target="aws")
    message = str(excinfo.value)
    assert "KMSLAB_ALLOW_REAL_AWS=1" in message and "KMSLAB_AWS_ACCOUNTS" in message
    assert "1 USD a month" in message


def test_refused_for_an_account_not_allowed(fake_aws, monkeypatch):
    monkeypatch.setenv("KMSLAB_ALLOW_REAL_AWS", "1")
    monkeypatch.setenv("KMSLAB_AWS_ACCOUNTS", "111122223333")
    with pytest.raises(LabError, match="account 123456789012 is not in KMSLAB_AWS_ACCOUNTS"):
        Lab(target="aws")


def test_banner_names_account_region_and_caller_and_hides_secrets(opted_in, capsys):
    with Lab(target="aws") as lab:
        assert lab.account_id == "123456789012"
    printed = capsys.readouterr().out
    assert "REAL AWS: account 123456789012, region us-east-1, as arn:aws:sts::123456789012:user/moto" in printed
    assert "kmslab:lab=" in printed
    assert "testing" not in printed  # the secret access key is never shown


def _build(session, lab_id: str) -> None:
    """What a learner's lab makes in the account, tagged as kmslab tags it."""
    tags = [{"Key": TAG_KEY, "Value": lab_id}]
    kms = session.client("kms")
    key = kms.create_key(Tags=[{"TagKey": TAG_KEY, "TagValue": lab_id}])["KeyMetadata"]
    ddb = session.client("dynamodb")
    ddb.create_table(TableName=f"{lab_id}-my-encrypted-table", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], Tags=tags,
                     SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]})
    ddb.put_item(TableName=f"{lab_id}-my-encrypted-table", Item={"id": {"S": "42"}})
    iam = session.client("iam")
    iam.create_user(UserName=f"{lab_id}-dynamo_test_user", Tags=tags)
    iam.attach_user_policy(UserName=f"{lab_id}-dynamo_test_user",
                           PolicyArn="arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess")
    iam.create_access_key(UserName=f"{lab_id}-dynamo_test_user")


def test_no_simulated_denial_is_injected(opted_in):
    """In the aws target AWS decides: kmslab's enforcement point must not stand in the way."""
    with Lab(target="aws") as lab:
        _build(lab.session, lab.lab_id)
        iam = lab.session.client("iam")
        key = iam.create_access_key(UserName=f"{lab.lab_id}-dynamo_test_user")["AccessKey"]
        import boto3
        user = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                             region_name="us-east-1")
        # moto does not enforce KMS key policies; a simulated denial here would come from kmslab
        assert user.client("dynamodb").scan(TableName=f"{lab.lab_id}-my-encrypted-table")["Count"] == 1
        assert len(lab.trail) == 0
        with pytest.raises(LabError, match="simulated target"):
            lab.advance(minutes=5)


def test_cleanup_after_lost_state_finds_everything_by_tag(opted_in, capsys):
    with Lab(target="aws") as lab:
        _build(lab.session, "alpha-1")
        _build(lab.session, "beta-2")
    # the lab and its state are gone; only the tags remain
    assert cli.main(["cleanup", "--dry-run", "--lab-id", "alpha-1"]) == 0
    listed = capsys.readouterr().out
    assert "alpha-1-my-encrypted-table" in listed and "beta-2" not in listed
    assert "dry run: nothing was changed." in listed
    with Lab(target="aws") as lab:
        assert len(find_lab_resources(lab.session, "alpha-1")) == 3
    assert cli.main(["cleanup", "--lab-id", "alpha-1"]) == 0
    with Lab(target="aws") as lab:
        assert find_lab_resources(lab.session, "alpha-1") == []
        remaining = {r.name for r in find_lab_resources(lab.session, None)}
        assert "beta-2-my-encrypted-table" in remaining
        keys = lab.session.client("kms").list_keys()["Keys"]
        states = sorted(lab.session.client("kms").describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"]
                        for k in keys)
        assert states == ["Enabled", "PendingDeletion"]
        for line in delete_lab_resources(lab.session, find_lab_resources(lab.session, None)):
            assert line.startswith(("deleted", "scheduled"))


def test_bundled_terraform_in_aws_is_tagged_and_prefixed_then_cleaned_by_tag(opted_in, monkeypatch):
    from pathlib import Path
    monkeypatch.setenv("KMSLAB_LAB_ID", "learner7-abc123")
    terraform = Path(__file__).resolve().parents[1] / "terraform"
    with Lab(target="aws", quiet=True) as lab:
        outputs = lab.terraform(terraform).apply()
        assert outputs["dynamodb_table_name"] == "learner7-abc123-my-encrypted-table"
        assert outputs["test_user_name"] == "learner7-abc123-dynamo_test_user"
        kms = lab.session.client("kms")
        tags = kms.list_resource_tags(KeyId=outputs["kms_key_id"])["Tags"]
        assert {"TagKey": TAG_KEY, "TagValue": "learner7-abc123"} in tags
    # local state is lost with the lab; the tags are enough to find and remove everything
    with Lab(target="aws", quiet=True) as lab:
        found = find_lab_resources(lab.session, "learner7-abc123")
        assert sorted(r.kind for r in found) == ["dynamodb table", "iam user", "kms key"]
        list(delete_lab_resources(lab.session, found))
        assert find_lab_resources(lab.session, "learner7-abc123") == []
        state = lab.session.client("kms").describe_key(KeyId=outputs["kms_key_id"])["KeyMetadata"]["KeyState"]
        assert state == "PendingDeletion"

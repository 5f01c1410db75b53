"""The Lab: one emulated account, deterministic, owning its session, leaving the process as it found it."""

from __future__ import annotations

import os

import boto3
import pytest

from kmslab import Lab, LabError


def test_lab_identity_is_lab_admin():
    with Lab() as lab:
        assert (lab.account_id, lab.region) == ("123456789012", "us-east-1")
        identity = lab.session.client("sts").get_caller_identity()
        assert identity["Arn"] == "arn:aws:iam::123456789012:user/lab-admin"
        # a plain client with no explicit credentials acts as lab-admin too
        assert boto3.client("sts").get_caller_identity()["Arn"] == identity["Arn"]
        policies = lab.session.client("iam").list_attached_user_policies(UserName="lab-admin")
        assert [p["PolicyName"] for p in policies["AttachedPolicies"]] == ["AdministratorAccess"]


def test_client_with_another_users_keys_acts_as_that_user():
    with Lab() as lab:
        iam = lab.session.client("iam")
        iam.create_user(UserName="someone")
        key = iam.create_access_key(UserName="someone")["AccessKey"]
        client = boto3.client("sts", aws_access_key_id=key["AccessKeyId"],
                              aws_secret_access_key=key["SecretAccessKey"])
        assert client.get_caller_identity()["Arn"].endswith(":user/someone")
        assert lab.session_for("someone").client("sts").get_caller_identity()["Arn"].endswith(":user/someone")


def test_same_seed_same_ids_and_other_seed_other_ids():
    def first_key(seed):
        with Lab(seed=seed) as lab:
            return lab.session.client("kms").create_key()["KeyMetadata"]["KeyId"]
    assert first_key(0) == first_key(0)
    assert first_key(0) != first_key(1)


def test_close_restores_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "someone-elses")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    lab = Lab()
    assert "AWS_PROFILE" not in os.environ
    lab.close()
    assert os.environ["AWS_PROFILE"] == "someone-elses"
    assert "AWS_ACCESS_KEY_ID" not in os.environ
    lab.close()  # closing twice is harmless


def test_closed_lab_refuses_work():
    lab = Lab()
    lab.close()
    with pytest.raises(LabError, match="closed"):
        lab.advance(seconds=1)
    with pytest.raises(LabError, match="closed"):
        lab.session_for("lab-admin")


def test_opening_a_new_lab_closes_the_previous_one():
    first = Lab()
    second = Lab()
    try:
        assert first._closed and not second._closed
        assert boto3.client("sts").get_caller_identity()["Account"] == "123456789012"
    finally:
        second.close()


def test_unknown_target_is_refused():
    with pytest.raises(LabError, match="unknown target 'moon'"):
        Lab(target="moon")


def test_clock_starts_fixed_and_only_moves_forward():
    with Lab() as lab:
        start = lab.now
        lab.advance(minutes=5)
        assert (lab.now - start).total_seconds() == 300
        with pytest.raises(ValueError):
            lab.advance(seconds=-1)
    with Lab() as lab:
        assert lab.now == start


def test_session_for_unknown_user():
    with Lab() as lab, pytest.raises(LabError, match="no IAM user named 'ghost'"):
        lab.session_for("ghost")


def test_lab_client_is_made_once_and_acts_as_lab_admin():
    with Lab() as lab:
        kms = lab.client("kms")
        assert lab.client("kms") is kms
        assert lab.client("sts").get_caller_identity()["Arn"].endswith(":user/lab-admin")
    with pytest.raises(LabError, match="closed"):
        lab.client("kms")


def test_aws_managed_policies_are_the_ones_moto_ships():
    """kmslab builds moto's AWS managed policies from fields read once per process: the same policies,
    documents, versions and dates as moto's own loader gives, a new object for each account."""
    import json

    from moto.iam.aws_managed_policies import aws_managed_policies_data
    with Lab() as lab:
        iam = lab._directory.iam
        shipped = json.loads(aws_managed_policies_data)
        policies = {p.name: p for p in iam.aws_managed_policies}
        assert set(policies) == set(shipped)
        for name in ("AdministratorAccess", "AmazonDynamoDBFullAccess"):
            version = policies[name].versions[0]
            assert json.loads(version.document) == shipped[name]["Document"]
            assert policies[name].default_version_id == shipped[name]["DefaultVersionId"]
        partner = lab.add_account()
        theirs = next(p for p in partner._directory.iam.aws_managed_policies if p.name == "AdministratorAccess")
        assert theirs is not policies["AdministratorAccess"]

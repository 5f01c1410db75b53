"""Shared pieces for the tests of kmslab's embedded Terraform applier (``tests/test_terraform_*.py``).

Import the fixtures into a test module with ``from _tf_helpers import aws_session, ...``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

BUNDLED = Path(__file__).resolve().parents[1] / "terraform"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tf"


@pytest.fixture(scope="module")
def _moto_for_module():
    """One moto per test module: loading the AWS managed policies costs moto about a second per start."""
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # read when moto first builds its IAM backend
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def aws_session(_moto_for_module):
    """A boto3 session on an empty moto (KMS, DynamoDB and IAM's users, roles and policies emptied), with
    seeded IDs."""
    import boto3
    from moto.moto_api._internal import mock_random

    session = boto3.Session(region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing")
    _empty(session)
    mock_random.seed(0)
    return session


def _empty(session) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.kms.models import kms_backends

    for backends in (kms_backends, dynamodb_backends):
        backends[DEFAULT_ACCOUNT_ID][session.region_name].reset()
    iam = session.client("iam")
    for user in iam.list_users()["Users"]:
        name = user["UserName"]
        for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        for policy in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
            iam.detach_user_policy(UserName=name, PolicyArn=policy["PolicyArn"])
        for policy_name in iam.list_user_policies(UserName=name)["PolicyNames"]:
            iam.delete_user_policy(UserName=name, PolicyName=policy_name)
        iam.delete_user(UserName=name)
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        iam.delete_role(RoleName=name)
    for policy in iam.list_policies(Scope="Local")["Policies"]:
        for version in iam.list_policy_versions(PolicyArn=policy["Arn"])["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=policy["Arn"], VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=policy["Arn"])


class Lines:
    """Collects what a Stack prints (its ``out=``)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def clear(self) -> None:
        self.lines.clear()


def write_config(directory: Path, text: str, name: str = "main.tf") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")
    return directory


def nothing_created(session) -> bool:
    """True when moto holds no KMS key, DynamoDB table or IAM user."""
    keys = session.client("kms").list_keys()["Keys"]
    tables = session.client("dynamodb").list_tables()["TableNames"]
    users = session.client("iam").list_users()["Users"]
    return not keys and not tables and not users

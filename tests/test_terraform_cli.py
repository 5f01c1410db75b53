"""The real terraform CLI against the lab: same resources as the embedded applier, same locks.

These tests run where the terraform CLI and a local mirror of the AWS provider exist (this project's
machine image has both); elsewhere they skip and say why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from kmslab import Lab, LabError
from kmslab._tfcli import terraform_available

ROOT = Path(__file__).resolve().parents[1]
AVAILABLE, WHY_NOT = terraform_available()
needs_cli = pytest.mark.skipif(not AVAILABLE, reason=f"real-terraform check skipped: {WHY_NOT}")


def resources(lab: Lab, outputs: dict) -> dict:
    """What exists in the lab, in a form that does not depend on generated IDs."""
    kms = lab.session.client("kms")
    ddb = lab.session.client("dynamodb")
    iam = lab.session.client("iam")
    key = kms.describe_key(KeyId=outputs["kms_key_id"])["KeyMetadata"]
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    table = ddb.describe_table(TableName=outputs["dynamodb_table_name"])["Table"]
    user = outputs["test_user_name"]
    return {
        "key": {k: key.get(k) for k in ("Description", "KeyUsage", "KeySpec", "KeyState", "KeyManager",
                                        "Enabled")},
        # moto echoes MultiRegion only when the request set it; AWS always answers it
        "multi_region": bool(key.get("MultiRegion")),
        "key_policy_statements": [{k: v for k, v in s.items() if k != "Sid"} for s in policy["Statement"]],
        "rotation": kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"],
        "table": {
            "billing": table["BillingModeSummary"]["BillingMode"],
            "keys": table["KeySchema"],
            "attributes": table["AttributeDefinitions"],
            "sse": (table["SSEDescription"]["SSEType"], table["SSEDescription"]["KMSMasterKeyArn"] == key["Arn"]),
        },
        "user_policies": sorted(p["PolicyArn"] for p in
                                iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]),
        "access_keys": len(iam.list_access_keys(UserName=user)["AccessKeyMetadata"]),
        "outputs": sorted(outputs),
        "grants": [(g["GranteePrincipal"], sorted(g["Operations"]))
                   for g in kms.list_grants(KeyId=key["KeyId"])["Grants"]],
    }


@needs_cli
def test_real_cli_and_embedded_applier_build_the_same_world():
    with Lab(quiet=True) as lab:
        embedded = resources(lab, lab.terraform(ROOT / "terraform").apply())
    with Lab(quiet=True) as lab:
        stack = lab.terraform(ROOT / "terraform", engine="terraform")
        try:
            outputs = stack.apply()
            real = resources(lab, outputs)
            # the locks hold for what the CLI built, too
            user = lab.session_for(outputs["test_user_name"]).client("dynamodb")
            with pytest.raises(ClientError) as excinfo:
                user.scan(TableName=outputs["dynamodb_table_name"])
            assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"
            assert "No changes." in stack.plan().summary
            stack.destroy()
            key = lab.session.client("kms").describe_key(KeyId=outputs["kms_key_id"])["KeyMetadata"]
            assert key["KeyState"] == "PendingDeletion"
        finally:
            stack.close()
    assert real == embedded


def test_missing_cli_gets_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with Lab(quiet=True) as lab, pytest.raises(LabError, match="terraform CLI is not installed"):
        lab.terraform(ROOT / "terraform", engine="terraform")


def test_unknown_engine_is_refused():
    with Lab(quiet=True) as lab, pytest.raises(LabError, match="unknown engine 'pulumi'"):
        lab.terraform(ROOT / "terraform", engine="pulumi")


def test_a_cli_stack_of_a_closed_lab_runs_nothing(tmp_path, monkeypatch):
    """After lab.close() the CLI is never started (so nothing reaches the closed lab's endpoint)."""
    import shutil as shutil_module
    import subprocess as subprocess_module

    from kmslab import LabError
    from kmslab._tfcli import TerraformCLIStack

    (tmp_path / "main.tf").write_text("")
    monkeypatch.setattr(shutil_module, "which", lambda name: "/bin/false")

    def never(*args, **kwargs):
        raise AssertionError("the terraform CLI was started")

    monkeypatch.setattr(subprocess_module, "run", never)
    monkeypatch.setattr(subprocess_module, "Popen", never)

    def closed():
        raise LabError("this lab is closed; open a new one with Lab()")

    stack = TerraformCLIStack(tmp_path, endpoint="http://127.0.0.1:9", region="us-east-1", access_key="a",
                              secret_key="b", out=lambda line: None, workdir=tmp_path / "work", guard=closed)
    with pytest.raises(LabError, match="closed"):
        stack.plan()


@pytest.mark.parametrize("text, shared", [
    ('resource "aws_iam_user" "u" {\n  name = "u"\n}\n', True),
    ('terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
     '      version = "~> 5.0"\n    }\n  }\n}\n', True),
    ('terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
     '      version = "~> 4.0"\n    }\n  }\n}\n', False),  # another version: init says what it says
    ('module "m" {\n  source = "./m"\n}\n', False),
    ('resource "random_id" "r" {\n  byte_length = 4\n}\n', False),  # another provider to install
    ('terraform {\n  backend "s3" {}\n}\n', False),
    ('resource "aws_iam_user" "u" {\n  name = \n}\n', False),  # a file init would refuse itself
])
def test_the_shared_init_serves_only_what_init_would_do_the_same_for(tmp_path, text, shared):
    from kmslab._tfcli import _needs_only_the_aws_provider, find_provider_mirror
    if find_provider_mirror() is None:
        pytest.skip("no local mirror of the AWS provider: every configuration runs its own init")
    (tmp_path / "main.tf").write_text(text)
    assert _needs_only_the_aws_provider(tmp_path) is shared


@needs_cli
def test_a_configuration_of_the_aws_provider_alone_reuses_the_one_init(tmp_path):
    """No `terraform init` of its own: the lock file and provider folder the shared init wrote, and the
    real CLI plans with them."""
    from kmslab._tfcli import shared_init
    (tmp_path / "main.tf").write_text('resource "aws_iam_user" "u" {\n  name = "shared-init"\n}\n')
    with Lab(quiet=True) as lab:
        stack = lab.terraform(tmp_path, engine="terraform")
        try:
            assert stack.plan().summary.startswith("Plan: 1 to add")
            providers = stack.workdir / ".terraform" / "providers"
            shared = shared_init(stack.binary)
            assert shared is not None and providers.is_symlink()
            assert providers.resolve() == (shared / ".terraform" / "providers").resolve()
            assert (stack.workdir / ".terraform.lock.hcl").read_text() == \
                (shared / ".terraform.lock.hcl").read_text()
        finally:
            stack.close()


@needs_cli
def test_the_warm_provider_serves_the_labs_commands_and_can_be_turned_off(tmp_path, monkeypatch):
    """One provider process in Terraform's reattach mode: its TF_REATTACH_PROVIDERS names the AWS provider
    and a live process; a configuration with a provider alias (two provider configurations) never uses it;
    KMSLAB_TF_WARM_PROVIDER=0 turns it off."""
    import os

    from kmslab._tfcli import warm_provider
    reattach = warm_provider()
    assert reattach is not None
    entry = json.loads(reattach)["registry.terraform.io/hashicorp/aws"]
    os.kill(entry["Pid"], 0)  # alive (raises if not)
    (tmp_path / "main.tf").write_text('resource "aws_iam_user" "u" {\n  name = "warm"\n}\n')
    with Lab(quiet=True) as lab:
        stack = lab.terraform(tmp_path, engine="terraform")
        try:
            assert stack._warm and stack.plan().summary.startswith("Plan: 1 to add")
        finally:
            stack.close()
    aliased = tmp_path / "aliased"
    aliased.mkdir()
    (aliased / "main.tf").write_text('provider "aws" {\n  alias = "partner"\n}\n')
    with Lab(quiet=True) as lab:
        assert not lab.terraform(aliased, engine="terraform")._warm
    monkeypatch.setenv("KMSLAB_TF_WARM_PROVIDER", "0")
    assert warm_provider() is None

"""The differential test of issue 16: both engines on configurations written in the style of the AWS
provider's acceptance tests (``tests/fixtures/tf/differential/``).

Each folder's name says what the real provider does with it: ``accepted_*`` (both engines apply it
and must build the same world, read back through boto3, and plan no change on the second step),
``invalid_*`` (the real CLI refuses it at plan; kmslab refuses it as invalid, in Terraform's words)
and ``not_modelled_*`` (the real CLI plans it; kmslab refuses it as not modelled, naming
``engine="terraform"``). The embedded half always runs; the CLI half needs the terraform CLI and a
local provider mirror and skips with the reason where they are absent.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from kmslab import ConfigurationError, Lab, UnsupportedError, ValidationError
from kmslab._terraform import Stack
from kmslab._tfcli import terraform_available

SET = Path(__file__).resolve().parent / "fixtures" / "tf" / "differential"
CASES = sorted(p.name for p in SET.iterdir() if p.is_dir())
ACCEPTED = [c for c in CASES if c.startswith("accepted_")]
INVALID = [c for c in CASES if c.startswith("invalid_")]
NOT_MODELLED = [c for c in CASES if c.startswith("not_modelled_")]
AVAILABLE, WHY_NOT = terraform_available()
needs_cli = pytest.mark.skipif(not AVAILABLE, reason=f"real-terraform check skipped: {WHY_NOT}")
GENERATED = re.compile(r"\d{18}[0-9a-f]{8}$")  # the provider's id.PrefixedUniqueId suffix


def test_the_set_has_each_kind():
    assert CASES == sorted(ACCEPTED + INVALID + NOT_MODELLED)
    assert len(ACCEPTED) >= 5 and len(INVALID) >= 3 and len(NOT_MODELLED) >= 3


def _merged(tmp_path: Path, names: list[str]) -> Path:
    """Independent configurations in one folder (their resource names do not collide)."""
    folder = tmp_path / "merged"
    folder.mkdir()
    for name in names:
        shutil.copy(SET / name / "main.tf", folder / f"{name}.tf")
    return folder


def _name(text: str) -> str:
    return GENERATED.sub("<generated>", text)


def world(session) -> dict:
    """Everything the set can create, as boto3 reads it back, without generated IDs."""
    kms, ddb, iam = session.client("kms"), session.client("dynamodb"), session.client("iam")
    keys = {}
    aliases = kms.list_aliases()["Aliases"]
    for entry in kms.list_keys()["Keys"]:
        key = kms.describe_key(KeyId=entry["KeyId"])["KeyMetadata"]
        names = [a["AliasName"] for a in aliases if a.get("TargetKeyId") == key["KeyId"]]
        if key["KeyState"] == "PendingDeletion" or key["KeyManager"] != "CUSTOMER" or \
                any(n.startswith("alias/aws/") for n in names):
            continue  # the provider's read of a table asks for alias/aws/dynamodb, which makes moto create it
        keys[key["Description"]] = {
            "usage": key["KeyUsage"], "spec": key["KeySpec"], "enabled": key["Enabled"],
            "rotation": kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"],
            "aliases": sorted(_name(a["AliasName"]) for a in aliases if a.get("TargetKeyId") == key["KeyId"]),
            "tags": sorted((t["TagKey"], t["TagValue"]) for t in kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]),
        }
    by_arn = {kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["Arn"]: d for k, d in
              ((k, kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["Description"]) for k in kms.list_keys()["Keys"])}
    tables = {}
    for name in ddb.list_tables()["TableNames"]:
        table = ddb.describe_table(TableName=name)["Table"]
        tables[name] = {
            "keys": table["KeySchema"],
            "attributes": sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
            "billing": table.get("BillingModeSummary", {}).get("BillingMode"),
            "stream": table.get("StreamSpecification"),
            "gsi": sorted((i["IndexName"], json.dumps(i["KeySchema"]), i["Projection"]["ProjectionType"])
                          for i in table.get("GlobalSecondaryIndexes", [])),
            "sse_key": by_arn.get(table.get("SSEDescription", {}).get("KMSMasterKeyArn")),
            "ttl": ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"],
            "tags": sorted((t["Key"], t["Value"]) for t in ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]),
        }
    users = {}
    for user in iam.list_users()["Users"]:
        name = user["UserName"]
        inline = {}
        for policy in iam.list_user_policies(UserName=name)["PolicyNames"]:
            document = iam.get_user_policy(UserName=name, PolicyName=policy)["PolicyDocument"]
            inline[_name(policy)] = document if isinstance(document, dict) else json.loads(document)
        users[name] = {
            "path": user["Path"],
            "tags": sorted((t["Key"], t["Value"]) for t in iam.list_user_tags(UserName=name)["Tags"]),
            "attached": sorted(p["PolicyName"] for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]),
            "inline": inline,
            "access_keys": len(iam.list_access_keys(UserName=name)["AccessKeyMetadata"]),
        }
    policies = {}
    for policy in iam.list_policies(Scope="Local")["Policies"]:
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        document = version["Document"]
        policies[policy["PolicyName"]] = document if isinstance(document, dict) else json.loads(document)
    roles = {}
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        role = iam.get_role(RoleName=name)["Role"]
        trust = role["AssumeRolePolicyDocument"]
        inline = {}
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
            inline[_name(policy)] = document if isinstance(document, dict) else json.loads(document)
        roles[_name(name)] = {
            "path": role["Path"], "description": role.get("Description"),
            "max_session": role.get("MaxSessionDuration"),
            "trust": trust if isinstance(trust, dict) else json.loads(trust),
            "boundary": role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"),
            "tags": sorted((t["Key"], t["Value"]) for t in iam.list_role_tags(RoleName=name)["Tags"]),
            "attached": sorted(p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]),
            "inline": inline,
        }
    return {"keys": keys, "tables": tables, "users": users, "policies": policies, "roles": roles}


def _counts() -> dict[str, int]:
    """The embedded engine's verdict on every configuration of the set."""
    counts = {"accepted": 0, "refused_invalid": 0, "refused_not_modelled": 0}
    for name in CASES:
        try:
            Stack(SET / name, session=None, out=lambda line: None)
        except UnsupportedError as error:
            assert 'not modelled by kmslab\'s applier (use engine="terraform")' in error.message, name
            counts["refused_not_modelled"] += 1
        except ValidationError:
            counts["refused_invalid"] += 1
        else:
            counts["accepted"] += 1
    return counts


def test_embedded_verdicts_match_what_the_real_provider_does():
    """Every accepted_* folder is accepted, every invalid_* refused as invalid, every not_modelled_*
    refused as not modelled (the real CLI's side is checked below where it is present)."""
    for name in ACCEPTED:
        Stack(SET / name, session=None, out=lambda line: None)
    for name in INVALID:
        with pytest.raises(ValidationError):
            Stack(SET / name, session=None, out=lambda line: None)
    for name in NOT_MODELLED:
        with pytest.raises(UnsupportedError, match=re.escape('(use engine="terraform")')):
            Stack(SET / name, session=None, out=lambda line: None)
    assert _counts() == {"accepted": len(ACCEPTED), "refused_invalid": len(INVALID),
                         "refused_not_modelled": len(NOT_MODELLED)}


@needs_cli
def test_both_engines_build_the_same_world_and_plan_nothing_the_second_time(tmp_path):
    folder = _merged(tmp_path, ACCEPTED)
    with Lab(quiet=True) as lab:
        outputs = lab.terraform(folder).apply()
        embedded = world(lab.session)
        embedded_second = lab.terraform(folder).plan().summary
    with Lab(quiet=True) as lab:
        stack = lab.terraform(folder, engine="terraform")
        try:
            real_outputs = stack.apply()
            real = world(lab.session)
            real_second = stack.plan().summary
        finally:
            stack.close()
    assert real_outputs == outputs
    assert real == embedded
    assert embedded_second == "No changes. Your infrastructure matches the configuration."
    assert real_second.startswith("No changes.")


@needs_cli
def test_the_real_cli_refuses_the_invalid_and_plans_the_not_modelled(tmp_path):
    with Lab(quiet=True) as lab:
        for name in INVALID:
            stack = lab.terraform(SET / name, engine="terraform")
            try:
                with pytest.raises(ConfigurationError):
                    stack.plan()
            finally:
                stack.close()
        stack = lab.terraform(_merged(tmp_path, NOT_MODELLED), engine="terraform")
        try:
            assert stack.plan().summary.startswith("Plan: ")
        finally:
            stack.close()

"""Real AWS: the opt-in, the guards, and clean-up by tag.

Nothing here runs unless a learner asks for ``Lab(target="aws")`` (or ``KMSLAB_TARGET=aws``) *and* has
opted in: ``KMSLAB_ALLOW_REAL_AWS=1`` and the account in ``KMSLAB_AWS_ACCOUNTS``. kmslab enforces nothing
there (AWS does); it tags every resource ``kmslab:lab=<lab id>`` and prefixes names with the lab id, so
that two learners in one account do not collide and :func:`delete_lab_resources` can find everything a
lab made even when local state is lost.

The opt-in is checked before the learner's credentials are sent anywhere (that ``KMSLAB_AWS_ACCOUNTS``
names *this* account needs STS's answer, so that part comes right after the first call). STS is asked with
short timeouts and two attempts, so an unreachable AWS is said within seconds; botocore never asks the EC2
instance metadata service for credentials unless ``KMSLAB_USE_INSTANCE_METADATA=1``.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ._errors import LabError
from ._terraform._resources import delete_user_with_dependents

TAG_KEY = "kmslab:lab"
OPT_IN = "KMSLAB_ALLOW_REAL_AWS"
ACCOUNTS = "KMSLAB_AWS_ACCOUNTS"
#: The deletion window kmslab uses when it cleans up a key (the shortest KMS allows).
CLEANUP_WINDOW_DAYS = 7

COSTS = ("A customer managed KMS key costs about 1 USD a month (prorated by the hour) plus 0.03 USD per "
         "10,000 requests; it keeps costing until its deletion window (7-30 days) ends. An on-demand DynamoDB "
         "table with one item costs a fraction of a cent.")


def opt_in_message(reason: str) -> str:
    return (f"{reason} Real AWS is opt-in because it costs money and touches a real account. {COSTS} "
            f"To opt in, use a sandbox account and set {OPT_IN}=1 and {ACCOUNTS}=<that account's ID> "
            "(comma-separated for several), then open Lab(target='aws') again.")


#: Set to 1 to let botocore ask the EC2 instance metadata service for credentials (never by default).
IMDS_OPT_IN = "KMSLAB_USE_INSTANCE_METADATA"


def _allowed_accounts() -> set[str]:
    return {a.strip() for a in os.environ.get(ACCOUNTS, "").split(",") if a.strip()}


def check_opt_in_before_any_request() -> None:
    """What can be checked before the learner's credentials are sent anywhere: the opt-in is set, and the
    allow-list names at least one account (whether it names *this* account needs STS's answer)."""
    if os.environ.get(OPT_IN) != "1":
        raise LabError(opt_in_message(f"{OPT_IN} is not set to 1 (nothing was sent to AWS)."))
    if not _allowed_accounts():
        raise LabError(opt_in_message(f"{ACCOUNTS} names no account (nothing was sent to AWS)."))


def check_opt_in(account_id: str) -> None:
    """Refuse unless the learner opted in for this very account."""
    if os.environ.get(OPT_IN) != "1":
        raise LabError(opt_in_message(f"{OPT_IN} is not set to 1."))
    allowed = _allowed_accounts()
    if account_id not in allowed:
        shown = ", ".join(sorted(allowed)) or "none"
        raise LabError(opt_in_message(f"account {account_id} is not in {ACCOUNTS} (allowed: {shown})."))


def new_lab_id(caller_arn: str) -> str:
    """A short lab ID: the caller's name and a random suffix, safe in every resource name."""
    name = re.sub(r"[^a-z0-9]", "", caller_arn.rsplit("/", 1)[-1].lower())[:12] or "lab"
    return f"{name}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class TaggedResource:
    kind: str  # "dynamodb table", "iam user", "iam policy", "kms key"
    name: str
    arn: str
    lab_id: str


def find_lab_resources(session: Any, lab_id: str | None) -> list[TaggedResource]:
    """Every resource tagged ``kmslab:lab`` (= ``lab_id`` when given), read from the account itself."""
    found = [*_tables(session), *_users(session), *_policies(session), *_keys(session)]
    return [r for r in found if lab_id is None or r.lab_id == lab_id]


def _tables(session: Any) -> Iterator[TaggedResource]:
    ddb = session.client("dynamodb")
    for page in ddb.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
            tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])}
            if TAG_KEY in tags:
                yield TaggedResource("dynamodb table", name, arn, tags[TAG_KEY])


def _users(session: Any) -> Iterator[TaggedResource]:
    iam = session.client("iam")
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user["UserName"]).get("Tags", [])}
            if TAG_KEY in tags:
                yield TaggedResource("iam user", user["UserName"], user["Arn"], tags[TAG_KEY])


def _policies(session: Any) -> Iterator[TaggedResource]:
    iam = session.client("iam")
    for page in iam.get_paginator("list_policies").paginate(Scope="Local"):
        for policy in page["Policies"]:
            tags = {t["Key"]: t["Value"] for t in iam.list_policy_tags(PolicyArn=policy["Arn"]).get("Tags", [])}
            if TAG_KEY in tags:
                yield TaggedResource("iam policy", policy["PolicyName"], policy["Arn"], tags[TAG_KEY])


def _keys(session: Any) -> Iterator[TaggedResource]:
    kms = session.client("kms")
    for page in kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if meta["KeyManager"] != "CUSTOMER" or meta["KeyState"] in ("PendingDeletion", "PendingReplicaDeletion"):
                continue
            tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])}
            if TAG_KEY in tags:
                yield TaggedResource("kms key", key["KeyId"], meta["Arn"], tags[TAG_KEY])


def delete_lab_resources(session: Any, resources: list[TaggedResource]) -> Iterator[str]:
    """Delete what :func:`find_lab_resources` found, tables first and keys last; yields a line per step."""
    order = {"dynamodb table": 0, "iam user": 1, "iam policy": 2, "kms key": 3}
    for resource in sorted(resources, key=lambda r: order[r.kind]):
        if resource.kind == "dynamodb table":
            ddb = session.client("dynamodb")
            ddb.update_table(TableName=resource.name, DeletionProtectionEnabled=False)
            ddb.delete_table(TableName=resource.name)
            yield f"deleted dynamodb table {resource.name}"
        elif resource.kind == "iam user":
            delete_user_with_dependents(session.client("iam"), resource.name)
            yield f"deleted iam user {resource.name} (its access keys and policies first)"
        elif resource.kind == "iam policy":
            _delete_policy(session.client("iam"), resource.arn)
            yield f"deleted iam policy {resource.name}"
        else:
            kms = session.client("kms")
            for alias in kms.list_aliases(KeyId=resource.name).get("Aliases", []):
                kms.delete_alias(AliasName=alias["AliasName"])
            kms.schedule_key_deletion(KeyId=resource.name, PendingWindowInDays=CLEANUP_WINDOW_DAYS)
            yield (f"scheduled kms key {resource.name} for deletion in {CLEANUP_WINDOW_DAYS} days (the shortest "
                   "window KMS allows; it can still be cancelled until then)")


def _delete_policy(iam: Any, arn: str) -> None:
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    for user in entities.get("PolicyUsers", []):
        iam.detach_user_policy(UserName=user["UserName"], PolicyArn=arn)
    for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not version["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    iam.delete_policy(PolicyArn=arn)

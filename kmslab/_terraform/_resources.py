"""The resource types the applier supports: one handler class per type, in :data:`RESOURCE_TYPES`.

Each handler declares its :class:`Schema` (arguments, defaults, which changes force replacement,
the provider's validation) and does the AWS calls for create, update and delete through the
clients it is handed. Each docstring links the AWS API actions it calls.

What is modelled: the arguments listed in each schema, which follow the Terraform AWS provider 5.x
documentation (https://registry.terraform.io/providers/hashicorp/aws/latest/docs), and ``tags_all``:
the provider's ``default_tags`` merged with the resource's ``tags`` (the resource's win), worked out
by the planner. ``tags_all`` is what the taggable types (``aws_kms_key``, ``aws_dynamodb_table``,
``aws_iam_user``, ``aws_iam_policy``, ``aws_iam_role``) send to AWS, on create and through their tag/untag calls when
it changes. Not modelled (refused as such, see :mod:`._provider`): DynamoDB replicas, imports,
restores and on-demand throughput, KMS custom key stores and rotation periods, access-key PGP
encryption, a role's deprecated ``inline_policy`` and ``managed_policy_arns``, and timestamps such as an access key's ``create_date`` (left out so that outputs stay
stable). Unsupported types are refused by the caller; nothing is skipped.

Faults: each handler names the AWS operation that makes its resource exist (``creates``) and how
to read the exported attributes from AWS's answer to it (``created``), so the engine records a
resource the moment AWS has answered, whatever happens after; ``exists`` is the refresh, and
``not_found`` the error codes that mean "gone", as the provider's read and delete take them.
"""

from __future__ import annotations

import datetime
import itertools
import json
import re
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from ._aws import Answer, Aws
from ._expr import UNKNOWN
from ._schema import (
    Arg,
    Attr,
    BlockSpec,
    Problem,
    Schema,
    normalized_json,
    policies_equivalent,
    tags_all_attr,
    tags_arg,
)

_COUNTER = itertools.count(1)


def unique_name(prefix: str) -> str:
    """The provider's ``id.PrefixedUniqueId``: prefix, UTC time to 1/10000 s, an 8-hex-digit counter."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%S%f")[:18]
    return f"{prefix}{stamp}{next(_COUNTER):08x}"


def name_prefix_from_name(name: str) -> str:
    """The provider's ``create.NamePrefixFromName``: the prefix of a generated name, else ""."""
    match = re.fullmatch(r"(.*)\d{18}[0-9a-f]{8}", name or "")
    return match.group(1) if match else ""


def _name_problems(values: dict[str, Any]) -> list[Problem]:
    """``name`` ConflictsWith ``name_prefix``, in the provider's (Terraform SDK's) words."""
    if isinstance(values.get("name"), str) and isinstance(values.get("name_prefix"), str):
        return [Problem('"name": conflicts with name_prefix', "name"),
                Problem('"name_prefix": conflicts with name', "name_prefix")]
    return []


def _tag_list(tags: dict[str, str] | None, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in sorted((tags or {}).items())]


class ResourceType:
    """Base class of resource handlers.

    ``invalidates`` maps an argument to the exported attributes that change when it is updated in
    place (renaming an IAM user changes its ARN), so the plan shows them as ``(known after apply)``.
    (``tags_all`` is not listed: the planner works it out from ``tags`` and the provider's
    ``default_tags``, and ``changed`` then names ``tags_all`` when the tags sent to AWS change.)
    """

    type_name: ClassVar[str]
    schema: ClassVar[Schema]
    invalidates: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: The AWS operation that makes the resource exist; once AWS has answered it, the resource is in
    #: the state (tainted until the rest of the create has run), whatever is raised after.
    creates: ClassVar[str]
    #: Error codes that mean "this resource does not exist": on refresh and on delete the resource is
    #: then gone, as the provider's ``tfresource.NotFound`` checks make it.
    not_found: ClassVar[tuple[str, ...]] = ()

    def validate(self, values: dict[str, Any], prior: dict[str, Any] | None = None) -> list[Problem]:
        """Rules across arguments (values may still hold UNKNOWN while planning; ``prior`` is the state)."""
        return []

    def create(self, aws: Aws, values: dict[str, Any]) -> dict[str, Any]:
        """Create the resource; return the exported attributes AWS assigned."""
        raise NotImplementedError

    def update(self, aws: Aws, prior: dict[str, Any], values: dict[str, Any], changed: set[str]) -> dict[str, Any]:
        """Change ``changed`` arguments in place; return exported attributes that changed."""
        raise NotImplementedError

    def delete(self, aws: Aws, prior: dict[str, Any]) -> None:
        raise NotImplementedError

    def created(self, aws: Aws, values: dict[str, Any], answer: Answer) -> dict[str, Any]:
        """The exported attributes, from AWS's answer to :attr:`creates` (for a create cut short)."""
        raise NotImplementedError

    def exists(self, aws: Aws, prior: dict[str, Any]) -> bool:
        """Refresh: whether the resource still exists in AWS (False when AWS says it is not found)."""
        raise NotImplementedError

    def same(self, name: str, configured: Any, prior: Any) -> bool:
        """Whether a configured value equals the one in state, as the provider's DiffSuppressFunc sees it."""
        if self.schema.args.get(name, Arg()).kind == "json":
            return policies_equivalent(configured, prior)
        return configured == prior

    def is_not_found(self, error: BaseException) -> bool:
        return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in self.not_found

    @staticmethod
    def _update_tags(prior: dict[str, Any], values: dict[str, Any], tag: Any, untag: Any,
                     key: str = "Key", value: str = "Value") -> None:
        """Untag the keys that went away, then tag the new and changed ones (from ``tags_all``, which
        holds the provider's default tags too), as the provider's UpdateTags does."""
        old = prior.get("tags_all") or {}
        new = values.get("tags_all") or {}
        removed = sorted(set(old) - set(new))
        if removed:
            untag(removed)
        added = {k: v for k, v in new.items() if old.get(k) != v}
        if added:
            tag(_tag_list(added, key, value))


# --------------------------------------------------------------------------------------------------
# KMS


class KmsKey(ResourceType):
    """``aws_kms_key``: a customer managed KMS key.

    AWS API: CreateKey, GetKeyPolicy, PutKeyPolicy, UpdateKeyDescription, EnableKeyRotation /
    DisableKeyRotation, EnableKey / DisableKey, TagResource / UntagResource and ScheduleKeyDeletion
    (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html). Destroying a key
    schedules its deletion after ``deletion_window_in_days`` (default 30), as AWS requires.
    """

    type_name = "aws_kms_key"
    schema = Schema(args={
        "arn": Attr(),
        "bypass_policy_lockout_safety_check": Arg("bool", default=False),
        "customer_master_key_spec": Arg(default="SYMMETRIC_DEFAULT", force_new=True, choices=(
            "SYMMETRIC_DEFAULT", "RSA_2048", "RSA_3072", "RSA_4096", "HMAC_224", "HMAC_256", "HMAC_384",
            "HMAC_512", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1", "SM2")),
        "deletion_window_in_days": Arg("number", int_range=(7, 30), whole=True),
        "description": Arg(computed=True),
        "enable_key_rotation": Arg("bool", default=False),
        "id": Attr(),
        "is_enabled": Arg("bool", default=True),
        "key_id": Attr(),
        "key_usage": Arg(default="ENCRYPT_DECRYPT", force_new=True,
                         choices=("ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC")),
        "multi_region": Arg("bool", computed=True, force_new=True),
        "policy": Arg("json", computed=True, policy="json"),
        "tags": tags_arg(),
        "tags_all": tags_all_attr(),
    })

    def create(self, aws, values):
        kms = aws.client("kms")
        request: dict[str, Any] = {
            "KeyUsage": values["key_usage"],
            "KeySpec": values["customer_master_key_spec"],
            "BypassPolicyLockoutSafetyCheck": values["bypass_policy_lockout_safety_check"],
            "MultiRegion": bool(values.get("multi_region")),
        }
        if values.get("description") is not None:
            request["Description"] = values["description"]
        if values.get("policy") is not None:
            request["Policy"] = values["policy"]
        if values.get("tags_all"):
            request["Tags"] = _tag_list(values["tags_all"], "TagKey", "TagValue")
        exported = self._from_metadata(kms.create_key(**request)["KeyMetadata"], values)
        key_id = exported["key_id"]
        if values["enable_key_rotation"]:
            kms.enable_key_rotation(KeyId=key_id)
        if not values["is_enabled"]:
            kms.disable_key(KeyId=key_id)
        if exported["policy"] is None:  # no policy configured: AWS applied its default key policy
            exported["policy"] = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
        return exported

    creates = "CreateKey"
    not_found = ("NotFoundException",)

    @staticmethod
    def _from_metadata(metadata: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        key_id = metadata["KeyId"]
        return {
            "arn": metadata["Arn"], "id": key_id, "key_id": key_id,
            "description": metadata.get("Description", ""), "multi_region": metadata.get("MultiRegion", False),
            "policy": values.get("policy"), "tags_all": dict(values.get("tags_all") or {}),
        }

    def created(self, aws, values, answer):
        return self._from_metadata(answer.reply["KeyMetadata"], values)

    def exists(self, aws, prior):
        # The provider's FindKeyByID: a key pending deletion is "not found" (it is as good as gone).
        try:
            metadata = aws.client("kms").describe_key(KeyId=prior["key_id"])["KeyMetadata"]
        except ClientError as exc:
            if self.is_not_found(exc):
                return False
            raise
        return metadata.get("KeyState") not in ("PendingDeletion", "PendingReplicaDeletion")

    def update(self, aws, prior, values, changed):
        kms = aws.client("kms")
        key_id = prior["key_id"]
        if "is_enabled" in changed and values["is_enabled"]:
            kms.enable_key(KeyId=key_id)
        if "description" in changed:
            kms.update_key_description(KeyId=key_id, Description=values["description"] or "")
        if "policy" in changed and values.get("policy"):
            kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=values["policy"],
                               BypassPolicyLockoutSafetyCheck=values["bypass_policy_lockout_safety_check"])
        if "enable_key_rotation" in changed:
            if values["enable_key_rotation"]:
                kms.enable_key_rotation(KeyId=key_id)
            else:
                kms.disable_key_rotation(KeyId=key_id)
        if "is_enabled" in changed and not values["is_enabled"]:
            kms.disable_key(KeyId=key_id)
        if "tags_all" in changed:
            self._update_tags(prior, values, lambda tags: kms.tag_resource(KeyId=key_id, Tags=tags),
                              lambda keys: kms.untag_resource(KeyId=key_id, TagKeys=keys), "TagKey", "TagValue")
        return {"tags_all": dict(values.get("tags_all") or {})}

    def delete(self, aws, prior):
        window = prior.get("deletion_window_in_days") or 30
        aws.client("kms").schedule_key_deletion(KeyId=prior["key_id"], PendingWindowInDays=int(window))


class KmsAlias(ResourceType):
    """``aws_kms_alias``: a friendly name for a KMS key.

    AWS API: CreateAlias, UpdateAlias, DeleteAlias
    (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html).
    """

    type_name = "aws_kms_alias"
    schema = Schema(args={
        "arn": Attr(),
        "id": Attr(),
        "name": Arg(computed=True, force_new=True),
        "name_prefix": Arg(computed=True, force_new=True),
        "target_key_arn": Attr(),
        "target_key_id": Arg(required=True),
    })
    invalidates = {"target_key_id": ("target_key_arn",)}

    def same(self, name, configured, prior):
        # The provider stores the key ID and suppresses the diff between a key's ARN and its ID.
        if name == "target_key_id" and isinstance(configured, str) and isinstance(prior, str):
            return _key_id(configured) == _key_id(prior)
        return super().same(name, configured, prior)

    def validate(self, values, prior=None):
        name = values.get("name")
        problems = _name_problems(values)
        if isinstance(name, str):
            if name.startswith("alias/aws/"):
                problems.append(Problem("\"name\" cannot begin with reserved AWS CMK prefix 'alias/aws/'", "name"))
            if not re.fullmatch(r"alias/[0-9A-Za-z_/-]+", name):
                problems.append(Problem("\"name\" must begin with 'alias/' and be comprised of only "
                                        "[0-9A-Za-z_/-]", "name"))
        return problems

    def _key_arn(self, aws: Aws, target: str) -> str:
        if target.startswith("arn:"):
            return target
        return f"arn:{aws.partition}:kms:{aws.region}:{aws.account_id}:key/{target}"

    creates = "CreateAlias"
    not_found = ("NotFoundException",)

    def create(self, aws, values):
        # The provider's create.Name: the name given, else name_prefix (default "alias/") and a unique suffix.
        name = values.get("name") or unique_name(values.get("name_prefix") or "alias/")
        aws.client("kms").create_alias(AliasName=name, TargetKeyId=values["target_key_id"])
        return self.created(aws, {**values, "name": name}, None)

    def created(self, aws, values, answer):
        name = values.get("name") or (answer.params["AliasName"] if answer else None)
        return {"arn": f"arn:{aws.partition}:kms:{aws.region}:{aws.account_id}:{name}", "id": name, "name": name,
                "name_prefix": name_prefix_from_name(name),
                "target_key_arn": self._key_arn(aws, values["target_key_id"]),
                "target_key_id": _key_id(values["target_key_id"])}

    def exists(self, aws, prior):
        for page in aws.client("kms").get_paginator("list_aliases").paginate():
            if any(alias["AliasName"] == prior["name"] for alias in page["Aliases"]):
                return True
        return False

    def update(self, aws, prior, values, changed):
        aws.client("kms").update_alias(AliasName=prior["name"], TargetKeyId=values["target_key_id"])
        return {"target_key_arn": self._key_arn(aws, values["target_key_id"]),
                "target_key_id": _key_id(values["target_key_id"])}

    def delete(self, aws, prior):
        aws.client("kms").delete_alias(AliasName=prior["name"])


def _key_id(key: str) -> str:
    """A key's ID from its ID or ARN (``arn:aws:kms:...:key/ID``)."""
    return key.rsplit(":key/", 1)[-1] if key.startswith("arn:") and ":key/" in key else key


_GRANT_OPERATIONS = (
    "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
    "Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey", "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac", "DeriveSharedSecret",
)


class KmsGrant(ResourceType):
    """``aws_kms_grant``: a grant on a KMS key (every argument forces a new grant).

    AWS API: CreateGrant, RevokeGrant, RetireGrant
    (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateGrant.html).
    """

    type_name = "aws_kms_grant"
    schema = Schema(
        args={
            "grant_id": Attr(),
            "grant_token": Attr(sensitive=True),
            "grantee_principal": Arg(required=True, force_new=True),
            "id": Attr(),
            "key_id": Arg(required=True, force_new=True),
            "name": Arg(force_new=True),
            "operations": Arg("list", required=True, force_new=True),
            "retire_on_delete": Arg("bool", default=False, force_new=True),
            "retiring_principal": Arg(force_new=True),
        },
        blocks={"constraints": BlockSpec(
            args={"encryption_context_equals": Arg("map", force_new=True),
                  "encryption_context_subset": Arg("map", force_new=True)},
            max_items=1, force_new=True, is_set=True)},
    )
    invalidates = {}

    def validate(self, values, prior=None):
        problems = []
        for operation in values.get("operations") or []:
            if isinstance(operation, str) and operation not in _GRANT_OPERATIONS:
                listed = " ".join(f'"{o}"' for o in _GRANT_OPERATIONS)
                problems.append(Problem(f"expected operations to be one of [{listed}], got {operation}",
                                        "operations"))
        return problems

    def create(self, aws, values):
        request: dict[str, Any] = {"KeyId": values["key_id"], "GranteePrincipal": values["grantee_principal"],
                                   "Operations": list(values["operations"])}
        if values.get("name"):
            request["Name"] = values["name"]
        if values.get("retiring_principal"):
            request["RetiringPrincipal"] = values["retiring_principal"]
        for block in values.get("constraints") or []:
            constraints = {}
            if block.get("encryption_context_equals"):
                constraints["EncryptionContextEquals"] = block["encryption_context_equals"]
            if block.get("encryption_context_subset"):
                constraints["EncryptionContextSubset"] = block["encryption_context_subset"]
            if constraints:
                request["Constraints"] = constraints
        reply = aws.client("kms").create_grant(**request)
        return self._from_reply(values, reply)

    creates = "CreateGrant"
    not_found = ("NotFoundException",)

    @staticmethod
    def _from_reply(values: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
        key_id = values["key_id"].rsplit("/", 1)[-1]
        return {"grant_id": reply["GrantId"], "grant_token": reply["GrantToken"],
                "id": f"{key_id}:{reply['GrantId']}"}

    def created(self, aws, values, answer):
        return self._from_reply(values, answer.reply)

    def exists(self, aws, prior):
        kms = aws.client("kms")
        try:
            for page in kms.get_paginator("list_grants").paginate(KeyId=prior["key_id"]):
                if any(grant["GrantId"] == prior["grant_id"] for grant in page["Grants"]):
                    return True
        except ClientError as exc:
            if self.is_not_found(exc):
                return False
            raise
        return False

    def delete(self, aws, prior):
        kms = aws.client("kms")
        if prior.get("retire_on_delete"):
            kms.retire_grant(KeyId=prior["key_id"], GrantId=prior["grant_id"])
        else:
            kms.revoke_grant(KeyId=prior["key_id"], GrantId=prior["grant_id"])


# --------------------------------------------------------------------------------------------------
# DynamoDB


_STREAM_VIEWS = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
_PROJECTIONS = ("ALL", "INCLUDE", "KEYS_ONLY")


def _index_spec(block: dict[str, Any], hash_key: str, provisioned: dict[str, int] | None) -> dict[str, Any]:
    """A GlobalSecondaryIndex / LocalSecondaryIndex request from an index block."""
    keys = [{"AttributeName": block.get("hash_key") or hash_key, "KeyType": "HASH"}]
    if block.get("range_key"):
        keys.append({"AttributeName": block["range_key"], "KeyType": "RANGE"})
    projection: dict[str, Any] = {"ProjectionType": block["projection_type"]}
    if block.get("non_key_attributes"):
        projection["NonKeyAttributes"] = list(block["non_key_attributes"])
    spec: dict[str, Any] = {"IndexName": block["name"], "KeySchema": keys, "Projection": projection}
    if provisioned is not None:
        spec["ProvisionedThroughput"] = provisioned
    return spec


class DynamoDBTable(ResourceType):
    """``aws_dynamodb_table``: a DynamoDB table, optionally encrypted with a customer managed key.

    AWS API: CreateTable, UpdateTable, UpdateContinuousBackups, UpdateTimeToLive, TagResource /
    UntagResource, DeleteTable (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html).
    Streams (``stream_enabled``, ``stream_view_type``), global and local secondary indexes, ``ttl``
    and ``table_class`` go in CreateTable; a stream, a table class and global indexes change
    through UpdateTable (one index created or deleted per call, as AWS allows), TTL through
    UpdateTimeToLive; a change to a local index replaces the table, as the provider's ForceNew does.
    ``timeouts`` is accepted and has no effect: kmslab's calls do not wait.
    With ``server_side_encryption { enabled = true, kms_key_arn = ... }`` the table's SSESpecification
    names the key by its ARN.
    """

    type_name = "aws_dynamodb_table"
    schema = Schema(
        args={
            "arn": Attr(),
            "billing_mode": Arg(default="PROVISIONED", choices=("PROVISIONED", "PAY_PER_REQUEST")),
            "deletion_protection_enabled": Arg("bool"),
            "hash_key": Arg(required=True, force_new=True),
            "id": Attr(),
            "name": Arg(required=True, force_new=True),
            "range_key": Arg(force_new=True),
            "read_capacity": Arg("number", computed=True, whole=True),
            "stream_arn": Attr(),
            "stream_enabled": Arg("bool"),
            "stream_label": Attr(),
            "stream_view_type": Arg(computed=True, choices=_STREAM_VIEWS),
            "table_class": Arg(choices=("STANDARD", "STANDARD_INFREQUENT_ACCESS")),
            "tags": tags_arg(),
            "tags_all": tags_all_attr(),
            "write_capacity": Arg("number", computed=True, whole=True),
        },
        blocks={
            "attribute": BlockSpec(args={"name": Arg(required=True), "type": Arg(required=True, choices=("S", "N", "B"))},
                                   force_new=True, is_set=True),
            "point_in_time_recovery": BlockSpec(args={"enabled": Arg("bool", required=True)}, max_items=1,
                                                computed=True),
            "server_side_encryption": BlockSpec(args={"enabled": Arg("bool", required=True),
                                                      "kms_key_arn": Arg(computed=True)}, max_items=1),
            "global_secondary_index": BlockSpec(args={
                "hash_key": Arg(required=True), "name": Arg(required=True),
                "non_key_attributes": Arg("list", default=[]),
                "projection_type": Arg(required=True, choices=_PROJECTIONS), "range_key": Arg(),
                "read_capacity": Arg("number", computed=True, whole=True),
                "write_capacity": Arg("number", computed=True, whole=True)}, is_set=True),
            "local_secondary_index": BlockSpec(args={
                "name": Arg(required=True, force_new=True), "non_key_attributes": Arg("list", default=[], force_new=True),
                "projection_type": Arg(required=True, choices=_PROJECTIONS, force_new=True),
                "range_key": Arg(required=True, force_new=True)}, force_new=True, is_set=True),
            "ttl": BlockSpec(args={"attribute_name": Arg(), "enabled": Arg("bool", default=False)}, max_items=1,
                             computed=True),
            "timeouts": BlockSpec(args={"create": Arg(), "update": Arg(), "delete": Arg()}, max_items=1),
        },
    )
    invalidates = {"stream_enabled": ("stream_arn", "stream_label"), "stream_view_type": ("stream_arn", "stream_label")}

    def same(self, name, configured, prior):
        if name == "table_class" and configured in (None, "STANDARD") and prior in (None, "STANDARD"):
            return True  # the provider reads an unset table class back as STANDARD and suppresses the diff
        return super().same(name, configured, prior)

    def validate(self, values, prior=None):
        problems: list[Problem] = []
        mode = values.get("billing_mode")
        # The provider tolerates leftover capacities while a table switches from PROVISIONED to on-demand.
        switching = bool(prior) and prior.get("billing_mode") == "PROVISIONED"
        for capacity in ("read_capacity", "write_capacity"):
            value = values.get(capacity)
            if mode == "PAY_PER_REQUEST" and value not in (None, 0) and value is not UNKNOWN and not switching:
                problems.append(Problem(f'{capacity} can not be set when billing_mode is "PAY_PER_REQUEST"',
                                        capacity))
            if mode == "PROVISIONED" and value is None:
                problems.append(Problem(f'{capacity} must be set when billing_mode is "PROVISIONED"', capacity))
        if values.get("stream_enabled") is True and values.get("stream_view_type") in (None, ""):
            problems.append(Problem("stream_view_type is required when stream_enabled = true", "stream_view_type"))
        attributes = values.get("attribute")
        if isinstance(attributes, list) and all(isinstance(a, dict) for a in attributes):
            defined = [a.get("name") for a in attributes]
            keys = [k for k in (values.get("hash_key"), values.get("range_key")) if isinstance(k, str)]
            for index in [*(values.get("global_secondary_index") or []), *(values.get("local_secondary_index") or [])]:
                if isinstance(index, dict):
                    keys += [k for k in (index.get("hash_key"), index.get("range_key")) if isinstance(k, str)
                             and k not in keys]
            unused = [n for n in defined if isinstance(n, str) and n not in keys]
            missing = [k for k in keys if k not in defined]
            if unused:
                problems.append(Problem("all attributes must be indexed. Unused attributes: "
                                        f"[{' '.join(_quote(n) for n in unused)}]", "attribute"))
            if missing:
                problems.append(Problem("all indexes must match a defined attribute. Unmatched indexes: "
                                        f"[{' '.join(_quote(n) for n in missing)}]", "hash_key"))
        return problems

    @staticmethod
    def _sse(values: dict[str, Any]) -> dict[str, Any] | None:
        blocks = values.get("server_side_encryption") or []
        if not blocks:
            return None
        block = blocks[0]
        if not block.get("enabled"):
            return {"Enabled": False}
        spec = {"Enabled": True, "SSEType": "KMS"}
        if block.get("kms_key_arn"):
            spec["KMSMasterKeyId"] = block["kms_key_arn"]
        return spec

    def _throughput(self, values: dict[str, Any]) -> dict[str, int]:
        return {"ReadCapacityUnits": int(values["read_capacity"]), "WriteCapacityUnits": int(values["write_capacity"])}

    def create(self, aws, values):
        dynamodb = aws.client("dynamodb")
        keys = [{"AttributeName": values["hash_key"], "KeyType": "HASH"}]
        if values.get("range_key"):
            keys.append({"AttributeName": values["range_key"], "KeyType": "RANGE"})
        request: dict[str, Any] = {
            "TableName": values["name"],
            "AttributeDefinitions": [{"AttributeName": a["name"], "AttributeType": a["type"]}
                                     for a in values.get("attribute") or []],
            "KeySchema": keys,
            "BillingMode": values["billing_mode"],
        }
        if values["billing_mode"] == "PROVISIONED":
            request["ProvisionedThroughput"] = self._throughput(values)
        sse = self._sse(values)
        if sse is not None and sse["Enabled"]:
            request["SSESpecification"] = sse
        if values.get("deletion_protection_enabled"):
            request["DeletionProtectionEnabled"] = True
        if values.get("tags_all"):
            request["Tags"] = _tag_list(values["tags_all"])
        if values.get("stream_enabled"):
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": values["stream_view_type"]}
        if values.get("table_class"):
            request["TableClass"] = values["table_class"]
        provisioned = request.get("ProvisionedThroughput")
        if values.get("global_secondary_index"):
            request["GlobalSecondaryIndexes"] = [_index_spec(i, values["hash_key"], provisioned)
                                                 for i in values["global_secondary_index"]]
        if values.get("local_secondary_index"):
            request["LocalSecondaryIndexes"] = [_index_spec(i, values["hash_key"], None)
                                                for i in values["local_secondary_index"]]
        table = dynamodb.create_table(**request)["TableDescription"]
        pitr = values.get("point_in_time_recovery") or []
        if pitr and pitr[0].get("enabled"):
            self._set_pitr(dynamodb, values["name"], True)
        ttl = values.get("ttl") or []
        if ttl and ttl[0].get("enabled"):
            self._set_ttl(dynamodb, values["name"], ttl[0])
        return self._exported(table, values)

    @staticmethod
    def _set_ttl(dynamodb: Any, name: str, block: dict[str, Any]) -> None:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": bool(block.get("enabled")), "AttributeName": block.get("attribute_name") or ""})

    creates = "CreateTable"
    not_found = ("ResourceNotFoundException",)

    def created(self, aws, values, answer):
        return self._exported(answer.reply["TableDescription"], values)

    def exists(self, aws, prior):
        try:
            aws.client("dynamodb").describe_table(TableName=prior["name"])
        except ClientError as exc:
            if self.is_not_found(exc):
                return False
            raise
        return True

    @staticmethod
    def _set_pitr(dynamodb: Any, name: str, enabled: bool) -> None:
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled})

    @staticmethod
    def _exported(table: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        throughput = table.get("ProvisionedThroughput", {})
        exported: dict[str, Any] = {
            "arn": table["TableArn"], "id": table["TableName"],
            "read_capacity": throughput.get("ReadCapacityUnits", 0),
            "write_capacity": throughput.get("WriteCapacityUnits", 0),
            "tags_all": dict(values.get("tags_all") or {}),
        }
        pitr = values.get("point_in_time_recovery") or [{"enabled": False}]
        exported["point_in_time_recovery"] = [{"enabled": bool(pitr[0].get("enabled"))}]
        ttl = values.get("ttl") or [{"attribute_name": "", "enabled": False}]
        exported["ttl"] = [{"attribute_name": ttl[0].get("attribute_name") or "", "enabled": bool(ttl[0].get("enabled"))}]
        stream = table.get("StreamSpecification") or {}
        exported["stream_arn"] = table.get("LatestStreamArn", "") if stream.get("StreamEnabled") else ""
        exported["stream_label"] = table.get("LatestStreamLabel", "") if stream.get("StreamEnabled") else ""
        exported["stream_view_type"] = stream.get("StreamViewType", "") if stream.get("StreamEnabled") else ""
        exported["table_class"] = values.get("table_class") or "STANDARD"
        indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes") or []}
        exported["global_secondary_index"] = [
            {**block, "non_key_attributes": list(block.get("non_key_attributes") or []),
             "read_capacity": indexes.get(block["name"], {}).get("ProvisionedThroughput", {}).get("ReadCapacityUnits", 0),
             "write_capacity": indexes.get(block["name"], {}).get("ProvisionedThroughput", {}).get(
                 "WriteCapacityUnits", 0)}
            for block in values.get("global_secondary_index") or []]
        sse_blocks = values.get("server_side_encryption") or []
        if sse_blocks:
            block = dict(sse_blocks[0])
            if block.get("kms_key_arn") is None:
                # AWS names the key it chose (the AWS managed key) in SSEDescription
                block["kms_key_arn"] = table.get("SSEDescription", {}).get("KMSMasterKeyArn") if block["enabled"] else None
            exported["server_side_encryption"] = [block]
        return exported

    def update(self, aws, prior, values, changed):
        dynamodb = aws.client("dynamodb")
        name = prior["name"]
        request: dict[str, Any] = {}
        if changed & {"billing_mode", "read_capacity", "write_capacity"}:
            request["BillingMode"] = values["billing_mode"]
            if values["billing_mode"] == "PROVISIONED":
                request["ProvisionedThroughput"] = self._throughput(values)
        if "server_side_encryption" in changed:
            request["SSESpecification"] = self._sse(values) or {"Enabled": False}
        if "deletion_protection_enabled" in changed:
            request["DeletionProtectionEnabled"] = bool(values.get("deletion_protection_enabled"))
        if changed & {"stream_enabled", "stream_view_type"}:
            if prior.get("stream_enabled") and changed & {"stream_view_type"} and values.get("stream_enabled"):
                # AWS changes a stream's view type only by disabling it first, as the provider does
                dynamodb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
            request["StreamSpecification"] = ({"StreamEnabled": True, "StreamViewType": values["stream_view_type"]}
                                              if values.get("stream_enabled") else {"StreamEnabled": False})
        if "table_class" in changed and values.get("table_class"):
            request["TableClass"] = values["table_class"]
        table = prior_table = None
        if request:
            table = dynamodb.update_table(TableName=name, **request)["TableDescription"]
        if "global_secondary_index" in changed:
            table = self._update_indexes(dynamodb, name, prior, values) or table
        if "ttl" in changed:
            ttl = values.get("ttl") or [{"enabled": False, "attribute_name": ""}]
            old = (prior.get("ttl") or [{}])[0]
            self._set_ttl(dynamodb, name, ttl[0] if ttl[0].get("enabled") else
                          {"enabled": False, "attribute_name": old.get("attribute_name")})
        if "point_in_time_recovery" in changed:
            pitr = values.get("point_in_time_recovery") or [{"enabled": False}]
            self._set_pitr(dynamodb, name, bool(pitr[0].get("enabled")))
        if "tags_all" in changed:
            arn = prior["arn"]
            self._update_tags(prior, values,
                              lambda tags: dynamodb.tag_resource(ResourceArn=arn, Tags=tags),
                              lambda keys: dynamodb.untag_resource(ResourceArn=arn, TagKeys=keys))
        if table is None:
            prior_table = {"TableArn": prior["arn"], "TableName": name,
                           "ProvisionedThroughput": {"ReadCapacityUnits": prior.get("read_capacity") or 0,
                                                     "WriteCapacityUnits": prior.get("write_capacity") or 0}}
        exported = self._exported(table or prior_table, values)
        if table is None or "StreamSpecification" not in table:
            for attribute in ("stream_arn", "stream_label", "stream_view_type"):
                exported[attribute] = prior.get(attribute, "")
        if values["billing_mode"] == "PROVISIONED":
            exported["read_capacity"] = values["read_capacity"]
            exported["write_capacity"] = values["write_capacity"]
        return exported

    def _update_indexes(self, dynamodb: Any, name: str, prior: dict[str, Any], values: dict[str, Any]) -> Any:
        """Delete the global indexes that went or changed, then create the new ones (one per call)."""
        old = {i["name"]: i for i in prior.get("global_secondary_index") or []}
        new = {i["name"]: i for i in values.get("global_secondary_index") or []}
        keys = ("hash_key", "range_key", "projection_type", "non_key_attributes")
        changed = {n for n in old.keys() & new.keys() if any(old[n].get(k) != new[n].get(k) for k in keys)}
        table = None
        for index in sorted((old.keys() - new.keys()) | changed):
            table = dynamodb.update_table(TableName=name, GlobalSecondaryIndexUpdates=[
                {"Delete": {"IndexName": index}}])["TableDescription"]
        provisioned = self._throughput(values) if values["billing_mode"] == "PROVISIONED" else None
        attributes = [{"AttributeName": a["name"], "AttributeType": a["type"]} for a in values.get("attribute") or []]
        for index in sorted((new.keys() - old.keys()) | changed):
            table = dynamodb.update_table(TableName=name, AttributeDefinitions=attributes, GlobalSecondaryIndexUpdates=[
                {"Create": _index_spec(new[index], values["hash_key"], provisioned)}])["TableDescription"]
        return table

    def delete(self, aws, prior):
        aws.client("dynamodb").delete_table(TableName=prior["name"])


class DynamoDBResourcePolicy(ResourceType):
    """``aws_dynamodb_resource_policy``: a resource-based policy on a DynamoDB table (or stream).

    AWS API: PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutResourcePolicy.html).
    The provider's resource is a plugin-framework one: ``resource_arn`` must parse as an ARN and
    forces a new policy; ``policy`` need only be JSON (no duplicate-key check) and is kept in state
    as written, a change to an equivalent policy planning nothing; ``id`` is the resource's ARN;
    ``revision_id`` is AWS's answer to each PutResourcePolicy. A change is a new PutResourcePolicy
    (the provider sends no ExpectedRevisionId).
    """

    type_name = "aws_dynamodb_resource_policy"
    schema = Schema(args={
        "confirm_remove_self_resource_access": Arg("bool", default=False),
        "id": Attr(),
        "policy": Arg("json", required=True, policy="framework", normalize=False),
        "resource_arn": Arg(required=True, force_new=True, framework_arn=True),
        "revision_id": Attr(),
    })
    invalidates = {"policy": ("revision_id",), "confirm_remove_self_resource_access": ("revision_id",)}

    creates = "PutResourcePolicy"
    not_found = ("PolicyNotFoundException", "ResourceNotFoundException")

    def create(self, aws, values):
        dynamodb = aws.client("dynamodb")
        reply = dynamodb.put_resource_policy(
            ResourceArn=values["resource_arn"], Policy=values["policy"],
            ConfirmRemoveSelfResourceAccess=bool(values.get("confirm_remove_self_resource_access")))
        dynamodb.get_resource_policy(ResourceArn=values["resource_arn"])  # the provider waits until it reads back
        return self.created(aws, values, Answer("dynamodb", "PutResourcePolicy", {}, reply))

    def created(self, aws, values, answer):
        return {"id": values["resource_arn"], "revision_id": answer.reply.get("RevisionId", "")}

    def exists(self, aws, prior):
        try:
            aws.client("dynamodb").get_resource_policy(ResourceArn=prior["resource_arn"])
        except ClientError as exc:
            if self.is_not_found(exc):
                return False
            raise
        return True

    def update(self, aws, prior, values, changed):
        reply = aws.client("dynamodb").put_resource_policy(
            ResourceArn=prior["resource_arn"], Policy=values["policy"],
            ConfirmRemoveSelfResourceAccess=bool(values.get("confirm_remove_self_resource_access")))
        return {"revision_id": reply.get("RevisionId", "")}

    def delete(self, aws, prior):
        aws.client("dynamodb").delete_resource_policy(ResourceArn=prior["id"])


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------------------------------
# IAM


# The provider's validation.StringMatch on aws_iam_user.name (length is AWS's to check, at apply).
_IAM_NAME = (r"[0-9A-Za-z=,.@\-_+]+", "must only contain alphanumeric characters, hyphens, underscores, commas, "
             "periods, @ symbols, plus and equals signs")


class IamUser(ResourceType):
    """``aws_iam_user``: an IAM user. Renaming is done in place (UpdateUser), as the provider does.

    AWS API: CreateUser (with ``PermissionsBoundary``), UpdateUser, PutUserPermissionsBoundary /
    DeleteUserPermissionsBoundary, TagUser / UntagUser, DeleteUser; with ``force_destroy`` also
    ListAccessKeys / DeleteAccessKey, ListAttachedUserPolicies / DetachUserPolicy and
    ListUserPolicies / DeleteUserPolicy first
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html).
    """

    type_name = "aws_iam_user"
    schema = Schema(args={
        "arn": Attr(),
        "force_destroy": Arg("bool", default=False),
        "id": Attr(),
        "name": Arg(required=True, pattern=_IAM_NAME),
        "path": Arg(default="/"),
        "permissions_boundary": Arg(length=(0, 2048)),
        "tags": tags_arg(),
        "tags_all": tags_all_attr(),
        "unique_id": Attr(),
    })
    invalidates = {"name": ("arn", "id"), "path": ("arn",)}

    def create(self, aws, values):
        request: dict[str, Any] = {"UserName": values["name"], "Path": values["path"]}
        if values.get("permissions_boundary"):
            request["PermissionsBoundary"] = values["permissions_boundary"]
        if values.get("tags_all"):
            request["Tags"] = _tag_list(values["tags_all"])
        return self._from_user(aws.client("iam").create_user(**request)["User"], values)

    creates = "CreateUser"
    not_found = ("NoSuchEntity",)

    @staticmethod
    def _from_user(user: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        return {"arn": user["Arn"], "id": user["UserName"], "unique_id": user["UserId"],
                "tags_all": dict(values.get("tags_all") or {})}

    def created(self, aws, values, answer):
        return self._from_user(answer.reply["User"], values)

    def exists(self, aws, prior):
        return _iam_exists(self, lambda: aws.client("iam").get_user(UserName=prior["name"]))

    def update(self, aws, prior, values, changed):
        iam = aws.client("iam")
        name = prior["name"]
        if changed & {"name", "path"}:
            request = {"UserName": name}
            if "name" in changed:
                request["NewUserName"] = values["name"]
            if "path" in changed:
                request["NewPath"] = values["path"]
            iam.update_user(**request)
            name = values["name"]
        if "permissions_boundary" in changed:
            if values.get("permissions_boundary"):
                iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=values["permissions_boundary"])
            else:
                iam.delete_user_permissions_boundary(UserName=name)
        if "tags_all" in changed:
            self._update_tags(prior, values, lambda tags: iam.tag_user(UserName=name, Tags=tags),
                              lambda keys: iam.untag_user(UserName=name, TagKeys=keys))
        user = iam.get_user(UserName=name)["User"] if changed & {"name", "path"} else None
        exported: dict[str, Any] = {"tags_all": dict(values.get("tags_all") or {})}
        if user:
            exported.update(arn=user["Arn"], id=user["UserName"])
        return exported

    def delete(self, aws, prior):
        iam = aws.client("iam")
        name = prior["name"]
        if prior.get("force_destroy"):
            delete_user_with_dependents(iam, name)
        else:
            iam.delete_user(UserName=name)


class IamAccessKey(ResourceType):
    """``aws_iam_access_key``: an access key for an IAM user (``secret`` is sensitive).

    AWS API: CreateAccessKey, UpdateAccessKey, DeleteAccessKey
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html).
    """

    type_name = "aws_iam_access_key"
    schema = Schema(args={
        "id": Attr(),
        "secret": Attr(sensitive=True),
        "status": Arg(default="Active", choices=("Active", "Inactive")),
        "user": Arg(required=True, force_new=True),
    })
    invalidates = {}

    def create(self, aws, values):
        iam = aws.client("iam")
        key = iam.create_access_key(UserName=values["user"])["AccessKey"]
        if values["status"] != key["Status"]:
            iam.update_access_key(UserName=values["user"], AccessKeyId=key["AccessKeyId"], Status=values["status"])
        return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}

    creates = "CreateAccessKey"
    not_found = ("NoSuchEntity",)

    def created(self, aws, values, answer):
        key = answer.reply["AccessKey"]
        return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}

    def exists(self, aws, prior):
        def find() -> bool:
            keys = aws.client("iam").list_access_keys(UserName=prior["user"])["AccessKeyMetadata"]
            return any(key["AccessKeyId"] == prior["id"] for key in keys)
        return _iam_exists(self, find)

    def update(self, aws, prior, values, changed):
        aws.client("iam").update_access_key(UserName=values["user"], AccessKeyId=prior["id"],
                                            Status=values["status"])
        return {}

    def delete(self, aws, prior):
        aws.client("iam").delete_access_key(UserName=prior["user"], AccessKeyId=prior["id"])


class IamPolicy(ResourceType):
    """``aws_iam_policy``: a customer managed IAM policy.

    AWS API: CreatePolicy, CreatePolicyVersion (new default version), ListPolicyVersions and
    DeletePolicyVersion (the provider prunes the oldest version when five exist), TagPolicy /
    UntagPolicy, DeletePolicy (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html).
    """

    type_name = "aws_iam_policy"
    schema = Schema(args={
        "arn": Attr(),
        "description": Arg(force_new=True),
        "id": Attr(),
        "name": Arg(required=True, force_new=True),
        "path": Arg(default="/", force_new=True),
        "policy": Arg("json", required=True),
        "policy_id": Attr(),
        "tags": tags_arg(),
        "tags_all": tags_all_attr(),
    })

    def create(self, aws, values):
        request: dict[str, Any] = {"PolicyName": values["name"], "Path": values["path"],
                                   "PolicyDocument": values["policy"]}
        if values.get("description"):
            request["Description"] = values["description"]
        if values.get("tags_all"):
            request["Tags"] = _tag_list(values["tags_all"])
        return self.created(aws, values, Answer("iam", "CreatePolicy", request,
                                                aws.client("iam").create_policy(**request)))

    creates = "CreatePolicy"
    not_found = ("NoSuchEntity",)

    def created(self, aws, values, answer):
        policy = answer.reply["Policy"]
        return {"arn": policy["Arn"], "id": policy["Arn"], "policy_id": policy["PolicyId"],
                "tags_all": dict(values.get("tags_all") or {})}

    def exists(self, aws, prior):
        return _iam_exists(self, lambda: aws.client("iam").get_policy(PolicyArn=prior["arn"]))

    def update(self, aws, prior, values, changed):
        iam = aws.client("iam")
        arn = prior["arn"]
        if "policy" in changed:
            versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
            if len(versions) >= 5:  # AWS keeps at most five versions; drop the oldest non-default one
                oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
                iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=values["policy"], SetAsDefault=True)
        if "tags_all" in changed:
            self._update_tags(prior, values, lambda tags: iam.tag_policy(PolicyArn=arn, Tags=tags),
                              lambda keys: iam.untag_policy(PolicyArn=arn, TagKeys=keys))
        return {"tags_all": dict(values.get("tags_all") or {})}

    def delete(self, aws, prior):
        iam = aws.client("iam")
        arn = prior["arn"]
        for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=arn)


class IamUserPolicy(ResourceType):
    """``aws_iam_user_policy``: an inline policy embedded in an IAM user.

    AWS API: PutUserPolicy, DeleteUserPolicy
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutUserPolicy.html).
    """

    type_name = "aws_iam_user_policy"
    schema = Schema(args={
        "id": Attr(),
        "name": Arg(computed=True, force_new=True),
        "name_prefix": Arg(computed=True, force_new=True),
        "policy": Arg("json", required=True),
        "user": Arg(required=True, force_new=True),
    })
    invalidates = {}

    creates = "PutUserPolicy"
    not_found = ("NoSuchEntity",)

    def validate(self, values, prior=None):
        return _name_problems(values)

    def create(self, aws, values):
        # The provider's create.Name: the name given, else name_prefix or "terraform-", and a unique suffix.
        name = values.get("name") or unique_name(values.get("name_prefix") or "terraform-")
        aws.client("iam").put_user_policy(UserName=values["user"], PolicyName=name, PolicyDocument=values["policy"])
        return self.created(aws, {**values, "name": name}, None)

    def created(self, aws, values, answer):
        name = values.get("name") or (answer.params["PolicyName"] if answer else None)
        return {"id": f"{values['user']}:{name}", "name": name, "name_prefix": name_prefix_from_name(name)}

    def exists(self, aws, prior):
        return _iam_exists(self, lambda: aws.client("iam").get_user_policy(UserName=prior["user"],
                                                                           PolicyName=prior["name"]))

    def update(self, aws, prior, values, changed):
        return self.create(aws, {**values, "name": prior["name"]})

    def delete(self, aws, prior):
        aws.client("iam").delete_user_policy(UserName=prior["user"], PolicyName=prior["name"])


class IamUserPolicyAttachment(ResourceType):
    """``aws_iam_user_policy_attachment``: attaches a managed policy to an IAM user.

    AWS API: AttachUserPolicy, DetachUserPolicy
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_AttachUserPolicy.html). The ``id`` is
    the import ID ``user/policy_arn`` (the provider's own id carries a timestamp).
    """

    type_name = "aws_iam_user_policy_attachment"
    schema = Schema(args={
        "id": Attr(),
        "policy_arn": Arg(required=True, force_new=True),
        "user": Arg(required=True, force_new=True),
    })
    invalidates = {}

    creates = "AttachUserPolicy"
    not_found = ("NoSuchEntity",)

    def create(self, aws, values):
        aws.client("iam").attach_user_policy(UserName=values["user"], PolicyArn=values["policy_arn"])
        return self.created(aws, values, None)

    def created(self, aws, values, answer):
        return {"id": f"{values['user']}/{values['policy_arn']}"}

    def exists(self, aws, prior):
        def find() -> bool:
            iam = aws.client("iam")
            for page in iam.get_paginator("list_attached_user_policies").paginate(UserName=prior["user"]):
                if any(p["PolicyArn"] == prior["policy_arn"] for p in page["AttachedPolicies"]):
                    return True
            return False
        return _iam_exists(self, find)

    def delete(self, aws, prior):
        aws.client("iam").detach_user_policy(UserName=prior["user"], PolicyArn=prior["policy_arn"])


# The provider's validResourceName / validRolePolicyName: length first, then the characters (Go's \w is ASCII).
_ROLE_CHARS = (r"[0-9A-Za-z_+=,.@-]*", r"must match [\w+=,.@-]")


def _role_name(length: int) -> Arg:
    return Arg(computed=True, force_new=True, length=(1, length), pattern=_ROLE_CHARS)


def _iso_date(value: Any) -> str:
    """A timestamp as the provider stores it (``time.RFC3339``)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value or "")


class IamRole(ResourceType):
    """``aws_iam_role``: an IAM role and its trust policy (``assume_role_policy``).

    AWS API: CreateRole, UpdateAssumeRolePolicy, UpdateRoleDescription, UpdateRole (for
    ``max_session_duration``), PutRolePermissionsBoundary / DeleteRolePermissionsBoundary, TagRole /
    UntagRole, and for destroy ListInstanceProfilesForRole / RemoveRoleFromInstanceProfile, with
    ``force_detach_policies`` also ListAttachedRolePolicies / DetachRolePolicy and ListRolePolicies /
    DeleteRolePolicy, then DeleteRole (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html).
    ``name``, ``name_prefix`` and ``path`` force a new role, as in the provider; without a name the
    provider's generated ``terraform-...`` name is used. The deprecated ``inline_policy`` block and
    ``managed_policy_arns`` are refused as not modelled (use ``aws_iam_role_policy`` and
    ``aws_iam_role_policy_attachment``, as the provider's documentation advises).
    """

    type_name = "aws_iam_role"
    schema = Schema(args={
        "arn": Attr(),
        "assume_role_policy": Arg("json", required=True),
        "create_date": Attr(),
        "description": Arg(length=(0, 1000), forbidden=("[\u201c\u2018]", "cannot contain specially formatted "
                                                         "single or double quotes: [\u201c\u2018]")),
        "force_detach_policies": Arg("bool", default=False),
        "id": Attr(),
        "max_session_duration": Arg("number", default=3600, int_range=(3600, 43200), whole=True),
        "name": _role_name(64),
        "name_prefix": _role_name(38),
        "path": Arg(default="/", force_new=True, length=(0, 512)),
        "permissions_boundary": Arg(arn=True),
        "tags": tags_arg(),
        "tags_all": tags_all_attr(),
        "unique_id": Attr(),
    })

    creates = "CreateRole"
    not_found = ("NoSuchEntity",)

    def validate(self, values, prior=None):
        return _name_problems(values)

    def create(self, aws, values):
        iam = aws.client("iam")
        name = values.get("name") or unique_name(values.get("name_prefix") or "terraform-")
        request: dict[str, Any] = {"RoleName": name, "Path": values["path"],
                                   "AssumeRolePolicyDocument": normalized_json(values["assume_role_policy"])}
        if values.get("description"):
            request["Description"] = values["description"]
        if values.get("max_session_duration"):
            request["MaxSessionDuration"] = int(values["max_session_duration"])
        if values.get("permissions_boundary"):
            request["PermissionsBoundary"] = values["permissions_boundary"]
        if values.get("tags_all"):
            request["Tags"] = _tag_list(values["tags_all"])
        return self._from_role(iam.create_role(**request)["Role"], values)

    @staticmethod
    def _from_role(role: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        name = role["RoleName"]
        return {"arn": role["Arn"], "create_date": _iso_date(role.get("CreateDate")), "id": name, "name": name,
                "name_prefix": name_prefix_from_name(name), "unique_id": role["RoleId"],
                "tags_all": dict(values.get("tags_all") or {})}

    def created(self, aws, values, answer):
        return self._from_role(answer.reply["Role"], values)

    def exists(self, aws, prior):
        return _iam_exists(self, lambda: aws.client("iam").get_role(RoleName=prior["name"]))

    def update(self, aws, prior, values, changed):
        iam = aws.client("iam")
        name = prior["name"]
        if "assume_role_policy" in changed:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=normalized_json(values["assume_role_policy"]))
        if "description" in changed:
            iam.update_role_description(RoleName=name, Description=values.get("description") or "")
        if "max_session_duration" in changed:
            # The provider sends MaxSessionDuration alone; moto's UpdateRole then clears the description
            # (AWS keeps it), so kmslab sends the configured description along: the same role either way.
            request: dict[str, Any] = {"RoleName": name, "MaxSessionDuration": int(values["max_session_duration"])}
            if values.get("description"):
                request["Description"] = values["description"]
            iam.update_role(**request)
        if "permissions_boundary" in changed:
            if values.get("permissions_boundary"):
                iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=values["permissions_boundary"])
            else:
                iam.delete_role_permissions_boundary(RoleName=name)
        if "tags_all" in changed:
            self._update_tags(prior, values, lambda tags: iam.tag_role(RoleName=name, Tags=tags),
                              lambda keys: iam.untag_role(RoleName=name, TagKeys=keys))
        return {"tags_all": dict(values.get("tags_all") or {})}

    def delete(self, aws, prior):
        delete_role_with_dependents(aws.client("iam"), prior["name"], bool(prior.get("force_detach_policies")))


def delete_role_with_dependents(iam: Any, name: str, force_detach: bool) -> None:
    """The provider's deleteRole: out of its instance profiles, then (``force_detach``) its managed
    policies detached and inline policies deleted, then DeleteRole."""
    for page in iam.get_paginator("list_instance_profiles_for_role").paginate(RoleName=name):
        for profile in page["InstanceProfiles"]:
            iam.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=name)
    if force_detach:
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            for policy in page["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy_name in page["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
    iam.delete_role(RoleName=name)


class IamRolePolicy(ResourceType):
    """``aws_iam_role_policy``: an inline policy embedded in an IAM role (``id`` is ``role:name``).

    AWS API: PutRolePolicy, GetRolePolicy, DeleteRolePolicy
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html).
    """

    type_name = "aws_iam_role_policy"
    schema = Schema(args={
        "id": Attr(),
        "name": _role_name(128),
        "name_prefix": _role_name(102),
        "policy": Arg("json", required=True),
        "role": Arg(required=True, force_new=True),
    })

    creates = "PutRolePolicy"
    not_found = ("NoSuchEntity",)

    def validate(self, values, prior=None):
        return _name_problems(values)

    def create(self, aws, values):
        name = values.get("name") or unique_name(values.get("name_prefix") or "terraform-")
        aws.client("iam").put_role_policy(RoleName=values["role"], PolicyName=name, PolicyDocument=values["policy"])
        return self.created(aws, {**values, "name": name}, None)

    def created(self, aws, values, answer):
        name = values.get("name") or (answer.params["PolicyName"] if answer else None)
        return {"id": f"{values['role']}:{name}", "name": name, "name_prefix": name_prefix_from_name(name)}

    def exists(self, aws, prior):
        return _iam_exists(self, lambda: aws.client("iam").get_role_policy(RoleName=prior["role"],
                                                                           PolicyName=prior["name"]))

    def update(self, aws, prior, values, changed):
        return self.create(aws, {**values, "name": prior["name"]})

    def delete(self, aws, prior):
        aws.client("iam").delete_role_policy(RoleName=prior["role"], PolicyName=prior["name"])


class IamRolePolicyAttachment(ResourceType):
    """``aws_iam_role_policy_attachment``: attaches a managed policy to an IAM role.

    AWS API: AttachRolePolicy, ListAttachedRolePolicies, DetachRolePolicy
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_AttachRolePolicy.html). The ``id`` is
    the import ID ``role/policy_arn`` (the provider's own id carries a timestamp).
    """

    type_name = "aws_iam_role_policy_attachment"
    schema = Schema(args={
        "id": Attr(),
        "policy_arn": Arg(required=True, force_new=True, arn=True),
        "role": Arg(required=True, force_new=True),
    })

    creates = "AttachRolePolicy"
    not_found = ("NoSuchEntity",)

    def create(self, aws, values):
        aws.client("iam").attach_role_policy(RoleName=values["role"], PolicyArn=values["policy_arn"])
        return self.created(aws, values, None)

    def created(self, aws, values, answer):
        return {"id": f"{values['role']}/{values['policy_arn']}"}

    def exists(self, aws, prior):
        def find() -> bool:
            iam = aws.client("iam")
            for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=prior["role"]):
                if any(p["PolicyArn"] == prior["policy_arn"] for p in page["AttachedPolicies"]):
                    return True
            return False
        return _iam_exists(self, find)

    def delete(self, aws, prior):
        aws.client("iam").detach_role_policy(RoleName=prior["role"], PolicyArn=prior["policy_arn"])


# --------------------------------------------------------------------------------------------------
# Organizations


_ORG_POLICY_TYPES = ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY", "TAG_POLICY", "BACKUP_POLICY",
                     "AISERVICES_OPT_OUT_POLICY", "CHATBOT_POLICY", "DECLARATIVE_POLICY_EC2")


def _json_equal(a: Any, b: Any) -> bool:
    """The provider's ``SuppressEquivalentJSONDiffs``: the same JSON value (arrays keep their order)."""
    if a == b:
        return True
    try:
        return json.loads(a) == json.loads(b)
    except (TypeError, ValueError, RecursionError):
        return False


class OrganizationsPolicy(ResourceType):
    """``aws_organizations_policy``: a policy of an AWS Organization (by default a service control policy).

    AWS API: CreatePolicy, DescribePolicy, UpdatePolicy, TagResource / UntagResource, DeletePolicy
    (https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreatePolicy.html). ``content``
    need only be JSON (the provider's StringIsJSON) and a change is planned unless the JSON value is
    the same (its SuppressEquivalentJSONDiffs: array order counts); ``type`` forces a new policy;
    ``skip_destroy`` leaves the policy in AWS on destroy. The organization must exist already (the
    provider's own ``aws_organizations_organization`` is not modelled).
    """

    type_name = "aws_organizations_policy"
    schema = Schema(args={
        "arn": Attr(),
        "content": Arg("json", required=True, policy="json", normalize=False),
        "description": Arg(),
        "id": Attr(),
        "name": Arg(required=True),
        "skip_destroy": Arg("bool"),
        "tags": tags_arg(),
        "tags_all": tags_all_attr(),
        "type": Arg(default="SERVICE_CONTROL_POLICY", force_new=True, choices=_ORG_POLICY_TYPES),
    })

    creates = "CreatePolicy"
    not_found = ("PolicyNotFoundException", "AWSOrganizationsNotInUseException")

    def same(self, name, configured, prior):
        if name == "content":
            return _json_equal(configured, prior)
        return super().same(name, configured, prior)

    def create(self, aws, values):
        request: dict[str, Any] = {"Content": values["content"], "Description": values.get("description") or "",
                                   "Name": values["name"], "Type": values["type"]}
        if values.get("tags_all"):
            request["Tags"] = _tag_list(values["tags_all"])
        reply = aws.client("organizations").create_policy(**request)
        return self.created(aws, values, Answer("organizations", "CreatePolicy", request, reply))

    def created(self, aws, values, answer):
        summary = answer.reply["Policy"]["PolicySummary"]
        return {"arn": summary["Arn"], "id": summary["Id"], "tags_all": dict(values.get("tags_all") or {})}

    def exists(self, aws, prior):
        try:
            aws.client("organizations").describe_policy(PolicyId=prior["id"])
        except ClientError as exc:
            if self.is_not_found(exc):
                return False
            raise
        return True

    def update(self, aws, prior, values, changed):
        organizations = aws.client("organizations")
        if changed - {"tags", "tags_all"}:
            request: dict[str, Any] = {"PolicyId": prior["id"]}
            for name, key in (("content", "Content"), ("description", "Description"), ("name", "Name")):
                if name in changed:
                    request[key] = values.get(name) or ""
            organizations.update_policy(**request)
        if "tags_all" in changed:
            self._update_tags(prior, values, lambda tags: organizations.tag_resource(ResourceId=prior["id"], Tags=tags),
                              lambda keys: organizations.untag_resource(ResourceId=prior["id"], TagKeys=keys))
        return {"tags_all": dict(values.get("tags_all") or {})}

    def delete(self, aws, prior):
        if prior.get("skip_destroy"):
            return
        aws.client("organizations").delete_policy(PolicyId=prior["id"])


class OrganizationsPolicyAttachment(ResourceType):
    """``aws_organizations_policy_attachment``: attaches an organization policy to a root, OU or account.

    AWS API: AttachPolicy, ListTargetsForPolicy, DetachPolicy
    (https://docs.aws.amazon.com/organizations/latest/APIReference/API_AttachPolicy.html). ``id`` is
    ``target_id:policy_id``, as the provider makes it; ``skip_destroy`` leaves the attachment in place.
    """

    type_name = "aws_organizations_policy_attachment"
    schema = Schema(args={
        "id": Attr(),
        "policy_id": Arg(required=True, force_new=True),
        "skip_destroy": Arg("bool"),
        "target_id": Arg(required=True, force_new=True),
    })

    creates = "AttachPolicy"
    not_found = ("PolicyNotFoundException", "TargetNotFoundException", "AWSOrganizationsNotInUseException")

    def create(self, aws, values):
        aws.client("organizations").attach_policy(PolicyId=values["policy_id"], TargetId=values["target_id"])
        return self.created(aws, values, None)

    def created(self, aws, values, answer):
        return {"id": f"{values['target_id']}:{values['policy_id']}"}

    def exists(self, aws, prior):
        try:
            pages = aws.client("organizations").get_paginator("list_targets_for_policy").paginate(
                PolicyId=prior["policy_id"])
            return any(t["TargetId"] == prior["target_id"] for page in pages for t in page["Targets"])
        except ClientError as exc:
            if self.is_not_found(exc):
                return False
            raise

    def delete(self, aws, prior):
        if prior.get("skip_destroy"):
            return
        aws.client("organizations").detach_policy(PolicyId=prior["policy_id"], TargetId=prior["target_id"])


RESOURCE_TYPES: dict[str, ResourceType] = {
    handler.type_name: handler()
    for handler in (KmsKey, KmsAlias, KmsGrant, DynamoDBTable, IamUser, IamAccessKey, IamPolicy, IamUserPolicy,
                    IamUserPolicyAttachment, IamRole, IamRolePolicy, IamRolePolicyAttachment, DynamoDBResourcePolicy,
                    OrganizationsPolicy, OrganizationsPolicyAttachment)
}


def _iam_exists(handler: ResourceType, read: Any) -> bool:
    """Run one IAM read; NoSuchEntity means gone. ``read`` returns a bool, or anything for "found"."""
    try:
        found = read()
    except ClientError as exc:
        if handler.is_not_found(exc):
            return False
        raise
    return found if isinstance(found, bool) else True


def delete_user_with_dependents(iam: Any, name: str) -> None:
    """Delete an IAM user after its access keys, attached and inline policies (what IAM requires first).

    Used by ``force_destroy`` here and by kmslab's clean-up of real AWS."""
    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    for policy in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
        iam.detach_user_policy(UserName=name, PolicyArn=policy["PolicyArn"])
    for policy_name in iam.list_user_policies(UserName=name)["PolicyNames"]:
        iam.delete_user_policy(UserName=name, PolicyName=policy_name)
    iam.delete_user(UserName=name)

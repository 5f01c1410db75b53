"""What a foreign emulator holds, read through its own APIs for authorization.

A lab on an emulator kmslab does not run itself (a moto server or LocalStack someone else started) cannot
read moto's backends in this process. :class:`ApiDirectory` has the interface of
:class:`kmslab._directory.Directory` and reads the same facts through the endpoint's AWS APIs instead
(IAM, KMS, DynamoDB, STS), signed with an *admin credential* the emulator accepts. Its clients come from a
botocore session of their own from which kmslab's ``before-send`` handler is removed, so its reads are
never themselves enforced (no recursion through the enforcement point).

Reads are remembered for one request at most: :meth:`ApiDirectory.forget` is called before each enforced
request and after the emulator answers it, so every decision uses the policies in force at that moment.
Only facts that cannot change are kept longer: the documents of AWS managed policy versions and which
user an access key belongs to (checked again on every use).

What cannot be done through an emulator's API (each is said where it matters):

- *KeyManager.* ``PutKeyPolicy`` can give ``alias/aws/dynamodb``'s key AWS's policy, but the key stays
  ``CUSTOMER`` in the emulator's ``DescribeKey``; kmslab still recognises it by its alias.
- *Deletion windows.* A key's deletion date is the emulator's, on the emulator's clock; the lab clock
  cannot end it (``lab.advance`` deletes nothing there) and ``ScheduleKeyDeletion`` answers with the
  emulator's date.
- *Secrets.* The APIs never return a secret access key again, so ``lab.session_for(user)`` knows only
  the keys created through the lab's own session.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

from ._directory import BackupInfo, KeyInfo, Principal, TableInfo, _as_text, names_elsewhere

ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


def _code(error: Exception) -> str:
    return getattr(error, "response", {}).get("Error", {}).get("Code", "")


class ApiDirectory:
    """View of one account and region of an AWS-compatible endpoint, read through its APIs."""

    #: Whether the enforcer can put a table under a key itself (restores, key switches).
    writes_tables = False

    def __init__(self, endpoint_url: str, region: str, credentials: tuple[str, str], *, session: Any,
                 connect_timeout: float = 3) -> None:
        """``session``: a botocore session whose clients kmslab's enforcement point lets through (the lab
        makes it: this module does not import the lab)."""
        from botocore.config import Config

        self.endpoint_url = endpoint_url
        self.region = region
        config = Config(connect_timeout=connect_timeout, read_timeout=60,
                        retries={"max_attempts": 2, "mode": "standard"})

        def client(name: str) -> Any:
            return session.create_client(name, region_name=region, endpoint_url=endpoint_url,
                                         aws_access_key_id=credentials[0],
                                         aws_secret_access_key=credentials[1], config=config)

        self._iam, self._kms, self._dynamodb, self._sts = (client(n) for n in ("iam", "kms", "dynamodb", "sts"))
        self.account_id: str = self._sts.get_caller_identity()["Account"]
        self._memo: dict[Any, Any] = {}
        self._user_of_key: dict[str, str] = {}
        self._aws_documents: dict[tuple[str, str], str] = {}
        #: Secret access keys seen in CreateAccessKey answers: the emulator never returns them again.
        self.secrets: dict[str, str] = {}

    # -- memo -----------------------------------------------------------------------------------
    def forget(self) -> None:
        """Drop what was read for the last request (the world may have changed since)."""
        self._memo.clear()

    def _cached(self, key: Any, fetch: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = fetch()
        return self._memo[key]

    def _all(self, client: Any, operation: str, field: str, **params: Any) -> list[Any]:
        if client.can_paginate(operation):
            return [item for page in client.get_paginator(operation).paginate(**params)
                    for item in page.get(field, [])]
        return list(getattr(client, operation)(**params).get(field, []))

    # -- the lab's own identity -----------------------------------------------------------------
    def create_admin(self, name: str) -> tuple[str, str]:
        """Create (or take over) IAM user ``name`` with administrator rights and a new access key.

        An existing user of that name (a lab opened earlier on the same emulator) loses its access keys:
        their secrets cannot be read back, and IAM allows two keys a user.
        """
        from botocore.exceptions import ClientError
        try:
            self._iam.create_user(UserName=name)
        except ClientError as error:
            if _code(error) != "EntityAlreadyExists":
                raise
            for key in self._iam.list_access_keys(UserName=name).get("AccessKeyMetadata", []):
                self._iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        try:
            self._iam.attach_user_policy(UserName=name, PolicyArn=ADMINISTRATOR_ACCESS)
        except ClientError:  # an emulator without AWS managed policies: the same rights, inline
            self._iam.put_user_policy(UserName=name, PolicyName="AdministratorAccess", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = self._iam.create_access_key(UserName=name)["AccessKey"]
        self.secrets[key["AccessKeyId"]] = key["SecretAccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    # -- principals -----------------------------------------------------------------------------
    def principal_for_access_key(self, access_key_id: str | None) -> Principal | None:
        """The IAM user whose *active* access key this is, or None (AWS: an invalid token)."""
        if not access_key_id:
            return None
        return self._cached(("principal", access_key_id), lambda: self._find_principal(access_key_id))

    def _find_principal(self, access_key_id: str) -> Principal | None:
        from botocore.exceptions import ClientError, ParamValidationError
        known = self._user_of_key.get(access_key_id)
        if known is not None:
            found = self._principal_if_active(known, access_key_id)
            if found is not None:
                return found
        try:
            name = self._iam.get_access_key_last_used(AccessKeyId=access_key_id).get("UserName")
        except (ClientError, ParamValidationError):  # not found, or not even shaped like an access key
            name = None
        names = [name] if name else [u["UserName"] for u in self._all(self._iam, "list_users", "Users")]
        for user_name in names:
            found = self._principal_if_active(user_name, access_key_id)
            if found is not None:
                self._user_of_key[access_key_id] = user_name
                return found
        return None

    def _principal_if_active(self, user_name: str, access_key_id: str) -> Principal | None:
        from botocore.exceptions import ClientError
        try:
            keys = self._all(self._iam, "list_access_keys", "AccessKeyMetadata", UserName=user_name)
        except ClientError:
            return None
        if not any(k["AccessKeyId"] == access_key_id and k.get("Status") == "Active" for k in keys):
            return None
        user = self._user(user_name)
        if user is None:
            return None
        return Principal(user["Arn"], user["UserName"], "User", self.account_id, user["UserId"], access_key_id)

    def _user(self, name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        def fetch() -> dict[str, Any] | None:
            try:
                return self._iam.get_user(UserName=name)["User"]
            except ClientError as error:
                if _code(error) == "NoSuchEntity":
                    return None
                raise
        return self._cached(("user", name), fetch)

    def principal_named(self, name_or_arn: str) -> Principal:
        """A principal from a user name, a user ARN, or the account root ARN."""
        root = f"arn:aws:iam::{self.account_id}:root"
        if name_or_arn in (root, self.account_id, "root"):
            return Principal(root, "root", "Account", self.account_id, self.account_id)
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        user = self._user(name)
        if user is None:
            known = ", ".join(sorted(u["UserName"] for u in self._all(self._iam, "list_users", "Users"))) or "none"
            raise KeyError(f"no IAM user named {name!r} in the lab (users: {known})")
        return Principal(user["Arn"], user["UserName"], "User", self.account_id, user["UserId"], None)

    def principal_exists(self, arn: str) -> bool:
        """Whether an AWS principal named in a key policy exists (KMS validates this)."""
        from botocore.exceptions import ClientError
        if arn == "*" or arn == self.account_id or arn.endswith(":root"):
            return True
        name = arn.rsplit("/", 1)[-1]
        if ":user/" in arn:
            user = self._user(name)
            return user is not None and user["Arn"] == arn
        if ":role/" in arn:
            try:
                return self._iam.get_role(RoleName=name)["Role"]["Arn"] == arn
            except ClientError:
                return False
        return False

    def identity_policies(self, principal: Principal) -> list[tuple[str, str]]:
        """The caller's identity-based policies as ``(label, document)``: inline, attached, groups."""
        if principal.kind != "User":
            return []
        return self._cached(("policies", principal.name), lambda: self._identity_policies(principal.name))

    # Role sessions are recognized only in the lab's own emulator (moto's STS backend in this process): a
    # foreign emulator's temporary keys are unknown here, so they are refused as an invalid token.
    def session_secret(self, access_key_id: str) -> tuple[str, str] | None:
        return None

    def note_session(self, access_key_id: str, created: str, expires: str, policy_arns: list[str]) -> None:
        return None

    def role_max_session(self, role_arn: str) -> int | None:
        """Not read on a foreign emulator (it applies its own limit)."""
        return None

    def trust_policy(self, role_arn: str) -> str | None:
        """The trust policy of a role of this account (GetRole), or None."""
        from botocore.exceptions import ClientError
        name = role_arn.rsplit("/", 1)[-1]
        if not role_arn.startswith(f"arn:aws:iam::{self.account_id}:role/"):
            return None
        try:
            role = self._iam.get_role(RoleName=name)["Role"]
        except ClientError:
            return None
        return _as_text(role.get("AssumeRolePolicyDocument", "{}")) if role.get("Arn") == role_arn else None

    def permissions_boundary(self, principal: Principal) -> tuple[str, str] | None:
        """A user's permissions boundary (GetUser), or None."""
        if principal.kind != "User":
            return None
        user = self._user(principal.name) or {}
        arn = (user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        return (f"permissions boundary {arn.rsplit('/', 1)[-1]}", self._managed_document(arn)) if arn else None

    def session_policies(self, principal: Principal) -> list[tuple[str, str]]:
        return []

    def table_policy(self, table_arn: str) -> str | None:
        """A table's resource-based policy (GetResourcePolicy), or None."""
        from botocore.exceptions import ClientError

        def fetch() -> str | None:
            try:
                return self._dynamodb.get_resource_policy(ResourceArn=table_arn).get("Policy")
            except (ClientError, AttributeError):
                return None
        return self._cached(("table-policy", table_arn), fetch)

    def organization_policies(self, kind: str) -> None:
        """A foreign emulator's organization is not read (SCPs and RCPs are the lab's own emulator's)."""
        return None

    def set_user_boundary(self, name: str, arn: str | None) -> None:
        """Nothing to do: a foreign emulator keeps (or not) the boundary given at CreateUser itself."""
        return None

    def managed_policy_exists(self, arn: str) -> bool:
        from botocore.exceptions import ClientError
        try:
            self._iam.get_policy(PolicyArn=arn)
        except ClientError:
            return False
        return True

    def _identity_policies(self, name: str) -> list[tuple[str, str]]:
        from botocore.exceptions import ClientError
        iam = self._iam
        try:
            inline = sorted(self._all(iam, "list_user_policies", "PolicyNames", UserName=name))
        except ClientError:
            return []  # no such user
        found: list[tuple[str, str]] = []
        for policy in inline:
            document = iam.get_user_policy(UserName=name, PolicyName=policy)["PolicyDocument"]
            found.append((f"inline policy {policy}", _as_text(document)))
        for attached in self._all(iam, "list_attached_user_policies", "AttachedPolicies", UserName=name):
            found.append((attached["PolicyName"], self._managed_document(attached["PolicyArn"])))
        for group in self._all(iam, "list_groups_for_user", "Groups", UserName=name):
            group_name = group["GroupName"]
            for policy in sorted(self._all(iam, "list_group_policies", "PolicyNames", GroupName=group_name)):
                document = iam.get_group_policy(GroupName=group_name, PolicyName=policy)["PolicyDocument"]
                found.append((f"group {group_name} inline policy {policy}", _as_text(document)))
            for attached in self._all(iam, "list_attached_group_policies", "AttachedPolicies",
                                      GroupName=group_name):
                found.append((f"{attached['PolicyName']} (via group {group_name})",
                              self._managed_document(attached["PolicyArn"])))
        return found

    def _managed_document(self, arn: str) -> str:
        version = self._iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        aws_managed = arn.startswith("arn:aws:iam::aws:policy/")
        if aws_managed and (arn, version) in self._aws_documents:
            return self._aws_documents[(arn, version)]
        document = _as_text(self._iam.get_policy_version(PolicyArn=arn, VersionId=version)
                            ["PolicyVersion"]["Document"])
        if aws_managed:  # an AWS managed policy version never changes
            self._aws_documents[(arn, version)] = document
        return document

    # -- keys -----------------------------------------------------------------------------------
    def key(self, ref: str | None) -> KeyInfo | None:
        """Resolve a key ID, key ARN, alias name or alias ARN; None if no such key."""
        if not ref or not isinstance(ref, str) or names_elsewhere(ref, self.account_id, self.region):
            return None
        return self._cached(("key", ref), lambda: self._describe_key(ref))

    def _describe_key(self, ref: str) -> KeyInfo | None:
        from botocore.exceptions import ClientError
        try:
            meta = self._kms.describe_key(KeyId=ref)["KeyMetadata"]
        except ClientError:
            return None  # NotFoundException, or a reference the emulator cannot read
        key_id = meta["KeyId"]
        try:
            policy = self._kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
        except ClientError:
            policy = ""
        try:
            raw = self._all(self._kms, "list_grants", "Grants", KeyId=key_id)
        except ClientError:
            raw = []
        grants = tuple({"KeyId": g.get("KeyId", key_id), "GrantId": g.get("GrantId"), "Name": g.get("Name"),
                        "GranteePrincipal": g.get("GranteePrincipal"),
                        "RetiringPrincipal": g.get("RetiringPrincipal"), "Operations": g.get("Operations", []),
                        "Constraints": g.get("Constraints")} for g in raw)
        deletion = meta.get("DeletionDate")
        if isinstance(deletion, datetime) and deletion.tzinfo is not None:
            deletion = deletion.astimezone(timezone.utc).replace(tzinfo=None)  # naive UTC, as moto's
        return KeyInfo(key_id, meta["Arn"], meta.get("KeyState", "Enabled"), meta.get("KeyManager", "CUSTOMER"),
                       policy, grants, deletion)

    def key_arn(self, key_id: str) -> str:
        return f"arn:aws:kms:{self.region}:{self.account_id}:key/{key_id}"

    def keys(self) -> Iterator[KeyInfo]:
        """Every key of the account and region the emulator still lists."""
        for entry in self._all(self._kms, "list_keys", "Keys"):
            info = self.key(entry["KeyId"])
            if info is not None:
                yield info

    def key_id_for_alias(self, alias: str) -> str | None:
        """The key an existing alias points to (ListAliases: asking creates no reserved alias's key)."""
        for entry in self._cached("aliases", lambda: self._all(self._kms, "list_aliases", "Aliases")):
            if entry.get("AliasName") == alias:
                return entry.get("TargetKeyId")
        return None

    # -- what AWS itself does to keys -----------------------------------------------------------
    def create_service_grant(self, key_id: str, grantee: str, operations: list[str], name: str,
                             constraints: dict[str, Any], retiring: str) -> bool:
        """DynamoDB's grant on a new table's key, made with the admin credential (CreateGrant)."""
        from botocore.exceptions import ClientError
        try:
            self._kms.create_grant(KeyId=key_id, GranteePrincipal=grantee, RetiringPrincipal=retiring,
                                   Operations=operations, Name=name, Constraints=constraints)
        except ClientError:
            return False  # an emulator may refuse a service principal as grantee
        finally:
            self.forget()
        return True

    def retire_table_grants(self, table_name: str) -> list[tuple[str, str]]:
        """Retire the grants DynamoDB made for ``table_name`` (RetireGrant, else RevokeGrant)."""
        from botocore.exceptions import ClientError
        retired = []
        for key in list(self.keys()):
            for grant in key.grants:
                subset = (grant.get("Constraints") or {}).get("EncryptionContextSubset") or {}
                if subset.get("aws:dynamodb:tableName") != table_name or \
                        not str(grant.get("GranteePrincipal", "")).startswith("dynamodb."):
                    continue
                try:
                    self._kms.retire_grant(KeyId=key.key_id, GrantId=grant["GrantId"])
                except ClientError:
                    try:
                        self._kms.revoke_grant(KeyId=key.key_id, GrantId=grant["GrantId"])
                    except ClientError:
                        continue
                retired.append((key.arn, grant["GrantId"]))
        self.forget()
        return retired

    def correct_aws_managed_key(self, key_id: str, policy: str) -> bool:
        """PutKeyPolicy with AWS's policy; KeyManager cannot be changed through the API."""
        from botocore.exceptions import ClientError
        try:
            self._kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy,
                                     BypassPolicyLockoutSafetyCheck=True)
        except ClientError:
            return False
        finally:
            self.forget()
        return True

    def set_deletion_date(self, key_id: str, when: datetime) -> bool:
        """Not possible: the emulator keeps its own deletion date, on its own clock."""
        return False

    def delete_key(self, key_id: str) -> bool:
        """Not possible: the emulator deletes a key when *its* waiting period ends (KMS has no DeleteKey)."""
        return False

    # -- tables ---------------------------------------------------------------------------------
    def table(self, name: str | None) -> TableInfo | None:
        if not name:
            return None
        return self._cached(("table", name), lambda: self._describe_table(name))

    def partiql_sources(self) -> dict[str, str]:
        """The emulator's tables (indexes are not listed: a statement on an index is checked on its name)."""
        names = self._all(self._dynamodb, "list_tables", "TableNames")
        return {name: name for name in names}

    def backup(self, arn: str | None) -> BackupInfo | None:
        from botocore.exceptions import ClientError
        if not arn:
            return None
        try:
            found = self._dynamodb.describe_backup(BackupArn=arn)["BackupDescription"]
        except ClientError:
            return None
        source = found.get("SourceTableDetails") or {}
        sse = (found.get("SourceTableFeatureDetails") or {}).get("SSEDescription") or {}
        key_ref = sse.get("KMSMasterKeyArn") if sse.get("Status", "ENABLED") == "ENABLED" else None
        return BackupInfo(arn, source.get("TableName", ""), source.get("TableArn", ""), key_ref)

    def set_table_key(self, name: str, key_arn: str | None) -> bool:
        """Not possible: an emulator read through its API keeps the encryption it chose."""
        return False

    def date_backup(self, arn: str, when: Any) -> str:
        """Not possible: the emulator dates its backups on its own clock."""
        return arn

    def archival_backup(self, name: str, when: Any = None) -> str | None:
        """Not possible through the emulator's API."""
        return None

    def _describe_table(self, name: str) -> TableInfo | None:
        from botocore.exceptions import ClientError
        try:
            table = self._dynamodb.describe_table(TableName=name)["Table"]
        except ClientError:
            return None
        sse = table.get("SSEDescription") or {}
        key_ref = sse.get("KMSMasterKeyArn") if sse.get("Status", "ENABLED") in ("ENABLED", "ENABLING",
                                                                                 "UPDATING") else None
        return TableInfo(table["TableName"], table.get("TableArn") or self.table_arn(name), key_ref)

    def table_arn(self, name: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/{name}"

    # -- users ----------------------------------------------------------------------------------
    def user_path(self, name: str) -> str | None:
        user = self._user(name)
        return user.get("Path", "/") if user is not None else None

    def iam_path(self, kind: str, name: str) -> str | None:
        """The path of a group, role or instance profile, read through the emulator's IAM API."""
        from botocore.exceptions import ClientError
        calls = {"group": ("get_group", "GroupName", "Group"), "role": ("get_role", "RoleName", "Role"),
                 "instance-profile": ("get_instance_profile", "InstanceProfileName", "InstanceProfile")}
        method, param, field = calls[kind]
        try:
            return getattr(self._iam, method)(**{param: name})[field].get("Path", "/")
        except ClientError:
            return None

    def active_access_key(self, name: str) -> tuple[str, str] | None:
        """An active access key of ``name`` whose secret the lab saw created; KeyError if no such user."""
        if self._user(name) is None:
            raise KeyError(name)
        for key in self._all(self._iam, "list_access_keys", "AccessKeyMetadata", UserName=name):
            secret = self.secrets.get(key["AccessKeyId"])
            if key.get("Status") == "Active" and secret:
                return key["AccessKeyId"], secret
        return None

"""What the emulator holds, read for authorization: principals, their policies, keys and tables.

The enforcement point needs, for every call, the caller (from the access key that signed it), the
caller's identity policies, and the KMS key and key policy behind a resource. In the offline and
emulator targets moto holds all of these in this process, so they are read straight from moto's
backends: no API call, no recursion through the enforcement point, and the policies are always the
ones in force at the moment of the call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.sts.models import sts_backends

#: A policy that allows nothing (in place of a managed policy that no longer exists).
ALLOWS_NOTHING = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "*", "Resource": "*"}]}'


@dataclass(frozen=True)
class Principal:
    """An IAM identity that signs requests."""

    arn: str
    name: str
    kind: str  # "User", "AssumedRole" (a role session), "Account" (the root user) or "AWSService"
    account_id: str
    user_id: str
    access_key_id: str | None = None
    #: For a role session: the role's ARN (with its path), ID and name, and when the session began.
    role_arn: str | None = None
    role_id: str | None = None
    role_name: str | None = None
    session_created: str | None = None
    session_expires: str | None = None

    @property
    def principal_arn(self) -> str:
        """``aws:PrincipalArn``: a session's role ARN (IAM User Guide, global condition keys), else the ARN."""
        return self.role_arn or self.arn

    @property
    def cloudtrail_identity(self) -> dict[str, Any]:
        """The ``userIdentity`` block CloudTrail writes for this caller."""
        if self.kind == "AWSService":
            return {"type": "AWSService", "invokedBy": self.arn}
        if self.kind == "AssumedRole":
            # CloudTrail userIdentity element: a role session carries the role that issued it.
            return {"type": "AssumedRole", "principalId": self.user_id, "arn": self.arn,
                    "accountId": self.account_id, "accessKeyId": self.access_key_id or "",
                    "sessionContext": {
                        "sessionIssuer": {"type": "Role", "principalId": self.role_id or "",
                                          "arn": self.role_arn or "", "accountId": self.account_id,
                                          "userName": self.role_name or ""},
                        "webIdFederationData": {},
                        "attributes": {"creationDate": self.session_created or "",
                                       "mfaAuthenticated": "false"}}}
        if self.kind == "Account":
            return {"type": "Root", "principalId": self.account_id, "arn": self.arn,
                    "accountId": self.account_id, "accessKeyId": self.access_key_id or ""}
        return {"type": "IAMUser", "principalId": self.user_id, "arn": self.arn,
                "accountId": self.account_id, "accessKeyId": self.access_key_id or "",
                "userName": self.name}


@dataclass(frozen=True)
class KeyInfo:
    """A KMS key as the authorizer sees it."""

    key_id: str
    arn: str
    state: str  # Enabled, Disabled, PendingDeletion, ...
    manager: str  # CUSTOMER or AWS
    policy: str
    grants: tuple[dict[str, Any], ...]
    deletion_date: datetime | None


@dataclass(frozen=True)
class TableInfo:
    """A DynamoDB table and the key that protects it."""

    name: str
    arn: str
    kms_key_ref: str | None  # None: the AWS owned key (no KMS call by the caller)


@dataclass(frozen=True)
class BackupInfo:
    """An on-demand backup: its table as it was, and the key that table had (the backup stays under it)."""

    arn: str
    table_name: str
    table_arn: str
    kms_key_ref: str | None


class Directory:
    """View of one account and region in moto's in-process backends.

    It is read-only but for the few writes the enforcement point makes where AWS itself acts (DynamoDB's
    grant on a table's key, KMS deleting a key at the end of its waiting period, the AWS managed key's
    policy). :class:`kmslab._directory_api.ApiDirectory` has the same interface over an emulator's APIs.
    """

    #: Whether the enforcer can put a table under a key itself (restores, key switches).
    writes_tables = True

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    # -- backends -------------------------------------------------------------------------------
    @property
    def iam(self) -> Any:
        return iam_backends[self.account_id]["global"]

    @property
    def kms(self) -> Any:
        return kms_backends[self.account_id][self.region]

    @property
    def dynamodb(self) -> Any:
        return dynamodb_backends[self.account_id][self.region]

    # -- principals -----------------------------------------------------------------------------
    @property
    def sts(self) -> Any:
        return sts_backends[self.account_id]["aws"]

    def principal_for_access_key(self, access_key_id: str | None) -> Principal | None:
        """The IAM user whose *active* access key this is, or the role session whose temporary (``ASIA``)
        key it is; None otherwise (AWS: an invalid token)."""
        if not access_key_id:
            return None
        if access_key_id.startswith("ASIA"):
            session = self.session(access_key_id)
            return self._session_principal(session) if session is not None else None
        for user in self.iam.users.values():
            for key in user.access_keys:
                if key.access_key_id == access_key_id and key.status == "Active":
                    return self._user_principal(user, access_key_id)
        return None

    def session(self, access_key_id: str) -> Any:
        """moto's record of the role session with this temporary key, or None."""
        return self.sts.get_assumed_role_from_access_key(access_key_id)

    def session_secret(self, access_key_id: str) -> tuple[str, str] | None:
        """``(secret, session token)`` of a role session's temporary key, or None."""
        session = self.sts.get_assumed_role_from_access_key(access_key_id)
        return (session.secret_access_key, session.session_token) if session is not None else None

    def _role_by_arn(self, arn: str) -> Any:
        for role in self.iam.roles.values():
            if role.arn == arn:
                return role
        return None

    def role(self, name_or_arn: str) -> Any:
        """moto's role by name or ARN (of this account), or None."""
        if name_or_arn.startswith("arn:"):
            return self._role_by_arn(name_or_arn)
        return next((r for r in self.iam.roles.values() if r.name == name_or_arn), None)

    def _session_principal(self, session: Any) -> Principal:
        # A session of a role deleted since keeps its identity (the role's policies are read on every
        # request, and a deleted role has none left, so it is implicitly denied everything).
        role = self._role_by_arn(session.role_arn)
        role_id = role.id if role is not None else getattr(session, "kmslab_role_id", "")
        return Principal(session.arn, session.session_name, "AssumedRole", self.account_id,
                         f"{role_id}:{session.session_name}", session.access_key_id, session.role_arn, role_id,
                         session.role_arn.rsplit("/", 1)[-1], getattr(session, "kmslab_created", None),
                         getattr(session, "kmslab_expires", None))

    def note_session(self, access_key_id: str, created: str, expires: str, policy_arns: list[str]) -> None:
        """Keep what moto does not keep of a new session: when it began and ends on the lab clock, and its
        managed session policies (``PolicyArns``)."""
        session = self.sts.get_assumed_role_from_access_key(access_key_id)
        if session is not None:
            role = self._role_by_arn(session.role_arn)
            session.kmslab_role_id = role.id if role is not None else ""
            session.kmslab_created = created
            session.kmslab_expires = expires
            session.kmslab_policy_arns = tuple(policy_arns)

    def role_max_session(self, role_arn: str) -> int | None:
        """A role's MaxSessionDuration in seconds (3600 unless set), or None for no such role."""
        role = self._role_by_arn(role_arn)
        return int(getattr(role, "max_session_duration", None) or 3600) if role is not None else None

    def trust_policy(self, role_arn: str) -> str | None:
        """The trust policy of a role of this account, or None (no such role)."""
        role = self._role_by_arn(role_arn)
        return _as_text(role.assume_role_policy_document) if role is not None else None

    def principal_named(self, name_or_arn: str) -> Principal:
        """A principal from a user name, a user ARN, the account root ARN, or a role (``role/<name>`` or
        its ARN): a session of that role named ``explain``, without session policies."""
        root = f"arn:aws:iam::{self.account_id}:root"
        if name_or_arn in (root, self.account_id, "root"):
            return Principal(root, "root", "Account", self.account_id, self.account_id)
        if name_or_arn.startswith("role/") or ":role/" in name_or_arn:
            role = self.role(name_or_arn if name_or_arn.startswith("arn:") else name_or_arn.rsplit("/", 1)[-1])
            if role is None:
                known = ", ".join(sorted(r.name for r in self.iam.roles.values())) or "none"
                raise KeyError(f"no IAM role {name_or_arn!r} in the lab (roles: {known})")
            return Principal(f"arn:aws:sts::{self.account_id}:assumed-role/{role.name}/explain", "explain",
                             "AssumedRole", self.account_id, f"{role.id}:explain", None, role.arn, role.id,
                             role.name)
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        user = self.iam.users.get(name)
        if user is None:
            known = ", ".join(sorted(self.iam.users)) or "none"
            raise KeyError(f"no IAM user named {name!r} in the lab (users: {known})")
        return self._user_principal(user, None)

    def _user_principal(self, user: Any, access_key_id: str | None) -> Principal:
        return Principal(user.arn, user.name, "User", self.account_id, user.id, access_key_id)

    def principal_exists(self, arn: str) -> bool:
        """Whether an AWS principal named in a key policy exists (KMS validates this)."""
        if arn == "*" or arn == self.account_id:
            return True
        if arn.endswith(":root"):
            return True  # account principals are always valid
        if ":user/" in arn:
            return any(u.arn == arn for u in self.iam.users.values())
        if ":role/" in arn:
            return any(r.arn == arn for r in self.iam.roles.values())
        return False

    def identity_policies(self, principal: Principal) -> list[tuple[str, str]]:
        """The caller's identity-based policies as ``(label, document)``: inline, attached, groups; for a
        role session, its role's inline and attached policies."""
        if principal.kind == "AssumedRole":
            role = self._role_by_arn(principal.role_arn or "")
            if role is None:
                return []
            found = [(f"role {role.name} inline policy {name}", _as_text(document))
                     for name, document in sorted(role.policies.items())]
            found += [(f"{policy.name} (attached to role {role.name})", _as_text(_default_document(policy)))
                      for policy in role.managed_policies.values()]
            return found
        if principal.kind != "User":
            return []
        user = self.iam.users.get(principal.name)
        if user is None:
            return []
        found: list[tuple[str, str]] = []
        for name, document in sorted(user.policies.items()):
            found.append((f"inline policy {name}", _as_text(document)))
        for policy in user.managed_policies.values():
            found.append((policy.name, _as_text(_default_document(policy))))
        for group in self.iam.get_groups_for_user(user.name):
            for name, document in sorted(group.policies.items()):
                found.append((f"group {group.name} inline policy {name}", _as_text(document)))
            for policy in group.managed_policies.values():
                found.append((f"{policy.name} (via group {group.name})", _as_text(_default_document(policy))))
        return found

    def permissions_boundary(self, principal: Principal) -> tuple[str, str] | None:
        """The permissions boundary of a user, or of a session's role, as ``(label, document)``; None
        when there is none. A boundary that names a policy that does not exist allows nothing."""
        if principal.kind == "AssumedRole":
            holder = self._role_by_arn(principal.role_arn or "")
        elif principal.kind == "User":
            holder = self.iam.users.get(principal.name)
        else:
            return None
        arn = getattr(holder, "permissions_boundary_arn", None) if holder is not None else None
        if not arn:
            return None
        return (f"permissions boundary {arn.rsplit('/', 1)[-1]}", self.managed_policy_document(arn))

    def session_policies(self, principal: Principal) -> list[tuple[str, str]]:
        """The session policies passed when a role session was created (``Policy`` and ``PolicyArns``)."""
        if principal.kind != "AssumedRole" or not principal.access_key_id:
            return []
        session = self.sts.get_assumed_role_from_access_key(principal.access_key_id)
        if session is None:
            return []
        found = [("session policy (Policy)", session.policy)] if session.policy else []
        for arn in getattr(session, "kmslab_policy_arns", ()):
            found.append((f"session policy {arn.rsplit('/', 1)[-1]}", self.managed_policy_document(arn)))
        return found

    def managed_policy_document(self, arn: str) -> str:
        """The default version of a managed policy; one that no longer exists allows nothing."""
        policy = self.iam.managed_policies.get(arn)
        return _as_text(_default_document(policy)) if policy is not None else ALLOWS_NOTHING

    def organization_policies(self, kind: str) -> dict[str, list[tuple[str, str]]] | None:
        """The SCPs (``"scp"``) or RCPs (``"rcp"``) that apply to this account, by level; None if none do."""
        return organization_policies(self.account_id, kind)

    def set_user_boundary(self, name: str, arn: str | None) -> None:
        """Give user ``name`` a permissions boundary (moto keeps only roles' boundaries)."""
        user = self.iam.users.get(name)
        if user is not None:
            user.permissions_boundary_arn = arn

    def managed_policy_exists(self, arn: str) -> bool:
        return arn in self.iam.managed_policies

    # -- keys -----------------------------------------------------------------------------------
    def key(self, ref: str | None) -> KeyInfo | None:
        """Resolve a key ID, key ARN, alias name or alias ARN; None if no such key."""
        if not ref or not isinstance(ref, str) or names_elsewhere(ref, self.account_id, self.region):
            return None  # KMS never resolves another account's or region's ARN to a key of this one
        kms = self.kms
        key_id = ref
        if "alias/" in ref:
            alias = ref[ref.index("alias/"):]
            key_id = kms.get_key_id_from_alias(alias)
            if key_id is None:
                return None
        elif ref.startswith("arn:"):
            key_id = ref.rsplit("/", 1)[-1]
        key = kms.keys.get(key_id)
        if key is None:
            return None
        grants = tuple(grant.to_json() for grant in key.grants.values())
        return KeyInfo(key.id, key.arn, key.key_state, key.key_manager, key.policy or "", grants,
                       key.deletion_date)

    def key_arn(self, key_id: str) -> str:
        return f"arn:aws:kms:{self.region}:{self.account_id}:key/{key_id}"

    def keys(self) -> Iterator[KeyInfo]:
        """Every key of the account and region (deleted keys are gone)."""
        for key_id in list(self.kms.keys):
            info = self.key(key_id)
            if info is not None:
                yield info

    def key_id_for_alias(self, alias: str) -> str | None:
        """The key an existing alias points to (a reserved ``alias/aws/...`` is not created by asking)."""
        if not self.kms.alias_exists(alias):
            return None
        return self.kms.get_key_id_from_alias(alias)

    # -- what AWS itself does to keys -----------------------------------------------------------
    def create_service_grant(self, key_id: str, grantee: str, operations: list[str], name: str,
                             constraints: dict[str, Any], retiring: str) -> bool:
        """A grant an AWS service makes for itself (DynamoDB on the key of a new table)."""
        self.kms.create_grant(key_id, grantee, operations, name, constraints, retiring)
        return True

    def retire_table_grants(self, table_name: str) -> list[tuple[str, str]]:
        """Retire the grants DynamoDB made for ``table_name``: ``(key ARN, grant ID)`` of each."""
        retired = []
        for key in list(self.kms.keys.values()):
            for grant in list(key.grants.values()):
                subset = (grant.constraints or {}).get("EncryptionContextSubset") or {}
                if subset.get("aws:dynamodb:tableName") == table_name and \
                        grant.grantee_principal.startswith("dynamodb."):
                    key.retire_grant(grant.id)
                    retired.append((key.arn, grant.id))
        return retired

    def correct_aws_managed_key(self, key_id: str, policy: str) -> bool:
        """Give an AWS managed key AWS's key policy and manager (moto gives it a customer key's)."""
        key = self.kms.keys[key_id]
        key.policy = policy
        key.key_manager = "AWS"
        return True

    def set_deletion_date(self, key_id: str, when: datetime) -> bool:
        """Put a key's deletion date on the lab clock (naive UTC, as moto keeps it)."""
        self.kms.keys[key_id].deletion_date = when.replace(tzinfo=None)
        return True

    def delete_key(self, key_id: str) -> bool:
        """Delete a key whose waiting period ended (its aliases go with it)."""
        self.kms.delete_key(key_id)
        return True

    # -- users ----------------------------------------------------------------------------------
    def user_path(self, name: str) -> str | None:
        """The path of IAM user ``name``, or None if there is no such user."""
        user = self.iam.users.get(name)
        return user.path if user is not None else None

    def iam_path(self, kind: str, name: str) -> str | None:
        """The path of the IAM group, role or instance profile ``name`` (None: there is none)."""
        found = {"group": self.iam.groups, "role": {r.name: r for r in self.iam.roles.values()},
                 "instance-profile": {p.name: p for p in self.iam.instance_profiles.values()}}[kind].get(name)
        return found.path if found is not None else None

    def active_access_key(self, name: str) -> tuple[str, str] | None:
        """An active access key of user ``name`` as ``(id, secret)``; KeyError if there is no such user."""
        user = self.iam.users.get(name)
        if user is None:
            raise KeyError(name)
        for key in user.access_keys:
            if key.status == "Active":
                return key.access_key_id, key.secret_access_key
        return None

    # -- tables ---------------------------------------------------------------------------------
    def table(self, name: str | None) -> TableInfo | None:
        """The table of this account and region named ``name`` (a name, never an ARN: the enforcer
        resolves ARNs, refusing those of another account or region)."""
        if not name:
            return None
        table = self.dynamodb.tables.get(name)
        if table is None:
            return None
        return TableInfo(table.name, table.table_arn, _key_ref(table.sse_specification))

    def table_policy(self, table_arn: str) -> str | None:
        """The resource-based policy of a table of this account and region (PutResourcePolicy), or None."""
        policy = self.dynamodb.resource_policies.get(table_arn)
        return policy.policy_doc if policy is not None else None

    def partiql_sources(self) -> dict[str, str]:
        """What a PartiQL statement can name (tables and ``table.index``), each with its table's name."""
        sources = {}
        for table in list(self.dynamodb.tables.values()):
            sources[table.name] = table.name
            for index in table.all_indexes():
                sources[f"{table.name}.{index.name}"] = table.name
        return sources

    def backup(self, arn: str | None) -> BackupInfo | None:
        backup = self.dynamodb.backups.get(arn) if arn else None
        if backup is None:
            return None
        return BackupInfo(backup.arn, backup.table.name, backup.table.table_arn,
                          _key_ref(backup.table.sse_specification))

    def date_backup(self, arn: str, when: datetime) -> str:
        """Put a new backup on the lab clock (its ARN carries its creation time): the ARN it then has."""
        backup = self.dynamodb.backups.pop(arn, None)
        if backup is None:
            return arn
        backup.creation_date_time = when.replace(tzinfo=None)
        backup.identifier = backup._make_identifier()
        self.dynamodb.backups[backup.arn] = backup
        return backup.arn

    def set_table_key(self, name: str, key_arn: str | None) -> bool:
        """Put a table under ``key_arn`` (None: the AWS owned key), as DynamoDB does on a key switch or a
        restore (moto ignores both)."""
        table = self.dynamodb.tables[name]
        table.sse_specification = ({"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn}
                                   if key_arn else None)
        return True

    def aws_managed_key_arn(self) -> str:
        """The AWS managed key ``aws/dynamodb``, created on first use as AWS creates it."""
        from moto.dynamodb.models.table import Table
        key_id = Table._get_default_encryption_key(None, self.account_id, self.region)  # type: ignore[arg-type]
        return self.key_arn(self.kms.get_key_id_from_alias("alias/aws/dynamodb") or key_id)

    def archival_backup(self, name: str, when: datetime | None = None) -> str | None:
        """The on-demand backup DynamoDB makes when it archives a table (DynamoDB guide): its ARN."""
        from moto.dynamodb.models.table import Backup
        table = self.dynamodb.tables.get(name)
        if table is None:
            return None
        backup = Backup(self.account_id, self.region, f"{name}-archival", table, type_="SYSTEM")
        self.dynamodb.backups[backup.arn] = backup
        return backup.arn if when is None else self.date_backup(backup.arn, when)

    def table_arn(self, name: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/{name}"


def names_elsewhere(ref: str, account_id: str, region: str) -> bool:
    """Whether an ARN names a resource of another account or region (a plain name or ID never does)."""
    if not ref.startswith("arn:"):
        return False
    parts = ref.split(":", 5)
    return len(parts) != 6 or parts[3] != region or parts[4] != account_id


def _key_ref(sse: dict[str, Any] | None) -> str | None:
    sse = sse or {}
    return sse.get("KMSMasterKeyId") if sse.get("Enabled") else None


def _default_document(policy: Any) -> Any:
    for version in policy.versions:
        if version.version_id == policy.default_version_id:
            return version.document
    return policy.versions[-1].document if policy.versions else "{}"


def _as_text(document: Any) -> str:
    if isinstance(document, str):
        return document
    return json.dumps(document)


#: The management account of the organization a lab can join (the documentation's example account).
MANAGEMENT_ACCOUNT = "111122223333"

_ORG_KINDS = {"scp": "SERVICE_CONTROL_POLICY", "rcp": "RESOURCE_CONTROL_POLICY"}


class Organization:
    """An AWS Organizations organization whose management account is not the lab's, with the lab's account
    as a member, kept in moto's Organizations backend of the management account.

    SCPs and RCPs are made and attached here, as the management account's administrator makes them (the
    lab's own account is a member: AWS lets only the management account, or a delegated administrator,
    manage an organization's policies). The lab's enforcer reads them on every request.
    """

    def __init__(self, account_id: str, region: str) -> None:
        from moto.organizations.models import FakeAccount, organizations_backends
        self.account_id = account_id
        backend = organizations_backends[MANAGEMENT_ACCOUNT]["aws"]
        if backend.org is None:
            backend.create_organization(region=region, FeatureSet="ALL")
            root = backend.ou[0]
            for kind in _ORG_KINDS.values():
                root.add_policy_type(kind)
        if not any(a.id == account_id for a in backend.accounts):
            member = FakeAccount(backend.org, AccountName="lab", Email="lab@example.com")
            member.id = account_id
            member.joined_method = "INVITED"
            backend.accounts.append(member)
            from moto.organizations import utils
            for policy_id in (utils.DEFAULT_SCP_POLICY_ID, utils.DEFAULT_RCP_POLICY_ID):
                backend.attach_policy(PolicyId=policy_id, TargetId=account_id)
            organizations_backends.master_accounts[account_id] = (MANAGEMENT_ACCOUNT, "aws")
        self._backend = backend

    @property
    def id(self) -> str:
        return self._backend.org.id

    @property
    def root_id(self) -> str:
        return self._backend.ou[0].id

    def _target(self, target: str) -> str:
        return {"root": self.root_id, "account": self.account_id}.get(target, target)

    def attach(self, kind: str, name: str, document: dict[str, Any] | str, target: str = "root") -> str:
        """Create an SCP (``kind="scp"``) or RCP (``"rcp"``) named ``name`` and attach it to ``target``
        (``"root"``, ``"account"`` or an OU ID); its policy ID. The document is validated as AWS
        Organizations validates it (an SCP names no principal; an RCP names ``"*"``)."""
        from ._evaluator import check_policy_document
        text = document if isinstance(document, str) else json.dumps(document)
        check_policy_document(text, kind="identity-based policy" if kind == "scp" else "resource-based policy")
        policy = self._backend.create_policy(Name=name, Content=text, Description=name, Type=_ORG_KINDS[kind])
        policy_id = policy["Policy"]["PolicySummary"]["Id"]
        self._backend.attach_policy(PolicyId=policy_id, TargetId=self._target(target))
        return policy_id

    def detach(self, name: str, target: str = "root") -> None:
        """Detach the policy named ``name`` from ``target``."""
        policy = next(p for p in self._backend.policies if p.name == name)
        self._backend.detach_policy(PolicyId=policy.id, TargetId=self._target(target))


def organization_policies(account_id: str, kind: str) -> dict[str, list[tuple[str, str]]] | None:
    """The SCPs (``kind="scp"``) or RCPs (``"rcp"``) that apply to ``account_id``, by level from the root
    down to the account, or None when none apply: the account is in no organization, or it is the
    management account ("SCPs don't affect users or roles in the management account", and neither do
    RCPs its resources; AWS Organizations User Guide), or the policy type is not enabled on the root."""
    from moto.organizations.models import organizations_backends
    owner = organizations_backends.master_accounts.get(account_id)
    if owner is None or owner[0] == account_id:
        return None
    backend = organizations_backends[owner[0]][owner[1]]
    if backend.org is None or not backend.ou:
        return None
    policy_type = _ORG_KINDS[kind]
    root = backend.ou[0]
    if not any(t["Type"] == policy_type and t["Status"] == "ENABLED" for t in getattr(root, "policy_types", [])):
        return None
    account = next((a for a in backend.accounts if a.id == account_id), None)
    if account is None:
        return None
    chain = [("account " + account_id, account)]
    parent = account.parent_id
    by_id = {ou.id: ou for ou in backend.ou}
    while parent in by_id:
        node = by_id[parent]
        chain.append(("root" if node.type == "ROOT" else f"OU {node.name}", node))
        parent = node.parent_id if node.type != "ROOT" else None
    levels: dict[str, list[tuple[str, str]]] = {}
    for name, node in reversed(chain):
        levels[name] = [(p.name, p.content) for p in node.attached_policies if p.type == policy_type]
    return levels

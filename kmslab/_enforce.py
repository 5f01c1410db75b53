"""The enforcement point: every AWS call in the process meets the two locks, as it would at AWS.

moto emulates the services but not their authorization: it never evaluates a KMS key policy, its IAM
checks match only ``Resource: "*"``, its DynamoDB never calls KMS, and its KMS never refuses a disabled key.
kmslab therefore stands where AWS's front door stands. For each signed request it:

1. finds the caller from the access key that signed it (an unknown or inactive key gets the service's
   ``UnrecognizedClientException`` / ``InvalidClientTokenId``);
2. authorizes the call's own action on its resource ARN with the evaluator (identity policies; for KMS the
   key policy and grants too);
3. for DynamoDB calls that read or write items of a table under a KMS key, makes the ``kms:Decrypt`` that
   DynamoDB makes *on the caller's behalf* (``kms:ViaService = dynamodb.<region>.amazonaws.com``, the
   table's encryption context), unless the caller's connection holds the table key in its cache;
4. applies KMS key states (Disabled, PendingDeletion) and KMS's own guard rails (the lockout safety check,
   principals that do not exist);
5. passes the call to moto, corrects what moto gets wrong in the answer (the key ARN in ``SSEDescription``,
   the table status when its key is unusable, the AWS managed key's policy), and
6. writes a CloudTrail-shaped record either way, keeping the decisions behind it for ``lab.why()``.

A refused call changes nothing: it is answered before moto sees it.

The enforcer reads the world through a directory: moto's backends in this process
(:class:`kmslab._directory.Directory`), or a foreign emulator's own APIs
(:class:`kmslab._directory_api.ApiDirectory`, which says what cannot be corrected there).

Modelling choices where AWS does not document the exact behaviour (each is said in the notebooks):

- *Table-key cache.* DynamoDB caches the plaintext table key per client connection and asks KMS again after
  about five minutes. kmslab models one connection per access key and table; the cached key is trusted for
  300 s on the lab clock from the ``Decrypt`` that fetched it.
- *Order of checks.* Authorization is decided before the key state, as for other AWS authorization errors.
- *Errors for an unusable key through DynamoDB.* A disabled key gives ``ValidationException`` "KMS key
  disabled error: ... DisabledException ..." (observed in a probe, not in AWS documentation); a key pending
  deletion gives "KMS validation error: ... KMSInvalidStateException ..." (observed on CreateTable, assumed
  for item calls); a deleted key gives the ``NotFoundException`` form seen on CreateTable.
- *Detection delay.* DynamoDB marks a table ``INACCESSIBLE_ENCRYPTION_CREDENTIALS`` some time after its key
  becomes unusable (observed: 13-43 minutes after DisableKey, about 75 minutes after ScheduleKeyDeletion);
  kmslab uses 15 and 75 minutes, and clears the status as soon as the key is usable again. Seven days
  after that detection the table shows ``ARCHIVED`` with an ``ArchivalSummary`` (documented); the
  archival backup and restoring from it are not modelled.
- *Resources.* Alias operations are authorized on the key; IAM list calls on ``*``.
"""

from __future__ import annotations

import base64
import json
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ._directory import Directory, KeyInfo, Principal, TableInfo
from ._trail import Trail, make_record
from ._wire import ApiCall, ErrorReply, access_denied, error_reply

#: How long a connection trusts its cached plaintext table key, in seconds.
TABLE_KEY_CACHE_SECONDS = 300
#: How long DynamoDB takes to notice an unusable key, by key state (modelled; see the docstring).
DETECTION_DELAY = {"Disabled": timedelta(minutes=15), "PendingDeletion": timedelta(minutes=75),
                   "Deleted": timedelta(minutes=15)}

#: How long a table's key may stay inaccessible before DynamoDB archives the table (DynamoDB guide).
ARCHIVAL_AFTER = timedelta(days=7)
#: DynamoDB operations that read or write items, and so need the table key.
ITEM_OPERATIONS = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
    "TransactGetItems", "TransactWriteItems", "ExecuteStatement", "BatchExecuteStatement",
    "ExecuteTransaction",
})
#: KMS operations that a Disabled or PendingDeletion key refuses (KMS key-state table).
CRYPTO_OPERATIONS = frozenset({
    "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "Sign", "Verify", "GenerateMac",
    "VerifyMac", "CreateGrant",
})
#: KMS operations authorized on ``*`` (no key yet, or a listing), by IAM policies alone.
KMS_ACCOUNT_OPERATIONS = frozenset({"CreateKey", "ListKeys", "ListAliases", "GenerateRandom",
                                    "ListRetirableGrants", "CreateCustomKeyStore", "DescribeCustomKeyStores"})
#: KMS operations whose KeyId moto's backend takes only as a key ID (AWS also takes the ARN).
_MOTO_WANTS_KEY_ID = frozenset({"DisableKey", "EnableKey", "ScheduleKeyDeletion", "CancelKeyDeletion"})
#: The operations DynamoDB's own grant allows (DynamoDB developer guide, CreateGrant example).
DYNAMODB_GRANT_OPERATIONS = ["DescribeKey", "GenerateDataKey", "Decrypt", "Encrypt", "ReEncryptFrom",
                             "ReEncryptTo", "RetireGrant"]
_PARTIQL_VERB = re.compile(r"^\s*(select|insert|update|delete|exists)\b", re.I)
_PARTIQL_TABLE = re.compile(r'\b(?:from|into|update)\s+(?:"([^"]+)"|([A-Za-z0-9_.\-]+))', re.I)


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
        verdict = "ALLOWED" if self.allowed else f"REFUSED ({self.error_code})"
        lines = [f"{self.call} by {self.principal}: {verdict}"]
        for check in self.checks:
            mark = "✔" if check.passed else "✘"
            lines.append(f"  {mark} {check.lock}: {check.summary}")
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


class _Refusal(Exception):
    """Internal: a call is refused with this service error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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
        self.directory = directory
        self.clock = clock
        self.trail = trail
        self._evaluate = evaluate
        self._ids = random.Random(seed)
        self.table_key_cache: dict[tuple[str, str], datetime] = {}
        self.unusable_since: dict[str, tuple[datetime, str]] = {}
        self.explanations: dict[str, CallExplanation] = {}
        self.last_refused: CallExplanation | None = None
        self._decisions: dict[tuple, Any] = {}

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
            before = getattr(self, f"_before_{call.service}", None)
            resources = before(call, principal, explanation, request) if before else []
        except _Refusal as refusal:
            reply = self._reply_for(call, refusal, request_id)
            explanation.error_code, explanation.error_message = reply.code, reply.message
            event_id = self._record(call, principal, reply.code, reply.message, [])
            self.explanations[event_id] = explanation
            self.last_refused = explanation
            return reply.status, reply.headers, reply.body
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
        explanation.error_code, explanation.error_message = error_code, error_message
        event_id = self._record(call, principal, error_code, error_message, resources)
        self.explanations[event_id] = explanation
        headers = {k: v for k, v in dict(headers).items() if k.lower() != "content-length"}
        return status, headers, body_text.encode()

    def _front_door(self, request: WireRequest, route: Any) -> tuple[ApiCall | None, Principal | None, str,
                                                                     Reply | None]:
        """Authentication, as AWS's front door makes it (:func:`kmslab._sigv4.front_door`); every refusal is
        recorded."""
        from ._sigv4 import front_door
        request_id = self._uuid()
        call, principal, refusal = front_door(request, route, self.directory, request_id)
        if refusal is None:
            return call, principal, request_id, None
        self._record(call, None, refusal.code, refusal.message, [])
        return call, None, request_id, (refusal.status, refusal.headers, refusal.body)

    def _reply_for(self, call: ApiCall, refusal: _Refusal, request_id: str) -> ErrorReply:
        if refusal.code in ("AccessDeniedException", "AccessDenied"):
            return access_denied(call, refusal.message, request_id)
        return error_reply(call, refusal.code, refusal.message, request_id)

    def _record(self, call: ApiCall, principal: Principal | None, error_code: str | None,
                error_message: str | None, resources: list[dict[str, str]], *,
                operation: str | None = None, service: str | None = None,
                params: dict[str, Any] | None = None, invoked_by: str | None = None) -> str:
        event_id = self._uuid()
        acting_service = principal is not None and principal.kind == "AWSService"
        self.trail.append(make_record(
            event_id=event_id, event_time=self.clock.iso(), service=service or call.service,
            operation=operation or call.operation, region=call.region, principal=principal,
            access_key_id=None if acting_service else call.access_key_id, request_parameters=_public_params(params or call.params),
            resources=resources, error_code=error_code, error_message=error_message, invoked_by=invoked_by))
        return event_id

    # -- policy decisions ---------------------------------------------------------------------------
    def decide(self, principal: Principal, action: str, resource: str, *, key: KeyInfo | None = None,
               context: dict[str, Any] | None = None) -> Any:
        """The evaluator's decision for one request, with the policies in force now.

        Decisions are immutable, so one is reused while everything it was decided from (the caller's
        policies, the key policy and grants, the context, the lab clock) is unchanged.
        """
        full_context = {"aws:CurrentTime": self.clock.iso()}
        if principal.kind == "User":
            full_context["aws:userid"] = principal.user_id
        full_context.update(context or {})
        identity = self.directory.identity_policies(principal)
        cache_key = (principal.arn, action, resource, tuple(identity),
                     (key.policy, _grants_key(key.grants)) if key is not None else None,
                     _context_key(full_context))
        cached = self._decisions.get(cache_key)
        if cached is not None:
            return cached
        kwargs: dict[str, Any] = {"identity_policies": identity, "context": full_context}
        if key is not None:
            kwargs["resource_policy"] = ("key policy", key.policy)
            kwargs["grants"] = key.grants
        decision = self._evaluate(principal.arn, action, resource, **kwargs)
        if len(self._decisions) >= 4096:
            self._decisions.clear()
        self._decisions[cache_key] = decision
        return decision

    def _authorize(self, principal: Principal, action: str, resource: str, explanation: CallExplanation,
                   lock: str, *, key: KeyInfo | None = None, context: dict[str, Any] | None = None,
                   denied_code: str = "AccessDeniedException") -> Any:
        decision = self.decide(principal, action, resource, key=key, context=context)
        explanation.checks.append(Check(lock, decision.allowed, _decision_summary(decision), decision))
        if not decision.allowed:
            raise _Refusal(denied_code, decision.message or f"not authorized to perform {action}")
        return decision

    # -- DynamoDB -----------------------------------------------------------------------------------
    def _before_dynamodb(self, call: ApiCall, principal: Principal, explanation: CallExplanation,
                         request: Any) -> list[dict[str, str]]:
        resources = []
        for action, table_name in _dynamodb_requests(call):
            resource = self.directory.table_arn(table_name) if table_name else "*"
            self._authorize(principal, action, resource, explanation, "DynamoDB permission")
            if table_name:
                resources.append({"ARN": resource, "accountId": principal.account_id,
                                  "type": "AWS::DynamoDB::Table"})
        if call.operation in ITEM_OPERATIONS:
            seen = set()
            for _, table_name in _dynamodb_requests(call):
                table = self.directory.table(table_name)
                if table is None or table.kms_key_ref is None or table.name in seen:
                    continue
                seen.add(table.name)
                self._table_key(call, principal, table, explanation)
        elif call.operation in ("CreateTable", "UpdateTable"):
            self._select_key(call, principal, explanation, request)
        return resources

    def _table_key(self, call: ApiCall, principal: Principal, table: TableInfo,
                   explanation: CallExplanation) -> None:
        """The ``kms:Decrypt`` DynamoDB makes for the caller, unless the table key is cached."""
        cache_key = (principal.access_key_id or principal.arn, table.arn)
        expires = self.table_key_cache.get(cache_key)
        if expires is not None and self.clock.now < expires:
            left = int((expires - self.clock.now).total_seconds())
            explanation.checks.append(Check(
                "table key cache", True,
                f"DynamoDB reused the table key it decrypted for this connection earlier "
                f"(no call to KMS; KMS is asked again in {left} s)"))
            return
        self.table_key_cache.pop(cache_key, None)
        params = {"encryptionContext": _encryption_context(self.directory.account_id, table.name),
                  "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        checks, key_arn = self._decrypt_checks(principal, table, call.region)
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
        """CreateTable/UpdateTable choosing a customer managed key: DescribeKey and CreateGrant as the caller."""
        sse = call.params.get("SSESpecification") or {}
        ref = sse.get("KMSMasterKeyId")
        if not (sse.get("Enabled") and ref):
            return
        key = self.directory.key(ref)
        if key is None:
            arn = _key_arn_from_ref(self.directory, ref)
            raise self._through_dynamodb("NotFoundException", f"Key '{arn}' does not exist")
        table_name = call.params.get("TableName", "")
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
        # Real DynamoDB reports the key ARN whatever form of key reference was given.
        if ref != key.arn:
            body = json.loads(request.body)
            body["SSESpecification"]["KMSMasterKeyId"] = key.arn
            request.body = json.dumps(body).encode()

    def _after_dynamodb(self, call: ApiCall, principal: Principal, body: str) -> str | None:
        if call.operation == "CreateTable":
            self._after_create_table(call, principal)
        elif call.operation == "DeleteTable":
            self._retire_table_grants(call, call.params.get("TableName", ""))
        if call.operation in ("DescribeTable", "CreateTable", "UpdateTable", "DeleteTable"):
            data = json.loads(body)
            for field_name in ("Table", "TableDescription"):
                if field_name in data:
                    self._correct_table_description(data[field_name])
            return json.dumps(data)
        return None

    def _after_create_table(self, call: ApiCall, principal: Principal) -> None:
        table = self.directory.table(call.params.get("TableName"))
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
        if not sse or description.get("TableStatus") == "DELETING":
            return
        key = self.directory.key(sse.get("KMSMasterKeyArn"))
        if key is not None:
            sse["KMSMasterKeyArn"] = key.arn
        arn = key.arn if key else _key_arn_from_ref(self.directory, sse.get("KMSMasterKeyArn") or "")
        since = self.unusable_since.get(arn)
        if since is None:
            return
        when, state = since
        detected = when + DETECTION_DELAY.get(state, DETECTION_DELAY["Disabled"])
        if self.clock.now >= detected:
            description["TableStatus"] = "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
            sse["InaccessibleEncryptionDateTime"] = detected.timestamp()
        archived = detected + ARCHIVAL_AFTER
        if self.clock.now >= archived:
            # DynamoDB guide: a key inaccessible for more than seven days gets the table archived, with an
            # on-demand backup made at archival time.
            description["TableStatus"] = "ARCHIVED"
            description["ArchivalSummary"] = {
                "ArchivalDateTime": archived.timestamp(),
                "ArchivalReason": "INACCESSIBLE_ENCRYPTION_CREDENTIALS",
                "ArchivalBackupArn": f"{description.get('TableArn', '')}/backup/archival",
            }

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
        checks = _kms_key_refs(call)
        resources = []
        for op_action, ref in checks:
            key = self.directory.key(ref)
            if key is None:
                return resources  # moto answers NotFoundException, as KMS does
            context = {"kms:CallerAccount": principal.account_id}
            for name, value in (call.params.get("EncryptionContext") or {}).items():
                context[f"kms:EncryptionContext:{name}"] = value
            if call.params.get("EncryptionContext"):
                context["kms:EncryptionContextKeys"] = sorted(call.params["EncryptionContext"])
            if call.operation == "CreateGrant":
                context["kms:GrantOperations"] = call.params.get("Operations", [])
                context["kms:GranteePrincipal"] = call.params.get("GranteePrincipal", "")
            self._authorize(principal, op_action, key.arn, explanation, "KMS key", key=key, context=context)
            resources.append({"ARN": key.arn, "accountId": principal.account_id, "type": "AWS::KMS::Key"})
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

    def _guard_key_policy(self, call: ApiCall, principal: Principal, key: KeyInfo | None,
                          explanation: CallExplanation) -> None:
        """KMS's checks on a new key policy: principals must exist, and the lockout safety check."""
        text = call.params.get("Policy")
        if not text:
            return
        try:
            document = json.loads(text)
        except ValueError as error:
            raise _Refusal("MalformedPolicyDocumentException", "The policy document is not valid JSON.") \
                from error
        for arn in _policy_principals(document):
            if not self.directory.principal_exists(arn):
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
        """Note when each key became unusable (or usable again), on the lab clock."""
        present = set()
        for key in self.directory.keys():
            present.add(key.arn)
            unusable = key.state in ("Disabled", "PendingDeletion")
            if unusable:
                since = self.unusable_since.get(key.arn)
                if since is None or (since[1] != key.state and key.state == "PendingDeletion"):
                    self.unusable_since[key.arn] = (self.clock.now, key.state)
            else:
                self.unusable_since.pop(key.arn, None)
        for arn in list(self.unusable_since):
            if arn not in present and self.unusable_since[arn][1] != "Deleted":
                self.unusable_since[arn] = (self.unusable_since[arn][0], "Deleted")

    def delete_due_keys(self) -> list[str]:
        """Delete the keys whose waiting period has ended on the lab clock, as KMS does."""
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
                service = _service_principal("kms.amazonaws.com", self.directory.account_id)
                self._record(call, service, None, None, [{"ARN": arn, "accountId": self.directory.account_id,
                                                          "type": "AWS::KMS::Key"}],
                             invoked_by="kms.amazonaws.com")
        self.refresh_key_states()
        return deleted

    # -- IAM and STS --------------------------------------------------------------------------------
    def _before_iam(self, call: ApiCall, principal: Principal, explanation: CallExplanation,
                    request: Any) -> list[dict[str, str]]:
        resource = _iam_resource(self.directory, call)
        self._authorize(principal, f"iam:{call.operation}", resource, explanation, "IAM permission",
                        denied_code="AccessDenied")
        return []

    def _before_sts(self, call: ApiCall, principal: Principal, explanation: CallExplanation,
                    request: Any) -> list[dict[str, str]]:
        if call.operation == "GetCallerIdentity":
            explanation.checks.append(Check("no permission needed", True,
                                            "GetCallerIdentity needs no permission, and a deny cannot block it"))
            return []
        self._authorize(principal, f"sts:{call.operation}", "*", explanation, "IAM permission",
                        denied_code="AccessDenied")
        return []


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


def _context_key(context: dict[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in context.items()))


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
    """(IAM action, table name) pairs that one DynamoDB call is authorized on."""
    params = call.params
    op = call.operation
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{op}", name) for name in sorted(params.get("RequestItems", {}))]
    if op == "TransactGetItems":
        return [("dynamodb:GetItem", item["Get"]["TableName"]) for item in params.get("TransactItems", [])]
    if op == "TransactWriteItems":
        names = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                 "ConditionCheck": "ConditionCheckItem"}
        pairs = []
        for item in params.get("TransactItems", []):
            for kind, action in names.items():
                if kind in item:
                    pairs.append((f"dynamodb:{action}", item[kind]["TableName"]))
        return pairs
    if op in ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"):
        statements = [params.get("Statement", "")] if op == "ExecuteStatement" else [
            s.get("Statement", "") for s in params.get("Statements") or params.get("TransactStatements") or []]
        return [_partiql_request(statement) for statement in statements]
    return [(f"dynamodb:{op}", params.get("TableName"))]


def _partiql_request(statement: str) -> tuple[str, str | None]:
    verb = _PARTIQL_VERB.match(statement)
    action = {"select": "PartiQLSelect", "exists": "PartiQLSelect", "insert": "PartiQLInsert",
              "update": "PartiQLUpdate", "delete": "PartiQLDelete"}.get(verb.group(1).lower() if verb else "",
                                                                         "PartiQLSelect")
    table = _PARTIQL_TABLE.search(statement)
    name = (table.group(1) or table.group(2)).split(".", 1)[0] if table else None
    return f"dynamodb:{action}", name


def _iam_resource(directory: Directory, call: ApiCall) -> str:
    params = call.params
    account = directory.account_id
    if "PolicyArn" in params and call.operation not in ("AttachUserPolicy", "DetachUserPolicy",
                                                        "AttachRolePolicy", "DetachRolePolicy",
                                                        "AttachGroupPolicy", "DetachGroupPolicy"):
        return params["PolicyArn"]
    if "UserName" in params:
        path = directory.user_path(params["UserName"]) or params.get("Path", "/")
        return f"arn:aws:iam::{account}:user{path}{params['UserName']}"
    if "RoleName" in params:
        return f"arn:aws:iam::{account}:role{params.get('Path', '/')}{params['RoleName']}"
    if "GroupName" in params:
        return f"arn:aws:iam::{account}:group{params.get('Path', '/')}{params['GroupName']}"
    if call.operation == "CreatePolicy" and "PolicyName" in params:
        return f"arn:aws:iam::{account}:policy{params.get('Path', '/')}{params['PolicyName']}"
    return "*"


_SECRET_PARAMS = {"Plaintext", "CiphertextBlob", "SecretAccessKey", "Password", "Item", "Key",
                  "ExpressionAttributeValues", "Statement", "Parameters", "RequestItems", "TransactItems"}


def _public_params(params: dict[str, Any]) -> dict[str, Any]:
    """Request parameters as CloudTrail would log them: no item data, no key material."""
    return {k[:1].lower() + k[1:]: ("HIDDEN_DUE_TO_SECURITY_REASONS" if k in _SECRET_PARAMS else v)
            for k, v in params.items()}

"""The lab's trail: every call authorized or refused, as CloudTrail records.

Each record is a plain dict with the field names and nesting of a CloudTrail event, so that what a learner
reads here is what they will later read in CloudTrail (and the tools they use there work on it: see
:meth:`Trail.to_cloudtrail_json`, which writes CloudTrail's log-file format ``{"Records": [...]}``).
``kmslab/_schemas/cloudtrail_record.schema.json`` is a JSON Schema of the record, written from the pages
below; the tests validate every record a lab run produces against it.

Sources (AWS documentation):

- CloudTrail user guide, "CloudTrail record contents" (the fields, their meaning, which are optional) and
  "CloudTrail userIdentity element" (``type``, ``principalId``, ``arn``, ``accountId``, ``accessKeyId``,
  ``userName``; ``invokedBy`` "the name of the AWS service that made the request", inside ``userIdentity``
  only; for a role session ``type`` ``AssumedRole``, ``principalId`` ``<role ID>:<session name>``, the
  ``assumed-role`` ARN and ``sessionContext`` with ``sessionIssuer`` (the role: ``type`` ``Role``, its
  ``principalId``, ``arn``, ``accountId``, ``userName``), ``webIdFederationData`` and ``attributes``
  ``creationDate`` / ``mfaAuthenticated``), and "AWS service events" (``eventType`` ``AwsServiceEvent``).
- KMS developer guide, "Examples of AWS KMS log entries" (``ct-*.html``): ``readOnly`` is ``true`` for
  Decrypt, Encrypt, ReEncrypt, GenerateDataKey, GenerateRandom, DescribeKey, GetKeyPolicy and ``false``
  for CreateGrant, RetireGrant, DeleteKey; ``responseElements`` is ``null`` for the cryptographic calls;
  GenerateRandom, which names no key, has ``"resources": []``; the DeleteKey that KMS makes at the end of a
  deletion window is an ``AwsServiceEvent`` with ``"userIdentity": {"accountId": ..., "invokedBy": "AWS
  Internal"}``, ``sourceIPAddress`` and ``userAgent`` ``AWS Internal``, ``requestParameters`` ``null``, no
  ``requestID``, and ``serviceEventDetails`` ``{"keyId": ...}``.
- DynamoDB developer guide, "Monitoring DynamoDB interaction with AWS KMS": the Decrypt and CreateGrant
  DynamoDB makes for a caller carry the caller's ``userIdentity`` with ``"invokedBy":
  "dynamodb.amazonaws.com"``, and ``sourceIPAddress`` / ``userAgent`` ``dynamodb.amazonaws.com``; the
  GenerateDataKey DynamoDB makes with its own grant has ``{"type": "AWSService", "invokedBy":
  "dynamodb.amazonaws.com"}`` and a ``sharedEventID``.
- DynamoDB developer guide, "Logging DynamoDB operations by using AWS CloudTrail": item-level calls
  (GetItem, PutItem, Query, Scan, the batch, transaction and PartiQL calls) are *data events*
  (``eventCategory`` ``Data``, ``managementEvent`` ``false``); everything else, KMS included, is a
  management event.

Modelling choices where the documentation is silent (each said here and in the lead's notes):

- ``eventVersion`` is ``1.11``, the current version in the record-contents page. Optional fields the lab
  has nothing for (``tlsDetails``, ``sessionCredentialFromConsole``, ``vpcEndpointId``...) are left out.
- ``readOnly`` for operations no example shows: ``true`` for names starting with Get, Describe, List,
  BatchGet, TransactGet, Scan and Query, and for KMS's cryptographic operations that change nothing
  (Sign, Verify, GenerateMac, VerifyMac, the GenerateDataKey family); ``false`` otherwise, the PartiQL calls
  (ExecuteStatement and its batch and transaction forms) included, since they may write.
- ``sharedEventID`` is set on the calls an AWS service makes with its own identity (``AWSService``), as the
  documented GenerateDataKey has it; CloudTrail sets it when one action is delivered to two accounts (the
  service's and the key owner's). Calls within the lab's one account have none.
- ``sourceIPAddress`` of a direct call is ``127.0.0.1`` (the lab is in this process), and ``userAgent`` is
  the one the enforcer passes, ``kmslab/boto3`` when it passes none.
- ``requestID`` is the one the enforcer passes (the ID the caller saw); when it passes none, an ID derived
  from the record's ``eventID`` (deterministic, and it draws nothing from the lab's seeded generator, so
  the other IDs of a run stay as they were). ``responseElements`` is what the enforcer passes, else
  ``null``: the lab does not copy the answers of calls that change state into their records.
- A request signed with an access key the lab does not know is recorded with ``userIdentity`` ``{"type":
  "Unknown", "accessKeyId": ...}`` and the lab's account as ``recipientAccountId``. CloudTrail may not
  deliver such an event to any account (no account owns the key); the lab keeps it so that the learner
  sees the refusal.

Three differences from CloudTrail, all said in the notebooks: CloudTrail logs data events only for a trail
configured for them (and bills them), where the lab records all of them; CloudTrail delivers events some
minutes after the call, where the lab's trail has them at once; and the lab keeps only the newest
:data:`MAX_RECORDS` records (CloudTrail's event history keeps 90 days of management events).

Times come from the lab's simulated clock and IDs from a seeded generator: the same steps give the same
trail.
"""

from __future__ import annotations

import copy
import gzip
import html
import json
import os
import random
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._directory import Principal

#: The newest records a lab keeps; older ones are dropped, first in first out. A record is about 1 KB of
#: JSON; 10,000 of them hold about 12 MB in memory (measured), far more than a notebook session makes.
MAX_RECORDS = 10_000
#: The record format's version (CloudTrail record contents: "The current version is 1.11").
EVENT_VERSION = "1.11"
#: The user agent recorded for a direct call when the enforcer passes none (a modelling choice).
DEFAULT_USER_AGENT = "kmslab/boto3"
#: The source address of a direct call: the lab runs in this process.
LOCAL_SOURCE_IP = "127.0.0.1"
#: What CloudTrail writes for who and where when a service acts on its own (KMS DeleteKey example).
AWS_INTERNAL = "AWS Internal"
#: JSON Schemas (Draft 2020-12) of a record and of a log file, shipped with the package.
SCHEMA_DIR = Path(__file__).resolve().parent / "_schemas"
RECORD_SCHEMA = SCHEMA_DIR / "cloudtrail_record.schema.json"
LOG_FILE_SCHEMA = SCHEMA_DIR / "cloudtrail_log_file.schema.json"

_SERVICE_HOST = {"dynamodb": "dynamodb.amazonaws.com", "kms": "kms.amazonaws.com",
                 "iam": "iam.amazonaws.com", "sts": "sts.amazonaws.com"}

#: DynamoDB's item-level operations: CloudTrail data events (DynamoDB developer guide, CloudTrail logging).
DYNAMODB_DATA_EVENTS = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
    "TransactGetItems", "TransactWriteItems", "ExecuteStatement", "BatchExecuteStatement",
    "ExecuteTransaction",
})
#: KMS operations that change nothing, readOnly true (KMS log-entry examples; the rest by the same rule).
_KMS_READ_ONLY = frozenset({
    "Decrypt", "Encrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateRandom", "Sign", "Verify",
    "GenerateMac", "VerifyMac", "DeriveSharedSecret",
})
_READ_ONLY_PREFIXES = ("Get", "Describe", "List", "BatchGet", "TransactGet", "Scan", "Query")


def read_only(service: str, operation: str) -> bool:
    """CloudTrail's ``readOnly`` for one operation (see the module docstring for the sources and rule)."""
    if service == "kms" and operation in _KMS_READ_ONLY:
        return True
    return operation.startswith(_READ_ONLY_PREFIXES)


def event_category(service: str, operation: str) -> str:
    """``Data`` for DynamoDB's item-level calls, ``Management`` for every other call the lab records."""
    return "Data" if service == "dynamodb" and operation in DYNAMODB_DATA_EVENTS else "Management"


def _derived_id(kind: str, event_id: str) -> str:
    """A UUID determined by the record's eventID (seeded IDs without drawing from the lab's generator)."""
    return str(uuid.UUID(int=random.Random(f"{kind}:{event_id}").getrandbits(128), version=4))


def _user_identity(principal: Principal | None, access_key_id: str | None, invoked_by: str | None,
                   account_id: str, service_event: bool) -> dict[str, Any]:
    if service_event:  # KMS DeleteKey / RotateKey examples
        return {"accountId": account_id, "invokedBy": AWS_INTERNAL}
    if principal is None:
        identity: dict[str, Any] = {"type": "Unknown"}
    elif principal.kind == "AWSService":  # DynamoDB's GenerateDataKey example: type and invokedBy only
        return {"type": "AWSService", "invokedBy": invoked_by or f"{principal.name}.amazonaws.com"}
    elif principal.kind == "Account":
        identity = {"type": "Root", "principalId": principal.account_id, "arn": principal.arn,
                    "accountId": principal.account_id}
    elif principal.kind == "AssumedRole":
        identity = {"type": "AssumedRole", "principalId": principal.user_id, "arn": principal.arn,
                    "accountId": principal.account_id}
    else:
        identity = {"type": "IAMUser", "principalId": principal.user_id, "arn": principal.arn,
                    "accountId": principal.account_id}
    if access_key_id:
        identity["accessKeyId"] = access_key_id
    if principal is not None and principal.kind == "AssumedRole":
        identity["sessionContext"] = principal.cloudtrail_identity["sessionContext"]
    if principal is not None and principal.kind == "User":
        identity["userName"] = principal.name
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return identity


def make_record(*, event_id: str, event_time: str, service: str, operation: str, region: str,
                principal: Principal | None, access_key_id: str | None,
                request_parameters: dict[str, Any] | None, resources: list[dict[str, str]],
                error_code: str | None = None, error_message: str | None = None, invoked_by: str | None = None,
                recipient_account_id: str | None = None, event_type: str = "AwsApiCall",
                request_id: str | None = None, response_elements: dict[str, Any] | None = None,
                service_event_details: dict[str, Any] | None = None, user_agent: str | bytes | None = None,
                source_ip: str | None = None) -> dict[str, Any]:
    """One CloudTrail record.

    ``invoked_by`` names the service that made the call for ``principal`` (``dynamodb.amazonaws.com`` for
    the Decrypt DynamoDB makes for a reader); it goes inside ``userIdentity``, and becomes the call's
    ``sourceIPAddress`` and ``userAgent``. ``event_type="AwsServiceEvent"`` records something a service
    did on its own (KMS deleting a key): no caller, no request parameters, no request ID.
    ``recipient_account_id`` defaults to the principal's account.
    """
    service_event = event_type == "AwsServiceEvent"
    if isinstance(user_agent, bytes):  # a header as botocore sends it
        user_agent = user_agent.decode("utf-8", "replace")
    account_id = recipient_account_id or (principal.account_id if principal is not None else None) or ""
    identity = _user_identity(principal, access_key_id, invoked_by, account_id, service_event)
    if service_event:
        source, agent = AWS_INTERNAL, AWS_INTERNAL
    elif invoked_by:
        source, agent = invoked_by, invoked_by
    else:
        source, agent = source_ip or LOCAL_SOURCE_IP, user_agent or DEFAULT_USER_AGENT
    category = event_category(service, operation)
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": event_time,
        "eventSource": _SERVICE_HOST.get(service, f"{service}.amazonaws.com"),
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": source,
        "userAgent": agent,
    }
    if error_code:
        record["errorCode"] = error_code
        record["errorMessage"] = error_message or ""
    record["requestParameters"] = None if service_event else (request_parameters or None)
    record["responseElements"] = None if error_code else response_elements
    if not service_event:
        record["requestID"] = request_id or _derived_id("requestID", event_id)
    record["eventID"] = event_id
    record["readOnly"] = False if service_event else read_only(service, operation)
    record["resources"] = [dict(r) for r in resources]
    record["eventType"] = event_type
    record["managementEvent"] = category == "Management"
    record["recipientAccountId"] = account_id
    if identity.get("type") == "AWSService":
        record["sharedEventID"] = _derived_id("sharedEventID", event_id)
    if service_event_details is not None:
        record["serviceEventDetails"] = service_event_details
    record["eventCategory"] = category
    return record


class Trail:
    """The records, newest last, with filters, a table view and CloudTrail's log-file format.

    A lab's trail keeps the newest ``max_records`` (default :data:`MAX_RECORDS`, 10,000) records and drops
    the oldest ones beyond that; :attr:`dropped` counts them. The views ``filter()`` and ``last()`` return
    new, unbounded trails over the records they select.
    """

    def __init__(self, records: list[dict[str, Any]] | None = None, *,
                 max_records: int | None = MAX_RECORDS) -> None:
        self._records: deque[dict[str, Any]] = deque(records or ())
        self.dropped = 0
        self.max_records = max_records

    @property
    def max_records(self) -> int | None:
        """How many records the trail keeps (None: all). Lowering it drops the oldest at once."""
        return self._records.maxlen

    @max_records.setter
    def max_records(self, value: int | None) -> None:
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError("max_records must be a whole number of at least 1, or None for no limit")
        excess = max(0, len(self._records) - value) if value is not None else 0
        self.dropped += excess
        self._records = deque(self._records, maxlen=value)

    def append(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Add the newest record; return the oldest one if the cap made the trail drop it."""
        dropped = None
        if self.max_records is not None and len(self._records) == self.max_records:
            dropped = self._records[0]
            self.dropped += 1
        self._records.append(record)
        return dropped

    def clear(self) -> None:
        self._records.clear()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._records)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return list(self._records)[index]
        return self._records[index]

    def filter(self, *, service: str | None = None, event: str | None = None, user: str | None = None,
               denied: bool | None = None, invoked_by: str | None = None, category: str | None = None) -> Trail:
        """Records matching every given criterion.

        ``service`` is "kms" or "kms.amazonaws.com"; ``event`` an event name ("Decrypt"); ``user`` a user
        name or ARN; ``denied`` True for refused calls only (False for successful ones); ``invoked_by``
        "dynamodb.amazonaws.com" for the calls DynamoDB made (``userIdentity.invokedBy``); ``category``
        "Management" or "Data" (``eventCategory``).
        """
        def keep(record: dict[str, Any]) -> bool:
            identity = record["userIdentity"]
            if service and record["eventSource"] not in (service, f"{service}.amazonaws.com"):
                return False
            if event and record["eventName"] != event:
                return False
            if user and user not in (identity.get("userName"), identity.get("arn")):
                return False
            if denied is not None and ("errorCode" in record) != denied:
                return False
            if category and record.get("eventCategory") != category:
                return False
            return not (invoked_by and identity.get("invokedBy") != invoked_by)
        return Trail([r for r in self._records if keep(r)], max_records=None)

    def last(self, n: int = 10) -> Trail:
        """The newest ``n`` records."""
        records = list(self._records)
        return Trail(records[-n:] if n > 0 else [], max_records=None)

    # -- CloudTrail's log-file format ---------------------------------------------------------------
    def to_cloudtrail(self) -> dict[str, list[dict[str, Any]]]:
        """The records as a CloudTrail log file holds them: ``{"Records": [...]}`` (copies)."""
        return {"Records": [copy.deepcopy(r) for r in self._records]}

    def to_cloudtrail_json(self, path: str | os.PathLike[str] | None = None, *, indent: int | None = None) -> str:
        """The records as the JSON of a CloudTrail log file; also written to ``path`` if one is given.

        A path ending in ``.gz`` is written gzip-compressed, as CloudTrail delivers its log files
        (``…_CloudTrail_us-east-1_….json.gz``), so ``zcat FILE | jq '.Records[]'`` reads both alike.
        """
        text = json.dumps(self.to_cloudtrail(), indent=indent, default=str)
        if path is not None:
            target = Path(path)
            if target.suffix == ".gz":
                target.write_bytes(gzip.compress(text.encode(), mtime=0))
            else:
                target.write_text(text, encoding="utf-8")
        return text

    # -- renderings -------------------------------------------------------------------------------
    _COLUMNS = ("time", "who", "call", "on behalf via", "result")

    def _rows(self) -> list[tuple[str, ...]]:
        rows = []
        for r in self._records:
            identity = r["userIdentity"]
            who = (identity.get("userName") or identity.get("invokedBy") or identity.get("type")
                   or identity.get("accountId") or "?")
            call = f"{r['eventSource'].split('.')[0]}:{r['eventName']}"
            result = f"✘ {r['errorCode']}" if "errorCode" in r else "✔ ok"
            rows.append((r["eventTime"][:19].replace("T", " "), who, call, identity.get("invokedBy", ""), result))
        return rows

    def __str__(self) -> str:
        if not self._records:
            return "(no calls recorded)"
        rows = [self._COLUMNS, *self._rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(self._COLUMNS))]
        lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        if self.dropped:
            lines.append(f"({self.dropped} older record(s) dropped: the lab keeps the newest {self.max_records})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        head = "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in self._COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                       for row in self._rows())
        dropped = f", {self.dropped} older dropped" if self.dropped else ""
        return (f"<table class='kmslab-trail'><caption>Trail: {len(self)} call(s){dropped}</caption>"
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

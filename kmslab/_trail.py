"""The lab's trail: every call authorized or refused, as CloudTrail-shaped records.

Records are plain dicts with CloudTrail's field names (``eventSource``, ``eventName``, ``userIdentity``,
``invokedBy``, ``sourceIPAddress``, ``errorCode``, ``errorMessage``, ``resources``...), so that what a learner
reads here is what they will later read in CloudTrail. Times come from the lab's simulated clock, IDs from
a seeded generator: the same steps give the same trail.

Two differences from CloudTrail, both said in the notebooks: DynamoDB item reads and writes are *data
events*, which CloudTrail logs only when a trail is configured for them; and CloudTrail delivers events
minutes later, where the lab's trail has them at once.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

from ._directory import Principal

_SERVICE_HOST = {"dynamodb": "dynamodb.amazonaws.com", "kms": "kms.amazonaws.com",
                 "iam": "iam.amazonaws.com", "sts": "sts.amazonaws.com"}


def make_record(*, event_id: str, event_time: str, service: str, operation: str, region: str,
                principal: Principal | None, access_key_id: str | None, request_parameters: dict[str, Any],
                resources: list[dict[str, str]], error_code: str | None = None,
                error_message: str | None = None, invoked_by: str | None = None) -> dict[str, Any]:
    """One CloudTrail-shaped record."""
    if principal is not None:
        identity = dict(principal.cloudtrail_identity)
        if access_key_id:
            identity["accessKeyId"] = access_key_id
    else:
        identity = {"type": "Unknown", "accessKeyId": access_key_id or ""}
    if not access_key_id:
        identity.pop("accessKeyId", None)
    if invoked_by:
        identity["invokedBy"] = invoked_by
    record: dict[str, Any] = {
        "eventVersion": "1.08",
        "eventTime": event_time,
        "eventSource": _SERVICE_HOST.get(service, f"{service}.amazonaws.com"),
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": invoked_by or "127.0.0.1",
        "userAgent": invoked_by or "kmslab/boto3",
        "userIdentity": identity,
        "requestParameters": request_parameters,
        "eventID": event_id,
        "readOnly": operation.startswith(("Get", "Describe", "List", "Scan", "Query", "BatchGet", "Decrypt")),
        "resources": resources,
        "eventType": "AwsApiCall",
    }
    if invoked_by:
        record["invokedBy"] = invoked_by
    if error_code:
        record["errorCode"] = error_code
        record["errorMessage"] = error_message or ""
    return record


class Trail:
    """The list of records, newest last, with filters and a table view."""

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self._records: list[dict[str, Any]] = records if records is not None else []

    def append(self, record: dict[str, Any]) -> None:
        self._records.append(record)

    def clear(self) -> None:
        self._records.clear()

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self._records[index]

    def filter(self, *, service: str | None = None, event: str | None = None, user: str | None = None,
               denied: bool | None = None, invoked_by: str | None = None) -> Trail:
        """Records matching every given criterion.

        ``service`` is "kms" or "kms.amazonaws.com"; ``event`` an event name ("Decrypt"); ``user`` a user
        name or ARN; ``denied`` True for refused calls only (False for successful ones); ``invoked_by``
        "dynamodb.amazonaws.com" for the calls DynamoDB made on a caller's behalf.
        """
        def keep(record: dict[str, Any]) -> bool:
            if service and record["eventSource"] not in (service, f"{service}.amazonaws.com"):
                return False
            if event and record["eventName"] != event:
                return False
            if user:
                identity = record["userIdentity"]
                if user not in (identity.get("userName"), identity.get("arn")):
                    return False
            if denied is not None and ("errorCode" in record) != denied:
                return False
            return not (invoked_by and record.get("invokedBy") != invoked_by)
        return Trail([r for r in self._records if keep(r)])

    def last(self, n: int = 10) -> Trail:
        return Trail(self._records[-n:])

    # -- renderings -------------------------------------------------------------------------------
    _COLUMNS = ("time", "who", "call", "on behalf via", "result")

    def _rows(self) -> list[tuple[str, ...]]:
        rows = []
        for r in self._records:
            identity = r["userIdentity"]
            who = identity.get("userName") or identity.get("invokedBy") or identity.get("type", "?")
            call = f"{r['eventSource'].split('.')[0]}:{r['eventName']}"
            result = f"✘ {r['errorCode']}" if "errorCode" in r else "✔ ok"
            rows.append((r["eventTime"][:19].replace("T", " "), who, call, r.get("invokedBy", ""), result))
        return rows

    def __str__(self) -> str:
        if not self._records:
            return "(no calls recorded)"
        rows = [self._COLUMNS, *self._rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(self._COLUMNS))]
        lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        head = "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in self._COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                       for row in self._rows())
        return (f"<table class='kmslab-trail'><caption>Trail: {len(self)} call(s)</caption>"
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

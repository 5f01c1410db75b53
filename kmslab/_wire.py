"""The wire: AWS requests as botocore sends them, and errors as each service sends them back.

kmslab authorizes calls where AWS does, at the front door: it reads the signed HTTP request (service,
operation, parameters, the access key that signed it) and, when a call is refused, answers with the bytes
the real service would send, so that botocore raises the same ``ClientError`` (or modelled exception)
a learner would see from AWS. Nothing here imports boto3 or moto.

Protocols covered: DynamoDB and KMS speak AWS JSON 1.0/1.1 (``X-Amz-Target`` header, JSON body, errors as
``{"__type": ..., "message": ...}`` with HTTP 400); IAM and STS speak the query protocol (form body with
``Action=``, errors as XML ``ErrorResponse`` documents).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlparse
from xml.sax.saxutils import escape

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/")

#: The host prefix botocore uses for each service kmslab models.
_HOST_SERVICES = {"dynamodb": "dynamodb", "kms": "kms", "iam": "iam", "sts": "sts"}

#: JSON error ``__type`` prefixes, as each service sends them.
_JSON_ERROR_NAMESPACE = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810#",
    "kms": "",
}


@dataclass(frozen=True)
class ApiCall:
    """One AWS API call read off the wire."""

    service: str  # "dynamodb", "kms", "iam", "sts"
    operation: str  # "GetItem", "Decrypt", "CreateUser"
    params: dict[str, Any] = field(default_factory=dict)
    access_key_id: str | None = None
    region: str = "us-east-1"
    protocol: str = "json"  # "json" or "query"
    target_prefix: str = ""  # "DynamoDB_20120810", "TrentService"


def service_of(url: str) -> str | None:
    """The modelled service a request URL is for, or None."""
    host = urlparse(url).hostname or ""
    first = host.split(".", 1)[0]
    return _HOST_SERVICES.get(first)


def read_call(method: str, url: str, headers: Any, body: bytes | str | None) -> ApiCall | None:
    """Parse a signed request into an :class:`ApiCall`; None if it is not for a modelled service."""
    auth = headers.get("Authorization") or ""
    if isinstance(auth, bytes):
        auth = auth.decode()
    match = _CREDENTIAL.search(auth)
    # The credential scope names the service; an emulator endpoint's host does not.
    service = _HOST_SERVICES.get(match.group(3)) if match else service_of(url)
    if service is None:
        return None
    access_key_id = match.group(1) if match else None
    region = match.group(2) if match else "us-east-1"
    if isinstance(body, bytes):
        body = body.decode("utf-8") if body else ""
    body = body or ""
    target = headers.get("X-Amz-Target")
    if isinstance(target, bytes):
        target = target.decode()
    if target:
        prefix, _, operation = target.partition(".")
        params = json.loads(body) if body.strip() else {}
        return ApiCall(service, operation, params, access_key_id, region, "json", prefix)
    form = dict(parse_qsl(body, keep_blank_values=True))
    if not form and "?" in url:
        form = dict(parse_qsl(urlparse(url).query, keep_blank_values=True))
    operation = form.pop("Action", "")
    form.pop("Version", None)
    return ApiCall(service, operation, form, access_key_id, region, "query")


@dataclass(frozen=True)
class ErrorReply:
    """An error exactly as a service sends it: status, headers and body."""

    status: int
    headers: dict[str, str]
    body: bytes
    code: str
    message: str


def error_reply(call: ApiCall, code: str, message: str, request_id: str, *, status: int | None = None,
                sender: bool = True) -> ErrorReply:
    """Build the error a service sends for ``code`` with ``message``.

    JSON services (DynamoDB, KMS) answer HTTP 400 with ``__type`` and ``message``; query services
    (IAM, STS) answer an XML ``ErrorResponse``, HTTP 403 for access errors and 400 otherwise.
    """
    if call.protocol == "json":
        namespace = _JSON_ERROR_NAMESPACE.get(call.service, "")
        if code == "UnrecognizedClientException" and call.service == "dynamodb":
            namespace = "com.amazon.coral.service#"
        payload = {"__type": f"{namespace}{code}", "message": message}
        content_type = "application/x-amz-json-1.0" if call.service == "dynamodb" else "application/x-amz-json-1.1"
        headers = {"Content-Type": content_type, "x-amzn-RequestId": request_id}
        return ErrorReply(status or 400, headers, json.dumps(payload).encode(), code, message)
    xml_ns = {"iam": "https://iam.amazonaws.com/doc/2010-05-08/",
              "sts": "https://sts.amazonaws.com/doc/2011-06-15/"}.get(call.service, "")
    kind = "Sender" if sender else "Receiver"
    body = (f'<ErrorResponse xmlns="{xml_ns}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    if status is None:
        status = 403 if code in {"AccessDenied", "InvalidClientTokenId", "SignatureDoesNotMatch"} else 400
    headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
    return ErrorReply(status, headers, body.encode(), code, message)


def unrecognized_client(call: ApiCall, request_id: str) -> ErrorReply:
    """What each service answers for an access key it does not know."""
    message = "The security token included in the request is invalid."
    if call.protocol == "json":
        return error_reply(call, "UnrecognizedClientException", message, request_id)
    return error_reply(call, "InvalidClientTokenId", message, request_id)


def access_denied(call: ApiCall, message: str, request_id: str) -> ErrorReply:
    """The service's own access-denied error carrying ``message``."""
    code = "AccessDeniedException" if call.protocol == "json" else "AccessDenied"
    return error_reply(call, code, message, request_id)

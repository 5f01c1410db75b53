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


#: Authentication errors DynamoDB sends in the coral namespace (as recorded by the dynalite project).
_CORAL_CODES = frozenset({"UnrecognizedClientException", "MissingAuthenticationTokenException",
                          "IncompleteSignatureException", "InvalidSignatureException", "SerializationException",
                          "UnknownOperationException"})
#: The error code of a request the lab refuses because it does not model it (a service, a region or an
#: operation: see :mod:`kmslab._operations`).
NOT_MODELLED = "NotModelledInLab"
#: Errors that are kmslab's own (the lab refusing), never AWS's.
_KMSLAB_CODES = frozenset({NOT_MODELLED, "LabClosed"})


@dataclass(frozen=True)
class ApiCall:
    """One AWS API call read off the wire."""

    service: str  # "dynamodb", "kms", "iam", "sts"
    operation: str  # "GetItem", "Decrypt", "CreateUser"
    params: dict[str, Any] = field(default_factory=dict)
    access_key_id: str | None = None
    region: str = "us-east-1"
    protocol: str = "json"  # "json", "query", or "rest" (a service kmslab does not model, e.g. S3)
    target_prefix: str = ""  # "DynamoDB_20120810", "TrentService"


def service_of(url: str) -> str | None:
    """The modelled service a request URL is for, or None."""
    host = urlparse(url).hostname or ""
    first = host.split(".", 1)[0]
    return _HOST_SERVICES.get(first)


def protocol_of(headers: Any, body: bytes | str | None) -> str:
    """The protocol a request speaks: "json" (``X-Amz-Target``), "query" (``Action=``) or "rest"."""
    if _text(headers.get("X-Amz-Target")):
        return "json"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    return "query" if "Action=" in text else "rest"


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


class MalformedRequest(ValueError):
    """The body cannot be read in the protocol the request speaks (AWS: ``SerializationException``)."""


def read_call(method: str, url: str, headers: Any, body: bytes | str | None, *, service: str | None = None,
              region: str | None = None) -> ApiCall | None:
    """Parse a request into an :class:`ApiCall` for ``service`` (the one that will execute it, decided by
    the front door; see :mod:`kmslab._sigv4`), in ``region``. The access key is the scope's as written;
    whether it signed the request is checked elsewhere.

    Without ``service`` the URL's host decides (a modelled service's endpoint) or None is returned.
    Raises :class:`MalformedRequest` for a JSON body that does not parse to an object.
    """
    auth = _text(headers.get("Authorization"))
    match = _CREDENTIAL.search(auth)
    if service is None:
        service = service_of(url)
    if service is None:
        return None
    access_key_id = match.group(1) if match else None
    region = region or (match.group(2) if match else "us-east-1")
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8") if body else ""
        except UnicodeDecodeError as error:
            raise MalformedRequest("the body is not UTF-8") from error
    body = body or ""
    target = _text(headers.get("X-Amz-Target"))
    if target:
        prefix, _, operation = target.partition(".")
        try:
            params = json.loads(body) if body.strip() else {}
        except ValueError as error:
            raise MalformedRequest("the body is not JSON") from error
        if not isinstance(params, dict):
            raise MalformedRequest("the body is not a JSON object")
        return ApiCall(service, operation, params, access_key_id, region, "json", prefix)
    if service in _JSON_ERROR_NAMESPACE:  # a JSON service reads no form: without a target, no operation
        return ApiCall(service, "", {}, access_key_id, region, "json", "")
    form = dict(parse_qsl(body, keep_blank_values=True))
    if not form and "?" in url:
        form = dict(parse_qsl(urlparse(url).query, keep_blank_values=True))
    operation = form.pop("Action", "")
    form.pop("Version", None)
    protocol = "query" if operation or service in ("iam", "sts") else "rest"
    if protocol == "rest":
        operation = f"{method} {urlparse(url).path or '/'}"
    return ApiCall(service, operation, form, access_key_id, region, protocol)


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
        if code in _CORAL_CODES and call.service == "dynamodb":
            namespace = "com.amazon.coral.service#"
        elif code in _KMSLAB_CODES:
            namespace = "kmslab#"
        payload = {"__type": f"{namespace}{code}", "message": message}
        content_type = "application/x-amz-json-1.0" if call.service == "dynamodb" else "application/x-amz-json-1.1"
        headers = {"Content-Type": content_type, "x-amzn-RequestId": request_id}
        return ErrorReply(status or 400, headers, json.dumps(payload).encode(), code, message)
    if call.protocol == "rest":
        body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{escape(code)}</Code><Message>'
                f"{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>")
        return ErrorReply(status or 400, {"Content-Type": "application/xml", "x-amzn-RequestId": request_id},
                          body.encode(), code, message)
    xml_ns = {"iam": "https://iam.amazonaws.com/doc/2010-05-08/",
              "sts": "https://sts.amazonaws.com/doc/2011-06-15/"}.get(call.service, "")
    kind = "Sender" if sender else "Receiver"
    body = (f'<ErrorResponse xmlns="{xml_ns}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    if status is None:
        status = 403 if code in {"AccessDenied", "InvalidClientTokenId", "SignatureDoesNotMatch",
                                 "MissingAuthenticationToken"} else 400
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


def not_modelled(call: ApiCall, request_id: str, lab_region: str, *, status: int = 400) -> ErrorReply:
    """kmslab's own refusal of a request the lab does not model, in the request's protocol."""
    if call.service == "moto_api":
        message = ("kmslab does not serve moto's own API (/moto-api) on the lab's endpoint: reset or inspect "
                   "the lab from Python (a new Lab(), lab.trail)")
        status = 404
    elif call.service == "instance_metadata":
        message = "kmslab's lab is not an EC2 instance: there is no instance metadata service here"
        status = 404
    elif call.service == "federation":
        message = (f"kmslab's lab models no web identity or SAML federation: {call.operation} is not modelled in "
                   "the lab: it was not carried out, and was not sent anywhere.")
    elif call.service in _HOST_SERVICES:
        message = (f"kmslab's lab models {call.service} in {lab_region} only; this request for {call.region} is "
                   "not modelled in the lab: it was not carried out, and was not sent anywhere.")
    else:
        what = call.service if call.service != "unknown" else "a service kmslab cannot identify"
        message = (f"kmslab's lab models DynamoDB, KMS, IAM and STS only; this request for {what} is not "
                   "modelled in the lab: it was not carried out, and was not sent anywhere.")
    return error_reply(call, NOT_MODELLED, message, request_id, status=status)


#: (JSON code, query code, query HTTP status) for each kind of authentication failure (see _sigv4).
AUTH_CODES = {
    "missing": ("MissingAuthenticationTokenException", "MissingAuthenticationToken", 403),
    "incomplete": ("IncompleteSignatureException", "IncompleteSignature", 400),
    "signature": ("InvalidSignatureException", "SignatureDoesNotMatch", 403),
    "token": ("UnrecognizedClientException", "InvalidClientTokenId", 403),
}


def auth_error(call: ApiCall, kind: str, message: str, request_id: str) -> ErrorReply:
    """An authentication failure in the service's protocol: JSON services answer 400, query services
    their listed status (403, or 400 for ``IncompleteSignature``)."""
    json_code, query_code, query_status = AUTH_CODES[kind]
    if call.protocol == "json":
        return error_reply(call, json_code, message, request_id)
    if kind == "token" and not message.endswith("."):
        message += "."
    return error_reply(call, query_code, message, request_id, status=query_status)


def guess_operation(headers: Any, body: bytes | str | None, protocol: str) -> str | None:
    """The operation a refused request names, for its trail record."""
    if protocol == "json":
        return _text(headers.get("X-Amz-Target")).partition(".")[2] or None
    if protocol == "query":
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        return dict(parse_qsl(text)).get("Action")
    return None

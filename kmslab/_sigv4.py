"""The front door's first two questions: which service will execute this request, and who signed it.

**Routing.** kmslab decides the service from what will carry the request out, never from what the client
claims. Offline, moto's botocore stubber picks a backend by the request URL's host; kmslab asks the same
table (:func:`route_url`). On the emulator, moto's ``DomainDispatcherApplication`` picks one from the
credential scope (lower-cased), the ``X-Amz-Target`` header or the body; kmslab asks that very dispatcher
(:func:`route_wsgi`). The region is the one moto will use (the URL's, else the ``region/`` of the
User-Agent, else the credential scope's). Authorization is then made for that service and region only.

**Authentication**, in the order AWS checks (as recorded from DynamoDB by the dynalite project, and
AWS's "Common Errors" pages for the query protocol):

1. no ``Authorization`` header starting ``AWS4-``: ``MissingAuthenticationToken(Exception)``;
2. a header without ``Credential``, ``Signature`` or ``SignedHeaders``, or a request without ``X-Amz-Date``
   or ``Date``: ``IncompleteSignature(Exception)``, "Authorization header requires 'Credential' parameter.
   ... Authorization=<the header>"; a date not in ISO 8601 basic format, the same code;
3. a date more than 15 minutes from the *real* wall clock (never the lab's simulated clock): "Signature
   expired: <date> is now earlier than <now - 15 min> (<now> - 15 min.)" or "Signature not yet current:
   <date> is still later than <now + 15 min> (<now> + 15 min.)";
4. ``host`` missing from ``SignedHeaders``; an algorithm other than ``AWS4-HMAC-SHA256``; a credential
   not of five slash-separated parts;
5. the scope compared with what executes, exactly (AWS is case-sensitive here): "Credential should be
   scoped to a valid region...", "Credential should be scoped to correct service: 'iam'. ", the
   terminator, the date;
6. the access key (``UnrecognizedClientException`` / ``InvalidClientTokenId``, answered by the enforcer);
7. the signature, recomputed with botocore's SigV4 signer from the secret the lab holds for that key and
   compared with :func:`hmac.compare_digest` (``InvalidSignatureException`` / ``SignatureDoesNotMatch``);
8. a session token on a long-term (``AKIA``) key, or a temporary (``ASIA``) key of a role session sent
   without the session token STS issued with it (or with another): the invalid-token error. A session's
   signature is computed with its own secret, as for any key.

JSON services (DynamoDB, KMS) answer these with HTTP 400; query services (IAM, STS) with 403, except
``IncompleteSignature`` (400), as AWS's "Common Errors" pages list them.

Choices where AWS is silent or its answers vary (said here and in the report):

- *Region message.* For the global endpoints (IAM, STS on ``sts.amazonaws.com``) the message is
  "Credential should be scoped to a valid region. "; for regional services "Credential should be scoped to
  a valid region, not '<given>'. " (both forms are seen from AWS).
- *Clock skew.* 15 minutes for every service (some older query services have used 5).
- *Mismatch message.* Without the canonical request and string-to-sign that some services append.
- *Session token message.* "The security token included in the request is invalid" (without the final
  full stop, as DynamoDB sends it); query services send ``InvalidClientTokenId`` with the full stop.
- *Presigned URLs* (query-string signatures) are not accepted: the SDKs never use them for these services.
- *Payload.* The body's SHA-256 is always computed from the bytes received; an ``X-Amz-Content-SHA256``
  header is not trusted (``UNSIGNED-PAYLOAD`` is S3's).
- *Federation.* STS's unsigned ``AssumeRoleWithWebIdentity`` / ``AssumeRoleWithSAML`` are refused as not
  modelled (the lab has no identity provider; moto would accept any token).
- *Foreign emulator.* A key whose secret this Python session never saw (made outside the lab) is not
  verified here; the foreign emulator decides.
- *Emulator, global services.* With an ``endpoint_url`` botocore signs IAM with the client's region; moto's
  IAM and STS backends are global, so on the emulator their scope region is not compared.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

#: The services kmslab models: moto backend name -> SigV4 signing name.
MODELLED = {"dynamodb": "dynamodb", "kms": "kms", "iam": "iam", "sts": "sts"}
#: Services whose endpoint is global in the aws partition (signed for us-east-1).
GLOBAL_SERVICES = frozenset({"iam"})
#: STS actions AWS takes unsigned (a web identity or SAML token instead); the lab models no federation.
UNSIGNED_ACTIONS = frozenset({"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})
#: How far a request's date may be from the real clock (AWS's rule).
MAX_SKEW = timedelta(minutes=15)
ALGORITHM = "AWS4-HMAC-SHA256"
MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.")
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_BASIC_FORMAT = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
_USER_AGENT_REGION = re.compile(r"region/(?P<region>[a-z]{2}-[a-z]+-\d{1})")  # moto's own rule
_URL_REGION = re.compile(r"\.(?P<region>[^.]+)\.amazonaws\.com")  # moto's own rule


@dataclass(frozen=True)
class Route:
    """What will execute a request: moto's backend, the region it will use, the endpoint's kind."""

    backend: str | None  # "dynamodb", "kms", "iam", "sts", "s3", "moto_api", ... or None (cannot tell)
    region: str
    global_endpoint: bool = False  # iam.amazonaws.com, sts.amazonaws.com
    emulator: bool = False  # routed by moto's server dispatcher (the URL names no service)

    @property
    def modelled(self) -> bool:
        return self.backend in MODELLED


class AuthFailure(Exception):
    """A request refused before anyone is identified: ``kind`` picks the code for the protocol."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # missing, incomplete, signature, token
        self.message = message


# -- routing -----------------------------------------------------------------------------------------

def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _scope_region(auth: str | None) -> str | None:
    try:
        return auth.split(",")[0].split("/")[2] if auth and "AWS4" in auth else None  # moto's own reading
    except IndexError:
        return None


def _moto_region(url: str, headers: Any, default: str) -> str:
    """The region moto's response classes will use (``BaseResponse.get_region_from_url``)."""
    match = _URL_REGION.search(url)
    if match:
        return match.group("region")
    match = _USER_AGENT_REGION.search(_header(headers, "User-Agent") or "")
    if match:
        return match.group("region")
    return _scope_region(_header(headers, "Authorization")) or default


def route_url(url: str, headers: Any, default_region: str) -> Route:
    """Offline: the backend moto's botocore stubber will run for ``url`` (its first matching URL pattern)."""
    import moto.backend_index as backend_index
    from moto.core.utils import get_equivalent_url_in_aws_domain

    parsed, _ = get_equivalent_url_in_aws_domain(url)
    clean = f"{parsed.scheme}://{parsed.netloc}{parsed.path}"
    backend = _BACKENDS.get(clean, _UNSEEN)
    if backend is _UNSEEN:
        backend = next((name for name, pattern in backend_index.backend_url_patterns if pattern.match(clean)),
                       None)
        if len(_BACKENDS) > 512:
            _BACKENDS.clear()
        _BACKENDS[clean] = backend
    host = (parsed.hostname or "").lower()
    global_endpoint = host in ("iam.amazonaws.com", "sts.amazonaws.com")
    region = "us-east-1" if global_endpoint else _moto_region(url, headers, default_region)
    return Route(backend, region, global_endpoint)


_BACKENDS: dict[str, Any] = {}  # clean URL -> backend: moto's table is fixed, the scan costs ~15 us
_UNSEEN = object()


def route_wsgi(dispatcher: Any, environ: dict[str, Any], default_region: str) -> Route:
    """On the emulator: the backend moto's ``DomainDispatcherApplication`` will pick for this request.

    Asks the dispatcher itself, on a copy of the request (it may read the body), exactly as its
    ``get_application`` does; whatever it cannot read is "cannot tell" (None), refused by the caller.
    """
    path = environ.get("PATH_INFO", "") or ""
    if path.startswith("/moto-api") or path == "/favicon.ico":
        backend: str | None = "moto_api"
    elif path.startswith(("/latest/meta-data/", "/latest/api/")):
        backend = "instance_metadata"
    else:
        probe = dict(environ)
        try:
            host = dispatcher.infer_service_region_host(probe, path)
            backend = dispatcher.get_backend_for_host(host or "s3.us-east-1.amazonaws.com")
        except Exception:  # moto itself would fail on this request (a KeyError, an IndexError)
            backend = None
    return Route(backend, _moto_region(_raw_url(environ), _EnvironHeaders(environ), default_region), emulator=True)


def _raw_url(environ: dict[str, Any]) -> str:
    """The URL as moto's request reads it (``moto.core.request.Request.raw_url``): the path as it arrived,
    not percent-decoded, and the query string, whose text moto searches for a region too."""
    from urllib.parse import urlparse
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO") or "/"
    parsed = urlparse(raw_uri)
    raw_path = parsed.path if parsed.scheme else raw_uri.split("?", 1)[0]
    raw_path = raw_path if raw_path.startswith("/") else f"/{raw_path}"
    query = environ.get("QUERY_STRING")
    return f"http://{environ.get('HTTP_HOST', '127.0.0.1')}{raw_path}" + (f"?{query}" if query else "")


class _EnvironHeaders:
    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ

    def get(self, name: str) -> Any:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"))


def route_prepared(url: str, headers: Any, body: bytes, default_region: str) -> Route:
    """A botocore request to a foreign emulator: routed as moto's server would route it."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if isinstance(body, str):
        body = body.encode("utf-8")
    parts = urlsplit(url)
    environ: dict[str, Any] = {"PATH_INFO": parts.path or "/", "QUERY_STRING": parts.query,
                               "HTTP_HOST": parts.netloc, "CONTENT_LENGTH": str(len(body))}
    for name in ("Authorization", "X-Amz-Target", "User-Agent"):
        value = _header(headers, name)
        if value is not None:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    content_type = _header(headers, "Content-Type")
    if content_type:
        environ["CONTENT_TYPE"] = content_type
    import io
    environ["wsgi.input"] = io.BytesIO(body)
    global _ROUTER
    if _ROUTER is None:
        from moto.moto_server.werkzeug_app import create_backend_app
        _ROUTER = DomainDispatcherApplication(create_backend_app)  # asked to route only: it creates no app
    return route_wsgi(_ROUTER, environ, default_region)


_ROUTER: Any = None


def service_by_shape(headers: Any) -> str | None:
    """The modelled service a refused request seems meant for (to answer in its shape only; never used to
    authorize anything): by its ``X-Amz-Target`` prefix."""
    prefix = (_header(headers, "X-Amz-Target") or "").partition(".")[0]
    return {"DynamoDB_20120810": "dynamodb", "TrentService": "kms"}.get(prefix)


def unknown_operation(service: str, protocol: str, target_prefix: str, operation: str) -> tuple[str, str] | None:
    """AWS's error for an operation the service does not have, spelled exactly (AWS is case-sensitive:
    ``DynamoDB_20120810.scan`` is no Scan), or None. JSON services check the whole ``X-Amz-Target``
    (``UnknownOperationException``, as dynalite recorded it from DynamoDB); query services the ``Action``
    (``InvalidAction``)."""
    prefix, operations, version = _service_model(service)
    if protocol == "json":
        if target_prefix != prefix or operation not in operations:
            return "UnknownOperationException", ""
        return None
    if operation not in operations:
        return "InvalidAction", f"Could not find operation {operation} for version {version}"
    return None


_MODELS: dict[str, tuple[str | None, frozenset[str], str]] = {}


def _service_model(service: str) -> tuple[str | None, frozenset[str], str]:
    """(target prefix, operation names, API version) of a service, from botocore's model of it."""
    found = _MODELS.get(service)
    if found is None:
        import botocore.session
        model = botocore.session.get_session().get_service_model(service)
        found = _MODELS[service] = (model.metadata.get("targetPrefix"), frozenset(model.operation_names),
                                    model.api_version)
    return found


# -- authentication ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Signed:
    """The parts of a SigV4 ``Authorization`` header."""

    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # ISO 8601 basic, as in the string to sign
    session_token: str | None


def parse(headers: Any, now: datetime | None = None) -> Signed:
    """Read and check the ``Authorization`` header up to the scope (steps 1 to 4 of the module docstring)."""
    auth = _header(headers, "Authorization")
    if not auth or not auth.strip().startswith("AWS4-"):
        raise AuthFailure("missing", "Request is missing Authentication Token")
    algorithm, _, rest = auth.strip().partition(" ")
    params: dict[str, str] = {}
    for part in rest.replace(" ", "").split(","):
        if not part:
            continue
        key, equals, value = part.partition("=")
        if not equals:
            raise AuthFailure("incomplete", f"'{key}' not a valid key=value pair (missing equal-sign) in "
                                            f"Authorization header: '{auth}'.")
        params[key] = value
    problems = "".join(f"Authorization header requires '{name}' parameter. "
                       for name in ("Credential", "Signature", "SignedHeaders") if not params.get(name))
    amz_date = _header(headers, "X-Amz-Date")
    http_date = _header(headers, "Date")
    if amz_date is None and http_date is None:
        problems += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
    if problems:
        raise AuthFailure("incomplete", f"{problems}Authorization={auth}")
    when = _request_time(amz_date, http_date)
    _check_skew(when, now or datetime.now(timezone.utc))
    signed_headers = tuple(params["SignedHeaders"].split(";"))
    if "host" not in (h.lower() for h in signed_headers):
        raise AuthFailure("signature", "'Host' must be a 'SignedHeader' in the AWS Authorization.")
    if algorithm != ALGORITHM:
        raise AuthFailure("incomplete", f"Unsupported AWS 'algorithm': '{algorithm}' (only {ALGORITHM} for now). ")
    credential = params["Credential"]
    pieces = credential.rstrip("/").split("/")
    if len(pieces) != 5:
        raise AuthFailure("incomplete", "Credential must have exactly 5 slash-delimited elements, e.g. "
                                        f"keyid/date/region/service/term, got '{credential}'")
    key_id, date, region, service, terminator = pieces
    return Signed(key_id, date, region, service, terminator, signed_headers, params["Signature"],
                  when.strftime(_TIMESTAMP), _header(headers, "X-Amz-Security-Token"))


def _request_time(amz_date: str | None, http_date: str | None) -> datetime:
    if amz_date is not None:
        match = _BASIC_FORMAT.fullmatch(amz_date)
        try:
            if match is None:
                raise ValueError(amz_date)
            return datetime(*map(int, match.groups()), tzinfo=timezone.utc)  # type: ignore[misc]
        except ValueError:
            raise AuthFailure("incomplete", f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See "
                                            "http://en.wikipedia.org/wiki/ISO_8601") from None
    try:
        parsed = parsedate_to_datetime(http_date or "")
    except (TypeError, ValueError):
        parsed = None
    if parsed is None:
        raise AuthFailure("incomplete", f"Date must be in ISO-8601 'basic format'. Got '{http_date}'. See "
                                        "http://en.wikipedia.org/wiki/ISO_8601")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _check_skew(when: datetime, now: datetime) -> None:
    stamp, clock = when.strftime(_TIMESTAMP), now.strftime(_TIMESTAMP)
    if when < now - MAX_SKEW:
        raise AuthFailure("signature", f"Signature expired: {stamp} is now earlier than "
                                       f"{(now - MAX_SKEW).strftime(_TIMESTAMP)} ({clock} - 15 min.)")
    if when > now + MAX_SKEW:
        raise AuthFailure("signature", f"Signature not yet current: {stamp} is still later than "
                                       f"{(now + MAX_SKEW).strftime(_TIMESTAMP)} ({clock} + 15 min.)")


def check_scope(signed: Signed, route: Route) -> None:
    """The scope must name exactly the service and region that execute (step 5)."""
    service = MODELLED[route.backend or ""]
    problems = []
    if not (route.emulator and route.backend in ("iam", "sts")):
        expected = "us-east-1" if route.global_endpoint or route.backend in GLOBAL_SERVICES else route.region
        if signed.region != expected:
            problems.append("Credential should be scoped to a valid region. " if expected == "us-east-1" and
                            (route.global_endpoint or route.backend in GLOBAL_SERVICES)
                            else f"Credential should be scoped to a valid region, not '{signed.region}'. ")
    if signed.service != service:
        problems.append(f"Credential should be scoped to correct service: '{service}'. ")
    if signed.terminator != "aws4_request":
        problems.append(f"Credential should be scoped with a valid terminator: 'aws4_request', not "
                        f"'{signed.terminator}'. ")
    if signed.date != signed.timestamp[:8]:
        problems.append("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                        f"HTTP: '{signed.date}' != '{signed.timestamp[:8]}', from '{signed.timestamp}'.")
    if problems:
        raise AuthFailure("signature", "".join(problems))


class Verifier:
    """Recomputes SigV4 signatures with botocore's signer; signing keys cached per (secret, date, region,
    service), as a key derivation is four HMACs."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str, str, str], bytes] = {}

    def signing_key(self, secret: str, date: str, region: str, service: str) -> bytes:
        cache_key = (secret, date, region, service)
        key = self._keys.get(cache_key)
        if key is None:
            def sign(k: bytes, msg: str) -> bytes:
                return hmac.new(k, msg.encode("utf-8"), hashlib.sha256).digest()
            key = sign(sign(sign(sign(f"AWS4{secret}".encode(), date), region), service), "aws4_request")
            if len(self._keys) > 1024:
                self._keys.clear()
            self._keys[cache_key] = key
        return key

    def verify(self, signed: Signed, secret: str, method: str, url: str, headers: Any, body: bytes) -> None:
        """Raise :class:`AuthFailure` unless ``signed.signature`` is the signature of this very request."""
        expected = self.expected_signature(signed, secret, method, url, headers, body)
        if not hmac.compare_digest(expected.encode(), signed.signature.encode("utf-8", "replace")):
            raise AuthFailure("signature", MISMATCH)
        if signed.session_token is not None and signed.access_key_id.startswith("AKIA"):
            raise AuthFailure("token", "The security token included in the request is invalid")

    def expected_signature(self, signed: Signed, secret: str, method: str, url: str, headers: Any,
                           body: bytes) -> str:
        """The signature AWS computes: botocore's canonical path and query string, the headers the client
        named in ``SignedHeaders`` (values trimmed as SigV4 says), the SHA-256 of the body as received."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        signer = _SIGNER
        parts = urlsplit(url)
        wanted = sorted({h.lower() for h in signed.signed_headers})
        values: dict[str, list[str]] = {}
        for name, value in _items(headers):
            lower = name.lower()
            if lower in wanted:
                values.setdefault(lower, []).append(" ".join(value.split()))
        if "host" in wanted and "host" not in values:
            values["host"] = [_host_of(url)]
        canonical_headers = "".join(f"{name}:{','.join(values.get(name, []))}\n" for name in wanted)
        canonical = "\n".join([method.upper(), signer._normalize_url_path(parts.path),
                               signer._canonical_query_string_url(parts), canonical_headers,
                               ";".join(h.lower() for h in signed.signed_headers),
                               hashlib.sha256(body).hexdigest()])
        scope = f"{signed.date}/{signed.region}/{signed.service}/{signed.terminator}"
        string_to_sign = "\n".join([ALGORITHM, signed.timestamp, scope,
                                    hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
        key = self.signing_key(secret, signed.date, signed.region, signed.service)
        return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _items(headers: Any) -> list[tuple[str, str]]:
    items = headers.items() if hasattr(headers, "items") else headers
    return [(str(k), v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)) for k, v in items]


def _host_of(url: str) -> str:
    from botocore.auth import _host_from_url
    return _host_from_url(url)


def secret_for(directory: Any, access_key_id: str) -> str | None:
    """The secret the lab holds for an access key: moto's IAM backend in this process, or what a foreign
    emulator's directory kept when the key was created through the lab."""
    finder = getattr(directory, "secret_for", None)
    if finder is not None:  # a lab of several accounts
        return finder(access_key_id)
    kept = getattr(directory, "secrets", None)
    if isinstance(kept, dict):
        return kept.get(access_key_id)
    if access_key_id.startswith("ASIA"):
        session = directory.session_secret(access_key_id)
        return session[0] if session is not None else None
    for user in directory.iam.users.values():
        for key in user.access_keys:
            if key.access_key_id == access_key_id:
                return key.secret_access_key
    return None


def _signer() -> Any:
    from botocore.auth import SigV4Auth
    return SigV4Auth(None, "", "")  # its canonical path and query-string helpers only


_SIGNER = _signer()

# -- the front door, in AWS's order --------------------------------------------------------------------

def front_door(request: Any, route: Route | None, directory: Any, request_id: str) -> tuple[Any, Any, Any]:
    """``(call, principal, None)`` for a request that may go on to authorization, or
    ``(call, None, ErrorReply)``: the refusal AWS (or, for what the lab does not model, kmslab) answers.

    ``request`` has ``method``, ``url``, ``headers`` and the ``body`` as received (before any rewrite);
    ``route`` is what will execute it (None: the URL's host decides, as offline); ``directory`` knows the
    principals and the secrets.
    """
    from dataclasses import replace

    from ._wire import (
        MalformedRequest,
        auth_error,
        error_reply,
        guess_operation,
        not_modelled,
        protocol_of,
        read_call,
        unrecognized_client,
    )

    region = directory.region
    if route is None:
        route = route_url(request.url, request.headers, region)

    def shaped(service: str | None) -> Any:  # a call in the request's protocol, for a refusal
        protocol = protocol_of(request.headers, request.body)
        if service is None or service not in MODELLED:
            service = service_by_shape(request.headers) or service or "unknown"
        call = read_call(request.method, request.url, request.headers, b"", service=service, region=route.region)
        return replace(call, protocol=protocol,
                       operation=guess_operation(request.headers, request.body, protocol) or call.operation)

    if route.backend in ("moto_api", "instance_metadata"):
        call = shaped(route.backend)
        return call, None, not_modelled(call, request_id, region)
    try:
        signed = parse(request.headers)
    except AuthFailure as failure:  # no signature to speak of: nothing else is read
        call = shaped(route.backend)
        if failure.kind == "missing" and call.operation in UNSIGNED_ACTIONS:
            return call, None, not_modelled(replace(call, service="federation"), request_id, region)
        return call, None, auth_error(call, failure.kind, failure.message, request_id)
    if not route.modelled or (route.backend in ("dynamodb", "kms") and route.region != region):
        call = replace(shaped(route.backend), access_key_id=signed.access_key_id)
        return call, None, not_modelled(call, request_id, region)
    try:
        call = read_call(request.method, request.url, request.headers, request.body, service=route.backend,
                         region=route.region)
    except MalformedRequest:
        call = replace(shaped(route.backend), access_key_id=signed.access_key_id)
        return call, None, error_reply(call, "SerializationException", "", request_id)
    call = replace(call, access_key_id=signed.access_key_id)
    unknown = unknown_operation(call.service, call.protocol, call.target_prefix, call.operation)
    if unknown is not None:
        return call, None, error_reply(call, *unknown, request_id)
    try:
        check_scope(signed, route)
    except AuthFailure as failure:
        return call, None, auth_error(call, failure.kind, failure.message, request_id)
    principal = directory.principal_for_access_key(call.access_key_id)
    if principal is None:
        return call, None, unrecognized_client(call, request_id)
    secret = secret_for(directory, signed.access_key_id)
    if secret is not None:  # None: a foreign emulator's key made elsewhere (that emulator decides)
        try:
            VERIFIER.verify(signed, secret, request.method, request.url, request.headers, request.body or b"")
            if signed.access_key_id.startswith("ASIA"):
                check_session_token(signed, directory)
        except AuthFailure as failure:
            return call, None, auth_error(call, failure.kind, failure.message, request_id)
    return call, principal, None


def check_session_token(signed: Signed, directory: Any) -> None:
    """A temporary (``ASIA``) key is valid only with the session token STS issued with it (IAM User Guide,
    "Using temporary credentials with AWS resources": the SDK sends the token with every request); a
    missing or different token is the invalid-token error."""
    session = directory.session_secret(signed.access_key_id)
    token = session[1] if session is not None else None
    if token is None or signed.session_token is None or not hmac.compare_digest(signed.session_token, token):
        raise AuthFailure("token", "The security token included in the request is invalid")


#: One verifier for the process (its cache is keyed by the secret).
VERIFIER = Verifier()

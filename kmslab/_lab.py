"""The Lab: one AWS account to learn in, and the only owner of its session.

``Lab()`` (the offline target) starts moto in this process, seeds its random IDs, creates the lab's own
identity ``lab-admin`` (an IAM user with ``AdministratorAccess``), and points the process's default AWS
credentials at it, so that a plain ``boto3.client("dynamodb")`` acts as ``lab-admin``. Every request from
any boto3 client then passes kmslab's enforcement point (see :mod:`kmslab._enforce`); a request for a
service the lab does not emulate is refused, so nothing leaves the process even on a machine with real
credentials in its environment or config.

The emulator target either serves the lab itself on 127.0.0.1 (moto in this process, the enforcement point
in front of its HTTP server) or uses a *foreign* emulator someone else started (a moto server, LocalStack):
then kmslab reads that emulator's IAM, KMS and DynamoDB through their APIs (:mod:`kmslab._directory_api`)
and enforces the two locks here, in this Python session's botocore, before a request leaves the process.

One lab is open at a time in a process: opening a new one closes the previous one.

Every request meets the front door first (:mod:`kmslab._sigv4`): the service is the one that will execute
it, and its SigV4 signature is verified against the secret the lab holds for its access key. lab-admin's
access-key ID is seeded (outputs stay the same run to run); its secret is drawn for each lab from
:mod:`secrets` and never printed. Once a lab is closed, every session it handed out (``lab.session``,
``lab.client()``, ``session_for()``, the sessions of its stacks, and the default session behind a plain
``boto3.client()`` made while it was open) answers ``LabClosed`` without sending anything.
"""

from __future__ import annotations

import binascii
import functools
import itertools
import os
import socket
import threading
import weakref
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS
from moto.core.botocore_stubber import MockRawResponse

from ._directory import Directory
from ._enforce import CONNECTION_HEADER, CallExplanation, Enforcer, SimClock, WireRequest
from ._errors import LabError
from ._evaluator import evaluate
from ._trail import Trail

ACCOUNT_ID = "123456789012"
#: The second account's default ID (one of the example account IDs AWS's documentation uses).
PARTNER_ACCOUNT_ID = "444455556666"
DEFAULT_REGION = "us-east-1"
ADMIN_USER = "lab-admin"
TARGETS = ("offline", "emulator", "aws")

#: Environment variables a lab overrides while it is open (and restores on close).
_ENV_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
             "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CONFIG_FILE",
             "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
             "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL_STS", "AWS_CA_BUNDLE",
             "AWS_EC2_METADATA_DISABLED", "MOTO_IAM_LOAD_MANAGED_POLICIES")

_lock = threading.RLock()
_active: Lab | None = None


# -- the one enforcement point, installed once into botocore -------------------------------------------

def _dispatch(event_name: str, request: Any, **kwargs: Any) -> Any:
    """botocore ``before-send``, in the place of moto's own handler.

    botocore calls *every* ``before-send`` handler and keeps the first answer, so an enforcement point
    beside moto's handler could not stop moto from carrying out a refused call. This one handler therefore
    stands where moto's stood: with an offline lab open, it authorizes, then lets moto answer; with no lab,
    it is moto's handler unchanged (plain ``mock_aws()`` keeps working).
    """
    lab = _active
    if lab is None or lab.target == "aws":
        return _moto_stubber()(event_name, request, **kwargs)  # inactive unless a mock_aws() is running
    if lab._enforcer is None:
        return None
    if lab._foreign:
        return _dispatch_foreign(lab, request)
    if lab._server is not None and request.url.startswith(lab._server.endpoint_url):
        return None  # to the lab's own endpoint on 127.0.0.1: the server enforces there
    if lab.target != "offline":
        return _guard(lab, request)
    wire = WireRequest(request.method, request.url, request.headers, request.body or b"")

    def forward(authorized: WireRequest) -> Any:
        if authorized.body != (request.body or b""):  # the enforcer corrected the request
            request.body = authorized.body
            request.headers["Content-Length"] = str(len(authorized.body))
        # The caller is authenticated already: tell moto the account rather than have it search every
        # partition's IAM backend for the access key.
        # The account is the one that executes the request (a shared table's or key's, across accounts).
        request.headers["x-moto-account-id"] = lab._enforcer.directory.account_id  # replaces the caller's value
        return _moto_stubber().process_request(request)

    from ._sigv4 import route_url
    answer = lab._enforcer.handle(wire, forward, route_url(request.url, request.headers, lab.region))
    if answer is None:  # the emulator gave no answer: nothing was sent anywhere
        return _guard(lab, request)
    status, headers, body = answer
    return AWSResponse(request.url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]


def _unenforced_session() -> Any:
    """A botocore session whose clients kmslab's enforcement point lets through (an emulator's own reads)."""
    import botocore.session

    session = botocore.session.Session()
    session.unregister("before-send", _dispatch)
    return session


def _dispatch_foreign(lab: Lab, request: Any) -> Any:
    """A foreign emulator: enforce here, then send the request to it with botocore's own HTTP session.

    The enforcer needs the emulator's answer (to correct it, to make the grant DynamoDB makes on
    CreateTable, to write the trail), so the request is sent from here rather than left to botocore; a
    request for a service kmslab does not model is refused here, as in the other targets.
    """
    if not _same_origin(request.url, lab.endpoint_url or ""):
        body = json_bytes("kmslab#ForeignEmulatorLab", f"This kmslab lab sends requests only to its emulator at "
                          f"{lab.endpoint_url}; the request to {request.url} was not sent.")
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"},
                           MockRawResponse(body))  # type: ignore[arg-type]
    directory = lab._directory
    directory.forget()
    original = request.body or b""
    wire = WireRequest(request.method, request.url, request.headers, original)

    def forward(authorized: WireRequest) -> Any:
        if authorized.body != original:  # the enforcer corrected the request (its signature is not redone)
            request.body = authorized.body
            request.headers["Content-Length"] = str(len(authorized.body))
        response = lab._http.send(request)
        directory.forget()  # the call may have changed what the after-checks read
        content = response.content
        _remember_secret(directory, request, response.status_code, content)
        return response.status_code, dict(response.headers.items()), content

    from ._sigv4 import route_prepared
    route = route_prepared(request.url, request.headers, original, lab.region)
    answer = lab._enforcer.handle(wire, forward, route)
    if answer is None:
        return None
    status, headers, body = answer
    if any(name.lower() == "x-amz-crc32" for name in headers):  # DynamoDB's checksum, of the corrected body
        headers = {k: v for k, v in headers.items() if k.lower() != "x-amz-crc32"}
        headers["x-amz-crc32"] = str(binascii.crc32(body) & 0xFFFFFFFF)
    return AWSResponse(request.url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]


def json_bytes(kind: str, message: str) -> bytes:
    import json
    return json.dumps({"__type": kind, "message": message}).encode()


def _same_origin(url: str, endpoint: str) -> bool:
    from urllib.parse import urlparse
    a, b = urlparse(url), urlparse(endpoint)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _remember_secret(directory: Any, request: Any, status: int, content: bytes) -> None:
    """Keep the secret of an access key created through the lab (the emulator never shows it again)."""
    import re
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
    if status != 200 or "Action=CreateAccessKey" not in body:
        return
    text = content.decode(errors="replace")
    key_id = re.search(r"<AccessKeyId>(.*?)</AccessKeyId>", text)
    secret = re.search(r"<SecretAccessKey>(.*?)</SecretAccessKey>", text)
    if key_id and secret:
        directory.secrets[key_id.group(1)] = secret.group(1)


def _closed_answer(operation: str) -> tuple[Any, dict[str, Any]]:
    """What a client of a closed lab gets: a ``ClientError`` (code ``LabClosed``), the request unsent."""
    message = (f"this kmslab lab is closed; {operation} was not sent anywhere. Open a new one with Lab() and "
               "take clients from it (lab.client(...), lab.session, lab.session_for(...))")
    metadata = {"HTTPStatusCode": 400, "HTTPHeaders": {}, "RequestId": "none (not sent)"}
    http = AWSResponse("", 400, {}, MockRawResponse(b""))  # type: ignore[arg-type]
    return http, {"Error": {"Code": "LabClosed", "Message": message}, "ResponseMetadata": metadata}


def _listening(host: str, port: int) -> bool:
    """Whether something accepts connections on host:port (a free port: kmslab serves the lab there)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _guard(lab: Lab, request: Any) -> Any:
    """What an offline lab answers for a service it does not emulate: nothing reaches the network. An
    emulator lab lets requests reach the loopback address only."""
    if lab.target == "emulator" and request.url.startswith(("http://127.0.0.1:", "http://localhost:")):
        return None
    body = (b'{"__type":"kmslab#OfflineLab","message":"This kmslab lab emulates DynamoDB, KMS, IAM and STS '
            b'only, on this machine; the request was not sent anywhere."}')
    return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"},
                       MockRawResponse(body))  # type: ignore[arg-type]


def _moto_stubber() -> Any:
    import moto.core.models as moto_models
    return moto_models.botocore_stubber


_connections: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_connection_numbers = itertools.count(1)


def _mark_connection(request: Any, request_signer: Any = None, **kwargs: Any) -> None:
    """botocore ``before-sign``: tell the lab which client sent a request (one client, one connection:
    DynamoDB caches a table key per connection). Never on the real-AWS target."""
    lab = _active
    if lab is None or lab.target == "aws" or request_signer is None:
        return
    number = _connections.get(request_signer)
    if number is None:
        number = _connections[request_signer] = next(_connection_numbers)
    request.headers[CONNECTION_HEADER] = str(number)


def _install_handlers() -> None:
    """Put :func:`_dispatch` where moto's ``before-send`` handler stands, and :func:`_mark_connection`
    before signing, once."""
    if not any(entry[1] is _mark_connection for entry in BUILTIN_HANDLERS):
        BUILTIN_HANDLERS.append(("before-sign", _mark_connection))
    stubber = _moto_stubber()  # importing moto adds its handler to BUILTIN_HANDLERS
    for index, entry in enumerate(BUILTIN_HANDLERS):
        if entry[1] is _dispatch:
            return
        if entry[0] == "before-send" and entry[1] is stubber:
            BUILTIN_HANDLERS[index] = ("before-send", _dispatch)
            return
    BUILTIN_HANDLERS.append(("before-send", _dispatch))


_install_handlers()


# -- AWS managed policies, read once per process --------------------------------------------------------

@functools.cache
def _managed_policy_fields() -> tuple[tuple[Any, ...], ...]:
    """The fields of every AWS managed policy moto ships, with each document already serialized."""
    import json
    from datetime import datetime

    from moto.iam.aws_managed_policies import aws_managed_policies_data
    return tuple((name, data.get("DefaultVersionId"), data.get("Path"), json.dumps(data.get("Document")),
                  datetime.fromisoformat(data["CreateDate"]), datetime.fromisoformat(data["UpdateDate"]))
                 for name, data in json.loads(aws_managed_policies_data).items())


def _install_managed_policies_once() -> None:
    """Each new IAM account in moto parses its 1,582 AWS managed policies from JSON and serializes each
    document again: about 70 ms of every ``Lab()``. The same policy objects, built from fields read once
    per process (a new object per account, as before, so no account sees another's changes)."""
    from moto.iam.models import AWSManagedPolicy, IAMBackend
    from moto.settings import load_iam_aws_managed_policies

    if getattr(IAMBackend._init_aws_policies, "kmslab", False):
        return

    def _init_aws_policies(backend: Any) -> list[Any]:
        if not load_iam_aws_managed_policies():
            return []
        return [AWSManagedPolicy(name, account_id=backend.account_id, region=backend.region_name,
                                 default_version_id=version, path=path, document=document, create_date=created,
                                 update_date=updated)
                for name, version, path, document, created, updated in _managed_policy_fields()]

    _init_aws_policies.kmslab = True  # type: ignore[attr-defined]
    IAMBackend._init_aws_policies = _init_aws_policies  # type: ignore[method-assign]


_install_managed_policies_once()


class Lab:
    """An AWS account to learn in: offline (moto in this process), an emulator endpoint, or real AWS.

    >>> with Lab() as lab:                                   # doctest: +SKIP
    ...     outputs = lab.terraform("terraform").apply()

    ``target="emulator"`` chooses between serving the lab and using a foreign emulator by this rule:

    - ``endpoint_url=None``, or an ``http://127.0.0.1:PORT`` / ``http://localhost:PORT`` on which nothing
      listens: kmslab **serves** the lab there itself (moto in this process, the enforcement point in front
      of its HTTP server; every client, the terraform CLI included, meets the two locks). IDs are
      deterministic for a given ``seed``.
    - any other URL (another host, or a loopback port something already listens on, e.g. a moto server
      or LocalStack): a **foreign** emulator. kmslab reads its IAM, KMS and DynamoDB through their APIs and
      enforces the two locks in *this Python session* only (``AWS_ENDPOINT_URL`` points boto3 there; a
      client elsewhere, or ``engine="terraform"``, would bypass kmslab, so the latter is refused).
    - ``serve=True`` / ``serve=False`` overrides the rule.

    On a foreign emulator the lab signs in with ``admin_credentials=(key_id, secret)`` (default: the
    environment's ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, else ``test``/``test`` as emulators
    accept), creates ``lab-admin`` through the emulator's IAM (taking over an existing one: its old access
    keys are deleted) and uses it. IDs are the emulator's, not deterministic. The lab clock still drives
    the table-key cache and when DynamoDB notices an unusable key; key deletion windows follow the
    emulator's own clock (``advance`` deletes nothing there), and the AWS managed key
    ``alias/aws/dynamodb`` gets AWS's key policy but keeps the ``KeyManager`` the emulator gives it.
    Requests the enforcer corrects (e.g. a key ARN where moto wants a key ID) are sent without a new
    signature: an emulator that verifies SigV4 signatures would refuse them.
    """

    def __init__(self, target: str | None = None, *, seed: int = 0, region: str = DEFAULT_REGION,
                 endpoint_url: str | None = None, quiet: bool = False, serve: bool | None = None,
                 admin_credentials: tuple[str, str] | None = None) -> None:
        target = target or os.environ.get("KMSLAB_TARGET") or "offline"
        if target not in TARGETS:
            raise LabError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")
        self.target = target
        self.region = region
        self.account_id = ACCOUNT_ID
        self.seed = seed
        self.quiet = quiet
        self.endpoint_url = endpoint_url
        self.clock = SimClock()
        self.trail = Trail()
        self._saved_env: dict[str, str | None] = {}
        self._mock: Any = None
        self._enforcer: Enforcer | None = None
        self._closed = False
        self._clients: dict[str, Any] = {}
        self._server: Any = None
        self._config_patch: Any = None
        self._http: Any = None
        self.lab_id: str | None = None
        self._foreign = target == "emulator" and self._is_foreign(serve)
        if target == "aws":
            self._open_aws()
        elif self._foreign:
            self._open_foreign(admin_credentials)
        else:
            self._open()

    def _is_foreign(self, serve: bool | None) -> bool:
        """The rule in the class docstring: serve on a free loopback port (or none given), else foreign."""
        from urllib.parse import urlparse
        if serve is not None:
            if not serve and not self.endpoint_url:
                raise LabError("serve=False needs the endpoint_url of the emulator to use")
            return not serve
        if not self.endpoint_url:
            return False
        parsed = urlparse(self.endpoint_url)
        loopback = parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost") and parsed.port
        return not (loopback and not _listening(parsed.hostname or "127.0.0.1", parsed.port or 0))

    # -- opening and closing ------------------------------------------------------------------------
    def _open(self) -> None:
        global _active
        from moto import mock_aws
        from moto.moto_api._internal import mock_random

        with _lock:
            if _active is not None:
                _active.close()
            _install_handlers()
            if self.target == "offline":
                self._mock = mock_aws(config={"iam": {"load_aws_managed_policies": True}})
                self._mock.start()
            else:
                self._start_emulator()
            mock_random.seed(self.seed)
            self._directory = Directory(self.account_id, self.region)
            access_key = self._create_admin()
            self._set_env(access_key.access_key_id, access_key.secret_access_key)
            self._admin_credentials = (access_key.access_key_id, access_key.secret_access_key)
            self._enforcer = Enforcer(self._directory, self.clock, self.trail, evaluate, seed=self.seed)
            _active = self
        if self.target == "emulator":
            os.environ["AWS_ENDPOINT_URL"] = self._server.endpoint_url
        self.session = self._guarded(boto3.Session(aws_access_key_id=access_key.access_key_id,
                                                   aws_secret_access_key=access_key.secret_access_key,
                                                   region_name=self.region))
        self._guard_default_session()

    def _open_aws(self) -> None:
        """Real AWS: the learner's own credentials, refused unless they opted in for this account.

        The opt-in is checked before any request (the account allow-list as far as it can be: that it names
        an account); STS is asked with short timeouts and few retries; the instance metadata address is not
        asked for credentials unless ``KMSLAB_USE_INSTANCE_METADATA=1``.
        """
        global _active
        import botocore.session
        from botocore.config import Config

        from ._aws import IMDS_OPT_IN, check_opt_in, check_opt_in_before_any_request, new_lab_id
        check_opt_in_before_any_request()
        core = botocore.session.get_session()
        if os.environ.get(IMDS_OPT_IN) != "1":
            core.get_component("credential_provider").remove("iam-role")
        self.session = self._guarded(boto3.Session(region_name=self.region, botocore_session=core))
        if self.session.get_credentials() is None:
            raise LabError("no AWS credentials in this environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                           "AWS_PROFILE or ~/.aws); kmslab did not ask the instance metadata service. On an EC2 "
                           f"instance with a role, set {IMDS_OPT_IN}=1 to let it.")
        config = Config(connect_timeout=5, read_timeout=10, retries={"total_max_attempts": 2, "mode": "standard"})
        try:
            identity = self.session.client("sts", config=config).get_caller_identity()
        except Exception as error:  # no credentials, expired token, no network: said in one sentence
            raise LabError(f"cannot reach AWS STS with the credentials in this environment (gave up after 2 "
                           f"attempts, 5 s to connect and 10 s to read each): {error}") from error
        self.account_id = identity["Account"]
        check_opt_in(self.account_id)
        self.caller_arn = identity["Arn"]
        self.lab_id = os.environ.get("KMSLAB_LAB_ID") or new_lab_id(self.caller_arn)
        with _lock:
            if _active is not None:
                _active.close()
            _active = self
        print(f"kmslab on REAL AWS: account {self.account_id}, region {self.region}, as {self.caller_arn}. "
              f"Every resource is tagged kmslab:lab={self.lab_id}; remove them with: kmslab cleanup "
              f"--lab-id {self.lab_id}")

    def _open_foreign(self, admin_credentials: tuple[str, str] | None) -> None:
        """A foreign emulator: read it through its APIs, enforce in this process (see the class docstring)."""
        global _active
        from botocore.httpsession import URLLib3Session
        from botocore.utils import get_environ_proxies

        from ._directory_api import ApiDirectory

        url = self.endpoint_url or ""
        with _lock:
            if _active is not None:
                _active.close()
            _install_handlers()
            credentials = admin_credentials or (
                (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
                if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")
                else ("test", "test"))
            try:
                directory = ApiDirectory(url, self.region, credentials, session=_unenforced_session())
                self.account_id = directory.account_id
                access_key_id, secret = directory.create_admin(ADMIN_USER)
            except Exception as error:  # unreachable, refused, or not an AWS API at all: said in one sentence
                raise LabError(
                    f"{url!r} is not a loopback address with a free port for kmslab to serve the lab on, so "
                    "kmslab treats it as a foreign emulator (enforcing the two locks in this Python session); "
                    f"but it cannot use it with the admin credentials it was given: {error}") from error
            self._directory = directory  # type: ignore[assignment]
            self._http = URLLib3Session(proxies=get_environ_proxies(url), timeout=60)
            self._set_env(access_key_id, secret)
            self._admin_credentials = (access_key_id, secret)
            self._enforcer = Enforcer(directory, self.clock, self.trail, evaluate,  # type: ignore[arg-type]
                                      seed=self.seed)
            _active = self
        os.environ["AWS_ENDPOINT_URL"] = url
        self.session = self._guarded(boto3.Session(aws_access_key_id=access_key_id, aws_secret_access_key=secret,
                                                   region_name=self.region))
        self._guard_default_session()

    def _simulated(self, what: str) -> None:
        self._check_open()
        if self.target == "aws":
            raise LabError(f"{what} needs a simulated target (offline or emulator): in real AWS, AWS decides "
                           "and real time passes")

    def _start_emulator(self) -> None:
        """Serve the lab on 127.0.0.1; the Python session reaches it through ``AWS_ENDPOINT_URL``."""
        from unittest.mock import patch
        from urllib.parse import urlparse

        from moto.core.base_backend import BackendDict
        from moto.core.config import default_user_config

        port = 0
        if self.endpoint_url:
            parsed = urlparse(self.endpoint_url)
            if parsed.hostname not in ("127.0.0.1", "localhost") or not parsed.port:
                raise LabError(
                    f"with serve=True kmslab serves the emulator itself, on 127.0.0.1; {self.endpoint_url!r} is "
                    "not a loopback address with a port. Give e.g. endpoint_url='http://127.0.0.1:4566', or none "
                    "for a free port; or serve=False to use an emulator someone else runs (the two locks are "
                    "then enforced in this Python session only).")
            port = parsed.port
        self._config_patch = patch.dict(default_user_config, {"iam": {"load_aws_managed_policies": True}})
        self._config_patch.start()
        BackendDict.reset()
        self._server = self._serve(port)

    def _serve(self, port: int = 0) -> Any:
        from ._server import EmulatorServer
        try:
            return EmulatorServer(lambda: self._enforcer, port=port)
        except OSError as error:
            raise LabError(f"cannot serve the lab on 127.0.0.1:{port}: {error.strerror}") from error

    @property
    def endpoint(self) -> str:
        """The lab's HTTP endpoint on 127.0.0.1 (started on first use in the offline target); for a foreign
        emulator, its URL (enforced only for requests from this Python session)."""
        self._check_open()
        if self._foreign:
            return self.endpoint_url or ""
        if self._server is None:
            self._server = self._serve()
        return self._server.endpoint_url

    def _create_admin(self, directory: Any = None, name: str = ADMIN_USER) -> Any:
        """lab-admin (or another account's administrator) and its access key: the seeded key ID (outputs stay
        the same run to run), and a secret drawn from :mod:`secrets` for this lab alone (never printed), so
        that knowing kmslab's seed is not knowing the key."""
        import secrets
        iam = (directory or self._directory).iam
        iam.create_user(region_name=self.region, user_name=name, path="/", tags=[])
        iam.attach_user_policy("arn:aws:iam::aws:policy/AdministratorAccess", name)
        access_key = iam.create_access_key(user_name=name)  # draws from the seeded generator as before
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        access_key.secret_access_key = "".join(secrets.choice(alphabet) for _ in range(40))
        return access_key

    def _set_env(self, access_key_id: str, secret: str) -> None:
        self._saved_env = {name: os.environ.get(name) for name in _ENV_KEYS}
        for name in _ENV_KEYS:
            os.environ.pop(name, None)
        os.environ.update({
            "AWS_ACCESS_KEY_ID": access_key_id,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        boto3.DEFAULT_SESSION = None

    def close(self) -> None:
        """End the lab: stop the emulator and give the process its AWS environment back."""
        global _active
        with _lock:
            if self._closed:
                return
            self._closed = True
            for name, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            boto3.DEFAULT_SESSION = None
            if _active is self:
                _active = None
            # moto keeps which accounts belong to an organization in a process-wide table that outlives
            # its backends: the lab's membership goes with the lab.
            from moto.organizations.models import organizations_backends
            organizations_backends.master_accounts.pop(self.account_id, None)
            self._enforcer = None
            if self._server is not None:
                self._server.stop()
                self._server = None
            if self._mock is not None:
                self._mock.stop()
                self._mock = None
            if self._config_patch is not None:
                from moto.core.base_backend import BackendDict
                BackendDict.reset()
                self._config_patch.stop()
                self._config_patch = None

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise LabError("this lab is closed; open a new one with Lab()")

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Lab {self.target} account={self.account_id} region={self.region} {state}>"

    # -- a second account ---------------------------------------------------------------------------
    def add_account(self, name: str = "partner", account_id: str = PARTNER_ACCOUNT_ID) -> Account:
        """A second AWS account in this lab (its own IAM users and roles, keys and tables, its own
        administrator ``<name>-admin`` with ``AdministratorAccess``): the :class:`Account` to act in it.

        Its principals can reach the lab account's table and key by their ARNs, as AWS lets them across
        accounts: both sides must allow (the resource's policy in the lab account, the caller's IAM
        policies in theirs). Asking again for the same ID gives the same account. Offline and served
        emulator targets only."""
        self._simulated("add_account (a second account in the lab's emulator)")
        if self._foreign:
            raise LabError("add_account needs the lab's own emulator: a foreign emulator's other accounts are not "
                           "read")
        accounts = self.__dict__.setdefault("_accounts", {})
        if account_id in accounts:
            return accounts[account_id]
        if account_id == self.account_id or not (account_id.isdigit() and len(account_id) == 12):
            raise LabError(f"account_id must be 12 digits and not the lab's own account; got {account_id!r}")
        directory = Directory(account_id, self.region)
        access_key = self._create_admin(directory, f"{name}-admin")
        assert self._enforcer is not None
        self._enforcer.add_account(directory)
        session = self._new_session(access_key.access_key_id, access_key.secret_access_key)
        accounts[account_id] = Account(self, name, directory, session,
                                       (access_key.access_key_id, access_key.secret_access_key))
        return accounts[account_id]

    # -- sessions -----------------------------------------------------------------------------------
    def session_for(self, user: str) -> boto3.Session:
        """A boto3 session signed with an active access key of IAM user ``user``."""
        self._simulated("session_for (a user's keys from the emulator)")
        return self._session_for(self._directory, user)

    def _session_for(self, directory: Any, user: str) -> boto3.Session:
        try:
            pair = directory.active_access_key(user)
        except KeyError:
            raise LabError(f"no IAM user named {user!r} in account {directory.account_id}") from None
        if pair is not None:
            return self._new_session(*pair)
        if self._foreign:
            raise LabError(f"IAM user {user!r} has no active access key created through this lab's session: a "
                           "foreign emulator never returns a secret access key again")
        raise LabError(f"IAM user {user!r} has no active access key (create one with aws_iam_access_key)")

    def assume_role(self, role: str, session_name: str = "lab-session", *, user: str | None = None,
                    policy: dict[str, Any] | str | None = None, policy_arns: list[str] | None = None,
                    duration_seconds: int | None = None) -> boto3.Session:
        """A boto3 session of a role session: ``sts:AssumeRole`` on ``role`` (a name or ARN), called by IAM
        user ``user`` (lab-admin when None), with the session policies ``policy`` / ``policy_arns``.

        The call meets both locks like any other (the caller's IAM policies and the role's trust policy);
        a refusal is raised as botocore's ``ClientError``, with AWS's ``AccessDenied``.
        """
        self._check_open()
        caller = self.session_for(user) if user is not None else self.session
        return self._assume_role(self._directory, caller, role, session_name, policy, policy_arns,
                                 duration_seconds)

    def _assume_role(self, directory: Any, caller: boto3.Session, role: str, session_name: str,
                     policy: dict[str, Any] | str | None, policy_arns: list[str] | None,
                     duration_seconds: int | None) -> boto3.Session:
        import json as _json
        arn = role if role.startswith("arn:") else f"arn:aws:iam::{directory.account_id}:role/{role}"
        if not role.startswith("arn:"):
            found = directory.role(role) if hasattr(directory, "role") else None
            arn = found.arn if found is not None else arn
        params: dict[str, Any] = {"RoleArn": arn, "RoleSessionName": session_name}
        if policy is not None:
            params["Policy"] = policy if isinstance(policy, str) else _json.dumps(policy)
        if policy_arns:
            params["PolicyArns"] = [{"arn": a} for a in policy_arns]
        if duration_seconds is not None:
            params["DurationSeconds"] = duration_seconds
        credentials = caller.client("sts").assume_role(**params)["Credentials"]
        return self._new_session(credentials["AccessKeyId"], credentials["SecretAccessKey"],
                                 credentials["SessionToken"])

    def organization(self) -> Any:
        """Make the lab's account a member of an AWS Organizations organization (management account
        111122223333), with SCPs and RCPs enabled and AWS's FullAWSAccess / RCPFullAWSAccess attached; the
        :class:`kmslab._directory.Organization` whose ``attach("scp", name, document)`` adds guardrails.
        Offline and emulator targets only (the organization is kept in the lab's own moto)."""
        self._simulated("organization (an organization kept in the lab's emulator)")
        if self._foreign:
            raise LabError("organization needs the lab's own emulator: a foreign emulator's organization is not read")
        from ._directory import Organization
        return Organization(self.account_id, self.region)

    def client(self, service: str) -> Any:
        """lab-admin's boto3 client for ``service``, made once per lab (a new client costs about 10 ms)."""
        self._check_open()
        client = self._clients.get(service)
        if client is None:
            client = self._clients[service] = self.session.client(service)
        return client

    def _new_session(self, access_key_id: str, secret_access_key: str,
                     session_token: str | None = None) -> boto3.Session:
        """A session that shares the lab session's loaded service models (each new one would read them
        again from disk: about 50 ms a session)."""
        import botocore.session
        core = botocore.session.get_session()
        core.register_component("data_loader", self.session._session.get_component("data_loader"))
        return self._guarded(boto3.Session(aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                                           aws_session_token=session_token, region_name=self.region,
                                           botocore_session=core))

    def _guarded(self, session: boto3.Session) -> boto3.Session:
        """``session``, whose every client refuses once this lab is closed, before any request is made (no
        socket is opened): a client kept from a closed lab would otherwise reach real AWS endpoints."""
        import weakref
        lab = weakref.ref(self)

        def refuse_when_closed(model: Any = None, **kwargs: Any) -> Any:
            current = lab()
            if current is not None and not current._closed:
                return None
            return _closed_answer(getattr(model, "name", "the call"))

        session._session.register("before-call", refuse_when_closed, unique_id=f"kmslab-closed-{id(self)}")
        return session

    def _guard_default_session(self) -> None:
        """The default session (``boto3.client(...)`` without a session) guarded too, while this lab is open."""
        boto3.setup_default_session()
        self._guarded(boto3.DEFAULT_SESSION)  # type: ignore[arg-type]

    # -- terraform ----------------------------------------------------------------------------------
    def terraform(self, path: str | os.PathLike[str], variables: dict[str, Any] | None = None, *,
                  engine: str | None = None, out: Any = None, providers: dict[str, Any] | None = None) -> Any:
        """A stack over the ``.tf`` files in ``path``, applied as ``lab-admin``.

        ``engine="embedded"`` (the default) applies in-process in milliseconds; ``engine="terraform"`` runs
        the real terraform CLI against the lab's endpoint on 127.0.0.1. ``KMSLAB_ENGINE`` sets the default.
        In real AWS (``target="aws"``) names get the lab ID as prefix and every resource the tag
        ``kmslab:lab=<lab id>`` (the bundled configuration's ``name_prefix`` and ``default_tags``).
        ``out`` receives the progress lines (default: printed, unless the lab is quiet). ``providers`` maps
        a provider alias (``provider = aws.partner``) to an :class:`Account` of this lab (or a boto3 session):
        its resources are made in that account (embedded engine).

        The lab keeps one Terraform state per configuration folder and engine, as one working
        directory does: ``lab.terraform("terraform").apply()`` twice changes nothing the second time,
        and ``lab.terraform("terraform").destroy()`` on a new stack destroys what the first created.
        """
        self._check_open()
        engine = engine or os.environ.get("KMSLAB_ENGINE") or "embedded"
        if out is None:
            out = (lambda line: None) if self.quiet else print
        if self.target == "aws":
            # Real AWS: every resource tagged with the lab ID, every name prefixed with it.
            variables = {"name_prefix": f"{self.lab_id}-", "default_tags": {"kmslab:lab": self.lab_id},
                         **(variables or {})}
        if providers and engine != "embedded":
            raise LabError("providers= (a provider alias for a second account) is taken by the embedded engine "
                           "only; with engine='terraform' give the alias its credentials in the configuration")
        if engine == "embedded":
            from ._terraform import Stack, State
            sessions = {alias: getattr(target, "session", target) for alias, target in (providers or {}).items()}
            return Stack(Path(path), session=self.session, variables=variables, out=out,
                         state=self._terraform_state("embedded", path, State), providers=sessions)
        if engine == "terraform":
            from ._tfcli import TerraformCLIStack, new_workdir
            if self._foreign:
                raise LabError("engine='terraform' would send the terraform CLI's requests straight to the foreign "
                               "emulator, past kmslab's enforcement (which stands in this Python session): use "
                               "engine='embedded', or let kmslab serve the lab (endpoint_url=None)")
            workdir = self._terraform_state("terraform", path, new_workdir)
            if self.target == "aws":
                return TerraformCLIStack(Path(path), endpoint=None, region=self.region, variables=variables,
                                         out=out, workdir=workdir)
            access_key, secret_key = self._admin_credentials
            return TerraformCLIStack(Path(path), endpoint=self.endpoint, access_key=access_key,
                                     secret_key=secret_key, region=self.region, variables=variables, out=out,
                                     workdir=workdir, guard=self._check_open)
        raise LabError(f"unknown engine {engine!r}: choose 'embedded' or 'terraform'")

    def _terraform_state(self, engine: str, path: str | os.PathLike[str], make: Any) -> Any:
        """The state (embedded) or working directory (CLI) of one configuration folder in this lab."""
        states = self.__dict__.setdefault("_terraform_states", {})
        key = (engine, str(Path(path).resolve()))
        if key not in states:
            states[key] = make()
        return states[key]

    # -- time ---------------------------------------------------------------------------------------
    @property
    def now(self) -> Any:
        """The lab clock (UTC). It starts at a fixed instant and moves only with :meth:`advance`."""
        return self.clock.now

    def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0) -> None:
        """Move the lab clock forward: cached table keys expire, deletion windows end."""
        self._simulated("advance")
        self.clock.advance(seconds + 60 * minutes + 3600 * hours + 86400 * days)
        assert self._enforcer is not None
        self._enforcer.delete_due_keys()

    # -- explanations -------------------------------------------------------------------------------
    def explain(self, principal: str, action: str, resource: str, context: dict[str, Any] | None = None) -> Any:
        """The Decision for one request, with the policies the lab holds now (like IAM's policy simulator).

        ``principal`` is a user name or ARN, or a role (``"role/<name>"`` or its ARN: a session of it, with
        the role's policies and boundary); for a ``kms:`` action ``resource`` may be a key ID, key ARN or
        alias, and the key policy and grants are included; for ``sts:AssumeRole`` on a role ARN, the
        role's trust policy is.
        """
        self._simulated("explain")
        assert self._enforcer is not None
        self._forget()
        return self._explain(self._principal_named(principal), action, resource, context)

    def _principal_named(self, name_or_arn: str, directory: Any = None) -> Any:
        """A principal of the lab account (or of ``directory``), or of whichever lab account its ARN names."""
        if directory is None:
            directory = self._directory_for_arn(name_or_arn)
        try:
            return directory.principal_named(name_or_arn)
        except KeyError as error:
            raise LabError(error.args[0]) from None

    def _directory_for_arn(self, arn: str) -> Any:
        """The lab account an ARN names (the lab's own for a name, or an account not in the lab)."""
        parts = arn.split(":") if arn.startswith("arn:") else []
        directories = self._enforcer.directories if self._enforcer is not None else {}
        return directories.get(parts[4], self._directory) if len(parts) > 5 else self._directory

    def _explain(self, who: Any, action: str, resource: str, context: dict[str, Any] | None) -> Any:
        assert self._enforcer is not None
        directory = self._directory_for_arn(resource)
        key = None
        if action.lower().startswith("kms:") and resource != "*":
            key = directory.key(resource)
            if key is None:
                raise LabError(f"no KMS key {resource!r} in this lab")
            resource = key.arn
        elif action.lower().startswith("dynamodb:") and not resource.startswith("arn:") and resource != "*":
            resource = directory.table_arn(resource)
        full_context = {"kms:CallerAccount": who.account_id} if key is not None else {}
        full_context.update(context or {})
        with self._enforcer._in_account(directory):
            return self._enforcer.decide(who, action, resource, key=key, context=full_context)

    def explain_call(self, principal: str, action: str, table: str) -> CallExplanation:
        """Both locks for one DynamoDB call, decided now without making it (a what-if).

        ``action`` is a DynamoDB action such as ``"dynamodb:Scan"``; for the actions that read or write
        items of a table under a KMS key, the ``kms:Decrypt`` DynamoDB would make on the caller's behalf is
        decided too, and the key's state checked. The table-key cache is not consulted: this is what a new
        connection would meet.
        """
        self._simulated("explain_call")
        assert self._enforcer is not None
        self._forget()
        who = self._principal_named(principal)
        info = self._directory.table(table)
        if info is None:
            raise LabError(f"no DynamoDB table {table!r} in this lab")
        return self._enforcer.what_if(who, action, info)

    def _forget(self) -> None:
        """A foreign emulator's directory reads afresh (the world may have changed since the last call)."""
        forget = getattr(self._directory, "forget", None)
        if forget is not None:
            forget()

    def why(self) -> CallExplanation | None:
        """The explanation behind the last refused call, every lock it met included."""
        return self._enforcer.last_refused if self._enforcer else None

    def explanation(self, event_id: str) -> CallExplanation | None:
        """The explanation behind one trail record (by its ``eventID``)."""
        return self._enforcer.explanations.get(event_id) if self._enforcer else None


class Account:
    """Another AWS account of a lab (:meth:`Lab.add_account`): its own IAM, KMS and DynamoDB in the lab's
    emulator, and its own administrator ``<name>-admin``, whose session this is.

    >>> partner = lab.add_account("partner")                       # doctest: +SKIP
    >>> partner.client("dynamodb").get_item(TableName=table_arn, Key=...)   # across accounts, by ARN
    """

    def __init__(self, lab: Lab, name: str, directory: Any, session: boto3.Session,
                 admin_credentials: tuple[str, str]) -> None:
        self._lab = lab
        self._directory = directory
        self.name = name
        self.account_id = directory.account_id
        self.admin = f"{name}-admin"
        self.session = session
        self._admin_credentials = admin_credentials
        self._clients: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Account {self.name} {self.account_id}>"

    @property
    def root_arn(self) -> str:
        """The account's principal as key and resource policies name it: ``arn:aws:iam::<id>:root``."""
        return f"arn:aws:iam::{self.account_id}:root"

    def client(self, service: str) -> Any:
        """The administrator's boto3 client for ``service``, made once."""
        self._lab._check_open()
        client = self._clients.get(service)
        if client is None:
            client = self._clients[service] = self.session.client(service)
        return client

    def session_for(self, user: str) -> boto3.Session:
        """A boto3 session signed with an active access key of this account's IAM user ``user``."""
        self._lab._simulated("session_for")
        return self._lab._session_for(self._directory, user)

    def assume_role(self, role: str, session_name: str = "lab-session", *, user: str | None = None,
                    policy: dict[str, Any] | str | None = None, policy_arns: list[str] | None = None,
                    duration_seconds: int | None = None) -> boto3.Session:
        """A session of one of this account's roles, assumed by ``user`` (the administrator when None)."""
        self._lab._check_open()
        caller = self.session_for(user) if user is not None else self.session
        return self._lab._assume_role(self._directory, caller, role, session_name, policy, policy_arns,
                                      duration_seconds)

    def explain(self, principal: str, action: str, resource: str, context: dict[str, Any] | None = None) -> Any:
        """The Decision for one request by this account's ``principal`` (a user name, ``role/<name>`` or
        an ARN) on ``resource`` (a lab account's table or key ARN, or this account's by name)."""
        self._lab._simulated("explain")
        who = self._lab._principal_named(principal, self._directory)
        if not resource.startswith("arn:") and resource != "*" and not action.lower().startswith("kms:"):
            resource = self._directory.table_arn(resource)
        return self._lab._explain(who, action, resource, context)

"""The lab's AWS served over HTTP on 127.0.0.1, for the emulator target and the real terraform CLI.

A moto server runs in a thread of this process, so it holds the very same accounts as the Python
session, and the same enforcement point stands in front of it: a request from the terraform CLI, the AWS
CLI or a notebook meets the two locks alike. It binds the loopback address only, on a free port.

It exposes only the AWS APIs kmslab enforces:

- the service a request is for is the one moto's own dispatcher will pick (asked, not guessed: see
  :func:`kmslab._sigv4.route_wsgi`), and every request is authenticated (SigV4 verified) before moto sees it;
- moto's own API (``/moto-api``: its data dump holds every secret, its reset wipes the lab) and its
  instance-metadata imitation answer 404; a service kmslab does not model (S3, SQS...) is refused in the
  request's protocol; each refusal is in the trail;
- no CORS: moto's permissive headers are removed from every answer, so a web page open in the learner's
  browser cannot read the lab's answers, and a preflight (``OPTIONS``, unsigned) is refused. Real DynamoDB
  does answer CORS preflights; the lab on a loopback port of the learner's machine deliberately does not;
- while no lab is open behind it (starting, or closed) every request is refused with HTTP 503.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from io import BytesIO
from typing import Any

from ._enforce import Enforcer, WireRequest


class EnforcingApp:
    """WSGI middleware: every request meets the enforcer before moto's application sees it."""

    def __init__(self, app: Callable[..., Iterable[bytes]], enforcer: Callable[[], Enforcer | None]) -> None:
        self.app = app
        self.enforcer = enforcer

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from ._sigv4 import route_wsgi

        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        enforcer = self.enforcer()
        if enforcer is None:
            return _answer(start_response, 503, {"Content-Type": "text/plain"},
                           b"kmslab: no lab is open behind this endpoint\n")
        headers = {key[5:].replace("_", "-").title(): value
                   for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):  # some SDKs sign it (the terraform provider's Go SDK does)
            headers["Content-Length"] = environ["CONTENT_LENGTH"]
        query = environ.get("QUERY_STRING")
        url = f"http://{environ.get('HTTP_HOST', '127.0.0.1')}{environ.get('PATH_INFO', '/')}"
        url += f"?{query}" if query else ""
        wire = WireRequest(environ["REQUEST_METHOD"], url, headers, body)
        route = route_wsgi(self.app, _with_body(environ, body), enforcer.directory.region)

        def forward(request: WireRequest) -> tuple[int, list[tuple[str, str]], bytes]:
            captured: dict[str, Any] = {}

            def capture(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
                captured["status"], captured["headers"] = status, response_headers

            forwarded = _with_body(environ, request.body)
            forwarded["HTTP_X_MOTO_ACCOUNT_ID"] = enforcer.directory.account_id  # caller already authenticated
            chunks = self.app(forwarded, capture)
            try:
                payload = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close:
                    close()
            return int(captured["status"].split()[0]), captured["headers"], payload

        answer = enforcer.handle(wire, forward, route)
        if answer is None:  # moto gave no answer
            return _answer(start_response, 502, {"Content-Type": "text/plain"}, b"kmslab: no answer\n")
        status, reply_headers, reply_body = answer
        return _answer(start_response, status, reply_headers, reply_body)


def _answer(start_response: Callable[..., Any], status: int, headers: Any, body: bytes) -> list[bytes]:
    """Send one answer, without moto's CORS headers and with the length of the body sent."""
    pairs = [(k, str(v)) for k, v in (headers.items() if isinstance(headers, dict) else headers)
             if k.lower() != "content-length" and not k.lower().startswith("access-control-")]
    pairs.append(("Content-Length", str(len(body))))
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    start_response(f"{status} {phrase}", pairs)
    return [body]


def _with_body(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    copy = dict(environ)
    copy["wsgi.input"] = BytesIO(body)
    copy["CONTENT_LENGTH"] = str(len(body))
    return copy


class EmulatorServer:
    """A moto server on 127.0.0.1 (a free port unless one is given), behind the enforcement point."""

    def __init__(self, enforcer: Callable[[], Enforcer | None], port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:  # no access log on the learner's screen
                pass

        app = EnforcingApp(DomainDispatcherApplication(create_backend_app), enforcer)
        self._server = make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietHandler)
        self.port = self._server.server_address[1]
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="kmslab-emulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

"""The lab's AWS served over HTTP on 127.0.0.1, for the emulator target and the real terraform CLI.

A moto server runs in a thread of this process, so it holds the very same accounts as the Python
session, and the same enforcement point stands in front of it: a request from the terraform CLI, the AWS
CLI or a notebook meets the two locks alike. It binds the loopback address only, on a free port.
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
        enforcer = self.enforcer()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if enforcer is None:
            return self.app(_with_body(environ, body), start_response)
        headers = {key[5:].replace("_", "-").title(): value
                   for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        query = environ.get("QUERY_STRING")
        url = f"http://{environ.get('HTTP_HOST', '127.0.0.1')}{environ.get('PATH_INFO', '/')}"
        url += f"?{query}" if query else ""
        wire = WireRequest(environ["REQUEST_METHOD"], url, headers, body)

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

        answer = enforcer.handle(wire, forward)
        if answer is None:
            return self.app(_with_body(environ, body), start_response)
        status, reply_headers, reply_body = answer
        pairs = [(k, str(v)) for k, v in (reply_headers.items() if isinstance(reply_headers, dict)
                                          else reply_headers) if k.lower() != "content-length"]
        pairs.append(("Content-Length", str(len(reply_body))))
        start_response(f"{status} {HTTPStatus(status).phrase}", pairs)
        return [reply_body]


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

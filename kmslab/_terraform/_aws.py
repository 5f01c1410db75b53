"""The one place the applier touches boto3: clients made from the session it was given.

Every client the applier makes keeps a journal of the AWS calls that succeeded: botocore's
``after-call`` event, registered first on the client, records the operation, its parameters and
AWS's parsed answer the moment botocore has it, before any other handler and before the handler
code that made the call runs again. So when something is raised after AWS answered (an exception
in a later step, a ``KeyboardInterrupt``, a fault injected by another ``after-call`` handler), the
engine can still read from the journal what AWS created and record it in the state. The journal
records only while the engine runs a create (``recording``), and is emptied after each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    """One successful AWS call: ``operation`` (``CreateKey``), the request's ``params`` and the ``reply``."""

    service: str
    operation: str
    params: dict[str, Any]
    reply: dict[str, Any]


class Aws:
    """Clients created from the caller's ``boto3.Session`` (once per service) and the caller's identity.

    Nothing here creates a session or a default client: switching between moto, an emulator and
    real AWS is the session the ``Stack`` receives.
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self._clients: dict[str, Any] = {}
        self._identity: dict[str, str] | None = None
        self.journal: list[Answer] = []
        self.recording = False  # the engine turns the journal on around a create only, so it stays small

    def client(self, service: str) -> Any:
        if service not in self._clients:
            client = self.session.client(service)
            events = client.meta.events
            service_id = client.meta.service_model.service_id.hyphenize()
            # botocore runs the handlers of the most specific event name first: register on each
            # operation's own name, in the "first" group, so the journal sees an answer before anyone.
            for operation in client.meta.service_model.operation_names:
                events.register_first(f"before-parameter-build.{service_id}.{operation}", self._remember_params)
                events.register_first(f"after-call.{service_id}.{operation}", self._record_answer)
            self._clients[service] = client
        return self._clients[service]

    @staticmethod
    def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["kmslab_params"] = dict(params)

    def _record_answer(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any],
                       event_name: str, **_: Any) -> None:
        if not self.recording:
            return
        status = getattr(http_response, "status_code", 200)
        if status >= 300 or "Error" in (parsed or {}):
            return
        service = event_name.split(".")[1] if event_name.count(".") >= 2 else ""
        self.journal.append(Answer(service, model.name, dict(context.get("kmslab_params") or {}),
                                   dict(parsed or {})))

    def mark(self) -> int:
        """A position in the journal; :meth:`since` gives what AWS answered after it."""
        return len(self.journal)

    def since(self, mark: int) -> list[Answer]:
        return list(self.journal[mark:])

    @property
    def region(self) -> str:
        return self.session.region_name or "us-east-1"

    def identity(self) -> dict[str, str]:
        """``sts:GetCallerIdentity``, asked once."""
        if self._identity is None:
            reply = self.client("sts").get_caller_identity()
            self._identity = {"Account": reply["Account"], "Arn": reply["Arn"], "UserId": reply["UserId"]}
        return self._identity

    @property
    def account_id(self) -> str:
        return self.identity()["Account"]

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

"""The one place the applier touches boto3: clients made from the session it was given."""

from __future__ import annotations

from typing import Any


class Aws:
    """Clients created from the caller's ``boto3.Session`` (once per service) and the caller's identity.

    Nothing here creates a session or a default client: switching between moto, an emulator and
    real AWS is the session the ``Stack`` receives.
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self._clients: dict[str, Any] = {}
        self._identity: dict[str, str] | None = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

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

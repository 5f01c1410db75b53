"""Data sources: ``aws_caller_identity``, ``aws_region`` and ``aws_iam_policy_document``.

Data sources are read while planning, as Terraform reads them, and only once their arguments are
known. ``aws_iam_policy_document`` is computed locally (no AWS call), like the provider does.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, ClassVar

from ._aws import Aws
from ._expr import html_escape_json
from ._schema import Arg, Attr, BlockSpec, Problem, Schema


class DataSource:
    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    def validate(self, values: dict[str, Any]) -> list[Problem]:
        return []

    def read(self, aws: Aws, values: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


class CallerIdentity(DataSource):
    """``data "aws_caller_identity"``: who the session is. AWS API: STS GetCallerIdentity
    (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html), asked once per stack.
    """

    type_name = "aws_caller_identity"
    schema = Schema(args={"account_id": Attr(), "arn": Attr(), "id": Attr(), "user_id": Attr()})

    def read(self, aws, values):
        identity = aws.identity()
        return {"account_id": identity["Account"], "arn": identity["Arn"], "id": identity["Account"],
                "user_id": identity["UserId"]}


class Region(DataSource):
    """``data "aws_region"``: the session's region (no AWS call; descriptions come from botocore's
    endpoint data). ``region`` is the provider 6.x name of ``name``; both are given."""

    type_name = "aws_region"
    schema = Schema(args={
        "description": Attr(), "endpoint": Attr(), "id": Attr(),
        "name": Arg(computed=True), "region": Arg(computed=True),
    })

    def read(self, aws, values):
        region = values.get("name") or values.get("region") or aws.region
        return {"description": _region_description(region), "endpoint": f"ec2.{region}.amazonaws.com",
                "id": region, "name": region, "region": region}


def _region_description(region: str) -> str:
    from botocore.loaders import create_loader

    for partition in create_loader().load_data("endpoints")["partitions"]:
        if region in partition.get("regions", {}):
            return partition["regions"][region].get("description", "")
    return ""


_STATEMENT_ARGS = {
    "sid": Arg(),
    "effect": Arg(default="Allow", choices=("Allow", "Deny")),
    "actions": Arg("list"),
    "not_actions": Arg("list"),
    "resources": Arg("list"),
    "not_resources": Arg("list"),
}
_PRINCIPALS = BlockSpec(args={"type": Arg(required=True), "identifiers": Arg("list", required=True)},
                        is_set=True)
_CONDITION = BlockSpec(args={"test": Arg(required=True), "variable": Arg(required=True),
                             "values": Arg("list", required=True)}, is_set=True)


class PolicyDocument(DataSource):
    """``data "aws_iam_policy_document"``: an IAM policy written as HCL, rendered to JSON locally.

    The JSON has the provider's shape: 2-space indentation; ``Version`` then ``Id`` then
    ``Statement``; in each statement ``Sid``, ``Effect``, ``Action``/``NotAction``,
    ``Resource``/``NotResource``, ``Principal``/``NotPrincipal``, ``Condition``; a list with one
    element collapses to a string; ``principals`` of one type merge; a ``*`` principal of type
    ``*`` is the string ``"*"``; ``Condition`` is ``{test: {variable: value or list}}``.
    One difference: the provider keeps actions/resources/identifiers in a set whose order is a
    hash order; kmslab keeps the order written (duplicates removed).
    ``id`` is the provider's: the CRC-32 of the JSON.
    """

    type_name = "aws_iam_policy_document"
    schema = Schema(
        args={"id": Attr(), "json": Attr(), "minified_json": Attr(), "policy_id": Arg(),
              "version": Arg(default="2012-10-17", choices=("2008-10-17", "2012-10-17"))},
        blocks={"statement": BlockSpec(
            args=dict(_STATEMENT_ARGS),
            blocks={"principals": _PRINCIPALS, "not_principals": _PRINCIPALS, "condition": _CONDITION},
        )},
    )

    def read(self, aws, values):
        document: dict[str, Any] = {"Version": values.get("version") or "2012-10-17"}
        if values.get("policy_id"):
            document["Id"] = values["policy_id"]
        document["Statement"] = [self._statement(s) for s in values.get("statement") or []]
        text = html_escape_json(json.dumps(document, indent=2, ensure_ascii=False))
        return {"json": text, "minified_json": html_escape_json(json.dumps(document, separators=(",", ":"),
                                                                           ensure_ascii=False)),
                "id": str(zlib.crc32(text.encode("utf-8")))}

    def _statement(self, block: dict[str, Any]) -> dict[str, Any]:
        statement: dict[str, Any] = {}
        if block.get("sid"):
            statement["Sid"] = block["sid"]
        statement["Effect"] = block.get("effect") or "Allow"
        for arg, key in (("actions", "Action"), ("not_actions", "NotAction"), ("resources", "Resource"),
                         ("not_resources", "NotResource")):
            if block.get(arg):
                statement[key] = _collapse(block[arg])
        for arg, key in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
            if block.get(arg):
                statement[key] = _principals(block[arg])
        if block.get("condition"):
            conditions: dict[str, dict[str, Any]] = {}
            for condition in block["condition"]:
                values = conditions.setdefault(condition["test"], {})
                merged = _unique([*_as_list(values.get(condition["variable"])), *condition["values"]])
                values[condition["variable"]] = _collapse(merged)
            statement["Condition"] = conditions
        return statement


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _unique(items: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _collapse(items: list[Any]) -> Any:
    items = _unique(items)
    return items[0] if len(items) == 1 else items


def _principals(blocks: list[dict[str, Any]]) -> Any:
    if len(blocks) == 1 and blocks[0]["type"] == "*" and _unique(blocks[0]["identifiers"]) == ["*"]:
        return "*"
    merged: dict[str, list[Any]] = {}
    for block in blocks:
        merged.setdefault(block["type"], []).extend(block["identifiers"])
    return {kind: _collapse(ids) for kind, ids in merged.items()}


DATA_SOURCES: dict[str, DataSource] = {
    source.type_name: source() for source in (CallerIdentity, Region, PolicyDocument)
}

"""Data sources: ``aws_caller_identity``, ``aws_region``, ``aws_partition``, ``aws_service``,
``aws_kms_alias`` and ``aws_iam_policy_document``.

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


_DNS_SUFFIX = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com"}
_REVERSE_PREFIX = {"aws": "com.amazonaws", "aws-cn": "cn.com.amazonaws", "aws-us-gov": "com.amazonaws"}


class Partition(DataSource):
    """``data "aws_partition"``: the session's partition (no AWS call), with its DNS suffix and the
    reverse DNS prefix the provider gives (``com.amazonaws``)."""

    type_name = "aws_partition"
    schema = Schema(args={"dns_suffix": Attr(), "id": Attr(), "partition": Attr(), "reverse_dns_prefix": Attr()})

    def read(self, aws, values):
        partition = aws.partition
        return {"dns_suffix": _DNS_SUFFIX[partition], "id": partition, "partition": partition,
                "reverse_dns_prefix": _REVERSE_PREFIX[partition]}


class Service(DataSource):
    """``data "aws_service"``: a service's DNS names in a region, from ``service_id``,
    ``dns_name`` or ``reverse_dns_name`` (no AWS call). ``supported`` is whether botocore's endpoint
    data lists the service in that region, which is where the provider looks too."""

    type_name = "aws_service"
    schema = Schema(args={"dns_name": Arg(computed=True), "id": Attr(), "partition": Attr(), "region": Arg(computed=True),
                          "reverse_dns_name": Arg(computed=True), "reverse_dns_prefix": Arg(computed=True),
                          "service_id": Arg(computed=True), "supported": Attr("bool")})

    def read(self, aws, values):
        region = values.get("region") or aws.region
        service = values.get("service_id")
        prefix = values.get("reverse_dns_prefix") or _REVERSE_PREFIX[aws.partition]
        if values.get("reverse_dns_name"):
            name = values["reverse_dns_name"]
            for known in set(_REVERSE_PREFIX.values()):
                if name.startswith(known + "."):
                    prefix, rest = known, name[len(known) + 1:]
                    region, _, service = rest.partition(".")
        elif values.get("dns_name"):
            service, _, rest = values["dns_name"].partition(".")
            region = rest.split(".", 1)[0]
        partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
        return {"dns_name": f"{service}.{region}.{_DNS_SUFFIX[partition]}", "id": f"{prefix}.{region}.{service}",
                "partition": partition, "region": region, "reverse_dns_name": f"{prefix}.{region}.{service}",
                "reverse_dns_prefix": prefix, "service_id": service, "supported": _supported(service, region)}


def _supported(service: str, region: str) -> bool:
    from botocore.loaders import create_loader

    for partition in create_loader().load_data("endpoints")["partitions"]:
        endpoints = partition.get("services", {}).get(service, {}).get("endpoints", {})
        if region in endpoints:
            return True
    return False


class KmsAlias(DataSource):
    """``data "aws_kms_alias"``: an alias and the key it points to. AWS API: ListAliases, DescribeKey
    (https://docs.aws.amazon.com/kms/latest/APIReference/API_ListAliases.html)."""

    type_name = "aws_kms_alias"
    schema = Schema(args={"arn": Attr(), "id": Attr(), "name": Arg(required=True), "target_key_arn": Attr(),
                          "target_key_id": Attr()})

    def validate(self, values):
        name = values.get("name")
        if isinstance(name, str) and not name.startswith("alias/"):
            return [Problem("\"name\" must begin with 'alias/'", "name")]
        return []

    def read(self, aws, values):
        kms = aws.client("kms")
        name = values["name"]
        for page in kms.get_paginator("list_aliases").paginate():
            for alias in page["Aliases"]:
                if alias["AliasName"] == name:
                    target = alias.get("TargetKeyId")
                    key_arn = kms.describe_key(KeyId=name)["KeyMetadata"]["Arn"] if target else ""
                    return {"arn": alias["AliasArn"], "id": alias["AliasArn"], "target_key_arn": key_arn,
                            "target_key_id": target or ""}
        raise LookupError(f"reading KMS Alias ({name}): couldn't find resource")


DATA_SOURCES: dict[str, DataSource] = {
    source.type_name: source() for source in (CallerIdentity, Region, Partition, Service, KmsAlias, PolicyDocument)
}

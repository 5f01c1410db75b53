"""Static checks of a parsed configuration, and its dependency graph.

Run once, when a ``Stack`` is made, before any AWS call: resource types and arguments against the
schemas, references (variables, locals, resources, data sources and their attributes), function
names, ``depends_on`` addresses and reference cycles. Each refusal names the file and line and,
where there is one, the closest valid name.

Two kinds of refusal, worded apart (see :mod:`._provider`): what the real AWS provider refuses too
is *invalid*, in Terraform's words (:class:`ValidationError`: ``Unsupported argument``, ``Invalid
resource type``, ``Value for unconfigurable attribute``); what the provider accepts but kmslab does
not model is *not modelled* (:class:`UnsupportedError`, with ``engine="terraform"`` as the
alternative).

Of the ``provider "aws"`` block only ``default_tags { tags = ... }`` is applied (see
:func:`default_tags`); its other arguments (``region``, credentials, ``endpoints``...) are read and
ignored. Aliased ``provider "aws"`` blocks (``alias = "partner"``) are used by resources and data
sources through the ``provider = aws.partner`` meta-argument: an undeclared alias is Terraform's
"Provider configuration not present"; an alias that sets credentials, a profile, a role to assume,
another region or its own ``default_tags`` needs a session of its own (``Stack(...,
providers={"partner": session})``) and is refused as not modelled without one
(:func:`alias_problem`). kmslab's choice where Terraform is silent about the lab: an alias with
none of these is the same account and region as the default provider, so the Stack's session
serves it. The ``tags`` expression becomes the graph node ``provider.aws``, on which every resource and
data source depends, as in Terraform, so it may use variables and locals; a reference to a
resource or data source is a cycle, as Terraform reports it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass

from .._errors import ReferenceError_, UnsupportedError, ValidationError
from ._data import DATA_SOURCES
from ._expr import check_function
from ._parse import NOT_MODELLED, Attribute, Block, Config, Resource, closest
from ._provider import VERSION, block_schema, has_type
from ._resources import RESOURCE_TYPES
from ._schema import BlockSpec, Schema, tags_arg
from ._syntax import Call, Expr, Literal, Loc, Reference, Template, references, walk

PATH_ATTRIBUTES = ("module", "root", "cwd")
PROVIDER_NODE = "provider.aws"
#: Nodes that never print anything: the walk takes them as soon as they are ready, so that the order of
#: resources depends on resource-to-resource dependencies only ("dependency order, ties by address").
_EAGER = ("var.", "local.", "provider.")


def schema_of(resource: Resource) -> Schema:
    registry = DATA_SOURCES if resource.mode == "data" else RESOURCE_TYPES
    return registry[resource.type].schema


@dataclass(frozen=True)
class Node:
    """One vertex of the dependency graph: ``var.x``, ``local.y``, ``T.N``, ``data.T.N`` or ``output.o``."""

    key: str
    loc: Loc
    depends_on: frozenset[str]


@dataclass(frozen=True)
class Graph:
    nodes: dict[str, Node]
    order: tuple[str, ...]  # a topological order, ties broken by name, so output is deterministic

    def dependencies(self, key: str) -> set[str]:
        """Every node ``key`` depends on, directly or not."""
        seen: set[str] = set()
        stack = [key]
        while stack:
            for dep in self.nodes[stack.pop()].depends_on:
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return seen


def resource_expressions(block: Block) -> Iterator[Expr]:
    for attribute in block.attributes.values():
        yield attribute.expr
    for nested in block.blocks:
        yield from resource_expressions(nested)


def alias_of(block: Block) -> str | None:
    """A provider block's ``alias`` (a plain string), or None."""
    return _alias(block)


def _alias(block: Block) -> str | None:
    attribute = block.attributes.get("alias")
    if attribute is None:
        return None
    expr = attribute.expr
    if isinstance(expr, Template) and all(isinstance(p, str) for p in expr.parts):
        return "".join(expr.parts)
    if isinstance(expr, Literal):
        return str(expr.value)
    raise ValidationError('Invalid value for "alias": a plain string is required here.', file=attribute.loc.file,
                          line=attribute.loc.line)


def aws_provider(config: Config) -> Block | None:
    """The default (non-aliased) ``provider "aws"`` block, or None. Its ``default_tags`` blocks are
    checked here, aliased providers' too."""
    chosen: Block | None = None
    for block in config.providers:
        if block.labels != ("aws",):
            continue
        _check_default_tags(block)
        if _alias(block) is not None:
            continue
        if chosen is not None:
            raise ValidationError('Duplicate provider configuration: a default (non-aliased) provider configuration '
                                  f'for "aws" was already given at {chosen.loc}. If multiple configurations are '
                                  'required, set the "alias" argument for alternative configurations.',
                                  file=block.loc.file, line=block.loc.line)
        chosen = block
    return chosen


def _check_default_tags(provider: Block) -> None:
    blocks = provider.blocks_of("default_tags")
    if len(blocks) > 1:
        extra = blocks[1]
        raise ValidationError('Too many default_tags blocks: no more than 1 "default_tags" blocks are allowed.',
                              file=extra.loc.file, line=extra.loc.line)
    for block in blocks:
        if block.labels:
            raise ValidationError('Extraneous label for default_tags: no labels are expected for "default_tags" '
                                  "blocks.", file=block.loc.file, line=block.loc.line)
        _check_body(block, {"tags": tags_arg()}, {}, 'a "default_tags" block')


def default_tags(config: Config) -> Attribute | None:
    """The ``tags`` argument of the default ``provider "aws"`` block's ``default_tags``, or None."""
    provider = aws_provider(config)
    if provider is None:
        return None
    for block in provider.blocks_of("default_tags"):
        return block.attributes.get("tags")
    return None


def provider_aliases(config: Config) -> dict[str, Block]:
    """The aliased ``provider "aws"`` blocks, by alias (a repeated alias is Terraform's "Duplicate provider
    configuration")."""
    aliases: dict[str, Block] = {}
    for block in config.providers:
        alias = _alias(block) if block.labels == ("aws",) else None
        if alias is None:
            continue
        if alias in aliases:
            raise ValidationError(f'Duplicate provider configuration: A provider configuration for "aws" with alias '
                                  f'"{alias}" was already given at {aliases[alias].loc}. Each configuration for the '
                                  "same provider must have a distinct alias.", file=block.loc.file, line=block.loc.line)
        aliases[alias] = block
    return aliases


#: Arguments and blocks of a provider block that give it an identity of its own (another account, perhaps).
IDENTITY_SETTINGS = ("access_key", "secret_key", "token", "profile", "shared_credentials_files",
                     "shared_config_files", "assume_role", "assume_role_with_web_identity")


def alias_problem(block: Block, alias: str, region: str) -> str | None:
    """Why kmslab cannot apply resources through this aliased provider with the Stack's own session, or None.

    Without credentials or a role of its own and in the session's region, an aliased provider is the
    same account and region as the default one, and kmslab uses the same session. Otherwise it needs
    a session of its own (``Stack(..., providers={alias: session})``)."""
    where = f'provider "aws" with alias "{alias}"'
    for name in IDENTITY_SETTINGS:
        if name in block.attributes or block.blocks_of(name):
            return (f"{where} sets {name}: it may act as another identity or another account, and the lab has no "
                    f"session for it; a provider configuration with an identity of its own is {NOT_MODELLED}")
    attribute = block.attributes.get("region")
    if attribute is not None:
        expr = attribute.expr
        if not (isinstance(expr, Template) and all(isinstance(p, str) for p in expr.parts)):
            return f"{where} sets region with an expression; a region kmslab cannot read before planning is {NOT_MODELLED}"
        value = "".join(expr.parts)
        if value != region:
            return (f"{where} is in region {value}, and the lab's session is in {region}; a second region is "
                    f"{NOT_MODELLED}")
    if block.blocks_of("default_tags"):
        return f"default_tags in {where} is {NOT_MODELLED} (kmslab applies the default provider's default_tags)"
    return None


def _check_provider_reference(config: Config, resource: Resource, aliases: dict[str, Block]) -> None:
    kind, alias = resource.provider or ("aws", None)
    if kind != "aws":
        raise UnsupportedError(f'The provider "{kind}" is {NOT_MODELLED}: kmslab\'s applier models the hashicorp/aws '
                               "provider only.", file=resource.loc.file, line=resource.loc.line)
    if resource.type.split("_", 1)[0] != "aws":
        return
    if alias is not None and alias not in aliases:
        raise ValidationError(f"Provider configuration not present: To work with {resource.address} its original "
                              'provider configuration at provider["registry.terraform.io/hashicorp/aws"].'
                              f"{alias} is required, but it has been removed. This occurs when a provider "
                              "configuration is removed while objects created by that provider still exist in the "
                              "state. Re-add the provider configuration to destroy "
                              f"{resource.address}, after which you can remove the provider configuration again.",
                              file=resource.loc.file, line=resource.loc.line)


def check_config(config: Config) -> Graph:
    """Check everything that can be checked without values; return the dependency graph."""
    aliases = provider_aliases(config)
    for resource in config.resources.values():
        _check_provider_reference(config, resource, aliases)
        _check_resource_type(resource)
        _check_body(resource.body, schema_of(resource).args, schema_of(resource).blocks,
                    f'resource "{resource.type}" "{resource.name}"' if resource.mode == "managed"
                    else f'data "{resource.type}" "{resource.name}"', block_schema(resource.mode, resource.type))
    for variable in config.variables.values():
        if variable.default_expr is not None:
            for ref in references(variable.default_expr):
                raise ValidationError("Variables not allowed: variables may not be used here (a default must "
                                      "be a literal value).", file=ref.loc.file, line=ref.loc.line)
    nodes: dict[str, Node] = {}
    for name, variable in config.variables.items():
        nodes[f"var.{name}"] = Node(f"var.{name}", variable.loc, frozenset())
    for name, local in config.locals.items():
        nodes[f"local.{name}"] = Node(f"local.{name}", local.loc, _dependencies(config, [local.expr]))
    tags = default_tags(config)
    if tags is not None:
        nodes[PROVIDER_NODE] = Node(PROVIDER_NODE, tags.loc, _dependencies(config, [tags.expr]))
    for address, resource in config.resources.items():
        deps = set(_dependencies(config, resource_expressions(resource.body)))
        if tags is not None:
            deps.add(PROVIDER_NODE)  # every resource and data source uses the provider's configuration
        for target, loc in resource.depends_on:
            _check_depends_on(config, target, loc)
            deps.add(target)
        nodes[address] = Node(address, resource.loc, frozenset(deps))
    for name, output in config.outputs.items():
        deps = set(_dependencies(config, [output.expr]))
        for target, loc in output.depends_on:
            _check_depends_on(config, target, loc)
            deps.add(target)
        nodes[f"output.{name}"] = Node(f"output.{name}", output.loc, frozenset(deps))
    return Graph(nodes, _topological_order(nodes))


def _check_resource_type(resource: Resource) -> None:
    registry = DATA_SOURCES if resource.mode == "data" else RESOURCE_TYPES
    if resource.type in registry:
        return
    kind = "data source" if resource.mode == "data" else "resource type"
    if has_type(resource.mode, resource.type):
        raise UnsupportedError(f'{kind.capitalize()} not modelled: "{resource.type}" is a {kind} of the AWS provider '
                               f"({VERSION}), but it is {NOT_MODELLED}. kmslab models "
                               f"{', '.join(sorted(registry))}.", file=resource.loc.file, line=resource.loc.line)
    words = "data source" if resource.mode == "data" else "resource type"
    raise ValidationError(f"Invalid {words}: The provider hashicorp/aws does not support {words} "
                          f'"{resource.type}".', file=resource.loc.file, line=resource.loc.line,
                          suggestion=closest(resource.type, registry))


def _check_body(block: Block, args: dict, blocks: dict[str, BlockSpec], where: str,
                provider: dict | None = None) -> None:
    """Check one block against kmslab's schema; ``provider`` is the real provider's names for this block
    (from :mod:`._provider`), which decide between "invalid" and "not modelled"."""
    provider_attributes = (provider or {}).get("attributes", {})
    provider_blocks = (provider or {}).get("blocks", {})
    for name, attribute in block.attributes.items():
        arg = args.get(name)
        if arg is not None and arg.argument:
            continue
        loc = attribute.loc
        if arg is not None or provider_attributes.get(name) == "computed":
            raise ValidationError(f'Value for unconfigurable attribute: Can\'t configure a value for "{name}": its '
                                  "value will be decided automatically based on the result of applying this "
                                  "configuration.", file=loc.file, line=loc.line)
        if name in blocks or name in provider_blocks:
            raise ValidationError(f'Unsupported argument: An argument named "{name}" is not expected here. Did you '
                                  f'mean to define a block of type "{name}"?', file=loc.file, line=loc.line)
        if name in provider_attributes:
            raise UnsupportedError(f'Argument not modelled: the AWS provider accepts the argument "{name}" in '
                                   f"{where}, but it is {NOT_MODELLED}.", file=loc.file, line=loc.line)
        settable = [n for n, a in args.items() if a.argument]
        raise ValidationError(f'Unsupported argument: An argument named "{name}" is not expected here.',
                              file=loc.file, line=loc.line, suggestion=closest(name, settable + list(blocks)))
    for name, arg in args.items():
        if arg.required and name not in block.attributes:
            raise ValidationError(f'Missing required argument: the argument "{name}" is required in {where}, but '
                                  "no definition was found.", file=block.loc.file, line=block.loc.line)
    for block_type, spec in blocks.items():
        count = len(block.blocks_of(block_type))
        if count < spec.min_items:
            raise ValidationError(f'Insufficient {block_type} blocks: at least {spec.min_items} "{block_type}" '
                                  f"block(s) are required in {where}.", file=block.loc.file, line=block.loc.line)
        if spec.max_items is not None and count > spec.max_items:
            extra = block.blocks_of(block_type)[spec.max_items]
            raise ValidationError(f'Too many {block_type} blocks: no more than {spec.max_items} "{block_type}" '
                                  "blocks are allowed.", file=extra.loc.file, line=extra.loc.line)
    for nested in block.blocks:
        spec = blocks.get(nested.type)
        if spec is None:
            loc = nested.loc
            if nested.type in args or nested.type in provider_attributes:
                raise ValidationError(f'Unsupported block type: Blocks of type "{nested.type}" are not expected '
                                      f'here. Did you mean to define argument "{nested.type}"? If so, use the '
                                      "equals sign to assign it a value.", file=loc.file, line=loc.line)
            if nested.type in provider_blocks:
                raise UnsupportedError(f'Block not modelled: the AWS provider accepts "{nested.type}" blocks in '
                                       f"{where}, but they are {NOT_MODELLED}.", file=loc.file, line=loc.line)
            raise ValidationError(f'Unsupported block type: Blocks of type "{nested.type}" are not expected here.',
                                  file=loc.file, line=loc.line, suggestion=closest(nested.type, list(blocks)))
        if nested.labels:
            raise ValidationError(f'Extraneous label for {nested.type}: no labels are expected for '
                                  f'"{nested.type}" blocks.', file=nested.loc.file, line=nested.loc.line)
        _check_body(nested, spec.args, spec.blocks, f'a "{nested.type}" block', provider_blocks.get(nested.type))


def _check_depends_on(config: Config, target: str, loc: Loc) -> None:
    if target.startswith(("var.", "local.")):
        return
    if target not in config.resources:
        raise ReferenceError_(f'Reference to undeclared resource: depends_on names "{target}", which is not '
                              "declared in this configuration.", file=loc.file, line=loc.line,
                              suggestion=closest(target, config.resources))


def _dependencies(config: Config, expressions) -> frozenset[str]:
    deps: set[str] = set()
    for expr in expressions:
        for node in walk(expr):
            if isinstance(node, Call):
                check_function(node)
        for ref in references(expr):
            key = _resolve_reference(config, ref)
            if key is not None:
                deps.add(key)
    return frozenset(deps)


def _resolve_reference(config: Config, ref: Reference) -> str | None:
    """Check one reference; return the graph node it points at (None for ``path.module`` and such)."""
    loc = ref.loc
    path = ref.path

    def need(count: int, example: str) -> None:
        if len(path) < count or not all(isinstance(p, str) for p in path[:count]):
            raise ReferenceError_(f'Invalid reference: a reference to "{ref.root}" must be followed by '
                                  f"{example}.", file=loc.file, line=loc.line)

    if ref.root == "var":
        need(1, "a variable name, as in var.region")
        if path[0] not in config.variables:
            raise ReferenceError_(f'Reference to undeclared input variable: an input variable with the name '
                                  f'"{path[0]}" has not been declared.', file=loc.file, line=loc.line,
                                  suggestion=_prefixed("var.", closest(path[0], config.variables)))
        return f"var.{path[0]}"
    if ref.root == "local":
        need(1, "a local value name, as in local.table_name")
        if path[0] not in config.locals:
            raise ReferenceError_(f'Reference to undeclared local value: a local value with the name "{path[0]}" '
                                  "has not been declared.", file=loc.file, line=loc.line,
                                  suggestion=_prefixed("local.", closest(path[0], config.locals)))
        return f"local.{path[0]}"
    if ref.root == "path":
        need(1, "module, root or cwd")
        if path[0] not in PATH_ATTRIBUTES:
            raise ReferenceError_(f'Invalid "path" attribute: the "path" object does not have an attribute named '
                                  f'"{path[0]}".', file=loc.file, line=loc.line,
                                  suggestion=_prefixed("path.", closest(path[0], PATH_ATTRIBUTES)))
        return None
    if ref.root == "terraform":
        need(1, "workspace")
        if path[0] != "workspace":
            raise ReferenceError_(f'Invalid "terraform" attribute: only terraform.workspace is available, not '
                                  f'"{path[0]}".', file=loc.file, line=loc.line)
        return None
    if ref.root in ("count", "each", "self"):
        raise UnsupportedError(f'The "{ref.root}" object is {NOT_MODELLED}.',
                               file=loc.file, line=loc.line)
    if ref.root == "data":
        need(2, "a data source type and name, as in data.aws_region.current")
        address = f"data.{path[0]}.{path[1]}"
        attributes = path[2:]
    else:
        need(1, "a resource name, as in aws_kms_key.example")
        address = f"{ref.root}.{path[0]}"
        attributes = path[1:]
    resource = config.resources.get(address)
    if resource is None:
        mode = "data resource" if ref.root == "data" else "managed resource"
        parts = address.split(".")
        raise ReferenceError_(f'Reference to undeclared resource: a {mode} "{parts[-2]}" "{parts[-1]}" has not '
                              "been declared in the root module.", file=loc.file, line=loc.line,
                              suggestion=closest(address, config.resources))
    _check_attribute_path(schema_of(resource), attributes, loc)
    return address


def _prefixed(prefix: str, name: str | None) -> str | None:
    return prefix + name if name else None


def _check_attribute_path(schema: Schema, path: tuple, loc: Loc) -> None:
    args, blocks = schema.args, schema.blocks
    while path:
        name = path[0]
        if not isinstance(name, str):
            return  # indexing a whole resource: checked when evaluated
        if name in args:
            return  # maps and JSON strings may be indexed further; checked when evaluated
        if name not in blocks:
            raise ReferenceError_(f'Unsupported attribute: this object has no argument, nested block, or exported '
                                  f'attribute named "{name}".', file=loc.file, line=loc.line,
                                  suggestion=closest(name, list(args) + list(blocks)))
        spec = blocks[name]
        path = path[1:]
        if path and spec.is_set:
            raise ReferenceError_(f'Cannot index a set value: block type "{name}" is represented by a set of objects, '
                                  "and set elements do not have addressable keys.", file=loc.file, line=loc.line)
        if path and isinstance(path[0], int):
            path = path[1:]
        elif path:
            raise ReferenceError_(f'Unsupported attribute: "{name}" is a list of blocks; index it first, as in '
                                  f'{name}[0].{path[0]}.', file=loc.file, line=loc.line)
        args, blocks = spec.args, spec.blocks


def _priority(key: str) -> tuple[int, str]:
    return (0 if key.startswith(_EAGER) else 1, key)


def _topological_order(nodes: dict[str, Node]) -> tuple[str, ...]:
    """Kahn's algorithm with a name-ordered queue (variables, locals and the provider first, whenever
    they are ready); a cycle is refused with the file:line of one member."""
    remaining = {key: set(node.depends_on) & set(nodes) for key, node in nodes.items()}
    dependents: dict[str, set[str]] = {key: set() for key in nodes}
    for key, deps in remaining.items():
        for dep in deps:
            dependents[dep].add(key)
    ready = [_priority(key) for key, deps in remaining.items() if not deps]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, key = heapq.heappop(ready)
        order.append(key)
        for dependent in sorted(dependents[key]):
            remaining[dependent].discard(key)
            if not remaining[dependent]:
                heapq.heappush(ready, _priority(dependent))
    if len(order) != len(nodes):
        cycle = _find_cycle({k: v for k, v in remaining.items() if v})
        first = nodes[cycle[0]]
        raise ValidationError("Cycle: " + " -> ".join(cycle + [cycle[0]]) + ". These objects refer to each other, "
                              "so none can be evaluated first.", file=first.loc.file, line=first.loc.line)
    return tuple(order)


def _find_cycle(remaining: dict[str, set[str]]) -> list[str]:
    start = min(remaining)
    path = [start]
    seen = {start: 0}
    while True:
        step = min(d for d in remaining[path[-1]] if d in remaining)
        if step in seen:
            return path[seen[step]:]
        seen[step] = len(path)
        path.append(step)

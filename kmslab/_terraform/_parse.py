"""Read every ``*.tf`` file of a directory into frozen dataclasses, each with its file and line.

No evaluation and no AWS here: this is the first, pure step (``.tf`` text -> blocks). What the
embedded applier does not support is refused now, with the file and line and, where there is one,
the closest supported name.

Top-level blocks read: ``terraform`` and ``provider`` (recorded; of a provider only the AWS
provider's ``default_tags`` is applied, see :mod:`._check`), ``variable``, ``locals``, ``output``,
``resource`` and ``data``. Refused: ``module``, ``moved``, ``import``, ``check``, ``removed``, and in
resources the meta-arguments ``count``, ``for_each``, ``provisioner``, ``connection`` and
``dynamic`` blocks. ``provider = aws`` / ``provider = aws.ALIAS`` (or the quoted form Terraform
still accepts) is read into :attr:`Resource.provider`; see :mod:`._check` for what an alias may be.
``depends_on`` is supported, and of ``lifecycle`` the
arguments ``prevent_destroy`` and ``ignore_changes`` (a list of argument names, or ``all``);
``create_before_destroy = true``, ``replace_triggered_by`` and pre/postconditions are refused as not
modelled.

Files are read as Terraform reads a module directory: every ``*.tf`` file, directories skipped
(Terraform skips a directory even when it is named ``main.tf``), and names Terraform ignores too
(starting with ``.``, ending with ``~``, or ``#...#``). A file that is not UTF-8 is refused with
Terraform's "Invalid character encoding" at the line of the first bad byte; one that cannot be read
(a symlink loop, no permission) with its "Failed to read file". Refused as not modelled, with the
alternative ``engine="terraform"``: files in Terraform's JSON syntax (``*.tf.json``) and override
files (``override.tf``, ``*_override.tf``), which Terraform merges into the others. kmslab's own
choice, where Terraform would block: a ``.tf`` name that is not a regular file (a FIFO, a socket, a
device) is refused rather than read. Names of resources, data sources, variables and outputs
follow Terraform's identifier rule ("Invalid resource name").
"""

from __future__ import annotations

import difflib
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Tree

from .._errors import HCLSyntaxError, UnsupportedError, ValidationError
from ._syntax import (
    Expr,
    ExprBuilder,
    GetAttr,
    Index,
    Literal,
    Loc,
    Name,
    Template,
    TupleExpr,
    deep_recursion,
    identifier_text,
    line_of,
    parse_text,
    trees,
)


@dataclass(frozen=True)
class Attribute:
    """``name = expression`` inside a block."""

    name: str
    expr: Expr
    loc: Loc


@dataclass(frozen=True)
class Block:
    """A block: its type, labels, attributes (by name) and nested blocks (in order)."""

    type: str
    labels: tuple[str, ...]
    attributes: dict[str, Attribute]
    blocks: tuple[Block, ...]
    loc: Loc

    def blocks_of(self, block_type: str) -> list[Block]:
        return [b for b in self.blocks if b.type == block_type]


@dataclass(frozen=True)
class TypeSpec:
    """A variable's type constraint: ``kind`` is string, number, bool, any, list, set, map, tuple or object."""

    kind: str
    element: TypeSpec | None = None
    attributes: tuple[tuple[str, TypeSpec], ...] = ()
    elements: tuple[TypeSpec, ...] = ()

    def __str__(self) -> str:
        if self.kind in ("list", "set", "map"):
            return f"{self.kind}({self.element})"
        if self.kind == "object":
            return "object({" + ", ".join(f"{k}={v}" for k, v in self.attributes) + "})"
        if self.kind == "tuple":
            return "tuple([" + ", ".join(str(e) for e in self.elements) + "])"
        return self.kind


ANY = TypeSpec("any")

@dataclass(frozen=True)
class Variable:
    name: str
    type: TypeSpec
    default_expr: Expr | None
    description: str | None
    sensitive: bool
    nullable: bool
    loc: Loc


@dataclass(frozen=True)
class Local:
    name: str
    expr: Expr
    loc: Loc


@dataclass(frozen=True)
class Output:
    name: str
    expr: Expr
    description: str | None
    sensitive: bool
    depends_on: tuple[tuple[str, Loc], ...]
    loc: Loc


@dataclass(frozen=True)
class Lifecycle:
    """A resource's ``lifecycle`` block: ``ignore_changes`` holds argument names, or ``("*",)`` for ``all``."""

    prevent_destroy: bool = False
    ignore_changes: tuple[str, ...] = ()
    loc: Loc | None = None


@dataclass(frozen=True)
class Resource:
    """A ``resource`` (mode ``managed``) or ``data`` (mode ``data``) block."""

    mode: str
    type: str
    name: str
    body: Block
    depends_on: tuple[tuple[str, Loc], ...]
    loc: Loc
    lifecycle: Lifecycle = Lifecycle()
    #: The ``provider`` meta-argument: ``(type, alias)`` such as ``("aws", "partner")``; None for the default.
    provider: tuple[str, str | None] | None = None

    @property
    def address(self) -> str:
        prefix = "data." if self.mode == "data" else ""
        return f"{prefix}{self.type}.{self.name}"


@dataclass(frozen=True)
class Config:
    """One directory's configuration, as written."""

    directory: Path
    files: tuple[str, ...]
    variables: dict[str, Variable] = field(default_factory=dict)
    locals: dict[str, Local] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    providers: tuple[Block, ...] = ()
    settings: tuple[Block, ...] = ()


TOP_LEVEL = ("terraform", "provider", "variable", "locals", "output", "resource", "data")
_REFUSED_TOP_LEVEL = {
    "module": "A module block",
    "moved": "A moved block",
    "import": "An import block",
    "check": "A check block",
    "removed": "A removed block",
}
_REFUSED_META = {
    "count": "The count meta-argument",
    "for_each": "The for_each meta-argument",
    "provisioner": "A provisioner block",
    "connection": "A connection block",
    "dynamic": "A dynamic block",
}
_LABELS = {"variable": 1, "output": 1, "resource": 2, "data": 2, "provider": 1, "locals": 0, "terraform": 0}


def closest(word: str, candidates) -> str | None:
    """The closest candidate to ``word`` ("did you mean"), or None."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def read_body(tree: Tree, file: str, builder: ExprBuilder) -> tuple[dict[str, Attribute], tuple[Block, ...]]:
    """Attributes and blocks of one lark ``body`` tree."""
    attributes: dict[str, Attribute] = {}
    blocks: list[Block] = []
    for node in trees(tree):
        if node.data == "attribute":
            name_node, value_node = trees(node)[:2]
            name = identifier_text(name_node)
            loc = Loc(file, line_of(node))
            if name in attributes:
                raise HCLSyntaxError(f'Attribute redefined: the argument "{name}" was already set at '
                                     f"{attributes[name].loc}. Each argument may be set only once.",
                                     file=file, line=loc.line)
            attributes[name] = Attribute(name, builder.build(value_node), loc)
        elif node.data == "block":
            blocks.append(read_block(node, file, builder))
    return attributes, tuple(blocks)


def read_block(node: Tree, file: str, builder: ExprBuilder) -> Block:
    parts = trees(node)
    body = parts[-1]
    head = parts[:-1]
    block_type = identifier_text(head[0])
    labels = []
    for label in head[1:]:
        if label.data == "string":
            expr = builder.build(label)
            if not (isinstance(expr, Template) and all(isinstance(p, str) for p in expr.parts)):
                raise HCLSyntaxError("Invalid block label: a label must be a plain quoted string, "
                                     "without interpolation.", file=file, line=line_of(label))
            labels.append("".join(expr.parts))
        else:
            labels.append(identifier_text(label))
    attributes, blocks = read_body(body, file, builder)
    return Block(block_type, tuple(labels), attributes, blocks, Loc(file, line_of(node)))


NOT_MODELLED = 'not modelled by kmslab\'s applier (use engine="terraform")'


def parse_file(text: str, file: str) -> list[Block]:
    """The top-level blocks of one file (a top-level attribute is a syntax error in Terraform too)."""
    try:
        with deep_recursion():
            tree = parse_text(text, file)
            builder = ExprBuilder(file)
            attributes, blocks = read_body(trees(tree)[0], file, builder)
    except RecursionError:
        raise UnsupportedError(f"Configuration nested too deeply: the nesting of brackets and blocks in {file} is "
                               f"deeper than kmslab's applier reads; this is {NOT_MODELLED}.", file=file) from None
    for attribute in attributes.values():
        raise HCLSyntaxError(f'Unsupported argument: an argument named "{attribute.name}" is not expected '
                             "at the top level; only blocks are.", file=file, line=attribute.loc.line)
    return list(blocks)


def parse_directory(directory: str | Path) -> Config:
    """Parse every ``*.tf`` file of ``directory`` (sorted by name) into a :class:`Config`."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValidationError(f"Configuration directory not found: {directory}")
    paths = configuration_files(directory)
    if not paths:
        raise ValidationError(f"No configuration files: {directory} has no *.tf file.")
    config = Config(directory=directory, files=tuple(p.name for p in paths))
    providers: list[Block] = []
    settings: list[Block] = []
    for path in paths:
        for block in parse_file(read_source(path), path.name):
            _add_block(config, block, providers, settings)
    return Config(directory, config.files, config.variables, config.locals, config.outputs, config.resources,
                  tuple(providers), tuple(settings))


def _ignored(name: str) -> bool:
    """Terraform's ``IsIgnoredFile``: hidden files and editor back-ups."""
    return name.startswith(".") or name.endswith("~") or (name.startswith("#") and name.endswith("#"))


def configuration_files(directory: Path) -> list[Path]:
    """The ``*.tf`` files Terraform would load from ``directory``, in name order; refuses what kmslab
    does not read (``*.tf.json``, override files, names that are not regular files)."""
    paths = []
    for path in sorted(directory.iterdir()):
        name = path.name
        if _ignored(name) or not name.endswith((".tf", ".tf.json")):
            continue
        try:
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                mode = path.stat().st_mode  # follows the link: a loop raises ELOOP here
        except OSError:
            raise ValidationError(f'Failed to read file: The file "{name}" could not be read.', file=name) from None
        if stat.S_ISDIR(mode):
            continue  # Terraform skips directories, whatever their name
        if not stat.S_ISREG(mode):
            raise ValidationError(f'Failed to read file: The file "{name}" is not a regular file (a FIFO, socket or '
                                  "device); kmslab reads only regular files, which cannot block.", file=name)
        if name.endswith(".tf.json"):
            raise UnsupportedError(f"Terraform JSON syntax: {name} is written in Terraform's JSON configuration "
                                   f"syntax, which is {NOT_MODELLED}.", file=name)
        stem = name[:-len(".tf")]
        if stem == "override" or stem.endswith("_override"):
            raise UnsupportedError(f"Override file: {name} is an override file, which Terraform merges into the "
                                   f"other files' blocks; merging is {NOT_MODELLED}.", file=name)
        paths.append(path)
    return paths


def read_source(path: Path) -> str:
    """A configuration file's text; not UTF-8 is Terraform's "Invalid character encoding" at that line."""
    try:
        data = path.read_bytes()
    except OSError:
        raise ValidationError(f'Failed to read file: The file "{path.name}" could not be read.',
                              file=path.name) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise HCLSyntaxError("Invalid character encoding: All input files must be UTF-8 encoded. Ensure that "
                             "UTF-8 encoding is selected in your editor.", file=path.name, line=line) from None


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NAME_KINDS = {"resource": "resource", "data": "data resource", "variable": "variable", "output": "output"}


def _check_name(block: Block) -> None:
    """Terraform's rule for the names it gives to resources, data sources, variables and outputs."""
    kind = _NAME_KINDS.get(block.type)
    if kind is None:
        return
    name = block.labels[-1]
    if not _IDENTIFIER.fullmatch(name):
        raise ValidationError(f"Invalid {kind} name: A name must start with a letter or underscore and may contain "
                              "only letters, digits, underscores, and dashes.", file=block.loc.file,
                              line=block.loc.line)


def _add_block(config: Config, block: Block, providers: list[Block], settings: list[Block]) -> None:
    loc = block.loc
    if block.type in _REFUSED_TOP_LEVEL:
        raise UnsupportedError(f"{_REFUSED_TOP_LEVEL[block.type]} is {NOT_MODELLED}.", file=loc.file, line=loc.line)
    if block.type not in TOP_LEVEL:
        raise UnsupportedError(f'Unsupported block type: blocks of type "{block.type}" are not expected here.',
                               file=loc.file, line=loc.line, suggestion=closest(block.type, TOP_LEVEL))
    want = _LABELS[block.type]
    if len(block.labels) != want:
        raise HCLSyntaxError(f'A "{block.type}" block expects {want} label(s), got {len(block.labels)}.',
                             file=loc.file, line=loc.line)
    _check_name(block)
    if block.type == "terraform":
        settings.append(block)
    elif block.type == "provider":
        providers.append(block)
    elif block.type == "variable":
        _add_unique(config.variables, block.labels[0], _variable(block), "variable", loc)
    elif block.type == "locals":
        for attribute in block.attributes.values():
            _add_unique(config.locals, attribute.name, Local(attribute.name, attribute.expr, attribute.loc),
                        "local value", attribute.loc)
    elif block.type == "output":
        _add_unique(config.outputs, block.labels[0], _output(block), "output", loc)
    else:
        mode = "data" if block.type == "data" else "managed"
        resource = _resource(block, mode)
        _add_unique(config.resources, resource.address, resource, "resource", loc)


def _add_unique(table: dict[str, Any], key: str, value: Any, kind: str, loc: Loc) -> None:
    if key in table:
        raise ValidationError(f'Duplicate {kind}: a {kind} named "{key}" was already declared at '
                              f"{table[key].loc}. Names must be unique within a module.",
                              file=loc.file, line=loc.line)
    table[key] = value


def _only(block: Block, allowed: tuple[str, ...], what: str) -> None:
    for attribute in block.attributes.values():
        if attribute.name not in allowed:
            raise UnsupportedError(f'Unsupported argument: an argument named "{attribute.name}" is not '
                                   f"expected in {what}.", file=attribute.loc.file, line=attribute.loc.line,
                                   suggestion=closest(attribute.name, allowed))
    for nested in block.blocks:
        raise UnsupportedError(f'Unsupported block type: blocks of type "{nested.type}" are not expected in '
                               f"{what}.", file=nested.loc.file, line=nested.loc.line)


def _static_string(attribute: Attribute | None) -> str | None:
    if attribute is None:
        return None
    expr = attribute.expr
    if isinstance(expr, Template) and all(isinstance(p, str) for p in expr.parts):
        return "".join(expr.parts)
    raise ValidationError(f'Invalid value for "{attribute.name}": a plain string is required here.',
                          file=attribute.loc.file, line=attribute.loc.line)


def _static_bool(attribute: Attribute | None, default: bool) -> bool:
    if attribute is None:
        return default
    if isinstance(attribute.expr, Literal) and isinstance(attribute.expr.value, bool):
        return attribute.expr.value
    raise ValidationError(f'Invalid value for "{attribute.name}": true or false is required here.',
                          file=attribute.loc.file, line=attribute.loc.line)


def _variable(block: Block) -> Variable:
    _only(block, ("type", "default", "description", "sensitive", "nullable"), "a variable block")
    for nested in block.blocks:  # pragma: no cover - _only refuses every nested block already
        raise UnsupportedError("A validation block is not supported.", file=nested.loc.file, line=nested.loc.line)
    type_attr = block.attributes.get("type")
    type_spec = parse_type(type_attr.expr) if type_attr else ANY
    default = block.attributes.get("default")
    return Variable(
        name=block.labels[0],
        type=type_spec,
        default_expr=default.expr if default else None,
        description=_static_string(block.attributes.get("description")),
        sensitive=_static_bool(block.attributes.get("sensitive"), False),
        nullable=_static_bool(block.attributes.get("nullable"), True),
        loc=block.loc,
    )


_PRIMITIVES = ("string", "number", "bool", "any")
_COLLECTIONS = ("list", "set", "map")


def parse_type(expr: Expr) -> TypeSpec:
    """A type constraint expression (``list(string)``, ``object({a = number})`` ...) as a :class:`TypeSpec`."""
    from ._syntax import Call, ObjectExpr  # local: only type expressions need them

    def fail(message: str, suggestion: str | None = None) -> ValidationError:
        return ValidationError(f"Invalid type specification: {message}", file=expr.loc.file,
                               line=expr.loc.line, suggestion=suggestion)

    if isinstance(expr, Name):
        if expr.name in _PRIMITIVES:
            return TypeSpec(expr.name)
        raise fail(f'the keyword "{expr.name}" is not a valid type.',
                   closest(expr.name, _PRIMITIVES + _COLLECTIONS + ("object", "tuple")))
    if isinstance(expr, Call):
        if expr.name in _COLLECTIONS and len(expr.args) == 1:
            return TypeSpec(expr.name, element=parse_type(expr.args[0]))
        if expr.name == "object" and len(expr.args) == 1 and isinstance(expr.args[0], ObjectExpr):
            attrs = []
            for key, value in expr.args[0].items:
                if not isinstance(key, Literal):
                    raise fail("object attribute names must be identifiers.")
                attrs.append((str(key.value), parse_type(value)))
            return TypeSpec("object", attributes=tuple(attrs))
        if expr.name == "tuple" and len(expr.args) == 1 and isinstance(expr.args[0], TupleExpr):
            return TypeSpec("tuple", elements=tuple(parse_type(e) for e in expr.args[0].items))
        raise fail(f'"{expr.name}" is not a type constructor kmslab understands.',
                   closest(expr.name, _COLLECTIONS + ("object", "tuple")))
    raise fail("a type keyword or constructor such as string or list(string) is required.")


def _depends_on(block: Block) -> tuple[tuple[str, Loc], ...]:
    attribute = block.attributes.get("depends_on")
    if attribute is None:
        return ()
    if not isinstance(attribute.expr, TupleExpr):
        raise ValidationError("Invalid depends_on: a list of resource addresses is required.",
                              file=attribute.loc.file, line=attribute.loc.line)
    addresses = []
    for item in attribute.expr.items:
        parts = _static_address(item)
        if parts is None:
            raise ValidationError("Invalid depends_on reference: each item must be a resource address such "
                                  "as aws_kms_key.example.", file=item.loc.file, line=item.loc.line)
        addresses.append((parts, item.loc))
    return tuple(addresses)


def _static_address(expr: Expr) -> str | None:
    names: list[str] = []
    while isinstance(expr, GetAttr):
        names.append(expr.name)
        expr = expr.target
    if isinstance(expr, Index) or not isinstance(expr, Name):
        return None
    names.append(expr.name)
    names.reverse()
    if names[0] == "data" and len(names) >= 3:
        return ".".join(names[:3])
    if len(names) >= 2:
        return ".".join(names[:2])
    return None


def _output(block: Block) -> Output:
    _only(block, ("value", "description", "sensitive", "depends_on"), "an output block")
    value = block.attributes.get("value")
    if value is None:
        raise ValidationError('Missing required argument: the argument "value" is required in an output '
                              "block.", file=block.loc.file, line=block.loc.line)
    return Output(
        name=block.labels[0],
        expr=value.expr,
        description=_static_string(block.attributes.get("description")),
        sensitive=_static_bool(block.attributes.get("sensitive"), False),
        depends_on=_depends_on(block),
        loc=block.loc,
    )


def _resource(block: Block, mode: str) -> Resource:
    for name, attribute in block.attributes.items():
        if name in _REFUSED_META:
            raise UnsupportedError(f"{_REFUSED_META[name]} is {NOT_MODELLED}.", file=attribute.loc.file,
                                   line=attribute.loc.line)
    for nested in block.blocks:
        if nested.type in _REFUSED_META:
            raise UnsupportedError(f"{_REFUSED_META[nested.type]} is {NOT_MODELLED}.", file=nested.loc.file,
                                   line=nested.loc.line)
    resource_type, name = block.labels
    provider = _provider_reference(block.attributes["provider"]) if "provider" in block.attributes else None
    attributes = {k: v for k, v in block.attributes.items() if k not in ("depends_on", "provider")}
    lifecycles = block.blocks_of("lifecycle")
    if mode == "data" and lifecycles:
        raise UnsupportedError(f"A lifecycle block in a data block is {NOT_MODELLED}.", file=lifecycles[0].loc.file,
                               line=lifecycles[0].loc.line)
    if len(lifecycles) > 1:
        raise ValidationError('Duplicate lifecycle block: Only one "lifecycle" block is allowed per resource.',
                              file=lifecycles[1].loc.file, line=lifecycles[1].loc.line)
    lifecycle = _lifecycle(lifecycles[0]) if lifecycles else Lifecycle()
    body = Block(block.type, block.labels, attributes, tuple(b for b in block.blocks if b.type != "lifecycle"),
                 block.loc)
    return Resource(mode, resource_type, name, body, _depends_on(block), block.loc, lifecycle, provider)


def _provider_reference(attribute: Attribute) -> tuple[str, str | None]:
    """``provider = aws`` or ``provider = aws.partner`` (Terraform also takes the quoted, deprecated form)."""
    expr = attribute.expr
    parts: list[str] = []
    if isinstance(expr, Template) and all(isinstance(p, str) for p in expr.parts):
        parts = "".join(expr.parts).split(".")
    else:
        while isinstance(expr, GetAttr):
            parts.insert(0, expr.name)
            expr = expr.target
        if isinstance(expr, Name):
            parts.insert(0, expr.name)
        else:
            parts = []
    if not 1 <= len(parts) <= 2 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        raise ValidationError("Invalid provider configuration reference: The provider argument requires a provider "
                              "type name, optionally followed by a period and then a configuration alias.",
                              file=attribute.loc.file, line=attribute.loc.line)
    return parts[0], parts[1] if len(parts) == 2 else None


def _lifecycle(block: Block) -> Lifecycle:
    for nested in block.blocks:
        what = {"precondition": "A precondition", "postcondition": "A postcondition"}.get(nested.type)
        if what is None:
            raise ValidationError(f'Unsupported block type: Blocks of type "{nested.type}" are not expected here.',
                                  file=nested.loc.file, line=nested.loc.line)
        raise UnsupportedError(f"{what} is {NOT_MODELLED}.", file=nested.loc.file, line=nested.loc.line)
    known = ("create_before_destroy", "prevent_destroy", "ignore_changes", "replace_triggered_by")
    for attribute in block.attributes.values():
        if attribute.name not in known:
            raise ValidationError(f'Unsupported argument: An argument named "{attribute.name}" is not expected here.',
                                  file=attribute.loc.file, line=attribute.loc.line,
                                  suggestion=closest(attribute.name, known))
    if "replace_triggered_by" in block.attributes:
        attribute = block.attributes["replace_triggered_by"]
        raise UnsupportedError(f"lifecycle.replace_triggered_by is {NOT_MODELLED}.", file=attribute.loc.file,
                               line=attribute.loc.line)
    if _static_bool(block.attributes.get("create_before_destroy"), False):
        attribute = block.attributes["create_before_destroy"]
        raise UnsupportedError(f"lifecycle.create_before_destroy = true is {NOT_MODELLED}: kmslab's applier always "
                               "destroys before it creates a replacement.", file=attribute.loc.file,
                               line=attribute.loc.line)
    ignored: tuple[str, ...] = ()
    attribute = block.attributes.get("ignore_changes")
    if attribute is not None:
        expr = attribute.expr
        if isinstance(expr, Name) and expr.name == "all":
            ignored = ("*",)
        elif isinstance(expr, TupleExpr):
            names = []
            for item in expr.items:
                while isinstance(item, (GetAttr, Index)):
                    item = item.target
                if not isinstance(item, Name):
                    raise ValidationError("Invalid ignore_changes: each item must be an attribute name, such as "
                                          "tags.", file=attribute.loc.file, line=attribute.loc.line)
                names.append(item.name)
            ignored = tuple(names)
        else:
            raise ValidationError('Invalid ignore_changes: a list of attribute names, or the keyword "all", is '
                                  "required.", file=attribute.loc.file, line=attribute.loc.line)
    return Lifecycle(_static_bool(block.attributes.get("prevent_destroy"), False), ignored, block.loc)


"""The :class:`Stack`: parse and check a configuration, then plan, apply and destroy it through boto3.

Data flows one way: ``.tf`` text -> :mod:`._parse` (blocks with file:line) -> :mod:`._check`
(types, arguments, references, cycles) -> a walk over the dependency graph that evaluates each
variable, local, data source, resource and output (:mod:`._expr`) and diffs resources against the
state (:mod:`._plan`) -> the handlers of :mod:`._resources`, which call AWS through the session's
clients.

The provider's ``default_tags`` (``provider "aws" { default_tags { tags = ... } }``) are evaluated
as the graph node ``provider.aws``, before any resource; every taggable resource's ``tags_all`` is
those tags merged with its own ``tags`` (its own win), and ``tags_all`` is what goes to AWS. The
provider's other arguments are read and ignored: the session decides the region and credentials.
A resource with ``provider = aws.ALIAS`` uses the session given for that alias in ``providers``
(a second account), else the Stack's own when the alias has no identity or region of its own (see
:func:`._check.alias_problem`); its state entry records the alias, as Terraform's state names each
resource's provider configuration, so refresh and destroy use the same session.

Everything that can be refused is refused in ``Stack(...)`` or at the start of ``plan``/``apply``,
before any AWS call that changes something. State is kept in memory, as Terraform keeps it (each
resource's type, name, attributes and dependencies), in a :class:`State` that several stacks over
the same folder may share, and optionally in a JSON file.

State survives faults. A resource is in the state as soon as AWS has answered the call that makes
it (each handler's ``creates`` operation, read from the client's journal in :mod:`._aws`), whatever
is raised after: a failed later step, an exception of any kind, ``KeyboardInterrupt``. A create cut
short that way leaves the resource *tainted*, as Terraform marks a resource whose create did not
finish, so the next apply replaces it. A failed AWS call stops the apply with :class:`ApplyError`;
other exceptions propagate unchanged once the state is written.

Refresh: ``plan``, ``apply`` and ``destroy`` first ask AWS whether each resource in the state
still exists (``Refreshing state...``, as Terraform prints it) and forget those AWS reports not
found, as the provider's read does (a KMS key pending deletion counts as gone, as in the provider's
``FindKeyByID``); ``plan`` then notes "Objects have changed outside of Terraform". On delete, "not
found" also means gone. kmslab's refresh reads existence only, not every attribute: a change made
outside Terraform to an attribute of a resource that still exists is not detected (a choice of
kmslab's; Terraform would plan to undo it).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .._errors import ApplyError, ReferenceError_, UnsupportedError, ValidationError
from ._aws import Aws
from ._check import (
    PROVIDER_NODE,
    Graph,
    alias_problem,
    check_config,
    default_tags,
    provider_aliases,
    schema_of,
)
from ._data import DATA_SOURCES
from ._expr import UNKNOWN, Evaluator, TypeMismatch, convert, is_known
from ._parse import NOT_MODELLED, Block, Config, Resource, closest, parse_directory
from ._plan import NO_CHANGES, OutputChange, Plan, ResourceChange, config_view, diff_resource, planned_values
from ._render import output_value_lines
from ._resources import RESOURCE_TYPES
from ._schema import Arg, BlockSpec, Problem, check_value, coerce, normalized_json, tags_arg
from ._state import State
from ._syntax import Loc, deep_recursion

_VERBS = {"create": "creating", "update": "updating", "delete": "destroying", "read": "reading"}


def _problems_error(problems: list[Problem], address: str, loc: Loc) -> ValidationError:
    """One provider error, or Terraform's "N errors occurred:" list, naming the resource."""
    if len(problems) == 1:
        text = problems[0].message
    else:
        text = f"{len(problems)} errors occurred:\n" + "\n".join(f"  * {p.message}" for p in problems)
    error = ValidationError(f"{text}\n\n  with {address}", file=loc.file, line=loc.line)
    error.address = address
    error.errors = [p.message for p in problems]
    return error


@contextlib.contextmanager
def _not_too_deep(directory: Any) -> Iterator[None]:
    """Nesting deeper than Python's recursion limit: kmslab's own limit, said as such."""
    try:
        with deep_recursion():
            yield
    except RecursionError:
        raise UnsupportedError(f"Configuration nested too deeply: an expression in {directory} nests deeper than "
                               f"kmslab's applier evaluates; this is {NOT_MODELLED}.") from None


def _known_or_none(value: Any) -> Any:
    """State never holds UNKNOWN: anything AWS did not report is null."""
    if value is UNKNOWN:
        return None
    if isinstance(value, dict):
        return {k: _known_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_known_or_none(v) for v in value]
    return value


class _Walk:
    """One pass over the graph: the scope that expressions see, filled in dependency order."""

    def __init__(self, stack: Stack) -> None:
        directory = str(stack.config.directory)
        self.scope: dict[str, Any] = {
            "var": dict(stack._variables), "local": {}, "data": {},
            "path": {"module": directory, "root": directory, "cwd": str(Path.cwd())},
            "terraform": {"workspace": "default"},
        }
        for resource in stack.config.resources.values():
            if resource.mode == "managed":
                self.scope.setdefault(resource.type, {})
            else:
                self.scope["data"].setdefault(resource.type, {})
        self.evaluator = Evaluator(self.scope, stack.config.directory)
        self.default_tags: Any = {}  # the provider's default_tags, set when the walk reaches provider.aws
        self.pending: set[str] = set()  # managed resources this plan changes (data sources on them wait)

    def set_resource(self, resource: Resource, value: Any) -> None:
        if resource.mode == "data":
            self.scope["data"][resource.type][resource.name] = value
        else:
            self.scope[resource.type][resource.name] = value


class Stack:
    """A Terraform configuration directory applied through a ``boto3.Session``.

    ``Stack(path, session=..., variables=None, out=None, state_path=None, state=None)`` parses and
    checks every ``*.tf`` file in ``path`` at once and raises a :class:`ConfigurationError` subclass
    for anything refused. ``out`` receives each progress line (default ``print``). With
    ``state_path`` the state is also read from and written to that JSON file; with ``state`` (a
    :class:`State`) it is shared with other stacks over the same folder. ``providers`` maps a
    provider alias to the ``boto3.Session`` its resources use (``{"partner": partner_session}``).
    """

    def __init__(self, path: str | Path, session: Any, variables: dict[str, Any] | None = None,
                 out: Callable[[str], None] | None = None, state_path: str | Path | None = None,
                 state: State | None = None, providers: dict[str, Any] | None = None) -> None:
        self.config: Config = parse_directory(path)
        with _not_too_deep(path):
            self.graph: Graph = check_config(self.config)
        self._default_tags_attribute = default_tags(self.config)
        self._aws = Aws(session)
        self._aliases = self._alias_sessions(session, dict(providers or {}))
        self._out = out or print
        self._store = state if state is not None else State(state_path)
        self._state: dict[str, dict[str, Any]] = self._store.resources
        self._outputs: dict[str, Any] = self._store.outputs
        self._data_cache: dict[str, dict[str, Any]] = {}
        with _not_too_deep(path):
            self._variables = self._resolve_variables(dict(variables or {}))
            self._walk("validate")

    def _alias_sessions(self, session: Any, given: dict[str, Any]) -> dict[str, Aws]:
        """An :class:`Aws` per aliased provider that resources use: the session given for it in
        ``providers``, else the Stack's own when the alias is the same identity and region (see
        :func:`._check.alias_problem`); anything else is refused as not modelled, at the resource."""
        blocks = provider_aliases(self.config)
        region = getattr(session, "region_name", None) or "us-east-1"  # Aws.region's default
        aliases: dict[str, Aws] = {alias: Aws(given[alias]) for alias in given if alias in blocks}
        for resource in self.config.resources.values():
            alias = (resource.provider or ("aws", None))[1]
            if alias is None or alias in aliases:
                continue
            problem = alias_problem(blocks[alias], alias, region)
            if problem:
                raise UnsupportedError(f"{problem}, so {resource.address} cannot use it.", file=resource.loc.file,
                                       line=resource.loc.line)
            aliases[alias] = self._aws
        return aliases

    def _aws_for(self, alias: str | None) -> Aws:
        """The clients of the provider configuration a resource uses (None: the default one)."""
        if alias is None:
            return self._aws
        if alias not in self._aliases:
            raise ValidationError(f'Provider configuration not present: provider["registry.terraform.io/hashicorp/aws"].'
                                  f"{alias} is required by objects in the state, but it has been removed. Re-add the "
                                  "provider configuration to destroy them, after which you can remove the provider "
                                  "configuration again.")
        return self._aliases[alias]

    @staticmethod
    def _alias_of(resource: Resource) -> str | None:
        return (resource.provider or ("aws", None))[1]

    # -- public surface ----------------------------------------------------------------------------

    @property
    def state(self) -> dict[str, dict[str, Any]]:
        """A copy of the state: ``{address: {"type", "name", "attributes", "dependencies"}}``
        (tainted resources also carry ``"status": "tainted"``)."""
        return copy.deepcopy(self._state)

    @property
    def outputs(self) -> dict[str, Any]:
        """The outputs of the last apply, as plain Python values (sensitive ones included)."""
        return copy.deepcopy(self._outputs)

    def plan(self, target: str | Iterable[str] | None = None, destroy: bool = False) -> Plan:
        """What ``apply()`` (or ``destroy()`` with ``destroy=True``) would do, without changing anything."""
        targets = self._targets(target)
        gone = self._refresh(persist=False)
        try:
            with _not_too_deep(self.config.directory):
                plan = self._destroy_plan() if destroy else self._walk("plan", targets)
        finally:
            self._state.update(gone)  # a plan changes nothing, not even the state
        plan.drifted = [ResourceChange(address, entry["type"], entry["name"], "delete", entry["attributes"], None,
                                       RESOURCE_TYPES[entry["type"]].schema) for address, entry in gone.items()]
        return plan

    def apply(self, target: str | Iterable[str] | None = None) -> dict[str, Any]:
        """Create, update and replace resources in dependency order; return the outputs."""
        targets = self._targets(target)
        self._refresh()
        with _not_too_deep(self.config.directory):
            plan = self._walk("plan", targets)
        if not plan.has_changes:
            self._say(NO_CHANGES, "", "Terraform has compared your real infrastructure against your configuration",
                      "and found no differences, so no changes are needed.")
        counts = {"create": 0, "update": 0, "delete": 0}
        doomed = [c.address for c in plan.resource_changes if c.action in ("delete", "replace")]
        for address in self._destroy_order(doomed):
            self._delete(address)
            counts["delete"] += 1
        self._walk("apply", targets, counts=counts)
        self._say("", f"Apply complete! Resources: {counts['create']} added, {counts['update']} changed, "
                      f"{counts['delete']} destroyed.")
        self._print_outputs()
        return self.outputs

    def destroy(self) -> None:
        """Destroy every resource in the state, dependents first. A KMS key is scheduled for deletion
        after its ``deletion_window_in_days`` (ScheduleKeyDeletion), as AWS requires."""
        self._refresh()
        order = self._destroy_order(list(self._state))
        for address in order:
            self._check_prevent_destroy(address)
        for address in order:
            self._delete(address)
        self._outputs.clear()
        self._save_state()
        self._say("", f"Destroy complete! Resources: {len(order)} destroyed.")

    def __repr__(self) -> str:
        return f"<Stack {self.config.directory} with {len(self._state)} resource(s) in state>"

    # -- refresh -----------------------------------------------------------------------------------

    def _refresh(self, persist: bool = True) -> dict[str, dict[str, Any]]:
        """Forget the resources AWS no longer has; return them (``{address: entry}``)."""
        gone: dict[str, dict[str, Any]] = {}
        for address, entry in sorted(self._state.items()):
            handler = RESOURCE_TYPES[entry["type"]]
            self._say(f"{address}: Refreshing state... [id={entry['attributes'].get('id')}]")
            try:
                exists = handler.exists(self._aws_for(entry.get("provider")), entry["attributes"])
            except (ClientError, BotoCoreError) as exc:
                raise self._apply_error("read", address, exc) from exc
            if not exists:
                gone[address] = entry
        if self._state:
            self._say("")
        for address in gone:
            del self._state[address]
        if gone and persist:
            self._save_state()
        return gone

    # -- variables ---------------------------------------------------------------------------------

    def _resolve_variables(self, given: dict[str, Any]) -> dict[str, Any]:
        declared = self.config.variables
        for name in given:
            if name not in declared:
                raise ReferenceError_(f'Value for undeclared variable: a variable named "{name}" was given, but the '
                                      "configuration does not declare a variable of that name. To use this value, "
                                      'add a "variable" block to the configuration.',
                                      suggestion=closest(name, declared))
        values = {}
        for name, variable in declared.items():
            loc = variable.loc
            if name in given:
                raw, problem = given[name], "Invalid value for input variable: the given value is not suitable " \
                    f"for var.{name} declared at {loc}"
            elif variable.default_expr is not None:
                raw = Evaluator({}, self.config.directory).evaluate(variable.default_expr)
                problem = ("Invalid default value for variable: this default value is not compatible with the "
                           "variable's type constraint")
            else:
                raise ValidationError(f'No value for required variable: the root module input variable "{name}" is '
                                      "not set, and has no default value. Pass it in variables= to provide a "
                                      "value for this variable.", file=loc.file, line=loc.line)
            try:
                value = convert(raw, variable.type)
            except TypeMismatch as exc:
                raise ValidationError(f"{problem}: {exc}.", file=loc.file, line=loc.line) from None
            if value is None and not variable.nullable:
                raise ValidationError(f'Invalid value for input variable: the variable "{name}" is not nullable, '
                                      "so it cannot be null.", file=loc.file, line=loc.line)
            values[name] = value
        return values

    # -- targets -----------------------------------------------------------------------------------

    def _targets(self, target: str | Iterable[str] | None) -> frozenset[str] | None:
        if target is None:
            return None
        wanted = [target] if isinstance(target, str) else list(target)
        selected: set[str] = set()
        for address in wanted:
            if address not in self.config.resources and address not in self._state:
                known = list(self.config.resources) + list(self._state)
                raise ReferenceError_(f'Invalid target address: there is no resource "{address}" in the '
                                      "configuration or the state.", suggestion=closest(address, known))
            selected.add(address)
            if address in self.graph.nodes:
                selected |= {d for d in self.graph.dependencies(address) if d in self.config.resources}
        return frozenset(selected)

    # -- the walk ----------------------------------------------------------------------------------

    def _walk(self, mode: str, targets: frozenset[str] | None = None,
              counts: dict[str, int] | None = None) -> Plan:
        """Evaluate the graph in order. ``mode`` is ``validate`` (no AWS), ``plan`` (reads data sources)
        or ``apply`` (also creates and updates resources)."""
        walk = _Walk(self)
        changes: list[ResourceChange] = []
        output_changes: list[OutputChange] = []
        new_outputs: dict[str, Any] = {}
        for key in self.graph.order:
            kind, _, name = key.partition(".")
            if kind == "var":
                continue
            if key == PROVIDER_NODE:
                walk.default_tags = self._default_tags(walk)
                continue
            if kind == "local":
                walk.scope["local"][name] = walk.evaluator.evaluate(self.config.locals[name].expr)
            elif kind == "output":
                output = self.config.outputs[name]
                value = walk.evaluator.evaluate(output.expr)
                new_outputs[name] = value
            else:
                resource = self.config.resources[key]
                if resource.mode == "data":
                    walk.set_resource(resource, self._data(resource, walk, mode))
                else:
                    walk.set_resource(resource, self._resource(resource, walk, mode, targets, changes, counts))
        for address, entry in sorted(self._state.items()):  # in state, no longer configured: destroy
            if address not in self.config.resources and (targets is None or address in targets):
                changes.append(ResourceChange(address, entry["type"], entry["name"], "delete", entry["attributes"],
                                              None, RESOURCE_TYPES[entry["type"]].schema, reason="orphan"))
        if mode == "plan":
            output_changes = self._output_changes(new_outputs, targets)
        if mode == "apply":
            for name, value in new_outputs.items():
                if is_known(value):
                    self._outputs[name] = value
            for name in list(self._outputs):
                if name not in self.config.outputs:
                    del self._outputs[name]
            self._save_state()
        return Plan(changes, output_changes, tuple(sorted(targets)) if targets is not None else ())

    def _output_changes(self, new: dict[str, Any], targets: frozenset[str] | None) -> list[OutputChange]:
        changes = []
        for name, value in new.items():
            sensitive = self.config.outputs[name].sensitive
            if name not in self._outputs:
                if targets is None or is_known(value):
                    changes.append(OutputChange(name, "create", None, value, sensitive))
            elif value is UNKNOWN or value != self._outputs[name]:
                if targets is None or is_known(value):
                    changes.append(OutputChange(name, "update", self._outputs[name], value, sensitive))
        for name, value in self._outputs.items():
            if name not in new:
                changes.append(OutputChange(name, "delete", value, None, self._was_sensitive(name)))
        return changes

    def _was_sensitive(self, name: str) -> bool:
        return name in self.config.outputs and self.config.outputs[name].sensitive

    # -- evaluating blocks -------------------------------------------------------------------------

    def _evaluate_block(self, block: Block, args: dict[str, Arg], blocks: dict[str, BlockSpec], walk: _Walk,
                        address: str, problems: list[tuple[Problem, Loc]]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, attribute in block.attributes.items():
            value = walk.evaluator.evaluate(attribute.expr)
            try:
                value = coerce(name, args[name], value)
            except Problem as problem:
                raise _problems_error([problem], address, attribute.loc) from None
            try:
                check_value(name, args[name], value)
            except Problem as problem:
                problems.append((problem, attribute.loc))
            values[name] = value
        for block_type, spec in blocks.items():
            values[block_type] = [self._evaluate_block(nested, spec.args, spec.blocks, walk, address, problems)
                                  for nested in block.blocks_of(block_type)]
        return values

    def _configured(self, resource: Resource, walk: _Walk, prior: dict[str, Any] | None) -> dict[str, Any]:
        """The resource's arguments, evaluated, with the provider's validation applied."""
        schema = schema_of(resource)
        problems: list[tuple[Problem, Loc]] = []
        config = self._evaluate_block(resource.body, schema.args, schema.blocks, walk, resource.address, problems)
        handler = DATA_SOURCES[resource.type] if resource.mode == "data" else RESOURCE_TYPES[resource.type]
        extra = handler.validate(config_view(schema, config), prior) if resource.mode == "managed" \
            else handler.validate(config_view(schema, config))
        if len(problems) == 1 and not extra:  # one argument's own rule: point at that argument
            raise _problems_error([problems[0][0]], resource.address, problems[0][1])
        all_problems = [p for p, _ in problems] + extra
        if all_problems:
            raise _problems_error(all_problems, resource.address, resource.loc)
        return config

    def _default_tags(self, walk: _Walk) -> Any:
        """The provider's ``default_tags { tags = ... }``, as a map of strings (UNKNOWN while unknown)."""
        attribute = self._default_tags_attribute
        if attribute is None:
            return {}
        try:
            value = coerce("tags", tags_arg(), walk.evaluator.evaluate(attribute.expr))
        except Problem as problem:
            raise ValidationError(f"{problem.message}\n\n  in provider \"aws\" (default_tags)",
                                  file=attribute.loc.file, line=attribute.loc.line) from None
        return {} if value is None else value

    # -- data sources ------------------------------------------------------------------------------

    def _data(self, resource: Resource, walk: _Walk, mode: str) -> dict[str, Any]:
        schema = schema_of(resource)
        config = self._configured(resource, walk, None)
        values = planned_values(schema.args, schema.blocks, config, None)
        source = DATA_SOURCES[resource.type]
        local = resource.type == "aws_iam_policy_document"
        if not is_known(config) or (mode == "validate" and not local):
            return values
        if mode == "plan" and not local and self.graph.dependencies(resource.address) & walk.pending:
            return values  # Terraform defers the read to apply: it depends on a resource with changes
        if mode == "apply" and resource.address in self._data_cache:
            return self._data_cache[resource.address]
        if mode != "validate":
            self._say(f"{resource.address}: Reading...")
        try:
            values.update(source.read(self._aws_for(self._alias_of(resource)), config))
        except (ClientError, BotoCoreError) as exc:
            raise self._apply_error("read", resource.address, exc) from exc
        except LookupError as exc:  # the data source found nothing: Terraform's "couldn't find resource"
            error = ApplyError(f"Error: {exc.args[0]}\n\n  with {resource.address}")
            error.address = resource.address
            raise error from None
        if mode != "validate":
            self._say(f"{resource.address}: Read complete after 0s [id={values.get('id')}]")
            self._data_cache[resource.address] = values
        return values

    # -- managed resources -------------------------------------------------------------------------

    def _resource(self, resource: Resource, walk: _Walk, mode: str, targets: frozenset[str] | None,
                  changes: list[ResourceChange], counts: dict[str, int] | None) -> dict[str, Any]:
        address = resource.address
        entry = self._state.get(address)
        prior = entry["attributes"] if entry else None
        handler = RESOURCE_TYPES[resource.type]
        schema = handler.schema
        if mode == "validate":
            config = self._configured(resource, walk, prior)
            return planned_values(schema.args, schema.blocks, config, None)
        if targets is not None and address not in targets:
            return prior if prior is not None else planned_values(schema.args, schema.blocks, {}, None)
        config = self._configured(resource, walk, prior)
        ignored = resource.lifecycle.ignore_changes
        if prior is not None and ignored:  # lifecycle.ignore_changes: the state's value stands
            for name in (schema.names() if ignored == ("*",) else ignored):
                if name in config and name in prior:
                    config[name] = prior[name]
        tainted = bool(entry) and entry.get("status") == "tainted"
        # default_tags belong to a provider configuration: a resource of an aliased one (which kmslab allows only
        # without default_tags of its own) gets none of the default provider's
        tags = walk.default_tags if self._alias_of(resource) is None else {}
        diff = diff_resource(schema, handler.invalidates, config, prior, tainted, tags, handler.same)
        if diff.action == "replace":
            self._check_prevent_destroy(address)
        if mode == "plan":
            changes.append(ResourceChange(address, resource.type, resource.name, diff.action, prior, diff.after,
                                          schema, diff.forces, "tainted" if tainted else None))
            if diff.action != "no-op":
                walk.pending.add(address)
            return diff.after
        assert counts is not None
        if diff.action == "no-op":
            return prior
        if diff.action == "replace":  # the destroy half has run already unless this is new information
            self._delete(address)
            counts["delete"] += 1
            diff = diff_resource(schema, handler.invalidates, config, None, default_tags=tags)
        if diff.action == "create":
            counts["create"] += 1
            return self._create(resource, diff.after)
        counts["update"] += 1
        return self._update(resource, prior, diff.after, diff.changed)

    def _check_prevent_destroy(self, address: str) -> None:
        resource = self.config.resources.get(address)
        if resource is not None and resource.lifecycle.prevent_destroy:
            loc = resource.lifecycle.loc or resource.loc
            raise ValidationError(f"Instance cannot be destroyed: Resource {address} has lifecycle.prevent_destroy set, "
                                  "but the plan calls for this resource to be destroyed. To avoid this error and "
                                  "continue with the plan, either disable lifecycle.prevent_destroy or reduce the "
                                  "scope of the plan using the -target option.", file=loc.file, line=loc.line)

    def _dependencies(self, address: str) -> list[str]:
        return sorted(d for d in self.graph.dependencies(address)
                      if d in self.config.resources and self.config.resources[d].mode == "managed")

    def _record(self, resource: Resource, attributes: dict[str, Any], tainted: bool = False) -> dict[str, Any]:
        attributes = _known_or_none(attributes)
        for name, arg in RESOURCE_TYPES[resource.type].schema.args.items():
            if arg.kind == "json" and arg.normalize and name in attributes:  # the SDK StateFunc: NormalizeJsonString
                attributes[name] = normalized_json(attributes[name])
        entry = {"type": resource.type, "name": resource.name, "attributes": attributes,
                 "dependencies": self._dependencies(resource.address)}
        if self._alias_of(resource) is not None:  # Terraform records the provider configuration of each resource
            entry["provider"] = self._alias_of(resource)
        if tainted:
            entry["status"] = "tainted"
        self._state[resource.address] = entry
        self._save_state()
        return entry["attributes"]

    def _create(self, resource: Resource, values: dict[str, Any]) -> dict[str, Any]:
        address = resource.address
        handler = RESOURCE_TYPES[resource.type]
        self._say(f"{address}: Creating...")
        aws = self._aws_for(self._alias_of(resource))
        mark = aws.mark()
        known = _known_or_none(values)
        aws.recording = True
        try:
            exported = handler.create(aws, known)
        except BaseException as exc:
            # Whatever was raised: if AWS answered the creating call, the resource exists. Record it,
            # tainted (its create did not finish), before anything else can go wrong.
            answer = next((a for a in aws.since(mark) if a.operation == handler.creates), None)
            if answer is not None:
                self._record(resource, {**values, **handler.created(aws, known, answer)}, tainted=True)
            if isinstance(exc, (ClientError, BotoCoreError)):
                raise self._apply_error("create", address, exc) from exc
            raise
        finally:
            aws.recording = False
            del aws.journal[mark:]
        attributes = self._record(resource, {**values, **exported})
        self._say(f"{address}: Creation complete after 0s [id={attributes.get('id')}]")
        return attributes

    def _update(self, resource: Resource, prior: dict[str, Any], values: dict[str, Any],
                changed: frozenset[str]) -> dict[str, Any]:
        address = resource.address
        self._say(f"{address}: Modifying... [id={prior.get('id')}]")
        try:
            exported = RESOURCE_TYPES[resource.type].update(self._aws_for(self._alias_of(resource)), prior,
                                                            _known_or_none(values), set(changed))
        except (ClientError, BotoCoreError) as exc:
            raise self._apply_error("update", address, exc) from exc
        merged = {**prior, **{k: v for k, v in values.items() if v is not UNKNOWN}, **exported}
        attributes = self._record(resource, merged)
        self._say(f"{address}: Modifications complete after 0s [id={attributes.get('id')}]")
        return attributes

    def _delete(self, address: str) -> None:
        entry = self._state[address]
        self._say(f"{address}: Destroying... [id={entry['attributes'].get('id')}]")
        handler = RESOURCE_TYPES[entry["type"]]
        try:
            handler.delete(self._aws_for(entry.get("provider")), entry["attributes"])
        except (ClientError, BotoCoreError) as exc:
            if not handler.is_not_found(exc):  # not found: already gone, as the provider's delete takes it
                raise self._apply_error("delete", address, exc) from exc
        del self._state[address]
        self._save_state()
        self._say(f"{address}: Destruction complete after 0s")

    def _apply_error(self, action: str, address: str, exc: BaseException | None) -> ApplyError:
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            message = exc.response.get("Error", {}).get("Message", str(exc))
            operation = exc.operation_name
        else:
            code, message, operation = type(exc).__name__, str(exc), None
        where = f" ({operation})" if operation else ""
        error = ApplyError(f"Error: {_VERBS[action]} {address}{where}: {code}: {message}")
        error.address = address
        error.code = code
        error.aws_message = message
        error.operation = operation
        return error

    # -- destroy -----------------------------------------------------------------------------------

    def _destroy_order(self, addresses: list[str]) -> list[str]:
        """``addresses`` ordered so that every resource goes before the ones it depends on."""
        chosen = set(addresses)
        deps = {a: set(self._state[a].get("dependencies", ())) & chosen for a in chosen}
        for address in chosen:
            if address in self.graph.nodes:
                deps[address] |= set(self._dependencies(address)) & chosen
        forward: list[str] = []
        while deps:
            ready = sorted(a for a, d in deps.items() if not d - set(forward))
            if not ready:  # a recorded cycle cannot happen; fall back to name order
                ready = sorted(deps)
            forward.append(ready[0])
            del deps[ready[0]]
        return list(reversed(forward))

    def _destroy_plan(self) -> Plan:
        for address in self._state:
            self._check_prevent_destroy(address)
        changes = [ResourceChange(address, entry["type"], entry["name"], "delete", entry["attributes"], None,
                                  RESOURCE_TYPES[entry["type"]].schema)
                   for address, entry in sorted(self._state.items())]
        outputs = [OutputChange(name, "delete", value, None, self._was_sensitive(name))
                   for name, value in self._outputs.items()]
        return Plan(changes, outputs, destroy=True)

    # -- printing and persistence ------------------------------------------------------------------

    def _say(self, *lines: str) -> None:
        for line in lines:
            self._out(line)

    def _print_outputs(self) -> None:
        if not self._outputs:
            return
        self._say("", "Outputs:", "")
        for name in sorted(self._outputs):
            if self.config.outputs[name].sensitive:
                self._say(f"{name} = <sensitive>")
                continue
            lines = output_value_lines(self._outputs[name])
            self._say(f"{name} = {lines[0]}", *lines[1:])

    def _save_state(self) -> None:
        self._store.save()

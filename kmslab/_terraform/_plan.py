"""Diffing a resource's configuration against its state, and the :class:`Plan` that results.

:func:`diff_resource` decides, for one resource, between create, update in place, replace and no-op
(a change to a ``force_new`` argument forces replacement, as the provider's ``ForceNew`` does) and
builds the planned values, with :data:`UNKNOWN` where AWS decides (a new key's ARN).
``tags_all`` is the provider's: its ``default_tags`` merged with the resource's ``tags`` (the
resource's win), so a change to the default tags alone is an update in place of ``tags_all``.
:class:`Plan` prints like ``terraform plan`` and renders to HTML in Jupyter.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._expr import UNKNOWN, is_known
from ._render import body_lines, diff_lines, value_lines
from ._schema import Arg, BlockSpec, Schema

ACTIONS = ("create", "update", "replace", "delete", "no-op")

_HEADLINE = {
    "create": "will be created",
    "update": "will be updated in-place",
    "replace": "must be replaced",
    "delete": "will be destroyed",
}
_SYMBOL = {"create": "  +", "update": "  ~", "replace": "-/+", "delete": "  -"}
_LEGEND = (
    ("create", "  + create"),
    ("update", "  ~ update in-place"),
    ("delete", "  - destroy"),
    ("replace", "-/+ destroy and then create replacement"),
)
NO_CHANGES = "No changes. Your infrastructure matches the configuration."


# --------------------------------------------------------------------------------------------------
# Planned values


def _planned_args(args: dict[str, Arg], config: dict[str, Any], prior: dict[str, Any] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, arg in args.items():
        value = config.get(name) if arg.argument else None
        if value is None and arg.default is not None:
            value = arg.default
        if value is None and arg.computed:
            value = prior.get(name, UNKNOWN) if prior is not None else UNKNOWN
        values[name] = value
    return values


def planned_values(schema_args: dict[str, Arg], blocks: dict[str, BlockSpec], config: dict[str, Any],
                   prior: dict[str, Any] | None) -> dict[str, Any]:
    """Configuration plus defaults; computed values come from ``prior`` or are :data:`UNKNOWN`."""
    values = _planned_args(schema_args, config, prior)
    for block_type, spec in blocks.items():
        configured = config.get(block_type) or []
        prior_blocks = prior.get(block_type) if prior is not None else None
        if not configured and spec.computed:
            values[block_type] = prior_blocks if prior_blocks is not None else UNKNOWN
            continue
        planned = []
        for index, block in enumerate(configured):
            prior_block = prior_blocks[index] if isinstance(prior_blocks, list) and index < len(prior_blocks) else None
            planned.append(planned_values(spec.args, spec.blocks, block, prior_block))
        values[block_type] = planned
    return values


def config_view(schema: Schema, config: dict[str, Any]) -> dict[str, Any]:
    """What the configuration says, with the schema's defaults (for the provider's cross-argument checks)."""
    return planned_values({k: Arg(a.kind, default=a.default) for k, a in schema.args.items() if a.argument},
                          {k: BlockSpec(s.args, s.blocks) for k, s in schema.blocks.items()}, config, {})


def _same(a: Any, b: Any) -> bool:
    return is_known(a) and is_known(b) and a == b


@dataclass(frozen=True)
class Diff:
    action: str
    after: dict[str, Any]
    changed: frozenset[str]
    forces: frozenset[str]


def diff_resource(schema: Schema, invalidates: dict[str, tuple[str, ...]], config: dict[str, Any],
                  prior: dict[str, Any] | None, tainted: bool = False,
                  default_tags: dict[str, str] | Any = None,
                  same: Callable[[str, Any, Any], bool] | None = None) -> Diff:
    """Plan one managed resource: its action and the values it will have.

    ``default_tags`` are the provider's (``default_tags { tags = ... }``); a change to them alone
    changes ``tags_all``, which is an update in place. ``same(name, configured, prior)`` is the
    provider's diff suppression (equivalent policies, a key's ARN for its ID): where it holds, the
    value in state is kept and nothing changes.
    """
    if prior is None:
        return Diff("create", _derive(planned_values(schema.args, schema.blocks, config, None), None, default_tags),
                    frozenset(), frozenset())
    after = planned_values(schema.args, schema.blocks, config, prior)
    if same is not None:
        for name, arg in schema.args.items():
            value, old = after[name], prior.get(name)
            if arg.argument and is_known(value) and is_known(old) and value != old and same(name, value, old):
                after[name] = old  # the provider suppresses this diff: the state keeps its value
    changed = {name for name, arg in schema.args.items() if arg.argument and not _same(after[name], prior.get(name))}
    changed |= {name for name in schema.blocks if not _same(after[name], prior.get(name))}
    forces = {name for name in changed if (schema.args[name].force_new if name in schema.args
                                           else _block_forces(schema.blocks[name], after[name], prior.get(name)))}
    if forces or tainted:
        return Diff("replace", _derive(planned_values(schema.args, schema.blocks, config, None), None, default_tags),
                    frozenset(changed), frozenset(forces))
    after = _derive(after, prior, default_tags)
    if "tags_all" in schema.args and not _same(after["tags_all"], prior.get("tags_all")):
        changed.add("tags_all")  # the tags sent to AWS change: their own, or the provider's default tags
    if not changed:
        return Diff("no-op", dict(prior), frozenset(), frozenset())
    for name in changed:
        for attribute in invalidates.get(name, ()):
            after[attribute] = UNKNOWN
    for name, arg in schema.args.items():  # exported attributes not invalidated keep their values
        if not arg.argument and after[name] is UNKNOWN and name != "tags_all" \
                and name not in _invalidated(invalidates, changed):
            after[name] = prior.get(name)
    return Diff("update", after, frozenset(changed), frozenset())


def tags_all(tags: Any, default_tags: Any) -> Any:
    """The provider's ``tags_all``: its ``default_tags`` merged with the resource's ``tags`` (the
    resource's win); :data:`UNKNOWN` while either is unknown."""
    if not is_known(tags) or not is_known(default_tags):
        return UNKNOWN
    return {**(default_tags or {}), **(tags or {})}


def _derive(values: dict[str, Any], prior: dict[str, Any] | None, default_tags: Any) -> dict[str, Any]:
    """Values the provider works out while planning: ``tags_all``. A new resource with no tags at all
    shows it as ``(known after apply)``, as the provider does; an existing one goes to ``{}``."""
    if "tags_all" not in values:
        return values
    merged = tags_all(values.get("tags"), default_tags)
    if merged is UNKNOWN or merged:
        values["tags_all"] = merged
    elif prior is None:
        values["tags_all"] = UNKNOWN
    else:
        values["tags_all"] = {} if prior.get("tags_all") else prior.get("tags_all")
    return values


def _invalidated(invalidates: dict[str, tuple[str, ...]], changed: set[str]) -> set[str]:
    return {attribute for name in changed for attribute in invalidates.get(name, ())}


def _block_forces(spec: BlockSpec, after: Any, before: Any) -> bool:
    if spec.force_new:
        return True
    if not isinstance(after, list) or not isinstance(before, list) or len(after) != len(before):
        return any(a.force_new for a in spec.args.values())
    for new, old in zip(after, before, strict=True):
        for name, arg in spec.args.items():
            if arg.force_new and not _same(new.get(name), old.get(name)):
                return True
    return False


# --------------------------------------------------------------------------------------------------
# The plan


@dataclass(frozen=True)
class ResourceChange:
    """One resource's planned change. ``before``/``after`` are attribute dicts (None for create/delete)."""

    address: str
    type: str
    name: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    schema: Schema
    forces: frozenset[str] = frozenset()
    reason: str | None = None  # "tainted" or "orphan" (no longer in the configuration)

    def lines(self) -> list[str]:
        headline = f"  # {self.address} {_HEADLINE[self.action]}"
        if self.reason == "tainted":
            headline = f"  # {self.address} is tainted, so must be replaced"
        lines = [headline]
        if self.reason == "orphan":
            lines.append(f"  # (because {self.address} is not in configuration)")
        lines.append(f'{_SYMBOL[self.action]} resource "{self.type}" "{self.name}" {{')
        before = None if self.action == "create" else self.before
        after = None if self.action == "delete" else self.after
        lines += body_lines(before, after, self.schema.args, self.schema.blocks, 6, self.forces)
        lines.append("    }")
        return lines


@dataclass(frozen=True)
class OutputChange:
    name: str
    action: str  # create, update, delete
    before: Any
    after: Any
    sensitive: bool

    def line(self, width: int) -> list[str]:
        label = self.name.ljust(width)
        sym = {"create": "+", "update": "~", "delete": "-"}[self.action]
        if self.sensitive:
            value = ["(sensitive value)" + (" -> null" if self.action == "delete" else "")]
        elif self.action == "create":
            value = value_lines(self.after, "+", 2)
        elif self.action == "delete":
            value = value_lines(self.before, "-", 2)
            value[-1] += " -> null"
        elif self.after is UNKNOWN:
            value = value_lines(self.before, "-", 2)
            value[-1] += " -> (known after apply)"
        else:
            value = diff_lines(self.before, self.after, 2)
        return [f"  {sym} {label} = {value[0]}", *value[1:]]


@dataclass
class Plan:
    """What an apply would do, printed as ``terraform plan`` prints it.

    ``changes`` is a list of ``(address, action)`` for every resource considered (``no-op``
    included); ``summary`` is Terraform's "Plan: ..." line or its "No changes." sentence.
    """

    resource_changes: list[ResourceChange]
    output_changes: list[OutputChange] = field(default_factory=list)
    target: tuple[str, ...] = ()
    destroy: bool = False
    #: Resources the refresh found deleted outside Terraform (shown first, as Terraform's "Note").
    drifted: list[ResourceChange] = field(default_factory=list)

    @property
    def changes(self) -> list[tuple[str, str]]:
        return [(c.address, c.action) for c in self.resource_changes]

    @property
    def has_changes(self) -> bool:
        return any(c.action != "no-op" for c in self.resource_changes)

    def counts(self) -> tuple[int, int, int]:
        actions = [c.action for c in self.resource_changes]
        add = actions.count("create") + actions.count("replace")
        change = actions.count("update")
        destroy = actions.count("delete") + actions.count("replace")
        return add, change, destroy

    @property
    def summary(self) -> str:
        if not self.has_changes:
            return NO_CHANGES
        add, change, destroy = self.counts()
        return f"Plan: {add} to add, {change} to change, {destroy} to destroy."

    def _drift_lines(self) -> list[str]:
        if not self.drifted:
            return []
        lines = ["Note: Objects have changed outside of Terraform", "",
                 "Terraform detected the following changes made outside of Terraform since the",
                 'last "terraform apply" which may have affected this plan:']
        for change in sorted(self.drifted, key=lambda c: c.address):
            lines += ["", f"  # {change.address} has been deleted",
                      f'  - resource "{change.type}" "{change.name}" {{',
                      *body_lines(change.before, None, change.schema.args, change.schema.blocks, 6, frozenset()),
                      "    }"]
        lines += ["", "", "Unless you have made equivalent changes to your configuration, or ignored the",
                  "relevant attributes using ignore_changes, the following plan may include",
                  "actions to undo or respond to these changes.", "", "\u2500" * 77, ""]
        return lines

    def lines(self) -> list[str]:
        active = sorted((c for c in self.resource_changes if c.action != "no-op"), key=lambda c: c.address)
        lines: list[str] = self._drift_lines()
        if not active:
            lines.append(NO_CHANGES)
            if self.output_changes:
                lines += ["", *self._output_lines(), "",
                          "You can apply this plan to save these new output values to the Terraform state, "
                          "without changing any real infrastructure."]
            else:
                lines += ["", "Terraform has compared your real infrastructure against your configuration",
                          "and found no differences, so no changes are needed."]
            return lines
        used = {c.action for c in active}
        lines += ["Terraform used the selected providers to generate the following execution",
                  "plan. Resource actions are indicated with the following symbols:"]
        lines += [text for action, text in _LEGEND if action in used]
        lines += ["", "Terraform will perform the following actions:"]
        for change in active:
            lines += ["", *change.lines()]
        lines += ["", self.summary]
        if self.output_changes:
            lines += ["", *self._output_lines()]
        if self.target:
            lines += ["", "Warning: Resource targeting is in effect", "",
                      "You are creating a plan with the -target option, which means that the result",
                      "of this plan may not represent all of the changes requested by the current",
                      "configuration.", "",
                      "The -target option is not for routine use, and is provided only for",
                      "exceptional situations such as recovering from errors or mistakes, or when",
                      "Terraform specifically suggests to use it as part of an error message."]
        return lines

    def _output_lines(self) -> list[str]:
        width = max(len(c.name) for c in self.output_changes)
        lines = ["Changes to Outputs:"]
        for change in sorted(self.output_changes, key=lambda c: c.name):
            lines += change.line(width)
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return f"<Plan {self.summary!r}>"

    def _repr_html_(self) -> str:
        """A ``<pre>`` whose lines carry a class per action; the ``+``/``~``/``-`` symbols stay in the
        text, so the meaning never rests on colour alone."""
        rows = []
        for line in self.lines():
            stripped = line.lstrip()
            kind = ("replace" if stripped.startswith("-/+") else
                    "add" if stripped.startswith("+") else
                    "change" if stripped.startswith("~") else
                    "destroy" if stripped.startswith("-") else "")
            text = html.escape(line)
            rows.append(f'<span class="kmslab-tf-{kind}">{text}</span>' if kind else text)
        style = ("<style>.kmslab-tf-plan .kmslab-tf-add{color:#1a7f37}.kmslab-tf-plan .kmslab-tf-change{color:#9a6700}"
                 ".kmslab-tf-plan .kmslab-tf-destroy,.kmslab-tf-plan .kmslab-tf-replace{color:#cf222e}</style>")
        return (f'{style}<pre class="kmslab-tf-plan" role="document" aria-label="Terraform plan: '
                f'{html.escape(self.summary)}">' + "\n".join(rows) + "</pre>")

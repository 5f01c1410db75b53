"""How often does kmslab's evaluator agree with an independent suite of IAM decisions?

Run: ``python benchmarks/independent_suite.py [FOLDER] [-v]``. FOLDER defaults to ``/tmp/independent-suite``;
``-v`` also lists every case that is not compared, with its reason.

The suite is the JSON test files of the public repository ``cloud-copilot/iam-simulate`` (folder
``src/core_engine/coreEngineTests/``): a TypeScript IAM simulator written by other people, whose cases
each give a request, the policies that apply and the answer expected (``Allowed``, ``ImplicitlyDenied``,
``ExplicitlyDenied``). The suite is someone else's work and is not shipped with kmslab: copy its files
into FOLDER yourself, keeping their relative paths. This script only reads them.

Each case becomes one :func:`kmslab.evaluate` call:

* ``request.principal`` / ``action`` / ``resource.resource`` are the principal, action and resource;
  ``resource.accountId`` is passed as ``resource_account`` when the ARN carries no account (S3, ``*``);
  ``request.context`` and ``request.contextParams`` together are the context.
* ``identityPolicies`` are the identity policies, ``resourcePolicy`` the resource policy (the key
  policy for a KMS key, the trust policy for ``sts:`` actions on a role), ``permissionBoundaries`` the
  permissions boundary (AWS allows one), ``sessionPolicy`` the session policy.
* ``serviceControlPolicies`` / ``resourceControlPolicies`` are lists of levels (``orgIdentifier`` and
  ``policies``); each becomes one level of kmslab's mapping. RCPFullAWSAccess is attached to every level
  of an organization and cannot be detached (Organizations User Guide, "Resource control policies"),
  and the suite leaves it out ("RCPs allow by default"), so the script adds it to each RCP level.
* The suite sometimes writes a resource policy's ``"Principal"`` as a bare ARN string; IAM's grammar
  allows only ``"*"`` or an object there, so the script reads it as ``{"AWS": arn}``, the only meaning
  it can have. Nothing else in a case is changed.
* The expected answer is compared with kmslab's: allowed is ``Allowed``, ``EXPLICIT_DENY`` is
  ``ExplicitlyDenied``, any other denial (including ``RESERVED_BY_AWS``) is ``ImplicitlyDenied``.

A case is "not comparable", with its reason, when it asks for something that is not one AWS decision
or that kmslab says it does not model: discovery mode (the suite's "what conditions would I need"
queries), VPC endpoint policies, anonymous callers, request resources that are wildcard patterns (the
suite's "any resource" queries), a document AWS would refuse, or a ``CANNOT_EVALUATE`` decision (a
condition key kmslab does not model and the case does not give).

Prints the totals, a table per file, every disagreement (file, case, expected, kmslab's decision and
reason), the not-comparable reasons, and decisions/second over the comparable cases (only the evaluate
calls are timed; best of 3 runs).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kmslab

DEFAULT_FOLDER = Path("/tmp/independent-suite")
RUNS = 3
PASSES = 20  # each timed run evaluates every comparable case this many times

# RCPFullAWSAccess, as AWS attaches it to the root, every OU and every account of an organization.
RCP_FULL_ACCESS = ("RCPFullAWSAccess", {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})

# Actions that take no resource (Service Authorization Reference: no resource type, so "*"): for these a
# request on "*" is a real AWS request. For any other action the suite's "*" means "any resource".
NO_RESOURCE_ACTIONS = frozenset({
    "s3:listallmybuckets", "kms:listkeys", "kms:listaliases", "kms:createkey", "kms:generaterandom",
    "sts:getcalleridentity",
})


class NotComparable(Exception):
    """The case cannot be put to kmslab as one AWS decision: the reason, and the case's details if any."""


@dataclass
class Case:
    file: str
    name: str
    expected: str
    call: dict[str, Any] | None = None  # keyword arguments of kmslab.evaluate
    skipped: str | None = None  # why it is not comparable, in short (the summary groups by it)
    detail: str = ""  # the case's own details of that reason
    got: str | None = None
    reason: str | None = None

    def skip(self, why: str, detail: str = "") -> None:
        self.call, self.skipped, self.detail = None, why, detail


@dataclass
class FileResult:
    cases: int = 0
    comparable: int = 0
    agree: int = 0
    not_comparable: int = 0
    disagreements: list[Case] = field(default_factory=list)


def load_cases(folder: Path) -> list[Case]:
    cases = []
    for path in sorted(folder.rglob("*.json")):
        relative = path.relative_to(folder).as_posix()
        for raw in json.loads(path.read_text(encoding="utf-8")):
            case = Case(relative, raw.get("name", "?"), raw.get("expected", {}).get("response", "?"))
            try:
                case.call = to_call(raw)
            except NotComparable as why:
                case.skip(*why.args)
            cases.append(case)
    return cases


def to_call(raw: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the kmslab.evaluate call for one suite case."""
    simulation = raw.get("simulation") or {}
    if simulation.get("mode", "Strict") != "Strict":
        raise NotComparable("discovery mode (a query for the conditions that would allow, not a decision)")
    if raw.get("endpointPolicies"):
        raise NotComparable("VPC endpoint policy (not modelled)")
    request = raw["request"]
    principal = request["principal"]
    if not isinstance(principal, str):
        kind = principal.get("type", "unsigned")
        raise NotComparable(f"{kind} caller (kmslab evaluates signed principals)")
    action = request["action"]
    resource = request["resource"]["resource"]
    if "*" in resource or "?" in resource:
        takes_no_resource = request.get("wildcardOnlyAction") or action.lower() in NO_RESOURCE_ACTIONS
        if resource != "*" or not takes_no_resource:
            raise NotComparable("request resource is a wildcard pattern (the suite's 'any resource' query)")

    context = {**(request.get("context") or {}), **(request.get("contextParams") or {})}
    call: dict[str, Any] = {"principal": principal, "action": action, "resource": resource,
                            "context": context, "identity_policies": list(raw.get("identityPolicies") or [])}
    account = request["resource"].get("accountId")
    in_arn = resource.split(":")[4] if resource.startswith("arn:") and resource.count(":") >= 5 else ""
    if account and not in_arn.isdigit():
        call["resource_account"] = account
    elif account and in_arn != account:
        raise NotComparable("the resource ARN's account disagrees with accountId", f"{in_arn}, {account}")

    resource_policies = list(raw.get("resourcePolicies") or [])
    if raw.get("resourcePolicy") is not None:
        resource_policies.append(raw["resourcePolicy"])
    if len(resource_policies) > 1:
        raise NotComparable("more than one resource-based policy")
    if resource_policies:
        call["resource_policy"] = with_principal_objects(resource_policies[0])
    boundaries = raw.get("permissionBoundaries") or []
    if len(boundaries) > 1:
        raise NotComparable("more than one permissions boundary (AWS allows one)")
    if boundaries:
        call["permissions_boundary"] = boundaries[0]
    if raw.get("sessionPolicy") is not None:
        call["session_policies"] = [raw["sessionPolicy"]]
    if raw.get("serviceControlPolicies"):
        call["service_control_policies"] = levels(raw["serviceControlPolicies"], extra=None)
    if raw.get("resourceControlPolicies"):
        call["resource_control_policies"] = levels(raw["resourceControlPolicies"], extra=RCP_FULL_ACCESS)
    return call


def levels(org: list[dict[str, Any]], extra: Any) -> dict[str, list[Any]]:
    """The suite's list of levels as kmslab's mapping; names are numbered (the suite repeats some)."""
    return {f"{i} {level['orgIdentifier']}": ([extra] if extra else []) + list(level["policies"])
            for i, level in enumerate(org, 1)}


def with_principal_objects(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy with each bare-ARN ``Principal``/``NotPrincipal`` string written as ``{"AWS": arn}``."""
    statements = policy.get("Statement")
    if not isinstance(statements, list):
        return policy
    fixed = []
    for statement in statements:
        statement = dict(statement)
        for key in ("Principal", "NotPrincipal"):
            value = statement.get(key)
            if isinstance(value, str) and value != "*":
                statement[key] = {"AWS": value}
        fixed.append(statement)
    return {**policy, "Statement": fixed}


def outcome(decision: kmslab.Decision) -> str:
    if decision.allowed:
        return "Allowed"
    return "ExplicitlyDenied" if decision.reason == "EXPLICIT_DENY" else "ImplicitlyDenied"


def decide(cases: list[Case]) -> None:
    """Evaluate every mapped case once; a refusal or an undecided answer makes it not comparable."""
    for case in cases:
        if case.call is None:
            continue
        try:
            decision = kmslab.evaluate(**case.call)
        except kmslab.MalformedPolicyError as error:
            case.skip(f"a policy AWS would refuse ({error.kind}): {error.aws_message}", str(error))
            continue
        except ValueError as error:
            case.skip("kmslab refuses the input", str(error))
            continue
        if not decision.decided:
            notes = sorted({note.split(": ", 1)[-1] for note in decision.unresolved})
            case.skip(f"CANNOT_EVALUATE: {' / '.join(notes)}", "; ".join(decision.unresolved))
            continue
        case.got, case.reason = outcome(decision), decision.reason


def decisions_per_second(calls: list[dict[str, Any]]) -> float:
    """Best of RUNS runs, each PASSES passes over the calls; only the evaluate calls are timed."""
    evaluate = kmslab.evaluate
    best = 0.0
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(PASSES):
            for call in calls:
                evaluate(**call)
        best = max(best, PASSES * len(calls) / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER,
                        help=f"a copy of the suite's coreEngineTests folder (default {DEFAULT_FOLDER})")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list every case not compared")
    args = parser.parse_args()
    folder = args.folder
    if not folder.is_dir():
        sys.exit(f"no suite at {folder}: copy cloud-copilot/iam-simulate's src/core_engine/coreEngineTests/ "
                 f"there (it is not shipped with kmslab)")
    cases = load_cases(folder)
    decide(cases)

    per_file: dict[str, FileResult] = {}
    for case in cases:
        result = per_file.setdefault(case.file, FileResult())
        result.cases += 1
        if case.call is None:
            result.not_comparable += 1
        else:
            result.comparable += 1
            if case.got == case.expected:
                result.agree += 1
            else:
                result.disagreements.append(case)
    comparable = [case for case in cases if case.call is not None]
    agree = sum(r.agree for r in per_file.values())

    print(f"kmslab against the iam-simulate core engine tests ({folder}; Python {platform.python_version()})")
    print()
    print(f"cases {len(cases)}: comparable {len(comparable)}, agree {agree}, "
          f"disagree {len(comparable) - agree}, not comparable {len(cases) - len(comparable)}")
    if comparable:
        print(f"agreement over the comparable cases: {agree / len(comparable):.1%}")
    print()
    width = max(len(name) for name in per_file)
    print(f"{'file':<{width}}  {'cases':>5}  {'compared':>8}  {'agree':>5}  {'disagree':>8}  "
          f"{'not comp.':>9}")
    for name, r in per_file.items():
        print(f"{name:<{width}}  {r.cases:>5}  {r.comparable:>8}  {r.agree:>5}  {len(r.disagreements):>8}  "
              f"{r.not_comparable:>9}")

    print()
    disagreements = [case for r in per_file.values() for case in r.disagreements]
    print(f"Disagreements ({len(disagreements)})")
    for case in disagreements:
        print(f"  {case.file} :: {case.name}")
        print(f"      expected {case.expected}, kmslab {case.got} ({case.reason})")

    print()
    print("Not comparable, by reason")
    for reason, count in Counter(case.skipped for case in cases if case.skipped).most_common():
        print(f"  {count:>4}  {reason}")
    if args.verbose:
        print()
        for case in cases:
            if case.skipped:
                detail = f" ({case.detail})" if case.detail else ""
                print(f"  {case.file} :: {case.name}\n      {case.skipped}{detail}")

    if comparable:
        rate = decisions_per_second([case.call for case in comparable])
        print()
        print(f"{rate:,.0f} decisions/second over the {len(comparable)} comparable cases "
              f"({1e6 / rate:.1f} µs each; best of {RUNS} runs of {PASSES} passes, evaluate calls only)")


if __name__ == "__main__":
    main()

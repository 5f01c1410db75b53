"""Notebook 05's self-checking exercise, in the style of Kaggle's learntools.

``check(answer)``, ``hint()``, ``solution()``: correct, incorrect with a message that says what to change,
or not attempted; never a bare traceback. The hints are data, in ``text/05_least_privilege.toml``.
"""

from __future__ import annotations

import copy
import html
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .._lab import Lab
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
        return f"{self._HEADLINES[self.status]}: {self.message}"

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
        return f"{self.title}\n{self.body}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return (f"<div class='kmslab-text'><strong>{html.escape(self.title)}</strong>"
                f"<pre>{html.escape(self.body)}</pre></div>")


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
        if n is None:
            self._hints_shown = min(self._hints_shown + 1, len(self.hints))
            n = self._hints_shown
        n = max(1, min(n, len(self.hints)))
        more = f" (there are {len(self.hints)}; call hint() again)" if n < len(self.hints) else ""
        return _Text(f"Hint {n}{more}:", self.hints[n - 1])

    @property
    def solution_policy(self) -> dict[str, Any]:
        """The solution, as the dict to pass to ``check``."""
        return least_privilege_policy(key_arn(self.lab), self.table)

    def solution(self) -> _Text:
        body = "my_policy = " + json.dumps(self.solution_policy, indent=4)
        return _Text("Solution: one statement, one action, one key, two conditions.", body)

    def check(self, answer: Any) -> CheckResult:
        """Check a policy (a dict, or its JSON text). Never raises."""
        try:
            return self._check(answer)
        except Exception as error:  # the learner must never see a bare traceback
            return CheckResult("incorrect", f"kmslab could not check this answer ({type(error).__name__}: "
                                            f"{error}). Compare it with the shape in the cell above.")

    # the checks ----------------------------------------------------------------------------------------
    def _check(self, answer: Any) -> CheckResult:
        if answer is None or _contains_blank(answer):
            return CheckResult("not attempted", "replace every ____ in my_policy, then run the cell again. "
                                                "Stuck? Run exercise.hint().")
        document, problem = self._document(answer)
        if problem:
            return CheckResult("incorrect", problem)
        problem = self._shape(document)
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
        verdict = self._behaviour()
        if not verdict.correct:  # put back what was there: a wrong answer changes nothing
            if previous is None:
                iam.delete_user_policy(UserName=self.user, PolicyName=self.POLICY_NAME)
            else:
                iam.put_user_policy(UserName=self.user, PolicyName=self.POLICY_NAME,
                                    PolicyDocument=previous if isinstance(previous, str) else json.dumps(previous))
        return verdict

    @staticmethod
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

    def _shape(self, document: dict[str, Any]) -> str | None:
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
            resources = statement.get("Resource", [])
            resources = [resources] if isinstance(resources, str) else list(resources or [])
            if not resources:
                return f'statement {number} has no "Resource": name the key\'s ARN.'
            wide = [r for r in resources if r == "*" or (isinstance(r, str) and r.endswith(":key/*"))]
            if wide:
                return (f'statement {number} allows Resource "{wide[0]}": that covers every KMS key in the '
                        "account, present and future. Name only the table's key: its ARN (key_arn).")
        return None

    def _explain(self, action: str, context: dict[str, Any] | None, resource: str | None = None) -> Any:
        return self.lab.explain(self.user, action, resource or key_arn(self.lab), context=context)

    def _behaviour(self) -> CheckResult:
        via_dynamodb = dynamodb_context(self.table)
        through = self._explain("kms:Decrypt", via_dynamodb)
        if through.reason == "EXPLICIT_DENY":
            return CheckResult("incorrect", (
                "a Deny statement refuses the kms:Decrypt DynamoDB makes for the user, and an explicit deny "
                f"beats every allow. KMS says: {through.message}. Use \"Effect\": \"Allow\"."))
        if not through.allowed:
            return CheckResult("incorrect", (
                "DynamoDB's kms:Decrypt on the user's behalf would still be refused, so the Scan fails. KMS "
                f"says: {through.message or through.reason}. Check the Action (kms:Decrypt), the Resource "
                f'(the key ARN) and the condition values ("{VIA_DYNAMODB}", "{self.table}").'))
        direct = self._explain("kms:Decrypt", {})
        if direct.allowed:
            return CheckResult("incorrect", (
                "the user could also call kms:Decrypt directly, outside DynamoDB, on anything encrypted "
                "with this key. Add a condition on kms:ViaService so that only DynamoDB's requests qualify."))
        other_table = dict(via_dynamodb)
        other_table["kms:EncryptionContext:aws:dynamodb:tableName"] = "another-table"
        if self._explain("kms:Decrypt", other_table).allowed:
            return CheckResult("incorrect", (
                "DynamoDB could decrypt for any table protected by this key, not only "
                f"{self.table}. Add a condition on kms:EncryptionContext:aws:dynamodb:tableName."))
        for action in ("kms:Encrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey", "kms:CreateGrant",
                       "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey"):
            if self._explain(action, via_dynamodb).allowed:
                return CheckResult("incorrect", (
                    f"the policy also allows {action}. Reading (and writing) the table needs only kms:Decrypt: "
                    "list just that action."))
        self.lab.advance(minutes=5)  # past any table key DynamoDB cached for the user's connection
        ddb = self.lab.session_for(self.user).client("dynamodb")
        try:
            count = ddb.scan(TableName=self.table)["Count"]
        except ClientError as error:
            return CheckResult("incorrect", (
                f"the evaluator agreed, but the user's real Scan failed: {error}. Run exercise.hint()."))
        return CheckResult("correct", (
            f"{self.user} scanned {self.table} through DynamoDB ({count} item(s)); a direct kms:Decrypt, "
            "another table, and every other KMS action stay refused. The policy stays on the user as "
            f"{self.POLICY_NAME}."))

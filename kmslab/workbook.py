"""The workbook layer: what the notebooks call, so that their cells stay short.

Everything here is plain Python over a :class:`~kmslab.Lab` and boto3; the widgets that show these
models live in :mod:`kmslab.views` and only bind to them.

* :func:`start` rebuilds the world as it stands at the start of a notebook, quietly and the same way
  every time (seeded IDs, the lab's own clock), so that each notebook runs alone, in any order.
* :class:`Quiz`: a multiple-choice question with an explanation for every option; :func:`quiz` finds
  the ones the notebooks use.
* :class:`LeastPrivilegeExercise`: a self-checking exercise in the style of Kaggle's learntools
  (``check(answer)``, ``hint()``, ``solution()``): correct, incorrect with a message that says what to
  change, or not attempted; never a bare traceback.
* :class:`Playground`: the five settings that decide whether ``dynamo_test_user`` can scan the table.
  Applying a setting really changes the lab (IAM policies, the key policy, the key state) through boto3
  as ``lab-admin``, then runs the user's real ``Scan`` and reports each lock.

The world at the start of each step (``start(step)``)
-----------------------------------------------------

====  ===========================  ===========================================================================
step  notebook                     what exists when the notebook starts
====  ===========================  ===========================================================================
0     00 Welcome                   an empty lab: only ``lab-admin`` (AdministratorAccess), the lab's own identity
1     01 Forge the key             the same empty lab
2     02 Build the locked table    + the key: ``aws_kms_key.dynamodb_key`` applied with ``target``
3     03 Put a test item           + the table: ``aws_dynamodb_table.encrypted_table`` applied with ``target``
4     04 The denied user           + the test item, put by ``lab-admin``
5     05 Least privilege           + the whole bundled stack applied (``iam.tf``: ``dynamo_test_user`` with
                                   AmazonDynamoDBFullAccess and an access key; the outputs)
6     06 The key's lifecycle       + notebook 05's result: the least-privilege IAM policy ``read-through-dynamodb``
                                   on ``dynamo_test_user`` (so that the user can read until the key says no)
7     07 Clean up                  the same world as step 6
====  ===========================  ===========================================================================

Every step is replayed from nothing with the bundled Terraform (:data:`TERRAFORM_DIR`) and boto3 calls as
``lab-admin``; the replay's calls stay in ``lab.trail`` (notebooks show the newest records).
"""

from __future__ import annotations

import copy
import html
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ._errors import LabError
from ._lab import ACCOUNT_ID, ADMIN_USER, DEFAULT_REGION, Lab

__all__ = [
    "ACCOUNT_ID",
    "ADMIN_USER",
    "FULL_ACCESS_ARN",
    "KEY_ADDRESS",
    "STEPS",
    "TABLE_ADDRESS",
    "TABLE_NAME",
    "TERRAFORM_DIR",
    "TEST_ITEM",
    "USER_NAME",
    "CheckResult",
    "Feedback",
    "LeastPrivilegeExercise",
    "Playground",
    "PlaygroundResult",
    "PlaygroundSettings",
    "Quiz",
    "Step",
    "check_environment",
    "dynamodb_context",
    "key_arn",
    "least_privilege_policy",
    "quiz",
    "stack",
    "start",
    "____",
]

TABLE_NAME = "my-encrypted-table"
USER_NAME = "dynamo_test_user"
KEY_ADDRESS = "aws_kms_key.dynamodb_key"
TABLE_ADDRESS = "aws_dynamodb_table.encrypted_table"
FULL_ACCESS_ARN = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
#: The item notebook 03 puts, and steps 4+ start with.
TEST_ITEM = {"id": {"S": "entry-001"},
             "entry": {"S": "Dear diary: the spare key is under the blue flowerpot."}}
#: The inline policy notebook 05 gives the user (its solution), present from step 6.
LEAST_PRIVILEGE_POLICY_NAME = "read-through-dynamodb"
VIA_DYNAMODB = f"dynamodb.{DEFAULT_REGION}.amazonaws.com"


# -- where the bundled Terraform is --------------------------------------------------------------------

def _find_terraform_dir() -> Path:
    """The bundled ``terraform/`` folder: next to the package (a clone), else above the working directory.

    Returned relative to the working directory when that is short (``../terraform`` from ``notebooks/``),
    so that no machine path ends up in a notebook's output.
    """
    here = Path(__file__).resolve().parent
    candidates = [here / "terraform", here.parent / "terraform"]
    cwd = Path.cwd().resolve()
    candidates += [folder / "terraform" for folder in (cwd, *cwd.parents)]
    found = next((c for c in candidates if (c / "kms.tf").is_file()), here.parent / "terraform")
    try:
        relative = Path(os.path.relpath(found, cwd))
    except ValueError:  # another drive (Windows)
        return found
    ups = len(relative.parts) - len([part for part in relative.parts if part != ".."])
    return relative if ups <= 2 else found


#: The bundled Terraform folder (``kms.tf``, ``dynamodb.tf``, ``iam.tf``, ``outputs.tf``).
TERRAFORM_DIR = _find_terraform_dir()


# -- the steps ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One row of the table in this module's docstring."""

    number: int
    notebook: str
    world: str


STEPS: dict[int, Step] = {s.number: s for s in (
    Step(0, "00_welcome", "an empty lab: only lab-admin"),
    Step(1, "01_forge_the_key", "an empty lab: only lab-admin"),
    Step(2, "02_build_the_locked_table", "the KMS key"),
    Step(3, "03_put_a_test_item", "the KMS key and the encrypted table"),
    Step(4, "04_the_denied_user", "the key, the table and one test item"),
    Step(5, "05_least_privilege", "the whole bundled stack (key, table, dynamo_test_user) and the test item"),
    Step(6, "06_the_keys_lifecycle", "the whole stack, the test item, and the least-privilege policy of step 5"),
    Step(7, "07_clean_up", "the whole stack, the test item, and the least-privilege policy of step 5"),
)}

_STACKS: dict[int, Any] = {}


class _Printer:
    """Where a stack's progress lines go: nowhere during a replay, to the notebook afterwards."""

    def __init__(self) -> None:
        self.quiet = True

    def __call__(self, line: str) -> None:
        if not self.quiet:
            print(line)


def _new_stack(lab: Lab, printer: _Printer) -> Any:
    # The embedded applier unless KMSLAB_ENGINE=terraform asks for the real CLI: then the replay runs the
    # CLI too (slower, and its IDs differ), so that its state knows what exists.
    return lab.terraform(TERRAFORM_DIR, out=printer)


def start(step: int, *, seed: int = 0, target: str | None = None) -> Lab:
    """A new lab holding the world as it stands at the start of notebook ``step``.

    ``target`` is ``"offline"`` (the default) or ``"emulator"`` (the same lab, served on 127.0.0.1 for the
    real ``terraform`` and ``aws`` CLIs); ``KMSLAB_TARGET`` chooses when ``target`` is not given. Real AWS
    is refused: the notebooks move the lab's clock and ask it to explain its decisions, which only a
    simulated lab can do. Nothing is printed. Opening a lab closes the one opened before in this process;
    :func:`stack` gives the Terraform stack whose state holds what the replay applied.
    """
    if step not in STEPS:
        raise ValueError(f"there is no step {step!r}: choose one of {', '.join(map(str, STEPS))}")
    target = target or os.environ.get("KMSLAB_TARGET") or "offline"
    if target not in ("offline", "emulator"):
        raise LabError(f"the workbook's notebooks run on a simulated lab (offline or emulator), not {target!r}: "
                       "they move the lab's clock and ask it why a call was refused, which real AWS cannot do. "
                       "Unset KMSLAB_TARGET, or open Lab(target='aws') yourself outside the notebooks.")
    lab = Lab(target=target, seed=seed)
    printer = _Printer()
    tf = _new_stack(lab, printer)
    _STACKS.clear()
    _STACKS[id(lab)] = tf
    if step >= 2:
        tf.apply(target=KEY_ADDRESS)
    if step >= 3:
        tf.apply(target=TABLE_ADDRESS)
    if step >= 4:
        lab.client("dynamodb").put_item(TableName=TABLE_NAME, Item=TEST_ITEM)
    if step >= 5:
        tf.apply()
    if step >= 6:
        lab.client("iam").put_user_policy(
            UserName=USER_NAME, PolicyName=LEAST_PRIVILEGE_POLICY_NAME,
            PolicyDocument=json.dumps(least_privilege_policy(key_arn(lab))))
    printer.quiet = False
    return lab


def stack(lab: Lab) -> Any:
    """The Terraform stack over :data:`TERRAFORM_DIR` that :func:`start` applied for ``lab``.

    Its state knows what the replay created, so ``plan()`` shows only what is left to do. A lab that did
    not come from :func:`start` gets a new stack with an empty state.
    """
    found = _STACKS.get(id(lab))
    if found is None:
        printer = _Printer()
        printer.quiet = False
        found = _new_stack(lab, printer)
        _STACKS[id(lab)] = found
    return found


def key_arn(lab: Lab) -> str:
    """The ARN of the key that protects the table (or of the only customer managed key, before the table)."""
    try:
        table = lab.client("dynamodb").describe_table(TableName=TABLE_NAME)["Table"]
        arn = (table.get("SSEDescription") or {}).get("KMSMasterKeyArn")
        if arn:
            return arn
    except ClientError:
        pass
    kms = lab.client("kms")
    for entry in kms.list_keys()["Keys"]:
        meta = kms.describe_key(KeyId=entry["KeyId"])["KeyMetadata"]
        if meta["KeyManager"] == "CUSTOMER":
            return meta["Arn"]
    raise LookupError("this lab has no customer managed KMS key yet (it is created in notebook 01)")


def dynamodb_context(table_name: str = TABLE_NAME, account_id: str = ACCOUNT_ID,
                     region: str = DEFAULT_REGION) -> dict[str, Any]:
    """The request context of the ``kms:Decrypt`` DynamoDB makes for a caller reading ``table_name``."""
    return {"kms:ViaService": f"dynamodb.{region}.amazonaws.com",
            "kms:EncryptionContext:aws:dynamodb:tableName": table_name,
            "kms:EncryptionContext:aws:dynamodb:subscriberId": account_id}


def least_privilege_policy(key: str, table_name: str = TABLE_NAME) -> dict[str, Any]:
    """The solution of notebook 05: ``kms:Decrypt`` on one key, only through DynamoDB, only for one table."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ReadTheTableThroughDynamoDB",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key,
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": VIA_DYNAMODB,
                    "kms:EncryptionContext:aws:dynamodb:tableName": table_name,
                },
            },
        }],
    }


# -- a tiny observer, so that views can follow a model --------------------------------------------------

class _Observable:
    def __init__(self) -> None:
        self._observers: list[Callable[[Any], None]] = []

    def observe(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(event)`` after every change of this model."""
        self._observers.append(callback)

    def unobserve(self, callback: Callable[[Any], None]) -> None:
        self._observers.remove(callback)

    def _notify(self, event: Any) -> None:
        for callback in list(self._observers):
            callback(event)


# -- quizzes --------------------------------------------------------------------------------------------

LETTERS = "ABCDEFGH"


@dataclass(frozen=True)
class Feedback:
    """The answer to one quiz attempt."""

    correct: bool | None  # None: no answer given
    choice: str | None  # "B"
    text: str

    @property
    def headline(self) -> str:
        if self.correct is None:
            return "… No answer yet"
        return f"✔ Correct ({self.choice})" if self.correct else f"✘ Not quite ({self.choice})"

    def __str__(self) -> str:
        return f"{self.headline}. {self.text}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return (f"<div class='kmslab-feedback' role='status'><strong>{html.escape(self.headline)}.</strong> "
                f"{html.escape(self.text)}</div>")


class Quiz(_Observable):
    """A multiple-choice question; every option carries its own explanation.

    >>> q = Quiz("2 + 2?", ["3", "4"], answer=1, explanations=["One short.", "Yes."])
    >>> q.check("B").correct
    True
    """

    def __init__(self, question: str, options: list[str], answer: int | str, explanations: list[str], *,
                 reference: str = "quiz") -> None:
        super().__init__()
        self.reference = reference  # how code reaches this quiz, for the text form
        if len(options) != len(explanations):
            raise ValueError("give one explanation per option")
        if not 2 <= len(options) <= len(LETTERS):
            raise ValueError(f"a quiz has 2 to {len(LETTERS)} options")
        self.question = question
        self.options = list(options)
        self.explanations = list(explanations)
        self.answer = self._index(answer)
        if self.answer is None:
            raise ValueError(f"the answer {answer!r} is not one of the options")
        self.last: Feedback | None = None

    def _index(self, choice: int | str | None) -> int | None:
        if choice is None:
            return None
        if isinstance(choice, bool):
            return None
        if isinstance(choice, int):
            return choice if 0 <= choice < len(self.options) else None
        text = str(choice).strip()
        if len(text) == 1 and text.upper() in LETTERS[:len(self.options)]:
            return LETTERS.index(text.upper())
        if text.endswith(".") and len(text) == 2 and text[0].upper() in LETTERS[:len(self.options)]:
            return LETTERS.index(text[0].upper())
        for i, option in enumerate(self.options):
            if text == option or text == f"{LETTERS[i]}. {option}":
                return i
        return None

    def check(self, choice: int | str | None) -> Feedback:
        """Check one answer: a letter ("B"), an option's index (1) or its text."""
        index = self._index(choice)
        if index is None:
            valid = ", ".join(LETTERS[:len(self.options)])
            feedback = Feedback(None, None, f"Choose one of {valid}." if choice is None else
                                f"{choice!r} is not one of the options; answer with one of {valid}.")
        else:
            feedback = Feedback(index == self.answer, LETTERS[index], self.explanations[index])
        self.last = feedback
        self._notify(feedback)
        return feedback

    def labels(self) -> list[str]:
        return [f"{LETTERS[i]}. {option}" for i, option in enumerate(self.options)]

    def text(self) -> str:
        lines = [f"Quiz: {self.question}"]
        lines += [f"  {label}" for label in self.labels()]
        lines.append(f"  (Answer with the buttons, or in code: {self.reference}.check(\"A\"))")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(label)}</li>" for label in self.labels())
        return (f"<div class='kmslab-quiz'><p><strong>Quiz:</strong> {html.escape(self.question)}</p>"
                f"<ul>{items}</ul><p>Answer in code: <code>{html.escape(self.reference)}.check(\"A\")</code></p></div>")

    def widget(self) -> Any:
        """The interactive view (options, a Check button, feedback)."""
        from .views import QuizView
        return QuizView(self)


def quiz(step: int, number: int = 1) -> Quiz:
    """Quiz ``number`` of notebook ``step`` (a fresh one each time: no answer yet)."""
    try:
        question, options, answer, explanations = _QUIZZES[step][number - 1]
    except (KeyError, IndexError):
        raise LookupError(f"notebook {step:02d} has no quiz {number}") from None
    return Quiz(question, list(options), answer, list(explanations), reference=f"quiz({step}, {number})")


_QUIZZES: dict[int, list[tuple[str, tuple[str, ...], int, tuple[str, ...]]]] = {
    1: [(
        "The key you created has the default key policy: one statement that allows the account root "
        "(arn:aws:iam::123456789012:root) kms:*. What does that statement do?",
        ("It lets anyone who signs in as the account's root user use the key, and nobody else.",
         "It lets the account's IAM policies decide who may use the key.",
         "It lets every IAM user and role in the account use the key, with or without an IAM policy.",
         "Nothing: a key policy only matters for other accounts."),
        1,
        ("The account principal stands for the whole account, not just the root user. It hands the decision "
         "to IAM policies.",
         "Right. Naming the account delegates access control to IAM: a user may use the key if one of the "
         "user's IAM policies allows it (and nothing denies it).",
         "No: delegation is not permission. A user still needs an IAM policy that allows the KMS action; "
         "that is exactly what stops the database admin in notebook 04.",
         "The key policy is the first lock for everyone, in the same account too: without it, no IAM allow "
         "counts."),
    ), (
        "Terraform's deletion_window_in_days = 7. What happens when the key is destroyed?",
        ("The key is deleted at once.",
         "The key is disabled for 7 days, then enabled again.",
         "The key is scheduled for deletion: it cannot be used for 7 days, then KMS deletes it, unless "
         "someone cancels.",
         "Nothing happens for 7 days; then the key is deleted."),
        2,
        ("KMS never deletes a key at once: it always waits 7 to 30 days.",
         "A cancelled deletion leaves the key Disabled, but the window itself ends in deletion, not in "
         "re-enabling.",
         "Right. The key is PendingDeletion: unusable, but recoverable with CancelKeyDeletion until the "
         "window ends. After that, everything encrypted under it is unreadable for good.",
         "The key becomes unusable at once (PendingDeletion), not only when the window ends."),
    )],
    2: [(
        "The seed tutorial's table sets billing_mode = \"PAY_PER_REQUEST\" and read_capacity = 5. What happens?",
        ("Terraform ignores the capacity: on-demand tables have none.",
         "DynamoDB reserves 5 read units on top of on-demand.",
         "The AWS provider refuses the configuration at plan time, before any AWS call.",
         "The table is created as PROVISIONED because a capacity was given."),
        2,
        ("It does not ignore it: the provider checks the combination and stops.",
         "On-demand tables have no provisioned capacity at all.",
         "Right. The provider's plan-time check says read_capacity can not be set when billing_mode is "
         "PAY_PER_REQUEST; remove the two capacity lines (or set them to 0).",
         "billing_mode decides the mode; the capacity lines do not change it."),
    ), (
        "Which table encryption choice lets YOU decide, in a key policy, who can read the table's data?",
        ("The AWS owned key (the default).",
         "The AWS managed key aws/dynamodb.",
         "A customer managed key.",
         "All three: DynamoDB permissions decide who reads."),
        2,
        ("You cannot see or change the AWS owned key's policy; no KMS call is made in your name.",
         "You can see aws/dynamodb's key policy but not change it: it lets every principal of the account "
         "use the key through DynamoDB.",
         "Right. Only a customer managed key has a key policy you write, and every read needs kms:Decrypt "
         "allowed by it.",
         "With the AWS owned and AWS managed keys DynamoDB permissions are indeed all that matter; with a "
         "customer managed key they are only the first lock."),
    )],
    3: [(
        "lab-admin read the item back. Whose identity does the kms:Decrypt in the trail carry?",
        ("DynamoDB's own service identity.",
         "The account root user's.",
         "lab-admin's, the caller's.",
         "Nobody's: DynamoDB caches the plaintext key forever."),
        2,
        ("DynamoDB uses its own grant for GenerateDataKey and background work, but a read is decrypted in the "
         "caller's name.",
         "Root delegation lets IAM decide; it does not make calls act as root.",
         "Right. DynamoDB makes the call on the caller's behalf (invokedBy dynamodb.amazonaws.com): that is why "
         "the caller needs kms:Decrypt on the key, and why the trail names the caller.",
         "The cache lasts about five minutes per connection, then DynamoDB asks KMS again."),
    ), (
        "Which threat does encryption at rest with your own key protect against?",
        ("Someone with dynamodb:Scan and no permission on the key reading the data.",
         "A user with dynamodb:Scan and kms:Decrypt reading the data.",
         "Your application leaking the items it has read.",
         "An injection flaw in your application's code."),
        0,
        ("Right. Reading needs both locks; with your own key, the second one is yours to close.",
         "That user holds both locks: encryption does not stop a caller you authorized.",
         "Once decrypted, data is plaintext to the application; encryption at rest no longer applies.",
         "Application flaws act with the application's permissions; encryption at rest does not see them."),
    )],
    4: [(
        "dynamo_test_user has AmazonDynamoDBFullAccess. Why is the Scan refused?",
        ("AmazonDynamoDBFullAccess does not allow dynamodb:Scan.",
         "The key policy names only the account, and no IAM policy of the user allows kms:Decrypt.",
         "The key is disabled.",
         "Only the user who created a table can read it."),
        1,
        ("It does: dynamodb:* is in its first statement. The first lock opens.",
         "Right. The key policy delegates to IAM, and the user's only KMS permissions are kms:DescribeKey and "
         "kms:ListAliases: KMS refuses the Decrypt that DynamoDB makes on the user's behalf.",
         "The key is enabled; lab-admin reads the table fine.",
         "DynamoDB has no notion of a table owner; permissions decide."),
    ), (
        "In the playground, root delegation is OFF and the user has an IAM policy allowing kms:Decrypt. "
        "What happens?",
        ("The Scan is refused: without delegation in the key policy, IAM allows on the key do not count.",
         "The Scan works: an IAM allow is enough.",
         "The Scan works, but only for lab-admin.",
         "It depends on AmazonDynamoDBFullAccess."),
        0,
        ("Right. The key policy is mandatory: it must name the user, or name the account to hand the decision "
         "to IAM.",
         "For a KMS key, an IAM allow counts only if the key policy lets it.",
         "lab-admin is refused too: AdministratorAccess is an IAM policy as well.",
         "DynamoDB permission is only the first lock; the key's lock stays closed."),
    )],
    5: [(
        "You allowed kms:Decrypt with kms:ViaService = dynamodb.us-east-1.amazonaws.com. The user calls "
        "kms:Decrypt directly on a ciphertext made with the same key. What happens?",
        ("Allowed: the user has kms:Decrypt on the key.",
         "Allowed, because the key policy delegates to IAM.",
         "Denied, because the user has no dynamodb permission.",
         "Denied: the request does not come through DynamoDB, so the condition is false."),
        3,
        ("The permission holds only under its condition.",
         "Delegation lets IAM decide, and this IAM policy says: only through DynamoDB.",
         "The user does have DynamoDB permission; it is irrelevant to a direct KMS call.",
         "Right. kms:ViaService is set only when an AWS service makes the request on the caller's behalf."),
    ), (
        "You can give the user access to the key in an IAM policy or in the key policy. Who can change each?",
        ("Both need a KMS key administrator.",
         "IAM: anyone allowed to edit the user's IAM policies (if the key policy delegates to IAM). Key "
         "policy: only principals the key policy allows kms:PutKeyPolicy.",
         "Both need the account root user.",
         "Nobody can change them once applied."),
        1,
        ("IAM policies are changed with IAM permissions, not KMS ones.",
         "Right. That is why a key policy without root delegation separates IAM admins from data access "
         "(separation of duties), and why delegation is convenient but widens who can grant access.",
         "The root user can do both, but it is not the only one.",
         "Both are ordinary documents you can update (and the changes are logged)."),
    )],
    6: [(
        "You disable the key. A connection that read the table a minute ago reads it again. What happens?",
        ("Refused at once: disabling is immediate everywhere.",
         "It works until the table is archived, seven days later.",
         "It works forever: data already encrypted does not need the key.",
         "It can still work for up to about five minutes: DynamoDB reuses the table key it cached for that "
         "connection, then asks KMS again and is refused."),
        3,
        ("KMS refuses at once, but DynamoDB does not ask KMS on every request.",
         "Archival happens after seven days of an inaccessible key, but reads fail long before.",
         "Every read needs the table key, which only KMS can decrypt.",
         "Right. kmslab models this as 300 s per access key and table."),
    ), (
        "You cancel a scheduled key deletion. What state is the key in?",
        ("Enabled", "Disabled", "PendingDeletion", "Deleted"),
        1,
        ("Not yet: you must enable it yourself.",
         "Right. CancelKeyDeletion leaves the key Disabled; EnableKey makes it usable again.",
         "Cancelling ends PendingDeletion.",
         "A cancelled deletion never happens."),
    )],
}


# -- exercises ------------------------------------------------------------------------------------------

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
    _HINTS = (
        "Reading the table needs one KMS action: the kms:Decrypt that DynamoDB makes on the user's behalf. "
        "Allow only that action, and only on the table's key: Resource is the key's ARN (key_arn).",
        "Two condition keys narrow it down. kms:ViaService is \"dynamodb.us-east-1.amazonaws.com\" only when "
        "DynamoDB makes the request for the user; kms:EncryptionContext:aws:dynamodb:tableName carries the "
        "table's name. Put both under one \"StringEquals\".",
    )

    def __init__(self, lab: Lab, user: str = USER_NAME, table: str = TABLE_NAME) -> None:
        self.lab = lab
        self.user = user
        self.table = table
        self._hints_shown = 0

    # the learntools trio -----------------------------------------------------------------------------
    def hint(self, n: int | None = None) -> _Text:
        """The next hint (or hint ``n``)."""
        if n is None:
            self._hints_shown = min(self._hints_shown + 1, len(self._HINTS))
            n = self._hints_shown
        n = max(1, min(n, len(self._HINTS)))
        more = f" (there are {len(self._HINTS)}; call hint() again)" if n < len(self._HINTS) else ""
        return _Text(f"Hint {n}{more}:", self._HINTS[n - 1])

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


# -- the playground -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlaygroundSettings:
    """The five things that decide whether the user's Scan works."""

    dynamodb_permission: bool = True
    kms_in_iam: bool = False
    root_delegation: bool = True
    key_policy_for_user: bool = False
    key_enabled: bool = True

    LABELS = {
        "dynamodb_permission": "DynamoDB permission for the user (AmazonDynamoDBFullAccess attached)",
        "kms_in_iam": "KMS permission in IAM (a user policy allowing kms:Decrypt on the key)",
        "root_delegation": "Root delegation in the key policy (the account may use IAM to grant access)",
        "key_policy_for_user": "A key-policy statement for the user (kms:Decrypt through DynamoDB)",
        "key_enabled": "Key enabled",
    }

    def items(self) -> list[tuple[str, bool]]:
        return [(name, getattr(self, name)) for name in self.LABELS]

    def text(self) -> str:
        return "\n".join(f"  [{'✔' if on else ' '}] {'ON ' if on else 'OFF'}  {self.LABELS[name]}"
                         for name, on in self.items())


@dataclass(frozen=True)
class LockReport:
    """One lock, evaluated on its own (even when an earlier one already refused)."""

    name: str
    passed: bool
    summary: str

    def text(self) -> str:
        return f"  {'✔ open  ' if self.passed else '✘ closed'}  {self.name}: {self.summary}"


@dataclass(frozen=True)
class PlaygroundResult:
    """What one try of the playground did and saw."""

    settings: PlaygroundSettings
    changes: tuple[str, ...]
    allowed: bool
    item_count: int | None
    error_code: str | None
    error_message: str | None
    locks: tuple[LockReport, ...]
    explanation: Any  # the CallExplanation of the real Scan
    waited: bool = True

    @property
    def headline(self) -> str:
        if self.allowed:
            return f"✔ ALLOWED: the Scan returned {self.item_count} item(s)"
        return f"✘ REFUSED: {self.error_code}"

    def text(self) -> str:
        lines = [f"Scan of {TABLE_NAME} as {USER_NAME}: {self.headline}", "", "Settings:", self.settings.text()]
        lines += ["", "What changed in the lab (boto3 calls as lab-admin):"]
        lines += [f"  - {c}" for c in self.changes] or ["  - nothing"]
        if self.waited:
            lines.append("  - then 5 minutes of lab time passed, so DynamoDB asked KMS afresh")
        lines += ["", "The locks, each checked on its own:"] + [lock.text() for lock in self.locks]
        if self.error_message:
            lines += ["", "What AWS said:", f"  {self.error_message}"]
        if self.explanation is not None:
            lines += ["", "How the real call went, lock by lock:"]
            lines += [f"  {line}" for line in str(self.explanation).splitlines()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        e = html.escape
        settings = "".join(f"<li>{'✔ ON' if on else '✘ OFF'}: {e(PlaygroundSettings.LABELS[name])}</li>"
                           for name, on in self.settings.items())
        changes = "".join(f"<li>{e(c)}</li>" for c in self.changes) or "<li>nothing</li>"
        if self.waited:
            changes += "<li>then 5 minutes of lab time passed, so DynamoDB asked KMS afresh</li>"
        locks = "".join(f"<li><strong>{'✔ open' if lock.passed else '✘ closed'}: {e(lock.name)}</strong> — "
                        f"{e(lock.summary)}</li>" for lock in self.locks)
        said = f"<p>What AWS said: <code>{e(self.error_message)}</code></p>" if self.error_message else ""
        return (f"<div class='kmslab-playground-result' role='status'>"
                f"<p><strong>Scan of {e(TABLE_NAME)} as {e(USER_NAME)}: {e(self.headline)}</strong></p>"
                f"<p>Settings:</p><ul>{settings}</ul><p>What changed in the lab (boto3 calls as lab-admin):</p>"
                f"<ul>{changes}</ul><p>The locks, each checked on its own:</p><ul>{locks}</ul>{said}</div>")


class Playground(_Observable):
    """Toggle the five settings; see the user's real Scan and every lock.

    Changes are made through boto3 as ``lab-admin``: AttachUserPolicy/DetachUserPolicy,
    PutUserPolicy/DeleteUserPolicy, PutKeyPolicy, EnableKey/DisableKey. Every key policy the playground
    writes keeps a key-administrators statement for ``lab-admin`` (as the KMS console's default does), so
    that KMS's lockout safety check accepts it and the admin can always switch things back; that statement
    allows managing the key, not using it.
    """

    IAM_POLICY_NAME = "playground-kms-decrypt"
    USER_SID = "AllowTheTestUserThroughDynamoDB"
    ROOT_SID = "Enable IAM User Permissions"
    ADMIN_SID = "Allow access for Key Administrators"
    ADMIN_ACTIONS = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                     "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                     "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"]

    def __init__(self, lab: Lab, user: str = USER_NAME, table: str = TABLE_NAME) -> None:
        super().__init__()
        self.lab = lab
        self.user = user
        self.table = table
        self.key_arn = key_arn(lab)
        # moto's EnableKey/DisableKey accept only the key ID (AWS also takes the ARN)
        self.key_id = self.key_arn.rsplit("/", 1)[-1]
        self.user_arn = f"arn:aws:iam::{lab.account_id}:user/{user}"
        self.settings = self.read_settings()
        self.result: PlaygroundResult | None = None

    # reading the lab ---------------------------------------------------------------------------------
    def read_settings(self) -> PlaygroundSettings:
        """The settings as the lab holds them now (read through boto3 as lab-admin)."""
        iam = self.lab.client("iam")
        kms = self.lab.client("kms")
        attached = [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=self.user)["AttachedPolicies"]]
        inline = iam.list_user_policies(UserName=self.user)["PolicyNames"]
        policy = json.loads(kms.get_key_policy(KeyId=self.key_arn, PolicyName="default")["Policy"])
        statements = policy.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        root = f"arn:aws:iam::{self.lab.account_id}:root"

        def names(statement: dict[str, Any], who: str) -> bool:
            principal = statement.get("Principal")
            values = principal.get("AWS", []) if isinstance(principal, dict) else [principal]
            values = [values] if isinstance(values, str) else values
            return statement.get("Effect") == "Allow" and who in values

        state = kms.describe_key(KeyId=self.key_arn)["KeyMetadata"]["KeyState"]
        return PlaygroundSettings(
            dynamodb_permission=FULL_ACCESS_ARN in attached,
            kms_in_iam=self.IAM_POLICY_NAME in inline,
            root_delegation=any(names(s, root) or names(s, self.lab.account_id) for s in statements),
            key_policy_for_user=any(names(s, self.user_arn) for s in statements),
            key_enabled=state == "Enabled",
        )

    # changing the lab --------------------------------------------------------------------------------
    def key_policy(self, settings: PlaygroundSettings) -> dict[str, Any]:
        """The key policy the playground writes for ``settings``."""
        account = self.lab.account_id
        statements: list[dict[str, Any]] = []
        if settings.root_delegation:
            statements.append({"Sid": self.ROOT_SID, "Effect": "Allow",
                               "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                               "Action": "kms:*", "Resource": "*"})
        statements.append({"Sid": self.ADMIN_SID, "Effect": "Allow",
                           "Principal": {"AWS": f"arn:aws:iam::{account}:user/{ADMIN_USER}"},
                           "Action": list(self.ADMIN_ACTIONS), "Resource": "*"})
        if settings.key_policy_for_user:
            statements.append({"Sid": self.USER_SID, "Effect": "Allow", "Principal": {"AWS": self.user_arn},
                               "Action": "kms:Decrypt", "Resource": "*",
                               "Condition": {"StringEquals": {"kms:ViaService": VIA_DYNAMODB}}})
        return {"Version": "2012-10-17", "Id": "kmslab-playground", "Statement": statements}

    def iam_policy(self) -> dict[str, Any]:
        """The user policy the "KMS permission in IAM" setting puts on the user."""
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": self.key_arn}]}

    def _change(self, new: PlaygroundSettings) -> list[str]:
        old = self.read_settings()
        iam = self.lab.client("iam")
        kms = self.lab.client("kms")
        done = []
        if new.dynamodb_permission != old.dynamodb_permission:
            if new.dynamodb_permission:
                iam.attach_user_policy(UserName=self.user, PolicyArn=FULL_ACCESS_ARN)
                done.append(f"iam.attach_user_policy: AmazonDynamoDBFullAccess to {self.user}")
            else:
                iam.detach_user_policy(UserName=self.user, PolicyArn=FULL_ACCESS_ARN)
                done.append(f"iam.detach_user_policy: AmazonDynamoDBFullAccess from {self.user}")
        if new.kms_in_iam != old.kms_in_iam:
            if new.kms_in_iam:
                iam.put_user_policy(UserName=self.user, PolicyName=self.IAM_POLICY_NAME,
                                    PolicyDocument=json.dumps(self.iam_policy()))
                done.append(f"iam.put_user_policy: {self.IAM_POLICY_NAME} (kms:Decrypt on the key) on {self.user}")
            else:
                iam.delete_user_policy(UserName=self.user, PolicyName=self.IAM_POLICY_NAME)
                done.append(f"iam.delete_user_policy: {self.IAM_POLICY_NAME} from {self.user}")
        if (new.root_delegation, new.key_policy_for_user) != (old.root_delegation, old.key_policy_for_user):
            kms.put_key_policy(KeyId=self.key_arn, PolicyName="default",
                               Policy=json.dumps(self.key_policy(new)))
            parts = [("with" if new.root_delegation else "without") + " root delegation",
                     ("with" if new.key_policy_for_user else "without") + " a statement for the user",
                     "with the key-administrators statement for lab-admin"]
            done.append("kms.put_key_policy: " + ", ".join(parts))
        if new.key_enabled != old.key_enabled:
            if new.key_enabled:
                kms.enable_key(KeyId=self.key_id)
                done.append("kms.enable_key")
            else:
                kms.disable_key(KeyId=self.key_id)
                done.append("kms.disable_key")
        return done

    def apply(self, settings: PlaygroundSettings | None = None, **changes: bool) -> PlaygroundResult:
        """Make the lab match ``settings`` (or the current settings with ``changes``), then scan as the user."""
        unknown = set(changes) - set(PlaygroundSettings.LABELS)
        if unknown:
            raise TypeError(f"unknown setting(s) {', '.join(sorted(unknown))}: choose from "
                            f"{', '.join(PlaygroundSettings.LABELS)}")
        target = replace(settings or self.settings, **changes)
        done = self._change(target)
        self.settings = self.read_settings()
        self.lab.advance(minutes=5)
        self.result = self._scan(tuple(done))
        self._notify(self.result)
        return self.result

    def set(self, **changes: bool) -> PlaygroundResult:
        """Change some settings and try again: ``playground.set(root_delegation=False)``."""
        return self.apply(None, **changes)

    # observing the outcome ---------------------------------------------------------------------------
    def locks(self) -> tuple[LockReport, ...]:
        """Each lock evaluated on its own, with the policies in force now."""
        dynamodb = self.lab.explain(self.user, "dynamodb:Scan", self.table)
        kms_decision = self.lab.explain(self.user, "kms:Decrypt", self.key_arn,
                                        context=dynamodb_context(self.table, self.lab.account_id,
                                                                 self.lab.region))
        state = self.lab.client("kms").describe_key(KeyId=self.key_arn)["KeyMetadata"]["KeyState"]
        return (
            LockReport("DynamoDB permission (dynamodb:Scan on the table)", dynamodb.allowed,
                       _decision_line(dynamodb)),
            LockReport("KMS key permission (kms:Decrypt that DynamoDB makes for the user)", kms_decision.allowed,
                       _decision_line(kms_decision)),
            LockReport("Key state", state == "Enabled",
                       f"the key is {state}" + ("" if state == "Enabled" else
                                                "; KMS refuses every cryptographic operation")),
        )

    def _scan(self, changes: tuple[str, ...]) -> PlaygroundResult:
        client = self.lab.session_for(self.user).client("dynamodb")
        count = code = message = None
        try:
            count = client.scan(TableName=self.table)["Count"]
        except ClientError as error:
            code = error.response["Error"]["Code"]
            message = error.response["Error"]["Message"]
        scans = self.lab.trail.filter(event="Scan", user=self.user)
        explanation = self.lab.explanation(scans[-1]["eventID"]) if len(scans) else None
        return PlaygroundResult(self.settings, changes, code is None, count, code, message, self.locks(),
                                explanation)

    # renderings --------------------------------------------------------------------------------------
    def text(self) -> str:
        lines = [f"Playground: can {self.user} scan {self.table}?", "Settings now:", self.settings.text()]
        if self.result is None:
            lines.append("(No try yet: change a setting and press \"Apply and scan\", or call .set(...).)")
        else:
            lines += ["", "Last try:", self.result.headline]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def widget(self) -> Any:
        """The interactive view: five checkboxes, an "Apply and scan" button, the outcome."""
        from .views import PlaygroundView
        return PlaygroundView(self)


def _decision_line(decision: Any) -> str:
    if decision.allowed:
        sources = [m.source for m in getattr(decision, "matched", ()) if getattr(m, "effect", "Allow") == "Allow"]
        locks = [f"{lock.name} {lock.state}" for lock in getattr(decision, "locks", ()) if lock.state != "not used"]
        text = f"allowed by {'; '.join(sources)}" if sources else "allowed"
        return text + (f" ({', '.join(locks)})" if locks else "")
    locks = [f"{lock.name} {lock.state}" for lock in getattr(decision, "locks", ()) if lock.state != "not used"]
    return f"{decision.reason}" + (f" ({', '.join(locks)})" if locks else "")


# -- the environment check of notebook 00 ---------------------------------------------------------------

@dataclass(frozen=True)
class EnvironmentReport:
    lines: tuple[tuple[bool, str], ...]

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.lines)

    def __str__(self) -> str:
        body = "\n".join(f"{'✔' if ok else '✘'} {text}" for ok, text in self.lines)
        tail = "Everything is ready." if self.ok else "Something is missing: see the ✘ lines."
        return f"{body}\n{tail}"

    def __repr__(self) -> str:
        return str(self)


def check_environment(lab: Lab | None = None) -> EnvironmentReport:
    """What the workbook needs, checked without printing versions (they differ between machines)."""
    lines: list[tuple[bool, str]] = [(sys.version_info >= (3, 10), "Python 3.10 or newer")]

    def has(module: str, label: str, major: str | None = None) -> None:
        try:
            imported = __import__(module)
        except ImportError:
            lines.append((False, f"{label} is not installed"))
            return
        version = str(getattr(imported, "__version__", ""))
        ok = major is None or version.split(".")[0] == major
        lines.append((ok, f"{label}" + (f" {major}" if major else "") + (" importable" if ok else
                                                                           f" (found {version})")))

    has("boto3", "boto3")
    has("moto", "moto (the in-process AWS emulator)")
    has("hcl2", "python-hcl2 (reads the .tf files)")
    has("ipywidgets", "ipywidgets", "8")
    lines.append(((Path(TERRAFORM_DIR) / "kms.tf").is_file(), f"the bundled Terraform folder ({Path(TERRAFORM_DIR).as_posix()})"))
    if lab is not None:
        lines.append((lab.target == "offline", f"an {lab.target} lab: account {lab.account_id}, region {lab.region}"))
        try:
            arn = lab.client("sts").get_caller_identity()["Arn"]
            lines.append((arn.endswith(f":user/{ADMIN_USER}"), f"you act as {arn}"))
        except ClientError as error:  # pragma: no cover - only on a broken install
            lines.append((False, f"sts:GetCallerIdentity failed: {error}"))
    return EnvironmentReport(tuple(lines))

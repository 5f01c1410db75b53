"""State that survives faults: an apply or destroy cut short after any AWS call converges on the next run.

Terraform's rules followed here: a resource is recorded in the state once the provider has it from
AWS, and a create that did not finish leaves it *tainted* (replaced by the next apply); the provider
treats "not found" on read and on delete as "gone" (``tfresource.NotFound``); ``plan``/``apply``/
``destroy`` refresh the state first; one working directory keeps one state.
"""

from __future__ import annotations

import _tf_helpers
import pytest
from _tf_helpers import BUNDLED, Lines, write_config
from botocore.exceptions import ClientError

from kmslab import ApplyError
from kmslab._terraform import Stack, State

_moto_for_module = _tf_helpers._moto_for_module
aws_session = _tf_helpers.aws_session

TABLE = "my-encrypted-table"
USER = "dynamo_test_user"


class Fault:
    """A botocore ``after-call`` handler that raises after the n-th AWS call that succeeded.

    It runs after botocore has parsed AWS's answer: the change is made in AWS, the caller never sees
    the reply (as with a KeyboardInterrupt at that moment)."""

    def __init__(self, after: int, error: BaseException) -> None:
        self.after = after
        self.error = error
        self.calls = 0
        self.operations: list[str] = []

    def __call__(self, http_response, parsed, model, **_):
        if http_response.status_code >= 300:
            return
        self.calls += 1
        self.operations.append(model.name)
        if self.calls == self.after:
            raise self.error


def _install(session, fault):
    session.events.register("after-call", fault)
    return lambda: session.events.unregister("after-call", fault)


def _world(session) -> dict[str, int]:
    """How many of each bundled resource exist (keys pending deletion do not count: they are going)."""
    kms = session.client("kms")
    live_keys = [k for k in kms.list_keys()["Keys"]
                 if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"]
    iam = session.client("iam")
    users = [u["UserName"] for u in iam.list_users()["Users"]]
    access_keys = sum(len(iam.list_access_keys(UserName=u)["AccessKeyMetadata"]) for u in users)
    attached = sum(len(iam.list_attached_user_policies(UserName=u)["AttachedPolicies"]) for u in users)
    return {"keys": len(live_keys), "tables": len(session.client("dynamodb").list_tables()["TableNames"]),
            "users": len(users), "access_keys": access_keys, "attachments": attached}


ONE_OF_EACH = {"keys": 1, "tables": 1, "users": 1, "access_keys": 1, "attachments": 1}


def _calls_of_clean_apply(session) -> int:
    counter = Fault(after=0, error=RuntimeError())
    remove = _install(session, counter)
    try:
        Stack(BUNDLED, session=session, out=Lines()).apply()
    finally:
        remove()
    _tf_helpers._empty(session)
    return counter.calls


def test_apply_interrupted_after_every_aws_call_converges_to_one_of_each(aws_session):
    """Terraform: a resource AWS created is in the state even if the create did not finish (tainted);
    the next apply replaces what is tainted and creates what is missing, never a second copy."""
    total = _calls_of_clean_apply(aws_session)
    assert total >= 6  # key (+ its default policy read), table, user, attachment, access key
    seen: list[str] = []
    for step in range(1, total + 1):
        _tf_helpers._empty(aws_session)
        error: BaseException = KeyboardInterrupt() if step % 2 else RuntimeError("power cut")
        fault = Fault(after=step, error=error)
        state = State()
        remove = _install(aws_session, fault)
        try:
            with pytest.raises(type(error)):
                Stack(BUNDLED, session=aws_session, out=Lines(), state=state).apply()
        finally:
            remove()
        seen.append(fault.operations[-1])
        recorded = set(state.resources)
        again = Stack(BUNDLED, session=aws_session, out=Lines(), state=state)
        again.apply()  # converges: no EntityAlreadyExists, no ResourceInUseException
        assert _world(aws_session) == ONE_OF_EACH, (step, fault.operations[-1])
        assert set(state.resources) == {"aws_kms_key.dynamodb_key", "aws_dynamodb_table.encrypted_table",
                                        "aws_iam_user.dynamo_test_user",
                                        "aws_iam_user_policy_attachment.dynamo_full_access",
                                        "aws_iam_access_key.dynamo_test_user"}
        assert not any(e.get("status") == "tainted" for e in state.resources.values())
        assert recorded <= set(state.resources)
        assert again.plan().summary == "No changes. Your infrastructure matches the configuration."
    for creating in ("CreateKey", "CreateTable", "CreateUser", "AttachUserPolicy", "CreateAccessKey"):
        assert creating in seen  # the fault landed right after each creating call at least once


def test_create_cut_short_after_aws_answered_is_recorded_tainted(aws_session, tmp_path):
    """Terraform marks a resource whose create failed half-way as tainted, and plans to replace it."""
    config = write_config(tmp_path / "cfg", 'resource "aws_kms_key" "k" {\n  description = "k"\n}\n')
    state = State(tmp_path / "state.json")
    fault = Fault(after=1, error=KeyboardInterrupt())
    remove = _install(aws_session, fault)
    try:
        with pytest.raises(KeyboardInterrupt):
            Stack(config, session=aws_session, out=Lines(), state=state).apply()
    finally:
        remove()
    assert fault.operations == ["CreateKey"]
    entry = State(tmp_path / "state.json").resources["aws_kms_key.k"]  # written to the file at once
    assert entry["status"] == "tainted"
    assert entry["attributes"]["key_id"] == aws_session.client("kms").list_keys()["Keys"][0]["KeyId"]
    plan = Stack(config, session=aws_session, out=Lines(), state=state).plan()
    assert plan.changes == [("aws_kms_key.k", "replace")]


def test_destroy_after_manual_deletion_converges(aws_session):
    """The provider's delete treats "not found" as already gone; the refresh before destroy forgets
    what AWS no longer has, so destroy neither aborts nor leaves anything behind."""
    state = State()
    Stack(BUNDLED, session=aws_session, out=Lines(), state=state).apply()
    iam = aws_session.client("iam")
    key_id = state.resources["aws_iam_access_key.dynamo_test_user"]["attributes"]["id"]
    iam.delete_access_key(UserName=USER, AccessKeyId=key_id)
    aws_session.client("dynamodb").delete_table(TableName=TABLE)
    out = Lines()
    Stack(BUNDLED, session=aws_session, out=out, state=state).destroy()
    assert "Destroy complete! Resources: 3 destroyed." in out.lines
    assert f"aws_dynamodb_table.encrypted_table: Refreshing state... [id={TABLE}]" in out.lines
    assert state.resources == {}
    assert _world(aws_session) == {"keys": 0, "tables": 0, "users": 0, "access_keys": 0, "attachments": 0}


def test_delete_of_a_resource_already_gone_is_not_an_error(aws_session, tmp_path):
    """Provider: a delete answered NotFound/NoSuchEntity/ResourceNotFound is a success (the resource is gone)."""
    state = State()
    Stack(BUNDLED, session=aws_session, out=Lines(), state=state).apply()
    stack = Stack(BUNDLED, session=aws_session, out=Lines(), state=state)
    aws_session.client("dynamodb").delete_table(TableName=TABLE)
    stack._delete("aws_dynamodb_table.encrypted_table")  # no refresh in between: the delete itself is told
    assert "aws_dynamodb_table.encrypted_table" not in state.resources


def test_destroy_interrupted_after_every_aws_call_converges_to_nothing(aws_session):
    """An interrupted destroy leaves in the state what may still exist; the next destroy finishes."""
    _tf_helpers._empty(aws_session)
    state = State()
    Stack(BUNDLED, session=aws_session, out=Lines(), state=state).apply()
    counter = Fault(after=0, error=RuntimeError())
    remove = _install(aws_session, counter)
    try:
        Stack(BUNDLED, session=aws_session, out=Lines(), state=state).destroy()
    finally:
        remove()
    total = counter.calls
    for step in range(1, total + 1):
        _tf_helpers._empty(aws_session)
        state = State()
        Stack(BUNDLED, session=aws_session, out=Lines(), state=state).apply()
        fault = Fault(after=step, error=KeyboardInterrupt())
        remove = _install(aws_session, fault)
        try:
            with pytest.raises(KeyboardInterrupt):
                Stack(BUNDLED, session=aws_session, out=Lines(), state=state).destroy()
        finally:
            remove()
        Stack(BUNDLED, session=aws_session, out=Lines(), state=state).destroy()
        assert state.resources == {}, step
        assert _world(aws_session) == {"keys": 0, "tables": 0, "users": 0, "access_keys": 0, "attachments": 0}


def test_stale_state_is_refreshed_before_planning(aws_session):
    """Terraform refreshes before planning: a table deleted outside Terraform is planned for creation,
    with the "Objects have changed outside of Terraform" note; the plan itself writes no state."""
    state = State()
    Stack(BUNDLED, session=aws_session, out=Lines(), state=state).apply()
    aws_session.client("dynamodb").delete_table(TableName=TABLE)
    plan = Stack(BUNDLED, session=aws_session, out=Lines(), state=state).plan()
    assert plan.changes.count(("aws_dynamodb_table.encrypted_table", "create")) == 1
    assert plan.summary == "Plan: 1 to add, 0 to change, 0 to destroy."
    text = str(plan)
    assert text.startswith("Note: Objects have changed outside of Terraform")
    assert "  # aws_dynamodb_table.encrypted_table has been deleted" in text
    assert "aws_dynamodb_table.encrypted_table" in state.resources  # plan did not write the state
    out = Lines()
    Stack(BUNDLED, session=aws_session, out=out, state=state).apply()
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in out.lines
    assert _world(aws_session) == ONE_OF_EACH


def test_key_pending_deletion_counts_as_gone(aws_session, tmp_path):
    """Provider's FindKeyByID: a key in PendingDeletion is "not found", so the next plan creates a new one."""
    config = write_config(tmp_path / "cfg", 'resource "aws_kms_key" "k" {\n  description = "k"\n}\n')
    state = State()
    Stack(config, session=aws_session, out=Lines(), state=state).apply()
    key_id = state.resources["aws_kms_key.k"]["attributes"]["key_id"]
    aws_session.client("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert Stack(config, session=aws_session, out=Lines(), state=state).plan().changes == [("aws_kms_key.k", "create")]


def test_refresh_that_aws_refuses_is_an_apply_error(aws_session, tmp_path):
    """A read that fails for another reason than "not found" stops the run (Terraform: Error: reading ...)."""
    config = write_config(tmp_path / "cfg", 'resource "aws_kms_key" "k" {\n  description = "k"\n}\n')
    state = State()
    Stack(config, session=aws_session, out=Lines(), state=state).apply()

    def deny(**_):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "DescribeKey")

    aws_session.events.register("before-call.kms.DescribeKey", deny)
    try:
        with pytest.raises(ApplyError, match=r"^Error: reading aws_kms_key.k \(DescribeKey\): "
                                             "AccessDeniedException: not allowed"):
            Stack(config, session=aws_session, out=Lines(), state=state).plan()
    finally:
        aws_session.events.unregister("before-call.kms.DescribeKey", deny)
    assert "aws_kms_key.k" in state.resources


def test_readme_pattern_twice_then_destroy_on_a_new_stack():
    """One state per configuration folder and lab, as one working directory keeps one terraform.tfstate:
    the README's ``lab.terraform("terraform").apply()`` runs twice without EntityAlreadyExists, and
    ``destroy()`` on a new Stack destroys what exists."""
    from kmslab import Lab

    with Lab(quiet=True) as lab:
        first = lab.terraform(BUNDLED).apply()
        out = Lines()
        second = lab.terraform(BUNDLED, out=out).apply()
        assert second == first
        assert "No changes. Your infrastructure matches the configuration." in out.lines
        out = Lines()
        lab.terraform(BUNDLED, out=out).destroy()
        assert "Destroy complete! Resources: 5 destroyed." in out.lines
        assert lab.session.client("dynamodb").list_tables()["TableNames"] == []
        assert lab.terraform(BUNDLED).state == {}


def test_the_journal_of_answers_stays_empty_between_creates(aws_session):
    """The journal that makes faults survivable holds answers only while a create runs (no growth)."""
    state = State()
    stack = Stack(BUNDLED, session=aws_session, out=Lines(), state=state)
    stack.apply()
    Stack(BUNDLED, session=aws_session, out=Lines(), state=state).apply()  # refresh reads
    assert stack._aws.journal == [] and not stack._aws.recording

"""The workbook layer: the world of every step, quizzes, the least-privilege exercise, the playground."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from kmslab import workbook
from kmslab.workbook import (
    FULL_ACCESS_ARN,
    TABLE_NAME,
    TEST_ITEM,
    USER_NAME,
    LeastPrivilegeExercise,
    Playground,
    PlaygroundSettings,
    Quiz,
    ____,
    key_arn,
    least_privilege_policy,
    quiz,
    start,
)
from kmslab.workbook.texts import texts

# -- start(step) ---------------------------------------------------------------------------------------


def _world(lab) -> dict:
    """What exists in a lab, read through boto3 as lab-admin."""
    kms, ddb, iam = (lab.session.client(name) for name in ("kms", "dynamodb", "iam"))
    keys = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    customer_keys = [k for k in keys if k["KeyManager"] == "CUSTOMER"]
    tables = ddb.list_tables()["TableNames"]
    users = sorted(u["UserName"] for u in iam.list_users()["Users"])
    world = {"keys": len(customer_keys), "tables": tables, "users": users, "items": None,
             "user_policies": None, "attached": None}
    if TABLE_NAME in tables:
        world["items"] = ddb.scan(TableName=TABLE_NAME)["Count"]
    if USER_NAME in users:
        world["user_policies"] = iam.list_user_policies(UserName=USER_NAME)["PolicyNames"]
        world["attached"] = [p["PolicyArn"] for p in
                             iam.list_attached_user_policies(UserName=USER_NAME)["AttachedPolicies"]]
    return world


EXPECTED = {
    0: {"keys": 0, "tables": [], "users": ["lab-admin"], "items": None, "user_policies": None, "attached": None},
    1: {"keys": 0, "tables": [], "users": ["lab-admin"], "items": None, "user_policies": None, "attached": None},
    2: {"keys": 1, "tables": [], "users": ["lab-admin"], "items": None, "user_policies": None, "attached": None},
    3: {"keys": 1, "tables": [TABLE_NAME], "users": ["lab-admin"], "items": 0, "user_policies": None,
        "attached": None},
    4: {"keys": 1, "tables": [TABLE_NAME], "users": ["lab-admin"], "items": 1, "user_policies": None,
        "attached": None},
    5: {"keys": 1, "tables": [TABLE_NAME], "users": [USER_NAME, "lab-admin"], "items": 1, "user_policies": [],
        "attached": [FULL_ACCESS_ARN]},
    6: {"keys": 1, "tables": [TABLE_NAME], "users": [USER_NAME, "lab-admin"], "items": 1,
        "user_policies": ["read-through-dynamodb"], "attached": [FULL_ACCESS_ARN]},
    7: {"keys": 1, "tables": [TABLE_NAME], "users": [USER_NAME, "lab-admin"], "items": 1,
        "user_policies": ["read-through-dynamodb"], "attached": [FULL_ACCESS_ARN]},
    8: {"keys": 1, "tables": [TABLE_NAME], "users": [USER_NAME, "lab-admin"], "items": 1, "user_policies": [],
        "attached": [FULL_ACCESS_ARN]},
    9: {"keys": 1, "tables": [TABLE_NAME], "users": [USER_NAME, "lab-admin"], "items": 1, "user_policies": [],
        "attached": [FULL_ACCESS_ARN]},
    10: {"keys": 1, "tables": [TABLE_NAME], "users": [USER_NAME, "lab-admin"], "items": 1, "user_policies": [],
         "attached": [FULL_ACCESS_ARN]},
    11: {"keys": 1, "tables": [TABLE_NAME], "users": [USER_NAME, "lab-admin"], "items": 1, "user_policies": [],
         "attached": [FULL_ACCESS_ARN]},
}


@pytest.mark.parametrize("step", sorted(workbook.STEPS))
def test_start_builds_the_world_of_each_step(step):
    lab = start(step)
    try:
        assert _world(lab) == EXPECTED[step]
    finally:
        lab.close()


def test_every_step_is_in_the_table():
    assert sorted(EXPECTED) == sorted(workbook.STEPS)
    for number, step in workbook.STEPS.items():
        assert step.notebook.startswith(f"{number:02d}_")


def test_start_is_deterministic_and_quiet(capsys):
    with start(6) as first:
        first_arn, first_trail = key_arn(first), [(r["eventName"], r["eventTime"]) for r in first.trail]
    with start(6) as second:
        assert key_arn(second) == first_arn
        assert [(r["eventName"], r["eventTime"]) for r in second.trail] == first_trail
    assert capsys.readouterr().out == ""


def test_the_test_item_is_stored_and_readable_by_the_admin():
    with start(4) as lab:
        item = lab.session.client("dynamodb").get_item(TableName=TABLE_NAME, Key={"id": TEST_ITEM["id"]})["Item"]
        assert item == TEST_ITEM


def test_the_user_is_denied_from_step_5_and_allowed_from_step_6():
    with start(5) as lab:
        with pytest.raises(ClientError) as excinfo:
            lab.session_for(USER_NAME).client("dynamodb").scan(TableName=TABLE_NAME)
        assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"
    with start(6) as lab:
        assert lab.session_for(USER_NAME).client("dynamodb").scan(TableName=TABLE_NAME)["Count"] == 1


def test_stack_state_knows_what_the_replay_applied(capsys):
    with start(2) as lab:
        tf = workbook.stack(lab)
        assert workbook.stack(lab) is tf
        assert set(tf.state) == {workbook.KEY_ADDRESS}
        plan = tf.plan(target=workbook.TABLE_ADDRESS)
        assert "aws_dynamodb_table.encrypted_table will be created" in str(plan)
        assert "aws_kms_key.dynamodb_key will be created" not in str(plan)
    with start(5) as lab:
        assert "No changes" in str(workbook.stack(lab).plan())
        assert workbook.stack(lab).outputs["dynamodb_table_name"] == TABLE_NAME
    with start(3) as lab:
        capsys.readouterr()
        workbook.stack(lab).apply()
        assert "Apply complete" in capsys.readouterr().out  # after the replay, the stack speaks


def test_start_refuses_real_aws(monkeypatch):
    from kmslab import LabError
    with pytest.raises(LabError, match="simulated lab"):
        start(1, target="aws")
    monkeypatch.setenv("KMSLAB_TARGET", "aws")
    with pytest.raises(LabError, match="Unset KMSLAB_TARGET"):
        start(1)


def test_start_on_the_emulator_target():
    with start(4, target="emulator") as lab:
        assert lab.target == "emulator"
        assert _world(lab) == EXPECTED[4]


def test_start_refuses_an_unknown_step():
    with pytest.raises(ValueError, match="there is no step 99"):
        start(99)


def test_terraform_dir_is_found():
    assert (workbook.TERRAFORM_DIR / "kms.tf").is_file()
    assert "/tmp/" not in str(workbook.TERRAFORM_DIR)


def test_environment_check_passes_here():
    with start(0) as lab:
        report = workbook.check_environment(lab)
    assert report.ok, str(report)
    assert "✘" not in str(report)
    assert "Everything is ready." in str(report)


# -- quizzes -------------------------------------------------------------------------------------------

@pytest.fixture
def two_by_two():
    return Quiz("2 + 2?", ["3", "4", "5"], answer=1, explanations=["One short.", "Yes, four.", "One over."])


@pytest.mark.parametrize("choice", ["B", "b", "B.", " B ", "4", "B. 4"])
def test_quiz_accepts_the_answer_in_any_form(two_by_two, choice):
    feedback = two_by_two.check(choice)
    assert feedback.correct is True
    assert str(feedback) == "✔ Correct (B). Yes, four."


def test_quiz_explains_a_wrong_answer(two_by_two):
    feedback = two_by_two.check("C")
    assert feedback.correct is False
    assert str(feedback) == "✘ Not quite (C). One over."
    assert "✘ Not quite (C)" in feedback._repr_html_()


@pytest.mark.parametrize("choice, expected", [(None, "Choose one of A, B, C."),
                                              ("Z", "'Z' is not one of the options"),
                                              (7, "7 is a number; answer with the option's letter, one of A, B, C."),
                                              (True, "True is not one of the options")])
def test_quiz_without_a_valid_answer_says_so(two_by_two, choice, expected):
    feedback = two_by_two.check(choice)
    assert feedback.correct is None
    assert expected in str(feedback)


@pytest.mark.parametrize("number, letter", [(1, "A"), (2, "B"), (3, "C")])
def test_quiz_refuses_a_number_and_says_its_letter_counting_from_1(two_by_two, number, letter):
    """check(2) could mean the second option or index 2: it is refused, never marked right or wrong."""
    feedback = two_by_two.check(number)
    assert feedback.correct is None
    assert feedback.text == (f"{number} is a number; answer with the option's letter, one of "
                             f'A, B, C. If you counted from 1, option {number} is "{letter}": '
                             f'quiz.check("{letter}").')
    assert str(feedback).startswith("… No answer yet. ")
    assert two_by_two.check(0).correct is None and "If you counted" not in str(two_by_two.check(0))


def test_quiz_tells_its_observers(two_by_two):
    seen = []
    two_by_two.observe(seen.append)
    two_by_two.check("A")
    assert [f.choice for f in seen] == ["A"]
    assert two_by_two.last is seen[0]


def test_quiz_text_form(two_by_two):
    assert repr(two_by_two) == ('Quiz: 2 + 2?\n  A. 3\n  B. 4\n  C. 5\n'
                                '  (Answer with the buttons, or in code: quiz.check("A"))')
    assert 'quiz(4, 2).check("A")' in repr(quiz(4, 2))
    assert "<li>B. 4</li>" in two_by_two._repr_html_()


def test_quiz_refuses_a_bad_definition():
    with pytest.raises(ValueError, match="one explanation per option"):
        Quiz("?", ["a", "b"], 0, ["only one"])
    with pytest.raises(ValueError, match="not one of the options"):
        Quiz("?", ["a", "b"], 5, ["x", "y"])


NOTEBOOK_QUIZZES = [(s, n) for s in sorted(workbook.STEPS)
                    for n in range(1, len(texts(s).get("quiz", [])) + 1)]


@pytest.mark.parametrize("step, number", NOTEBOOK_QUIZZES)
def test_every_notebook_quiz_is_well_formed(step, number):
    q = quiz(step, number)
    assert q.check(q.letter(q.answer)).correct
    for index in range(len(q.options)):
        assert q.explanations[index].strip(), f"option {q.letter(index)} is not explained"
        if index != q.answer:
            feedback = q.check(q.letter(index))
            assert feedback.correct is False
            assert not feedback.text.startswith("Right"), "a wrong option explained as right"
    assert quiz(step, number).last is None  # a fresh quiz each time


@pytest.mark.parametrize("step, number", NOTEBOOK_QUIZZES)
def test_the_right_option_is_not_given_away_by_its_length(step, number):
    q = quiz(step, number)
    right = len(q.options[q.answer])
    assert any(len(option) >= right for i, option in enumerate(q.options) if i != q.answer), q.options


def test_options_are_shuffled_deterministically_and_the_answer_follows():
    positions = []
    for step, number in NOTEBOOK_QUIZZES:
        entry = texts(step)["quiz"][number - 1]
        written = [o["text"] for o in entry["option"]]
        q, again = quiz(step, number), quiz(step, number)
        assert q.options == again.options  # the same order every run: stored notebooks stay identical
        assert sorted(q.options) == sorted(written)
        assert q.options[q.answer] == written["ABCDEFGH".index(entry["answer"])]
        positions.append(q.letter(q.answer))
    counts = {letter: positions.count(letter) for letter in "ABCD"}
    assert max(counts.values()) - min(counts.values()) <= 2, counts  # no letter is the usual answer


def test_missing_quiz():
    with pytest.raises(LookupError, match="notebook 00 has no quiz 1"):
        quiz(0)


# -- the least-privilege exercise ------------------------------------------------------------------------

@pytest.fixture
def exercise():
    with start(5) as lab:
        yield LeastPrivilegeExercise(lab)


def _statement(**fields) -> dict:
    return {"Version": "2012-10-17", "Statement": [dict({"Effect": "Allow"}, **fields)]}


BOTH_CONDITIONS = {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com",
                                    "kms:EncryptionContext:aws:dynamodb:tableName": TABLE_NAME}}

WRONG_ANSWERS = {
    "every key": (lambda key: _statement(Action="kms:*", Resource="*"), 'allows Resource "*"'),
    "every key by ARN wildcard": (
        lambda key: _statement(Action="kms:Decrypt", Resource="arn:aws:kms:us-east-1:123456789012:key/*",
                               Condition=BOTH_CONDITIONS), "covers every KMS key"),
    "no conditions": (lambda key: _statement(Action="kms:Decrypt", Resource=key),
                      "could also call kms:Decrypt directly"),
    "only ViaService": (
        lambda key: _statement(Action="kms:Decrypt", Resource=key,
                               Condition={"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}),
        "any table protected by this key"),
    "wrong ViaService value": (
        lambda key: _statement(Action="kms:Decrypt", Resource=key, Condition={"StringEquals": {
            "kms:ViaService": "dynamodb.amazonaws.com",
            "kms:EncryptionContext:aws:dynamodb:tableName": TABLE_NAME}}),
        "has no region"),
    "wrong action": (lambda key: _statement(Action="kms:Encrypt", Resource=key, Condition=BOTH_CONDITIONS),
                     "no statement's Action covers"),
    "every action": (lambda key: _statement(Action="kms:*", Resource=key, Condition=BOTH_CONDITIONS),
                     "also allows kms:Encrypt"),
    "deny": (lambda key: _statement(Effect="Deny", Action="kms:Decrypt", Resource=key), "explicit deny"),
    "lower-case effect": (lambda key: _statement(Effect="allow", Action="kms:Decrypt", Resource=key),
                          '"Effect" must be "Allow" or "Deny"'),
    "no version": (lambda key: {"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key}]},
                   '"Version": "2012-10-17"'),
    "no statement": (lambda key: {"Version": "2012-10-17"}, '"Statement"'),
    "no action": (lambda key: _statement(Resource=key), "IAM refused the document: MalformedPolicyDocument"),
    "bad JSON text": (lambda key: "{'Version': '2012-10-17'}", "not valid JSON"),
    "a list": (lambda key: [key], "got a list"),
}


@pytest.mark.parametrize("case", sorted(WRONG_ANSWERS))
def test_exercise_rejects_wrong_answers_with_a_useful_message(exercise, case):
    make, expected = WRONG_ANSWERS[case]
    result = exercise.check(make(key_arn(exercise.lab)))
    assert result.status == "incorrect"
    assert expected in result.message, result.message
    assert str(result).startswith("✘ Incorrect: ")
    iam = exercise.lab.session.client("iam")
    assert iam.list_user_policies(UserName=USER_NAME)["PolicyNames"] == []  # a wrong answer leaves nothing


@pytest.mark.parametrize("answer", [None, ____, _statement(Action=____, Resource="x"),
                                    _statement(Action="kms:Decrypt", Resource=...)])
def test_exercise_not_attempted(exercise, answer):
    result = exercise.check(answer)
    assert result.status == "not attempted"
    assert str(result).startswith("… Not attempted: ")


def test_exercise_accepts_the_solution_and_keeps_it(exercise):
    result = exercise.check(exercise.solution_policy)
    assert result.status == "correct", result.message
    assert bool(result)
    iam = exercise.lab.session.client("iam")
    assert iam.list_user_policies(UserName=USER_NAME)["PolicyNames"] == ["read-through-dynamodb"]
    assert exercise.lab.session_for(USER_NAME).client("dynamodb").scan(TableName=TABLE_NAME)["Count"] == 1


def test_a_wrong_answer_after_a_correct_one_keeps_the_correct_one(exercise):
    assert exercise.check(exercise.solution_policy).correct
    wrong = _statement(Action="kms:Decrypt", Resource=key_arn(exercise.lab))
    assert exercise.check(wrong).status == "incorrect"
    iam = exercise.lab.session.client("iam")
    kept = iam.get_user_policy(UserName=USER_NAME, PolicyName="read-through-dynamodb")["PolicyDocument"]
    assert kept == exercise.solution_policy
    exercise.lab.advance(minutes=5)
    assert exercise.lab.session_for(USER_NAME).client("dynamodb").scan(TableName=TABLE_NAME)["Count"] == 1


def test_exercise_accepts_the_solution_as_json_text_and_with_stringlike(exercise):
    policy = least_privilege_policy(key_arn(exercise.lab))
    policy["Statement"][0]["Condition"] = {
        "StringLike": {"kms:ViaService": "dynamodb.*.amazonaws.com"},
        "StringEquals": {"kms:EncryptionContext:aws:dynamodb:tableName": TABLE_NAME}}
    assert exercise.check(json.dumps(policy)).correct


def test_exercise_never_raises(exercise):
    class Weird(dict):
        def get(self, *args):
            raise RuntimeError("boom")
    result = exercise.check(Weird(Version="2012-10-17"))
    assert result.status == "incorrect"
    assert "could not read this answer as a policy document" in result.message
    assert "boom" not in result.message and "RuntimeError" not in result.message


def test_exercise_hints_and_solution(exercise):
    assert str(exercise.hint()).startswith("Hint 1 (there are 2; call hint() again):")
    assert str(exercise.hint()).startswith("Hint 2:")
    assert str(exercise.hint()).startswith("Hint 2:")
    assert str(exercise.hint(1)).startswith("Hint 1")
    solution = str(exercise.solution())
    assert '"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"' in solution
    assert key_arn(exercise.lab) in solution


# -- the playground --------------------------------------------------------------------------------------

@pytest.fixture
def playground():
    with start(5) as lab:
        yield Playground(lab)


def test_playground_reads_the_seed_world(playground):
    assert playground.settings == PlaygroundSettings(dynamodb_permission=True, kms_in_iam=False,
                                                     root_delegation=True, key_policy_for_user=False,
                                                     key_enabled=True)
    result = playground.apply()
    assert not result.allowed and result.error_code == "AccessDeniedException"
    assert result.changes == ()
    assert [lock.passed for lock in result.locks] == [True, False, True]
    assert "because no identity-based policy allows the kms:Decrypt action" in result.error_message


def test_dynamodb_permission_kms_in_iam_and_root_delegation_allow_the_scan(playground):
    result = playground.set(kms_in_iam=True)
    assert result.allowed and result.item_count == 1
    assert [lock.passed for lock in result.locks] == [True, True, True]
    assert result.changes == ("iam.put_user_policy: playground-kms-decrypt (kms:Decrypt on the key) on "
                              "dynamo_test_user",)


def test_without_root_delegation_the_iam_allow_does_not_count(playground):
    playground.set(kms_in_iam=True)
    result = playground.set(root_delegation=False)
    assert not result.allowed
    assert "because no resource-based policy allows the kms:Decrypt action" in result.error_message
    kms_lock = result.locks[1]
    assert not kms_lock.passed and "KEY_POLICY_DOES_NOT_ALLOW" in kms_lock.summary
    # the admin is locked out of the data too: the key-administrators statement does not allow Decrypt
    with pytest.raises(ClientError):
        playground.lab.session.client("dynamodb").scan(TableName=TABLE_NAME)
    # ...but can still manage the key, so it can put delegation back
    assert playground.set(root_delegation=True).allowed


def test_a_key_policy_statement_for_the_user_needs_no_iam(playground):
    result = playground.set(root_delegation=False, key_policy_for_user=True)
    assert result.allowed
    assert "key policy" in result.locks[1].summary


def test_a_disabled_key_refuses_even_with_every_permission(playground):
    playground.set(kms_in_iam=True, key_policy_for_user=True)
    result = playground.set(key_enabled=False)
    assert not result.allowed
    assert result.error_code == "ValidationException"
    assert "DisabledException" in result.error_message
    assert [lock.passed for lock in result.locks] == [True, True, False]
    assert playground.set(key_enabled=True).allowed


def test_without_dynamodb_permission_dynamodb_refuses_first(playground):
    result = playground.set(dynamodb_permission=False, kms_in_iam=True)
    assert not result.allowed
    assert "not authorized to perform: dynamodb:Scan" in result.error_message
    assert [lock.passed for lock in result.locks] == [False, True, True]


def test_playground_changes_are_real_and_reversible(playground):
    playground.set(dynamodb_permission=False, kms_in_iam=True, root_delegation=False, key_policy_for_user=True,
                   key_enabled=False)
    assert Playground(playground.lab).settings == playground.settings  # read back from the lab
    result = playground.apply(PlaygroundSettings())
    assert playground.settings == PlaygroundSettings()
    assert not result.allowed and result.error_code == "AccessDeniedException"
    assert "kms.put_key_policy: with root delegation, without a statement for the user" in "\n".join(result.changes)


def test_playground_waits_out_the_table_key_cache(playground):
    playground.set(kms_in_iam=True)
    before = playground.lab.now
    result = playground.set(kms_in_iam=False)
    assert not result.allowed  # the cached table key does not hide the change
    assert (playground.lab.now - before).total_seconds() == 300


def test_playground_text_and_observers(playground):
    seen = []
    playground.observe(seen.append)
    assert "(No try yet" in repr(playground)
    result = playground.set(kms_in_iam=True)
    assert seen == [result]
    text = repr(playground)
    assert "Last try:\n✔ ALLOWED: the Scan returned 1 item(s)" in text
    assert "[✔] ON   KMS permission in IAM" in text
    assert "How the real call went, lock by lock:" in str(result)
    assert "✔ open" in result._repr_html_()


def test_playground_refuses_unknown_settings(playground):
    with pytest.raises(TypeError, match="unknown setting"):
        playground.set(root=False)


# -- the notebooks' shape --------------------------------------------------------------------------------

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize("step", sorted(workbook.STEPS))
def test_each_notebook_follows_the_skeleton(step):
    import nbformat
    name = workbook.STEPS[step].notebook
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {step:02d} · ")
    for part in ("**What you'll do:**", "**What you'll learn:**", "**Prerequisites:**", "**Time to learn:**",
                 "## In real AWS", "## What's next", "NIST SP 800-53", "What kmslab simulates here"):
        assert part in markdown, f"{name} lacks {part}"
    assert markdown.index("## In real AWS") < markdown.index("## What's next")
    assert code[0].source == f"from kmslab.workbook import start\nlab = start(step={step})"
    assert all(line.startswith(("import ", "from ")) or not line for line in code[1].source.splitlines())
    if 1 <= step <= 6:
        assert f"quiz({step}, 1)" in "\n".join(c.source for c in code)
    for cell in code:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"{name}: a stored error"
            assert output.get("name") != "stderr", f"{name}: stored stderr"
            text = json.dumps(output)
            for machine_path in ("/root/", "/tmp/", "/home/"):
                assert machine_path not in text, f"{name}: {machine_path} in an output"


class _RecordingStack:
    """The embedded stack, with every apply's target written down."""

    def __init__(self, stack, applies):
        self._stack, self.applies = stack, applies

    def apply(self, target=None):
        self.applies.append(target)
        return self._stack.apply(target=target)

    def __getattr__(self, name):
        return getattr(self._stack, name)


@pytest.mark.parametrize("step", [2, 3, 4, 5, 7])
def test_with_the_real_cli_each_replay_is_one_apply_and_builds_the_same_world(step, monkeypatch):
    """Terraform's -target includes the target's dependencies, so one apply per replay is enough; the CLI
    takes seconds a run. The world is the one the embedded replay builds, run by run."""
    def recording(applies):
        return lambda lab, printer: _RecordingStack(lab.terraform(workbook.TERRAFORM_DIR, engine="embedded",
                                                                  out=printer), applies)

    embedded_applies, cli_applies = [], []
    monkeypatch.setattr(workbook.steps, "_new_stack", recording(embedded_applies))
    monkeypatch.delenv("KMSLAB_ENGINE", raising=False)
    with start(step) as lab:
        embedded_state = set(workbook.stack(lab).state)
        embedded_items = lab.client("dynamodb").scan(TableName=TABLE_NAME)["Items"] if step >= 3 else None
    monkeypatch.setattr(workbook.steps, "_new_stack", recording(cli_applies))
    monkeypatch.setenv("KMSLAB_ENGINE", "terraform")
    with start(step) as lab:
        assert set(workbook.stack(lab).state) == embedded_state
        if step >= 3:
            assert lab.client("dynamodb").scan(TableName=TABLE_NAME)["Items"] == embedded_items
    assert len(cli_applies) == 1
    assert len(embedded_applies) == {2: 1, 3: 2, 4: 2}.get(step, 3)



# -- text width ------------------------------------------------------------------------------------------

def test_wrap_breaks_long_lines_at_spaces_and_keeps_the_indentation():
    from kmslab.workbook import WIDTH, wrap
    long_line = "  ✘ closed  KMS key permission: " + " ".join(["word"] * 40)
    wrapped = wrap(long_line)
    lines = wrapped.splitlines()
    assert len(lines) > 1 and all(len(line) <= WIDTH for line in lines)
    assert wrapped.replace("\n", " ").split() == long_line.split()  # no word cut, none lost
    assert all(line.startswith(" " * len("  ✘ closed  ")) for line in lines[1:])  # under the text, not the marker
    arn = "arn:aws:kms:us-east-1:123456789012:key/" + "0" * 80
    assert arn in wrap("the key " + arn + " is disabled").splitlines()  # an ARN longer than the width stays whole
    assert wrap("short\n\n  kept as it is") == "short\n\n  kept as it is"


def test_the_workbooks_text_forms_fit_the_width():
    from kmslab.workbook import WIDTH
    with start(5) as lab:
        playground = Playground(lab)
        texts_shown = [str(playground.set(kms_in_iam=True)), repr(playground)]
        exercise = LeastPrivilegeExercise(lab)
        texts_shown += [str(exercise.check(_statement(Action="kms:Decrypt", Resource=key_arn(lab)))),
                        str(exercise.hint()), str(exercise.hint())]
    texts_shown += [quiz(s, n).text() for s, n in NOTEBOOK_QUIZZES]
    texts_shown += [str(quiz(s, n).check("A")) for s, n in NOTEBOOK_QUIZZES]
    for text in texts_shown:
        for line in text.splitlines():
            assert len(line) <= WIDTH or " " not in line.strip(), line


def test_the_recap_has_its_parts_and_a_final_check_from_every_step():
    import nbformat
    nb = nbformat.read(NOTEBOOK_DIR / "11_recap.ipynb", as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "```mermaid\nflowchart" in markdown  # JupyterLab renders Mermaid natively, in either theme
    assert "style " not in markdown.split("```mermaid", 1)[1].split("```", 1)[0]  # no colours fixed for one theme
    for part in ("Cheat sheet: the two locks", "Glossary", "Final check", "Practice: a key policy without the root",
                 "Practice: an explicit Deny", "Practice: a grant"):
        assert part in markdown, part
    questions = " ".join(quiz(11, n).question for n in range(1, 8))
    for step in ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10"):
        assert step in questions, step
    assert all(f"quiz(11, {n}).widget()" in code for n in range(1, 8))
    for hint_or_solution in ("hint()", "solution()"):  # left for the learner to call
        assert all(line.startswith("# ") for line in code.splitlines() if line.endswith(hint_or_solution))

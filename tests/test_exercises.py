"""Notebook 05's exercise: feedback that names the one part to fix, and the solution proven through the checker.

Each mistake below is one a learner makes; the checker must name that part (and only that part), in a
sentence that does not give the whole answer away, and never show an internal exception. The rules come
from AWS: an action or condition key that does not exist matches nothing (IAM User Guide, policy
evaluation; Access Analyzer's "Invalid action" / "Invalid condition key" checks); the Resource of a KMS
permission is the key's ARN (KMS Developer Guide, "Resource" in key policies and IAM policies);
kms:ViaService is "SERVICE.REGION.amazonaws.com" (KMS Developer Guide, "kms:ViaService"); an
identity-based policy has no Principal element (IAM JSON policy element reference, "Principal").
"""

from __future__ import annotations

import pytest

from kmslab.workbook import USER_NAME, LeastPrivilegeExercise, ____, key_arn, least_privilege_policy, start


@pytest.fixture(scope="module")
def exercise():
    with start(5) as lab:
        yield LeastPrivilegeExercise(lab)


def _solution(exercise):
    return least_privilege_policy(key_arn(exercise.lab))


def _conditions(policy):
    return policy["Statement"][0]["Condition"]["StringEquals"]


def _misspelt_action(p, key):
    p["Statement"][0]["Action"] = "kms:Decryp"


def _misspelt_condition_key(p, key):
    _conditions(p)["kms:ViaSevice"] = _conditions(p).pop("kms:ViaService")


def _wrong_account(p, key):
    p["Statement"][0]["Resource"] = key.replace(":123456789012:", ":210987654321:")


def _typo_in_key_id(p, key):
    p["Statement"][0]["Resource"] = key[:-1] + ("0" if key[-1] != "0" else "1")


def _the_tables_arn(p, key):
    p["Statement"][0]["Resource"] = "arn:aws:dynamodb:us-east-1:123456789012:table/my-encrypted-table"


def _via_service_without_region(p, key):
    _conditions(p)["kms:ViaService"] = "dynamodb.amazonaws.com"


def _another_region(p, key):
    p["Statement"][0]["Resource"] = key.replace(":us-east-1:", ":eu-west-1:")


def _principal(p, key):
    p["Statement"][0]["Principal"] = {"AWS": f"arn:aws:iam::123456789012:user/{USER_NAME}"}


# (the mistake, what the message must say, what it must not say: the corrected part itself)
MISTAKES = {
    "misspelt action": (_misspelt_action, ["Action", "kms:Decryp is not an action", "did you mean kms:Decrypt?"],
                        ["Resource", "ViaService"]),
    "misspelt condition key": (_misspelt_condition_key, ["Condition", "kms:ViaSevice is not a condition key",
                                                        "did you mean kms:ViaService?"], ["Action", "Resource"]),
    "wrong account in the key ARN": (_wrong_account, ["Resource", "account 210987654321", "lab's account"],
                                     ["Action", "Condition"]),
    "typo in the key ID": (_typo_in_key_id, ["Resource", "the key ID is almost", "1 character(s) differ"],
                           ["Action", "Condition"]),
    "the table's ARN instead of the key's": (_the_tables_arn, ["Resource", "DynamoDB table's ARN"],
                                             ["Condition", "kms:ViaService"]),
    "kms:ViaService without the region": (_via_service_without_region,
                                          ["kms:ViaService", '"dynamodb.amazonaws.com" has no region'],
                                          ["dynamodb.us-east-1.amazonaws.com", "Resource"]),
    "a key of another region": (_another_region, ["Resource", "region eu-west-1", "belongs to one region"],
                                ["Action", "Condition"]),
    "a Principal in an identity policy": (_principal, ['"Principal" element', "identity-based policy",
                                                       "names no principal", "Remove"],
                                          ["ValueError", "Traceback"]),
}


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_each_mistake_gets_a_message_naming_its_own_part(exercise, case):
    mistake, says, never = MISTAKES[case]
    policy = _solution(exercise)
    mistake(policy, key_arn(exercise.lab))
    result = exercise.check(policy)
    assert result.status == "incorrect"
    for words in says:
        assert words in result.message, result.message
    for words in never:
        assert words not in result.message, result.message
    assert exercise.lab.session.client("iam").list_user_policies(UserName=USER_NAME)["PolicyNames"] == []


def test_the_six_mistakes_get_six_different_messages(exercise):
    messages = set()
    for case in ("misspelt action", "misspelt condition key", "wrong account in the key ARN", "typo in the key ID",
                 "the table's ARN instead of the key's", "kms:ViaService without the region"):
        policy = _solution(exercise)
        MISTAKES[case][0](policy, key_arn(exercise.lab))
        messages.add(exercise.check(policy).message)
    assert len(messages) == 6


@pytest.mark.parametrize("condition, says", [
    ({"StringLike": {"kms:ViaService": "*", "kms:EncryptionContext:aws:dynamodb:tableName": "my-encrypted-table"}},
     "any AWS service"),
    ({"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}, "any table protected by this key"),
    (None, "call kms:Decrypt directly"),
])
def test_a_policy_that_works_but_is_broader_than_needed_is_told_so(exercise, condition, says):
    """Least privilege (IAM User Guide, "Apply least-privilege permissions"): the scan would pass, but the
    policy allows requests the task does not need; the checker says that it works, and what is too broad."""
    policy = _solution(exercise)
    if condition is None:
        del policy["Statement"][0]["Condition"]
    else:
        policy["Statement"][0]["Condition"] = condition
    result = exercise.check(policy)
    assert result.status == "incorrect"
    assert result.message.startswith("it works (DynamoDB's kms:Decrypt for this table passes), but it is broader")
    assert says in result.message


def test_check_without_an_answer_is_not_attempted(exercise):
    """learntools' check() may be called bare: that is "not attempted", never a TypeError."""
    assert exercise.check().status == "not attempted"


def test_a_malformed_condition_is_refused_in_iams_words(exercise):
    policy = _solution(exercise)
    policy["Statement"][0]["Condition"] = {"StringEquals": "kms:ViaService"}
    result = exercise.check(policy)
    assert result.status == "incorrect"
    assert "IAM refused the document: MalformedPolicyDocument" in result.message


def test_notebook_05_stores_no_hint_and_no_solution():
    """learntools' convention: hint() and solution() are the learner's to call; a stored notebook shows only
    the prompt, and no cell puts the solution in place of the learner's answer."""
    import json
    from pathlib import Path

    import nbformat
    nb = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / "05_least_privilege.ipynb", 4)
    outputs = json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])
    assert "Hint 1" not in outputs and "Solution:" not in outputs
    assert "kms:EncryptionContext:aws:dynamodb:tableName\\\": " not in outputs
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "solution_policy" not in code
    for line in code.splitlines():
        assert not line.startswith(("exercise.hint()", "exercise.solution()")), line


def test_the_solution_passes_the_checker_and_the_users_scan_works():
    """The solution is tested code, not a stored output: the checker accepts it, and the user's real Scan
    (DynamoDB's kms:Decrypt for the user, through the lab's enforcer) then succeeds. (Last in this file:
    opening a lab closes the module's.)"""
    with start(5) as lab:
        exercise = LeastPrivilegeExercise(lab)
        assert "my_policy = " in str(exercise.solution())
        result = exercise.check(exercise.solution_policy)
        assert result.correct, result.message
        assert lab.session_for(USER_NAME).client("dynamodb").scan(TableName="my-encrypted-table")["Count"] == 1


# -- the recap's practices (notebook 11) ------------------------------------------------------------------
# Rules: a key policy names its principals and "Resource": "*" is the key itself; without the root statement
# IAM policies do not count on the key; KMS's lockout safety check refuses a key policy that would stop the
# caller from calling PutKeyPolicy again (KMS API reference, PutKeyPolicy, BypassPolicyLockoutSafetyCheck);
# an explicit Deny beats every allow (IAM User Guide, policy evaluation logic); a grant gives its grantee
# the grant's operations, within its constraints, and a retired grant gives nothing (KMS guide, "Grants").

from kmslab.workbook.practice import (  # noqa: E402
    ADMIN_ARN,
    USER_ARN,
    ExplicitDenyPractice,
    GrantPractice,
    KeyPolicyPractice,
)


@pytest.fixture
def recap():
    with start(11) as lab:
        yield lab


def _key_policy_with(change):
    def make(practice):
        policy = practice.solution_policy()
        change(policy)
        return policy
    return make


KEY_POLICY_MISTAKES = {
    "only the user: the lockout check refuses it": (
        _key_policy_with(lambda p: p["Statement"].pop(0)),
        ["KMS refused the policy: MalformedPolicyDocumentException: The new key policy will not allow you to "
         "update the key policy in the future.", "lockout safety check"]),
    "the root statement kept": (
        _key_policy_with(lambda p: p["Statement"].append(
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*",
             "Resource": "*"})), ["statement 3", "root statement"]),
    "the administrator can use the key": (
        _key_policy_with(lambda p: p["Statement"][0].update(Action="kms:*")),
        ["broader than needed", "administrator can also use the key"]),
    "the user can decrypt directly": (
        _key_policy_with(lambda p: p["Statement"][1].pop("Condition")),
        ["broader than needed", "kms:Decrypt directly"]),
    "the user cannot use the key": (
        _key_policy_with(lambda p: p["Statement"][1].update(Action="kms:Encrypt")),
        ["key user, could not use the key"]),
    "a misspelt action": (
        _key_policy_with(lambda p: p["Statement"][1].update(Action="kms:Decrpyt")),
        ["kms:Decrpyt is not an action", "did you mean kms:Decrypt?"]),
    "a statement without a principal": (
        _key_policy_with(lambda p: p["Statement"][1].pop("Principal")), ['statement 2 has no "Principal"']),
}


@pytest.mark.parametrize("case", sorted(KEY_POLICY_MISTAKES))
def test_key_policy_practice_names_the_mistake_and_puts_the_policy_back(recap, case):
    practice = KeyPolicyPractice(recap)
    kms = recap.client("kms")
    before = kms.get_key_policy(KeyId=key_arn(recap), PolicyName="default")["Policy"]
    make, says = KEY_POLICY_MISTAKES[case]
    result = practice.check(make(practice))
    assert result.status == "incorrect"
    for words in says:
        assert words in result.message, result.message
    assert kms.get_key_policy(KeyId=key_arn(recap), PolicyName="default")["Policy"] == before


def test_key_policy_practice_accepts_its_solution(recap):
    practice = KeyPolicyPractice(recap)
    result = practice.check(practice.solution_policy())
    assert result.correct, result.message
    assert "Principal" in str(practice.solution()) and ":root" not in str(practice.solution())


def test_explicit_deny_practice(recap):
    practice = ExplicitDenyPractice(recap)
    user_ddb = recap.session_for(USER_NAME).client("dynamodb")
    assert user_ddb.scan(TableName="my-encrypted-table")["Count"] == 1  # the allow to beat is there
    solution = practice.solution_policy()
    assert practice.check(solution).correct
    for change, says in ((dict(Effect="Allow"), 'no statement has "Effect": "Deny"'),
                         (dict(Resource="*"), "broader than needed"),
                         (dict(Action="kms:*"), "denies every KMS action"),
                         (dict(Action="kms:Encrypt"), "the user's allow still wins"),
                         (dict(Action="kms:Decryp"), "did you mean kms:Decrypt?"),
                         (dict(Principal={"AWS": USER_ARN}), '"Principal" element')):
        policy = practice.solution_policy()
        policy["Statement"][0].update(change)
        result = practice.check(policy)
        assert result.status == "incorrect" and says in result.message, (change, result.message)
    assert practice.POLICY_NAME not in recap.client("iam").list_user_policies(UserName=USER_NAME)["PolicyNames"]


def test_grant_practice(recap):
    practice = GrantPractice(recap)
    kms, key = recap.client("kms"), key_arn(recap)
    assert practice.check(____).status == "not attempted"
    assert practice.check().status == "not attempted" and practice.check_retired().status == "not attempted"
    wide = kms.create_grant(KeyId=key, GranteePrincipal=USER_ARN, Operations=["Decrypt"])
    assert "no encryption-context constraint" in practice.check(wide).message
    kms.revoke_grant(KeyId=key, GrantId=wide["GrantId"])
    other = kms.create_grant(KeyId=key, GranteePrincipal=ADMIN_ARN, Operations=["Decrypt"])
    assert "grantee is arn:aws:iam::123456789012:user/lab-admin" in practice.check(other).message
    kms.revoke_grant(KeyId=key, GrantId=other["GrantId"])
    grant = kms.create_grant(KeyId=key, GranteePrincipal=USER_ARN, Operations=["Decrypt"],
                             Constraints={"EncryptionContextSubset": {"aws:dynamodb:tableName": "my-encrypted-table"}},
                             RetiringPrincipal=ADMIN_ARN)
    assert practice.check(grant).correct
    assert practice.check_retired(grant).status == "incorrect"  # not retired yet
    kms.retire_grant(KeyId=key, GrantId=grant["GrantId"])
    assert practice.check_retired(grant).correct
    assert practice.check("not-a-grant-id").status == "incorrect"


ODD_ANSWERS = [
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": 5, "Resource": "*"}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["kms:Decrypt", None],
                                             "Resource": {"a": 1}}]},
    {"Version": "2012-10-17", "Statement": "everything"},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms",
                                             "Condition": {"StringEquals": ["kms:ViaService"]}}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "kms:Decrypt", "NotResource": "*"}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt",
                                             "Resource": "arn:aws:kms:us-east-1:123456789012:alias/x"}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
                                             "Principal": "*"}]},
    "[1, 2",
    42,
]


@pytest.mark.parametrize("answer", ODD_ANSWERS, ids=range(len(ODD_ANSWERS)))
def test_no_answer_shows_an_internal_exception(answer):
    """A learner's answer, however odd, gets AWS's words or kmslab's sentence, never an exception's name."""
    with start(5) as lab:
        exercise = LeastPrivilegeExercise(lab)
        result = exercise.check(answer)
        assert result.status == "incorrect"
        for internal in ("Traceback", "ValueError", "TypeError", "KeyError", "AttributeError", "could not read"):
            assert internal not in result.message, result.message


# -- notebook 10's sharing exercise ------------------------------------------------------------------------
# The rules: across accounts a resource-based policy must allow the caller (or name their account), and
# the caller's IAM must allow too (IAM User Guide, "Cross-account policy evaluation logic"); a resource-based
# policy says whom it applies to with Principal (IAM JSON policy element reference, "Principal").

@pytest.fixture(scope="module")
def sharing():
    import json

    from kmslab.workbook.sharing import SharingExercise
    with start(10) as lab:
        partner = lab.add_account("partner")
        iam = partner.client("iam")
        iam.create_user(UserName="analyst")
        iam.put_user_policy(UserName="analyst", PolicyName="reads", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        iam.create_access_key(UserName="analyst")
        yield SharingExercise(lab, partner)


def _share(exercise, **changes):
    policy = exercise.solution_policy
    policy["Statement"][0].update(changes)
    return policy


@pytest.mark.parametrize("changes, names", [
    ({"Principal": "*"}, 'names the principal "*"'),
    ({"Principal": {"AWS": "arn:aws:iam::444455556666:root"}}, "every principal of the partner's account"),
    ({"Principal": {"AWS": "arn:aws:iam::777788889999:user/analyst"}}, "does not let the analyst"),
    ({"Action": "dynamodb:*"}, "also lets the analyst make dynamodb:PutItem"),
    ({"Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"]}, "dynamodb:Scan"),
    ({"Action": "dynamodb:GetItem"}, "dynamodb:Query"),
    ({"Action": ["dynamodb:GetItems", "dynamodb:Query"]}, "GetItems"),
    ({"Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/other"}, "which is not this table"),
])
def test_the_sharing_check_names_the_part_to_fix(sharing, changes, names):
    before = sharing.lab.client("dynamodb").list_tables()["TableNames"]
    result = sharing.check(_share(sharing, **changes))
    assert result.status == "incorrect" and names in result.message, result.message
    assert sharing.lab.client("dynamodb").list_tables()["TableNames"] == before


def test_the_sharing_check_needs_a_principal_and_answers_blanks(sharing):
    policy = sharing.solution_policy
    del policy["Statement"][0]["Principal"]
    assert 'has no "Principal"' in sharing.check(policy).message
    assert sharing.check({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": ____,
                                                                  "Action": ____, "Resource": ____}]}).status \
        == "not attempted"
    assert sharing.check(42).status == "incorrect"


def test_the_sharing_solution_is_put_on_the_table_and_the_analyst_reads(sharing):
    import json

    from botocore.exceptions import ClientError
    table_arn = sharing.table_arn
    reader = sharing.partner.session_for("analyst").client("dynamodb")
    with pytest.raises(ClientError):  # before: no table policy
        reader.get_item(TableName=table_arn, Key={"id": {"S": "entry-001"}})
    result = sharing.check(sharing.solution_policy)
    assert result.status == "correct"
    stored = sharing.lab.client("dynamodb").get_resource_policy(ResourceArn=table_arn)["Policy"]
    assert json.loads(stored) == sharing.solution_policy
    # the table's side is right, and the key's side still refuses (the key policy trusts the lab account)
    assert "kms:Decrypt" in result.message

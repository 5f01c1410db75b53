"""The steps of the workbook: the world each notebook starts from, and the names it uses.

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
8     08 The back doors            the same world as step 5: the admin with AmazonDynamoDBFullAccess and no
                                   permission on the key
9     09 Roles instead of users    the same world as step 5
10    10 Recap                     the same world as step 5 (its practices make their own changes and undo
                                   them, except the grant, which the learner retires)
====  ===========================  ===========================================================================

Every step is replayed from nothing with the bundled Terraform (:data:`TERRAFORM_DIR`) and boto3 calls as
``lab-admin``; the replay's calls stay in ``lab.trail`` (notebooks show the newest records).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from .._errors import LabError
from .._lab import ACCOUNT_ID, DEFAULT_REGION, Lab
from .._resources import as_path, terraform_folder

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
    """The Terraform folder the notebooks apply.

    A learner copy's own ``terraform/`` (made by ``kmslab reset``), found from the working directory or
    its parent (a notebook runs in ``notebooks/``, beside ``terraform/``); else the bundled one (the
    clone's, or the installed wheel's package data: :mod:`kmslab._resources`).

    Returned relative to the working directory when that is short (``../terraform`` from ``notebooks/``),
    so that no machine path ends up in a notebook's output.
    """
    cwd = Path.cwd().resolve()
    candidates = [cwd / "terraform", cwd.parent / "terraform", as_path(terraform_folder())]
    found = next((c for c in candidates if (c / "kms.tf").is_file()), candidates[-1])
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
    Step(8, "08_the_back_doors", "the whole bundled stack (key, table, dynamo_test_user) and the test item"),
    Step(9, "09_roles_instead_of_users", "the whole bundled stack (key, table, dynamo_test_user) and the test item"),
    Step(10, "10_share_the_table", "the whole bundled stack (key, table, dynamo_test_user) and the test item"),
    Step(11, "11_recap", "the whole bundled stack (key, table, dynamo_test_user) and the test item"),
)}
#: Steps whose world is that of an earlier step (08 tries the back doors on the world 05 starts from; 09
#: gives that world roles; 10 shares it with a second account; the recap's practices start from it too).
_SAME_WORLD_AS = {8: 5, 9: 5, 10: 5, 11: 5}

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

    With ``KMSLAB_ENGINE=terraform`` the replay is one run of the real CLI (a target brings its
    dependencies, as ``-target`` does), not one per earlier notebook: the same resources, fewer slow runs.
    """
    if step not in STEPS:
        raise ValueError(f"there is no step {step!r}: choose one of {', '.join(map(str, STEPS))}")
    target = target or os.environ.get("KMSLAB_TARGET") or "offline"
    if target not in ("offline", "emulator"):
        raise LabError(f"the workbook's notebooks run on a simulated lab (offline or emulator), not {target!r}: "
                       "they move the lab's clock and ask it why a call was refused, which real AWS cannot do. "
                       "Unset KMSLAB_TARGET, or open Lab(target='aws') yourself outside the notebooks.")
    lab = Lab(target=target, seed=seed)
    step = _SAME_WORLD_AS.get(step, step)
    printer = _Printer()
    tf = _new_stack(lab, printer)
    _STACKS.clear()
    _STACKS[id(lab)] = tf
    if (os.environ.get("KMSLAB_ENGINE") or "embedded") == "terraform":
        # The real CLI takes seconds a run: one apply builds what the notebooks before built in turn (a
        # target brings its dependencies, as with -target: the table's apply creates the key too).
        if step >= 2:
            tf.apply(target=None if step >= 5 else TABLE_ADDRESS if step >= 3 else KEY_ADDRESS)
        if step >= 4:
            lab.client("dynamodb").put_item(TableName=TABLE_NAME, Item=TEST_ITEM)
    else:  # the embedded applier replays each notebook's own applies (the stored outputs' IDs follow them)
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

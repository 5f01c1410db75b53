#!/usr/bin/env python3
"""Build the workbook's notebooks from the sources in this file, then run them and store their outputs.

    python tools/build_notebooks.py                 # write and execute every notebook
    python tools/build_notebooks.py 04 05           # only the notebooks whose names start so
    python tools/build_notebooks.py --no-execute    # write them without outputs

Each notebook is written as text below: cells separated by a line ``%% md`` or ``%% code``. Running
uses nbclient with the ``python3`` kernel in a fresh kernel per notebook, with ``notebooks/`` as the
working directory (as in JupyterLab and under nbval). After running, the stored outputs are checked:
no error output, no machine paths (``/root/``, ``/tmp/``, ``/home/``). Cell IDs are fixed, so that a
rebuild changes only what really changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
FORBIDDEN_IN_OUTPUTS = ("/root/", "/tmp/", "/home/")

# ---------------------------------------------------------------------------------------------------------
# Shared text
# ---------------------------------------------------------------------------------------------------------

SIMULATED = """\
**What kmslab simulates here.** AWS is emulated by moto inside this Python process; kmslab stands where
AWS's front door stands and decides every call itself (IAM policies, the key policy, grants, the key's
state), because moto does not. Where AWS does not document a detail, kmslab had to choose, and says so:
DynamoDB's cache of the table key is modelled per access key and table, trusted for 300 seconds of lab
time; the delay before DynamoDB marks a table inaccessible is 15 minutes after the key is disabled and
75 minutes after its deletion is scheduled (AWS publishes no figure; these come from one unofficial
probe); and some error messages are partly inferred, where AWS documents no verbatim example. The
docstring of `kmslab/_enforce.py` lists each of these choices."""

# ---------------------------------------------------------------------------------------------------------
# The notebooks
# ---------------------------------------------------------------------------------------------------------

NB00 = r'''
%% md
# 00 · Welcome: lock a table with a key you own

**What you'll do:** Check that the lab works and see the route through the workbook.

**What you'll learn:**
- what the workbook builds: a KMS key of your own, a DynamoDB table encrypted with it, and a database
  admin who holds every DynamoDB permission and still cannot read the table;
- how the notebooks are organised, and how to run them in any order;
- where a lab can run (offline, on an emulator, in real AWS) and what real AWS would cost.

**Prerequisites:** a little Python. No AWS account, no network. · **Time to learn:** 10 minutes

%% code
from kmslab.workbook import start
lab = start(step=0)

%% code
import boto3

from kmslab.workbook import STEPS, check_environment

%% md
## The story

A table in DynamoDB is a good place for things you would not leave on the kitchen table: a diary, a
customer list, a family recipe. DynamoDB always encrypts what it stores. Out of the box it uses a key
that AWS owns: you never see it, you are never asked about it, and you cannot decide who may use it.

AWS Key Management Service (KMS) lets you make a key of your own, a **customer managed key**, and ask
DynamoDB to protect a table with it. From then on, every read and every write of the table needs two
permissions instead of one:

1. permission to call DynamoDB, and
2. permission to use **your** key, which DynamoDB asks KMS for, in the caller's name.

You will build this with Terraform, then meet `dynamo_test_user`: a database admin with the AWS managed
policy `AmazonDynamoDBFullAccess`, every DynamoDB right there is. Their scan is refused, because the key
says no. Running the database and reading its data have become two separate jobs: that is *separation
of duties*. Then you will open the key to that user, narrowly; disable it, revoke it, schedule it for
deletion, rotate it; and clean up.

%% md
## The route

Each notebook starts from the world the previous ones built, rebuilt for you in under a second by its
first cell:

%% code
for number, step in STEPS.items():
    print(f"{step.notebook:28} starts with: {step.world}")

%% md
## How to use the workbook

- Run the cells from top to bottom (Shift+Enter). The first code cell of each notebook,
  `lab = start(step=N)`, rebuilds the lab as it stands at the start of that notebook. So you can open
  any notebook, in any order, and start again whenever you like: just run that cell again.
- The lab is one AWS account emulated inside this Python process: account `123456789012`, region
  `us-east-1`. Your boto3 calls never leave your machine.
- kmslab checks every call the way AWS does and keeps a CloudTrail-shaped record of it in `lab.trail`.
  When a call is refused, `lab.why()` shows which lock held.
- The lab has its own clock. It starts on 2025-01-06 at 09:00 UTC and moves only when you say so, with
  `lab.advance(minutes=5)`: waiting five minutes, or seven days, takes no time at all.
- Some calls are *meant* to fail. Those cells catch the error (`except ClientError as error:`), print
  it, and check it with `assert`, so that you can read AWS's answer in full.
- Each notebook ends with **In real AWS**: what differs from the lab, what kmslab simulates, and what
  it would cost.

## Check your environment

From a terminal, `kmslab doctor` runs a similar check.

%% code
print(check_environment(lab))

%% md
## Who are you in the lab?

A plain `boto3` client, with no credentials passed, acts as `lab-admin`: the lab's own IAM user, with
the `AdministratorAccess` policy. It plays the part of you, the account's administrator.

%% code
sts = boto3.client("sts")
print(sts.get_caller_identity()["Arn"])

%% md
## Where a lab can run

| target | what answers your calls | how to choose it | cost |
|---|---|---|---|
| **offline** (the default) | moto, inside this Python process, with kmslab enforcing IAM and KMS authorization | `start(step=N)`, or `Lab()` | nothing |
| **emulator** | the same lab, also served over HTTP on `127.0.0.1`, so that the real `terraform` and `aws` command-line tools can use it; kmslab still enforces. `Lab(target="emulator", endpoint_url=...)` can also use an emulator someone else runs: kmslab then enforces for this Python session only | `start(step=N, target="emulator")`, or `KMSLAB_TARGET=emulator` | nothing |
| **real AWS** | your own AWS account: AWS decides, not kmslab | opt-in only: `KMSLAB_ALLOW_REAL_AWS=1` and `KMSLAB_AWS_ACCOUNTS=<a sandbox account's ID>`, then `Lab(target="aws")` | real money, see below |

The notebooks run on the first two. They move the lab's clock and ask it why a call was refused, which a
real account cannot do, so `start()` refuses real AWS. Real AWS is for trying the same Terraform and
boto3 calls yourself, in a sandbox account: kmslab then tags everything it makes with
`kmslab:lab=<lab id>`, and `kmslab cleanup --lab-id <lab id>` finds and removes it even if the Terraform
state is lost. This notebook runs neither of the other two targets.

The Terraform in the notebooks is applied by kmslab's embedded applier, in milliseconds. To have the real
`terraform` CLI do it instead (against the lab, on `127.0.0.1`; about 15 seconds an apply), start
JupyterLab with `KMSLAB_ENGINE=terraform`: the notebooks run unchanged, with their own IDs.

What the resources of this workbook cost in real AWS (us-east-1 list prices when kmslab was written;
check the AWS pricing pages before you rely on them):

- **KMS customer managed key:** about $1 per month, prorated by the hour, plus $0.03 per 10,000 requests
  (DynamoDB's calls to the key count). A deleted key is not deleted at once: KMS waits 7 to 30 days
  (this workbook uses 7).
- **DynamoDB on-demand table:** you pay per request and per GB stored; the handful of requests here
  costs a fraction of a cent.
- **IAM users and policies:** free.

## In real AWS

This notebook creates nothing.

SIMULATED_TEXT

The workbook demonstrates these security controls from NIST SP 800-53: **SC-28** protection of
information at rest (the encrypted table), **SC-12** cryptographic key establishment and management
(the key's policy and lifecycle), **AC-5** separation of duties and **AC-6** least privilege (the
denied admin, then a narrow grant), and **AU-2 / AU-12** event logging and audit record generation
(the trail of every call, the refused ones included).

## What's next

[01 · Forge your own KMS key](01_forge_the_key.ipynb): write the key in Terraform, apply it, and read
its default key policy.
'''

NB01 = r'''
%% md
# 01 · Forge your own KMS key

**What you'll do:** Create a customer managed KMS key with Terraform and inspect it with boto3.

**What you'll learn:**
- how an `aws_kms_key` resource reads, and what `terraform plan` and `terraform apply` do with it;
- what `DescribeKey` tells you about a key (who manages it, its state, its kind);
- what the default key policy says, and what *delegating to the account root* means;
- what the deletion window is for.

**Prerequisites:** [00 · Welcome](00_welcome.ipynb). · **Time to learn:** 20 minutes

%% code
from kmslab.workbook import start
lab = start(step=1)

%% code
import json

import boto3

from kmslab.workbook import TERRAFORM_DIR, quiz, stack

%% md
## Step 1 · Read the key's Terraform

The bundled `terraform/` folder holds the whole configuration, one file per part. The key comes first:

%% code
print((TERRAFORM_DIR / "kms.tf").read_text())

%% md
Two arguments, and one that is missing on purpose:

- `description` is free text that shows up in `DescribeKey` and in the console.
- `deletion_window_in_days = 7`: KMS never deletes a key on the spot. It first waits, for 7 to 30 days,
  during which the key is unusable but can be saved. 7 is the shortest wait KMS allows.
- No `policy`: KMS then gives the key its **default key policy**. You will read it in step 5.

## Step 2 · Plan

`stack(lab)` is the lab's Terraform: the `.tf` files of `terraform/` and a *state* that remembers what
has been applied, as `terraform.tfstate` does. The folder describes more than the key (a table and a
user too); this notebook applies only the key, so it names it with `target`, like
`terraform plan -target=aws_kms_key.dynamodb_key`.

%% code
tf = stack(lab)
plan = tf.plan(target="aws_kms_key.dynamodb_key")
print(plan)

%% md
Read the plan as Terraform's promise: one resource to add, with the values you set, the provider's
defaults (`key_usage = "ENCRYPT_DECRYPT"`, `customer_master_key_spec = "SYMMETRIC_DEFAULT"`,
`is_enabled = true`, `enable_key_rotation = false`), and what only AWS can tell (`(known after apply)`:
the key's ID, its ARN, its policy). The warning at the end is Terraform's usual one for `-target`:
building step by step is exactly the exceptional use it has in mind.

## Step 3 · Apply

%% code
outputs = tf.apply(target="aws_kms_key.dynamodb_key")

%% code
key_id = outputs["kms_key_id"]
key_arn = outputs["kms_key_arn"]
print(key_arn)

%% md
The ARN names the service, the region, the account and the key's ID. The lab seeds its random numbers,
so your key has the same ID every time you run this notebook.

## Step 4 · Describe the key with boto3

%% code
kms = boto3.client("kms")
metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
for field in ("KeyId", "Description", "KeyState", "KeyManager", "Origin", "KeySpec", "KeyUsage"):
    print(f"{field:12} {metadata[field]}")

%% md
- `KeyManager: CUSTOMER`: this key is yours. You write its policy, and you may disable, rotate or delete
  it. AWS managed keys (`aws/dynamodb` and friends) say `AWS` here.
- `KeyState: Enabled`: usable. You will see `Disabled` and `PendingDeletion` in notebook 06.
- `Origin: AWS_KMS`: KMS generated the key material itself, and it never leaves KMS unencrypted.
- `KeySpec: SYMMETRIC_DEFAULT`: a symmetric key, the only kind DynamoDB accepts.

## Step 5 · Read the default key policy

Every KMS key has exactly one key policy. This one came from KMS, because `kms.tf` gave none:

%% code
policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
print(json.dumps(policy, indent=2))

%% md
One statement: the principal `arn:aws:iam::123456789012:root` may do `kms:*` on this key.

That principal is **the account**, not the root user alone. Naming the account in a key policy does not
hand the key to every user of the account. It says: *IAM policies in this account may grant access to
this key.* This is called delegating to IAM. From now on a user or role can use the key when two things
hold:

1. the key policy lets IAM decide (this statement), and
2. one of that principal's IAM policies allows the action, and nothing denies it.

Take the statement away, and no IAM policy can grant anything on the key, whatever it says. Keep it, and
whoever may edit IAM policies in the account can, in effect, grant use of the key.

`lab-admin` has `AdministratorAccess` (`"Action": "*"`), so it may use the key. Ask the lab, as IAM's
policy simulator would:

%% code
print(lab.explain("lab-admin", "kms:Decrypt", key_arn))

%% md
## Step 6 · The deletion window

Deleting a KMS key destroys everything encrypted under it, for good. So KMS makes you wait: a key you
delete (with `ScheduleKeyDeletion`, which is what `terraform destroy` calls) goes to the state
`PendingDeletion` for the window you chose, 7 to 30 days (30 if you don't say). During the window the
key cannot be used, and `CancelKeyDeletion` can still save it. You will do both in notebook 06.

%% md
## Check your understanding

%% code
quiz(1, 1).widget()

%% code
quiz(1, 2).widget()

%% md
## On your own

- Describe the key by its ARN instead of its ID: `kms.describe_key(KeyId=key_arn)`. Which fields change?
- Ask `lab.explain("lab-admin", "kms:ScheduleKeyDeletion", key_arn)` and read which statements matched.
- List the keys of the account with `kms.list_keys()`. Why is there only one?

## In real AWS

- **What differs.** The real provider waits for a new key to be ready (about 13 seconds when measured
  against an emulator); here it is immediate. Real keys also report a `CreationDate`; the lab's is the
  machine's clock, so this notebook does not print it.
- **The default policy's `Sid`.** Older documentation and moto call the statement
  `"Enable IAM User Permissions"`; newer documentation examples show `"Enable IAM policies"`. kmslab
  could not confirm which one the live API returns today. The principal, action and resource are the
  same in both.
- **Cost.** A customer managed key costs about $1 per month, prorated by the hour, from creation until
  it is deleted, plus $0.03 per 10,000 API requests. This notebook's key would cost a few cents for a day.
- SIMULATED_TEXT
- **Controls.** NIST SP 800-53 **SC-12** (cryptographic key establishment and management): the key is
  created with a known owner, policy and deletion safeguard. **AC-6** (least privilege) starts here: the
  default policy grants nothing to any user by itself.

## What's next

[02 · Build the locked table](02_build_the_locked_table.ipynb): a DynamoDB table encrypted with this key,
after tripping over the seed tutorial's capacity mistake.
'''

NB02 = r'''
%% md
# 02 · Build the locked table

**What you'll do:** Create a DynamoDB table encrypted with your key, after the provider refuses the
seed tutorial's version of it.

**What you'll learn:**
- how the `server_side_encryption` block points a table at your key;
- why `read_capacity` and `billing_mode = "PAY_PER_REQUEST"` cannot go together, in the provider's own
  words, and how to fix it;
- how to read a table's `SSEDescription`;
- what DynamoDB does with your key when it creates the table;
- AWS owned, AWS managed and customer managed keys, side by side.

**Prerequisites:** [01 · Forge your own KMS key](01_forge_the_key.ipynb). · **Time to learn:** 25 minutes

%% code
from kmslab.workbook import start
lab = start(step=2)

%% code
import json
from pathlib import Path

import boto3

from kmslab import ConfigurationError
from kmslab.workbook import TERRAFORM_DIR, quiz, stack

%% md
## Step 1 · The seed tutorial's table

The tutorial this workbook grew from declared the table like this (a copy is kept in
`notebooks/mistakes/seed_table/`, next to a copy of `kms.tf`):

%% code
print(Path("mistakes/seed_table/dynamodb.tf").read_text())

%% md
Look at `billing_mode` and the two capacity lines. `PAY_PER_REQUEST` is *on-demand* billing: DynamoDB
scales reads and writes by itself and bills each request. `read_capacity` and `write_capacity` reserve
a fixed throughput; they belong to the other mode, `PROVISIONED`.

## Step 2 · Let the provider judge it

The AWS provider checks this combination before it calls AWS. kmslab's Terraform runs the same check
when it reads the folder:

%% code
try:
    lab.terraform("mistakes/seed_table").plan()
except ConfigurationError as error:
    print(error)
    assert 'read_capacity can not be set when billing_mode is "PAY_PER_REQUEST"' in str(error)
else:
    raise AssertionError("the seed tutorial's table should have been refused")

%% md
Two errors, one per capacity line, and the file and line of the resource. Nothing was sent to AWS.
Note that `terraform validate` does not catch this; `terraform plan` does. The fix is to delete both
lines (setting them to `0` would also pass). The bundled `dynamodb.tf` does just that:

%% code
print((TERRAFORM_DIR / "dynamodb.tf").read_text())

%% md
The `server_side_encryption` block is where the key comes in. `enabled = true` together with
`kms_key_arn` means: encrypt this table with *that* customer managed key. The value is a reference,
`aws_kms_key.dynamodb_key.arn`, so Terraform knows to create the key first and to fill in its ARN.
(`var.name_prefix` is empty in the lab, so the table is `my-encrypted-table`; in a real account shared
by several learners, a prefix keeps their tables apart.)

## Step 3 · Plan and apply the table

%% code
tf = stack(lab)
print(tf.plan(target="aws_dynamodb_table.encrypted_table"))

%% md
Only the table is to be added: the state remembers the key from notebook 01.

%% code
outputs = tf.apply(target="aws_dynamodb_table.encrypted_table")

%% md
## Step 4 · Read the table's encryption settings

%% code
ddb = boto3.client("dynamodb")
table = ddb.describe_table(TableName=outputs["dynamodb_table_name"])["Table"]
print("TableStatus:", table["TableStatus"])
print("BillingMode:", table["BillingModeSummary"]["BillingMode"])
print(json.dumps(table["SSEDescription"], indent=2))
assert table["SSEDescription"]["KMSMasterKeyArn"] == outputs["kms_key_arn"]

%% md
`SSEType: KMS` with `KMSMasterKeyArn` naming your key: the table is protected by it.

## Step 5 · What DynamoDB did with your key

Creating the table was not a DynamoDB affair only. The lab's trail shows the KMS calls that DynamoDB
made while creating it:

%% code
lab.trail.filter(service="kms", invoked_by="dynamodb.amazonaws.com")

%% md
- `DescribeKey` and `CreateGrant` carry **your** identity (`lab-admin`), made by DynamoDB on your
  behalf: whoever picks a customer managed key for a table must be allowed to use it, including
  `kms:CreateGrant`.
- The grant gives **DynamoDB itself** the right to use the key for this table, and only for it:

%% code
kms = boto3.client("kms")
for grant in kms.list_grants(KeyId=outputs["kms_key_id"])["Grants"]:
    print("grantee:     ", grant["GranteePrincipal"])
    print("operations:  ", ", ".join(grant["Operations"]))
    print("constraints: ", grant["Constraints"])

%% md
- With that grant, DynamoDB made `GenerateDataKey` as itself (`who: dynamodb`): it created the table's
  own data key, the **table key**, and stored it encrypted under your key. The table key encrypts the
  data; your key encrypts the table key. To read or write the table later, DynamoDB must first ask KMS
  to decrypt the table key, and that request is made in the caller's name. That is the second lock you
  will meet in notebook 04.

## Step 6 · Three kinds of keys, side by side

DynamoDB offers three choices. Make two small tables to see the other two, and compare them with yours:

%% code
key_schema = {
    "BillingMode": "PAY_PER_REQUEST",
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
}
ddb.create_table(TableName="compare-aws-owned", **key_schema)
ddb.create_table(TableName="compare-aws-managed", SSESpecification={"Enabled": True, "SSEType": "KMS"}, **key_schema)

for name in ("compare-aws-owned", "compare-aws-managed", "my-encrypted-table"):
    sse = ddb.describe_table(TableName=name)["Table"].get("SSEDescription")
    if sse is None:
        print(f"{name:21} no SSEDescription: the AWS owned key")
    else:
        manager = kms.describe_key(KeyId=sse["KMSMasterKeyArn"])["KeyMetadata"]["KeyManager"]
        print(f"{name:21} SSEType {sse['SSEType']}, a key managed by {manager}")

%% md
| | AWS owned key | AWS managed key `aws/dynamodb` | customer managed key |
|---|---|---|---|
| Terraform | no `server_side_encryption` block, or `enabled = false` | `enabled = true`, no `kms_key_arn` | `enabled = true` and `kms_key_arn` |
| in `DescribeTable` | no `SSEDescription` | `SSEType: KMS`, key manager `AWS` | `SSEType: KMS`, key manager `CUSTOMER` |
| who decides who reads | DynamoDB permissions only | DynamoDB permissions only: its key policy lets every principal of the account use it through DynamoDB | DynamoDB permissions **and** your key policy / IAM |
| you can read / change the key policy | no / no | yes / no | yes / yes |
| disable, rotate, delete | no | no (AWS rotates it) | yes |
| KMS calls in your trail | none | yes | yes |
| cost | no extra charge | KMS request charges | about $1 per month plus KMS requests |

Only the last column lets you say no to someone who has every DynamoDB permission. The two comparison
tables have served their purpose:

%% code
for name in ("compare-aws-owned", "compare-aws-managed"):
    ddb.delete_table(TableName=name)
print(ddb.list_tables()["TableNames"])

%% md
## Check your understanding

%% code
quiz(2, 1).widget()

%% code
quiz(2, 2).widget()

%% md
## On your own

- Copy `mistakes/seed_table` to a folder of your own, set `billing_mode = "PROVISIONED"`, and pass it to
  `lab.terraform(...)`. Does the provider accept the capacity lines now?
- Find the `CreateGrant` record in `lab.trail` and print its `requestParameters`.

## In real AWS

- **What differs.** A real table is `CREATING` for a few seconds before it is `ACTIVE`; here it is
  active at once. Called directly (without Terraform), the real DynamoDB API also refuses capacity with
  `PAY_PER_REQUEST`, with a `ValidationException` in its own words; the emulator's wording differs.
- **Simulated.** moto's DynamoDB never calls KMS. The `DescribeKey`, `CreateGrant` and
  `GenerateDataKey` records, and the grant itself, are made by kmslab's enforcement point the way the
  DynamoDB Developer Guide describes them; it also reports the key's ARN in `SSEDescription`, as AWS
  does, where moto would echo whatever key reference it was given.
- **Cost.** An empty on-demand table costs nothing but storage; requests are billed as they come. The
  key costs about $1 per month, and DynamoDB's requests to it are KMS requests you pay for. The two
  comparison tables, deleted at once, would cost nothing measurable.
- SIMULATED_TEXT
- **Controls.** NIST SP 800-53 **SC-28** (protection of information at rest): the table's data is
  encrypted under a key you control. **SC-12**: DynamoDB's access to the key is a grant, scoped to one
  table by its encryption context.

## What's next

[03 · Put a test item in the locked table](03_put_a_test_item.ipynb): write and read as the admin, and
catch DynamoDB asking KMS in your name.
'''

NB03 = r'''
%% md
# 03 · Put a test item in the locked table

**What you'll do:** Write an item, read it back as the admin, and find DynamoDB's calls to your key in
the trail.

**What you'll learn:**
- `put_item` and `get_item` with DynamoDB's typed attribute values;
- that every read and write of the table needs `kms:Decrypt`, made by DynamoDB **in the caller's name**;
- how DynamoDB's five-minute cache of the table key shows up in the trail;
- what encryption at rest protects, and what it does not.

**Prerequisites:** [02 · Build the locked table](02_build_the_locked_table.ipynb). · **Time to learn:**
15 minutes

%% code
from kmslab.workbook import start
lab = start(step=3)

%% code
import json

import boto3

from kmslab.workbook import quiz

%% md
## Step 1 · Put an item

The low-level client writes each attribute with its type: `{"S": ...}` is a string. `id` is the table's
partition key (`hash_key = "id"` in `dynamodb.tf`).

%% code
TABLE = "my-encrypted-table"
ddb = boto3.client("dynamodb")
item = {
    "id": {"S": "entry-001"},
    "entry": {"S": "Dear diary: the spare key is under the blue flowerpot."},
}
response = ddb.put_item(TableName=TABLE, Item=item)
print(response["ResponseMetadata"]["HTTPStatusCode"])

%% md
## Step 2 · Read it back

%% code
found = ddb.get_item(TableName=TABLE, Key={"id": {"S": "entry-001"}})["Item"]
print(found["entry"]["S"])
assert found == item

%% md
The item comes back in plain text. Encryption at rest happened out of sight: DynamoDB encrypted the item
before storing it and decrypted it to answer.

## Step 3 · Look in the trail

%% code
lab.trail.last(3)

%% md
Between your two calls there is a third that you did not make: `kms:Decrypt`, with `lab-admin` as the
caller and `dynamodb.amazonaws.com` in the *on behalf via* column. Look at it closely:

%% code
decrypt = lab.trail.filter(service="kms", event="Decrypt")[-1]
shown = ("eventSource", "eventName", "userIdentity", "invokedBy", "sourceIPAddress", "requestParameters")
print(json.dumps({field: decrypt[field] for field in shown}, indent=2))

%% md
- `userIdentity` is **you**: DynamoDB asks KMS to decrypt the table key in the name of whoever is
  reading or writing. So that person needs `kms:Decrypt` on the key. Writes too: a `PutItem` needs the
  table key as much as a `GetItem`.
- `invokedBy` and `sourceIPAddress` say the request came through DynamoDB.
- `encryptionContext` names the table and the account. KMS checks it, and policies can test it (you will
  use it in notebook 05).

The `PutItem` triggered the `Decrypt`; the `GetItem` right after did not. DynamoDB keeps the decrypted
table key in memory for a connection, for about five minutes, instead of asking KMS on every request.

## Step 4 · Wait five minutes

%% code
lab.advance(minutes=5)
ddb.get_item(TableName=TABLE, Key={"id": {"S": "entry-001"}})
lab.trail.filter(service="kms", event="Decrypt")

%% md
Five minutes of lab time later, the next read asked KMS again: a second `Decrypt`. This cache matters
twice in this workbook. It saves KMS requests (and money). And when you take a permission away or
disable the key, a connection that holds the table key keeps working until its cached key expires: you
will see it in notebook 06.

## Step 5 · What encryption at rest protects, and what it does not

It protects against:
- reading the stored data without the key: disks, backups and storage media hold only ciphertext;
- callers who have DynamoDB permissions but no permission on your key (notebook 04);
- everyone at once, when you disable or delete the key (notebook 06).

It does not protect against:
- a caller who holds **both** permissions: for them, DynamoDB decrypts, as it just did for you;
- what your application does with the plaintext it reads, or flaws in that application;
- the table's metadata: its name, key schema and settings stay readable to anyone with
  `dynamodb:DescribeTable`.

If DynamoDB itself must never see plaintext, the answer is to encrypt on the client before writing,
which is another topic.

## Check your understanding

%% code
quiz(3, 1).widget()

%% code
quiz(3, 2).widget()

%% md
## On your own

- Put a second item with a number attribute (`{"N": "42"}`) and read it back with `scan`.
- Without advancing the clock, read three times. How many `Decrypt` records appear? Then advance by
  `seconds=299`, then by `seconds=1`, reading after each.

## In real AWS

- **CloudTrail.** KMS calls are management events: CloudTrail records them, including the `Decrypt`
  DynamoDB makes for you. DynamoDB's item calls (`PutItem`, `GetItem`, `Scan`) are *data events*:
  CloudTrail logs them only if you configure a trail for them, which is billed. CloudTrail also delivers
  events some minutes after the call; the lab's trail has them at once.
- **The cache.** AWS documents that DynamoDB caches the plaintext table key per connection and asks KMS
  again after five minutes. kmslab models one connection per access key and table, and 300 seconds on the
  lab clock from the `Decrypt` that fetched the key.
- **Cost.** On-demand reads and writes of a few items cost a fraction of a cent; each `Decrypt` is a KMS
  request, which the cache keeps rare.
- SIMULATED_TEXT
- **Controls.** NIST SP 800-53 **SC-28**: data at rest is stored encrypted. **AU-2 / AU-12** (event
  logging, audit record generation): every use of the key, even one made by a service on your behalf,
  leaves a record naming who it was for.

## What's next

[04 · Meet the denied user](04_the_denied_user.ipynb): a database admin with every DynamoDB permission,
turned away by your key.
'''

NB04 = r'''
%% md
# 04 · Meet the denied user

**What you'll do:** Create a user with `AmazonDynamoDBFullAccess` and watch your key refuse their
reads and writes.

**What you'll learn:**
- how `iam.tf` creates a user, attaches an AWS managed policy and issues an access key;
- how to act as another user with their own boto3 session;
- which calls need the key (item reads and writes) and which do not (`DescribeTable`);
- the two locks, explained by the lab, and the refused `Decrypt` in the trail;
- how each of five settings changes the outcome, in the playground.

**Prerequisites:** [03 · Put a test item](03_put_a_test_item.ipynb). · **Time to learn:** 30 minutes

%% code
from kmslab.workbook import start
lab = start(step=4)

%% code
import boto3
from botocore.exceptions import ClientError

from kmslab.workbook import TERRAFORM_DIR, Playground, quiz, stack

%% md
## Step 1 · Read `iam.tf`

%% code
print((TERRAFORM_DIR / "iam.tf").read_text())

%% md
Three resources: the user (`dynamo_test_user`: the name prefix is empty in the lab), the attachment of
the AWS managed policy `AmazonDynamoDBFullAccess`, and an access key, so that the user can sign API
requests.

## Step 2 · Apply the whole stack

No `target` this time: Terraform compares the whole folder with its state and adds what is missing.

%% code
tf = stack(lab)
print(tf.plan().summary)
outputs = tf.apply()

%% md
The secret of the access key is an output marked `sensitive`: Terraform does not print it. It is still
stored in the state, in plain text, which is one reason to guard state files.

## Step 3 · What `AmazonDynamoDBFullAccess` allows

%% code
iam = boto3.client("iam")
FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
version_id = iam.get_policy(PolicyArn=FULL_ACCESS)["Policy"]["DefaultVersionId"]
document = iam.get_policy_version(PolicyArn=FULL_ACCESS, VersionId=version_id)["PolicyVersion"]["Document"]
actions = document["Statement"][0]["Action"]
print(version_id, [action for action in actions if action.startswith(("dynamodb:", "kms:"))])

%% md
`dynamodb:*`: every DynamoDB action on every table. Of KMS, only `kms:DescribeKey` and `kms:ListAliases`:
enough to see keys, not to use them.

## Step 4 · Become the user

`lab.session_for(...)` returns a boto3 session signed with the user's access key, as if the user ran the
code on their own machine.

%% code
TABLE = outputs["dynamodb_table_name"]
user = lab.session_for("dynamo_test_user")
user_ddb = user.client("dynamodb")
print(user.client("sts").get_caller_identity()["Arn"])

%% md
## Step 5 · What works: calls that do not touch the data

%% code
table = user_ddb.describe_table(TableName=TABLE)["Table"]
print(table["TableStatus"], table["KeySchema"], table["SSEDescription"]["KMSMasterKeyArn"], sep="\n")

%% md
`DescribeTable` reads the table's settings, not its items: no table key needed, so no KMS call.

## Step 6 · What fails: reading the data

%% code
try:
    user_ddb.scan(TableName=TABLE)
except ClientError as error:
    print(error)
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert "is not authorized to perform: kms:Decrypt" in error.response["Error"]["Message"]
else:
    raise AssertionError("the scan should have been refused")

%% md
Read the message from the inside out. DynamoDB asked KMS to decrypt the table key for
`dynamo_test_user`; KMS answered that the user *is not authorized to perform: kms:Decrypt on resource:*
your key, *because no identity-based policy allows the kms:Decrypt action*; DynamoDB passed the refusal
on as `AccessDeniedException`, "KMS key access denied error".

## Step 7 · The two locks

`lab.why()` explains the last refused call, lock by lock:

%% code
why = lab.why()
print(why)

%% md
The first lock, DynamoDB's, opened: `AmazonDynamoDBFullAccess` allows `dynamodb:Scan`. The second, the
key's, stayed shut. Here is KMS's decision in full, with the order in which AWS evaluates it:

%% code
print(why.checks[-1].decision)

%% md
The key policy **delegates** to IAM (the root statement from notebook 01), so the decision is IAM's; and
no IAM policy of the user allows `kms:Decrypt`. An implicit deny: nobody said no, but nobody said yes.

Writes meet the same lock, and so does every other way of reading items:

%% code
attempts = {
    "GetItem": lambda: user_ddb.get_item(TableName=TABLE, Key={"id": {"S": "entry-001"}}),
    "PutItem": lambda: user_ddb.put_item(TableName=TABLE, Item={"id": {"S": "entry-002"}}),
    "Query": lambda: user_ddb.query(TableName=TABLE, KeyConditionExpression="id = :id",
                                    ExpressionAttributeValues={":id": {"S": "entry-001"}}),
}
for name, attempt in attempts.items():
    try:
        attempt()
    except ClientError as error:
        print(f"{name:8} refused: {error.response['Error']['Code']}")
        assert error.response["Error"]["Code"] == "AccessDeniedException"
    else:
        raise AssertionError(f"{name} should have been refused")

%% md
## Step 8 · The refused `Decrypt` in the trail

%% code
lab.trail.filter(user="dynamo_test_user").last(5)

%% md
For each refused call there are two records: DynamoDB's call, refused with `AccessDeniedException`, and
before it the `kms:Decrypt` that DynamoDB made for the user, refused with `AccessDenied`. In a real
account the KMS record is the one you would find in CloudTrail: it names the user, the key, the table (in
the encryption context) and the refusal.

%% code
refused = lab.trail.filter(service="kms", event="Decrypt", user="dynamo_test_user", denied=True)[-1]
print(refused["errorCode"], "|", refused["invokedBy"], "|", refused["requestParameters"]["encryptionContext"])

%% md
## Step 9 · The playground

Five settings decide whether the user's scan works:

1. **DynamoDB permission**: is `AmazonDynamoDBFullAccess` attached to the user?
2. **KMS permission in IAM**: does a policy of the user allow `kms:Decrypt` on the key?
3. **Root delegation**: does the key policy let IAM decide (the statement naming the account)?
4. **A key-policy statement for the user**: does the key policy itself allow the user (through DynamoDB)?
5. **Key enabled**: is the key usable at all?

Each change is a real boto3 call as `lab-admin` (attach or detach a policy, put or delete a user policy,
put a key policy, enable or disable the key); then the playground lets five minutes of lab time pass, so
that no cached table key hides the change, and scans as the user. Every key policy it writes keeps a
statement that lets `lab-admin` *manage* the key (not use it), so that you can always switch back.

Predict the outcome before you press **Apply and scan**.

%% code
playground = Playground(lab)
playground.widget()

%% md
The same playground answers in code. As the lab stands now:

%% code
print(playground.apply().headline)

%% md
Give the user `kms:Decrypt` in IAM: both locks open.

%% code
result = playground.set(kms_in_iam=True)
print(result)

%% md
Now take root delegation out of the key policy, keeping the IAM allow:

%% code
result = playground.set(root_delegation=False)
print(result.headline)
for lock in result.locks:
    print(lock.text())

%% md
Refused, although IAM allows it: *no resource-based policy allows the kms:Decrypt action*. For a KMS
key, an IAM allow counts only if the key policy lets it count. Without delegation, only the key policy
can grant; so give the user a statement of their own, and drop the IAM policy:

%% code
print(playground.set(key_policy_for_user=True, kms_in_iam=False).headline)

%% md
And a disabled key refuses everyone, whatever the policies say:

%% code
result = playground.set(key_enabled=False)
print(result.headline)
print(result.error_message)

%% md
Put the settings back as `terraform/` left them (the key policy keeps the playground's
key-administrators statement, which changes nothing for the user):

%% code
print(playground.set(key_enabled=True, key_policy_for_user=False, root_delegation=True).headline)
print(playground.settings.text())

%% md
## Check your understanding

%% code
quiz(4, 1).widget()

%% code
quiz(4, 2).widget()

%% md
## On your own

- In the playground, turn **DynamoDB permission** off and **KMS permission in IAM** on. Which lock
  refuses now, and what does the error say?
- Can `lab-admin` still read the table with root delegation off? Try
  `boto3.client("dynamodb").scan(TableName=TABLE)` after `playground.set(root_delegation=False)`, and
  explain with `lab.why()`.

## In real AWS

- **The error text.** The prefix `KMS key access denied error: com.amazonaws.services.kms.model.AWSKMSException`
  is the form reported in public issues. The part after it, *... because no identity-based policy allows
  the kms:Decrypt action*, follows IAM's current wording for access-denied messages; kmslab could not
  find a verbatim recent example for a DynamoDB read, so that sentence is inferred. The request IDs are
  the lab's.
- **Long-lived access keys.** This workbook gives an IAM user an access key because the seed tutorial
  does. In a real account, people should sign in through IAM Identity Center or assume roles, and the
  secret of an access key created by Terraform sits in the state file in plain text.
- **Cost.** IAM users, policies and access keys are free.
- SIMULATED_TEXT
- **Controls.** NIST SP 800-53 **AC-5** (separation of duties): managing DynamoDB and reading its data
  now need different permissions. **AC-6** (least privilege): `AmazonDynamoDBFullAccess` is broad, yet
  the key keeps it away from the data. **AU-2 / AU-12**: the refusal is logged with the user's identity.

## What's next

[05 · Grant least-privilege access](05_least_privilege.ipynb): open the key to this user, for this table,
through DynamoDB only.
'''

NB05 = r'''
%% md
# 05 · Grant least-privilege access

**What you'll do:** Let the test user read the table through DynamoDB only, for this table only: first
with the key policy, then with an IAM policy that you write.

**What you'll learn:**
- the two condition keys that narrow a KMS permission to DynamoDB and to one table:
  `kms:ViaService` and `kms:EncryptionContext:aws:dynamodb:tableName`;
- how a key-policy statement and an IAM policy each grant the same access, and how they differ;
- why the user still cannot call `kms:Decrypt` directly.

**Prerequisites:** [04 · Meet the denied user](04_the_denied_user.ipynb). · **Time to learn:** 35 minutes

%% code
from kmslab.workbook import start
lab = start(step=5)

%% code
import json

import boto3
from botocore.exceptions import ClientError

from kmslab.workbook import LeastPrivilegeExercise, ____, quiz, stack

%% code
outputs = stack(lab).outputs
TABLE = outputs["dynamodb_table_name"]
key_arn = outputs["kms_key_arn"]
user_arn = outputs["test_user_arn"]
kms = boto3.client("kms")
user = lab.session_for("dynamo_test_user")
user_ddb = user.client("dynamodb")
user_kms = user.client("kms")

%% md
## Step 1 · What DynamoDB tells KMS

A refused scan, to look at the request DynamoDB makes for the user:

%% code
try:
    user_ddb.scan(TableName=TABLE)
except ClientError as error:
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    print("refused:", error.response["Error"]["Code"])
request = lab.trail.filter(service="kms", event="Decrypt", user="dynamo_test_user")[-1]
print(json.dumps(request["requestParameters"]["encryptionContext"], indent=2))

%% md
Two facts about that request can be tested in a policy:

- **`kms:ViaService`** is `dynamodb.us-east-1.amazonaws.com`: KMS sets it when an AWS service makes the
  request on a principal's behalf. When the user calls KMS directly, the key is absent, and a condition
  on it is false.
- **`kms:EncryptionContext:aws:dynamodb:tableName`** is the table's name, from the encryption context
  above. A condition on it limits the permission to one table, even if other tables share the key.

The permission to grant is `kms:Decrypt`, for reads and for writes alike.

## Step 2 · Way one: a statement in the key policy

Add a statement that names the user, to the key policy. In a key policy, `"Resource": "*"` means "this
key".

%% code
default_policy = kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"]
policy = json.loads(default_policy)
policy["Statement"].append({
    "Sid": "TestUserReadsTheTableThroughDynamoDB",
    "Effect": "Allow",
    "Principal": {"AWS": user_arn},
    "Action": "kms:Decrypt",
    "Resource": "*",
    "Condition": {"StringEquals": {
        "kms:ViaService": "dynamodb.us-east-1.amazonaws.com",
        "kms:EncryptionContext:aws:dynamodb:tableName": TABLE,
    }},
})
kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))

items = user_ddb.scan(TableName=TABLE)["Items"]
print(items[0]["entry"]["S"])

%% md
The user reads the table. Now the same user, the same key, but not through DynamoDB: `lab-admin` seals a
note with the key, and the user tries to open it.

%% code
sealed = kms.encrypt(KeyId=key_arn, Plaintext=b"a note sealed with the table's key")["CiphertextBlob"]
try:
    user_kms.decrypt(CiphertextBlob=sealed)
except ClientError as error:
    print(error)
    assert error.response["Error"]["Code"] == "AccessDeniedException"
else:
    raise AssertionError("a direct Decrypt should have been refused")

%% code
print(lab.why().checks[-1].decision)

%% md
The statement did not match: no `kms:ViaService` in a direct request. Now undo way one, and wait out the
user's cached table key:

%% code
kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=default_policy)
lab.advance(minutes=5)
try:
    user_ddb.scan(TableName=TABLE)
except ClientError as error:
    print("refused again:", error.response["Error"]["Code"])
    assert error.response["Error"]["Code"] == "AccessDeniedException"

%% md
## Step 3 · Way two: an IAM policy (your turn)

The key policy still delegates to IAM. So an IAM policy on the user can grant the same access. Write it:
replace each `____`, then run the cell. `exercise.check` puts your policy on the user for a moment, asks
the questions that matter (does DynamoDB's `Decrypt` for this table pass? a direct one? one for another
table? any other KMS action?), runs the user's real scan, and tells you what to change. A correct policy
stays on the user; a wrong one is taken away.

%% code
exercise = LeastPrivilegeExercise(lab)

my_policy = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": ____,       # which KMS action does DynamoDB make for a reader?
        "Resource": ____,     # which key? (key_arn holds its ARN)
        "Condition": ____,    # through DynamoDB only, for this table only
    }],
}
exercise.check(my_policy)

%% md
Stuck? Ask for a hint, then another:

%% code
exercise.hint()

%% code
exercise.hint()

%% md
And if you want to compare, the solution:

%% code
exercise.solution()

%% md
Before the solution is checked, two answers that look right but are not, and what the checker says:

%% code
too_wide = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn}]}
print(exercise.check(too_wide))

only_via = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn,
     "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}}]}
print(exercise.check(only_via))

%% md
Neither stayed on the user. Now check the solution (or keep your own answer in `my_policy` and run
`exercise.check(my_policy)`):

%% code
my_policy = exercise.solution_policy
exercise.check(my_policy)

%% md
The user reads through DynamoDB, and still cannot decrypt directly:

%% code
print(user_ddb.scan(TableName=TABLE)["Count"], "item(s)")
try:
    user_kms.decrypt(CiphertextBlob=sealed)
except ClientError as error:
    print("direct Decrypt:", error.response["Error"]["Code"])
    assert error.response["Error"]["Code"] == "AccessDeniedException"

%% md
## Step 4 · Key policy or IAM: what is the difference?

Both ways gave the same access. They differ in **who can change it**, and in **what it depends on**:

| | a statement in the key policy | an IAM policy on the user |
|---|---|---|
| lives with | the key | the user |
| changed by | principals the key policy allows `kms:PutKeyPolicy` | principals allowed to edit IAM policies (`iam:PutUserPolicy`...) |
| works if the key policy has no root delegation | yes | **no**: the IAM allow is ignored |
| where an auditor looks to see who can use the key | one place: the key policy | the key policy **and** every IAM policy in the account |

With root delegation in the key policy, anyone who can edit IAM policies can grant themselves the key:
`lab-admin` could, right now. A key policy without delegation, naming its users and its administrators,
keeps key access in the hands of the key's administrators: separation of duties, enforced by the key.
That is stricter, and more work: the key policy must be kept up to date, and a key policy that locks out
its own administrators is refused by KMS (its *lockout safety check*).

## Check your understanding

%% code
quiz(5, 1).widget()

%% code
quiz(5, 2).widget()

%% md
## On your own

- AWS's own example key policy for DynamoDB uses `"StringLike": {"kms:ViaService": "dynamodb.*.amazonaws.com"}`,
  so that global tables in other regions work too. Write that variant of your IAM policy and check it.
- Add `"kms:CallerAccount": "123456789012"` to the conditions. Does the checker still accept it?

## In real AWS

- **The condition keys** (`kms:ViaService`, `kms:EncryptionContext:aws:dynamodb:tableName` and
  `...:subscriberId`) are the ones DynamoDB and KMS document; DynamoDB sends the table name and the
  account ID as encryption context with every request.
- **Writes need `kms:Decrypt` too**, which is easy to miss: a public issue shows `PutItem` failing with
  "KMS key access denied error" until `kms:Decrypt` was added.
- **Timing.** In AWS, policy changes are eventually consistent (AWS gives no fixed delay), and on top of
  that a connection that holds a cached table key keeps it for up to about five minutes. kmslab applies
  policy changes at once and models the cache as 300 seconds.
- **Cost.** Policies are free; nothing here adds to the bill.
- SIMULATED_TEXT
- **Controls.** NIST SP 800-53 **AC-6** (least privilege): one action, one key, one table, one path.
  **AC-5** (separation of duties): a key policy without delegation keeps IAM administrators away from the
  data. **AC-3** (access enforcement): KMS enforces both documents together.

## What's next

[06 · Disable, revoke, delete and rotate the key](06_the_keys_lifecycle.ipynb): disable the key, revoke access, schedule the
key's deletion and cancel it, and turn on rotation.
'''

NB06 = r'''
%% md
# 06 · Disable, revoke, delete and rotate the key

**What you'll do:** Put the key through its lifecycle and watch the table follow it.

**What you'll learn:**
- that disabling the key locks out everyone, the admin too, once the cached table key expires;
- how DynamoDB marks a table whose key is unusable (`INACCESSIBLE_ENCRYPTION_CREDENTIALS`);
- that revoking a permission takes effect only when the cached table key expires;
- what scheduling a deletion does, and that cancelling it leaves the key **disabled**;
- what automatic rotation changes, and what it does not.

**Prerequisites:** [05 · Grant least-privilege access](05_least_privilege.ipynb). · **Time to learn:**
30 minutes

%% code
from kmslab.workbook import start
lab = start(step=6)

%% code
import boto3
from botocore.exceptions import ClientError

from kmslab.workbook import quiz, stack

%% md
The lab starts where notebook 05 ended: the test user holds the least-privilege policy
`read-through-dynamodb`. Both the admin and the user can read:

%% code
outputs = stack(lab).outputs
TABLE = outputs["dynamodb_table_name"]
key_id = outputs["kms_key_id"]
kms = boto3.client("kms")
admin_ddb = boto3.client("dynamodb")
user_ddb = lab.session_for("dynamo_test_user").client("dynamodb")
print("admin reads", admin_ddb.scan(TableName=TABLE)["Count"], "item(s);",
      "user reads", user_ddb.scan(TableName=TABLE)["Count"], "item(s)")

%% md
## Step 1 · Disable the key

%% code
kms.disable_key(KeyId=key_id)
disabled_at = lab.now
print(kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])

%% md
KMS refuses every cryptographic operation with a disabled key, at once, whoever asks:

%% code
try:
    kms.encrypt(KeyId=key_id, Plaintext=b"anything")
except ClientError as error:
    print(error)
    assert error.response["Error"]["Code"] == "DisabledException"

%% md
But the table still answers the admin: both connections hold the table key DynamoDB decrypted for them
a moment ago.

%% code
print(admin_ddb.scan(TableName=TABLE)["Count"], "item(s), from the cached table key")

%% md
Five minutes later, the cache has expired and DynamoDB must ask KMS again:

%% code
lab.advance(minutes=5)
for who, client in (("lab-admin", admin_ddb), ("dynamo_test_user", user_ddb)):
    try:
        client.scan(TableName=TABLE)
    except ClientError as error:
        print(f"{who}: {error}")
        assert error.response["Error"]["Code"] == "ValidationException"
        assert "DisabledException" in error.response["Error"]["Message"]

%% md
Everyone is locked out, the administrator included: no policy can open a disabled key. Note the error:
`ValidationException`, "KMS key disabled error", not an access denial.

DynamoDB also notices, after a while, that the table's key is unusable, and says so in the table's
status:

%% code
print(admin_ddb.describe_table(TableName=TABLE)["Table"]["TableStatus"], "at", lab.now.strftime("%H:%M"))
lab.advance(minutes=10)
table = admin_ddb.describe_table(TableName=TABLE)["Table"]
print(table["TableStatus"], "at", lab.now.strftime("%H:%M"))
print("noticed", table["SSEDescription"]["InaccessibleEncryptionDateTime"] - disabled_at, "after the key was disabled")

%% md
Enable the key again, and the table comes back:

%% code
kms.enable_key(KeyId=key_id)
print(admin_ddb.describe_table(TableName=TABLE)["Table"]["TableStatus"])
print(admin_ddb.scan(TableName=TABLE)["Count"], "item(s)")

%% md
## Step 2 · Revoke the user's access

Disabling the key is the big switch. To shut out one person, take their permission away. First the user
reads (and DynamoDB caches the table key for the user's connection); then the admin deletes the user's
policy:

%% code
print("before:", user_ddb.scan(TableName=TABLE)["Count"], "item(s)")
boto3.client("iam").delete_user_policy(UserName="dynamo_test_user", PolicyName="read-through-dynamodb")
print("just after:", user_ddb.scan(TableName=TABLE)["Count"], "item(s)")

%% md
The permission is gone, yet the user still reads: the cached table key does not ask KMS. Five minutes
later it does:

%% code
lab.advance(minutes=5)
try:
    user_ddb.scan(TableName=TABLE)
except ClientError as error:
    print(error.response["Error"]["Code"], "for dynamo_test_user")
    assert error.response["Error"]["Code"] == "AccessDeniedException"
else:
    raise AssertionError("the revoked user should have been refused")

%% md
When you revoke access in an emergency, count on up to about five minutes before it bites, and disable
the user's access keys too.

## Step 3 · Schedule the key's deletion, then cancel it

%% code
response = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
print(kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])
print("deleted in:", response["DeletionDate"] - lab.now)

%% md
While the deletion is pending, the key is as unusable as a disabled one (once the cache expires), with
a different error:

%% code
lab.advance(minutes=5)
try:
    admin_ddb.scan(TableName=TABLE)
except ClientError as error:
    print(error)
    assert "KMSInvalidStateException" in error.response["Error"]["Message"]

%% md
Changed your mind? Cancel within the window:

%% code
kms.cancel_key_deletion(KeyId=key_id)
print(kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])

%% md
**Disabled**, not Enabled: cancelling a deletion does not make the key usable again. You decide that
separately:

%% code
kms.enable_key(KeyId=key_id)
print(kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])
print(admin_ddb.scan(TableName=TABLE)["Count"], "item(s)")

%% md
Had the window ended, KMS would have deleted the key, and everything encrypted under it, this table
included, would be unreadable for good. Notebook 07 lets that happen.

## Step 4 · Turn on automatic rotation

%% code
print("before:", kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"])
kms.enable_key_rotation(KeyId=key_id)
print("after: ", kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"])

%% md
With rotation on, KMS creates new key material for the key on a schedule (every year unless you set
another period, 90 to 2560 days) and encrypts with the newest material from then on. It keeps all the
earlier material, so whatever was encrypted before still decrypts. The key's ID and ARN do not change:
the table, its policies and your Terraform do not notice. In Terraform it is one argument of
`aws_kms_key`: `enable_key_rotation = true` (and `rotation_period_in_days`).

Rotation limits how much data any one piece of key material protects. It is not a way to cut anyone
off: whoever may use the key may use it after a rotation too.

## Check your understanding

%% code
quiz(6, 1).widget()

%% code
quiz(6, 2).widget()

%% md
## On your own

- Disable the key, then advance the clock by 4 minutes, then by 1 minute, scanning as the admin after
  each. When exactly does the scan fail?
- Schedule the deletion with `PendingWindowInDays=30` and print `DeletionDate - lab.now`.

## In real AWS

- **Disabling.** KMS refuses a disabled key at once (subject to eventual consistency). DynamoDB's reads
  fail once its cached table key is refreshed, about five minutes later: AWS documents the five-minute
  cache; the failure after about five and a half minutes was observed in one unofficial probe.
- **The error code.** `ValidationException` with "KMS key disabled error" was observed in that probe, not
  documented by AWS; the pending-deletion form ("KMS validation error ... KMSInvalidStateException") was
  observed on `CreateTable` and kmslab assumes it for reads too.
- **The table's status.** AWS documents `INACCESSIBLE_ENCRYPTION_CREDENTIALS`, and that a table whose
  key stays inaccessible for more than seven days is archived (after an on-demand backup). It does not
  say how soon the status appears; the probe saw 13 to 43 minutes after `DisableKey` and about 75
  minutes after `ScheduleKeyDeletion`. kmslab uses 15 and 75 minutes; seven days later it shows the
  table as `ARCHIVED` with its `ArchivalSummary`, but does not model the archival backup or a restore.
- **Deletion.** The window is 7 to 30 days, and the actual deletion may come up to a day later than
  scheduled.
- **Cost.** The key is billed about $1 per month while it exists. How disabled keys, keys pending
  deletion and rotated key material are billed, kmslab's sources do not settle: check the AWS KMS pricing
  page before you rely on it.
- SIMULATED_TEXT
- **Controls.** NIST SP 800-53 **SC-12** (cryptographic key establishment and management): disable,
  schedule deletion, cancel and rotate are the key's lifecycle. **AC-2** (account management) and
  **AC-6**: revoking a permission, and knowing when it takes effect. **SC-28**: a disabled key protects
  the data even from administrators.

## What's next

[07 · Clean up](07_clean_up.ipynb): destroy the stack, and watch the key's last week.
'''

NB07 = r'''
%% md
# 07 · Clean up: destroy the stack and let the key go

**What you'll do:** Destroy everything Terraform made, and see what stays behind.

**What you'll learn:**
- how `terraform destroy` orders its work, and why something made outside Terraform can stop it;
- that destroying an `aws_kms_key` schedules its deletion instead of deleting it;
- what happens when the deletion window ends;
- what the workbook would have cost in a real account.

**Prerequisites:** [06 · Disable, revoke, delete and rotate the key](06_the_keys_lifecycle.ipynb). · **Time to learn:**
15 minutes

%% code
from kmslab.workbook import start
lab = start(step=7)

%% code
import boto3
from botocore.exceptions import ClientError

from kmslab import ApplyError
from kmslab.workbook import stack

%% md
## Step 1 · Plan the destruction

%% code
tf = stack(lab)
key_id = tf.outputs["kms_key_id"]
plan = tf.plan(destroy=True)
print(plan.summary)

%% md
Five resources to destroy: the table, the key, the user, the user's policy attachment and access key.
(Print the whole `plan` to see every attribute going to `null`.)

## Step 2 · Destroy

%% code
try:
    tf.destroy()
except ApplyError as error:
    print(error)
    assert "DeleteConflict" in str(error)
else:
    raise AssertionError("the first destroy should have stopped at the user")

%% md
Terraform stopped at the last step. IAM refuses to delete a user who still has policies, and
`dynamo_test_user` has one Terraform does not know about: `read-through-dynamodb`, which you added in
notebook 05 with boto3, outside Terraform. What Terraform made and knows, it removes; what you added by
hand, you remove by hand. (`force_destroy = true` on `aws_iam_user` would tell Terraform to remove such
policies itself.) The state still holds exactly what remains:

%% code
print(list(tf.state))

%% code
iam = boto3.client("iam")
print(iam.list_user_policies(UserName="dynamo_test_user")["PolicyNames"])
iam.delete_user_policy(UserName="dynamo_test_user", PolicyName="read-through-dynamodb")
tf.destroy()

%% md
## Step 3 · What is left

%% code
print("tables:", boto3.client("dynamodb").list_tables()["TableNames"])
print("users: ", [user["UserName"] for user in iam.list_users()["Users"]])

%% md
The table and the test user are gone; `lab-admin` is the lab itself. And the key?

%% code
kms = boto3.client("kms")
metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
print(metadata["KeyState"])
print("deleted in:", metadata["DeletionDate"] - lab.now)

%% md
Terraform's destroy of `aws_kms_key` is a `ScheduleKeyDeletion` with `deletion_window_in_days` from
`kms.tf`: 7 days. Until then the key exists, unusable, and can still be saved with `CancelKeyDeletion`.

## Step 4 · The key's last week

%% code
lab.advance(days=6)
print(kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"], "after 6 days")
lab.advance(days=1)
try:
    kms.describe_key(KeyId=key_id)
except ClientError as error:
    print(error)
    assert error.response["Error"]["Code"] == "NotFoundException"

%% md
The key is gone. KMS itself made the deletion, and logged it:

%% code
deleted = lab.trail.filter(event="DeleteKey")[-1]
print(deleted["eventTime"], deleted["eventName"], "made by", deleted["invokedBy"])

%% md
From this moment, whatever was ever encrypted under the key, in this table or elsewhere, can never be
decrypted again.

## On your own

- Run the notebook again and, just before Step 4, cancel the deletion with
  `kms.cancel_key_deletion(KeyId=key_id)`. What state is the key in, and what does advancing the clock by
  7 days do to it now?
- Look for the `ScheduleKeyDeletion` record in `lab.trail`: who made it?

## In real AWS

- **Time.** `terraform destroy` of this stack takes about 16 to 19 seconds against an emulator; here it
  is immediate. The key is deleted at the end of its window, and AWS says the actual deletion may come
  up to 24 hours after the scheduled date.
- **What it cost.** The key is billed about $1 per month, prorated by the hour, for as long as it existed.
  Whether the 7-day waiting period is billed too, kmslab's sources do not confirm; at most it adds a
  week, about 23 cents. KMS requests ($0.03 per 10,000), DynamoDB's on-demand requests and storage for a
  few items: a few cents at most. IAM: free. A CloudTrail trail for data events, had you made one: billed
  per event.
- **What to delete by hand.** Anything made outside Terraform (like the policy above), and the Terraform
  state file, which holds the test user's secret access key in plain text.
- **Simulated.** kmslab's DynamoDB retires its grant on the key when the table is deleted, as DynamoDB
  does, and the trail records that `RetireGrant` as made by the service itself (`AWSService`).
- SIMULATED_TEXT
- **Controls.** NIST SP 800-53 **SC-12** (cryptographic key establishment and management): key
  destruction with a safeguard window. **AU-2 / AU-12**: the scheduling and the final deletion are both
  logged. **SC-28**: once the key is deleted, everything encrypted under it stays unreadable for good.

## What's next

That is the end of the workbook. Start again from
[00 · Welcome](00_welcome.ipynb), or open any notebook: each one rebuilds its own world in its first
cell.
'''

SOURCES = {
    "00_welcome": NB00,
    "01_forge_the_key": NB01,
    "02_build_the_locked_table": NB02,
    "03_put_a_test_item": NB03,
    "04_the_denied_user": NB04,
    "05_least_privilege": NB05,
    "06_the_keys_lifecycle": NB06,
    "07_clean_up": NB07,
}

# ---------------------------------------------------------------------------------------------------------
# Building and running
# ---------------------------------------------------------------------------------------------------------

_SEPARATOR = re.compile(r"^%% (md|code)\s*$", re.M)


def cells_of(source: str) -> list[tuple[str, str]]:
    """``[(kind, text), ...]`` from the ``%% md`` / ``%% code`` text."""
    source = source.replace("SIMULATED_TEXT", SIMULATED.replace("\n", " ").replace("  ", " "))
    parts = _SEPARATOR.split(source)
    if parts[0].strip():
        raise ValueError("text before the first cell separator")
    cells = []
    for kind, text in zip(parts[1::2], parts[2::2], strict=True):
        cells.append((kind, text.strip("\n")))
    return cells


def build(name: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for index, (kind, text) in enumerate(cells_of(SOURCES[name])):
        cell = nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
        cell.id = f"{name[:2]}-{index:02d}"
        nb.cells.append(cell)
    return nb


def execute(nb: nbformat.NotebookNode) -> None:
    client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=False, record_timing=False,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()


def stable_widget_ids(name: str, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Rename the widget models stored with the notebook to IDs that do not change from run to run.

    nbclient stores the widgets' state (so that a notebook opened without a kernel still shows them);
    their model IDs are random, which would make every rebuild rewrite every notebook. The IDs are only
    keys that the stored outputs and states use to point at each other, so a consistent renaming is safe.
    """
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    if not state:
        return nb
    text = json.dumps(nb)
    for number, model_id in enumerate(sorted(state, key=text.index)):
        stable = hashlib.sha256(f"{name}:{number}".encode()).hexdigest()[:32]
        text = text.replace(model_id, stable)
    return nbformat.from_dict(json.loads(text))


def coalesce_streams(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Join consecutive stdout (or stderr) outputs of a cell: how the kernel split them is chance."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        joined: list = []
        for output in cell.outputs:
            if (output.get("output_type") == "stream" and joined and joined[-1].get("output_type") == "stream"
                    and joined[-1].get("name") == output.get("name")):
                joined[-1]["text"] += output["text"]
            else:
                joined.append(output)
        cell.outputs = joined
    return nb


def problems_in(nb: nbformat.NotebookNode) -> list[str]:
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {cell.id}: stored error {output.get('ename')}")
            if output.get("name") == "stderr":
                found.append(f"cell {cell.id}: stderr output: {output.get('text', '')[:200]}")
            text = json.dumps(output)
            for bad in FORBIDDEN_IN_OUTPUTS:
                if bad in text:
                    found.append(f"cell {cell.id}: machine path {bad!r} in an output")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="*", help="build only notebooks whose names start with these")
    parser.add_argument("--no-execute", action="store_true", help="write the notebooks without running them")
    args = parser.parse_args(argv)
    names = [n for n in SOURCES if not args.only or any(n.startswith(p) for p in args.only)]
    failed = False
    for name in names:
        nb = build(name)
        started = time.perf_counter()
        if not args.no_execute:
            execute(nb)
            nb = stable_widget_ids(name, coalesce_streams(nb))
        seconds = time.perf_counter() - started
        problems = problems_in(nb) if not args.no_execute else []
        nbformat.validate(nb)
        nbformat.write(nb, NOTEBOOKS / f"{name}.ipynb")
        status = "ok" if not problems else "PROBLEMS"
        print(f"{name}.ipynb: {len(nb.cells)} cells, {seconds:.1f} s, {status}")
        for problem in problems:
            print(f"  - {problem}")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

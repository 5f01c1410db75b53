"""The trail is CloudTrail's: every record a lab run writes has CloudTrail's fields and nesting.

The sources are the CloudTrail user guide ("CloudTrail record contents", "CloudTrail userIdentity element",
"AWS service events", "Understanding CloudTrail events"), the KMS developer guide's log-entry examples
(``ct-decrypt``, ``ct-generatedatakey``, ``ct-delete-key``, ``ct-creategrant``...) and the DynamoDB
developer guide ("Monitoring DynamoDB interaction with AWS KMS", "Logging DynamoDB operations by using
AWS CloudTrail"). Each test names the rule it checks.
"""

from __future__ import annotations

import copy
import gzip
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from kmslab import Lab
from kmslab._directory import Principal
from kmslab._trail import (
    LOG_FILE_SCHEMA,
    MAX_RECORDS,
    RECORD_SCHEMA,
    Trail,
    event_category,
    make_record,
    read_only,
)

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")

ACCOUNT = "123456789012"
UNKNOWN_KEY = "AKIAEXAMPLEUNKNOWN01"


def _validators():
    record_schema = json.loads(RECORD_SCHEMA.read_text())
    log_schema = json.loads(LOG_FILE_SCHEMA.read_text())
    registry = referencing.Registry().with_resources([
        (record_schema["$id"], referencing.Resource.from_contents(record_schema)),
        (log_schema["$id"], referencing.Resource.from_contents(log_schema)),
    ])
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    return (jsonschema.Draft202012Validator(record_schema, registry=registry, format_checker=checker),
            jsonschema.Draft202012Validator(log_schema, registry=registry, format_checker=checker))


RECORD, LOG_FILE = _validators()


def _expect_refusal(call, code: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        call()
    assert excinfo.value.response["Error"]["Code"] == code


def lab_run() -> dict:
    """A learner's whole path through the workbook, on plain boto3 clients; the trail it leaves."""
    with Lab(quiet=True) as lab:
        out = lab.terraform("terraform").apply()
        table, key_id = out["dynamodb_table_name"], out["kms_key_id"]
        ddb, kms = lab.client("dynamodb"), lab.client("kms")
        ddb.put_item(TableName=table, Item={"id": {"S": "entry-001"}, "note": {"S": "hello"}})
        ddb.get_item(TableName=table, Key={"id": {"S": "entry-001"}})
        ddb.describe_table(TableName=table)
        ddb.list_tables()
        kms.describe_key(KeyId=key_id)
        kms.list_keys()
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
        kms.decrypt(CiphertextBlob=blob)
        lab.client("sts").get_caller_identity()
        lab.client("iam").list_users()
        # the denied user: DynamoDB's Decrypt for them is refused, and so is their own Encrypt
        user = lab.session_for(out["test_user_name"])
        _expect_refusal(lambda: user.client("dynamodb").scan(TableName=table), "AccessDeniedException")
        _expect_refusal(lambda: user.client("kms").encrypt(KeyId=key_id, Plaintext=b"x"), "AccessDeniedException")
        # a key the lab never issued
        stranger = boto3.client("dynamodb", aws_access_key_id=UNKNOWN_KEY, aws_secret_access_key="x" * 40,
                                region_name=lab.region)
        _expect_refusal(stranger.list_tables, "UnrecognizedClientException")
        emulator_style = boto3.client("kms", aws_access_key_id="test", aws_secret_access_key="test",
                                      region_name=lab.region)  # the key emulators accept, unknown here
        _expect_refusal(emulator_style.list_keys, "UnrecognizedClientException")
        # the key disabled, the cached table key expired: DynamoDB's Decrypt for lab-admin fails too
        kms.disable_key(KeyId=key_id)
        lab.advance(minutes=16)
        _expect_refusal(lambda: ddb.get_item(TableName=table, Key={"id": {"S": "entry-001"}}),
                        "ValidationException")
        kms.enable_key(KeyId=key_id)
        # the back doors: a backup, a refused restore, a legitimate one, a key switch, what is not modelled
        backup = ddb.create_backup(TableName=table, BackupName="nightly")["BackupDetails"]["BackupArn"]
        _expect_refusal(lambda: user.client("dynamodb").restore_table_from_backup(
            TargetTableName="stolen", BackupArn=backup), "AccessDeniedException")
        ddb.restore_table_from_backup(TargetTableName="restored", BackupArn=backup)
        ddb.update_table(TableName="restored", SSESpecification={"Enabled": False})
        _expect_refusal(lambda: ddb.list_global_tables(), "NotModelledInLab")
        _expect_refusal(lambda: user.client("dynamodb").execute_statement(
            Statement=f'SELECT * FROM "{table}"'), "AccessDeniedException")
        # the table deleted (DynamoDB retires its grant), the key scheduled for deletion, the window ends
        ddb.delete_table(TableName=table)
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        lab.advance(days=7)
        deleted_at = lab.clock.iso()
        return {"records": [copy.deepcopy(r) for r in lab.trail], "export": lab.trail.to_cloudtrail_json(),
                "key_id": key_id, "key_arn": out["kms_key_arn"], "table": table, "deleted_at": deleted_at,
                "admin_key": lab.session.get_credentials().access_key,
                "user_key": user.get_credentials().access_key}


@pytest.fixture(scope="module")
def run() -> dict:
    return lab_run()


def _find(records, name, **where):
    found = [r for r in records if r["eventName"] == name
             and all(r.get(k) == v or r["userIdentity"].get(k) == v for k, v in where.items())]
    assert found, f"no {name} record matching {where}"
    return found


# -- the schema, over everything a lab run writes ---------------------------------------------------

def test_every_record_of_a_lab_run_validates_against_the_cloudtrail_schema(run):
    """CloudTrail record contents: every record has CloudTrail's fields, and no other."""
    for record in run["records"]:
        errors = sorted(RECORD.iter_errors(record), key=str)
        assert not errors, f"{record['eventName']}: {[e.message for e in errors]}"
    kinds = {(r["eventType"], r["eventCategory"], r["userIdentity"].get("type"), "errorCode" in r)
             for r in run["records"]}
    # the run covers every shape the trail writes, so the check above cannot pass by having nothing to check
    assert ("AwsServiceEvent", "Management", None, False) in kinds
    assert ("AwsApiCall", "Data", "IAMUser", True) in kinds
    assert ("AwsApiCall", "Data", "IAMUser", False) in kinds
    assert ("AwsApiCall", "Management", "AWSService", False) in kinds
    assert ("AwsApiCall", "Management", "Unknown", True) in kinds
    assert ("AwsApiCall", "Management", "IAMUser", True) in kinds


def test_the_log_file_format_is_a_records_array_that_validates(run, tmp_path):
    """Understanding CloudTrail events: the event data is enclosed in a Records array."""
    data = json.loads(run["export"])
    assert list(data) == ["Records"]
    assert data["Records"] == run["records"]
    assert not list(LOG_FILE.iter_errors(data))


def test_the_log_file_is_written_plain_or_gzipped_as_cloudtrail_delivers_it(tmp_path):
    """CloudTrail delivers its log files as gzip-compressed JSON; both forms read back alike."""
    with Lab(quiet=True) as lab:
        lab.client("sts").get_caller_identity()
        plain = lab.trail.to_cloudtrail_json(tmp_path / "trail.json")
        lab.trail.to_cloudtrail_json(tmp_path / "trail.json.gz", indent=2)
    assert json.loads((tmp_path / "trail.json").read_text()) == json.loads(plain)
    assert json.loads(gzip.decompress((tmp_path / "trail.json.gz").read_bytes())) == json.loads(plain)
    assert json.loads(plain)["Records"][0]["eventName"] == "GetCallerIdentity"


@pytest.mark.parametrize("breakage, why", [
    (lambda r: r.update(invokedBy="dynamodb.amazonaws.com"), "invokedBy belongs to userIdentity only"),
    (lambda r: r["userIdentity"].pop("userName"), "an IAMUser identity names the user"),
    (lambda r: r.update(managementEvent=True), "a data event is not a management event"),
    (lambda r: r.update(eventID="not-a-guid"), "eventID is a GUID"),
    (lambda r: r.update(eventTime="2025-01-06 09:00:00"), "eventTime is UTC ISO 8601"),
    (lambda r: r.pop("eventCategory"), "eventCategory is always present"),
    (lambda r: r.update(errorMessage="x") or r.pop("errorCode"), "an errorMessage goes with an errorCode"),
])
def test_the_schema_refuses_a_record_that_is_not_cloudtrails(run, breakage, why):
    """The schema can fail: each documented rule, broken once in a real record, is refused."""
    record = copy.deepcopy(_find(run["records"], "Scan", userName="dynamo_test_user")[0])
    assert not list(RECORD.iter_errors(record))
    breakage(record)
    assert list(RECORD.iter_errors(record)), why


def test_the_schema_refuses_a_service_event_with_request_parameters(run):
    """AWS service events are not triggered by a request: requestParameters null (KMS DeleteKey example)."""
    record = copy.deepcopy(_find(run["records"], "DeleteKey")[0])
    assert not list(RECORD.iter_errors(record))
    record["requestParameters"] = {"keyId": run["key_id"]}
    assert list(RECORD.iter_errors(record))


# -- userIdentity and invokedBy ---------------------------------------------------------------------

def test_invoked_by_is_only_ever_inside_user_identity(run):
    """CloudTrail userIdentity element: invokedBy is a field of userIdentity, not of the record."""
    assert all("invokedBy" not in r for r in run["records"])


def test_the_decrypt_dynamodb_makes_carries_the_callers_identity_and_invoked_by(run):
    """DynamoDB guide, Decrypt example: the user is the principal accessing the table; invokedBy,
    sourceIPAddress and userAgent are dynamodb.amazonaws.com."""
    record = _find(run["records"], "Decrypt", userName="dynamo_test_user")[0]
    assert record["userIdentity"] == {
        "type": "IAMUser", "principalId": record["userIdentity"]["principalId"],
        "arn": f"arn:aws:iam::{ACCOUNT}:user/dynamo_test_user", "accountId": ACCOUNT,
        "accessKeyId": run["user_key"], "userName": "dynamo_test_user", "invokedBy": "dynamodb.amazonaws.com"}
    assert record["sourceIPAddress"] == record["userAgent"] == "dynamodb.amazonaws.com"
    assert record["errorCode"] == "AccessDenied" and "kms:Decrypt" in record["errorMessage"]
    assert record["resources"] == [{"ARN": run["key_arn"], "accountId": ACCOUNT, "type": "AWS::KMS::Key"}]


def test_a_direct_call_has_no_invoked_by_and_the_signing_key(run):
    """CloudTrail userIdentity: accessKeyId is the key that signed the request; invokedBy only for
    requests a service made."""
    record = _find(run["records"], "DescribeTable")[0]
    assert "invokedBy" not in record["userIdentity"]
    assert record["userIdentity"]["accessKeyId"] == run["admin_key"]
    assert record["sourceIPAddress"] == "127.0.0.1"


def test_the_create_grant_dynamodb_makes_is_the_table_creators(run):
    """DynamoDB guide: the principal in the CreateGrant request is the user who created the table."""
    record = _find(run["records"], "CreateGrant")[0]
    assert record["userIdentity"]["userName"] == "lab-admin"
    assert record["userIdentity"]["invokedBy"] == "dynamodb.amazonaws.com"
    assert record["readOnly"] is False  # KMS guide, CreateGrant example


def test_dynamodbs_own_generate_data_key_is_an_aws_service_call_with_a_shared_event_id(run):
    """DynamoDB guide, GenerateDataKey example: userIdentity {type AWSService, invokedBy
    dynamodb.amazonaws.com}, readOnly true, and a sharedEventID."""
    record = _find(run["records"], "GenerateDataKey")[0]
    assert record["userIdentity"] == {"type": "AWSService", "invokedBy": "dynamodb.amazonaws.com"}
    assert record["readOnly"] is True
    assert record["sharedEventID"] != record["eventID"]
    assert record["requestParameters"]["keySpec"] == "AES_256"
    retire = _find(run["records"], "RetireGrant")[0]  # DeleteTable: DynamoDB retires its grant
    assert retire["userIdentity"]["type"] == "AWSService" and retire["readOnly"] is False


def test_a_call_made_with_an_unknown_access_key_is_recorded_with_an_unknown_identity(run):
    """CloudTrail userIdentity type Unknown; the lab records the key that signed (a modelling choice)."""
    record = _find(run["records"], "ListTables", accessKeyId=UNKNOWN_KEY)[0]
    assert record["userIdentity"] == {"type": "Unknown", "accessKeyId": UNKNOWN_KEY}
    assert record["errorCode"] == "UnrecognizedClientException"
    short = _find(run["records"], "ListKeys", accessKeyId="test")[0]
    assert short["userIdentity"] == {"type": "Unknown", "accessKeyId": "test"}
    assert not list(RECORD.iter_errors(short))


# -- service events -----------------------------------------------------------------------------------

def test_kms_deleting_a_key_at_the_end_of_its_window_is_a_service_event(run):
    """KMS guide, DeleteKey example: AwsServiceEvent, userIdentity {accountId, invokedBy AWS Internal},
    requestParameters null, no requestID, serviceEventDetails {keyId}."""
    record = _find(run["records"], "DeleteKey")[0]
    assert record["eventType"] == "AwsServiceEvent"
    assert record["userIdentity"] == {"accountId": ACCOUNT, "invokedBy": "AWS Internal"}
    assert record["sourceIPAddress"] == record["userAgent"] == "AWS Internal"
    assert record["requestParameters"] is None and record["responseElements"] is None
    assert "requestID" not in record
    assert record["readOnly"] is False and record["managementEvent"] is True
    assert record["serviceEventDetails"] == {"keyId": run["key_id"]}
    assert record["resources"] == [{"ARN": run["key_arn"], "accountId": ACCOUNT, "type": "AWS::KMS::Key"}]
    assert record["eventTime"] == run["deleted_at"]  # on the lab clock, when the window ended


# -- readOnly, categories, errors ----------------------------------------------------------------------

@pytest.mark.parametrize("operation, expected", [
    ("Decrypt", True), ("GenerateDataKey", True), ("Encrypt", True), ("ReEncrypt", True),
    ("GenerateRandom", True), ("DescribeKey", True), ("GetKeyPolicy", True),
    ("CreateGrant", False), ("RetireGrant", False), ("DeleteKey", False), ("ScheduleKeyDeletion", False),
])
def test_kms_read_only_as_the_kms_log_entry_examples_set_it(operation, expected):
    """KMS guide, ct-* examples: the readOnly each example shows."""
    assert read_only("kms", operation) is expected


def test_read_only_in_the_run_follows_the_examples(run):
    """KMS guide: Decrypt and GenerateDataKey are readOnly true, also when DynamoDB makes them; the calls
    that change state (CreateGrant, ScheduleKeyDeletion examples; the same rule for the others) false."""
    for name in ("Decrypt", "GenerateDataKey", "DescribeKey", "Encrypt"):
        assert all(r["readOnly"] is True for r in _find(run["records"], name))
    for name in ("CreateKey", "CreateGrant", "DisableKey", "ScheduleKeyDeletion", "PutItem", "CreateTable"):
        assert all(r["readOnly"] is False for r in _find(run["records"], name))


def test_dynamodb_item_calls_are_data_events_and_the_rest_management(run):
    """DynamoDB guide, CloudTrail logging: item-level calls are data events; managementEvent says so."""
    for record in run["records"]:
        data = record["eventSource"] == "dynamodb.amazonaws.com" and record["eventName"] in (
            "PutItem", "GetItem", "Scan", "Query", "ExecuteStatement")
        assert record["eventCategory"] == ("Data" if data else "Management")
        assert record["managementEvent"] is (not data)
    assert event_category("dynamodb", "TransactWriteItems") == "Data"
    assert event_category("kms", "Decrypt") == "Management"


def test_a_refused_call_carries_error_code_and_message_and_a_successful_one_does_not(run):
    """CloudTrail record contents: errorCode and errorMessage when the request returns an error."""
    refused = _find(run["records"], "Scan", userName="dynamo_test_user")[0]
    assert refused["errorCode"] == "AccessDeniedException"
    assert refused["errorMessage"].startswith("KMS key access denied error")
    assert refused["responseElements"] is None
    # a refused data event still names the table it asked for
    assert refused["resources"] == [{"ARN": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{run['table']}",
                                     "accountId": ACCOUNT, "type": "AWS::DynamoDB::Table"}]
    disabled = _find(run["records"], "Decrypt", userName="lab-admin", errorCode="DisabledException")
    assert disabled[0]["userIdentity"]["invokedBy"] == "dynamodb.amazonaws.com"
    assert all("errorCode" not in r for r in _find(run["records"], "PutItem"))


def test_request_parameters_are_null_when_nothing_was_sent(run):
    """KMS guide, GenerateRandom example: requestParameters null, resources an empty list."""
    record = _find(run["records"], "ListKeys")[0]
    assert record["requestParameters"] is None and record["resources"] == []


def test_every_record_is_for_the_labs_account_with_unique_ids(run):
    """CloudTrail record contents: recipientAccountId is the account that received the event; eventID
    identifies a single event; requestID one request."""
    records = run["records"]
    assert {r["recipientAccountId"] for r in records} == {ACCOUNT}
    assert len({r["eventID"] for r in records}) == len(records)
    request_ids = [r["requestID"] for r in records if r["eventType"] == "AwsApiCall"]
    assert len(set(request_ids)) == len(request_ids)


def test_the_same_steps_give_the_same_trail():
    """Times come from the lab clock, IDs from the seeded generator: two runs, one trail."""
    def steps() -> str:
        with Lab(quiet=True) as lab:
            kms = lab.client("kms")
            key = kms.create_key()["KeyMetadata"]["KeyId"]
            kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
            lab.advance(days=8)
            return lab.trail.to_cloudtrail_json()
    assert steps() == steps()


# -- bounded growth and the views ---------------------------------------------------------------------

def test_the_trail_keeps_the_newest_records_and_counts_the_dropped():
    """Issue 12 item 11: the trail is capped, oldest records dropped first."""
    assert MAX_RECORDS == 10_000
    trail = Trail(max_records=3)
    dropped = [trail.append({"eventID": str(i)}) for i in range(5)]
    assert [r["eventID"] for r in trail] == ["2", "3", "4"]
    assert dropped == [None, None, None, {"eventID": "0"}, {"eventID": "1"}]
    assert trail.dropped == 2
    trail.max_records = 1
    assert [r["eventID"] for r in trail] == ["4"] and trail.dropped == 4
    with pytest.raises(ValueError):
        trail.max_records = 0


def test_a_labs_trail_drops_the_explanations_of_the_records_it_drops():
    """Issue 12 item 11: neither the trail nor the explanations behind it grow without bound."""
    with Lab(quiet=True) as lab:
        lab.trail.max_records = 4
        sts = lab.client("sts")
        sts.get_caller_identity()
        first = lab.trail[-1]["eventID"]
        assert lab.explanation(first) is not None
        for _ in range(6):
            sts.get_caller_identity()
        assert len(lab.trail) == 4 and lab.trail.dropped == 3
        assert lab.explanation(first) is None
        assert all(lab.explanation(r["eventID"]) is not None for r in lab.trail)
        assert "3 older record(s) dropped" in str(lab.trail)
        assert "older record" not in str(lab.trail.last(2))


def test_the_filters_and_the_text_and_html_views_read_the_nested_fields(run):
    """The views a notebook prints: invoked_by filters on userIdentity.invokedBy; the table stays short."""
    trail = Trail(run["records"])
    via = trail.filter(service="kms", invoked_by="dynamodb.amazonaws.com")
    assert {r["eventName"] for r in via} >= {"DescribeKey", "CreateGrant", "GenerateDataKey", "Decrypt"}
    assert all(r["userIdentity"]["invokedBy"] == "dynamodb.amazonaws.com" for r in via)
    assert len(trail.filter(category="Data")) == len([r for r in run["records"] if r["eventCategory"] == "Data"])
    text = str(trail.filter(user="dynamo_test_user").last(2))
    lines = text.splitlines()
    assert lines[0].split() == ["time", "who", "call", "on", "behalf", "via", "result"]
    assert len(lines) == 4 and "dynamo_test_user" in lines[2]
    assert "kms:Decrypt  dynamodb.amazonaws.com" in str(trail.filter(event="Decrypt").last(1))
    assert "AWS Internal" in str(trail.filter(event="DeleteKey"))
    html_view = trail.last(3)._repr_html_()
    assert html_view.count("<tr>") == 4 and "Trail: 3 call(s)" in html_view
    assert isinstance(trail[0:2], list) and len(trail[0:2]) == 2


def test_every_record_of_the_workbooks_replay_validates_against_the_schema():
    """The workbook's "world as of step 7" (every notebook's steps replayed) writes CloudTrail records too."""
    from kmslab import workbook
    with workbook.start(7) as lab:
        user = lab.session_for("dynamo_test_user").client("dynamodb")
        user.get_item(TableName=workbook.TABLE_NAME, Key={"id": workbook.TEST_ITEM["id"]})
        records = list(lab.trail)
    assert {r["eventCategory"] for r in records} == {"Management", "Data"}
    assert any(r["userIdentity"].get("invokedBy") == "dynamodb.amazonaws.com" for r in records)
    for record in records:
        assert not list(RECORD.iter_errors(record)), record["eventName"]


def test_make_record_takes_what_the_enforcer_knows_of_the_request():
    """CloudTrail record contents: requestID is the service's ID for the request (the one the caller saw),
    userAgent the agent that made it, responseElements the answer of an action that changes state."""
    caller = Principal(f"arn:aws:iam::{ACCOUNT}:user/alice", "alice", "User", ACCOUNT, "AIDAEXAMPLE0000000000")
    common = {"event_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "event_time": "2025-01-06T09:00:00Z",
              "service": "kms", "operation": "CreateGrant", "region": "us-east-1", "principal": caller,
              "access_key_id": "AKIAEXAMPLE000000001", "request_parameters": {"keyId": "k"}, "resources": []}
    record = make_record(**common, request_id="req-1", user_agent=b"Boto3/1.0 md/Botocore#1.0",
                         response_elements={"grantId": "g"})
    assert (record["requestID"], record["userAgent"]) == ("req-1", "Boto3/1.0 md/Botocore#1.0")
    assert record["responseElements"] == {"grantId": "g"}
    assert not list(RECORD.iter_errors(record))
    refused = make_record(**common, error_code="AccessDeniedException", error_message="no",
                          response_elements={"grantId": "g"})
    assert refused["responseElements"] is None  # a refused call changed nothing
    assert refused["requestID"] != record["requestID"] and refused["userAgent"] == "kmslab/boto3"

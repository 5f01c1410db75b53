"""The front door holds: each attack of issue 12 (items 1-4 and 9) meets AWS's own answer, changes nothing,
and leaves a trail record.

Requests are forged two ways: raw HTTP (``http.client``) against the emulator, and requests signed with
botocore's own SigV4 signer (with a forged scope, secret, date or token) handed to the offline lab's
``before-send`` hook, exactly where a boto3 client's request arrives. The AWS rules and where they come from
are in :mod:`kmslab._sigv4`'s docstring.
"""

from __future__ import annotations

import http.client
import json
import socket
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from kmslab import Lab, _lab
from kmslab import __main__ as cli

TABLE = "my-encrypted-table"
USER = "dynamo_test_user"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.")


def seed_world(lab: Lab) -> tuple[str, str, str]:
    """The seed tutorial's world; returns the test user's key ID and secret, and the key ID."""
    kms = lab.session.client("kms")
    key = kms.create_key(Description="table key")["KeyMetadata"]["KeyId"]
    ddb = lab.session.client("dynamodb")
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key})
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "42"}, "secret": {"S": "grandma's cookie recipe"}})
    iam = lab.session.client("iam")
    iam.create_user(UserName=USER)
    iam.attach_user_policy(UserName=USER, PolicyArn="arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess")
    access = iam.create_access_key(UserName=USER)["AccessKey"]
    return access["AccessKeyId"], access["SecretAccessKey"], key


# -- forging requests ------------------------------------------------------------------------------------

def signed(url: str, *, body: bytes, headers: dict[str, str], key_id: str, secret: str, service: str,
           region: str = "us-east-1", when: datetime | None = None, token: str | None = None) -> AWSRequest:
    """A request signed by botocore's SigV4 signer for any scope, at any date."""
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    signer = SigV4Auth(Credentials(key_id, secret, token), service, region)
    if when is None:
        signer.add_auth(request)
        return request
    import botocore.auth
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: when.replace(tzinfo=None)
    try:
        signer.add_auth(request)
    finally:
        botocore.auth.get_current_datetime = original
    return request


def query(action: str, **params: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode({"Action": action, "Version": "2010-05-08", **params}).encode()
    return body, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def target(operation: str, params: dict, prefix: str = "DynamoDB_20120810") -> tuple[bytes, dict[str, str]]:
    version = "1.0" if prefix.startswith("DynamoDB") else "1.1"
    return json.dumps(params).encode(), {"X-Amz-Target": f"{prefix}.{operation}",
                                         "Content-Type": f"application/x-amz-json-{version}"}


def offline(request: AWSRequest) -> tuple[int, dict]:
    """Hand a forged request to the offline lab where boto3's requests arrive; the parsed error."""
    response = _lab._dispatch("before-send.x", request.prepare())
    text = response.content.decode()
    if text.startswith("{"):
        data = json.loads(text)
        return response.status_code, {"Code": data["__type"].rsplit("#", 1)[-1], "Message": data.get("message")}
    import re
    code = re.search(r"<Code>(.*?)</Code>", text)
    message = re.search(r"<Message>(.*?)</Message>", text, re.S)
    return response.status_code, {"Code": code.group(1) if code else None,
                                  "Message": message.group(1).replace("&apos;", "'") if message else None}


def over_http(endpoint: str, method: str, path: str, body: bytes = b"", headers: dict | None = None,
              request: AWSRequest | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(endpoint)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    if request is not None:
        method, body = request.method, request.body
        path = urlsplit(request.url).path or "/"
        headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    answer = response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    connection.close()
    return answer


def error_of(body: bytes) -> dict:
    text = body.decode()
    if text.startswith("{"):
        data = json.loads(text)
        return {"Code": data["__type"].rsplit("#", 1)[-1], "Message": data.get("message")}
    import re
    return {"Code": re.search(r"<Code>(.*?)</Code>", text).group(1),
            "Message": re.search(r"<Message>(.*?)</Message>", text, re.S).group(1).replace("&apos;", "'")}


def attached(lab: Lab, user: str = USER) -> list[str]:
    policies = lab.session.client("iam").list_attached_user_policies(UserName=user)["AttachedPolicies"]
    return sorted(p["PolicyArn"] for p in policies)


def last_refusal(lab: Lab) -> dict:
    return lab.trail.filter(denied=True)[-1]


# -- item 1 and 4: the service is what executes, the scope must say exactly that --------------------------

@pytest.mark.parametrize("scope", ["IAM", "Iam", "dynamodb", "kms"])
def test_offline_iam_call_with_another_scope_is_refused_and_changes_nothing(scope):
    """AWS compares the scope with the endpoint's service, case-sensitively: "Credential should be scoped to
    correct service: 'iam'. " (SignatureDoesNotMatch, HTTP 403, for the query protocol)."""
    with Lab(quiet=True) as lab:
        key_id, secret, _ = seed_world(lab)
        before = attached(lab)
        body, headers = query("AttachUserPolicy", UserName=USER, PolicyArn=ADMIN_POLICY)
        status, error = offline(signed("https://iam.amazonaws.com/", body=body, headers=headers, key_id=key_id,
                                       secret=secret, service=scope))
        assert (status, error["Code"]) == (403, "SignatureDoesNotMatch")
        assert error["Message"] == "Credential should be scoped to correct service: 'iam'. "
        assert attached(lab) == before
        record = last_refusal(lab)
        assert (record["eventSource"], record["eventName"], record["errorCode"]) == \
            ("iam.amazonaws.com", "AttachUserPolicy", "SignatureDoesNotMatch")


@pytest.mark.parametrize("operation,params", [
    ("CreateGrant", {"GranteePrincipal": "arn:aws:iam::123456789012:user/dynamo_test_user",
                     "Operations": ["Decrypt"]}),
    ("ScheduleKeyDeletion", {"PendingWindowInDays": 7}),
])
def test_offline_kms_call_signed_for_dynamodb_is_refused(operation, params):
    """A KMS endpoint takes only a kms scope: the call is never authorized as dynamodb:<operation>."""
    with Lab(quiet=True) as lab:
        key_id, secret, key = seed_world(lab)
        body, headers = target(operation, {"KeyId": key, **params}, prefix="TrentService")
        status, error = offline(signed("https://kms.us-east-1.amazonaws.com/", body=body, headers=headers,
                                       key_id=key_id, secret=secret, service="dynamodb"))
        assert (status, error["Code"]) == (400, "InvalidSignatureException")
        assert error["Message"] == "Credential should be scoped to correct service: 'kms'. "
        kms = lab.session.client("kms")
        grantees = {g["GranteePrincipal"] for g in kms.list_grants(KeyId=key)["Grants"]}
        assert grantees == {"dynamodb.us-east-1.amazonaws.com"}  # DynamoDB's own grant only
        assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
        assert last_refusal(lab)["errorCode"] == "InvalidSignatureException"


def test_offline_scan_signed_for_kms_is_refused_not_unauthorized():
    """A DynamoDB Scan signed with scope kms once skipped both locks; DynamoDB refuses the scope."""
    with Lab(quiet=True) as lab:
        key_id, secret, _ = seed_world(lab)
        body, headers = target("Scan", {"TableName": TABLE})
        status, error = offline(signed("https://dynamodb.us-east-1.amazonaws.com/", body=body, headers=headers,
                                       key_id=key_id, secret=secret, service="kms"))
        assert (status, error["Code"]) == (400, "InvalidSignatureException")
        assert error["Message"] == "Credential should be scoped to correct service: 'dynamodb'. "
        assert "grandma" not in json.dumps(error)


def test_region_in_scope_must_match_the_endpoint():
    """Regional services name the wrong region; IAM's global endpoint wants us-east-1."""
    with Lab(quiet=True) as lab:
        key_id, secret, _ = seed_world(lab)
        body, headers = target("Scan", {"TableName": TABLE})
        status, error = offline(signed("https://dynamodb.us-east-1.amazonaws.com/", body=body, headers=headers,
                                       key_id=key_id, secret=secret, service="dynamodb", region="eu-west-1"))
        assert (status, error) == (400, {"Code": "InvalidSignatureException", "Message":
                                         "Credential should be scoped to a valid region, not 'eu-west-1'. "})
        body, headers = query("ListUsers")
        status, error = offline(signed("https://iam.amazonaws.com/", body=body, headers=headers, key_id=key_id,
                                       secret=secret, service="iam", region="eu-west-1"))
        assert (status, error) == (403, {"Code": "SignatureDoesNotMatch",
                                         "Message": "Credential should be scoped to a valid region. "})


def test_mixed_case_target_is_an_unknown_operation():
    """DynamoDB's targets are case-sensitive: ``DynamoDB_20120810.scan`` is UnknownOperationException, so it
    cannot slip past the check that a Scan meets the KMS lock."""
    with Lab(quiet=True) as lab:
        key_id, secret, _ = seed_world(lab)
        body, headers = target("scan", {"TableName": TABLE})
        status, error = offline(signed("https://dynamodb.us-east-1.amazonaws.com/", body=body, headers=headers,
                                       key_id=key_id, secret=secret, service="dynamodb"))
        assert (status, error["Code"]) == (400, "UnknownOperationException")
        assert last_refusal(lab)["eventName"] == "scan"


# -- item 3: signatures verified ---------------------------------------------------------------------------

def test_another_users_key_with_any_secret_is_refused_offline():
    """The signature is recomputed from the secret the lab holds: a wrong secret is InvalidSignatureException
    with AWS's sentence (a real boto3 client here, as a learner would write it)."""
    with Lab(quiet=True) as lab:
        key_id, _, _ = seed_world(lab)
        forged = boto3.client("dynamodb", aws_access_key_id=key_id, aws_secret_access_key="x" * 40)
        with pytest.raises(ClientError) as excinfo:
            forged.scan(TableName=TABLE)
        assert excinfo.value.response["Error"] == {"Code": "InvalidSignatureException", "Message": MISMATCH}
        admin_key = lab.session.get_credentials().access_key
        forged_iam = boto3.client("iam", aws_access_key_id=admin_key, aws_secret_access_key="x" * 40)
        with pytest.raises(ClientError) as excinfo:
            forged_iam.attach_user_policy(UserName=USER, PolicyArn=ADMIN_POLICY)
        assert excinfo.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert ADMIN_POLICY not in attached(lab)
        assert [r["errorCode"] for r in lab.trail.filter(denied=True)][-2:] == \
            ["InvalidSignatureException", "SignatureDoesNotMatch"]


@pytest.mark.parametrize("when,start", [
    (datetime(1999, 1, 1, tzinfo=timezone.utc), "Signature expired: 19990101T000000Z is now earlier than "),
    (datetime(2099, 1, 1, tzinfo=timezone.utc), "Signature not yet current: 20990101T000000Z is still later than "),
])
def test_dates_more_than_15_minutes_from_the_real_clock_are_refused(when, start):
    """AWS's 15-minute rule, against the real wall clock (the lab's simulated clock says 2025)."""
    with Lab(quiet=True) as lab:
        key_id, secret, _ = seed_world(lab)
        body, headers = target("Scan", {"TableName": TABLE})
        status, error = offline(signed("https://dynamodb.us-east-1.amazonaws.com/", body=body, headers=headers,
                                       key_id=key_id, secret=secret, service="dynamodb", when=when))
        assert (status, error["Code"]) == (400, "InvalidSignatureException")
        assert error["Message"].startswith(start)
        sign = "-" if "expired" in start else "+"
        assert error["Message"].endswith(f" {sign} 15 min.)")


def test_a_date_within_15_minutes_is_accepted():
    """The rule's other side: ten minutes of skew is allowed."""
    with Lab(quiet=True) as lab:
        key_id, secret, _ = seed_world(lab)
        body, headers = target("DescribeTable", {"TableName": TABLE})
        ten_minutes_ago = datetime.now(timezone.utc) - timedelta(minutes=10)
        response = _lab._dispatch("before-send.x", signed(
            "https://dynamodb.us-east-1.amazonaws.com/", body=body, headers=headers, key_id=key_id,
            secret=secret, service="dynamodb", when=ten_minutes_ago).prepare())
        assert response.status_code == 200


def test_a_session_token_on_a_long_term_key_is_refused():
    """A long-term (AKIA) key carries no session token: AWS answers the invalid-token error."""
    with Lab(quiet=True) as lab:
        key_id, secret, _ = seed_world(lab)
        body, headers = target("Scan", {"TableName": TABLE})
        status, error = offline(signed("https://dynamodb.us-east-1.amazonaws.com/", body=body, headers=headers,
                                       key_id=key_id, secret=secret, service="dynamodb", token="bogus"))
        assert (status, error) == (400, {"Code": "UnrecognizedClientException",
                                         "Message": "The security token included in the request is invalid"})
        body, headers = query("ListUsers")
        status, error = offline(signed("https://iam.amazonaws.com/", body=body, headers=headers, key_id=key_id,
                                       secret=secret, service="iam", token="bogus"))
        assert (status, error["Code"]) == (403, "InvalidClientTokenId")


def test_admin_secret_is_random_per_lab_and_its_key_id_is_seeded():
    """lab-admin's secret is not the same in every default lab (its key ID is, so outputs stay stable)."""
    labs = []
    for _ in range(2):
        with Lab(quiet=True) as lab:
            credentials = lab.session.get_credentials()
            labs.append((credentials.access_key, credentials.secret_key))
    assert labs[0][0] == labs[1][0]
    assert labs[0][1] != labs[1][1] and len(labs[0][1]) == 40


# -- item 1 and 2 on the emulator: raw HTTP ----------------------------------------------------------------

_SERVED: dict = {}


@pytest.fixture
def emulator():
    """One served lab for the emulator tests, opened again if another test's lab closed it (one lab is open
    at a time in a process)."""
    lab = _SERVED.get("lab")
    if lab is None or lab._closed:
        lab = Lab(target="emulator", quiet=True)
        _SERVED.update(lab=lab, world=seed_world(lab))
    return lab, _SERVED["world"]


@pytest.fixture(scope="module", autouse=True)
def _close_the_served_lab():
    yield
    if _SERVED.get("lab") is not None:
        _SERVED["lab"].close()


@pytest.mark.parametrize("scope", ["IAM", "DynamoDB", "KMS"])
def test_emulator_upper_case_scope_with_a_made_up_key_changes_nothing(emulator, scope):
    """moto lower-cases the scope's service and would run the call as IAM; AWS refuses the case."""
    lab, _ = emulator
    body, headers = query("AttachUserPolicy", UserName=USER, PolicyArn=ADMIN_POLICY)
    request = signed(lab.endpoint + "/", body=body, headers=headers, key_id="AKIAMADEUPMADEUP0000",
                     secret="x", service=scope)
    status, reply_headers, reply = over_http(lab.endpoint, "", "", request=request)
    assert "access-control-allow-origin" not in reply_headers
    if scope == "IAM":
        assert (status, error_of(reply)) == (403, {"Code": "SignatureDoesNotMatch", "Message":
                                                   "Credential should be scoped to correct service: 'iam'. "})
    elif scope == "KMS":  # moto would run it as KMS, which has no such operation (and no form body)
        assert (status, error_of(reply)["Code"]) == (400, "UnknownOperationException")
    else:  # moto cannot route a DynamoDB scope without a target (it would fail): refused, never run
        assert (status, error_of(reply)["Code"]) == (400, "NotModelledInLab")
    assert ADMIN_POLICY not in attached(lab)
    assert last_refusal(lab)["userIdentity"] == {"type": "Unknown", "accessKeyId": "AKIAMADEUPMADEUP0000"}


def test_emulator_header_without_credential_and_without_header(emulator):
    """No Credential= is IncompleteSignature (with AWS's list of what is missing); no header at all is
    MissingAuthenticationToken. Neither reaches moto."""
    lab, _ = emulator
    body, headers = query("AttachUserPolicy", UserName=USER, PolicyArn=ADMIN_POLICY)
    garbled = {**headers, "Authorization": "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
               "X-Amz-Date": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")}
    count = len(lab.trail.filter(denied=True))
    status, _, reply = over_http(lab.endpoint, "POST", "/", body, garbled)
    error = error_of(reply)
    assert status == 400 and error["Code"] == "IncompleteSignature"
    assert error["Message"] == ("Authorization header requires 'Credential' parameter. Authorization="
                                "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00")
    status, _, reply = over_http(lab.endpoint, "POST", "/", body, headers)
    assert status == 403 and error_of(reply) == {"Code": "MissingAuthenticationToken",
                                                 "Message": "Request is missing Authentication Token"}
    assert [r["errorCode"] for r in lab.trail.filter(denied=True)][count:] == \
        ["IncompleteSignature", "MissingAuthenticationToken"]
    assert ADMIN_POLICY not in attached(lab)


def test_emulator_wrong_secret_and_made_up_key(emulator):
    """The emulator verifies signatures too: the test user's key with another secret, or a key nobody has."""
    lab, (key_id, _, _) = emulator
    body, headers = target("Scan", {"TableName": TABLE})
    for key, code, message in ((key_id, "InvalidSignatureException", MISMATCH),
                               ("AKIAMADEUPMADEUP0000", "UnrecognizedClientException",
                                "The security token included in the request is invalid.")):
        request = signed(lab.endpoint + "/", body=body, headers=headers, key_id=key, secret="x" * 40,
                         service="dynamodb")
        status, _, reply = over_http(lab.endpoint, "", "", request=request)
        assert (status, error_of(reply)) == (400, {"Code": code, "Message": message})
        assert b"grandma" not in reply


def test_emulator_moto_api_is_closed(emulator):
    """moto's data dump (every secret) and reset are not AWS APIs: 404, and nothing is wiped."""
    lab, (key_id, secret, _) = emulator
    status, _, reply = over_http(lab.endpoint, "GET", "/moto-api/data.json")
    assert status == 404 and secret.encode() not in reply
    status, _, _ = over_http(lab.endpoint, "POST", "/moto-api/reset")
    assert status == 404
    assert lab.session.client("dynamodb").describe_table(TableName=TABLE)["Table"]["TableName"] == TABLE
    assert last_refusal(lab)["errorCode"] == "NotModelledInLab"


def test_emulator_has_no_permissive_cors(emulator):
    """A preflight is refused and no answer carries Access-Control-Allow-Origin, whatever the Origin."""
    lab, (key_id, secret, _) = emulator
    status, headers, _ = over_http(lab.endpoint, "OPTIONS", "/", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,x-amz-target"})
    assert status >= 400 and not any(name.startswith("access-control-") for name in headers)
    body, json_headers = target("DescribeTable", {"TableName": TABLE})
    request = signed(lab.endpoint + "/", body=body, headers={**json_headers, "Origin": "http://evil.example"},
                     key_id=key_id, secret=secret, service="dynamodb")
    status, headers, _ = over_http(lab.endpoint, "", "", request=request)
    assert status == 200 and not any(name.startswith("access-control-") for name in headers)


def test_emulator_refuses_a_service_it_does_not_model(emulator):
    """S3 is not modelled: a correctly signed CreateBucket is refused in S3's XML shape and recorded; moto's
    S3 holds no bucket afterwards."""
    lab, (key_id, secret, _) = emulator
    request = AWSRequest(method="PUT", url=lab.endpoint + "/exfil-bucket", data=b"")
    SigV4Auth(Credentials(key_id, secret), "s3", "us-east-1").add_auth(request)
    status, _, reply = over_http(lab.endpoint, "PUT", "/exfil-bucket", b"",
                                 {k: v for k, v in request.headers.items()})
    assert status == 400 and error_of(reply)["Code"] == "NotModelledInLab"
    assert "not modelled in the lab" in error_of(reply)["Message"]
    from moto.s3.models import s3_backends
    assert "exfil-bucket" not in s3_backends["123456789012"]["aws"].buckets
    record = last_refusal(lab)
    assert (record["eventSource"], record["errorCode"]) == ("s3.amazonaws.com", "NotModelledInLab")


def test_emulator_a_signed_request_of_the_lab_still_works(emulator):
    """The other side of every refusal above: the test user's own signature is accepted over raw HTTP, and
    meets the KMS lock (AccessDeniedException, not the item)."""
    lab, (key_id, secret, _) = emulator
    body, headers = target("Scan", {"TableName": TABLE})
    request = signed(lab.endpoint + "/", body=body, headers=headers, key_id=key_id, secret=secret,
                     service="dynamodb")
    status, _, reply = over_http(lab.endpoint, "", "", request=request)
    assert status == 400 and error_of(reply)["Code"] == "AccessDeniedException"
    assert b"grandma" not in reply


# -- item 9: a closed lab is closed ----------------------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch):
    """socket.connect records and refuses every connection (loopback included)."""
    attempts: list = []

    def refuse(self, address):
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


@pytest.mark.parametrize("target_name", ["offline", "emulator"])
def test_every_client_of_a_closed_lab_refuses_without_a_socket(target_name, monkeypatch):
    """lab.client(), lab.session, session_for(), a stack's session and a plain boto3 client made while the
    lab was open all answer LabClosed after close(), and nothing is sent (socket.connect patched after close:
    the emulator needs loopback sockets while it is open)."""
    from pathlib import Path
    lab = Lab(target=target_name, quiet=True)
    stack = lab.terraform(Path(__file__).resolve().parents[1] / "terraform")
    stack_session = stack._aws.session  # the session the stack applies with
    seed_world(lab)
    clients = {"dynamodb": lab.client("dynamodb"), "kms": lab.session.client("kms"),
               "iam": stack_session.client("iam"), "sts": boto3.client("sts"),
               "user dynamodb": lab.session_for(USER).client("dynamodb")}
    lab.close()
    attempts: list = []

    def refuse(self, address):
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    calls = {"dynamodb": "list_tables", "kms": "list_keys", "iam": "list_users", "sts": "get_caller_identity",
             "user dynamodb": "list_tables"}
    for name, client in clients.items():
        with pytest.raises(ClientError) as excinfo:
            getattr(client, calls[name])()
        assert excinfo.value.response["Error"]["Code"] == "LabClosed", name
        assert "this kmslab lab is closed" in excinfo.value.response["Error"]["Message"]
    assert attempts == []


def test_unknown_target_in_the_cli_is_an_error_listing_the_targets(no_network, capsys):
    """A typo never falls through to real AWS."""
    assert cli.main(["status", "--target", "ofline"]) == 1
    error = capsys.readouterr().err
    assert "unknown target 'ofline'" in error and "offline, emulator, aws" in error
    assert no_network == []


# -- issue 15 item 7 and issue 12 item 9: the aws target's guard comes first -----------------------------

@pytest.fixture
def learner_credentials(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIALEARNERLEARNER00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "learner-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


def test_aws_target_without_opt_in_opens_no_socket(learner_credentials, monkeypatch, no_network):
    from kmslab import LabError
    monkeypatch.delenv("KMSLAB_ALLOW_REAL_AWS", raising=False)
    with pytest.raises(LabError, match="nothing was sent to AWS"):
        Lab(target="aws")
    monkeypatch.setenv("KMSLAB_ALLOW_REAL_AWS", "1")
    monkeypatch.delenv("KMSLAB_AWS_ACCOUNTS", raising=False)
    with pytest.raises(LabError, match="KMSLAB_AWS_ACCOUNTS names no account"):
        Lab(target="aws")
    assert no_network == []


def test_aws_target_with_sts_unreachable_gives_up_after_two_attempts(learner_credentials, monkeypatch,
                                                                   no_network):
    from kmslab import LabError
    monkeypatch.setenv("KMSLAB_ALLOW_REAL_AWS", "1")
    monkeypatch.setenv("KMSLAB_AWS_ACCOUNTS", "111122223333")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")  # nothing answers there
    with pytest.raises(LabError, match="cannot reach AWS STS") as excinfo:
        Lab(target="aws")
    assert "2 attempts" in str(excinfo.value)
    assert 1 <= len(no_network) <= 2 and all(address[0] != "169.254.169.254" for address in no_network)


def test_aws_target_without_credentials_never_asks_instance_metadata(monkeypatch, no_network):
    from kmslab import LabError
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_EC2_METADATA_DISABLED", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("KMSLAB_ALLOW_REAL_AWS", "1")
    monkeypatch.setenv("KMSLAB_AWS_ACCOUNTS", "111122223333")
    with pytest.raises(LabError, match="KMSLAB_USE_INSTANCE_METADATA=1"):
        Lab(target="aws")
    assert no_network == []


def test_offline_request_for_another_region_is_not_modelled():
    """The lab is one account in one region: a DynamoDB call for eu-west-1 is refused (kmslab's own error,
    recorded), never authorized against the us-east-1 world."""
    with Lab(quiet=True) as lab:
        seed_world(lab)
        with pytest.raises(ClientError) as excinfo:
            lab.session.client("dynamodb", region_name="eu-west-1").list_tables()
        assert excinfo.value.response["Error"]["Code"] == "NotModelledInLab"
        assert "us-east-1 only" in excinfo.value.response["Error"]["Message"]
        assert last_refusal(lab)["awsRegion"] == "eu-west-1"


def test_emulator_body_that_is_not_json_is_a_serialization_error(emulator):
    """DynamoDB answers a body that does not parse with SerializationException (never an internal error),
    before it looks at the signature."""
    lab, (key_id, secret, _) = emulator
    _, headers = target("Scan", {})
    request = signed(lab.endpoint + "/", body=b'{"TableName": ', headers=headers, key_id=key_id, secret=secret,
                     service="dynamodb")
    status, _, reply = over_http(lab.endpoint, "", "", request=request)
    assert (status, error_of(reply)["Code"]) == (400, "SerializationException")
    assert last_refusal(lab)["errorCode"] == "SerializationException"


@pytest.mark.parametrize("scope", ["iam", "IAM", "kms", "KMS", "dynamodb", "DynamoDB"])
def test_emulator_takeover_steps_of_issue_12_all_fail(emulator, scope):
    """The takeover of issue 12 item 1, step by step with a made-up key ID: a new access key for lab-admin,
    a key policy of kms:* for everyone, a Scan of the secret item. Each is refused and none changes the lab."""
    lab, (_, _, key) = emulator
    kms = lab.session.client("kms")
    policy_before = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    keys_before = len(lab.session.client("iam").list_access_keys(UserName="lab-admin")["AccessKeyMetadata"])
    everyone = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]})
    if scope.lower() == "iam":
        body, headers = query("CreateAccessKey", UserName="lab-admin")
    elif scope.lower() == "kms":
        body, headers = target("PutKeyPolicy", {"KeyId": key, "PolicyName": "default", "Policy": everyone},
                               prefix="TrentService")
    else:
        body, headers = target("Scan", {"TableName": TABLE})
    request = signed(lab.endpoint + "/", body=body, headers=headers, key_id="AKIAMADEUPMADEUP0000", secret="x",
                     service=scope)
    status, _, reply = over_http(lab.endpoint, "", "", request=request)
    code, message = error_of(reply)["Code"], error_of(reply)["Message"]
    query_service = scope.lower() == "iam"
    if scope.islower():  # the right scope: the key is unknown
        assert code == ("InvalidClientTokenId" if query_service else "UnrecognizedClientException")
    else:  # the wrong case: AWS's scope error, before the key is even looked up
        assert code == ("SignatureDoesNotMatch" if query_service else "InvalidSignatureException")
        assert message == f"Credential should be scoped to correct service: '{scope.lower()}'. "
    assert status in (400, 403) and b"SecretAccessKey" not in reply and b"grandma" not in reply
    assert kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"] == policy_before
    assert len(lab.session.client("iam").list_access_keys(UserName="lab-admin")["AccessKeyMetadata"]) == \
        keys_before
    assert last_refusal(lab)["errorCode"] == code


def test_emulator_unsigned_federation_is_not_modelled(emulator):
    """AssumeRoleWithWebIdentity is unsigned at AWS; moto would hand out credentials for any token. The lab
    models no identity provider, so it says so (and records it) rather than pretend."""
    lab, _ = emulator
    body = urlencode({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleSessionName": "x",
                      "RoleArn": "arn:aws:iam::123456789012:role/any", "WebIdentityToken": "forged"}).encode()
    status, _, reply = over_http(lab.endpoint, "POST", "/", body,
                                 {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, error_of(reply)["Code"]) == (400, "NotModelledInLab")
    assert b"SecretAccessKey" not in reply
    assert last_refusal(lab)["eventName"] == "AssumeRoleWithWebIdentity"


def test_hostile_headers_and_bodies_get_an_aws_error_never_a_traceback():
    """A bounded fuzz of the front door (300 seeded cases): any Authorization header, target, date and body
    is answered with an error document (AWS's or kmslab's), never an internal exception, and nothing runs."""
    import random

    from botocore.awsrequest import AWSPreparedRequest

    rng = random.Random(12)
    pieces = ["AWS4-HMAC-SHA256 ", "Credential=", "AKIAX/", "20260101/", "us-east-1/", "dynamodb/", "IAM/",
              "aws4_request", ", ", "SignedHeaders=host", "Signature=00", "=", "/", ",", " ", "\u00e9", "\x00"]

    def text() -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12)))

    def maybe(*choices: str) -> str | None:
        return rng.choice([None, text(), *choices])

    with Lab(quiet=True) as lab:
        for _ in range(300):
            headers = {}
            for name, value in (("Authorization", maybe()),
                                ("X-Amz-Target", maybe("DynamoDB_20120810.Scan", "TrentService.Decrypt", ".")),
                                ("X-Amz-Date", maybe("20260101T000000Z", "2026"))):
                if value is not None:
                    headers[name] = value
            body = rng.choice([bytes(rng.randrange(256) for _ in range(rng.randrange(40))), text().encode(),
                               b'{"TableName": "t"}', b"Action=ListUsers", b"[1]"])
            host = rng.choice(["dynamodb.us-east-1", "kms.us-east-1", "iam", "sts", "s3", "example"])
            request = AWSPreparedRequest("POST", f"https://{host}.amazonaws.com/", headers, body, False)
            response = _lab._dispatch("before-send.x", request)
            assert response.status_code >= 400, (headers, body, host)
            assert response.content[:1] in (b"{", b"<"), (headers, body, host)
        assert len(lab.trail) == 300 and len(lab.trail.filter(denied=True)) == 300


def test_the_server_refuses_everything_while_no_lab_is_behind_it():
    """Between starting and the enforcer's creation (or after close) nothing reaches moto: HTTP 503."""
    import io

    from kmslab._server import EnforcingApp

    reached = []
    app = EnforcingApp(lambda environ, start_response: reached.append(environ) or [b""], lambda: None)
    answered = {}
    body = app({"REQUEST_METHOD": "POST", "PATH_INFO": "/moto-api/reset", "CONTENT_LENGTH": "0",
                "wsgi.input": io.BytesIO(b"")}, lambda status, headers: answered.update(status=status))
    assert answered["status"].startswith("503") and reached == [] and b"no lab is open" in b"".join(body)


def test_emulator_region_smuggled_in_the_query_string_is_not_authorized_as_the_lab_region(emulator):
    """moto reads a region from the request's URL, query string included, before the scope's: a request
    that would run in eu-west-1 is refused, not authorized against the lab's us-east-1 world."""
    lab, (key_id, secret, _) = emulator
    body, headers = target("ListTables", {})
    request = signed(lab.endpoint + "/?x=.eu-west-1.amazonaws.com", body=body, headers=headers, key_id=key_id,
                     secret=secret, service="dynamodb")
    parts = urlsplit(request.url)
    status, _, reply = over_http(lab.endpoint, "POST", f"{parts.path}?{parts.query}", request.body,
                                 {k: v for k, v in request.headers.items()})
    assert (status, error_of(reply)["Code"]) == (400, "NotModelledInLab")
    assert last_refusal(lab)["awsRegion"] == "eu-west-1"


def test_offline_a_callers_own_account_header_does_not_move_the_call():
    """moto picks the account from ``x-moto-account-id``; the lab sets it after authentication, and a value
    the caller put there first is dropped, so the call runs in the account it was authorized for."""
    with Lab(quiet=True) as lab:
        key_id, secret, _ = seed_world(lab)
        body, headers = target("ListTables", {})
        request = signed("https://dynamodb.us-east-1.amazonaws.com/", body=body,
                         headers={**headers, "x-moto-account-id": "999999999999"}, key_id=key_id, secret=secret,
                         service="dynamodb")
        response = _lab._dispatch("before-send.x", request.prepare())
        assert response.status_code == 200
        assert json.loads(response.content)["TableNames"] == [TABLE]

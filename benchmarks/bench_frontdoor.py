"""What the front door costs: 1000 GetItem calls offline, with and without SigV4 verification.

    python benchmarks/bench_frontdoor.py

Three runs of the same 1000 calls, interleaved and repeated (best of 5 kept, the least disturbed):

1. as shipped: route, parse, scope check, signature recomputed (signing key cached);
2. signing key derived afresh each call (the cache cleared), to show what the cache saves;
3. verification switched off (the signature is not recomputed), the baseline.

Then each step of the front door alone, per request (routing, parsing the header, the operation check,
the signature), on one signed GetItem request.

Prints figures and ratios only; nothing here asserts on time.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kmslab import Lab, _sigv4  # noqa: E402

CALLS = 1000


def main() -> None:
    with Lab(quiet=True) as lab:
        ddb = lab.client("dynamodb")
        ddb.create_table(TableName="bench", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        ddb.put_item(TableName="bench", Item={"id": {"S": "1"}})

        def calls() -> None:
            for _ in range(CALLS):
                ddb.get_item(TableName="bench", Key={"id": {"S": "1"}})

        verify = _sigv4.VERIFIER.verify
        keys = _sigv4.VERIFIER._keys

        def uncached(*args, **kwargs):
            keys.clear()
            return verify(*args, **kwargs)

        modes = {"verified (cached key)": verify, "verified (key derived each call)": uncached,
                 "not verified": lambda *args, **kwargs: None}
        best = dict.fromkeys(modes, float("inf"))
        calls()  # warm up
        for _ in range(5):
            for name, function in modes.items():
                _sigv4.VERIFIER.verify = function  # type: ignore[method-assign]
                start = time.perf_counter()
                calls()
                best[name] = min(best[name], time.perf_counter() - start)
        _sigv4.VERIFIER.verify = verify  # type: ignore[method-assign]
    base = best["not verified"]
    print(f"{CALLS} GetItem calls offline (Python {platform.python_version()}, best of 5)")
    for name, seconds in best.items():
        print(f"  {name:<34} {seconds:6.3f} s  {seconds / CALLS * 1e6:7.1f} us/call  x{seconds / base:5.3f}")
    print(f"  verification adds {(best['verified (cached key)'] - base) / CALLS * 1e6:.1f} us a call "
          f"({(best['verified (cached key)'] / base - 1) * 100:.1f} % of a call)")


def steps() -> None:
    import json
    import timeit

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps({"TableName": "bench", "Key": {"id": {"S": "1"}}}).encode()
    request = AWSRequest(method="POST", url="https://dynamodb.us-east-1.amazonaws.com/", data=body,
                         headers={"X-Amz-Target": "DynamoDB_20120810.GetItem",
                                  "Content-Type": "application/x-amz-json-1.0"})
    SigV4Auth(Credentials("AKIAIOSFODNN7EXAMPLE", "s" * 40), "dynamodb", "us-east-1").add_auth(request)
    prepared = request.prepare()
    signed = _sigv4.parse(prepared.headers)
    route = _sigv4.route_url(prepared.url, prepared.headers, "us-east-1")
    cases = {
        "route (moto's URL table)": lambda: _sigv4.route_url(prepared.url, prepared.headers, "us-east-1"),
        "parse the Authorization header": lambda: _sigv4.parse(prepared.headers),
        "operation spelled as AWS does": lambda: _sigv4.unknown_operation("dynamodb", "json",
                                                                          "DynamoDB_20120810", "GetItem"),
        "scope check": lambda: _sigv4.check_scope(signed, route),
        "signature recomputed": lambda: _sigv4.VERIFIER.verify(signed, "s" * 40, prepared.method, prepared.url,
                                                               prepared.headers, prepared.body),
    }
    print("each step alone (best of 5 x 2000):")
    for name, case in cases.items():
        best = min(timeit.repeat(case, number=2000, repeat=5)) / 2000
        print(f"  {name:<34} {best * 1e6:7.1f} us")


if __name__ == "__main__":
    main()
    steps()

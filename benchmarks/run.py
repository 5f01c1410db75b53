"""kmslab's speed against its baselines, measured side by side in one run.

    python3 run.py bench              # every case, writes docs/benchmarks.md
    python3 run.py bench --quick      # fewer repetitions, no file written
    python3 run.py bench --only authorization,startup

Each case prints both figures and their ratio; medians of several runs. Nothing here is a test: the test
suite never asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


@dataclass
class Result:
    case: str
    ours_label: str
    ours: float
    base_label: str
    base: float | None
    goal: str
    unit: str = "s"

    @property
    def ratio(self) -> float | None:
        if self.base in (None, 0):
            return None
        return self.ours / self.base

    def line(self) -> str:
        def fmt(v: float | None) -> str:
            if v is None:
                return "-"
            if self.unit != "s":
                return f"{v:,.0f} {self.unit}"
            if v < 0.001:
                return f"{v * 1e6:.1f} µs"
            return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"
        ratio = f"{self.ratio:.2f}x" if self.ratio is not None else "-"
        return (f"| {self.case} | {self.ours_label}: {fmt(self.ours)} | {self.base_label}: {fmt(self.base)} "
                f"| {ratio} | {self.goal} |")


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def in_fresh_python(code: str, repeat: int) -> float:
    """Median wall time of ``python -c code`` in a fresh interpreter (start-up included)."""
    return median_time(lambda: subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT), repeat)


# -- cases -----------------------------------------------------------------------------------------------

def case_startup(repeat: int) -> list[Result]:
    floor = in_fresh_python("import boto3, moto", repeat)
    imp = in_fresh_python("import kmslab", repeat)
    first = in_fresh_python("import kmslab; kmslab.Lab().close()", repeat)
    return [Result("start-up: import kmslab", "import kmslab", imp, "import boto3, moto", floor, "close to the floor"),
            Result("start-up: first Lab()", "import + Lab()", first, "import boto3, moto", floor,
                   "well under a second above the floor")]


def _seed_table(session, items: int, encrypted: bool = True) -> None:
    kms = session.client("kms")
    ddb = session.client("dynamodb")
    args = {"TableName": "bench", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}
    if encrypted:
        key = kms.create_key()["KeyMetadata"]["Arn"]
        args["SSESpecification"] = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}
    ddb.create_table(**args)
    with_batch = [{"PutRequest": {"Item": {"id": {"S": str(i)}, "v": {"S": "x" * 32}}}} for i in range(items)]
    for start in range(0, items, 25):
        ddb.batch_write_item(RequestItems={"bench": with_batch[start:start + 25]})


def _plain_moto(body: Callable[[object], None]) -> Callable[[], None]:
    def run() -> None:
        import boto3
        from moto import mock_aws
        with mock_aws():
            session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="us-east-1")
            body(session)
    return run


def _through_lab(body: Callable[[object], None]) -> Callable[[], None]:
    def run() -> None:
        from kmslab import Lab
        with Lab() as lab:
            body(lab.session)
    return run


def case_authorization(repeat: int) -> list[Result]:
    n = 1000

    def get_items(session) -> None:
        _seed_table(session, 10)
        ddb = session.client("dynamodb")
        start = time.perf_counter()
        for i in range(n):
            ddb.get_item(TableName="bench", Key={"id": {"S": str(i % 10)}})
        timings.append(time.perf_counter() - start)

    def put_items(session) -> None:
        _seed_table(session, 0)
        ddb = session.client("dynamodb")
        start = time.perf_counter()
        for i in range(n):
            ddb.put_item(TableName="bench", Item={"id": {"S": str(i)}})
        timings.append(time.perf_counter() - start)

    results = []
    for label, body in (("1000 GetItem", get_items), ("1000 PutItem", put_items)):
        figures = []
        for runner in (_through_lab, _plain_moto):
            timings: list[float] = []
            for _ in range(repeat):
                runner(body)()
            figures.append(statistics.median(timings))
        results.append(Result(f"authorization: {label}", "offline lab", figures[0], "plain moto", figures[1],
                              "at most 1.2x"))
    return results


def case_evaluator(repeat: int) -> list[Result]:
    from bench_evaluator import DEFAULT_KEY_POLICY, DYNAMODB_FULL_ACCESS, best_rate, bundled, policy_of

    from kmslab import Policy
    identity = ("AmazonDynamoDBFullAccess", DYNAMODB_FULL_ACCESS)
    rates = [best_rate(bundled(identity, DEFAULT_KEY_POLICY), 20_000, repeats=1) for _ in range(repeat)]
    results = [Result("evaluator: decisions per second (bundled policies)", "kmslab.evaluate",
                      statistics.median(rates), "goal", 20000, "at least 20,000/s", unit="/s")]

    def seconds_per_decision(size: int) -> float:
        policy = Policy(policy_of(size), label=f"{size} statements")
        return 1 / best_rate(bundled(policy, DEFAULT_KEY_POLICY), max(200, 200_000 // size), repeats=repeat)

    base = seconds_per_decision(10)
    for count in (100, 1000):
        results.append(Result(f"evaluator: {count} statements vs 10", f"{count} statements",
                              seconds_per_decision(count), "10 statements", base,
                              f"linear in statements (at most {count // 10}x)"))
    return results


def case_scale(repeat: int) -> list[Result]:
    def scan(session) -> None:
        _seed_table(session, 10_000)
        ddb = session.client("dynamodb")
        start = time.perf_counter()
        paginator = ddb.get_paginator("scan")
        count = sum(page["Count"] for page in paginator.paginate(TableName="bench"))
        assert count == 10_000
        timings.append(time.perf_counter() - start)

    figures = []
    for runner in (_through_lab, _plain_moto):
        timings: list[float] = []
        for _ in range(max(1, repeat // 2)):
            runner(scan)()
        figures.append(statistics.median(timings))
    results = [Result("scale: scan 10,000 encrypted items", "offline lab", figures[0], "plain moto", figures[1],
                      "at most 1.2x")]

    from kmslab import Lab
    with Lab() as lab:
        iam = lab.session.client("iam")
        for u in range(100):
            iam.create_user(UserName=f"user{u}")
            if u % 2:
                iam.attach_user_policy(UserName=f"user{u}",
                                       PolicyArn="arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess")
        start = time.perf_counter()
        allowed = 0
        for u in range(100):
            for t in range(10):
                allowed += lab.explain(f"user{u}", "dynamodb:GetItem", f"table-{t}").allowed
        matrix = time.perf_counter() - start
    results.append(Result("scale: 100 users x 10 tables through explain", "1000 explains", matrix, "-", None,
                          "interactive (well under a second)"))
    return results


def case_applier(repeat: int) -> list[Result]:
    from bench_applier import embedded_apply, terraform_cli_apply
    embedded = statistics.median(embedded_apply() for _ in range(repeat))
    cli = terraform_cli_apply()
    if cli is None:
        return [Result("applier: plan + apply of the bundled stack", "embedded", embedded, "terraform CLI", None,
                       "at least 30x faster (CLI or provider not available here)")]
    return [Result("applier: plan + apply of the bundled stack", "embedded", embedded, "terraform CLI + moto server",
                   cli, "at least 30x faster (ratio at most 0.033)")]


def case_notebooks(repeat: int) -> list[Result]:
    from bench_notebooks import first_denial, floor_kernel, nbval_suite, notebook_times
    floor = floor_kernel()
    results = [Result(f"notebook {name}", "fresh kernel, all cells", seconds, "kernel importing boto3+moto", floor,
                      "at most 1.5x the floor") for name, seconds in notebook_times()]
    denial = first_denial()
    if denial is not None:
        results.append(Result("fresh kernel to the first denial shown (04)", "until the AccessDeniedException cell",
                              denial, "kernel importing boto3+moto", floor, "a learner never waits"))
    suite = nbval_suite()
    if suite is not None:
        results.append(Result("whole nbval suite", "pytest --nbval notebooks/", suite, "-", None, "under 60 s"))
    return results


CASES = {"startup": case_startup, "authorization": case_authorization, "evaluator": case_evaluator,
         "scale": case_scale, "applier": case_applier, "notebooks": case_notebooks}


TEST_SUITE_HEADING = "## The README's test command"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions; do not write docs/benchmarks.md")
    parser.add_argument("--only", default="", help="comma-separated cases: " + ", ".join(CASES))
    args = parser.parse_args()
    repeat = 1 if args.quick else 5
    chosen = [c for c in args.only.split(",") if c] or list(CASES)
    lines = ["| case | kmslab | baseline | ratio | goal |", "|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for name in chosen:
        try:
            results = CASES[name](repeat)
        except Exception as error:  # a benchmark that cannot run says why, the others go on
            line = f"| {name} | could not run: {type(error).__name__}: {error} | | | |"
            print(line, flush=True)
            lines.append(line)
            continue
        for result in results:
            print(result.line(), flush=True)
            lines.append(result.line())
    if not args.quick and not args.only:  # the file holds a whole run only
        versions = {p: metadata.version(p) for p in ("boto3", "moto", "python-hcl2", "nbval")}
        terraform = shutil.which("terraform")
        tf_version = (subprocess.run([terraform, "version", "-json"], capture_output=True, text=True).stdout
                      if terraform else "")
        header = [
            "# Benchmarks", "",
            "Written by `python3 run.py bench` (medians of several runs; every baseline measured in the same run).",
            "What was profiled and changed, and why a goal is missed: `docs/performance-notes.md`.",
            "", f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
            f"- Python {platform.python_version()}; " + ", ".join(f"{k} {v}" for k, v in versions.items()),
            f"- terraform {json.loads(tf_version)['terraform_version'] if tf_version else 'not installed'}", "",
        ]
        (ROOT / "docs").mkdir(exist_ok=True)
        target = ROOT / "docs" / "benchmarks.md"
        # the measured test-suite section is written by hand (two full runs of the suite): keep it
        kept = target.read_text().partition(TEST_SUITE_HEADING)[1:] if target.exists() else ("", "")
        target.write_text("\n".join(header + lines) + "\n" + ("\n" + "".join(kept) if kept[0] else ""))
        print("\nwrote docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        sys.exit(main())

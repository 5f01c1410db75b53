"""Plan + apply of the bundled stack: the embedded applier against the real terraform CLI.

Both run against the same kind of lab. For the CLI, ``terraform init`` is done before the clock starts
(it happens once per working copy); what is timed is what a learner waits for on each change: plan, then
apply.
"""

from __future__ import annotations

import time
from pathlib import Path

from kmslab import Lab
from kmslab._tfcli import terraform_available

TERRAFORM = Path(__file__).resolve().parents[1] / "terraform"
ROLES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tf" / "differential" / "accepted_role_trust_policy"


def embedded_apply(folder: Path = TERRAFORM) -> float:
    with Lab(quiet=True) as lab:
        stack = lab.terraform(folder)
        start = time.perf_counter()
        stack.plan()
        stack.apply()
        return time.perf_counter() - start


def embedded_second_apply() -> tuple[float, float]:
    """Seconds for the first apply and for a second one on the same state (no changes: what the second
    costs is the refresh, one read per resource, as Terraform does before planning)."""
    with Lab(quiet=True) as lab:
        start = time.perf_counter()
        lab.terraform(TERRAFORM).apply()
        first = time.perf_counter() - start
        start = time.perf_counter()
        lab.terraform(TERRAFORM).apply()
        return first, time.perf_counter() - start


def terraform_cli_apply(folder: Path = TERRAFORM) -> float | None:
    """Seconds for plan + apply with the real CLI against the lab's moto server; None where unavailable."""
    available, _ = terraform_available()
    if not available:
        return None
    with Lab(quiet=True) as lab:
        stack = lab.terraform(folder, engine="terraform")
        try:
            stack._init()
            start = time.perf_counter()
            stack.plan()
            stack.apply()
            return time.perf_counter() - start
        finally:
            stack.close()


if __name__ == "__main__":
    embedded = embedded_apply()
    first, second = embedded_second_apply()
    cli = terraform_cli_apply()
    print(f"embedded: {embedded * 1000:.0f} ms")
    print(f"embedded second apply (refresh, no changes): {second * 1000:.0f} ms, {second / first:.2f}x the first")
    if cli is not None:
        print(f"terraform CLI: {cli:.1f} s  ({cli / embedded:.0f}x slower)")
    roles = embedded_apply(ROLES)  # a trust policy document, two roles, an inline and an attached policy
    print(f"embedded, the roles configuration: {roles * 1000:.0f} ms, {roles / embedded:.2f}x the bundled stack")
    roles_cli = terraform_cli_apply(ROLES)
    if roles_cli is not None:
        print(f"terraform CLI, the roles configuration: {roles_cli:.1f} s  ({roles_cli / roles:.0f}x slower)")

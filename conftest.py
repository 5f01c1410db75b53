"""How the test run is shared between pytest-xdist's workers (``-n auto --dist loadgroup`` in pyproject.toml).

A group runs on one worker, in order. Each notebook under nbval is one group: its cells share one kernel
and must run in sequence. Each test file is one group too (its module fixtures are set up once), except
the real-CLI notebook run (tests/test_notebooks_real_terraform.py), the slowest file by far: there each
notebook is a group of its own, since each runs in its own kernel against its own lab, so that both
workers share that work.
"""

from __future__ import annotations

import pytest

#: Files whose parametrized tests are independent enough to spread one parameter per group.
SPREAD = ("tests/test_notebooks_real_terraform.py",)
#: The slowest files (minutes of the real terraform CLI, a wheel build), started first so that no worker
#: picks one up while the other is nearly done; everything else follows in collection order.
SLOW_FIRST = (*SPREAD, "tests/test_terraform_default_tags.py", "tests/test_packaging.py",
              "tests/test_terraform_cli.py", "tests/test_cli.py", "tests/test_aws_target.py")


def _group(item: pytest.Item) -> str:
    path = item.nodeid.split("::", 1)[0]
    callspec = getattr(item, "callspec", None)
    if path in SPREAD and callspec is not None:
        return f"{path}-{callspec.id}"  # no "]" in a group name: xdist reads one after the "@" as no group
    return path


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if getattr(config.option, "loadgroup", False):  # set on xdist workers under --dist loadgroup
        for item in items:
            if not any(mark.name == "xdist_group" for mark in item.iter_markers()):
                # what xdist does for an xdist_group mark (the scheduler reads the group after the "@"),
                # done here directly so that it does not hang on the order of the two hooks
                item._nodeid = f"{item.nodeid}@{_group(item)}"
    # The slowest groups first (xdist keeps this order: --no-loadscope-reorder). Stable: ties keep theirs.
    rank = {path: index for index, path in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))

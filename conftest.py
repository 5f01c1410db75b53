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


def _group(item: pytest.Item) -> str:
    path = item.nodeid.split("::", 1)[0]
    if path in SPREAD and "[" in item.nodeid:
        return item.nodeid
    return path


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which turns the marks into groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not any(mark.name == "xdist_group" for mark in item.iter_markers()):
            item.add_marker(pytest.mark.xdist_group(_group(item)))
    # The slowest groups first, so that no worker starts one when the other is nearly done.
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in SPREAD)  # stable: the rest keep their order

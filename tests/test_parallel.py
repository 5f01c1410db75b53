"""The parallel run keeps what must run together on one worker (conftest.py, pytest-xdist's loadgroup).

A notebook's cells share one kernel: spread over two workers they fail with NameErrors. xdist marks a
grouped test by its node ID; if a new pytest or xdist stops doing so, this test fails first.
"""

from __future__ import annotations

import os

import pytest


def test_this_file_runs_as_one_group(request):
    if not os.environ.get("PYTEST_XDIST_WORKER") or not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not a parallel run by groups (pytest -n0, or --dist other than loadgroup)")
    assert request.node.nodeid.endswith("@tests/test_parallel.py")

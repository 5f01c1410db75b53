"""Fixtures the library's tests share: a fresh offline lab, and the seed tutorial's world in it.

``world`` is :func:`test_enforcement.build_seed_world` (the key, the encrypted table with one item, and
``dynamo_test_user`` with ``AmazonDynamoDBFullAccess``), made with lab-admin's own boto3 calls.
"""

from __future__ import annotations

import pytest

from kmslab import Lab


@pytest.fixture
def lab():
    with Lab() as lab:
        yield lab


@pytest.fixture
def world(lab):
    from test_enforcement import build_seed_world
    return build_seed_world(lab)

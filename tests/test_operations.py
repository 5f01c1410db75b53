"""The closed world: every operation of every service the lab emulates is classified, and the table is honest.

A new boto3 (a new operation in botocore's service models) or a moto that stops implementing an operation
fails this file until someone classifies the operation in ``kmslab/_operations.py``.
"""

from __future__ import annotations

import botocore.session
import pytest
from botocore import xform_name

from kmslab._operations import OPERATIONS, SERVICES, classify

_MOTO_RESPONSES = {
    "dynamodb": ("moto.dynamodb.responses", "DynamoHandler"),
    "dynamodbstreams": ("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler"),
    "kms": ("moto.kms.responses", "KmsResponse"),
    "iam": ("moto.iam.responses", "IamResponse"),
    "sts": ("moto.sts.responses", "TokenResponse"),
}


def _model_operations(service: str) -> set[str]:
    return set(botocore.session.get_session().get_service_model(service).operation_names)


def _moto_handler(service: str):
    import importlib
    module, name = _MOTO_RESPONSES[service]
    return getattr(importlib.import_module(module), name)


def test_the_lab_classifies_the_services_it_emulates():
    assert set(SERVICES) == set(_MOTO_RESPONSES)


@pytest.mark.parametrize("service", sorted(_MOTO_RESPONSES))
def test_every_operation_of_botocores_model_is_classified(service):
    """botocore's service model is the list of what a learner's boto3 can call."""
    model = _model_operations(service)
    classified = {name for svc, name in OPERATIONS if svc == service}
    assert sorted(model - classified) == [], "classify these in kmslab/_operations.py"
    assert sorted(classified - model) == [], "these are not operations of botocore's model any more"


@pytest.mark.parametrize("service", sorted(_MOTO_RESPONSES))
def test_every_modelled_operation_is_one_the_emulator_carries_out(service):
    """A modelled operation passes to moto: moto must implement it, or the learner gets moto's crash."""
    handler = _moto_handler(service)
    missing = sorted(op.name for (svc, _), op in OPERATIONS.items()
                     if svc == service and op.modelled and not hasattr(handler, xform_name(op.name)))
    assert missing == []


def test_every_refusal_says_why():
    refused = [op for op in OPERATIONS.values() if not op.modelled]
    assert refused and all(op.note for op in refused)


def test_names_are_matched_exactly_as_aws_matches_operation_names():
    assert classify("dynamodb", "Scan").kind == "item"
    assert classify("dynamodb", "scan") is None
    assert classify("kms", "decrypt") is None


def test_the_actions_are_the_services_own():
    assert classify("dynamodbstreams", "GetRecords").action == "dynamodb:GetRecords"
    assert classify("kms", "Decrypt").action == "kms:Decrypt"

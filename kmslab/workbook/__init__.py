"""The workbook layer: what the notebooks call, so that their cells stay short.

Everything here is plain Python over a :class:`~kmslab.Lab` and boto3; the widgets that show these
models (:mod:`kmslab.workbook.views`) only bind to them.

* :mod:`~kmslab.workbook.steps`: :func:`start` rebuilds the world as it stands at the start of a notebook,
  quietly and the same way every time (seeded IDs, the lab's own clock), so that each notebook runs alone,
  in any order; :data:`STEPS` says what each one starts from.
* :mod:`~kmslab.workbook.quizzes`: :class:`Quiz`, a multiple-choice question with an explanation for every
  option; :func:`quiz` finds the ones the notebooks use, in data files (:mod:`~kmslab.workbook.texts`).
* :mod:`~kmslab.workbook.exercises`: :class:`LeastPrivilegeExercise`, notebook 05's self-checking exercise.
* :mod:`~kmslab.workbook.sharing`: :class:`~kmslab.workbook.sharing.SharingExercise`, notebook 10's.
* :mod:`~kmslab.workbook.playground`: :class:`Playground`, notebook 04's five settings, applied for real.
* :mod:`~kmslab.workbook.views`: the ipywidgets views of a quiz and of the playground.
* :mod:`~kmslab.workbook.environment`: :func:`check_environment`, notebook 00's check.
* :func:`wrap`: a text at :data:`WIDTH` (88) columns, wrapped at word boundaries, as every text form of
  this package is; notebooks wrap printed AWS messages and explanations with it.

Imports go one way only: ``steps`` ← ``texts`` ← ``quizzes`` / ``exercises`` / ``playground`` ←
``views`` (reached from a model's ``widget()``), and nothing here imports this package's ``__init__``;
``tests/test_imports.py`` checks that no module of kmslab imports itself back through another.
"""

from .._lab import ACCOUNT_ID, ADMIN_USER
from ._wrap import WIDTH, wrap
from .environment import EnvironmentReport, check_environment
from .exercises import CheckResult, LeastPrivilegeExercise, ____
from .playground import LockReport, Playground, PlaygroundResult, PlaygroundSettings
from .quizzes import Feedback, Quiz, quiz
from .steps import (
    FULL_ACCESS_ARN,
    KEY_ADDRESS,
    STEPS,
    TABLE_ADDRESS,
    TABLE_NAME,
    TERRAFORM_DIR,
    TEST_ITEM,
    USER_NAME,
    Step,
    dynamodb_context,
    key_arn,
    least_privilege_policy,
    stack,
    start,
)

__all__ = [
    "ACCOUNT_ID",
    "ADMIN_USER",
    "FULL_ACCESS_ARN",
    "KEY_ADDRESS",
    "STEPS",
    "TABLE_ADDRESS",
    "TABLE_NAME",
    "TERRAFORM_DIR",
    "TEST_ITEM",
    "USER_NAME",
    "WIDTH",
    "CheckResult",
    "EnvironmentReport",
    "Feedback",
    "LeastPrivilegeExercise",
    "LockReport",
    "Playground",
    "PlaygroundResult",
    "PlaygroundSettings",
    "Quiz",
    "Step",
    "check_environment",
    "dynamodb_context",
    "key_arn",
    "least_privilege_policy",
    "quiz",
    "stack",
    "start",
    "wrap",
    "____",
]

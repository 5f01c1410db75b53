"""The widgets, driven without a browser: set ``.value``, call ``.click()``, read the HTML widgets."""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from kmslab.workbook import Playground, PlaygroundSettings, Quiz, quiz, start
from kmslab.workbook.views import PlaygroundView, QuizView


@pytest.fixture
def view():
    return QuizView(Quiz("2 + 2?", ["3", "4"], answer=1, explanations=["One short.", "Yes, four."]))


def test_quiz_view_is_a_vbox_of_labelled_controls(view):
    assert isinstance(view, widgets.VBox)
    assert view.options.options == ("A. 3", "B. 4")
    assert view.options.value is None
    assert view.options.description == "Your answer:"
    assert view.check_button.description == "Check"
    assert "Choose an answer, then press Check." in view.feedback.value


def test_quiz_view_right_answer(view):
    view.options.value = "B. 4"
    view.check_button.click()
    assert "✔ Correct (B)." in view.feedback.value
    assert "Yes, four." in view.feedback.value
    assert "role='status'" in view.feedback.value


def test_quiz_view_wrong_answer_then_right(view):
    view.options.value = "A. 3"
    view.check_button.click()
    assert "✘ Not quite (A)." in view.feedback.value and "One short." in view.feedback.value
    view.options.value = "B. 4"
    view.check_button.click()
    assert "✔ Correct (B)." in view.feedback.value


def test_quiz_view_without_a_choice(view):
    view.check_button.click()
    assert "No answer yet" in view.feedback.value
    assert "Choose one of A, B." in view.feedback.value


def test_quiz_view_follows_checks_made_in_code(view):
    view.model.check("A")
    assert "✘ Not quite (A)." in view.feedback.value


def test_quiz_view_text_form_is_the_quiz():
    q = quiz(1)
    v = q.widget()
    assert isinstance(v, QuizView)
    assert repr(v) == q.text()
    bundle = v._repr_mimebundle_()
    assert bundle["text/plain"] == q.text()  # whole, not cut at 110 characters
    assert "application/vnd.jupyter.widget-view+json" in bundle


# -- the playground view ---------------------------------------------------------------------------------

@pytest.fixture
def playground_view():
    with start(5) as lab:
        yield PlaygroundView(Playground(lab))


def test_playground_view_shows_the_model_settings(playground_view):
    boxes = playground_view.toggles
    assert list(boxes) == list(PlaygroundSettings.LABELS)
    assert [box.value for box in boxes.values()] == [True, False, True, False, True]
    for name, box in boxes.items():
        assert box.description == PlaygroundSettings.LABELS[name]
    assert playground_view.apply_button.description == "Apply and scan"
    assert "No try yet." in playground_view.outcome.value


def test_playground_view_apply_and_scan(playground_view):
    playground_view.apply_button.click()
    assert "✘ REFUSED: AccessDeniedException" in playground_view.outcome.value
    assert "✘ closed: KMS key permission" in playground_view.outcome.value
    playground_view.toggles["kms_in_iam"].value = True
    playground_view.apply_button.click()
    assert "✔ ALLOWED: the Scan returned 1 item(s)" in playground_view.outcome.value
    assert playground_view.model.settings.kms_in_iam
    assert playground_view.apply_button.description == "Apply and scan"
    assert not playground_view.apply_button.disabled


def test_playground_view_gives_the_focus_back_to_its_button(playground_view, monkeypatch):
    """WCAG 2.4.3 focus order: a keyboard user who pressed the button is still on it when the scan is done.

    ``Button.focus()`` asks the frontend (a custom message); it must come once the button is enabled again,
    since a disabled button cannot take the focus.
    """
    sent = []
    button = playground_view.apply_button
    monkeypatch.setattr(button, "send", lambda content, buffers=None: sent.append((content, button.disabled)))
    button.click()
    assert sent == [({"do": "focus"}, False)]
    monkeypatch.setattr(playground_view.model, "apply", lambda settings=None, **changes: 1 / 0)
    button.click()  # a failed apply gives it back too
    assert sent[-1] == ({"do": "focus"}, False)


def test_playground_view_root_delegation_off(playground_view):
    playground_view.toggles["kms_in_iam"].value = True
    playground_view.toggles["root_delegation"].value = False
    playground_view.apply_button.click()
    assert "✘ REFUSED" in playground_view.outcome.value
    assert "because no resource-based policy allows the kms:Decrypt action" in playground_view.outcome.value


def test_playground_view_follows_the_model(playground_view):
    playground_view.model.set(key_enabled=False, key_policy_for_user=True)
    assert playground_view.toggles["key_enabled"].value is False
    assert playground_view.toggles["key_policy_for_user"].value is True
    assert "✘ closed: Key state" in playground_view.outcome.value


def test_playground_view_shows_a_failure_instead_of_raising(playground_view, monkeypatch):
    def broken(settings=None, **changes):
        raise RuntimeError("the lab is closed")
    monkeypatch.setattr(playground_view.model, "apply", broken)
    playground_view.apply_button.click()
    assert "✘ The playground could not apply this:" in playground_view.outcome.value
    assert "RuntimeError: the lab is closed" in playground_view.outcome.value
    assert not playground_view.apply_button.disabled


def test_playground_view_text_form(playground_view):
    assert repr(playground_view) == playground_view.model.text()
    assert playground_view._repr_mimebundle_()["text/plain"].startswith(
        "Playground: can dynamo_test_user scan my-encrypted-table?")

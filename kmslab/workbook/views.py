"""Thin ipywidgets views over the workbook's models (:mod:`kmslab.workbook`).

Each view is a ``VBox`` subclass that builds its children and observes its model; none calls
``display()`` itself (the notebook shows a view by leaving it as a cell's last expression). Views only
bind: every decision, every AWS call and every text comes from the model, which is tested on its own.

Accessibility: every control has a text label; states are said in words with the symbols ✔ and ✘, never
by colour alone; the controls are ordinary buttons and check boxes, reachable with the keyboard (Tab,
Space, Enter) in JupyterLab, and the playground's button keeps the keyboard focus after "Apply and scan"
(it is disabled while it works, which would drop the focus to the page); feedback areas carry
``role="status"`` so that screen readers announce them.

Every view's ``repr`` is its model's text form: it is what a plain-text frontend shows, and what nbval
compares in a notebook's stored output.

A view knows its model only by what it offers (its attributes and methods, named in the annotations), not
by importing its class: the models' ``widget()`` imports the view, and the imports go that one way.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

if TYPE_CHECKING:  # annotations only: no import at run time (see above)
    from .playground import Playground, PlaygroundResult, PlaygroundSettings
    from .quizzes import Feedback, Quiz

__all__ = ["PlaygroundView", "QuizView"]


class _TextForm:
    """Give the frontend the view's whole text form (ipywidgets cuts ``text/plain`` at 110 characters)."""

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if isinstance(data, dict):
            data["text/plain"] = repr(self)
        return data


#: ipywidgets gives every radio option one fixed-height line; a long option would wrap over the next one.
#: Inside a quiz, let each option be as tall as its text (the HTML widget's value is not sanitized, so a
#: ``<style>`` element in it applies to the page).
QUIZ_CSS = """<style>
.kmslab-quiz .widget-radio-box label, .kmslab-quiz .jupyter-widget-radio-box label {
  display: flex; align-items: flex-start; height: auto; min-height: var(--jp-widgets-radio-item-height);
  line-height: 1.4; white-space: normal; overflow-wrap: anywhere; padding: 3px 0; box-sizing: border-box;
}
.kmslab-quiz .widget-radio-box input, .kmslab-quiz .jupyter-widget-radio-box input {
  order: -1; flex: 0 0 auto; float: none; height: 1.4em; margin: 0 0.5em 0 1px;
}
.kmslab-quiz .widget-radio-box, .kmslab-quiz .jupyter-widget-radio-box { width: 100%; }
</style>"""


class QuizView(_TextForm, widgets.VBox):
    """A question, its options as radio buttons, a Check button and the feedback."""

    def __init__(self, quiz: Quiz, **kwargs: Any) -> None:
        self.model = quiz
        self.question = widgets.HTML(f"{QUIZ_CSS}<p><strong>Check your understanding.</strong> "
                                     f"{html.escape(quiz.question)}</p>")
        self.options = widgets.RadioButtons(options=quiz.labels(), value=None, description="Your answer:",
                                            style={"description_width": "initial"},
                                            layout=widgets.Layout(width="auto", max_width="100%"))
        self.check_button = widgets.Button(description="Check", tooltip="Check your answer", icon="check",
                                           button_style="")
        self.feedback = widgets.HTML(self._feedback_html(None))
        super().__init__(children=[self.question, self.options, self.check_button, self.feedback], **kwargs)
        self.add_class("kmslab-quiz")
        self.check_button.on_click(self._on_check)
        quiz.observe(self._on_feedback)

    def _on_check(self, _button: Any = None) -> None:
        index = self.options.index
        self.model.check(None if index is None else self.model.letter(index))

    def _on_feedback(self, feedback: Feedback) -> None:
        self.feedback.value = self._feedback_html(feedback)

    @staticmethod
    def _feedback_html(feedback: Feedback | None) -> str:
        if feedback is None:
            return "<div role='status'>Choose an answer, then press Check.</div>"
        return feedback._repr_html_()

    def __repr__(self) -> str:
        return self.model.text()


class PlaygroundView(_TextForm, widgets.VBox):
    """Five labelled check boxes, an "Apply and scan" button and the outcome of the user's real Scan."""

    def __init__(self, playground: Playground, **kwargs: Any) -> None:
        self.model = playground
        self.title = widgets.HTML(
            f"<p><strong>Playground: can <code>{html.escape(playground.user)}</code> scan "
            f"<code>{html.escape(playground.table)}</code>?</strong> Change the settings, then press "
            "<em>Apply and scan</em>. Each change is a real boto3 call as lab-admin.</p>")
        self.toggles = {
            name: widgets.Checkbox(value=on, description=playground.settings.LABELS[name], indent=False,
                                   layout=widgets.Layout(width="auto"))
            for name, on in playground.settings.items()
        }
        self.apply_button = widgets.Button(description="Apply and scan", icon="play",
                                           tooltip=f"Apply the settings, then scan the table as {playground.user}",
                                           layout=widgets.Layout(width="max-content"))
        self.outcome = widgets.HTML(self._outcome_html(playground.result))
        super().__init__(children=[self.title, *self.toggles.values(), self.apply_button, self.outcome],
                         **kwargs)
        self.add_class("kmslab-playground")
        self.apply_button.on_click(self._on_apply)
        playground.observe(self._on_result)

    def chosen(self) -> PlaygroundSettings:
        """The settings the check boxes show now."""
        return type(self.model.settings)(**{name: box.value for name, box in self.toggles.items()})

    def _on_apply(self, _button: Any = None) -> None:
        self.apply_button.disabled = True
        self.apply_button.description = "Working..."
        try:
            self.model.apply(self.chosen())
        except Exception as error:  # show it in the view; never leave a traceback in the page
            self.outcome.value = (f"<div role='status'><strong>✘ The playground could not apply this:</strong> "
                                  f"{html.escape(type(error).__name__)}: {html.escape(str(error))}</div>")
        finally:
            self.apply_button.disabled = False
            self.apply_button.description = "Apply and scan"
            # disabling the button while it worked dropped the keyboard focus to the page: give it back
            self.apply_button.focus()

    def _on_result(self, result: PlaygroundResult) -> None:
        for name, on in result.settings.items():
            self.toggles[name].value = on
        self.outcome.value = self._outcome_html(result)

    @staticmethod
    def _outcome_html(result: PlaygroundResult | None) -> str:
        if result is None:
            return "<div role='status'>No try yet.</div>"
        return result._repr_html_()

    def __repr__(self) -> str:
        return self.model.text()

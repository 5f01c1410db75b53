"""Quizzes: a multiple-choice question with an explanation for every option.

The questions themselves are data: ``text/NN_name.toml`` beside this module, one file per notebook (see
:func:`kmslab.workbook.texts.texts`). :func:`quiz` reads them; :class:`Quiz` checks an answer and tells its
observers (the view) about it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from ._observable import Observable
from .texts import texts

LETTERS = "ABCDEFGH"


@dataclass(frozen=True)
class Feedback:
    """The answer to one quiz attempt."""

    correct: bool | None  # None: no answer given
    choice: str | None  # "B"
    text: str

    @property
    def headline(self) -> str:
        if self.correct is None:
            return "… No answer yet"
        return f"✔ Correct ({self.choice})" if self.correct else f"✘ Not quite ({self.choice})"

    def __str__(self) -> str:
        return f"{self.headline}. {self.text}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return (f"<div class='kmslab-feedback' role='status'><strong>{html.escape(self.headline)}.</strong> "
                f"{html.escape(self.text)}</div>")


class Quiz(Observable):
    """A multiple-choice question; every option carries its own explanation.

    >>> q = Quiz("2 + 2?", ["3", "4"], answer=1, explanations=["One short.", "Yes."])
    >>> q.check("B").correct
    True
    """

    def __init__(self, question: str, options: list[str], answer: int | str, explanations: list[str], *,
                 reference: str = "quiz") -> None:
        super().__init__()
        self.reference = reference  # how code reaches this quiz, for the text form
        if len(options) != len(explanations):
            raise ValueError("give one explanation per option")
        if not 2 <= len(options) <= len(LETTERS):
            raise ValueError(f"a quiz has 2 to {len(LETTERS)} options")
        self.question = question
        self.options = list(options)
        self.explanations = list(explanations)
        self.answer = self._index(answer)
        if self.answer is None:
            raise ValueError(f"the answer {answer!r} is not one of the options")
        self.last: Feedback | None = None

    def _index(self, choice: int | str | None) -> int | None:
        if choice is None:
            return None
        if isinstance(choice, bool):
            return None
        if isinstance(choice, int):
            return choice if 0 <= choice < len(self.options) else None
        text = str(choice).strip()
        if len(text) == 1 and text.upper() in LETTERS[:len(self.options)]:
            return LETTERS.index(text.upper())
        if text.endswith(".") and len(text) == 2 and text[0].upper() in LETTERS[:len(self.options)]:
            return LETTERS.index(text[0].upper())
        for i, option in enumerate(self.options):
            if text == option or text == f"{LETTERS[i]}. {option}":
                return i
        return None

    def check(self, choice: int | str | None) -> Feedback:
        """Check one answer: a letter ("B"), an option's index (1) or its text."""
        index = self._index(choice)
        if index is None:
            valid = ", ".join(LETTERS[:len(self.options)])
            feedback = Feedback(None, None, f"Choose one of {valid}." if choice is None else
                                f"{choice!r} is not one of the options; answer with one of {valid}.")
        else:
            feedback = Feedback(index == self.answer, LETTERS[index], self.explanations[index])
        self.last = feedback
        self._notify(feedback)
        return feedback

    def labels(self) -> list[str]:
        return [f"{LETTERS[i]}. {option}" for i, option in enumerate(self.options)]

    def text(self) -> str:
        lines = [f"Quiz: {self.question}"]
        lines += [f"  {label}" for label in self.labels()]
        lines.append(f"  (Answer with the buttons, or in code: {self.reference}.check(\"A\"))")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(label)}</li>" for label in self.labels())
        return (f"<div class='kmslab-quiz'><p><strong>Quiz:</strong> {html.escape(self.question)}</p>"
                f"<ul>{items}</ul><p>Answer in code: <code>{html.escape(self.reference)}.check(\"A\")</code></p></div>")

    def widget(self) -> Any:
        """The interactive view (options, a Check button, feedback)."""
        from .views import QuizView
        return QuizView(self)


def quiz(step: int, number: int = 1) -> Quiz:
    """Quiz ``number`` of notebook ``step`` (a fresh one each time: no answer yet)."""
    try:
        entry = texts(step).get("quiz", [])[number - 1] if number >= 1 else None
    except (LookupError, IndexError):
        entry = None
    if entry is None:
        raise LookupError(f"notebook {step:02d} has no quiz {number}")
    options = entry["option"]
    return Quiz(entry["question"], [o["text"] for o in options], entry["answer"],
                [o["explanation"] for o in options], reference=f"quiz({step}, {number})")

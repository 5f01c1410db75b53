"""Quizzes: a multiple-choice question with an explanation for every option.

The questions themselves are data: ``text/NN_name.toml`` beside this module, one file per notebook (see
:func:`kmslab.workbook.texts.texts`). :func:`quiz` reads them; :class:`Quiz` checks an answer and tells its
observers (the view) about it.

* **Answers are letters** (``"B"``, ``"b"``, ``"B."``) or an option's whole text. A number is refused with
  a sentence that says which letter it would be, counting from 1: ``check(2)`` is ambiguous (the second
  option, or index 2?), and a quiz that guessed would mark a learner right or wrong for the wrong reason.
* **Options are shuffled, the same way every time**: :func:`quiz` orders a question's wrong options by a
  seed made from the step, the quiz's number and the question's text, and puts the right one at place
  ``position % len(options)``, the quiz's position among all the workbook's quizzes: over the workbook each
  letter is right equally often (to within one), so neither the data file's order nor a favourite letter gives the answer away, and the stored
  notebooks stay byte-identical from run to run. The ``answer`` in a data file is the letter of the
  option as written there. (Length is the authors' job: ``tests/test_workbook.py`` checks that the right
  option is never longer than every wrong one.)
* **Every option is explained**: choosing a wrong one says why it is wrong, not only that it is.
"""

from __future__ import annotations

import hashlib
import html
import random
from dataclasses import dataclass
from typing import Any

from ._observable import Observable
from ._wrap import wrap
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
        return wrap(f"{self.headline}. {self.text}")

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return (f"<div class='kmslab-feedback' role='status'><strong>{html.escape(self.headline)}.</strong> "
                f"{html.escape(self.text)}</div>")


class Quiz(Observable):
    """A multiple-choice question; every option carries its own explanation.

    ``answer`` is the right option's index (0 for the first) or letter, in the order given; ``seed``, when
    given, shuffles the wrong options, and ``answer_place`` (an index) puts the right one there.

    >>> q = Quiz("2 + 2?", ["3", "4"], answer=1, explanations=["One short.", "Yes."])
    >>> q.check("B").correct
    True
    """

    def __init__(self, question: str, options: list[str], answer: int | str, explanations: list[str], *,
                 reference: str = "quiz", seed: str | None = None, answer_place: int | None = None) -> None:
        super().__init__()
        self.reference = reference  # how code reaches this quiz, for the text form
        if len(options) != len(explanations):
            raise ValueError("give one explanation per option")
        if not 2 <= len(options) <= len(LETTERS):
            raise ValueError(f"a quiz has 2 to {len(LETTERS)} options")
        self.question = question
        self.options = list(options)
        self.explanations = list(explanations)
        if isinstance(answer, int) and not isinstance(answer, bool):
            self.answer = answer if 0 <= answer < len(self.options) else None
        else:
            self.answer = self._index(answer)
        if self.answer is None:
            raise ValueError(f"the answer {answer!r} is not one of the options")
        if seed is not None:
            order = [i for i in range(len(self.options)) if i != self.answer]
            random.Random(hashlib.sha256(seed.encode()).digest()).shuffle(order)
            place = self.answer if answer_place is None else answer_place % len(self.options)
            order.insert(place, self.answer)
            self.options = [self.options[i] for i in order]
            self.explanations = [self.explanations[i] for i in order]
            self.answer = order.index(self.answer)
        self.last: Feedback | None = None

    def letter(self, index: int) -> str:
        """The letter of the option at ``index`` (0 for the first): what ``check`` takes."""
        return LETTERS[index]

    def _index(self, choice: str | None) -> int | None:
        if choice is None or isinstance(choice, (bool, int, float)):
            return None
        text = str(choice).strip()
        if len(text) == 1 and text.upper() in LETTERS[:len(self.options)]:
            return LETTERS.index(text.upper())
        if text.endswith(".") and len(text) == 2 and text[0].upper() in LETTERS[:len(self.options)]:
            return LETTERS.index(text[0].upper())
        for i, option in enumerate(self.options):
            if text == option or text == f"{LETTERS[i]}. {option}":
                return i
        return None

    def check(self, choice: str | None = None) -> Feedback:
        """Check one answer: a letter ("B") or an option's text. A number is refused, with its letter."""
        index = self._index(choice)
        if index is None:
            valid = ", ".join(LETTERS[:len(self.options)])
            if choice is None:
                text = f"Choose one of {valid}."
            elif isinstance(choice, int) and not isinstance(choice, bool):
                counted = (f' If you counted from 1, option {choice} is "{LETTERS[choice - 1]}": '
                           f'{self.reference}.check("{LETTERS[choice - 1]}").'
                           if 1 <= choice <= len(self.options) else "")
                text = f"{choice} is a number; answer with the option's letter, one of {valid}.{counted}"
            else:
                text = f"{choice!r} is not one of the options; answer with one of {valid}."
            feedback = Feedback(None, None, text)
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
        return wrap("\n".join(lines))

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
                [o["explanation"] for o in options], reference=f"quiz({step}, {number})",
                seed=f"{step}-{number}-{entry['question']}", answer_place=_place_in_workbook(step, number))


def _place_in_workbook(step: int, number: int) -> int:
    """The quiz's position among all the workbook's quizzes, in step order: the right option goes to place
    ``position % options``, so over the workbook each letter is right as often as the others (to within
    one), whatever the number of quizzes each notebook has."""
    from .steps import STEPS
    before = sum(len(texts(other).get("quiz", [])) for other in STEPS if other < step)
    return before + number - 1

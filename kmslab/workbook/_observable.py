"""A tiny observer, so that a view can follow its model without the model knowing the view's class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Observable:
    def __init__(self) -> None:
        self._observers: list[Callable[[Any], None]] = []

    def observe(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(event)`` after every change of this model."""
        self._observers.append(callback)

    def unobserve(self, callback: Callable[[Any], None]) -> None:
        self._observers.remove(callback)

    def _notify(self, event: Any) -> None:
        for callback in list(self._observers):
            callback(event)

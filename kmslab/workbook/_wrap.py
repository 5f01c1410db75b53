"""Text forms at a width that reads well: 88 columns, wrapped at word boundaries.

JupyterLab at 1280 px shows about 110 columns of a cell's text output before it wraps a line wherever the
edge falls (mid-word), and the printed A4 handout about 90; 88 fits both (a choice: no standard says). :func:`wrap` wraps each long line at a space
instead, and indents what follows so that the wrapped part reads as the same line: under the line's own
indentation, plus the width of a leading marker (``- ``, ``1. ``, ``✔ ``, ``✔ open    ``...). A word longer than
the width (an ARN, a URL) stays whole on its own line: cutting it would change what can be copied.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

#: The width of the workbook's text forms.
WIDTH = 88

# a leading marker that the wrapped part lines up after: a bullet, a number, a status word
_MARKER = re.compile(r"^(\s*)((?:[-*!•]|\d+\.|[✔✘➜…](?:\s+(?:open|closed))?)\s+)?")


def wrap(text: Any, width: int = WIDTH) -> str:
    """``str(text)`` with every line longer than ``width`` wrapped at word boundaries (see the module)."""
    lines = []
    for line in str(text).splitlines():
        if len(line) <= width:
            lines.append(line)
            continue
        found = _MARKER.match(line)
        lead = found.group(1) + (found.group(2) or "") if found else ""
        hang = " " * min(len(lead), width // 3)
        lines += textwrap.wrap(line, width=width, subsequent_indent=hang, break_long_words=False,
                               break_on_hyphens=False, drop_whitespace=True) or [line]
    return "\n".join(lines)

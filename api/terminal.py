"""Text for the terminal: control characters stored before they were refused are shown, never sent."""

from __future__ import annotations

from index.store.validation import CONTROL


def printable(text: object) -> str:
    """Return `text` with every control character written as its escape (`\\x1b`, `\\x07`, `\\x00`,
    `\\u202e`), so that nothing printed can move the cursor, clear the screen or reorder a line."""
    return CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), str(text))

"""Text from the logs made safe to print on a terminal: every CLI output that shows a name
or a value from the data goes through `for_terminal` (docs/operations.md, item 5 of
issue 31).

Key, model and provider names come from gateway logs and are not trusted. Printed raw,
an ESC sequence in a name would drive the terminal (clear it, retitle the window, move
the cursor over earlier lines), a carriage return would overwrite the line it is on, and
invisible characters would let a name pass for another: `*` followed by a NUL, a
zero-width space or a trailing space looks exactly like the marts' `'*'` ("all").

So every character that a terminal does not show as itself is shown as an escape:
controls (C0, DEL, C1: Unicode category Cc), format characters (Cf: bidirectional
overrides and isolates, zero-width spaces and joiners, the byte-order mark), line and
paragraph separators (Zl, Zp), lone surrogates (Cs, which cannot even be encoded), and
spaces other than the ASCII one (Zs: no-break, ideographic). A space at either end of a
name is escaped too, since padding hides it. In a name the backslash itself is doubled, so
the rendering is one-to-one: a name that really holds the text `\\x00` prints as `\\\\x00`,
not like a NUL. Everything else (letters of any script, emoji, punctuation) prints as it
is. Machine formats are left exact: JSON escapes these characters by its own rules, and
CSV (readers/csv_text.py) carries the value unchanged for the program that reads it.
"""

from __future__ import annotations

import unicodedata

# Unicode categories of characters a terminal does not show as themselves.
UNSHOWN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Zs"})


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _shown(char: str) -> str:
    if char != " " and unicodedata.category(char) in UNSHOWN_CATEGORIES:
        return _escape(char)
    return char


def for_terminal(value: object) -> str:
    """`value` as text a terminal shows exactly, with nothing it would act on."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable() and "\\" not in text and text.strip(" ") == text:
        return text  # the common case: nothing to escape
    shown = ["\\\\" if char == "\\" else _shown(char) for char in text]
    # Padding would hide a space at either end of a name; show those as escapes.
    for index in (0, len(shown) - 1):
        if shown and shown[index] == " ":
            shown[index] = "\\x20"
    return "".join(shown)


def message_for_terminal(value: object) -> str:
    """A message (an error, a run's log line) that quotes data, for a terminal: the
    characters `for_terminal` escapes are escaped, but a backslash stays one (messages
    already quote names with repr, which escapes them) and edge spaces stay spaces."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(_shown(char) for char in text)

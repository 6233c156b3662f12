"""Text on the Usage Analytics page: names from logs are shown as their characters.

Streamlit renders Markdown (with its own extensions: `:red[...]` colours, `:smile:`
emoji shortcodes, `$...$` LaTeX, bare `http://` links) in card values and deltas,
captions, messages and subheaders. A model, provider, key, key name, team or tag is
data a gateway logged, so it must never become a link, an image the browser fetches or
a format there. Every Markdown-rendered element of the page is drawn through this
module: `card` for the cards and `say` for sentences, whose fields are escaped while the
template (the page's own words) keeps its Markdown. Charts and tables need nothing:
Vega-Lite draws labels as text and escapes its tooltips, and st.dataframe draws cells as
text on a canvas (only a LinkColumn or ImageColumn, which the page never uses, would
turn a cell into a link or an image).
"""

from __future__ import annotations

import re
import string

import streamlit as st

# CommonMark lets a backslash escape any ASCII punctuation character, which then stands
# for itself; escaping them all also defuses Streamlit's extensions (they start with
# ':', '$' or a bare URL's ':' and '/'). Line breaks would start a new block.
_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
# GitHub-flavoured Markdown also links bare URLs, www. names and e-mail addresses, and
# finds them in the text after escapes are read (remark-gfm's autolink literals), so no
# escape stops them. An invisible WORD JOINER after ':' and '@' and between 'www' and
# '.' breaks each pattern ('http:<WJ>//', 'a@<WJ>b.c', 'www<WJ>.') without a visible change.
WORD_JOINER = "\u2060"
_AUTOLINK_PARTS = re.compile(r"(\\[:@])|(?i:(www))(?=\\\.)")


def plain(value) -> str:
    """`value` as Markdown that shows exactly its characters (line breaks as spaces)."""
    escaped = _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(value)))
    return _AUTOLINK_PARTS.sub(lambda m: (m[1] or m[2]) + WORD_JOINER, escaped)


def sentence(template: str, **fields) -> str:
    """The page's own Markdown `template` with each `{field}` shown as plain text."""
    return template.format(**{key: plain(value) for key, value in fields.items()})


def say(kind: str, template: str, **fields) -> None:
    """A message (`info`, `warning`, `error`, `caption`, `subheader`) whose fields are
    data shown as text: `say("info", "No requests match {what}.", what=model)`."""
    getattr(st, kind)(sentence(template, **fields))


def card(slot, label: str, value: str, delta: str | None = None, **options) -> None:
    """A bordered card (st.metric) whose value and delta are shown as text.

    Every card value passes here, names and formatted figures alike ('$1.00 .. $2.00'
    would otherwise start LaTeX)."""
    slot.metric(label, plain(value), _delta(delta), border=True, height="stretch", **options)


def _delta(delta: str | None) -> str | None:
    # Streamlit points the arrow down when the delta starts with '-': that sign stays.
    if delta is None:
        return None
    sign = "-" if delta.startswith("-") else ""
    return sign + plain(delta[len(sign) :])

"""Answers as HTML: markdown rendered, then sanitised, then citation markers linked.

Model output is untrusted (a passage may carry HTML or a prompt may make the model write
some): nh3 keeps a small allow-list of tags and drops everything else, scripts included.
"""

from __future__ import annotations

import re

import markdown
import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote", "code", "pre",
    "h3", "h4", "h5", "table", "thead", "tbody", "tr", "th", "td", "a", "mark", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
_MARKER = re.compile(r"\[(\d{1,2})\]")


def render_answer(text: str, sources: list[dict], anchor: str = "src") -> SafeString:
    """Markdown → safe HTML; `[n]` becomes a link to source n of the panel (`#<anchor>-n`)."""
    html = markdown.markdown(text or "", extensions=["extra", "sane_lists"], output_format="html")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    labels = {s["n"]: s.get("label") or s.get("title", "") for s in sources if "n" in s}

    def link(match: re.Match) -> str:
        n = int(match.group(1))
        if n not in labels:
            return match.group(0)
        label = escape(labels[n])
        return (
            f'<a class="cite" href="#{anchor}-{n}" title="Source {n} : {label}">'
            f'[{n}]<span class="visually-hidden"> source {n} : {label}</span></a>'
        )

    # Markers inside tags' attributes are impossible here: the only attributes left are
    # href/title of links, and a marker would have to be written as a link by the model.
    return mark_safe(_MARKER.sub(link, clean))  # noqa: S308 - sanitised by nh3 just above

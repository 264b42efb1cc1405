"""HTML: the main content through trafilatura (no menus, no footer), headings kept."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

from .base import Block, ConvertedDocument
from .common import Options, clean_inline, decode_readable, format_row, has_words

logger = logging.getLogger("ai.converters")

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-]+)""", re.I)


def decode_html(data: bytes) -> str:
    """Honour a <meta charset> declaration, else detect like any text file."""
    match = _META_CHARSET.search(data[:4096])
    if match:
        encoding = match.group(1).decode("ascii", "ignore")
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_readable(data)


def convert(data: bytes, options: Options) -> ConvertedDocument:
    html = decode_html(data)
    blocks = _trafilatura_blocks(html)
    warnings: list[str] = []
    if not blocks:
        blocks = _fallback_blocks(html)
    head = _HeadParser.parse(html)
    title = head.og_title or head.title
    if not title:
        title = next((b.text for b in blocks if b.kind == "heading"), "")
    return ConvertedDocument(
        blocks=blocks,
        page_count=1,
        title=clean_inline(title)[:200],
        format="html",
        warnings=warnings,
    )


def _trafilatura_blocks(html: str) -> list[Block]:
    try:
        import trafilatura
        from lxml import etree
    except ImportError:  # pragma: no cover - declared dependency
        return []
    try:
        xml = trafilatura.extract(
            html,
            output_format="xml",
            include_tables=True,
            include_formatting=True,
            include_comments=False,
            include_images=False,
            favor_recall=True,
        )
    except Exception:  # trafilatura on odd markup: fall back to the plain parser
        logger.warning("trafilatura a échoué", exc_info=True)
        return []
    if not xml:
        return []
    try:
        root = etree.fromstring(xml.encode("utf-8"))
    except etree.XMLSyntaxError:
        return []
    main = root.find("main")
    if main is None:
        main = root
    blocks: list[Block] = []
    _walk(main, blocks, in_list=False)
    return blocks


def _text_of(element) -> str:
    return clean_inline("".join(element.itertext()))


def _walk(element, blocks: list[Block], in_list: bool) -> None:
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "head":
            text = _text_of(child)
            rend = child.get("rend") or "h2"
            level = int(rend[1]) if len(rend) == 2 and rend[1].isdigit() else 2
            if text:
                blocks.append(Block(text=text, kind="heading", level=level))
        elif tag == "list":
            _walk(child, blocks, in_list=True)
        elif tag == "item":
            # Text of the item itself; nested lists come after as their own items.
            own = clean_inline(
                (child.text or "")
                + "".join(
                    "".join(sub.itertext()) + (sub.tail or "") if sub.tag != "list" else ""
                    for sub in child
                )
            )
            if own:
                blocks.append(Block(text=own, kind="list_item"))
            for sub in child:
                if sub.tag == "list":
                    _walk(sub, blocks, in_list=True)
        elif tag == "table":
            _table(child, blocks)
        elif tag in ("p", "quote", "code"):
            text = _text_of(child)
            if text:
                blocks.append(Block(text=text, kind="list_item" if in_list else "paragraph"))
        elif tag in ("div", "main", "section"):
            _walk(child, blocks, in_list)
        else:
            text = _text_of(child)
            if text and has_words(text):
                blocks.append(Block(text=text))


def _table(table, blocks: list[Block]) -> None:
    rows = []
    for row in table.iter("row"):
        cells = [_text_of(cell) for cell in row.findall("cell")]
        if any(cells):
            rows.append(cells)
    if not rows:
        return
    if len(rows) == 1:
        blocks.append(Block(text=" ; ".join(c for c in rows[0] if c), kind="table_row"))
        return
    for cells in rows[1:]:
        text = format_row(rows[0], cells)
        if text:
            blocks.append(Block(text=text, kind="table_row"))


class _HeadParser(HTMLParser):
    """<title> and og:title."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.og_title = ""
        self._in_title = False

    @classmethod
    def parse(cls, html: str) -> _HeadParser:
        parser = cls()
        try:
            parser.feed(html[:200_000])
            parser.close()
        except Exception:  # stdlib parser on broken markup: keep what was found
            logger.debug("HTML head parsing failed", exc_info=True)
        return parser

    def handle_starttag(self, tag, attrs):
        if tag == "title" and not self.title:
            self._in_title = True
        elif tag == "meta":
            values = dict(attrs)
            if (values.get("property") or values.get("name")) == "og:title":
                self.og_title = clean_inline(values.get("content") or "")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title = clean_inline(self.title + " " + data)


# Menus, headers, footers and non-text elements.
_SKIP = {"script", "style", "noscript", "nav", "footer", "header", "aside", "form", "template"}
_SKIP |= {"svg", "iframe", "button", "select", "title"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Elements that end a block of text.
_BREAKS = {"p", "div", "section", "article", "main", "br", "tr", "table", "ul", "ol", "pre"}
_BREAKS |= {"blockquote", "dd", "dt", "li", "td", "th", "body", "figcaption"}
_VOID = {"br", "img", "hr", "meta", "link", "input", "source", "wbr", "area", "base", "col"}


class _TextParser(HTMLParser):
    """Fallback extraction: visible text by block element, menus and footers dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        # Skipped region (nav, footer...): its tag name and how many of them are open. Only
        # that tag is counted, so unclosed <li> or <p> inside cannot leave us skipping forever.
        self._skip_tag = ""
        self._skip_depth = 0
        self._buffer: list[str] = []
        self._kind = "paragraph"
        self._level = 0

    def _flush(self) -> None:
        text = clean_inline("".join(self._buffer))
        if text:
            self.blocks.append(Block(text=text, kind=self._kind, level=self._level))  # type: ignore[arg-type]
        self._buffer = []
        self._kind, self._level = "paragraph", 0

    def handle_starttag(self, tag, attrs):
        if tag in _VOID:
            if tag == "br" and not self._skip_tag:
                self._buffer.append(" ")
            return
        if self._skip_tag:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        if tag in _SKIP:
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag in _HEADINGS:
            self._flush()
            self._kind, self._level = "heading", _HEADINGS[tag]
        elif tag == "li":
            self._flush()
            self._kind = "list_item"
        elif tag in _BREAKS:
            self._flush()
        elif tag in ("td", "th"):
            self._buffer.append(" ")

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        if self._skip_tag:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth <= 0:
                    self._skip_tag = ""
            return
        if tag in _HEADINGS or tag == "li" or tag in _BREAKS:
            self._flush()

    def handle_data(self, data):
        if not self._skip_tag:
            self._buffer.append(data)


def _fallback_blocks(html: str) -> list[Block]:
    parser = _TextParser()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # stdlib parser on broken markup: keep what was found
        logger.debug("HTML fallback parsing failed", exc_info=True)
    parser._flush()
    return [b for b in parser.blocks if has_words(b.text)]

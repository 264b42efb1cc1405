"""CSV: encoding and separator detected (French open data is often cp1252 with ';')."""

from __future__ import annotations

import csv
import io

from .base import ConvertedDocument
from .common import Options, decode_readable, file_stem, rows_to_blocks

DELIMITERS = ";,\t|"
_SAMPLE_LINES = 50


def convert(data: bytes, options: Options) -> ConvertedDocument:
    text = decode_readable(data)
    delimiter = detect_delimiter(text)
    # Quoted fields with newlines are fine; NUL bytes would make the csv module raise.
    reader = csv.reader(io.StringIO(text.replace("\x00", ""), newline=""), delimiter=delimiter)
    csv.field_size_limit(10 * 1024 * 1024)
    warnings: list[str] = []
    blocks = rows_to_blocks(_safe_rows(reader), page=1, warnings=warnings, label="Fichier CSV")
    return ConvertedDocument(
        blocks=blocks,
        page_count=1,
        title=file_stem(options.filename),
        format="csv",
        warnings=warnings,
    )


def _safe_rows(reader):
    # csv.Error ("field larger than field limit", stray quotes at EOF) stops the read without
    # losing the rows already parsed.
    try:
        yield from reader
    except csv.Error:
        return


def detect_delimiter(text: str) -> str:
    """csv.Sniffer on a sample, checked against a consistency score; ';' when all else fails.

    The score of a delimiter is the share of sample rows having its most common field count.
    The sniffer's answer is kept unless another delimiter splits the rows more consistently
    (French decimal commas fool it into ',' on ';' files).
    """
    lines = [line for line in text.splitlines()[:_SAMPLE_LINES] if line.strip()]
    if not lines:
        return ";"
    scores = {d: _consistency(lines, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (round(scores[d][0], 1), scores[d][1], d == ";"))
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if (
        sniffed in scores
        and scores[sniffed][1] >= 2
        and scores[sniffed][0] >= scores[best][0] - 0.1
        and scores[sniffed][1] >= scores[best][1]
    ):
        return sniffed
    return best if scores[best][1] >= 2 else ";"


def _consistency(lines: list[str], delimiter: str) -> tuple[float, int]:
    """(share of rows with the most common field count, that field count)."""
    try:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
    except csv.Error:
        return (0.0, 0)
    if not counts:
        return (0.0, 0)
    mode = max(set(counts), key=counts.count)
    if mode < 2:
        return (0.0, mode)
    return (counts.count(mode) / len(counts), mode)

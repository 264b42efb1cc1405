"""What a source (folder, website, SQL query) yields to the ingestion pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class FetchedItem:
    """One document fetched from a source, before conversion."""

    # Stable identity within the source: URL, path relative to the folder, row key.
    uri: str
    title: str
    # Used to choose the converter ("page.html", "ligne-42.txt", "rapport.pdf").
    filename: str
    data: bytes
    modified: datetime | None = None


@dataclass
class FetchFailure:
    """An item the source could not fetch; the run records it and goes on."""

    uri: str
    # French message for the user.
    message: str


class SourceError(Exception):
    """The whole source is unusable (bad settings, refused query). French message."""

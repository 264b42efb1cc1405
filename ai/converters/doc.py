"""Word 97-2003 (.doc) through antiword (Debian package `antiword`) when it is installed."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile

from .base import ConversionError, ConvertedDocument
from .common import Options, file_stem, text_to_blocks

UNSUPPORTED = (
    "Le format Word 97-2003 (.doc) n'est pas pris en charge sur ce serveur : enregistrez le "
    "document en .docx ou en PDF."
)
TIMEOUT_SECONDS = 120


@functools.lru_cache(maxsize=1)
def antiword_path() -> str | None:
    return shutil.which("antiword")


def convert(data: bytes, options: Options) -> ConvertedDocument:
    command = antiword_path()
    if not command:
        raise ConversionError(UNSUPPORTED)
    # antiword reads a path, not stdin. -w 0: no re-wrapping; -m UTF-8.txt: UTF-8 output.
    with tempfile.NamedTemporaryFile(suffix=".doc") as handle:
        handle.write(data)
        handle.flush()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tempfile.gettempdir()}
        try:
            result = subprocess.run(  # noqa: S603 - fixed command, path we created
                [command, "-m", "UTF-8.txt", "-w", "0", handle.name],
                capture_output=True,
                timeout=TIMEOUT_SECONDS,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ConversionError(
                "La lecture du document Word (.doc) a pris trop de temps."
            ) from exc
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").lower()
        if "encrypt" in message or "password" in message:
            raise ConversionError(
                "Le document Word est protégé par un mot de passe : il ne peut pas être lu."
            )
        raise ConversionError(
            "Le document Word 97-2003 (.doc) est endommagé ou n'a pas pu être lu : "
            "enregistrez-le en .docx ou en PDF."
        )
    text = result.stdout.decode("utf-8", "replace")
    text = text.replace("[pic]", " ")
    blocks = []
    pages = text.split("\f")
    for number, page in enumerate(pages, start=1):
        blocks.extend(text_to_blocks(_tables_to_lines(page), page=number))
    title = next((b.text for b in blocks[:30] if b.kind == "heading"), "") or file_stem(
        options.filename
    )
    return ConvertedDocument(blocks=blocks, page_count=len(pages), title=title, format="doc")


def _tables_to_lines(text: str) -> str:
    # antiword draws table rows as "|cell |cell |": keep the cells, drop the drawing.
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.count("|") >= 2 and (stripped.startswith("|") or stripped.count("|") >= 3):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            line = " ; ".join(c for c in cells if c)
        lines.append(line)
    return "\n".join(lines)

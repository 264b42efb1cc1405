"""Tesseract OCR in French, run as a subprocess (Debian packages tesseract-ocr, tesseract-ocr-fra).

Tesseract is called directly rather than through pytesseract because it must run with
OMP_THREAD_LIMIT=1: on a 2-core machine Tesseract's OpenMP threads make a 300-dpi page take
~5 s instead of ~1 s for the same text, and pytesseract cannot set a child's environment without
changing the whole process's.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import shutil
import subprocess

from .base import ConversionError

logger = logging.getLogger("ai.converters")

LANG = "fra"
# A stuck Tesseract must not hold a worker forever; a dense 300-dpi page takes 1-5 s.
PAGE_TIMEOUT_SECONDS = 180
# Pixels handed to Tesseract at most (an A4 page at 300 dpi is ~8.7 million).
MAX_PIXELS = 40_000_000


def tesseract_command() -> str | None:
    return shutil.which(os.environ.get("TESSERACT_CMD", "tesseract"))


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_THREAD_LIMIT", "1")
    return env


@functools.lru_cache(maxsize=1)
def unavailable_reason() -> str:
    """'' when Tesseract with French data can run here, else a French explanation."""
    command = tesseract_command()
    if not command:
        return "Tesseract n'est pas installé sur ce serveur"
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [command, "--list-langs"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        logger.exception("Tesseract ne répond pas")
        return "Tesseract ne répond pas sur ce serveur"
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    languages = {line.strip() for line in output.splitlines()}
    if LANG not in languages:
        return "les données françaises de Tesseract (tesseract-ocr-fra) ne sont pas installées"
    return ""


def image_to_text(image, dpi: int | None = None) -> str:
    """OCR one PIL image in French. Raises ConversionError if Tesseract fails on it."""
    command = tesseract_command()
    if not command:
        raise ConversionError("Tesseract n'est pas installé sur ce serveur.")
    image, dpi = _prepare(image, dpi)
    buffer = io.BytesIO()
    # Fast PNG: the pipe is local, compression would only cost time.
    image.save(buffer, format="PNG", compress_level=1)
    arguments = [command, "stdin", "stdout", "-l", LANG]
    if dpi:
        arguments += ["--dpi", str(dpi)]
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments, image on stdin
            arguments,
            input=buffer.getvalue(),
            capture_output=True,
            timeout=PAGE_TIMEOUT_SECONDS,
            env=_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ConversionError("La reconnaissance de texte a pris trop de temps.") from exc
    except OSError as exc:
        logger.warning("Tesseract n'a pas pu être lancé : %s", exc)
        raise ConversionError("La reconnaissance de texte (OCR) a échoué.") from exc
    if result.returncode != 0:
        logger.warning(
            "Tesseract a échoué (%s) : %s",
            result.returncode,
            result.stderr.decode("utf-8", "replace")[-500:],
        )
        raise ConversionError("La reconnaissance de texte (OCR) a échoué.")
    return result.stdout.decode("utf-8", "replace")


def _prepare(image, dpi: int | None):
    from PIL import Image

    if image.mode not in ("L", "RGB"):
        if image.mode in ("RGBA", "LA", "P", "PA"):
            # Transparent pixels become white, not black, so text on them stays readable.
            image = image.convert("RGBA")
            background = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, image).convert("RGB")
        else:
            image = image.convert("RGB")
    width, height = image.size
    if width * height > MAX_PIXELS:
        factor = (MAX_PIXELS / (width * height)) ** 0.5
        image = image.resize((max(1, int(width * factor)), max(1, int(height * factor))))
        dpi = int(dpi * factor) if dpi else None
    elif max(width, height) < 1000:
        # Small screenshots: Tesseract reads letters of ~30 px far better than of ~10 px.
        image = image.resize((width * 2, height * 2), Image.Resampling.LANCZOS)
        dpi = dpi * 2 if dpi else None
    return image, dpi

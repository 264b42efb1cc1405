"""A throw-away Django for a bench script: its own SQLite file, media folder and in-memory
Qdrant under `tmp`, migrated, quiet. Call before anything imports Django models."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def configure(tmp: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["DATA_DIR"] = str(tmp)
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    os.environ["QDRANT_PATH"] = ":memory:"
    os.environ["QDRANT_URL"] = ""
    os.environ["AI_INDEX_SYNC"] = "false"
    os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    logging.disable(logging.INFO)  # per-document pipeline and audit lines
    # Qdrant warns that local mode is slow past 20,000 points: the benches measure it instead.
    warnings.filterwarnings("ignore", message="Local mode is not recommended")

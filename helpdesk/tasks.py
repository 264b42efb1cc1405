"""django-q2 entry points: take ids, call a service."""

from __future__ import annotations

from helpdesk import imports


def run_import(job_id: int) -> None:
    imports.run_import(job_id)

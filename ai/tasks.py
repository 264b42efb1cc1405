"""django-q2 entry points: take ids, call a service."""

from __future__ import annotations

from ai import services
from ai.models import Source


def execute_run(run_id: int) -> None:
    services.execute_run(run_id)


def ingest_document(doc_id: int, run_id: int | None = None) -> str:
    try:
        return services.ingest_document(doc_id, run_id)
    except Exception as exc:
        services.record_ingest_crash(doc_id, run_id, exc)
        return "error"


def scheduled_run(source_id: int) -> None:
    source = Source.objects.filter(pk=source_id, enabled=True).first()
    if source is not None:
        services.start_run(source)


def resume_stalled_runs() -> int:
    return len(services.resume_stalled_runs())

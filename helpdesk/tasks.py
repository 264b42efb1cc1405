"""django-q2 entry points: take ids, call a service."""

from __future__ import annotations

from helpdesk import imports


def run_import(job_id: int) -> None:
    imports.run_import(job_id)


def retrain_category_model() -> None:
    from helpdesk import services

    try:
        services.train_category_model()
    except ValueError as exc:  # too little history yet: nothing to learn, not an error
        import logging

        logging.getLogger(__name__).info("Suggestion de catégorie non entraînée : %s", exc)


def check_spikes() -> int:
    """Hourly: new spike alerts for yesterday and today, sent to the IT manager."""
    from helpdesk import alerts

    return len(alerts.check_spikes())

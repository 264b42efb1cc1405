"""Reads of the AI layer; every selector takes the requesting user and goes through core.access."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest

from ai.models import Chunk, Collection, Document, IngestionRun, Source
from ai.sources import app as app_source
from core import access


def visible_collections(user) -> QuerySet[Collection]:
    return access.filter_visible(user, Collection.objects.select_related("direction"))


def visible_documents(user) -> QuerySet[Document]:
    """Documents of the collections the user reads. Those fed by an app with its own rule are
    left out of listings (they are reached through search, which applies the rule per hit)."""
    return Document.objects.filter(collection__in=visible_collections(user).values("pk")).exclude(
        source__kind=Source.Kind.APP, source__config__provider__in=app_source.ruled()
    )


def visible_chunks(user) -> QuerySet[Chunk]:
    return Chunk.objects.filter(collection__in=visible_collections(user).values("pk"))


def get_document(user, pk, request: HttpRequest | None = None) -> Document:
    """A document the user may read, or 404 (a denial is audited through its collection)."""
    try:
        document = Document.objects.select_related("collection", "source").get(pk=pk)
    except (Document.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Aucun document ne correspond à la demande.") from exc
    access.get_visible_or_404(user, Collection, request=request, pk=document.collection_id)
    # An app-fed document also answers to its app's rule (a ticket: its requester, technicians).
    if document.pk not in app_source.allowed_documents(user, [document]):
        raise Http404("Aucun document ne correspond à la demande.")
    return document


def managed_collections(user) -> QuerySet[Collection]:
    """Collections the user may administer: their role allows it, on their directions."""
    if not user.has_perm("ai.change_collection"):
        return Collection.objects.none()
    qs = Collection.objects.select_related("direction").annotate(
        document_count=Count("documents", distinct=True)
    )
    if user.is_superuser:
        return qs
    return qs.filter(direction_id__in=access.writable_direction_ids(user))


def run_counts(run: IngestionRun) -> dict[str, int]:
    """Counts of a run, derived from its documents' outcomes (right even after redelivery)."""
    rows = (
        Document.objects.filter(last_run=run)
        .values("last_outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {"new": 0, "updated": 0, "unchanged": 0, "failed": 0}
    for row in rows:
        if row["last_outcome"] in counts:
            counts[row["last_outcome"]] = row["n"]
    counts["done"] = sum(counts.values())
    counts["deleted"] = run.deleted
    counts["total"] = run.total
    return counts


def _managed_or_404(user, qs: QuerySet, pk, via: str, message: str):
    """One object under a collection the user administers, or 404 (never another direction's)."""
    obj = qs.filter(pk=pk, **{f"{via}__in": managed_collections(user).values("pk")}).first()
    if obj is None:
        raise Http404(message)
    return obj


def get_managed_collection(user, pk) -> Collection:
    return _managed_or_404(
        user, managed_collections(user), pk, "pk", "Aucune base ne correspond à la demande."
    )


def get_managed_source(user, pk) -> Source:
    return _managed_or_404(
        user,
        Source.objects.select_related("collection"),
        pk,
        "collection",
        "Aucune source ne correspond à la demande.",
    )


def get_managed_run(user, pk) -> IngestionRun:
    return _managed_or_404(
        user,
        IngestionRun.objects.select_related("source"),
        pk,
        "source__collection",
        "Aucune exécution ne correspond à la demande.",
    )


def get_managed_document(user, pk) -> Document:
    return _managed_or_404(
        user,
        Document.objects.select_related("collection", "source"),
        pk,
        "collection",
        "Aucun document ne correspond à la demande.",
    )

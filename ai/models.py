"""Knowledge bases, their sources, documents and indexed chunks; the language models.

The SQL database is the source of truth: chunk text, access facts and both vectors live here.
Qdrant is a derived index, rebuilt from these rows by `manage.py reindex` without re-embedding.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from ai.llm import secrets as llm_secrets
from core.models import Direction, OwnedModel, Visibility

logger = logging.getLogger(__name__)


class Collection(OwnedModel):
    """A knowledge base owned by a direction; shareable through guardian (`view_collection`)."""

    name = models.CharField("nom", max_length=200)
    slug = models.SlugField("identifiant", max_length=80, unique=True)
    description = models.TextField("description", blank=True)
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)

    class Meta:
        verbose_name = "base de connaissances"
        verbose_name_plural = "bases de connaissances"
        ordering = ["name"]
        permissions = [("view_as", "Chercher « comme » un autre agent (contrôle des droits)")]

    def __str__(self) -> str:
        return self.name


class Source(models.Model):
    class Kind(models.TextChoices):
        UPLOAD = "upload", "Fichiers déposés"
        FOLDER = "folder", "Dossier du serveur"
        WEBSITE = "website", "Site web"
        SQL = "sql", "Base de données SQL"
        APP = "app", "Données d'une application"

    collection = models.ForeignKey(
        Collection, verbose_name="base", on_delete=models.CASCADE, related_name="sources"
    )
    name = models.CharField("nom", max_length=200)
    kind = models.CharField("type", max_length=16, choices=Kind.choices)
    # Kind-specific settings (folder path, start URLs, connection string and query...).
    config = models.JSONField("paramètres", default=dict, blank=True)
    # Minutes between automatic runs; 0 = on demand only.
    schedule_minutes = models.PositiveIntegerField("fréquence (minutes)", default=0)
    enabled = models.BooleanField("active", default=True)
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    last_run_at = models.DateTimeField("dernière exécution", null=True, blank=True)

    class Meta:
        verbose_name = "source"
        verbose_name_plural = "sources"
        ordering = ["collection__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class IngestionRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "En cours"
        DONE = "done", "Terminée"
        FAILED = "failed", "Échouée"

    source = models.ForeignKey(
        Source, verbose_name="source", on_delete=models.CASCADE, related_name="runs"
    )
    status = models.CharField("état", max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField("début", default=timezone.now)
    finished_at = models.DateTimeField("fin", null=True, blank=True)
    # Documents this run has to look at; the outcome of each is on the Document row, so
    # counts stay right when a task is delivered twice after a worker crash.
    total = models.PositiveIntegerField("documents", default=0)
    deleted = models.PositiveIntegerField("supprimés", default=0)
    error = models.TextField("erreur", blank=True)
    # Seconds spent per stage, summed over documents: fetch, convert, chunk, embed, store.
    timings = models.JSONField("durées", default=dict, blank=True)
    # When a document of the run last finished (or the run started): a run with no progress
    # for longer than a task may last lost its tasks (a Redis broker does not hand back the
    # task of a killed worker), and is resumed (services.resume_stalled_runs).
    progress_at = models.DateTimeField("dernière avancée", default=timezone.now)
    resumes = models.PositiveSmallIntegerField("reprises", default=0)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="lancée par",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = "exécution d'indexation"
        verbose_name_plural = "exécutions d'indexation"
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.source} – {self.started_at:%d/%m/%Y %H:%M}"


def _upload_path(instance: Document, filename: str) -> str:
    return f"ai/{instance.collection_id}/{uuid.uuid4().hex}/{filename}"


class Document(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "En attente"
        PROCESSING = "processing", "En cours"
        INDEXED = "indexed", "Indexé"
        FAILED = "failed", "Échec"

    class Outcome(models.TextChoices):
        NEW = "new", "Nouveau"
        UPDATED = "updated", "Modifié"
        UNCHANGED = "unchanged", "Inchangé"
        FAILED = "failed", "Échec"

    source = models.ForeignKey(
        Source, verbose_name="source", on_delete=models.CASCADE, related_name="documents"
    )
    # Denormalised from the source, for access filtering without a join chain.
    collection = models.ForeignKey(
        Collection, verbose_name="base", on_delete=models.CASCADE, related_name="documents"
    )
    uri = models.CharField("adresse", max_length=1000)
    title = models.CharField("titre", max_length=500, blank=True)
    filename = models.CharField("nom de fichier", max_length=255, blank=True)
    file = models.FileField("fichier", upload_to=_upload_path, max_length=500, blank=True)
    format = models.CharField("format", max_length=16, blank=True)
    size = models.PositiveBigIntegerField("taille (octets)", default=0)
    content_hash = models.CharField("empreinte", max_length=64, blank=True)
    # Hash of the content that is indexed now; differs from content_hash while pending.
    indexed_hash = models.CharField("empreinte indexée", max_length=64, blank=True)
    source_modified_at = models.DateTimeField("modifié à la source", null=True, blank=True)
    status = models.CharField(
        "état", max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    error = models.TextField("erreur", blank=True)
    warnings = models.JSONField("avertissements", default=list, blank=True)
    page_count = models.PositiveIntegerField("pages", default=0)
    attempts = models.PositiveSmallIntegerField("tentatives", default=0)
    last_run = models.ForeignKey(
        IngestionRun,
        verbose_name="dernière exécution",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="documents",
    )
    last_outcome = models.CharField("résultat", max_length=16, choices=Outcome.choices, blank=True)
    created_at = models.DateTimeField("ajouté le", auto_now_add=True)
    indexed_at = models.DateTimeField("indexé le", null=True, blank=True)

    class Meta:
        verbose_name = "document"
        verbose_name_plural = "documents"
        ordering = ["title", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["source", "uri"], name="ai_document_source_uri"),
        ]

    def __str__(self) -> str:
        return self.title or self.filename or self.uri


class Chunk(models.Model):
    """A passage of a document, with its vectors and the access facts of its collection."""

    # Content-derived: the same passage of the same document keeps its id across re-indexing.
    id = models.UUIDField(primary_key=True, editable=False)
    document = models.ForeignKey(
        Document, verbose_name="document", on_delete=models.CASCADE, related_name="chunks"
    )
    order = models.PositiveIntegerField("rang")
    text = models.TextField("texte")
    page = models.PositiveIntegerField("page", default=1)
    heading_path = models.CharField("titres", max_length=1000, blank=True)
    # Access facts, copied from the collection (and updated with it, never re-embedded).
    collection = models.ForeignKey(
        Collection, verbose_name="base", on_delete=models.CASCADE, related_name="+"
    )
    direction = models.ForeignKey(
        Direction, verbose_name="direction", on_delete=models.PROTECT, related_name="+"
    )
    visibility = models.CharField("visibilité", max_length=16, choices=Visibility.choices)
    app = models.CharField("application", max_length=32, default="ai")
    dense = models.BinaryField("vecteur dense")
    sparse = models.JSONField("vecteur creux", default=dict)
    # False until the vector store has this chunk as it is now.
    synced = models.BooleanField("synchronisé", default=False, db_index=True)

    class Meta:
        verbose_name = "passage"
        verbose_name_plural = "passages"
        ordering = ["document_id", "order"]

    def __str__(self) -> str:
        return f"{self.document} §{self.order}"

    @property
    def dense_vector(self) -> np.ndarray:
        return np.frombuffer(bytes(self.dense), dtype=np.float32)

    def payload(self) -> dict:
        return {
            "direction_id": self.direction_id,
            "visibility": self.visibility,
            "collection_id": self.collection_id,
            "app": self.app,
            "object_id": self.document_id,
            "document_id": self.document_id,
        }


class IndexOp(models.Model):
    """A change the vector store must apply that no chunk row can carry (deletions)."""

    class Kind(models.TextChoices):
        DELETE_POINTS = "delete", "Suppression"
        SET_PAYLOAD = "payload", "Droits d'accès"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    point_ids = models.JSONField(default=list, blank=True)
    # A plain id, not a foreign key: the op must outlive a deleted collection.
    collection_id_ref = models.PositiveBigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class LanguageModel(models.Model):
    """A language model an assistant can use: a provider, an endpoint, a model name, a key.

    The API key is stored encrypted (`ai.llm.secrets`) and never rendered back: forms take it
    through a write-only field and call `set_api_key()`.
    """

    class Provider(models.TextChoices):
        EXTRACTIVE = "extractive", "Extractif (sans modèle de langage)"
        MISTRAL = "mistral", "Mistral (API)"
        OPENAI = "openai", "Compatible OpenAI (Albert, vLLM, Ollama…)"

    name = models.CharField(
        "nom", max_length=200, unique=True, help_text="Par exemple « Mistral Small (API) »."
    )
    provider = models.CharField(
        "fournisseur", max_length=16, choices=Provider.choices, default=Provider.MISTRAL
    )
    # Not a URLField: Django's URL validator rejects single-label hosts such as
    # http://vllm:8000/v1, the usual name of a model server in a container network.
    base_url = models.CharField(
        "adresse du serveur",
        max_length=500,
        blank=True,
        help_text="Obligatoire pour un serveur compatible OpenAI (par exemple "
        "https://albert.api.etalab.gouv.fr/v1) ; facultative pour Mistral.",
    )
    model = models.CharField(
        "modèle", max_length=200, blank=True, help_text="Par exemple mistral-small-latest."
    )
    api_key_encrypted = models.TextField("clé d'API (chiffrée)", blank=True, editable=False)
    timeout_s = models.PositiveIntegerField("délai maximal (secondes)", default=30)
    max_retries = models.PositiveSmallIntegerField("nouvelles tentatives", default=2)
    temperature = models.FloatField("température", default=0.2)
    max_tokens = models.PositiveIntegerField("longueur maximale de réponse (jetons)", default=800)
    input_cost_per_mtok = models.DecimalField(
        "coût en entrée (€ par million de jetons)", max_digits=10, decimal_places=4, default=0
    )
    output_cost_per_mtok = models.DecimalField(
        "coût en sortie (€ par million de jetons)", max_digits=10, decimal_places=4, default=0
    )
    is_active = models.BooleanField("actif", default=True)
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    class Meta:
        verbose_name = "modèle de langage"
        verbose_name_plural = "modèles de langage"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        self.base_url = self.base_url.strip()
        if self.provider == self.Provider.OPENAI and not self.base_url:
            errors["base_url"] = "Indiquez l'adresse du serveur compatible OpenAI."
        elif self.base_url and not self.base_url.startswith(("http://", "https://")):
            errors["base_url"] = "L'adresse doit commencer par http:// ou https://."
        if self.provider != self.Provider.EXTRACTIVE and not self.model:
            errors["model"] = "Indiquez le nom du modèle."
        if errors:
            raise ValidationError(errors)

    def set_api_key(self, plain: str) -> None:
        """Store `plain` encrypted (an empty value removes the key); the caller saves."""
        self.api_key_encrypted = llm_secrets.encrypt(plain.strip())

    def get_api_key(self) -> str:
        """The plain key, or "" when none is set or it cannot be decrypted any more."""
        try:
            return llm_secrets.decrypt(self.api_key_encrypted)
        except llm_secrets.SecretError:
            logger.warning(
                "La clé d'API du modèle de langage « %s » (id %s) ne peut plus être déchiffrée "
                "(AI_SECRET_KEY ou SECRET_KEY a changé) : saisissez-la à nouveau.",
                self.name,
                self.pk,
            )
            return ""

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted)

    def estimate_cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> Decimal:
        """Cost in euros of one call, from the per-million-token prices (0 when unknown)."""
        million = Decimal(1_000_000)
        cost = Decimal(prompt_tokens or 0) * self.input_cost_per_mtok / million
        cost += Decimal(completion_tokens or 0) * self.output_cost_per_mtok / million
        return cost

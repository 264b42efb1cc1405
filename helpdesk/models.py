"""The IT helpdesk: categories, tickets with their history, comments, attachments, articles.

Who sees what (helpdesk/selectors.py): a requester sees their own tickets; the IT department's
technicians (permission `helpdesk.view_all_tickets`) see every ticket; knowledge-base articles
are either for every agent or internal technician notes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.models import Direction


class Category(models.Model):
    """A node of the category tree (« Matériel > Imprimantes »)."""

    name = models.CharField("nom", max_length=120)
    parent = models.ForeignKey(
        "self",
        verbose_name="catégorie parente",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    # The label of imported tickets (a GLPI category, an export's code) it stands for.
    code = models.CharField("code d'import", max_length=120, blank=True, db_index=True)
    is_active = models.BooleanField("active", default=True)

    class Meta:
        verbose_name = "catégorie"
        verbose_name_plural = "catégories"
        ordering = ["parent__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="helpdesk_category_unique_name")
        ]

    def __str__(self) -> str:
        return self.path

    @property
    def path(self) -> str:
        names, node, seen = [], self, set()
        while node is not None and node.pk not in seen:
            seen.add(node.pk)
            names.append(node.name)
            node = node.parent
        return " > ".join(reversed(names))


class Ticket(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "Nouveau"
        ASSIGNED = "assigned", "Pris en charge"
        WAITING = "waiting", "En attente de l'agent"
        RESOLVED = "resolved", "Résolu"
        CLOSED = "closed", "Clos"

    class Priority(models.IntegerChoices):
        LOW = 1, "Basse"
        NORMAL = 2, "Normale"
        HIGH = 3, "Haute"
        URGENT = 4, "Urgente"

    class Origin(models.TextChoices):
        PORTAL = "portal", "Portail"
        IMPORT = "import", "Import"

    # The ticket's number in the system it was imported from (GLPI id...); blank otherwise.
    external_id = models.CharField("n° d'origine", max_length=64, blank=True, db_index=True)
    origin = models.CharField(
        "origine", max_length=16, choices=Origin.choices, default=Origin.PORTAL
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="demandeur",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="helpdesk_tickets",
    )
    # The requester's direction when the ticket was opened (for counts per direction).
    direction = models.ForeignKey(
        Direction,
        verbose_name="direction du demandeur",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    category = models.ForeignKey(
        Category,
        verbose_name="catégorie",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    priority = models.PositiveSmallIntegerField(
        "priorité", choices=Priority.choices, default=Priority.NORMAL
    )
    status = models.CharField("état", max_length=16, choices=Status.choices, default=Status.NEW)
    title = models.CharField("titre", max_length=250)
    description = models.TextField("description", blank=True)
    # The three facts a technician asks first (helpdesk/intake.py asks for them when missing).
    device = models.CharField("matériel concerné", max_length=200, blank=True)
    error_message = models.TextField("message d'erreur", blank=True)
    since = models.CharField("depuis quand", max_length=120, blank=True)
    # The helpdesk assistant's conversation the ticket was opened from (chat.Conversation).
    conversation_id = models.PositiveBigIntegerField("conversation", null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="technicien",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="helpdesk_assigned",
    )
    resolution = models.TextField("résolution", blank=True)
    created_at = models.DateTimeField("ouvert le", db_index=True)
    updated_at = models.DateTimeField("modifié le", auto_now=True)
    resolved_at = models.DateTimeField("résolu le", null=True, blank=True)

    class Meta:
        verbose_name = "ticket"
        verbose_name_plural = "tickets"
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("view_all_tickets", "Voir et traiter tous les tickets (technicien)"),
            ("view_dashboard", "Voir le tableau de bord de l'assistance"),
            ("receive_alerts", "Recevoir les alertes de hausse de tickets (responsable DSI)"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["origin", "external_id"],
                condition=~models.Q(external_id=""),
                name="helpdesk_ticket_unique_external_id",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class StatusChange(models.Model):
    """The ticket's history: each change of status, by whom, when."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField("avant", max_length=16, blank=True)
    to_status = models.CharField("après", max_length=16)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField("le", auto_now_add=True)

    class Meta:
        verbose_name = "changement d'état"
        verbose_name_plural = "historique"
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_label or '–'} → {self.to_label}"

    @property
    def from_label(self) -> str:
        return Ticket.Status(self.from_status).label if self.from_status else ""

    @property
    def to_label(self) -> str:
        return Ticket.Status(self.to_status).label


class Comment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField("commentaire")
    # Technicians' notes between themselves: never shown to the requester.
    internal = models.BooleanField("note interne", default=False)
    created_at = models.DateTimeField("le", auto_now_add=True)

    class Meta:
        verbose_name = "commentaire"
        verbose_name_plural = "commentaires"
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.body[:60]


def _attachment_path(instance: Attachment, filename: str) -> str:
    return f"helpdesk/{instance.ticket_id}/{filename}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField("fichier", upload_to=_attachment_path, max_length=300)
    name = models.CharField("nom", max_length=255)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("le", auto_now_add=True)

    class Meta:
        verbose_name = "pièce jointe"
        verbose_name_plural = "pièces jointes"

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    """A knowledge-base article: for every agent, or an internal note for technicians."""

    class Audience(models.TextChoices):
        AGENTS = "agents", "Tous les agents"
        TECHNICIANS = "technicians", "Techniciens (note interne)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Brouillon"
        PUBLISHED = "published", "Publié"

    title = models.CharField("titre", max_length=250)
    body = models.TextField("contenu")
    category = models.ForeignKey(
        Category,
        verbose_name="catégorie",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
    )
    audience = models.CharField(
        "public", max_length=16, choices=Audience.choices, default=Audience.AGENTS
    )
    status = models.CharField("état", max_length=16, choices=Status.choices, default=Status.DRAFT)
    external_id = models.CharField("n° d'origine", max_length=64, blank=True, db_index=True)
    # The resolved ticket the article was drafted from, if any.
    source_ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    class Meta:
        verbose_name = "article"
        verbose_name_plural = "articles"
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class ImportJob(models.Model):
    """An import of past tickets or articles from a CSV/XLSX file, run in the background."""

    class Kind(models.TextChoices):
        TICKETS = "tickets", "Tickets"
        ARTICLES = "articles", "Articles"

    class Status(models.TextChoices):
        PENDING = "pending", "En attente"
        RUNNING = "running", "En cours"
        DONE = "done", "Terminé"
        FAILED = "failed", "Échec"

    kind = models.CharField("type", max_length=16, choices=Kind.choices)
    file = models.FileField("fichier", upload_to="helpdesk/imports/", max_length=300)
    filename = models.CharField("nom du fichier", max_length=255)
    # Field of the model -> column of the file, chosen in the console.
    mapping = models.JSONField("correspondance des colonnes", default=dict)
    status = models.CharField("état", max_length=16, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField("lignes", default=0)
    processed = models.PositiveIntegerField("lignes traitées", default=0)
    created = models.PositiveIntegerField("créés", default=0)
    updated = models.PositiveIntegerField("mis à jour", default=0)
    unchanged = models.PositiveIntegerField("inchangés", default=0)
    # [[line, message in French], ...]
    errors = models.JSONField("lignes refusées", default=list, blank=True)
    error = models.TextField("erreur", blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("demandé le", auto_now_add=True)
    finished_at = models.DateTimeField("terminé le", null=True, blank=True)

    class Meta:
        verbose_name = "import"
        verbose_name_plural = "imports"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} – {self.filename}"


class Deflection(models.Model):
    """« Résolu sans ticket »: an agent said the helpdesk assistant solved their problem."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The chat conversation that solved it (chat.Conversation); a plain id keeps the apps apart.
    conversation_id = models.PositiveBigIntegerField("conversation", null=True, blank=True)
    question = models.CharField("problème décrit", max_length=500, blank=True)
    created_at = models.DateTimeField("le", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "problème résolu sans ticket"
        verbose_name_plural = "problèmes résolus sans ticket"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "conversation_id"], name="helpdesk_one_deflection_per_conversation"
            )
        ]

    def __str__(self) -> str:
        return self.question[:60]

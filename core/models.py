"""Organisation of the city: users, directions, memberships, owned content and the audit log."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class Visibility(models.TextChoices):
    DIRECTION = "direction", "Direction uniquement"
    INTERNAL = "internal", "Tous les agents"
    PUBLIC = "public", "Public (usagers compris)"


class CityUserManager(UserManager):
    def get_by_natural_key(self, username: str):
        # Logins by e-mail are case-insensitive, as agents type them every way.
        return self.get(**{f"{self.model.USERNAME_FIELD}__iexact": username})


class User(AbstractUser):
    email = models.EmailField("adresse e-mail", unique=True)
    job_title = models.CharField("fonction", max_length=150, blank=True)
    mfa_required = models.BooleanField(
        "double authentification obligatoire",
        default=False,
        help_text="L'agent devra activer un code TOTP avant d'utiliser le portail.",
    )

    objects = CityUserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = "utilisateur"
        verbose_name_plural = "utilisateurs"
        constraints = [
            models.UniqueConstraint(Lower("email"), name="core_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email or self.username

    def clean(self) -> None:
        super().clean()
        self.email = self.email.strip().lower()


class Direction(models.Model):
    """A node of the organisation chart: DGS > DGA > direction > service."""

    class Kind(models.TextChoices):
        DGS = "dgs", "Direction générale des services"
        DGA = "dga", "Direction générale adjointe"
        DIRECTION = "direction", "Direction"
        SERVICE = "service", "Service"

    # Depth of each kind, to forbid a direction under a service and similar inversions.
    RANK = {Kind.DGS: 0, Kind.DGA: 1, Kind.DIRECTION: 2, Kind.SERVICE: 3}

    code = models.CharField(
        "code",
        max_length=32,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Z0-9][A-Z0-9_-]*\Z",
                "Le code ne contient que des majuscules, des chiffres, « - » et « _ ».",
            )
        ],
    )
    name = models.CharField("nom", max_length=200)
    kind = models.CharField("niveau", max_length=16, choices=Kind.choices, default=Kind.DIRECTION)
    parent = models.ForeignKey(
        "self",
        verbose_name="rattachement",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    description = models.TextField("missions", blank=True)
    active = models.BooleanField("active", default=True)

    class Meta:
        verbose_name = "direction"
        verbose_name_plural = "directions"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self) -> None:
        super().clean()
        if self.parent_id is None:
            return
        if self.pk and self.parent_id == self.pk:
            raise ValidationError(
                {"parent": "Une direction ne peut pas être rattachée à elle-même."}
            )
        ancestor = self.parent
        seen: set[int] = set()
        # `seen` also stops on a loop already in the database above us (saved unvalidated).
        while ancestor is not None and ancestor.pk not in seen:
            if self.pk and ancestor.pk == self.pk:
                raise ValidationError(
                    {"parent": "Ce rattachement créerait une boucle dans l'organigramme."}
                )
            seen.add(ancestor.pk)
            ancestor = ancestor.parent
        if self.kind not in self.RANK or self.parent.kind not in self.RANK:
            return  # an unknown level is reported by clean_fields(), not by a crash here
        if self.RANK[self.Kind(self.parent.kind)] >= self.RANK[self.Kind(self.kind)]:
            raise ValidationError(
                {
                    "parent": (
                        f"Un(e) {self.get_kind_display().lower()} ne peut pas dépendre "
                        f"d'un(e) {self.parent.get_kind_display().lower()}."
                    )
                }
            )


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="agent",
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    direction = models.ForeignKey(
        Direction, verbose_name="direction", on_delete=models.CASCADE, related_name="memberships"
    )
    is_head = models.BooleanField("responsable", default=False)
    created_at = models.DateTimeField("depuis le", auto_now_add=True)

    class Meta:
        verbose_name = "affectation"
        verbose_name_plural = "affectations"
        constraints = [
            models.UniqueConstraint(fields=["user", "direction"], name="core_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.direction.code}"


class OwnedModel(models.Model):
    """Base of every object that belongs to a direction (see core.access)."""

    direction = models.ForeignKey(
        Direction, verbose_name="direction", on_delete=models.PROTECT, related_name="+"
    )
    visibility = models.CharField(
        "visibilité", max_length=16, choices=Visibility.choices, default=Visibility.DIRECTION
    )

    class Meta:
        abstract = True


class Announcement(OwnedModel):
    """A news item of the portal, published by a direction."""

    title = models.CharField("titre", max_length=200)
    body = models.TextField("texte")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="auteur",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    published_at = models.DateTimeField("publiée le", default=timezone.now)

    class Meta:
        verbose_name = "actualité"
        verbose_name_plural = "actualités"
        ordering = ["-published_at", "-pk"]

    def __str__(self) -> str:
        return self.title


class AuditEvent(models.Model):
    """One line of the audit log. Written only through core.audit.record()."""

    created_at = models.DateTimeField("date", default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="auteur",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept even if the account is deleted, and for failed logins with no account.
    actor_label = models.CharField("identifiant", max_length=254, blank=True)
    action = models.CharField("action", max_length=64, db_index=True)
    object_type = models.CharField("type d'objet", max_length=100, blank=True)
    object_id = models.CharField("identifiant de l'objet", max_length=64, blank=True)
    object_label = models.CharField("objet", max_length=255, blank=True)
    direction = models.ForeignKey(
        Direction,
        verbose_name="direction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ip_address = models.GenericIPAddressField("adresse IP", null=True, blank=True)
    details = models.JSONField("détails", default=dict, blank=True)

    class Meta:
        verbose_name = "événement d'audit"
        verbose_name_plural = "journal d'audit"
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.created_at:%d/%m/%Y %H:%M} {self.action} {self.actor_label}"

    @property
    def action_label(self) -> str:
        from core.audit import ACTION_LABELS

        return ACTION_LABELS.get(self.action, self.action)


class Notification(models.Model):
    """A message for one person, shown in the portal (and usually e-mailed too): an alert, a
    task done in the background. Written only through core.notifications.notify()."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="destinataire",
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    title = models.CharField("titre", max_length=200)
    body = models.TextField("message", blank=True)
    url = models.CharField("lien", max_length=500, blank=True)
    created_at = models.DateTimeField("le", default=timezone.now, db_index=True)
    read_at = models.DateTimeField("lue le", null=True, blank=True)

    class Meta:
        verbose_name = "notification"
        verbose_name_plural = "notifications"
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"], name="core_notif_unread")]

    def __str__(self) -> str:
        return self.title

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from guardian.admin import GuardedModelAdmin

from core.models import Announcement, AuditEvent, Direction, Membership, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["direction"]


class CityUserCreationForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "first_name", "last_name")

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                "Un compte utilise déjà cette adresse e-mail.", code="unique"
            )
        return email


class CityUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(
                "Un compte utilise déjà cette adresse e-mail.", code="unique"
            )
        return email


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = CityUserChangeForm
    add_form = CityUserCreationForm
    inlines = [MembershipInline]
    list_display = ("email", "last_name", "first_name", "job_title", "is_active", "is_staff")
    list_filter = ("is_active", "is_staff", "groups", "memberships__direction", "mfa_required")
    search_fields = ("email", "username", "first_name", "last_name")
    ordering = ("last_name", "first_name")
    fieldsets = (
        (None, {"fields": ("username", "email", "password")}),
        ("Identité", {"fields": ("first_name", "last_name", "job_title")}),
        ("Sécurité", {"fields": ("is_active", "mfa_required", "last_login", "date_joined")}),
        (
            "Rôles et droits",
            {"fields": ("groups", "is_staff", "is_superuser", "user_permissions")},
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "email",
                    "first_name",
                    "last_name",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined")


@admin.register(Direction)
class DirectionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "parent", "active")
    list_filter = ("kind", "active")
    search_fields = ("code", "name")
    autocomplete_fields = ["parent"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "direction", "is_head", "created_at")
    list_filter = ("direction", "is_head")
    search_fields = ("user__email", "user__last_name", "direction__code", "direction__name")
    autocomplete_fields = ["user", "direction"]


@admin.register(Announcement)
class AnnouncementAdmin(GuardedModelAdmin):
    """Guardian's admin adds an « Autorisations d'objet » page to share one item."""

    list_display = ("title", "direction", "visibility", "published_at")
    list_filter = ("visibility", "direction")
    search_fields = ("title", "body")
    autocomplete_fields = ["direction", "author"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is written by the application, never edited."""

    list_display = (
        "created_at",
        "action",
        "actor_label",
        "object_label",
        "direction",
        "ip_address",
    )
    list_filter = ("action", "direction", "created_at")
    search_fields = ("actor_label", "object_label", "object_id", "ip_address")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

"""Forms of the assistants' console: an assistant's settings and the language models."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Q

from ai.models import Collection, LanguageModel
from ai.selectors import visible_collections
from chat.models import DEFAULT_SYSTEM_PROMPT, Assistant
from core import access
from core.models import Direction, Visibility

MAX_SUGGESTED_QUESTIONS = 10
MAX_QUESTION_CHARS = 200


class CollectionChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Collection) -> str:
        return f"{obj.name} ({obj.direction.code}, {obj.get_visibility_display().lower()})"


class AssistantForm(forms.ModelForm):
    """An assistant's settings, limited to what the administrator may touch.

    The managing direction is one of the user's writable directions; the knowledge bases are
    the ones the user may read (checked again on submission: a forged id is refused). Bases
    already attached that the user cannot read are left as they are, not removed silently.
    """

    suggested_questions = forms.CharField(
        label="Questions suggérées",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"Une question par ligne, {MAX_SUGGESTED_QUESTIONS} au plus.",
    )
    top_k = forms.IntegerField(
        label="Passages fournis au modèle",
        min_value=1,
        max_value=10,
        initial=5,
        help_text="De 1 à 10 : plus de passages donnent plus de contexte, mais des réponses "
        "plus lentes et plus coûteuses.",
    )

    class Meta:
        model = Assistant
        fields = [
            "name",
            "slug",
            "kind",
            "description",
            "direction",
            "audience",
            "audience_directions",
            "audience_groups",
            "collections",
            "language_model",
            "system_prompt",
            "greeting",
            "suggested_questions",
            "pseudonymize",
            "use_procedures",
            "top_k",
            "is_active",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "audience": forms.RadioSelect,
            "audience_directions": forms.CheckboxSelectMultiple,
            "audience_groups": forms.CheckboxSelectMultiple,
            "system_prompt": forms.Textarea(attrs={"rows": 8}),
            "greeting": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "slug": "Lettres minuscules, chiffres et tirets ; apparaît dans l'adresse de "
            "l'assistant.",
            "audience_directions": "Pour le public « Membres de directions choisies » : "
            "leurs services y ont aussi accès.",
            "audience_groups": "Pour le public « Membres de groupes choisis ».",
            "system_prompt": "Vide : les consignes par défaut, affichées en exemple, s'appliquent.",
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        directions = Direction.objects.filter(active=True).order_by("name")
        own = (
            directions
            if user.is_superuser
            else directions.filter(pk__in=access.writable_direction_ids(user))
        )
        self.fields["direction"].queryset = own
        self.fields["direction"].empty_label = None
        self.fields["audience_directions"].queryset = directions
        self.fields["audience_groups"].queryset = Group.objects.order_by("name")

        readable = visible_collections(user).order_by("name")
        self.fields["collections"] = CollectionChoiceField(
            label="Bases de connaissances",
            queryset=readable,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            help_text="Seules les bases que vous pouvez consulter sont proposées. Un assistant "
            "public ne peut utiliser que des bases publiques. Aucune base cochée : l'assistant "
            "cherche dans tout ce que chaque utilisateur a le droit de lire.",
        )
        # Attached bases this user cannot read: kept on save, never shown by name.
        self.hidden_collections: list[Collection] = []
        if self.instance.pk:
            self.hidden_collections = list(
                self.instance.collections.exclude(pk__in=readable.values("pk"))
            )
            if self.hidden_collections:
                self.fields["collections"].help_text += (
                    f" {len(self.hidden_collections)} autre(s) base(s) déjà rattachée(s), "
                    "que vous ne pouvez pas consulter, reste(nt) rattachée(s)."
                )

        # A model switched off since keeps showing on the assistants still using it.
        usable = Q(is_active=True)
        if self.instance.language_model_id:
            usable |= Q(pk=self.instance.language_model_id)
        self.fields["language_model"].queryset = LanguageModel.objects.filter(usable).order_by(
            "name"
        )
        self.fields["language_model"].empty_label = "Aucun : réponses extractives (sans modèle)"

        self.fields["system_prompt"].widget.attrs["placeholder"] = DEFAULT_SYSTEM_PROMPT.format(
            ville=settings.CITY_NAME
        )
        if self.instance.pk and not self.is_bound:
            self.initial["suggested_questions"] = "\n".join(self.instance.suggested_questions or [])

    def clean_suggested_questions(self) -> list[str]:
        lines = [
            line.strip()
            for line in (self.cleaned_data.get("suggested_questions") or "").splitlines()
        ]
        questions = [line for line in lines if line]
        if len(questions) > MAX_SUGGESTED_QUESTIONS:
            raise ValidationError(
                f"Proposez {MAX_SUGGESTED_QUESTIONS} questions au plus ({len(questions)} saisies)."
            )
        too_long = [q for q in questions if len(q) > MAX_QUESTION_CHARS]
        if too_long:
            raise ValidationError(
                f"Chaque question tient en {MAX_QUESTION_CHARS} caractères au plus "
                f"(« {too_long[0][:40]}… » est trop longue)."
            )
        return questions

    def final_collections(self) -> list[Collection]:
        """The bases the assistant will answer from once saved."""
        return list(self.cleaned_data.get("collections") or []) + self.hidden_collections

    def clean(self):
        data = super().clean()
        audience = data.get("audience")
        if audience == Assistant.Audience.PUBLIC:
            private = [c for c in self.final_collections() if c.visibility != Visibility.PUBLIC]
            if private:
                names = (
                    ", ".join(f"« {c.name} »" for c in private if c not in self.hidden_collections)
                    or "une base que vous ne pouvez pas consulter"
                )
                self.add_error(
                    "collections",
                    "Un assistant public (sans connexion) ne peut utiliser que des bases "
                    f"publiques ; retirez {names} ou choisissez un autre public.",
                )
        elif audience == Assistant.Audience.DIRECTIONS and not data.get("audience_directions"):
            self.add_error("audience_directions", "Choisissez au moins une direction autorisée.")
        elif audience == Assistant.Audience.GROUPS and not data.get("audience_groups"):
            self.add_error("audience_groups", "Choisissez au moins un groupe autorisé.")
        return data

    def save(self, commit: bool = True) -> Assistant:
        assistant = super().save(commit=False)
        assistant.suggested_questions = self.cleaned_data["suggested_questions"]
        if commit:
            assistant.save()
            self.save_m2m()
            if self.hidden_collections:
                assistant.collections.add(*self.hidden_collections)
        return assistant


class LanguageModelForm(forms.ModelForm):
    """A language model; the API key is write-only: never rendered, empty keeps the current one."""

    api_key = forms.CharField(
        label="Clé d'API",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Laissez vide pour conserver la clé enregistrée. Elle est stockée chiffrée "
        "et n'est jamais réaffichée.",
    )
    clear_api_key = forms.BooleanField(label="Supprimer la clé enregistrée", required=False)
    temperature = forms.FloatField(
        label="Température",
        min_value=0,
        max_value=2,
        initial=0.2,
        help_text="De 0 (réponses stables) à 2 ; 0,2 convient aux assistants documentaires.",
    )
    timeout_s = forms.IntegerField(
        label="Délai maximal (secondes)", min_value=1, max_value=600, initial=30
    )
    max_retries = forms.IntegerField(
        label="Nouvelles tentatives", min_value=0, max_value=10, initial=2
    )
    max_tokens = forms.IntegerField(
        label="Longueur maximale de réponse (jetons)", min_value=16, max_value=32000, initial=800
    )

    class Meta:
        model = LanguageModel
        fields = [
            "name",
            "provider",
            "base_url",
            "model",
            "timeout_s",
            "max_retries",
            "temperature",
            "max_tokens",
            "input_cost_per_mtok",
            "output_cost_per_mtok",
            "is_active",
        ]

    def clean(self):
        data = super().clean()
        if data.get("api_key") and data.get("clear_api_key"):
            self.add_error(
                "clear_api_key", "Saisissez une nouvelle clé ou supprimez-la, pas les deux."
            )
        return data

    @property
    def key_action(self) -> str:
        """ "set", "clear" or "" (unchanged): what saving does to the key, for the audit log."""
        if self.cleaned_data.get("api_key"):
            return "set"
        if self.cleaned_data.get("clear_api_key") and self.instance.has_api_key:
            return "clear"
        return ""

    def save(self, commit: bool = True) -> LanguageModel:
        model = super().save(commit=False)
        action = self.key_action
        if action == "set":
            model.set_api_key(self.cleaned_data["api_key"])
        elif action == "clear":
            model.set_api_key("")
        if commit:
            model.save()
        return model

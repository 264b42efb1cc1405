"""Forms of the procedures console: the catalogue entry, its CSV import, the search box."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from chat.models import Procedure
from chat.procedures import MAX_IMPORT_BYTES
from core.models import Direction


class ProcedureForm(forms.ModelForm):
    url = forms.URLField(
        label="Lien de la démarche",
        max_length=500,
        assume_scheme="https",
        help_text="Adresse de la démarche sur le portail, commençant par https://.",
    )

    class Meta:
        model = Procedure
        fields = [
            "title",
            "url",
            "description",
            "keywords",
            "required_documents",
            "direction",
            "is_active",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "required_documents": forms.Textarea(attrs={"rows": 4}),
        }
        help_texts = {
            "title": "Le nom que le citoyen reconnaît, par exemple « Demande de passeport ».",
            "description": "À quoi sert la démarche, pour qui, en quelques phrases.",
            "keywords": "Les mots des citoyens, séparés par des virgules : poubelle cassée, "
            "bac abîmé… Ils aident l'assistant à trouver la démarche.",
            "required_documents": "Une pièce par ligne.",
            "is_active": "Décochez pour retirer la démarche des réponses de l'assistant.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        directions = Direction.objects.filter(active=True)
        if self.instance.direction_id:
            # A procedure keeps its direction even after the direction is closed.
            directions = directions | Direction.objects.filter(pk=self.instance.direction_id)
        self.fields["direction"].queryset = directions.order_by("name")
        self.fields["direction"].empty_label = "— Aucune —"

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        if not url.lower().startswith(("http://", "https://")):
            raise ValidationError("Le lien doit commencer par http:// ou https://.")
        other = Procedure.objects.filter(url=url).exclude(pk=self.instance.pk).first()
        if other is not None:
            raise ValidationError(f"La démarche « {other.title} » utilise déjà ce lien.")
        return url


class ProcedureImportForm(forms.Form):
    file = forms.FileField(
        label="Fichier CSV",
        help_text="Colonnes : titre, description, mots-clés, lien, pièces à fournir (séparées "
        "par « ; » ou « | »), direction (code ou nom). Séparateur « ; » ou « , », encodage "
        "UTF-8 ou Windows (cp1252). Une démarche dont le lien existe déjà est mise à jour.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise ValidationError(
                f"Le fichier dépasse {MAX_IMPORT_BYTES // (1024 * 1024)} Mo : "
                "un catalogue de démarches tient dans un fichier bien plus petit."
            )
        return upload


class ProcedureSearchForm(forms.Form):
    q = forms.CharField(label="Rechercher une démarche", required=False, max_length=200)
    etat = forms.ChoiceField(
        label="État",
        required=False,
        choices=[("", "Toutes"), ("en-ligne", "En ligne"), ("hors-ligne", "Hors ligne")],
    )


class MatchTestForm(forms.Form):
    essai = forms.CharField(
        label="Demande d'un citoyen",
        required=False,
        max_length=500,
        help_text="Par exemple « ma poubelle est cassée » : les démarches que l'assistant "
        "proposerait s'affichent avec leur score.",
    )

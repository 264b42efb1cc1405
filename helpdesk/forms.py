"""Forms of the helpdesk console."""

from __future__ import annotations

from django import forms

from helpdesk.imports import fields_for
from helpdesk.models import ImportJob


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label="Contenu du fichier",
        choices=ImportJob.Kind.choices,
        initial=ImportJob.Kind.TICKETS,
        widget=forms.RadioSelect,
    )
    file = forms.FileField(
        label="Fichier CSV ou Excel (XLSX)",
        help_text="Une ligne d'en-tête puis une ligne par ticket ou article "
        "(export GLPI, tableur…).",
        error_messages={"required": "Choisissez un fichier à importer."},
    )


class MappingForm(forms.Form):
    """One select per field of the model, listing the file's columns."""

    def __init__(self, *args, kind: str, headers: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "— Ne pas importer —")] + [(h, h) for h in headers if h]
        for name, spec in fields_for(kind).items():
            self.fields[name] = forms.ChoiceField(
                label=spec.label + (" (obligatoire)" if spec.required else ""),
                choices=choices,
                required=spec.required,
                help_text=spec.help,
                error_messages={
                    "required": f"Choisissez la colonne qui donne « {spec.label} ».",
                    "invalid_choice": "Cette colonne n'existe pas dans le fichier.",
                },
            )

    def mapping(self) -> dict[str, str]:
        return {name: column for name, column in self.cleaned_data.items() if column}

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from ai.models import Collection, Source
from core import access
from core.models import Direction, Visibility


def _lines(value: str) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


class _DirectionChoice:
    def limit_directions(self, user) -> None:
        qs = Direction.objects.filter(active=True).order_by("name")
        if not user.is_superuser:
            qs = qs.filter(pk__in=access.writable_direction_ids(user))
        self.fields["direction"].queryset = qs
        self.fields["direction"].empty_label = None


class CollectionForm(_DirectionChoice, forms.ModelForm):
    class Meta:
        model = Collection
        fields = ["name", "slug", "direction", "visibility", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"slug": "Lettres minuscules, chiffres et tirets, unique."}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit_directions(user)


class CollectionAccessForm(_DirectionChoice, forms.Form):
    direction = forms.ModelChoiceField(label="Direction propriétaire", queryset=Direction.objects)
    visibility = forms.ChoiceField(label="Visibilité", choices=Visibility.choices)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit_directions(user)


class ShareForm(forms.Form):
    email = forms.EmailField(label="Agent (adresse e-mail)", required=False)
    group = forms.ModelChoiceField(
        label="ou rôle", queryset=Group.objects.order_by("name"), required=False
    )

    def clean(self):
        data = super().clean()
        email, group = data.get("email"), data.get("group")
        if bool(email) == bool(group):
            raise ValidationError("Indiquez soit un agent, soit un rôle.")
        if email:
            user = get_user_model().objects.filter(email__iexact=email, is_active=True).first()
            if user is None:
                raise ValidationError("Aucun agent actif n'a cette adresse e-mail.")
            data["target"] = user
        else:
            data["target"] = group
        return data


class SourceForm(forms.Form):
    name = forms.CharField(label="Nom", max_length=200)
    kind = forms.ChoiceField(label="Type", choices=Source.Kind.choices)
    schedule_minutes = forms.IntegerField(
        label="Fréquence (minutes, 0 = à la demande)", min_value=0, initial=0
    )
    folder_path = forms.CharField(label="Dossier du serveur", required=False)
    folder_include = forms.CharField(
        label="Fichiers inclus (motifs, un par ligne)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        initial="*",
    )
    start_urls = forms.CharField(
        label="Adresses de départ (une par ligne)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    include = forms.CharField(
        label="Adresses incluses (expressions, une par ligne)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    exclude = forms.CharField(
        label="Adresses exclues (expressions, une par ligne)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    max_depth = forms.IntegerField(label="Profondeur maximale", min_value=0, initial=3)
    max_pages = forms.IntegerField(label="Nombre maximal de pages", min_value=1, initial=200)
    sql_url = forms.CharField(
        label="Connexion en lecture seule (postgresql://, mysql://, sqlite:///)", required=False
    )
    sql_query = forms.CharField(
        label="Requête SELECT", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    title_template = forms.CharField(label="Modèle du titre, ex. {nom}", required=False)
    body_template = forms.CharField(
        label="Modèle du texte, ex. {nom} : {description}",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    key_column = forms.CharField(label="Colonne identifiant", required=False)
    app_provider = forms.ChoiceField(label="Données de l'application", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from ai.sources import app

        self.fields["app_provider"].choices = [("", "—")] + [
            (p.name, p.label) for p in app.providers()
        ]

    def config(self) -> dict:
        d = self.cleaned_data
        kind = d["kind"]
        if kind == Source.Kind.FOLDER:
            return {"path": d["folder_path"], "include": _lines(d["folder_include"]) or ["*"]}
        if kind == Source.Kind.WEBSITE:
            return {
                "start_urls": _lines(d["start_urls"]),
                "include": _lines(d["include"]),
                "exclude": _lines(d["exclude"]),
                "max_depth": d["max_depth"],
                "max_pages": d["max_pages"],
            }
        if kind == Source.Kind.SQL:
            return {
                "url": d["sql_url"],
                "query": d["sql_query"],
                "title_template": d["title_template"],
                "body_template": d["body_template"],
                "key_column": d["key_column"] or None,
            }
        if kind == Source.Kind.APP:
            return {"provider": d["app_provider"]}
        return {}

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        required = {
            Source.Kind.FOLDER: ["folder_path"],
            Source.Kind.WEBSITE: ["start_urls"],
            Source.Kind.SQL: ["sql_url", "sql_query", "title_template", "body_template"],
            Source.Kind.APP: ["app_provider"],
        }.get(kind, [])
        for name in required:
            if not data.get(name):
                self.add_error(name, "Ce champ est obligatoire pour ce type de source.")
        return data


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class UploadForm(forms.Form):
    files = MultipleFileField(label="Fichiers à indexer")


class SearchForm(forms.Form):
    q = forms.CharField(label="Rechercher", max_length=500, required=False)
    collection = forms.MultipleChoiceField(label="Bases", required=False)
    format = forms.MultipleChoiceField(label="Types", required=False)
    since = forms.DateField(
        label="Du", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="Au", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, collections, formats, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collection"].choices = [(str(c.pk), c.name) for c in collections]
        self.fields["format"].choices = [(f, f.upper()) for f in formats]


class ViewAsForm(forms.Form):
    email = forms.EmailField(label="Voir comme l'agent (adresse e-mail)")
    q = forms.CharField(label="Recherche", max_length=500)

    def clean_email(self):
        email = self.cleaned_data["email"]
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise ValidationError("Aucun compte n'a cette adresse e-mail.")
        self.cleaned_data["as_user"] = user
        return email

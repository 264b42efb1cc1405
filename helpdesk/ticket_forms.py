"""Forms of the ticket pages."""

from __future__ import annotations

from django import forms

from helpdesk.models import Article, Category, Ticket


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by services.add_attachment."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        # An empty file is refused by the service, with its name, after the ticket is saved.
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(f, initial) for f in files if f]


ATTACHMENT_HELP = "Copie d'écran, journal d'erreur, PDF… (10 Mo au plus par fichier)."


class TicketForm(forms.Form):
    title = forms.CharField(label="Titre", max_length=250)
    description = forms.CharField(
        label="Description",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Ce que vous faisiez, ce qui se passe, ce que vous avez déjà essayé.",
    )
    device = forms.CharField(
        label="Matériel concerné",
        max_length=200,
        required=False,
        help_text="Son nom ou numéro d'inventaire, s'il est collé dessus.",
    )
    error_message = forms.CharField(
        label="Message d'erreur",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Mot pour mot ; « aucun » s'il n'y en a pas.",
    )
    since = forms.CharField(label="Depuis quand ?", max_length=120, required=False)
    category = forms.ModelChoiceField(
        label="Catégorie",
        queryset=Category.objects.filter(is_active=True).select_related("parent"),
        required=False,
        empty_label="Je ne sais pas",
    )
    priority = forms.TypedChoiceField(
        label="Priorité",
        choices=Ticket.Priority.choices,
        coerce=int,
        initial=Ticket.Priority.NORMAL,
    )
    attachments = MultipleFileField(
        label="Pièces jointes", required=False, help_text=ATTACHMENT_HELP
    )
    conversation = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, missing: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # What the description did not say is asked for, as a question, where it is typed.
        for name, question in (missing or {}).items():
            self.fields[name].help_text = question
            self.fields[name].widget.attrs["class"] = "field--asked"


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Votre message", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    attachments = MultipleFileField(
        label="Pièces jointes", required=False, help_text=ATTACHMENT_HELP
    )
    internal = forms.BooleanField(
        label="Note interne (invisible pour le demandeur)", required=False
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(label="État", choices=Ticket.Status.choices)
    assigned_to = forms.ModelChoiceField(
        label="Technicien", queryset=None, required=False, empty_label="Personne"
    )
    resolution = forms.CharField(
        label="Résolution", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        from helpdesk.selectors import technicians

        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = technicians()
        self.fields["assigned_to"].label_from_instance = lambda u: u.get_full_name() or u.email


class ArticleForm(forms.Form):
    title = forms.CharField(label="Titre", max_length=250)
    body = forms.CharField(
        label="Contenu",
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text="Des étapes numérotées, que l'agent peut suivre seul.",
    )
    category = forms.ModelChoiceField(
        label="Catégorie",
        queryset=Category.objects.filter(is_active=True).select_related("parent"),
        required=False,
        empty_label="Aucune",
    )
    audience = forms.ChoiceField(label="Public", choices=Article.Audience.choices)
    status = forms.ChoiceField(label="État", choices=Article.Status.choices)

"""Forms of the ticket pages."""

from __future__ import annotations

from django import forms

from helpdesk.models import Category, Ticket


class TicketForm(forms.Form):
    title = forms.CharField(label="Titre", max_length=250)
    description = forms.CharField(
        label="Description",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Le matériel concerné, le message d'erreur exact, depuis quand.",
    )
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


class CommentForm(forms.Form):
    body = forms.CharField(label="Votre message", widget=forms.Textarea(attrs={"rows": 3}))
    internal = forms.BooleanField(
        label="Note interne (invisible pour le demandeur)", required=False
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(label="État", choices=Ticket.Status.choices)
    resolution = forms.CharField(
        label="Résolution", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

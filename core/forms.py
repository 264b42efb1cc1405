from __future__ import annotations

from django import forms

from core import access
from core.models import Announcement, Direction


class AnnouncementForm(forms.ModelForm):
    class Meta:
        model = Announcement
        fields = ["title", "body", "direction", "visibility"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the directions the author may publish for are offered.
        self.fields["direction"].queryset = Direction.objects.filter(
            pk__in=access.writable_direction_ids(user)
        ).order_by("name")
        self.fields["direction"].empty_label = None


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label="Action", required=False)
    actor = forms.CharField(label="Identifiant", required=False, max_length=254)
    direction = forms.ModelChoiceField(
        label="Direction",
        queryset=Direction.objects.order_by("name"),
        required=False,
        empty_label="Toutes",
    )
    since = forms.DateField(
        label="Du", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="Au", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, actions: list[str], labels: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Toutes")] + [
            (a, labels.get(a, a)) for a in sorted(actions)
        ]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("La date de début doit précéder la date de fin.")
        return data

"""factory_boy factories for the organisation (fictitious people only)."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Group

from core.models import Announcement, Direction, Membership, User, Visibility
from core.services import sync_roles

PASSWORD = "Mot-de-passe-de-test-42"


class DirectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Direction
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"DIR{n}")
    name = factory.Sequence(lambda n: f"Direction {n}")
    kind = Direction.Kind.DIRECTION


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"agent{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@ville.example")
    first_name = "Camille"
    last_name = factory.Sequence(lambda n: f"Agent{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        """`UserFactory(roles=["agent", "manager"])` puts the user in those role groups."""
        if not create or not extracted:
            if create:
                self.save()
            return
        sync_roles()
        self.groups.set(Group.objects.filter(name__in=extracted))
        self.save()

    @factory.post_generation
    def directions(self, create, extracted, **kwargs):
        """`UserFactory(directions=[dsi])` makes the user a member of those directions."""
        if create and extracted:
            for direction in extracted:
                Membership.objects.get_or_create(user=self, direction=direction)


class AnnouncementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Announcement

    direction = factory.SubFactory(DirectionFactory)
    title = factory.Sequence(lambda n: f"Actualité {n}")
    body = "Texte de l'actualité."
    visibility = Visibility.DIRECTION

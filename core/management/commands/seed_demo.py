"""Create the fictitious city of the demo: directions, agents with roles, news items."""

from __future__ import annotations

from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from core import demo
from core.models import Announcement, Direction, Membership, User
from core.services import sync_roles


class Command(BaseCommand):
    help = "Crée la ville fictive de démonstration (idempotent : la relancer ne change rien)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        groups = {g.name: g for g in sync_roles()}
        directions: dict[str, Direction] = {}
        for code, name, kind, parent_code, missions in demo.DIRECTIONS:
            direction, _ = Direction.objects.get_or_create(
                code=code,
                defaults={
                    "name": name,
                    "kind": kind,
                    "parent": directions.get(parent_code) if parent_code else None,
                    "description": missions,
                },
            )
            directions[code] = direction

        created_users = 0
        for local, first, last, title, memberships, role_names, staff, superuser in demo.USERS:
            email = f"{local}@{demo.DEMO_DOMAIN}"
            user = User.objects.filter(email__iexact=email).first()
            if user is None:
                user = User(
                    username=local,
                    email=email,
                    first_name=first,
                    last_name=last,
                    job_title=title,
                    is_staff=staff,
                    is_superuser=superuser,
                )
                # Set only on creation: a second run must not undo a password the tester changed.
                user.set_password(demo.DEMO_PASSWORD)
                user.save()
                user.groups.set([groups[name] for name in role_names])
                created_users += 1
            for code, head in memberships:
                Membership.objects.get_or_create(
                    user=user, direction=directions[code], defaults={"is_head": head}
                )

        author_by_direction = {
            m.direction.code: m.user
            for m in Membership.objects.filter(is_head=True).select_related("user", "direction")
        }
        for code, title, visibility, body in demo.ANNOUNCEMENTS:
            Announcement.objects.get_or_create(
                direction=directions[code],
                title=title,
                defaults={
                    "visibility": visibility,
                    "body": body,
                    "author": author_by_direction.get(code),
                },
            )

        # Each app may add its own demo data (ai: knowledge bases, indexed here).
        for app in apps.get_app_configs():
            try:
                module = import_module(f"{app.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app.name}.demo":
                    raise
                continue
            if app.name != "core" and hasattr(module, "seed"):
                module.seed(self.stdout)

        self.stdout.write(
            self.style.SUCCESS(
                f"Ville de démonstration prête : {len(directions)} directions, "
                f"{len(demo.USERS)} agents ({created_users} créés à cette exécution)."
            )
        )
        self.stdout.write(
            f"Mot de passe de tous les comptes de démonstration : {demo.DEMO_PASSWORD}"
        )
        for local, first, last, _title, memberships, role_names, *_ in demo.USERS:
            codes = ", ".join(code for code, _ in memberships)
            self.stdout.write(
                f"  {local + '@' + demo.DEMO_DOMAIN:<38} {first} {last} – {codes} – "
                f"{', '.join(role_names)}"
            )

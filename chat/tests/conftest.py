"""Fixtures of the chat app: two directions, each with a private base of indexed documents
(the same question has a different answer in each), a public base, and their assistants."""

from __future__ import annotations

import pytest

from ai import services as ai_services
from ai.index_sync import sync_pending
from ai.models import Collection, LanguageModel, Source
from ai.tests.conftest import _isolated_store, upload  # noqa: F401 - autouse fixture
from ai.tests.conftest import org as org  # re-exported fixture
from ai.tests.test_sources_web import server, site  # noqa: F401 - the fixture website
from chat.models import Assistant
from core.models import Visibility

RH_DOC = """# Frais de déplacement

La procédure de remboursement des frais de déplacement passe par le formulaire ROUGE, signé par
le responsable hiérarchique et adressé au service de la paie dans le mois qui suit la mission.
Pour toute question, écrire à Claire Dubois-Martin (claire.dubois@exemple.fr, 06 12 34 56 78).
"""
FIN_DOC = """# Frais de déplacement

La procédure de remboursement des frais de déplacement passe par le formulaire VERT, visé par
le contrôle de gestion de la direction des finances avant tout paiement.
"""
PUBLIC_DOC = """# Cantine scolaire

Les tarifs de la cantine scolaire sont fixés par délibération : le repas coûte 3,20 euros pour
les familles du premier quotient familial et 4,10 euros au-delà. L'inscription se fait en mairie.
"""
QUESTION = "Quelle est la procédure de remboursement des frais de déplacement ?"


@pytest.fixture
def indexed(org):
    ai_services.add_uploads(
        user=org["admin_rh"], source=org["src_rh"], files=[upload("frais-rh.md", RH_DOC)]
    )
    ai_services.add_uploads(
        user=org["admin_fin"], source=org["src_fin"], files=[upload("frais-fin.md", FIN_DOC)]
    )
    org["col_pub"] = Collection.objects.create(
        name="Délibérations", slug="delib", direction=org["rh"], visibility=Visibility.PUBLIC
    )
    org["src_pub"] = Source.objects.create(
        collection=org["col_pub"], name="Dépôt public", kind=Source.Kind.UPLOAD
    )
    ai_services.add_uploads(
        user=org["admin_rh"], source=org["src_pub"], files=[upload("cantine.md", PUBLIC_DOC)]
    )
    for key, admin in (("src_rh", "admin_rh"), ("src_fin", "admin_fin"), ("src_pub", "admin_rh")):
        ai_services.start_run(org[key], user=org[admin], inline=True)
    sync_pending()
    return org


@pytest.fixture
def assistants(indexed):
    """An intranet assistant over every base, one per direction, and a public one."""
    org = indexed
    intranet = Assistant.objects.create(
        name="Intranet", slug="intranet", direction=org["rh"], audience=Assistant.Audience.AGENTS
    )
    rh = Assistant.objects.create(
        name="Assistant RH",
        slug="rh",
        direction=org["rh"],
        kind=Assistant.Kind.DIRECTION,
        audience=Assistant.Audience.DIRECTIONS,
    )
    rh.audience_directions.set([org["rh"]])
    rh.collections.set([org["col_rh"]])
    fin = Assistant.objects.create(
        name="Assistant Finances",
        slug="fin",
        direction=org["fin"],
        kind=Assistant.Kind.DIRECTION,
        audience=Assistant.Audience.DIRECTIONS,
    )
    fin.audience_directions.set([org["fin"]])
    fin.collections.set([org["col_fin"]])
    public = Assistant.objects.create(
        name="Citoyens",
        slug="citoyens",
        direction=org["rh"],
        kind=Assistant.Kind.CITIZEN,
        audience=Assistant.Audience.PUBLIC,
    )
    public.collections.set([org["col_pub"]])
    org.update(a_intranet=intranet, a_rh=rh, a_fin=fin, a_public=public)
    return org


@pytest.fixture
def openai_model(fake_llm):
    return LanguageModel.objects.create(
        name="Modèle de test",
        provider="openai",
        base_url=fake_llm.openai_url,
        model="modele-test",
        timeout_s=2,
        max_retries=0,
        input_cost_per_mtok=1,
        output_cost_per_mtok=3,
    )

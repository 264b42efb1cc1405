"""The procedures catalogue: CSV import, matching a citizen's request, console pages.

Matching runs the real multilingual embedder on the demo catalogue (chat/fixtures).
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from chat.models import Procedure
from chat.procedures import (
    ProcedureImportError,
    import_procedures_csv,
    match_procedures,
    needs_clarification,
)
from core.models import AuditEvent
from core.tests.factories import DirectionFactory, UserFactory

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "demarches_demo.csv"
FIXTURE_ROWS = 28

BIN_BROKEN = "https://www.clairval.example/demarches/remplacement-bac-endommage"
BIN_STOLEN = "https://www.clairval.example/demarches/vol-bac-ordures"
BIN_NEW = "https://www.clairval.example/demarches/dotation-bacs-nouveau-logement"
ID_CARD = "https://www.clairval.example/demarches/carte-identite"

OFF_TOPIC = [
    "quelle est la capitale du Pérou",
    "recette de la tarte aux pommes",
    "qui a gagné le match de football hier",
    "je cherche un emploi de développeur",
    "combien coûte un billet de train pour Paris",
    "mon chat est malade",
    "bonjour",
    "je veux faire une demande",
]


def fixture_bytes() -> bytes:
    return FIXTURE.read_bytes()


def cp1252_semicolon(data: bytes) -> bytes:
    """The fixture as a French spreadsheet exports it: Windows encoding, ';' separator."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("cp1252")


@pytest.fixture
def directions():
    codes = {
        "PROP": "Propreté urbaine",
        "ETCIV": "État civil et citoyenneté",
        "EDUC": "Éducation",
        "MOB": "Mobilités",
        "VOIR": "Voirie et espace public",
        "FON": "Direction du foncier et de l'urbanisme",
        "EAU": "Eau et assainissement",
        "VIE": "Vie associative et citoyenne",
    }
    return {code: DirectionFactory(code=code, name=name) for code, name in codes.items()}


@pytest.fixture
def admin():
    user = UserFactory(roles=["agent"])
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="chat", codename="change_procedure")
    )
    return user


@pytest.fixture
def catalogue(directions, admin):
    report = import_procedures_csv(fixture_bytes(), user=admin)
    assert report.created == FIXTURE_ROWS
    return report


# --- Import -----------------------------------------------------------------------------------


def test_import_of_the_demo_catalogue(directions, admin):
    report = import_procedures_csv(fixture_bytes(), user=admin)

    assert (report.created, report.updated, report.unchanged) == (FIXTURE_ROWS, 0, 0)
    assert report.errors == [] and report.warnings == []
    assert (report.encoding, report.delimiter) == ("utf-8", ",")
    assert Procedure.objects.count() == FIXTURE_ROWS
    bin_ = Procedure.objects.get(url=BIN_BROKEN)
    assert bin_.title == "Remplacement d'un bac à ordures ménagères endommagé"
    assert bin_.direction == directions["PROP"]
    assert bin_.is_active
    assert "poubelle cassée" in bin_.keywords
    # Pieces separated by "|" in the cell, one per line in the model.
    assert bin_.documents_list == [
        "Justificatif de domicile de moins de trois mois",
        "Photo du bac endommagé",
    ]
    # ... and by ";" in others.
    passport = Procedure.objects.get(url__endswith="/passeport")
    assert passport.documents_list[0] == "Numéro de pré-demande ANTS"
    assert len(passport.documents_list) == 5
    # A direction given by its name instead of its code.
    room = Procedure.objects.get(url__endswith="/location-salle")
    assert room.direction == directions["VIE"]
    assert AuditEvent.objects.filter(action="chat.procedure_import", actor=admin).exists()


def test_import_of_a_cp1252_file_with_semicolons(directions, admin):
    data = cp1252_semicolon(fixture_bytes())
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")

    report = import_procedures_csv(data, user=admin)

    assert report.created == FIXTURE_ROWS and report.errors == []
    assert report.delimiter == ";"
    assert report.encoding in ("cp1252", "windows-1252")
    assert Procedure.objects.filter(title="Déclaration préalable de travaux").exists()
    passport = Procedure.objects.get(url__endswith="/passeport")
    assert len(passport.documents_list) == 5


@pytest.mark.parametrize(
    "data",
    [
        b"sep=;\r\ntitre;lien\r\nPasseport;https://ex.example/p\r\n",
        b"titre\tlien\nPasseport\thttps://ex.example/p\n",
        b"\n\nTitre , Lien \n\nPasseport , https://ex.example/p \n",
    ],
    ids=["excel-sep-line", "tabs", "blank-lines-and-spaces"],
)
def test_other_csv_dialects(admin, data):
    report = import_procedures_csv(data, user=admin)
    assert report.created == 1 and report.errors == []
    assert Procedure.objects.get().url == "https://ex.example/p"


def test_reimport_is_idempotent_and_applies_changes(directions, admin):
    import_procedures_csv(fixture_bytes(), user=admin)
    before = Procedure.objects.get(url=BIN_BROKEN).updated_at

    # The same catalogue again, this time re-encoded with a BOM and ';': nothing changes.
    again = import_procedures_csv(
        b"\xef\xbb\xbf" + cp1252_semicolon(fixture_bytes()).decode("cp1252").encode("utf-8"),
        user=admin,
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, FIXTURE_ROWS)
    assert again.encoding == "utf-8-sig"
    assert Procedure.objects.count() == FIXTURE_ROWS
    assert Procedure.objects.get(url=BIN_BROKEN).updated_at == before

    edited = (
        fixture_bytes()
        .decode("utf-8")
        .replace(
            "Remplacement d'un bac à ordures ménagères endommagé",
            "Remplacement d'un bac cassé",
        )
    )
    edited = edited.replace("conteneur endommagé, remplacement", "conteneur endommagé, roulette")
    report = import_procedures_csv(edited.encode("utf-8"), user=admin)

    assert (report.created, report.updated, report.unchanged) == (0, 1, FIXTURE_ROWS - 1)
    assert Procedure.objects.count() == FIXTURE_ROWS
    bin_ = Procedure.objects.get(url=BIN_BROKEN)
    assert bin_.title == "Remplacement d'un bac cassé"
    assert "roulette" in bin_.keywords
    assert bin_.updated_at > before


def test_an_update_keeps_what_the_file_does_not_say(directions, admin):
    import_procedures_csv(fixture_bytes(), user=admin)
    Procedure.objects.filter(url=ID_CARD).update(is_active=False)

    report = import_procedures_csv(f"titre;lien\nCarte d'identité;{ID_CARD}\n".encode(), user=admin)

    assert report.updated == 1
    card = Procedure.objects.get(url=ID_CARD)
    assert card.title == "Carte d'identité"
    # No description, direction or "en ligne" column: those stay as they were.
    assert card.direction == directions["ETCIV"]
    assert card.description.startswith("Prenez rendez-vous")
    assert not card.is_active

    # An unknown direction does not erase the one a procedure has; one warning per value.
    report = import_procedures_csv(
        f"titre;lien;direction\nCarte d'identité;{ID_CARD};Etat-civil\n"
        f"Encombrants;https://www.clairval.example/demarches/encombrants;Etat-civil\n".encode(),
        user=admin,
    )
    assert report.warnings == [
        (2, "direction « Etat-civil » inconnue : direction actuelle conservée pour "
         "2 démarches (lignes 2, 3)")
    ]  # fmt: skip
    assert Procedure.objects.get(url=ID_CARD).direction == directions["ETCIV"]


def test_bad_rows_are_reported_with_their_line_and_the_others_imported(directions, admin, caplog):
    data = (
        "Intitulé;Descriptif;Mots clés;URL;Pièces justificatives;Direction;Commentaire\n"
        "Demande de passeport;Pour voyager;passeport;https://ex.example/passeport;"
        '"Photo\nJustificatif de domicile";ETCIV;interne\n'  # lines 2-3
        ";Sans titre;;https://ex.example/sans-titre;;;\n"  # line 4
        "Lien FTP;;;ftp://ex.example/fichier;;;\n"  # line 5
        "Pas de lien;;;;;;\n"  # line 6
        "Lien cassé;;;https://pas un lien;;;\n"  # line 7
        "\n"
        "Direction inconnue;;;https://ex.example/inconnue;;ZZZ;\n"  # line 9
        "Doublon;;;https://ex.example/passeport;;;\n"  # line 10
        "Carte résident;Stationner;parking | voiture;http://ex.example/residents;;mob;\n"
    ).encode()

    with caplog.at_level(logging.WARNING, logger="chat.procedures"):
        report = import_procedures_csv(data, user=admin)

    assert report.created == 3
    lines = dict(report.errors)
    assert sorted(lines) == [4, 5, 6, 7, 10]
    assert lines[4] == "titre manquant"
    assert "http:// ou https://" in lines[5]
    assert lines[6] == "lien manquant"
    assert "invalide" in lines[7]
    assert "ligne 2" in lines[10]
    assert (9, "direction « ZZZ » inconnue : démarche importée sans direction") in (report.warnings)
    assert (1, "colonne « Commentaire » ignorée") in report.warnings
    passport = Procedure.objects.get(url="https://ex.example/passeport")
    assert passport.documents_list == ["Photo", "Justificatif de domicile"]
    assert passport.direction == directions["ETCIV"]
    assert Procedure.objects.get(url="https://ex.example/inconnue").direction is None
    resident = Procedure.objects.get(url="http://ex.example/residents")
    assert resident.keywords == "parking, voiture"
    # A code is matched whatever its case.
    assert resident.direction == directions["MOB"]
    assert "5 rows rejected" in caplog.text


def test_a_file_without_title_column_is_refused(admin):
    data = "nom du service;adresse web\nÉtat civil;https://ex.example/ec\n".encode("cp1252")
    with pytest.raises(ProcedureImportError) as exc:
        import_procedures_csv(data, user=admin)
    assert "Colonne « titre » introuvable" in exc.value.message
    assert "« nom du service »" in exc.value.message
    assert not Procedure.objects.exists()


def test_a_file_without_link_column_is_refused(admin):
    with pytest.raises(ProcedureImportError, match="Colonne « lien » introuvable"):
        import_procedures_csv(b"titre,description\nPasseport,Pour voyager\n", user=admin)
    with pytest.raises(ProcedureImportError, match="Colonnes « titre » et « lien » introuvables"):
        import_procedures_csv(b"a,b\n1,2\n", user=admin)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes(range(256)) * 40, "semble binaire"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "semble binaire"),
        (b"PK\x03\x04" + b"\x00" * 200, "classeur"),
        (b"", "Le fichier est vide."),
        (b"  \r\n\r\n", "Le fichier est vide."),
        (b"titre;lien\n", "seulement la ligne d'en-tête"),
    ],
)
def test_unreadable_files_give_a_clear_error(admin, data, message):
    with pytest.raises(ProcedureImportError, match=message):
        import_procedures_csv(data, user=admin)
    assert not Procedure.objects.exists()


# --- Matching ---------------------------------------------------------------------------------


def test_a_broken_bin_leads_to_the_bin_replacement(catalogue):
    matches = match_procedures("ma poubelle est cassée")

    assert matches[0].procedure.url == BIN_BROKEN
    assert matches[0].matched_terms == ["poubelle", "cassée"]
    assert not needs_clarification(matches)


def test_an_identity_card_request_leads_to_the_cni(catalogue):
    matches = match_procedures("je veux refaire ma carte d'identité")

    assert matches[0].procedure.url == ID_CARD
    assert matches[0].score > 0.6
    assert not needs_clarification(matches)


@pytest.mark.parametrize(
    ("query", "suffix"),
    [
        ("on m'a volé ma poubelle", "/vol-bac-ordures"),
        ("il y a un trou dans la route devant chez moi", "/signalement-voirie"),
        ("le lampadaire de ma rue ne marche plus", "/eclairage-public"),
        ("jeter un vieux canapé", "/encombrants"),
        ("je veux voter aux prochaines élections", "/inscription-listes-electorales"),
        ("mon fils a 16 ans, il doit se faire recenser", "/recensement-citoyen"),
        ("je déménage samedi, je dois réserver une place pour le camion", "-demenagement"),
        ("je voudrais me marier", "/dossier-mariage"),
    ],
)
def test_everyday_requests_find_their_procedure(catalogue, query, suffix):
    matches = match_procedures(query)
    assert matches and matches[0].procedure.url.endswith(suffix), [
        (m.procedure.title, m.score) for m in matches
    ]


@pytest.mark.parametrize("query", OFF_TOPIC)
def test_off_topic_requests_match_nothing(catalogue, query):
    assert match_procedures(query) == []


def test_a_vague_request_needs_a_clarifying_question(catalogue):
    vague = match_procedures("poubelle")
    assert {m.procedure.url for m in vague} == {BIN_BROKEN, BIN_STOLEN, BIN_NEW}
    assert needs_clarification(vague)

    precise = match_procedures("ma poubelle est cassée, il faut la remplacer")
    assert precise[0].procedure.url == BIN_BROKEN
    assert not needs_clarification(precise)

    for query in ("stationnement", "carte", "acte d'état civil"):
        assert needs_clarification(match_procedures(query)), query
    assert not needs_clarification(match_procedures("carte de stationnement pour les habitants"))
    assert not needs_clarification([])
    assert not needs_clarification(precise[:1])


def test_matching_follows_catalogue_edits(catalogue):
    assert match_procedures("ma trottinette électrique") == []

    road = Procedure.objects.get(url__endswith="/signalement-voirie")
    road.keywords += ", trottinette électrique"
    road.save()
    assert match_procedures("ma trottinette électrique")[0].procedure == road
    # A bulk update leaves updated_at alone: the cache notices the new text all the same.
    Procedure.objects.filter(pk=road.pk).update(keywords="nid de poule")
    assert match_procedures("ma trottinette électrique") == []

    card = Procedure.objects.get(url=ID_CARD)
    card.is_active = False
    card.save()
    urls = [m.procedure.url for m in match_procedures("je veux refaire ma carte d'identité")]
    assert ID_CARD not in urls


def test_an_empty_catalogue_or_request_matches_nothing(db):
    assert match_procedures("ma poubelle est cassée") == []
    assert match_procedures("   ") == []


# --- Console ----------------------------------------------------------------------------------


def console_urls(pk: int) -> list[str]:
    return [
        reverse("chat:procedures"),
        reverse("chat:procedure_create"),
        reverse("chat:procedure_import"),
        reverse("chat:procedure_edit", args=[pk]),
        reverse("chat:procedure_delete", args=[pk]),
    ]


def test_an_agent_without_the_permission_is_refused(client):
    direction = DirectionFactory(code="PROP")
    procedure = Procedure.objects.create(title="Encombrants", url="https://ex.example/enc")
    client.force_login(UserFactory(roles=["agent", "technicien DSI"], directions=[direction]))
    for url in console_urls(procedure.pk):
        assert client.get(url).status_code == 403, url
        assert client.post(url).status_code == 403, url
    assert Procedure.objects.filter(pk=procedure.pk).exists()


def test_an_ai_administrator_may_manage_the_catalogue(client):
    direction = DirectionFactory(code="PROP")
    client.force_login(UserFactory(roles=["agent", "administrateur IA"], directions=[direction]))
    assert client.get(reverse("chat:procedures")).status_code == 200
    assert client.get(reverse("chat:procedure_import")).status_code == 200


def test_an_administrator_imports_a_file_and_sees_the_report(client, admin, directions):
    client.force_login(admin)
    page = client.get(reverse("chat:procedure_import"))
    assert page.status_code == 200
    assert 'type="file"' in page.content.decode()

    response = client.post(
        reverse("chat:procedure_import"),
        {"file": SimpleUploadedFile("demarches.csv", cp1252_semicolon(fixture_bytes()))},
    )
    assert response.status_code == 200
    report = response.context["report"]
    assert report.created == FIXTURE_ROWS
    html = response.content.decode()
    assert "Résultat de l'import" in html
    assert f'<span class="stats__value">{FIXTURE_ROWS}</span> démarches créées' in html
    assert Procedure.objects.count() == FIXTURE_ROWS

    bad = "titre;lien\nBon;https://ex.example/bon\n;https://ex.example/sans-titre\n"
    response = client.post(
        reverse("chat:procedure_import"),
        {"file": SimpleUploadedFile("bad.csv", bad.encode())},
    )
    html = response.content.decode()
    assert "Lignes non importées" in html
    assert '<th scope="row">3</th><td>titre manquant</td>' in html

    response = client.post(
        reverse("chat:procedure_import"),
        {"file": SimpleUploadedFile("photo.csv", bytes(range(256)) * 10)},
    )
    assert response.context["report"] is None
    assert "semble binaire" in response.content.decode()


def test_an_administrator_manages_the_catalogue(client, admin, directions):
    client.force_login(admin)
    response = client.post(
        reverse("chat:procedure_create"),
        {
            "title": "Demande de composteur",
            "url": "https://www.clairval.example/demarches/composteur",
            "description": "Un composteur gratuit.",
            "keywords": "compost, jardin",
            "required_documents": "Justificatif de domicile",
            "direction": directions["PROP"].pk,
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    procedure = Procedure.objects.get(title="Demande de composteur")
    assert procedure.direction == directions["PROP"]

    # Same link twice: refused, the link is the catalogue's key.
    response = client.post(
        reverse("chat:procedure_create"),
        {"title": "Copie", "url": procedure.url},
    )
    assert response.status_code == 200
    assert "utilise déjà ce lien" in response.content.decode()
    response = client.post(
        reverse("chat:procedure_create"), {"title": "FTP", "url": "ftp://ex.example/f"}
    )
    assert response.status_code == 200 and Procedure.objects.count() == 1

    page = client.get(reverse("chat:procedures"), {"q": "compost"})
    assert "Demande de composteur" in page.content.decode()
    page = client.get(reverse("chat:procedures"), {"q": "passeport"})
    assert "Demande de composteur" not in page.content.decode()
    page = client.get(reverse("chat:procedures"), {"essai": "je veux un composteur"})
    assert page.context["test"]["matches"][0].procedure == procedure

    response = client.post(
        reverse("chat:procedure_edit", args=[procedure.pk]),
        {"title": "Composteur individuel", "url": procedure.url, "keywords": "compost"},
    )
    assert response.status_code == 302
    procedure.refresh_from_db()
    assert procedure.title == "Composteur individuel"
    assert procedure.direction is None and not procedure.is_active

    confirm = client.get(reverse("chat:procedure_delete", args=[procedure.pk]))
    assert "Supprimer définitivement" in confirm.content.decode()
    assert Procedure.objects.filter(pk=procedure.pk).exists()
    response = client.post(reverse("chat:procedure_delete", args=[procedure.pk]))
    assert response.status_code == 302
    assert not Procedure.objects.filter(pk=procedure.pk).exists()
    assert AuditEvent.objects.filter(action="chat.procedure_delete").exists()

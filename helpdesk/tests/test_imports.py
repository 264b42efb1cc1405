"""Import of past tickets and articles from CSV/XLSX: reading, mapping, values, idempotency,
refused rows, failures, and the console pages."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk import imports
from helpdesk.imports import ImportFileError, guess_mapping, read_table
from helpdesk.models import Article, Category, ImportJob, Ticket

PARIS = ZoneInfo("Europe/Paris")
ENDAVA = settings.CORPUS_DIR / "g_helpdesk_tickets" / "endava_support_tickets_all.csv"

GLPI_HEADER = (
    "ID;Titre;Description;Catégorie;Priorité;Statut;Date d'ouverture;Date de résolution;"
    "Solution;Demandeur;Entité"
)


def glpi_csv(requester_email: str) -> bytes:
    lines = [
        GLPI_HEADER,
        # line 2: complete
        f"1001;Imprimante bloquée;Bourrage papier au 2e étage;Matériel > Imprimantes;Haute;Clos;"
        f"03/02/2024 09:15;03/02/2024 11:40;Rouleau remplacé;{requester_email.upper()};DSI",
        # line 3: no title, no description
        "1002;;;Logiciel;Moyenne;Nouveau;04/02/2024;;;;",
        # line 4: 31 February
        "1003;Messagerie lente;Outlook rame;Logiciel > Messagerie;Très haute;"
        "En cours (attribué);31/02/2024 10:00;;;;",
        # line 5: same id as line 2
        "1001;Doublon;Autre texte;Matériel;Basse;Clos;05/02/2024;;;;",
        "",
        # line 7 (after an empty line): unknown requester, ISO date, no entity
        "1004;Écran noir;\"L'écran ne s'allume plus;\nrien à faire\";Matériel > Écrans;Majeure;"
        "Résolu;2024-02-06 08:00;06/02/2024 09:30;Câble changé;inconnu@ville.example;",
        # line 9 (the quoted description above spans two lines): unknown status
        "1005;Statut bizarre;Texte;Matériel;Basse;Perdu;07/02/2024;;;;",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def run(user, data: bytes, name: str = "glpi.csv", kind: str = "tickets", mapping=None):
    job = imports.create_job(user=user, kind=kind, uploaded_file=upload(name, data))
    return imports.start_import(
        job, user=user, mapping=job.mapping if mapping is None else mapping, inline=True
    )


# --- Reading ---------------------------------------------------------------------------------


def test_read_csv_cp1252_semicolon_with_line_numbers(technician):
    table = read_table(glpi_csv(technician.email), "glpi.csv")
    assert table.encoding == "cp1252"
    assert table.delimiter == ";"
    assert table.headers[3] == "Catégorie"
    assert [line for line, _row in table.rows] == [2, 3, 4, 5, 7, 9]
    assert table.rows[4][1][2] == "L'écran ne s'allume plus;\nrien à faire"


def test_read_csv_utf8_bom_comma_and_tab():
    table = read_table("\ufeffTitre,Description\nA,b\n".encode(), "a.csv")
    assert table.headers == ["Titre", "Description"] and table.delimiter == ","
    table = read_table(b"Titre\tDescription\nA\tb\n", "a.tsv")
    assert table.delimiter == "\t" and table.rows == [(2, ["A", "b"])]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "vide.csv", "vide"),
        (b"   \r\n\r\n", "vide.csv", "vide"),
        (bytes(range(256)) * 20, "junk.csv", "binaire"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >>", "tickets.csv", "PDF"),
        (b"PK\x03\x04" + b"\x00garbage" * 50, "tickets.xlsx", "classeur Excel n'a pas pu"),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "old.xls", "XLS"),
    ],
)
def test_unreadable_files_raise_french_errors(data, name, message):
    with pytest.raises(ImportFileError) as exc:
        read_table(data, name)
    assert message in exc.value.message


def test_row_and_size_limits(settings):
    settings.HELPDESK_IMPORT_MAX_ROWS = 3
    data = b"Titre\n" + b"".join(f"T{i}\n".encode() for i in range(5))
    with pytest.raises(ImportFileError, match="plus de 3 lignes"):
        read_table(data, "a.csv")
    settings.HELPDESK_IMPORT_MAX_BYTES = 10
    with pytest.raises(ImportFileError, match="dépasse"):
        read_table(data, "a.csv")


def test_guess_mapping_glpi_and_endava():
    glpi = GLPI_HEADER.split(";")
    assert guess_mapping(glpi, "tickets") == {
        "external_id": "ID",
        "title": "Titre",
        "description": "Description",
        "category": "Catégorie",
        "priority": "Priorité",
        "status": "Statut",
        "created_at": "Date d'ouverture",
        "resolved_at": "Date de résolution",
        "resolution": "Solution",
        "requester": "Demandeur",
        "direction": "Entité",
    }
    endava = (
        "title,body,ticket_type,category,sub_category1,sub_category2,business_service,"
        "urgency,impact"
    )
    assert guess_mapping(endava.split(","), "tickets") == {
        "title": "title",
        "description": "body",
        "category": "category",
        "priority": "urgency",
    }
    assert guess_mapping(["Sujet", "Contenu", "Catégorie"], "articles") == {
        "title": "Sujet",
        "body": "Contenu",
        "category": "Catégorie",
    }


def test_value_parsers():
    assert imports.parse_priority("Très basse") == Ticket.Priority.LOW
    assert imports.parse_priority("moyenne") == Ticket.Priority.NORMAL
    assert imports.parse_priority("Majeure") == Ticket.Priority.URGENT
    assert [imports.parse_priority(str(n)) for n in range(1, 7)] == [1, 1, 2, 3, 4, 4]
    assert imports.parse_priority("") == Ticket.Priority.NORMAL
    assert imports.parse_status("En cours (planifié)") == Ticket.Status.ASSIGNED
    assert imports.parse_status("En attente") == Ticket.Status.WAITING
    assert imports.parse_status("5") == Ticket.Status.RESOLVED
    assert imports.parse_date("03/02/2024 9:15") == dt.datetime(2024, 2, 3, 9, 15, tzinfo=PARIS)
    assert imports.parse_date("2024-02-03T09:15:00Z") == dt.datetime(
        2024, 2, 3, 9, 15, tzinfo=dt.UTC
    )
    for parser, value in (
        (imports.parse_priority, "7"),
        (imports.parse_status, "Perdu"),
        (imports.parse_date, "hier"),
    ):
        with pytest.raises(imports.RowError):
            parser(value)


# --- Importing -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_glpi_import_reports_bad_rows_and_imports_the_rest(technician, dsi):
    job = run(technician, glpi_csv(technician.email))

    assert job.status == ImportJob.Status.DONE, job.error
    assert (job.total, job.processed, job.created, job.updated, job.unchanged) == (6, 6, 2, 0, 0)
    errors = dict(job.errors)
    assert sorted(errors) == [3, 4, 5, 9]
    assert "titre manquant" in errors[3]
    assert "date d'ouverture « 31/02/2024 10:00 » illisible" in errors[4]
    assert "même n° d'origine « 1001 » que la ligne 2" in errors[5]
    assert "statut « Perdu » inconnu" in errors[9]

    printer = Ticket.objects.get(external_id="1001")
    assert printer.origin == Ticket.Origin.IMPORT
    assert printer.title == "Imprimante bloquée"
    assert printer.category.path == "Matériel > Imprimantes"
    assert printer.category.code == "Matériel > Imprimantes"
    assert printer.priority == Ticket.Priority.HIGH
    assert printer.status == Ticket.Status.CLOSED
    assert printer.created_at == dt.datetime(2024, 2, 3, 9, 15, tzinfo=PARIS)
    assert printer.resolved_at == dt.datetime(2024, 2, 3, 11, 40, tzinfo=PARIS)
    assert printer.resolution == "Rouleau remplacé"
    assert printer.requester == technician
    assert printer.direction == dsi

    screen = Ticket.objects.get(external_id="1004")
    assert screen.description == "L'écran ne s'allume plus;\nrien à faire"
    assert screen.category.parent == printer.category.parent  # one « Matériel » node
    assert screen.priority == Ticket.Priority.URGENT
    assert screen.status == Ticket.Status.RESOLVED
    assert screen.requester is None and screen.direction is None
    assert Category.objects.filter(name="Matériel", parent=None).count() == 1

    # Same file again: nothing created, same refusals.
    again = run(technician, glpi_csv(technician.email))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert sorted(dict(again.errors)) == [3, 4, 5, 9]
    assert Ticket.objects.count() == 2

    # A corrected export updates the ticket it keys to.
    fixed = glpi_csv(technician.email).replace("Rouleau remplacé".encode("cp1252"), b"Nettoyage")
    third = run(technician, fixed)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 1)
    printer.refresh_from_db()
    assert printer.resolution == "Nettoyage"


@pytest.mark.django_db
def test_without_id_column_the_hash_key_makes_it_idempotent(technician):
    data = "Titre;Description\nPoste lent;Démarrage long\nPoste lent;Démarrage long\n;Souris HS\n"
    job = run(technician, data.encode("utf-8"))
    assert (job.created, job.unchanged) == (2, 0)
    assert job.errors == [[3, "même contenu que la ligne 2 du fichier : ligne ignorée"]]
    derived = Ticket.objects.get(description="Souris HS")
    # No title cell: the description gives it; no status column: closed; no date: now.
    assert derived.title == "Souris HS"
    assert derived.status == Ticket.Status.CLOSED
    assert derived.external_id.startswith("h:")
    again = run(technician, data.encode("utf-8"))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert Ticket.objects.count() == 2


@pytest.mark.django_db
def test_endava_file_first_300_rows(technician):
    if not ENDAVA.exists():
        pytest.skip(f"Endava corpus file absent ({ENDAVA}): set CORPUS_DIR to the shared corpus")
    with ENDAVA.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [next(reader) for _ in range(300)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    # Refused by the documented rules: no title nor body; urgency outside GLPI's 1-6 scale.
    expected_refused = sum(1 for r in rows if not (r[0].strip() or r[1].strip()) or r[7] == "0")

    job = run(technician, data, name="endava.csv")
    assert job.mapping == {
        "title": "title",
        "description": "body",
        "category": "category",
        "priority": "urgency",
    }
    assert job.status == ImportJob.Status.DONE, job.error
    assert job.total == job.processed == 300
    assert len(job.errors) == expected_refused
    assert job.created == 300 - expected_refused
    assert Ticket.objects.filter(origin=Ticket.Origin.IMPORT).count() == job.created
    # Category codes became root categories coded by their value.
    assert Category.objects.filter(code="4", name="4", parent=None).count() == 1
    # A row without a title got one from its body.
    assert not Ticket.objects.filter(title="").exists()

    again = run(technician, data, name="endava.csv")
    assert (again.created, again.updated, again.unchanged) == (0, 0, job.created)
    assert Ticket.objects.count() == job.created
    assert Ticket.objects.values("external_id").distinct().count() == job.created


@pytest.mark.django_db
def test_xlsx_import_with_dates_and_numbers(technician):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append([])  # an empty first row: the header is the first non-empty one
    sheet.append(["ID", "Titre", "Date d'ouverture", "Priorité", "Statut"])
    sheet.append([501, "VPN coupé", dt.datetime(2023, 11, 5, 14, 30), 5, "Clos"])
    sheet.append([502, "Badge refusé", "12/11/2023", "Basse", 4])
    buffer = io.BytesIO()
    workbook.save(buffer)

    job = run(technician, buffer.getvalue(), name="export.xlsx")
    assert job.status == ImportJob.Status.DONE, job.error
    assert (job.created, job.errors) == (2, [])
    vpn = Ticket.objects.get(external_id="501")
    assert vpn.created_at == dt.datetime(2023, 11, 5, 14, 30, tzinfo=PARIS)
    assert vpn.priority == Ticket.Priority.URGENT
    badge = Ticket.objects.get(external_id="502")
    assert badge.status == Ticket.Status.WAITING
    table = read_table(buffer.getvalue(), "export.xlsx")
    assert [line for line, _ in table.rows] == [3, 4]


@pytest.mark.django_db
def test_articles_import(technician, dsi):
    from ai.models import Collection, IngestionRun, Source

    kb = Collection.objects.create(name="Aide", slug="aide", direction=dsi)
    Source.objects.create(
        collection=kb,
        name="Articles",
        kind=Source.Kind.APP,
        config={"provider": "helpdesk.articles"},
    )
    data = (
        "Sujet;Contenu;Catégorie;Statut\n"
        "Changer le toner;Ouvrir le capot…;Matériel > Imprimantes;Publié\n"
        "Sans contenu;;Logiciel;Brouillon\n"
        "Statut inconnu;Texte;Logiciel;Peut-être\n"
    ).encode()
    job = run(technician, data, name="kb.csv", kind="articles")
    assert job.created == 1
    assert job.errors == [
        [3, "contenu manquant"],
        [4, "statut « Peut-être » inconnu (attendu : Publié ou Brouillon)"],
    ]
    article = Article.objects.get()
    assert article.status == Article.Status.PUBLISHED
    assert article.category.path == "Matériel > Imprimantes"
    # The assistants' knowledge base is re-indexed at once, once: an unchanged re-import
    # starts nothing.
    assert IngestionRun.objects.filter(source__collection=kb).count() == 1
    IngestionRun.objects.update(status=IngestionRun.Status.DONE)
    assert run(technician, data, name="kb.csv", kind="articles").unchanged == 1
    assert Article.objects.count() == 1
    assert IngestionRun.objects.filter(source__collection=kb).count() == 1


@pytest.mark.django_db
def test_mapping_validation_errors_are_french(technician):
    job = imports.create_job(
        user=technician, kind="tickets", uploaded_file=upload("a.csv", b"Sujet;Texte\nA;b\n")
    )
    assert job.mapping == {"title": "Sujet", "description": "Texte"}
    with pytest.raises(ImportFileError, match="Choisissez une colonne pour : « Titre »"):
        imports.start_import(job, user=technician, mapping={"description": "Texte"}, inline=True)
    with pytest.raises(ImportFileError, match="Colonne introuvable dans le fichier : « Objet »"):
        imports.start_import(job, user=technician, mapping={"title": "Objet"}, inline=True)
    with pytest.raises(ImportFileError, match="qu'un champ"):
        imports.start_import(
            job, user=technician, mapping={"title": "Sujet", "description": "Sujet"}, inline=True
        )
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PENDING and job.started_by is None


@pytest.mark.django_db
def test_missing_mapped_column_at_run_time_fails_the_job(technician, caplog):
    job = imports.create_job(
        user=technician, kind="tickets", uploaded_file=upload("a.csv", b"Titre;Texte\nA;b\n")
    )
    # The mapping was saved for another file (or edited): « Description » is not in this one.
    job.mapping = {"title": "Titre", "description": "Description"}
    job.started_by = technician
    job.save()
    imports.run_import(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert job.error.startswith("Colonne introuvable dans le fichier : « Description »")
    assert job.finished_at is not None
    assert Ticket.objects.count() == 0
    assert "failed" in caplog.text
    # A second delivery of the task does not run it again.
    assert imports.run_import(job.pk).status == ImportJob.Status.FAILED


@pytest.mark.django_db
def test_header_only_file_is_refused(technician):
    with pytest.raises(ImportFileError, match="que la ligne d'en-tête"):
        imports.create_job(
            user=technician, kind="tickets", uploaded_file=upload("a.csv", b"Titre;Texte\n")
        )
    assert not ImportJob.objects.exists()


# --- Console pages -------------------------------------------------------------------------


@pytest.mark.django_db
def test_agent_without_permission_gets_403(client, agent, technician):
    job = imports.create_job(
        user=technician, kind="tickets", uploaded_file=upload("a.csv", b"Titre\nA\n")
    )
    client.force_login(agent)
    for url in (
        reverse("helpdesk:import_list"),
        reverse("helpdesk:import_new"),
        reverse("helpdesk:import_mapping", args=[job.pk]),
        reverse("helpdesk:import_detail", args=[job.pk]),
        reverse("helpdesk:import_progress", args=[job.pk]),
    ):
        assert client.get(url).status_code == 403, url
    response = client.post(
        reverse("helpdesk:import_new"), {"kind": "tickets", "file": upload("b.csv", b"Titre\nB\n")}
    )
    assert response.status_code == 403
    assert ImportJob.objects.count() == 1


@pytest.mark.django_db
def test_technician_uploads_maps_starts_and_reads_the_report(client, technician, q_sync):
    client.force_login(technician)
    response = client.get(reverse("helpdesk:import_new"))
    assert response.status_code == 200
    assert "Importer des tickets ou des articles" in response.text

    # A file that is no table: French error on the form, nothing stored.
    response = client.post(
        reverse("helpdesk:import_new"),
        {"kind": "tickets", "file": upload("scan.csv", b"%PDF-1.4 binary")},
    )
    assert response.status_code == 200
    assert "Ce fichier est un PDF" in response.text
    assert not ImportJob.objects.exists()

    response = client.post(
        reverse("helpdesk:import_new"),
        {"kind": "tickets", "file": upload("glpi.csv", glpi_csv(technician.email))},
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("helpdesk:import_mapping", args=[job.pk])
    # Not started yet: the detail page sends back to the mapping.
    assert client.get(reverse("helpdesk:import_detail", args=[job.pk]))["Location"] == (
        reverse("helpdesk:import_mapping", args=[job.pk])
    )

    page = client.get(reverse("helpdesk:import_mapping", args=[job.pk]))
    assert page.status_code == 200
    html = page.text
    assert "Aperçu des premières lignes" in html
    assert "Imprimante bloquée" in html and "Statut bizarre" not in html  # 5 rows only
    assert '<option value="Titre" selected>' in html
    initial = page.context["form"].initial

    # A required field left out: French error, nothing started.
    response = client.post(
        reverse("helpdesk:import_mapping", args=[job.pk]), {**initial, "title": ""}
    )
    assert response.status_code == 200
    assert "Choisissez la colonne qui donne « Titre »" in response.text

    response = client.post(reverse("helpdesk:import_mapping", args=[job.pk]), initial)
    assert response.status_code == 302
    assert response["Location"] == reverse("helpdesk:import_detail", args=[job.pk])
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert job.started_by == technician

    progress = client.get(reverse("helpdesk:import_progress", args=[job.pk])).json()
    assert progress["status"] == "done" and progress["running"] is False
    assert (progress["processed"], progress["total"], progress["created"]) == (6, 6, 2)
    assert progress["refused"] == 4 and progress["percent"] == 100

    report = client.get(reverse("helpdesk:import_detail", args=[job.pk])).text
    assert "Terminé" in report
    assert "Lignes refusées" in report
    assert '<th scope="row">9</th><td>statut « Perdu » inconnu' in report
    assert "même n° d&#x27;origine « 1001 » que la ligne 2" in report

    # Started jobs cannot be mapped or started again.
    assert client.get(reverse("helpdesk:import_mapping", args=[job.pk])).status_code == 302
    assert Ticket.objects.count() == 2
    assert "glpi.csv" in client.get(reverse("helpdesk:import_list")).text

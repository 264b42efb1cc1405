"""Every kind of source through the product's ingestion: bad items fail alone, in French.

Each case goes through `services.create_source`, `services.start_run`, `index_sync.sync_pending`
and `retrieval.search`, as the console and the background worker do.
"""

from __future__ import annotations

import random
import secrets
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError
from django_q.conf import Conf

from ai import services
from ai.index_sync import sync_pending
from ai.models import Chunk, Document, IngestionRun, Source
from ai.retrieval import search
from ai.selectors import run_counts
from ai.store import get_store
from ai.tests import fixtures_files as ff
from ai.tests.conftest import upload
from core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def q_sync(settings, monkeypatch):
    """django-q2 runs `async_task` inline, as the console's buttons would in a worker."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    monkeypatch.setattr(Conf, "SYNC", True)  # read once at import time by django-q2


def run_inline(source: Source, user) -> IngestionRun:
    run = services.start_run(source, user=user, inline=True)
    run.refresh_from_db()
    return run


def outcome_counts(run: IngestionRun) -> dict[str, int]:
    """The run's counts, without the derived « done »."""
    counts = run_counts(run)
    return {k: counts[k] for k in ("new", "updated", "unchanged", "failed", "deleted", "total")}


# --- Website --------------------------------------------------------------------------------------

ACCUEIL = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Accueil – Ville de Saint-Exemple</title></head><body>
<h1>Bienvenue sur le site de la mairie</h1>
<p>Retrouvez les démarches administratives et les services municipaux de la commune.</p>
<ul>{links}</ul></body></html>"""

PAGES = {
    "/etat-civil.html": """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Demander un acte de naissance</title></head><body>
<h1>Acte de naissance</h1>
<p>La copie intégrale d'un acte de naissance se demande au service de l'état civil de la
mairie du lieu de naissance, sur place, par courrier ou en ligne. La délivrance est gratuite.</p>
</body></html>""",
    "/dechets.html": """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Collecte des encombrants</title></head><body>
<h1>Encombrants</h1>
<p>La collecte des encombrants (meubles, matelas, gros électroménager) a lieu sur rendez-vous
le premier mardi du mois. Les déchets verts sont repris à la déchetterie intercommunale.</p>
</body></html>""",
}
LINKS = {
    "/etat-civil.html": "État civil",
    "/dechets.html": "Encombrants",
    "/boucle-a": "Plan de la ville",
}


class SiteHandler(BaseHTTPRequestHandler):
    server: SiteServer

    def log_message(self, format, *args):
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = urlsplit(self.path).path
        self.server.requested.append(path)
        loops = {"/boucle-a": "/boucle-b", "/boucle-b": "/boucle-a"}
        html = {"Content-Type": "text/html; charset=utf-8"}
        if path in loops and path not in self.server.pages:
            self._send(302, headers={"Location": loops[path]})
        elif path == "/":
            links = "".join(
                f'<li><a href="{href}">{label}</a></li>'
                for href, label in LINKS.items()
                if href in self.server.pages or href.startswith("/boucle")
            )
            self._send(200, ACCUEIL.format(links=links).encode(), html)
        elif path in self.server.pages:
            self._send(200, self.server.pages[path].encode(), html)
        else:
            self._send(404, b"Page introuvable", html)


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), SiteHandler)
        self.pages = dict(PAGES)
        self.requested: list[str] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


@pytest.fixture
def site():
    httpd = SiteServer()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_website_redirect_loop_fails_alone_and_a_removed_page_leaves_the_index(org, site):
    source = services.create_source(
        user=org["admin_rh"],
        collection=org["col_rh"],
        name="Site de la mairie",
        kind=Source.Kind.WEBSITE,
        config={"start_urls": [site.base + "/"], "delay_s": 0, "max_depth": 2},
    )
    run = run_inline(source, org["admin_rh"])
    assert run.status == IngestionRun.Status.DONE
    assert outcome_counts(run) == {
        "new": 3,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
        "deleted": 0,
        "total": 4,
    }
    loop = Document.objects.get(source=source, status=Document.Status.FAILED)
    assert loop.uri == site.base + "/boucle-a"
    assert "La page redirige en boucle" in loop.error
    assert not loop.chunks.exists()
    indexed = set(
        Document.objects.filter(source=source, status=Document.Status.INDEXED).values_list(
            "uri", flat=True
        )
    )
    assert indexed == {site.base + "/", site.base + "/etat-civil.html", site.base + "/dechets.html"}

    sync_pending()
    top = search(org["agent_rh"], "quand passe la collecte des encombrants ?")[0]
    assert top.document.uri == site.base + "/dechets.html"
    assert top.document.title == "Collecte des encombrants"
    top = search(org["agent_rh"], "obtenir une copie d'acte de naissance")[0]
    assert top.document.uri == site.base + "/etat-civil.html"
    assert search(org["agent_fin"], "collecte des encombrants") == []

    # The page disappears from the site (and from the menu that linked to it).
    dechets = Document.objects.get(uri=site.base + "/dechets.html")
    gone_chunks = set(dechets.chunks.values_list("pk", flat=True))
    assert gone_chunks
    del site.pages["/dechets.html"]
    second = run_inline(source, org["admin_rh"])
    assert second.status == IngestionRun.Status.DONE
    counts = outcome_counts(second)
    assert (counts["deleted"], counts["unchanged"], counts["updated"], counts["failed"]) == (
        1,
        1,
        1,
        1,
    )
    assert not Document.objects.filter(pk=dechets.pk).exists()
    assert not Chunk.objects.filter(pk__in=gone_chunks).exists()
    sync_pending()
    assert get_store().count() == Chunk.objects.count()
    hits = search(org["agent_rh"], "collecte des encombrants matelas électroménager")
    assert all(hit.document.uri != site.base + "/dechets.html" for hit in hits)
    assert all("encombrants" not in hit.chunk.text for hit in hits)


def test_retrying_a_failed_web_page_fetches_it_again(org, site, q_sync):
    source = services.create_source(
        user=org["admin_rh"],
        collection=org["col_rh"],
        name="Site de la mairie",
        kind=Source.Kind.WEBSITE,
        config={"start_urls": [site.base + "/"], "delay_s": 0},
    )
    run_inline(source, org["admin_rh"])
    loop = Document.objects.get(source=source, status=Document.Status.FAILED)
    assert not loop.file  # nothing was downloaded: only the site can give the page
    # The webmaster fixes the redirect: the address now serves the town map page.
    site.pages["/boucle-a"] = (
        "<html><head><title>Plan de la ville</title></head><body><p>Le plan interactif de la "
        "ville indique les parkings relais et les bornes de recharge.</p></body></html>"
    )
    retry = services.retry_document(user=org["admin_rh"], document=loop)
    retry.refresh_from_db()
    loop.refresh_from_db()
    assert (loop.status, loop.error, loop.title) == ("indexed", "", "Plan de la ville")
    assert retry.status == IngestionRun.Status.DONE
    assert run_counts(retry)["failed"] == 0
    sync_pending()
    assert search(org["agent_rh"], "bornes de recharge parkings relais")[0].document == loop


# --- SQL ------------------------------------------------------------------------------------------

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
AIDES = [
    (1, "Aide à la restauration scolaire", "Réduction du prix du repas à la cantine selon le "),
    (2, "Chèque énergie municipal", "Participation de la commune aux factures de chauffage "),
    (3, "Pass'Sport jeunesse", "Prise en charge d'une partie de la licence sportive "),
]


@pytest.fixture
def pg_url():
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable on 127.0.0.1:5432: {exc}")
    name = f"ai_ingestion_test_{secrets.token_hex(4)}"
    admin.execute(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as db:
            db.execute("CREATE TABLE aides (id integer PRIMARY KEY, nom text, texte text)")
            with db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO aides VALUES (%s, %s, %s)",
                    [(i, n, t + "pour les familles de la commune.") for i, n, t in AIDES],
                )
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def test_sql_rows_become_searchable_documents_and_writes_are_refused(org, pg_url):
    config = {
        "url": pg_url,
        "query": "SELECT id, nom, texte FROM aides ORDER BY id",
        "title_template": "{nom}",
        "body_template": "{nom}\n\n{texte}",
        "key_column": "id",
    }
    source = services.create_source(
        user=org["admin_rh"],
        collection=org["col_rh"],
        name="Aides sociales",
        kind=Source.Kind.SQL,
        config=config,
    )
    run = run_inline(source, org["admin_rh"])
    assert outcome_counts(run)["new"] == 3
    docs = dict(Document.objects.filter(source=source).values_list("uri", "title"))
    assert docs == {f"row:{i}": nom for i, nom, _ in AIDES}
    sync_pending()
    top = search(org["agent_rh"], "aide pour payer le chauffage")[0]
    assert top.document.uri == "row:2"
    assert "Chèque énergie municipal" in top.chunk.text

    sources = Source.objects.count()
    events = AuditEvent.objects.filter(action="ai.source.create").count()
    for query in ("DELETE FROM aides", "SELECT 1; DROP TABLE aides", "UPDATE aides SET nom = ''"):
        with pytest.raises(ValidationError) as error:
            services.create_source(
                user=org["admin_rh"],
                collection=org["col_rh"],
                name="Requête dangereuse",
                kind=Source.Kind.SQL,
                config={**config, "query": query},
            )
        assert "Seule une requête SELECT unique est acceptée" in error.value.messages[0]
    assert Source.objects.count() == sources
    assert AuditEvent.objects.filter(action="ai.source.create").count() == events


# --- Uploads --------------------------------------------------------------------------------------


def test_one_upload_run_with_every_kind_of_bad_file(org, settings):
    settings.MAX_UPLOAD_MB = 3
    bomb = ff.docx_bomb(size=2 * 1024**3)  # inflates to 2 GiB, about 2 MB on disk
    assert len(bomb) < 3 * 1024 * 1024
    good_pdf = ff.text_pdf(
        [["Rapport d'activité de la médiathèque", "Les prêts de livres ont augmenté."]]
    )
    files = [
        upload("bombe.docx", bomb),
        upload("rapport-mediatheque.docx", good_pdf),  # a PDF under a Word name
        upload("chiffre.pdf", ff.encrypted_pdf(good_pdf, "secret")),
        upload("tronque.pdf", good_pdf[: len(good_pdf) // 2]),
        upload("vide.txt", b""),
        upload("enorme.txt", b"a" * (3 * 1024 * 1024 + 1)),
        upload("binaire.txt", random.Random(7).randbytes(8000)),
        upload("subventions.csv", ff.csv_cp1252()),
    ]
    services.add_uploads(user=org["admin_rh"], source=org["src_rh"], files=files)
    assert not Document.objects.get(uri="enorme.txt").file  # refused before being stored
    run = run_inline(org["src_rh"], org["admin_rh"])
    assert run.status == IngestionRun.Status.DONE
    assert outcome_counts(run) == {
        "new": 2,
        "updated": 0,
        "unchanged": 0,
        "failed": 6,
        "deleted": 0,
        "total": 8,
    }
    errors = dict(Document.objects.filter(status="failed").values_list("uri", "error"))
    assert set(errors) == {
        "bombe.docx",
        "chiffre.pdf",
        "tronque.pdf",
        "vide.txt",
        "enorme.txt",
        "binaire.txt",
    }
    assert "anormalement compressé" in errors["bombe.docx"]
    assert "protégé par un mot de passe" in errors["chiffre.pdf"]
    assert "endommagé ou incomplet" in errors["tronque.pdf"]
    assert errors["vide.txt"] == "Le fichier est vide."
    assert "au-delà de la limite de 3 Mo" in errors["enorme.txt"]
    assert "ne contient pas de texte lisible" in errors["binaire.txt"]
    assert not Chunk.objects.filter(document__status="failed").exists()

    renamed = Document.objects.get(uri="rapport-mediatheque.docx")
    assert (renamed.status, renamed.format) == ("indexed", "pdf")
    assert renamed.warnings == [
        "Le fichier porte l'extension .docx mais son contenu est au format PDF : il a été lu "
        "comme tel."
    ]
    csv_doc = Document.objects.get(uri="subventions.csv")
    assert (csv_doc.status, csv_doc.format) == ("indexed", "csv")
    text = " ".join(csv_doc.chunks.values_list("text", flat=True))
    assert "Fête de la musique" in text and "Événements" in text
    assert "Réfection de l'école" in text

    sync_pending()
    assert search(org["agent_rh"], "prêts de livres médiathèque")[0].document == renamed
    assert search(org["agent_rh"], "fête de la musique")[0].document == csv_doc


# --- Folder ---------------------------------------------------------------------------------------


def test_folder_that_disappears_fails_the_run_and_deletes_nothing(org, tmp_path):
    folder = tmp_path / "partage-rh"
    folder.mkdir()
    (folder / "teletravail.txt").write_text(
        "Le télétravail est possible deux jours par semaine après accord du responsable.",
        encoding="utf-8",
    )
    (folder / "conges.md").write_text(
        "# Congés\n\nLes congés annuels se posent dans le logiciel de gestion des temps.\n",
        encoding="utf-8",
    )
    source = services.create_source(
        user=org["admin_rh"],
        collection=org["col_rh"],
        name="Partage RH",
        kind=Source.Kind.FOLDER,
        config={"path": str(folder)},
    )
    assert outcome_counts(run_inline(source, org["admin_rh"]))["new"] == 2
    sync_pending()
    documents = set(Document.objects.filter(source=source).values_list("pk", flat=True))
    chunks = set(Chunk.objects.values_list("pk", flat=True))

    shutil.rmtree(folder)  # the share is unmounted
    run = run_inline(source, org["admin_rh"])
    assert run.status == IngestionRun.Status.FAILED
    assert run.error == f"Le dossier « {folder} » n’existe pas."
    assert run.finished_at is not None
    assert set(Document.objects.filter(source=source).values_list("pk", flat=True)) == documents
    assert set(Chunk.objects.values_list("pk", flat=True)) == chunks
    sync_pending()
    assert get_store().count() == len(chunks)
    top = search(org["agent_rh"], "combien de jours de télétravail ?")[0]
    assert top.document.uri == "teletravail.txt"


# --- Retry ----------------------------------------------------------------------------------------


def test_failed_document_fixed_and_retried(org, q_sync):
    pages = [["Compte rendu du conseil municipal", "Le budget primitif est adopté."]]
    complete = ff.text_pdf(pages)
    services.add_uploads(
        user=org["admin_rh"],
        source=org["src_rh"],
        files=[upload("conseil.pdf", complete[:-300]), upload("note.txt", "Note de service.")],
    )
    first = run_inline(org["src_rh"], org["admin_rh"])
    doc = Document.objects.get(uri="conseil.pdf")
    assert doc.status == Document.Status.FAILED
    assert "endommagé ou incomplet" in doc.error
    assert outcome_counts(first)["failed"] == 1

    services.add_uploads(
        user=org["admin_rh"], source=org["src_rh"], files=[upload("conseil.pdf", complete)]
    )
    retry = services.retry_document(user=org["admin_rh"], document=doc)
    retry.refresh_from_db()
    doc.refresh_from_db()
    assert (doc.status, doc.error, doc.last_run_id) == (Document.Status.INDEXED, "", retry.pk)
    assert retry.status == IngestionRun.Status.DONE
    assert outcome_counts(retry) == {
        "new": 1,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
        "deleted": 0,
        "total": 1,
    }
    assert AuditEvent.objects.filter(action="ai.document.retry", object_id=str(doc.pk)).exists()
    sync_pending()
    assert search(org["agent_rh"], "budget primitif adopté")[0].document == doc

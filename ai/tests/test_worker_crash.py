"""A worker killed in the middle of a run, then restarted, finishes the run with no duplicate and
no missing chunk.

The main test uses real processes: `manage.py qcluster` (django-q2, ORM broker) working on a
database file of its own, killed with SIGKILL (the whole process group) while it indexes, then
started again. pytest-django's test database cannot serve here (the cluster is another process
and cannot see an in-memory database), so the test builds its own:

- SQLite (the default): a file in the test's temporary folder;
- PostgreSQL (when DATABASE_URL names one, as in CI): a database created for the test on the same
  server and dropped afterwards.

The subprocesses get that database through DATABASE_URL, and `manage.py migrate` creates the
tables. `prepare()` and `report()` below run inside `manage.py shell -c` (the product's own
services and selectors); the test itself polls the database with plain SQL through the DB-API
driver, without Django, and never sleeps for a fixed time hoping that something happened.

Why the run survives the crash (embedded default, ORM broker): a task taken by a cluster is
locked for `retry` seconds (Q_RETRY) and deleted only once its result is saved, so the tasks that
the killed cluster had taken (the one running and the ones prefetched) are delivered again to the
restarted cluster once their lock expires; ingestion is idempotent per (document, run).
Two windows of that redelivery are tested without processes, further down: the run task killed
while it enqueued, and a document task killed after its commit but before its acknowledgement.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from ai.chunking import chunk_blocks
from ai.converters import convert

BASE_DIR = Path(settings.BASE_DIR)
DOCUMENTS = 12
# A task must finish within Q_TIMEOUT (the first one in a worker also loads the embedder), and
# django-q2 requires retry > timeout. The tasks of the killed cluster come back after Q_RETRY.
Q_TIMEOUT = 15
Q_RETRY = 18
DEADLINE = 120.0

_SERVICES = [
    ("Piscine municipale des Tilleuls", "quartier des Tilleuls", "piscine"),
    ("Médiathèque Louise-Michel", "place de la Mairie", "médiathèque"),
    ("Service de l'état civil", "hôtel de ville", "état civil"),
    ("Conservatoire de musique", "rue des Arts", "conservatoire"),
    ("Restauration scolaire", "groupe scolaire Jean-Moulin", "cantine"),
    ("Déchetterie intercommunale", "zone artisanale des Sablons", "déchetterie"),
    ("Centre communal d'action sociale", "avenue de la République", "CCAS"),
    ("Maison des associations", "boulevard Victor-Hugo", "maison des associations"),
    ("Stationnement résidentiel", "centre ancien", "stationnement"),
    ("Halte-garderie Les Petits Pas", "quartier de la Gare", "halte-garderie"),
    ("Cimetière paysager", "chemin des Cyprès", "cimetière"),
    ("Salle polyvalente Jean-Jaurès", "parc Jean-Jaurès", "salle polyvalente"),
]


def _paragraph(service: str, place: str, topic: str, n: int) -> str:
    """About 500 characters of plausible, fictitious municipal information."""
    return (
        f"Le service {topic} ({place}) applique depuis le {n + 1} janvier les règles "
        f"votées par le conseil municipal de la commune fictive de Clairval. Les agents "
        f"accueillent le public du mardi au samedi, de {8 + n % 3} h à {17 + n % 2} h, sans "
        f"interruption. Pour « {service} », une demande écrite reste possible par courrier "
        f"adressé à monsieur le maire ; la réponse est envoyée sous {10 + n} jours ouvrés. "
        f"Le tarif de référence est fixé à {12 + 3 * n} euros, réduit de moitié pour les "
        f"familles dont le quotient familial est inférieur à {400 + 25 * n} euros."
    )


def documents() -> dict[str, str]:
    """Twelve documents of a few chunks each: Markdown with headings, and plain text."""
    docs = {}
    for i, (service, place, topic) in enumerate(_SERVICES):
        if i % 3 == 2:
            body = "\n\n".join(_paragraph(service, place, topic, i + k) for k in range(5))
            docs[f"note-{i:02d}.txt"] = f"{service}\n\n{body}\n"
        else:
            sections = []
            for k, heading in enumerate(("Horaires", "Tarifs", "Démarches")):
                paragraphs = [_paragraph(service, place, topic, i + 2 * k + j) for j in (0, 1)]
                sections.append(f"## {heading}\n\n" + "\n\n".join(paragraphs))
            docs[f"fiche-{i:02d}.md"] = f"# {service}\n\n" + "\n\n".join(sections) + "\n"
    return docs


# --- Run inside `manage.py shell -c` (the cluster's database) ----------------------------------


def prepare() -> None:
    """Create an upload source holding the documents and start a run for the cluster."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ai import services
    from ai.models import Collection, Source
    from core.models import Direction, User, Visibility

    direction = Direction.objects.create(code="DPS", name="Proximité et services")
    user = User.objects.create_superuser("admin-crash", "admin-crash@ville.example", None)
    collection = Collection.objects.create(
        name="Fiches pratiques",
        slug="fiches-pratiques",
        direction=direction,
        visibility=Visibility.INTERNAL,
    )
    source = Source.objects.create(
        collection=collection, name="Dépôt des fiches", kind=Source.Kind.UPLOAD
    )
    files = [SimpleUploadedFile(n, t.encode()) for n, t in documents().items()]
    services.add_uploads(user=user, source=source, files=files)
    run = services.start_run(source, user=user)  # enqueued for the cluster
    print(json.dumps({"run": run.pk}))


def report(run_id: int) -> None:
    """What the run left in the database, as the product's selectors see it."""
    from ai.models import Chunk, Document, IngestionRun
    from ai.selectors import run_counts

    run = IngestionRun.objects.get(pk=run_id)
    data = {
        "status": run.status,
        "counts": run_counts(run),
        "documents": {
            d.uri: {"id": d.pk, "status": d.status, "outcome": d.last_outcome}
            for d in Document.objects.filter(source=run.source)
        },
        "chunks": [
            [str(pk), doc_id, order]
            for pk, doc_id, order in Chunk.objects.values_list("pk", "document_id", "order")
        ],
    }
    print(json.dumps(data))


# --- The test's side: a database of its own, processes, plain-SQL polling ----------------------


class ClusterDatabase:
    """A database for the subprocesses: a SQLite file, or a PostgreSQL database of its own."""

    def __init__(self, tmp_path: Path):
        self.url = os.environ.get("DATABASE_URL", "")
        self.postgres = self.url.startswith(("postgres://", "postgresql://"))
        if self.postgres:
            import dj_database_url

            self.server = dj_database_url.parse(self.url)
            self.name = f"{self.server['NAME']}_crash_{uuid.uuid4().hex[:8]}"
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            base, _, query = self.url.partition("?")
            self.url = f"{base.rsplit('/', 1)[0]}/{self.name}" + (f"?{query}" if query else "")
        else:
            self.path = tmp_path / "cluster.sqlite3"
            self.url = f"sqlite:///{self.path}"

    def _admin(self):
        import psycopg

        return psycopg.connect(
            dbname="postgres",
            user=self.server["USER"] or None,
            password=self.server["PASSWORD"] or None,
            host=self.server["HOST"] or None,
            port=self.server["PORT"] or None,
            autocommit=True,
        )

    def rows(self, sql: str) -> list[tuple]:
        """A short read in its own connection (never holds a lock the cluster waits for)."""
        if self.postgres:
            import psycopg

            with psycopg.connect(self.url) as conn:
                return conn.execute(sql).fetchall()
        conn = sqlite3.connect(self.path, timeout=20)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def drop(self) -> None:
        if self.postgres:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Cluster:
    """`manage.py qcluster` in a session of its own, so that SIGKILL reaches every process."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log, self.proc = env, log, None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)
            # The group may outlive its leader for a moment (workers being reaped).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def _shell(env: dict[str, str], code: str) -> dict:
    out = _manage(env, "shell", "-c", code)
    return json.loads(out.strip().splitlines()[-1])


def _wait_for(predicate, what: str, cluster: Cluster, timeout: float = DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"{what}: not within {timeout:.0f} s.\nCluster log:\n{cluster.tail()}")


@pytest.fixture
def cluster_env(tmp_path):
    database = ClusterDatabase(tmp_path)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database.url,
        "DATA_DIR": str(tmp_path / "data"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "QDRANT_URL": "",
        "REDIS_URL": "",  # the ORM broker, whatever the shell says
        "AI_INDEX_SYNC": "false",  # workers never open the vector store
        # One worker: documents are indexed one after the other, so the kill lands mid-run.
        "Q_WORKERS": "1",
        "Q_TIMEOUT": str(Q_TIMEOUT),
        "Q_RETRY": str(Q_RETRY),
        "AI_EMBED_THREADS": "1",
        "LOG_LEVEL": "INFO",
    }
    try:
        yield database, env
    finally:
        database.drop()


def test_killed_worker_restarts_and_finishes_the_run_without_duplicates(cluster_env, tmp_path):
    database, env = cluster_env
    _manage(env, "migrate", "--no-input", "-v", "0")
    run_id = _shell(env, "from ai.tests.test_worker_crash import prepare; prepare()")["run"]

    def indexed() -> int:
        return database.rows("SELECT COUNT(*) FROM ai_document WHERE status = 'indexed'")[0][0]

    def run_status() -> str:
        sql = f"SELECT status FROM ai_ingestionrun WHERE id = {int(run_id)}"  # noqa: S608 (an int)
        return database.rows(sql)[0][0]

    cluster = Cluster(env, tmp_path / "qcluster.log")
    try:
        cluster.start()
        _wait_for(lambda: indexed() >= 1, "first document indexed", cluster)
        cluster.kill()
        at_kill = indexed()
        assert 0 < at_kill < DOCUMENTS, f"the kill must land mid-run ({at_kill} indexed)"
        assert run_status() == "running"

        cluster.start()
        _wait_for(lambda: run_status() == "done", "run done after the restart", cluster)
    finally:
        cluster.kill()

    state = _shell(env, f"from ai.tests.test_worker_crash import report; report({int(run_id)})")
    docs = state["documents"]
    assert sorted(docs) == sorted(documents())
    assert all(d["status"] == "indexed" for d in docs.values()), docs

    chunks = state["chunks"]
    ids = [pk for pk, _, _ in chunks]
    assert len(ids) == len(set(ids))
    places = Counter((doc_id, order) for _, doc_id, order in chunks)
    assert max(places.values()) == 1, [p for p, n in places.items() if n > 1]
    per_document = Counter(doc_id for _, doc_id, _ in chunks)
    for name, text in documents().items():
        expected = chunk_blocks(convert(text.encode(), name).blocks)
        assert len(expected) > 1
        assert per_document[docs[name]["id"]] == len(expected), name
        # Every rank of the document is present once: nothing missing, nothing extra.
        ranks = sorted(order for _, doc_id, order in chunks if doc_id == docs[name]["id"])
        assert ranks == list(range(len(expected))), name

    counts = state["counts"]
    assert counts["total"] == counts["new"] == DOCUMENTS, counts
    assert counts["failed"] == counts["updated"] == counts["unchanged"] == 0


# --- The two windows of redelivery, without processes -------------------------------------------


@pytest.fixture
def upload_source(org):
    from ai import services
    from ai.tests.conftest import upload

    names = sorted(documents())[:3]
    services.add_uploads(
        user=org["admin_rh"],
        source=org["src_rh"],
        files=[upload(name, documents()[name]) for name in names],
    )
    return org["src_rh"]


@pytest.mark.django_db
def test_run_task_delivered_again_keeps_the_outcomes_already_recorded(upload_source):
    """The run task was killed after two of its documents were enqueued and indexed."""
    from ai import services
    from ai.models import Chunk, Document, IngestionRun
    from ai.selectors import run_counts

    run = IngestionRun.objects.create(source=upload_source, total=3)
    first, second, third = upload_source.documents.order_by("uri")
    services.ingest_document(first.pk, run.pk)
    services.ingest_document(second.pk, run.pk)
    chunks_before = set(Chunk.objects.values_list("pk", flat=True))

    run = services.execute_run(run.pk, inline=True)  # the redelivered run task

    assert run.status == IngestionRun.Status.DONE
    assert run_counts(run)["new"] == run_counts(run)["total"] == 3
    assert Document.objects.get(pk=first.pk).last_outcome == Document.Outcome.NEW
    assert chunks_before < set(Chunk.objects.values_list("pk", flat=True))
    assert third.chunks.exists()


@pytest.mark.django_db
def test_document_task_delivered_again_after_its_commit_closes_the_run(upload_source):
    """A worker killed between a document's commit and the task's acknowledgement."""
    from ai import services
    from ai.models import Chunk, IngestionRun

    run = services.start_run(upload_source, inline=True)
    run.refresh_from_db()
    assert run.status == IngestionRun.Status.DONE
    # As if the last document's worker had died before closing the run.
    IngestionRun.objects.filter(pk=run.pk).update(
        status=IngestionRun.Status.RUNNING, finished_at=None
    )
    last = upload_source.documents.order_by("uri").last()
    chunks_before = sorted(Chunk.objects.values_list("pk", "order"))

    assert services.ingest_document(last.pk, run.pk) == "new"  # the redelivered task

    run.refresh_from_db()
    assert run.status == IngestionRun.Status.DONE
    assert sorted(Chunk.objects.values_list("pk", "order")) == chunks_before


# --- Tasks lost with their worker (Redis broker) ------------------------------------------------


@pytest.fixture
def q_sync(settings, monkeypatch):
    from django_q.conf import Conf

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.mark.django_db
def test_a_run_whose_tasks_were_lost_is_resumed_and_finishes(upload_source, settings, q_sync):
    """With Redis, the task a killed worker had taken is gone: nothing redelivers it. The
    watchdog sees the run stalled past Q_RETRY and starts it again; nothing is duplicated."""
    from datetime import timedelta

    from django.utils import timezone

    from ai import services
    from ai.models import Chunk, Document, IngestionRun

    run = IngestionRun.objects.create(source=upload_source, total=3)
    first = upload_source.documents.order_by("uri").first()
    services.ingest_document(first.pk, run.pk)  # one document done before the crash
    chunks_of_first = set(first.chunks.values_list("pk", flat=True))
    # ... and the other two tasks vanished with the worker.
    assert services.resume_stalled_runs() == []  # not stalled yet: still within Q_RETRY

    later = timezone.now() + timedelta(seconds=settings.Q_CLUSTER["retry"] + 1)
    assert services.resume_stalled_runs(now=later) == [run.pk]

    run.refresh_from_db()
    assert run.status == IngestionRun.Status.DONE and run.resumes == 1
    assert set(first.chunks.values_list("pk", flat=True)) == chunks_of_first
    assert all(d.chunks.exists() for d in upload_source.documents.all())
    assert Document.objects.filter(last_run=run).count() == 3
    texts = list(Chunk.objects.values_list("document_id", "order"))
    assert len(texts) == len(set(texts))  # no passage twice


@pytest.mark.django_db
def test_a_run_that_never_moves_ends_failed_in_french(upload_source, settings):
    from datetime import timedelta

    from django.utils import timezone

    from ai import services
    from ai.models import IngestionRun

    run = IngestionRun.objects.create(source=upload_source, total=3, resumes=services.MAX_RESUMES)
    later = timezone.now() + timedelta(seconds=settings.Q_CLUSTER["retry"] + 1)
    assert services.resume_stalled_runs(now=later) == []
    run.refresh_from_db()
    assert run.status == IngestionRun.Status.FAILED
    assert "interrompue plusieurs fois" in run.error

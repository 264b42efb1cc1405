"""Import jobs: creation, start, and the background run row by row."""

import datetime as dt
import logging
from pathlib import PurePath

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from core import audit
from core.models import Direction, Membership
from helpdesk.imports.fields import guess_mapping, validate_mapping
from helpdesk.imports.reading import (
    BATCH_SIZE,
    MAX_REPORTED_ERRORS,
    START_ACTION,
    ImportFileError,
    RowError,
    Table,
    _key,
    read_table,
)
from helpdesk.imports.values import (
    _ARTICLE_STATUS,
    _hash_key,
    _one_line,
    _title_from,
    parse_date,
    parse_priority,
    parse_status,
)
from helpdesk.models import Article, Category, ImportJob, Ticket

logger = logging.getLogger(__name__)

# --- Jobs ---------------------------------------------------------------------------------


def _job_bytes(job: ImportJob) -> bytes:
    with job.file.open("rb") as handle:
        return handle.read()


def job_table(job: ImportJob) -> Table:
    return read_table(_job_bytes(job), job.filename)


def create_job(*, user, kind: str, uploaded_file) -> ImportJob:
    """Store the uploaded file as a pending job whose mapping is the guessed one. Raises
    `ImportFileError` when the file cannot be read as a table (nothing is stored then).
    `started_by` stays empty until `start_import`: it tells a job awaiting its mapping from a
    queued one."""
    data = uploaded_file.read()
    filename = PurePath(getattr(uploaded_file, "name", "") or "import.csv").name[:255]
    table = read_table(data, filename)
    if not table.rows:
        raise ImportFileError(
            "Le fichier ne contient que la ligne d'en-tête : aucune ligne à importer."
        )
    job = ImportJob(
        kind=kind,
        filename=filename,
        mapping=guess_mapping(table.headers, kind),
        total=len(table.rows),
    )
    job.file.save(filename, ContentFile(data), save=False)
    job.save()
    return job


def start_import(
    job: ImportJob, *, user, mapping: dict[str, str], inline: bool = False
) -> ImportJob:
    """Validate `mapping` against the file and run the import in the background (or here, with
    `inline`). Raises `ImportFileError` (French) for a bad mapping or a job already started."""
    if job.status != ImportJob.Status.PENDING or job.started_by_id is not None:
        raise ImportFileError("Cet import a déjà été lancé.")
    table = job_table(job)
    job.mapping = validate_mapping(mapping, table.headers, job.kind)
    job.total = len(table.rows)
    job.started_by = user
    job.save(update_fields=["mapping", "total", "started_by"])
    audit.record(
        START_ACTION,
        actor=user,
        details={"job": job.pk, "kind": job.kind, "file": job.filename, "rows": job.total},
    )
    if inline:
        run_import(job.pk)
    else:
        from django_q.tasks import async_task

        async_task("helpdesk.tasks.run_import", job.pk, task_name=f"helpdesk-import-{job.pk}")
    job.refresh_from_db()
    return job


def _fail(job_id: int, message: str) -> None:
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.FAILED, error=message, finished_at=timezone.now()
    )


def run_import(job_id: int) -> ImportJob | None:
    """Import the job's rows. Bad rows are refused one by one (line number and French reason in
    `job.errors`); an unreadable file or a missing column fails the job with a French `error`."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.RUNNING
    )
    if not claimed:
        # Already run (a retried task) or deleted.
        return ImportJob.objects.filter(pk=job_id).first()
    job = ImportJob.objects.get(pk=job_id)
    try:
        table = job_table(job)
        mapping = validate_mapping(job.mapping, table.headers, job.kind)
    except ImportFileError as exc:
        logger.error("helpdesk import %s (%s) failed: %s", job.pk, job.filename, exc.message)
        _fail(job.pk, exc.message)
        return ImportJob.objects.get(pk=job_id)
    except OSError as exc:
        logger.error("helpdesk import %s: file %s unreadable: %s", job.pk, job.file.name, exc)
        _fail(job.pk, "Le fichier déposé est introuvable ou illisible sur le serveur.")
        return ImportJob.objects.get(pk=job_id)
    try:
        _run_rows(job, table, mapping)
    except Exception:
        logger.exception("helpdesk import %s (%s) crashed", job.pk, job.filename)
        _fail(
            job.pk,
            "L'import s'est arrêté sur une erreur inattendue ; l'administrateur en a la trace.",
        )
        return ImportJob.objects.get(pk=job_id)
    job.status = ImportJob.Status.DONE
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "finished_at"])
    if job.created or job.updated:
        # The assistants learn the imported resolutions and articles now, not at the next
        # scheduled run of their sources.
        from ai import services as ai_services
        from helpdesk.services import HELPDESK_PROVIDERS

        ai_services.refresh_app_sources(*HELPDESK_PROVIDERS, user=job.started_by)
    if job.errors:
        logger.warning(
            "helpdesk import %s (%s): %d rows refused (first: line %s, %s)",
            job.pk,
            job.filename,
            len(job.errors),
            *job.errors[0],
        )
    return job


def _run_rows(job: ImportJob, table: Table, mapping: dict[str, str]) -> None:
    index = {}
    for position, header in enumerate(table.headers):
        index.setdefault(header, position)
    columns = {name: index[column] for name, column in mapping.items()}
    importer = (_ArticleImporter if job.kind == ImportJob.Kind.ARTICLES else _TicketImporter)(
        columns, now=timezone.now()
    )
    job.total = len(table.rows)
    job.processed = job.created = job.updated = job.unchanged = 0
    job.errors = []
    refused = 0
    for start in range(0, len(table.rows), BATCH_SIZE):
        batch = table.rows[start : start + BATCH_SIZE]
        with transaction.atomic():
            importer.prefetch(batch)
            for line, row in batch:
                try:
                    with transaction.atomic():
                        outcome = importer.import_row(line, row)
                except RowError as exc:
                    outcome = None
                    refused += 1
                    if len(job.errors) < MAX_REPORTED_ERRORS:
                        job.errors.append([line, str(exc)])
                    importer.forget()
                except Exception as exc:  # a bad row must never stop the import
                    logger.exception("helpdesk import %s: line %s crashed", job.pk, line)
                    outcome = None
                    refused += 1
                    if len(job.errors) < MAX_REPORTED_ERRORS:
                        job.errors.append([line, f"erreur inattendue ({type(exc).__name__})"])
                    importer.forget()
                if outcome:
                    setattr(job, outcome, getattr(job, outcome) + 1)
        job.processed = start + len(batch)
        job.save(update_fields=["total", "processed", "created", "updated", "unchanged", "errors"])
    if refused > len(job.errors):
        job.errors.append([0, f"… et {refused - len(job.errors)} autres lignes refusées."])
        job.save(update_fields=["errors"])


class _Importer:
    """Shared by tickets and articles: cells, categories, keys, duplicates in the file."""

    model: type = Ticket

    def __init__(self, columns: dict[str, int], *, now: dt.datetime):
        self.columns = columns
        self.now = now
        self.categories: dict[str, Category] = {}
        self.seen: dict[str, int] = {}
        self.existing: dict = {}
        self.max_id = self.model._meta.get_field("external_id").max_length
        self.max_title = self.model._meta.get_field("title").max_length

    def cell(self, row: list[str], name: str) -> str | None:
        """The cell of field `name` (stripped), None when the field is not mapped."""
        position = self.columns.get(name)
        if position is None:
            return None
        return row[position].strip() if position < len(row) else ""

    def forget(self) -> None:
        # A refused row's savepoint was rolled back: cached objects may not exist any more.
        self.categories.clear()

    def category(self, value: str) -> Category | None:
        value = _one_line(value)
        if not value:
            return None
        if value not in self.categories:
            found = Category.objects.filter(code=value).order_by("pk").first()
            if found is None:
                names = [p.strip()[:120] for p in value.split(">") if p.strip()]
                if not names:
                    raise RowError(f"catégorie « {value[:60]} » illisible")
                parent = None
                for name in names:
                    parent, _ = Category.objects.get_or_create(parent=parent, name=name)
                if not parent.code:
                    parent.code = value[:120]
                    parent.save(update_fields=["code"])
                found = parent
            self.categories[value] = found
        return self.categories[value]

    def row_key(self, row: list[str], hashed: tuple[str, ...]) -> str:
        external_id = self.cell(row, "external_id")
        if external_id is not None:
            key = _one_line(external_id)
            if not key:
                raise RowError("n° d'origine manquant")
            if len(key) > self.max_id:
                raise RowError(f"n° d'origine trop long ({self.max_id} caractères au plus)")
            return key
        return _hash_key(*hashed)

    def claim(self, key: str, line: int) -> None:
        first = self.seen.get(key)
        if first is not None:
            what = "même contenu" if key.startswith("h:") else f"même n° d'origine « {key} »"
            raise RowError(f"{what} que la ligne {first} du fichier : ligne ignorée")
        self.seen[key] = line

    def row_keys(self, batch: list[tuple[int, list[str]]]) -> list[str]:
        keys = []
        for _line, row in batch:
            try:
                keys.append(self.key_of(row))
            except RowError:
                continue
        return keys

    def save(self, key: str, values: dict, defaults: dict) -> str:
        instance = self.existing.get(key)
        if instance is None:
            instance = self.model.objects.create(**self.identity(key), **defaults, **values)
            self.existing[key] = instance
            return "created"
        changed = [name for name, value in values.items() if getattr(instance, name) != value]
        if not changed:
            return "unchanged"
        for name in changed:
            setattr(instance, name, values[name])
        instance.save()
        return "updated"


class _TicketImporter(_Importer):
    model = Ticket

    def __init__(self, columns: dict[str, int], *, now: dt.datetime):
        super().__init__(columns, now=now)
        self.users: dict[str, int | None] = {}
        self.directions = self._directions() if "direction" in columns else {}

    @staticmethod
    def _directions() -> dict[str, int]:
        lookup: dict[str, int] = {}
        for direction in Direction.objects.order_by("pk"):
            lookup.setdefault(_key(direction.name), direction.pk)
        for direction in Direction.objects.order_by("pk"):
            lookup[direction.code.upper()] = direction.pk
        return lookup

    def identity(self, key: str) -> dict:
        return {"origin": Ticket.Origin.IMPORT, "external_id": key}

    def key_of(self, row: list[str]) -> str:
        title = _one_line(self.cell(row, "title") or "")
        description = (self.cell(row, "description") or "").strip()
        date = self.cell(row, "created_at") or ""
        return self.row_key(row, (title, description, _one_line(date)))

    def prefetch(self, batch: list[tuple[int, list[str]]]) -> None:
        keys = self.row_keys(batch)
        self.existing = {
            t.external_id: t
            for t in Ticket.objects.filter(origin=Ticket.Origin.IMPORT, external_id__in=keys)
        }

    def _requester(self, value: str) -> int | None:
        value = value.strip()
        if not value:
            return None
        if value not in self.users:
            users = get_user_model().objects
            user = (
                users.filter(email__iexact=value).order_by("pk").first()
                or users.filter(username__iexact=value).order_by("pk").first()
            )
            self.users[value] = user.pk if user else None
        return self.users[value]

    def import_row(self, line: int, row: list[str]) -> str:
        title = _one_line(self.cell(row, "title") or "")
        description = self.cell(row, "description")
        if not title:
            if not (description or "").strip():
                raise RowError("titre manquant (et description vide)")
            title = _title_from(description, 120)
        key = self.key_of(row)

        values: dict = {"title": _title_from(title, self.max_title)}
        defaults: dict = {}
        if description is not None:
            values["description"] = description
        category = self.cell(row, "category")
        if category is not None:
            found = self.category(category)
            values["category_id"] = found.pk if found else None
        priority = self.cell(row, "priority")
        if priority is not None:
            values["priority"] = parse_priority(priority)
        status = self.cell(row, "status")
        if status is not None:
            values["status"] = parse_status(status)
        else:
            defaults["status"] = Ticket.Status.CLOSED
        created = self.cell(row, "created_at")
        created_at = parse_date(created, "date d'ouverture") if created is not None else None
        if created_at is not None:
            values["created_at"] = created_at
        else:
            defaults["created_at"] = self.now
        resolved = self.cell(row, "resolved_at")
        if resolved is not None:
            values["resolved_at"] = parse_date(resolved, "date de résolution")
        resolution = self.cell(row, "resolution")
        if resolution is not None:
            values["resolution"] = resolution
        requester = self.cell(row, "requester")
        direction_id = None
        if requester is not None:
            values["requester_id"] = self._requester(requester)
            if values["requester_id"]:
                direction_id = (
                    Membership.objects.filter(user_id=values["requester_id"])
                    .order_by("pk")
                    .values_list("direction_id", flat=True)
                    .first()
                )
        direction = self.cell(row, "direction")
        if direction:
            direction_id = (
                self.directions.get(direction.upper())
                or self.directions.get(_key(direction))
                or direction_id
            )
        if requester is not None or direction is not None:
            values["direction_id"] = direction_id

        # Only after every value is read: a refused row must not hold its key.
        self.claim(key, line)
        return self.save(key, values, defaults)


class _ArticleImporter(_Importer):
    model = Article

    def identity(self, key: str) -> dict:
        return {"external_id": key}

    def key_of(self, row: list[str]) -> str:
        title = _one_line(self.cell(row, "title") or "")
        body = (self.cell(row, "body") or "").strip()
        return self.row_key(row, (title, body))

    def prefetch(self, batch: list[tuple[int, list[str]]]) -> None:
        keys = self.row_keys(batch)
        self.existing = {}
        for article in Article.objects.filter(external_id__in=keys).order_by("-pk"):
            # The oldest wins if two articles ever share a key.
            self.existing[article.external_id] = article

    def import_row(self, line: int, row: list[str]) -> str:
        title = _one_line(self.cell(row, "title") or "")
        body = (self.cell(row, "body") or "").strip()
        if not title:
            raise RowError("titre manquant")
        if not body:
            raise RowError("contenu manquant")
        key = self.key_of(row)
        values: dict = {"title": _title_from(title, self.max_title), "body": body}
        category = self.cell(row, "category")
        if category is not None:
            found = self.category(category)
            values["category_id"] = found.pk if found else None
        status = self.cell(row, "status")
        if status:
            parsed = _ARTICLE_STATUS.get(_key(status))
            if parsed is None:
                raise RowError(f"statut « {status[:40]} » inconnu (attendu : Publié ou Brouillon)")
            values["status"] = parsed
        self.claim(key, line)
        return self.save(key, values, {})

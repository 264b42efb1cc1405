"""SQL database source: one read-only SELECT whose rows become documents.

Supported URLs (SQLAlchemy style or libpq):

- ``postgresql://user:password@host:5432/base`` (also ``postgres://``, ``postgresql+psycopg://``),
  through psycopg 3;
- ``mysql://user:password@host:3306/base`` or ``mariadb://…`` (also ``mysql+pymysql://``), through
  PyMySQL; ``?unix_socket=/path`` and ``?charset=…`` are understood;
- ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``, through the standard library.

Three independent defences keep the source read-only:

1. the query is parsed with sqlparse: exactly one SELECT (or WITH … SELECT) statement, without
   INTO, FOR UPDATE/SHARE, LOCK IN SHARE MODE or any data-modifying keyword; comments are removed
   and the server runs exactly the text that was checked;
2. it runs inside a READ ONLY transaction (PostgreSQL, MySQL/MariaDB) or on a database file opened
   read-only (SQLite), always rolled back at the end;
3. a statement timeout (PostgreSQL ``statement_timeout`` per fetch, MariaDB ``max_statement_time``,
   MySQL ``max_execution_time``, SQLite a progress handler).

The account in the URL should still be a read-only role: a SELECT can call functions with side
effects, which only the read-only transaction and the role's privileges stop.

Rows are streamed (server-side cursor on PostgreSQL, unbuffered cursor on MySQL/MariaDB).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import sqlite3
import string
import time
import unicodedata
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import sqlparse
from sqlparse import tokens as T

from .base import FetchedItem, SourceError

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
CONNECT_TIMEOUT_S = 10
REFUSED = "Seule une requête SELECT unique est acceptée (lecture seule)"
# Keywords that can hide a write or a lock inside a single SELECT statement.
FORBIDDEN_DML = {"INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "REPLACE", "TRUNCATE"}
FORBIDDEN_KEYWORDS = {"INTO", "LOCK", "SHARE", "OUTFILE", "DUMPFILE"}


@dataclass
class SqlConfig:
    url: str
    query: str
    # string.Formatter templates naming the row's columns: "{nom} — {adresse}".
    title_template: str
    body_template: str
    key_column: str | None = None
    max_rows: int = 100_000
    # Statement timeout (for PostgreSQL and SQLite: for each batch of rows fetched).
    timeout_s: float = 60


# --- Query check ------------------------------------------------------------------------------


def check_query(query: str) -> str:
    """The query without comments nor trailing semicolon, or SourceError if it is not a single
    read-only SELECT. The returned text is what must be sent to the server."""
    statements = [s for s in sqlparse.parse(query or "") if _meaningful(s)]
    if not statements:
        raise SourceError(f"{REFUSED} : la requête est vide.")
    if len(statements) > 1:
        raise SourceError(f"{REFUSED} : la requête contient plusieurs instructions.")
    text = sqlparse.format(str(statements[0]), strip_comments=True).strip().rstrip(";").strip()
    # Check the text that will run, parsed again once the comments are gone.
    statements = [s for s in sqlparse.parse(text) if _meaningful(s)]
    if len(statements) != 1:
        raise SourceError(f"{REFUSED} : la requête contient plusieurs instructions.")
    statement = statements[0]
    for token in statement.flatten():
        value = token.normalized.upper() if token.ttype in T.Keyword else ""
        if token.ttype in T.Keyword.DML and value in FORBIDDEN_DML:
            raise SourceError(f"{REFUSED} : l’instruction « {value} » est interdite.")
        if token.ttype in T.Keyword.DDL or token.ttype in T.Keyword.DCL:
            raise SourceError(f"{REFUSED} : l’instruction « {value} » est interdite.")
        if token.ttype in T.Keyword and value in FORBIDDEN_KEYWORDS:
            raise SourceError(f"{REFUSED} : le mot-clé « {value} » est interdit.")
    if statement.get_type() != "SELECT":
        raise SourceError(f"{REFUSED} : la requête doit commencer par SELECT ou WITH.")
    return text


def _meaningful(statement: sqlparse.sql.Statement) -> bool:
    return any(
        not (token.is_whitespace or token.ttype in T.Comment or token.match(T.Punctuation, ";"))
        for token in statement.flatten()
    )


# --- Templates --------------------------------------------------------------------------------


class _RowFormatter(string.Formatter):
    """Looks fields up as whole column names: no attribute or index access, None renders ""."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]):
        return self.get_value(field_name, args, kwargs), field_name

    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if isinstance(key, int) or key.isdigit() or key == "":
            raise SourceError("Les modèles doivent nommer les colonnes : {nom}, pas {} ni {0}.")
        return kwargs[key]

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return ""
        try:
            return super().format_field(value, format_spec)
        except (TypeError, ValueError) as exc:
            raise SourceError(
                f"Format « {format_spec} » inapplicable à « {value} » : {exc}."
            ) from None


_FORMATTER = _RowFormatter()


def _template_fields(template: str, label: str) -> list[str]:
    fields: list[str] = []
    try:
        pending = [template]
        while pending:
            for _, name, spec, _ in _FORMATTER.parse(pending.pop()):
                if name is not None:
                    if name == "" or name.isdigit():
                        raise SourceError(
                            f"Le modèle {label} doit nommer les colonnes : {{nom}}, pas {{}}."
                        )
                    fields.append(name)
                if spec:
                    pending.append(spec)
    except ValueError as exc:
        raise SourceError(f"Le modèle {label} est invalide : {exc}.") from None
    return fields


class _Renderer:
    """Maps template fields to result columns (exact name first, then ignoring case)."""

    def __init__(self, config: SqlConfig, columns: list[str]) -> None:
        self.columns = columns
        self.aliases: dict[str, str] = {}
        for label, template in (
            ("de titre", config.title_template),
            ("de texte", config.body_template),
        ):
            for name in _template_fields(template, label):
                self.aliases[name] = self.resolve(name, f"utilisée dans le modèle {label}")
        self.key = (
            self.resolve(config.key_column, "choisie comme clé") if config.key_column else None
        )
        self.title_template = config.title_template
        self.body_template = config.body_template

    def resolve(self, name: str, usage: str) -> str:
        if name in self.columns:
            return name
        matches = [column for column in self.columns if column.lower() == name.lower()]
        if len(matches) == 1:
            return matches[0]
        available = ", ".join(self.columns) or "aucune"
        raise SourceError(
            f"La colonne « {name} » {usage} n’existe pas dans le résultat de la requête "
            f"(colonnes disponibles : {available})."
        )

    def item(self, row: Sequence[Any]) -> FetchedItem:
        values = dict(zip(self.columns, row, strict=False))
        named = {alias: values[column] for alias, column in self.aliases.items()}
        if self.key is not None and values[self.key] not in (None, ""):
            key = str(values[self.key])
        else:
            key = _row_hash(self.columns, row)
        title = _FORMATTER.vformat(self.title_template, (), named).strip() or f"Ligne {key}"
        body = _FORMATTER.vformat(self.body_template, (), named)
        return FetchedItem(
            uri=f"row:{key}",
            title=title,
            filename=f"{_filename_stem(key)}.txt",
            data=body.encode("utf-8"),
        )


def _row_hash(columns: list[str], row: Sequence[Any]) -> str:
    payload = json.dumps(list(zip(columns, row, strict=False)), default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _filename_stem(key: str) -> str:
    text = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:100]
    return stem or hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


# --- URLs and secrets -------------------------------------------------------------------------


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        userinfo = f"{parts.username or ''}:***"
        host = parts.netloc.rsplit("@", 1)[-1]
        return parts._replace(netloc=f"{userinfo}@{host}").geturl()
    except ValueError:
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


def _scrub(text: str, url: str) -> str:
    """Remove the URL's password (raw and decoded) from a driver message."""
    if _password(url):
        raw = url.split("://", 1)[-1].rsplit("@", 1)[0].partition(":")[2]
        for secret in sorted(
            {raw, unquote(raw), quote(unquote(raw), safe="")}, key=len, reverse=True
        ):
            if secret:
                text = text.replace(secret, "***")
    return text


def _scheme(url: str) -> str:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return scheme.split("+", 1)[0]


# (column names, rows) batches; the first batch carries the columns even without rows.
Batches = Generator[tuple[list[str], list[Sequence[Any]]], None, None]


# --- Drivers ----------------------------------------------------------------------------------


def fetch_rows(config: SqlConfig) -> Iterator[FetchedItem]:
    """Run the configured SELECT read-only and yield one item per row (at most max_rows).

    The query and templates are checked at once (SourceError); the connection is opened when
    iteration starts. Connection and execution errors are SourceError too, with the password
    masked.
    """
    query = check_query(config.query)
    _template_fields(config.title_template, "de titre")
    _template_fields(config.body_template, "de texte")
    if config.max_rows < 1:
        raise SourceError("Le nombre maximal de lignes doit être positif.")
    scheme = _scheme(config.url)
    runners = {
        "postgresql": _postgresql_rows,
        "postgres": _postgresql_rows,
        "mysql": _mysql_rows,
        "mariadb": _mysql_rows,
        "sqlite": _sqlite_rows,
    }
    if scheme not in runners:
        raise SourceError(
            f"Type de base non pris en charge : « {mask_url(config.url)} ». Utilisez une adresse "
            "postgresql://, mysql://, mariadb:// ou sqlite:///chemin."
        )
    return _items(config, runners[scheme](config, query))


def _items(config: SqlConfig, batches: Batches) -> Iterator[FetchedItem]:
    renderer: _Renderer | None = None
    count = 0
    try:
        for columns, rows in batches:
            if renderer is None:
                renderer = _Renderer(config, columns)
            for row in rows:
                if count >= config.max_rows:
                    logger.warning(
                        "SQL source %s: stopped at max_rows=%d",
                        mask_url(config.url),
                        config.max_rows,
                    )
                    return
                count += 1
                yield renderer.item(row)
    finally:
        batches.close()


def _connection_error(config: SqlConfig, exc: Exception) -> SourceError:
    detail = _scrub(str(exc).strip(), config.url)
    logger.warning("SQL source connection failed (%s): %s", mask_url(config.url), detail)
    return SourceError(
        f"Connexion à la base de données impossible ({mask_url(config.url)}) : {detail}"
    )


def _query_error(config: SqlConfig, detail: str) -> SourceError:
    detail = _scrub(detail.strip(), config.url)
    logger.warning("SQL source query failed (%s): %s", mask_url(config.url), detail)
    return SourceError(f"La requête a échoué : {detail}")


def _read_only_error() -> SourceError:
    return SourceError(
        f"{REFUSED} : la requête tente de modifier la base, ce que la connexion en lecture seule "
        "refuse."
    )


def _timeout_error(config: SqlConfig) -> SourceError:
    return SourceError(f"La requête a dépassé le délai maximal ({config.timeout_s:g} s).")


def _postgresql_rows(config: SqlConfig, query: str) -> Batches:
    import psycopg
    from psycopg import errors

    conninfo = re.sub(r"^[^:]+://", "postgresql://", config.url)
    try:
        connection = psycopg.connect(
            conninfo, connect_timeout=CONNECT_TIMEOUT_S, application_name="intranet-ai-source"
        )
    except (psycopg.Error, ValueError) as exc:
        raise _connection_error(config, exc) from None
    try:
        connection.read_only = True  # BEGIN READ ONLY
        connection.execute(
            "SELECT set_config('statement_timeout', %s, true)",
            (str(max(1, int(config.timeout_s * 1000))),),
        )
        with connection.cursor(name="ai_sql_source") as cursor:
            cursor.execute(query)
            columns = [column.name for column in cursor.description or []]
            while True:
                rows = cursor.fetchmany(BATCH_SIZE)
                yield columns, rows
                if not rows:
                    break
    except errors.ReadOnlySqlTransaction:
        raise _read_only_error() from None
    except errors.QueryCanceled:
        raise _timeout_error(config) from None
    except psycopg.Error as exc:
        detail = exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)
        raise _query_error(config, detail) from None
    finally:
        with contextlib.suppress(psycopg.Error):
            connection.rollback()
        connection.close()


def _mysql_rows(config: SqlConfig, query: str) -> Batches:
    import pymysql
    import pymysql.cursors

    parts = urlsplit(config.url)
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    try:
        connection = pymysql.connect(
            host=parts.hostname or "localhost",
            port=parts.port or 3306,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=unquote(parts.path.lstrip("/")) or None,
            unix_socket=options.get("unix_socket"),
            charset=options.get("charset", "utf8mb4"),
            connect_timeout=CONNECT_TIMEOUT_S,
            cursorclass=pymysql.cursors.SSCursor,
            autocommit=False,
        )
    except (pymysql.MySQLError, ValueError, OSError) as exc:
        raise _connection_error(config, exc) from None
    finished = False
    cursor = None
    try:
        with connection.cursor(pymysql.cursors.Cursor) as setup:
            if "mariadb" in connection.get_server_info().lower():
                setup.execute(f"SET SESSION max_statement_time = {float(config.timeout_s):f}")
            else:
                setup.execute(f"SET SESSION max_execution_time = {int(config.timeout_s * 1000)}")
            setup.execute("START TRANSACTION READ ONLY")
        cursor = connection.cursor()
        cursor.execute(query)
        columns = [column[0] for column in cursor.description or []]
        while True:
            rows = list(cursor.fetchmany(BATCH_SIZE))
            yield columns, rows
            if not rows:
                finished = True
                break
    except pymysql.MySQLError as exc:
        code = exc.args[0] if exc.args else None
        if code == 1792:  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
            raise _read_only_error() from None
        if code in (1969, 3024):  # MariaDB / MySQL statement timeout
            raise _timeout_error(config) from None
        detail = exc.args[1] if len(exc.args) > 1 else str(exc)
        raise _query_error(config, str(detail)) from None
    finally:
        # An unfinished unbuffered result would be read to its end by rollback(): closing the
        # connection rolls back on the server without reading it. PyMySQL would still try to
        # drain the abandoned result when the cursor is garbage-collected: tell it not to.
        if finished:
            with contextlib.suppress(pymysql.MySQLError):
                connection.rollback()
        elif cursor is not None and getattr(cursor, "_result", None) is not None:
            cursor._result.unbuffered_active = False
        with contextlib.suppress(pymysql.MySQLError):
            connection.close()


def _sqlite_rows(config: SqlConfig, query: str) -> Batches:
    raw_path = config.url.split("://", 1)[1]
    path = raw_path[1:] if raw_path.startswith("/") else raw_path
    path = unquote(path.split("?", 1)[0])
    if not path or path == ":memory:":
        raise SourceError("Indiquez le chemin du fichier SQLite : sqlite:///chemin/base.db.")
    file = Path(path).resolve()
    if not file.is_file():
        raise SourceError(f"Le fichier SQLite « {path} » est introuvable.")
    try:
        connection = sqlite3.connect(
            f"file:{quote(str(file))}?mode=ro", uri=True, timeout=CONNECT_TIMEOUT_S
        )
    except sqlite3.Error as exc:
        raise _connection_error(config, exc) from None
    deadline = [float("inf")]
    connection.set_progress_handler(lambda: int(time.monotonic() > deadline[0]), 10_000)
    try:
        connection.execute("PRAGMA query_only = ON")
        deadline[0] = time.monotonic() + config.timeout_s
        cursor = connection.execute(query)
        columns = [column[0] for column in cursor.description or []]
        while True:
            deadline[0] = time.monotonic() + config.timeout_s
            rows = cursor.fetchmany(BATCH_SIZE)
            deadline[0] = float("inf")
            yield columns, rows
            if not rows:
                break
    except sqlite3.OperationalError as exc:
        message = str(exc)
        if "interrupted" in message:
            raise _timeout_error(config) from None
        if "readonly" in message.replace(" ", "") or "read-only" in message:
            raise _read_only_error() from None
        raise _query_error(config, message) from None
    except sqlite3.Error as exc:
        raise _query_error(config, str(exc)) from None
    finally:
        connection.rollback()
        connection.close()

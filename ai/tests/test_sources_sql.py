"""SQL source against the machine's PostgreSQL and MariaDB, and a SQLite file."""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time

import pytest

from ai.sources import sql
from ai.sources.base import FetchedItem, SourceError
from ai.sources.sql import SqlConfig, check_query, fetch_rows, mask_url

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
# Trust authentication ignores it, but it must never show up in messages.
PASSWORD = "Mot-De-Passe-Secret-42"

EQUIPEMENTS = [
    (1, "Médiathèque Émile-Zola", "12 rue de l’Église", "Mardi–samedi 10 h–18 h"),
    (2, "Piscine des Étangs", "3 allée des Peupliers", "Tous les jours 9 h–20 h"),
    (3, "Maison des associations", "1 place de la Mairie", None),
]
QUERY = "SELECT id, nom, adresse, horaires FROM equipements_municipaux ORDER BY id"
TITLE = "{nom} — {adresse}"
BODY = "{nom}\nAdresse : {adresse}\nHoraires : {horaires}"
REFUSED = "Seule une requête SELECT unique est acceptée"
WRITES = [
    "DELETE FROM equipements_municipaux",
    "SELECT 1; DROP TABLE equipements_municipaux",
    "WITH x AS (DELETE FROM equipements_municipaux RETURNING *) SELECT * FROM x",
    "SELECT * INTO copie FROM equipements_municipaux",
    "UPDATE equipements_municipaux SET nom = 'x'",
    "SELECT * FROM equipements_municipaux FOR UPDATE",
    "INSERT INTO equipements_municipaux (id, nom) VALUES (9, 'x')",
    "DROP TABLE equipements_municipaux",
    "ALTER TABLE equipements_municipaux ADD COLUMN x int",
    "CREATE TABLE copie (x int)",
    "GRANT SELECT ON equipements_municipaux TO PUBLIC",
    "COPY equipements_municipaux TO '/tmp/copie.csv'",
    "CALL une_procedure()",
]


def expected_items() -> list[FetchedItem]:
    return [
        FetchedItem(
            uri=f"row:{id_}",
            title=f"{nom} — {adresse}",
            filename=f"{id_}.txt",
            data=f"{nom}\nAdresse : {adresse}\nHoraires : {horaires or ''}".encode(),
        )
        for id_, nom, adresse, horaires in EQUIPEMENTS
    ]


# --- Query check (no database) ----------------------------------------------------------------


@pytest.mark.parametrize("query", [*WRITES, "", "  ;  ", "SELECT * FROM t LOCK IN SHARE MODE"])
def test_check_query_refuses_anything_but_one_select(query):
    with pytest.raises(SourceError, match=REFUSED):
        check_query(query)


def test_check_query_accepts_selects_and_strips_comments():
    assert check_query("-- équipements\nSELECT nom FROM t WHERE nom LIKE '%é%';") == (
        "SELECT nom FROM t WHERE nom LIKE '%é%'"
    )
    assert check_query("WITH a AS (SELECT 1 AS n) SELECT n FROM a") == (
        "WITH a AS (SELECT 1 AS n) SELECT n FROM a"
    )
    # A MySQL "executable comment" never reaches the server.
    assert check_query("SELECT 1 /*! INTO OUTFILE '/tmp/x' */") == "SELECT 1"


def test_templates_are_checked_before_connecting():
    config = SqlConfig(
        url="sqlite:///nulle-part.db", query="SELECT 1", title_template="{}", body_template=""
    )
    with pytest.raises(SourceError, match="nommer les colonnes"):
        fetch_rows(config)
    config.title_template = "{nom"
    with pytest.raises(SourceError, match="modèle de titre est invalide"):
        fetch_rows(config)
    config.title_template = "{nom}"
    config.url = "oracle://u:secret@h/db"
    with pytest.raises(SourceError, match="non pris en charge") as error:
        fetch_rows(config)
    assert "secret" not in str(error.value)


def test_mask_url():
    assert (
        mask_url(f"postgresql://lecteur:{PASSWORD}@db/ville") == "postgresql://lecteur:***@db/ville"
    )
    assert mask_url("mysql://lecteur:p%40ss@db:3306/ville") == "mysql://lecteur:***@db:3306/ville"
    assert mask_url("sqlite:////srv/base.db") == "sqlite:////srv/base.db"


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_url():
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable on 127.0.0.1:5432: {exc}")
    name = f"ai_sql_source_test_{secrets.token_hex(4)}"
    admin.execute(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as db:
            db.execute(
                "CREATE TABLE equipements_municipaux ("
                " id integer PRIMARY KEY, nom text NOT NULL, adresse text, horaires text)"
            )
            db.execute("CREATE SEQUENCE compteur")
            db.execute(
                "CREATE FUNCTION purge() RETURNS integer LANGUAGE sql AS"
                " $$ DELETE FROM equipements_municipaux; SELECT 1 $$"
            )
            with db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO equipements_municipaux VALUES (%s, %s, %s, %s)", EQUIPEMENTS
                )
        yield f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def pg_count(url: str, table: str = "equipements_municipaux") -> int:
    import psycopg

    with psycopg.connect(url) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


def pg_table_exists(url: str, table: str) -> bool:
    import psycopg

    with psycopg.connect(url) as db:
        return db.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]


def test_postgresql_rows_become_items(pg_url):
    config = SqlConfig(pg_url, QUERY, TITLE, BODY, key_column="id")
    assert list(fetch_rows(config)) == expected_items()


def test_postgresql_key_hash_case_insensitive_columns_and_max_rows(pg_url):
    config = SqlConfig(pg_url, QUERY, "{NOM}", "{Horaires}", max_rows=2)
    items = list(fetch_rows(config))
    assert [item.title for item in items] == ["Médiathèque Émile-Zola", "Piscine des Étangs"]
    keys = [item.uri.removeprefix("row:") for item in items]
    assert all(len(key) == 16 and int(key, 16) >= 0 for key in keys)
    assert len(set(keys)) == 2
    assert [item.filename for item in items] == [f"{key}.txt" for key in keys]
    assert [i.uri for i in fetch_rows(config)] == [i.uri for i in items]  # stable


def test_postgresql_percent_signs_and_empty_result(pg_url):
    config = SqlConfig(
        pg_url,
        "SELECT id, nom FROM equipements_municipaux WHERE nom LIKE '%Étangs%'",
        "{nom}",
        "{nom}",
        key_column="id",
    )
    assert [item.uri for item in fetch_rows(config)] == ["row:2"]
    config.query = "SELECT id, nom FROM equipements_municipaux WHERE false"
    assert list(fetch_rows(config)) == []
    config.title_template = "{quartier}"
    with pytest.raises(SourceError, match="quartier"):
        list(fetch_rows(config))  # columns are checked even without rows


def test_postgresql_streams_and_closes_when_the_consumer_stops(pg_url):
    import psycopg

    query = "SELECT g AS n FROM generate_series(1, 1000000) AS g"
    rows = fetch_rows(SqlConfig(pg_url, query, "{n}", "{n}", key_column="n"))
    assert next(rows).uri == "row:1"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        sessions = (
            "SELECT query FROM pg_stat_activity WHERE application_name = 'intranet-ai-source'"
        )
        assert [q for (q,) in admin.execute(sessions)] == [
            'FETCH FORWARD 500 FROM "ai_sql_source"'  # a server-side cursor, not the whole result
        ]
        rows.close()
        # The client has closed its connection; the server ends the backend a moment later.
        deadline = time.monotonic() + 10
        while admin.execute(sessions).fetchall() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert admin.execute(sessions).fetchall() == []


@pytest.mark.parametrize("query", WRITES[:6])
def test_postgresql_refuses_writes_and_the_table_is_intact(pg_url, query):
    with pytest.raises(SourceError, match=REFUSED):
        list(fetch_rows(SqlConfig(pg_url, query, "x", "x")))
    assert pg_count(pg_url) == 3
    assert not pg_table_exists(pg_url, "copie")


@pytest.mark.parametrize(
    "query",
    [
        "WITH x AS (DELETE FROM equipements_municipaux RETURNING *) SELECT * FROM x",
        "DELETE FROM equipements_municipaux RETURNING *",
        "SELECT * INTO copie FROM equipements_municipaux",
    ],
)
def test_postgresql_transaction_refuses_writes_even_without_the_parser(pg_url, query, monkeypatch):
    monkeypatch.setattr(sql, "check_query", lambda text: text)
    with pytest.raises(SourceError):
        list(fetch_rows(SqlConfig(pg_url, query, "x", "x")))
    assert pg_count(pg_url) == 3
    assert not pg_table_exists(pg_url, "copie")


@pytest.mark.parametrize("query", ["SELECT purge() AS n", "SELECT nextval('compteur') AS n"])
def test_postgresql_read_only_transaction_stops_side_effects_the_parser_cannot_see(pg_url, query):
    check_query(query)  # a plain SELECT for the parser
    with pytest.raises(SourceError, match="tente de modifier la base"):
        list(fetch_rows(SqlConfig(pg_url, query, "{n}", "{n}")))
    assert pg_count(pg_url) == 3


def test_postgresql_statement_timeout(pg_url):
    config = SqlConfig(pg_url, "SELECT pg_sleep(5) AS n", "{n}", "{n}", timeout_s=0.2)
    with pytest.raises(SourceError, match="délai maximal"):
        list(fetch_rows(config))


def test_postgresql_missing_template_and_key_columns(pg_url):
    with pytest.raises(SourceError, match="« quartier » utilisée dans le modèle de titre"):
        list(fetch_rows(SqlConfig(pg_url, QUERY, "{nom} ({quartier})", BODY)))
    with pytest.raises(SourceError, match="« code » choisie comme clé"):
        list(fetch_rows(SqlConfig(pg_url, QUERY, TITLE, BODY, key_column="code")))


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://inconnu:{PASSWORD}@127.0.0.1:5432/postgres",
        f"postgresql://lecteur:{PASSWORD}@127.0.0.1:1/ville",
        f"postgresql://lecteur:{PASSWORD}@hote-inexistant.invalid/ville",
    ],
)
def test_postgresql_connection_failures_hide_the_password(pg_url, url, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError) as error:
        list(fetch_rows(SqlConfig(url, QUERY, TITLE, BODY)))
    message = str(error.value)
    assert message.startswith("Connexion à la base de données impossible")
    assert PASSWORD not in message
    assert "lecteur:***@" in message or "inconnu:***@" in message
    assert PASSWORD not in caplog.text
    assert error.value.__cause__ is None and error.value.__suppress_context__


# --- SQLite -----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path):
    path = tmp_path / "équipements.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE equipements_municipaux (id INTEGER PRIMARY KEY, nom TEXT, adresse TEXT,"
            " horaires TEXT)"
        )
        db.executemany("INSERT INTO equipements_municipaux VALUES (?, ?, ?, ?)", EQUIPEMENTS)
    db.close()
    return f"sqlite:///{path}", path


def test_sqlite_rows_become_items(sqlite_url):
    url, _ = sqlite_url
    assert list(fetch_rows(SqlConfig(url, QUERY, TITLE, BODY, key_column="id"))) == (
        expected_items()
    )


def test_sqlite_is_opened_read_only(sqlite_url, monkeypatch):
    url, path = sqlite_url
    monkeypatch.setattr(sql, "check_query", lambda text: text)
    with pytest.raises(SourceError, match="tente de modifier la base"):
        list(fetch_rows(SqlConfig(url, "DELETE FROM equipements_municipaux", "x", "x")))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM equipements_municipaux").fetchone()[0] == 3
    db.close()


def test_sqlite_missing_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'absente.db'}"
    with pytest.raises(SourceError, match="introuvable"):
        list(fetch_rows(SqlConfig(url, "SELECT 1 AS n", "{n}", "{n}")))
    assert not (tmp_path / "absente.db").exists()  # read-only mode never creates it


# --- MariaDB / MySQL --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mariadb_url():
    pymysql = pytest.importorskip("pymysql", reason="PyMySQL is not installed")
    try:
        admin = pymysql.connect(**MARIADB, connect_timeout=3, autocommit=True)
    except pymysql.MySQLError as exc:
        pytest.skip(f"MariaDB/MySQL unreachable on 127.0.0.1:3306: {exc}")
    name = f"ai_sql_source_test_{secrets.token_hex(4)}"
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
            cursor.execute(
                f"CREATE TABLE {name}.equipements_municipaux (id int PRIMARY KEY,"
                " nom varchar(200), adresse varchar(200), horaires varchar(200)) ENGINE=InnoDB"
            )
            cursor.executemany(
                f"INSERT INTO {name}.equipements_municipaux VALUES (%s, %s, %s, %s)",  # noqa: S608
                EQUIPEMENTS,
            )
        yield f"mariadb://root@127.0.0.1:3306/{name}", name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


def mariadb_count(name: str) -> int:
    import pymysql

    with pymysql.connect(**MARIADB, database=name) as db, db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM equipements_municipaux")
        return cursor.fetchone()[0]


def test_mariadb_rows_become_items(mariadb_url):
    url, _ = mariadb_url
    assert list(fetch_rows(SqlConfig(url, QUERY, TITLE, BODY, key_column="id"))) == (
        expected_items()
    )
    mysql_url = url.replace("mariadb://", "mysql+pymysql://")
    assert len(list(fetch_rows(SqlConfig(mysql_url, QUERY, TITLE, BODY, max_rows=1)))) == 1


def test_mariadb_read_only_transaction(mariadb_url, monkeypatch):
    url, name = mariadb_url
    monkeypatch.setattr(sql, "check_query", lambda text: text)
    with pytest.raises(SourceError, match="tente de modifier la base"):
        list(fetch_rows(SqlConfig(url, "DELETE FROM equipements_municipaux", "x", "x")))
    assert mariadb_count(name) == 3


def test_mariadb_statement_timeout(mariadb_url):
    url, _ = mariadb_url
    config = SqlConfig(url, "SELECT SLEEP(5) AS n", "{n}", "{n}", timeout_s=0.3)
    with pytest.raises(SourceError, match="délai maximal"):
        list(fetch_rows(config))


def test_mariadb_bad_password_is_hidden(mariadb_url, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"mysql://root:{PASSWORD}@127.0.0.1:3306/"
    with pytest.raises(SourceError, match="Connexion à la base de données impossible") as error:
        list(fetch_rows(SqlConfig(url, "SELECT 1 AS n", "{n}", "{n}")))
    assert PASSWORD not in str(error.value)
    assert "root:***@" in str(error.value)
    assert PASSWORD not in caplog.text

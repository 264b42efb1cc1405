"""Website crawler against a fixture site served by a real local HTTP server."""

from __future__ import annotations

import functools
import threading
from collections import Counter
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from ai.sources.base import FetchedItem, FetchFailure, SourceError
from ai.sources.web import CrawlConfig, crawl, normalize_url

SITE = Path(__file__).parent / "fixtures" / "site"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class SiteHandler(SimpleHTTPRequestHandler):
    """Serves the fixture folder, plus redirects and generated documents."""

    # Set per server: request log and behaviour switches.
    server: FixtureServer

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.server.log.append((self.path, self.headers.get("User-Agent")))
        path = urlsplit(self.path).path
        if path == "/robots.txt" and self.server.robots_status:
            self.send_error(self.server.robots_status)
            return
        redirects = {
            "/boucle-a": "/boucle-b",
            "/boucle-b": "boucle-a",
            "/horaires": "/horaires-mairie.html",
        }
        if path in redirects:
            self.send_response(302 if path.startswith("/boucle") else 301)
            self.send_header("Location", redirects[path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == "/telecharger":
            body = b"PK\x03\x04 faux DOCX du reglement de la cantine"
            self.send_response(200)
            self.send_header("Content-Type", DOCX_TYPE)
            self.send_header(
                "Content-Disposition",
                "attachment; filename*=UTF-8''r%C3%A8glement-cantine.docx",
            )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if path == "/gros-document.pdf":
            # No Content-Length: the crawler must cut the stream itself.
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"%PDF" + b"x" * 1020)
            except OSError:
                pass  # the crawler hung up, as it should
            self.close_connection = True
            return
        file = SITE / path.lstrip("/")
        if path.endswith((".html", ".xml", ".txt", "/")) and file.suffix and file.is_file():
            body = file.read_bytes().replace(b"__BASE__", self.server.base.encode())
            body = body.replace(b"__PORT__", str(self.server.server_port).encode())
            self.send_response(200)
            content_type = "text/html; charset=utf-8" if path.endswith(".html") else "text/xml"
            if path.endswith(".txt"):
                content_type = "text/plain"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Last-Modified", self.date_time_string(int(file.stat().st_mtime)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


class FixtureServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), functools.partial(SiteHandler, directory=str(SITE)))
        self.log: list[tuple[str, str | None]] = []
        self.robots_status = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.log]


@pytest.fixture(scope="module")
def server():
    httpd = FixtureServer()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def site(server):
    server.log.clear()
    server.robots_status = 0
    return server


class RecordingSession(requests.Session):
    """Records every URL the crawler asks for, whatever the host."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def request(self, method, url, *args, **kwargs):
        self.urls.append(url)
        return super().request(method, url, *args, **kwargs)


class FakeSleep:
    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def run(site, *, session=None, sleep=None, **options):
    options.setdefault("start_urls", [site.base + "/"])
    config = CrawlConfig(**options)
    return list(crawl(config, session=session, sleep=sleep or FakeSleep()))


def paths_of(results, kind):
    out = []
    for result in results:
        if isinstance(result, kind):
            parts = urlsplit(result.uri)
            out.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return out


def test_full_crawl_yields_exactly_the_expected_pages(site):
    session = RecordingSession()
    results = run(site, session=session)

    assert sorted(paths_of(results, FetchedItem)) == sorted(
        [
            "/",
            "/demarches.html",
            "/etat-civil.html",
            "/niveau-1.html",
            "/niveau-2.html",
            "/niveau-3.html",
            "/horaires-mairie.html",
            "/liens-nofollow.html",
            "/telecharger?id=42",
            "/marches-publics.html",
            "/inscriptions-scolaires.html",
            "/actualites.html",
            "/documents/guide-inscriptions.pdf",
        ]
    )
    assert sorted(paths_of(results, FetchFailure)) == ["/boucle-a", "/page-disparue.html"]

    requested = site.paths()
    # Each address requested once: fragments, case and canonical variants deduplicated.
    assert [path for path, count in Counter(requested).items() if count > 1] == []
    assert set(requested) == {
        "/robots.txt",
        "/sitemap-index.xml",
        "/sitemap-pages.xml",
        "/",
        "/demarches.html",
        "/etat-civil.html",
        "/etat-civil.html?origine=menu",
        "/niveau-1.html",
        "/niveau-2.html",
        "/niveau-3.html",
        "/boucle-a",
        "/boucle-b",
        "/page-disparue.html",
        "/horaires",
        "/horaires-mairie.html",
        "/cachee.html",
        "/actualites.html",
        "/liens-nofollow.html",
        "/telecharger?id=42",
        "/plan.png",
        "/marches-publics.html",
        "/inscriptions-scolaires.html",
        "/documents/guide-inscriptions.pdf",
    }
    # Never asked: robots-disallowed, beyond max_depth, behind nofollow, other hosts, mailto…
    assert all(urlsplit(url).netloc == f"127.0.0.1:{site.server_port}" for url in session.urls)
    assert {agent for _, agent in site.log} == {"IntranetVilleBot/1.0"}


def test_items_carry_title_filename_data_and_modified(site):
    results = {r.uri: r for r in run(site) if isinstance(r, FetchedItem)}
    base = site.base

    home = results[base + "/"]
    assert home.title == "Mairie de Villeneuve-sur-Essai – Accueil"
    assert home.filename == "index.html"
    assert b"Bienvenue sur le site de la mairie" in home.data
    mtime = int((SITE / "index.html").stat().st_mtime)
    assert home.modified == datetime.fromtimestamp(mtime, UTC)

    civil = results[base + "/etat-civil.html"]
    assert civil.title == "État civil"
    assert civil.filename == "etat-civil.html"
    assert "Déclaration de naissance".encode() in civil.data

    pdf = results[base + "/documents/guide-inscriptions.pdf"]
    assert pdf.filename == "guide-inscriptions.pdf"
    assert pdf.title == "Guide des inscriptions scolaires (PDF)"  # the link's text
    assert pdf.data == (SITE / "documents" / "guide-inscriptions.pdf").read_bytes()

    docx = results[base + "/telecharger?id=42"]
    assert docx.filename == "règlement-cantine.docx"  # from Content-Disposition
    assert docx.title == "Règlement de la cantine"
    assert docx.data.startswith(b"PK")

    redirected = results[base + "/horaires-mairie.html"]
    assert redirected.title == "Horaires de la mairie"


def test_redirect_loop_is_one_french_failure_and_the_crawl_goes_on(site):
    results = run(
        site,
        start_urls=[site.base + "/boucle-a", site.base + "/actualites.html"],
        use_sitemap=False,
    )
    failures = [r for r in results if isinstance(r, FetchFailure)]
    assert len(failures) == 1
    assert failures[0].uri == site.base + "/boucle-a"
    assert failures[0].message.startswith("La page redirige en boucle")
    assert "/boucle-b" in failures[0].message
    assert site.paths().count("/boucle-a") == 1
    assert site.paths().count("/boucle-b") == 1
    assert [r.uri for r in results if isinstance(r, FetchedItem)] == [
        site.base + "/actualites.html"
    ]


def test_not_found_gives_a_french_failure_with_the_status(site):
    results = run(site, start_urls=[site.base + "/page-disparue.html"], use_sitemap=False)
    assert len(results) == 1
    assert isinstance(results[0], FetchFailure)
    assert "404" in results[0].message
    assert "introuvable" in results[0].message


def test_exclude_patterns(site):
    results = run(site, exclude=[r"/niveau-", r"\.pdf$"], use_sitemap=False)
    fetched = paths_of(results, FetchedItem)
    assert "/demarches.html" in fetched
    assert not [p for p in fetched if p.startswith("/niveau-") or p.endswith(".pdf")]
    assert not [p for p in site.paths() if p.startswith("/niveau-") or p.endswith(".pdf")]


def test_include_patterns_restrict_the_crawl(site):
    results = run(
        site,
        include=[r"/demarches\.html$", r"/etat-civil\.html$", r"inscriptions-scolaires"],
        use_sitemap=False,
    )
    # The start URL is always crawled; then only what matches an include pattern.
    assert sorted(paths_of(results, FetchedItem)) == [
        "/",
        "/demarches.html",
        "/etat-civil.html",
        "/inscriptions-scolaires.html",
    ]
    assert results == [r for r in results if not isinstance(r, FetchFailure)]


def test_include_can_open_another_host(site):
    # For the crawler "localhost" is another host than "127.0.0.1" (same test server).
    start = site.base + "/demarches.html"
    other = f"http://localhost:{site.server_port}/actualites.html"
    results = run(site, start_urls=[start], use_sitemap=False, max_depth=1)
    assert other not in [r.uri for r in results]
    results = run(
        site,
        start_urls=[start],
        include=[r"^http://localhost:\d+/", r"inscriptions-scolaires\.html$"],
        use_sitemap=False,
        max_depth=1,
    )
    assert [r.uri for r in results] == [
        start,
        site.base + "/inscriptions-scolaires.html",
        other,
    ]


def test_max_depth(site):
    results = run(site, max_depth=1, use_sitemap=False)
    fetched = paths_of(results, FetchedItem)
    assert "/niveau-1.html" in fetched
    assert "/niveau-2.html" not in fetched
    assert "/inscriptions-scolaires.html" not in fetched  # depth 2 (index link is nofollow)
    results = run(site, max_depth=0, use_sitemap=False)
    assert paths_of(results, FetchedItem) == ["/"]


def test_max_pages_bounds_the_requests(site):
    results = run(site, max_pages=3, use_sitemap=False)
    content_requests = [p for p in site.paths() if p != "/robots.txt"]
    assert len(content_requests) == 3
    assert paths_of(results, FetchedItem) == ["/", "/demarches.html", "/etat-civil.html"]


def test_sitemap_seeds_unlinked_pages_only_when_enabled(site):
    with_sitemap = paths_of(run(site, max_depth=0), FetchedItem)
    assert with_sitemap == ["/", "/marches-publics.html"]
    site.log.clear()
    without = paths_of(run(site, max_depth=0, use_sitemap=False), FetchedItem)
    assert without == ["/"]
    assert site.paths() == ["/robots.txt", "/"]


def test_robots_txt_can_be_ignored_and_unreachable_robots_allows(site):
    start = site.base + "/prive/annuaire.html"
    refused = run(site, start_urls=[start], use_sitemap=False)
    assert [type(r) for r in refused] == [FetchFailure]
    assert "robots.txt" in refused[0].message
    assert "/prive/annuaire.html" not in site.paths()

    site.log.clear()
    site.robots_status = 500
    allowed = run(site, start_urls=[start], use_sitemap=False)
    assert [r.uri for r in allowed if isinstance(r, FetchedItem)] == [start]

    site.robots_status = 0
    ignored = run(site, start_urls=[start], use_sitemap=False, respect_robots=False)
    assert [r.uri for r in ignored if isinstance(r, FetchedItem)] == [start]


def test_size_cap_while_streaming(site):
    results = run(
        site, start_urls=[site.base + "/gros-document.pdf"], max_bytes=10_000, use_sitemap=False
    )
    assert len(results) == 1
    assert isinstance(results[0], FetchFailure)
    assert "taille maximale" in results[0].message


def test_polite_delay_between_requests_to_the_same_host(site):
    sleep = FakeSleep()
    run(site, sleep=sleep, delay_s=0.5, max_pages=5)
    requests_made = len(site.log)
    assert requests_made >= 5
    # No wait before the first request, a wait before each of the others.
    assert len(sleep.calls) == requests_made - 1
    assert all(0 < seconds <= 0.5 for seconds in sleep.calls)

    sleep = FakeSleep()
    run(site, sleep=sleep, delay_s=0, max_pages=5)
    assert sleep.calls == []


def test_start_url_must_be_http_or_https():
    for url in ["ftp://exemple.invalid/fichier", "file:///etc/passwd", "mailto:a@b.invalid"]:
        with pytest.raises(SourceError, match="Seules les adresses http et https sont acceptées"):
            crawl(CrawlConfig(start_urls=[url]))
    with pytest.raises(SourceError, match="Motif"):
        crawl(CrawlConfig(start_urls=["http://exemple.invalid/"], include=["("]))


def test_normalize_url():
    assert (
        normalize_url("HTTP://Mairie.EXAMPLE:80/a/./b/../c.html?x=1#haut")
        == "http://mairie.example/a/c.html?x=1"
    )
    assert normalize_url("https://mairie.example:443") == "https://mairie.example/"
    assert normalize_url("https://mairie.example:8443/") == "https://mairie.example:8443/"
    assert normalize_url("../d.html", "http://h.example/a/b/c.html") == "http://h.example/a/d.html"
    assert normalize_url("/démarches", "http://h.example/") == "http://h.example/d%C3%A9marches"
    assert (
        normalize_url("/d%C3%A9marches", "http://h.example/") == "http://h.example/d%C3%A9marches"
    )
    for link in ["mailto:x@y.example", "javascript:void(0)", "tel:+33100", "", "ftp://h/x"]:
        assert normalize_url(link, "http://h.example/") is None

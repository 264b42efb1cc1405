"""Website source: a polite breadth-first crawler.

Plain functions, no Django models. `crawl()` yields one `FetchedItem` per indexable HTML page or
linked document (PDF, DOCX, ODT, XLSX) and one `FetchFailure` per page it could not fetch.

Politeness and scope rules:

- only http and https; the crawl stays on the start URLs' hosts unless `include` patterns say
  otherwise; `exclude` patterns always win;
- robots.txt is fetched once per host and honoured (an unreachable robots.txt means "allowed",
  401/403 means "everything forbidden"); its Crawl-delay raises the delay between requests;
- sitemaps (robots.txt `Sitemap:` lines, else /sitemap.xml, sitemap indexes included) seed the
  queue;
- `<meta name="robots">` and the `X-Robots-Tag` header are honoured (noindex: the page is not
  yielded but its links are followed; nofollow: its links are not followed), and so are links
  carrying `rel="nofollow"`;
- a `<link rel="canonical">` is crawled like a link, and a page whose canonical version was
  already indexed is not indexed again;
- redirects are followed by hand (at most `MAX_REDIRECTS` hops, loops detected);
- bodies are streamed and cut at `max_bytes`;
- at least `delay_s` seconds between two requests to the same host (sleep and clock are injectable).

`CrawlConfig.max_pages` bounds the number of content requests (robots.txt and sitemaps not
counted): pages skipped afterwards (noindex, unsupported type) count too, so the crawl's cost is
bounded whatever the site holds.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
import time
import unicodedata
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import requests
from requests.utils import requote_uri

from .base import FetchedItem, FetchFailure, SourceError

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
MAX_SITEMAP_FILES = 20
MAX_SITEMAP_URLS = 50_000
MAX_ROBOTS_BYTES = 512 * 1024
MAX_CRAWL_DELAY_S = 60.0
CHUNK_SIZE = 64 * 1024

HTML_TYPES = {"text/html", "application/xhtml+xml"}
DOCUMENT_TYPES = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}
DOCUMENT_EXTENSIONS = set(DOCUMENT_TYPES.values())
# Servers often send documents as a generic type: the file name decides then.
GENERIC_TYPES = {"application/octet-stream", "binary/octet-stream", "application/download", ""}

HTTP_REASONS = {
    400: "requête invalide",
    401: "authentification requise",
    403: "accès refusé",
    404: "page introuvable",
    405: "méthode non autorisée",
    408: "délai dépassé côté serveur",
    410: "page supprimée",
    429: "trop de requêtes",
    500: "erreur interne du serveur",
    502: "passerelle en erreur",
    503: "service indisponible",
    504: "délai de la passerelle dépassé",
}
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class CrawlConfig:
    start_urls: list[str]
    # Regular expressions searched in the normalised URL. Empty: same host as a start URL.
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    max_depth: int = 3
    max_pages: int = 200
    delay_s: float = 1.0
    timeout_s: float = 15
    max_bytes: int = 20 * 1024 * 1024
    user_agent: str = "IntranetVilleBot/1.0"
    use_sitemap: bool = True
    respect_robots: bool = True


# --- URLs -------------------------------------------------------------------------------------


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4: resolve "." and ".." segments, keeping empty segments and trailing "/"."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    if not result.startswith("/"):
        result = "/" + result
    return result


def normalize_url(url: str, base: str | None = None) -> str | None:
    """Absolute, canonical form of `url` (resolved against `base`), or None if not http(s).

    Drops the fragment and user info, lowercases scheme and host, removes the default port,
    resolves dot segments and normalises percent-encoding.
    """
    url = (url or "").strip()
    if not url:
        return None
    try:
        absolute = urljoin(base, url) if base else url
        parts = urlsplit(absolute)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            return None
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _remove_dot_segments(parts.path or "/")
    return requote_uri(urlunsplit((scheme, netloc, path, parts.query, "")))


def _host(url: str) -> str:
    """Host and non-default port of a normalised URL (http and https share a host)."""
    return urlsplit(url).netloc


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _slug(text: str, max_length: int = 80) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return text[:max_length].rstrip("-")


def _html_filename(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path
    for suffix in (".html", ".htm", ".php", ".aspx", ".asp", ".jsp"):
        if path.lower().endswith(suffix):
            path = path[: -len(suffix)]
            break
    slug = _slug(unquote(path) + (" " + parts.query if parts.query else ""))
    return f"{slug or 'index'}.html"


def _document_filename(url: str, response: requests.Response, extension: str) -> str:
    name = ""
    disposition = response.headers.get("Content-Disposition")
    if disposition:
        message = Message()
        message["Content-Disposition"] = disposition
        name = message.get_filename() or ""
    if not name:
        name = unquote(PurePosixPath(urlsplit(url).path).name)
    # Never trust a path coming from the server.
    name = PurePosixPath(name.replace("\\", "/")).name.strip().lstrip(".")
    if not name:
        name = "document"
    if PurePosixPath(name).suffix.lower() != extension:
        name += extension
    return name


# --- HTML -------------------------------------------------------------------------------------


class _PageParser(HTMLParser):
    """Collects links, canonical URL, <base href>, title and robots directives of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (href, anchor text)
        self.canonical: str | None = None
        self.base: str | None = None
        self.robots: set[str] = set()
        self._title: list[str] = []
        self._in_title = False
        self._anchor: list[str] | None = None
        self._anchor_href: str | None = None

    @property
    def title(self) -> str:
        return " ".join("".join(self._title).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name.lower(): (value or "") for name, value in attrs}
        rel = set(attributes.get("rel", "").lower().split())
        if tag == "a" and attributes.get("href"):
            self._close_anchor()
            if "nofollow" not in rel:
                self._anchor_href = attributes["href"]
                self._anchor = []
        elif tag == "link" and "canonical" in rel and attributes.get("href"):
            self.canonical = self.canonical or attributes["href"]
        elif tag == "base" and attributes.get("href") and self.base is None:
            self.base = attributes["href"]
        elif tag == "meta" and attributes.get("name", "").lower() == "robots":
            self.robots |= _robots_directives(attributes.get("content", ""))
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._close_anchor()
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        if self._anchor is not None:
            self._anchor.append(data)

    def close(self) -> None:
        super().close()
        self._close_anchor()

    def _close_anchor(self) -> None:
        if self._anchor_href is not None and self._anchor is not None:
            self.links.append((self._anchor_href, " ".join("".join(self._anchor).split())))
        self._anchor_href = None
        self._anchor = None


def _robots_directives(value: str) -> set[str]:
    directives = {part.strip().lower() for part in value.split(",") if part.strip()}
    if "none" in directives:
        directives |= {"noindex", "nofollow"}
    return directives


def _decode_html(data: bytes, content_type: str) -> str:
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    if not match:
        match = re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", data[:4096], re.IGNORECASE)
    encoding = "utf-8"
    if match:
        candidate = match.group(1)
        encoding = candidate.decode("ascii") if isinstance(candidate, bytes) else candidate
    try:
        return data.decode(encoding, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


# --- Crawler ----------------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


@dataclass
class _Target:
    url: str
    depth: int
    label: str = ""
    seed: bool = False


class _Crawler:
    def __init__(
        self,
        config: CrawlConfig,
        session: requests.Session,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        start_urls: list[str],
    ) -> None:
        self.config = config
        self.session = session
        self.sleep = sleep
        self.clock = clock
        self.start_urls = start_urls
        self.hosts = {_host(url) for url in start_urls}
        self.include = [re.compile(pattern) for pattern in config.include]
        self.exclude = [re.compile(pattern) for pattern in config.exclude]
        self.robots: dict[str, RobotFileParser | None] = {}
        self.last_request: dict[str, float] = {}
        self.host_delay: dict[str, float] = {}
        self.seen: set[str] = set()  # queued once
        self.requested: set[str] = set()  # requested (as a target or a redirect hop)
        self.yielded: set[str] = set()
        self.queue: deque[_Target] = deque()
        self.requests_made = 0

    # Scope ------------------------------------------------------------------------------------

    def in_scope(self, url: str) -> bool:
        if any(pattern.search(url) for pattern in self.exclude):
            return False
        if self.include:
            return any(pattern.search(url) for pattern in self.include)
        return _host(url) in self.hosts

    def allowed_by_robots(self, url: str) -> bool:
        if not self.config.respect_robots:
            return True
        parser = self.robots_for(url)
        return parser is None or parser.can_fetch(self.config.user_agent, url)

    def enqueue(self, url: str, depth: int, label: str = "", *, seed: bool = False) -> None:
        if url in self.seen:
            return
        if not seed and not (self.in_scope(url) and self.allowed_by_robots(url)):
            return
        self.seen.add(url)
        self.queue.append(_Target(url, depth, label, seed))

    # HTTP -------------------------------------------------------------------------------------

    def wait_turn(self, url: str) -> None:
        host = _host(url)
        delay = self.host_delay.get(host, self.config.delay_s)
        last = self.last_request.get(host)
        if last is not None and delay > 0:
            remaining = delay - (self.clock() - last)
            if remaining > 0:
                self.sleep(remaining)
        self.last_request[host] = self.clock()

    def get(self, url: str) -> requests.Response:
        self.wait_turn(url)
        return self.session.get(
            url,
            headers={"User-Agent": self.config.user_agent},
            timeout=self.config.timeout_s,
            allow_redirects=False,
            stream=True,
        )

    def read_body(self, response: requests.Response, limit: int) -> bytes:
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > limit:
            raise _TooLarge
        buffer = bytearray()
        for chunk in response.iter_content(CHUNK_SIZE):
            buffer += chunk
            if len(buffer) > limit:
                raise _TooLarge
        return bytes(buffer)

    def fetch_small(self, url: str, limit: int) -> tuple[int, bytes] | None:
        """GET a robots.txt or sitemap, following redirects; None if unreachable."""
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = self.get(url)
            except requests.RequestException as exc:
                logger.info("Unreachable %s: %s", url, exc)
                return None
            with response:
                location = response.headers.get("Location")
                if response.is_redirect and location:
                    target = normalize_url(location, url)
                    if target is None:
                        return None
                    url = target
                    continue
                try:
                    return response.status_code, self.read_body(response, limit)
                except (_TooLarge, requests.RequestException):
                    return None
        return None

    # robots.txt and sitemaps ------------------------------------------------------------------

    def robots_for(self, url: str) -> RobotFileParser | None:
        host = _host(url)
        if host in self.robots:
            return self.robots[host]
        robots_url = _origin(url) + "/robots.txt"
        parser: RobotFileParser | None = RobotFileParser(robots_url)
        result = self.fetch_small(robots_url, MAX_ROBOTS_BYTES)
        if result is None or result[0] >= 500:
            parser = None  # unreachable: allowed
        elif result[0] in (401, 403):
            parser.disallow_all = True
        elif result[0] >= 400:
            parser.allow_all = True
        else:
            text = result[1].decode("utf-8", errors="replace")
            parser.parse(text.splitlines())
            delay = parser.crawl_delay(self.config.user_agent)
            if delay:
                self.host_delay[host] = min(
                    max(float(delay), self.config.delay_s), MAX_CRAWL_DELAY_S
                )
        self.robots[host] = parser
        return parser

    def sitemap_urls(self, start_url: str) -> Iterator[str]:
        # Sitemap: lines are read even when robots rules are not honoured.
        parser = self.robots_for(start_url)
        listed = (parser.site_maps() if parser else None) or []
        pending = deque(u for u in (normalize_url(s) for s in listed) if u)
        if not pending:
            fallback = _origin(start_url) + "/sitemap.xml"
            if self.allowed_by_robots(fallback):
                pending.append(fallback)
        done: set[str] = set()
        found = 0
        while pending and len(done) < MAX_SITEMAP_FILES:
            sitemap = pending.popleft()
            if sitemap in done:
                continue
            done.add(sitemap)
            result = self.fetch_small(sitemap, self.config.max_bytes)
            if result is None or result[0] >= 300:
                continue
            for kind, loc in _parse_sitemap(result[1], self.config.max_bytes):
                url = normalize_url(loc, sitemap)
                if url is None:
                    continue
                if kind == "sitemap":
                    pending.append(url)
                else:
                    found += 1
                    if found > MAX_SITEMAP_URLS:
                        return
                    yield url

    # Pages ------------------------------------------------------------------------------------

    def run(self) -> Iterator[FetchedItem | FetchFailure]:
        for url in self.start_urls:
            self.enqueue(url, 0, seed=True)
        if self.config.use_sitemap:
            for origin in dict.fromkeys(_origin(url) for url in self.start_urls):
                for url in self.sitemap_urls(origin + "/"):
                    self.enqueue(url, 0)
        while self.queue and self.requests_made < self.config.max_pages:
            target = self.queue.popleft()
            if target.url in self.requested:
                continue
            if self.config.respect_robots and not self.allowed_by_robots(target.url):
                if target.seed:
                    yield FetchFailure(
                        target.url, "Le fichier robots.txt du site interdit cette page."
                    )
                continue
            yield from self.visit(target)

    def visit(self, target: _Target) -> Iterator[FetchedItem | FetchFailure]:
        url = target.url
        chain = [url]
        while True:
            self.requests_made += 1
            self.requested.add(url)
            try:
                response = self.get(url)
            except requests.Timeout:
                yield FetchFailure(url, "Le serveur n’a pas répondu à temps.")
                return
            except requests.RequestException as exc:
                logger.info("Cannot fetch %s: %s", url, exc)
                yield FetchFailure(url, "Impossible de joindre le serveur.")
                return
            with response:
                location = response.headers.get("Location")
                if not (response.is_redirect and location):
                    yield from self.handle_response(target, url, response)
                    return
                next_url = normalize_url(location, url)
                failure = self.check_redirect(chain, next_url)
                if failure:
                    yield FetchFailure(target.url, failure)
                    return
            if next_url is None or next_url in self.requested:
                return  # already fetched: reported under its own address
            if self.requests_made >= self.config.max_pages:
                return
            self.seen.add(next_url)
            chain.append(next_url)
            url = next_url

    def check_redirect(self, chain: list[str], next_url: str | None) -> str | None:
        if next_url is None:
            return "La page redirige vers une adresse non prise en charge."
        if next_url in chain:
            route = " → ".join([*chain[chain.index(next_url) :], next_url])
            return f"La page redirige en boucle ({route})."
        if len(chain) > MAX_REDIRECTS:
            return f"La page redirige trop de fois (plus de {MAX_REDIRECTS} redirections)."
        if not self.in_scope(next_url):
            return f"La page redirige hors du périmètre de l’exploration ({next_url})."
        if not self.allowed_by_robots(next_url):
            return f"La page redirige vers une adresse interdite par robots.txt ({next_url})."
        return None

    def handle_response(
        self, target: _Target, url: str, response: requests.Response
    ) -> Iterator[FetchedItem | FetchFailure]:
        status = response.status_code
        if not 200 <= status < 300:
            reason = HTTP_REASONS.get(status) or (
                "erreur du serveur" if status >= 500 else "réponse inattendue"
            )
            yield FetchFailure(url, f"Le serveur a répondu {status} ({reason}).")
            return
        content_type = response.headers.get("Content-Type", "")
        mime = content_type.split(";")[0].strip().lower()
        kind = self.classify(url, mime, response)
        if kind is None:
            return  # unsupported type: skipped
        try:
            data = self.read_body(response, self.config.max_bytes)
        except _TooLarge:
            megabytes = self.config.max_bytes / (1024 * 1024)
            yield FetchFailure(
                url, f"Le document dépasse la taille maximale autorisée ({megabytes:g} Mo)."
            )
            return
        except requests.RequestException as exc:
            logger.info("Download of %s interrupted: %s", url, exc)
            yield FetchFailure(url, "Le téléchargement a été interrompu.")
            return
        modified = _last_modified(response)
        header_robots = _robots_directives(response.headers.get("X-Robots-Tag", ""))
        if kind != "html":
            if "noindex" not in header_robots:
                filename = _document_filename(url, response, kind)
                title = target.label or PurePosixPath(filename).stem
                self.yielded.add(url)
                yield FetchedItem(url, title, filename, data, modified)
            return
        parser = _PageParser()
        try:
            parser.feed(_decode_html(data, content_type))
            parser.close()
        except Exception:  # html.parser is lenient; never let one page stop the crawl
            logger.warning("Unparsable HTML at %s", url, exc_info=True)
        robots = header_robots | parser.robots
        base = normalize_url(parser.base, url) if parser.base else url
        if "nofollow" not in robots and target.depth < self.config.max_depth:
            for href, label in parser.links:
                link = normalize_url(href, base or url)
                if link:
                    self.enqueue(link, target.depth + 1, label)
        if "noindex" in robots:
            return
        if parser.canonical:
            # The canonical address is crawled like a link; a duplicate of an already indexed
            # canonical page is not indexed again.
            canonical = normalize_url(parser.canonical, base or url)
            if canonical and canonical != url:
                if canonical in self.yielded:
                    return
                self.enqueue(canonical, target.depth, target.label)
        title = parser.title or target.label or url
        self.yielded.add(url)
        yield FetchedItem(url, title, _html_filename(url), data, modified)

    def classify(self, url: str, mime: str, response: requests.Response) -> str | None:
        """ "html", a document extension (".pdf"…), or None when the type is not indexed."""
        if mime in HTML_TYPES:
            return "html"
        if mime in DOCUMENT_TYPES:
            return DOCUMENT_TYPES[mime]
        if mime in GENERIC_TYPES:
            extension = PurePosixPath(_document_filename(url, response, ".bin")).suffix.lower()
            if extension in DOCUMENT_EXTENSIONS:
                return extension
            extension = PurePosixPath(urlsplit(url).path).suffix.lower()
            if extension in DOCUMENT_EXTENSIONS:
                return extension
        return None


def _last_modified(response: requests.Response) -> datetime | None:
    value = response.headers.get("Last-Modified")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _parse_sitemap(data: bytes, max_bytes: int) -> Iterator[tuple[str, str]]:
    """("url" | "sitemap", location) pairs of a sitemap or sitemap index (gzip accepted)."""
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as archive:
                data = archive.read(max_bytes + 1)
        except (OSError, EOFError):
            return
        if len(data) > max_bytes:
            return
    # Refuse DTDs outright: no entity expansion on data from the network.
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        return
    try:
        root = ET.fromstring(data)  # noqa: S314 - DTD-free document, size-capped
    except ET.ParseError:
        return
    kind = {"sitemapindex": "sitemap", "urlset": "url"}.get(_local_name(root.tag))
    if kind is None:
        return
    for entry in root:
        if _local_name(entry.tag) != kind:
            continue
        for child in entry:
            if _local_name(child.tag) == "loc" and child.text and child.text.strip():
                yield kind, child.text.strip()


def crawl(
    config: CrawlConfig,
    *,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[FetchedItem | FetchFailure]:
    """Crawl the site described by `config`; see the module docstring for the rules.

    Settings are checked at once (SourceError); fetching happens while iterating.
    """
    if not config.start_urls:
        raise SourceError("Indiquez au moins une adresse de départ.")
    start_urls = []
    for raw in config.start_urls:
        url = normalize_url(raw)
        if url is None:
            raise SourceError(
                f"Seules les adresses http et https sont acceptées (adresse refusée : {raw})."
            )
        start_urls.append(url)
    for label, patterns in (("d’inclusion", config.include), ("d’exclusion", config.exclude)):
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise SourceError(f"Motif {label} invalide « {pattern} » : {exc}.") from None
    if config.max_pages < 1 or config.max_depth < 0 or config.max_bytes < 1:
        raise SourceError(
            "Les limites de l’exploration (pages, profondeur, taille) sont invalides."
        )
    return _run(config, session, sleep, clock, list(dict.fromkeys(start_urls)))


def _run(
    config: CrawlConfig,
    session: requests.Session | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    start_urls: list[str],
) -> Iterator[FetchedItem | FetchFailure]:
    own_session = session is None
    active = session or requests.Session()
    try:
        yield from _Crawler(config, active, sleep, clock, start_urls).run()
    finally:
        if own_session:
            active.close()

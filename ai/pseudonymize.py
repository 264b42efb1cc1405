"""Pseudonymisation of personal data before text is sent to an external language model.

A `Pseudonymizer` lives for one model call. It replaces e-mail addresses, phone numbers,
IBANs, social-security numbers (NIR) and person names with placeholders such as
`[PERSONNE_1]` in the question and in every passage, then puts the original values back into
the answer (`restore`, or `restorer()` for a streamed answer).

Structured values are found first, by pattern plus a checksum or numbering-plan validation
(`python-stdnum`, `phonenumbers`), so that amounts, dates or deliberation numbers stay as
they are and the NER never sees, hence never splits, an e-mail. Person names come from
spaCy's French NER (`fr_core_news_sm`, `PER` entities) and from title-led patterns
(« M. », « Mme », « Docteur »…) that catch what the small model misses. Functions held by
people (« Monsieur le Maire », « Madame la Présidente ») are not names and are kept.

Without spaCy or its model the NER is skipped with a warning: structured values and
title-led names are still replaced, names without a title are not.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterator
from typing import Any

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum.fr import nir as stdnum_nir

logger = logging.getLogger(__name__)

MODEL_NAME = "fr_core_news_sm"
# The NER of fr_core_news_sm has its own embedding layer: the rest of the pipeline is not
# needed and not loaded (it would more than double the processing time). Most of the load
# time (several seconds) is spaCy compiling its French tokenizer exceptions: see `preload`.
_NOT_NEEDED = ["tok2vec", "morphologizer", "parser", "senter", "attribute_ruler", "lemmatizer"]
# The NER reads a text line by line (a list of names on separate lines otherwise comes back
# as one MISC entity); a longer line is cut at a space.
_NER_PIECE = 10_000

# kind -> placeholder label
LABELS = {
    "person": "PERSONNE",
    "email": "EMAIL",
    "phone": "TELEPHONE",
    "iban": "IBAN",
    "nir": "NIR",
}
_KIND_OF_LABEL = {label: kind for kind, label in LABELS.items()}


# --- spaCy, loaded once per process -------------------------------------------------------


class _NerLoader:
    """Loads a spaCy pipeline on first use; `None` (and one warning) when it cannot."""

    def __init__(self, model: str):
        self.model = model
        self._nlp: Any = None
        self._loaded = False
        self._load_lock = threading.Lock()
        # spaCy does not promise thread safety (the vocabulary grows while it parses): the web
        # process's threads take turns; a 2,000-character passage takes some 40 ms.
        self.call_lock = threading.Lock()

    def get(self) -> Any:
        if not self._loaded:
            with self._load_lock:
                if not self._loaded:
                    self._nlp = self._load()
                    self._loaded = True
        return self._nlp

    def _load(self) -> Any:
        try:
            import spacy

            return spacy.load(self.model, exclude=_NOT_NEEDED)
        except Exception as exc:  # ImportError, OSError (model missing), version mismatch
            logger.warning(
                "pseudonymisation: spaCy model %s unavailable (%s: %s); person names are "
                "only detected after a title (M., Mme…), other names are NOT pseudonymised",
                self.model,
                type(exc).__name__,
                exc,
            )
            return None


_ner = _NerLoader(MODEL_NAME)


def preload() -> bool:
    """Load the NER model now; True if names can be detected.

    The first pseudonymisation in a process otherwise pays the load, several seconds: call
    this where a process that will call a model starts.
    """
    return _ner.get() is not None


# --- character classes and word lists ----------------------------------------------------

_SP = r"[ \t\u00a0\u202f]"  # spaces within a line, incl. French non-breaking ones
_UPPER = "A-ZÀ-ÖØ-ÞŒŸ"
_NAME_WORD = rf"[{_UPPER}][^\W\d_]*(?:[-'’][^\W\d_]+)*"
_PARTICLE_RE = r"(?:de|du|des|la|le|van|von|der|den|di|da|del|della|dos|das|ben|bin|ibn|el|al)"
_TITLE_RE = (
    r"(?:MM\.|M\.|Mmes?\.?|Mlles?\.?|Madame|Monsieur|Mademoiselle|Mesdames|Messieurs"
    r"|Drs?\.?|Docteure?|Pr\.?|Professeure?|Me|Maître)"
)
_TITLED_NAME = re.compile(
    rf"(?<![\w.]){_TITLE_RE}{_SP}+"
    # « Monsieur de Villepin » but not « Monsieur le Maire », « Madame la Première adjointe ».
    rf"(?P<name>(?:(?:de|du|des){_SP}+)?(?:d['’])?{_NAME_WORD}"
    rf"(?:{_SP}+(?:{_PARTICLE_RE}{_SP}+)*(?:d['’])?{_NAME_WORD}){{0,4}})"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PARTICLES = _words(
    "de du des d la le les van von der den di da del della dos das ben bin ibn el al"
)
# Words that end a name or show that a "PER" entity is a function, not a person. Folded.
_NOT_NAME = _words(
    """
    m mm mme mmes mlle mlles madame monsieur mademoiselle mesdames messieurs dr drs docteur
    docteure pr professeur professeure me maitre
    maire adjoint adjointe adjoints president presidente vice-president vice-presidente
    conseil conseiller conseillere conseillers conseilleres municipal municipale municipaux
    communautaire departemental departementale regional regionale prefet prefete sous-prefet
    sous-prefete prefecture depute deputee senateur senatrice ministre secretaire general
    generale generaux directeur directrice direction service services chef cheffe
    responsable delegue deleguee rapporteur rapporteure commissaire republique ville mairie
    commune metropole departement region etat tresorier tresoriere payeur agent agente elu
    elue elus administration hotel cabinet tribunal cour juge procureur procureure recteur
    rectrice inspecteur inspectrice gouvernement assemblee senat commission
    vu vus considerant article objet annexe deliberation decide approuve arrete rapport
    seance cher chere chers cheres bonjour cordialement premier premiere premiers premieres
    second seconde vice
    """
)
# A name right after these words names a place (« rue Jean-Moulin », « école Anatole-France »):
# public, and useful to the model as it is.
_PLACE_WORDS = _words(
    """
    rue avenue av bd boulevard place allee impasse chemin quai cours square passage route
    esplanade promenade parvis pont ecole college lycee gymnase stade salle parc jardin
    mediatheque bibliotheque centre creche groupe espace maison hopital residence cite
    quartier piscine theatre musee halle complexe foyer ehpad institut fondation station
    """
)
_NAME_TOKEN = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*\.?")
_D_NAME = re.compile(rf"d['’]{_NAME_WORD}")  # « d'Estaing », not « d'attribuer »

_PUNCT_TRAIL = ',;:!?)»"”'


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _name_key(name: str) -> str:
    return " ".join(_fold(name).split())


# --- structured values --------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")
_IBAN_CANDIDATE = re.compile(r"(?<!\w)[A-Z]{2}\d{2}(?:[ \u00a0]?[0-9A-Z]){11,30}(?!\w)")
_NIR_CANDIDATE = re.compile(r"(?<![\w.])[1-478](?:[ .\u00a0]?[0-9AB]){14}(?!\w)")
_SEPARATORS = re.compile(r"[\s.]")

Span = tuple[int, int, str, str]  # start, end, kind, normalised value


def _emails(text: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end(), "email", m.group().lower()


def _ibans(text: str) -> Iterator[Span]:
    pos = 0
    while m := _IBAN_CANDIDATE.search(text, pos):
        found = None
        candidate = m.group()
        # The candidate may run into the next word ("… 189 EUR"): try it whole, then cut
        # before each space, longest first.
        ends = [len(candidate)] + [
            i for i in range(len(candidate) - 1, 14, -1) if candidate[i] in " \u00a0"
        ]
        for end in ends:
            compact = _SEPARATORS.sub("", candidate[:end])
            if len(compact) >= 15 and stdnum_iban.is_valid(compact):
                found = end
                yield m.start(), m.start() + end, "iban", compact
                break
        pos = m.start() + found if found else m.start() + 1


def _nirs(text: str) -> Iterator[Span]:
    pos = 0
    # Not finditer: a candidate that fails its key may hide a real NIR starting one digit on.
    while m := _NIR_CANDIDATE.search(text, pos):
        compact = _SEPARATORS.sub("", m.group()).upper()
        if stdnum_nir.is_valid(compact):
            yield m.start(), m.end(), "nir", compact
            pos = m.end()
        else:
            pos = m.start() + 1


def _phones(text: str) -> Iterator[Span]:
    matcher = phonenumbers.PhoneNumberMatcher(text, "FR", leniency=phonenumbers.Leniency.VALID)
    for m in matcher:
        # A national number must carry its trunk prefix: "732829320" is a SIREN, not a phone.
        if not m.raw_string.startswith(("+", "0")):
            continue
        e164 = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
        yield m.start, m.end, "phone", e164


def _structured(text: str) -> list[Span]:
    """Non-overlapping spans; on overlap the detector listed first wins."""
    taken: list[Span] = []
    for detector in (_emails, _ibans, _nirs, _phones):
        for span in detector(text):
            if not any(span[0] < t[1] and t[0] < span[1] for t in taken):
                taken.append(span)
    return sorted(taken)


# --- names --------------------------------------------------------------------------------


def _name_parts(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Pieces of text[start:end] that look like a person's name.

    Words that are functions or titles, and lower-case words other than particles, cut the
    candidate; a piece needs one capitalised word of two letters or more.
    """
    run: list[tuple[int, int, str]] = []

    def close() -> Iterator[tuple[int, int]]:
        while run and _fold(run[-1][2]) in _PARTICLES:
            run.pop()
        if any(w[2][0].isupper() and len(w[2]) > 1 and _fold(w[2]) not in _PARTICLES for w in run):
            yield run[0][0], run[-1][1]
        run.clear()

    for m in re.finditer(r"\S+", text[start:end]):
        word = m.group().rstrip(_PUNCT_TRAIL)
        if len(word) > 2:
            word = word.rstrip(".")
        w_start = start + m.start()
        key = _fold(word).strip(".")
        if (
            not _NAME_TOKEN.fullmatch(word)
            or key in _NOT_NAME
            or not (word[0].isupper() or key in _PARTICLES or _D_NAME.fullmatch(word))
            or (not run and word[0].islower() and key in _PARTICLES - {"de", "du", "des", "d"})
        ):
            yield from close()
            continue
        run.append((w_start, w_start + len(word), word))
        if word != m.group():  # punctuation after a word ends the name
            yield from close()
    yield from close()


def _names_a_place(text: str, start: int) -> bool:
    """True if the words before `start` show a place named after a person."""
    before = text[max(0, start - 80) : start].split()
    for word in reversed(before[-4:]):
        key = _fold(word).strip(".,;:")
        if key.split("'")[-1] in _PLACE_WORDS:  # « l'école Anatole-France »
            return True
        if not (key in _PARTICLES or key in _NOT_NAME):
            return False
    return False


def _titled_names(text: str) -> Iterator[tuple[int, int]]:
    for m in _TITLED_NAME.finditer(text):
        yield from _name_parts(text, m.start("name"), m.end("name"))


def _ner_names(text: str) -> Iterator[tuple[int, int]]:
    nlp = _ner.get()
    if nlp is None:
        return
    pieces = list(_lines(text, _NER_PIECE))
    with _ner.call_lock:
        docs = list(nlp.pipe(piece for _, piece in pieces))
    stop_words = nlp.Defaults.stop_words
    for (offset, _), doc in zip(pieces, docs, strict=True):
        for ent in doc.ents:
            if ent.label_ != "PER":
                continue
            for start, end in _name_parts(text, offset + ent.start_char, offset + ent.end_char):
                word = text[start:end]
                # The small model takes many a capitalised first word for a name (« Vos
                # messages… », « Retrouvez… »), and units or acronyms (« 3 MB »): a single word
                # there needs a title. A name seen elsewhere is still caught by the sweep.
                if len(word.split()) > 1 or not (
                    _starts_sentence(text, start)
                    or word.lower() in stop_words
                    or (word.isupper() and len(word) <= 4)
                ):
                    yield start, end


def _starts_sentence(text: str, start: int) -> bool:
    before = text[max(0, start - 40) : start].rstrip(" \t\u00a0\u202f")
    return not before or before[-1] in '\n.!?…«("“*•#>|-–—'


_LINE = re.compile(r"^[ \t]*(?:(?:[-–—*•·>#]+|\d{1,3}[.)])[ \t]+)?(?P<body>\S[^\n]*)", re.M)


def _lines(text: str, size: int) -> Iterator[tuple[int, str]]:
    """(offset, piece) for each line that has text, lines longer than `size` cut at a space.

    A list marker is left out: the small model finds no name in « - Sophie Nguyen ».
    """
    for m in _LINE.finditer(text):
        start, end = m.span("body")
        while end - start > size:
            cut = text.rfind(" ", start + 1, start + size)
            if cut == -1:
                cut = start + size
            yield start, text[start:cut]
            start = cut
        yield start, text[start:end]


# --- restoration --------------------------------------------------------------------------

# Models sometimes change the placeholders they are given: case, spaces inside the brackets,
# Markdown escapes ("\[PERSONNE\_1\]"), accents (TÉLÉPHONE), or the brackets themselves lost.
# A bare token still carries its "_1", so it cannot be an ordinary word.
_KIND_RE = r"PERSONNE|EMAIL|T[EÉ]L[EÉ]PHONE|IBAN|NIR"
_PLACEHOLDER = re.compile(
    rf"(?:\\?\[[ \t]*)?(?<!\w)(?P<kind>{_KIND_RE})\\?_(?P<num>[0-9]+)(?!\w)(?:[ \t]*\\?\])?",
    re.IGNORECASE,
)
_EXACT_PLACEHOLDER = re.compile(rf"\[(?:{'|'.join(LABELS.values())})_\d+\]")
_KINDS_UPPER = tuple(_KIND_OF_LABEL)
_WORD_CHAR = re.compile(r"\w")
# Longest plausible placeholder as a model may write it, spaces and escapes included.
_MAX_HOLD = 64


def _canonical(match: re.Match[str]) -> str:
    kind = _fold(match.group("kind")).upper()
    return f"[{kind}_{int(match.group('num'))}]"


def _could_grow(fragment: str) -> bool:
    """True if more text could turn `fragment` into a placeholder, or a longer one.

    Mirrors `_PLACEHOLDER` as a little state machine; `fragment` starts where a placeholder
    could start.
    """
    # One character for one: accents dropped (TÉLÉPHONE), case ignored, like the pattern.
    f = "".join(unicodedata.normalize("NFKD", c)[:1].upper()[:1] for c in fragment)
    n = len(f)
    i = 0
    if f.startswith("\\"):
        i = 1
        if i == n:
            return True
        if f[i] != "[":
            return False
    if i < n and f[i] == "[":
        i += 1
        while i < n and f[i] in " \t":
            i += 1
    if i == n:
        return True
    rest = f[i:]
    kind = next((k for k in _KINDS_UPPER if rest.startswith(k)), None)
    if kind is None:
        return any(k.startswith(rest) for k in _KINDS_UPPER)
    i += len(kind)
    if i < n and f[i] == "\\":
        i += 1
    if i == n:
        return True
    if f[i] != "_":
        return False
    i += 1
    digits = i
    while i < n and f[i] in "0123456789":
        i += 1
    if i == n:
        return True
    if i == digits:
        return False
    while i < n and f[i] in " \t":
        i += 1
    if i < n and f[i] == "\\":
        i += 1
    # Only a trailing "]" may still come; after it the placeholder is complete.
    return i == n


class StreamRestorer:
    """Restores placeholders in a streamed answer, delta by delta.

    `feed` returns what can be shown now and holds back a trailing fragment that could be
    the start of a placeholder split across deltas ("[PERS" + "ONNE_1]"); `flush` returns
    the rest. The concatenated output equals `Pseudonymizer.restore` of the whole answer.
    """

    def __init__(self, pseudonymizer: Pseudonymizer):
        self._p = pseudonymizer
        self._context = ""  # last character already shown, for the placeholder's lookbehind
        self._pending = ""

    def feed(self, delta: str) -> str:
        self._pending += delta
        text = self._context + self._pending
        base = len(self._context)
        cut = len(text)
        for q in range(max(base, len(text) - _MAX_HOLD), len(text)):
            char = text[q]
            could_start = char in "\\[" or (
                char.isalpha() and (q == 0 or not _WORD_CHAR.match(text[q - 1]))
            )
            if could_start and _could_grow(text[q:]):
                cut = q
                break
        for m in _PLACEHOLDER.finditer(text, base):
            if m.start() < cut < m.end():
                cut = m.start()
                break
        return self._emit(text, base, cut)

    def flush(self) -> str:
        text = self._context + self._pending
        return self._emit(text, len(self._context), len(text))

    def _emit(self, text: str, base: int, cut: int) -> str:
        out = self._p._restore_range(text, base, cut)
        if cut > base:
            self._context = text[cut - 1]
        self._pending = text[cut:]
        return out


# --- the pseudonymizer --------------------------------------------------------------------


class Pseudonymizer:
    """One per model call. Replaces personal data with placeholders and restores it.

    The same value gets the same placeholder across all the texts given to one instance
    (phones, IBANs and NIRs are compared in normalised form, names without case or accents).
    A shorter form of a name already seen (« Mme Martin » after « Claire Martin ») shares its
    placeholder; `restore` then puts back the first, fullest form.
    """

    def __init__(self, *, names: bool = True):
        self.names = names
        self._mapping: dict[str, str] = {}  # placeholder -> original
        self._by_value: dict[tuple[str, str], str] = {}  # (kind, normalised) -> placeholder
        self._counts = dict.fromkeys(LABELS, 0)
        self._persons: list[tuple[tuple[str, ...], str]] = []  # (folded words, placeholder)
        self._known_forms: dict[str, str] = {}  # surface form of a name -> placeholder
        self._surnames: dict[str, set[str]] = {}  # last word of a full name -> placeholders
        self._sweep: tuple[re.Pattern[str], dict[str, str]] | None = None

    @property
    def mapping(self) -> dict[str, str]:
        """Placeholder -> original value (for tests and debugging; never log it)."""
        return dict(self._mapping)

    @property
    def counts(self) -> dict[str, int]:
        """Kind (person, email, phone, iban, nir) -> distinct values replaced so far."""
        return dict(self._counts)

    def pseudonymize(self, text: str) -> str:
        """`text` with its personal data replaced by placeholders."""
        if not text:
            return text
        spans = [
            (s, e, self._placeholder(kind, value, text[s:e]))
            for s, e, kind, value in _structured(text)
        ]
        text = _replace(text, spans)
        if self.names:
            text = _replace(text, self._name_spans(text))
        return text

    def restore(self, text: str) -> str:
        """`text` with the placeholders (as given, or slightly altered) replaced by values."""
        return self._restore_range(text, 0, len(text))

    def restorer(self) -> StreamRestorer:
        """A restorer for an answer that arrives in pieces."""
        return StreamRestorer(self)

    # internals

    def _restore_range(self, text: str, start: int, end: int) -> str:
        out: list[str] = []
        pos = start
        for m in _PLACEHOLDER.finditer(text, start, end):
            original = self._mapping.get(_canonical(m))
            if original is not None:
                out.append(text[pos : m.start()])
                out.append(original)
                pos = m.end()
        out.append(text[pos:end])
        return "".join(out)

    def _placeholder(self, kind: str, value: str, original: str) -> str:
        placeholder = self._by_value.get((kind, value))
        if placeholder is None:
            self._counts[kind] += 1
            placeholder = f"[{LABELS[kind]}_{self._counts[kind]}]"
            self._by_value[(kind, value)] = placeholder
            self._mapping[placeholder] = original
        return placeholder

    def _name_spans(self, text: str) -> list[tuple[int, int, str]]:
        protected = [(m.start(), m.end()) for m in _EXACT_PLACEHOLDER.finditer(text)]
        found = sorted(
            {
                span
                for span in (*_titled_names(text), *_ner_names(text))
                if not any(span[0] < p[1] and p[0] < span[1] for p in protected)
                and not _names_a_place(text, span[0])
            }
        )
        merged: list[list[int]] = []
        for start, end in found:
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        # Full names first, so that a surname alone in the same text joins its person.
        ordered = sorted(merged, key=lambda s: (len(text[s[0] : s[1]].split()) < 2, s[0]))
        spans = [(s, e, self._person(text[s:e])) for s, e in ordered]
        # A name seen once is replaced wherever it appears again, even where the NER misses it.
        taken = [(s, e) for s, e, _ in spans] + protected
        pattern, forms = self._sweep_pattern()
        for m in pattern.finditer(text):
            if not any(m.start() < t[1] and t[0] < m.end() for t in taken):
                spans.append((m.start(), m.end(), forms[" ".join(m.group().split())]))
        return sorted(spans)

    def _person(self, original: str) -> str:
        name = " ".join(original.split())
        key = _name_key(name)
        placeholder = self._by_value.get(("person", key))
        if placeholder is None:
            words = tuple(key.split())
            n = len(words)
            # « Martin », « Mme Martin » after « Claire Martin »: the same person when only
            # one person seen so far ends (or starts) with these words.
            fuller = {
                p for w, p in self._persons if len(w) > n and (w[-n:] == words or w[:n] == words)
            }
            if len(fuller) == 1:
                placeholder = fuller.pop()
                self._by_value[("person", key)] = placeholder
            else:
                placeholder = self._placeholder("person", key, original)
                self._persons.append((words, placeholder))
                surname = name.split()[-1]
                if n > 1 and len(surname) > 2 and _fold(surname) not in _PARTICLES:
                    self._surnames.setdefault(surname, set()).add(placeholder)
        if name not in self._known_forms:
            self._known_forms[name] = placeholder
        self._sweep = None
        return placeholder

    def _sweep_pattern(self) -> tuple[re.Pattern[str], dict[str, str]]:
        """Names seen so far, and the surnames of one person only (« Lefèvre aussi »)."""
        if self._sweep is None:
            forms = {s: next(iter(p)) for s, p in self._surnames.items() if len(p) == 1}
            forms.update(self._known_forms)
            body = "|".join(
                re.escape(f).replace(" ", rf"{_SP}+") for f in sorted(forms, key=len, reverse=True)
            )
            pattern = re.compile(rf"(?<![\w'’-])(?:{body or '(?!)'})(?![\w-])")
            self._sweep = (pattern, forms)
        return self._sweep


def _replace(text: str, spans: list[tuple[int, int, str]]) -> str:
    out: list[str] = []
    pos = 0
    for start, end, placeholder in spans:
        out.append(text[pos:start])
        out.append(placeholder)
        pos = end
    out.append(text[pos:])
    return "".join(out)

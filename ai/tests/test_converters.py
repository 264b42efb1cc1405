"""Document converters: files built in code, then real documents from the corpus.

Pure-Python tests (no database). OCR tests need Tesseract with French data and are skipped
without it; corpus tests are skipped when settings.CORPUS_DIR is absent.
"""

from __future__ import annotations

import io
import logging
import random
import time
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from ai.converters import ConversionError, ConvertedDocument, convert, detect_format, safezip
from ai.converters import ocr as ocr_mod
from ai.converters.common import decode_text, heading_level

from . import fixtures_files as ff

needs_ocr = pytest.mark.skipif(
    bool(ocr_mod.unavailable_reason()) or not ff.DEJAVU.exists(),
    reason="Tesseract avec le français (tesseract-ocr-fra) ou la police DejaVu absent",
)


def _corpus() -> Path:
    return Path(settings.CORPUS_DIR)


def corpus_file(relative: str) -> Path:
    path = _corpus() / relative
    if not path.exists():
        pytest.skip(f"corpus absent : {path} (settings.CORPUS_DIR)")
    return path


def corpus_glob(folder: str, pattern: str) -> list[Path]:
    directory = _corpus() / folder
    files = sorted(directory.glob(pattern)) if directory.is_dir() else []
    if not files:
        pytest.skip(f"corpus absent : {directory}/{pattern} (settings.CORPUS_DIR)")
    return files


def kinds(document: ConvertedDocument, kind: str) -> list[str]:
    return [b.text for b in document.blocks if b.kind == kind]


# --- Input checks ------------------------------------------------------------------------------


def test_empty_file_is_refused():
    with pytest.raises(ConversionError, match="Le fichier est vide"):
        convert(b"", "vide.pdf")


def test_file_over_the_limit_is_refused_with_sizes_in_mo():
    with pytest.raises(ConversionError) as excinfo:
        convert(b"x" * (3 * 1024 * 1024), "gros.txt", max_bytes=2 * 1024 * 1024)
    message = str(excinfo.value)
    assert "3 Mo" in message
    assert "2 Mo" in message


def test_binary_junk_named_txt_is_refused():
    junk = random.Random(0).randbytes(20_000)
    with pytest.raises(ConversionError, match="Le fichier ne contient pas de texte lisible"):
        convert(junk, "notes.txt")


def test_pdf_renamed_docx_is_read_as_pdf_with_a_warning():
    data = ff.text_pdf([["Délibération sur les tarifs municipaux de la piscine."]])
    document = convert(data, "rapport.docx")
    assert document.format == "pdf"
    assert "piscine" in document.text
    assert any(".docx" in w and "PDF" in w for w in document.warnings)


def test_detection_uses_content_not_extension():
    assert detect_format(ff.docx_file(), "x.pdf") == "docx"
    assert detect_format(ff.xlsx_file(), "x.bin") == "xlsx"
    assert detect_format(ff.odt_file(), "x") == "odt"
    assert detect_format(ff.ods_file(), "x.xlsx") == "ods"
    assert detect_format(b"<!DOCTYPE html><html><body>x</body></html>", "page.txt") == "html"
    assert detect_format(b"a;b\n1;2\n", "table.csv") == "csv"
    assert detect_format(b"# Titre\n", "notes.md") == "markdown"
    assert detect_format(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "photo.jpg") == "image"


def test_unsupported_zip_is_refused_in_french():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.txt", "bonjour")
    with pytest.raises(ConversionError, match="n'est pas pris en charge"):
        convert(out.getvalue(), "archive.zip")


def test_library_failure_becomes_a_french_conversion_error(monkeypatch, caplog):
    from ai.converters import docx as docx_mod

    def broken(data, options):
        raise KeyError("word/styles.xml")

    monkeypatch.setattr(docx_mod, "convert", broken)
    with (
        caplog.at_level(logging.ERROR, logger="ai.converters"),
        pytest.raises(ConversionError, match=r"n'a pas pu être lu \(format Word"),
    ):
        convert(ff.docx_file(), "statuts.docx")
    assert any(r.name == "ai.converters" and r.exc_info for r in caplog.records)


# --- PDF ---------------------------------------------------------------------------------------


def test_text_pdf_keeps_pages_headings_and_accents():
    data = ff.text_pdf(
        [
            [
                "EXTRAIT DU REGISTRE DES DÉLIBÉRATIONS",
                "",
                "Le conseil municipal, après en avoir délibéré,",
                "approuve la convention de mise à disposition.",
            ],
            ["Article 1er", "La présente délibération sera affichée en mairie."],
        ],
        title="Microsoft Word - Délibération piscine.docx",
    )
    document = convert(data, "delib.pdf")
    assert document.format == "pdf"
    assert document.page_count == 2
    assert document.title == "Délibération piscine"
    assert document.ocr_pages == []
    assert {b.page for b in document.blocks} == {1, 2}
    assert "EXTRAIT DU REGISTRE DES DÉLIBÉRATIONS" in kinds(document, "heading")
    assert "Article 1er" in kinds(document, "heading")
    paragraph = next(b for b in document.blocks if "convention" in b.text)
    # The two lines of the sentence are one paragraph, on page 1.
    assert paragraph.text.startswith("Le conseil municipal, après en avoir délibéré, approuve")
    assert paragraph.page == 1


def test_encrypted_pdf_with_a_password_is_refused():
    data = ff.encrypted_pdf(ff.text_pdf([["Document confidentiel du service."]]), "secret")
    with pytest.raises(ConversionError, match="Le PDF est protégé par un mot de passe"):
        convert(data, "confidentiel.pdf")


def test_pdf_encrypted_with_an_empty_user_password_opens():
    data = ff.encrypted_pdf(ff.text_pdf([["Arrêté portant règlement de voirie communale."]]), "")
    document = convert(data, "arrete.pdf")
    assert "règlement de voirie" in document.text


def test_truncated_pdf_is_refused():
    data = ff.text_pdf([["Première page du procès-verbal de séance."]] * 3)
    with pytest.raises(ConversionError, match="Le PDF est endommagé ou incomplet"):
        convert(data[: len(data) // 2], "pv.pdf")


def test_truncated_corpus_pdf_is_refused():
    path = corpus_glob("a_council_acts/montpellier_deliberations_2014-04", "*.pdf")[0]
    data = path.read_bytes()
    with pytest.raises(ConversionError, match="Le PDF est endommagé ou incomplet"):
        convert(data[: len(data) // 2], path.name)


def test_scanned_page_without_ocr_is_reported():
    data = ff.text_pdf([["Page avec une couche texte suffisante pour être lue."], []])
    document = convert(data, "mixte.pdf", ocr=False)
    assert document.ocr_pages == []
    assert any("2" in w and "désactivée" in w for w in document.warnings)


def test_missing_tesseract_gives_a_warning_and_skips_the_page(monkeypatch):
    monkeypatch.setattr(ocr_mod, "unavailable_reason", lambda: "Tesseract n'est pas installé")
    data = ff.text_pdf([["Page avec une couche texte suffisante pour être lue."], []])
    document = convert(data, "mixte.pdf")
    assert document.page_count == 2
    assert document.ocr_pages == []
    assert any("Tesseract n'est pas installé" in w for w in document.warnings)


@needs_ocr
def test_scanned_pdf_page_is_ocred_in_french():
    data = ff.scanned_pdf(
        [
            "Extrait du registre des délibérations",
            "Le conseil municipal approuve la délibération",
            "relative à l'éclairage public du quartier.",
        ]
    )
    document = convert(data, "scan.pdf")
    assert document.ocr_pages == [1]
    text = document.text
    assert "délibération" in text
    assert "éclairage" in text
    assert all(b.page == 1 for b in document.blocks)


@needs_ocr
def test_max_ocr_pages_limits_the_work():
    page = ff.scanned_pdf(["Séance publique du conseil municipal"])
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for _ in range(3):
        writer.add_page(PdfReader(io.BytesIO(page)).pages[0])
    out = io.BytesIO()
    writer.write(out)
    document = convert(out.getvalue(), "scan3.pdf", max_ocr_pages=1)
    assert document.ocr_pages == [1]
    assert document.page_count == 3
    assert any("2, 3" in w for w in document.warnings)


# --- Images ------------------------------------------------------------------------------------


@needs_ocr
def test_png_image_is_ocred():
    image = ff.text_image(["Arrêté municipal de stationnement", "Périmètre de la fête votive"])
    document = convert(ff.image_bytes(image), "arrete.png")
    assert document.format == "image"
    assert document.ocr_pages == [1]
    assert "stationnement" in document.text
    assert "fête" in document.text


@needs_ocr
def test_image_without_text_is_refused():
    from PIL import Image

    blank = Image.new("L", (800, 600), 255)
    with pytest.raises(ConversionError, match="Aucun texte n'a été reconnu"):
        convert(ff.image_bytes(blank), "blanc.png")


def test_image_with_ocr_disabled_is_refused():
    from PIL import Image

    with pytest.raises(ConversionError, match="OCR"):
        convert(ff.image_bytes(Image.new("L", (50, 50), 255)), "x.png", ocr=False)


# --- Word, spreadsheets, OpenDocument ---------------------------------------------------------


def test_docx_headings_lists_and_table_rows():
    document = convert(ff.docx_file(), "reglement.docx")
    assert document.format == "docx"
    assert document.title == "Règlement intérieur du conseil municipal"
    headings = [(b.text, b.level) for b in document.blocks if b.kind == "heading"]
    assert ("Règlement intérieur", 1) in headings
    assert ("Article 2 – Convocation", 2) in headings
    assert kinds(document, "list_item") == [
        "La convocation précise l'ordre du jour.",
        "Elle est affichée en mairie.",
    ]
    assert kinds(document, "table_row") == [
        "Commission : Finances ; Président : Mme Durand ; Membres : 7",
        "Commission : Urbanisme ; Président : M. Petit ; Membres : 5",
    ]


def test_docx_zip_bomb_is_refused_quickly():
    bomb = ff.docx_bomb()
    assert len(bomb) < 10 * 1024 * 1024
    started = time.monotonic()
    with pytest.raises(ConversionError, match="anormalement compressé"):
        convert(bomb, "piege.docx")
    assert time.monotonic() - started < 2


def test_zip_bomb_with_lying_headers_is_not_inflated():
    # The headers claim 1 MB: the header checks pass, and reading stops at the declared size.
    bomb = ff.docx_bomb(size=1024**3, declared_size=1024 * 1024)
    started = time.monotonic()
    with pytest.raises(ConversionError, match=r"anormalement compressé|endommagé"):
        convert(bomb, "piege.docx")
    assert time.monotonic() - started < 2


def test_streaming_limit_stops_real_inflation():
    # Even with the header check bypassed, reading stops just past the budget.
    archive = zipfile.ZipFile(io.BytesIO(ff.docx_bomb(size=1024**3)))
    started = time.monotonic()
    with pytest.raises(safezip.ZipBombError):
        safezip.check_inflation(archive, "Word", limit=20 * 1024 * 1024)
    with pytest.raises(safezip.ZipBombError):
        safezip.read_member(archive, "word/document.xml", limit=20 * 1024 * 1024)
    assert time.monotonic() - started < 2


def test_xlsx_sheets_headers_and_french_dates():
    document = convert(ff.xlsx_file(), "subventions.xlsx")
    assert document.format == "xlsx"
    assert document.page_count == 2
    assert [(b.text, b.page) for b in document.blocks if b.kind == "heading"] == [
        ("Subventions", 1),
        ("Notes", 2),
    ]
    rows = kinds(document, "table_row")
    assert "Association : Comité des fêtes ; Montant : 1500 ; Date du vote : 14/03/2024" in rows
    assert "Association : Club de pétanque ; Montant : 750,5 ; Date du vote : 02/06/2024" in rows
    assert "Remarque : Vote à l'unanimité ; Auteur : Secrétariat" in rows
    # The title line above the header is kept as a paragraph.
    assert "Subventions aux associations 2024" in kinds(document, "paragraph")


def test_xlsx_row_cap_gives_a_warning(monkeypatch):
    from ai.converters import common

    monkeypatch.setattr(common, "MAX_ROWS_PER_SHEET", 1)
    document = convert(ff.xlsx_file(), "subventions.xlsx")
    assert any("Subventions" in w and "premières lignes" in w for w in document.warnings)


def test_odt_headings_and_lists():
    document = convert(ff.odt_file(), "cr.odt")
    assert document.format == "odt"
    assert [(b.text, b.level) for b in document.blocks if b.kind == "heading"] == [
        ("Compte rendu de la réunion", 1),
        ("Décisions", 2),
    ]
    assert kinds(document, "list_item") == ["Approbation du budget", "Création d'un poste d'agent"]
    assert document.title == "Compte rendu de la réunion"


def test_ods_sheet_rows_without_expanding_empty_repeats():
    started = time.monotonic()
    document = convert(ff.ods_file(), "marches.ods")
    assert time.monotonic() - started < 5
    assert document.format == "ods"
    assert kinds(document, "heading") == ["Marchés"]
    assert kinds(document, "table_row") == [
        "Objet : Entretien de la voirie ; Titulaire : Société Exemple ; Notification : 03/05/2012"
    ]


# --- CSV, text, Markdown, HTML -----------------------------------------------------------------


def test_cp1252_semicolon_csv_with_ragged_row():
    document = convert(ff.csv_cp1252(), "budget.csv")
    assert document.format == "csv"
    rows = kinds(document, "table_row")
    assert rows[0] == (
        "Libellé : Entretien des espaces verts ; Montant : 12 500,00 ; Catégorie : Dépenses"
    )
    assert rows[1].endswith("Catégorie : Événements")
    # The extra cell of a ragged row is kept under a numbered column.
    assert rows[2].endswith("Catégorie : Équipement ; colonne 4 : note en trop")


def test_comma_and_tab_separated_csv():
    comma = convert(b'nom,ville\n"Dupont, Jean",Lyon\n', "a.csv")
    assert kinds(comma, "table_row") == ["nom : Dupont, Jean ; ville : Lyon"]
    tab = convert("service\tétage\nÉtat civil\t1\n".encode(), "b.tsv")
    assert kinds(tab, "table_row") == ["service : État civil ; étage : 1"]


def test_decode_prefers_cp1252_over_similar_codecs():
    text, encoding = decode_text("Réunion de la commission des élèves à Sète".encode("cp1252"))
    assert text == "Réunion de la commission des élèves à Sète"
    assert encoding == "cp1252"


def test_markdown_headings_and_lists():
    data = (
        "# Guide de l'agent\n\nBienvenue dans les **services** municipaux.\n\n"
        "## Congés\n\n- Poser ses congés dans le logiciel\n- Prévenir son responsable\n"
    ).encode()
    document = convert(data, "guide.md")
    assert document.format == "markdown"
    assert document.title == "Guide de l'agent"
    assert [(b.text, b.level) for b in document.blocks if b.kind == "heading"] == [
        ("Guide de l'agent", 1),
        ("Congés", 2),
    ]
    assert "Bienvenue dans les services municipaux." in kinds(document, "paragraph")
    assert len(kinds(document, "list_item")) == 2


def test_plain_text_in_latin1_with_pages():
    data = "Première page : état des lieux.\fSeconde page : conclusions du rapport.".encode(
        "latin-1"
    )
    document = convert(data, "rapport.txt")
    assert document.format == "txt"
    assert document.page_count == 2
    assert [b.page for b in document.blocks] == [1, 2]
    assert "état des lieux" in document.text


HTML_PAGE = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Ville de Clairval - Inscriptions</title>
<meta property="og:title" content="Inscriptions scolaires"></head>
<body>
<nav><ul><li><a href="/">Accueil</a></li><li><a href="/demarches">Vos démarches</a></li>
<li><a href="/agenda">Agenda culturel</a></li></ul></nav>
<main><article>
<h1>Inscriptions scolaires 2025</h1>
<p>Les inscriptions pour la rentrée scolaire sont ouvertes du 1er mars au 30 avril, en mairie
ou en ligne, sur présentation d'un justificatif de domicile de moins de trois mois.</p>
<h2>Pièces à fournir</h2>
<ul><li>Livret de famille ou acte de naissance de l'enfant</li>
<li>Carnet de santé avec les vaccinations à jour</li></ul>
<p>Le dossier complet est à déposer au guichet unique de l'hôtel de ville, place de la
République, aux heures d'ouverture habituelles du service éducation.</p>
</article></main>
<footer><p>Mentions légales - Plan du site - Nous contacter</p></footer>
</body></html>"""


def test_html_main_content_without_menus_or_footer():
    document = convert(HTML_PAGE.encode(), "inscriptions.html")
    assert document.format == "html"
    assert document.title == "Inscriptions scolaires"
    text = document.text
    assert "justificatif de domicile" in text
    assert "Mentions légales" not in text
    assert "Agenda culturel" not in text
    headings = [(b.text, b.level) for b in document.blocks if b.kind == "heading"]
    assert ("Inscriptions scolaires 2025", 1) in headings
    assert ("Pièces à fournir", 2) in headings
    assert "Carnet de santé avec les vaccinations à jour" in kinds(document, "list_item")


def test_html_fallback_parser_drops_navigation(monkeypatch):
    from ai.converters import html as html_mod

    monkeypatch.setattr(html_mod, "_trafilatura_blocks", lambda html: [])
    document = convert(HTML_PAGE.encode(), "inscriptions.htm")
    assert "justificatif de domicile" in document.text
    assert "Mentions légales" not in document.text
    assert "Vos démarches" not in document.text
    assert ("Pièces à fournir", 2) in [
        (b.text, b.level) for b in document.blocks if b.kind == "heading"
    ]


def test_heading_detection_is_conservative():
    assert heading_level("Article 3 : Publicité") == 2
    assert heading_level("1.2 Les outils d'accompagnement") == 3
    assert heading_level("ARRÊTE") == 2
    assert heading_level("DÉLIBÉRATION DU CONSEIL MUNICIPAL") == 2
    assert heading_level("Article 1er : Le maire est autorisé à signer la convention annexée.") == 0
    assert heading_level("Le conseil municipal approuve le budget.") == 0
    assert heading_level("2014 / 155") == 0
    assert heading_level("DELAFOSSE") == 0
    assert heading_level("4 représentants de la ville") == 0


# --- Corpus ------------------------------------------------------------------------------------


def test_corpus_montpellier_deliberations_keep_pages():
    files = corpus_glob("a_council_acts/montpellier_deliberations_2014-04", "*.pdf")
    multi = None
    for path in files:
        document = convert(path.read_bytes(), path.name, ocr=False)
        assert document.format == "pdf"
        assert document.blocks
        if document.page_count >= 2 and multi is None:
            multi = document
    assert multi is not None
    pages = {b.page for b in multi.blocks}
    assert pages == set(range(1, multi.page_count + 1))
    assert "Conseil Municipal" in multi.text
    assert "délibérations" in multi.text or "Séance publique" in multi.text


@needs_ocr
def test_corpus_scanned_compte_rendu_first_page_is_ocred():
    path = corpus_file("a_council_acts/montpellier_pv_cr/montpellier_CR_CM_20_06_2011.pdf")
    document = convert(path.read_bytes(), path.name, max_ocr_pages=1)
    assert document.page_count > 1
    assert document.ocr_pages == [1]
    text = document.text
    assert "Conseil municipal" in text
    assert "Séance publique" in text or "séance" in text
    assert {b.page for b in document.blocks} == {1}


def test_corpus_budget_csv_accents():
    path = corpus_file("h_office_docs_misc/montpellier/montpellier_budget_primitif_2014.csv")
    document = convert(path.read_bytes(), path.name)
    rows = kinds(document, "table_row")
    assert len(rows) > 1000
    assert "Libellé fonction : ADMINISTRATION GENERALE DE LA COLLECTIVITE" in rows[0]
    assert "BP : 1 063 850,00" in rows[0]
    assert "Ã" not in document.text
    assert "\ufffd" not in document.text


@pytest.mark.parametrize(
    "relative",
    [
        "h_office_docs_misc/montpellier/montpellier_fourriere_stats.xls",
        "h_office_docs_misc/montpellier/montpellier_enquete_satisfaction_qualiville_2013.xlsx",
        "h_office_docs_misc/montpellier/montpellier_frequentation_etat_civil.docx",
        "h_office_docs_misc/montpellier/montpellier_frequentation_service_education.docx",
        "d_invoices/montpellier_procurement/montpellier_marches_conclus_2012.ods",
        "d_invoices/montpellier_procurement/montpellier_marches_conclus_2013.xls",
    ],
)
def test_corpus_office_files_convert(relative):
    path = corpus_file(relative)
    document = convert(path.read_bytes(), path.name)
    assert document.blocks
    assert document.format == path.suffix.lstrip(".")
    assert "Calendrier" in document.text or kinds(document, "table_row")


def test_corpus_xls_sheets_are_pages():
    path = corpus_file("h_office_docs_misc/montpellier/montpellier_fourriere_stats.xls")
    document = convert(path.read_bytes(), path.name)
    assert document.page_count == 2
    assert [b.text for b in document.blocks if b.kind == "heading"] == [
        "Enlèvement de véhicules",
        "Sorties de véhicules",
    ]
    assert any(r.startswith("Année : 2012 ; ") for r in kinds(document, "table_row"))


def test_corpus_legacy_doc():
    path = corpus_file("h_office_docs_misc/montpellier/montpellier_frequentation_mosson.doc")
    from ai.converters import doc as doc_mod

    if doc_mod.antiword_path() is None:
        with pytest.raises(ConversionError, match=r"Word 97-2003 \(\.doc\) n'est pas pris"):
            convert(path.read_bytes(), path.name)
        return
    document = convert(path.read_bytes(), path.name)
    assert document.format == "doc"
    assert "Mairie de Proximité MOSSON" in document.text


def test_doc_without_antiword_is_refused_in_french(monkeypatch):
    path = corpus_file("h_office_docs_misc/montpellier/montpellier_frequentation_mosson.doc")
    from ai.converters import doc as doc_mod

    monkeypatch.setattr(doc_mod, "antiword_path", lambda: None)
    with pytest.raises(ConversionError, match=r"enregistrez le document en \.docx ou en PDF"):
        convert(path.read_bytes(), path.name)

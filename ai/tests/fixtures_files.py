"""Small documents built in code for converter and ingestion tests (no binary fixtures in git).

Every builder returns bytes. The people and places named are fictitious.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
import zlib
from pathlib import Path

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


# --- PDF with a text layer, written by hand -----------------------------------------------------


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def text_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A PDF whose pages carry the given lines in Helvetica (WinAnsi: French accents work).

    An empty line list gives a page without any text (like a scanned page with no text layer).
    """
    objects: list[bytes] = []
    font_id = 3
    page_ids = []
    first_page_id = 4
    for index, lines in enumerate(pages):
        page_id = first_page_id + 2 * index
        page_ids.append(page_id)
        content = b"BT /F1 11 Tf 14 TL 60 780 Td\n"
        for line in lines:
            content += _pdf_string(line) + b" Tj T*\n"
        content += b"ET\n"
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font_id, page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream")
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    header_objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    all_objects = header_objects + objects
    info_id = None
    if title is not None:
        all_objects.append(b"<< /Title " + _pdf_string(title) + b" /Producer (tests) >>")
        info_id = len(all_objects)

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(all_objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(all_objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"<< /Size %d /Root 1 0 R" % (len(all_objects) + 1)
    if info_id:
        trailer += b" /Info %d 0 R" % info_id
    out.write(b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def encrypted_pdf(data: bytes, user_password: str, owner_password: str = "") -> bytes:
    """The same PDF encrypted with RC4-128 (needs no cryptography package)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(
        user_password=user_password,
        owner_password=owner_password or "proprietaire",
        algorithm="RC4-128",
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- Images of text (for OCR) ------------------------------------------------------------------


def text_image(lines: list[str], *, dpi: int = 300, font_pt: float = 14):
    """A white A5-ish page with black DejaVu text at `dpi` (a PIL image)."""
    from PIL import Image, ImageDraw, ImageFont

    px = round(font_pt * dpi / 72)
    font = ImageFont.truetype(str(DEJAVU), px)
    width = round(6.5 * dpi)
    height = round((len(lines) * 1.8 + 2) * px)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    y = px
    for line in lines:
        draw.text((px, y), line, font=font, fill=0)
        y += round(px * 1.8)
    return image


def image_bytes(image, fmt: str = "PNG", dpi: int = 300) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, dpi=(dpi, dpi))
    return out.getvalue()


def scanned_pdf(lines: list[str]) -> bytes:
    """A one-page PDF that is only a picture of the text (no text layer)."""
    out = io.BytesIO()
    text_image(lines).convert("RGB").save(out, format="PDF", resolution=300)
    return out.getvalue()


# --- Office files ------------------------------------------------------------------------------


def docx_file() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Règlement intérieur du conseil municipal"
    document.add_heading("Règlement intérieur", level=1)
    document.add_paragraph("Le conseil municipal se réunit au moins une fois par trimestre.")
    document.add_heading("Article 2 – Convocation", level=2)
    document.add_paragraph("La convocation précise l'ordre du jour.", style="List Bullet")
    document.add_paragraph("Elle est affichée en mairie.", style="List Bullet")
    table = document.add_table(rows=3, cols=3)
    rows = [
        ("Commission", "Président", "Membres"),
        ("Finances", "Mme Durand", "7"),
        ("Urbanisme", "M. Petit", "5"),
    ]
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_file() -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Subventions"
    sheet.append(["Subventions aux associations 2024"])
    sheet.append([])
    sheet.append(["Association", "Montant", "Date du vote"])
    sheet.append(["Comité des fêtes", 1500, dt.datetime(2024, 3, 14)])
    sheet.append(["Club de pétanque", 750.5, dt.date(2024, 6, 2)])
    second = workbook.create_sheet("Notes")
    second.append(["Remarque", "Auteur"])
    second.append(["Vote à l'unanimité", "Secrétariat"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_cp1252() -> bytes:
    text = (
        "Libellé;Montant;Catégorie\r\n"
        "Entretien des espaces verts;12 500,00;Dépenses\r\n"
        "Fête de la musique;3 200,50;Événements\r\n"
        "Réfection de l'école;45 000,00;Équipement;note en trop\r\n"
    )
    return text.encode("cp1252")


def odt_file() -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.style import Style, TextProperties
    from odf.text import H, List, ListItem, P

    document = OpenDocumentText()
    style = Style(name="Gras", family="paragraph")
    style.addElement(TextProperties(fontweight="bold"))
    document.automaticstyles.addElement(style)
    document.text.addElement(H(outlinelevel=1, text="Compte rendu de la réunion"))
    document.text.addElement(P(text="La séance est ouverte à dix-huit heures."))
    document.text.addElement(H(outlinelevel=2, text="Décisions"))
    items = List()
    for text in ("Approbation du budget", "Création d'un poste d'agent"):
        item = ListItem()
        item.addElement(P(text=text))
        items.addElement(item)
    document.text.addElement(items)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def ods_file() -> bytes:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    table = Table(name="Marchés")
    rows = [
        [("string", "Objet"), ("string", "Titulaire"), ("string", "Notification")],
        [
            ("string", "Entretien de la voirie"),
            ("string", "Société Exemple"),
            ("date", "2012-05-03"),
        ],
    ]
    for values in rows:
        row = TableRow()
        for kind, value in values:
            if kind == "date":
                cell = TableCell(valuetype="date", datevalue=value)
                cell.addElement(P(text=value))
            else:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=value))
            row.addElement(cell)
        table.addElement(row)
    # Sheets end with a huge run of repeated empty rows: the converter must not expand it.
    filler = TableRow(numberrowsrepeated=1048000)
    filler.addElement(TableCell(numbercolumnsrepeated=1024))
    table.addElement(filler)
    document.spreadsheet.addElement(table)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


# --- Zip bomb ----------------------------------------------------------------------------------

_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    b'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>'
)


def _deflated_spaces(size: int) -> tuple[bytes, int]:
    """Raw deflate of `size` spaces, and its CRC, built from one repeated 1 MiB block.

    After a full flush the compressor starts afresh, so every 1 MiB block compresses to the
    same bytes: a 3 GB member is built in milliseconds (only the CRC takes ~1 s).
    """
    chunk = b" " * (1 << 20)
    assert size % len(chunk) == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush()
    count = size // len(chunk)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    return block * count + tail, crc


def _zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """members: (name, raw data, method, crc, declared uncompressed size)."""
    out = io.BytesIO()
    central = b""
    for name, raw, method, crc, size in members:
        offset = out.tell()
        encoded = name.encode()
        out.write(
            struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                20,
                0,
                method,
                0,
                0x21,
                crc,
                len(raw),
                size,
                len(encoded),
                0,
            )
        )
        out.write(encoded)
        out.write(raw)
        central += (
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                0,
                0x21,
                crc,
                len(raw),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    start = out.tell()
    out.write(central)
    out.write(
        struct.pack(
            "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), start, 0
        )
    )
    return out.getvalue()


def docx_bomb(size: int = 3 * 1024**3, declared_size: int | None = None) -> bytes:
    """A '.docx' whose word/document.xml inflates to `size` bytes (3 GB by default, ~3 MB on
    disk). `declared_size` makes the zip headers lie about it."""
    raw, crc = _deflated_spaces(size)
    return _zip(
        [
            (
                "[Content_Types].xml",
                _CONTENT_TYPES,
                zipfile.ZIP_STORED,
                zlib.crc32(_CONTENT_TYPES),
                len(_CONTENT_TYPES),
            ),
            (
                "word/document.xml",
                raw,
                zipfile.ZIP_DEFLATED,
                crc,
                size if declared_size is None else declared_size,
            ),
        ]
    )

"""XLS (Excel 97-2003) with xlrd: one heading per sheet, one block per row."""

from __future__ import annotations

from .base import Block, ConversionError, ConvertedDocument
from .common import Options, clean_inline, rows_to_blocks

LABEL = "Excel 97-2003 (.xls)"


def convert(data: bytes, options: Options) -> ConvertedDocument:
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True, logfile=_NullLog())
    except xlrd.XLRDError as exc:
        message = str(exc).lower()
        if "encrypt" in message or "password" in message:
            raise ConversionError(
                "Le classeur Excel est protégé par un mot de passe : il ne peut pas être lu. "
                "Envoyez une version sans mot de passe."
            ) from exc
        raise ConversionError(
            f"Le fichier {LABEL} est endommagé ou dans un format non reconnu : "
            "enregistrez-le à nouveau en .xlsx."
        ) from exc
    warnings: list[str] = []
    blocks: list[Block] = []
    try:
        count = book.nsheets
        for index in range(count):
            sheet = book.sheet_by_index(index)
            name = clean_inline(sheet.name) or f"Feuille {index + 1}"
            blocks.append(Block(text=name, kind="heading", level=1, page=index + 1))
            blocks.extend(
                rows_to_blocks(
                    _rows(sheet, book.datemode),
                    page=index + 1,
                    warnings=warnings,
                    label=f"Feuille « {name} »",
                )
            )
            book.unload_sheet(index)
    finally:
        book.release_resources()
    return ConvertedDocument(blocks=blocks, page_count=count, format="xls", warnings=warnings)


def _rows(sheet, datemode: int):
    import xlrd

    for row_index in range(sheet.nrows):
        values: list[object] = []
        for cell in sheet.row(row_index):
            if cell.ctype == xlrd.XL_CELL_DATE:
                try:
                    moment = xlrd.xldate_as_datetime(cell.value, datemode)
                    # A serial below 1 is a time of day without a date.
                    values.append(moment.time() if 0 <= cell.value < 1 else moment)
                except (xlrd.xldate.XLDateError, ValueError, OverflowError):
                    values.append(cell.value)
            elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                values.append(bool(cell.value))
            elif cell.ctype in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                values.append(None)
            else:
                values.append(cell.value)
        yield values


class _NullLog:
    """xlrd prints warnings about odd records to stdout by default."""

    def write(self, _text: str) -> None:
        pass

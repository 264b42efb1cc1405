"""XLSX (Excel 2007+) with openpyxl in read-only mode: one heading per sheet, one block per row."""

from __future__ import annotations

import io
import warnings as py_warnings

from .base import Block, ConvertedDocument
from .common import Options, clean_inline, rows_to_blocks
from .safezip import open_checked

LABEL = "Excel (.xlsx)"


def convert(data: bytes, options: Options) -> ConvertedDocument:
    import openpyxl

    open_checked(data, LABEL)
    warnings: list[str] = []
    blocks: list[Block] = []
    with py_warnings.catch_warnings():
        # "Workbook contains no default style", "Data Validation extension"... are noise.
        py_warnings.simplefilter("ignore")
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheets = workbook.worksheets
            for index, sheet in enumerate(sheets, start=1):
                name = clean_inline(str(sheet.title)) or f"Feuille {index}"
                blocks.append(Block(text=name, kind="heading", level=1, page=index))
                if not hasattr(sheet, "iter_rows"):  # chart sheets have no cells
                    continue
                blocks.extend(
                    rows_to_blocks(
                        sheet.iter_rows(values_only=True),
                        page=index,
                        warnings=warnings,
                        label=f"Feuille « {name} »",
                    )
                )
            title = ""
            try:
                title = clean_inline(workbook.properties.title or "")
            except Exception:  # malformed docProps only cost the title
                title = ""
        finally:
            workbook.close()
    return ConvertedDocument(
        blocks=blocks,
        page_count=len(sheets),
        title=title,
        format="xlsx",
        warnings=warnings,
    )

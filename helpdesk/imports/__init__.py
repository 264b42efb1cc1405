"""Import of past tickets and knowledge-base articles from a CSV or XLSX file.

The flow: `create_job` stores the uploaded file and guesses which column fills which field;
the technician checks the mapping in the console; `start_import` validates it and runs
`run_import` in a django-q2 task, which saves its progress as it goes.

Decisions (documented for the console and the tests):

* Tickets need a title column. A row whose title cell is empty takes its title from the start
  of its description; a row with neither is refused. Articles need a title and a body column,
  and both cells on every row.
* Idempotency: the key is the mapped « n° d'origine » column; without one, a stable hash of
  (title, description or body, opening date as found in the file) prefixed with `h:`. A key
  already imported updates the ticket/article (only the mapped fields) or counts it unchanged.
  Imported tickets have `origin=import`; articles are matched on `external_id`.
* Priorities: GLPI labels and French labels (« Très basse », « Basse » -> Basse ; « Moyenne »,
  « Normale » -> Normale ; « Haute » -> Haute ; « Très haute », « Majeure », « Urgente » ->
  Urgente), or GLPI's integers 1-6 (1-2 -> Basse, 3 -> Normale, 4 -> Haute, 5-6 -> Urgente).
  Any other value refuses the row; an empty cell gives Normale.
* Statuses: GLPI labels « Nouveau », « En cours (attribué) », « En cours (planifié) »,
  « En attente », « Résolu », « Clos » (or GLPI's integers 1-6) and the model's labels. Any
  other value refuses the row. An empty cell, or no status column, gives « Clos »: these are
  past tickets, imported for history, and must not flood the technicians' queue.
* Dates: dd/mm/yyyy [hh:mm[:ss]] (also with - or .), yyyy-mm-dd [hh:mm[:ss]], ISO 8601; naive
  dates are in the project's time zone. Without a date column (or an empty cell), a new
  ticket is opened « now ».
* Categories: a cell is first looked up as a category `code`, then read as a path
  « Matériel > Imprimantes » whose nodes are created as needed; the leaf keeps the cell as
  its `code`, so a code (« 4 ») becomes a root category named and coded « 4 ».
* Requester: looked up by e-mail (then user name); unknown -> left empty, no error. The
  ticket's direction is the « Entité »/direction column (code or name) when mapped and known,
  else the requester's first direction.
"""

from helpdesk.imports.fields import (
    ARTICLE_FIELDS,
    TICKET_FIELDS,
    FieldSpec,
    fields_for,
    guess_mapping,
    validate_mapping,
)
from helpdesk.imports.jobs import create_job, job_table, run_import, start_import
from helpdesk.imports.reading import (
    PREVIEW_ROWS,
    ImportFileError,
    RowError,
    Table,
    max_bytes,
    max_rows,
    read_table,
)
from helpdesk.imports.values import parse_date, parse_priority, parse_status

__all__ = [
    "ARTICLE_FIELDS",
    "PREVIEW_ROWS",
    "TICKET_FIELDS",
    "FieldSpec",
    "ImportFileError",
    "RowError",
    "Table",
    "create_job",
    "fields_for",
    "guess_mapping",
    "job_table",
    "max_bytes",
    "max_rows",
    "parse_date",
    "parse_priority",
    "parse_status",
    "read_table",
    "run_import",
    "start_import",
    "validate_mapping",
]

"""The citizen portal's guide to online procedures (démarches).

Before searching documents, a citizen's request is matched against the catalogue: one clear
match → the procedure, its link and the documents to prepare; several close ones → one
clarifying question with the candidates as choices; none → the assistant answers from its
public documents as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ai.llm import LLMMessage
from chat.models import Message, Procedure


@dataclass
class Guided:
    text: str
    outcome: str
    sources: list[dict] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)


def procedure_source(procedure: Procedure, n: int = 1) -> dict:
    return {
        "n": n,
        "kind": "procedure",
        "title": procedure.title,
        "label": f"Démarche en ligne : {procedure.title}",
        "url": procedure.url,
        "page": None,
        "passage": procedure.description[:1200],
        "cited": True,
    }


def procedure_answer(procedure: Procedure) -> str:
    lines = [f"La démarche à suivre : **[{procedure.title}]({procedure.url})** [1]"]
    if procedure.description:
        lines += ["", procedure.description.strip()]
    documents = procedure.documents_list
    if documents:
        lines += ["", "Pièces à préparer :", ""] + [f"- {d}" for d in documents]
    if procedure.direction_id:
        lines += ["", f"Service en charge : {procedure.direction.name}."]
    lines += ["", f"Accéder à la démarche en ligne : {procedure.url}"]
    return "\n".join(lines)


def guide(assistant, question: str, history: list[LLMMessage]) -> Guided | None:
    """A procedure answer, a clarifying question, or None (answer from documents)."""
    from chat.procedures import match_procedures, needs_clarification

    previous_questions = [m.content for m in history if m.role == "user"]
    clarifying = (
        bool(history)
        and history[-1].role == "assistant"
        and _was_clarification(assistant, history[-1].content)
    )
    query = (
        f"{previous_questions[-1]} {question}" if clarifying and previous_questions else question
    )
    matches = match_procedures(query, limit=3)
    if not matches:
        return None
    # An answer to our own clarifying question is not asked about again.
    if not clarifying and needs_clarification(matches):
        choices = [m.procedure.title for m in matches]
        listed = " ; ".join(f"« {c} »" for c in choices)
        return Guided(
            text=(
                "Pour vous orienter vers la bonne démarche, pouvez-vous préciser votre demande ? "
                f"S'agit-il de : {listed} ?"
            ),
            outcome=Message.Outcome.CLARIFY,
            choices=choices,
        )
    best = matches[0].procedure
    return Guided(
        text=procedure_answer(best),
        outcome=Message.Outcome.ANSWERED,
        sources=[procedure_source(best)],
    )


def _was_clarification(assistant, content: str) -> bool:
    return content.startswith("Pour vous orienter vers la bonne démarche")

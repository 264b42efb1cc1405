"""What a ticket needs before the IT department can act, read from the agent's own words.

When the assistant's answer did not solve the problem, the agent's description is read for the
three facts a technician always asks first: the device, the exact error message, since when.
What is found pre-fills the ticket; what is missing is asked for, in plain French. A priority
is suggested from what the agent says about the impact (how many people, blocked or not) and
the urgency, with the reason shown so the agent can disagree.

Plain rules, on purpose: the agent sees why a field is pre-filled, and a wrong guess costs one
click. The category, which depends on the city's own tree, is learnt (helpdesk/classifier.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from helpdesk.models import Ticket

_FLAGS = re.IGNORECASE | re.UNICODE

# A device named by the agent, with what follows it up to a few words (« copieur du 2e étage »).
_DEVICE_WORDS = (
    r"imprimantes?|copieurs?|photocopieurs?|photocopieuses?|multifonctions?|scanners?|"
    r"postes?(?: de travail)?|ordinateurs?(?: portables?)?|pc(?: portables?)?|portables?|"
    r"laptops?|écrans?|clavier|souris|station d'accueil|docking|casques?|webcams?|"
    r"téléphones?(?: fixes?| portables?)?|smartphones?|mobiles?|tablettes?|iphone|android|"
    r"badges?|lecteurs? de badges?|lecteurs? de cartes?|vidéoprojecteurs?|projecteurs?|"
    r"tableaux? (?:blancs? )?interactifs?|borne wi-?fi|routeur|clé usb|disque dur"
)
_DEVICE = re.compile(
    rf"\b(?:{_DEVICE_WORDS})\b"
    r"(?:\s+(?:du|de la|de l'|des|au|à la|en|n°|numéro|de)\s*[\w'°-]+(?:\s+[\w°-]+)?)?",
    _FLAGS,
)
# An inventory tag or a machine name (« PC-MAIRIE-042 », « INV 12345 »).
_ASSET = re.compile(r"\b(?:[A-Z]{2,}[-_][A-Z0-9-]{2,}\d|INV\s?\d{3,}|\d{2,}-\d{3,})\b")

# The exact message: a quoted text, an error code, or the words after « message ».
_QUOTED = re.compile(r"[«\"“]\s*([^»\"”]{3,200}?)\s*[»\"”]")
_CODE = re.compile(
    r"\b(?:erreur|error|code)\s*(?:n°|:)?\s*((?:0x)?[0-9A-F]{3,10}|[A-Z]{1,4}[-]?\d{2,6})\b",
    _FLAGS,
)
_MESSAGE = re.compile(
    r"\b(?:message|erreur|s'affiche|affiche|indique|dit)\s*(?:d'erreur)?\s*:\s*([^\n.]{3,200})",
    _FLAGS,
)

# Since when: « depuis ce matin », « hier », « le 12/03 », « lundi »...
_SINCE = re.compile(
    r"\b(?:depuis\s+[^,.;\n]{2,40}|ce matin|cet après-midi|hier(?: soir| matin)?|"
    r"avant-hier|aujourd'hui|ce jour|cette semaine|la semaine dernière|"
    r"(?:ce |depuis )?(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)(?: dernier)?|"
    r"(?:le |du )?\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?|"
    r"(?:il y a|voilà)\s+\w+\s+(?:minutes?|heures?|jours?|semaines?|mois)|"
    r"à chaque (?:démarrage|connexion|fois)|tout à l'heure|ce midi)\b",
    _FLAGS,
)

_WIDE = re.compile(
    r"\b(?:tout le (?:service|bâtiment|monde|site|étage)|toute l'équipe|toute la direction|"
    r"tous les (?:agents|collègues|postes|utilisateurs)|plusieurs (?:collègues|agents|postes|"
    r"personnes|services|utilisateurs)|personne ne peut|aucun (?:agent|poste|collègue)|"
    r"tout l'étage|nous sommes tous|on est tous|l'accueil du public)\b",
    _FLAGS,
)
_BLOCKED = re.compile(
    r"\b(?:bloqué|bloquée|bloquant|impossible de (?:travailler|me connecter|se connecter|"
    r"démarrer|imprimer|accéder)|(?:je ne peux|on ne peut|nous ne pouvons) plus|"
    r"ne (?:démarre|s'allume|fonctionne|marche) plus|plus rien ne (?:marche|fonctionne)|"
    r"aucun accès|plus d'accès|écran noir|hors service|en panne)\b",
    _FLAGS,
)
_URGENT = re.compile(
    r"\b(?:urgent|urgence|au plus vite|immédiatement|dès que possible|avant ce soir|"
    r"conseil municipal|élections?|paie|échéance)\b",
    _FLAGS,
)
_LOW = re.compile(
    r"\b(?:pas urgent|quand vous (?:aurez|pourrez)|à l'occasion|sans urgence|"
    r"simple question|pour information|je souhaiterais|serait-il possible|amélioration)\b",
    _FLAGS,
)


@dataclass
class Intake:
    device: str = ""
    error_message: str = ""
    since: str = ""
    priority: int = Ticket.Priority.NORMAL
    priority_reason: str = ""
    missing: list[str] = field(default_factory=list)

    @property
    def questions(self) -> list[str]:
        """What to ask the agent, in the order a technician would."""
        return [QUESTIONS[name] for name in self.missing]


QUESTIONS = {
    "device": "Quel matériel est concerné ? (son nom, ou son numéro d'inventaire s'il est collé "
    "dessus)",
    "error_message": "Quel message d'erreur s'affiche, mot pour mot ? (« aucun » s'il n'y en a "
    "pas)",
    "since": "Depuis quand le problème se produit-il ?",
}


def _tidy(text: str, limit: int) -> str:
    return re.sub(r"\s+", " ", text).strip(" .,;:-")[:limit]


def find_device(text: str) -> str:
    asset = _ASSET.search(text)
    match = _DEVICE.search(text)
    found = _tidy(match.group(0), 120) if match else ""
    if asset and found.lower() in asset.group(0).lower():
        found = asset.group(0)
    elif asset and asset.group(0) not in found:
        found = f"{found} ({asset.group(0)})" if found else asset.group(0)
    return found


def find_error(text: str) -> str:
    for pattern in (_QUOTED, _CODE, _MESSAGE):
        match = pattern.search(text)
        if match:
            return _tidy(match.group(1), 200)
    return ""


def find_since(text: str) -> str:
    match = _SINCE.search(text)
    return _tidy(match.group(0), 120) if match else ""


def suggest_priority(text: str) -> tuple[int, str]:
    """A priority and its reason in French; Normale when nothing says otherwise."""
    low = _LOW.search(text)
    # « pas urgent » must not read as « urgent »: what says it can wait is removed first.
    rest = _LOW.sub(" ", text)
    wide, blocked, urgent = _WIDE.search(rest), _BLOCKED.search(rest), _URGENT.search(rest)
    if wide and blocked:
        return (
            Ticket.Priority.URGENT,
            f"plusieurs personnes sont bloquées (« {wide.group(0)} », « {blocked.group(0)} »)",
        )
    if wide:
        return Ticket.Priority.HIGH, f"plusieurs personnes sont touchées (« {wide.group(0)} »)"
    if blocked:
        return Ticket.Priority.HIGH, f"vous êtes bloqué (« {blocked.group(0)} »)"
    if urgent:
        return Ticket.Priority.HIGH, f"une échéance est en jeu (« {urgent.group(0)} »)"
    if low:
        return Ticket.Priority.LOW, f"la demande n'est pas pressante (« {low.group(0)} »)"
    return Ticket.Priority.NORMAL, ""


def read(text: str) -> Intake:
    """Everything the description already says, and what is still to ask."""
    text = text or ""
    intake = Intake(
        device=find_device(text), error_message=find_error(text), since=find_since(text)
    )
    intake.priority, intake.priority_reason = suggest_priority(text)
    intake.missing = [name for name in QUESTIONS if not getattr(intake, name)]
    return intake

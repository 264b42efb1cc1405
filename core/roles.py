"""Roles of the workplace: Django groups that carry model permissions.

A role says what a person may *do* (draft an act, read CVs...); `core.access` says on which
rows. This module only holds constants so settings can import it before apps are loaded.
Permissions of apps that are not installed yet are skipped when roles are synchronised.
"""

from __future__ import annotations

AGENT = "agent"
MANAGER = "manager"
RECRUTEUR = "recruteur"
JURISTE = "juriste"
FINANCES = "finances"
FONCIER = "foncier"
TECHNICIEN_DSI = "technicien DSI"
RESPONSABLE_DSI = "responsable DSI"
ADMIN_IA = "administrateur IA"

# Role name -> permissions ("app_label.codename"). Later apps add theirs here.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    AGENT: ("core.view_announcement", "core.view_direction"),
    MANAGER: (
        "core.view_announcement",
        "core.view_direction",
        "core.add_announcement",
        "core.change_announcement",
        "core.delete_announcement",
    ),
    RECRUTEUR: ("core.view_announcement", "core.view_direction"),
    JURISTE: ("core.view_announcement", "core.view_direction"),
    FINANCES: ("core.view_announcement", "core.view_direction"),
    FONCIER: ("core.view_announcement", "core.view_direction"),
    TECHNICIEN_DSI: (
        "core.view_announcement",
        "core.view_direction",
        # Every ticket, the knowledge base, imports of past tickets.
        "helpdesk.view_all_tickets",
        "helpdesk.change_ticket",
        "helpdesk.add_article",
        "helpdesk.change_article",
        "helpdesk.add_importjob",
        "helpdesk.view_importjob",
        "helpdesk.view_dashboard",
    ),
    # The IT manager: what technicians do, and the spike alerts (e-mail and notification).
    RESPONSABLE_DSI: (
        "core.view_announcement",
        "core.view_direction",
        "helpdesk.view_all_tickets",
        "helpdesk.change_ticket",
        "helpdesk.add_article",
        "helpdesk.change_article",
        "helpdesk.add_importjob",
        "helpdesk.view_importjob",
        "helpdesk.view_dashboard",
        "helpdesk.receive_alerts",
    ),
    ADMIN_IA: (
        "core.view_announcement",
        "core.view_direction",
        "core.view_auditevent",
        "core.view_membership",
        "ai.add_collection",
        "ai.change_collection",
        "ai.delete_collection",
        "ai.add_source",
        "ai.change_source",
        "ai.view_as",
        "chat.add_assistant",
        "chat.change_assistant",
        "ai.add_languagemodel",
        "ai.change_languagemodel",
        # The citizen portal's catalogue of online procedures (one, shared by all directions).
        "chat.add_procedure",
        "chat.change_procedure",
        "chat.delete_procedure",
    ),
}

ROLE_NAMES: tuple[str, ...] = tuple(ROLE_PERMISSIONS)

ROLE_DESCRIPTIONS: dict[str, str] = {
    AGENT: "Agent : portail, actualités, assistants de sa direction.",
    MANAGER: "Encadrant : publie les actualités de sa direction, voit les tableaux de bord.",
    RECRUTEUR: "Recruteur : CVthèque et rapprochement avec les fiches de poste.",
    JURISTE: "Juriste : comptes rendus de séance, rédaction d'arrêtés et de délibérations.",
    FINANCES: "Finances : factures, devis, contrats.",
    FONCIER: "Foncier : transactions immobilières et parcelles.",
    TECHNICIEN_DSI: "Technicien DSI : tickets et assistant technicien.",
    RESPONSABLE_DSI: "Responsable DSI : tickets, tableau de bord et alertes de hausse.",
    ADMIN_IA: "Administrateur IA : console d'indexation, modèles, journal d'audit.",
}

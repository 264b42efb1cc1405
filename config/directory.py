"""LDAP / Active Directory settings for django-auth-ldap, built from the environment.

Kept apart from settings.py because it imports python-ldap, which only the `ldap` extra installs.
"""

from __future__ import annotations

from typing import Any

from config.env import env_bool, env_optional, env_str


def ldap_settings() -> dict[str, Any]:
    """Return the AUTH_LDAP_* settings for the directory named by LDAP_SERVER_URI."""
    import ldap
    from django_auth_ldap.config import GroupOfNamesType, LDAPSearch

    settings: dict[str, Any] = {
        "AUTH_LDAP_SERVER_URI": env_str("LDAP_SERVER_URI"),
        "AUTH_LDAP_BIND_DN": env_str("LDAP_BIND_DN", ""),
        "AUTH_LDAP_BIND_PASSWORD": env_str("LDAP_BIND_PASSWORD", ""),
        "AUTH_LDAP_START_TLS": env_bool("LDAP_START_TLS", False),
        # Active Directory accepts sAMAccountName or mail; OpenLDAP uses uid.
        "AUTH_LDAP_USER_SEARCH": LDAPSearch(
            env_str("LDAP_USER_SEARCH_BASE"),
            ldap.SCOPE_SUBTREE,
            env_str("LDAP_USER_FILTER", "(|(sAMAccountName=%(user)s)(mail=%(user)s))"),
        ),
        "AUTH_LDAP_USER_ATTR_MAP": {
            "first_name": env_str("LDAP_ATTR_FIRST_NAME", "givenName"),
            "last_name": env_str("LDAP_ATTR_LAST_NAME", "sn"),
            "email": env_str("LDAP_ATTR_EMAIL", "mail"),
        },
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        "AUTH_LDAP_CONNECTION_OPTIONS": {ldap.OPT_REFERRALS: 0},
    }
    group_base = env_optional("LDAP_GROUP_SEARCH_BASE")
    if group_base:
        settings["AUTH_LDAP_GROUP_SEARCH"] = LDAPSearch(
            group_base, ldap.SCOPE_SUBTREE, "(objectClass=group)"
        )
        settings["AUTH_LDAP_GROUP_TYPE"] = GroupOfNamesType()
        if env_bool("LDAP_MIRROR_ROLES", True):
            from core.roles import ROLE_NAMES

            # Only directory groups named like a workplace role ("agent", "juriste"...) are
            # mirrored, so the directory cannot create arbitrary groups here.
            settings["AUTH_LDAP_MIRROR_GROUPS"] = list(ROLE_NAMES)
        require = env_optional("LDAP_REQUIRE_GROUP")
        if require:
            settings["AUTH_LDAP_REQUIRE_GROUP"] = require
    return settings

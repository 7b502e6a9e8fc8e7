"""What each role may do. Routes depend on a permission, never on a role name."""

import enum

from app.accounts.models import Role
from app.i18n import N_


class Permission(enum.StrEnum):
    VIEW_CAMPAIGNS = "view_campaigns"
    MANAGE_CAMPAIGNS = "manage_campaigns"
    MANAGE_DEPARTMENTS = "manage_departments"
    MANAGE_QUESTIONNAIRES = "manage_questionnaires"
    ISSUE_CODES = "issue_codes"
    VIEW_TURNOUT = "view_turnout"
    VIEW_RESULTS = "view_results"
    EXPORT_RESULTS = "export_results"
    VIEW_AUDIT = "view_audit"
    VIEW_OWN_RESULTS = "view_own_results"
    ENTER_TALLY_SHARE = "enter_tally_share"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission) - {Permission.VIEW_OWN_RESULTS},
    Role.AUDITOR: frozenset(
        {
            Permission.VIEW_CAMPAIGNS,
            Permission.VIEW_TURNOUT,
            Permission.VIEW_RESULTS,
            Permission.VIEW_AUDIT,
        }
    ),
    Role.LIAISON: frozenset({Permission.VIEW_OWN_RESULTS}),
    Role.TRUSTEE: frozenset({Permission.VIEW_CAMPAIGNS, Permission.ENTER_TALLY_SHARE}),
}


# What the console calls each role (translated when shown).
ROLE_NAMES: dict[Role, str] = {
    Role.ADMIN: N_("Office administrator"),
    Role.LIAISON: N_("Department liaison"),
    Role.AUDITOR: N_("Auditor"),
    Role.TRUSTEE: N_("Trustee"),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]

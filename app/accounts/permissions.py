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
    MANAGE_RECTIFICATION = "manage_rectification"  # the office: problem lists, tasks, review
    RESPOND_RECTIFICATION = "respond_rectification"  # a liaison: own department's tasks
    RECORD_FINDINGS = "record_findings"  # 暗访: record findings and see one's own
    MANAGE_INSPECTIONS = "manage_inspections"  # every finding, 通报单, scores, tasks


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission)
    - {Permission.VIEW_OWN_RESULTS, Permission.RESPOND_RECTIFICATION},
    Role.AUDITOR: frozenset(
        {
            Permission.VIEW_CAMPAIGNS,
            Permission.VIEW_TURNOUT,
            Permission.VIEW_RESULTS,
            Permission.VIEW_AUDIT,
        }
    ),
    Role.LIAISON: frozenset({Permission.VIEW_OWN_RESULTS, Permission.RESPOND_RECTIFICATION}),
    Role.TRUSTEE: frozenset({Permission.VIEW_CAMPAIGNS, Permission.ENTER_TALLY_SHARE}),
    # An inspector may work for a third party: findings only, no campaign, result or audit page.
    Role.INSPECTOR: frozenset({Permission.RECORD_FINDINGS}),
}


# What the console calls each role (translated when shown).
ROLE_NAMES: dict[Role, str] = {
    Role.ADMIN: N_("Office administrator"),
    Role.LIAISON: N_("Department liaison"),
    Role.AUDITOR: N_("Auditor"),
    Role.TRUSTEE: N_("Trustee"),
    Role.INSPECTOR: N_("Mystery inspector"),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]

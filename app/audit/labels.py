"""The audit trail as people read it: action codes and detail keys in words, values formatted.

The trail stores stable codes (``login_failed``, ``locked=False``); the console shows them as
labels in the reader's language and keeps the stored text beside them (a title attribute),
so that what is shown can always be matched to what ``pingyi audit verify`` checks.
Unknown codes are shown as stored.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.i18n import N_, gettext

ACTION_LABELS: dict[str, str] = {
    "login": N_("Signed in"),
    "login_failed": N_("Sign-in failed"),
    "logout": N_("Signed out"),
    "user_create": N_("Account created"),
    "user_disable": N_("Account disabled"),
    "user_reset_password": N_("Password reset"),
    "campaign_create": N_("Campaign created"),
    "campaign_update": N_("Campaign settings changed"),
    "campaign_open": N_("Campaign opened"),
    "campaign_close": N_("Campaign closed"),
    "campaign_tally": N_("Ballot box counted"),
    "campaign_publish": N_("Results published"),
    "campaign_seal": N_("Campaign sealed"),
    "codes_issue": N_("Codes issued"),
    "codes_download": N_("Codes downloaded"),
    "codes_revoke": N_("Codes revoked"),
    "comment_approve": N_("Comment approved"),
    "comment_reject": N_("Comment rejected"),
    "comment_reopen": N_("Comment put back to pending"),
    "comment_edit": N_("Parts of a comment hidden"),
    "results_view": N_("Results viewed"),
    "results_export": N_("Results exported"),
    "evaluations_export": N_("Evaluations exported"),
    "ballot_box_export": N_("Ballot box exported"),
    "tally_key_create": N_("Tally key made"),
    "tally_share_download": N_("Trustee share downloaded"),
    "tally_share_enter": N_("Trustee share entered"),
    "tally_shares_discard": N_("Trustee shares discarded"),
    "department_create": N_("Department added"),
    "department_update": N_("Department changed"),
    "department_import": N_("Departments imported"),
    "service_import": N_("Services imported"),
    "questionnaire_upload": N_("Questionnaire uploaded"),
    "roster_import": N_("Roster imported"),
    "keys_export": N_("Keys exported"),
    "keys_import": N_("Keys imported"),
    "secret_rotate": N_("Secret rotated"),
    "restore_acknowledged": N_("Restore acknowledged"),
    "inspection_scores_set": N_("Inspection scores set"),
    "inspection_bulletin_issue": N_("Inspection bulletin issued"),
    "finding_record": N_("Inspection finding recorded"),
    "finding_evidence_add": N_("Evidence added to a finding"),
}

DETAIL_LABELS: dict[str, str] = {
    "locked": N_("Account locked"),
    "campaign": N_("Campaign"),
    "campaigns": N_("Campaigns"),
    "rater_groups": N_("Rater groups"),
    "rater_group": N_("Rater group"),
    "count": N_("Count"),
    "batch": N_("Batch"),
    "format": N_("Format"),
    "from": N_("From"),
    "to": N_("To"),
    "status": N_("Status"),
    "role": N_("Role"),
    "department": N_("Department"),
    "name": N_("Name"),
    "version": N_("Version"),
    "trustee": N_("Trustee"),
    "changed": N_("Changed"),
    "added": N_("Added"),
    "created": N_("Newly created"),
    "updated": N_("Updated"),
    "kept": N_("Kept"),
    "ballots": N_("Ballots"),
    "evaluations": N_("Evaluations"),
    "bytes": N_("Size (bytes)"),
    "category": N_("Category"),
    "source": N_("Source"),
    "via": N_("Via"),
    "type": N_("Type"),
    "reference": N_("Reference"),
    "number": N_("Number"),
    "problems": N_("Problems"),
    "keys": N_("Keys"),
    "findings": N_("Findings"),
    "evidence": N_("Evidence"),
    "found_on": N_("Found on"),
    "disclosure_threshold": N_("Disclosure threshold"),
    "title_zh": N_("Title in Chinese"),
    "title_en": N_("Title in English"),
    "starts_on": N_("Start date"),
    "ends_on": N_("End date"),
}


@dataclass(frozen=True)
class DetailLine:
    """One detail of an entry: its label, its value in words, and both as stored."""

    label: str
    value: str
    raw: str


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return gettext(label) if label else action


def detail_lines(detail: Mapping[str, Any] | None) -> list[DetailLine]:
    return [
        DetailLine(
            label=gettext(DETAIL_LABELS[key]) if key in DETAIL_LABELS else key,
            value=format_value(value),
            raw=f"{key}={value!r}",
        )
        for key, value in (detail or {}).items()
    ]


def format_value(value: Any) -> str:
    """Booleans as yes/no, whole floats without ``.0``, mappings and lists as lists."""
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if value is None:
        return "—"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {format_value(item)}" for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return gettext(", ").join(format_value(item) for item in value) if value else "—"
    return str(value)

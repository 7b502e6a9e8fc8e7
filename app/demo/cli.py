"""``pingyi demo``: load a demo district, open its campaign and say how to try it."""

from pathlib import Path
from typing import Annotated

import typer

from app.campaigns import service as campaign_service
from app.campaigns.models import CampaignStatus
from app.cli_support import hashing_key, reported_errors
from app.config import get_settings
from app.credentials import keys as credential_keys
from app.db import session_scope

DEMO_STAFF_FILE = "demo-staff.txt"
DEMO_TRUSTEES_DIR = "trustees"


def demo(
    codes_out: Annotated[Path, typer.Option(help="CSV file for the demo admission codes")],
    show: Annotated[int, typer.Option(help="How many codes to print per rater group")] = 2,
) -> None:
    """Load a demo district and open a demo campaign (kept as is if it already exists)."""
    from app.demo import service as demo_service

    settings = get_settings()
    with reported_errors(), session_scope() as session:
        report = demo_service.load_demo(
            session,
            settings.surveys_dir,
            hashing_key(),
            codes_out,
            settings.disclosure_threshold,
            settings.var_dir / DEMO_TRUSTEES_DIR,
        )
        accounts = demo_service.demo_accounts(session, settings.var_dir / DEMO_STAFF_FILE)
        demo_campaign = campaign_service.get_campaign(session, report.slug)
        if demo_campaign.status == CampaignStatus.OPEN and settings.issues_credentials:
            credential_keys.open_campaign_keys(session, demo_campaign, settings.secret_bytes())
        unused = demo_service.unused_codes(session, hashing_key(), codes_out, per_group=show)
        campaign = campaign_service.get_campaign(session, report.slug)
        group_names = {group.key: group.name_zh for group in campaign.rater_groups}
    state = "created" if report.created else "already loaded; kept as it is"
    typer.echo(f"Demo campaign “{report.title}” ({report.slug}): {state}.")
    if accounts:
        typer.echo(
            f"Office console: {settings.public_base_url}/admin/login "
            f"(passwords kept in {settings.var_dir / DEMO_STAFF_FILE})"
        )
        for account in accounts:
            typer.echo(f"  {account.username:<12} {account.password:<14} {account.note}")
    if not codes_out.exists():
        typer.echo(
            f"{codes_out} does not exist: the demo codes were written once, to the file named "
            f"when the demo was first loaded, and only their hashes are kept. Issue new ones "
            f"with `pingyi codes issue {report.slug} --group citizens --count 10 --out FILE`."
        )
        return
    typer.echo(f"All demo codes are in {codes_out}. A few unused ones, by rater group:")
    for group_key, group_codes in unused.items():
        typer.echo(f"  {group_names.get(group_key, group_key)} ({group_key}):")
        for code in group_codes:
            typer.echo(f"    {code}    {settings.public_base_url}/r#{code}")
    typer.echo(f"Rate at {settings.public_base_url}/r by entering a code, or open a link above.")
    shares_found = sorted(report.shares_dir.glob("*.json"))
    if shares_found:
        typer.echo(
            "The demo trustees' shares (any 2 of 3 open the ballot box) are in "
            f"{report.shares_dir}."
        )
        typer.echo("To close this year's campaign and count it:")
        typer.echo(f"  pingyi campaign close {report.slug}")
        share_options = " ".join(f"--share {path}" for path in shares_found[:2])
        typer.echo(f"  pingyi tally {report.slug} {share_options}")

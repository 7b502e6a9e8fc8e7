"""``pingyi keys …`` and ``pingyi roster …``: credential keys and rosters from the command line."""

import json
from pathlib import Path
from typing import Annotated

import typer

from app import private_files
from app.accounts.cli import cli_actor
from app.audit import service as audit_service
from app.campaigns import service as campaign_service
from app.campaigns.models import CampaignStatus
from app.cli_support import fail, fail_with
from app.config import get_settings
from app.credentials import keys as credential_keys
from app.credentials import roster as roster_service
from app.credentials import transfer
from app.db import session_scope
from app.errors import PingyiError

keys_cli = typer.Typer(no_args_is_help=True, help="Signing keys of blind-signed credentials.")
roster_cli = typer.Typer(no_args_is_help=True, help="Rosters of known raters (credentials).")


@keys_cli.command("list")
def keys_list(slug: str) -> None:
    """A campaign's keys: rater group, scope, SHA-256 fingerprint, whether the private half is
    here. Read the fingerprints to the other office to check a key file arrived unchanged."""
    try:
        with session_scope() as session:
            campaign = campaign_service.get_campaign(session, slug)
            private = {
                key.id
                for key in credential_keys.keys_of(session, campaign)
                if key.private_key is not None
            }
            for info in credential_keys.public_keys(session, campaign):
                scope = info.target.department.code if info.target else "*"
                half = "private+public" if info.id in private else "public only"
                typer.echo(f"{info.rater_group.key}\t{scope}\t{info.fingerprint.hex()}\t{half}")
    except PingyiError as error:
        fail_with(error)


@keys_cli.command("create")
def keys_create(slug: str) -> None:
    """Make any missing key of an open campaign (one opened before credentials existed)."""
    settings = get_settings()
    if not settings.issues_credentials:
        fail("This is a collector (PINGYI_ROLE=collector): it holds no private keys")
    try:
        with session_scope() as session:
            campaign = campaign_service.get_campaign(session, slug)
            if campaign.status != CampaignStatus.OPEN:
                fail(f"{slug} is {campaign.status.value}: keys are made when a campaign opens")
            keys = credential_keys.open_campaign_keys(session, campaign, settings.secret_bytes())
            typer.echo(f"{slug}: {len(keys)} keys")
    except PingyiError as error:
        fail_with(error)


@keys_cli.command("export")
def keys_export(
    slug: str,
    out: Annotated[Path, typer.Option(help="JSON file to write: public keys and the campaign")],
) -> None:
    """Write a campaign's public keys and specification for the collector (no private key)."""
    try:
        with session_scope() as session:
            campaign = campaign_service.get_campaign(session, slug)
            data = transfer.export_keys(session, campaign)
            audit_service.record(
                session,
                actor=cli_actor(),
                action="keys_export",
                object=f"campaign:{slug}",
                detail={"keys": len(data["keys"])},
            )
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
    except PingyiError as error:
        fail_with(error)
    typer.echo(f"{len(data['keys'])} public keys of {slug} written to {out}")
    for key in data["keys"]:
        typer.echo(f"  {key['rater_group']}\t{key['target'] or '*'}\t{key['fingerprint']}")
    typer.echo(f"  tally key\t\t{data['tally_key']['fingerprint']}")


@keys_cli.command("import")
def keys_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="From keys export")],
) -> None:
    """Store the public keys of a key file (creating its campaign if new). A file with any
    private key in it is refused."""
    settings = get_settings()
    try:
        with session_scope() as session:
            report = transfer.import_keys(
                session, file.read_bytes(), default_threshold=settings.disclosure_threshold
            )
            audit_service.record(
                session,
                actor=cli_actor(),
                action="keys_import",
                object=f"campaign:{report.slug}",
                detail={"added": report.keys_added, "kept": report.keys_kept},
            )
    except PingyiError as error:
        fail_with(error)
    created = "campaign created, " if report.campaign_created else ""
    typer.echo(
        f"{report.slug}: {created}{report.keys_added} keys added, {report.keys_kept} already here"
    )
    if report.tally_fingerprint is not None:
        typer.echo(f"  tally key fingerprint {report.tally_fingerprint.hex()}")


@roster_cli.command("import")
def roster_import(
    slug: str,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV of identifiers")],
    group: Annotated[str, typer.Option(help="Rater group key, e.g. cadres")],
    out: Annotated[Path, typer.Option(help="CSV to write the one-time passwords to; new file")],
    column: Annotated[
        str | None,
        typer.Option(help="Column holding the identifiers (the first line names the columns)"),
    ] = None,
) -> None:
    """Add identifiers (phone numbers, registration numbers) to a campaign's roster.

    Each gets a one-time password, written once to --out next to its identifier for sending
    out of band; the database keeps only a keyed hash of the identifier and an Argon2 hash
    of the password. Without --column, each line's first field is an identifier.
    """
    settings = get_settings()
    if not settings.issues_credentials:
        fail("This is a collector (PINGYI_ROLE=collector): rosters belong to the issuer")
    if out.exists():
        fail(f"{out} already exists; passwords are written once, to a new file")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        private_files.create_private(out)  # claims the name now, readable by its owner only
    except OSError as error:
        fail(f"Cannot create {out}: {error.strerror or error}")
    try:
        lines = roster_service.read_identifiers(file.read_bytes(), column)
        with session_scope() as session:
            campaign = campaign_service.get_campaign(session, slug)
            entries = roster_service.import_roster(
                session, campaign, group, lines, settings.secret_bytes()
            )
            audit_service.record(
                session,
                actor=cli_actor(),
                action="roster_import",
                object=f"campaign:{slug}",
                detail={"rater_group": group, "count": len(entries)},
            )
            with private_files.private_text(out) as stream:
                roster_service.write_passwords_csv(campaign, group, entries, stream)
    except BaseException as error:
        out.unlink(missing_ok=True)
        if isinstance(error, PingyiError):
            fail_with(error)
        raise
    typer.echo(f"{len(entries)} roster members of {slug} ({group}); passwords written to {out}")

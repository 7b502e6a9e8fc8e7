"""``pingyi trustees …``, ``pingyi tally …`` and ``pingyi ballot-box …``: the tally key, its
trustees' shares, and opening the ballot box, online or on a trustee's own machine."""

from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from app.accounts.cli import cli_actor
from app.audit import service as audit_service
from app.ballot_box import files, opening, shares, tally_key
from app.ballot_box import service as box_service
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import CampaignStatus
from app.cli_support import fail, fail_if_seal_pending, fail_with
from app.db import session_scope
from app.errors import InvalidInput, PingyiError


class _DefaultCommandGroup(typer.core.TyperGroup):
    """A group whose first argument, when it names no subcommand, goes to a default one:
    ``pingyi tally SLUG --share …`` beside ``pingyi tally import SLUG FILE``."""

    default_command = "run"

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


trustees_cli = typer.Typer(no_args_is_help=True, help="The tally key and its trustees' shares.")
tally_cli = typer.Typer(
    cls=_DefaultCommandGroup,
    no_args_is_help=True,
    help=(
        "Open a closed campaign's ballot box with the trustees' shares and count it: "
        "`pingyi tally SLUG --share FILE --share FILE`, offline "
        "`pingyi tally --offline box.bin --share FILE … --out tally.bin`, then "
        "`pingyi tally import SLUG tally.bin`."
    ),
)
box_cli = typer.Typer(no_args_is_help=True, help="A campaign's ballot box.")


@trustees_cli.command("create")
def trustees_create(
    slug: str,
    count: Annotated[int, typer.Option(help="How many trustees hold a share (2 to 16)")],
    threshold: Annotated[int, typer.Option(help="How many shares open the box (at least 2)")],
    out_dir: Annotated[Path, typer.Option(help="Directory for the share files, one per trustee")],
    pdf_dir: Annotated[
        Path | None,
        typer.Option(help="Also write each share as a one-page PDF to print, in this directory"),
    ] = None,
    replace: Annotated[
        bool, typer.Option(help="Make a new key in place of an existing one (draft only)")
    ] = False,
) -> None:
    """Make a draft campaign's tally key and write each trustee's share to its own new file.

    The private key exists only as these shares: give each file to its trustee and delete
    it here. A campaign cannot open without a tally key.
    """
    written: list[Path] = []
    try:
        shares.check_counts(count, threshold)
        with session_scope() as session:
            campaign = campaign_service.get_campaign(session, slug)
            made = box_service.create_tally_key(
                session, campaign, count=count, threshold=threshold, replace=replace
            )
            written = _write_shares(made.share_files, out_dir, pdf_dir)
            audit_service.record(
                session,
                actor=cli_actor(),
                action="tally_key_create",
                object=f"campaign:{slug}",
                detail={
                    "fingerprint": made.key.fingerprint.hex(),
                    "count": count,
                    "threshold": threshold,
                },
            )
            fingerprint = tally_key.fingerprint_text(made.key.fingerprint)
    except BaseException as error:  # the key was not stored: its shares must not stay
        for path in written:
            path.unlink(missing_ok=True)
        if isinstance(error, PingyiError):
            fail_with(error)
        raise
    typer.echo(f"{slug}: tally key made, fingerprint {fingerprint}")
    typer.echo(f"{count} shares, any {threshold} of which open the ballot box:")
    for path in written:
        typer.echo(f"  {path}")
    typer.echo(
        "Give each share to its trustee (评议结果开启人), then delete these files here: "
        "the shares are the only copy of the key."
    )


def _write_shares(
    share_files: list[shares.ShareFile], out_dir: Path, pdf_dir: Path | None
) -> list[Path]:
    """Write every share file (and PDF), each to a new file; on any failure remove those
    written, so the caller's transaction rolls back and nothing half-made is left."""
    targets = [out_dir / share.file_name() for share in share_files]
    pdfs = [] if pdf_dir is None else [pdf_dir / (path.stem + ".pdf") for path in targets]
    for path in [*targets, *pdfs]:
        if path.exists():
            fail(f"{path} already exists; shares are written once, to new files")
    if pdfs:
        from app.reports import fonts

        fonts.find_cjk_font()  # a missing font is reported before anything is written
    written: list[Path] = []
    try:
        for directory in {out_dir, *([pdf_dir] if pdf_dir else [])}:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for share, path in zip(share_files, targets, strict=True):
            shares.write_new_file(path, share.dump())
            written.append(path)
        if pdfs:
            from app.ballot_box import share_pdf

            for share, path in zip(share_files, pdfs, strict=True):
                with files.new_file(path) as stream:
                    share_pdf.render_share_pdf(share, stream)
                written.append(path)
    except BaseException as error:
        for path in written:
            path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            fail(f"Cannot write the shares: {error.strerror or error}")
        raise
    return written


@trustees_cli.command("show")
def trustees_show(slug: str) -> None:
    """A campaign's tally key: fingerprint, how many trustees, how many open the box."""
    try:
        with session_scope() as session:
            campaign = campaign_service.get_campaign(session, slug)
            key = box_service.tally_key_of(session, campaign)
            if key is None:
                fail(
                    f"{slug} has no tally key yet: `pingyi trustees create {slug} --count N "
                    "--threshold T --out-dir DIR`"
                )
            typer.echo(f"campaign:    {slug}")
            typer.echo(f"fingerprint: {tally_key.fingerprint_text(key.fingerprint)}")
            typer.echo(f"trustees:    {key.share_count}")
            typer.echo(f"threshold:   {key.threshold}")
            if key.applied_on is not None:
                typer.echo(f"box since:   {key.applied_on.isoformat()}")
    except PingyiError as error:
        fail_with(error)


ShareOption = Annotated[
    list[Path],
    typer.Option("--share", help="A trustee's share file (repeat for each trustee)"),
]


@tally_cli.command("run", hidden=True)
def tally_run(
    slug: Annotated[str | None, typer.Argument(help="The campaign, when tallying online")] = None,
    share: ShareOption = [],  # noqa: B006 - typer reads the default, never mutates it
    offline: Annotated[
        Path | None,
        typer.Option(help="Tally an exported box (`pingyi ballot-box export`) with no database"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="With --offline: the tally file to write")
    ] = None,
) -> None:
    """Open the ballot box with at least the threshold of trustees' shares and count it."""
    try:
        entered = [shares.read_share_file(path) for path in share]
        if offline is not None:
            if slug is not None:
                fail("Name either a campaign or --offline BOX, not both")
            if out is None:
                fail("--offline needs --out FILE for the tally")
            _tally_offline(offline, entered, out)
            return
        if slug is None:
            fail("Name the campaign to tally (pingyi tally SLUG --share FILE --share FILE)")
        with session_scope() as session:
            campaign = campaign_service.get_campaign(session, slug)
            counted = lifecycle.tally_campaign(session, campaign, entered, actor=cli_actor())
            summary = _summary(counted.ballots_in_box, counted.ballots_counted, counted.rejected)
    except PingyiError as error:
        fail_with(error)
    typer.echo(f"{slug}: tallied. {summary}")
    fail_if_seal_pending(slug, "tallied")  # a tally seals again


def _summary(in_box: int, counted: int, rejected: list[Any]) -> str:
    lines = [f"{in_box} ballots in the box, {counted} counted."]
    if rejected:
        lines.append(f"{len(rejected)} could not be counted, by tracker:")
        lines.extend(f"  {tracker}: {reason}" for tracker, reason in rejected)
    return "\n".join(lines)


def _tally_offline(box_path: Path, entered: list[shares.Share], out: Path) -> None:
    box = files.read_box(box_path)
    header = box.header
    key_pair = shares.rebuild_key(
        entered,
        campaign_slug=header.campaign,
        key_fingerprint=bytes.fromhex(header.fingerprint),
        threshold=header.threshold,
    )
    opened = opening.open_box(box.ballots(), key_pair, header.context())
    del key_pair
    if opened.ballots_in_box != header.ballots or opened.box_digest.hex() != header.box_digest:
        raise InvalidInput(
            files.NOT_A_BOX, path=str(box_path), problem="its ballots do not match its header"
        )
    with files.new_file(out) as stream:
        files.write_tally(stream, header.campaign, bytes.fromhex(header.fingerprint), opened)
    rejected = [(tracker.hex(), reason) for tracker, reason in opened.rejected]
    typer.echo(f"{header.campaign}: tally written to {out}.")
    typer.echo(_summary(opened.ballots_in_box, opened.ballots_counted, rejected))
    typer.echo(f"Import it on the server: pingyi tally import {header.campaign} {out}")


@tally_cli.command("import")
def tally_import(
    slug: str, tally_file: Annotated[Path, typer.Argument(help="What the offline tally wrote")]
) -> None:
    """Store an offline tally, refused unless it covers exactly the campaign's box."""
    try:
        with session_scope() as session:
            campaign = campaign_service.get_campaign(session, slug)
            key = box_service.tally_key_of(session, campaign)
            if key is None:
                fail(f"{slug} has no tally key, so no box to tally offline")
            opened = files.read_tally(tally_file, box_service.box_context(campaign, key))
            counted = lifecycle.import_tally(session, campaign, opened, actor=cli_actor())
            summary = _summary(counted.ballots_in_box, counted.ballots_counted, counted.rejected)
    except PingyiError as error:
        fail_with(error)
    typer.echo(f"{slug}: tallied from {tally_file}. {summary}")
    fail_if_seal_pending(slug, "tallied")  # a tally seals again


@box_cli.command("export")
def box_export(
    slug: str, out: Annotated[Path, typer.Option(help="The file to write (box.bin)")]
) -> None:
    """Write a closed campaign's sealed ballots, for a tally on a trustee's own machine."""
    try:
        with session_scope() as session:
            campaign = campaign_service.get_campaign(session, slug)
            if campaign.status != CampaignStatus.CLOSED:
                fail(
                    f"{slug} is {campaign.status.value}: only a closed campaign's box, not yet "
                    "tallied, can be exported"
                )
            key = box_service.tally_key_of(session, campaign)
            if key is None:
                fail(f"{slug} has no tally key, so no ballot box")
            trackers = box_service.trackers(session, campaign)
            policy = campaign_service.policy_of(campaign)
            header = files.BoxHeader(
                campaign=campaign.slug,
                title=campaign.title_zh,
                fingerprint=bytes(key.fingerprint).hex(),
                threshold=key.threshold,
                share_count=key.share_count,
                questionnaire=campaign.questionnaire,
                rater_groups=[group.key for group in campaign.rater_groups],
                targets=[target.department.code for target in campaign.targets],
                scrub_names=list(policy.comments.scrub_names),
                ballots=len(trackers),
                box_digest=opening.box_digest(trackers).hex(),
            )
            with files.new_file(out) as stream:
                written = files.write_box(
                    stream, header, box_service.sealed_ballots(session, campaign)
                )
            if written != len(trackers):
                out.unlink(missing_ok=True)
                fail(f"{slug}: the box changed while it was exported; export it again")
            audit_service.record(
                session,
                actor=cli_actor(),
                action="ballot_box_export",
                object=f"campaign:{slug}",
                detail={"ballots": written},
            )
    except PingyiError as error:
        fail_with(error)
    typer.echo(f"{slug}: {written} sealed ballots written to {out}")
    typer.echo(
        f"On a trustee's machine: pingyi tally --offline {out} --share FILE --share FILE "
        "--out tally.bin"
    )

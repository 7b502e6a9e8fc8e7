"""``pingyi campaign …``: create a campaign from a YAML spec and move it through its stages."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
import yaml
from pydantic import ValidationError

from app import strict_yaml
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import CampaignStatus
from app.campaigns.schemas import CampaignSpec
from app.cli_support import fail, fail_if_seal_pending, reported_errors
from app.config import get_settings
from app.db import session_scope
from app.sealing import rows as sealing
from app.surveys import service as survey_service

campaign_cli = typer.Typer(no_args_is_help=True, help="Evaluation campaigns.")


@campaign_cli.command("create")
def campaign_create(
    spec_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
) -> None:
    """Create a draft campaign from a YAML spec."""
    settings = get_settings()
    with reported_errors():
        try:
            raw = strict_yaml.safe_load(spec_file.read_text(encoding="utf-8"))
            spec = CampaignSpec.model_validate(raw)
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            fail(f"{spec_file}: {error}")
        except ValidationError as error:
            problems = [
                f"  - {'.'.join(str(part) for part in detail['loc']) or 'spec'}: {detail['msg']}"
                for detail in error.errors()
            ]
            fail("\n".join([f"{spec_file}:", *problems]))
        reference = spec.questionnaire
        relative = spec_file.parent / reference
        if relative.suffix in survey_service.TEMPLATE_SUFFIXES and relative.exists():
            reference = str(relative)
        questionnaire = survey_service.find_template(settings.surveys_dir, reference)
        with session_scope() as session:
            campaign = campaign_service.create_campaign(
                session, spec, questionnaire, default_threshold=settings.disclosure_threshold
            )
            created = (
                f"Created campaign {campaign.slug} (draft): {len(campaign.targets)} targets, "
                f"{len(campaign.rater_groups)} rater groups, "
                f"threshold {campaign.disclosure_threshold}"
            )
        typer.echo(created)  # once committed


def _lifecycle_step(
    slug: str, step: Callable[..., object], done: str, *, sealed_as: str | None = None
) -> None:
    """Run one lifecycle stage in a write transaction; report only once it has committed
    and, for a stage that seals (``sealed_as``: what it did, in brief), once the seal's
    vacuum has run."""
    from app.accounts.cli import cli_actor

    with reported_errors(), session_scope() as session:
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        campaign = campaign_service.get_campaign(session, slug)
        step(session, campaign, actor=cli_actor())
    if sealed_as is not None:
        fail_if_seal_pending(slug, sealed_as)
    typer.echo(f"{slug}: {done}")


@campaign_cli.command("open")
def campaign_open(slug: str) -> None:
    """Open a draft campaign for ratings (it needs its tally key: `pingyi trustees create`)."""
    _lifecycle_step(slug, lifecycle.open_campaign, "open")


@campaign_cli.command("close")
def campaign_close(slug: str) -> None:
    """Close an open campaign: no more ratings are accepted.

    The ballot box stays sealed until its trustees open it (`pingyi tally`); the campaign's
    admission records are sealed (stored in random order).
    """
    if _closed_with_seal_pending(slug):
        fail(
            f"{slug} is already closed, but its seal did not finish: run "
            f"`pingyi campaign seal {slug}`"
        )
    _lifecycle_step(
        slug,
        lifecycle.close_campaign,
        "closed; admission records sealed (stored in random order); the ballot box stays "
        "sealed until the trustees open it with `pingyi tally`",
        sealed_as="closed",
    )


def _closed_with_seal_pending(slug: str) -> bool:
    with reported_errors(), session_scope() as session:
        campaign = campaign_service.get_campaign(session, slug)
        return campaign.status != CampaignStatus.OPEN and campaign.seal_pending


@campaign_cli.command("seal")
def campaign_seal(slug: str) -> None:
    """Store a campaign's ratings and admission records in random order, then vacuum.

    Closing a campaign and tallying it seal it. Sealing an open campaign protects what is
    stored so far; what arrives later is written in order again until the next seal.
    Run it again to finish a seal that was interrupted (`pingyi campaign list` shows "seal
    incomplete").
    """
    with reported_errors(), session_scope() as session:
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        campaign = campaign_service.get_campaign(session, slug)
        sealing.seal(session, campaign)
    fail_if_seal_pending(slug, "rows rewritten in random order")
    typer.echo(f"{slug}: sealed (ratings and admission records stored in random order)")


@campaign_cli.command("publish")
def campaign_publish(slug: str) -> None:
    """Publish a tallied campaign's results."""
    _lifecycle_step(slug, lifecycle.publish_campaign, "published")


@campaign_cli.command("list")
def campaign_list() -> None:
    with session_scope() as session:
        for campaign in campaign_service.list_campaigns(session):
            seal = "\tseal incomplete" if campaign.seal_pending else ""
            typer.echo(f"{campaign.slug}\t{campaign.status.value}\t{campaign.title_zh}{seal}")

"""The ``pingyi`` command: the root app, its preflight, and where every command is registered.

The commands live in their domain's ``cli.py`` (and in ``app/ops/*_cli.py``,
``app/serve_cli.py``); what they share (failing, reporting errors) is :mod:`app.cli_support`.
Each command is one unit of work inside ``session_scope()``."""

import os
import sys

import typer
from typer.core import TyperGroup

from app import i18n
from app.accounts.cli import user_cli
from app.admission.cli import codes_cli
from app.audit.cli import audit_cli
from app.ballot_box.cli import box_cli, tally_cli, trustees_cli
from app.campaigns.cli import campaign_cli
from app.cli_support import print_database_failure, reported_errors
from app.credentials.cli import keys_cli, roster_cli
from app.demo.cli import demo
from app.departments.cli import departments_cli
from app.ops.backup_cli import backup as ops_backup
from app.ops.db_check_cli import db_check
from app.ops.migrate_cli import db_downgrade, db_upgrade
from app.ops.secret_cli import secret_cli
from app.results.cli import evaluations_cli, results
from app.serve_cli import serve
from app.services.cli import services_cli
from app.surveys.cli import survey_cli

cli = typer.Typer(
    no_args_is_help=True, help="Pingyi 评议: anonymous evaluation of government offices."
)
db_cli = typer.Typer(no_args_is_help=True, help="The database schema.")
# In this order in `pingyi --help`: the commands, then the groups.
cli.command("backup")(ops_backup)
cli.command("results")(results)
cli.command("demo")(demo)
cli.command("serve")(serve)
cli.add_typer(survey_cli, name="survey")
cli.add_typer(departments_cli, name="departments")
cli.add_typer(services_cli, name="services")
cli.add_typer(campaign_cli, name="campaign")
cli.add_typer(codes_cli, name="codes")
cli.add_typer(db_cli, name="db")
cli.add_typer(user_cli, name="user")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(roster_cli, name="roster")
cli.add_typer(trustees_cli, name="trustees")
cli.add_typer(tally_cli, name="tally")
cli.add_typer(box_cli, name="ballot-box")
cli.add_typer(secret_cli, name="secret")
cli.add_typer(evaluations_cli, name="evaluations")
db_cli.command("check")(db_check)
db_cli.command("upgrade")(db_upgrade)
db_cli.command("downgrade", context_settings={"ignore_unknown_options": True})(db_downgrade)


def main() -> None:
    from sqlalchemy.exc import OperationalError

    i18n.set_locale(i18n.negotiate_locale(os.environ.get("PINGYI_LANG"), os.environ.get("LANG")))
    try:
        cli()
    except OperationalError as error:  # a command without reported_errors: one line too
        print_database_failure(error)
        raise SystemExit(1) from None


# Commands that check the database themselves, or do not use it.
NO_PREFLIGHT = {"db", "secret", "backup", "survey"}


@cli.callback()
def _preflight(context: typer.Context) -> None:
    """Before any command that uses the database: one clear line if it cannot (app.ops)."""
    if context.resilient_parsing or context.invoked_subcommand in NO_PREFLIGHT:
        return
    if _asks_for_help_only(context):
        return
    from app.ops.preflight import preflight

    with reported_errors():
        preflight(serving=context.invoked_subcommand == "serve")


def _asks_for_help_only(context: typer.Context) -> bool:
    """``pingyi GROUP`` or any ``--help``: nothing will touch the database, so a first look
    at the commands works before it is set up. (The words are read from ``sys.argv``: Click
    hands the subcommand's words to it only after this callback.)"""
    words = sys.argv[1:]
    if "--help" in words:
        return True
    group = context.command
    invoked = context.invoked_subcommand
    if not isinstance(group, TyperGroup) or invoked is None:
        return False
    return isinstance(group.get_command(context, invoked), TyperGroup) and words == [invoked]

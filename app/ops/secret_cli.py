"""``pingyi secret``: check the server secret against the database, and rotate it.

These commands skip the preflight (it would refuse a secret that does not match), so they
report a database that cannot be used themselves.
"""

import typer

from app.cli_support import reported_errors
from app.config import get_settings
from app.db import session_scope
from app.i18n import N_, gettext
from app.ops import rotation
from app.ops import secret as secret_check

secret_cli = typer.Typer(no_args_is_help=True, help="The server secret (PINGYI_SECRET_KEY).")

CHECKED = N_("PINGYI_SECRET_KEY is the secret this database was set up with.")
ROTATED = N_(
    "Rotated: %(keys)s credential keys, %(codes)s held code batches and %(shares)s entered "
    "trustees' shares are now encrypted under the new PINGYI_SECRET_KEY."
)
KEEP_PREVIOUS = N_(
    "Keep the old secret in PINGYI_PREVIOUS_SECRET_KEYS: admission codes and roster "
    "identifiers issued before now are stored as hashes keyed by it, so they are recognised "
    "only through it. Printed slips and roster passwords stay valid."
)
SESSIONS_END = N_(
    "Everything signed with the old secret is no longer accepted: console and roster "
    "sessions have ended (everyone signs in again), and forms open in a browser must be "
    "reloaded. Restart every server with the new settings now."
)


@secret_cli.command("check")
def check() -> None:
    """Compare PINGYI_SECRET_KEY with the database's check value (recorded if there is none)."""
    with reported_errors(without_preflight=True), session_scope() as session:
        secret_check.check_secret(session.connection(), get_settings().secret_bytes())
    typer.echo(gettext(CHECKED))


@secret_cli.command("rotate")
def rotate() -> None:
    """Move the database from the old secret to PINGYI_SECRET_KEY (the new one).

    The old secret is named in PINGYI_PREVIOUS_SECRET_KEYS, and stays there afterwards, for
    the codes and roster identifiers hashed under it.
    Stop the servers first. Everything encrypted under the old secret is re-encrypted in one
    transaction; if anything fails, nothing changes. See docs/operations-secrets.md.
    """
    from app.accounts.cli import cli_actor

    with reported_errors(without_preflight=True):
        settings = get_settings()
        with session_scope() as session:
            rotated = rotation.rotate(
                session, settings.secret_bytes(), settings.previous_secrets(), actor=cli_actor()
            )
    typer.echo(
        gettext(ROTATED)
        % {
            "keys": rotated.credential_keys,
            "codes": rotated.held_code_batches,
            "shares": rotated.entered_shares,
        }
    )
    typer.echo(gettext(KEEP_PREVIOUS))
    typer.echo(gettext(SESSIONS_END))

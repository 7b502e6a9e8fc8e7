"""``pingyi user …``: staff accounts from the command line (the first administrator, resets)."""

import getpass
import sys
from typing import Annotated

import typer

from app.accounts import service as account_service
from app.accounts.models import Role
from app.audit import service as audit_service
from app.cli_support import fail_with
from app.db import session_scope
from app.errors import PingyiError

user_cli = typer.Typer(no_args_is_help=True, help="Staff accounts of the office console.")


def cli_actor() -> str:
    return audit_service.CLI_ACTOR_PREFIX + getpass.getuser()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@user_cli.command("create")
def create(
    username: str,
    role: Annotated[Role, typer.Option(help="admin, liaison, auditor, trustee or inspector")],
    department: Annotated[
        str | None, typer.Option(help="Department code (required for a liaison)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name shown in the console")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Create a staff account; the password is asked for twice (or read from stdin)."""
    password = _read_password(password_stdin)
    try:
        with session_scope() as session:
            user = account_service.create_user(
                session,
                username=username,
                password=password,
                role=role,
                display_name=name,
                department_code=department,
            )
            audit_service.record(
                session,
                actor=cli_actor(),
                action="user_create",
                object=f"user:{user.username}",
                detail={"role": role.value, "department": department},
            )
    except PingyiError as error:
        fail_with(error)
    typer.echo(f"Created {role.value} {username}")


@user_cli.command("reset-password")
def reset_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Set a new password, lift a lock-out and end the account's open sessions."""
    password = _read_password(password_stdin)
    try:
        with session_scope() as session:
            user = account_service.get_user(session, username)
            account_service.reset_password(session, user, password)
            audit_service.record(
                session, actor=cli_actor(), action="user_reset_password", object=f"user:{username}"
            )
    except PingyiError as error:
        fail_with(error)
    typer.echo(f"Password of {username} reset; its sessions have ended")


@user_cli.command("disable")
def disable(username: str) -> None:
    """Disable an account: it can no longer sign in and its sessions end at once."""
    try:
        with session_scope() as session:
            user = account_service.get_user(session, username)
            account_service.disable_user(session, user)
            audit_service.record(
                session, actor=cli_actor(), action="user_disable", object=f"user:{username}"
            )
    except PingyiError as error:
        fail_with(error)
    typer.echo(f"{username} disabled")


@user_cli.command("list")
def list_users() -> None:
    with session_scope() as session:
        for user in account_service.list_users(session):
            state = "disabled" if user.disabled else "active"
            typer.echo(f"{user.username}\t{user.role.value}\t{state}\t{user.display_name}")

"""The `pingyi` command's entry point, kept tiny on purpose.

``pingyi serve --workers N`` starts its workers with multiprocessing's *spawn*, and each new
worker re-imports the module that started the program. Importing :mod:`app.cli` here would
make every worker (and every worker the supervisor replaces after a crash) load the whole CLI
before it can answer the supervisor's health pings; on a busy machine that took longer than
uvicorn's five-second limit, and replacements were killed in a loop.
"""


def main() -> None:
    from app.cli import main as cli_main

    cli_main()

"""What importing a staff file (departments, services) reports: rows created and updated, or
every problem found, with nothing imported."""

from collections.abc import Sequence
from dataclasses import dataclass

from app.errors import InvalidInput
from app.i18n import N_


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int


class FileImportInvalid(InvalidInput):
    """The file has bad rows; nothing was imported. ``problems``: one per bad line."""

    message = N_("Nothing was imported: %(count)s problem(s) in the file.")

    def __init__(self, problems: Sequence[object]) -> None:
        self.problems = list(problems)
        super().__init__(count=len(self.problems))

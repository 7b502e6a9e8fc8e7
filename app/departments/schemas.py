from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from app.departments.models import CATEGORY_MAX_LENGTH, CODE_MAX_LENGTH, NAME_MAX_LENGTH

DepartmentCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=CODE_MAX_LENGTH, pattern=r"^[A-Za-z0-9_-]+$"
    ),
]


class DepartmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: DepartmentCode
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH)
    ]
    category: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=CATEGORY_MAX_LENGTH)
    ]
    name_en: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=NAME_MAX_LENGTH)] | None
    ) = None
    category_en: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=CATEGORY_MAX_LENGTH)]
        | None
    ) = None

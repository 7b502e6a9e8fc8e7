from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from app.departments.models import CODE_MAX_LENGTH
from app.services.models import DETAIL_MAX_LENGTH, SERVICE_NAME_MAX_LENGTH, TIME_LIMIT_MAX_LENGTH

Detail = Annotated[str, StringConstraints(strip_whitespace=True, max_length=DETAIL_MAX_LENGTH)]


class ServiceIn(BaseModel):
    """One row of a service catalog file. Only the department's code and the service's name
    are required; a detail column left out of the file keeps what is stored."""

    model_config = ConfigDict(extra="forbid")

    department_code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=CODE_MAX_LENGTH)
    ]
    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=SERVICE_NAME_MAX_LENGTH),
    ]
    procedure: Detail = ""
    materials: Detail = ""
    time_limit: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=TIME_LIMIT_MAX_LENGTH)
    ] = ""
    fees: Detail = ""
    legal_basis: Detail = ""
    complaint_channel: Detail = ""

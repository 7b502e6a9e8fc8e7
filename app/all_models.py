"""Import every domain's models so ``Base.metadata`` knows all tables (Alembic, tests)."""

from app.accounts import models as account_models
from app.admission import models as admission_models
from app.audit import models as audit_models
from app.ballot_box import models as ballot_box_models
from app.ballots import models as ballot_models
from app.campaigns import models as campaign_models
from app.comments import models as comment_models
from app.credentials import models as credential_models
from app.departments import models as department_models
from app.inspections import models as inspection_models
from app.ops import models as ops_models
from app.rectification import models as rectification_models
from app.services import models as service_models
from app.surveys import models as survey_models

__all__ = [
    "account_models",
    "admission_models",
    "audit_models",
    "ballot_box_models",
    "ballot_models",
    "campaign_models",
    "comment_models",
    "credential_models",
    "department_models",
    "inspection_models",
    "ops_models",
    "rectification_models",
    "service_models",
    "survey_models",
]

"""Import every domain's models so ``Base.metadata`` knows all tables (Alembic, tests)."""

from app.admission import models as admission_models
from app.ballots import models as ballot_models
from app.campaigns import models as campaign_models
from app.departments import models as department_models

__all__ = ["admission_models", "ballot_models", "campaign_models", "department_models"]

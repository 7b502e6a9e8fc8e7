"""Tables that describe the deployment rather than any campaign."""

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

CHECK_VALUE_BYTES = 32


class SecretCheck(Base):
    """A check value of the server secret (one row), so a wrong secret is caught at start."""

    __tablename__ = "secret_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_value: Mapped[bytes] = mapped_column(LargeBinary(CHECK_VALUE_BYTES))


class SchemaCompatibility(Base):
    """An application revision (its newest migration) that can run against this schema."""

    __tablename__ = "schema_compatibility"

    revision: Mapped[str] = mapped_column(String(32), primary_key=True)

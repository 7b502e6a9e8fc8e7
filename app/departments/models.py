from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

CODE_MAX_LENGTH = 32
NAME_MAX_LENGTH = 100
CATEGORY_MAX_LENGTH = 50


class Department(Base):
    """A department or service window that campaigns can rate (a 被评议单位)."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(CODE_MAX_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    name_en: Mapped[str | None] = mapped_column(String(NAME_MAX_LENGTH))
    category: Mapped[str] = mapped_column(String(CATEGORY_MAX_LENGTH))
    category_en: Mapped[str | None] = mapped_column(String(CATEGORY_MAX_LENGTH))

    def name_for(self, locale: str) -> str:
        """The name in ``locale`` (``zh_CN`` or ``en``); Chinese when no English name is kept."""
        return self.name_en if locale == "en" and self.name_en else self.name

    def category_for(self, locale: str) -> str:
        """The category in ``locale``; Chinese when no English name is kept."""
        return self.category_en if locale == "en" and self.category_en else self.category

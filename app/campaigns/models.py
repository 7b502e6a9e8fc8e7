import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    String,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, string_enum

if TYPE_CHECKING:
    from app.departments.models import Department


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"  # no more ballots; the ballot box stays sealed
    TALLIED = "tallied"  # the box has been opened by its trustees and counted
    PUBLISHED = "published"


class Campaign(Base):
    """One evaluation round (评议活动) with a frozen copy of its questionnaire."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    status: Mapped[CampaignStatus] = mapped_column(
        string_enum(CampaignStatus, name="campaign_status", length=16),
        default=CampaignStatus.DRAFT,
    )
    disclosure_threshold: Mapped[int]
    # Set with the seal's rewrite, cleared once its vacuum has run (app.sealing.rows).
    seal_pending: Mapped[bool] = mapped_column(default=False, server_default=false())
    questionnaire: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    series: Mapped[str | None] = mapped_column(String(64), index=True)  # e.g. an annual series
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    rater_groups: Mapped[list["RaterGroup"]] = relationship(
        back_populates="campaign", order_by="RaterGroup.position"
    )
    targets: Mapped[list["Target"]] = relationship(
        back_populates="campaign", order_by="Target.position"
    )

    def title_for(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_zh


class RaterGroup(Base):
    """A rater group (评议主体) taking part in a campaign, with its weight in composites."""

    __tablename__ = "campaign_rater_groups"
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    position: Mapped[int]
    key: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    weight: Mapped[float] = mapped_column(Float)

    campaign: Mapped[Campaign] = relationship(back_populates="rater_groups")

    def name_for(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_zh


class Target(Base):
    """A department being rated in a campaign (被评议单位)."""

    __tablename__ = "campaign_targets"
    __table_args__ = (UniqueConstraint("campaign_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    position: Mapped[int]

    campaign: Mapped[Campaign] = relationship(back_populates="targets")
    department: Mapped["Department"] = relationship(lazy="joined")

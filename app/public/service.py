"""Which campaigns and departments the public results pages may show, and their results.

Only published campaigns: any other status answers exactly as an unknown slug does, so the
pages do not even confirm that an unpublished campaign exists.

A published campaign's figures cannot change (no ballot is accepted after close, and the
results policy is locked at publication), while computing them takes seconds for a real
campaign. Public pages, which anyone can request at any rate, therefore compute them once
per campaign and language and keep them in a small :class:`ResultsCache`.
"""

import json
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign, CampaignStatus, Target
from app.errors import NotFound
from app.i18n import Locale
from app.results import service as results_service
from app.results.schemas import CampaignResults

CACHED_RESULTS = 16  # campaign × language entries kept per process


def published_campaigns(session: Session) -> Sequence[Campaign]:
    """Published campaigns, the most recent first."""
    return session.scalars(
        select(Campaign)
        .where(Campaign.status == CampaignStatus.PUBLISHED)
        .order_by(Campaign.ends_on.desc().nulls_last(), Campaign.created_at.desc())
    ).all()


def published_campaign(session: Session, slug: str) -> Campaign:
    campaign = session.scalar(
        select(Campaign).where(Campaign.slug == slug, Campaign.status == CampaignStatus.PUBLISHED)
    )
    if campaign is None:
        raise NotFound(name=slug)
    return campaign


def published_target(campaign: Campaign, department_code: str) -> Target:
    """The campaign's target for the department with this code."""
    for target in campaign.targets:
        if target.department.code == department_code:
            return target
    raise NotFound(name=department_code)


class ResultsCache:
    """The results of the most recently viewed published campaigns, per language.

    An entry is keyed on everything the results show besides the evaluations (titles,
    names, weights, policy), so renaming a department after publication shows at once.
    """

    def __init__(self, size: int = CACHED_RESULTS) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, CampaignResults] = OrderedDict()
        self._lock = threading.Lock()

    def results(self, session: Session, campaign: Campaign, locale: Locale) -> CampaignResults:
        key = _cache_key(campaign, locale)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                return cached
        computed = results_service.campaign_results(session, campaign, locale)
        with self._lock:
            self._entries[key] = computed
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return computed


def _cache_key(campaign: Campaign, locale: Locale) -> Hashable:
    return (
        campaign.id,
        campaign.slug,
        locale,
        campaign.title_zh,
        campaign.title_en,
        campaign.disclosure_threshold,
        json.dumps(campaign.policy, sort_keys=True),
        tuple(
            (group.key, group.name_zh, group.name_en, group.weight)
            for group in campaign.rater_groups
        ),
        tuple(
            (
                target.department.code,
                target.department.name,
                target.department.name_en,
                target.department.category,
            )
            for target in campaign.targets
        ),
    )

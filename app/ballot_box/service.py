"""The ballot box of a campaign: its tally key, putting a ballot in, and what the box holds.

A campaign gets its tally key while it is a draft (:func:`create_tally_key`), and cannot open
without one. A campaign that was already open when the deployment was upgraded may get one
while open: ballots from then on go into the box, those before stay as they were stored.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from app.ballot_box import contents as ballot_contents
from app.ballot_box import opening, shares, tally_key
from app.ballot_box.models import SealedBallot, Tally, TallyKey
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.errors import InvalidInput, InvalidTransition
from app.i18n import N_


@dataclass(frozen=True)
class NewTallyKey:
    """A tally key just made: the stored row and the trustees' shares, in memory only."""

    key: TallyKey
    share_files: list[shares.ShareFile]


KEY_NOT_EDITABLE = N_(
    "The tally key of “%(slug)s” can be made only while the campaign is a draft: ballots "
    "already sealed to a key must stay readable by that key's trustees."
)
KEY_EXISTS = N_(
    "Campaign “%(slug)s” already has a tally key (fingerprint %(fingerprint)s). Make it again "
    "only if its shares are lost: the old shares then open nothing."
)


def tally_key_of(session: Session, campaign: Campaign) -> TallyKey | None:
    return session.get(TallyKey, campaign.id)


def create_tally_key(
    session: Session, campaign: Campaign, *, count: int, threshold: int, replace: bool = False
) -> NewTallyKey:
    """Make the campaign's tally key and split its master secret among ``count`` trustees.

    Allowed while the campaign is a draft (``replace`` makes a new key in place of one that
    exists), or once for an open campaign that has none (one opened before the box existed).
    The master secret and the private key exist only in this call's memory; the caller
    writes the shares out once.
    """
    shares.check_counts(count, threshold)
    # Waits for a concurrent key creation or opening of the same campaign (PostgreSQL).
    session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    existing = tally_key_of(session, campaign)
    legacy_open = campaign.status == CampaignStatus.OPEN and existing is None
    if campaign.status != CampaignStatus.DRAFT and not legacy_open:
        raise InvalidTransition(KEY_NOT_EDITABLE, slug=campaign.slug)
    if existing is not None and not replace:
        raise InvalidInput(
            KEY_EXISTS,
            field="campaign",
            slug=campaign.slug,
            fingerprint=tally_key.fingerprint_text(existing.fingerprint),
        )
    master_secret = tally_key.new_master_secret()
    key_pair = tally_key.derive_key_pair(master_secret)
    mnemonics = shares.split(master_secret, count, threshold)
    del master_secret
    if existing is not None:
        session.delete(existing)
        session.flush()
    key = TallyKey(
        campaign_id=campaign.id,
        public_key=key_pair.public_bytes,
        fingerprint=key_pair.fingerprint,
        share_count=count,
        threshold=threshold,
        applied_on=dt.date.today() if legacy_open else None,
    )
    session.add(key)
    session.flush()
    files = shares.share_files(
        campaign.slug, campaign.title_zh, key_pair.fingerprint, mnemonics, threshold
    )
    return NewTallyKey(key=key, share_files=files)


# --- putting a ballot in ---------------------------------------------------------------------


@dataclass(frozen=True)
class BoxKey:
    """What sealing a ballot of one campaign needs: the public key and the HPKE info."""

    public_key: bytes
    info: bytes


_FINGERPRINT = select(TallyKey.fingerprint).where(TallyKey.campaign_id == bindparam("campaign"))
_PUBLIC_KEY = select(TallyKey.public_key).where(TallyKey.campaign_id == bindparam("campaign"))
_PUT = insert(SealedBallot)
_public_keys: dict[bytes, bytes] = {}  # public key by fingerprint: a key never changes


def tally_fingerprint(session: Session, campaign_id: int) -> bytes | None:
    """The campaign's tally key fingerprint, or None when it has none (an upgraded campaign
    whose ballots are still stored as evaluations)."""
    found = session.connection().execute(_FINGERPRINT, {"campaign": campaign_id}).scalar()
    return None if found is None else bytes(found)


def box_key(session: Session, campaign_id: int, campaign_slug: str, fingerprint: bytes) -> BoxKey:
    """What sealing a ballot of the campaign needs. The public key is read once per process
    for each fingerprint: the fingerprint names it, and a stored key never changes."""
    public_key = _public_keys.get(fingerprint)
    if public_key is None:
        stored = session.connection().execute(_PUBLIC_KEY, {"campaign": campaign_id}).scalar_one()
        public_key = bytes(stored)
        if tally_key.fingerprint(public_key) != fingerprint:
            raise ValueError(f"the tally key of campaign {campaign_id} changed while sealing")
        _public_keys[fingerprint] = public_key
    return BoxKey(public_key=public_key, info=tally_key.info_for(campaign_slug, fingerprint))


def put_ballot(
    session: Session, campaign_id: int, key: BoxKey, ballot: ballot_contents.BallotContents
) -> bytes:
    """Seal the ballot and put it in the box, in the caller's transaction; its tracker.

    The plaintext exists only in this process's memory: the one row written holds the
    ciphertext and its hash.
    """
    ciphertext = tally_key.seal(ballot_contents.encode(ballot), key.public_key, key.info)
    tracker = tally_key.tracker(ciphertext)
    session.connection().execute(
        _PUT, {"tracker": tracker, "campaign_id": campaign_id, "ciphertext": ciphertext}
    )
    return tracker


# --- what the box holds ----------------------------------------------------------------------


def sealed_ballots(session: Session, campaign: Campaign) -> Iterator[tuple[bytes, bytes]]:
    """``(tracker, ciphertext)`` of every ballot still sealed, in tracker order."""
    rows = session.execute(
        select(SealedBallot.tracker, SealedBallot.ciphertext)
        .where(SealedBallot.campaign_id == campaign.id, SealedBallot.ciphertext.is_not(None))
        .order_by(SealedBallot.tracker)
        .execution_options(yield_per=1000)
    )
    for tracker, ciphertext in rows:
        if ciphertext is not None:
            yield bytes(tracker), bytes(ciphertext)


def trackers(session: Session, campaign: Campaign) -> list[bytes]:
    """Every tracker of the campaign's box, sealed or counted, sorted."""
    return [
        bytes(value)
        for value in session.scalars(
            select(SealedBallot.tracker)
            .where(SealedBallot.campaign_id == campaign.id)
            .order_by(SealedBallot.tracker)
        )
    ]


def ballots_in_box(session: Session, campaign: Campaign) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(SealedBallot)
            .where(SealedBallot.campaign_id == campaign.id)
        )
        or 0
    )


def tracker_known(session: Session, campaign: Campaign, value: bytes) -> bool:
    return (
        session.scalar(
            select(func.count())
            .select_from(SealedBallot)
            .where(SealedBallot.campaign_id == campaign.id, SealedBallot.tracker == value)
        )
        or 0
    ) > 0


def tally_of(session: Session, campaign: Campaign) -> Tally | None:
    return session.get(Tally, campaign.id)


def box_context(campaign: Campaign, key: TallyKey) -> opening.BoxContext:
    policy = campaign_service.policy_of(campaign)
    return opening.BoxContext(
        campaign_slug=campaign.slug,
        key_fingerprint=bytes(key.fingerprint),
        questionnaire=campaign_service.questionnaire_of(campaign),
        rater_groups=frozenset(group.key for group in campaign.rater_groups),
        targets=frozenset(target.department.code for target in campaign.targets),
        scrub_names=tuple(policy.comments.scrub_names),
    )


def empty_box(session: Session, campaign: Campaign) -> None:
    """Delete every ciphertext of the campaign's box, keeping the trackers (the seal that
    follows the tally rewrites the rows and vacuums away the old versions)."""
    session.execute(
        update(SealedBallot).where(SealedBallot.campaign_id == campaign.id).values(ciphertext=None)
    )

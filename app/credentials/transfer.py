"""Moving public keys from the issuer to the collector of a split deployment.

``export_keys`` writes what a collector needs to accept a campaign's credentials and seal its
ballots: the campaign as specified (title, frozen questionnaire, rater groups and weights,
targets with their departments, threshold, dates, results policy), each signing key's public
half with its fingerprint, and the public half of the tally key. ``import_keys`` creates the
campaign on the collector if it is new, or checks that it matches, and stores the keys with
no private half. A file that carries anything private is refused as a whole.
"""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ballot_box import service as box_service
from app.ballot_box import tally_key
from app.ballot_box.models import TallyKey
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.schemas import CampaignSpec, RaterGroupSpec
from app.credentials import blind_rsa
from app.credentials import keys as credential_keys
from app.credentials.errors import KeyTransferInvalid
from app.credentials.models import CredentialKey
from app.departments import models as department_models
from app.departments.models import Department
from app.errors import PingyiError
from app.surveys.schemas import LocalizedText, Questionnaire

FORMAT = "pingyi-public-keys/1"
EXPORTABLE_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.OPEN)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExportedDepartment(_Strict):
    code: str = Field(min_length=1, max_length=department_models.CODE_MAX_LENGTH)
    name: str = Field(min_length=1, max_length=department_models.NAME_MAX_LENGTH)
    name_en: str | None = Field(default=None, max_length=department_models.NAME_MAX_LENGTH)
    category: str = Field(min_length=1, max_length=department_models.CATEGORY_MAX_LENGTH)


class ExportedRaterGroup(_Strict):
    key: str
    weight: float


class ExportedCampaign(_Strict):
    slug: str
    title: LocalizedText
    status: Literal["draft", "open"]
    disclosure_threshold: int
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    series: str | None = None  # year over year: the public pages are on the collector
    questionnaire: dict[str, Any]
    policy: dict[str, Any] = Field(default_factory=dict)
    rater_groups: list[ExportedRaterGroup]
    targets: list[ExportedDepartment]


class ExportedKey(_Strict):
    rater_group: str
    target: str | None = None
    public_key: str  # SubjectPublicKeyInfo DER, base64url
    fingerprint: str  # SHA-256 of the DER, hex


class ExportedTallyKey(_Strict):
    """The public half of the campaign's tally key: the collector seals ballots to it."""

    public_key: str  # ML-KEM-768 ‖ X25519, raw, base64url
    fingerprint: str  # SHA-256 of the public key, hex
    share_count: int
    threshold: int
    applied_on: dt.date | None = None


class KeyFile(_Strict):
    format: Literal["pingyi-public-keys/1"]
    campaign: ExportedCampaign
    keys: list[ExportedKey]
    tally_key: ExportedTallyKey | None = None


def export_keys(session: Session, campaign: Campaign) -> dict[str, Any]:
    """The key file of a draft or open campaign that has keys, as JSON-ready data."""
    if campaign.status not in EXPORTABLE_STATUSES:
        raise KeyTransferInvalid(
            problem=f"campaign {campaign.slug} is {campaign.status.value}; export it while open"
        )
    infos = credential_keys.public_keys(session, campaign)
    if not infos:
        raise KeyTransferInvalid(
            problem=f"campaign {campaign.slug} has no keys yet; they are made when it opens"
        )
    tally = box_service.tally_key_of(session, campaign)
    if tally is None:
        raise KeyTransferInvalid(
            problem=f"campaign {campaign.slug} has no tally key; make its trustees' shares first"
        )
    key_file = KeyFile(
        format=FORMAT,
        campaign=ExportedCampaign(
            slug=campaign.slug,
            title=LocalizedText(zh=campaign.title_zh, en=campaign.title_en),
            status="open" if campaign.status == CampaignStatus.OPEN else "draft",
            disclosure_threshold=campaign.disclosure_threshold,
            starts_on=campaign.starts_on,
            ends_on=campaign.ends_on,
            series=campaign.series,
            questionnaire=campaign.questionnaire,
            policy=campaign.policy or {},
            rater_groups=[
                ExportedRaterGroup(key=group.key, weight=group.weight)
                for group in campaign.rater_groups
            ],
            targets=[
                ExportedDepartment(
                    code=target.department.code,
                    name=target.department.name,
                    name_en=target.department.name_en,
                    category=target.department.category,
                )
                for target in campaign.targets
            ],
        ),
        keys=[
            ExportedKey(
                rater_group=info.rater_group.key,
                target=info.target.department.code if info.target else None,
                public_key=credential_keys.encode_b64url(info.spki_der),
                fingerprint=info.fingerprint.hex(),
            )
            for info in infos
        ],
        tally_key=ExportedTallyKey(
            public_key=credential_keys.encode_b64url(bytes(tally.public_key)),
            fingerprint=bytes(tally.fingerprint).hex(),
            share_count=tally.share_count,
            threshold=tally.threshold,
            applied_on=tally.applied_on,
        ),
    )
    return key_file.model_dump(mode="json")


@dataclass(frozen=True)
class ImportReport:
    slug: str
    campaign_created: bool
    keys_added: int
    keys_kept: int
    tally_fingerprint: bytes | None


def import_keys(session: Session, content: bytes, *, default_threshold: int) -> ImportReport:
    """Store the public keys of a key file, creating its campaign (and departments) if new."""
    try:
        raw = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise KeyTransferInvalid(problem=f"not a JSON file ({error})") from None
    private = _private_material(raw)
    if private:
        raise KeyTransferInvalid(
            problem=f"it holds private key material ({private}); a collector never stores one"
        )
    try:
        key_file = KeyFile.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise KeyTransferInvalid(problem=f"{where}: {first['msg']}") from None
    keys = [(entry, _public_key_bytes(entry)) for entry in key_file.keys]

    campaign = session.scalar(select(Campaign).where(Campaign.slug == key_file.campaign.slug))
    created = campaign is None
    if campaign is None:
        campaign = _create_campaign(session, key_file.campaign, default_threshold)
    else:
        _check_same_campaign(campaign, key_file.campaign)

    groups = {group.key: group for group in campaign.rater_groups}
    targets = {target.department.code: target for target in campaign.targets}
    added = kept = 0
    for entry, der in keys:
        group = groups.get(entry.rater_group)
        target = targets.get(entry.target) if entry.target is not None else None
        if group is None or (entry.target is not None and target is None):
            raise KeyTransferInvalid(
                problem=f"a key names rater group {entry.rater_group!r} or target "
                f"{entry.target!r}, which campaign {campaign.slug} does not have"
            )
        existing = credential_keys.key_for_scope(
            session, campaign.id, group.id, target.id if target else None
        )
        fingerprint = hashlib.sha256(der).digest()
        if existing is not None:
            if bytes(existing.fingerprint) != fingerprint:
                raise KeyTransferInvalid(
                    problem=f"the key of {entry.rater_group}/{entry.target or '*'} differs from "
                    f"the one already stored here ({bytes(existing.fingerprint).hex()})"
                )
            kept += 1
            continue
        session.add(
            CredentialKey(
                campaign_id=campaign.id,
                rater_group_id=group.id,
                target_id=target.id if target else None,
                public_key=der,
                fingerprint=fingerprint,
                private_key=None,
            )
        )
        added += 1
    tally_fingerprint = None
    if key_file.tally_key is not None:
        tally_fingerprint = _import_tally_key(session, campaign, key_file.tally_key)
    session.flush()
    return ImportReport(
        slug=campaign.slug,
        campaign_created=created,
        keys_added=added,
        keys_kept=kept,
        tally_fingerprint=tally_fingerprint,
    )


def _import_tally_key(session: Session, campaign: Campaign, exported: ExportedTallyKey) -> bytes:
    """Store the campaign's tally public key, or check it is the one already stored."""
    try:
        public = credential_keys.decode_b64url(exported.public_key, field="tally_key")
        tally_key.load_public_key(public)
    except (ValueError, PingyiError) as error:
        raise KeyTransferInvalid(problem=f"the tally key is not usable ({error})") from None
    fingerprint = tally_key.fingerprint(public)
    if fingerprint.hex() != exported.fingerprint.lower():
        raise KeyTransferInvalid(problem="the tally key does not match its fingerprint")
    existing = box_service.tally_key_of(session, campaign)
    if existing is not None:
        if bytes(existing.fingerprint) != fingerprint:
            raise KeyTransferInvalid(
                problem=f"the tally key differs from the one already stored here "
                f"({bytes(existing.fingerprint).hex()})"
            )
        return fingerprint
    session.add(
        TallyKey(
            campaign_id=campaign.id,
            public_key=public,
            fingerprint=fingerprint,
            share_count=exported.share_count,
            threshold=exported.threshold,
            applied_on=exported.applied_on,
        )
    )
    return fingerprint


def _private_material(value: object, path: str = "") -> str | None:
    """Where the data holds a field named like a private key, or a PEM private key."""
    if isinstance(value, dict):
        for name, item in value.items():
            where = f"{path}.{name}" if path else str(name)
            if "private" in str(name).lower() and item not in (None, "", {}, []):
                return where
            found = _private_material(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _private_material(item, f"{path}[{index}]")
            if found:
                return found
    elif isinstance(value, str) and "PRIVATE KEY" in value:
        return path or "the file"
    return None


def _public_key_bytes(entry: ExportedKey) -> bytes:
    try:
        der = credential_keys.decode_b64url(entry.public_key, field="public_key")
        blind_rsa.load_public_key(der)
    except (blind_rsa.BlindRsaError, ValueError) as error:
        raise KeyTransferInvalid(
            problem=f"the key of {entry.rater_group}/{entry.target or '*'} is not a usable "
            f"RSA public key ({error})"
        ) from None
    if hashlib.sha256(der).hexdigest() != entry.fingerprint.lower():
        raise KeyTransferInvalid(
            problem=f"the key of {entry.rater_group}/{entry.target or '*'} does not match "
            "its fingerprint"
        )
    return der


def _create_campaign(
    session: Session, exported: ExportedCampaign, default_threshold: int
) -> Campaign:
    codes = [department.code for department in exported.targets]
    known = {
        department.code
        for department in session.scalars(select(Department).where(Department.code.in_(codes)))
    }
    for department in exported.targets:
        if department.code not in known:
            session.add(Department(**department.model_dump()))
    session.flush()
    try:
        questionnaire = Questionnaire.model_validate(exported.questionnaire)
        spec = CampaignSpec.model_validate(
            {
                "slug": exported.slug,
                "title": exported.title,
                "questionnaire": questionnaire.id,
                "disclosure_threshold": exported.disclosure_threshold,
                "starts_on": exported.starts_on,
                "ends_on": exported.ends_on,
                "series": exported.series,
                "rater_groups": [
                    RaterGroupSpec(key=group.key, weight=group.weight)
                    for group in exported.rater_groups
                ],
                "targets": codes,
                "policy": exported.policy,
            }
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise KeyTransferInvalid(problem=f"campaign.{where}: {first['msg']}") from None
    campaign = campaign_service.create_campaign(
        session, spec, questionnaire, default_threshold=default_threshold
    )
    campaign.status = CampaignStatus(exported.status)
    session.flush()
    return campaign


def _check_same_campaign(campaign: Campaign, exported: ExportedCampaign) -> None:
    here_groups = sorted(group.key for group in campaign.rater_groups)
    here_targets = sorted(target.department.code for target in campaign.targets)
    there_groups = sorted(group.key for group in exported.rater_groups)
    there_targets = sorted(department.code for department in exported.targets)
    if here_groups != there_groups or here_targets != there_targets:
        raise KeyTransferInvalid(
            problem=f"campaign {campaign.slug} exists here with other rater groups or targets"
        )

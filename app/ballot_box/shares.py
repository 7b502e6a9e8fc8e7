"""Trustees' shares of a tally key: Shamir's secret sharing, as SLIP-0039 mnemonics.

The master secret of a tally key (:mod:`app.ballot_box.tally_key`) is split t-of-n with
``shamir-mnemonic``, the SLIP-0039 reference implementation (Trezor): each share is 33 words
with a checksum, so a mistyped word is caught, and every share of one split carries the same
random identifier, so a share from another campaign's key is refused before anything is
combined. No passphrase: the share is the secret.

A share travels as a small JSON file (:class:`ShareFile`) naming its campaign, the key's
fingerprint and the trustee's number, beside the words; the console and the command line
also accept the bare words, which is what a trustee types back from paper.
"""

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import shamir_mnemonic
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.ballot_box import tally_key
from app.errors import InvalidInput
from app.i18n import N_, gettext

FORMAT = "pingyi-trustee-share/1"
A_SHARE = N_("a share")  # names an entered share in messages when it came as typed words
MAX_TRUSTEES = 16  # SLIP-0039's limit
MIN_THRESHOLD = 2  # no one trustee may open the box alone
MAX_SHARE_TEXT = 16_384  # characters: a share file is well under 1 KiB


class ShareFile(BaseModel):
    """What a trustee keeps: one share, and what it belongs to."""

    model_config = ConfigDict(extra="forbid")

    format: str = Field(pattern=f"^{FORMAT}$")
    campaign: str = Field(description="The campaign's slug")
    title: str = Field(default="", description="The campaign's title, for the trustee's eyes")
    fingerprint: str = Field(description="SHA-256 of the tally public key, hex")
    trustee: int = Field(ge=1, le=MAX_TRUSTEES)
    count: int = Field(ge=1, le=MAX_TRUSTEES)
    threshold: int = Field(ge=1, le=MAX_TRUSTEES)
    words: str = Field(description="The SLIP-0039 mnemonic: the share itself")

    def file_name(self) -> str:
        return share_file_name(self.campaign, self.trustee, self.count)

    def dump(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


@dataclass(frozen=True)
class Share:
    """A share as entered: its words, and what its file said (when it came as a file)."""

    words: str
    campaign: str | None = None
    fingerprint: str | None = None
    source: str = ""  # the file name, or "" for typed words: named in messages

    @property
    def identifier(self) -> int:
        """The random identifier every share of one split carries."""
        return int(shamir_mnemonic.Share.from_mnemonic(self.words).identifier)

    @property
    def index(self) -> int:
        """The trustee's number (1-based), as the share itself says."""
        return int(shamir_mnemonic.Share.from_mnemonic(self.words).index) + 1


def share_file_name(campaign_slug: str, trustee: int, count: int) -> str:
    return f"{campaign_slug}-trustee-{trustee}-of-{count}.json"


def check_counts(count: int, threshold: int) -> None:
    """A sharing the box accepts: 2 ≤ threshold ≤ count ≤ 16."""
    if not MIN_THRESHOLD <= count <= MAX_TRUSTEES:
        raise InvalidInput(
            N_("The number of trustees must be between %(lowest)s and %(highest)s."),
            field="count",
            lowest=MIN_THRESHOLD,
            highest=MAX_TRUSTEES,
        )
    if not MIN_THRESHOLD <= threshold <= count:
        raise InvalidInput(
            N_(
                "The threshold must be at least %(lowest)s (no one trustee may open the ballot "
                "box alone) and at most the number of trustees, %(count)s."
            ),
            field="threshold",
            lowest=MIN_THRESHOLD,
            count=count,
        )


def split(master_secret: bytes, count: int, threshold: int) -> list[str]:
    """The mnemonics of a t-of-n split, trustee 1 first."""
    check_counts(count, threshold)
    groups = shamir_mnemonic.generate_mnemonics(1, [(threshold, count)], master_secret)
    return list(groups[0])


def share_files(
    campaign_slug: str, title: str, key_fingerprint: bytes, mnemonics: Sequence[str], threshold: int
) -> list[ShareFile]:
    return [
        ShareFile(
            format=FORMAT,
            campaign=campaign_slug,
            title=title,
            fingerprint=key_fingerprint.hex(),
            trustee=number,
            count=len(mnemonics),
            threshold=threshold,
            words=words,
        )
        for number, words in enumerate(mnemonics, start=1)
    ]


SHARE_UNREADABLE = N_(
    "%(source)s is not a trustee's share: expected a share file or the share's 33 words."
)
SHARE_DAMAGED = N_("%(source)s: the share is damaged or mistyped (%(problem)s).")


def parse_share(text: str, source: str = "") -> Share:
    """A share from a share file's text, or from its bare words (case and spacing forgiven)."""
    name = source or gettext(A_SHARE)
    stripped = text.strip()
    if not stripped or len(stripped) > MAX_SHARE_TEXT:
        raise InvalidInput(SHARE_UNREADABLE, field="share", source=name)
    if stripped.startswith("{"):
        try:
            document = ShareFile.model_validate_json(stripped)
        except (ValidationError, ValueError):
            raise InvalidInput(SHARE_UNREADABLE, field="share", source=name) from None
        share = Share(
            words=_normalized_words(document.words),
            campaign=document.campaign,
            fingerprint=document.fingerprint,
            source=name,
        )
    else:
        share = Share(words=_normalized_words(stripped), source=name)
    try:
        shamir_mnemonic.Share.from_mnemonic(share.words)
    except (shamir_mnemonic.MnemonicError, ValueError, KeyError) as error:
        raise InvalidInput(SHARE_DAMAGED, field="share", source=name, problem=str(error)) from None
    return share


def read_share_file(path: Path) -> Share:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(
            N_("Cannot read the share file %(source)s: %(problem)s"),
            field="share",
            source=str(path),
            problem=getattr(error, "strerror", None) or str(error),
        ) from None
    return parse_share(text, str(path))


def _normalized_words(text: str) -> str:
    return " ".join(text.lower().split())


WRONG_CAMPAIGN = N_(
    "%(source)s is a share of campaign “%(other)s”, not of “%(slug)s”: each trustee's share "
    "opens only the ballot box of its own campaign."
)
WRONG_KEY = N_(
    "%(source)s belongs to another tally key of campaign “%(slug)s” (a key that was made "
    "again before the campaign opened): it cannot open this ballot box."
)
TOO_FEW = N_(
    "%(needed)s different trustees' shares are needed to open the ballot box of “%(slug)s”; "
    "%(given)s given."
)
NOT_THIS_KEY = N_(
    "These shares do not rebuild the tally key of “%(slug)s”: they belong to another key."
)


def rebuild_key(
    shares: Iterable[Share], *, campaign_slug: str, key_fingerprint: bytes, threshold: int
) -> tally_key.TallyKeyPair:
    """The tally key that ``threshold`` distinct shares rebuild, in memory only.

    Each share is checked first against the campaign and the key its file names; then the
    combined key must have the campaign's fingerprint, so shares of another split (another
    campaign's, or a replaced key's) are refused even as bare words.
    """
    distinct: dict[int, Share] = {}
    for share in shares:
        if share.campaign is not None and share.campaign != campaign_slug:
            raise InvalidInput(
                WRONG_CAMPAIGN,
                field="share",
                source=share.source or gettext(A_SHARE),
                other=share.campaign,
                slug=campaign_slug,
            )
        if share.fingerprint is not None and share.fingerprint != key_fingerprint.hex():
            raise InvalidInput(
                WRONG_KEY,
                field="share",
                source=share.source or gettext(A_SHARE),
                slug=campaign_slug,
            )
        distinct.setdefault(share.index, share)
    if len(distinct) < threshold:
        raise InvalidInput(
            TOO_FEW, field="share", needed=threshold, given=len(distinct), slug=campaign_slug
        )
    chosen = [distinct[index].words for index in sorted(distinct)[:threshold]]
    try:
        master_secret = shamir_mnemonic.combine_mnemonics(chosen)
    except shamir_mnemonic.MnemonicError:
        raise InvalidInput(NOT_THIS_KEY, field="share", slug=campaign_slug) from None
    key_pair = tally_key.derive_key_pair(master_secret)
    del master_secret
    if key_pair.fingerprint != key_fingerprint:
        raise InvalidInput(NOT_THIS_KEY, field="share", slug=campaign_slug)
    return key_pair


def write_new_file(path: Path, text: str) -> None:
    """Write ``text`` to a new file readable by its owner only; never overwrite.

    The data reaches the disk (fsync) before this returns, so a file that exists is whole.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, text.encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

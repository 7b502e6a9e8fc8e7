"""Roster sign-in on the rating pages without JavaScript: what the steps carry instead of a code.

Without JavaScript the browser cannot make a blind-signed credential, so a signed-in roster
member rates as a code holder does: the steps carry a signed token naming the member (in a
hidden form field, never in a URL or a cookie), and the ballot is stored in the same
transaction that marks the member served (``app.ballots.service.submit_member_ballot``).

The token is renewed at every step, so it lapses only after ``TOKEN_MAX_AGE`` without a
step; an elderly rater answering many departments is not cut short. Nothing is stored.
"""

import hashlib
import hmac
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

TOKEN_KEY_CONTEXT = b"pingyi roster rating steps v1"
TOKEN_SALT = "pingyi roster rating"  # noqa: S105 - a salt, not a password
TOKEN_MAX_AGE = 2 * 3600  # seconds without a step before the member must sign in again


@dataclass(frozen=True)
class SignedInMember:
    member_id: int
    campaign_id: int


def _serializer(server_secret: bytes) -> URLSafeTimedSerializer:
    key = hmac.new(server_secret, TOKEN_KEY_CONTEXT, hashlib.sha256).digest()
    return URLSafeTimedSerializer(key, salt=TOKEN_SALT)


def encode_token(server_secret: bytes, member: SignedInMember) -> str:
    return _serializer(server_secret).dumps([member.member_id, member.campaign_id])


def decode_token(server_secret: bytes, token: str) -> SignedInMember | None:
    """The member a token names, or None when it is forged, malformed or has lapsed."""
    if not token:
        return None
    try:
        value = _serializer(server_secret).loads(token, max_age=TOKEN_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(part, int) and not isinstance(part, bool) for part in value)
    ):
        return None
    return SignedInMember(member_id=value[0], campaign_id=value[1])

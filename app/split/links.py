"""Where each half of a split deployment sends raters, from ``PINGYI_COLLECTOR_URL`` (on an
issuer) and ``PINGYI_ISSUER_URL`` (on a collector). Empty on a single deployment: same origin.
"""

from urllib.parse import urlsplit

from app.config import DeploymentRole, Settings, get_settings

RATING_PATH = "/r"


def collector_url(settings: Settings | None = None) -> str:
    """On an issuer, the collector's address (no trailing slash); otherwise empty."""
    settings = settings or get_settings()
    return settings.collector_url if settings.role == DeploymentRole.ISSUER else ""


def issuer_url(settings: Settings | None = None) -> str:
    """On a collector, the issuer's address (no trailing slash); otherwise empty."""
    settings = settings or get_settings()
    return settings.issuer_url if settings.role == DeploymentRole.COLLECTOR else ""


def rating_base_url(settings: Settings | None = None) -> str:
    """Where raters rate: the collector, seen from an issuer; else this deployment."""
    settings = settings or get_settings()
    return collector_url(settings) or settings.public_base_url.rstrip("/")


def origin_of(url: str) -> str:
    """The browser origin of an address (``scheme://host[:port]``), lower-cased; "" for ""."""
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()

"""Slips need a font for Chinese; without one these tests skip, except under CI=true."""

import os

import pytest

from app.reports import fonts

IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def cjk_font() -> fonts.CjkFont:
    """The font slips will embed; CI installs Debian's fonts-noto-cjk (see .ci/run)."""
    try:
        return fonts.find_cjk_font()
    except fonts.PdfFontMissing as error:
        if IN_CI:
            pytest.fail(f"CI=true but {error}")
        pytest.skip(str(error))

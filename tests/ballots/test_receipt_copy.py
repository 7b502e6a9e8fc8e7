"""The receipt page: the tracker in groups that never break, a copy button, and a QR code of
the link that checks it, drawn on the server as SVG (no third-party asset)."""

import re
from urllib.parse import unquote

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import PROJECT_ROOT
from tests.ballots.test_pages import answer_all, post_step
from tests.factories import issue_code, make_campaign


def receipt_page(client: TestClient, session: Session) -> tuple[str, str]:
    campaign = make_campaign(session)
    code = issue_code(session, campaign)
    page = client.post("/r", data={"code": code})
    page = post_step(client, page.text, "next", target=[campaign.targets[0].department.code])
    page = post_step(client, page.text, "next", **answer_all(["courtesy", "speed"], "4"))
    receipt = post_step(client, page.text, "submit")
    assert receipt.status_code == 201
    return receipt.text, campaign.slug


class TestTheReceiptPage:
    def test_the_tracker_is_shown_in_groups_of_four_that_break_only_at_dashes(
        self, client: TestClient, session: Session
    ) -> None:
        html, _ = receipt_page(client, session)

        tracker = re.search(
            r'<p class="receipt-code tracker"><code id="receipt-code">(.+?)</code></p>', html
        )
        assert tracker is not None
        # A break opportunity after every dash (a dash before a digit is none by itself).
        assert tracker.group(1).count("-<wbr>") == 15
        groups = tracker.group(1).replace("<wbr>", "").split("-")
        assert len(groups) == 16
        assert all(re.fullmatch("[0-9a-f]{4}", group) for group in groups)
        css = (PROJECT_ROOT / "app/static/css/pingyi.css").read_text()
        assert "overflow-wrap: normal; word-break: normal;" in css

    def test_it_has_a_copy_button_shown_by_the_script(
        self, client: TestClient, session: Session
    ) -> None:
        html, _ = receipt_page(client, session)

        assert re.search(
            r'<button type="button" id="receipt-copy"[^>]*hidden>复制回执</button>', html
        )
        assert "轻点一下回执即可全部选中" in html  # how to copy it without the script

    def test_it_has_an_svg_qr_code_of_the_verification_link_with_the_tracker(
        self, client: TestClient, session: Session
    ) -> None:
        html, slug = receipt_page(client, session)

        image = re.search(r'<img src="(data:image/svg\+xml[^"]+)" id="receipt-qr"', html)
        assert image is not None
        svg = unquote(image.group(1).split(",", 1)[1].replace("&amp;", "&").replace("&#39;", "'"))
        assert svg.startswith("<svg")
        assert "<path" in svg
        assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
        assert 'download="pingyi-receipt-' + slug + '.svg"' in html

    def test_the_qr_code_spells_the_verification_link(
        self, client: TestClient, session: Session
    ) -> None:
        import segno

        from app.ballots import receipts

        link = "http://127.0.0.1:8000/verify/test#0123-abcd"
        made = receipts.qr_svg_data_uri(link)

        assert made == segno.make(link, error="m").svg_data_uri(
            scale=4, border=4, dark="#000", light="#fff"
        )

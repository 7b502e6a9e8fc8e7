"""``pingyi codes issue --pdf``: printable slips for a new batch, against a real SQLite file."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app import config
from app.admission import service as admission_service
from app.admission.models import CodeStatus
from app.campaigns import service as campaign_service
from app.reports import slips
from app.reports.slips import rating_url
from tests.reports.pdf_reading import read_pdf
from tests.test_cli import (
    DEPARTMENTS_CSV,
    app_database,
    batch_ids,
    code_statuses,
    create_campaign,
    read_codes_csv,
    run_failing,
    run_ok,
    write,
)

PUBLIC_BASE_URL = "https://pingyi.example.gov.cn"
TITLE = "命令行测试"  # the Chinese title create_campaign gives every campaign
CITIZENS = "办事群众"  # the Chinese name of "citizens" in surveys/service-rating.yaml


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The module's database, holding departments CLI1 区甲局, CLI2 区乙局 and CLI3 区丙局."""
    departments_csv = write(tmp_path_factory.mktemp("departments") / "d.csv", DEPARTMENTS_CSV)
    with app_database() as engine:
        run_ok("departments", "import", str(departments_csv))
        yield engine


@pytest.fixture(autouse=True)
def public_base_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("PINGYI_PUBLIC_BASE_URL", PUBLIC_BASE_URL)
    config.get_settings.cache_clear()
    yield PUBLIC_BASE_URL
    monkeypatch.undo()
    config.get_settings.cache_clear()


def issue(slug: str, *, count: int = 2, **files_and_options: Path | str) -> list[str]:
    """Arguments of ``pingyi codes issue`` for the citizens group; options by name, e.g. pdf."""
    options = [
        part for name, value in files_and_options.items() for part in (f"--{name}", str(value))
    ]
    return ["codes", "issue", slug, "--group", "citizens", "--count", str(count), *options]


def codes_in_pdf(path: Path) -> list[str]:
    """The codes in the slips' QR codes, page by page, checking that each is also printed."""
    found = []
    for page in read_pdf(path.read_bytes()):
        for url in page.qr_texts:
            code = url.removeprefix(f"{PUBLIC_BASE_URL}/r#")
            assert url == rating_url(PUBLIC_BASE_URL, code)
            assert code in page.lines
            found.append(code)
    return found


def batch_revoked(engine: Engine, slug: str) -> list[bool]:
    with Session(engine) as session:
        campaign = campaign_service.get_campaign(session, slug)
        return [batch.revoked for batch in admission_service.list_batches(session, campaign)]


@pytest.mark.usefixtures("database", "cjk_font")
class TestCodesIssueWithPdf:
    def test_pdf_alone_holds_every_issued_code_on_pages_of_ten(
        self, tmp_path: Path, database: Engine
    ) -> None:
        create_campaign(tmp_path, "slips-only")
        pdf = tmp_path / "slips.pdf"

        result = run_ok(*issue("slips-only", count=12, pdf=pdf))

        pages = read_pdf(pdf.read_bytes())
        assert len(pages) == 2
        assert [len(page.qr_texts) for page in pages] == [slips.SLIPS_PER_PAGE, 2]
        issued = codes_in_pdf(pdf)
        assert len(set(issued)) == 12
        assert code_statuses(database, issued) == [CodeStatus.UNUSED] * 12
        assert "12 slips on 2 pages" in result.output

    def test_csv_and_pdf_hold_the_same_codes_in_the_same_order(self, tmp_path: Path) -> None:
        create_campaign(tmp_path, "slips-and-csv")
        out, pdf = tmp_path / "codes.csv", tmp_path / "slips.pdf"

        run_ok(*issue("slips-and-csv", count=3, out=out, pdf=pdf))

        in_csv = [row[3] for row in read_codes_csv(out)[1:]]
        in_pdf = set(codes_in_pdf(pdf))
        (page,) = read_pdf(pdf.read_bytes())
        assert in_pdf == set(in_csv)
        assert [line for line in page.lines if line in in_pdf] == in_csv

    def test_slips_name_campaign_group_and_department_in_chinese(self, tmp_path: Path) -> None:
        create_campaign(tmp_path, "slips-scoped")
        pdf = tmp_path / "slips.pdf"

        run_ok(*issue("slips-scoped", pdf=pdf, target="CLI2"))

        (page,) = read_pdf(pdf.read_bytes())
        assert page.lines.count(TITLE) == 2
        assert page.lines.count(f"评议主体：{CITIZENS}") == 2
        assert page.lines.count("被评议单位：区乙局") == 2


@pytest.mark.usefixtures("database")
class TestCodesIssueRefusals:
    def test_without_out_or_pdf_exits_1_and_issues_nothing(
        self, tmp_path: Path, database: Engine
    ) -> None:
        create_campaign(tmp_path, "slips-no-file")

        result = run_failing(*issue("slips-no-file"))

        assert "--pdf" in result.stderr
        assert batch_ids(database, "slips-no-file") == []

    def test_existing_pdf_is_kept_and_nothing_is_issued(
        self, tmp_path: Path, database: Engine
    ) -> None:
        create_campaign(tmp_path, "slips-exists")
        out, pdf = tmp_path / "codes.csv", write(tmp_path / "slips.pdf", "earlier slips\n")

        result = run_failing(*issue("slips-exists", out=out, pdf=pdf))

        assert str(pdf) in result.stderr
        assert pdf.read_text(encoding="utf-8") == "earlier slips\n"
        assert not out.exists()
        assert batch_ids(database, "slips-exists") == []

    def test_same_file_for_csv_and_pdf_is_refused(self, tmp_path: Path, database: Engine) -> None:
        create_campaign(tmp_path, "slips-same-file")
        both = tmp_path / "codes"

        run_failing(*issue("slips-same-file", out=both, pdf=both))

        assert not both.exists()
        assert batch_ids(database, "slips-same-file") == []

    def test_refused_batch_leaves_neither_file(self, tmp_path: Path, database: Engine) -> None:
        create_campaign(tmp_path, "slips-bad-target")
        out, pdf = tmp_path / "codes.csv", tmp_path / "slips.pdf"

        result = run_failing(*issue("slips-bad-target", out=out, pdf=pdf, target="CLI3"))

        assert "CLI3" in result.stderr
        assert not out.exists()
        assert not pdf.exists()
        assert batch_ids(database, "slips-bad-target") == []


@pytest.mark.usefixtures("database")
class TestCodesIssueWithoutFont:
    def test_missing_font_exits_1_with_the_remedy_and_issues_nothing(
        self, tmp_path: Path, database: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        create_campaign(tmp_path, "slips-no-font")
        monkeypatch.setenv("PINGYI_PDF_FONT", str(tmp_path / "absent.ttc"))
        config.get_settings.cache_clear()
        out, pdf = tmp_path / "codes.csv", tmp_path / "slips.pdf"

        result = run_failing(*issue("slips-no-font", out=out, pdf=pdf))

        assert "fonts-noto-cjk" in result.stderr
        assert "PINGYI_PDF_FONT" in result.stderr
        assert not out.exists()
        assert not pdf.exists()
        assert batch_ids(database, "slips-no-font") == []


@pytest.mark.usefixtures("database")
class TestCodesIssueWhenDrawingFails:
    def test_batch_is_revoked_and_its_files_removed(
        self, tmp_path: Path, database: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def fail(*args: object, **kwargs: object) -> int:
            raise RuntimeError("printer on fire")

        monkeypatch.setattr(slips, "render_slips_pdf", fail)
        create_campaign(tmp_path, "slips-fail")
        out, pdf = tmp_path / "codes.csv", tmp_path / "slips.pdf"

        result = run_failing(*issue("slips-fail", out=out, pdf=pdf))

        assert "printer on fire" in result.stderr
        assert "revoked" in result.stderr
        assert batch_revoked(database, "slips-fail") == [True]
        assert not out.exists()
        assert not pdf.exists()

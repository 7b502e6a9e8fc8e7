"""Importing the service catalog from CSV and XLSX: every problem listed, nothing stored."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.services import service as catalog_service
from app.services.importer import LineProblem, ServiceImportInvalid
from app.services.models import Service
from tests.factories import make_department
from tests.services.files import (
    CHINESE_HEADER,
    ENGLISH_HEADER,
    csv_bytes,
    service_row,
    xlsx_bytes,
)


def stored(session: Session) -> list[tuple[str, str, str]]:
    session.expire_all()
    services = session.scalars(select(Service).order_by(Service.position))
    return [(s.department.code, s.name, s.time_limit) for s in services]


def problems_of(session: Session, content: bytes) -> list[LineProblem]:
    with pytest.raises(ServiceImportInvalid) as raised:
        catalog_service.import_file(session, content)
    return raised.value.problems


@pytest.fixture
def departments(session: Session) -> None:
    make_department(session, code="SWJ", name="区税务局", category="执法类")
    make_department(session, code="ZWZX", name="区政务服务中心", category="综合类")


@pytest.mark.usefixtures("departments")
class TestAGoodFileIsImported:
    def test_csv_with_chinese_headers_creates_services_in_file_order(
        self, session: Session
    ) -> None:
        content = csv_bytes(
            [CHINESE_HEADER, service_row("SWJ", "发票申领"), service_row("ZWZX", "居住证办理")]
        )

        report = catalog_service.import_file(session, content)

        assert (report.created, report.updated) == (2, 0)
        assert stored(session) == [
            ("SWJ", "发票申领", "5个工作日"),
            ("ZWZX", "居住证办理", "5个工作日"),
        ]

    def test_xlsx_with_english_headers_and_numbers_in_cells(self, session: Session) -> None:
        row: list[object] = list(service_row("SWJ", "发票申领"))
        row[4] = 5  # a time limit typed as a number
        content = xlsx_bytes([ENGLISH_HEADER, row, ["ZWZX", "居住证办理"]])

        report = catalog_service.import_file(session, content)

        assert (report.created, report.updated) == (2, 0)
        assert stored(session) == [("SWJ", "发票申领", "5"), ("ZWZX", "居住证办理", "")]

    def test_importing_again_updates_by_department_and_name(self, session: Session) -> None:
        catalog_service.import_file(
            session, csv_bytes([CHINESE_HEADER, service_row("SWJ", "发票申领")])
        )
        content = csv_bytes(
            [
                ["单位代码", "事项名称", "承诺时限"],
                ["SWJ", "发票申领", "即时办结"],
                ["SWJ", "税务登记", "1个工作日"],
            ]
        )

        report = catalog_service.import_file(session, content)

        assert (report.created, report.updated) == (1, 1)
        assert stored(session) == [
            ("SWJ", "发票申领", "即时办结"),
            ("SWJ", "税务登记", "1个工作日"),
        ]
        [invoices] = catalog_service.services_of_code(session, "SWJ")[:1]
        assert invoices.fees == "不收费"  # a column the second file left out is kept

    def test_multi_line_cells_are_kept(self, session: Session) -> None:
        row = service_row("SWJ", "发票申领")
        row[2] = "1. 网上申请\n2. 窗口领取"
        catalog_service.import_file(session, csv_bytes([CHINESE_HEADER, row]))

        [service] = catalog_service.services_of_code(session, "SWJ")
        assert service.procedure == "1. 网上申请\n2. 窗口领取"


@pytest.mark.usefixtures("departments")
class TestABadFileImportsNothing:
    def test_every_bad_row_of_a_csv_is_listed_with_line_and_field(self, session: Session) -> None:
        long_name = "事" * 201
        bidi = service_row("SWJ", "发票申领")
        bidi[5] = "不收费\u202e"
        content = csv_bytes(
            [
                CHINESE_HEADER,
                service_row("SWJ", "税务登记"),  # good: line 2
                service_row("NOPE", "不存在的单位"),  # line 3
                service_row("SWJ", long_name),  # line 4
                bidi,  # line 5
                service_row("SWJ", "税务登记"),  # line 6: repeats line 2
                ["SWJ", "只有两列"],  # line 7
                service_row("ZWZX", ""),  # line 8
            ]
        )

        problems = problems_of(session, content)

        assert [(p.line, p.field) for p in problems] == [
            (3, "department_code"),
            (4, "name"),
            (5, "fees"),
            (6, "name"),
            (7, "row"),
            (8, "name"),
        ]
        assert "NOPE" in problems[0].message
        assert "U+202E" in problems[2].message
        assert "line 2" in problems[3].message
        assert stored(session) == []

    def test_every_bad_row_of_an_xlsx_is_listed(self, session: Session) -> None:
        content = xlsx_bytes(
            [
                ENGLISH_HEADER,
                service_row("SWJ", "发票申领"),
                service_row("NOPE", "居住证办理"),
                ["SWJ", "税务登记", "流程\u2067"],
            ]
        )

        problems = problems_of(session, content)

        assert [(p.line, p.field) for p in problems] == [(3, "department_code"), (4, "procedure")]
        assert stored(session) == []

    def test_header_problems_are_listed_together(self, session: Session) -> None:
        content = csv_bytes([["事项名称", "颜色", "流程", "办理流程"], ["发票申领", "红", "", ""]])

        problems = problems_of(session, content)

        assert [(p.line, p.field) for p in problems] == [
            (1, "department_code"),
            (1, "颜色"),
            (1, "procedure"),
        ]

    def test_a_file_that_is_not_utf8_names_its_lines(self, session: Session) -> None:
        content = "单位代码,事项名称\nSWJ,发票申领\n".encode("gbk")

        problems = problems_of(session, content)

        assert [p.line for p in problems] == [1, 2]
        assert "UTF-8" in problems[0].message

    def test_a_broken_workbook_and_an_empty_file_are_reported(self, session: Session) -> None:
        assert problems_of(session, b"PK\x03\x04 not really a workbook")[0].field == "file"
        assert "empty" in problems_of(session, b"")[0].message
        assert "no rows" in problems_of(session, csv_bytes([CHINESE_HEADER]))[0].message

    def test_the_exception_counts_the_problems(self, session: Session) -> None:
        content = csv_bytes([CHINESE_HEADER, service_row("A", "x"), service_row("B", "y")])

        with pytest.raises(ServiceImportInvalid) as raised:
            catalog_service.import_file(session, content)

        assert raised.value.params == {"count": 2}
        assert len(raised.value.problems) == 2


class TestTheCatalogIsGroupedByCategory:
    def test_departments_without_services_are_left_out_unless_asked_for(
        self, session: Session
    ) -> None:
        make_department(session, code="B1", name="乙局", category="执法类")
        make_department(session, code="A1", name="甲局", category="综合类")
        make_department(session, code="C1", name="丙局", category="执法类")
        catalog_service.import_file(
            session,
            csv_bytes([CHINESE_HEADER, service_row("A1", "事项一"), service_row("C1", "事项二")]),
        )

        public = catalog_service.catalog_by_category(session)
        console = catalog_service.catalog_by_category(session, with_empty=True)

        assert [(c, [d.department.code for d in ds]) for c, ds in public] == [
            ("执法类", ["C1"]),
            ("综合类", ["A1"]),
        ]
        assert [(c, [d.department.code for d in ds]) for c, ds in console] == [
            ("执法类", ["B1", "C1"]),
            ("综合类", ["A1"]),
        ]

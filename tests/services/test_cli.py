"""``pingyi services import FILE``: a good file is stored, a bad one lists every problem."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.services.models import Service
from tests.services.files import CHINESE_HEADER, csv_bytes, service_row, xlsx_bytes
from tests.test_cli import app_database, run, run_ok, write


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    departments = write(
        tmp_path_factory.mktemp("departments") / "d.csv",
        "单位代码,单位名称,类别\nSWJ,区税务局,执法类\nZWZX,区政务服务中心,综合类\n",
    )
    with app_database() as engine:
        run_ok("departments", "import", str(departments))
        yield engine


def service_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Service)) or 0


class TestServicesImportCommand:
    def test_a_csv_then_an_xlsx_create_and_update_services(
        self, tmp_path: Path, database: Engine
    ) -> None:
        csv_file = tmp_path / "services.csv"
        csv_file.write_bytes(csv_bytes([CHINESE_HEADER, service_row("SWJ", "发票申领")]))
        xlsx_file = tmp_path / "services.xlsx"
        xlsx_file.write_bytes(
            xlsx_bytes([CHINESE_HEADER, service_row("SWJ", "发票申领"), ["ZWZX", "居住证办理"]])
        )

        first = run_ok("services", "import", str(csv_file))
        second = run_ok("services", "import", str(xlsx_file))

        assert "1 created, 0 updated" in first.output
        assert "1 created, 1 updated" in second.output
        listing = run_ok("services", "list").output
        assert "SWJ\t5个工作日\t发票申领" in listing
        assert "ZWZX\t\t居住证办理" in listing

    def test_a_bad_file_lists_every_problem_and_stores_nothing(
        self, tmp_path: Path, database: Engine
    ) -> None:
        before = service_count(database)
        bad = tmp_path / "bad.csv"
        bad.write_bytes(
            csv_bytes(
                [CHINESE_HEADER, service_row("NOPE", "甲"), service_row("SWJ", "新事项"), ["SWJ"]]
            )
        )

        result = run("services", "import", str(bad))

        assert result.exit_code == 1
        assert "line 2, department_code" in result.output
        assert "line 4, row" in result.output
        assert "Traceback" not in result.output
        assert service_count(database) == before

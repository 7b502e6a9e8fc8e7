"""Department CSV import: all rows or none, every bad row named by its line number."""

import codecs

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.departments import service as department_service
from app.departments.models import CODE_MAX_LENGTH, NAME_MAX_LENGTH, Department
from app.departments.service import DepartmentImportInvalid, ImportReport

DepartmentRow = tuple[str, str, str | None, str]  # code, name, name_en, category

CHINESE_CSV = (
    "单位代码,单位名称,类别\nFGJ,区发展和改革局,经济发展类\nSJJ,区市场监督管理局,执法监管类\n"
)
ENGLISH_CSV = (
    "code,name,category,name_en\n"
    "FGJ,区发展和改革局,经济发展类,District Development and Reform Bureau\n"
    "SJJ,区市场监督管理局,执法监管类,\n"
)


def department_rows(session: Session) -> list[DepartmentRow]:
    departments = session.scalars(select(Department).order_by(Department.code))
    return [(d.code, d.name, d.name_en, d.category) for d in departments]


def import_text(session: Session, text: str, *, bom: bool = False) -> ImportReport:
    content = text.encode("utf-8")
    return department_service.import_csv(session, codecs.BOM_UTF8 + content if bom else content)


def refused_lines(session: Session, content: bytes) -> dict[int, str]:
    """Import ``content``, expect a refusal, and return its problems by line number."""
    before = department_rows(session)
    with pytest.raises(DepartmentImportInvalid) as caught:
        department_service.import_csv(session, content)
    assert department_rows(session) == before, "a refused file must change nothing"
    problems: dict[int, str] = {}
    for problem in caught.value.problems:
        assert problem.line not in problems, f"line {problem.line} reported twice"
        problems[problem.line] = problem.message
        assert str(problem).startswith(f"line {problem.line}")
    return problems


class TestImportCreatesDepartments:
    @pytest.mark.parametrize("bom", [False, True], ids=["no BOM", "UTF-8 BOM"])
    def test_chinese_headers_create_every_row(self, session: Session, bom: bool) -> None:
        report = import_text(session, CHINESE_CSV, bom=bom)

        assert report == ImportReport(created=2, updated=0)
        assert department_rows(session) == [
            ("FGJ", "区发展和改革局", None, "经济发展类"),
            ("SJJ", "区市场监督管理局", None, "执法监管类"),
        ]

    @pytest.mark.parametrize("bom", [False, True], ids=["no BOM", "UTF-8 BOM"])
    def test_english_headers_in_any_order_with_optional_name_en(
        self, session: Session, bom: bool
    ) -> None:
        report = import_text(session, ENGLISH_CSV, bom=bom)

        assert report == ImportReport(created=2, updated=0)
        assert department_rows(session) == [
            ("FGJ", "区发展和改革局", "District Development and Reform Bureau", "经济发展类"),
            ("SJJ", "区市场监督管理局", None, "执法监管类"),
        ]

    def test_chinese_name_en_header_and_windows_line_endings(self, session: Session) -> None:
        text = (
            "单位代码,单位名称,类别,英文名称\r\n"
            "SWJ,区商务局,经济发展类,District Commerce Bureau\r\n"
        )

        import_text(session, text, bom=True)

        assert department_rows(session) == [
            ("SWJ", "区商务局", "District Commerce Bureau", "经济发展类")
        ]

    def test_surrounding_whitespace_is_trimmed_and_blank_lines_skipped(
        self, session: Session
    ) -> None:
        report = import_text(session, "code,name,category\n\n FGJ , 区发改局 , 经济类 \n\n")

        assert report.created == 1
        assert department_rows(session) == [("FGJ", "区发改局", None, "经济类")]

    def test_imported_departments_keep_the_file_order(self, session: Session) -> None:
        import_text(session, "code,name,category\nZZZ,最后,类\nAAA,最先,类\n")

        assert [d.code for d in department_service.list_departments(session)] == ["ZZZ", "AAA"]


class TestReimportUpdatesExistingDepartments:
    def test_existing_codes_are_updated_and_new_ones_created(self, session: Session) -> None:
        import_text(session, CHINESE_CSV)
        first_ids = {d.code: d.id for d in department_service.list_departments(session)}

        report = import_text(
            session,
            "code,name,category,name_en\n"
            "SJJ,区市场监管局,执法类,District Market Regulation Bureau\n"
            "KJJ,区科学技术局,经济发展类,\n",
        )

        assert report == ImportReport(created=1, updated=1)
        assert department_rows(session) == [
            ("FGJ", "区发展和改革局", None, "经济发展类"),
            ("KJJ", "区科学技术局", None, "经济发展类"),
            ("SJJ", "区市场监管局", "District Market Regulation Bureau", "执法类"),
        ]
        updated = department_service.departments_by_code(session, ["SJJ"])["SJJ"]
        assert updated.id == first_ids["SJJ"]

    def test_file_without_name_en_column_keeps_english_names(self, session: Session) -> None:
        import_text(session, ENGLISH_CSV)

        import_text(session, "单位代码,单位名称,类别\nFGJ,区发改局,综合类\n")

        assert department_rows(session)[0] == (
            "FGJ",
            "区发改局",
            "District Development and Reform Bureau",
            "综合类",
        )

    def test_empty_name_en_cell_clears_the_english_name(self, session: Session) -> None:
        import_text(session, ENGLISH_CSV)

        import_text(session, "code,name,category,name_en\nFGJ,区发改局,综合类, \n")

        assert department_rows(session)[0] == ("FGJ", "区发改局", None, "综合类")


BAD_ROWS: dict[str, tuple[str, str]] = {
    # name: (the bad line, a word its problem must contain)
    "missing name": ("BAD,,经济发展类", "name"),
    "missing category": ("BAD,区某局,  ", "category"),
    "name too long": ("BAD," + "局" * (NAME_MAX_LENGTH + 1) + ",经济发展类", "name"),
    "code too long": ("B" * (CODE_MAX_LENGTH + 1) + ",区某局,经济发展类", "code"),
    "code with a space": ("B D,区某局,经济发展类", "code"),
    "code in Chinese": ("某局,区某局,经济发展类", "code"),
    "code with a slash": ("B/D,区某局,经济发展类", "code"),
    "too few fields": ("BAD,区某局", "fields"),
    "too many fields": ("BAD,区某局,经济发展类,extra", "fields"),
}


class TestBadRowIsReportedByLineAndNothingImported:
    @pytest.mark.parametrize(("bad_line", "word"), list(BAD_ROWS.values()), ids=list(BAD_ROWS))
    def test_bad_row_among_good_ones_is_named_by_its_line(
        self, session: Session, bad_line: str, word: str
    ) -> None:
        import_text(session, CHINESE_CSV)
        lines = ["code,name,category", "AAA,区甲局,综合类", bad_line, "FGJ,新名称,综合类"]

        problems = refused_lines(session, "\n".join(lines).encode("utf-8"))

        assert list(problems) == [3]
        assert word in problems[3]

    def test_every_bad_row_is_reported_not_only_the_first(self, session: Session) -> None:
        lines = ["code,name,category", "GOOD,区甲局,综合类"]
        lines += [line for line, _ in BAD_ROWS.values()]

        problems = refused_lines(session, "\n".join(lines).encode("utf-8"))

        assert sorted(problems) == list(range(3, 3 + len(BAD_ROWS)))

    def test_duplicate_code_names_both_lines(self, session: Session) -> None:
        text = "code,name,category\nFGJ,区发改局,经济类\nSWJ,区商务局,经济类\nFGJ,区发改委,经济类\n"

        problems = refused_lines(session, text.encode("utf-8"))

        assert list(problems) == [4]
        assert "FGJ" in problems[4]
        assert "2" in problems[4]

    def test_good_rows_are_not_imported_when_one_row_is_bad(self, session: Session) -> None:
        refused_lines(session, b"code,name,category\nGOOD,ok,c\nB D,bad,c\n")

        assert department_rows(session) == []


class TestFileThatIsNotUtf8IsRefused:
    def test_gbk_file_from_excel_is_refused_on_every_line(self, session: Session) -> None:
        problems = refused_lines(session, CHINESE_CSV.encode("gbk"))

        assert sorted(problems) == [1, 2, 3]
        assert all("UTF-8" in message for message in problems.values())

    @pytest.mark.parametrize("bom", [b"", codecs.BOM_UTF8], ids=["no BOM", "UTF-8 BOM"])
    @pytest.mark.parametrize(
        "gbk_row",
        [
            pytest.param("FGJ,区发展和改革局,经济发展类", id="Chinese mid-line"),
            pytest.param("区,区发展和改革局,经济发展类", id="Chinese at line start"),
        ],
    )
    def test_gbk_row_in_a_utf8_file_is_named_by_its_line(
        self, session: Session, bom: bytes, gbk_row: str
    ) -> None:
        content = bom + "code,name,category\nAAA,区甲局,综合类\n".encode()
        content += gbk_row.encode("gbk") + "\nBBB,区乙局,综合类\n".encode()

        problems = refused_lines(session, content)

        assert list(problems) == [3]
        assert "UTF-8" in problems[3]

    def test_every_line_with_gbk_bytes_is_reported(self, session: Session) -> None:
        rows = ["AAA,区甲局,综合类", "BBB,区乙局,综合类", "CCC,区丙局,综合类"]
        content = b"code,name,category\n"
        content += b"".join(
            (row + "\n").encode("gbk" if number != 3 else "utf-8")
            for number, row in enumerate(rows, start=2)
        )

        problems = refused_lines(session, content)

        assert sorted(problems) == [2, 4]


class TestBadHeaderIsRefused:
    @pytest.mark.parametrize(
        ("header", "word"),
        [
            pytest.param("code,name", "category", id="missing column"),
            pytest.param("code,name,category,colour", "colour", id="unknown column"),
            pytest.param("code,名称,单位名称,category", "name", id="two name columns"),
            pytest.param("code,name,category,code", "code", id="code column twice"),
        ],
    )
    def test_header_problem_is_on_line_1(self, session: Session, header: str, word: str) -> None:
        problems = refused_lines(session, f"{header}\nFGJ,区发改局,经济类\n".encode())

        assert list(problems) == [1]
        assert word in problems[1]

    def test_empty_file_is_refused(self, session: Session) -> None:
        assert list(refused_lines(session, b"")) == [1]

    def test_header_without_rows_is_refused(self, session: Session) -> None:
        assert refused_lines(session, codecs.BOM_UTF8 + "单位代码,单位名称,类别\n".encode())


class TestQuotedMultiLineFieldKeepsLineNumbers:
    def test_rows_after_a_multi_line_field_are_named_by_their_physical_line(
        self, session: Session
    ) -> None:
        lines = [
            "code,name,category",  # 1
            'AAA,"区甲局',  # 2: a quoted name over three lines
            "（原区乙局）",  # 3
            '合并后",综合类',  # 4
            "B D,区丙局,综合类",  # 5: bad code
            "CCC,区丁局",  # 6: too few fields
        ]

        problems = refused_lines(session, "\n".join(lines).encode("utf-8"))

        assert sorted(problems) == [5, 6]

    def test_bad_multi_line_row_is_named_by_its_first_line(self, session: Session) -> None:
        lines = ["code,name,category", "AAA,区甲局,综合类", '"B\nD",区乙局,综合类', "C D,x,y"]

        problems = refused_lines(session, "\n".join(lines).encode("utf-8"))

        assert sorted(problems) == [3, 5]

    def test_multi_line_field_is_imported_whole(self, session: Session) -> None:
        import_text(
            session, 'code,name,category\nAAA,"区甲局\n（合并）",综合类\nBBB,区乙局,综合类\n'
        )

        assert department_rows(session) == [
            ("AAA", "区甲局\n（合并）", None, "综合类"),
            ("BBB", "区乙局", None, "综合类"),
        ]


class TestEnglishCategoryNames:
    def test_the_import_keeps_an_english_category_name(self, session: Session) -> None:
        content = (
            "code,name,category,category_en\n"
            "SPJ,区行政审批局,窗口类,Service windows\n"
            "JYJ,区教育局,社会服务类,\n"
        ).encode()

        department_service.import_csv(session, content)

        found = {d.code: d for d in department_service.list_departments(session)}
        assert found["SPJ"].category_for("en") == "Service windows"
        assert found["SPJ"].category_for("zh_CN") == "窗口类"
        assert found["JYJ"].category_for("en") == "社会服务类"  # none given: Chinese

    def test_labels_are_one_per_category_and_never_merge_two(self) -> None:
        departments = [
            Department(code="A", name="甲", category="窗口类", category_en="Windows"),
            Department(code="B", name="乙", category="窗口类", category_en=None),
            Department(code="C", name="丙", category="执法类", category_en="Enforcement"),
            Department(code="D", name="丁", category="社会服务类", category_en="Enforcement"),
        ]

        english = department_service.category_labels(departments, "en")

        # Every department of 窗口类 reads the same, so its ranks stay one category; two
        # categories that would share "Enforcement" keep their Chinese names.
        assert english == {"窗口类": "Windows", "执法类": "执法类", "社会服务类": "社会服务类"}
        assert set(department_service.category_labels(departments, "zh_CN").values()) == {
            "窗口类",
            "执法类",
            "社会服务类",
        }

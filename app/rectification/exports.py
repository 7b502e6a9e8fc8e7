"""Exports of a campaign's 整改: the register (整改台账) as XLSX and the notice (整改情况通报)
as a PDF.

Both list every task with its department, deadline and status as of the day given; the
register adds the plan, dates and the office's last words. Text typed by staff and liaisons
goes through :mod:`app.reports.cells`, so nothing in the register can run as a formula. The PDF
is set in the embedded CJK font (:mod:`app.reports.fonts`), like the results bulletin.
"""

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass

from fpdf import FPDF
from fpdf.enums import Align, WrapMode
from fpdf.fonts import FontFace
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign
from app.i18n import N_, current_locale, gettext
from app.rectification import service
from app.rectification.models import NoteKind, RectificationTask
from app.reports import cells, fonts
from app.reports.bulletin import wrap

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"xlsx": XLSX, "pdf": "application/pdf"}

SHEET_REGISTER = N_("Rectification register")
REGISTER_HEADERS = (
    N_("Department"),
    N_("Category"),
    N_("Task"),
    N_("Problems"),
    N_("Assigned on"),
    N_("Working days"),
    N_("Deadline"),
    N_("Status"),
    N_("Overdue"),
    N_("Measures"),
    N_("Responsible post"),
    N_("Planned start"),
    N_("Planned end"),
    N_("Report submitted on"),
    N_("Accepted on"),
    N_("Evidence files"),
    N_("The office's last words"),
)
YES = N_("Yes")
NO = N_("No")
NOTICE_TITLE = N_("Rectification progress notice")
AS_OF = N_("As of %(date)s")
NOTICE_SUMMARY = N_(
    "%(tasks)s rectification tasks were assigned to %(departments)s departments: "
    "%(done)s rectified, %(in_progress)s being rectified, %(overdue)s overdue."
)
NOTICE_HEADERS = (N_("Department"), N_("Task"), N_("Deadline"), N_("Status"))
OVERDUE_HEADING = N_("Overdue tasks")
NO_TASKS = N_("No rectification task has been assigned.")
SANS = "pingyi-sans"
PT = 25.4 / 72  # one typographic point, in millimetres


@dataclass(frozen=True)
class TaskRow:
    task: RectificationTask
    department: str
    category: str
    problems: str
    status: str
    public_status: service.PublicStatus
    overdue: bool
    last_words: str


def task_rows(session: Session, campaign: Campaign, on: dt.date) -> list[TaskRow]:
    targets = {target.id: target for target in campaign.targets}
    rows = []
    for task in service.tasks_of_campaign(session, campaign):
        department = targets[task.target_id].department
        office_notes = [
            note.text for note in task.notes if note.kind in (NoteKind.RETURNED, NoteKind.ACCEPTED)
        ]
        rows.append(
            TaskRow(
                task=task,
                department=department.name_for(current_locale()),
                category=department.category,
                problems=task.description,
                status=gettext(service.STATUS_NAMES[task.status]),
                public_status=service.public_status(task, on),
                overdue=service.is_overdue(task, on),
                last_words=office_notes[-1] if office_notes else "",
            )
        )
    return rows


def export(session: Session, campaign: Campaign, fmt: str, *, on: dt.date) -> bytes:
    rows = task_rows(session, campaign, on)
    stream = io.BytesIO()
    if fmt == "xlsx":
        write_register(rows, stream)
    else:
        write_notice(campaign.title_for(current_locale()), rows, on, stream)
    return stream.getvalue()


def _date(day: dt.date | None) -> str:
    return day.isoformat() if day else ""


def write_register(rows: Sequence[TaskRow], stream: io.BytesIO) -> None:
    """The 整改台账: one row per task, headers in the current language."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(gettext(SHEET_REGISTER)[:31])
    header_cells = []
    for header in REGISTER_HEADERS:
        cell = WriteOnlyCell(sheet, value=gettext(header))
        cell.font = Font(bold=True)
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        task = row.task
        sheet.append(
            [
                cells.xlsx_text(sheet, row.department),
                cells.xlsx_text(sheet, row.category),
                cells.xlsx_text(sheet, task.title),
                cells.xlsx_text(sheet, row.problems),
                _date(task.assigned_on),
                task.working_days,
                _date(task.deadline),
                cells.xlsx_text(sheet, row.status),
                gettext(YES if row.overdue else NO),
                cells.xlsx_text(sheet, task.measures or ""),
                cells.xlsx_text(sheet, task.responsible_post or ""),
                _date(task.plan_starts_on),
                _date(task.plan_ends_on),
                _date(task.report_submitted_on),
                _date(task.accepted_on),
                len(task.evidence),
                cells.xlsx_text(sheet, row.last_words),
            ]
        )
    workbook.save(stream)


def write_notice(title: str, rows: Sequence[TaskRow], on: dt.date, stream: io.BytesIO) -> int:
    """The 整改情况通报 as an A4 PDF; returns its page count."""
    font = fonts.find_cjk_font()
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_creator("Pingyi")
    pdf.set_title(f"{title} · {gettext(NOTICE_TITLE)}")
    pdf.add_font(SANS, fname=font.path, collection_font_number=font.index)
    pdf.add_page()
    _lines(pdf, title, size=17, align=Align.C)
    _lines(pdf, gettext(NOTICE_TITLE), size=13, align=Align.C)
    _lines(pdf, gettext(AS_OF) % {"date": on.isoformat()}, size=10, align=Align.C)
    pdf.ln(4)
    if not rows:
        _lines(pdf, gettext(NO_TASKS), size=10)
    else:
        counts = {status: 0 for status in service.PublicStatus}
        for row in rows:
            counts[row.public_status] += 1
        summary = gettext(NOTICE_SUMMARY) % {
            "tasks": len(rows),
            "departments": len({row.task.target_id for row in rows}),
            "done": counts[service.PublicStatus.DONE],
            "in_progress": counts[service.PublicStatus.IN_PROGRESS],
            "overdue": counts[service.PublicStatus.OVERDUE],
        }
        _lines(pdf, summary, size=10)
        pdf.ln(2)
        _table(pdf, rows)
        overdue = [row for row in rows if row.overdue]
        if overdue:
            pdf.ln(4)
            _lines(pdf, gettext(OVERDUE_HEADING), size=12)
            _table(pdf, overdue)
    pdf.output(stream)
    return int(pdf.page_no())


def _lines(pdf: FPDF, text: str, *, size: float, align: Align = Align.L) -> None:
    pdf.set_font(SANS, size=size)
    height = size * PT * 1.5
    for line in wrap(pdf, text, pdf.epw):
        pdf.cell(pdf.epw, height, line, align=align)
        pdf.ln(height)


def _table(pdf: FPDF, rows: Sequence[TaskRow]) -> None:
    pdf.set_font(SANS, size=9)
    wrapmode = WrapMode.CHAR if current_locale() == "zh_CN" else WrapMode.WORD
    with pdf.table(
        col_widths=(30, 45, 15, 14),
        text_align=(Align.L, Align.L, Align.C, Align.C),
        line_height=9 * PT * 1.5,
        headings_style=FontFace(emphasis="", fill_color=(220, 230, 240)),
        wrapmode=wrapmode,
        padding=(0.8, 1.2),
    ) as table:
        table.row([gettext(header) for header in NOTICE_HEADERS])
        for row in rows:
            table.row(
                [
                    row.department,
                    row.task.title,
                    row.task.deadline.isoformat(),
                    gettext(service.PUBLIC_STATUS_NAMES[row.public_status]),
                ]
            )

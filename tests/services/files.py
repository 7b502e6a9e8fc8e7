"""Catalog files for the service catalog's tests: CSV text and XLSX workbooks."""

import io
from collections.abc import Sequence

from openpyxl import Workbook  # type: ignore[import-untyped]

CHINESE_HEADER = [
    "单位代码",
    "事项名称",
    "办理流程",
    "申请材料",
    "承诺时限",
    "收费标准",
    "设定依据",
    "投诉渠道",
]
ENGLISH_HEADER = [
    "department_code",
    "name",
    "procedure",
    "materials",
    "time_limit",
    "fees",
    "legal_basis",
    "complaint_channel",
]


def service_row(code: str, name: str, *, time_limit: str = "5个工作日") -> list[str]:
    return [
        code,
        name,
        "申请→受理→审核→办结",
        "身份证原件；申请表",
        time_limit,
        "不收费",
        "《中华人民共和国行政许可法》",
        "12345政务服务便民热线",
    ]


def csv_bytes(rows: list[list[str]], *, bom: bool = True) -> bytes:
    lines = [",".join(_quoted(cell) for cell in row) for row in rows]
    text = "\r\n".join(lines) + "\r\n"
    return ("\ufeff" if bom else "").encode() + text.encode("utf-8")


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\n') else cell


def xlsx_bytes(rows: Sequence[Sequence[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()

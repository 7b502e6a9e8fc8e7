"""A 暗访 finding becomes a 通报单 PDF and a rectification task."""

import datetime as dt
import io

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from app.inspections import flows, pdf
from app.inspections import service as inspection_service
from app.inspections.models import InspectionMethod
from tests.factories import make_staff
from tests.inspections.helpers import record
from tests.public.helpers import Published
from tests.reports.pdf_reading import read_pdf


class TestBulletinPdf:
    def test_text_layer_has_the_official_parts(self, session: Session) -> None:
        published = Published(session, publish=False)
        inspector = make_staff(session, role="inspector")
        first = record(session, inspector, published.east, day=dt.date(2026, 11, 3))
        second = record(
            session,
            inspector,
            published.north,
            day=dt.date(2026, 11, 20),
            method=InspectionMethod.PHONE_CHECK,
            category="服务态度",
            description="拨打咨询电话三次无人接听。",
        )
        bulletin = inspection_service.issue_bulletin(
            session,
            "admin",
            finding_ids=[first.id, second.id],
            title="关于2026年第四季度作风效能暗访情况的通报",
            issuing_office="某市作风效能建设领导小组办公室",
            copy_to="市纪委监委，各区人民政府",
            issued_on=dt.date(2026, 12, 6),
        )
        names = {published.east.id: published.east.name, published.north.id: published.north.name}
        stream = io.BytesIO()

        pages = pdf.render_bulletin(bulletin, names, stream)

        text = "".join(page.text for page in read_pdf(stream.getvalue())).replace("\r\n", "")
        assert pages == 1
        for expected in (
            "某市作风效能建设领导小组办公室",
            "〔2026〕1号",
            "关于2026年第四季度作风效能暗访情况的通报",
            "一、东城区税务局",
            "模拟办事",
            "2026年11月3日",
            "工作纪律",
            "群众等候二十分钟无人接待",
            "二、北城区城管局",
            "电话查询",
            "拨打咨询电话三次无人接听",
            "2026年12月6日",
            "抄送：市纪委监委，各区人民政府",
        ):
            assert expected in text, expected
        assert text.index("〔2026〕1号") < text.index("一、") < text.index("二、")
        assert text.index("二、") < text.rindex("2026年12月6日") < text.index("抄送")

    def test_chinese_ordinals(self) -> None:
        assert [pdf.chinese_ordinal(n) for n in (1, 9, 10, 11, 20, 21, 99)] == [
            "一",
            "九",
            "十",
            "十一",
            "二十",
            "二十一",
            "九十九",
        ]


class TestFindingToTask:
    def test_a_finding_becomes_a_task_of_its_department(self, session: Session) -> None:
        if not inspect(session.connection()).has_table("rectification_tasks"):
            pytest.skip("the rectification migration (0007) has not created its tables yet")
        published = Published(session)
        finding = record(session, make_staff(session, role="inspector"), published.north)

        assert flows.campaigns_for(session, finding) == [published.campaign]
        task = flows.finding_to_task(
            session, finding, published.campaign, working_days=10, actor="admin"
        )

        assert task.campaign_id == published.campaign.id
        target = next(
            t for t in published.campaign.targets if t.department_id == published.north.id
        )
        assert task.target_id == target.id
        assert "工作纪律" in task.title
        assert finding.description in task.description

"""问题清单 from published figures only, and the 整改 task lifecycle with its audit trail."""

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.errors import InvalidInput, InvalidTransition, NotFound
from app.rectification import problems, service
from app.rectification.models import ProblemKind, TaskStatus
from app.results import service as results_service
from tests.factories import make_campaign, make_staff
from tests.public.helpers import Published
from tests.rectification.helpers import published_with_comments

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
ASSIGNED_ON = dt.date(2026, 9, 30)


def _actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.sequence)))


class TestProblemListFromPublishedFigures:
    def test_poor_department_gets_items_bottom_and_comments(self, session: Session) -> None:
        built = published_with_comments(session)

        problems.generate(session, built.campaign, actor="office")

        listed = problems.problems_of(session, built.campaign)
        north = built.campaign.targets[2]
        texts = [p.text for p in listed if p.target_id == north.id]
        kinds = {p.kind for p in listed if p.target_id == north.id}
        assert kinds == {ProblemKind.ITEM, ProblemKind.BOTTOM, ProblemKind.COMMENT}
        assert any("末位" in text for text in texts)
        assert any(text == "公开意见：窗口排队太久" for text in texts)
        assert any("群众评议“态度热情”" in text and "低于 75" in text for text in texts)
        assert "rectification_problems_generate" in _actions(session)

    def test_good_departments_get_no_line(self, session: Session) -> None:
        built = published_with_comments(session)
        problems.generate(session, built.campaign, actor="office")

        targets_listed = {p.target_id for p in problems.problems_of(session, built.campaign)}
        assert targets_listed == {built.campaign.targets[2].id}

    def test_a_withheld_cell_never_feeds_the_list(self, session: Session) -> None:
        built = Published(session)
        results = results_service.campaign_results(session, built.campaign, "zh_CN")
        settings = problems.settings_for(session, built.campaign)
        north = next(t for t in results.targets if t.target == built.north.code)
        assert problems.findings(results, settings, {})  # the published figures give lines

        for group in north.groups:
            for item in group.items:
                item.mean_points = None
                item.satisfaction_rate = None
                item.distribution = None
        north.bottom = False

        assert [
            f for f in problems.findings(results, settings, {}) if f.target == north.target
        ] == []

    def test_thresholds_compare_the_published_figure(self, session: Session) -> None:
        built = Published(session)
        results = results_service.campaign_results(session, built.campaign, "zh_CN")
        settings = problems.settings_for(session, built.campaign)
        settings.item_mean_below = 0
        settings.satisfaction_below = 0
        settings.poor_share_above = 1

        lines = problems.findings(results, settings, {})

        assert {line.kind for line in lines} == {ProblemKind.BOTTOM}

    def test_unpublished_campaign_has_no_list(self, session: Session) -> None:
        campaign = make_campaign(session)
        with pytest.raises(InvalidTransition):
            problems.generate(session, campaign, actor="office")

    def test_staff_add_edit_and_remove_lines(self, session: Session) -> None:
        built = published_with_comments(session)
        target = built.campaign.targets[0]

        added = problems.add_problem(session, built.campaign, target, " 窗口指引不清 ", actor="o")
        problems.edit_problem(session, added, "窗口指引牌不清楚", actor="o")
        assert added.text == "窗口指引牌不清楚"
        problems.remove_problem(session, added, actor="o")

        assert problems.problems_of(session, built.campaign) == []
        assert _actions(session)[-3:] == [
            "rectification_problem_add",
            "rectification_problem_edit",
            "rectification_problem_remove",
        ]


def _assigned(session: Session) -> tuple[Published, service.RectificationTask]:
    built = published_with_comments(session)
    problems.generate(session, built.campaign, actor="office")
    north = built.campaign.targets[2]
    chosen = [
        p.id for p in problems.problems_of(session, built.campaign) if p.target_id == north.id
    ]
    task = service.assign_task(
        session,
        built.campaign,
        north,
        title="提升窗口服务质量",
        description="",
        working_days=1,
        problem_ids=chosen,
        actor="office",
        on=ASSIGNED_ON,
    )
    return built, task


class TestTaskLifecycle:
    def test_assignment_takes_problems_and_a_working_day_deadline(self, session: Session) -> None:
        built, task = _assigned(session)

        assert task.deadline == dt.date(2026, 10, 8)  # past the National Day holiday
        assert "末位" in task.description
        assert all(
            p.task_id == task.id
            for p in problems.problems_of(session, built.campaign)
            if p.target_id == task.target_id
        )
        with pytest.raises(InvalidTransition):
            problems.edit_problem(
                session,
                next(p for p in problems.problems_of(session, built.campaign) if p.task_id),
                "x",
                actor="office",
            )

    def test_plan_progress_report_return_then_accept(self, session: Session) -> None:
        _built, task = _assigned(session)
        service.submit_plan(
            session,
            task,
            measures="增设叫号机",
            responsible_post="办公室主任",
            starts_on=ASSIGNED_ON,
            ends_on=dt.date(2026, 10, 8),
            actor="liaison",
        )
        service.add_progress(session, task, "已采购", actor="liaison", on=ASSIGNED_ON)
        with pytest.raises(InvalidInput):
            service.submit_report(session, task, "已完成", actor="liaison")
        service.add_evidence(session, task, PNG, "photo.png", actor="liaison")
        service.submit_report(session, task, "已完成", actor="liaison", on=ASSIGNED_ON)
        with pytest.raises(InvalidInput):
            service.review_report(session, task, accept=False, reason=" ", actor="office")
        service.review_report(session, task, accept=False, reason="缺少照片", actor="office")
        assert task.status == TaskStatus.RETURNED
        service.add_evidence(session, task, PNG, "photo2.png", actor="liaison")
        service.submit_report(session, task, "补充照片", actor="liaison", on=ASSIGNED_ON)
        service.review_report(session, task, accept=True, reason="", actor="office", on=ASSIGNED_ON)

        assert task.status == TaskStatus.ACCEPTED
        assert service.public_status(task, dt.date(2030, 1, 1)) == service.PublicStatus.DONE
        assert [a for a in _actions(session) if a.startswith("rectification_")][-8:] == [
            "rectification_plan_submit",
            "rectification_progress",
            "rectification_evidence_upload",
            "rectification_report_submit",
            "rectification_report_return",
            "rectification_evidence_upload",
            "rectification_report_submit",
            "rectification_report_accept",
        ]

    def test_steps_out_of_order_are_refused(self, session: Session) -> None:
        _built, task = _assigned(session)
        with pytest.raises(InvalidTransition):
            service.submit_report(session, task, "已完成", actor="liaison")
        with pytest.raises(InvalidTransition):
            service.review_report(session, task, accept=True, reason="", actor="office")

    def test_overdue_is_derived_from_the_deadline(self, session: Session) -> None:
        _built, task = _assigned(session)

        assert not service.is_overdue(task, task.deadline)
        assert service.is_overdue(task, task.deadline + dt.timedelta(days=1))
        assert service.public_status(task, dt.date(2030, 1, 1)) == service.PublicStatus.OVERDUE
        assert task in service.overdue_tasks(session, dt.date(2030, 1, 1))

    def test_a_report_on_time_awaiting_review_is_not_overdue(self, session: Session) -> None:
        _built, task = _assigned(session)
        service.submit_plan(
            session,
            task,
            measures="m",
            responsible_post="p",
            starts_on=ASSIGNED_ON,
            ends_on=ASSIGNED_ON,
            actor="l",
        )
        service.add_evidence(session, task, PNG, "a.png", actor="l")
        service.submit_report(session, task, "done", actor="l", on=task.deadline)

        assert not service.is_overdue(task, dt.date(2030, 1, 1))


class TestLiaisonScope:
    def test_another_departments_task_does_not_exist_for_a_liaison(self, session: Session) -> None:
        built, task = _assigned(session)
        own = make_staff(session, role="liaison", department=built.north)
        other = make_staff(session, role="liaison", department=built.east)

        assert service.task_for_liaison(session, own, task.id) is task
        with pytest.raises(NotFound):
            service.task_for_liaison(session, other, task.id)

"""An administrator at the browser (issue 16): the jobs page shows each periodic job with its schedule and
starts one now, the job's page follows it to its result and the schedule shows it as the last result; a failed
job shows its error in the administrator's language with the raw text beside it, and "Retry" queues a new job
with the same parameters. In English and in Japanese."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from edms.application.job_kinds import EXPORT
from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.jobs import operations
from edms.timeutil import utc_now
from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD
from tests.support.inspection import events, run_jobs

pytestmark = pytest.mark.browser

ADMIN = ("daisuke.kato", "Daisuke Kato")
WORDS = {
    "en": {"nav": "Jobs", "periodic": "Periodic jobs", "run": "Run now", "done": "Done", "never": "Never run",
           "kind": "Escalation of overdue tasks", "failed": "There is no case 987654 to export.",
           "retry": "Retry: run this job again", "waiting": "Waiting"},
    "ja": {"nav": "ジョブ", "periodic": "定期ジョブ", "run": "今すぐ実行", "done": "完了", "never": "未実行",
           "kind": "期限超過タスクのエスカレーション", "failed": "エクスポートする案件 987654 はありません。",
           "retry": "再実行（このジョブをもう一度実行する）", "waiting": "待機中"},
}


def _failed_export(app, admin_id: int) -> int:
    with command(app.extensions["edms"].sessions) as session:
        job = operations.request(session, AuditContext(user_id=admin_id, user_name=ADMIN[1], client_addr="127.0.0.1"),
                                 EXPORT, {"scope": "case", "id": 987654, "case_id": 987654, "user_name": ADMIN[1]},
                                 requested_by=admin_id, now=utc_now(), max_attempts=1)
        job_id = job.id
    assert run_jobs(app) == [job_id]
    return job_id


@pytest.mark.req("11.10(e)")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_an_administrator_runs_a_periodic_job_now_and_retries_a_failed_one_from_the_jobs_pages(
        page, app, people, language):
    words = WORDS[language]
    admin = people.make(ADMIN[0], "admin", printed_name=ADMIN[1])
    browser_sign_in(page, ADMIN[0], PASSWORD)
    if language != "en":
        choose_language(page, language)
    page.click("#nav-jobs")
    expect(page.locator("h2").first).to_have_text(words["periodic"])
    expect(page.locator("#schedule-table")).to_contain_text(words["never"])
    row = page.locator("#schedule-escalate")
    expect(row).to_contain_text(words["kind"])
    row.get_by_role("button", name=words["run"]).click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+$"))  # at once: the worker does the work
    job_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#job-status")).to_have_text(words["waiting"])
    assert run_jobs(app) == [job_id]
    expect(page.locator("#job-status")).to_have_text(words["done"], timeout=30_000)  # the poller reloads the page
    page.click("#nav-jobs")
    expect(page.locator("h2").first).to_have_text(words["periodic"])
    expect(row).to_contain_text(f"#{job_id}")
    expect(row).to_contain_text(words["done"])
    expect(row.get_by_role("button", name=words["run"])).to_be_visible()  # nothing of that kind waits now
    (requested,) = events(app, "job.requested", object_id=str(job_id))
    assert requested.actor_name == ADMIN[1]

    failed_id = _failed_export(app, admin.id)
    page.goto(f"/jobs/{failed_id}")
    expect(page.locator("#job-error")).to_contain_text(words["failed"])
    expect(page.locator("#job-raw-error")).to_contain_text("NothingToExport")
    page.get_by_role("button", name=words["retry"]).click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+$"))
    again_id = int(page.url.rsplit("/", 1)[1])
    assert again_id != failed_id
    expect(page.locator("#job-retry-of a")).to_have_text(f"#{failed_id}")
    (asked,) = events(app, "job.retry_requested", object_id=str(failed_id))
    assert asked.actor_name == ADMIN[1]

"""The demo's Japanese OOS case (lot L2026-0412, patient PT-7Q4X, Osaka University Hospital, JP current regime)
carried from its signed OOS notification to QA release and the post-release safety report to PMDA, in a real
browser, by the people who do it: QC writes the deviation report, Regulatory Affairs the trial notification,
the treating physician the IRB record, justification, consent and the adverse-event report (in Japanese, her
own language), two QA people review, verify and release. Each signs in, opens Tasks, does what the inbox
offers for this case, signs on the signing page with their credentials again, and signs out. QA's release is
refused while the physician's records are missing, and the page says which (21 CFR 11.10(f), (g), 11.50,
11.200(a)(1); EU Annex 11 §14; the Japanese ER/ES guideline).

The walk follows the inbox rather than a fixed order of steps: whatever signature the inbox offers for this
case is signed, and each person creates only the records they write (a signature the case's gate still
refuses is left for a later turn)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from edms.cases.models import Case
from edms.db import transaction
from edms.demo import DEMO_PASSWORD, DEMO_PEOPLE, create_demo_users
from edms.demo_cases import create_demo_cases
from tests.browser.conftest import browser_sign_in

pytestmark = pytest.mark.browser

LOT = "L2026-0412"
TOKYO = ZoneInfo("Asia/Tokyo")
SIGNED_AT_TOKYO = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST \(UTC\+09:00\)$")
PRINTED = {person.username: person.printed_name for person in DEMO_PEOPLE}
# The inbox's links: create a record for the case, sign a version (at a step), or open a draft.
TASK_LINK = re.compile(r"^/documents/(?:new/(?P<create>\w+)\?case=\d+"
                       r"|\d+(?P<sign>/versions/\d+/sign(?:\?step=\w+)?)?)$")


@pytest.fixture
def demo(app, organisation_pki):
    """What `edms demo` builds, in the live server's own database; the JP-current case's id."""
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        create_demo_users(services, session)
    with transaction(services.sessions) as session:
        create_demo_cases(services, session, DEMO_PASSWORD)
        return session.scalar(select(Case.id).where(Case.lot == LOT))


# --- what each person writes ----------------------------------------------------------------------------

def tokyo(moment: datetime) -> str:
    return moment.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M")


def day(moment: datetime) -> str:
    return moment.astimezone(TOKYO).date().isoformat()


def records(now: datetime, numbers: dict[str, str]) -> dict[str, dict[str, object]]:
    """The content of every record the walk writes, by type; `numbers` holds the case's document numbers."""
    return {
        "deviation_report": {
            "description": "Post-thaw viability of lot L2026-0412 was 72.0 % against a release limit of ≥ 80 %.",
            "detection": "Release testing by flow cytometry (7-AAD exclusion, SOP-QC-112) two days ago; confirmed on "
                         "the retained sample.",
            "impact": "Lower viable dose; sterility, endotoxin and mycoplasma met their limits. No safety "
                      "specification is affected.",
            "root_cause": "Low baseline quality of the apheresis material (lymphocyte count at the lower limit).",
            "corrective_actions": "Lot quarantined pending the physician's request and QA release for this patient.",
            "preventive_actions": "Apheresis acceptance criteria to include a pre-collection lymphocyte count.",
            "capa_reference": "CAPA-2026-0031",
        },
        "regulatory_notification": {
            "authority": "pmda", "jurisdiction": "JP",
            "what_notified": "Clinical trial notification (治験計画届) covering supply of the OOS lot L2026-0412 "
                             "to patient PT-7Q4X under protocol KRCT-CD19-301.",
            "notified_at": tokyo(now - timedelta(days=20)), "reference_number": "PMDA-2026-CT-0412",
            "related_documents": numbers["oos_notification"],
        },
        "ethics_approval": {
            "committee_name": "Osaka University Hospital Institutional Review Board",
            "committee_type": "gcp_irb", "committee_reference": "IRB-2026-0178", "review_type": "protocol_approval",
            "patient_ref": "", "submitted_at": tokyo(now - timedelta(days=30)), "decision": "approved",
            "decision_date": day(now - timedelta(days=21)), "valid_until": day(now + timedelta(days=344)),
        },
        "institution_head_approval": {
            "institution": "Osaka University Hospital", "head_name": "Director of Osaka University Hospital",
            "protocol_number": "CART-JP-301", "decision": "approved", "decided_on": day(now - timedelta(days=19)),
        },
        "physician_justification": {
            "oos_notification": numbers["oos_notification"],
            "diagnosis": "Relapsed diffuse large B-cell lymphoma after two lines of therapy",
            "no_alternative": "Refractory to salvage chemotherapy; not eligible for autologous transplant.",
            "remanufacture_considered": "No apheresis material left; a new collection and lot would take 6-7 weeks, "
                                        "beyond the patient's window.",
            "urgency": "urgent",
            "expected_benefit": "Comparable response rates reported for lots with viability of 61-79 %.",
            "assessed_risk": "Lower viable dose; no safety specification failed (manufacturer's risk assessment).",
            "decision": "proceed",
        },
        "informed_consent": {
            "information_given": "The OOS viability result, the manufacturer's risk assessment and the alternatives.",
            "questions_answered": "Whether the lower viability changes the side effects: no evidence that it does.",
            "consent": "given", "consent_date": day(now), "witness_name": "", "witness_role": "",
        },
        "qa_release": {
            "oos_result": "Viability 72.0 % (specification ≥ 80 %)",
            "relies_on": " ".join(numbers.get(key, "") for key in ("oos_notification", "deviation_report",
                                                                  "physician_justification", "informed_consent")),
            "release_decision": "release",
            "conditions": "Administer within 90 minutes of thaw; enhanced monitoring for cytokine release syndrome.",
        },
        "safety_report": {
            "event_term": "Cytokine release syndrome, grade 3", "onset_date": day(now - timedelta(hours=6)),
            "awareness_at": tokyo(now - timedelta(hours=3)), "serious": "yes",
            "seriousness_criteria": ["hospitalisation"], "fatal_or_life_threatening": "no",
            "expectedness": "unexpected", "causality": "suspected", "reporting_category": "fifteen_day",
            "report_to": ["pmda", "manufacturer"], "report_type": "initial",
            "narrative": "Fever 39.4 °C and hypotension on day 2 after infusion; tocilizumab given, stable.",
            "related_documents": numbers.get("qa_release", ""),
        },
    }


def fill_record(page, doc_type, values: dict[str, object]) -> None:
    for definition in doc_type.fields:
        if definition.name not in values:
            continue  # kept as the case filled it in (lot, product, patient reference)
        value = values[definition.name]
        selector = f"#field_{definition.name}"
        if definition.type in ("boolean", "choice"):
            page.select_option(selector, value)
        elif definition.type == "multichoice":
            for choice in value:
                page.check(f"input[name=field_{definition.name}][value={choice}]")
        else:
            page.fill(selector, value)


# --- a person's turn: sign in, work through the inbox for this case, sign out -------------------------------

@dataclass
class Turn:
    language: str = "en"  # of the pages this person saw
    created: list[str] = field(default_factory=list)  # document numbers
    signed: list[str] = field(default_factory=list)  # "DEV-2026-0001: Reviewed by QA"
    refused: dict[str, str] = field(default_factory=dict)  # document number -> what the signing page says
    not_for_me: list[str] = field(default_factory=list)  # records the inbox offered that this person does not write
    asked_for_username: list[bool] = field(default_factory=list)  # per signature: both components, or password only


class Walk:
    def __init__(self, page, app, case_id: int, records=records, zone: ZoneInfo = TOKYO):
        """`records(now, numbers)` gives the content each person writes, by type (this case's by default)."""
        self.page, self.case_id, self.records = page, case_id, records
        self.types = app.extensions["edms"].document_types
        self.now = datetime.now(zone).replace(second=0, microsecond=0)

    def sign_in(self, username: str) -> None:
        browser_sign_in(self.page, username, DEMO_PASSWORD)
        expect(self.page.locator("#sign-out")).to_be_visible()

    def sign_out(self) -> None:
        self.page.click("#sign-out")
        expect(self.page.locator("#username")).to_be_visible()

    def open_case(self):
        self.page.goto(f"/cases/{self.case_id}")
        expect(self.page.locator("#case-reference")).to_be_visible()
        return self.page

    def numbers(self) -> dict[str, str]:
        """The case's document numbers by type, as the case page's checklist links them."""
        self.open_case()
        found = {}
        for key in self.types:
            links = self.page.locator(f"#checklist-{key} td:nth-child(3) a:not(.button)")
            if links.count():
                found[key] = links.first.inner_text()
        return found

    def turn(self, username: str, writes: tuple[str, ...] = (), *, signed_in: bool = False,
             stay: bool = False) -> Turn:
        """Everything the inbox offers `username` for this case: create and submit the records they write,
        sign every signature due, note what the signing page still refuses. Signs in first and out at the
        end unless `signed_in` (already) or `stay` (more to do)."""
        if not signed_in:
            self.sign_in(username)
        turn, passed = Turn(language=self.page.locator("html").get_attribute("lang")), set()
        while True:
            self.page.click("#nav-tasks")
            # Read the inbox only once it has loaded: the page before it has no task rows either.
            self.page.wait_for_url(re.compile(r"/tasks/$"))
            expect(self.page.locator("#tasks-table")).to_be_visible()
            rows = self.page.locator("#tasks-table tr.task").filter(
                has=self.page.locator(f"a[href='/cases/{self.case_id}']"))
            hrefs = [rows.nth(i).locator("a.task-link").get_attribute("href") for i in range(rows.count())]
            todo = [href for href in hrefs if href not in passed]
            if not todo:
                break
            href = todo[0]
            match = TASK_LINK.match(href)
            assert match, href
            if match["create"]:
                if match["create"] in writes:
                    turn.created.append(self.create(href, match["create"]))
                else:
                    turn.not_for_me.append(match["create"])
                    passed.add(href)
            elif match["sign"]:
                self.sign(href, turn, passed)
            else:  # a draft of mine: submit it
                self.page.goto(href)
                self.page.click("#submit-document")
                expect(self.page.locator("#version-status")).to_have_class(re.compile("status-in_review"))
        if not stay:
            self.sign_out()
        return turn

    def create(self, href: str, type_key: str, values: dict[str, object] | None = None) -> str:
        page = self.page
        values = values if values is not None else self.records(self.now, self.numbers())[type_key]
        page.goto(href)
        expect(page.locator("#document-form")).to_be_visible()
        fill_record(page, self.types[type_key], values)
        page.click("#save-document")
        expect(page.locator(".flash-success")).to_be_visible()
        number = page.locator("#document-number").inner_text()
        page.click("#submit-document")
        expect(page.locator(".flash-success")).to_be_visible()
        expect(page.locator("#edit-draft")).to_have_count(0)  # frozen
        return number

    def sign(self, href: str, turn: Turn, passed: set[str]) -> None:
        page = self.page
        page.goto(href)
        number = page.locator("#what-is-signed dd").first.inner_text().split(" · ")[0]
        if page.locator("#signing-gates, #signing-refused").count():
            turn.refused[number] = page.locator("#signing-gates, #signing-refused").inner_text()
            passed.add(href)
            return
        step = page.locator("#signed-step").inner_text()
        expect(page.locator("#signer-name")).to_contain_text(PRINTED[page_user(page)])
        turn.asked_for_username.append(page.locator("#username").count() == 1)
        if turn.asked_for_username[-1]:
            page.fill("#username", page_user(page))
        page.fill("#password", DEMO_PASSWORD)
        page.click("#confirm-signature")
        expect(page.locator(".flash-success")).to_be_visible()
        turn.signed.append(f"{number}: {step}")


def page_user(page) -> str:
    return re.search(r"\(([a-z.]+)\)\s*$", page.locator(".who").inner_text()).group(1)


# --- the story ------------------------------------------------------------------------------------------------

@pytest.mark.req("11.10(f)")
@pytest.mark.req("11.10(g)")
@pytest.mark.req("11.50(a)")
@pytest.mark.req("11.200(a)(1)")
@pytest.mark.req("A11-14")
@pytest.mark.req("ERES-e-signature")
def test_the_demo_jp_case_is_carried_from_its_oos_notification_to_qa_release_and_the_safety_report(
        page, app, demo):
    walk = Walk(page, app, demo)

    # QA looks at the case the demo opened: the OOS notification is signed, the rest is to do.
    walk.sign_in("akiko.tanaka")
    case = walk.open_case()
    expect(case.locator("h1")).to_contain_text(LOT)
    expect(case.locator("#checklist-oos_notification")).to_have_class(re.compile("done"))
    expect(case.locator("#checklist-qa_release")).to_have_class(re.compile("blocked"))
    expect(case.locator("#administration-blockers")).to_contain_text("must be approved first")
    walk.sign_out()

    # QC writes the deviation report and signs it as its author.
    kenji = walk.turn("kenji.sato", writes=("deviation_report",))
    assert [number[:3] for number in kenji.created] == ["DEV"]
    assert any(entry.startswith("DEV-") for entry in kenji.signed)

    # Regulatory Affairs records the trial notification to PMDA (and signs whatever else the inbox offers,
    # such as the deviation report's reportability assessment).
    naoko = walk.turn("naoko.ito", writes=("regulatory_notification",))
    assert [number[:3] for number in naoko.created] == ["REG"]
    assert any(entry.startswith("REG-") and "Prepared by Regulatory Affairs" in entry for entry in naoko.signed)

    # The physician, in Japanese: the IRB record, her justification and the consent record. The IRB record she
    # signs; the justification waits for QA to verify the IRB approval, and the signing page says so.
    # She also records the head of the institution's approval of the trial (J-GCP), which waits for the IRB record.
    yuki = walk.turn("yuki.mori", writes=("ethics_approval", "institution_head_approval", "physician_justification",
                                          "informed_consent"))
    assert yuki.language == "ja"
    assert sorted(number.split("-")[0] for number in yuki.created) == ["ETH", "HOI", "IC", "PJ"]
    assert any(entry.startswith("ETH-") for entry in yuki.signed)
    justification = next(number for number in yuki.created if number.startswith("PJ-"))
    assert justification in yuki.refused
    assert "Ethics committee / IRB review record" in yuki.refused[justification] \
        or "倫理審査委員会／IRB 審査記録" in yuki.refused[justification]

    # QA (first person): approves the notification, verifies the IRB record, reviews the deviation report.
    # Her first signature of the session asks for user name and password, the later ones the password only.
    akiko = walk.turn("akiko.tanaka", stay=True)
    assert any(entry.startswith("REG-") and "Approved by QA" in entry for entry in akiko.signed)
    assert any(entry.startswith("ETH-") for entry in akiko.signed)
    assert any(entry.startswith("DEV-") and "Reviewed by QA" in entry for entry in akiko.signed)
    assert akiko.asked_for_username == [True] + [False] * (len(akiko.signed) - 1)

    # She tries to release the lot now: the signing page refuses and names what is missing.
    case = walk.open_case()
    values = records(walk.now, walk.numbers())["qa_release"]
    case.click("#create-qa_release")
    fill_record(page, walk.types["qa_release"], values)
    page.click("#save-document")
    release = page.locator("#document-number").inner_text()
    page.click("#submit-document")
    expect(page.locator("#step-qa_review")).to_contain_text("due now")
    expect(page.locator("#sign-version")).to_have_count(0)
    page.goto(re.sub(r"(/documents/\d+).*$", r"\1/versions/1/sign", page.url))
    refusal = page.locator("#signing-refused")
    expect(refusal).to_contain_text("This record cannot be signed yet")
    expect(refusal).to_contain_text("Physician's justification for use of an OOS lot must be approved first")
    expect(refusal).to_contain_text("Informed consent record (OOS lot) must be approved first")
    expect(page.locator("#confirm-signature")).to_have_count(0)
    walk.sign_out()

    # QA (second person) approves the deviation report; the release still waits.
    hiroshi = walk.turn("hiroshi.yamamoto")
    assert any(entry.startswith("DEV-") and "Approved by QA" in entry for entry in hiroshi.signed)
    assert release in hiroshi.refused

    # The physician signs her justification and the consent record, each as author and as the responsible physician.
    yuki = walk.turn("yuki.mori")
    assert sorted(entry.split("-")[0] for entry in yuki.signed) == ["HOI", "IC", "IC", "PJ", "PJ"]
    # Regulatory Affairs checks the head's approval against the head's notice.
    naoko = walk.turn("naoko.ito")
    assert any(entry.startswith("HOI-") for entry in naoko.signed)

    # Now QA reviews the release and a second QA person approves it.
    akiko = walk.turn("akiko.tanaka")
    assert f"{release}: Reviewed by QA" in akiko.signed
    hiroshi = walk.turn("hiroshi.yamamoto", stay=True)
    assert f"{release}: Approved by QA (a second person)" in hiroshi.signed
    case = walk.open_case()
    expect(case.locator("#checklist-qa_release")).to_have_class(re.compile("done"))
    expect(case.locator("#administration-ready")).to_be_visible()
    walk.sign_out()

    # After administration the physician reports an adverse event: the case now needs the safety report.
    walk.sign_in("yuki.mori")
    case = walk.open_case()
    case.select_option("#date-key", "administration")
    case.fill("#date-value", tokyo(walk.now - timedelta(days=2)))
    case.click("#record-date")
    expect(case.locator(".flash-success")).to_be_visible()
    expect(case.locator("#date-administration")).to_contain_text("JST (UTC+09:00)")
    question = case.locator(".question", has_text="有害事象")
    question.locator("select[name=answer]").select_option("yes")
    question.locator("button").click()
    expect(case.locator(".flash-success")).to_be_visible()
    expect(case.locator(".question", has_text="有害事象")).to_contain_text("— はい")
    expect(case.locator("#checklist-safety_report")).not_to_have_class(re.compile("done"))
    yuki = walk.turn("yuki.mori", writes=("safety_report",), signed_in=True)
    assert [number[:2] for number in yuki.created] == ["AE"]
    report = yuki.created[0]

    # Regulatory Affairs assesses the report and submits it to PMDA.
    naoko = walk.turn("naoko.ito")
    assert f"{report}: Assessed and submitted by Regulatory Affairs" in naoko.signed

    # The case file: release approved, every record the regime needs approved, each signature manifest.
    walk.sign_in("akiko.tanaka")
    case = walk.open_case()
    expect(case.locator("#administration-ready")).to_be_visible()
    rows = case.locator("#checklist tbody tr")
    for i in range(rows.count()):
        expect(rows.nth(i)).to_have_class(re.compile("done"))
        expect(rows.nth(i).locator("td").nth(3)).to_have_text("Approved")
    case.click(f"#checklist-qa_release a:text-is('{release}')")
    expect(page.locator("#version-status")).to_have_text("Approved")
    signatures = page.locator("#manifestations li")
    expect(signatures).to_have_count(2)
    for i, (username, meaning) in enumerate((("akiko.tanaka", "Reviewed"), ("hiroshi.yamamoto", "Approved"))):
        signature = signatures.nth(i)
        expect(signature.locator(".signer")).to_have_text(f"{PRINTED[username]} ({username})")
        expect(signature.locator(".meaning")).to_have_text(meaning)
        expect(signature.locator(".signed-at")).to_have_text(SIGNED_AT_TOKYO)
        expect(signature.locator(".verification")).to_contain_text("valid")
    case = walk.open_case()
    case.click("#checklist-physician_justification td:nth-child(3) a:not(.button)")
    physician = page.locator("#manifestations li")
    expect(physician.locator(".signer")).to_have_text([f"{PRINTED['yuki.mori']} (yuki.mori)"] * 2)
    expect(physician.locator(".meaning")).to_have_text(["Authored", "Responsibility"])
    expect(physician.locator(".signed-at").first).to_contain_text("JST (UTC+09:00)")
    walk.sign_out()

"""Example values for every shipped document type, written once (figures from DOMAIN.md).

Lot L2026-0412 of a tisagenlecleucel-like CAR-T product for patient PT-7Q4X fails its release viability
specification (72.0 % against ≥ 80 %). QC notifies, QA investigates, the treating physician justifies use
and records consent, QA releases, Regulatory Affairs notifies PMDA. Plain data: unit tests import it
without a database.
"""
from __future__ import annotations

TITLES = {
    "oos_notification": "Viability OOS, lot L2026-0412 (PT-7Q4X)",
    "deviation_report": "Deviation: low post-thaw viability, lot L2026-0412",
    "informed_consent": "Consent to receive OOS lot L2026-0412",
    "physician_justification": "Justification for use of OOS lot L2026-0412",
    "qa_release": "Release decision, OOS lot L2026-0412 for PT-7Q4X",
    "regulatory_notification": "PMDA notification: use of OOS lot L2026-0412",
    "ethics_approval": "Ethics committee approval, OOS lot L2026-0412",
    "fda_acknowledgement": "FDA acknowledgement, expanded access IND 031744",
    "letter_of_authorization": "Letter of Authorization for IND 019283",
    "mah_agreement": "Quality agreement covering OOS supply",
    "physician_acceptance": "Physician's confirmation, OOS lot L2026-0412",
    "safety_report": "CRS after infusion of OOS lot L2026-0412",
    "supply_request": "Supply request, OOS lot L2026-0412 for PT-7Q4X",
    "waivable_items_list": "Waivable specification items, tisagenlecleucel",
}

# Every value valid for its field (None: an optional field left empty); document_refs fields are
# filled in with the numbers of documents created first.
VALUES: dict[str, dict[str, object]] = {
    "oos_notification": {
        "product": "tisagenlecleucel (CTL019)",
        "lot": "L2026-0412",
        "patient_ref": "PT-7Q4X",
        "tested_on": "2026-11-20",
        "test": "viability",
        "method": "Flow cytometry, 7-AAD exclusion (SOP QC-112)",
        "specification": "≥ 80 %",
        "result": "72.0",
        "units": "%",
        "safety_test": False,
        "investigation_summary": "Phase I laboratory investigation: no assignable laboratory error; "
                                 "the retest confirmed 72.0 % viability.",
        "risk_assessment": "OOS lots with viability of 61-79 % had outcomes similar to conforming lots "
                           "(Pasquini, Blood Adv 2020). The dose, 3.1 × 10^8 CAR+ viable T cells, is within 0.6-6.0 × 10^8.",
        "recommendation": "Consider administration of this lot with enhanced monitoring for cytokine release syndrome.",
    },
    "deviation_report": {
        "lot": "L2026-0412",
        "description": "Post-thaw viability 72.0 % against the release specification of ≥ 80 %.",
        "detection": "Release testing on 2026-11-20 (flow cytometry, 7-AAD exclusion).",
        "impact": "Lower viable dose; the CAR+ viable T-cell dose remains within 0.6-6.0 × 10^8.",
        "root_cause": "Controlled-rate freezer profile deviated by 4 minutes during the nucleation step.",
        "corrective_actions": "Freezer profile re-qualified; the lot assessed for compassionate use.",
        "preventive_actions": "Alarm on profile deviations above 1 minute; operator retraining.",
        "capa_reference": "CAPA-2026-0031",
    },
    "informed_consent": {
        "patient_ref": "PT-7Q4X",
        "information_given": "The lot did not meet its viability specification (72.0 % against ≥ 80 %); "
                             "the risks and the alternative of re-manufacture (about 48 days) were explained.",
        "questions_answered": "Whether lower viability lowers the chance of response: similar outcomes were reported.",
        "consent": "given",
        "consent_date": "2026-11-24",
        "witness_name": "Yuki Tanaka",
        "witness_role": "Clinical research coordinator",
    },
    "physician_justification": {
        "patient_ref": "PT-7Q4X",
        "diagnosis": "Relapsed/refractory diffuse large B-cell lymphoma after two lines of therapy",
        "no_alternative": "No further approved therapy; not eligible for a clinical trial.",
        "remanufacture_considered": "No apheresis material left; a new lot would take a median of 48 days, "
                                    "which the patient's condition does not allow.",
        "urgency": "urgent",
        "expected_benefit": "Durable remission is possible; outcomes with 61-79 % viability were similar.",
        "assessed_risk": "Cytokine release syndrome and neurotoxicity as for conforming lots; no safety test failed.",
        "decision": "proceed",
    },
    "qa_release": {
        "lot": "L2026-0412",
        "oos_result": "Viability 72 % (specification ≥ 80 %)",
        "release_decision": "release",
        "conditions": "Administration within 90 minutes of thaw; enhanced monitoring for cytokine release syndrome.",
    },
    "regulatory_notification": {
        "authority": "pmda",
        "jurisdiction": "JP",
        "what_notified": "Use of OOS lot L2026-0412 (viability 72 %) for patient PT-7Q4X.",
        "notified_at": "2026-11-25T21:06:00+09:00",
        "reference_number": "PMDA-2026-118",
    },
    "ethics_approval": {
        "committee_name": "Kansai University Hospital Ethics Committee",
        "committee_type": "institutional_ethics_committee",
        "committee_reference": "EC-2026-311",
        "review_type": "full_review",
        "patient_ref": "PT-7Q4X",
        "submitted_at": "2026-11-24T10:30:00+09:00",
        "decision": "approved_with_conditions",
        "decision_date": "2026-11-25",
        "conditions": "Administration only after the QA release decision; serious adverse events reported within 24 hours.",
        "valid_until": "2027-02-28",
    },
    "fda_acknowledgement": {
        "ind_number": "031744",
        "physician_name": "Dr Haruto Ito",
        "submitted_at": "2026-11-24T09:15:00-05:00",
        "fda_received_at": "2026-11-24T09:40:00-05:00",
        "earlier_treatment_allowed": True,
        "earlier_treatment_allowed_at": "2026-11-25T14:00:00-05:00",
        "emergency_telephone_authorization": False,
        "telephone_authorized_at": None,
        "fda_official": None,
        "telephone_details": None,
    },
    "letter_of_authorization": {
        "manufacturer": "Kansai Regenerative Cell Therapies K.K.",
        "application_type": "ind",
        "application_number": "019283",
        "physician_name": "Dr Haruto Ito",
        "product": "tisagenlecleucel (CTL019)",
        "lot": "L2026-0412",
        "patient_ref": "PT-7Q4X",
        "authorized_information": "FDA may refer to the CMC and release testing information in IND 019283 "
                                  "for the expanded access use of lot L2026-0412 by patient PT-7Q4X.",
        "issued_on": "2026-11-23",
    },
    "mah_agreement": {
        "manufacturer": "Kansai Regenerative Cell Therapies K.K., Kobe site",
        "manufacturing_authorisation": "28AZ200311",
        "mah": "Kansai Regenerative Cell Therapies K.K.",
        "agreement_reference": "QAA-2026-004 v3",
        "effective_from": "2026-04-01",
        "covers_oos_supply": True,
        "responsibilities": "The manufacturer investigates and notifies the OOS result; the MAH assesses the risk, "
                            "informs the treating physician and decides on release for the patient.",
    },
    "physician_acceptance": {
        "patient_ref": "PT-7Q4X",
        "lot": "L2026-0412",
        "supplied_at_request_notified": True,
        "physician_name": "Dr Haruto Ito",
        "acceptance": "accepted",
        "received_at": "2026-11-25T18:20:00+09:00",
        "received_as": "signed_in_edms",
    },
    "safety_report": {
        "patient_ref": "PT-7Q4X",
        "lot": "L2026-0412",
        "event_term": "Cytokine release syndrome",
        "onset_date": "2026-11-29",
        "awareness_at": "2026-11-29T08:10:00+09:00",
        "serious": True,
        "seriousness_criteria": ["hospitalisation"],
        "fatal_or_life_threatening": False,
        "expectedness": "expected",
        "causality": "suspected",
        "reporting_category": "fifteen_day",
        "report_to": ["pmda", "manufacturer"],
        "report_type": "initial",
        "submitted_at": "2026-12-05T16:00:00+09:00",
        "authority_reference": "AE-J-2026-00871",
        "narrative": "Grade 2 cytokine release syndrome on day 2 after infusion; tocilizumab given; resolved on day 5.",
    },
    "supply_request": {
        "patient_ref": "PT-7Q4X",
        "product": "tisagenlecleucel (CTL019)",
        "lot": "L2026-0412",
        "treating_site": "Kansai University Hospital, Department of Hematology",
        "reason": "No alternative therapy; re-manufacture would take a median of 48 days.",
        "planned_administration": "2026-11-27",
        "risk_information_received": True,
        "requested_at": "2026-11-25T11:00:00+09:00",
    },
    "waivable_items_list": {
        "product": "tisagenlecleucel (CTL019)",
        "mah": "Kansai Regenerative Cell Therapies K.K.",
        "evaluation_system": "QA evaluates each OOS result against the acceptable ranges below; "
                             "a result outside them is never supplied.",
        "waivable_tests": ["viable_car_t_dose", "viability"],
        "acceptable_ranges": "Viability 61-79 % (release ≥ 80 %): outcomes similar to conforming lots "
                             "(Pasquini, Blood Adv 2020).",
        "never_waived": "Sterility, endotoxin, mycoplasma.",
        "notified_to_authority": True,
        "notified_on": "2026-10-01",
        "notification_reference": "PMDA-W-2026-015",
        "effective_from": "2026-10-15",
    },
}

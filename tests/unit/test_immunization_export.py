"""The immunization export's pure mapping (app/domain/immunization_export.py): visits to FHIR R4B
models and registry rows, without a database."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.patient import Patient

from app.domain import immunization_export as export
from app.domain.visit import Injection, Person, Visit
from tests.unit.domain_helpers import make_site

SITE = make_site()
INJECTION: Injection = {
    "product": "coronavac", "product_name": "CoronaVac", "manufacturer": "Sinovac", "specification": "0.5 mL",
    "lot": "202610A127", "expires_on": "2027-10-15", "dose_number": 2, "site": "right_deltoid", "route": "IM",
    "vaccinator": "nurse.li", "desk": "3", "checklist": [], "observation_minutes": 30,
}


def visit(number: str = "110105198001010016", *, injected: bool = True, visit_id: str = "a" * 32,
          document_type: str = "resident_id", at: datetime = datetime(2026, 11, 24, 16, 30, 5, 123456, tzinfo=UTC)) -> Visit:
    person = Person("张三", document_type, number, "13800138000", date(1980, 1, 1))
    base = Visit(id=visit_id, site="demo", day=date(2026, 11, 25), ticket="A001", state="released", station=None,
                 desk=None, priority=False, queue_pos=1, person=person, dose_number=2, health_code="green",
                 checked_in_at=at)
    return replace(base, injection=dict(INJECTION), injected_at=at) if injected else base  # type: ignore[arg-type]


def test_sex_comes_from_a_resident_ids_17th_digit_only():
    assert export.sex_of(visit("110105198001010016")) == "male"  # 1: odd
    assert export.sex_of(visit("110105198001010024")) == "female"  # 2: even
    assert export.sex_of(visit("E12345678", document_type="passport")) is None


def test_resource_ids_are_stable_uuids_per_visit_and_kind_and_never_the_document():
    one = visit()
    ids = {export.resource_id("Patient", one), export.resource_id("Immunization", one)}
    assert len(ids) == 2 and all(uuid.UUID(value) for value in ids)
    assert export.resource_id("Patient", one) == export.resource_id("Patient", visit())
    assert export.resource_id("Patient", visit(visit_id="b" * 32)) not in ids
    assert all(one.person.document_number not in value for value in ids)


def test_an_immunization_carries_the_record_in_the_sites_time_and_validates():
    dose = export.immunization(visit(), SITE, patient_reference="Patient/x")
    assert isinstance(dose, Immunization)
    again = Immunization.model_validate_json(dose.model_dump_json())
    assert again.occurrenceDateTime.isoformat() == "2026-11-25T00:30:05+08:00"  # after the site's midnight
    assert (again.site.coding[0].code, again.route.coding[0].code) == ("RA", "IM")
    assert again.protocolApplied[0].doseNumberPositiveInt == 2
    assert (again.manufacturer.display, again.performer[0].actor.display) == ("Sinovac", "nurse.li")


def test_the_bundle_holds_a_patient_per_dose_and_leaves_out_people_not_vaccinated():
    visits = [visit(), visit(injected=False, visit_id="c" * 32),
              visit("E12345678", document_type="passport", visit_id="d" * 32)]
    bundle = Bundle.model_validate_json(export.bundle(visits, SITE).model_dump_json())
    urls = {entry.fullUrl: entry.resource for entry in bundle.entry}
    doses = [resource for resource in urls.values() if isinstance(resource, Immunization)]
    assert len(doses) == 2 and len(urls) == 4
    for dose in doses:
        assert isinstance(urls[dose.patient.reference], Patient)
    passport = next(resource for resource in urls.values()
                    if isinstance(resource, Patient) and resource.identifier[0].value == "E12345678")
    assert passport.identifier[0].system == export.DOCUMENT_SYSTEMS["passport"] and passport.gender is None
    assert len(export.ndjson_resources(visits, SITE)) == 2


def test_csv_rows_follow_the_columns():
    rows = export.csv_rows([visit(), visit(injected=False, visit_id="c" * 32)], SITE)
    assert len(rows) == 1 and len(rows[0]) == len(export.CSV_COLUMNS)
    row = dict(zip(export.CSV_COLUMNS, rows[0], strict=True))
    assert (row["sex"], row["injection_site_zh"], row["route_zh"]) == ("1", "右上臂三角肌", "肌内注射")
    assert row["vaccinated_at"] == "2026-11-25T00:30:05+08:00" and row["unit_id"] == SITE.id

"""The standard export of a day's immunizations (docs/EXPORTS.md): FHIR R4B NDJSON and Bundle,
parsed and validated by `fhir.resources` itself, and the registry CSV; the API and the CLI give
the same bytes; only supervisors export; every export is audited with its rows and hash."""
from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, datetime

from click.testing import CliRunner
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.patient import Patient

from app.cli import cli
from tests.conftest import TEST_DATA_KEY, TEST_LOOKUP_KEY, Api, Tokens
from tests.support.api import act, assert_error, check_in, checker, japi, load_site_variant, to_observation
from tests.support.factories import gen_consent, gen_injection

PATH = "/sites/demo/exports/immunizations"
DAY_BEFORE, DAY = "2026-11-24", "2026-11-25"
# The registry file's columns, as docs/EXPORTS.md lists them.
COLUMNS = ["record_id", "person_name", "document_type", "document_number", "birth_date", "sex", "phone",
           "vaccine_code", "vaccine_name", "vaccine_name_zh", "specification", "manufacturer", "lot_number",
           "expiry_date", "dose_number", "injection_site", "injection_site_zh", "route", "route_zh",
           "vaccinated_at", "unit_id", "unit_name", "unit_name_zh", "vaccinator"]
ZHANG = {"name": "张三", "document_type": "resident_id", "document_number": "110105198001010016",
         "phone": "13800138000"}  # 17th digit 1: male
ANN = {"name": "Ann Lee", "document_type": "passport", "document_number": "E12345678", "phone": None,
       "birth_date": "1990-05-06", "dose_number": 2}
ANN_INJECTION = {"product": "bbibp-corv", "lot": "202609B2114", "site": "right_deltoid", "dose_number": 2}


def record_two_days(api, clock) -> dict[str, str]:
    """One dose the day before (then released), two doses on DAY, and one person checked in on
    DAY but not vaccinated. Returns their visit ids by name."""
    ids = {"before": to_observation(api, name="前一天")}
    clock.advance(minutes=31)
    act(api, ids["before"], "release")
    clock.set(datetime(2026, 11, 25, 1, 0, tzinfo=UTC))  # 09:00 in Shanghai on DAY
    ids["zhang"] = to_observation(api, **ZHANG)
    visit = check_in(api, **ANN)
    ids["ann"] = visit["id"]
    path = "/sites/demo/stations/{}/call-next"
    assert api.post(path.format("consent"), {"desk": "A"}).get_json()["visit"]["id"] == ids["ann"]
    act(api, ids["ann"], "consent", gen_consent("A"))
    assert api.post(path.format("injection"), {"desk": "2"}).get_json()["visit"]["id"] == ids["ann"]
    act(api, ids["ann"], "injection", gen_injection("2", **ANN_INJECTION))
    ids["waiting"] = check_in(api, name="未接种")["id"]
    return ids


def export(api, day: str, chosen: str, token: str | None = None):
    return api.get(PATH, token=token, date=day, format=chosen)


def test_the_three_formats_hold_the_days_doses_validated_by_fhir_resources(japi, clock, tokens):
    ids = record_two_days(japi, clock)
    supervisor = tokens.supervisor

    ndjson = export(japi, DAY, "fhir-ndjson", supervisor)
    assert ndjson.status_code == 200 and ndjson.mimetype == "application/fhir+ndjson"
    assert ndjson.headers["Content-Disposition"].endswith('.ndjson"')
    lines = ndjson.get_data(as_text=True).splitlines()
    doses = [Immunization.model_validate_json(line) for line in lines]
    assert len(doses) == 2  # not the day before's, not the person who was not vaccinated
    by_visit = {dose.identifier[0].value: dose for dose in doses}
    assert set(by_visit) == {ids["zhang"], ids["ann"]}
    zhang, ann = by_visit[ids["zhang"]], by_visit[ids["ann"]]
    assert (zhang.status, zhang.primarySource) == ("completed", True)
    assert (zhang.lotNumber, zhang.expirationDate.isoformat()) == ("202610A127", "2027-10-15")
    assert (ann.lotNumber, ann.expirationDate.isoformat()) == ("202609B2114", "2027-09-01")
    assert zhang.protocolApplied[0].doseNumberPositiveInt == 1 and ann.protocolApplied[0].doseNumberPositiveInt == 2
    assert zhang.vaccineCode.coding[0].code == "coronavac" and ann.vaccineCode.coding[0].code == "bbibp-corv"
    assert "Sinovac" in zhang.manufacturer.display
    assert (zhang.site.coding[0].code, ann.site.coding[0].code) == ("LA", "RA")
    assert zhang.route.coding[0].code == "IM"
    assert zhang.performer[0].function.coding[0].code == "AP" and zhang.performer[0].actor.display
    assert zhang.location.identifier.value == "demo"
    assert zhang.occurrenceDateTime.isoformat() == "2026-11-25T09:00:00+08:00"  # the site's time, with its offset
    assert zhang.patient.reference.startswith("Patient/")

    bundle_answer = export(japi, DAY, "fhir-bundle", supervisor)
    assert bundle_answer.mimetype == "application/fhir+json"
    bundle = Bundle.model_validate_json(bundle_answer.get_data())
    assert bundle.type == "collection"
    patients = {entry.fullUrl: entry.resource for entry in bundle.entry if isinstance(entry.resource, Patient)}
    immunizations = [entry.resource for entry in bundle.entry if isinstance(entry.resource, Immunization)]
    assert len(patients) == 2 and len(immunizations) == 2
    for dose in immunizations:
        assert dose.patient.reference in patients  # every reference resolves inside the bundle
        # the same Patient id as the NDJSON's reference
        assert f"Patient/{patients[dose.patient.reference].id}" == by_visit[dose.identifier[0].value].patient.reference
    people = {patient.identifier[0].value: patient for patient in patients.values()}
    assert set(people) == {ZHANG["document_number"], ANN["document_number"]}
    assert all(patient.id not in people for patient in patients.values())  # never the ID number as the id
    assert people[ZHANG["document_number"]].gender == "male"
    assert people[ZHANG["document_number"]].birthDate.isoformat() == "1980-01-01"
    assert people[ZHANG["document_number"]].name[0].text == "张三"
    assert people[ANN["document_number"]].gender is None  # a passport does not say
    assert people[ANN["document_number"]].birthDate.isoformat() == "1990-05-06"

    table = export(japi, DAY, "csv", supervisor)
    assert table.mimetype == "text/csv"
    reader = csv.DictReader(io.StringIO(table.get_data(as_text=True)))
    assert reader.fieldnames == COLUMNS
    rows = {row["record_id"]: row for row in reader}
    assert set(rows) == {ids["zhang"], ids["ann"]}
    zhang_row, ann_row = rows[ids["zhang"]], rows[ids["ann"]]
    assert (zhang_row["person_name"], zhang_row["document_number"], zhang_row["sex"]) == ("张三", ZHANG["document_number"], "1")
    assert (zhang_row["lot_number"], zhang_row["expiry_date"], zhang_row["dose_number"]) == ("202610A127", "2027-10-15", "1")
    assert (zhang_row["injection_site"], zhang_row["injection_site_zh"], zhang_row["route"]) == ("left_deltoid", "左上臂三角肌", "IM")
    assert zhang_row["vaccinated_at"] == "2026-11-25T09:00:00+08:00"
    assert (zhang_row["unit_id"], zhang_row["unit_name_zh"]) == ("demo", "滨江社区新冠疫苗临时接种点")
    assert (ann_row["document_type"], ann_row["sex"], ann_row["phone"], ann_row["dose_number"]) == ("passport", "", "", "2")
    assert ann_row["injection_site"] == "right_deltoid" and ann_row["vaccine_code"] == "bbibp-corv"

    # the day before has its own dose only; a day without doses is an empty file, not an error
    before = export(japi, DAY_BEFORE, "fhir-ndjson", supervisor).get_data(as_text=True).splitlines()
    assert [Immunization.model_validate_json(line).identifier[0].value for line in before] == [ids["before"]]
    assert export(japi, "2026-11-23", "fhir-ndjson", supervisor).get_data() == b""
    empty = Bundle.model_validate_json(export(japi, "2026-11-23", "fhir-bundle", supervisor).get_data())
    assert empty.type == "collection" and not empty.entry
    assert export(japi, "2026-11-23", "csv", supervisor).get_data(as_text=True).strip() == ",".join(COLUMNS)


def test_only_supervisors_export_and_every_export_is_audited_with_its_rows_and_hash(japi, clock, tokens, services,
                                                                                   tmp_path):
    record_two_days(japi, clock)
    for token in (tokens.station("injection"), tokens.station("checkin"), tokens.display):
        assert_error(export(japi, DAY, "csv", token), 403, "role_forbidden")
    load_site_variant(services, tmp_path, "north")
    other_site = tokens.make("site_supervisor", site="north")
    assert_error(export(japi, DAY, "csv", other_site), 403)
    city = tokens.make("city_supervisor", site=None)
    bodies = {}
    for chosen, token in (("fhir-ndjson", city), ("fhir-bundle", tokens.supervisor), ("csv", tokens.admin)):
        answer = export(japi, DAY, chosen, token)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        bodies[chosen] = answer.get_data()
    entries = japi.get("/audit", site="demo", action="immunizations.exported").get_json()["entries"]
    assert len(entries) == 3  # the refused ones exported nothing
    for entry in entries:
        detail = entry["detail"]
        assert detail["sha256"] == hashlib.sha256(bodies[detail["format"]]).hexdigest()
        assert (detail["date"], detail["rows"]) == (DAY, 2)
        assert entry["subject"] == f"immunizations:{DAY}"
        assert ZHANG["document_number"] not in str(entry) and "张三" not in str(entry)  # no personal data
    assert {entry["actor"].split(":")[0] for entry in entries} == {"city_supervisor", "site_supervisor", "admin"}


def test_a_bad_or_missing_date_or_format_is_refused_naming_it(japi, tokens):
    for query, field in (({"date": DAY, "format": "xml"}, "format"), ({"date": DAY}, "format"),
                         ({"date": "2026-13-01", "format": "csv"}, "date"), ({"format": "csv"}, "date"),
                         ({"date": "25/11/2026", "format": "csv"}, "date"), ({"date": "1999-01-01", "format": "csv"}, "date")):
        assert_error(japi.get(PATH, **query), 422, field=field)
    assert_error(japi.get("/sites/nowhere/exports/immunizations", date=DAY, format="csv"), 404)
    assert japi.get("/audit", action="immunizations.exported").get_json()["entries"] == []


def test_the_command_line_gives_the_same_bytes_as_the_api(day_app, clock, monkeypatch, tmp_path):
    """On SQLite (the command's own app is never disposed: a PostgreSQL connection would outlive it)."""
    services = day_app.extensions["siteflow"]
    api = Api(day_app.test_client(), Tokens(services).admin)
    record_two_days(api, clock)
    monkeypatch.setenv("DATABASE_URL", day_app.config["DATABASE_URL"])
    monkeypatch.setenv("SITEFLOW_DATA_KEYS", TEST_DATA_KEY)
    monkeypatch.setenv("SITEFLOW_LOOKUP_KEY", TEST_LOOKUP_KEY)
    runner = CliRunner()
    for chosen in ("fhir-ndjson", "fhir-bundle", "csv"):
        answer = export(api, DAY, chosen)
        assert answer.status_code == 200
        printed = runner.invoke(cli, ["export", "immunizations", "demo", "--date", DAY, "--format", chosen],
                                catch_exceptions=False)
        assert printed.exit_code == 0, printed.output
        assert printed.stdout_bytes == answer.get_data()
        target = tmp_path / f"day.{chosen}"
        written = runner.invoke(cli, ["export", "immunizations", "demo", "--date", DAY, "--format", chosen,
                                      "-o", str(target)], catch_exceptions=False)
        assert written.exit_code == 0 and target.read_bytes() == answer.get_data()
        assert f"2 dose(s), sha256 {hashlib.sha256(answer.get_data()).hexdigest()}" in written.stderr
    entries = api.get("/audit", site="demo", action="immunizations.exported").get_json()["entries"]
    assert [entry["actor"] for entry in entries].count("admin:cli") == 6
    assert {entry["detail"]["rows"] for entry in entries} == {2}
    for bad, hint in ((["--date", DAY, "--format", "xml"], "--format"), (["--date", "2026-11-31", "--format", "csv"], "--date"),
                      (["--format", "csv"], "--date")):
        refused = runner.invoke(cli, ["export", "immunizations", "demo", *bad])
        assert refused.exit_code != 0 and hint in refused.output, refused.output
    unknown = runner.invoke(cli, ["export", "immunizations", "nowhere", "--date", DAY, "--format", "csv"])
    assert unknown.exit_code != 0 and "nowhere" in unknown.output

"""A day's immunizations in the standard shapes other systems import (docs/EXPORTS.md): FHIR R4B
`Immunization` and `Patient` resources, built and validated by the models of `fhir.resources`,
and the rows of a registry import file (免疫规划信息系统-style columns).

Pure: visits in, resources and rows out; no I/O, no clock. Every resource id is derived from the
visit id (a UUID 5 under one namespace), never from a document number, so an export of the same
day gives the same ids again.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.patient import Patient

from .site import Site
from .visit import Visit
from .vocabulary import INJECTION_SITES, ROUTES

FORMATS = ("fhir-ndjson", "fhir-bundle", "csv")

# Our own identifier and code systems (documented in docs/EXPORTS.md). A registry that assigns
# its own replaces these here, in one place.
DOCUMENT_SYSTEMS = {
    "resident_id": "urn:siteflow:sid:cn-resident-id",  # 居民身份证号码 (GB 11643)
    "passport": "urn:siteflow:sid:passport",
}
# HL7 v2 table 0203 identifier types: national person identifier, passport number.
DOCUMENT_TYPE_CODES = {"resident_id": ("NI", "National unique individual identifier"),
                       "passport": ("PPN", "Passport number")}
VISIT_SYSTEM = "urn:siteflow:visit"  # Immunization.identifier: the visit the dose was given in
SITE_SYSTEM = "urn:siteflow:site"  # location.identifier: the vaccination site's id
PRODUCT_SYSTEM = "urn:siteflow:vaccine-product"  # vaccineCode: the site file's product code

V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_PERFORMER_FUNCTION = "http://terminology.hl7.org/CodeSystem/v2-0443"
V3_ACT_SITE = "http://terminology.hl7.org/CodeSystem/v3-ActSite"
V3_ROUTE = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"

# The injection site (a deltoid) as the v3 ActSite code of its arm.
BODY_SITES = {"left_deltoid": ("LA", "left arm"), "right_deltoid": ("RA", "right arm")}
ROUTE_CODES = {"IM": ("IM", "Injection, intramuscular")}

# Resource ids: UUID 5 of the visit id under this namespace (uuid5(NAMESPACE_URL, "urn:siteflow")).
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:siteflow")

# The registry file's columns, in order (docs/EXPORTS.md maps each to the registry's field).
CSV_COLUMNS = (
    "record_id", "person_name", "document_type", "document_number", "birth_date", "sex", "phone",
    "vaccine_code", "vaccine_name", "vaccine_name_zh", "specification", "manufacturer", "lot_number",
    "expiry_date", "dose_number", "injection_site", "injection_site_zh", "route", "route_zh",
    "vaccinated_at", "unit_id", "unit_name", "unit_name_zh", "vaccinator",
)
# GB/T 2261.1 sex codes: 1 male, 2 female (from the resident ID's 17th digit).
SEX_CODES = {"male": "1", "female": "2"}


def resource_id(kind: str, visit: Visit) -> str:
    """The stable id of the visit's `Patient` or `Immunization` (a UUID, so also its urn:uuid)."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}/{visit.site}/{visit.id}"))


def sex_of(visit: Visit) -> str | None:
    """"male" or "female" when the document tells (a resident ID's 17th digit: odd is male), else None."""
    number = visit.person.document_number
    if visit.person.document_type == "resident_id" and len(number) == 18 and number[16].isdigit():
        return "male" if int(number[16]) % 2 else "female"
    return None


def vaccinated(visits: Iterable[Visit]) -> list[Visit]:
    """The visits with an injection, in the order given (the store's: by injection)."""
    return [visit for visit in visits if visit.injection is not None and visit.injected_at is not None]


def patient(visit: Visit) -> Patient:
    person = visit.person
    type_code, type_display = DOCUMENT_TYPE_CODES[person.document_type]
    identifier = {"use": "official", "system": DOCUMENT_SYSTEMS[person.document_type], "value": person.document_number,
                  "type": {"coding": [{"system": V2_IDENTIFIER_TYPE, "code": type_code, "display": type_display}]}}
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "id": resource_id("Patient", visit),
        "identifier": [identifier],
        "name": [{"use": "official", "text": person.name}],
    }
    if person.phone:
        data["telecom"] = [{"system": "phone", "value": person.phone, "use": "mobile"}]
    sex = sex_of(visit)
    if sex is not None:
        data["gender"] = sex
    if person.birth_date is not None:
        data["birthDate"] = person.birth_date.isoformat()
    return Patient.model_validate(data)


def immunization(visit: Visit, site: Site, *, patient_reference: str) -> Immunization:
    """The dose given in this visit. `patient_reference`: "Patient/<id>" in NDJSON, the Patient's
    "urn:uuid:<id>" in a Bundle."""
    injection = visit.injection
    assert injection is not None and visit.injected_at is not None
    body_site, body_site_display = BODY_SITES[injection["site"]]
    route, route_display = ROUTE_CODES[injection["route"]]
    data: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": resource_id("Immunization", visit),
        "identifier": [{"system": VISIT_SYSTEM, "value": visit.id}],
        "status": "completed",
        "vaccineCode": {"coding": [{"system": PRODUCT_SYSTEM, "code": injection["product"],
                                    "display": injection["product_name"]}],
                        "text": injection["product_name"]},
        "patient": {"reference": patient_reference},
        "occurrenceDateTime": visit.injected_at.astimezone(site.tz).replace(microsecond=0).isoformat(),
        "primarySource": True,
        "location": {"identifier": {"system": SITE_SYSTEM, "value": site.id}, "display": site.name_zh},
        "manufacturer": {"display": injection["manufacturer"]},
        "lotNumber": injection["lot"],
        "expirationDate": injection["expires_on"],
        "site": {"coding": [{"system": V3_ACT_SITE, "code": body_site, "display": body_site_display}],
                 "text": INJECTION_SITES[injection["site"]]["en"]},
        "route": {"coding": [{"system": V3_ROUTE, "code": route, "display": route_display}]},
        "performer": [{
            "function": {"coding": [{"system": V2_PERFORMER_FUNCTION, "code": "AP",
                                     "display": "Administering Provider"}]},
            "actor": {"display": injection["vaccinator"]},
        }],
        "protocolApplied": [{"doseNumberPositiveInt": injection["dose_number"]}],
    }
    return Immunization.model_validate(data)


def ndjson_resources(visits: Iterable[Visit], site: Site) -> list[Immunization]:
    """One `Immunization` per dose, each referring to its Patient as "Patient/<id>"."""
    return [immunization(visit, site, patient_reference=f"Patient/{resource_id('Patient', visit)}")
            for visit in vaccinated(visits)]


def bundle(visits: Iterable[Visit], site: Site) -> Bundle:
    """A `collection` Bundle: each dose's `Patient` and then its `Immunization`, with urn:uuid
    full URLs; each Immunization refers to its Patient by that URL."""
    entries: list[dict[str, Any]] = []
    for visit in vaccinated(visits):
        person = patient(visit)
        patient_url = f"urn:uuid:{person.id}"
        dose = immunization(visit, site, patient_reference=patient_url)
        entries.append({"fullUrl": patient_url, "resource": person})
        entries.append({"fullUrl": f"urn:uuid:{dose.id}", "resource": dose})
    return Bundle.model_validate({"resourceType": "Bundle", "type": "collection", "entry": entries})


def csv_rows(visits: Iterable[Visit], site: Site) -> list[list[Any]]:
    """The registry file's rows, one per dose, in CSV_COLUMNS order."""
    rows = []
    for visit in vaccinated(visits):
        injection = visit.injection
        assert injection is not None and visit.injected_at is not None
        person = visit.person
        product = site.product(injection["product"])
        sex = sex_of(visit)
        values: dict[str, Any] = {
            "record_id": visit.id,
            "person_name": person.name,
            "document_type": person.document_type,
            "document_number": person.document_number,
            "birth_date": _day(person.birth_date),
            "sex": SEX_CODES[sex] if sex else "",
            "phone": person.phone or "",
            "vaccine_code": injection["product"],
            "vaccine_name": injection["product_name"],
            "vaccine_name_zh": product.name_zh if product is not None else "",
            "specification": injection["specification"],
            "manufacturer": injection["manufacturer"],
            "lot_number": injection["lot"],
            "expiry_date": injection["expires_on"],
            "dose_number": injection["dose_number"],
            "injection_site": injection["site"],
            "injection_site_zh": INJECTION_SITES[injection["site"]]["zh"],
            "route": injection["route"],
            "route_zh": ROUTES[injection["route"]]["zh"],
            "vaccinated_at": visit.injected_at.astimezone(site.tz).replace(microsecond=0).isoformat(),
            "unit_id": site.id,
            "unit_name": site.name,
            "unit_name_zh": site.name_zh,
            "vaccinator": injection["vaccinator"],
        }
        rows.append([values[column] for column in CSV_COLUMNS])
    return rows


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else ""

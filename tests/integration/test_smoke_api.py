from tests.support.factories import gen_checkin, gen_consent, gen_injection


def test_person_goes_from_check_in_to_release(api, clock):
    created = api.post("/sites/demo/visits", gen_checkin())
    assert created.status_code == 201, created.json
    visit = created.json["visit"]
    assert visit["ticket"] == "A001"
    assert api.post("/sites/demo/stations/consent/call-next", {"desk": "A"}).json["visit"]["id"] == visit["id"]
    assert api.post(f"/sites/demo/visits/{visit['id']}/consent", gen_consent("A")).status_code == 200
    assert api.post("/sites/demo/stations/injection/call-next", {"desk": "2"}).status_code == 200
    injected = api.post(f"/sites/demo/visits/{visit['id']}/injection", gen_injection("2"))
    assert injected.status_code == 200, injected.json
    clock.advance(minutes=30)
    released = api.post(f"/sites/demo/visits/{visit['id']}/release", {})
    assert released.status_code == 200, released.json
    assert released.json["visit"]["state"] == "released"

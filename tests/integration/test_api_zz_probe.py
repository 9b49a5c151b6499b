from tests.support.factories import *

def show(r): print(r.status_code, r.get_data(as_text=True)[:300])

def test_probe(api, clock, tokens):
    v = api.post("/sites/demo/visits", gen_checkin()).json["visit"]["id"]
    show(api.post(f"/sites/demo/visits/{v}/correct", {"reason": "x", "state": "left", "corrects_seq": 10**20}))
    show(api.post(f"/sites/demo/visits/{v}/correct", {"reason": "x", "state": "left", "corrects_seq": 2**63}))
    show(api.post(f"/sites/demo/visits/{v}/correct", {"reason": "x", "state": "left", "corrects_seq": 2**31}))
    show(api.post("/sites/demo/visits", gen_checkin(name="王\u0000明")))
    show(api.post("/sites/demo/visits", gen_checkin(name="王明", phone=None, document_type="passport", document_number="E12345678", birth_date="0001-01-01")))
    show(api.get("/sites/de\u0000mo"))
    show(api.get(f"/sites/demo/visits/{v}\u0000"))
    show(api.post(f"/sites/demo/visits/{v}/cancel", {"reason": "a\u0000b"}))
    show(api.post(f"/sites/demo/visits/{v}/cancel", {"reason": "ab"}, key="k\u0000"))
    show(api.get("/sites/demo/visits", station="consent", state="waiting", date="9999-12-31"))
    assert 0

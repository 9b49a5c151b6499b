"""The slips as a receipt printer gets them (issue 16: a QR code squeezed and cropped to 30 mm
could not be scanned). Chromium prints each slip to a PDF 58 mm or 80 mm wide with the page's
own print CSS; the PDF is rasterised as a thermal printer prints it (203 dpi, black or white)
and read back with a real decoder. The QR code must give exactly what the stations' scanners
read, with error correction M or better, be at least 20 mm wide with its quiet zone, and lie
with the ticket number, the time and the instructions inside the printhead's width: the middle
48 mm of a 58 mm roll, 72 mm of an 80 mm one. The printed slips are saved as images in
tests/browser/__screenshots__/ (git-ignored) for a person to look at."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import zxingcpp
from PIL import Image

from tests.browser.conftest import SCREENSHOTS
from tests.support.factories import gen_checkin, gen_consent, gen_injection
from tests.support.live_servers import Api, ServerProcess, create_token, free_port, init_database, server_env
from tests.support.printed import DPI, MIN_QR_MM, PRINTABLE_MM, mm, print_page, read_qr

SITE_TZ = ZoneInfo("Asia/Shanghai")  # sites/demo.toml


@pytest.fixture(scope="module")
def observing(tmp_path_factory):
    """A server and a person in observation, who has both slips."""
    folder = tmp_path_factory.mktemp("slips")
    env = server_env(database_url=f"sqlite:///{folder / 'siteflow.db'}")
    env["SITEFLOW_INSTANCE_PATH"] = str(folder / "instance")
    init_database(env)
    token = create_token(env, "admin")
    process = ServerProcess(env, free_port(), log_dir=folder).spawn()
    process.wait_ready()
    api = Api(process.url, token)
    visit = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
    for step, desk, body in (("consent", "A", gen_consent("A")), ("injection", "1", gen_injection("1"))):
        assert api.post(f"/sites/demo/stations/{step}/call-next", {"desk": desk}).json["visit"]["id"] == visit["id"]
        done = api.post(f"/sites/demo/visits/{visit['id']}/{step}", body)
        assert done.ok, done.json
    yield process.url, token, done.json["visit"]
    process.stop()


def _local_time(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(SITE_TZ).strftime("%H:%M")


def _squashed(text: str) -> str:
    """Text without its whitespace: lines break in different places in the PDF and the page."""
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("paper", ["58", "80"])
@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_both_slips_print_a_readable_qr_code_and_all_their_text_within_the_paper(observing, browser, paper, lang):
    base, token, visit = observing
    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
    page = context.new_page()
    margin = (int(paper) - PRINTABLE_MM[paper]) / 2  # on each side, out of the printhead's reach
    for kind, time in (("ticket", visit["checked_in_at"]), ("observation", visit["observation"]["leave_at"])):
        answer = page.goto(f"{base}/sites/demo/visits/{visit['id']}/slips/{kind}?paper={paper}&lang={lang}")
        assert answer is not None and answer.ok
        slip, instructions = page.locator("article").inner_text(), page.locator(".hint").inner_text()
        text, (left, right), image = print_page(page, paper)
        for shown in (visit["ticket"], _local_time(time), instructions):
            assert _squashed(shown) in _squashed(text), f"{shown!r} is not printed"
        assert _squashed(text) == _squashed(slip), "the printed text is not the slip's"
        assert margin <= left and right <= int(paper) - margin, f"text printed at {left:.1f}-{right:.1f} mm"

        image = image.point(lambda value: 255 if value >= 128 else 0)  # a thermal dot is black or not
        image.save(SCREENSHOTS / f"slip-{kind}-{paper}mm-{lang}.png")
        code, (qr_left, _, qr_right, _) = read_qr(image)
        assert code.text == f"siteflow:demo:{visit['id']}"  # what the stations' scanners read
        assert code.ec_level in ("M", "Q", "H")
        assert mm(qr_right - qr_left) >= MIN_QR_MM, f"the QR code is {mm(qr_right - qr_left):.1f} mm wide"
        assert margin <= mm(qr_left) and mm(qr_right) <= int(paper) - margin, "the QR code is not all printed"
    context.close()

"""Reading a printed slip back as a receipt printer prints it: Chromium's PDF of the page at the
paper's width, its text and where it lies, the page rasterised at a thermal printhead's 203 dpi,
and the one QR code on it decoded with a real decoder (tests/browser/test_slip_printing.py,
test_phone_ticket.py, test_bookings.py)."""
from __future__ import annotations

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image

PRINTABLE_MM = {"58": 48, "80": 72}  # what the printhead reaches, centred on the roll
DPI = 203  # a thermal printhead's 8 dots per mm
POINTS_PER_MM = 72 / 25.4
QUIET_ZONE = 4  # modules of white around a QR code
MIN_QR_MM = 20  # with its quiet zone


def print_page(page, paper: str) -> tuple[str, tuple[float, float], Image.Image]:
    """The open page printed on `paper` (58 or 80 mm, one piece: 297 mm is the length roll
    printers' drivers offer; no browser margins, docs/DEPLOY.md): its text, the left and right
    ends of the text in mm, and the page as the printhead prints it (grayscale at DPI)."""
    pdf = pdfium.PdfDocument(page.pdf(width=f"{paper}mm", height="297mm"))
    try:
        assert len(pdf) == 1, "the slip is split over two pieces of paper"
        printed = pdf[0]
        assert round(printed.get_width() / POINTS_PER_MM) == int(paper)
        text, ends = printed_text(printed)
        image = printed.render(scale=DPI / 72, grayscale=True).to_pil().convert("L")
    finally:
        pdf.close()
    return text, ends, image


def printed_text(page: pdfium.PdfPage) -> tuple[str, tuple[float, float]]:
    """The page's text and the left and right ends of its printed characters, in mm."""
    text = page.get_textpage()
    chars = [i for i in range(text.count_chars()) if not text.get_text_range(i, 1).isspace()]
    boxes = [text.get_charbox(i) for i in chars]  # (left, bottom, right, top) in points
    ends = (min(box[0] for box in boxes) / POINTS_PER_MM, max(box[2] for box in boxes) / POINTS_PER_MM)
    return text.get_text_range(), ends


def read_qr(image: Image.Image) -> tuple[zxingcpp.Barcode, tuple[float, float, float, float]]:
    """The one QR code on a black-and-white image, and its box with the quiet zone, in pixels;
    the quiet zone must be white."""
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(codes) == 1, f"{len(codes)} QR codes read"
    code = codes[0]
    modules = 17 + 4 * int(code.extra["Version"])
    corners = code.position
    symbol = (corners.top_left.x, corners.top_left.y, corners.bottom_right.x, corners.bottom_right.y)
    assert symbol[2] - symbol[0] == pytest.approx(symbol[3] - symbol[1], abs=1), "the code is not upright and square"
    quiet = QUIET_ZONE * (symbol[2] - symbol[0]) / modules
    box = (symbol[0] - quiet, symbol[1] - quiet, symbol[2] + quiet, symbol[3] + quiet)
    ring = image.copy()
    ring.paste(255, (symbol[0] - 1, symbol[1] - 1, symbol[2] + 1, symbol[3] + 1))  # what is left is the quiet zone
    assert ring.crop(tuple(round(v) for v in box)).getextrema() == (255, 255), "the QR code's quiet zone is not blank"
    return code, box


def mm(pixels: float) -> float:
    return pixels / DPI * 25.4



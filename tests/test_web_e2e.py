"""The web app end to end: Playwright for Python driving Debian's headless Chromium.

A real server (uvicorn, in a thread, on a free loopback port) and a real
browser: upload a photo, accept the detected boxes (or draw one), download the
protected file and check it with the Python API, reveal it on the Reveal page
and compare pixels with the original; then the error paths. Every page is
screenshotted (which also checks that it renders); with
``PICVEIL_SCREENSHOTS=1`` the screenshots replace those in
``docs/screenshots/`` for the README, otherwise they go to a temporary folder.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("python_multipart")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("PICVEIL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

import picveil  # noqa: E402
from picveil.crypto import Identity  # noqa: E402
from picveil.web import create_app  # noqa: E402

from .conftest import decode, sample_bytes  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SAMPLE = Path(picveil.__file__).parent / "data" / "astronaut.jpg"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
FACE = (150, 10, 155, 175)  # x, y, w, h of the face in the sample photo
TIMEOUT_MS = 60_000


# --- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free loopback port, served by uvicorn in a thread."""
    import uvicorn

    app = create_app(keyring_home=tmp_path_factory.mktemp("keyring"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="module")
def capabilities(server):
    with urllib.request.urlopen(server + "api/capabilities", timeout=10) as res:
        return json.loads(res.read())


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, server):
    # bypass_csp: Playwright evaluates its wait conditions as strings, which the page's CSP forbids
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, bypass_csp=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    crashes: list[str] = []
    pg.on("pageerror", lambda exc: crashes.append(str(exc)))
    pg.goto(server)
    pg.wait_for_selector("body[data-ready=true]")
    yield pg
    context.close()
    assert not crashes, f"uncaught errors in the page: {crashes}"


def screenshot(pg, name: str) -> None:
    import os
    import tempfile

    folder = SCREENSHOTS if os.environ.get("PICVEIL_SCREENSHOTS") == "1" else Path(tempfile.gettempdir()) / "picveil-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    assert (folder / f"{name}.png").stat().st_size > 5000


def go(pg, name: str) -> None:
    pg.click(f"nav a[data-page={name}]")
    pg.wait_for_selector(f"#page-{name}:not([hidden])")


def file_payload(name: str, data: bytes, mime: str = "image/jpeg") -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


def downloaded(pg, selector: str) -> tuple[bytes, str]:
    with pg.expect_download() as info:
        pg.click(selector)
    dl = info.value
    return Path(dl.path()).read_bytes(), dl.suggested_filename


def draw_box(pg, x: int, y: int, w: int, h: int, size: int = 512) -> None:
    """Drag on the photo from (x, y) to (x + w, y + h), in photo pixels."""
    rect = pg.locator("#protect-overlay").bounding_box()
    sx, sy = rect["width"] / size, rect["height"] / size
    pg.mouse.move(rect["x"] + x * sx, rect["y"] + y * sy)
    pg.mouse.down()
    pg.mouse.move(rect["x"] + (x + w / 2) * sx, rect["y"] + (y + h / 2) * sy, steps=4)
    pg.mouse.move(rect["x"] + (x + w) * sx, rect["y"] + (y + h) * sy, steps=4)
    pg.mouse.up()


def load_photo(pg, capabilities) -> None:
    """Choose the sample photo on the Protect page; accept detected boxes or draw the face."""
    pg.set_input_files("#protect-file", str(SAMPLE))
    pg.wait_for_selector("#protect-work:not([hidden])")
    if capabilities["detection"]["available"]:
        pg.wait_for_selector("#box-list li", timeout=TIMEOUT_MS)
    if not pg.locator("#box-list li:has(input:checked)").count():
        draw_box(pg, *FACE)
        pg.wait_for_selector("#box-list li:has(input:checked)")


def geometry(label: str) -> tuple[int, ...]:
    """``(x, y, w, h)`` from a listed box's text ("… at 310, 301, 101 × 80 px …")."""
    m = re.search(r"at (\d+), (\d+), (\d+) × (\d+) px", label)
    assert m, label
    return tuple(int(v) for v in m.groups())


def covers(box, point) -> bool:
    return box.x <= point[0] < box.x + box.w and box.y <= point[1] < box.y + box.h


FACE_CENTRE = (FACE[0] + FACE[2] // 2, FACE[1] + FACE[3] // 2)


# --- the main path ------------------------------------------------------------------------------
def test_protect_download_inspect_and_reveal(page, capabilities):
    me = Identity.generate()
    load_photo(page, capabilities)
    # the live preview replaces the original in the right-hand pane
    page.wait_for_function(
        "document.getElementById('protect-result').src !== document.getElementById('protect-original').src"
    )
    page.fill("#protect-recipients", me.recipient)
    page.click("#protect-go")
    page.wait_for_selector("#protect-download:not([hidden])")
    assert "Protected 1 region" in page.inner_text("#protect-summary")
    protected, name = downloaded(page, "#protect-download")
    assert name == "astronaut.protected.jpg"
    screenshot(page, "protect")

    info = picveil.inspect(protected)
    assert len(info.regions) == 1 and info.regions[0].recipients == 1
    assert covers(info.regions[0].box, FACE_CENTRE)
    original = decode(sample_bytes())
    assert not np.array_equal(decode(protected), original)

    go(page, "reveal")
    page.set_input_files("#reveal-file", file_payload(name, protected))
    page.set_input_files("#reveal-identity", file_payload("me.key", me.to_file_text().encode(), "text/plain"))
    page.click("#reveal-go")
    page.wait_for_selector("#reveal-result:not([hidden])")
    assert "Revealed 1 of 1 region" in page.inner_text("#reveal-summary")
    page.fill("#reveal-slider", "30")
    assert "70%" in page.get_attribute("#reveal-before", "style")
    revealed, rname = downloaded(page, "#reveal-download")
    assert rname == "astronaut.revealed.jpg"
    np.testing.assert_array_equal(decode(revealed), original)
    page.fill("#reveal-slider", "50")
    screenshot(page, "reveal")


def test_inspect_page(page):
    protected = picveil.protect(sample_bytes(), [FACE, (276, 336, 58, 36)], recipients=[Identity.generate().recipient], passphrase="pw")
    go(page, "inspect")
    page.set_input_files("#inspect-file", file_payload("shared.jpg", protected))
    page.wait_for_selector("#inspect-result:not([hidden])")
    rows = page.locator("#inspect-regions tr")
    assert rows.count() == 2
    assert "1 key, a passphrase" in rows.first.inner_text()
    assert page.locator("#inspect-overlay g.box").count() == 2
    screenshot(page, "inspect")
    # not an image at all: a clear message, no stack trace
    page.set_input_files("#inspect-file", file_payload("notes.txt", b"shopping list", "text/plain"))
    alert = page.locator("#inspect-alert[role=alert]")
    alert.wait_for(state="visible")
    assert "not an image" in alert.inner_text()
    assert "Traceback" not in page.content()


def test_keyring_page(page, server):
    friend = Identity.generate()
    go(page, "keyring")
    page.wait_for_selector("#kr-create:not([hidden]), #kr-recipient")
    page.fill("#kr-new-name", "family")
    page.click("#kr-new-form button[type=submit]")
    page.wait_for_selector("#kr-circles td:text-is('family')")
    assert "Created circle family" in page.inner_text("#keyring-status")
    assert page.inner_text("#kr-recipient").startswith("age1")
    page.select_option("#kr-share-name", "family")
    page.fill("#kr-share-to", friend.recipient)
    circle_file, name = downloaded(page, "#kr-share-form button[type=submit]")
    assert name == "family.circle" and circle_file.startswith(b"age-encryption.org/v1\n")
    page.wait_for_selector("#kr-circles td:text-is('1 person')")
    screenshot(page, "keyring")
    # the circle is now offered on the Protect page
    go(page, "protect")
    assert "family" in page.inner_text("#protect-circle")


def test_rotated_phone_photo(page, capabilities):
    """A photo stored sideways with EXIF orientation 6, as phones write them: the
    browser shows it upright, the boxes are drawn upright, and the protected
    region lands on the face in the file's stored pixels."""
    from PIL import Image

    from picveil.web.imaging import ImageInfo, to_stored

    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(np.rot90(decode(sample_bytes()), 1))).save(buf, "JPEG", quality=92, exif=exif)
    page.set_input_files("#protect-file", file_payload("phone.jpg", buf.getvalue()))
    page.wait_for_selector("#protect-work:not([hidden])")
    assert page.evaluate("[document.getElementById('protect-original').naturalWidth, document.getElementById('protect-original').naturalHeight]") == [512, 512]
    if capabilities["detection"]["available"]:
        page.wait_for_selector("#box-list li")
    if not page.locator("#box-list li:has(input:checked)").count():
        draw_box(page, *FACE)
    page.fill("#protect-recipients", Identity.generate().recipient)
    page.click("#protect-go")
    page.wait_for_selector("#protect-download:not([hidden])")
    protected, _ = downloaded(page, "#protect-download")
    centre = to_stored(picveil.Box(FACE_CENTRE[0], FACE_CENTRE[1], 1, 1), ImageInfo("jpeg", 512, 512, 6))
    assert any(covers(r.box, (centre.x, centre.y)) for r in picveil.inspect(protected).regions)


# --- the box editor ---------------------------------------------------------------------------------
def test_boxes_by_mouse_and_keyboard(page, capabilities):
    load_photo(page, capabilities)
    before = page.locator("#box-list li").count()
    draw_box(page, 300, 300, 100, 80)
    items = page.locator("#box-list li")
    assert items.count() == before + 1
    new = items.nth(before)
    x, y, w, h = geometry(new.inner_text())
    assert "Box" in new.inner_text() and abs(x - 300) <= 2 and abs(w - 100) <= 2 and abs(h - 80) <= 2
    # keyboard: the drawn box has focus; Shift+arrow moves by 10, Ctrl+arrow resizes
    assert page.evaluate("document.activeElement.dataset.id") == new.get_attribute("data-id")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Control+ArrowRight")
    assert geometry(new.inner_text()) == (x + 10, y + 1, w + 1, h)
    page.keyboard.press("Space")
    assert "not protected" in new.inner_text()
    page.keyboard.press("Delete")
    assert page.locator("#box-list li").count() == before
    # "Add a box" adds one in the middle and focuses it
    page.click("#box-add")
    assert page.locator("#box-list li").count() == before + 1
    assert page.evaluate("document.activeElement.classList.contains('box-item')")


# --- error paths ------------------------------------------------------------------------------------
def test_reveal_errors(page):
    owner = Identity.generate()
    protected = picveil.protect(sample_bytes(), [FACE], recipients=[owner.recipient])
    go(page, "reveal")
    alert = page.locator("#reveal-alert[role=alert]")

    page.set_input_files("#reveal-file", file_payload("shared.jpg", protected))
    page.click("#reveal-go")
    alert.wait_for(state="visible")
    assert "No key given" in alert.inner_text()

    page.set_input_files("#reveal-identity", file_payload("wrong.key", Identity.generate().to_file_text().encode(), "text/plain"))
    page.click("#reveal-go")
    page.wait_for_function("document.getElementById('reveal-alert').textContent.includes('None of the given keys')")
    assert page.locator("#reveal-result").is_hidden()

    page.set_input_files("#reveal-file", file_payload("plain.jpg", sample_bytes()))
    page.click("#reveal-go")
    page.wait_for_function("document.getElementById('reveal-alert').textContent.includes('no picveil data')")
    assert "Traceback" not in page.content()


def test_protect_errors(page, capabilities):
    load_photo(page, capabilities)
    page.click("#protect-go")  # no recipient, passphrase or circle
    alert = page.locator("#protect-alert[role=alert]")
    alert.wait_for(state="visible")
    assert "Nobody could reveal" in alert.inner_text()
    page.fill("#protect-recipients", "age1-not-a-key")
    page.click("#protect-go")
    page.wait_for_function("document.getElementById('protect-alert').textContent.includes('Not an age recipient')")
    assert page.locator("#protect-download").is_hidden()


def test_phone_width(browser, server, capabilities):
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True, bypass_csp=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.goto(server)
    pg.wait_for_selector("body[data-ready=true]")
    load_photo(pg, capabilities)
    pg.wait_for_function(
        "document.getElementById('protect-result').src !== document.getElementById('protect-original').src"
    )
    overflow = pg.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at 375 px"
    screenshot(pg, "protect-phone")
    context.close()

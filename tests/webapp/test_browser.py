"""The example web app in headless Chromium (Debian's, driven by Playwright): real uploads
from the page, the result's pixels, errors in words, and CORS enforced by the browser."""

from __future__ import annotations

import base64
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from playwright.sync_api import Browser, Page, sync_playwright

from tests.facade.conftest import write_photo
from tests.webapp.conftest import CHROMIUM, WebApp, needs_chromium, web_app

pytestmark = needs_chromium
FLAGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), args=FLAGS
        )
        assert context.browser is None or context.browser.is_connected()
        yield context  # type: ignore[misc]
        context.close()


def open_page(browser: Browser, url: str) -> Page:
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector("#credits:not(:has-text('…'))")
    return page


def row(page: Page, name: str) -> str:
    return f".row[data-file='{name}']"


def test_photos_upload_enhance_and_show_before_after(
    browser: Browser, webapp: WebApp, tmp_path: Path
) -> None:
    photos = [write_photo(tmp_path / f"photo{i}.jpg", (160, 120), seed=i) for i in range(2)]
    page = open_page(browser, webapp.url)
    page.set_input_files("#files", [str(p) for p in photos])
    page.wait_for_function(
        "document.querySelectorAll('.row[data-done=finished]').length === 2", timeout=60_000
    )
    for photo in photos:
        selector = row(page, photo.name)
        assert page.inner_text(f"{selector} .state") == "finished"
        assert page.eval_on_selector(f"{selector} progress", "p => p.value") == 100
        assert page.eval_on_selector(f"{selector} img.after", "i => i.naturalWidth") == 320
        assert "after: 4 credits" in page.inner_text(selector)
        # The result's bytes as the page holds them (a blob fetched through CORS).
        encoded = page.eval_on_selector(
            f"{selector} img.after",
            """async (img) => {
                const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
                let text = ""; for (const b of bytes) text += String.fromCharCode(b);
                return btoa(text);
            }""",
        )
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as result:
            assert result.size == (320, 240)
            spread = ImageStat.Stat(result.convert("L")).stddev[0]
            assert spread > 10  # a picture, not a flat field
    page.wait_for_selector("#credits:has-text('used this period: 8')")
    shot = tmp_path / "webapp.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("WEBAPP_SCREENSHOT"):  # how docs/webapp.png is made
        shutil.copy(shot, os.environ["WEBAPP_SCREENSHOT"])
    stats = webapp.emulator.stats()
    operations = stats["requests"]["by_operation"]
    assert operations["CreateBrowserUpload"] == 2
    assert operations["CompleteBrowserUpload"] == 2
    assert operations["CreateEnhancedImages"] == 2
    assert webapp.jobs() == (2, 0)
    assert stats["webhooks"]["succeeded"] >= 2  # job events reached the app's receiver


def test_errors_are_shown_in_words(browser: Browser, tmp_path: Path) -> None:
    good = [write_photo(tmp_path / f"good{i}.jpg", (96, 64), seed=i) for i in range(2)]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a jpeg" * 50)
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (8, 8)).save(gif)
    big = tmp_path / "big.png"
    big.write_bytes(os.urandom(60_000))
    with web_app(credits=4, max_bytes=50_000) as app:  # credits for one X2 only
        app.start()
        page = open_page(browser, app.url)
        page.set_input_files("#files", [str(p) for p in [*good, broken, gif, big]])
        page.wait_for_function(
            "document.querySelectorAll('.row[data-done]:not([data-done=finishing])').length === 5",
            timeout=60_000,
        )
        assert "wrong type" in page.inner_text(row(page, "anim.gif"))
        assert "JPEG, PNG, TIFF or WebP" in page.inner_text(row(page, "anim.gif"))
        assert "too large" in page.inner_text(row(page, "big.png"))
        assert "the limit is 50000" in page.inner_text(row(page, "big.png"))
        assert "refused by the service" in page.inner_text(row(page, "broken.jpg"))
        assert "UNSUPPORTED_FORMAT" in page.inner_text(row(page, "broken.jpg"))
        states = sorted(page.inner_text(row(page, p.name) + " .state") for p in good)
        assert states == ["finished", "out of credits"]
        assert app.jobs() == (1, 0)


def test_a_page_from_another_origin_cannot_put(
    browser: Browser, webapp: WebApp, tmp_path: Path
) -> None:
    photo = write_photo(tmp_path / "photo.jpg", (96, 64))
    # The same app under another origin (localhost, not 127.0.0.1): not allowed by the storage.
    page = open_page(browser, webapp.url.replace("127.0.0.1", "localhost"))
    page.set_input_files("#files", [str(photo)])
    page.wait_for_selector(".row[data-done=error]", timeout=30_000)
    assert "upload blocked" in page.inner_text(row(page, photo.name))
    uploads = webapp.emulator.stats()["uploads"]["by_status"]
    assert uploads.get("UPLOAD_FINISHED", 0) == 0  # no byte reached the storage
    assert webapp.jobs() == (0, 0)

"""kill -9 of the web app between the page's PUT and the job's creation (and just after the
create ran, its answer unread), a restart, the page asking again: one job, no duplicate."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.facade.conftest import write_photo
from tests.webapp.conftest import web_app


@pytest.mark.parametrize("kill", ["before-create", "after-create"])
def test_killed_restarted_and_retried_makes_one_job(kill: str, tmp_path: Path) -> None:
    photo = write_photo(tmp_path / "photo.jpg", (120, 80))
    body = photo.read_bytes()
    with web_app() as app:
        app.start(kill=kill)
        # The test is the page: reserve, PUT, then ask for the enhancement.
        upload = httpx.post(
            app.url + "/api/uploads",
            json={"filename": photo.name, "size": len(body), "mimetype": "image/jpeg"},
        ).json()
        put = httpx.put(upload["url"], content=body, headers=upload["headers"])
        assert put.status_code == 200
        with pytest.raises(httpx.TransportError):  # the app dies under the request
            httpx.post(f"{app.url}/api/uploads/{upload['uploadId']}/enhance", timeout=30)
        assert app.process is not None
        assert app.process.wait(30) == -9
        assert app.jobs() == ((1, 0) if kill == "after-create" else (0, 0))

        app.start()  # restarted, no hook; the page retries
        retried = httpx.post(f"{app.url}/api/uploads/{upload['uploadId']}/enhance", timeout=30)
        assert retried.status_code == 200, retried.text
        assert retried.json()["adopted"] is (kill == "after-create")
        again = httpx.post(f"{app.url}/api/uploads/{upload['uploadId']}/enhance", timeout=30)
        assert again.json()["jobId"] == retried.json()["jobId"]
        assert again.json()["adopted"] is True
        assert app.jobs() == (1, 0)
        assert app.emulator.stats()["requests"]["by_operation"]["CreateEnhancedImages"] == 1

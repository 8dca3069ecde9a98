"""Job parsing: generated fragment first, unknown enum values tolerated, no URL in repr."""

from __future__ import annotations

import pydantic
import pytest

from viesus._jobs import Job


def test_known_status_parses_through_the_generated_fragment() -> None:
    job = Job.from_data(
        {
            "id": "j1",
            "status": "FINISHED",
            "fullUrl": "http://h/r.jpg?signature=abc",
            "filename": "r.jpg",
            "viesusDuration": 1200,
            "errorCode": None,
        }
    )
    assert job.finished
    assert job.done
    assert job.viesus_duration == 1200


def test_unknown_status_is_kept_raw_and_not_done(caplog: pytest.LogCaptureFixture) -> None:
    job = Job.from_data({"id": "j2", "status": "PROCESSING", "fullUrl": None})
    assert job.status == "PROCESSING"
    assert not job.done
    assert "unknown to this client" in caplog.text


def test_garbage_is_still_an_error() -> None:
    with pytest.raises(pydantic.ValidationError):
        Job.from_data({"status": "FINISHED"})


def test_repr_hides_the_signed_download_url() -> None:
    job = Job(id="j", status="FINISHED", full_url="http://h/r.jpg?signature=SECRET")
    assert "SECRET" not in repr(job)
    assert "signed url" in repr(job)


def test_unknown_upload_status_keeps_the_item_alive() -> None:
    from viesus._aliased_requests import Outcome
    from viesus._uploads import _as_upload

    result = _as_upload(Outcome(data={"id": "u1", "status": "UPLOAD_SCANNING"}), "a.jpg")
    assert result.upload_id == "u1"
    assert result.error is None
    failed = _as_upload(Outcome(data={"status": "??"}), "a.jpg")
    assert failed.error is not None

"""The facade's view of one enhancement job, tolerant of values the schema does not know.

Answers are validated with the generated fragment model (``EnhancedImageFields``) first, so a
schema change reaches this code by regenerating. The live API has more enum values than the
docs show; a status the generated enum lacks must not crash a batch of 500 photos, so it is
kept as its raw string and treated as "not finished yet".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from viesus_client.enums import EnhancedImageStatus
from viesus_client.fragments import EnhancedImageFields

log = logging.getLogger("viesus._jobs")

FINISHED = EnhancedImageStatus.FINISHED.value
ERROR = EnhancedImageStatus.ERROR.value
QUEUED = EnhancedImageStatus.QUEUED.value


@dataclass(frozen=True)
class Job:
    """One enhancement job as last seen. ``full_url`` is a signed URL: never log it."""

    id: str
    status: str
    full_url: str | None = None
    filename: str | None = None
    viesus_duration: int | None = None
    error_code: str | None = None

    @property
    def done(self) -> bool:
        return self.status in (FINISHED, ERROR)

    @property
    def finished(self) -> bool:
        return self.status == FINISHED

    def __repr__(self) -> str:
        # The download URL carries a token: show only whether there is one.
        url = "<signed url>" if self.full_url else None
        return (
            f"Job(id={self.id!r}, status={self.status!r}, full_url={url}, "
            f"error_code={self.error_code!r})"
        )

    @classmethod
    def from_fragment(cls, fields: EnhancedImageFields) -> Job:
        return cls(
            id=fields.id,
            status=fields.status.value,
            full_url=fields.full_url,
            filename=fields.filename,
            viesus_duration=fields.viesus_duration,
            error_code=fields.error_code,
        )

    @classmethod
    def from_data(cls, data: Any) -> Job:
        """Parse one ``EnhancedImage`` object of an answer (camelCase keys)."""
        try:
            return cls.from_fragment(EnhancedImageFields.model_validate(data))
        except ValidationError:
            if not isinstance(data, dict) or not isinstance(data.get("id"), str):
                raise
            status = data.get("status")
            if not isinstance(status, str):
                raise
            log.warning("job %s has status %r, unknown to this client", data["id"], status)
            return cls(
                id=data["id"],
                status=status,
                full_url=_str(data.get("fullUrl")),
                filename=_str(data.get("filename")),
                viesus_duration=data.get("viesusDuration")
                if isinstance(data.get("viesusDuration"), int)
                else None,
                error_code=_str(data.get("errorCode")),
            )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None

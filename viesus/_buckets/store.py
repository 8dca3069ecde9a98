"""The bucket client (obstore's ``S3Store``, one per bucket) and its errors in words.

Configured the way boto3 and the AWS CLI are: ``AWS_ENDPOINT_URL`` (any S3-compatible
endpoint; ``http://`` allowed when the endpoint says so), ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION`` (obstore reads them). A
failure is one line naming the bucket and what to do: no such bucket, access denied, no
credentials, credentials refused, endpoint unreachable. The store's own message is never
shown: it may quote a request (and, for a presigned one, its signature).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Any, Final

from viesus._buckets.locations import BucketObject, Location
from viesus._errors import ConfigurationError
from viesus._redact import redact_url

if TYPE_CHECKING:
    from obstore.store import S3Store

__all__ = ["BucketError", "Buckets", "MissingBucketsExtra"]

# Variables that give obstore credentials without a key in the environment (web identity,
# container credentials). [assumption] Without any of them, and without a key, the instance
# metadata service is not tried: presigning needs a key, and a laptop has no such service.
_CREDENTIAL_VARIABLES: Final = (
    "AWS_ACCESS_KEY_ID",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
_RETRY: Final = {"max_retries": 3, "retry_timeout": datetime.timedelta(seconds=20)}
PART_SIZE: Final = 8 << 20  # multipart part size: memory is bounded by PART_SIZE * PARTS
PARTS_IN_FLIGHT: Final = 2


class BucketError(ConfigurationError):
    """A bucket cannot be used as asked (the message says why, in one line)."""


class MissingBucketsExtra(ConfigurationError):
    def __init__(self) -> None:
        super().__init__(
            "s3:// sources and outputs need the 'buckets' extra: "
            "pip install 'viesus-toolkit[buckets]'"
        )


def endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


class Buckets:
    """One ``S3Store`` per bucket, made from the environment on first use."""

    def __init__(self) -> None:
        try:
            import obstore  # noqa: F401
        except ModuleNotFoundError:
            raise MissingBucketsExtra from None
        if not any(os.environ.get(name) for name in _CREDENTIAL_VARIABLES):
            raise BucketError(
                "no credentials for s3:// sources or outputs: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL for a store other than AWS)"
            )
        self._stores: dict[str, S3Store] = {}

    def store(self, bucket: str) -> S3Store:
        found = self._stores.get(bucket)
        if found is None:
            from obstore.store import S3Store

            url = endpoint()
            options: dict[str, Any] = {"allow_http": bool(url and url.startswith("http://"))}
            config: dict[str, Any] = {"endpoint": url} if url else {}
            if not os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
                config["region"] = "us-east-1"
            found = S3Store(bucket, config=config, client_options=options, retry_config=_RETRY)  # type: ignore[arg-type]
            self._stores[bucket] = found
        return found

    async def list(self, where: Location) -> list[BucketObject]:
        """Every object under ``where``'s prefix (keys, ETags, sizes), in key order."""
        import obstore

        try:
            found = await obstore.list(self.store(where.bucket), prefix=where.key).collect_async()
        except Exception as exc:
            raise bucket_error(exc, where) from None
        objects = [
            BucketObject(Location(where.bucket, meta["path"]), meta["e_tag"] or "", meta["size"])
            for meta in found
        ]
        return sorted(objects, key=lambda o: o.location.key)

    async def head(self, where: Location) -> BucketObject | None:
        """The object at ``where``, or ``None`` if there is none."""
        import obstore

        try:
            meta = await obstore.head_async(self.store(where.bucket), where.key)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise bucket_error(exc, where) from None
        return BucketObject(where, meta["e_tag"] or "", meta["size"])

    async def sign(self, where: Location, expiry: datetime.timedelta) -> str:
        """A presigned GET URL of the object (a secret until it expires: never logged)."""
        import obstore

        try:
            return await obstore.sign_async(self.store(where.bucket), "GET", where.key, expiry)
        except Exception as exc:
            raise bucket_error(exc, where) from None

    async def put(self, where: Location, chunks: AsyncIterable[bytes]) -> None:
        """Stream ``chunks`` into the object (multipart: memory stays flat)."""
        import obstore

        try:
            await obstore.put_async(
                self.store(where.bucket),
                where.key,
                chunks,
                chunk_size=PART_SIZE,
                max_concurrency=PARTS_IN_FLIGHT,
            )
        except Exception as exc:
            raise bucket_error(exc, where) from None


def bucket_error(exc: BaseException, where: Location) -> BucketError:
    """The store's failure in words, naming the bucket (never the store's own message)."""
    from obstore import exceptions

    text = str(exc)
    name = f"s3://{where.bucket}"
    if "NoSuchBucket" in text:
        return BucketError(f"{name}: no such bucket (at {_endpoint_shown()})")
    if "InvalidAccessKeyId" in text or "SignatureDoesNotMatch" in text:
        return BucketError(f"{name}: the credentials were refused (check AWS_ACCESS_KEY_ID)")
    if isinstance(exc, exceptions.UnauthenticatedError):
        return BucketError(f"{name}: the credentials were refused (check AWS_ACCESS_KEY_ID)")
    if isinstance(exc, exceptions.PermissionDeniedError) or "AccessDenied" in text:
        return BucketError(f"{name}: access denied (the credentials may not use it)")
    if "error sending request" in text or "Connect" in text or "dns error" in text:
        return BucketError(f"{name}: the endpoint {_endpoint_shown()} is unreachable")
    return BucketError(f"{name}: the bucket request failed ({type(exc).__name__})")


def _endpoint_shown() -> str:
    url = endpoint()
    return redact_url(url) if url else "AWS S3"

"""The bucket client (obstore's ``S3Store``, one per bucket) and its errors in words.

Configured the way boto3 and the AWS CLI are (:mod:`viesus._buckets.profiles`): the
``AWS_*`` environment, else the ``AWS_PROFILE`` profile of ``~/.aws/credentials`` and
``~/.aws/config``; any S3-compatible endpoint (``http://`` allowed when the endpoint says
so). A failure is one line naming the bucket and what to do: no such bucket, access denied, no
credentials, credentials refused, endpoint unreachable. The store's own message is never
shown: it may quote a request (and, for a presigned one, its signature).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Any, Final

from viesus._buckets.locations import BucketObject, Location
from viesus._buckets.profiles import Settings, settings
from viesus._errors import ConfigurationError
from viesus._redact import redact_url

if TYPE_CHECKING:
    from obstore.store import S3Credential, S3Store

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


class Buckets:
    """One ``S3Store`` per bucket, made on first use from the settings read once here."""

    def __init__(self) -> None:
        try:
            import obstore  # noqa: F401
        except ModuleNotFoundError:
            raise MissingBucketsExtra from None
        try:
            self.settings = settings()
        except ConfigurationError as exc:
            raise BucketError(str(exc)) from None
        if self.settings.access_key_id is None and not any(
            os.environ.get(name) for name in _CREDENTIAL_VARIABLES
        ):
            raise BucketError(
                "no credentials for s3:// sources or outputs: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE to a profile in ~/.aws/credentials "
                "(and AWS_ENDPOINT_URL for a store other than AWS)"
            )
        self._stores: dict[str, S3Store] = {}

    def store(self, bucket: str) -> S3Store:
        found = self._stores.get(bucket)
        if found is None:
            from obstore.store import S3Store

            url = self.settings.endpoint
            options: dict[str, Any] = {"allow_http": bool(url and url.startswith("http://"))}
            found = S3Store(
                bucket,
                config=_config(self.settings),  # type: ignore[arg-type]
                client_options=options,  # type: ignore[arg-type]
                retry_config=_RETRY,  # type: ignore[arg-type]
                credential_provider=(
                    None if self.settings.access_key_id is None else KeyPair(self.settings)
                ),
            )
            self._stores[bucket] = found
        return found

    async def list(self, where: Location) -> list[BucketObject]:
        """Every object under ``where``'s prefix (keys, ETags, sizes), in key order."""
        import obstore

        try:
            found = await obstore.list(self.store(where.bucket), prefix=where.key).collect_async()
        except Exception as exc:
            raise bucket_error(exc, where, self.settings) from None
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
            raise bucket_error(exc, where, self.settings) from None
        return BucketObject(where, meta["e_tag"] or "", meta["size"])

    async def sign(self, where: Location, expiry: datetime.timedelta) -> str:
        """A presigned GET URL of the object (a secret until it expires: never logged)."""
        import obstore

        try:
            return await obstore.sign_async(self.store(where.bucket), "GET", where.key, expiry)
        except Exception as exc:
            raise bucket_error(exc, where, self.settings) from None

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
            raise bucket_error(exc, where, self.settings) from None


def bucket_error(exc: BaseException, where: Location, using: Settings) -> BucketError:
    """The store's failure in words, naming the bucket (never the store's own message)."""
    from obstore import exceptions

    text = str(exc)
    name = f"s3://{where.bucket}"
    refused = f"{name}: the credentials were refused (check the key pair from {using.origin})"
    if "NoSuchBucket" in text:
        return BucketError(f"{name}: no such bucket (at {_endpoint_shown(using)})")
    if "InvalidAccessKeyId" in text or "SignatureDoesNotMatch" in text:
        return BucketError(refused)
    if isinstance(exc, exceptions.UnauthenticatedError):
        return BucketError(refused)
    if isinstance(exc, exceptions.PermissionDeniedError) or "AccessDenied" in text:
        return BucketError(
            f"{name}: access denied to the key pair from {using.origin} (grant it "
            "s3:ListBucket, s3:GetObject and s3:PutObject on the bucket, or use another)"
        )
    if "error sending request" in text or "Connect" in text or "dns error" in text:
        return BucketError(
            f"{name}: the endpoint {_endpoint_shown(using)} is unreachable (is it running? "
            "check AWS_ENDPOINT_URL, or the profile's endpoint_url)"
        )
    return BucketError(f"{name}: the bucket request failed ({type(exc).__name__})")


def _endpoint_shown(using: Settings) -> str:
    url = using.endpoint
    return redact_url(url) if url else "AWS S3"


def _config(using: Settings) -> dict[str, str]:
    """obstore's config from the settings: region and endpoint (the key pair goes through
    :class:`KeyPair`)."""
    config = {"region": using.region}
    if using.endpoint:
        config["endpoint"] = using.endpoint
    return config


class KeyPair:
    """The settings' key pair and token (or none) as obstore's credential provider.

    Not config values: obstore also reads the environment, and would send an
    ``AWS_SESSION_TOKEN`` left there with a profile's key pair (a request AWS refuses); a
    provider's credential is taken whole. Its repr shows no secret."""

    def __init__(self, using: Settings) -> None:
        assert using.access_key_id is not None
        assert using.secret_access_key is not None
        self._credential: S3Credential = {
            "access_key_id": using.access_key_id,
            "secret_access_key": using.secret_access_key,
            "token": using.session_token,
            "expires_at": None,
        }

    def __call__(self) -> S3Credential:
        return self._credential

    def __repr__(self) -> str:
        return "KeyPair(<hidden>)"

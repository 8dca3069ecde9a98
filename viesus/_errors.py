"""The toolkit's typed errors: one small hierarchy, every message safe to log.

No error ever carries an API key, a webhook secret or a signed-URL token: messages are built
from ids, numbers and codes only, and URLs pass through :func:`viesus._redact.redact_url` first.
"""

from __future__ import annotations

from pathlib import Path


class ViesusError(Exception):
    """Base class of every error the toolkit raises."""


class ClientClosed(ViesusError):
    """The client was closed while (or before) waiting; the job keeps running on the server."""


class UnexpectedResponse(ViesusError):
    """An answer did not match this client's schema (the API changed, or the SDL is stale).

    The message names the fields that failed validation, never their values.
    """


class ConfigurationError(ViesusError):
    """Missing or invalid client configuration (no API key, bad endpoint, ...)."""


class AuthenticationError(ViesusError):
    """The API refused the key (HTTP 401/403 or an ``UNAUTHENTICATED`` GraphQL error)."""


class RateLimitError(ViesusError):
    """HTTP 429 after all retries; ``retry_after`` is the server's last hint in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerError(ViesusError):
    """HTTP 5xx or a transport failure after all retries."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class GraphQLRequestError(ViesusError):
    """The server answered with GraphQL ``errors`` (``code`` is ``extensions.code``)."""

    def __init__(
        self, message: str, code: str | None = None, path: tuple[str | int, ...] = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.path = path


class EnhancementFailed(ViesusError):
    """A job ended in ``ERROR``; ``error_code`` is the service's reason."""

    def __init__(self, job_id: str, error_code: str | None) -> None:
        super().__init__(f"enhancement {job_id} failed: {error_code or 'no error code given'}")
        self.job_id = job_id
        self.error_code = error_code


class WaitTimeout(ViesusError):
    """A job was still not done at the wait deadline; it keeps running on the server."""

    def __init__(self, job_id: str, waited: float, last_status: str | None = None) -> None:
        super().__init__(
            f"enhancement {job_id} not finished after {waited:.1f} s"
            + (f" (last status {last_status})" if last_status else "")
        )
        self.job_id = job_id
        self.waited = waited
        self.last_status = last_status


class LimitExceeded(ViesusError):
    """An input breaks a documented limit; nothing was uploaded or charged.

    ``source`` names the file or URL, ``limit`` the rule, ``value`` and ``maximum`` the numbers.
    """

    def __init__(
        self, source: str, limit: str, value: float, maximum: float, fix: str = ""
    ) -> None:
        super().__init__(
            f"{source}: {limit} is {_number(value)}, the limit is {_number(maximum)}"
            + (f"; {fix}" if fix else "")
        )
        self.source = source
        self.limit = limit
        self.value = value
        self.maximum = maximum


def _number(value: float) -> str:
    """Short for small numbers (``4.333``), digits grouped for big whole ones (``178,956,970``)."""
    if abs(value) >= 1_000_000 and float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:g}"


class InvalidInput(ViesusError):
    """An input file or option is unusable (unreadable, unsupported format, out of range)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class OutputExists(InvalidInput):
    """The output file is there already and not known to this batch's journal: creating a
    job would pay for a result with nowhere to go. ``path``: the file in the way."""

    def __init__(self, source: str, path: Path) -> None:
        super().__init__(
            source,
            f"the output {path} exists; pass overwrite=True or choose another output folder",
        )
        self.path = path


class UploadFailed(InvalidInput):
    """The service could not take an input; nothing was charged.

    ``code`` is the service's reason code when it gave one (``UNSUPPORTED_FORMAT``,
    ``FILE_TOO_LARGE``, ``FETCH_FAILED``, ...), ``service_reason`` its message (URLs redacted).
    """

    def __init__(
        self, source: str, code: str | None, service_reason: str | None, fix: str = ""
    ) -> None:
        said = f" ({service_reason})" if service_reason else ""
        what = f"the service refused the upload: {code or 'no reason code given'}{said}"
        super().__init__(source, what + (f"; {fix}" if fix else ""))
        self.code = code
        self.service_reason = service_reason


class UnsupportedUpload(UploadFailed):
    """The service could not read the file as an image (format, damaged, empty)."""


class UploadTooLarge(UploadFailed):
    """The file or image is larger than the service takes."""


class UploadFetchFailed(UploadFailed):
    """The service could not fetch a URL source."""


class InsufficientCredits(ViesusError):
    """The cost exceeds the remaining credits or the caller's ``max_credits``.

    ``needed`` and ``available`` are ``None`` when unknown (the service's refusal need not
    carry numbers [assumption]); the message then shows only what is known.
    """

    def __init__(
        self,
        needed: int | None,
        available: int | None,
        what: str = "remaining credits",
        *,
        source: str | None = None,
    ) -> None:
        """``source``: the one input refused (a PDF priced after its batch began), if any."""
        if needed is not None and available is not None:
            message = f"needs {needed} credits, {what} allow {available}"
        else:
            known = [
                f"{label} {number}"
                for label, number in (("needs", needed), ("available", available))
                if number is not None
            ]
            message = "not enough credits: " + what + (f" ({', '.join(known)})" if known else "")
        super().__init__(f"{source}: {message}" if source else message)
        self.needed = needed
        self.available = available


class BudgetExceeded(ViesusError):
    """The cost exceeds the caller's own budget (``max_credits``, ``--max-credits``); the
    account may well have the credits. Distinct from :class:`InsufficientCredits` (the
    account's credits run out), since the fix differs: raise the budget, or send less."""

    def __init__(
        self, needed: int, budget: int, what: str = "max_credits", *, source: str | None = None
    ) -> None:
        message = f"needs {needed} credits, more than {what} {budget}"
        super().__init__(f"{source}: {message}" if source else message)
        self.needed = needed
        self.budget = budget


class WebhookVerificationError(ViesusError):
    """A webhook delivery failed signature verification or could not be parsed."""


class InvalidOption(InvalidInput):
    """An enhancement option is out of range or unknown; names it by both of its names.

    ``python_name`` is the ``EnhancedImageInput`` attribute (dotted when nested), ``graphql_name``
    the API's name (``customColorConfig.highlightfac``), ``allowed`` the rule in words.
    """

    def __init__(self, python_name: str, graphql_name: str, value: object, allowed: str) -> None:
        super().__init__(
            f"option {python_name} ({graphql_name})", f"value {value} is not allowed: {allowed}"
        )
        self.python_name = python_name
        self.graphql_name = graphql_name
        self.value = value
        self.allowed = allowed


class UnknownOption(InvalidOption):
    """An option name this client does not know; ``suggestion`` is the closest valid name."""

    def __init__(self, name: str, suggestion: str | None, valid: list[str]) -> None:
        hint = (
            f"did you mean {suggestion}?"
            if suggestion
            else "valid names are the fields of EnhanceOptions (" + ", ".join(valid[:8]) + ", ...)"
        )
        InvalidInput.__init__(self, f"option {name}", f"unknown option name; {hint}")
        self.python_name = name
        self.graphql_name = name
        self.value = None
        self.allowed = hint
        self.suggestion = suggestion


class WebhookSignatureError(WebhookVerificationError):
    """The signature header is missing, malformed or matches none of the secrets (HTTP 401)."""


class WebhookPayloadError(WebhookVerificationError):
    """The signed body is not a webhook event (bad JSON or missing fields; HTTP 400)."""


class WebhookLimitReached(LimitExceeded):
    """The account already has the maximum number of webhooks; ``existing`` lists them.

    ``existing`` holds ``(id, redacted url)`` pairs, so the message can say what to delete.
    """

    def __init__(self, maximum: int, existing: tuple[tuple[str, str], ...]) -> None:
        listing = ", ".join(f"{webhook_id} ({url})" for webhook_id, url in existing)
        super().__init__(
            "webhooks",
            "the number of registered webhooks",
            len(existing),
            maximum,
            f"delete one first (viesus webhooks delete ID): {listing}",
        )
        self.existing = existing


class WebhookAlreadyRegistered(ViesusError):
    """A webhook for this URL exists; its secret cannot be read again, so replace it or reuse it."""

    def __init__(self, webhook_id: str, url: str) -> None:
        super().__init__(
            f"webhook {webhook_id} is already registered for {url}; its secret is shown only "
            "once, so use the secret saved at registration or register again with replace=True "
            "(deletes and re-creates it with a new secret)"
        )
        self.webhook_id = webhook_id
        self.url = url


class JournalError(ViesusError):
    """The batch journal cannot be used (newer schema version, unknown item, unsafe transition)."""


class JournalConfigurationError(JournalError, ConfigurationError):
    """The journal database refuses this DSN for good (wrong password, role or database, or a
    malformed DSN): retrying cannot help, so it is not retried. The message names the reason
    and the DSN without credentials."""

"""viesus-toolkit: typed, frugal, resumable access to the VIESUS Cloud image-enhancement API.

The public face is small (httpx-style): the client, its options and results, the errors, and
the webhook helpers. The generated typed client is ``viesus.api`` on a ``Viesus`` instance, or
the ``viesus_client`` package; the emulator is ``viesus.emulator``.
"""

from viesus.client import EnhanceOptions, Viesus
from viesus.errors import (
    AuthenticationError,
    ConfigurationError,
    EnhancementFailed,
    GraphQLRequestError,
    InsufficientCredits,
    InvalidInput,
    LimitExceeded,
    RateLimitError,
    ServerError,
    ViesusError,
    WaitTimeout,
    WebhookVerificationError,
)
from viesus.jobs import Job
from viesus.journal import Journal
from viesus.polling import PollSchedule
from viesus.redact import install_log_redaction
from viesus.results import EnhanceResult
from viesus.retries import RetryPolicy
from viesus.webhooks import WebhookEvent, WebhookListener, WebhookReceiver, unwrap, verify_signature

__version__ = "0.1.0"

install_log_redaction()

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "EnhanceOptions",
    "EnhanceResult",
    "EnhancementFailed",
    "GraphQLRequestError",
    "InsufficientCredits",
    "InvalidInput",
    "Job",
    "Journal",
    "LimitExceeded",
    "PollSchedule",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "Viesus",
    "ViesusError",
    "WaitTimeout",
    "WebhookEvent",
    "WebhookListener",
    "WebhookReceiver",
    "WebhookVerificationError",
    "__version__",
    "unwrap",
    "verify_signature",
]

"""viesus-toolkit: typed, frugal, resumable access to the VIESUS Cloud image-enhancement API.

The public face is small (httpx-style): the client, its options and results, the errors, and
the webhook helpers. The generated typed client is ``viesus.api`` on a ``Viesus`` instance, or
the ``viesus_client`` package; the emulator is ``viesus_emulator``.
"""

from viesus._client import EnhanceOptions, Viesus
from viesus._errors import (
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
from viesus._jobs import Job
from viesus._journal import Journal
from viesus._polling import PollSchedule
from viesus._results import EnhanceResult, FinishedResult
from viesus._retries import RetryPolicy
from viesus._webhooks import (
    WebhookEvent,
    WebhookListener,
    WebhookReceiver,
    unwrap,
    verify_signature,
)

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "EnhanceOptions",
    "EnhanceResult",
    "EnhancementFailed",
    "FinishedResult",
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

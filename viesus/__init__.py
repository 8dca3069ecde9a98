"""viesus-toolkit: typed, frugal, resumable access to the VIESUS Cloud image-enhancement API.

The public face is small (httpx-style): the client, its options and results, the errors, and
the webhook helpers. The generated typed client is ``viesus.api`` on a ``Viesus`` instance, or
the ``viesus_client`` package; the emulator is ``viesus_emulator``.
"""

from viesus._client import EnhanceOptions, Viesus
from viesus._errors import (
    AuthenticationError,
    ClientClosed,
    ConfigurationError,
    EnhancementFailed,
    GraphQLRequestError,
    InsufficientCredits,
    InvalidInput,
    LimitExceeded,
    RateLimitError,
    ServerError,
    UnexpectedResponse,
    UnsupportedUpload,
    UploadFailed,
    UploadFetchFailed,
    UploadTooLarge,
    ViesusError,
    WaitTimeout,
    WebhookVerificationError,
)
from viesus._jobs import Job
from viesus._journal import Journal
from viesus._pdf import PdfAnalysis, PdfAnalysisFailed, PdfStatistics
from viesus._polling import PollSchedule
from viesus._preflight import check_limits, estimate_credits, read_image_header
from viesus._results import EnhanceResult, FinishedResult
from viesus._retries import RetryPolicy
from viesus._shared_batch import SharedBatch
from viesus._store_pg import LeaseTimes
from viesus._webhook_listener import WebhookListener
from viesus._webhook_receiver import WebhookReceiver
from viesus._webhook_signature import WebhookEvent, unwrap, verify_signature

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "ClientClosed",
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
    "LeaseTimes",
    "LimitExceeded",
    "PdfAnalysis",
    "PdfAnalysisFailed",
    "PdfStatistics",
    "PollSchedule",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "SharedBatch",
    "UnexpectedResponse",
    "UnsupportedUpload",
    "UploadFailed",
    "UploadFetchFailed",
    "UploadTooLarge",
    "Viesus",
    "ViesusError",
    "WaitTimeout",
    "WebhookEvent",
    "WebhookListener",
    "WebhookReceiver",
    "WebhookVerificationError",
    "__version__",
    "check_limits",
    "estimate_credits",
    "read_image_header",
    "unwrap",
    "verify_signature",
]

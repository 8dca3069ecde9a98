"""viesus-toolkit: typed, frugal, resumable access to the VIESUS Cloud image-enhancement API.

The public face is small (httpx-style): the clients (``Viesus``, synchronous, and
``AsyncViesus``), their options and results, the errors, and the webhook helpers. The generated
typed client is ``.api`` on a client, or
the ``viesus_client`` package; the emulator is ``viesus_emulator``.
"""

import importlib
from typing import TYPE_CHECKING

from viesus._client import AsyncViesus, EnhanceOptions
from viesus._errors import (
    AuthenticationError,
    BudgetExceeded,
    ClientClosed,
    ConfigurationError,
    EnhancementFailed,
    GraphQLRequestError,
    InsufficientCredits,
    InvalidInput,
    LimitExceeded,
    OutputExists,
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
from viesus._polling import PollSchedule
from viesus._retries import RetryPolicy
from viesus._sync_client import Viesus

# Loaded on first use (PEP 562), so ``import viesus`` does not pay for journals, PDFs,
# PostgreSQL or webhooks a program may never touch; type checkers see plain imports.
if TYPE_CHECKING:
    from viesus._browser_uploads import BrowserUpload, UploadJob
    from viesus._image_headers import read_image_header
    from viesus._journal.postgres.settings import LeaseTimes
    from viesus._journal.sqlite import Journal
    from viesus._pdf import PdfAnalysis, PdfAnalysisFailed, PdfStatistics
    from viesus._plans import BatchPlan, PlannedItem
    from viesus._preflight import check_limits, estimate_credits
    from viesus._results import EnhanceResult, FinishedResult
    from viesus._shared_batch import SharedBatch
    from viesus._webhooks.listener import WebhookListener
    from viesus._webhooks.receiver import WebhookReceiver
    from viesus._webhooks.signature import WebhookEvent, unwrap, verify_signature

_MODULE_OF = {
    "BrowserUpload": "viesus._browser_uploads",
    "UploadJob": "viesus._browser_uploads",
    "EnhanceResult": "viesus._results",
    "FinishedResult": "viesus._results",
    "Journal": "viesus._journal.sqlite",
    "LeaseTimes": "viesus._journal.postgres.settings",
    "BatchPlan": "viesus._plans",
    "PlannedItem": "viesus._plans",
    "PdfAnalysis": "viesus._pdf",
    "PdfAnalysisFailed": "viesus._pdf",
    "PdfStatistics": "viesus._pdf",
    "SharedBatch": "viesus._shared_batch",
    "WebhookEvent": "viesus._webhooks.signature",
    "WebhookListener": "viesus._webhooks.listener",
    "WebhookReceiver": "viesus._webhooks.receiver",
    "check_limits": "viesus._preflight",
    "estimate_credits": "viesus._preflight",
    "read_image_header": "viesus._image_headers",
    "unwrap": "viesus._webhooks.signature",
    "verify_signature": "viesus._webhooks.signature",
}

if not TYPE_CHECKING:  # a typo in ``viesus.Nmae`` stays a type error, not ``Any``

    def __getattr__(name: str) -> object:
        module = _MODULE_OF.get(name)
        if module is None:
            raise AttributeError(f"module 'viesus' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"

__all__ = [
    "AsyncViesus",
    "AuthenticationError",
    "BatchPlan",
    "BrowserUpload",
    "BudgetExceeded",
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
    "OutputExists",
    "PdfAnalysis",
    "PdfAnalysisFailed",
    "PdfStatistics",
    "PlannedItem",
    "PollSchedule",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "SharedBatch",
    "UnexpectedResponse",
    "UnsupportedUpload",
    "UploadFailed",
    "UploadFetchFailed",
    "UploadJob",
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

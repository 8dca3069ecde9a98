"""Every error code the emulator emits, in one place, so the README and clients can rely on them.

GraphQL error codes travel in ``errors[].extensions.code``; job error codes in
``EnhancedImage.errorCode``; upload failure codes in ``Upload.metadata.error.code``. The real
service documents none of them: these are the emulator's own, chosen to be self-explanatory.
"""

from __future__ import annotations

from typing import Any, Final

from graphql import GraphQLError

# --- GraphQL / HTTP request errors ------------------------------------------------------------
UNAUTHENTICATED: Final = "UNAUTHENTICATED"  # HTTP 401: missing or unknown x-api-key
BAD_REQUEST: Final = "BAD_REQUEST"  # HTTP 400: body is not a GraphQL request
GRAPHQL_PARSE_FAILED: Final = "GRAPHQL_PARSE_FAILED"  # HTTP 400: syntax error
GRAPHQL_VALIDATION_FAILED: Final = "GRAPHQL_VALIDATION_FAILED"  # HTTP 400: not valid for schema
TOO_MANY_ROOT_FIELDS: Final = "TOO_MANY_ROOT_FIELDS"  # HTTP 400: max_root_fields exceeded
QUERY_TOO_COMPLEX: Final = "QUERY_TOO_COMPLEX"  # HTTP 400: tokens, depth, fields or cost limit
PAYLOAD_TOO_LARGE: Final = "PAYLOAD_TOO_LARGE"  # HTTP 413: body over limits.max_body_bytes
METHOD_NOT_ALLOWED: Final = "METHOD_NOT_ALLOWED"  # HTTP 405: mutation via GET, other verbs
NOT_ACCEPTABLE: Final = "NOT_ACCEPTABLE"  # HTTP 406: Accept names no JSON type
UNSUPPORTED_MEDIA_TYPE: Final = "UNSUPPORTED_MEDIA_TYPE"  # HTTP 415: POST body not JSON
RATE_LIMITED: Final = "RATE_LIMITED"  # HTTP 429 (injected fault), with Retry-After
INTERNAL_SERVER_ERROR: Final = "INTERNAL_SERVER_ERROR"  # HTTP 500 (injected) or a bug

# --- Field errors (HTTP 200, data for that field null) ----------------------------------------
BAD_USER_INPUT: Final = "BAD_USER_INPUT"  # invalid arguments; nothing created, nothing charged
NOT_FOUND: Final = "NOT_FOUND"  # a mutation names an unknown id
UPLOAD_NOT_READY: Final = "UPLOAD_NOT_READY"  # enhancing an upload that is not UPLOAD_FINISHED
UPLOAD_NOT_RECEIVED: Final = "UPLOAD_NOT_RECEIVED"  # completeSignedUpload before the PUT
INSUFFICIENT_CREDITS: Final = "INSUFFICIENT_CREDITS"  # cost > remaining - reserved
LIMIT_EXCEEDED: Final = "LIMIT_EXCEEDED"  # a sixth webhook; too many pending signed uploads
UNSUPPORTED_FORMAT: Final = "UNSUPPORTED_FORMAT"  # analyzePdf on an upload that is no PDF
PDF_ANALYSIS_RUNNING: Final = "PDF_ANALYSIS_RUNNING"  # analyzePdf while METADATA_ANALYZING
PDF_NOT_ANALYZED: Final = "PDF_NOT_ANALYZED"  # createEnhancedImage before a successful analysis

# --- EnhancedImage.errorCode (job ended ERROR, never charged) ---------------------------------
# Engine codes pass through unchanged: UNSUPPORTED_FORMAT, CORRUPT_INPUT, IMAGE_TOO_LARGE,
# LIMITS_EXCEEDED, BACKGROUND_UNREADABLE. The server adds:
UPSCALING_LIMIT_EXCEEDED: Final = "UPSCALING_LIMIT_EXCEEDED"  # input > 3000 px, > 4x, > 11996 px
BACKGROUND_FETCH_FAILED: Final = "BACKGROUND_FETCH_FAILED"  # replacement image not fetchable
PROCESSING_FAILED: Final = "PROCESSING_FAILED"  # injected job fault or an unexpected failure

# --- Upload.metadata.error.code (upload ended UPLOAD_FAILED) ----------------------------------
FETCH_FAILED: Final = "FETCH_FAILED"  # URL not reachable, non-2xx answer, timeout
URL_NOT_ALLOWED: Final = "URL_NOT_ALLOWED"  # the URL policy refuses its scheme or address
FILE_TOO_LARGE: Final = "FILE_TOO_LARGE"  # more than max_upload_bytes
EMPTY_FILE: Final = "EMPTY_FILE"  # zero bytes
# ... plus the engine's probe codes UNSUPPORTED_FORMAT, CORRUPT_INPUT, IMAGE_TOO_LARGE.

# --- Upload.metadata.error.code of a PDF (subStatus METADATA_ANALYZED_FAILED) -----------------
# (also EnhancedImage.errorCode when the PDF cannot be rewritten at job time)
PDF_DAMAGED: Final = "PDF_DAMAGED"  # qpdf cannot read it, or an image stream is broken
PDF_ENCRYPTED: Final = "PDF_ENCRYPTED"  # encrypted (with or without a user password)
PDF_NO_IMAGES: Final = "PDF_NO_IMAGES"  # no image XObject drawn on any page
PDF_TOO_MANY_PAGES: Final = "PDF_TOO_MANY_PAGES"  # more than PdfLimits.max_pages
PDF_TOO_MANY_IMAGES: Final = "PDF_TOO_MANY_IMAGES"  # more than PdfLimits.max_images
PDF_IMAGE_TOO_LARGE: Final = "PDF_IMAGE_TOO_LARGE"  # an image (or all) above the pixel limits
PDF_ANALYSIS_TIMEOUT: Final = "PDF_ANALYSIS_TIMEOUT"  # longer than PdfLimits.analysis_seconds
PDF_PROCESSING_TIMEOUT: Final = "PDF_PROCESSING_TIMEOUT"  # job: longer than PdfLimits.job_seconds


def graphql_error(code: str, message: str, **extensions: Any) -> GraphQLError:
    """A GraphQL error whose ``extensions.code`` is ``code``; messages never carry secrets."""
    return GraphQLError(message, extensions={"code": code, **extensions})

"""Selections for aliased documents, equal to the generated fragments in ``queries/``.

The batch documents are built with ariadne-codegen's custom-operation builders; their answers
are validated with the generated fragment models, so the selections here must match those
fragments field for field (a test checks it).
"""

from __future__ import annotations

from viesus_client.custom_fields import EnhancedImageFields, UploadFields
from viesus_client.custom_mutations import Mutation
from viesus_client.custom_queries import Query
from viesus_client.input_types import EnhancedImageInput


def job_selection(field: EnhancedImageFields) -> EnhancedImageFields:
    """The ``EnhancedImageFields`` fragment."""
    return field.fields(
        EnhancedImageFields.id,
        EnhancedImageFields.status,
        EnhancedImageFields.full_url,
        EnhancedImageFields.filename,
        EnhancedImageFields.viesus_duration,
        EnhancedImageFields.error_code,
    )


def upload_selection(field: UploadFields) -> UploadFields:
    """The ``UploadFields`` fragment's selection, for aliased documents."""
    return field.fields(
        UploadFields.id,
        UploadFields.status,
        UploadFields.sub_status,
        UploadFields.filesize,
        UploadFields.mimetype,
        UploadFields.extension,
        UploadFields.original_filename,
        UploadFields.filename,
        UploadFields.width,
        UploadFields.height,
        UploadFields.url,
        UploadFields.started_at,
        UploadFields.finished_at,
        UploadFields.duration,
        UploadFields.metadata,
    )


def poll_job(job_id: str) -> EnhancedImageFields:
    return job_selection(Query.enhanced_image(id=job_id))


def upload_jobs(upload_id: str) -> UploadFields:
    """An upload with every job made from it: how a lost create answer is found again."""
    return Query.upload(id=upload_id).fields(
        UploadFields.id, job_selection(UploadFields.enhanced_images())
    )


def create_job(upload_id: str, options: EnhancedImageInput) -> EnhancedImageFields:
    """One ``createEnhancedImage`` root field with the job fragment."""
    return job_selection(Mutation.create_enhanced_image(upload_id, input=options))

"""``enhance_many``: many sources through upload -> create -> wait -> download, frugally.

:class:`Pipeline` (``_coordinator``) drives the steps: ``_prepare`` (checks, journal
pick-up), ``_upload`` and ``_create`` in ``_waves``, then ``_completion``; they share one
``_state.BatchState``. Design notes: docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from viesus._pipeline._client import PipelineClient
from viesus._pipeline._coordinator import Pipeline
from viesus._pipeline._create import jobs_on_upload
from viesus._pipeline._tuning import LOST_READS

__all__ = ["LOST_READS", "Pipeline", "PipelineClient", "jobs_on_upload"]

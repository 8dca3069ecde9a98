"""The pipeline's tuning constants, in one place (read as ``tuning.NAME`` so a test can set one)."""

from __future__ import annotations

CREATE_ATTEMPTS = 3
# Reads of an upload before "it has no job" is believed after a lost create answer.
RECONCILE_READS = 3
# Reads of a job the service says it does not know before the item is called lost.
LOST_READS = 3
# Items uploaded and created per wave, in batches: the first jobs start while later files upload.
# The first wave is one batch (the first create leaves after 50 uploads), the next ones two.
WAVE_BATCHES = 2
# Sources checked per trip to a worker thread; the waves may start after the first chunk.
PREPARE_CHUNK = 64
# Checked chunks waiting for the waves at most: the checks keep just ahead of the uploads
# instead of taking the CPU from the first ones.
CHECKED_AHEAD = 2
# Create (and reconcile) requests in flight at once within a wave.
CREATE_CONCURRENCY = 4
# How long a batch waits for PDF analyses when it has no timeout of its own.
ANALYSIS_TIMEOUT = 600.0

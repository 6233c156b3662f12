-- The landing days this build catches up with: the queue in raw.pending_model_builds as
-- the build starts. A table, so that the on-run-end hook removes exactly these requests
-- from the queue (macros/pending_model_builds.sql), never one added while it ran.
select landing_date, requested_at
from {{ source('raw', 'pending_model_builds') }}

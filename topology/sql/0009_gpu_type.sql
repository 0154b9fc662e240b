-- The two client generations mean different things by `gpu_passthrough`. The bash
-- client sends the kind of GPU it found on the host (`igpu`, `dgpu`, `unknown`: from the
-- first display device `lspci` lists, whether or not anything is passed through); the v2
-- client (`payload_version` 2) sends whether passthrough was asked for (`yes`, `no`).
-- From here on `gpu_passthrough` has the second meaning only, and the first has a column
-- of its own, `gpu_type`: ingest puts each value where it belongs (schemas::parse), and
-- the rows stored before are moved the same way, so that an analyst's SQL reads one
-- meaning per column, old rows included.
ALTER TABLE events ADD COLUMN IF NOT EXISTS gpu_type LowCardinality(String) DEFAULT '' AFTER gpu_passthrough;

ALTER TABLE events UPDATE gpu_type = gpu_passthrough, gpu_passthrough = '' WHERE gpu_passthrough NOT IN ('', 'yes', 'no')
SETTINGS mutations_sync = 2;

-- Noise on the published counts (aggregator/src/noise.rs).
--
-- Every published count gets a small random offset that is drawn from a secret and from
-- the set of runs behind the count, so that the same runs give the same offset in every
-- table, window and release (asking again cannot average it away), and a count that one
-- run more or less changes gets a fresh one (padding a victim's cell with made-up runs,
-- or subtracting two windows, leaves that run behind noise).
--
-- `cell_key` is the XOR of `sipHash64('cell', run)` over a row's runs: XOR merges over
-- days, repositories and outcomes as the counts do, and a different set of runs gives a
-- different key. It names no run on its own: the key of a row of one run is a hash of
-- an identifier drawn at random per script run, which the raw table forgets after its
-- retention. Rows written before this migration have 0, which changes no key.
ALTER TABLE stats_groups ADD COLUMN IF NOT EXISTS cell_key UInt64 DEFAULT 0;

-- The secret the offsets are drawn from: one row, written by the first refresh
-- (crate::noise::ensure_secret), never shown to the public. Whoever knows it and the
-- keys can take the offsets off again; the analysts, who read the exact rows anyway,
-- may.
CREATE TABLE IF NOT EXISTS stats_noise
(
    secret     String,
    created_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY created_at;

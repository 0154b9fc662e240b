-- What each exit code means, for analysts' SQL: `events` and `runs` carry the code, and
-- the meaning and category are the client's own table (schemas/data/exit-codes.tsv)
-- with the conventional meanings of the codes it lacks, the same that the published
-- statistics use. `consumer migrate` writes the rows on every run
-- (topology::migrations::apply_exit_codes), so a new table ships with a new build.
CREATE TABLE IF NOT EXISTS exit_codes
(
    code     UInt8,
    meaning  String,
    category LowCardinality(String)
)
ENGINE = MergeTree
ORDER BY code;

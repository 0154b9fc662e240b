-- The host platform of each run, as a split of the statistics like the repository: the
-- v2 client also runs on Incus (`platform` = `incus`, `pve_version` = `incus-X`), and
-- those runs must not be mixed into the breakdowns of Proxmox VE hosts. `pve` holds every
-- run that does not say Incus (the bash client runs on Proxmox VE only). Rows
-- materialised before this migration are `pve`: a day still recomputed gets the split at
-- its next refresh; a frozen day keeps its Incus runs among the pve ones.
ALTER TABLE stats_groups ADD COLUMN IF NOT EXISTS platform LowCardinality(String) DEFAULT 'pve' AFTER repo;

ALTER TABLE stats_durations ADD COLUMN IF NOT EXISTS platform LowCardinality(String) DEFAULT 'pve' AFTER repo;

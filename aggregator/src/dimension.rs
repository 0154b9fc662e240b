//! What the statistics count runs by: the dimensions of the rollup (`stats_groups.dimension`,
//! migration 0002), each with the SQL that reads it off a run and the documents that
//! publish it. The names are the rollup's column values and the published documents'
//! keys, so both come from here.

/// The dimensions, each written once with its name: the enum, [`Dimension::ALL`] in this
/// order, and [`Dimension::name`].
macro_rules! dimensions {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )+) => {
        /// One dimension of the rollup.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Dimension {
            $( $(#[$doc])* $variant, )+
        }

        impl Dimension {
            /// Every dimension, [`Dimension::All`] first, then the breakdowns in the
            /// rollup's order.
            pub const ALL: [Dimension; [$( $name ),+].len()] = [$( Dimension::$variant ),+];

            /// The name in `stats_groups.dimension` and in the published documents.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Dimension::$variant => $name, )+
                }
            }
        }
    };
}

dimensions! {
    /// No breakdown: the runs themselves, over all apps or per app.
    All = "all",
    App = "app",
    Type = "type",
    Os = "os",
    OsType = "os_type",
    Pve = "pve",
    Platform = "platform",
    Method = "method",
    CtType = "ct_type",
    CpuVendor = "cpu_vendor",
    GpuVendor = "gpu_vendor",
    GpuPassthrough = "gpu_passthrough",
    GpuType = "gpu_type",
    Arch = "arch",
    RepoSource = "repo_source",
    PayloadVersion = "payload_version",
    Cores = "cores",
    Ram = "ram",
    Disk = "disk",
    ErrorCategory = "error_category",
    ExitCode = "exit_code",
    Pattern = "pattern",
    Command = "command",
}

use Dimension::*;

impl Dimension {
    /// Every dimension that is a breakdown (all but [`Dimension::All`]).
    pub fn breakdowns() -> impl Iterator<Item = Dimension> {
        Self::ALL.into_iter().skip(1)
    }

    /// The breakdowns of `/v1/stats/hardware`.
    pub const HARDWARE: [Dimension; 14] = [
        Cores,
        Ram,
        Disk,
        CpuVendor,
        GpuVendor,
        GpuPassthrough,
        GpuType,
        Arch,
        CtType,
        Type,
        Platform,
        PayloadVersion,
        Method,
        RepoSource,
    ];

    /// Its value for one run, as SQL over the columns of `materialize`'s runs.
    pub(crate) const fn of_a_run(self) -> &'static str {
        match self {
            All => "''",
            App => "nsapp",
            Pve => "pve_version",
            // The bash client sends no payload_version: it is the first.
            PayloadVersion => "ifNull(toString(payload_version), '1')",
            other => other.name(),
        }
    }

    /// Whether it is broken down per app as well (`stats_groups.nsapp` set), for the
    /// apps' documents and the error analysis.
    pub const fn per_app(self) -> bool {
        matches!(
            self,
            All | Type | Os | Pve | ErrorCategory | ExitCode | Pattern | Command
        )
    }

    /// Whether it says something only about runs that failed or were aborted, so that
    /// its tables count only those: an app's document and the error analysis then hide
    /// the same groups.
    pub const fn failures_only(self) -> bool {
        matches!(self, ErrorCategory | ExitCode | Pattern | Command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_is_its_own() {
        let all = Dimension::ALL;
        let names: std::collections::HashSet<&str> = all.iter().map(|d| d.name()).collect();
        assert_eq!(names.len(), all.len());
    }

    #[test]
    fn the_hardware_and_the_failures_are_breakdowns_of_the_rollup() {
        for d in Dimension::HARDWARE {
            assert!(Dimension::breakdowns().any(|b| b == d), "{d:?}");
            assert!(!d.failures_only(), "{d:?}");
        }
        assert_eq!(Dimension::ALL[0], All);
        for d in Dimension::breakdowns().filter(|d| d.failures_only()) {
            assert!(d.per_app(), "{d:?}: the error analysis pivots it per app");
        }
    }
}

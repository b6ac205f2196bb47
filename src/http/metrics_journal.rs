//! `/metrics` series of the write-behind journal (`store::Journal`): writes waiting, committed,
//! refused, retried batches, and the calls shed because it could not keep up.

use std::fmt::Write as _;

use crate::store::JournalSnapshot;

/// Appends the journal's series to `out`.
pub(crate) fn write(out: &mut String, j: &JournalSnapshot) {
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    for (name, kind, help, value) in [
        (
            "firstline_journal_pending",
            "gauge",
            "Writes handed to the journal and not yet committed.",
            n(j.pending),
        ),
        (
            "firstline_journal_pending_peak",
            "gauge",
            "The most writes that waited for the journal at once since start.",
            n(j.peak_pending),
        ),
        (
            "firstline_journal_committed_total",
            "counter",
            "Writes the journal committed.",
            j.committed,
        ),
        (
            "firstline_journal_batches_total",
            "counter",
            "Transactions the journal committed (group commits).",
            j.batches,
        ),
        (
            "firstline_journal_retries_total",
            "counter",
            "Journal batches retried because the database was busy, locked or away.",
            j.retries,
        ),
        (
            "firstline_journal_failed_total",
            "counter",
            "Writes the database refused (each logged); everything else lands.",
            j.failed,
        ),
    ] {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_exposed_with_its_value() {
        let mut out = String::new();
        write(
            &mut out,
            &JournalSnapshot {
                pending: 3,
                peak_pending: 40,
                committed: 1000,
                batches: 12,
                retries: 2,
                failed: 1,
                largest_batch: 300,
            },
        );
        for line in [
            "firstline_journal_pending 3",
            "firstline_journal_pending_peak 40",
            "firstline_journal_committed_total 1000",
            "firstline_journal_batches_total 12",
            "firstline_journal_retries_total 2",
            "firstline_journal_failed_total 1",
            "# TYPE firstline_journal_committed_total counter",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing in:\n{out}");
        }
    }
}

//! The Markdown report, drawn from [`Results`](crate::results::Results).

use crate::results::Results;

/// The report for `results` as Markdown.
pub fn markdown(results: &Results) -> String {
    format!(
        "# sesscache harness report\n\nStarted {}\n",
        results.started
    )
}

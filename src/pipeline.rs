//! The headless path from worksheet to requests: read, clean, check and batch in one pass.
//!
//! Rows stream from the reader through the checker into the batcher, so memory stays flat
//! however long the sheet is; only identifier fingerprints are kept across rows.

use std::collections::HashSet;
use std::ops::ControlFlow;

use crate::error::SheetError;
use crate::mapping::Mapping;
pub use crate::payload::Options;
use crate::payload::{Batcher, Checker, Issue, Request, RowStatus, Severity};
use crate::sheet::{HeaderChoice, TableLayout, Workbook};

/// What the pipeline hands out as it goes.
#[derive(Debug)]
pub enum Event {
    /// A full request (or the last, partial one).
    Request(Request),
    /// A problem with a row.
    Issue(Issue),
}

/// Counts once every row has been read; `ready + warnings + errors == rows`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub layout: TableLayout,
    /// Data rows (blank rows not counted).
    pub rows: u64,
    /// Rows sent with no problem.
    pub ready: u64,
    /// Rows sent with a warning.
    pub warnings: u64,
    /// Rows not sent.
    pub errors: u64,
    pub requests: u64,
    /// Blank rows passed over.
    pub blank_rows: usize,
}

/// Reads the table of `sheet` and hands out its requests and issues in sheet order.
///
/// `on_event` can stop the run early with `ControlFlow::Break`; the summary then counts the
/// rows read so far.
pub fn run(
    workbook: &mut Workbook,
    sheet: usize,
    header: HeaderChoice,
    mapping: &Mapping,
    options: &Options,
    mut on_event: impl FnMut(Event) -> ControlFlow<()>,
) -> Result<Summary, SheetError> {
    let mut checker: Option<Checker> = None;
    let mut batcher = Batcher::new(options.mode);
    let mut counts = Counts::default();
    let (layout, blank_rows) = workbook.read_table(sheet, header, |layout, row| {
        let checker =
            checker.get_or_insert_with(|| Checker::new(mapping, layout.first_column, *options));
        let checked = checker.check(row);
        counts.row(checked.status());
        for issue in checked.issues {
            if issue.row != checked.row {
                counts.late_warning(&issue);
            } else if issue.severity == Severity::Warning {
                counts.warned.insert(issue.row);
            }
            on_event(Event::Issue(issue))?;
        }
        if let Some(request) = checked.user.and_then(|u| batcher.push(checked.row, u)) {
            counts.requests += 1;
            on_event(Event::Request(request))?;
        }
        ControlFlow::Continue(())
    })?;
    if let Some(request) = batcher.finish() {
        counts.requests += 1;
        // The last event: stopping here changes nothing.
        let _last = on_event(Event::Request(request));
    }
    Ok(Summary {
        layout,
        rows: counts.ready + counts.warnings + counts.errors,
        ready: counts.ready,
        warnings: counts.warnings,
        errors: counts.errors,
        requests: counts.requests,
        blank_rows,
    })
}

#[derive(Debug, Default)]
struct Counts {
    ready: u64,
    warnings: u64,
    errors: u64,
    requests: u64,
    /// Rows counted as warnings, so a late warning does not move a row twice.
    warned: HashSet<u32>,
}

impl Counts {
    fn row(&mut self, status: RowStatus) {
        match status {
            RowStatus::Ready => self.ready += 1,
            RowStatus::Warning => self.warnings += 1,
            RowStatus::Error => self.errors += 1,
        }
    }

    /// An earlier, sent row gets a warning (it shares an identifier with a later row).
    fn late_warning(&mut self, issue: &Issue) {
        if issue.severity == Severity::Warning && self.warned.insert(issue.row) {
            self.ready = self.ready.saturating_sub(1);
            self.warnings += 1;
        }
    }
}

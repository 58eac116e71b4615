//! The path of a sheet of organizations (`mapping.object` is organizations): the same events,
//! summary and report as users', built by [`OrgChecker`] into `organizations/*_many` requests.
//!
//! A sheet of companies is small beside a user list (thousands of rows, not millions), so it
//! is read and checked on one thread.

use std::ops::ControlFlow;

use super::{AccountChecks, Counts, Event, Report, Summary, TextNotes};
use crate::error::SheetError;
use crate::mapping::Mapping;
use crate::payload::{Layout, Options, OrgChecker, Organization, Request, RowStatus};
use crate::sheet::{HeaderChoice, Table, Workbook};

impl AccountChecks {
    /// A checker of organization rows, converting for the account's organization fields when
    /// they are known.
    pub fn org_checker(
        &self,
        mapping: &Mapping,
        first_column: u32,
        options: &Options,
    ) -> OrgChecker {
        let checker = OrgChecker::new(mapping, first_column, options).with_blank(self.blank);
        match &self.fields {
            Some(fields) => checker.with_fields(std::sync::Arc::clone(fields)),
            None => checker,
        }
    }
}

/// [`super::run_with`] for organizations: requests and issues in sheet order.
pub(super) fn run(
    workbook: &mut Workbook,
    (sheet, header): (usize, HeaderChoice),
    mapping: &Mapping,
    options: &Options,
    checks: &AccountChecks,
    mut on_event: impl FnMut(Event) -> ControlFlow<()>,
) -> Result<Summary, SheetError> {
    let mut notes = TextNotes::of(workbook);
    let wanted: Vec<usize> = mapping.mapped().map(|(c, _)| c.index).collect();
    let mut checker: Option<OrgChecker> = None;
    let mut layout: Layout<(u32, Organization)> = Layout::new(options.jobs);
    let mut counts = Counts::default();
    let mode = options.mode;
    let mut stopped = false;
    let (table, blank_rows) =
        workbook.read_table_columns(sheet, header, Some(&wanted), |table, row| {
            let checker = checker
                .get_or_insert_with(|| checks.org_checker(mapping, table.first_column, options));
            let checked = checker.check(row.clone());
            let status = checked.status();
            counts.row(status);
            if checked.organization.is_some() && status == RowStatus::Error {
                counts.included += 1;
            }
            let flow = (|| {
                for note in notes.up_to(checked.row) {
                    if note.row == checked.row && status == RowStatus::Ready {
                        counts.late_warning(&note);
                    }
                    on_event(Event::Issue(note))?;
                }
                for issue in checked.issues {
                    counts.issue(&issue, checked.row);
                    on_event(Event::Issue(issue))?;
                }
                let round = checked.organization.map(|o| layout.push((checked.row, o)));
                for batch in round.into_iter().flatten() {
                    counts.requests += 1;
                    on_event(Event::Request(request(mode, batch)))?;
                }
                ControlFlow::Continue(())
            })();
            if flow.is_break() {
                stopped = true;
            }
            flow
        })?;
    if !stopped {
        for batch in layout.finish() {
            counts.requests += 1;
            let _last = on_event(Event::Request(request(mode, batch)));
        }
    }
    Ok(counts.summary(table, blank_rows))
}

fn request(mode: crate::payload::Mode, batch: Vec<(u32, Organization)>) -> Request {
    let (rows, orgs) = batch.into_iter().unzip();
    Request::organizations(mode, rows, orgs)
}

/// [`super::check_rows`] for organizations: the report, and each sent row's organization
/// when `keep` asks.
pub(super) fn check_rows(
    table: &Table,
    mapping: &Mapping,
    options: &Options,
    checks: &AccountChecks,
    cancelled: &dyn Fn() -> bool,
    mut keep: Option<super::KeepOrganization<'_>>,
) -> Option<Report> {
    let mut checker = checks.org_checker(mapping, table.layout.first_column, options);
    let mut counts = Counts::default();
    let mut report = Report {
        invalid: options.invalid,
        ..Report::default()
    };
    let mut layout = Layout::new(options.jobs);
    let wanted: Vec<usize> = mapping.mapped().map(|(c, _)| c.index).collect();
    for (i, row) in table.rows().enumerate() {
        if i % 10_000 == 0 && cancelled() {
            return None;
        }
        let checked = checker.check(row.to_row_of(&wanted));
        counts.row(checked.status());
        for issue in &checked.issues {
            counts.issue(issue, checked.row);
            report.issues.push(issue);
        }
        if let Some(org) = checked.organization {
            if let Some(keep) = keep.as_deref_mut() {
                keep(checked.row, org);
            }
            report.batches.extend(layout.push(checked.row));
        }
    }
    report.batches.extend(layout.finish());
    report.issues.sort_by_row();
    report.issues.shrink_to_fit();
    report.ready = counts.ready;
    report.warnings = counts.warnings;
    report.errors = counts.errors;
    Some(report)
}

/// The request that sends `rows` of `table`, built again (Preview).
pub(super) fn request_for(
    table: &Table,
    mapping: &Mapping,
    options: &Options,
    checks: &AccountChecks,
    rows: &[u32],
) -> Request {
    let mut checker = checks.org_checker(mapping, table.layout.first_column, options);
    // Every row of the table is checked again, so a name on an earlier row is still seen.
    let wanted: std::collections::HashSet<u32> = rows.iter().copied().collect();
    let columns: Vec<usize> = mapping.mapped().map(|(c, _)| c.index).collect();
    let batch = table
        .rows()
        .filter_map(|row| {
            let checked = checker.check(row.to_row_of(&columns));
            let org = checked.organization?;
            wanted.contains(&checked.row).then_some((checked.row, org))
        })
        .collect();
    request(options.mode, batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{Object, auto_match_for};
    use crate::payload::Mode;
    use crate::sheet::{Cell, Row, TableLayout};

    fn companies(n: u32) -> Table {
        let headers = vec!["Company".to_owned(), "Domains".to_owned()];
        let rows = (0..n)
            .map(|i| Row {
                number: i + 2,
                cells: vec![
                    Cell::Text(format!("Company {}", if i == 5 { 1 } else { i })),
                    Cell::Text(format!("c{i}.example")),
                ],
            })
            .collect();
        let layout = TableLayout {
            sheet: "S".into(),
            header_row: 1,
            first_column: 0,
            headers,
        };
        Table::from_rows(layout, rows, 0)
    }

    #[test]
    fn a_companies_table_checks_into_organization_requests() {
        let t = companies(150);
        let mapping = auto_match_for(Object::Organizations, &t.layout.headers, &[]);
        let options = Options {
            mode: Mode::Create,
            ..Options::default()
        };
        let mut kept = Vec::new();
        let mut keep = |row, org| kept.push((row, org));
        let checks = AccountChecks::default();
        let report =
            check_rows(&t, &mapping, &options, &checks, &|| false, Some(&mut keep)).unwrap();
        assert_eq!((report.rows(), report.errors, report.sent()), (150, 1, 149));
        assert_eq!(kept.len(), 149);
        let first = request_for(&t, &mapping, &options, &checks, &report.batches[0]);
        assert_eq!(first.path, "/api/v2/organizations/create_many");
        assert_eq!(first.len(), report.batches[0].len());
        let body = serde_json::to_value(&first.body).unwrap();
        assert_eq!(body["organizations"][0]["domain_names"][0], "c0.example");
        assert!(body.get("users").is_none());
    }
}

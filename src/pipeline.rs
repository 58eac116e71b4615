//! The headless path from worksheet to requests: read, clean, check and batch in one pass.
//!
//! Rows stream from the reader through the checker into the batcher, so memory stays flat
//! however long the sheet is; only identifier fingerprints are kept across rows.

mod orgs;
mod parallel;
mod repeats;
mod sorted;
mod spool;

use std::collections::{HashMap, HashSet};

use fixedbitset::FixedBitSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use crate::error::SheetError;
use crate::mapping::Mapping;
use crate::payload::Fields;
pub use crate::payload::Options;
use crate::payload::{
    Batcher, Blank, Checker, InvalidPolicy, Issue, Layout, Prepared, Request, RowStatus, Severity,
    User,
};
use crate::sheet::{Chunk, HeaderChoice, Table, TableLayout, TextNote, Workbook};
pub use sorted::{Sorted, SortedIssues};

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
    /// Rows with an error: not sent, except those `--invalid include` sends ([`included`]).
    ///
    /// [`included`]: Summary::included
    pub errors: u64,
    /// Rows with an error sent anyway (`--invalid include`).
    pub included: u64,
    pub requests: u64,
    /// Blank rows passed over.
    pub blank_rows: usize,
}

/// What the checks know about the account once connected: its custom field definitions and
/// what an empty cell means. The default knows nothing and keeps blanks.
#[derive(Debug, Clone, Default)]
pub struct AccountChecks {
    pub fields: Option<Arc<Fields>>,
    pub blank: Blank,
}

impl AccountChecks {
    /// A checker for a table whose first column is at `first_column`, converting for the
    /// account when its fields are known.
    pub fn checker(&self, mapping: &Mapping, first_column: u32, options: &Options) -> Checker {
        let checker = Checker::new(mapping, first_column, *options).with_blank(self.blank);
        match &self.fields {
            Some(fields) => checker.with_fields(Arc::clone(fields)),
            None => checker,
        }
    }
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
    on_event: impl FnMut(Event) -> ControlFlow<()>,
) -> Result<Summary, SheetError> {
    let checks = AccountChecks::default();
    let check = (mapping, options, &checks);
    run_with(workbook, (sheet, header), check, Sink::Requests, on_event)
}

/// Rows handed from the reading thread to a preparing one at a time.
const CHUNK: usize = 512;

/// What becomes of the users the check lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Batched into requests, handed out as [`Event::Request`]s.
    Requests,
    /// Counted into the requests they would make, for a caller that wants the issues and the
    /// counts (`validate`): each row's user is dropped where it was built once its
    /// identifiers are known, and no [`Event::Request`] comes.
    Count,
}

/// Where the users' batches go: requests, or the rows of each batch only.
enum Batches {
    Requests(Batcher),
    Count(Layout<u32>),
}

impl Batches {
    /// Adds a sent row; the requests of a whole round (or their number) once it is whole.
    fn push(&mut self, row: u32, user: User) -> (usize, Vec<Request>) {
        match self {
            Batches::Requests(batcher) => {
                let round = batcher.push(row, user);
                (round.len(), round)
            }
            Batches::Count(layout) => (layout.push(row).len(), Vec::new()),
        }
    }

    /// [`Batches::push`] for a count, which keeps no user: the requests a whole round made.
    /// Batched into requests, a row needs its user: it is left out, and that is a mistake
    /// the debug build stops at.
    fn push_row(&mut self, row: u32) -> usize {
        debug_assert!(matches!(self, Batches::Count(_)), "a row without its user");
        match self {
            Batches::Requests(_) => 0,
            Batches::Count(layout) => layout.push(row).len(),
        }
    }

    fn finish(&mut self) -> (usize, Vec<Request>) {
        match self {
            Batches::Requests(batcher) => {
                let round = batcher.finish();
                (round.len(), round)
            }
            Batches::Count(layout) => (layout.finish().len(), Vec::new()),
        }
    }
}

/// [`run`] with the account's checks (custom fields converted, blanks as asked), the users
/// let through going to `sink`.
///
/// The sheet is read on a thread of its own, its rows prepared on every core, and this thread
/// finishes them in sheet order and builds the requests; `on_event` runs on this thread.
pub fn run_with(
    workbook: &mut Workbook,
    (sheet, header): (usize, HeaderChoice),
    (mapping, options, checks): (&Mapping, &Options, &AccountChecks),
    sink: Sink,
    on_event: impl FnMut(Event) -> ControlFlow<()>,
) -> Result<Summary, SheetError> {
    if mapping.object == crate::mapping::Object::Organizations {
        return orgs::run(
            workbook,
            (sheet, header),
            mapping,
            options,
            checks,
            on_event,
        );
    }
    let check = (mapping, options, checks);
    run_users(workbook, (sheet, header), check, (sink, None), on_event)
}

/// Sheets past this size (a CSV file's bytes, or a workbook's when its sheet does not say its
/// rows) take [`run_spilled`]'s first read: about 80,000 rows of ten columns.
const SPILL_ABOVE_BYTES: u64 = 8 << 20;
/// A worksheet that says it has more rows than this takes [`run_spilled`]'s first read.
const SPILL_ABOVE_ROWS: u32 = 100_000;
/// `validate` of a CSV file past this size takes [`count_in_one_read`]: about 300,000 rows of
/// ten columns, where it costs no time (a workbook's sheet, past [`SPILL_ABOVE_ROWS`]).
const COUNT_SPILL_ABOVE_BYTES: u64 = 40 << 20;

/// [`run_with`] for a caller that keeps nothing across rows (the import, whose requests are
/// spooled to disk; `validate`), with memory that does not grow with the rows.
///
/// On a long sheet only the identifiers met on more than one row are remembered across rows,
/// instead of every row's (about 11 bytes an identifier: 23 MB a kind at a million rows); they
/// are found with a sort on disk (an unnamed temporary file in `dir`, [`repeats`]). For the
/// import the identifier columns are read once first, on their own; counting only
/// (`validate`), the sheet is read once, each row set aside on disk as it is prepared and
/// finished once the whole sheet is read ([`count_in_one_read`]). Same events, same summary,
/// as [`run_with`]. A workbook's first read is calamine's read once more, which only an import
/// (minutes to hours of sending) takes.
pub fn run_spilled(
    workbook: &mut Workbook,
    (sheet, header): (usize, HeaderChoice),
    (mapping, options, checks): (&Mapping, &Options, &AccountChecks),
    (sink, dir): (Sink, &std::path::Path),
    on_event: impl FnMut(Event) -> ControlFlow<()>,
) -> Result<Summary, SheetError> {
    let check = (mapping, options, checks);
    // Counting only (`validate`), time is what the operator waits for: setting a long sheet's
    // rows aside pays for itself past a few hundred thousand rows (the table it spares misses
    // the cache; at a million rows of xlsx, 8% of the time and 22 MB of the peak).
    let pays = match sink {
        Sink::Requests => long_sheet(workbook, sheet),
        Sink::Count => match workbook.read_progress() {
            Some(text) => text.total > COUNT_SPILL_ABOVE_BYTES,
            None => long_sheet(workbook, sheet),
        },
    };
    if mapping.object == crate::mapping::Object::Organizations || !pays {
        return run_with(workbook, (sheet, header), check, sink, on_event);
    }
    if sink == Sink::Count {
        return count_in_one_read(workbook, (sheet, header), check, dir, on_event);
    }
    // The two reads must see one file: a row added between them could repeat an identifier
    // the first never saw.
    let stamp = |workbook: &Workbook| {
        let meta = std::fs::metadata(workbook.path()).ok()?;
        Some((meta.len(), meta.modified().ok()?))
    };
    let before = stamp(workbook);
    let repeats = repeated_identifiers(workbook, (sheet, header), mapping, options, dir)?;
    let summary = run_users(
        workbook,
        (sheet, header),
        check,
        (sink, Some(repeats)),
        on_event,
    )?;
    if stamp(workbook) != before {
        return Err(SheetError::Workbook {
            path: workbook.path().to_path_buf(),
            reason: "the file changed while it was read (its size or time of change moved), \
                     so its duplicates cannot be trusted; run again once it is saved"
                .to_owned(),
        });
    }
    Ok(summary)
}

/// Whether `sheet` is long enough for [`run_spilled`]'s first read to pay.
fn long_sheet(workbook: &Workbook, sheet: usize) -> bool {
    let rows = workbook
        .sheets()
        .get(sheet)
        .and_then(|s| s.size)
        .map(|s| s.0);
    match rows {
        Some(rows) => rows > SPILL_ABOVE_ROWS,
        None => std::fs::metadata(workbook.path()).is_ok_and(|m| m.len() > SPILL_ABOVE_BYTES),
    }
}

/// Reads the identifier columns of the sheet and answers the identifiers met on more than one
/// row ([`Checker::with_repeats`]).
fn repeated_identifiers(
    workbook: &mut Workbook,
    (sheet, header): (usize, HeaderChoice),
    mapping: &Mapping,
    options: &Options,
    dir: &std::path::Path,
) -> Result<Vec<u64>, SheetError> {
    let probe = || Checker::new(mapping, 0, *options).identifiers_only();
    let wanted = probe().columns_read();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = repeats::Repeats::new(dir);
    let mut failed = None;
    let (read, _stopped) = parallel::in_order(
        |send| read_chunks(workbook, (sheet, header), &wanted, send),
        probe,
        |probe: &mut Checker, (_, rows): (u32, Chunk)| {
            let mut prints = Vec::new();
            match &rows {
                Chunk::Table(table) => table.rows().for_each(|r| probe.prints_of(r, &mut prints)),
                Chunk::Records(records) => {
                    records.rows().for_each(|r| probe.prints_of(r, &mut prints));
                }
            }
            prints
        },
        |prints| match prints.into_iter().try_for_each(|p| found.push(p)) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        },
    );
    read?;
    let spill_error = |source| SheetError::Spill {
        dir: dir.to_path_buf(),
        source,
    };
    if let Some(e) = failed {
        return Err(spill_error(e));
    }
    found.finish().map_err(spill_error)
}

/// [`run_with`] for a users sheet; with repeats, only those identifiers are remembered.
fn run_users(
    workbook: &mut Workbook,
    (sheet, header): (usize, HeaderChoice),
    check: (&Mapping, &Options, &AccountChecks),
    (sink, repeats): (Sink, Option<Vec<u64>>),
    mut on_event: impl FnMut(Event) -> ControlFlow<()>,
) -> Result<Summary, SheetError> {
    let mut finisher = Finisher::new(workbook, check, sink, repeats);
    // The checker reads the mapped columns only: the others are never copied.
    let wanted: Vec<usize> = check.0.mapped().map(|(c, _)| c.index).collect();
    let (read, stopped) = parallel::in_order(
        |send| read_chunks(workbook, (sheet, header), &wanted, send),
        || None,
        |preparer: &mut Option<Checker>, chunk| prepare_chunk(preparer, chunk, check, sink),
        |(first_column, rows)| {
            rows.into_iter()
                .try_for_each(|row| finisher.row(first_column, row, &mut on_event))
        },
    );
    Ok(finisher.end(stopped, read?, on_event))
}

/// [`run_users`] counting only (`validate`), for a long sheet, in one read: every row is
/// prepared as it is read and set aside on disk ([`spool`]) with its identifiers' fingerprints
/// counted ([`repeats`]), and once the sheet is read the rows are finished in order,
/// remembering only the identifiers met on more than one row. Same events and summary as
/// [`run_users`], which reads the identifier columns first for that ([`run_spilled`]); the
/// events come once the whole sheet is read.
fn count_in_one_read(
    workbook: &mut Workbook,
    (sheet, header): (usize, HeaderChoice),
    check: (&Mapping, &Options, &AccountChecks),
    dir: &std::path::Path,
    mut on_event: impl FnMut(Event) -> ControlFlow<()>,
) -> Result<Summary, SheetError> {
    let spill_error = |source| SheetError::Spill {
        dir: dir.to_path_buf(),
        source,
    };
    let wanted: Vec<usize> = check.0.mapped().map(|(c, _)| c.index).collect();
    let mut found = repeats::Repeats::new(dir);
    let mut spool = spool::Spool::new(dir).map_err(spill_error)?;
    let mut first_column = 0;
    let mut failed = None;
    let (read, _stopped) = parallel::in_order(
        |send| read_chunks(workbook, (sheet, header), &wanted, send),
        || None,
        // Each row's record is written (and its user dropped) on the worker that prepared it.
        |preparer: &mut Option<Checker>, (first, chunk): (u32, Chunk)| {
            let mut records = Vec::new();
            let mut prints = Vec::new();
            let mut written = Ok(());
            prepare_each(preparer, (first, &chunk), check, false, |row| {
                prints.extend(row.prints());
                if written.is_ok() {
                    written = spool::record(&row, &mut records);
                }
            });
            (first, written.map(|()| records), prints)
        },
        |(first, records, prints)| {
            first_column = first;
            let set_aside = records.and_then(|records| {
                prints
                    .into_iter()
                    .try_for_each(|print| found.push(print))
                    .and_then(|()| spool.push(&records))
            });
            set_aside.map_or_else(
                |e| {
                    failed = Some(e);
                    ControlFlow::Break(())
                },
                ControlFlow::Continue,
            )
        },
    );
    let read = read?;
    if let Some(e) = failed {
        return Err(spill_error(e));
    }
    let repeats = found.finish().map_err(spill_error)?;
    let mut rows = spool.rows().map_err(spill_error)?;
    let mut finisher = Finisher::new(workbook, check, Sink::Count, Some(repeats.clone()));
    let mut stopped = false;
    while let Some(row) = rows.next_row(&repeats) {
        let finished = match row.map_err(spill_error)? {
            spool::Spooled::Plain(row) => finisher.plain(row, &mut on_event),
            spool::Spooled::Whole(row) => finisher.row(first_column, *row, &mut on_event),
        };
        if finished.is_break() {
            stopped = true;
            break;
        }
    }
    Ok(finisher.end(stopped, read, on_event))
}

/// One chunk of rows prepared on a worker ([`Checker::prepare_ref`]), by a checker made for
/// the first chunk it meets; counting only, each user is dropped here but its identifiers.
fn prepare_chunk(
    preparer: &mut Option<Checker>,
    (first_column, rows): (u32, Chunk),
    check: (&Mapping, &Options, &AccountChecks),
    sink: Sink,
) -> (u32, Vec<Prepared>) {
    let mut prepared = Vec::with_capacity(rows.len());
    let keep = sink == Sink::Requests;
    prepare_each(preparer, (first_column, &rows), check, keep, |mut row| {
        if !keep {
            row.slim();
        }
        prepared.push(row);
    });
    (first_column, prepared)
}

/// Each row of a chunk prepared ([`Checker::prepare_ref`]) and handed to `take`, in order.
fn prepare_each(
    preparer: &mut Option<Checker>,
    (first_column, rows): (u32, &Chunk),
    (mapping, options, checks): (&Mapping, &Options, &AccountChecks),
    keep: bool,
    mut take: impl FnMut(Prepared),
) {
    let preparer = preparer.get_or_insert_with(|| checks.checker(mapping, first_column, options));
    match rows {
        Chunk::Table(table) => table
            .rows()
            .for_each(|row| take(preparer.prepare_ref(row, keep))),
        Chunk::Records(records) => records
            .rows()
            .for_each(|row| take(preparer.prepare_ref(row, keep))),
    }
}

/// What finishing a users sheet's rows in order keeps across them: the checker (identifiers
/// met), the batches, the counts, and the text notes still to hand out.
struct Finisher<'a> {
    check: (&'a Mapping, &'a Options, &'a AccountChecks),
    checker: Option<Checker>,
    /// For the checker, once made.
    repeats: Option<Vec<u64>>,
    batches: Batches,
    counts: Counts,
    notes: TextNotes,
}

impl<'a> Finisher<'a> {
    fn new(
        workbook: &Workbook,
        check: (&'a Mapping, &'a Options, &'a AccountChecks),
        sink: Sink,
        repeats: Option<Vec<u64>>,
    ) -> Finisher<'a> {
        let options = check.1;
        Finisher {
            check,
            checker: None,
            repeats,
            batches: match sink {
                Sink::Requests => Batches::Requests(Batcher::new(options.mode, options.jobs)),
                Sink::Count => Batches::Count(Layout::new(options.jobs)),
            },
            counts: Counts::default(),
            notes: TextNotes::of(workbook),
        }
    }

    /// Finishes the next row in sheet order: its issues and its requests to `on_event`.
    fn row(
        &mut self,
        first_column: u32,
        row: Prepared,
        on_event: &mut impl FnMut(Event) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let checker = self.checker.get_or_insert_with(|| {
            let (mapping, options, checks) = self.check;
            let checker = checks.checker(mapping, first_column, options);
            match self.repeats.take() {
                Some(repeats) => checker.with_repeats(repeats),
                None => checker,
            }
        });
        let checked = checker.finish(row);
        let counts = &mut self.counts;
        counts.row(checked.status());
        if checked.user.is_some() && checked.status() == RowStatus::Error {
            counts.included += 1;
        }
        for note in self.notes.up_to(checked.row) {
            if note.row == checked.row && checked.status() == RowStatus::Ready {
                counts.late_warning(&note);
            }
            on_event(Event::Issue(note))?;
        }
        for issue in checked.issues {
            counts.issue(&issue, checked.row);
            on_event(Event::Issue(issue))?;
        }
        let (made, round) = match checked.user {
            Some(user) => self.batches.push(checked.row, user),
            None => (0, Vec::new()),
        };
        counts.requests += made as u64;
        round
            .into_iter()
            .try_for_each(|request| on_event(Event::Request(request)))
    }

    /// [`Finisher::row`] for a row counted only, without issues of its own and whose
    /// identifiers are on no other row ([`spool::Spooled::Plain`]): ready, sent, and no
    /// identifier to remember.
    fn plain(
        &mut self,
        row: u32,
        on_event: &mut impl FnMut(Event) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let counts = &mut self.counts;
        counts.row(RowStatus::Ready);
        for note in self.notes.up_to(row) {
            if note.row == row {
                counts.late_warning(&note);
            }
            on_event(Event::Issue(note))?;
        }
        counts.requests += self.batches.push_row(row) as u64;
        ControlFlow::Continue(())
    }

    /// The last requests (unless the caller stopped) and the summary of the read.
    fn end(
        mut self,
        stopped: bool,
        (layout, blank_rows): (TableLayout, usize),
        mut on_event: impl FnMut(Event) -> ControlFlow<()>,
    ) -> Summary {
        if !stopped {
            let (made, round) = self.batches.finish();
            self.counts.requests += made as u64;
            // The last events: stopping here changes nothing.
            let _last = round
                .into_iter()
                .try_for_each(|request| on_event(Event::Request(request)));
        }
        self.counts.summary(layout, blank_rows)
    }
}

/// A row of a table prepared on a worker for the thread that finishes rows in order.
enum Finished {
    /// Ready whatever came before: only its number (see [`check_rows_finding`]).
    Plain(u32),
    Whole(Box<Prepared>),
}

/// Reads the table and sends its rows in chunks of [`CHUNK`] ([`Workbook::read_chunks`]), with
/// the table's first column; the workers of [`parallel::in_order`] prepare them
/// ([`Checker::prepare_ref`]).
fn read_chunks(
    workbook: &mut Workbook,
    (sheet, header): (usize, HeaderChoice),
    wanted: &[usize],
    send: &mut dyn FnMut((u32, Chunk)) -> bool,
) -> Result<(TableLayout, usize), SheetError> {
    let mut send = |layout: &TableLayout, chunk| send((layout.first_column, chunk));
    workbook.read_chunks((sheet, header), Some(wanted), CHUNK, &mut send)
}

/// What decoding a text file found (a byte that is not UTF-8, a BOM that lies), as warnings on
/// the rows they fall in, handed out in row order.
struct TextNotes(std::vec::IntoIter<TextNote>);

impl TextNotes {
    fn of(workbook: &Workbook) -> TextNotes {
        let notes = workbook.delimited().map(|t| t.notes.clone());
        TextNotes(notes.unwrap_or_default().into_iter())
    }

    /// The notes on rows up to `row`, as warnings: the operator sees them before that row.
    fn up_to(&mut self, row: u32) -> Vec<Issue> {
        let mut out = Vec::new();
        while let Some(note) = self.0.as_slice().first().filter(|n| n.row <= row) {
            out.push(Issue {
                row: note.row,
                column: None,
                cell: None,
                value: None,
                severity: Severity::Warning,
                message: note.message.clone(),
                includable: false,
            });
            self.0.next();
        }
        out
    }
}

#[derive(Debug, Default)]
struct Counts {
    ready: u64,
    warnings: u64,
    errors: u64,
    included: u64,
    requests: u64,
    /// Rows counted as warnings (a bit a sheet row), so a late warning does not move a row
    /// twice: a set of a million rows took 16 MB, these bits 128 KB.
    warned: FixedBitSet,
}

impl Counts {
    /// Marks `row` warned: false when it already was.
    fn warn(&mut self, row: u32) -> bool {
        let bit = row as usize;
        if bit >= self.warned.len() {
            self.warned.grow((bit + 1).next_power_of_two());
        }
        !self.warned.put(bit)
    }

    /// The summary of a read that found these counts.
    fn summary(&self, layout: TableLayout, blank_rows: usize) -> Summary {
        Summary {
            layout,
            rows: self.ready + self.warnings + self.errors,
            ready: self.ready,
            warnings: self.warnings,
            errors: self.errors,
            included: self.included,
            requests: self.requests,
            blank_rows,
        }
    }

    fn row(&mut self, status: RowStatus) {
        match status {
            RowStatus::Ready => self.ready += 1,
            RowStatus::Warning => self.warnings += 1,
            RowStatus::Error => self.errors += 1,
        }
    }

    /// An earlier, sent row gets a warning (it shares an identifier with a later row).
    /// Counts one of the row `row`'s issues: a warning on the row itself marks it warned; an
    /// issue on an earlier row (a duplicate found later) may turn that ready row into a warned one.
    fn issue(&mut self, issue: &Issue, row: u32) {
        if issue.row != row {
            self.late_warning(issue);
        } else if issue.severity == Severity::Warning {
            self.warn(issue.row);
        }
    }

    fn late_warning(&mut self, issue: &Issue) {
        if issue.severity == Severity::Warning && self.warn(issue.row) {
            self.ready = self.ready.saturating_sub(1);
            self.warnings += 1;
        }
    }
}

/// Every row of a loaded table checked: the problems, the counts and the batches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// In sheet order, held compactly: a sheet whose every row has a problem holds a million.
    pub issues: crate::payload::Issues,
    pub ready: u64,
    pub warnings: u64,
    pub errors: u64,
    /// The sheet rows of each request, in order.
    pub batches: Vec<Vec<u32>>,
    /// The policy the rows were checked with: under include, some rows with errors are in
    /// `batches`.
    pub invalid: crate::payload::InvalidPolicy,
}

impl Report {
    /// The batch (0-based) that sends `row`, if the row is sent.
    pub fn batch_of(&self, row: u32) -> Option<usize> {
        let at = self
            .batches
            .partition_point(|b| b.last().is_some_and(|last| *last < row));
        self.batches
            .get(at)
            .filter(|b| b.binary_search(&row).is_ok())
            .map(|_| at)
    }

    pub fn rows(&self) -> u64 {
        self.ready + self.warnings + self.errors
    }

    /// Rows sent: the rows of every batch.
    pub fn sent(&self) -> u64 {
        self.batches.iter().map(|b| b.len() as u64).sum()
    }

    /// What each invalid-row policy leaves out.
    pub fn left_out(&self) -> crate::payload::LeftOut {
        crate::payload::LeftOut::of(&self.issues, self.rows())
    }
}

/// Checks the rows of a table in memory (the TUI's Check step); `cancelled` is polled.
pub fn check_table(
    table: &Table,
    mapping: &Mapping,
    options: &Options,
    cancelled: &dyn Fn() -> bool,
) -> Option<Report> {
    check_table_with(
        table,
        mapping,
        options,
        &AccountChecks::default(),
        cancelled,
    )
}

/// [`check_table`] with the account's checks (the TUI once connected).
pub fn check_table_with(
    table: &Table,
    mapping: &Mapping,
    options: &Options,
    checks: &AccountChecks,
    cancelled: &dyn Fn() -> bool,
) -> Option<Report> {
    check_rows(table, mapping, options, checks, cancelled, None)
}

/// [`check_table_users_into`] for a sheet of organizations: each sent row's organization
/// handed to `keep` as it is sent, in sheet order.
pub fn check_table_organizations_into(
    table: &Table,
    (mapping, options, checks): (&Mapping, &Options, &AccountChecks),
    cancelled: &dyn Fn() -> bool,
    keep: KeepOrganization<'_>,
) -> Option<Report> {
    orgs::check_rows(table, mapping, options, checks, cancelled, Some(keep))
}

/// Where a check of a sheet of organizations hands each sent row's organization.
pub type KeepOrganization<'a> = &'a mut dyn FnMut(u32, crate::payload::Organization);

/// [`check_table_with`], handing each sent row's user to `keep` as it is sent, in sheet order
/// (the account check's spool), from the same pass: the rows are checked once, and the plan,
/// Preview and the import read these users.
pub fn check_table_users_into(
    table: &Table,
    (mapping, options, checks): (&Mapping, &Options, &AccountChecks),
    cancelled: &dyn Fn() -> bool,
    keep: KeepUser<'_>,
) -> Option<Report> {
    check_rows(table, mapping, options, checks, cancelled, Some(keep))
}

/// Where a check of a table hands each sent row's user, in sheet order.
pub type KeepUser<'a> = &'a mut dyn FnMut(u32, crate::payload::User);

/// Tables longer than this find their repeated identifiers before they are checked
/// ([`table_repeats`]).
const TABLE_REPEATS_ABOVE_ROWS: usize = 50_000;

/// Checks the table's rows as [`run_with`] checks a sheet's: rows prepared on every core
/// ([`Checker::prepare`], [`parallel::in_order`]) while this thread finishes them in sheet
/// order, as `validate` does. `cancelled` is asked at every chunk.
fn check_rows(
    table: &Table,
    mapping: &Mapping,
    options: &Options,
    checks: &AccountChecks,
    cancelled: &dyn Fn() -> bool,
    keep: Option<KeepUser<'_>>,
) -> Option<Report> {
    let find_repeats = table.len() > TABLE_REPEATS_ABOVE_ROWS;
    check_rows_finding(
        table,
        (mapping, options, checks),
        cancelled,
        keep,
        find_repeats,
    )
}

/// [`check_rows`]; with `find_repeats`, the identifiers on more than one row are found first,
/// on every core, and only those are remembered across rows (the same duplicates: see
/// [`Checker::with_repeats`]). At a million rows, remembering every identifier was a third of
/// the thread that finishes the rows in order, the one the check waits for.
fn check_rows_finding(
    table: &Table,
    (mapping, options, checks): (&Mapping, &Options, &AccountChecks),
    cancelled: &dyn Fn() -> bool,
    mut keep: Option<KeepUser<'_>>,
    find_repeats: bool,
) -> Option<Report> {
    if mapping.object == crate::mapping::Object::Organizations {
        return orgs::check_rows(table, mapping, options, checks, cancelled, None);
    }
    let first_column = table.layout.first_column;
    let mut checker = checks.checker(mapping, first_column, options);
    let repeats = match find_repeats {
        true => Some(table_repeats(table, mapping, options, cancelled)?),
        false => None,
    };
    if let Some(repeats) = &repeats {
        checker = checker.with_repeats(repeats.clone());
    }
    // Only the report is wanted: each user is dropped where it was built, but for the
    // identifiers the duplicate check reads; a row with no problem of its own and no
    // identifier on another row is ready whatever came before, and only its number comes
    // back ([`Finished::Plain`]).
    let slim = keep.is_none();
    let plain = |row: &Prepared| {
        slim && !row.has_issues()
            && repeats
                .as_deref()
                .is_some_and(|r| row.prints().all(|p| r.binary_search(&p).is_err()))
    };
    let mut counts = Counts::default();
    let mut report = Report {
        invalid: options.invalid,
        ..Report::default()
    };
    let mut layout = Layout::new(options.jobs);
    let ((), cancelled_here) = parallel::in_order(
        |send| {
            (0..table.len())
                .step_by(CHUNK)
                .all(|start| send(start..table.len().min(start + CHUNK)));
        },
        || checks.checker(mapping, first_column, options),
        |preparer, rows: std::ops::Range<usize>| -> Vec<Finished> {
            rows.filter_map(|i| table.get(i))
                .map(|row| {
                    let mut prepared = preparer.prepare_ref(row, !slim);
                    if plain(&prepared) {
                        return Finished::Plain(prepared.row());
                    }
                    if slim {
                        prepared.slim();
                    }
                    Finished::Whole(Box::new(prepared))
                })
                .collect()
        },
        |chunk| {
            if cancelled() {
                return ControlFlow::Break(());
            }
            for prepared in chunk {
                let prepared = match prepared {
                    Finished::Plain(row) => {
                        counts.row(RowStatus::Ready);
                        report.batches.extend(layout.push(row));
                        continue;
                    }
                    Finished::Whole(prepared) => *prepared,
                };
                let checked = checker.finish(prepared);
                counts.row(checked.status());
                for issue in &checked.issues {
                    counts.issue(issue, checked.row);
                    report.issues.push(issue);
                }
                if let Some(user) = checked.user {
                    if let Some(keep) = keep.as_deref_mut() {
                        keep(checked.row, user);
                    }
                    report.batches.extend(layout.push(checked.row));
                }
            }
            ControlFlow::Continue(())
        },
    );
    if cancelled_here {
        return None;
    }
    report.batches.extend(layout.finish());
    report.issues.sort_by_row();
    report.issues.shrink_to_fit();
    report.ready = counts.ready;
    report.warnings = counts.warnings;
    report.errors = counts.errors;
    Some(report)
}

/// The identifiers on more than one row of `table`, as [`Checker::with_repeats`] takes them:
/// each row's fingerprinted on every core ([`Checker::prints_of`]), then sorted here. `None`
/// when cancelled.
fn table_repeats(
    table: &Table,
    mapping: &Mapping,
    options: &Options,
    cancelled: &dyn Fn() -> bool,
) -> Option<Vec<u64>> {
    let probe = || Checker::new(mapping, 0, *options).identifiers_only();
    let kinds = probe().columns_read().len();
    if kinds == 0 {
        return Some(Vec::new());
    }
    // Sized once: at a million rows of two identifiers, 16 MB while they are sorted.
    let mut prints: Vec<u64> = Vec::with_capacity(table.len().saturating_mul(kinds));
    let ((), stopped) = parallel::in_order(
        |send| {
            (0..table.len())
                .step_by(CHUNK)
                .all(|start| send(start..table.len().min(start + CHUNK)));
        },
        probe,
        |probe, rows: std::ops::Range<usize>| -> Vec<u64> {
            let mut prints = Vec::new();
            for row in rows.filter_map(|i| table.get(i)) {
                probe.prints_of(row, &mut prints);
            }
            prints
        },
        |chunk| {
            if cancelled() {
                return ControlFlow::Break(());
            }
            prints.extend(chunk);
            ControlFlow::Continue(())
        },
    );
    if stopped {
        return None;
    }
    prints.sort_unstable();
    let mut repeats: Vec<u64> = prints
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
        .collect();
    repeats.dedup();
    Some(repeats)
}

/// The request that sends `rows` of `table` (one batch of a [`Report`]), built again.
///
/// Rows in a batch passed every check, including the duplicate check, so a fresh checker
/// builds exactly the users the import sends.
pub fn request_for(table: &Table, mapping: &Mapping, options: &Options, rows: &[u32]) -> Request {
    request_for_with(table, mapping, options, &AccountChecks::default(), rows)
}

/// [`request_for`] with the account's checks, so Preview shows the converted values.
pub fn request_for_with(
    table: &Table,
    mapping: &Mapping,
    options: &Options,
    checks: &AccountChecks,
    rows: &[u32],
) -> Request {
    if mapping.object == crate::mapping::Object::Organizations {
        return orgs::request_for(table, mapping, options, checks, rows);
    }
    let mut checker = checks.checker(mapping, table.layout.first_column, options);
    // A batch holds at most BATCH_SIZE rows, laid out when the rows were checked: all of it
    // is one request.
    let (rows, users) = rows
        .iter()
        .filter_map(|&number| Some((number, checker.check(table.row(number)?.to_row()).user?)))
        .unzip();
    Request::new(options.mode, rows, users)
}

/// The outbox of a checked table held in memory: its requests built again, and every row
/// with an error skipped with its problems as the reason. What the import's spools must hold
/// (`session::check::offline_outbox` writes it a request at a time).
#[cfg(test)]
pub(crate) fn outbox(
    table: &Table,
    mapping: &Mapping,
    options: &Options,
    report: &Report,
) -> Result<crate::import::Outbox, crate::import::ImportError> {
    let mut plan = crate::import::Outbox::new(options.mode);
    plan.object = mapping.object;
    for rows in &report.batches {
        plan.push_request(&request_for(table, mapping, options, rows))?;
    }
    plan.settle_errors(&report.issues, options.invalid == InvalidPolicy::Include);
    name_skipped(&mut plan, table, mapping);
    Ok(plan)
}

/// Names the plan's skipped rows from their mapped name, email and external_id cells, as
/// the sheet has them (the rows may be invalid: nothing is checked).
pub fn name_skipped(plan: &mut crate::import::Outbox, table: &Table, mapping: &Mapping) {
    let wanted: HashSet<u32> = plan.skipped.iter().map(|(row, _)| *row).collect();
    if wanted.is_empty() {
        return;
    }
    let keys = sheet_keys(table, mapping, &wanted);
    plan.name_skipped(|row| keys.get(&row).cloned());
}

/// The name, email and external_id the `wanted` rows of `table` hold in the columns `mapping`
/// maps to them, as they are in the sheet (trimmed): what names a row no request sends.
pub fn sheet_keys(
    table: &Table,
    mapping: &Mapping,
    wanted: &HashSet<u32>,
) -> HashMap<u32, crate::import::UserKey> {
    use crate::mapping::Target;
    let columns: Vec<(usize, &Target)> = mapping
        .mapped()
        .filter(|(_, t)| matches!(t, Target::Name | Target::Email | Target::ExternalId))
        .map(|(c, t)| (c.index, t))
        .collect();
    let mut keys: HashMap<u32, crate::import::UserKey> = HashMap::new();
    for row in table.rows().filter(|r| wanted.contains(&r.number)) {
        let mut key = crate::import::UserKey::default();
        for &(index, target) in &columns {
            let text = Some(row.cell(index).display().trim().to_owned()).filter(|t| !t.is_empty());
            match target {
                Target::Name => key.name = text,
                Target::Email => key.email = text,
                _ => key.external_id = text,
            }
        }
        keys.entry(row.number).or_insert(key);
    }
    keys
}

/// The outbox of an account-aware [`crate::plan::Plan`]: its requests (unchanged rows,
/// conflicts and rows that would fail left out with their reason), and the rows with errors;
/// its requests laid out for `jobs` jobs at once.
pub fn outbox_from(
    plan: &crate::plan::Plan,
    (skip_unchanged, jobs): (bool, usize),
    report: &Report,
) -> Result<crate::import::Outbox, crate::import::ImportError> {
    let routed = plan.route(skip_unchanged, jobs);
    let mut out = crate::import::Outbox::new(plan.mode);
    out.object = plan.object;
    // Each routed request let go once its body is in the outbox (a sheet of organizations
    // routes whole: two copies of it otherwise).
    for request in routed.requests {
        out.push_request(&request)?;
    }
    // Created before the users that name them (issue 15).
    if plan.object == crate::mapping::Object::Users {
        crate::import::orgs::list_missing(&mut out, &plan.missing_organizations)?;
    }
    let new: std::collections::HashSet<u32> = plan
        .rows
        .iter()
        .filter(|r| matches!(r.action, crate::plan::Action::New))
        .map(|r| r.row)
        .collect();
    let primary: HashMap<u32, u64> = routed.make_primary.iter().copied().collect();
    for batch in &mut out.batches {
        for (key, row) in batch.keys.iter_mut().zip(&batch.rows) {
            key.expect_new = new.contains(row);
            key.make_primary = primary.get(row).copied();
        }
    }
    // A row the plan leaves out is skipped once, for the plan's reason, not again for its
    // errors (`--invalid include` may plan a row with an error).
    let left_out: HashSet<u32> = routed.skipped.iter().map(|(row, _)| *row).collect();
    for (row, reason) in routed.skipped {
        out.skip(row, reason);
    }
    let errors = report.issues.iter().filter(|i| !left_out.contains(&i.row));
    out.settle_errors(errors, report.invalid == InvalidPolicy::Include);
    // A row with an error may be planned too (`--invalid include`): named by what it sends.
    let keys: HashMap<u32, crate::import::UserKey> = plan
        .rows
        .iter()
        .filter_map(|r| {
            let key = r
                .user
                .as_deref()
                .map(crate::import::UserKey::of)
                .or_else(|| {
                    let org = r.organization.as_deref()?;
                    Some(crate::import::UserKey::of_organization(org))
                })?;
            Some((r.row, key))
        })
        .collect();
    out.name_skipped(|row| keys.get(&row).cloned());
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::mapping::auto_match;
    use crate::payload::Mode;
    use crate::sheet::{Cell, Row};

    /// `n` rows of name and email from sheet row 2; row 5 has no name, row 9 repeats row
    /// 2's email.
    pub(crate) fn table(n: u32) -> Table {
        let headers = vec!["Name".to_owned(), "Email".to_owned()];
        let rows = (0..n)
            .map(|i| Row {
                number: i + 2,
                cells: vec![
                    Cell::Text(if i == 3 {
                        String::new()
                    } else {
                        format!("U{i}")
                    }),
                    Cell::Text(format!("u{}@x.com", if i == 7 { 0 } else { i })),
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

    /// A CSV of `n` users in a temporary folder: every 50th row repeats an earlier email,
    /// every 333rd has a bad one.
    fn users_csv(n: u32) -> (tempfile::TempDir, std::path::PathBuf) {
        use std::fmt::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.csv");
        let mut text = String::from("Name,Email,External ID,Tags\n");
        for i in 0..n {
            let email = match i {
                _ if i % 333 == 7 => "not an address".to_owned(),
                _ if i % 50 == 49 => format!("U{}@X.com", i - 40),
                _ => format!("u{i}@x.com"),
            };
            writeln!(text, "User {i},{email},C{i},\"vip, t{}\"", i % 3).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn counting_the_requests_finds_what_building_them_finds() {
        let (_dir, path) = users_csv(7_321);
        let run = |build: bool| {
            let mut workbook = Workbook::open(&path).unwrap();
            let layout = workbook.layout(0, HeaderChoice::Auto).unwrap();
            let mapping = auto_match(&layout.headers);
            let options = Options::default();
            let checks = AccountChecks::default();
            let mut issues = Vec::new();
            let mut requests = 0;
            let on_event = |event| {
                match event {
                    Event::Issue(issue) => issues.push(issue.to_string()),
                    Event::Request(_) => requests += 1,
                }
                ControlFlow::Continue(())
            };
            let source = (0, HeaderChoice::Auto);
            let sink = if build { Sink::Requests } else { Sink::Count };
            let check = (&mapping, &options, &checks);
            let summary = run_with(&mut workbook, source, check, sink, on_event).unwrap();
            (summary, issues, requests)
        };
        let (built, built_issues, sent) = run(true);
        let (counted, counted_issues, none) = run(false);
        assert_eq!(counted, built);
        assert_eq!(counted_issues, built_issues);
        assert_eq!((sent, none), (built.requests, 0));
        // 146 repeated emails and 22 bad ones, each repeat also named on its first row.
        assert_eq!((built.rows, built.errors), (7_321, 146 + 22));
        assert_eq!(built_issues.len(), 146 * 2 + 22);
        assert!(built.requests > 70, "{built:?}");
    }

    /// Events of a users sheet as text: each issue, each request's rows and body.
    fn events_of(
        path: &std::path::Path,
        (sink, spill): (Sink, Option<&std::path::Path>),
    ) -> (Summary, Vec<String>) {
        let mut workbook = Workbook::open(path).unwrap();
        let layout = workbook.layout(0, HeaderChoice::Auto).unwrap();
        let mapping = auto_match(&layout.headers);
        let options = Options::default();
        let checks = AccountChecks::default();
        let mut events = Vec::new();
        let on_event = |event| {
            events.push(match event {
                Event::Issue(issue) => issue.to_string(),
                Event::Request(r) => format!("{:?} {}", r.rows, serde_json::json!(r.body)),
            });
            ControlFlow::Continue(())
        };
        let at = (0, HeaderChoice::Auto);
        let check = (&mapping, &options, &checks);
        let summary = match spill {
            // One read, the rows set aside, whatever the sheet's size.
            Some(dir) if sink == Sink::Count => {
                count_in_one_read(&mut workbook, at, check, dir, on_event)
            }
            // The first read whatever the sheet's size.
            Some(dir) => {
                let repeats = repeated_identifiers(&mut workbook, at, &mapping, &options, dir);
                let sink = (sink, Some(repeats.unwrap()));
                run_users(&mut workbook, at, check, sink, on_event)
            }
            None => run_with(&mut workbook, at, check, sink, on_event),
        };
        (summary.unwrap(), events)
    }

    /// 5,000 users, some repeating an earlier row's email or external id (in other case),
    /// some with a bad address.
    fn repeating_users_csv(dir: &std::path::Path) -> std::path::PathBuf {
        use std::fmt::Write as _;
        let path = dir.join("users.csv");
        let mut text = String::from("Name,Email,External ID\n");
        for i in 0..5_000 {
            let (email, external) = match i {
                // A bad address: the row is an error and claims nothing.
                _ if i % 333 == 7 => ("not an address".to_owned(), format!("C{i}")),
                // An earlier row's email, in other case.
                _ if i % 50 == 49 => (format!("U{}@X.com", i - 40), format!("C{i}")),
                // The row before's external id (another case): skipped, so the email it
                // carries is free for the next row, which has it.
                _ if i % 97 == 11 => (format!("free{i}@x.com"), format!("c{}", i - 1)),
                _ if i % 97 == 12 => (format!("free{}@x.com", i - 1), format!("C{i}")),
                _ => (format!("u{i}@x.com"), format!("C{i}")),
            };
            let name = if i < 3 { "Zoë" } else { "User" };
            writeln!(text, "{name} {i},{email},{external}").unwrap();
        }
        // A byte that is not UTF-8 in a ready row's name: a warning from the decoding.
        let mut bytes = text.into_bytes();
        let at = bytes.windows(9).position(|w| w == b"User 100,").unwrap();
        bytes[at + 4] = 0xff;
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn remembering_only_repeated_identifiers_finds_what_remembering_all_finds() {
        let dir = tempfile::tempdir().unwrap();
        let path = repeating_users_csv(dir.path());
        let spill = tempfile::tempdir().unwrap();
        let (all, all_events) = events_of(&path, (Sink::Requests, None));
        let (only, only_events) = events_of(&path, (Sink::Requests, Some(spill.path())));
        assert_eq!(only, all);
        assert_eq!(only_events, all_events);
        // Counting only (`validate`): the same issues and counts, both ways.
        let issues: Vec<&String> = all_events.iter().filter(|e| e.starts_with("row")).collect();
        for spill in [None, Some(spill.path())] {
            let (counted, events) = events_of(&path, (Sink::Count, spill));
            assert_eq!(counted, all);
            assert_eq!(events.iter().collect::<Vec<_>>(), issues);
        }
        // 100 rows repeating an email (but 3 whose earlier row holds a free address instead),
        // 15 bad addresses, 51 repeated external ids; the row after each of those is sent
        // with the email the skipped row held.
        assert_eq!((all.rows, all.errors), (5_000, 100 - 3 + 15 + 51));
        let note = all_events.iter().find(|e| e.starts_with("row 102"));
        assert!(
            note.is_some_and(|n| n.contains("not valid UTF-8")),
            "{note:?}"
        );
        let row = 12 + 2;
        let about = |row: u32| -> Vec<&String> {
            let at = format!("row {row},");
            all_events.iter().filter(|e| e.starts_with(&at)).collect()
        };
        assert_eq!(about(row), Vec::<&String>::new());
        assert!(all_events.iter().any(|e| e.contains("free11@x.com")));
        // Nothing left behind in the spill's directory.
        assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    }

    /// A workbook's rows (chunks of a small table, not records) counted in one read report
    /// what the same rows as CSV do.
    #[test]
    fn a_workbook_counted_in_one_read_reports_what_its_csv_does() {
        let dir = tempfile::tempdir().unwrap();
        let csv = repeating_users_csv(dir.path());
        let text = String::from_utf8_lossy(&std::fs::read(&csv).unwrap()).into_owned();
        let xlsx = dir.path().join("users.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet().set_name("users").unwrap();
        for (r, line) in text.lines().enumerate() {
            for (c, field) in line.split(',').enumerate() {
                if !field.is_empty() {
                    sheet.write(r as u32, c as u16, field).unwrap();
                }
            }
        }
        book.save(&xlsx).unwrap();
        let spill = tempfile::tempdir().unwrap();
        let (from_csv, csv_events) = events_of(&csv, (Sink::Count, None));
        let (counted, events) = events_of(&xlsx, (Sink::Count, Some(spill.path())));
        // The decoding's note is the CSV file's own.
        let csv_events: Vec<&String> = csv_events.iter().filter(|e| !e.contains("UTF-8")).collect();
        assert_eq!(events.iter().collect::<Vec<_>>(), csv_events);
        assert_eq!(
            (
                counted.rows,
                counted.ready,
                counted.warnings,
                counted.errors
            ),
            (
                from_csv.rows,
                from_csv.ready + 1,
                from_csv.warnings - 1,
                from_csv.errors
            )
        );
        assert_eq!(counted.requests, from_csv.requests);
        assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    }

    /// The TUI's check of a table in memory: finding the repeated identifiers first finds the
    /// same duplicates, issues and batches, with or without the users kept.
    #[test]
    fn a_table_checked_with_its_repeats_found_first_reports_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = repeating_users_csv(dir.path());
        let table = Workbook::open(&path)
            .unwrap()
            .load_table(0, HeaderChoice::Auto)
            .unwrap();
        let mapping = auto_match(&table.layout.headers);
        let options = Options::default();
        let checks = AccountChecks::default();
        let check = (&mapping, &options, &checks);
        let report = |find_repeats, keep: Option<&mut Vec<(u32, User)>>| {
            let mut push = keep.map(|users| move |row, user| users.push((row, user)));
            let keep = push.as_mut().map(|p| p as KeepUser<'_>);
            check_rows_finding(&table, check, &|| false, keep, find_repeats).unwrap()
        };
        let all = report(false, None);
        assert_eq!(all.errors, 100 - 3 + 15 + 51, "the duplicates are there");
        let found_first = report(true, None);
        assert_eq!(found_first.issues, all.issues);
        assert_eq!(found_first.batches, all.batches);
        assert_eq!(
            (found_first.ready, found_first.warnings, found_first.errors),
            (all.ready, all.warnings, all.errors)
        );
        let (mut kept_all, mut kept_first) = (Vec::new(), Vec::new());
        let with_users = report(false, Some(&mut kept_all));
        let with_users_first = report(true, Some(&mut kept_first));
        assert_eq!(with_users_first.issues, with_users.issues);
        assert_eq!(kept_first, kept_all);
        assert_eq!(kept_all.len() as u64, all.ready + all.warnings);
        // Cancelled while the repeats are found: no report.
        assert!(check_rows_finding(&table, check, &|| true, None, true).is_none());
    }

    #[test]
    fn a_long_file_changed_between_its_two_reads_is_refused() {
        use std::fmt::Write as _;
        // Over 8 MiB in few rows: a wide column no target takes.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.csv");
        let padding = "x".repeat(4_500);
        let mut text = String::from("Name,Email,Padding\n");
        for i in 0..2_000 {
            let email = if i == 1_500 { 3 } else { i };
            writeln!(text, "User {i},u{email}@x.com,{padding}").unwrap();
        }
        std::fs::write(&path, &text).unwrap();
        let run = |change: bool| {
            let mut workbook = Workbook::open(&path).unwrap();
            let layout = workbook.layout(0, HeaderChoice::Auto).unwrap();
            let mapping = auto_match(&layout.headers);
            let (options, checks) = (Options::default(), AccountChecks::default());
            let check = (&mapping, &options, &checks);
            let mut issues = Vec::new();
            let on_event = |event| {
                if let Event::Issue(issue) = event {
                    issues.push(issue.to_string());
                }
                if change {
                    let mut more = std::fs::OpenOptions::new()
                        .append(true)
                        .open(&path)
                        .unwrap();
                    std::io::Write::write_all(&mut more, b"Late,u3@x.com,\n").unwrap();
                }
                ControlFlow::Continue(())
            };
            let to = (Sink::Requests, dir.path());
            let summary = run_spilled(&mut workbook, (0, HeaderChoice::Auto), check, to, on_event);
            (summary, issues)
        };
        let (summary, issues) = run(false);
        assert_eq!(summary.unwrap().errors, 1);
        // Found with the first read: row 1,502 repeats row 5's email.
        assert!(issues[0].starts_with("row 1502, Email"), "{issues:?}");
        let (changed, _) = run(true);
        let error = changed.unwrap_err().to_string();
        assert!(
            error
                .contains("users.csv: not a readable workbook: the file changed while it was read"),
            "{error}"
        );
    }

    #[test]
    fn report_counts_add_up_and_batches_skip_error_rows() {
        let t = table(250);
        let mapping = auto_match(&t.layout.headers);
        let options = Options {
            mode: Mode::Create,
            ..Options::default()
        };
        let report = check_table(&t, &mapping, &options, &|| false).unwrap();
        assert_eq!((report.ready, report.warnings, report.errors), (247, 1, 2));
        assert_eq!(report.rows(), 250);
        // Laid out for 30 jobs at once: one round, evened out (none under 25 users).
        let sizes: Vec<usize> = report.batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![28, 28, 28, 28, 28, 27, 27, 27, 27]);
        // Row 5 (no name) and row 9 (email of row 2 again) are not sent.
        assert_eq!(report.batch_of(5), None);
        assert_eq!(report.batch_of(9), None);
        assert_eq!(report.batch_of(2), Some(0));
        assert_eq!(report.batch_of(251), Some(8));
        assert_eq!(report.batch_of(900), None);
        assert!(report.issues.iter().map(|i| i.row).is_sorted());

        let first = request_for(&t, &mapping, &options, &report.batches[0]);
        assert_eq!(first.rows, report.batches[0]);
        assert_eq!(first.body.users.len(), 28);
        let request = request_for(&t, &mapping, &options, &report.batches[8]);
        assert_eq!(request.rows, report.batches[8]);
        assert_eq!(request.body.users[26].email.as_deref(), Some("u249@x.com"));

        let plan = outbox(&t, &mapping, &options, &report).unwrap();
        assert_eq!(
            (plan.sent_rows(), plan.skipped.len(), plan.rows()),
            (248, 2, 250)
        );
        assert_eq!(plan.skipped[0].0, 5);
        assert!(
            plan.skipped[0].1.starts_with("Name: name is empty"),
            "{}",
            plan.skipped[0].1
        );
        // Skipped rows keep whom they name, as the sheet has it.
        let named = &plan.skipped_keys[&0];
        assert_eq!(
            (named.name.as_deref(), named.email.as_deref()),
            (None, Some("u3@x.com"))
        );
        assert_eq!(plan.skipped_keys[&1].email.as_deref(), Some("u0@x.com"));
    }

    #[test]
    fn include_sends_the_rows_zendesk_can_judge_and_marks_them_in_the_plan() {
        let t = table(250);
        let mapping = auto_match(&t.layout.headers);
        let options = Options {
            mode: Mode::Create,
            invalid: InvalidPolicy::Include,
            ..Options::default()
        };
        let report = check_table(&t, &mapping, &options, &|| false).unwrap();
        // Row 5 has no name (Zendesk refuses it itself): sent. Row 9 repeats row 2's email:
        // sending it would be a second user, so it stays out.
        assert_eq!((report.errors, report.sent()), (2, 249));
        assert_eq!(report.batch_of(5), Some(0));
        assert_eq!(report.batch_of(9), None);
        let left = report.left_out();
        assert_eq!(
            (
                left.by(InvalidPolicy::Skip),
                left.by(InvalidPolicy::Block),
                left.by(InvalidPolicy::Include)
            ),
            (2, 250, 1)
        );
        let plan = outbox(&t, &mapping, &options, &report).unwrap();
        assert_eq!((plan.sent_rows(), plan.skipped.len()), (249, 1));
        assert_eq!(plan.sent_despite(), 1);
        let key = &plan.batches[0].keys[3];
        assert_eq!(plan.batches[0].rows[3], 5);
        assert!(
            key.sent_despite
                .as_deref()
                .is_some_and(|why| why.contains("name is empty")),
            "{key:?}"
        );
        assert_eq!(plan.skipped[0].0, 9);

        let skip = Options {
            invalid: InvalidPolicy::Skip,
            ..options
        };
        let report = check_table(&t, &mapping, &skip, &|| false).unwrap();
        let plan = outbox(&t, &mapping, &skip, &report).unwrap();
        assert_eq!((plan.sent_rows(), plan.sent_despite()), (248, 0));
    }

    #[test]
    fn check_can_be_cancelled() {
        let t = table(10);
        let mapping = auto_match(&t.layout.headers);
        assert_eq!(
            check_table(&t, &mapping, &Options::default(), &|| true),
            None
        );
    }
}

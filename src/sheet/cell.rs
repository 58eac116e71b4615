//! Calamine values to our `Cell`.

use calamine::{CellErrorType, Data, DataRef, ExcelDateTime};
use chrono::{NaiveDate, NaiveDateTime};

use super::Cell;
use super::table::CellRef;

impl From<&Data> for Cell {
    fn from(data: &Data) -> Self {
        match data {
            Data::Empty => Cell::Empty,
            Data::String(s) => Cell::text(s),
            Data::Int(i) => Cell::Int(*i),
            Data::Float(f) => Cell::Float(*f),
            Data::Bool(b) => Cell::Bool(*b),
            Data::DateTime(dt) => from_excel_datetime(*dt).to_cell(),
            Data::DateTimeIso(s) => from_iso_datetime(s).to_cell(),
            Data::DurationIso(s) => from_iso_duration(s).to_cell(),
            Data::Error(e) => Cell::Error(error_text(e).to_owned()),
        }
    }
}

impl From<&DataRef<'_>> for Cell {
    /// Copies the text once, straight from the reader's buffer or shared string.
    fn from(data: &DataRef<'_>) -> Self {
        cell_ref(data).to_cell()
    }
}

/// The cell a calamine value makes ([`Cell::from`]), its text borrowed from the value: a
/// streamed worksheet's cell goes into a table with its text copied once. Text and numbers
/// are made where this is called (it runs once a cell on the reading thread); dates and
/// errors out of line, by [`converted_ref`].
#[inline]
pub(super) fn cell_ref<'d>(data: &'d DataRef<'_>) -> CellRef<'d> {
    match data {
        DataRef::SharedString(s) => CellRef::text(s),
        DataRef::String(s) => CellRef::text(s),
        DataRef::Empty => CellRef::Empty,
        DataRef::Int(i) => CellRef::Int(*i),
        DataRef::Float(f) => CellRef::Float(*f),
        DataRef::Bool(b) => CellRef::Bool(*b),
        other => converted_ref(other),
    }
}

/// [`cell_ref`] of a date, a duration or an error value.
#[inline(never)]
fn converted_ref<'d>(data: &'d DataRef<'_>) -> CellRef<'d> {
    match data {
        DataRef::DateTime(dt) => from_excel_datetime(*dt),
        DataRef::DateTimeIso(s) => from_iso_datetime(s),
        DataRef::DurationIso(s) => from_iso_duration(s),
        DataRef::Error(e) => CellRef::Error(error_text(e)),
        simple => cell_ref(simple),
    }
}

/// An error value as Excel spells it (calamine's `Display` of it, without formatting).
fn error_text(error: &CellErrorType) -> &'static str {
    match error {
        CellErrorType::Div0 => "#DIV/0!",
        CellErrorType::NA => "#N/A",
        CellErrorType::Name => "#NAME?",
        CellErrorType::Null => "#NULL!",
        CellErrorType::Num => "#NUM!",
        CellErrorType::Ref => "#REF!",
        CellErrorType::Value => "#VALUE!",
        CellErrorType::GettingData => "#DATA!",
    }
}

impl Cell {
    /// A text cell; empty text is an empty cell.
    pub(crate) fn text(s: &str) -> Cell {
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s.to_owned())
        }
    }

    /// Makes this cell the value of `data`, its text in the room this cell's own text has
    /// (see [`Cell::set_text`]).
    pub(crate) fn set_data(&mut self, data: &DataRef<'_>) {
        match data {
            DataRef::String(s) => self.set_text(s),
            DataRef::SharedString(s) => self.set_text(s),
            other => *self = Cell::from(other),
        }
    }

    /// Makes this cell [`Cell::text`] of `s`, in the room its own text has when it has some:
    /// a reader filling the same row buffer row after row allocates only when a cell grows.
    pub(crate) fn set_text(&mut self, s: &str) {
        match self {
            Cell::Text(text) if !s.is_empty() => {
                text.clear();
                text.push_str(s);
            }
            other => *other = Cell::text(s),
        }
    }
}

/// An Excel serial date: a time of day (serial below 1) is kept as a duration since midnight.
fn from_excel_datetime(dt: ExcelDateTime) -> CellRef<'static> {
    let serial = dt.as_f64();
    if dt.is_duration() || (0.0..1.0).contains(&serial) {
        return CellRef::Duration(serial);
    }
    dt.as_datetime()
        .map_or(CellRef::Float(serial), CellRef::DateTime)
}

/// ODS dates arrive as ISO text (`2014-11-11` or `2014-11-11T10:00:00`).
fn from_iso_datetime(s: &str) -> CellRef<'_> {
    if let Ok(dt) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return CellRef::DateTime(dt);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return CellRef::DateTime(d.and_time(chrono::NaiveTime::MIN));
    }
    if let Some(days) = parse_time_of_day(s) {
        return CellRef::Duration(days);
    }
    CellRef::text(s)
}

fn parse_time_of_day(s: &str) -> Option<f64> {
    let t = chrono::NaiveTime::parse_from_str(s, "%H:%M:%S%.f").ok()?;
    Some(f64::from(chrono::Timelike::num_seconds_from_midnight(&t)) / 86_400.0)
}

/// ODS durations arrive as ISO 8601 (`PT27H17M54S`); anything else stays text.
fn from_iso_duration(s: &str) -> CellRef<'_> {
    parse_iso_duration_secs(s).map_or_else(
        || CellRef::text(s),
        |secs| CellRef::Duration(secs / 86_400.0),
    )
}

fn parse_iso_duration_secs(s: &str) -> Option<f64> {
    let (negative, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let rest = rest.strip_prefix('P')?;
    let mut secs = 0.0;
    let mut number = String::new();
    let mut in_time = false;
    for c in rest.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' | '.' | ',' => number.push(if c == ',' { '.' } else { c }),
            unit => {
                let n: f64 = number.parse().ok()?;
                number.clear();
                secs += n * match (unit, in_time) {
                    ('D', false) => 86_400.0,
                    ('W', false) => 604_800.0,
                    ('H', true) => 3_600.0,
                    ('M', true) => 60.0,
                    ('S', true) => 1.0,
                    _ => return None,
                };
            }
        }
    }
    number
        .is_empty()
        .then_some(if negative { -secs } else { secs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType;
    use rstest::rstest;

    #[rstest]
    #[case(Data::Float(12345.0), Cell::Float(12345.0))]
    #[case(Data::String(String::new()), Cell::Empty)]
    #[case(Data::String("007".into()), Cell::Text("007".into()))]
    #[case(Data::Error(calamine::CellErrorType::NA), Cell::Error("#N/A".into()))]
    #[case(Data::DurationIso("PT27H17M54S".into()), Cell::Duration(98_274.0 / 86_400.0))]
    #[case(Data::DurationIso("soon".into()), Cell::Text("soon".into()))]
    fn converts_calamine_values(#[case] data: Data, #[case] expected: Cell) {
        assert_eq!(Cell::from(&data), expected);
    }

    #[rstest]
    #[case(44197.0, false, "2021-01-01 00:00:00")]
    #[case(1.0, true, "1904-01-02 00:00:00")]
    #[case(11111.0, true, "1934-06-03 00:00:00")]
    fn applies_the_date_system(#[case] serial: f64, #[case] is_1904: bool, #[case] want: &str) {
        let dt = ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, is_1904);
        let CellRef::DateTime(got) = from_excel_datetime(dt) else {
            panic!("not a date");
        };
        assert_eq!(got.to_string(), want);
    }

    #[test]
    fn time_of_day_is_a_duration() {
        let dt = ExcelDateTime::new(0.5, ExcelDateTimeType::DateTime, false);
        assert_eq!(from_excel_datetime(dt), CellRef::Duration(0.5));
    }

    #[test]
    fn iso_dates_from_ods() {
        assert_eq!(
            from_iso_datetime("2014-11-11"),
            CellRef::DateTime(
                NaiveDate::from_ymd_opt(2014, 11, 11)
                    .unwrap()
                    .and_time(chrono::NaiveTime::MIN)
            )
        );
        assert_eq!(
            from_iso_datetime("11:12:12"),
            CellRef::Duration(40_332.0 / 86_400.0)
        );
    }

    #[test]
    fn error_values_read_as_calamine_spells_them() {
        use CellErrorType::*;
        for error in [Div0, NA, Name, Null, Num, Ref, Value, GettingData] {
            assert_eq!(error_text(&error), error.to_string());
            let data = DataRef::Error(error.clone());
            assert_eq!(
                cell_ref(&data).to_cell(),
                Cell::Error(error_text(&error).into())
            );
        }
    }

    #[test]
    fn a_borrowed_cell_is_the_owned_cell() {
        let date = ExcelDateTime::new(44197.5, ExcelDateTimeType::DateTime, false);
        let values = [
            DataRef::Empty,
            DataRef::String(String::new()),
            DataRef::String(" a ".into()),
            DataRef::SharedString(""),
            DataRef::SharedString("凯"),
            DataRef::Int(-3),
            DataRef::Float(0.25),
            DataRef::Bool(true),
            DataRef::DateTime(date),
            DataRef::DateTimeIso("2014-11-11T10:00:00".into()),
            DataRef::DateTimeIso("later".into()),
            DataRef::DurationIso("PT1H".into()),
            DataRef::DurationIso("".into()),
            DataRef::Error(CellErrorType::Ref),
        ];
        for data in &values {
            let owned = Cell::from(data);
            assert_eq!(cell_ref(data), owned.as_ref(), "{data:?}");
            let mut set = Cell::Text("room".into());
            set.set_data(data);
            assert_eq!(set, owned, "{data:?}");
        }
    }
}

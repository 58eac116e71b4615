//! Calamine values to our `Cell`.

use calamine::{Data, DataRef, ExcelDateTime};
use chrono::{NaiveDate, NaiveDateTime};

use super::Cell;

impl From<&Data> for Cell {
    fn from(data: &Data) -> Self {
        match data {
            Data::Empty => Cell::Empty,
            Data::String(s) => Cell::text(s),
            Data::Int(i) => Cell::Int(*i),
            Data::Float(f) => Cell::Float(*f),
            Data::Bool(b) => Cell::Bool(*b),
            Data::DateTime(dt) => from_excel_datetime(*dt),
            Data::DateTimeIso(s) => from_iso_datetime(s),
            Data::DurationIso(s) => from_iso_duration(s),
            Data::Error(e) => Cell::Error(e.to_string()),
        }
    }
}

impl From<&DataRef<'_>> for Cell {
    /// Copies the text once, straight from the reader's buffer or shared string.
    fn from(data: &DataRef<'_>) -> Self {
        match data {
            DataRef::Empty => Cell::Empty,
            DataRef::String(s) => Cell::text(s),
            DataRef::SharedString(s) => Cell::text(s),
            DataRef::Int(i) => Cell::Int(*i),
            DataRef::Float(f) => Cell::Float(*f),
            DataRef::Bool(b) => Cell::Bool(*b),
            DataRef::DateTime(dt) => from_excel_datetime(*dt),
            DataRef::DateTimeIso(s) => from_iso_datetime(s),
            DataRef::DurationIso(s) => from_iso_duration(s),
            DataRef::Error(e) => Cell::Error(e.to_string()),
        }
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
fn from_excel_datetime(dt: ExcelDateTime) -> Cell {
    let serial = dt.as_f64();
    if dt.is_duration() || (0.0..1.0).contains(&serial) {
        return Cell::Duration(serial);
    }
    dt.as_datetime().map_or(Cell::Float(serial), Cell::DateTime)
}

/// ODS dates arrive as ISO text (`2014-11-11` or `2014-11-11T10:00:00`).
fn from_iso_datetime(s: &str) -> Cell {
    if let Ok(dt) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Cell::DateTime(dt);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Cell::DateTime(d.and_time(chrono::NaiveTime::MIN));
    }
    if let Some(days) = parse_time_of_day(s) {
        return Cell::Duration(days);
    }
    Cell::text(s)
}

fn parse_time_of_day(s: &str) -> Option<f64> {
    let t = chrono::NaiveTime::parse_from_str(s, "%H:%M:%S%.f").ok()?;
    Some(f64::from(chrono::Timelike::num_seconds_from_midnight(&t)) / 86_400.0)
}

/// ODS durations arrive as ISO 8601 (`PT27H17M54S`); anything else stays text.
fn from_iso_duration(s: &str) -> Cell {
    parse_iso_duration_secs(s).map_or_else(|| Cell::text(s), |secs| Cell::Duration(secs / 86_400.0))
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
        let Cell::DateTime(got) = from_excel_datetime(dt) else {
            panic!("not a date");
        };
        assert_eq!(got.to_string(), want);
    }

    #[test]
    fn time_of_day_is_a_duration() {
        let dt = ExcelDateTime::new(0.5, ExcelDateTimeType::DateTime, false);
        assert_eq!(from_excel_datetime(dt), Cell::Duration(0.5));
    }

    #[test]
    fn iso_dates_from_ods() {
        assert_eq!(
            from_iso_datetime("2014-11-11"),
            Cell::DateTime(
                NaiveDate::from_ymd_opt(2014, 11, 11)
                    .unwrap()
                    .and_time(chrono::NaiveTime::MIN)
            )
        );
        assert_eq!(
            from_iso_datetime("11:12:12"),
            Cell::Duration(40_332.0 / 86_400.0)
        );
    }
}

//! Per-column transforms: a cell as calamine typed it in, the value Zendesk takes out.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::Target;
use crate::sheet::Cell;

/// How one column's cells are cleaned; every field is optional and has a default per target.
///
/// In a profile these are the optional fields beside `source` and `target`, e.g.
/// `{"source": "Plan", "target": "user_fields.plan", "map": {"Gold": "gold"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transform {
    /// Trim surrounding whitespace (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim: Option<bool>,
    /// Lowercase the text (default on for emails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lowercase: Option<bool>,
    /// Read text as a date in this order and send `YYYY-MM-DD` (date cells always are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateOrder>,
    /// Split into a list on `,` `;` and spaces (default on for tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<bool>,
    /// Replace whole values, matched ignoring case, e.g. `"Gold" -> "gold"`.
    #[serde(default, rename = "map", skip_serializing_if = "BTreeMap::is_empty")]
    pub value_map: BTreeMap<String, String>,
    /// The value for an empty cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Zero-pad whole numbers to this many digits: a ZIP code column formatted `00000` in
    /// Excel holds `6083` for `06083` (the format is not in the cell's value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad: Option<u8>,
}

/// The order of day, month and year in text dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateOrder {
    /// `2025-03-04` only (and date cells).
    Iso,
    /// `04/03/2025`, `4.3.25`.
    Dmy,
    /// `03/04/2025`, `3-4-25`.
    Mdy,
}

/// A cleaned value, ready for the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    List(Vec<String>),
    Bool(bool),
}

impl Value {
    /// The value as one line of text, without a copy when it is text.
    pub fn into_text(self) -> String {
        match self {
            Value::Text(t) => t,
            other => other.as_text(),
        }
    }

    /// The value as one line of text (lists joined with `, `).
    pub fn as_text(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::List(items) => items.join(", "),
            Value::Bool(b) => b.to_string(),
        }
    }
}

impl Transform {
    /// Whether every field has its default.
    pub fn is_default(&self) -> bool {
        *self == Transform::default()
    }

    /// Cleans one cell for `target`; `Ok(None)` for an empty cell with no default.
    ///
    /// The error is the reason the cell cannot be sent, for the row's problem list.
    pub fn apply(&self, target: &Target, cell: &Cell) -> Result<Option<Value>, String> {
        self.apply_owned(target, cell.clone())
            .map_err(|(message, _)| message)
    }

    /// [`Transform::apply`] taking the cell, so its text moves instead of being copied; an
    /// error gives the cell back for the problem report.
    pub fn apply_owned(
        &self,
        target: &Target,
        cell: Cell,
    ) -> Result<Option<Value>, (String, Cell)> {
        if let Cell::Error(e) = &cell {
            return Err((format!("the cell holds the spreadsheet error {e}"), cell));
        }
        if let (
            Cell::Bool(b),
            Target::Verified
            | Target::UserField(_)
            | Target::SharedTickets
            | Target::SharedComments
            | Target::OrganizationField(_),
        ) = (&cell, target)
        {
            return Ok(Some(Value::Bool(*b)));
        }
        let text = match (self.date, cell) {
            (_, cell) if cell.is_blank() => match &self.default {
                Some(default) => default.clone(),
                None => return Ok(None),
            },
            (Some(order), cell) => match date_text(&cell, order) {
                Ok(text) => text,
                Err(message) => return Err((message, cell)),
            },
            (None, Cell::Text(t)) => t,
            (None, cell) => cell.display(),
        };
        let text = if self.trim.unwrap_or(true) {
            trim(text)
        } else {
            text
        };
        if text.is_empty() {
            return Ok(None);
        }
        let text = self.padded(text);
        let text = self.mapped(text);
        let lower = self.lowercase.unwrap_or(matches!(
            target,
            Target::Email | Target::IdentityEmail | Target::DomainNames
        ));
        let text = if lower { lowercase(text) } else { text };
        if *target == Target::Organizations && self.split != Some(false) {
            return Ok(Some(Value::List(split_names(&text))));
        }
        if self
            .split
            .unwrap_or(matches!(target, Target::Tags | Target::DomainNames))
        {
            return Ok(Some(Value::List(split(text))));
        }
        Ok(Some(Value::Text(text)))
    }

    /// Whether a text cell comes out as its trimmed text, as typed (case aside): no date,
    /// default, padding, value map or list.
    pub(crate) fn keeps_text(&self) -> bool {
        self.date.is_none()
            && self.default.is_none()
            && self.pad.is_none()
            && self.value_map.is_empty()
            && self.split != Some(true)
    }

    fn padded(&self, text: String) -> String {
        match self.pad {
            Some(width) if text.bytes().all(|b| b.is_ascii_digit()) => {
                format!("{text:0>width$}", width = usize::from(width))
            }
            _ => text,
        }
    }

    fn mapped(&self, text: String) -> String {
        if self.value_map.is_empty() {
            return text;
        }
        self.value_map
            .iter()
            .find(|(from, _)| from.trim().eq_ignore_ascii_case(&text) || from.trim() == text)
            .map_or(text, |(_, to)| to.clone())
    }
}

/// Lowercased, in place when the text is ASCII (the usual email), else as `to_lowercase`.
fn lowercase(mut text: String) -> String {
    if text.is_ascii() {
        text.make_ascii_lowercase();
        text
    } else if text.chars().any(char::is_uppercase) {
        text.to_lowercase()
    } else {
        text
    }
}

/// Trims whitespace, including the no-break spaces spreadsheets are full of.
fn trim(text: String) -> String {
    let trimmed = trim_str(&text);
    if trimmed.len() == text.len() {
        text
    } else {
        trimmed.to_owned()
    }
}

/// [`trim`] of borrowed text: what a cleaned cell starts from.
pub(crate) fn trim_str(text: &str) -> &str {
    // The usual cell starts and ends with an ASCII byte that is not whitespace: nothing to
    // look at further (`\t` to `\r` and the space are the ASCII whitespace `trim` removes).
    let kept = |b: &u8| b.is_ascii() && !matches!(b, b'\t'..=b'\r' | b' ');
    let bytes = text.as_bytes();
    if bytes.first().is_some_and(kept) && bytes.last().is_some_and(kept) {
        return text;
    }
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// Splits a list cell on `,` `;` and whitespace; empty items and repeats dropped. A cell of one
/// item (the usual case) keeps its text.
fn split(text: String) -> Vec<String> {
    let separator = |c: char| c == ',' || c == ';' || c.is_whitespace();
    if !text.is_empty() && !text.contains(separator) {
        return vec![text];
    }
    let mut items: Vec<String> = Vec::new();
    for item in text.split(separator) {
        if !item.is_empty() && !items.iter().any(|i| i == item) {
            items.push(item.to_owned());
        }
    }
    items
}

/// Splits a cell of organization names on `,` `;` and line breaks (a name holds spaces):
/// each trimmed, empty ones dropped.
fn split_names(text: &str) -> Vec<String> {
    text.split([',', ';', '\n', '\r'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A date cell, a serial number or a text date as `YYYY-MM-DD`.
fn date_text(cell: &Cell, order: DateOrder) -> Result<String, String> {
    let date = match cell {
        Cell::DateTime(dt) => Some(dt.date()),
        Cell::Int(_) | Cell::Float(_) => excel_serial(cell),
        Cell::Text(t) => parse_date(t.trim(), order),
        _ => None,
    };
    date.map(|d| d.format("%Y-%m-%d").to_string())
        .ok_or_else(|| {
            let expected = match order {
                DateOrder::Iso => "YYYY-MM-DD",
                DateOrder::Dmy => "DD/MM/YYYY",
                DateOrder::Mdy => "MM/DD/YYYY",
            };
            format!("'{}' is not a date (expected {expected})", cell.display())
        })
}

/// A number in a date column: an Excel serial date that lost its format (1900 system).
fn excel_serial(cell: &Cell) -> Option<NaiveDate> {
    let serial = match cell {
        Cell::Int(i) => *i,
        Cell::Float(f) if f.fract() == 0.0 && f.abs() < 1e7 => {
            #[expect(
                clippy::cast_possible_truncation,
                reason = "checked to be a small integer"
            )]
            let whole = *f as i64;
            whole
        }
        _ => return None,
    };
    // Serials 1..=2958465 are 1900-01-01..9999-12-31; Excel counts from 1899-12-30 because
    // of its 1900 leap-year bug, which only shifts dates before March 1900.
    if !(1..=2_958_465).contains(&serial) {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?
        .checked_add_days(chrono::Days::new(serial.unsigned_abs()))
}

/// ISO dates always; otherwise three numbers in the given order, with a 2- or 4-digit year.
fn parse_date(text: &str, order: DateOrder) -> Option<NaiveDate> {
    let date_part = text.split([' ', 'T']).next().unwrap_or(text);
    if let Ok(d) = NaiveDate::parse_from_str(date_part, "%Y-%m-%d") {
        return Some(d);
    }
    let parts: Vec<&str> = date_part.split(['/', '.', '-']).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let num = |s: &str| s.parse::<u32>().ok();
    let (day, month, year) = match order {
        DateOrder::Iso => return None,
        DateOrder::Dmy => (num(a)?, num(b)?, *c),
        DateOrder::Mdy => (num(b)?, num(a)?, *c),
    };
    let year: i32 = match year.len() {
        4 => year.parse().ok()?,
        2 => {
            let y: i32 = year.parse().ok()?;
            // Two-digit years as spreadsheets read them: 00-29 is 20xx, 30-99 is 19xx.
            if y < 30 { 2000 + y } else { 1900 + y }
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    (date.year() > 0).then_some(date)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;
    use rstest::rstest;

    use super::*;

    #[test]
    fn trim_and_lowercase_agree_with_the_standard_library() {
        let edges = [
            "",
            "a",
            " a",
            "a ",
            "\u{b}a\u{b}",
            "\u{c}a\r\n",
            "\u{a0}a",
            "a\u{feff}",
            "\u{3000}凯",
            "\u{1c}a\u{1f}",
            "É",
            "ÀB",
            "Straße",
            "İ",
            "ǅ",
            "MiXeD@Example.COM",
        ];
        for text in edges {
            let want = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
            assert_eq!(trim(text.to_owned()), want, "{text:?}");
            // Text with no uppercase letter is kept as it is (a titlecase `ǅ` too).
            let lower = if text.chars().any(char::is_uppercase) {
                text.to_lowercase()
            } else {
                text.to_owned()
            };
            assert_eq!(lowercase(text.to_owned()), lower, "{text:?}");
        }
        for b in 0..=127u8 {
            let text = format!("{}x{}", char::from(b), char::from(b));
            let want = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
            assert_eq!(trim(text.clone()), want, "byte {b}");
        }
    }

    fn clean(t: &Transform, target: Target, cell: Cell) -> Result<Option<Value>, String> {
        t.apply(&target, &cell)
    }

    fn text(s: &str) -> Option<Value> {
        Some(Value::Text(s.to_owned()))
    }

    fn date(s: &str) -> Cell {
        Cell::DateTime(
            NaiveDateTime::parse_from_str(&format!("{s} 00:00:00"), "%Y-%m-%d %H:%M:%S").unwrap(),
        )
    }

    #[rstest]
    #[case::float_id(Target::ExternalId, Cell::Float(12345.0), text("12345"))]
    #[case::long_int_id(
        Target::ExternalId,
        Cell::Int(9_007_199_254_740_993),
        text("9007199254740993")
    )]
    #[case::text_id_keeps_zeros(Target::ExternalId, Cell::Text("00042".into()), text("00042"))]
    #[case::phone_float(Target::Phone, Cell::Float(4_930_123_456.0), text("4930123456"))]
    #[case::email_lowercased(Target::Email, Cell::Text("  Ana.Silva@Example.COM ".into()), text("ana.silva@example.com"))]
    #[case::name_not_lowercased(Target::Name, Cell::Text("Ana Silva\u{a0}".into()), text("Ana Silva"))]
    #[case::date_cell(Target::UserField("renewal".into()), date("2025-03-04"), text("2025-03-04"))]
    #[case::blank(Target::Name, Cell::Text(" \u{a0} ".into()), None)]
    #[case::empty(Target::Name, Cell::Empty, None)]
    #[case::bool_checkbox(Target::UserField("vip".into()), Cell::Bool(true), Some(Value::Bool(true)))]
    #[case::bool_as_text(Target::Notes, Cell::Bool(false), text("false"))]
    #[case::fraction(Target::UserField("score".into()), Cell::Float(12.5), text("12.5"))]
    #[case::tags(Target::Tags, Cell::Text("vip, newsletter;beta  vip".into()),
        Some(Value::List(vec!["vip".into(), "newsletter".into(), "beta".into()])))]
    fn default_cleaning(#[case] target: Target, #[case] cell: Cell, #[case] want: Option<Value>) {
        assert_eq!(clean(&Transform::default(), target, cell), Ok(want));
    }

    #[test]
    fn error_cells_are_never_sent_as_text() {
        let err = clean(
            &Transform::default(),
            Target::ExternalId,
            Cell::Error("#N/A".into()),
        );
        assert_eq!(
            err,
            Err("the cell holds the spreadsheet error #N/A".to_owned())
        );
    }

    #[rstest]
    #[case(DateOrder::Dmy, "04/03/2025", Ok("2025-03-04"))]
    #[case(DateOrder::Mdy, "03/04/2025", Ok("2025-03-04"))]
    #[case(DateOrder::Dmy, "4.3.25", Ok("2025-03-04"))]
    #[case(DateOrder::Mdy, "12-31-99", Ok("1999-12-31"))]
    #[case(DateOrder::Iso, "2025-03-04", Ok("2025-03-04"))]
    #[case(DateOrder::Dmy, "2025-03-04T10:00:00", Ok("2025-03-04"))]
    #[case(
        DateOrder::Iso,
        "03/04/2025",
        Err("'03/04/2025' is not a date (expected YYYY-MM-DD)")
    )]
    #[case(
        DateOrder::Dmy,
        "31/02/2025",
        Err("'31/02/2025' is not a date (expected DD/MM/YYYY)")
    )]
    #[case(
        DateOrder::Mdy,
        "soon",
        Err("'soon' is not a date (expected MM/DD/YYYY)")
    )]
    fn text_dates(#[case] order: DateOrder, #[case] input: &str, #[case] want: Result<&str, &str>) {
        let t = Transform {
            date: Some(order),
            ..Transform::default()
        };
        let got = clean(&t, Target::UserField("d".into()), Cell::Text(input.into()));
        let want = want.map(text).map_err(str::to_owned);
        assert_eq!(got, want);
    }

    #[rstest]
    #[case::serial_1900(Cell::Float(45720.0), "2025-03-04")]
    #[case::serial_int(Cell::Int(1), "1899-12-31")]
    #[case::date_cell(date("1904-01-01"), "1904-01-01")]
    fn numbers_in_date_columns_are_serials(#[case] cell: Cell, #[case] want: &str) {
        let t = Transform {
            date: Some(DateOrder::Iso),
            ..Transform::default()
        };
        assert_eq!(
            clean(&t, Target::UserField("d".into()), cell),
            Ok(text(want))
        );
    }

    #[test]
    fn value_map_default_and_switches() {
        let t = Transform {
            value_map: [("Gold".to_owned(), "gold_plan".to_owned())].into(),
            default: Some("Gold".into()),
            ..Transform::default()
        };
        let field = Target::UserField("plan".into());
        assert_eq!(
            clean(&t, field.clone(), Cell::Text(" GOLD ".into())),
            Ok(text("gold_plan"))
        );
        assert_eq!(clean(&t, field.clone(), Cell::Empty), Ok(text("gold_plan")));
        assert_eq!(
            clean(&t, field, Cell::Text("Silver".into())),
            Ok(text("Silver"))
        );

        let keep = Transform {
            trim: Some(false),
            lowercase: Some(false),
            ..Transform::default()
        };
        assert_eq!(
            clean(&keep, Target::Email, Cell::Text(" A@B.co".into())),
            Ok(text(" A@B.co"))
        );
        let split = Transform {
            split: Some(true),
            ..Transform::default()
        };
        assert_eq!(
            clean(
                &split,
                Target::UserField("m".into()),
                Cell::Text("a;b".into())
            ),
            Ok(Some(Value::List(vec!["a".into(), "b".into()])))
        );
    }

    #[test]
    fn pad_restores_leading_zeros_of_formatted_numbers() {
        let t = Transform {
            pad: Some(5),
            ..Transform::default()
        };
        let zip = Target::UserField("zip".into());
        assert_eq!(
            clean(&t, zip.clone(), Cell::Float(6083.0)),
            Ok(text("06083"))
        );
        assert_eq!(
            clean(&t, zip.clone(), Cell::Text("123456".into())),
            Ok(text("123456"))
        );
        assert_eq!(
            clean(&t, zip, Cell::Text("SW1A 1AA".into())),
            Ok(text("SW1A 1AA"))
        );
    }

    #[test]
    fn transform_fields_serialise_only_when_set() {
        assert_eq!(serde_json::to_string(&Transform::default()).unwrap(), "{}");
        let t: Transform = serde_json::from_str(r#"{"date":"dmy","map":{"Gold":"gold"}}"#).unwrap();
        assert_eq!(t.date, Some(DateOrder::Dmy));
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"date":"dmy","map":{"Gold":"gold"}}"#
        );
    }
}

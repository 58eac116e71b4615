//! The account's custom user fields, and each cleaned cell converted to what its field takes:
//! the checker's job, so every row is converted where it is checked, and the plan compares
//! what was built.
//!
//! Zendesk silently drops a dropdown label sent instead of the option's value, and refuses a
//! date that is not `YYYY-MM-DD` (`shared/zendesk/API.md`, User fields): converting here, with
//! the definitions fetched once per run, turns both into a value that is set or a row error
//! that says why, before anything is sent.

use std::collections::HashMap;
use std::fmt;

use chrono::NaiveDate;
use regex::Regex;
use serde_json::Number;

use crate::mapping::{CustomField, Mapping, MappingProblem, Target, Value};
use crate::payload::FieldValue;
use crate::sheet::header::column_letter;
use crate::zendesk::UserField;
use crate::zendesk::types::FieldOption;

/// What a custom field takes, from its `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Textarea,
    Integer,
    Decimal,
    /// `YYYY-MM-DD`.
    Date,
    Checkbox,
    /// Text matching `regexp_for_validation`.
    Regexp,
    /// One option's `value` (`tagger` is the same for ticket fields).
    Dropdown,
    /// Several options' values.
    Multiselect,
    /// A related record's id.
    Lookup,
    /// A type Zendesk adds later: sent as it is.
    Other(String),
}

impl FieldKind {
    fn parse(kind: &str) -> FieldKind {
        match kind {
            "text" => FieldKind::Text,
            "textarea" => FieldKind::Textarea,
            "integer" => FieldKind::Integer,
            "decimal" => FieldKind::Decimal,
            "date" => FieldKind::Date,
            "checkbox" => FieldKind::Checkbox,
            "regexp" => FieldKind::Regexp,
            "dropdown" | "tagger" => FieldKind::Dropdown,
            "multiselect" => FieldKind::Multiselect,
            "lookup" => FieldKind::Lookup,
            other => FieldKind::Other(other.to_owned()),
        }
    }
}

/// One custom field definition, ready to convert values.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub key: String,
    pub title: String,
    pub kind: FieldKind,
    pub active: bool,
    pub options: Vec<FieldOption>,
    /// `None` when the field has no pattern, or Zendesk's (Ruby) pattern does not compile here:
    /// then the value is not checked rather than every row refused.
    pub pattern: Option<Regex>,
}

/// A value its field cannot take: the row is not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    #[error("'{value}' is not a whole number: field {key} is an integer field")]
    NotInteger { key: String, value: String },
    #[error("'{value}' is not a number: field {key} is a decimal field")]
    NotDecimal { key: String, value: String },
    #[error("'{value}' is not a date Zendesk takes for field {key} (YYYY-MM-DD){hint}")]
    NotDate {
        key: String,
        value: String,
        hint: String,
    },
    #[error("'{value}' is not yes or no: field {key} is a checkbox")]
    NotCheckbox { key: String, value: String },
    #[error("'{value}' does not match field {key}'s pattern {pattern}")]
    NoMatch {
        key: String,
        value: String,
        pattern: String,
    },
    #[error("'{value}' is not an option of field {key}; closest: {}", closest_text(.closest))]
    UnknownOption {
        key: String,
        value: String,
        /// Up to three options as `label (value)`, closest first.
        closest: Vec<String>,
    },
    #[error("'{value}' is not a record id: field {key} is a lookup field")]
    NotLookupId { key: String, value: String },
}

fn closest_text(closest: &[String]) -> String {
    if closest.is_empty() {
        "the field has no options".to_owned()
    } else {
        closest.join(", ")
    }
}

/// The account's custom user fields by key, fetched once per run.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    by_key: HashMap<String, FieldDef>,
    /// Keys in the account's order, for messages and pickers.
    order: Vec<String>,
}

impl Fields {
    /// Definitions as `GET /api/v2/user_fields` answers them.
    pub fn new(definitions: Vec<UserField>) -> Fields {
        let mut fields = Fields::default();
        for d in definitions {
            let pattern = d
                .regexp_for_validation
                .as_deref()
                .filter(|p| !p.is_empty())
                .and_then(|p| Regex::new(p).ok());
            fields.order.push(d.key.clone());
            let def = FieldDef {
                kind: FieldKind::parse(&d.field_type),
                key: d.key.clone(),
                title: d.title,
                active: d.active,
                options: d.custom_field_options,
                pattern,
            };
            fields.by_key.insert(d.key, def);
        }
        fields
    }

    pub fn get(&self, key: &str) -> Option<&FieldDef> {
        self.by_key.get(key)
    }

    /// The active fields, for matching headers (`mapping::auto_match_with`).
    pub fn custom_fields(&self) -> Vec<CustomField> {
        self.order
            .iter()
            .filter_map(|k| self.by_key.get(k))
            .filter(|d| d.active)
            .map(|d| CustomField {
                key: d.key.clone(),
                title: d.title.clone(),
            })
            .collect()
    }

    /// Columns mapped to a key the account lacks or has switched off: a mapping problem, shown
    /// on the Map step, never a per-row error.
    pub fn problems(&self, mapping: &Mapping) -> Vec<MappingProblem> {
        let mut problems = Vec::new();
        for (column, target) in mapping.mapped() {
            let (Target::UserField(key) | Target::OrganizationField(key)) = target else {
                continue;
            };
            let at = format!("'{}' ({})", column.header, column_letter(column.index));
            match self.by_key.get(key) {
                Some(def) if def.active => {}
                Some(_) => problems.push(MappingProblem::InactiveField {
                    key: target.to_string(),
                    column: at,
                }),
                None => problems.push(MappingProblem::UnknownField {
                    key: target.to_string(),
                    column: at,
                    closest: self.closest_keys(key),
                }),
            }
        }
        problems
    }

    fn closest_keys(&self, key: &str) -> Vec<String> {
        let mut scored: Vec<(f64, &String)> = self
            .order
            .iter()
            .filter(|k| self.by_key.get(*k).is_some_and(|d| d.active))
            .map(|k| {
                (
                    strsim::jaro_winkler(&key.to_lowercase(), &k.to_lowercase()),
                    k,
                )
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().take(3).map(|(_, k)| k.clone()).collect()
    }

    /// The value to send for `key`; a key the account does not define (or has switched off)
    /// passes unchanged, because [`Fields::problems`] already reports it once.
    pub fn convert(&self, key: &str, value: Value) -> Result<FieldValue, ConversionError> {
        match self.by_key.get(key).filter(|d| d.active) {
            Some(def) => def.convert(value),
            None => Ok(plain(value)),
        }
    }
}

/// A cleaned value as it was, with no definition to follow.
pub fn plain(value: Value) -> FieldValue {
    match value {
        Value::Text(t) => FieldValue::Text(t),
        Value::Bool(b) => FieldValue::Bool(b),
        Value::List(items) => FieldValue::List(items),
    }
}

impl FieldDef {
    /// Converts one cleaned, non-empty value.
    pub fn convert(&self, value: Value) -> Result<FieldValue, ConversionError> {
        match &self.kind {
            FieldKind::Checkbox => self.checkbox(&value).map(FieldValue::Bool),
            FieldKind::Multiselect => self.multiselect(value).map(FieldValue::List),
            FieldKind::Text | FieldKind::Textarea | FieldKind::Other(_) => Ok(plain(value)),
            _ => self.convert_text(value.into_text()),
        }
    }

    fn convert_text(&self, text: String) -> Result<FieldValue, ConversionError> {
        match &self.kind {
            FieldKind::Integer => integer(&text)
                .map(|n| FieldValue::Number(n.into()))
                .ok_or_else(|| ConversionError::NotInteger {
                    key: self.key.clone(),
                    value: text,
                }),
            FieldKind::Decimal => {
                decimal(&text)
                    .map(FieldValue::Number)
                    .ok_or_else(|| ConversionError::NotDecimal {
                        key: self.key.clone(),
                        value: text,
                    })
            }
            FieldKind::Date => self.date(text).map(FieldValue::Text),
            FieldKind::Regexp => self.regexp(text).map(FieldValue::Text),
            FieldKind::Dropdown => self.option(&text).map(FieldValue::Text),
            FieldKind::Lookup => integer(&text)
                .filter(|n| *n > 0)
                .map(|n| FieldValue::Number(n.into()))
                .ok_or_else(|| ConversionError::NotLookupId {
                    key: self.key.clone(),
                    value: text,
                }),
            _ => Ok(FieldValue::Text(text)),
        }
    }

    fn checkbox(&self, value: &Value) -> Result<bool, ConversionError> {
        if let Value::Bool(b) = value {
            return Ok(*b);
        }
        let text = value.as_text();
        yes_no(&text).ok_or_else(|| ConversionError::NotCheckbox {
            key: self.key.clone(),
            value: text,
        })
    }

    fn date(&self, text: String) -> Result<String, ConversionError> {
        match read_date(&text) {
            Ok(date) => Ok(date.format("%Y-%m-%d").to_string()),
            Err(hint) => Err(ConversionError::NotDate {
                key: self.key.clone(),
                value: text,
                hint,
            }),
        }
    }

    fn regexp(&self, text: String) -> Result<String, ConversionError> {
        match &self.pattern {
            Some(pattern) if !pattern.is_match(&text) => Err(ConversionError::NoMatch {
                key: self.key.clone(),
                value: text,
                pattern: pattern.as_str().to_owned(),
            }),
            _ => Ok(text),
        }
    }

    /// A label or a value, in any case and spacing, to the option's value.
    fn option(&self, text: &str) -> Result<String, ConversionError> {
        let wanted = fold(text);
        let found = self
            .options
            .iter()
            .find(|o| fold(&o.value) == wanted)
            .or_else(|| self.options.iter().find(|o| fold(&o.name) == wanted));
        found
            .map(|o| o.value.clone())
            .ok_or_else(|| ConversionError::UnknownOption {
                key: self.key.clone(),
                value: text.to_owned(),
                closest: self.closest_options(&wanted),
            })
    }

    fn closest_options(&self, wanted: &str) -> Vec<String> {
        let mut scored: Vec<(f64, &FieldOption)> = self
            .options
            .iter()
            .map(|o| {
                let by_name = strsim::jaro_winkler(wanted, &fold(&o.name));
                let by_value = strsim::jaro_winkler(wanted, &fold(&o.value));
                (by_name.max(by_value), o)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored
            .into_iter()
            .take(3)
            .map(|(_, o)| format!("{} ({})", o.name, o.value))
            .collect()
    }

    /// Each item a label or value; a text cell is split on `,` and `;` (labels hold spaces).
    fn multiselect(&self, value: Value) -> Result<Vec<String>, ConversionError> {
        let items = match value {
            Value::List(items) => items,
            other => other
                .into_text()
                .split([',', ';'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        };
        let mut values: Vec<String> = Vec::with_capacity(items.len());
        for item in items {
            let value = self.option(&item)?;
            if !values.contains(&value) {
                values.push(value);
            }
        }
        Ok(values)
    }
}

/// Lower case with runs of spaces, `_` and `-` as one space, for comparing options.
fn fold(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Yes or no as spreadsheets write it, in English and the common European languages.
pub fn yes_no(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "yes" | "y" | "true" | "t" | "1" | "x" | "✓" | "✔" | "on" | "checked" | "ja" | "j"
        | "wahr" | "oui" | "vrai" | "sí" | "si" | "s" | "sim" | "verdadero" | "verdadeiro"
        | "vero" | "waar" => Some(true),
        "no" | "n" | "false" | "f" | "0" | "off" | "unchecked" | "nein" | "falsch" | "non"
        | "faux" | "não" | "nao" | "falso" | "nee" | "onwaar" | "-" => Some(false),
        _ => None,
    }
}

/// A whole number: `12`, `+12`, `12.0`, `1,234` (thousands separators as spreadsheets show).
fn integer(text: &str) -> Option<i64> {
    let cleaned: String = text.trim().chars().filter(|c| *c != ',').collect();
    let cleaned = cleaned.strip_prefix('+').unwrap_or(&cleaned);
    if let Ok(n) = cleaned.parse::<i64>() {
        return Some(n);
    }
    let (whole, fraction) = cleaned.split_once('.')?;
    fraction
        .chars()
        .all(|c| c == '0')
        .then(|| whole.parse().ok())
        .flatten()
}

/// A decimal: `12.5`, `-0.25`, `1,234.5`; a comma alone is a decimal comma (`12,5`).
fn decimal(text: &str) -> Option<Number> {
    let t = text.trim();
    let t = if t.contains('.') || t.matches(',').count() > 1 {
        t.replace(',', "")
    } else {
        t.replace(',', ".")
    };
    let n: f64 = t.strip_prefix('+').unwrap_or(&t).parse().ok()?;
    Number::from_f64(n)
}

/// ISO dates (and date-times), year-first with `/`, and day/month orders when one part is over
/// 12; `03/04/2025` could be either, so it is refused with a hint rather than guessed.
fn read_date(text: &str) -> Result<NaiveDate, String> {
    let date_part = text.trim().split([' ', 'T']).next().unwrap_or("");
    if let Ok(d) = NaiveDate::parse_from_str(date_part, "%Y-%m-%d") {
        return Ok(d);
    }
    let parts: Vec<&str> = date_part.split(['/', '.', '-']).collect();
    let nums: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
    let [a, b, c] = nums.as_slice() else {
        return Err(String::new());
    };
    let (y, m, d) = match (parts[0].len(), parts[2].len()) {
        (4, _) => (*a, *b, *c),
        (_, 4) if *a > 12 => (*c, *b, *a),
        (_, 4) if *b > 12 => (*c, *a, *b),
        (_, 4) => {
            return Err(format!(
                "; day and month could be either way round: set the column's date order \
                 (dmy or mdy), which gives {}",
                either_way(*a, *b, *c)
            ));
        }
        _ => return Err(String::new()),
    };
    let year = i32::try_from(y).map_err(|_| String::new())?;
    NaiveDate::from_ymd_opt(year, m, d).ok_or_else(String::new)
}

fn either_way(a: u32, b: u32, year: u32) -> String {
    format!("{year}-{b:02}-{a:02} or {year}-{a:02}-{b:02}")
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self {
            FieldKind::Text => "text",
            FieldKind::Textarea => "textarea",
            FieldKind::Integer => "integer",
            FieldKind::Decimal => "decimal",
            FieldKind::Date => "date",
            FieldKind::Checkbox => "checkbox",
            FieldKind::Regexp => "regexp",
            FieldKind::Dropdown => "dropdown",
            FieldKind::Multiselect => "multiselect",
            FieldKind::Lookup => "lookup",
            FieldKind::Other(other) => other,
        };
        f.write_str(word)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;
    use crate::mapping::auto_match;

    /// Dropdowns whose labels differ from their values, a date, a checkbox, a pattern.
    pub(crate) fn account() -> Fields {
        let defs = json!([
            {"id": 1, "key": "plan", "type": "dropdown", "title": "Support plan",
             "custom_field_options": [
                {"id": 11, "name": "Gold plan", "value": "gold"},
                {"id": 12, "name": "Silver plan", "value": "silver"},
                {"id": 13, "name": "Bronze plan", "value": "bronze"},
                {"id": 14, "name": "Platinum", "value": "plat_tier"}]},
            {"id": 2, "key": "renewal", "type": "date", "title": "Renewal date"},
            {"id": 3, "key": "vip", "type": "checkbox", "title": "VIP"},
            {"id": 4, "key": "seats", "type": "integer", "title": "Seats"},
            {"id": 5, "key": "score", "type": "decimal", "title": "Score"},
            {"id": 6, "key": "code", "type": "regexp", "title": "Code",
             "regexp_for_validation": "\\A[A-Z]{2}-\\d{3}\\z"},
            {"id": 7, "key": "bio", "type": "textarea", "title": "Bio"},
            {"id": 8, "key": "langs", "type": "multiselect", "title": "Languages",
             "custom_field_options": [
                {"id": 21, "name": "English", "value": "lang_en"},
                {"id": 22, "name": "German", "value": "lang_de"}]},
            {"id": 9, "key": "old", "type": "text", "title": "Old", "active": false},
            {"id": 10, "key": "manager", "type": "lookup", "title": "Manager"}
        ]);
        Fields::new(serde_json::from_value(defs).unwrap())
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    fn num(n: serde_json::Value) -> FieldValue {
        match n {
            serde_json::Value::Number(n) => FieldValue::Number(n),
            _ => unreachable!(),
        }
    }

    fn t(s: &str) -> FieldValue {
        FieldValue::Text(s.to_owned())
    }

    #[rstest]
    #[case::label_to_value("plan", text("Gold plan"), t("gold"))]
    #[case::label_any_case("plan", text("gold PLAN"), t("gold"))]
    #[case::value_any_case("plan", text("SILVER"), t("silver"))]
    #[case::value_with_underscore("plan", text("plat tier"), t("plat_tier"))]
    #[case::iso_date("renewal", text("2025-03-04"), t("2025-03-04"))]
    #[case::iso_datetime("renewal", text("2025-03-04T10:30:00"), t("2025-03-04"))]
    #[case::year_first_slashes("renewal", text("2025/3/4"), t("2025-03-04"))]
    #[case::day_first_unambiguous("renewal", text("13/04/2025"), t("2025-04-13"))]
    #[case::month_first_unambiguous("renewal", text("04/13/2025"), t("2025-04-13"))]
    #[case::yes("vip", text("yes"), FieldValue::Bool(true))]
    #[case::x("vip", text("x"), FieldValue::Bool(true))]
    #[case::one("vip", text("1"), FieldValue::Bool(true))]
    #[case::ja("vip", text("Ja"), FieldValue::Bool(true))]
    #[case::oui("vip", text("oui"), FieldValue::Bool(true))]
    #[case::si_accent("vip", text("Sí"), FieldValue::Bool(true))]
    #[case::si("vip", text("si"), FieldValue::Bool(true))]
    #[case::nein("vip", text("nein"), FieldValue::Bool(false))]
    #[case::non("vip", text("NON"), FieldValue::Bool(false))]
    #[case::zero("vip", text("0"), FieldValue::Bool(false))]
    #[case::false_word("vip", text("False"), FieldValue::Bool(false))]
    #[case::bool_cell("vip", Value::Bool(true), FieldValue::Bool(true))]
    #[case::integer("seats", text("12"), num(json!(12)))]
    #[case::integer_float("seats", text("12.0"), num(json!(12)))]
    #[case::integer_thousands("seats", text("1,200"), num(json!(1200)))]
    #[case::decimal("score", text("12.5"), num(json!(12.5)))]
    #[case::decimal_comma("score", text("12,5"), num(json!(12.5)))]
    #[case::pattern_ok("code", text("AB-123"), t("AB-123"))]
    #[case::textarea("bio", text("Line one"), t("Line one"))]
    #[case::multiselect_labels("langs", text("English; german"), FieldValue::List(vec!["lang_en".into(), "lang_de".into()]))]
    #[case::multiselect_list("langs", Value::List(vec!["lang_de".into()]), FieldValue::List(vec!["lang_de".into()]))]
    #[case::lookup("manager", text("42"), num(json!(42)))]
    #[case::unknown_key_passes("nope", text("Gold plan"), t("Gold plan"))]
    #[case::inactive_passes("old", text("x"), t("x"))]
    fn converts_for_the_field_type(
        #[case] key: &str,
        #[case] value: Value,
        #[case] want: FieldValue,
    ) {
        assert_eq!(account().convert(key, value), Ok(want));
    }

    #[rstest]
    #[case::unknown_option(
        "plan",
        "Premium",
        "'Premium' is not an option of field plan; closest: Platinum (plat_tier), Bronze plan (bronze), Silver plan (silver)"
    )]
    #[case::typo(
        "plan",
        "Silvr plan",
        "'Silvr plan' is not an option of field plan; closest: Silver plan (silver), Gold plan (gold), Bronze plan (bronze)"
    )]
    #[case::ambiguous_date(
        "renewal",
        "03/04/2025",
        "'03/04/2025' is not a date Zendesk takes for field renewal (YYYY-MM-DD); day and month could be either way round: set the column's date order (dmy or mdy), which gives 2025-04-03 or 2025-03-04"
    )]
    #[case::not_a_date(
        "renewal",
        "soon",
        "'soon' is not a date Zendesk takes for field renewal (YYYY-MM-DD)"
    )]
    #[case::impossible_date(
        "renewal",
        "2025-02-30",
        "'2025-02-30' is not a date Zendesk takes for field renewal (YYYY-MM-DD)"
    )]
    #[case::checkbox("vip", "maybe", "'maybe' is not yes or no: field vip is a checkbox")]
    #[case::integer(
        "seats",
        "12.5",
        "'12.5' is not a whole number: field seats is an integer field"
    )]
    #[case::decimal(
        "score",
        "high",
        "'high' is not a number: field score is a decimal field"
    )]
    #[case::pattern(
        "code",
        "ab-123",
        "'ab-123' does not match field code's pattern \\A[A-Z]{2}-\\d{3}\\z"
    )]
    #[case::multiselect_one_bad(
        "langs",
        "English, Klingon",
        "'Klingon' is not an option of field langs; closest: English (lang_en), German (lang_de)"
    )]
    #[case::lookup(
        "manager",
        "Ana",
        "'Ana' is not a record id: field manager is a lookup field"
    )]
    fn refuses_what_the_field_cannot_take(
        #[case] key: &str,
        #[case] value: &str,
        #[case] want: &str,
    ) {
        let err = account().convert(key, text(value)).unwrap_err();
        assert_eq!(err.to_string(), want);
    }

    #[test]
    fn unknown_and_inactive_keys_are_mapping_problems() {
        let headers: Vec<String> = ["Name", "Email", "Plan", "Tier", "Old"]
            .map(str::to_owned)
            .to_vec();
        let mut mapping = auto_match(&headers);
        mapping.set(2, Some(Target::UserField("plan".into())));
        mapping.set(3, Some(Target::UserField("plann".into())));
        mapping.set(4, Some(Target::UserField("old".into())));
        let problems: Vec<String> = account()
            .problems(&mapping)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            vec![
                "'Tier' (D) maps to user_fields.plann, which the account does not have \
                 (closest: plan, langs, manager)",
                "'Old' (E) maps to user_fields.old, which is inactive in the account",
            ]
        );
        let none = Fields::default().problems(&mapping);
        assert!(
            none[0]
                .to_string()
                .ends_with("(it has no custom user fields)")
        );
    }

    #[test]
    fn custom_fields_for_matching_leave_out_inactive_ones() {
        let keys: Vec<String> = account()
            .custom_fields()
            .into_iter()
            .map(|f| f.key)
            .collect();
        assert_eq!(
            keys,
            [
                "plan", "renewal", "vip", "seats", "score", "code", "bio", "langs", "manager"
            ]
        );
    }

    #[test]
    fn a_pattern_that_does_not_compile_checks_nothing() {
        let defs = json!([{"id": 1, "key": "k", "type": "regexp", "title": "K",
            "regexp_for_validation": "(?<!x)y"}]);
        let fields = Fields::new(serde_json::from_value(defs).unwrap());
        assert_eq!(fields.convert("k", text("zz")), Ok(t("zz")));
    }

    #[rstest]
    #[case::keep(
        crate::payload::Blank::Keep,
        r#"{"email":"a@x.com","user_fields":{"plan":"gold","seats":3}}"#
    )]
    #[case::clear(
        crate::payload::Blank::Clear,
        r#"{"email":"a@x.com","user_fields":{"plan":"gold","renewal":null,"seats":3}}"#
    )]
    fn the_checker_sends_converted_values_and_blanks_as_asked(
        #[case] blank: crate::payload::Blank,
        #[case] want: &str,
    ) {
        use crate::payload::{Checker, Options};
        use crate::sheet::{Cell, Row};
        let headers: Vec<String> = ["Email", "Plan", "Renewal", "Seats"]
            .map(str::to_owned)
            .to_vec();
        let mut mapping = auto_match(&headers);
        for (i, key) in [(1, "plan"), (2, "renewal"), (3, "seats")] {
            mapping.set(i, Some(Target::UserField(key.into())));
        }
        let mut checker = Checker::new(&mapping, 0, Options::default())
            .with_fields(std::sync::Arc::new(account()))
            .with_blank(blank);
        let cells = |plan: &str, seats: &str| {
            vec![
                Cell::Text("a@x.com".into()),
                Cell::Text(plan.into()),
                Cell::Empty,
                Cell::Text(seats.into()),
            ]
        };
        let ok = checker.check(Row {
            number: 2,
            cells: cells("Gold plan", "3"),
        });
        assert_eq!(serde_json::to_string(&ok.user.unwrap()).unwrap(), want);
        let bad = checker.check(Row {
            number: 3,
            cells: cells("Gold", "three"),
        });
        let messages: Vec<String> = bad.issues.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "row 3, Seats (D3): error: 'three' is not a whole number: field seats is an \
              integer field"
            ]
        );
        assert!(bad.user.is_none());
    }

    #[test]
    fn the_recorded_definitions_load() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/zendesk/user_fields_list.json"
        );
        let body = std::fs::read_to_string(path).unwrap();
        let envelope: crate::zendesk::types::UserFieldsEnvelope =
            serde_json::from_str(&body).unwrap();
        let fields = Fields::new(envelope.user_fields);
        let def = fields.get("custom_field_1").unwrap();
        assert_eq!((def.kind.clone(), def.active), (FieldKind::Text, true));
    }
}

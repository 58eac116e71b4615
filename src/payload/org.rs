//! Rows to Zendesk organizations (a sheet of companies, `--object organizations`): each row
//! checked once, every problem named with its row, column and value, and the organization
//! built exactly as `organizations/create_many` or `update_many` take it.
//!
//! Custom organization fields are converted for the account's definitions as user fields
//! are ([`Fields`]: dropdown labels to values, types, patterns). Names are compared as Zendesk
//! compares them (trimmed, ignoring case) and external ids ignoring case: a name or external id
//! on an earlier row is an error of the later row, which is not sent.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::check::{Column, issue, precision_warning, whole_number, yes_no};
use super::fields::{Fields, plain};
use super::user::{FieldValue, UserFields};
use super::{Blank, InvalidPolicy, Issue, Mode, RowStatus, Severity};
use crate::mapping::{Mapping, Object, Target, Value};
use crate::sheet::Row;
use crate::sheet::header::column_letter;

/// One organization as `organizations/create_many` and `update_many` take it; fields left
/// `None` are not sent, so an update never blanks what the sheet left empty. A body read back
/// (a spooled plan's) gives the organization it was written from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Organization {
    /// The Zendesk id: sent by `update_many` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_names: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_tickets: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_comments: Option<bool>,
    #[serde(skip_serializing_if = "UserFields::is_empty")]
    pub organization_fields: UserFields,
}

/// HTTP method and path of the organizations' bulk endpoint for `mode`: `create_many` for new
/// ones, `update_many` (by id) for existing ones. An upsert has no bulk endpoint of its own:
/// the plan sends its new rows to `create_many` and the others to `update_many`; before the
/// plan, its rows are shown as created.
pub fn endpoint(mode: Mode) -> (&'static str, &'static str) {
    match mode {
        Mode::Create | Mode::Upsert => ("POST", "/api/v2/organizations/create_many"),
        Mode::Update => ("PUT", "/api/v2/organizations/update_many"),
    }
}

/// A checked row: the organization to send (none when the row has an error) and its problems.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgChecked {
    pub row: u32,
    pub organization: Option<Organization>,
    pub issues: Vec<Issue>,
}

impl OrgChecked {
    /// Ready, warning or error, from this row's own issues.
    pub fn status(&self) -> RowStatus {
        RowStatus::of(self.row, &self.issues)
    }
}

/// First row of each identifier, by fingerprint.
type Firsts = HashMap<super::check::Fingerprint, u32, foldhash::fast::FixedState>;

/// Checks organization rows one at a time; remembers names and external ids across rows.
#[derive(Debug)]
pub struct OrgChecker {
    columns: Vec<Column>,
    mode: Mode,
    invalid: InvalidPolicy,
    fields: Option<Arc<Fields>>,
    blank: Blank,
    /// First row of each name (trimmed, lower case) and external id (lower case), by
    /// 64-bit fingerprint ([`super::check::fingerprint`]: as users' identifiers are kept).
    names: Firsts,
    external_ids: Firsts,
}

impl OrgChecker {
    /// A checker for a table whose first column is at `first_column` (0 = A). Columns whose
    /// target organizations do not have are left out (the mapping reports them).
    pub fn new(mapping: &Mapping, first_column: u32, options: &super::Options) -> OrgChecker {
        let columns = mapping
            .mapped()
            .filter(|(_, target)| Object::Organizations.takes(target))
            .filter(|(_, target)| options.mode == Mode::Update || **target != Target::Id)
            .map(|(c, target)| Column {
                index: c.index,
                header: c.header.clone(),
                letter: column_letter(first_column as usize + c.index),
                target: target.clone(),
                transform: c.transform.clone(),
            })
            .collect();
        OrgChecker {
            columns,
            mode: options.mode,
            invalid: options.invalid,
            fields: None,
            blank: Blank::Keep,
            names: Firsts::default(),
            external_ids: Firsts::default(),
        }
    }

    /// Converts custom organization field values for the account's definitions.
    #[must_use]
    pub fn with_fields(mut self, fields: Arc<Fields>) -> OrgChecker {
        self.fields = Some(fields);
        self
    }

    /// What an empty custom field cell sends: nothing (keep) or null (clear).
    #[must_use]
    pub fn with_blank(mut self, blank: Blank) -> OrgChecker {
        self.blank = blank;
        self
    }

    /// Checks one data row and builds its organization.
    pub fn check(&mut self, row: Row) -> OrgChecked {
        let Row { number, mut cells } = row;
        let mut org = Organization::default();
        let mut issues = Vec::new();
        for column in &self.columns {
            let cell = cells
                .get_mut(column.index)
                .map(std::mem::take)
                .unwrap_or_default();
            if let Some(warning) = precision_warning(&column.target, &cell) {
                let value = Some(cell.display());
                issues.push(issue(number, column, value, Severity::Warning, warning));
            }
            let value = match column.transform.apply_owned(&column.target, cell) {
                Ok(Some(value)) => value,
                Ok(None) => {
                    if let (Blank::Clear, Target::OrganizationField(key)) =
                        (self.blank, &column.target)
                    {
                        org.organization_fields
                            .0
                            .push((key.clone(), FieldValue::Null));
                    }
                    continue;
                }
                Err((message, cell)) => {
                    let value = Some(cell.display()).filter(|v| !v.is_empty());
                    issues.push(issue(number, column, value, Severity::Error, message));
                    continue;
                }
            };
            if let Err((message, value)) =
                assign(&mut org, &column.target, value, self.fields.as_deref())
            {
                issues.push(issue(number, column, Some(value), Severity::Error, message));
            }
        }
        self.require(number, &org, &mut issues);
        if !issues.iter().any(|i| i.severity == Severity::Error) {
            self.duplicates(number, &org, &mut issues);
        }
        let mut errors = issues
            .iter()
            .filter(|i| i.row == number && i.severity == Severity::Error)
            .peekable();
        let sent = errors.peek().is_none()
            || (self.invalid == InvalidPolicy::Include && errors.all(|i| i.includable));
        OrgChecked {
            row: number,
            organization: sent.then_some(org),
            issues,
        }
    }

    /// What the mode needs in every row.
    fn require(&self, row: u32, org: &Organization, issues: &mut Vec<Issue>) {
        if issues.iter().any(|i| i.severity == Severity::Error) {
            return;
        }
        let name_column = self.columns.iter().find(|c| c.target == Target::Name);
        let message = match self.mode {
            Mode::Create if org.name.is_none() => {
                "name is empty: Zendesk needs a name to create an organization"
            }
            Mode::Upsert | Mode::Update
                if org.name.is_none() && org.external_id.is_none() && org.id.is_none() =>
            {
                "no name and no external_id: the organization cannot be found"
            }
            _ => return,
        };
        issues.push(Issue {
            row,
            column: name_column.map(|c| c.header.clone()),
            cell: name_column.map(|c| format!("{}{row}", c.letter)),
            value: None,
            severity: Severity::Error,
            message: message.to_owned(),
            includable: self.mode == Mode::Create,
        });
    }

    /// Flags a name or external id an earlier row holds, on both rows.
    fn duplicates(&mut self, row: u32, org: &Organization, issues: &mut Vec<Issue>) {
        let keys = [
            (Target::Name, org.name.as_deref().map(name_key)),
            (
                Target::ExternalId,
                org.external_id.as_deref().map(str::to_lowercase),
            ),
        ]
        .map(|(target, key)| (target, key.as_deref().map(super::check::fingerprint)));
        let mut clashes = Vec::new();
        for (target, key) in &keys {
            let Some(key) = key else { continue };
            let seen = match target {
                Target::Name => &self.names,
                _ => &self.external_ids,
            };
            if let Some(&first) = seen.get(key) {
                clashes.push((target, first));
            }
        }
        if clashes.is_empty() {
            for (target, key) in keys {
                let Some(key) = key else { continue };
                match target {
                    Target::Name => self.names.insert(key, row),
                    _ => self.external_ids.insert(key, row),
                };
            }
            return;
        }
        for (target, first) in clashes {
            let Some(column) = self.columns.iter().find(|c| c.target == *target) else {
                continue;
            };
            let text = match target {
                Target::Name => org.name.clone(),
                _ => org.external_id.clone(),
            };
            let what = target.to_string();
            let compared = if *target == Target::Name {
                " (Zendesk compares names ignoring case and spaces around them)"
            } else {
                ""
            };
            issues.push(issue(
                row,
                column,
                text.clone(),
                Severity::Error,
                format!(
                    "{what} is also on row {first}, which is sent; this row is skipped{compared}"
                ),
            ));
            issues.push(Issue {
                row: first,
                column: Some(column.header.clone()),
                cell: Some(format!("{}{first}", column.letter)),
                value: text,
                severity: Severity::Warning,
                message: format!("{what} is also on row {row}, which is skipped"),
                includable: false,
            });
        }
    }
}

/// How Zendesk compares organization names: trimmed, ignoring case.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A value Zendesk would refuse: why, and the value.
type Rejected = (String, String);

fn assign(
    org: &mut Organization,
    target: &Target,
    value: Value,
    fields: Option<&Fields>,
) -> Result<(), Rejected> {
    let list = |value: Value| match value {
        Value::List(items) => items,
        other => vec![other.into_text()],
    };
    match target {
        Target::Tags => merge(&mut org.tags, list(value)),
        Target::DomainNames => merge(&mut org.domain_names, list(value)),
        Target::SharedTickets | Target::SharedComments => {
            let yes = yes_no(&value).map_err(|m| (m, value.into_text()))?;
            if *target == Target::SharedTickets {
                org.shared_tickets = Some(yes);
            } else {
                org.shared_comments = Some(yes);
            }
        }
        Target::OrganizationField(key) => {
            let field = match fields {
                Some(fields) => {
                    let text = value.as_text();
                    fields
                        .convert(key, value)
                        .map_err(|e| (e.to_string(), text))?
                }
                None => plain(value),
            };
            org.organization_fields.0.push((key.clone(), field));
        }
        Target::Id => {
            let text = value.into_text();
            org.id = Some(whole_number(&text, "a Zendesk organization id").map_err(|m| (m, text))?);
        }
        Target::GroupId => {
            let text = value.into_text();
            org.group_id = Some(whole_number(&text, "a group id").map_err(|m| (m, text))?);
        }
        Target::Name => org.name = Some(value.into_text()),
        Target::ExternalId => org.external_id = Some(value.into_text()),
        Target::Details => org.details = Some(value.into_text()),
        Target::Notes => org.notes = Some(value.into_text()),
        // Not an organization's: left out by the checker, reported by the mapping.
        _ => {}
    }
    Ok(())
}

/// Adds `items` to a list, each once.
fn merge(list: &mut Option<Vec<String>>, items: Vec<String>) {
    let list = list.get_or_insert_with(Vec::new);
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::auto_match_for;
    use crate::sheet::Cell;
    use crate::zendesk::UserField;

    fn checker(headers: &[&str], mode: Mode) -> OrgChecker {
        let headers: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
        let mapping = auto_match_for(Object::Organizations, &headers, &[]);
        let options = super::super::Options {
            mode,
            ..Default::default()
        };
        OrgChecker::new(&mapping, 0, &options)
    }

    fn row(number: u32, cells: &[&str]) -> Row {
        Row {
            number,
            cells: cells.iter().map(|c| Cell::Text((*c).to_owned())).collect(),
        }
    }

    #[test]
    fn a_company_row_becomes_the_organization_zendesk_takes() {
        let mut c = checker(
            &[
                "Company",
                "Account ID",
                "Domains",
                "Tags",
                "Shared tickets",
                "Group",
            ],
            Mode::Create,
        );
        let checked = c.check(row(
            2,
            &[
                " Acme Corp ",
                "A-1",
                "Acme.com, acme.org",
                "vip gold",
                "yes",
                "12",
            ],
        ));
        assert_eq!(checked.status(), RowStatus::Ready, "{:?}", checked.issues);
        let body = serde_json::to_value(checked.organization.unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"name": "Acme Corp", "external_id": "A-1",
                "domain_names": ["acme.com", "acme.org"], "tags": ["vip", "gold"],
                "group_id": 12, "shared_tickets": true})
        );
    }

    #[test]
    fn names_and_external_ids_repeat_as_zendesk_compares_them() {
        let mut c = checker(&["Name", "External ID"], Mode::Upsert);
        assert!(c.check(row(2, &["Acme", "A-1"])).organization.is_some());
        let again = c.check(row(3, &["  ACME ", "A-2"]));
        assert!(again.organization.is_none());
        assert!(
            again.issues[0].message.contains("name is also on row 2"),
            "{:?}",
            again.issues
        );
        assert_eq!(again.issues[1].row, 2, "the earlier row is warned");
        let external = c.check(row(4, &["Globex", "a-1"]));
        assert!(
            external.issues[0]
                .message
                .contains("external_id is also on row 2")
        );
        assert!(
            c.check(row(5, &["Globex", "G-1"])).organization.is_some(),
            "not claimed"
        );
    }

    #[test]
    fn custom_fields_convert_for_the_account_and_bad_values_are_named() {
        let headers = vec!["Name".to_owned(), "Tier".to_owned()];
        let fields = Fields::new(vec![UserField {
            id: 1,
            key: "tier".into(),
            field_type: "dropdown".into(),
            title: "Tier".into(),
            active: true,
            regexp_for_validation: None,
            custom_field_options: vec![crate::zendesk::types::FieldOption {
                id: Some(1),
                name: "Gold".into(),
                value: "gold".into(),
            }],
            extra: serde_json::Map::new(),
        }]);
        let mapping = auto_match_for(Object::Organizations, &headers, &fields.custom_fields());
        assert_eq!(
            mapping.columns[1].target,
            Some(Target::OrganizationField("tier".into()))
        );
        let mut c = OrgChecker::new(&mapping, 0, &super::super::Options::default())
            .with_fields(Arc::new(fields));
        let ok = c.check(row(2, &["Acme", "Gold"])).organization.unwrap();
        assert_eq!(
            serde_json::to_value(ok).unwrap()["organization_fields"],
            serde_json::json!({"tier": "gold"})
        );
        let bad = c.check(row(3, &["Globex", "Platinum"]));
        assert!(bad.organization.is_none());
        assert_eq!(bad.issues[0].cell.as_deref(), Some("B3"));
        assert_eq!(bad.issues[0].column.as_deref(), Some("Tier"));
    }

    #[test]
    fn create_needs_a_name() {
        let mut c = checker(&["Name", "External ID"], Mode::Create);
        let checked = c.check(row(2, &["", "A-1"]));
        assert!(checked.organization.is_none());
        assert!(checked.issues[0].message.contains("needs a name"));
    }
}

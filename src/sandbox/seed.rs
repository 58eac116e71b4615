//! Existing users for the sandbox from a worksheet, so upsert and update can be rehearsed on
//! the operator's own export.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::error::SheetError;
use crate::sheet::{Cell, HeaderChoice, Workbook};

/// Column names taken as user keys as they are.
const USER_KEYS: &[&str] = &[
    "name",
    "email",
    "external_id",
    "role",
    "phone",
    "notes",
    "details",
    "alias",
    "time_zone",
    "locale",
];

/// One user per non-blank row of the first visible sheet; unknown columns are ignored.
pub fn users_from_worksheet(path: &Path) -> Result<Vec<Value>, SheetError> {
    let mut workbook = Workbook::open(path)?;
    let sheet = workbook.default_sheet();
    let table = workbook.load_table(sheet, HeaderChoice::Auto)?;
    let keys: Vec<String> = table
        .layout
        .headers
        .iter()
        .map(|h| h.trim().to_lowercase().replace([' ', '-'], "_"))
        .collect();
    let users = table
        .rows()
        .filter(|row| !row.is_blank())
        .map(|row| user_from_cells(&keys, &row.to_row().cells))
        .collect();
    Ok(users)
}

fn user_from_cells(keys: &[String], cells: &[Cell]) -> Value {
    let mut user = Map::new();
    for (key, cell) in keys.iter().zip(cells) {
        if cell.is_blank() {
            continue;
        }
        let text = cell.display().trim().to_owned();
        if USER_KEYS.contains(&key.as_str()) {
            user.insert(key.clone(), json!(text));
        } else if key == "organization" {
            user.insert(key.clone(), json!({ "name": text }));
        } else if key == "tags" {
            let tags: Vec<&str> = text.split([',', ' ']).filter(|t| !t.is_empty()).collect();
            user.insert(key.clone(), json!(tags));
        } else if let Some(field) = key.strip_prefix("user_fields.") {
            let fields = user.entry("user_fields").or_insert_with(|| json!({}));
            fields[field] = json!(text);
        }
    }
    Value::Object(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_export_becomes_users() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("existing.csv");
        std::fs::write(
            &path,
            "Name,Email,External ID,Organization,Tags,user_fields.plan,Shoe size\n\
             Ann,ann@example.com,E-1,Acme,\"vip, west\",gold,42\n\
             ,,,,,,\n\
             Bob,bob@example.com,,,,,\n",
        )
        .unwrap();
        let users = users_from_worksheet(&path).unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(
            users[0],
            json!({"name": "Ann", "email": "ann@example.com", "external_id": "E-1",
                "organization": {"name": "Acme"}, "tags": ["vip", "west"],
                "user_fields": {"plan": "gold"}})
        );
        assert_eq!(users[1], json!({"name": "Bob", "email": "bob@example.com"}));
    }
}

//! Saved mappings: named JSON profiles in the config dir, never holding credentials.
//!
//! A profile lists `{ "source": "<header text>", "target": "<target>" }` columns (plus
//! optional transform fields) and is matched to a sheet by header text, ignoring case and
//! spacing, so next month's export with the same columns maps itself.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::mapping::{Mapping, MatchReason, Object, Target, Transform};
use crate::payload::{InvalidPolicy, Mode, PhoneRegion};
use crate::plan::MissingOrgs;

/// The profile format this build writes and reads.
pub const VERSION: u32 = 1;
/// Overrides the config dir (tests and tmux runs never touch the real home directory).
pub const CONFIG_ENV: &str = "ZDIMPORT_CONFIG_DIR";

/// A saved mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub version: u32,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_row: Option<u32>,
    #[serde(default)]
    pub mode: Mode,
    /// What the rows are: users (the default, left out when saved) or organizations.
    #[serde(default, skip_serializing_if = "is_users")]
    pub object: Object,
    #[serde(default)]
    pub options: ProfileOptions,
    pub columns: Vec<ProfileColumn>,
    /// What loading changed, for the operator: a retired target read as its successor.
    /// Never saved; saving the profile writes the new names.
    #[serde(skip)]
    pub notes: Vec<String>,
}

fn is_users(object: &Object) -> bool {
    *object == Object::Users
}

/// Import options saved with the mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileOptions {
    /// Ask Zendesk not to send each new user a verification email.
    #[serde(default)]
    pub skip_verify_email: bool,
    /// The country phone numbers without `+` are read in (`"DE"`), for E.164 phones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_region: Option<PhoneRegion>,
    /// What an import does with rows that have an error: skip (default), block or include.
    #[serde(default, skip_serializing_if = "is_skip")]
    pub invalid: InvalidPolicy,
    /// A new email on an existing user becomes its primary email (plan and import
    /// `--make-primary`), instead of a secondary one beside the primary Zendesk keeps.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub make_primary: bool,
    /// What happens to a user whose organization the account lacks: create it first
    /// (default), skip-field or fail.
    #[serde(default, skip_serializing_if = "is_create")]
    pub missing_orgs: MissingOrgs,
    /// What a row's tags do to an existing record's: replace them (default) or add to them
    /// (plan and import `--tags`). Organizations will read the same choice.
    #[serde(default, skip_serializing_if = "is_replace")]
    pub tags: crate::plan::Tags,
}

fn is_replace(tags: &crate::plan::Tags) -> bool {
    *tags == crate::plan::Tags::Replace
}

fn is_create(policy: &MissingOrgs) -> bool {
    *policy == MissingOrgs::Create
}

fn is_skip(policy: &InvalidPolicy) -> bool {
    *policy == InvalidPolicy::Skip
}

/// One source column and where it goes; `target: "ignore"` keeps a column out on purpose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileColumn {
    pub source: String,
    #[serde(with = "target_or_ignore")]
    pub target: Option<Target>,
    #[serde(flatten)]
    pub transform: Transform,
}

/// Profile errors say which profile and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("profile '{0}' not found (zdimport profiles list shows the saved ones)")]
    NotFound(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid profile: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("'{0}' is not a usable profile name (letters, digits, space, '.', '-' and '_')")]
    BadName(String),
    #[error("no config directory: set {CONFIG_ENV}")]
    NoConfigDir,
}

/// How a profile fits a sheet's headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub mapping: Mapping,
    /// Profile columns whose header is not in the sheet.
    pub missing: Vec<String>,
    /// Sheet headers the profile does not know (left unmapped).
    pub unknown: Vec<String>,
}

impl Fit {
    /// Share of the profile's columns found in the sheet, 0.0 to 1.0.
    pub fn score(&self, profile: &Profile) -> f64 {
        let total = profile.columns.len().max(1);
        (total - self.missing.len()) as f64 / total as f64
    }
}

impl Profile {
    /// A profile from the current mapping.
    pub fn from_mapping(name: &str, mapping: &Mapping, mode: Mode) -> Profile {
        let columns = mapping
            .columns
            .iter()
            .map(|c| ProfileColumn {
                source: c.header.clone(),
                target: c.target.clone(),
                transform: c.transform.clone(),
            })
            .collect();
        Profile {
            version: VERSION,
            name: name.to_owned(),
            sheet: None,
            header_row: None,
            mode,
            object: mapping.object,
            options: ProfileOptions::default(),
            columns,
            notes: Vec::new(),
        }
    }

    /// A profile from its JSON text, with a note per column whose target was read under a
    /// newer name (`iana_time_zone` → `time_zone`).
    pub fn from_json(text: &str) -> Result<Profile, serde_json::Error> {
        let mut profile: Profile = serde_json::from_str(text)?;
        #[derive(Deserialize)]
        struct Raw {
            columns: Vec<RawColumn>,
        }
        #[derive(Deserialize)]
        struct RawColumn {
            source: String,
            target: String,
        }
        let raw: Raw = serde_json::from_str(text)?;
        profile.notes = raw
            .columns
            .iter()
            .filter_map(|c| {
                let (now, why) = Target::retired(&c.target)?;
                Some(format!(
                    "column '{}': {why}; loaded as {now} (save the profile to keep it)",
                    c.source
                ))
            })
            .collect();
        Ok(profile)
    }

    /// Maps `headers` by this profile; unknown headers stay unmapped.
    pub fn apply(&self, headers: &[String]) -> Fit {
        let mut missing = Vec::new();
        let mut columns = Mapping::unmapped(headers).columns;
        for pc in &self.columns {
            let key = crate::mapping::header_key(&pc.source);
            match columns.iter_mut().find(|c| {
                crate::mapping::header_key(&c.header) == key && c.reason == MatchReason::Unmatched
            }) {
                Some(c) => {
                    c.target = pc.target.clone();
                    c.transform = pc.transform.clone();
                    c.reason = MatchReason::Profile;
                }
                None => missing.push(pc.source.clone()),
            }
        }
        let unknown = columns
            .iter()
            .filter(|c| c.reason == MatchReason::Unmatched)
            .map(|c| c.header.clone())
            .collect();
        Fit {
            mapping: Mapping {
                columns,
                object: self.object,
            },
            missing,
            unknown,
        }
    }
}

/// zdimport's config dir: `$ZDIMPORT_CONFIG_DIR`, else the platform's.
pub fn config_dir() -> Result<PathBuf, ProfileError> {
    match std::env::var_os(CONFIG_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => Ok(directories::ProjectDirs::from("", "", "zdimport")
            .ok_or(ProfileError::NoConfigDir)?
            .config_dir()
            .to_path_buf()),
    }
}

/// Where profiles live: `$ZDIMPORT_CONFIG_DIR/profiles`, else the platform's config dir.
pub fn profiles_dir() -> Result<PathBuf, ProfileError> {
    Ok(config_dir()?.join("profiles"))
}

fn check_name(name: &str) -> Result<(), ProfileError> {
    let ok = !name.trim().is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(ProfileError::BadName(name.to_owned()))
    }
}

/// The file a named profile is saved in.
pub fn path_for(name: &str) -> Result<PathBuf, ProfileError> {
    check_name(name)?;
    Ok(profiles_dir()?.join(format!("{name}.json")))
}

/// Saves the profile under its name (written to a temporary file, then renamed).
pub fn save(profile: &Profile) -> Result<PathBuf, ProfileError> {
    let path = path_for(&profile.name)?;
    let io = |source| ProfileError::Io {
        path: path.clone(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut json = serde_json::to_string_pretty(profile).map_err(|e| io(e.into()))?;
    json.push('\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

/// Loads a profile by path (anything with a `/` or ending in `.json`) or by name.
pub fn load(name_or_path: &str) -> Result<Profile, ProfileError> {
    let as_path = Path::new(name_or_path);
    let path = if name_or_path.contains(std::path::MAIN_SEPARATOR)
        || name_or_path.ends_with(".json")
        || as_path.is_file()
    {
        as_path.to_path_buf()
    } else {
        path_for(name_or_path)?
    };
    let text = std::fs::read_to_string(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound if !as_path.is_file() && path != as_path => {
            ProfileError::NotFound(name_or_path.to_owned())
        }
        _ => ProfileError::Io {
            path: path.clone(),
            source,
        },
    })?;
    let profile = Profile::from_json(&text).map_err(|e| ProfileError::Invalid {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if profile.version > VERSION {
        return Err(ProfileError::Invalid {
            path,
            reason: format!(
                "version {} is newer than this zdimport understands ({VERSION})",
                profile.version
            ),
        });
    }
    Ok(profile)
}

/// A file in the profiles dir, read or not.
#[derive(Debug)]
pub struct Saved {
    pub name: String,
    pub path: PathBuf,
    pub profile: Result<Profile, ProfileError>,
}

/// Saved profiles by name; unreadable files are listed with their error.
pub fn list() -> Result<Vec<Saved>, ProfileError> {
    let dir = profiles_dir()?;
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ProfileError::Io { path: dir, source }),
    };
    let mut out: Vec<Saved> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|path| {
            let name = path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            let profile = load(&path.to_string_lossy());
            Saved {
                name,
                path,
                profile,
            }
        })
        .collect();
    out.sort_by_key(|s| s.name.to_lowercase());
    Ok(out)
}

/// Deletes a saved profile.
pub fn delete(name: &str) -> Result<PathBuf, ProfileError> {
    let path = path_for(name)?;
    std::fs::remove_file(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ProfileError::NotFound(name.to_owned()),
        _ => ProfileError::Io {
            path: path.clone(),
            source,
        },
    })?;
    Ok(path)
}

mod target_or_ignore {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::mapping::Target;

    pub fn serialize<S: Serializer>(target: &Option<Target>, s: S) -> Result<S::Ok, S::Error> {
        match target {
            Some(t) => s.serialize_str(&t.to_string()),
            None => s.serialize_str("ignore"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Target>, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().eq_ignore_ascii_case("ignore") || text.trim().is_empty() {
            return Ok(None);
        }
        if let Some((now, _)) = Target::retired(&text) {
            return Ok(Some(now));
        }
        text.parse().map(Some).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|h| (*h).to_owned()).collect()
    }

    const SAMPLE: &str = r#"{
        "version": 1,
        "name": "monthly crm",
        "header_row": 3,
        "mode": "create",
        "options": { "skip_verify_email": true, "phone_region": "pt" },
        "columns": [
            { "source": "Full Name", "target": "name" },
            { "source": "E-mail", "target": "email" },
            { "source": "Plan", "target": "user_fields.plan", "map": { "Gold": "gold" } },
            { "source": "Renewal Date", "target": "user_fields.renewal_date", "date": "dmy" },
            { "source": "Internal", "target": "ignore" }
        ]
    }"#;

    #[test]
    fn reads_the_documented_format_and_writes_it_back() {
        let profile: Profile = serde_json::from_str(SAMPLE).unwrap();
        assert_eq!(profile.mode, Mode::Create);
        assert_eq!(
            profile.columns[2].target,
            Some(Target::UserField("plan".into()))
        );
        assert_eq!(profile.columns[2].transform.value_map["Gold"], "gold");
        assert_eq!(profile.columns[4].target, None);
        assert_eq!(profile.options.phone_region, "PT".parse().ok());
        let again: Profile =
            serde_json::from_str(&serde_json::to_string(&profile).unwrap()).unwrap();
        assert_eq!(again, profile);
    }

    #[test]
    fn the_invalid_row_policy_is_saved_only_when_not_skip() {
        let mut profile: Profile = serde_json::from_str(SAMPLE).unwrap();
        assert_eq!(profile.options.invalid, InvalidPolicy::Skip);
        assert!(!serde_json::to_string(&profile).unwrap().contains("invalid"));
        let block = SAMPLE.replace("\"phone_region\": \"pt\"", "\"invalid\": \"block\"");
        let read: Profile = serde_json::from_str(&block).unwrap();
        assert_eq!(read.options.invalid, InvalidPolicy::Block);
        profile.options.invalid = InvalidPolicy::Include;
        let text = serde_json::to_string(&profile).unwrap();
        assert!(text.contains("\"invalid\":\"include\""), "{text}");
        let wrong = SAMPLE.replace("\"phone_region\": \"pt\"", "\"invalid\": \"send\"");
        assert!(serde_json::from_str::<Profile>(&wrong).is_err());
    }

    #[test]
    fn bad_targets_and_unknown_fields_are_refused_with_the_reason() {
        let bad = SAMPLE.replace("\"user_fields.plan\"", "\"plann\"");
        let err = serde_json::from_str::<Profile>(&bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown target 'plann'"), "{err}");
        let extra = SAMPLE.replace("\"version\": 1,", "\"version\": 1, \"token\": \"x\",");
        assert!(serde_json::from_str::<Profile>(&extra).is_err());
    }

    #[test]
    fn applies_by_header_ignoring_case_and_spacing() {
        let profile: Profile = serde_json::from_str(SAMPLE).unwrap();
        let fit = profile.apply(&headers(&["FULL  NAME", "e-mail", "Phone", "Plan"]));
        let targets: Vec<_> = fit
            .mapping
            .columns
            .iter()
            .map(|c| c.target.clone())
            .collect();
        assert_eq!(
            targets,
            vec![
                Some(Target::Name),
                Some(Target::Email),
                None,
                Some(Target::UserField("plan".into()))
            ]
        );
        assert_eq!(fit.mapping.columns[0].reason, MatchReason::Profile);
        assert_eq!(fit.missing, vec!["Renewal Date", "Internal"]);
        assert_eq!(fit.unknown, vec!["Phone"]);
        assert!((fit.score(&profile) - 0.6).abs() < 1e-9);
    }

    #[test]
    fn a_retired_target_loads_as_its_successor_with_a_note() {
        let old = SAMPLE.replace(
            r#"{ "source": "Internal", "target": "ignore" }"#,
            r#"{ "source": "TZ", "target": "iana_time_zone" }"#,
        );
        let profile = Profile::from_json(&old).unwrap();
        assert_eq!(profile.columns[4].target, Some(Target::TimeZone));
        assert_eq!(
            profile.notes,
            vec![
                "column 'TZ': iana_time_zone is read-only in Zendesk: use time_zone, which takes \
                 IANA names such as Europe/Berlin; loaded as time_zone (save the profile to keep \
                 it)"
            ]
        );
        let saved = serde_json::to_string(&profile).unwrap();
        assert!(saved.contains(r#""target":"time_zone""#), "{saved}");
        assert!(!saved.contains("notes"), "{saved}");
        assert!(Profile::from_json(SAMPLE).unwrap().notes.is_empty());
    }

    #[test]
    fn names_that_could_escape_the_profiles_dir_are_refused() {
        for name in ["", "../x", ".hidden", "a/b", "con\u{0}"] {
            assert!(
                matches!(check_name(name), Err(ProfileError::BadName(_))),
                "{name:?}"
            );
        }
        assert!(check_name("Monthly CRM_v2.1").is_ok());
    }
}

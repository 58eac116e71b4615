//! Columns to Zendesk user fields: the target catalogue, automatic matching, transforms.

mod org_target;
mod target;
mod transform;

use std::fmt;

pub use org_target::{ORGANIZATION_TARGETS, Object};
pub use target::{BUILT_IN, Target, UnknownTarget};
pub(crate) use transform::trim_str;
pub use transform::{DateOrder, Transform, Value};

use crate::payload::Mode;
use crate::sheet::header::column_letter;

/// How each source column of a table maps to Zendesk.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapping {
    /// One entry per table column, in column order.
    pub columns: Vec<ColumnMapping>,
    /// What each row is: a user (the default) or an organization.
    pub object: Object,
}

/// One source column and where its values go.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMapping {
    /// 0-based position in the table.
    pub index: usize,
    pub header: String,
    /// `None`: the column is ignored.
    pub target: Option<Target>,
    pub transform: Transform,
    pub reason: MatchReason,
}

/// Why a column got its target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MatchReason {
    /// The header is the target's name.
    Exact,
    /// The header is a common spelling of the target ("E-mail", "Customer ID").
    Alias,
    /// The header is close to a name or alias; similarity in percent.
    Fuzzy(u8),
    /// A saved profile said so.
    Profile,
    /// The operator chose it (`--map` or the Map screen).
    Manual,
    /// Nothing matched; the column is ignored.
    Unmatched,
    /// The header looks like a Zendesk user id ("User ID", "Id"): left ignored, because an id
    /// sent by mistake updates another user; the operator maps it to `id` for update mode.
    LooksLikeId,
}

impl MatchReason {
    /// A sentence for reasons the short form cannot carry, for lists of columns.
    pub fn explain(self) -> Option<&'static str> {
        match self {
            MatchReason::LooksLikeId => Some(
                "looks like a Zendesk user id: never mapped automatically; map it to id by hand \
                 for update mode",
            ),
            _ => None,
        }
    }
}

impl fmt::Display for MatchReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchReason::Exact => f.write_str("exact name"),
            MatchReason::Alias => f.write_str("alias"),
            MatchReason::Fuzzy(pct) => write!(f, "fuzzy {pct}%"),
            MatchReason::Profile => f.write_str("profile"),
            MatchReason::Manual => f.write_str("set by you"),
            MatchReason::Unmatched => f.write_str("no match"),
            MatchReason::LooksLikeId => f.write_str("id: by hand"),
        }
    }
}

/// A custom user field the account defines, for matching headers to `user_fields.<key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomField {
    pub key: String,
    pub title: String,
}

/// Something about the mapping that makes the import impossible for the chosen mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingProblem {
    /// A create needs a name for every user.
    NoName,
    /// An upsert matches users by email or external_id.
    NoUpsertKey,
    /// An update finds users by id or external_id.
    NoUpdateKey,
    /// Two columns feed a target that holds one value.
    SameTarget {
        target: Target,
        columns: Vec<String>,
    },
    /// No column is mapped at all.
    NothingMapped,
    /// A column feeds `user_fields.<key>` and the account has no such field.
    UnknownField {
        key: String,
        /// `'Plan' (H)`.
        column: String,
        /// The account's keys most like it, closest first.
        closest: Vec<String>,
    },
    /// A column feeds a custom field the account has switched off: Zendesk ignores it.
    InactiveField { key: String, column: String },
    /// A column feeds `id` in create or upsert mode: only `update_many` takes an id, and a
    /// wrong one elsewhere could land on another user.
    IdOutsideUpdate {
        /// `'User ID' (A)`.
        column: String,
        mode: Mode,
    },
    /// A column feeds a target the sheet's object does not have (`role` on organizations).
    NotForObject {
        column: String,
        target: Target,
        object: Object,
    },
    /// Organizations in upsert or update mode are found by external_id or name (or id).
    NoOrganizationKey { mode: Mode },
}

impl fmt::Display for MappingProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingProblem::NoName => f.write_str("create mode needs a column mapped to name"),
            MappingProblem::NoUpsertKey => {
                f.write_str("upsert mode needs a column mapped to email or external_id")
            }
            MappingProblem::NoUpdateKey => {
                f.write_str("update mode needs a column mapped to id or external_id")
            }
            MappingProblem::SameTarget { target, columns } => {
                write!(f, "{} all map to {target}; keep one", columns.join(", "))
            }
            MappingProblem::NothingMapped => f.write_str("no column is mapped"),
            MappingProblem::UnknownField {
                key,
                column,
                closest,
            } => {
                write!(f, "{column} maps to {key}, which the account does not have")?;
                if closest.is_empty() {
                    let of = if key.starts_with("organization_fields.") {
                        "organization"
                    } else {
                        "user"
                    };
                    write!(f, " (it has no custom {of} fields)")
                } else {
                    write!(f, " (closest: {})", closest.join(", "))
                }
            }
            MappingProblem::InactiveField { key, column } => write!(
                f,
                "{column} maps to {key}, which is inactive in the account"
            ),
            MappingProblem::NotForObject {
                column,
                target,
                object,
            } => write!(
                f,
                "{column} maps to {target}, which {object} do not have: ignore the column or \
                 pick another target"
            ),
            MappingProblem::NoOrganizationKey { mode } => write!(
                f,
                "{mode} mode for organizations needs a column mapped to external_id or name"
            ),
            MappingProblem::IdOutsideUpdate { column, mode } => write!(
                f,
                "{column} maps to id, which only update mode sends (a Zendesk id in {mode} mode \
                 could land on another user): ignore the column or switch to update"
            ),
        }
    }
}

impl Mapping {
    /// Every column unmapped.
    pub fn unmapped(headers: &[String]) -> Mapping {
        let columns = headers
            .iter()
            .enumerate()
            .map(|(index, header)| ColumnMapping {
                index,
                header: header.clone(),
                target: None,
                transform: Transform::default(),
                reason: MatchReason::Unmatched,
            })
            .collect();
        Mapping {
            columns,
            object: Object::default(),
        }
    }

    /// The mapped columns.
    pub fn mapped(&self) -> impl Iterator<Item = (&ColumnMapping, &Target)> {
        self.columns
            .iter()
            .filter_map(|c| c.target.as_ref().map(|t| (c, t)))
    }

    /// Whether some column feeds `target`.
    pub fn has(&self, target: &Target) -> bool {
        self.mapped().any(|(_, t)| t == target)
    }

    /// Points column `index` at `target` (or ignores it), as the operator's choice.
    pub fn set(&mut self, index: usize, target: Option<Target>) {
        if let Some(column) = self.columns.get_mut(index) {
            column.reason = if target.is_some() {
                MatchReason::Manual
            } else {
                MatchReason::Unmatched
            };
            column.target = target;
        }
    }

    /// Applies `Header=target` pairs: headers matched ignoring case and spacing.
    pub fn apply_overrides(&mut self, pairs: &[(String, Option<Target>)]) -> Result<(), NoColumn> {
        for (header, target) in pairs {
            let key = header_key(header);
            let index = self
                .columns
                .iter()
                .position(|c| header_key(&c.header) == key)
                .ok_or_else(|| {
                    let known: Vec<&str> = self.columns.iter().map(|c| c.header.as_str()).collect();
                    NoColumn {
                        header: header.clone(),
                        columns: known.join(", "),
                    }
                })?;
            self.set(index, target.clone());
        }
        Ok(())
    }

    /// What stops an import in `mode` with this mapping; empty when it can run.
    /// What the mode needs that the mapping leaves to chance: nothing blocks, but some rows
    /// will fail (an upsert without a name column fails the users new to Zendesk).
    pub fn cautions(&self, mode: Mode) -> Vec<String> {
        let mut cautions = Vec::new();
        if mode == Mode::Upsert && !self.has(&Target::Name) && self.object == Object::Users {
            cautions.push(
                "No column is mapped to name: users new to Zendesk need one, so their rows \
                 will fail (map a name column; the plan shows which rows are new)."
                    .to_owned(),
            );
        }
        cautions
    }

    pub fn problems(&self, mode: Mode) -> Vec<MappingProblem> {
        let mut problems = Vec::new();
        if self.mapped().next().is_none() {
            problems.push(MappingProblem::NothingMapped);
            return problems;
        }
        let object = self.object;
        problems.extend(
            self.mapped()
                .filter(|(_, t)| !object.takes(t))
                .map(|(c, t)| MappingProblem::NotForObject {
                    column: format!("'{}' ({})", c.header, column_letter(c.index)),
                    target: t.clone(),
                    object,
                }),
        );
        let found_by_name = self.has(&Target::Name) || self.has(&Target::ExternalId);
        let needs = match (object, mode) {
            (_, Mode::Create) => (!self.has(&Target::Name)).then_some(MappingProblem::NoName),
            (Object::Users, Mode::Upsert) => (!self.has(&Target::Email)
                && !self.has(&Target::ExternalId))
            .then_some(MappingProblem::NoUpsertKey),
            (Object::Users, Mode::Update) => (!self.has(&Target::Id)
                && !self.has(&Target::ExternalId))
            .then_some(MappingProblem::NoUpdateKey),
            (Object::Organizations, Mode::Upsert) => {
                (!found_by_name).then_some(MappingProblem::NoOrganizationKey { mode })
            }
            (Object::Organizations, Mode::Update) => (!found_by_name && !self.has(&Target::Id))
                .then_some(MappingProblem::NoOrganizationKey { mode }),
        };
        problems.extend(needs);
        if mode != Mode::Update {
            problems.extend(
                self.mapped()
                    .filter(|(_, t)| **t == Target::Id)
                    .map(|(c, _)| MappingProblem::IdOutsideUpdate {
                        column: format!("'{}' ({})", c.header, column_letter(c.index)),
                        mode,
                    }),
            );
        }
        let mut seen: Vec<&Target> = Vec::new();
        for (_, target) in self.mapped() {
            if target.is_multi() || seen.contains(&target) {
                continue;
            }
            seen.push(target);
            let columns: Vec<String> = self
                .mapped()
                .filter(|(_, t)| *t == target)
                .map(|(c, _)| format!("'{}' ({})", c.header, column_letter(c.index)))
                .collect();
            if columns.len() > 1 {
                problems.push(MappingProblem::SameTarget {
                    target: target.clone(),
                    columns,
                });
            }
        }
        problems
    }
}

/// Maps headers to targets by name, alias, then similarity; each single target used once.
pub fn auto_match(headers: &[String]) -> Mapping {
    auto_match_with(headers, &[])
}

/// [`auto_match`], also matching the account's custom fields by key or title.
pub fn auto_match_with(headers: &[String], custom: &[CustomField]) -> Mapping {
    auto_match_for(Object::Users, headers, custom)
}

/// [`auto_match_with`] for the rows of `object`: its targets, its header spellings, and the
/// account's custom fields of that object (`custom`).
pub fn auto_match_for(object: Object, headers: &[String], custom: &[CustomField]) -> Mapping {
    let mut mapping = Mapping::unmapped(headers);
    mapping.object = object;
    let mut candidates: Vec<(u32, usize, Target, MatchReason)> = Vec::new();
    for (i, header) in headers.iter().enumerate() {
        let best = best_match(object, header, custom);
        let sure = best
            .as_ref()
            .is_some_and(|(_, _, r)| matches!(r, MatchReason::Exact | MatchReason::Alias));
        if !sure && looks_like_id(header) {
            mapping.columns[i].reason = MatchReason::LooksLikeId;
            continue;
        }
        candidates.extend(best.map(|(score, t, r)| (score, i, t, r)));
    }
    // Strongest matches claim their target first; ties go to the leftmost column.
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut taken: Vec<Target> = Vec::new();
    for (_, index, target, reason) in candidates {
        let target = if !target.is_multi() && taken.contains(&target) {
            match target {
                Target::Email => Target::IdentityEmail,
                Target::Phone => Target::IdentityPhone,
                _ => continue,
            }
        } else {
            target
        };
        taken.push(target.clone());
        let column = &mut mapping.columns[index];
        column.target = Some(target);
        column.reason = reason;
    }
    mapping
}

/// Similarity a fuzzy match needs (Jaro-Winkler, 0 to 1).
const FUZZY_THRESHOLD: f64 = 0.9;

/// The best target for one header with a score (exact 300, alias 200, fuzzy 0..100).
fn best_match(
    object: Object,
    header: &str,
    custom: &[CustomField],
) -> Option<(u32, Target, MatchReason)> {
    let spaced = spaced(header);
    let squashed = squash(header);
    if squashed.is_empty() {
        return None;
    }
    let names = object
        .targets()
        .iter()
        .filter(|t| **t != Target::Id)
        .map(|t| (t.clone(), t.to_string()))
        .chain(
            custom
                .iter()
                .map(|f| (object.custom_target(f.key.clone()), f.key.clone())),
        );
    let mut fuzzy: Option<(f64, Target)> = None;
    for (target, name) in names {
        if spaced == self::spaced(&name) {
            return Some((300, target, MatchReason::Exact));
        }
        let titles = custom
            .iter()
            .filter(|f| object.custom_target(f.key.clone()) == target)
            .map(|f| f.title.as_str());
        let spellings = std::iter::once(name.as_str())
            .chain(object.aliases(&target).iter().copied())
            .chain(titles);
        for spelling in spellings {
            let other = squash(spelling);
            if other == squashed {
                return Some((200, target, MatchReason::Alias));
            }
            let score = strsim::jaro_winkler(&squashed, &other);
            if squashed.len() >= 4
                && score >= FUZZY_THRESHOLD
                && fuzzy.as_ref().is_none_or(|f| score > f.0)
            {
                fuzzy = Some((score, target.clone()));
            }
        }
    }
    fuzzy.map(|(score, target)| {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "0..=100"
        )]
        let pct = (score * 100.0).round() as u8;
        (u32::from(pct), target, MatchReason::Fuzzy(pct))
    })
}

/// Whether a header names a Zendesk user id: `Id`, `User ID`, `Zendesk ID` and close spellings.
fn looks_like_id(header: &str) -> bool {
    let squashed = squash(header);
    if squashed == "id" {
        return true;
    }
    squashed.len() >= 4
        && Target::Id.aliases().iter().any(|alias| {
            let alias = squash(alias);
            alias == squashed || strsim::jaro_winkler(&squashed, &alias) >= FUZZY_THRESHOLD
        })
}

/// Lowercase words separated by single spaces; `_` `-` `.` count as spaces.
fn spaced(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| c.is_whitespace() || matches!(c, '_' | '-' | '.' | ':'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lowercase letters and digits only.
fn squash(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A column named by its header that the sheet does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no column '{header}' (columns: {columns})")]
pub struct NoColumn {
    pub header: String,
    /// The sheet's headers, comma-separated.
    pub columns: String,
}

/// A header as columns are matched by name (`--map`, profiles): case, spacing and line
/// breaks ignored.
pub fn header_key(header: &str) -> String {
    header
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|h| (*h).to_owned()).collect()
    }

    fn matched(header: &str) -> (Option<Target>, MatchReason) {
        let m = auto_match(&headers(&[header]));
        (m.columns[0].target.clone(), m.columns[0].reason)
    }

    #[rstest]
    #[case("name", Some(Target::Name), MatchReason::Exact)]
    #[case("External ID", Some(Target::ExternalId), MatchReason::Exact)]
    #[case("time_zone", Some(Target::TimeZone), MatchReason::Exact)]
    #[case("E-mail", Some(Target::Email), MatchReason::Alias)]
    #[case("Full Name", Some(Target::Name), MatchReason::Alias)]
    #[case("Customer ID", Some(Target::ExternalId), MatchReason::Alias)]
    #[case("ExternalId", Some(Target::ExternalId), MatchReason::Alias)]
    #[case("Company", Some(Target::Organization), MatchReason::Alias)]
    #[case("Language", Some(Target::Locale), MatchReason::Alias)]
    #[case("Emial", Some(Target::Email), MatchReason::Fuzzy(95))]
    #[case("Organisaton", Some(Target::Organization), MatchReason::Fuzzy(98))]
    #[case("Locale ID", Some(Target::LocaleId), MatchReason::Exact)]
    #[case("Language ID", Some(Target::LocaleId), MatchReason::Alias)]
    #[case("locale_id", Some(Target::LocaleId), MatchReason::Exact)]
    #[case("Time zone", Some(Target::TimeZone), MatchReason::Exact)]
    #[case("IANA Time Zone", Some(Target::TimeZone), MatchReason::Alias)]
    #[case("Id", None, MatchReason::LooksLikeId)]
    #[case("ID", None, MatchReason::LooksLikeId)]
    #[case("id", None, MatchReason::LooksLikeId)]
    #[case("User ID", None, MatchReason::LooksLikeId)]
    #[case("user_id", None, MatchReason::LooksLikeId)]
    #[case("Zendesk ID", None, MatchReason::LooksLikeId)]
    #[case("Zendesk User Id", None, MatchReason::LooksLikeId)]
    #[case("Requester ID", None, MatchReason::LooksLikeId)]
    #[case("Zendesk Ids", None, MatchReason::LooksLikeId)]
    #[case("Contact ID", Some(Target::ExternalId), MatchReason::Alias)]
    #[case("Plan", None, MatchReason::Unmatched)]
    #[case("Renewal Date", None, MatchReason::Unmatched)]
    #[case("", None, MatchReason::Unmatched)]
    fn matches_one_header(
        #[case] header: &str,
        #[case] target: Option<Target>,
        #[case] reason: MatchReason,
    ) {
        assert_eq!(matched(header), (target, reason));
    }

    #[test]
    fn a_single_target_goes_to_the_strongest_column_and_phones_become_identities() {
        let m = auto_match(&headers(&[
            "Mobile", "Phone", "Mail", "Email", "Tags", "Tag",
        ]));
        let targets: Vec<_> = m.columns.iter().map(|c| c.target.clone()).collect();
        assert_eq!(
            targets,
            vec![
                Some(Target::IdentityPhone),
                Some(Target::Phone),
                Some(Target::IdentityEmail),
                Some(Target::Email),
                Some(Target::Tags),
                Some(Target::Tags),
            ]
        );
    }

    #[test]
    fn custom_fields_match_by_key_or_title() {
        let custom = [
            CustomField {
                key: "plan".into(),
                title: "Support plan".into(),
            },
            CustomField {
                key: "renewal_date".into(),
                title: "Renewal".into(),
            },
        ];
        let m = auto_match_with(&headers(&["Plan", "Renewal", "Support Plan"]), &custom);
        assert_eq!(m.columns[0].target, Some(Target::UserField("plan".into())));
        assert_eq!(m.columns[0].reason, MatchReason::Exact);
        assert_eq!(
            m.columns[1].target,
            Some(Target::UserField("renewal_date".into()))
        );
        assert_eq!(m.columns[1].reason, MatchReason::Alias);
        assert_eq!(
            m.columns[2].target, None,
            "plan is taken by the exact match"
        );
    }

    #[rstest]
    #[case(Mode::Create, &["E-mail"], vec![MappingProblem::NoName])]
    #[case(Mode::Create, &["Name"], vec![])]
    #[case(Mode::Upsert, &["Name"], vec![MappingProblem::NoUpsertKey])]
    #[case(Mode::Upsert, &["Customer ID"], vec![])]
    #[case(Mode::Update, &["Email"], vec![MappingProblem::NoUpdateKey])]
    #[case(Mode::Update, &["Email", "Zendesk ID"], vec![MappingProblem::NoUpdateKey])]
    #[case(Mode::Update, &["External ID"], vec![])]
    #[case(Mode::Create, &["Plan"], vec![MappingProblem::NothingMapped])]
    fn missing_for_mode(
        #[case] mode: Mode,
        #[case] names: &[&str],
        #[case] want: Vec<MappingProblem>,
    ) {
        assert_eq!(auto_match(&headers(names)).problems(mode), want);
    }

    #[test]
    fn no_header_of_any_spelling_is_matched_to_id() {
        let names = [
            "id",
            "Id",
            "ID",
            "User ID",
            "UserId",
            "Zendesk ID",
            "zendesk_user_id",
            "Requester Id",
            "Ids",
            "User Identifier",
            "Zendesk",
            "Identity",
        ];
        let m = auto_match(&headers(&names));
        assert!(!m.has(&Target::Id), "{:?}", m.columns);
    }

    #[rstest]
    #[case(Mode::Create, true)]
    #[case(Mode::Upsert, true)]
    #[case(Mode::Update, false)]
    fn id_set_by_hand_is_refused_outside_update_mode(#[case] mode: Mode, #[case] refused: bool) {
        let mut m = auto_match(&headers(&["Name", "Email", "External ID", "User ID"]));
        m.set(3, Some(Target::Id));
        let problems = m.problems(mode);
        let want = MappingProblem::IdOutsideUpdate {
            column: "'User ID' (D)".into(),
            mode,
        };
        assert_eq!(problems.contains(&want), refused, "{problems:?}");
        if refused {
            assert_eq!(
                want.to_string(),
                format!(
                    "'User ID' (D) maps to id, which only update mode sends (a Zendesk id in \
                     {mode} mode could land on another user): ignore the column or switch to \
                     update"
                )
            );
        }
    }

    #[test]
    fn two_columns_on_one_target_is_a_problem() {
        let mut m = auto_match(&headers(&["Name", "Email", "Nick"]));
        m.set(2, Some(Target::Name));
        let problems = m.problems(Mode::Create);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].to_string(),
            "'Name' (A), 'Nick' (C) all map to name; keep one"
        );
    }

    #[test]
    fn overrides_find_headers_ignoring_case_and_spacing() {
        let mut m = auto_match(&headers(&["Full  Name", "Plan"]));
        m.apply_overrides(&[
            ("plan".into(), Some(Target::UserField("plan".into()))),
            ("full name".into(), None),
        ])
        .unwrap();
        assert_eq!(m.columns[1].target, Some(Target::UserField("plan".into())));
        assert_eq!(m.columns[1].reason, MatchReason::Manual);
        assert_eq!(m.columns[0].target, None);
        let err = m.apply_overrides(&[("Seats".into(), None)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no column 'Seats' (columns: Full  Name, Plan)"
        );
    }
}

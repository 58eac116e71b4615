//! The Zendesk user fields a column can feed, with their string forms and common aliases.

use std::fmt;
use std::str::FromStr;

/// Where a column's values go in the Zendesk user.
///
/// The string forms are what profiles and `--map H=T` use: Zendesk's own field names, plus
/// `identity:email`, `identity:phone_number` and `user_fields.<key>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// The Zendesk user id: sent by update mode only, and only when the operator maps it.
    Id,
    Name,
    Email,
    ExternalId,
    Phone,
    Role,
    CustomRoleId,
    /// An organization by name, sent as `{"name": …}`.
    Organization,
    /// Several organizations by name, split on `,` `;` or line breaks (names hold spaces):
    /// the first is the default (unless an `organization` column names it), the others
    /// memberships created once the user exists (issue 15, item 3).
    Organizations,
    OrganizationId,
    Tags,
    /// A time zone: IANA (`Europe/Berlin`) or Zendesk's own names. Zendesk's `iana_time_zone`
    /// is read-only, so it is no target.
    TimeZone,
    Locale,
    /// Zendesk's numeric locale id, sent as a JSON number (`locale` wins when both are sent).
    LocaleId,
    Details,
    Notes,
    Alias,
    Verified,
    /// An extra email identity.
    IdentityEmail,
    /// An extra phone number identity.
    IdentityPhone,
    /// A custom user field by key.
    UserField(String),
    /// An organization's email domains (a list, split like tags): organizations only.
    DomainNames,
    /// An organization's group by Zendesk id (number): organizations only.
    GroupId,
    /// Whether the organization's users see each other's tickets: organizations only.
    SharedTickets,
    /// Whether they may comment on each other's tickets: organizations only.
    SharedComments,
    /// A custom organization field by key: organizations only.
    OrganizationField(String),
}

/// Every built-in target, in the order pickers list them.
pub const BUILT_IN: [Target; 20] = [
    Target::Name,
    Target::Email,
    Target::ExternalId,
    Target::Phone,
    Target::Role,
    Target::Organization,
    Target::Tags,
    Target::TimeZone,
    Target::Locale,
    Target::LocaleId,
    Target::Details,
    Target::Notes,
    Target::Alias,
    Target::Verified,
    Target::IdentityEmail,
    Target::IdentityPhone,
    Target::OrganizationId,
    Target::Organizations,
    Target::CustomRoleId,
    Target::Id,
];

impl Target {
    /// The target's string form without allocation, `None` for custom fields.
    pub fn builtin_name(&self) -> Option<&'static str> {
        Some(match self {
            Target::Id => "id",
            Target::Name => "name",
            Target::Email => "email",
            Target::ExternalId => "external_id",
            Target::Phone => "phone",
            Target::Role => "role",
            Target::CustomRoleId => "custom_role_id",
            Target::Organization => "organization",
            Target::OrganizationId => "organization_id",
            Target::Organizations => "organizations",
            Target::Tags => "tags",
            Target::TimeZone => "time_zone",
            Target::Locale => "locale",
            Target::LocaleId => "locale_id",
            Target::Details => "details",
            Target::Notes => "notes",
            Target::Alias => "alias",
            Target::Verified => "verified",
            Target::IdentityEmail => "identity:email",
            Target::IdentityPhone => "identity:phone_number",
            Target::DomainNames => "domain_names",
            Target::GroupId => "group_id",
            Target::SharedTickets => "shared_tickets",
            Target::SharedComments => "shared_comments",
            Target::UserField(_) | Target::OrganizationField(_) => return None,
        })
    }

    /// One line on what the target is, for pickers and `--help`.
    pub fn describe(&self) -> &'static str {
        match self {
            Target::Id => "Zendesk user id (update mode only)",
            Target::Name => "full name (required to create a user)",
            Target::Email => "primary email",
            Target::ExternalId => "your system's id for the user",
            Target::Phone => "primary phone number",
            Target::Role => "end-user, agent or admin",
            Target::CustomRoleId => "agent custom role id (number)",
            Target::Organization => "organization by name",
            Target::OrganizationId => "organization by Zendesk id (number)",
            Target::Organizations => "several organizations by name, split on , or ;",
            Target::Tags => "tags, split on , ; or spaces",
            Target::TimeZone => "time zone, e.g. Europe/Berlin",
            Target::Locale => "language, e.g. en-US",
            Target::LocaleId => "language by Zendesk locale id (number)",
            Target::Details => "details, e.g. an address",
            Target::Notes => "notes about the user",
            Target::Alias => "alias shown to end users",
            Target::Verified => "identity verified (yes/no)",
            Target::IdentityEmail => "an extra email identity",
            Target::IdentityPhone => "an extra phone identity",
            Target::UserField(_) => "custom user field",
            Target::DomainNames => "email domains, split on , ; or spaces",
            Target::GroupId => "group by Zendesk id (number)",
            Target::SharedTickets => "members see each other's tickets (yes/no)",
            Target::SharedComments => "members comment on each other's tickets (yes/no)",
            Target::OrganizationField(_) => "custom organization field",
        }
    }

    /// Whether several columns may feed this target (their values are combined).
    pub fn is_multi(&self) -> bool {
        matches!(
            self,
            Target::Tags
                | Target::Organizations
                | Target::IdentityEmail
                | Target::IdentityPhone
                | Target::DomainNames
        )
    }

    /// Whether the target's values are identifiers written as numbers in spreadsheets.
    pub fn is_identifier(&self) -> bool {
        matches!(
            self,
            Target::Id
                | Target::ExternalId
                | Target::Phone
                | Target::IdentityPhone
                | Target::OrganizationId
                | Target::CustomRoleId
                | Target::LocaleId
                | Target::GroupId
        )
    }

    /// Header spellings that mean this target, beyond its own name.
    pub(crate) fn aliases(&self) -> &'static [&'static str] {
        match self {
            // Never matched automatically: these only mark a header as a Zendesk id.
            Target::Id => &[
                "zendesk id",
                "zendesk user id",
                "user id",
                "requester id",
                "userid",
            ],
            Target::Name => &[
                "full name",
                "fullname",
                "display name",
                "contact name",
                "customer name",
                "contact",
                "user",
                "user name",
            ],
            Target::Email => &[
                "e-mail",
                "email address",
                "e-mail address",
                "mail",
                "primary email",
                "work email",
                "email id",
            ],
            Target::ExternalId => &[
                "customer id",
                "client id",
                "contact id",
                "member id",
                "employee id",
                "account id",
                "crm id",
                "customer number",
                "customer no",
                "external",
            ],
            Target::Phone => &[
                "phone number",
                "telephone",
                "tel",
                "mobile",
                "mobile phone",
                "cell",
                "work phone",
                "primary phone",
            ],
            Target::Role => &["user role", "zendesk role"],
            Target::CustomRoleId => &["custom role"],
            Target::Organization => &[
                "organisation",
                "organization name",
                "organisation name",
                "company",
                "company name",
                "org",
                "account",
                "account name",
                "employer",
            ],
            Target::OrganizationId => &["org id", "organisation id", "zendesk organization id"],
            Target::Organizations => &[
                "organisations",
                "companies",
                "other organizations",
                "other organisations",
                "memberships",
            ],
            Target::Tags => &["tag", "labels", "label", "user tags", "segments"],
            Target::TimeZone => &[
                "timezone",
                "tz",
                "zone",
                "iana time zone",
                "iana timezone",
                "iana tz",
            ],
            Target::Locale => &["language", "lang"],
            Target::LocaleId => &["locale id", "language id"],
            Target::Details => &["address", "postal address", "user details"],
            Target::Notes => &["note", "comments", "comment", "remarks", "user notes"],
            Target::Alias => &["nickname", "known as"],
            Target::Verified => &["is verified", "email verified"],
            Target::IdentityEmail => &[
                "secondary email",
                "alternate email",
                "alternative email",
                "other email",
                "email 2",
                "personal email",
            ],
            Target::IdentityPhone => &[
                "secondary phone",
                "alternate phone",
                "other phone",
                "phone 2",
                "home phone",
            ],
            Target::UserField(_)
            | Target::DomainNames
            | Target::GroupId
            | Target::SharedTickets
            | Target::SharedComments
            | Target::OrganizationField(_) => &[],
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::UserField(key) => write!(f, "user_fields.{key}"),
            Target::OrganizationField(key) => write!(f, "organization_fields.{key}"),
            other => f.write_str(other.builtin_name().unwrap_or_default()),
        }
    }
}

/// A target string that names no target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown target '{given}'{hint}")]
pub struct UnknownTarget {
    pub given: String,
    hint: String,
}

impl FromStr for Target {
    type Err = UnknownTarget;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if let Some(key) = text.strip_prefix("user_fields.") {
            return custom_field(key).ok_or_else(|| UnknownTarget {
                given: text.to_owned(),
                hint: " (a custom field key is lowercase letters, digits and '_')".to_owned(),
            });
        }
        if let Some(key) = text.strip_prefix("organization_fields.") {
            return custom_field(key)
                .map(|_| Target::OrganizationField(key.to_owned()))
                .ok_or_else(|| UnknownTarget {
                    given: text.to_owned(),
                    hint: " (a custom field key is lowercase letters, digits and '_')".to_owned(),
                });
        }
        let lower = text.to_ascii_lowercase();
        if let Some((_, why)) = Target::retired(&lower) {
            return Err(UnknownTarget {
                given: text.to_owned(),
                hint: format!(" ({why})"),
            });
        }
        let wanted = match lower.as_str() {
            "identity:phone" => "identity:phone_number",
            "organization_name" => "organization",
            other => other,
        };
        BUILT_IN
            .iter()
            .chain(&super::org_target::ORGANIZATION_TARGETS)
            .find(|t| t.builtin_name() == Some(wanted))
            .cloned()
            .ok_or_else(|| UnknownTarget {
                given: text.to_owned(),
                hint: suggestion(&lower),
            })
    }
}

impl Target {
    /// A target name older profiles may hold that is no longer one: what it loads as, and why.
    ///
    /// `iana_time_zone` is read-only in Zendesk (API.md): a bulk body that sends it changes
    /// nothing, while `time_zone` takes the same IANA names.
    pub fn retired(name: &str) -> Option<(Target, &'static str)> {
        name.trim()
            .eq_ignore_ascii_case("iana_time_zone")
            .then_some((
                Target::TimeZone,
                "iana_time_zone is read-only in Zendesk: use time_zone, which takes IANA names \
             such as Europe/Berlin",
            ))
    }
}

/// `user_fields.<key>` as Zendesk spells keys: letters, digits, `_`, at most 64 characters.
fn custom_field(key: &str) -> Option<Target> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    ok.then(|| Target::UserField(key.to_owned()))
}

fn suggestion(given: &str) -> String {
    let best = BUILT_IN
        .iter()
        .filter_map(Target::builtin_name)
        .map(|name| (strsim::jaro_winkler(given, name), name))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((score, name)) if score > 0.8 => format!(" (did you mean '{name}'?)"),
        _ => {
            let names: Vec<&str> = BUILT_IN.iter().filter_map(Target::builtin_name).collect();
            format!(
                " (fields: {}, or user_fields.<key> for a custom field)",
                names.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[test]
    fn every_builtin_round_trips_through_its_string_form() {
        for target in BUILT_IN {
            let text = target.to_string();
            assert_eq!(text.parse::<Target>(), Ok(target), "{text}");
        }
    }

    #[rstest]
    #[case("user_fields.plan", Target::UserField("plan".into()))]
    #[case(" Email ", Target::Email)]
    #[case("identity:phone", Target::IdentityPhone)]
    #[case("user_fields.renewal_date", Target::UserField("renewal_date".into()))]
    #[case("locale_id", Target::LocaleId)]
    #[case("domain_names", Target::DomainNames)]
    #[case("organization_fields.tier", Target::OrganizationField("tier".into()))]
    fn parses(#[case] text: &str, #[case] want: Target) {
        assert_eq!(text.parse::<Target>(), Ok(want));
    }

    #[rstest]
    #[case("emial", "did you mean 'email'")]
    #[case("user_fields.", "custom field key")]
    #[case("user_fields.has space", "custom field key")]
    #[case("colour", "fields: name, email, external_id")]
    #[case("iana_time_zone", "read-only in Zendesk: use time_zone")]
    fn rejects_with_a_hint(#[case] text: &str, #[case] hint: &str) {
        let err = text.parse::<Target>().unwrap_err().to_string();
        assert!(err.contains(hint), "{err}");
    }
}

//! What the rows of a sheet are (users or organizations), and the targets an organization's
//! columns can feed, with the header spellings that mean them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Target;

/// What each row of the sheet is: a user (the default) or an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Object {
    #[default]
    Users,
    Organizations,
}

impl Object {
    pub const ALL: [Object; 2] = [Object::Users, Object::Organizations];

    pub fn as_str(self) -> &'static str {
        match self {
            Object::Users => "users",
            Object::Organizations => "organizations",
        }
    }

    /// One row, as counts and messages say it: `user` or `organization`.
    pub fn one(self) -> &'static str {
        match self {
            Object::Users => "user",
            Object::Organizations => "organization",
        }
    }

    /// The other object, for a key that switches them.
    #[must_use]
    pub fn next(self) -> Self {
        match self {
            Object::Users => Object::Organizations,
            Object::Organizations => Object::Users,
        }
    }

    /// The built-in targets this object's columns can feed, in the order pickers list them.
    pub fn targets(self) -> &'static [Target] {
        match self {
            Object::Users => &super::BUILT_IN,
            Object::Organizations => &ORGANIZATION_TARGETS,
        }
    }

    /// Whether a column of this object can feed `target`.
    pub fn takes(self, target: &Target) -> bool {
        match target {
            Target::UserField(_) => self == Object::Users,
            Target::OrganizationField(_) => self == Object::Organizations,
            other => self.targets().contains(other),
        }
    }

    /// The custom field target of `key` for this object.
    pub fn custom_target(self, key: String) -> Target {
        match self {
            Object::Users => Target::UserField(key),
            Object::Organizations => Target::OrganizationField(key),
        }
    }

    /// One line on what `target` is for this object's rows, for pickers.
    pub fn describe(self, target: &Target) -> &'static str {
        match (self, target) {
            (Object::Organizations, Target::Name) => "organization name (unique; needed to create)",
            (Object::Organizations, Target::ExternalId) => "your system's id for the organization",
            (Object::Organizations, Target::Notes) => "notes about the organization",
            (Object::Organizations, Target::Id) => "Zendesk organization id (update mode only)",
            _ => target.describe(),
        }
    }

    /// The picker's label for typing a custom field key: `user_fields.…`.
    pub fn custom_label(self) -> &'static str {
        match self {
            Object::Users => "user_fields.…",
            Object::Organizations => "organization_fields.…",
        }
    }

    /// Header spellings that mean `target` for this object, beyond its own name.
    pub(crate) fn aliases(self, target: &Target) -> &'static [&'static str] {
        match self {
            Object::Users => target.aliases(),
            Object::Organizations => organization_aliases(target),
        }
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Object {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "users" | "user" => Ok(Object::Users),
            "organizations" | "organization" | "organisations" | "orgs" => {
                Ok(Object::Organizations)
            }
            _ => Err(format!("unknown object '{s}' (users or organizations)")),
        }
    }
}

/// Every built-in target of an organization, in the order pickers list them.
pub const ORGANIZATION_TARGETS: [Target; 10] = [
    Target::Name,
    Target::ExternalId,
    Target::DomainNames,
    Target::Details,
    Target::Notes,
    Target::Tags,
    Target::GroupId,
    Target::SharedTickets,
    Target::SharedComments,
    Target::Id,
];

/// Header spellings of an organization's targets: a companies sheet names its columns after
/// the company, not a person.
fn organization_aliases(target: &Target) -> &'static [&'static str] {
    match target {
        Target::Id => &[
            "zendesk id",
            "zendesk organization id",
            "organization id",
            "org id",
            "organisation id",
        ],
        Target::Name => &[
            "organization",
            "organisation",
            "organization name",
            "organisation name",
            "company",
            "company name",
            "account",
            "account name",
            "org",
            "org name",
            "customer",
            "customer name",
            "business name",
        ],
        Target::ExternalId => &[
            "company id",
            "account id",
            "customer id",
            "client id",
            "crm id",
            "external",
            "org external id",
            "account number",
            "customer number",
        ],
        Target::DomainNames => &[
            "domains",
            "domain",
            "domain name",
            "email domains",
            "email domain",
            "web domain",
            "website",
        ],
        Target::Details => &["address", "postal address", "organization details"],
        Target::Notes => &["note", "comments", "comment", "remarks"],
        Target::Tags => &["tag", "labels", "label", "segments", "organization tags"],
        Target::GroupId => &["group", "group id", "default group", "support group id"],
        Target::SharedTickets => &["shared tickets", "tickets shared", "share tickets"],
        Target::SharedComments => &["shared comments", "comments shared", "share comments"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_organization_target_round_trips_and_only_organizations_take_theirs() {
        for target in ORGANIZATION_TARGETS {
            let text = target.to_string();
            assert_eq!(text.parse::<Target>(), Ok(target.clone()), "{text}");
            assert!(Object::Organizations.takes(&target));
        }
        assert!(!Object::Users.takes(&Target::DomainNames));
        assert!(!Object::Organizations.takes(&Target::Email));
        assert!(Object::Organizations.takes(&Target::OrganizationField("tier".into())));
        assert!(!Object::Organizations.takes(&Target::UserField("tier".into())));
    }

    #[test]
    fn objects_parse_as_people_write_them() {
        assert_eq!("Organizations".parse(), Ok(Object::Organizations));
        assert_eq!("orgs".parse(), Ok(Object::Organizations));
        assert_eq!("users".parse(), Ok(Object::Users));
        assert!(
            "tickets"
                .parse::<Object>()
                .unwrap_err()
                .contains("users or organizations")
        );
    }
}

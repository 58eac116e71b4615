//! The sandbox's choices where Zendesk's answers differ between the reference, recordings of a
//! live account and accounts' settings (`shared/zendesk/API.md`).
//!
//! Each default is what a live account answered; each other variant is what the reference
//! documents or what API.md marks *unverified*, so tests can run zdimport against every one.
//! Every enum reads from the words `zdimport sandbox` takes (`FromStr`).

use std::fmt;
use std::str::FromStr;

/// A word the sandbox options do not know.
#[derive(Debug, Clone, thiserror::Error)]
#[error("'{given}' is not one of: {expected}")]
pub struct OptionParseError {
    given: String,
    expected: String,
}

/// Parses one of `words` (`(word, value)` pairs), ignoring case.
pub(super) fn parse_word<T: Copy>(
    text: &str,
    words: &[(&'static str, T)],
) -> Result<T, OptionParseError> {
    let text = text.trim();
    words
        .iter()
        .find(|(word, _)| word.eq_ignore_ascii_case(text))
        .map(|(_, value)| *value)
        .ok_or_else(|| OptionParseError {
            given: text.to_owned(),
            expected: expected_words(words),
        })
}

fn expected_words<T>(words: &[(&'static str, T)]) -> String {
    let joined: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
    joined.join(", ")
}

fn word_of<T: PartialEq + Copy>(value: T, words: &[(&'static str, T)]) -> &'static str {
    words
        .iter()
        .find(|(_, v)| *v == value)
        .map_or("?", |(w, _)| *w)
}

macro_rules! worded {
    ($type:ty, $words:expr) => {
        impl $type {
            /// Every word this option takes, and its value.
            pub const WORDS: &'static [(&'static str, $type)] = $words;
        }

        impl FromStr for $type {
            type Err = OptionParseError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                parse_word(text, Self::WORDS)
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(word_of(*self, Self::WORDS))
            }
        }
    };
}

/// How a finished job's `results` name the rows that succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobResults {
    /// A live account: create `{"id","status":"Created"}`, update
    /// `{"id","action":"update","status":"Updated","success":true}`; no `index`, in the order
    /// sent.
    #[default]
    Recorded,
    /// The API reference: `{"id","index"}`.
    Reference,
    /// `results` as the object `{"success":true}` when every row succeeded (API.md: results
    /// may be an object), else as recorded.
    Summary,
}

worded!(
    JobResults,
    &[
        ("recorded", JobResults::Recorded),
        ("reference", JobResults::Reference),
        ("summary", JobResults::Summary)
    ]
);

/// How a finished job's `results` carry a row Zendesk refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobFailures {
    /// As recorded (organization jobs): `{"index","error","id","details"}`.
    #[default]
    Indexed,
    /// The OpenAPI description: `{"action","id","success":false,"error","details"}`, no index.
    Oas,
}

worded!(
    JobFailures,
    &[("indexed", JobFailures::Indexed), ("oas", JobFailures::Oas)]
);

/// Which spelling of the rate-limit headers the sandbox sends besides `X-Rate-Limit` and
/// `X-Rate-Limit-Remaining` (which every answer carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateHeaders {
    /// As recorded: `rate-limit`, `rate-limit-remaining`, `rate-limit-reset` on bulk and job
    /// answers.
    #[default]
    Recorded,
    /// As the rate-limit docs name them: `ratelimit-limit`, `ratelimit-remaining`,
    /// `ratelimit-reset`, on every answer.
    Documented,
    /// Both spellings.
    Both,
}

worded!(
    RateHeaders,
    &[
        ("recorded", RateHeaders::Recorded),
        ("documented", RateHeaders::Documented),
        ("both", RateHeaders::Both)
    ]
);

/// What an `email` sent for an existing user does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmailOnUpdate {
    /// As Zendesk documents (OAS `User.email`): a secondary email identity is added and the
    /// primary stays.
    #[default]
    AddSecondary,
    /// The sandbox's old behaviour: the primary email is replaced. No Zendesk source says so.
    ReplacePrimary,
}

worded!(
    EmailOnUpdate,
    &[
        ("secondary", EmailOnUpdate::AddSecondary),
        ("replace", EmailOnUpdate::ReplacePrimary)
    ]
);

/// How a `date` custom field reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateFields {
    /// `2027-01-01T00:00:00+00:00`, as live accounts answer.
    #[default]
    DateTimeOffset,
    /// `2027-01-01T00:00:00Z`, the other form seen.
    DateTimeZulu,
    /// `2027-01-01`, as sent (no Zendesk source answers so).
    AsSent,
}

worded!(
    DateFields,
    &[
        ("offset", DateFields::DateTimeOffset),
        ("zulu", DateFields::DateTimeZulu),
        ("as-sent", DateFields::AsSent)
    ]
);

/// What a bulk body's `organization: {"name": …}` does. Zendesk does not document it
/// (*unverified* in API.md): the docs describe `organization_id` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrganizationByName {
    /// A missing organization is created and the user joins it.
    Create,
    /// The key is ignored, as Zendesk ignores keys it does not document; the user's
    /// organization does not change. The default: it assumes the least of Zendesk, so a client
    /// must look organizations up and send `organization_id` to be right.
    #[default]
    Ignore,
    /// An existing organization (any case) is joined; a missing one fails the row.
    Refuse,
}

worded!(
    OrganizationByName,
    &[
        ("create", OrganizationByName::Create),
        ("ignore", OrganizationByName::Ignore),
        ("refuse", OrganizationByName::Refuse)
    ]
);

/// Whether a job status counts its rows (`total`, `progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobProgress {
    /// `total` the rows sent, `progress` the rows done, as recorded.
    #[default]
    Counted,
    /// Both null: API.md says they may be.
    Null,
}

worded!(
    JobProgress,
    &[
        ("counted", JobProgress::Counted),
        ("null", JobProgress::Null)
    ]
);

/// What the 30-job limit counts. The rate-limit docs count jobs per account; a Zendesk help
/// article says the limit applies to each endpoint: `doctor` settles it per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobLimitScope {
    /// Every bulk job of the account (the lower bound, so the default).
    #[default]
    Account,
    /// The jobs of each bulk endpoint apart (`create_many`, `create_or_update_many`,
    /// `update_many`).
    Endpoint,
}

worded!(
    JobLimitScope,
    &[
        ("account", JobLimitScope::Account),
        ("endpoint", JobLimitScope::Endpoint)
    ]
);

/// How a bulk call over the job limit is refused: undocumented (API.md), so every form a
/// client must read as "wait for a job to end".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobLimitAnswer {
    /// 429 `{"error":"TooManyJobs","description":…}` with `Retry-After` until a job ends.
    #[default]
    TooManyJobs,
    /// 429 with an HTML body and no `Retry-After`: no rate-limit reason given.
    Bare429,
    /// 400 `{"error":"TooManyJobs",…}`: a 4xx naming jobs.
    BadRequest,
}

worded!(
    JobLimitAnswer,
    &[
        ("too-many-jobs", JobLimitAnswer::TooManyJobs),
        ("bare-429", JobLimitAnswer::Bare429),
        ("400", JobLimitAnswer::BadRequest)
    ]
);

/// The `user` section of `GET /api/v2/account/settings.json`, with the keys Zendesk uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSettings {
    /// `tagging`: users may be tagged. Off, `tags` in a bulk body are ignored.
    pub tagging: bool,
    /// `multiple_organizations`: a user may belong to several organizations.
    pub multiple_organizations: bool,
    /// `end_user_phone_number_validation`: a phone not in E.164 fails the row.
    pub end_user_phone_number_validation: bool,
    /// `agent_created_welcome_emails`: a user created by an admin gets a welcome email.
    pub agent_created_welcome_emails: bool,
}

impl Default for UserSettings {
    /// An account set up for importing users: tagging on (new Zendesk accounts start with it
    /// off: choose it with `--user-tagging off`), one organization per user, phones not
    /// validated, welcome emails on.
    fn default() -> Self {
        Self {
            tagging: true,
            multiple_organizations: false,
            end_user_phone_number_validation: false,
            agent_created_welcome_emails: true,
        }
    }
}

/// `on`/`off` for a setting (also `true`/`false`, `yes`/`no`).
pub fn parse_switch(text: &str) -> Result<bool, OptionParseError> {
    parse_word(
        text,
        &[
            ("on", true),
            ("off", false),
            ("true", true),
            ("false", false),
            ("yes", true),
            ("no", false),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_their_words_and_print_them_back() {
        assert_eq!(
            "Reference".parse::<JobResults>().unwrap(),
            JobResults::Reference
        );
        assert_eq!("oas".parse::<JobFailures>().unwrap(), JobFailures::Oas);
        assert_eq!(RateHeaders::Both.to_string(), "both");
        assert_eq!("as-sent".parse::<DateFields>().unwrap(), DateFields::AsSent);
        let err = "maybe".parse::<OrganizationByName>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "'maybe' is not one of: create, ignore, refuse"
        );
        assert!(!parse_switch("OFF").unwrap());
        assert!(parse_switch("2").is_err());
    }
}

//! Connect: the account, the sign-in, the mode and options, and a connection test.
//!
//! Nothing is sent from here but `users/me`; the import starts only when the operator goes on
//! and confirms.

use std::fmt;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Widget, Wrap};

use crate::session::account::Secret;
use crate::session::check::{Mode, PhoneRegion};
use crate::tui::action::{Action, Edit};
use crate::tui::strings;
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::{text_width, theme};

/// Jobs in flight when the operator does not choose: Zendesk queues at most 30 per account.
pub const DEFAULT_CONCURRENCY: u32 = 10;

/// How the operator signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignInChoice {
    /// `ZENDESK_CLIENT_ID`/`_SECRET`, `ZENDESK_OAUTH_TOKEN`, the token `zdimport login`
    /// kept, or the legacy email and API token, in that order.
    #[default]
    Environment,
    /// An OAuth access token typed here.
    AccessToken,
    /// Legacy email + API token (Zendesk stops accepting them on 2027-04-30).
    ApiToken,
}

impl SignInChoice {
    const ALL: [SignInChoice; 3] = [
        SignInChoice::Environment,
        SignInChoice::AccessToken,
        SignInChoice::ApiToken,
    ];

    fn label(self) -> &'static str {
        match self {
            SignInChoice::Environment => "OAuth from the environment or `zdimport login`",
            SignInChoice::AccessToken => "OAuth access token",
            SignInChoice::ApiToken => "email + API token (legacy, ends 2027-04-30)",
        }
    }
}

/// What the connection test needs; the token never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    pub url: String,
    pub sign_in: SignInChoice,
    /// The account's OAuth client (empty: `ZENDESK_CLIENT_ID`, or the one `login` remembered).
    pub client_id: String,
    pub email: String,
    pub token: String,
}

impl fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectRequest")
            .field("url", &self.url)
            .field("sign_in", &self.sign_in)
            .field("client_id", &self.client_id)
            .field("email", &self.email)
            .field("token", &"***")
            .finish()
    }
}

impl ConnectRequest {
    /// The token as a secret, for the client.
    pub fn secret(&self) -> Secret {
        Secret::new(self.token.clone())
    }
}

/// Who the connection test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub url: String,
    pub name: String,
    pub email: String,
    pub role: String,
    /// Set for legacy API tokens.
    pub warning: Option<String>,
    /// `zdimport doctor`'s findings that need the operator: what must be fixed first (✗), then
    /// the account settings that change what rows do; read with the connection test.
    pub doctor: Vec<String>,
}

/// The state of the connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Connection {
    #[default]
    Untested,
    Testing,
    Connected(Account),
    Failed(String),
}

/// The form's rows, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Url,
    SignIn,
    ClientId,
    Email,
    Token,
    Mode,
    Concurrency,
    SkipVerify,
    PhoneRegion,
    Test,
}

const FIELDS: [Field; 10] = [
    Field::Url,
    Field::SignIn,
    Field::ClientId,
    Field::Email,
    Field::Token,
    Field::Mode,
    Field::Concurrency,
    Field::SkipVerify,
    Field::PhoneRegion,
    Field::Test,
];

/// What the Connect step asks the app to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectOutcome {
    Test(ConnectRequest),
    /// Connected: go on (the plan, then the import).
    Next,
}

#[derive(Clone, Default)]
pub struct ConnectState {
    pub url: TextInput,
    pub sign_in: SignInChoice,
    /// The OAuth client id for OAuth from the environment (never a secret).
    pub client_id: TextInput,
    pub email: TextInput,
    /// The token typed here (never drawn).
    token: TextInput,
    /// A token came from the environment and has not been replaced.
    pub token_from_env: bool,
    pub mode: Mode,
    pub concurrency: TextInput,
    pub skip_verify_email: bool,
    /// The country phones without `+` are read in: two letters, or empty for none.
    pub phone_region: TextInput,
    pub row: usize,
    pub connection: Connection,
    /// Connected to the built-in sandbox.
    pub sandbox: bool,
}

impl fmt::Debug for ConnectState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectState")
            .field("url", &self.url.text)
            .field("sign_in", &self.sign_in)
            .field("token", &"***")
            .field("mode", &self.mode)
            .field("row", &self.row)
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

impl ConnectState {
    /// A background answer while this screen shows: the connection test's.
    pub fn on_event(&mut self, event: crate::tui::app::AppEvent) {
        if let crate::tui::app::AppEvent::Connected(answer) = event {
            self.connection = match answer {
                Ok(account) => Connection::Connected(account),
                Err(e) => Connection::Failed(e),
            };
        }
    }

    /// The form pre-filled from the environment (`var` reads it).
    pub fn new(var: impl Fn(&str) -> Option<String>, mode: Mode, skip_verify: bool) -> Self {
        let url = var("ZENDESK_URL")
            .or_else(|| var("ZENDESK_SUBDOMAIN").map(|s| format!("https://{s}.zendesk.com")))
            .unwrap_or_default();
        let oauth_token = var("ZENDESK_OAUTH_TOKEN");
        let api_token = var("ZENDESK_API_TOKEN");
        let has_oauth = var("ZENDESK_CLIENT_ID").is_some() || oauth_token.is_some();
        let sign_in = match (&oauth_token, &api_token) {
            _ if has_oauth => SignInChoice::Environment,
            (None, Some(_)) => SignInChoice::ApiToken,
            _ => SignInChoice::Environment,
        };
        let token = oauth_token.or(api_token);
        ConnectState {
            url: TextInput::new(&url),
            sign_in,
            client_id: TextInput::new(&var("ZENDESK_CLIENT_ID").unwrap_or_default()),
            email: TextInput::new(&var("ZENDESK_EMAIL").unwrap_or_default()),
            token_from_env: token.is_some(),
            token: TextInput::new(&token.unwrap_or_default()),
            mode,
            concurrency: TextInput::new(&DEFAULT_CONCURRENCY.to_string()),
            skip_verify_email: skip_verify,
            phone_region: TextInput::default(),
            row: if url.is_empty() { 0 } else { FIELDS.len() - 1 },
            connection: Connection::Untested,
            sandbox: false,
        }
    }

    /// The form for the built-in sandbox: its URL, OAuth client credentials from it.
    pub fn sandbox(url: &str, mode: Mode, skip_verify: bool) -> Self {
        let mut state = ConnectState::new(|_| None, mode, skip_verify);
        state.url = TextInput::new(url.trim_end_matches('/'));
        state.sandbox = true;
        state.row = FIELDS.len() - 1;
        state
    }

    fn field(&self) -> Field {
        FIELDS[self.row.min(FIELDS.len() - 1)]
    }

    /// Whether the focused row takes typed characters.
    pub fn is_typing(&self) -> bool {
        matches!(
            self.field(),
            Field::Url
                | Field::ClientId
                | Field::Email
                | Field::Token
                | Field::Concurrency
                | Field::PhoneRegion
        )
    }

    /// Whether the focus is on the connection test (no value to change there).
    pub fn on_test(&self) -> bool {
        self.field() == Field::Test
    }

    /// The phone region typed here; empty is none.
    pub fn phone_region(&self) -> Result<Option<PhoneRegion>, String> {
        match self.phone_region.text.trim() {
            "" => Ok(None),
            code => code.parse().map(Some),
        }
    }

    /// Jobs in flight the operator asked for, 1 to 30.
    pub fn concurrency(&self) -> u32 {
        self.concurrency
            .text
            .trim()
            .parse::<u32>()
            .map_or(DEFAULT_CONCURRENCY, |n| n.clamp(1, 30))
    }

    pub fn is_connected(&self) -> bool {
        matches!(self.connection, Connection::Connected(_))
    }

    pub fn update(&mut self, action: &Action) -> Option<ConnectOutcome> {
        match action {
            Action::Up => self.row = self.row.saturating_sub(1),
            Action::Down | Action::NextPane => self.row = (self.row + 1).min(FIELDS.len() - 1),
            action if self.is_typing() && TextInput::takes(action) => self.type_into(action),
            Action::Left => self.change(false),
            Action::Right | Action::Char(' ') => self.change(true),
            // Connected, Enter on the test goes on, as the status line says; changing the
            // account or the sign-in makes the test due again.
            Action::Enter if self.field() == Field::Test && !self.is_connected() => {
                return self.test();
            }
            Action::Enter | Action::Next if self.is_connected() && !self.is_typing() => {
                if self.phone_region().is_err() {
                    // Its note says what is wrong; the checks would read phones wrongly.
                    self.row = FIELDS.iter().position(|f| *f == Field::PhoneRegion)?;
                    return None;
                }
                return Some(ConnectOutcome::Next);
            }
            Action::Enter => self.row = (self.row + 1).min(FIELDS.len() - 1),
            _ => {}
        }
        None
    }

    fn type_into(&mut self, action: &Action) {
        // Moving the cursor changes nothing.
        let edits = !matches!(
            action,
            Action::Left
                | Action::Right
                | Action::Home
                | Action::End
                | Action::Edit(Edit::Start | Edit::End)
        );
        let changed = match self.field() {
            Field::Url => self.url.handle(action),
            Field::ClientId => self.client_id.handle(action),
            Field::Email => self.email.handle(action),
            Field::Token => {
                if self.token_from_env && edits {
                    // Typing replaces the environment's token rather than editing it unseen.
                    self.token = TextInput::default();
                    self.token_from_env = false;
                }
                self.token.handle(action)
            }
            Field::Concurrency => match action {
                Action::Char(c) if !c.is_ascii_digit() => false,
                action => self.concurrency.handle(action),
            },
            Field::PhoneRegion => match action {
                Action::Char(c)
                    if !c.is_ascii_alphabetic() || self.phone_region.text.len() >= 2 =>
                {
                    false
                }
                Action::Char(c) => self
                    .phone_region
                    .handle(&Action::Char(c.to_ascii_uppercase())),
                action => self.phone_region.handle(action),
            },
            _ => false,
        };
        if changed
            && edits
            && matches!(
                self.field(),
                Field::Url | Field::ClientId | Field::Email | Field::Token
            )
        {
            self.connection = Connection::Untested;
        }
    }

    fn change(&mut self, forward: bool) {
        match self.field() {
            Field::SignIn => {
                let all = SignInChoice::ALL;
                let at = all.iter().position(|c| *c == self.sign_in).unwrap_or(0);
                let next = if forward { at + 1 } else { at + all.len() - 1 };
                self.sign_in = all[next % all.len()];
                self.connection = Connection::Untested;
            }
            Field::Mode => {
                let all = Mode::ALL;
                let at = all.iter().position(|m| *m == self.mode).unwrap_or(0);
                let next = if forward { at + 1 } else { at + all.len() - 1 };
                self.mode = all[next % all.len()];
            }
            Field::SkipVerify => self.skip_verify_email = !self.skip_verify_email,
            _ => {}
        }
    }

    fn test(&mut self) -> Option<ConnectOutcome> {
        self.connection = Connection::Testing;
        Some(ConnectOutcome::Test(ConnectRequest {
            url: crate::session::account::account_url(&self.url.text),
            sign_in: self.sign_in,
            client_id: self.client_id.text.trim().to_owned(),
            email: self.email.text.trim().to_owned(),
            token: self.token.text.trim().to_owned(),
        }))
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let [form, status] =
            Layout::vertical([Constraint::Length(12), Constraint::Min(3)]).areas(area);
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(theme::ACCENT))
            .title(strings::CONNECT_TITLE);
        // Label, then the value: a field being edited scrolls within what is left.
        let room = usize::from(block.inner(form).width).saturating_sub(LABEL_WIDTH + 1);
        let lines: Vec<Line<'_>> = FIELDS
            .iter()
            .enumerate()
            .map(|(i, field)| self.line(*field, i == self.row, room))
            .collect();
        Paragraph::new(lines).block(block).render(form, buf);
        self.render_status(status, buf);
    }

    fn line(&self, field: Field, focused: bool, room: usize) -> Line<'_> {
        let label_style = if focused {
            theme::selected()
        } else {
            theme::dim()
        };
        let typed = crate::session::account::account_url(&self.url.text);
        let url_note = match self.url.text.trim() {
            "" => strings::CONNECT_URL_EMPTY.to_owned(),
            text if typed != text.trim_end_matches('/') => format!("→ {typed}"),
            _ => String::new(),
        };
        let (label, value, note) = match field {
            Field::Url => ("Zendesk URL", self.url.text.clone(), url_note.as_str()),
            Field::SignIn => ("Sign in", format!("‹ {} ›", self.sign_in.label()), ""),
            Field::ClientId => (
                "OAuth client id",
                self.client_id.text.clone(),
                match self.sign_in {
                    SignInChoice::Environment if self.client_id.text.is_empty() => {
                        strings::CONNECT_CLIENT_ID_EMPTY
                    }
                    SignInChoice::Environment => strings::CONNECT_CLIENT_ID_SET,
                    _ => "(OAuth from the environment only)",
                },
            ),
            Field::Email => (
                "Email",
                self.email.text.clone(),
                if self.sign_in == SignInChoice::ApiToken {
                    ""
                } else {
                    "(API token only)"
                },
            ),
            Field::Token => ("Token", self.masked_token(), self.token_note()),
            Field::Mode => ("Mode", format!("‹ {} ›", self.mode), mode_note(self.mode)),
            Field::Concurrency => ("Jobs at once", self.concurrency.text.clone(), "1 to 30"),
            Field::SkipVerify => (
                "Skip verify email",
                format!("‹ {} ›", if self.skip_verify_email { "yes" } else { "no" }),
                if self.skip_verify_email {
                    strings::CONNECT_SKIP_VERIFY_YES
                } else {
                    strings::CONNECT_SKIP_VERIFY_NO
                },
            ),
            Field::PhoneRegion => (
                "Phone region",
                self.phone_region.text.clone(),
                match self.phone_region() {
                    Ok(None) => strings::CONNECT_REGION_NONE,
                    Ok(Some(_)) => strings::CONNECT_REGION_SET,
                    Err(_) => strings::CONNECT_REGION_BAD,
                },
            ),
            Field::Test => ("", format!("[ {} ]", strings::CONNECT_TEST), ""),
        };
        let mut spans = vec![
            Span::styled(format!(" {label:>18} "), label_style),
            Span::raw(" "),
        ];
        match self.input(field).filter(|_| focused) {
            Some(input) => {
                let masked = (field == Field::Token).then_some('•');
                let note_room = text_width(note).min(room / 2) + 2;
                spans.extend(input.spans(room.saturating_sub(note_room), masked));
            }
            None => spans.push(Span::styled(value, Style::new().bold())),
        }
        spans.push(Span::styled(format!("  {note}"), theme::dim()));
        Line::from(spans)
    }

    /// The text field of a row, when it is one.
    fn input(&self, field: Field) -> Option<&TextInput> {
        match field {
            Field::Url => Some(&self.url),
            Field::ClientId => Some(&self.client_id),
            Field::Email => Some(&self.email),
            Field::Token if !self.token_from_env => Some(&self.token),
            Field::Concurrency => Some(&self.concurrency),
            Field::PhoneRegion => Some(&self.phone_region),
            _ => None,
        }
    }

    fn masked_token(&self) -> String {
        match self.token.text.chars().count() {
            0 => String::new(),
            _ if self.token_from_env => "•••••••• (from the environment)".to_owned(),
            n => "•".repeat(n.min(24)),
        }
    }

    fn token_note(&self) -> &'static str {
        match self.sign_in {
            SignInChoice::Environment => "(not used: sign-in comes from the environment)",
            SignInChoice::AccessToken | SignInChoice::ApiToken => "typed here, never shown",
        }
    }

    fn render_status(&self, area: Rect, buf: &mut Buffer) {
        let (text, colour) = match &self.connection {
            Connection::Untested if self.sandbox => {
                (strings::CONNECT_SANDBOX.to_owned(), theme::DIM)
            }
            Connection::Untested => (strings::CONNECT_UNTESTED.to_owned(), theme::DIM),
            Connection::Testing => (format!("{}…", strings::CONNECT_TESTING), theme::ACCENT),
            Connection::Connected(a) => {
                let mut text = format!(
                    "✓ Signed in as {} <{}>, {}, on {}. Enter or n goes on.",
                    a.name, a.email, a.role, a.url
                );
                if let Some(w) = &a.warning {
                    text.push_str(&format!("\n⚠ {w}"));
                }
                for finding in &a.doctor {
                    text.push_str(&format!("\n{finding}"));
                }
                (text, theme::OK)
            }
            Connection::Failed(e) => (format!("✗ {e}"), theme::ERROR),
        };
        Paragraph::new(text)
            .style(Style::new().fg(colour))
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(ratatui::widgets::Borders::NONE))
            .render(area.inner(ratatui::layout::Margin::new(1, 0)), buf);
    }
}

/// Width of a form row's label: ` {label:>18} `.
const LABEL_WIDTH: usize = 20;

fn mode_note(mode: Mode) -> &'static str {
    match mode {
        Mode::Create => "new users only: create_many",
        Mode::Upsert => "create or update by email/external_id",
        Mode::Update => "existing users by id/external_id",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn prefilled_from_the_environment_and_the_token_never_shown() {
        let s = ConnectState::new(
            env(&[
                ("ZENDESK_SUBDOMAIN", "acme"),
                ("ZENDESK_EMAIL", "ops@acme.com"),
                ("ZENDESK_API_TOKEN", "s3cr3t-token"),
            ]),
            Mode::Upsert,
            false,
        );
        assert_eq!(s.url.text, "https://acme.zendesk.com");
        assert_eq!(s.sign_in, SignInChoice::ApiToken);
        assert_eq!(s.masked_token(), "•••••••• (from the environment)");
        assert!(!format!("{s:?}").contains("s3cr3t"));
        let request = ConnectRequest {
            url: String::new(),
            sign_in: SignInChoice::ApiToken,
            client_id: String::new(),
            email: String::new(),
            token: "s3cr3t-token".into(),
        };
        assert!(!format!("{request:?}").contains("s3cr3t"));
    }

    #[test]
    fn typing_replaces_an_environment_token_and_the_test_is_asked_for() {
        let mut s = ConnectState::new(env(&[("ZENDESK_OAUTH_TOKEN", "old")]), Mode::Create, false);
        s.row = 4;
        assert!(s.is_typing());
        s.update(&Action::Char('n'));
        s.update(&Action::Char('w'));
        assert_eq!(s.masked_token(), "••");
        s.row = 1;
        s.update(&Action::Right);
        assert_eq!(s.sign_in, SignInChoice::AccessToken);
        s.row = 9;
        let Some(ConnectOutcome::Test(request)) = s.update(&Action::Enter) else {
            panic!("test asked for")
        };
        assert_eq!(request.token, "nw");
        assert_eq!(s.connection, Connection::Testing);
        assert_eq!(s.update(&Action::Next), None, "not connected yet");
    }

    #[test]
    fn mode_skip_verify_and_concurrency() {
        let mut s = ConnectState::new(|_| None, Mode::Upsert, false);
        s.row = 5;
        s.update(&Action::Left);
        assert_eq!(s.mode, Mode::Create);
        s.row = 7;
        s.update(&Action::Char(' '));
        assert!(s.skip_verify_email);
        s.row = 6;
        s.update(&Action::Backspace);
        s.update(&Action::Backspace);
        s.update(&Action::Char('x'));
        for c in "99".chars() {
            s.update(&Action::Char(c));
        }
        assert_eq!(s.concurrency(), 30, "Zendesk queues at most 30 jobs");
    }

    #[test]
    fn the_client_id_typed_here_goes_with_the_test() {
        let mut s = ConnectState::new(
            env(&[("ZENDESK_CLIENT_ID", "from_env")]),
            Mode::Upsert,
            false,
        );
        assert_eq!(s.client_id.text, "from_env");
        s.row = 2;
        assert!(s.is_typing());
        for _ in 0.."from_env".len() {
            s.update(&Action::Backspace);
        }
        for c in "acme_zdimport".chars() {
            s.update(&Action::Char(c));
        }
        s.row = 9;
        let Some(ConnectOutcome::Test(request)) = s.update(&Action::Enter) else {
            panic!("test asked for")
        };
        assert_eq!(request.client_id, "acme_zdimport");
        assert_eq!(request.sign_in, SignInChoice::Environment);
    }

    #[test]
    fn phone_region_takes_two_letters_and_a_bad_one_holds_the_screen() {
        let mut s = ConnectState::new(|_| None, Mode::Upsert, false);
        s.row = 8;
        assert!(s.is_typing());
        for c in "d1eX".chars() {
            s.update(&Action::Char(c));
        }
        assert_eq!(s.phone_region.text, "DE");
        assert_eq!(s.phone_region(), Ok("DE".parse().ok()));
        s.update(&Action::Backspace);
        s.update(&Action::Backspace);
        assert_eq!(s.phone_region(), Ok(None));
        s.update(&Action::Char('z'));
        s.update(&Action::Char('z'));
        assert!(s.phone_region().is_err());
        s.connection = connected();
        s.row = 9;
        assert_eq!(s.update(&Action::Next), None);
        assert_eq!(s.row, 8, "back on the region, whose note says why");
        s.phone_region = TextInput::new("GB");
        s.row = 9;
        assert_eq!(s.update(&Action::Next), Some(ConnectOutcome::Next));
    }

    #[rstest::rstest]
    #[case::subdomain("acme", "https://acme.zendesk.com/")]
    #[case::host("acme.zendesk.com", "https://acme.zendesk.com/")]
    #[case::host_slash(" acme.zendesk.com/ ", "https://acme.zendesk.com/")]
    #[case::url("https://acme.zendesk.com", "https://acme.zendesk.com/")]
    #[case::custom_domain("support.acme.com", "https://support.acme.com/")]
    #[case::sandbox_host("127.0.0.1:8080", "http://127.0.0.1:8080/")]
    #[case::sandbox_url("http://127.0.0.1:8080/", "http://127.0.0.1:8080/")]
    #[case::localhost("localhost:3000", "http://localhost:3000/")]
    fn a_subdomain_host_or_url_is_an_account(#[case] typed: &str, #[case] url: &str) {
        let parsed = crate::session::account::base_url(
            Some(&crate::session::account::account_url(typed)),
            None,
        );
        assert_eq!(parsed.map(|u| u.to_string()).ok().as_deref(), Some(url));
    }

    #[test]
    fn plain_http_to_another_host_is_refused_with_a_reason() {
        let err = crate::session::account::base_url(
            Some(&crate::session::account::account_url(
                "http://acme.zendesk.com",
            )),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("use https"), "{err}");
    }

    fn connected() -> Connection {
        Connection::Connected(Account {
            url: "https://acme.zendesk.com".into(),
            name: "Ops".into(),
            email: "ops@acme.com".into(),
            role: "admin".into(),
            warning: None,
            doctor: Vec::new(),
        })
    }

    #[test]
    fn enter_on_a_successful_test_goes_on_and_an_edit_makes_it_due_again() {
        let mut s = ConnectState::new(env(&[("ZENDESK_SUBDOMAIN", "acme")]), Mode::Upsert, false);
        assert_eq!(s.row, 9, "on the test");
        s.connection = connected();
        assert_eq!(s.update(&Action::Enter), Some(ConnectOutcome::Next));
        s.row = 0;
        s.update(&Action::Left);
        assert!(s.is_connected(), "moving the cursor changes nothing");
        s.update(&Action::Backspace);
        assert_eq!(s.connection, Connection::Untested);
        s.row = 9;
        assert!(matches!(
            s.update(&Action::Enter),
            Some(ConnectOutcome::Test(_))
        ));
    }

    #[test]
    fn the_url_edits_at_the_cursor_and_the_test_sends_the_whole_url() {
        let mut s = ConnectState::new(|_| None, Mode::Upsert, false);
        for c in "acmezendesk.com".chars() {
            s.update(&Action::Char(c));
        }
        for _ in 0.."zendesk.com".len() {
            s.update(&Action::Left);
        }
        s.update(&Action::Char('.'));
        s.update(&Action::Edit(Edit::Start));
        s.update(&Action::Edit(Edit::Delete));
        s.update(&Action::Char('A'));
        assert_eq!(s.url.text, "Acme.zendesk.com");
        s.update(&Action::Edit(Edit::DeleteToStart));
        s.update(&Action::Edit(Edit::DeleteToEnd));
        assert_eq!(s.url.text, "");
        for c in "acme".chars() {
            s.update(&Action::Char(c));
        }
        s.row = 9;
        let Some(ConnectOutcome::Test(request)) = s.update(&Action::Enter) else {
            panic!("test asked for")
        };
        assert_eq!(request.url, "https://acme.zendesk.com");
    }

    fn frame(
        s: &ConnectState,
        width: u16,
        height: u16,
    ) -> ratatui::Terminal<ratatui::backend::TestBackend> {
        crate::tui::widgets::drawn(width, height, |area, buf| s.render(area, buf))
    }

    #[test]
    fn connect_editing_the_url_80x24() {
        let mut s = ConnectState::new(|_| None, Mode::Upsert, false);
        insta::assert_snapshot!("connect_empty_80x24", frame(&s, 80, 24).backend());
        for c in "acme.zendesk.com".chars() {
            s.update(&Action::Char(c));
        }
        for _ in 0..".zendesk.com".len() {
            s.update(&Action::Left);
        }
        // The cursor is drawn on the dot after "acme"; the note says the URL the test uses.
        insta::assert_snapshot!("connect_editing_80x24", frame(&s, 80, 24).backend());
        let buffer = frame(&s, 80, 24).backend().buffer().clone();
        let dot = buffer.content().iter().position(|c| {
            c.symbol() == "." && c.modifier.contains(ratatui::style::Modifier::REVERSED)
        });
        assert_eq!(
            dot.map(|i| i % 80),
            Some(26),
            "cursor after 'acme' (1 + 20 + 1 + 4)"
        );
    }
}

/// The screen within the whole app: snapshots of its states, and its keys.
#[cfg(test)]
mod app_tests {
    use crate::tui::testing::*;

    #[test]
    fn connect_screen() {
        let mut app = connect_app();
        assert_eq!(app.screen.step(), 5);
        insta::assert_snapshot!(frame(&mut app, 100, 30).backend());
        let Some(Command::TestConnection(request)) = app.update(Action::Enter) else {
            panic!("connection test");
        };
        assert_eq!(request.url, "http://127.0.0.1:8080");
        app.handle(AppEvent::Connected(Ok(screens::connect::Account {
            url: "http://127.0.0.1:8080/".into(),
            name: "Sandbox Admin".into(),
            email: "admin@sandbox.example".into(),
            role: "admin".into(),
            warning: None,
            doctor: vec![
                "✗ User tagging: `tagging` off — Zendesk ignores tags on users: a tags column \
                 changes nothing"
                    .into(),
                "Account checked (read-only): 9 of 13 as expected; `zdimport doctor` lists all."
                    .into(),
            ],
        })));
        insta::assert_snapshot!("connect_connected_80x24", frame(&mut app, 80, 24).backend());
        app.handle(AppEvent::Connected(Err(
            "Zendesk refused the sign-in: check the email and token, or sign in again \
             (GET /api/v2/users/me.json: HTTP 401: Couldn't authenticate you)"
                .into(),
        )));
        insta::assert_snapshot!("connect_failed", frame(&mut app, 100, 30).backend());
        // Esc keeps the mode and options chosen here.
        if let Screen::Connect(state) = &mut app.screen {
            state.mode = crate::session::check::Mode::Create;
        }
        app.update(Action::Back);
        assert_eq!(app.session.mode, crate::session::check::Mode::Create);
        assert_eq!(app.screen.step(), 4);
    }
}

//! Keys to actions, per screen; the same table feeds the hint bar and the help overlay.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::{Action, Edit};

/// Which screen (or overlay) has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyContext {
    Open,
    Sheet,
    Map,
    Check,
    Preview,
    Connect,
    Plan,
    /// Run, sending: pause or cancel.
    Run,
    /// Run, paused: resume or cancel.
    RunPaused,
    /// Run, over (finished, cancelled or stopped): the results.
    RunOver,
    /// Run, starting or cancelling: nothing to ask for but to wait.
    RunWaiting,
    /// Plan, checked: the lookups wait for the operator.
    PlanOffer,
    /// Plan, checking the rows or looking the users up.
    PlanWaiting,
    Results,
    /// A text field has focus: characters are typed, not commands.
    Typing,
    /// A yes/no question.
    Confirm,
    /// The help or an error popup: any close key closes it.
    Popup,
}

/// One line of the key help: keys and what they do; `hint` ones also go on the bottom bar.
pub struct KeyHelp {
    pub keys: &'static str,
    pub does: &'static str,
    pub hint: bool,
}

const fn k(keys: &'static str, does: &'static str, hint: bool) -> KeyHelp {
    KeyHelp { keys, does, hint }
}

const COMMON: [KeyHelp; 3] = [
    k("?", "help", true),
    k("Esc", "back", false),
    k("q", "quit", true),
];

const OPEN_KEYS: &[KeyHelp] = &[
    k("↑↓", "choose", true),
    k("Enter", "open", true),
    k("Backspace", "up", true),
    k("a-z /", "filter, path", true),
    k("PgUp PgDn Home End", "move faster", false),
];
const SHEET_KEYS: &[KeyHelp] = &[
    k("↑↓", "sheet", true),
    k("[ ]", "header row up/down", true),
    k("←→", "scroll columns", false),
    k("Tab", "focus grid / sheets", false),
    k("Enter", "use this table", true),
];
const MAP_KEYS: &[KeyHelp] = &[
    k("↑↓", "column", false),
    k("Enter", "target", true),
    k("c", "custom", true),
    k("t", "transform", true),
    k("x", "ignore", false),
    k("m", "mode", false),
    k("s", "save", true),
    k("p", "load profile", false),
    k("n", "check", true),
    k("/", "target", false),
];
const CHECK_KEYS: &[KeyHelp] = &[
    k("↑↓", "problem", false),
    k("f", "filter", true),
    k("i", "invalid rows", true),
    k("Enter", "row", true),
    k("n", "preview", true),
];
const PREVIEW_KEYS: &[KeyHelp] = &[
    k("↑↓ PgUp PgDn", "scroll", true),
    k("←→", "request", true),
    k("g", "go to row", true),
    k("n", "connect", true),
];
const CONNECT_KEYS: &[KeyHelp] = &[
    k("↑↓", "field", true),
    k("←→ Space", "change", true),
    k("Enter", "test / go on", true),
];
const PLAN_OFFER_KEYS: &[KeyHelp] = &[
    k("Enter", "look up", true),
    k("s", "skip", true),
    k("x", "existing (create)", false),
    k("t", "tags add/replace", false),
    k("o", "missing organizations", false),
    k("e", "new email primary", false),
];
const PLAN_KEYS: &[KeyHelp] = &[
    k("Enter", "row in full", true),
    k("f", "filter", true),
    k("u", "unchanged", true),
    k("x", "existing (create)", false),
    k("t", "tags add/replace", false),
    k("o", "missing organizations", false),
    k("e", "new email primary", false),
    k("n", "import", true),
];
const RUN_KEYS: &[KeyHelp] = &[k("p", "pause", true), k("c", "cancel", true)];
const RUN_PAUSED_KEYS: &[KeyHelp] = &[k("p", "resume", true), k("c", "cancel", true)];
const RUN_OVER_KEYS: &[KeyHelp] = &[k("n Enter", "results", true), k("o", "new import", true)];
const RESULTS_KEYS: &[KeyHelp] = &[
    k("↑↓", "row", false),
    k("f", "filter", true),
    k("/", "search", false),
    k("Enter", "detail", true),
    k("e", "export", true),
    k("r", "retry", true),
    k("o", "new import", true),
    k("u", "resume (rows not sent)", false),
];
const TYPING_KEYS: &[KeyHelp] = &[
    k("Enter", "accept", true),
    k("Esc", "cancel", true),
    k("↑↓", "choose", true),
];
const CONFIRM_KEYS: &[KeyHelp] = &[k("y", "yes", true), k("n Esc", "no", true)];
const POPUP_KEYS: &[KeyHelp] = &[k("Esc Enter", "close", true)];

/// The keys of a context, for the bottom bar and `?`.
pub fn help(context: KeyContext) -> &'static [KeyHelp] {
    match context {
        KeyContext::Open => OPEN_KEYS,
        KeyContext::Sheet => SHEET_KEYS,
        KeyContext::Map => MAP_KEYS,
        KeyContext::Check => CHECK_KEYS,
        KeyContext::Preview => PREVIEW_KEYS,
        KeyContext::Connect => CONNECT_KEYS,
        KeyContext::Plan => PLAN_KEYS,
        KeyContext::PlanOffer => PLAN_OFFER_KEYS,
        KeyContext::PlanWaiting => &[],
        KeyContext::Run => RUN_KEYS,
        KeyContext::RunPaused => RUN_PAUSED_KEYS,
        KeyContext::RunOver => RUN_OVER_KEYS,
        KeyContext::RunWaiting => &[],
        KeyContext::Results => RESULTS_KEYS,
        KeyContext::Typing => TYPING_KEYS,
        KeyContext::Confirm => CONFIRM_KEYS,
        KeyContext::Popup => POPUP_KEYS,
    }
}

/// Keys every screen shares.
pub fn common_help() -> &'static [KeyHelp] {
    &COMMON
}

/// What `key` means in `context`; `None` for keys with no meaning there.
pub fn action(context: KeyContext, key: KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Interrupt);
    }
    match context {
        KeyContext::Typing => typing(key),
        KeyContext::Confirm => match key.code {
            KeyCode::Char('y' | 'Y') => Some(Action::Yes),
            KeyCode::Char('s' | 'S') => Some(Action::SaveProfile),
            KeyCode::Char('a' | 'A') => Some(Action::RetryAll),
            KeyCode::Char('c' | 'C') => Some(Action::RetryCorrected),
            KeyCode::Char('n' | 'N') | KeyCode::Esc => Some(Action::No),
            _ => None,
        },
        KeyContext::Popup => match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?' | 'q') => Some(Action::Back),
            code => navigation(code),
        },
        // Letters start the browser's filter; only `q` and `?` keep their meaning.
        KeyContext::Open if matches!(key.code, KeyCode::Char(c) if c != 'q' && c != '?') => {
            typing(key)
        }
        screen => navigation(key.code)
            .or_else(|| common(key.code))
            .or_else(|| screen_key(screen, key.code)),
    }
}

fn typing(key: KeyEvent) -> Option<Action> {
    let control = key.modifiers.contains(KeyModifiers::CONTROL);
    // AltGr arrives as Ctrl+Alt on some systems: that is a typed character.
    let alt_gr = control && key.modifiers.contains(KeyModifiers::ALT);
    if let (KeyCode::Char(c), true, false) = (key.code, control, alt_gr) {
        // A shell line's keys; any other Ctrl (or Alt) letter types nothing.
        return Some(match c {
            'a' => Action::Edit(Edit::Start),
            'e' => Action::Edit(Edit::End),
            'u' => Action::Edit(Edit::DeleteToStart),
            'k' => Action::Edit(Edit::DeleteToEnd),
            'w' => Action::Edit(Edit::DeleteWord),
            'h' => Action::Backspace,
            _ => return None,
        });
    }
    match key.code {
        KeyCode::Char(_) if key.modifiers.contains(KeyModifiers::ALT) && !alt_gr => None,
        KeyCode::Enter => Some(Action::Enter),
        KeyCode::Esc => Some(Action::Back),
        KeyCode::Backspace => Some(Action::Backspace),
        KeyCode::Delete => Some(Action::Edit(Edit::Delete)),
        KeyCode::Home => Some(Action::Home),
        KeyCode::End => Some(Action::End),
        KeyCode::Up => Some(Action::Up),
        KeyCode::Down => Some(Action::Down),
        KeyCode::Left => Some(Action::Left),
        KeyCode::Right => Some(Action::Right),
        KeyCode::Tab => Some(Action::NextPane),
        KeyCode::Char(c) => Some(Action::Char(c)),
        _ => None,
    }
}

fn navigation(code: KeyCode) -> Option<Action> {
    Some(match code {
        KeyCode::Up => Action::Up,
        KeyCode::Down => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home => Action::Home,
        KeyCode::End => Action::End,
        KeyCode::Left => Action::Left,
        KeyCode::Right => Action::Right,
        KeyCode::Enter => Action::Enter,
        KeyCode::Tab => Action::NextPane,
        _ => return None,
    })
}

fn common(code: KeyCode) -> Option<Action> {
    Some(match code {
        KeyCode::Esc => Action::Back,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('k') => Action::Up,
        KeyCode::Char('j') => Action::Down,
        _ => return None,
    })
}

fn screen_key(screen: KeyContext, code: KeyCode) -> Option<Action> {
    let KeyCode::Char(c) = code else {
        return (code == KeyCode::Backspace && screen == KeyContext::Open)
            .then_some(Action::Parent);
    };
    Some(match (screen, c) {
        (KeyContext::Sheet, '[' | '-') => Action::HeaderUp,
        (KeyContext::Sheet, ']' | '+') => Action::HeaderDown,
        (KeyContext::Map, 'c') => Action::CustomField,
        (KeyContext::Map, 't') => Action::Transform,
        (KeyContext::Map, 'x') => Action::Ignore,
        (KeyContext::Map, 's') => Action::SaveProfile,
        (KeyContext::Map, 'p') => Action::LoadProfile,
        (KeyContext::Map | KeyContext::Check | KeyContext::Preview | KeyContext::Connect, 'n') => {
            Action::Next
        }
        (KeyContext::Map, 'm') => Action::Mode,
        (KeyContext::Map, '/') => Action::PickTarget,
        (KeyContext::Check, 'f') => Action::Filter,
        (KeyContext::Check, 'i') => Action::InvalidRows,
        (KeyContext::Preview, 'g') => Action::Jump,
        (KeyContext::PlanOffer, 's') => Action::SkipPlan,
        (KeyContext::Plan, 'f') => Action::Filter,
        (KeyContext::Plan, 'u') => Action::Unchanged,
        (KeyContext::Plan | KeyContext::PlanOffer, 'x') => Action::Existing,
        (KeyContext::Plan | KeyContext::PlanOffer, 't') => Action::Tags,
        (KeyContext::Plan | KeyContext::PlanOffer, 'o') => Action::MissingOrgs,
        (KeyContext::Plan | KeyContext::PlanOffer, 'e') => Action::MakePrimary,
        (KeyContext::Plan, 'n') => Action::Next,
        (KeyContext::Run | KeyContext::RunPaused, 'p') => Action::Pause,
        (KeyContext::Run | KeyContext::RunPaused, 'c') => Action::Cancel,
        (KeyContext::RunOver, 'n') => Action::Next,
        (KeyContext::RunOver | KeyContext::Results, 'o') => Action::NewImport,
        (KeyContext::Results, 'f') => Action::Filter,
        (KeyContext::Results, '/') => Action::Search,
        (KeyContext::Results, 'e') => Action::Export,
        (KeyContext::Results, 'r') => Action::Retry,
        (KeyContext::Results, 'u') => Action::ResumeRun,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[rstest]
    #[case(KeyContext::Sheet, KeyCode::Char(']'), Some(Action::HeaderDown))]
    #[case(KeyContext::Map, KeyCode::Char(']'), None)]
    #[case(KeyContext::Map, KeyCode::Char('x'), Some(Action::Ignore))]
    #[case(KeyContext::Plan, KeyCode::Char('o'), Some(Action::MissingOrgs))]
    #[case(KeyContext::Typing, KeyCode::Char('x'), Some(Action::Char('x')))]
    #[case(KeyContext::Typing, KeyCode::Char('q'), Some(Action::Char('q')))]
    #[case(KeyContext::Open, KeyCode::Char('q'), Some(Action::Quit))]
    #[case(KeyContext::Open, KeyCode::Backspace, Some(Action::Parent))]
    #[case(KeyContext::Open, KeyCode::Char('j'), Some(Action::Char('j')))]
    #[case(KeyContext::Open, KeyCode::Char('~'), Some(Action::Char('~')))]
    #[case(KeyContext::Confirm, KeyCode::Char('y'), Some(Action::Yes))]
    #[case(KeyContext::Popup, KeyCode::Char('?'), Some(Action::Back))]
    fn keys_mean_actions_per_screen(
        #[case] ctx: KeyContext,
        #[case] code: KeyCode,
        #[case] want: Option<Action>,
    ) {
        assert_eq!(action(ctx, key(code)), want);
    }

    #[rstest]
    #[case(
        KeyCode::Char('a'),
        KeyModifiers::CONTROL,
        Some(Action::Edit(Edit::Start))
    )]
    #[case(
        KeyCode::Char('w'),
        KeyModifiers::CONTROL,
        Some(Action::Edit(Edit::DeleteWord))
    )]
    #[case(KeyCode::Char('x'), KeyModifiers::CONTROL, None)]
    #[case(KeyCode::Char('b'), KeyModifiers::ALT, None)]
    #[case(KeyCode::Char('@'), KeyModifiers::CONTROL | KeyModifiers::ALT, Some(Action::Char('@')))]
    #[case(KeyCode::Char('A'), KeyModifiers::SHIFT, Some(Action::Char('A')))]
    #[case(KeyCode::Delete, KeyModifiers::NONE, Some(Action::Edit(Edit::Delete)))]
    #[case(KeyCode::Home, KeyModifiers::NONE, Some(Action::Home))]
    fn a_text_field_edits_like_a_shell_line_and_types_no_stray_letters(
        #[case] code: KeyCode,
        #[case] modifiers: KeyModifiers,
        #[case] want: Option<Action>,
    ) {
        let key = KeyEvent::new(code, modifiers);
        assert_eq!(action(KeyContext::Typing, key), want);
    }

    #[test]
    fn ctrl_c_always_quits() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for ctx in [KeyContext::Typing, KeyContext::Map, KeyContext::Popup] {
            assert_eq!(action(ctx, ctrl_c), Some(Action::Interrupt));
        }
    }

    #[test]
    fn every_context_has_hints() {
        for ctx in [
            KeyContext::Open,
            KeyContext::Sheet,
            KeyContext::Map,
            KeyContext::Check,
            KeyContext::Preview,
        ] {
            assert!(help(ctx).iter().any(|h| h.hint), "{ctx:?}");
        }
    }
}

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
    /// Preview of the only request: nothing to page between.
    PreviewOne,
    Connect,
    /// Connect, the focus on the connection test.
    ConnectTest,
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

/// One line of the key help and what its keys do: `keys` and `does` for the hint bar and
/// `?` (`hint` ones go on the bar), `binds` for dispatch. A key bound to `None` is one every
/// screen shares (arrows, Enter, Esc, `q`, `?`): listed here, handled in one place.
pub struct KeyHelp {
    pub keys: &'static str,
    pub does: &'static str,
    pub hint: bool,
    pub binds: &'static [(KeyCode, Option<Action>)],
}

const fn k(
    keys: &'static str,
    does: &'static str,
    hint: bool,
    binds: &'static [(KeyCode, Option<Action>)],
) -> KeyHelp {
    KeyHelp {
        keys,
        does,
        hint,
        binds,
    }
}

/// A letter bound to an action on one screen.
const fn ch(c: char, action: Action) -> (KeyCode, Option<Action>) {
    (KeyCode::Char(c), Some(action))
}

/// A key every screen shares, listed on one.
const fn shared(code: KeyCode) -> (KeyCode, Option<Action>) {
    (code, None)
}

const UP_DOWN: &[(KeyCode, Option<Action>)] = &[shared(KeyCode::Up), shared(KeyCode::Down)];
const ENTER: &[(KeyCode, Option<Action>)] = &[shared(KeyCode::Enter)];
const LEFT_RIGHT: &[(KeyCode, Option<Action>)] = &[shared(KeyCode::Left), shared(KeyCode::Right)];
const PAGES: &[(KeyCode, Option<Action>)] = &[
    shared(KeyCode::PageUp),
    shared(KeyCode::PageDown),
    shared(KeyCode::Home),
    shared(KeyCode::End),
];

const COMMON: [KeyHelp; 3] = [
    k("?", "help", true, &[shared(KeyCode::Char('?'))]),
    k("Esc", "back", false, &[shared(KeyCode::Esc)]),
    k("q", "quit", true, &[shared(KeyCode::Char('q'))]),
];

const OPEN_KEYS: &[KeyHelp] = &[
    k("↑↓", "choose", true, UP_DOWN),
    k("Enter", "open", true, ENTER),
    k(
        "Backspace",
        "up",
        true,
        &[(KeyCode::Backspace, Some(Action::Parent))],
    ),
    // Letters go to the filter (see `action`): any letter, `/`, `~`.
    k(
        "a-z /",
        "filter, path",
        true,
        &[shared(KeyCode::Char('a')), shared(KeyCode::Char('/'))],
    ),
    k("PgUp PgDn Home End", "move faster", false, PAGES),
];
const SHEET_KEYS: &[KeyHelp] = &[
    k("↑↓", "sheet", true, UP_DOWN),
    k(
        "[ ]",
        "header row up/down",
        true,
        &[
            ch('[', Action::HeaderUp),
            ch(']', Action::HeaderDown),
            ch('-', Action::HeaderUp),
            ch('+', Action::HeaderDown),
        ],
    ),
    k("←→", "scroll columns", false, LEFT_RIGHT),
    k("Tab", "focus grid / sheets", false, &[shared(KeyCode::Tab)]),
    k("Enter", "use this table", true, ENTER),
];
const MAP_KEYS: &[KeyHelp] = &[
    k("↑↓", "column", false, UP_DOWN),
    k("Enter", "target", true, ENTER),
    k("c", "custom", true, &[ch('c', Action::CustomField)]),
    k("t", "transform", true, &[ch('t', Action::Transform)]),
    k("x", "ignore", false, &[ch('x', Action::Ignore)]),
    k("m", "mode", false, &[ch('m', Action::Mode)]),
    k("o", "users/orgs", false, &[ch('o', Action::Object)]),
    k("s", "save", true, &[ch('s', Action::SaveProfile)]),
    k("p", "load profile", false, &[ch('p', Action::LoadProfile)]),
    k("n", "check", true, &[ch('n', Action::Next)]),
    k("/", "target", false, &[ch('/', Action::PickTarget)]),
];
const CHECK_KEYS: &[KeyHelp] = &[
    k("↑↓", "problem", false, UP_DOWN),
    k("f", "filter", true, &[ch('f', Action::Filter)]),
    k("i", "invalid rows", true, &[ch('i', Action::InvalidRows)]),
    k("Enter", "row", true, ENTER),
    k("n", "preview", true, &[ch('n', Action::Next)]),
];
const SCROLL: &[(KeyCode, Option<Action>)] = &[
    shared(KeyCode::Up),
    shared(KeyCode::Down),
    shared(KeyCode::PageUp),
    shared(KeyCode::PageDown),
];
const PREVIEW_KEYS: &[KeyHelp] = &[
    k("↑↓ PgUp PgDn", "scroll", true, SCROLL),
    k("←→", "request", true, LEFT_RIGHT),
    k("g", "go to row", true, &[ch('g', Action::Jump)]),
    k("n", "connect", true, &[ch('n', Action::Next)]),
];
const PREVIEW_ONE_KEYS: &[KeyHelp] = &[
    k("↑↓ PgUp PgDn", "scroll", true, SCROLL),
    k("g", "go to row", true, &[ch('g', Action::Jump)]),
    k("n", "connect", true, &[ch('n', Action::Next)]),
];
const CONNECT_KEYS: &[KeyHelp] = &[
    k("↑↓", "field", true, UP_DOWN),
    k(
        "←→ Space",
        "change",
        true,
        &[
            shared(KeyCode::Left),
            shared(KeyCode::Right),
            (KeyCode::Char(' '), Some(Action::Right)),
        ],
    ),
    k("Enter", "test / go on", true, ENTER),
    k("n", "go on", false, &[ch('n', Action::Next)]),
];
const CONNECT_TEST_KEYS: &[KeyHelp] = &[
    k("↑↓", "field", true, UP_DOWN),
    k("Enter", "test / go on", true, ENTER),
    k("n", "go on", false, &[ch('n', Action::Next)]),
];
// The plan's choices, offered before the lookups and after.
const PLAN_EXISTING: KeyHelp = k(
    "x",
    "existing (create)",
    false,
    &[ch('x', Action::Existing)],
);
const PLAN_TAGS: KeyHelp = k("t", "tags add/replace", false, &[ch('t', Action::Tags)]);
const PLAN_MISSING_ORGS: KeyHelp = k(
    "o",
    "missing organizations",
    false,
    &[ch('o', Action::MissingOrgs)],
);
const PLAN_MAKE_PRIMARY: KeyHelp = k(
    "e",
    "new email primary",
    false,
    &[ch('e', Action::MakePrimary)],
);
const PLAN_OFFER_KEYS: &[KeyHelp] = &[
    k("Enter", "look up", true, ENTER),
    k("s", "skip", true, &[ch('s', Action::SkipPlan)]),
    PLAN_EXISTING,
    PLAN_TAGS,
    PLAN_MISSING_ORGS,
    PLAN_MAKE_PRIMARY,
];
const PLAN_KEYS: &[KeyHelp] = &[
    k("Enter", "row in full", true, ENTER),
    k("f", "filter", true, &[ch('f', Action::Filter)]),
    k("u", "unchanged", true, &[ch('u', Action::Unchanged)]),
    PLAN_EXISTING,
    PLAN_TAGS,
    PLAN_MISSING_ORGS,
    PLAN_MAKE_PRIMARY,
    k("n", "import", true, &[ch('n', Action::Next)]),
];
const RUN_KEYS: &[KeyHelp] = &[
    k("p", "pause", true, &[ch('p', Action::Pause)]),
    k("c", "cancel", true, &[ch('c', Action::Cancel)]),
];
const RUN_PAUSED_KEYS: &[KeyHelp] = &[
    k("p", "resume", true, &[ch('p', Action::Pause)]),
    k("c", "cancel", true, &[ch('c', Action::Cancel)]),
];
const RUN_OVER_KEYS: &[KeyHelp] = &[
    k(
        "n Enter",
        "results",
        true,
        &[ch('n', Action::Next), shared(KeyCode::Enter)],
    ),
    k("o", "new import", true, &[ch('o', Action::NewImport)]),
];
const RESULTS_KEYS: &[KeyHelp] = &[
    k("↑↓", "row", false, UP_DOWN),
    k("f", "filter", true, &[ch('f', Action::Filter)]),
    k("/", "search", false, &[ch('/', Action::Search)]),
    k("Enter", "detail", true, ENTER),
    k("e", "export", true, &[ch('e', Action::Export)]),
    k("r", "retry", true, &[ch('r', Action::Retry)]),
    k("o", "new import", true, &[ch('o', Action::NewImport)]),
    k(
        "u",
        "resume (rows not sent)",
        false,
        &[ch('u', Action::ResumeRun)],
    ),
];
// Typing, Confirm and Popup keys are dispatched by `typing` and `action` themselves.
const TYPING_KEYS: &[KeyHelp] = &[
    k("Enter", "accept", true, ENTER),
    k("Esc", "cancel", true, &[shared(KeyCode::Esc)]),
    k("↑↓", "choose", true, UP_DOWN),
];
const CONFIRM_KEYS: &[KeyHelp] = &[
    k("y", "yes", true, &[shared(KeyCode::Char('y'))]),
    k(
        "n Esc",
        "no",
        true,
        &[shared(KeyCode::Char('n')), shared(KeyCode::Esc)],
    ),
];
const POPUP_KEYS: &[KeyHelp] = &[k(
    "Esc Enter",
    "close",
    true,
    &[shared(KeyCode::Esc), shared(KeyCode::Enter)],
)];

/// The keys of a context, for the bottom bar and `?`.
pub fn help(context: KeyContext) -> &'static [KeyHelp] {
    match context {
        KeyContext::Open => OPEN_KEYS,
        KeyContext::Sheet => SHEET_KEYS,
        KeyContext::Map => MAP_KEYS,
        KeyContext::Check => CHECK_KEYS,
        KeyContext::Preview => PREVIEW_KEYS,
        KeyContext::PreviewOne => PREVIEW_ONE_KEYS,
        KeyContext::Connect => CONNECT_KEYS,
        KeyContext::ConnectTest => CONNECT_TEST_KEYS,
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

/// What the hint bar offers in `context`: its hinted keys, then the shared ones, except while
/// a field, question or popup has the keys (`q` and `?` are not commands there).
pub fn hints(context: KeyContext) -> impl Iterator<Item = &'static KeyHelp> {
    let common = match context {
        KeyContext::Typing | KeyContext::Confirm | KeyContext::Popup => &[][..],
        _ => common_help(),
    };
    help(context).iter().chain(common).filter(|h| h.hint)
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

/// A screen's own key, from its table.
fn screen_key(screen: KeyContext, code: KeyCode) -> Option<Action> {
    help(screen)
        .iter()
        .flat_map(|line| line.binds)
        .find(|(key, _)| *key == code)
        .and_then(|(_, action)| action.clone())
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

    /// Every key a help line lists reaches an action: the screen's own as bound, a shared
    /// one through the keys every screen has.
    #[test]
    fn every_listed_key_is_dispatched() {
        for ctx in ALL {
            for line in help(ctx).iter().chain(hints(ctx)) {
                for (code, bound) in line.binds {
                    let got = action(ctx, key(*code));
                    match bound {
                        Some(want) => assert_eq!(got.as_ref(), Some(want), "{ctx:?} {code:?}"),
                        None => assert!(got.is_some(), "{ctx:?}: {} ({code:?})", line.keys),
                    }
                }
            }
        }
    }

    const ALL: [KeyContext; 19] = [
        KeyContext::Open,
        KeyContext::Sheet,
        KeyContext::Map,
        KeyContext::Check,
        KeyContext::Preview,
        KeyContext::PreviewOne,
        KeyContext::Connect,
        KeyContext::ConnectTest,
        KeyContext::Plan,
        KeyContext::Run,
        KeyContext::RunPaused,
        KeyContext::RunOver,
        KeyContext::RunWaiting,
        KeyContext::PlanOffer,
        KeyContext::PlanWaiting,
        KeyContext::Results,
        KeyContext::Typing,
        KeyContext::Confirm,
        KeyContext::Popup,
    ];

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

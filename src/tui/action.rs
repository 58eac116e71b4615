//! What a key means, independent of the key: screens and tests speak actions.

/// Everything the operator can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Left,
    Right,
    /// Confirm, open, go on to the next step.
    Enter,
    /// `Esc`: close the overlay, else go back a step.
    Back,
    /// `q`: quit (asks first when work would be lost).
    Quit,
    /// Ctrl-C: asks like `q`; a second Ctrl-C while it asks quits at once.
    Interrupt,
    /// The terminal closed or SIGTERM: quit at once, without asking.
    ForceQuit,
    Help,
    /// Switch focus between the panes of a screen.
    NextPane,
    /// Sheet: move the header row up or down.
    HeaderUp,
    HeaderDown,
    /// Map: pick a target, type a custom field key, edit the transform, ignore.
    PickTarget,
    CustomField,
    Transform,
    Ignore,
    SaveProfile,
    LoadProfile,
    /// Map: next import mode.
    Mode,
    /// Map: what the rows are, users or organizations.
    Object,
    /// Plan: send or skip unchanged rows; what create mode does with existing users; go on
    /// without the plan.
    Unchanged,
    Existing,
    /// Plan: replace an existing user's tags or add the row's to them.
    Tags,
    /// Plan: what happens to users whose organization the account lacks.
    MissingOrgs,
    /// Plan: make a new email of an existing user its primary one, or add it as secondary.
    MakePrimary,
    SkipPlan,
    /// Run: pause or resume sending; cancel the import.
    Pause,
    Cancel,
    /// Results: search, export, retry the failures.
    Search,
    Export,
    Retry,
    /// The retry question: send every failure as it is; re-read the corrected sheet.
    RetryAll,
    RetryCorrected,
    /// Results: go on with a cancelled run (its rows not sent).
    ResumeRun,
    /// Go on to the next step.
    Next,
    /// Run (finished) and Results: start another import from the file browser, keeping the
    /// account.
    NewImport,
    /// Check: cycle the problem filter. Preview: jump to the batch of a row.
    Filter,
    /// Check: the next invalid-row policy (skip, block, include).
    InvalidRows,
    Jump,
    /// Open: show hidden files, go to the parent folder.
    Parent,
    /// A character typed into the focused text field.
    Char(char),
    Backspace,
    /// A text field's other editing keys (`Delete`, `Ctrl-A` `Ctrl-E` `Ctrl-U` `Ctrl-K`
    /// `Ctrl-W`).
    Edit(Edit),
    /// The answer to a yes/no question.
    Yes,
    No,
    /// Mouse wheel.
    ScrollUp,
    ScrollDown,
}

/// Editing a text field beyond typing and `Backspace`, as a shell line does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// `Ctrl-A`: the cursor to the start.
    Start,
    /// `Ctrl-E`: the cursor to the end.
    End,
    /// `Delete`: the character under the cursor.
    Delete,
    /// `Ctrl-U`: everything before the cursor.
    DeleteToStart,
    /// `Ctrl-K`: everything from the cursor on.
    DeleteToEnd,
    /// `Ctrl-W`: the word before the cursor.
    DeleteWord,
}

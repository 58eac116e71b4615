//! Every word the TUI shows, in one place, so wording changes show in one diff.

pub const APP: &str = "zdimport";
pub const STEP_OPEN: &str = "Open";
pub const STEP_SHEET: &str = "Sheet";
pub const STEP_MAP: &str = "Map";
pub const STEP_CHECK: &str = "Check";
pub const STEP_PREVIEW: &str = "Preview";
pub const STEP_CONNECT: &str = "Connect";
pub const STEP_PLAN: &str = "Plan";
pub const STEP_RUN: &str = "Run";
pub const STEP_RESULTS: &str = "Results";
pub const STEPS: [&str; 9] = [
    STEP_OPEN,
    STEP_SHEET,
    STEP_MAP,
    STEP_CHECK,
    STEP_PREVIEW,
    STEP_CONNECT,
    STEP_PLAN,
    STEP_RUN,
    STEP_RESULTS,
];

pub const HELP_TITLE: &str = " Keys ";
pub const HELP_CLOSE: &str = "Esc or ? closes this help";
pub const QUIT_TITLE: &str = " Quit zdimport? ";
pub const QUIT_QUESTION: &str = "The mapping has changes that are not saved as a profile.";
pub const QUIT_KEYS: &str = "y quit   n stay";
pub const RESUME_SIGN_IN: &str = "Sign in to the run's account to resume run";
pub const QUIT_SAVE_KEYS: &str = "s save it first   y quit   n stay";
pub const ERROR_TITLE: &str = " Problem ";
pub const ERROR_KEYS: &str = "Esc or Enter closes";

pub const OPEN_TITLE: &str = " Open a worksheet ";
pub const OPEN_RECENT: &str = "recent";
pub const OPEN_RESUME: &str = "resume";
pub const OPEN_EMPTY: &str =
    "No folders or supported files here (xlsx xlsm xlsb xls ods csv tsv txt)";
/// The Open screen's typed line before anything is typed.
pub const OPEN_TYPE: &str = "type to filter, or a path: / ~ ./ ..";
pub const OPEN_NO_MATCH: &str = "Nothing here matches: Esc clears the filter";
pub const LOADING: &str = "Loading";
pub const LOADING_CANCEL: &str = "Esc cancels";

pub const SHEETS_TITLE: &str = " Sheets ";
pub const GRID_TITLE: &str = " First rows ";
pub const HIDDEN: &str = "hidden";
pub const VERY_HIDDEN: &str = "very hidden";
pub const CHART: &str = "chart";
pub const SIZE_UNKNOWN: &str = "size ?";
pub const HEADER_MARK: &str = "header";

pub const IGNORE: &str = "ignore";
pub const IGNORE_NOTE: &str = "leave this column out";
pub const PICK_CUSTOM_NOTE: &str = "a custom field: type its key";
pub const MAP_TITLE: &str = " Columns ";
pub const MAP_READY: &str = "Ready: n checks every row";
/// Said when `o` switches what the rows are.
pub const MAP_OBJECT_SWITCHED: &str = "columns matched again for their targets";
pub const MAP_PICK_TITLE: &str = "Target for";
pub const MAP_CUSTOM_TITLE: &str = " Custom field key ";
pub const MAP_SAVE_TITLE: &str = " Save mapping as profile ";
pub const MAP_LOAD_TITLE: &str = " Load a saved profile ";
pub const MAP_NO_PROFILES: &str = "No saved profiles yet: s saves this mapping as one";
pub const MAP_OFFER_TITLE: &str = " Saved profile ";
pub const MAP_OFFER_QUESTION: &str = "Use it instead of the automatic matching?";
pub const MAP_OFFER_KEYS: &str = "y use it   n match automatically";
pub const INPUT_KEYS: &str = " Enter accept  Esc cancel ";
pub const TRANSFORM_TITLE: &str = "Transform";
pub const TRANSFORM_KEYS: &str = " ↑↓ field  ←→ change  Enter apply  Esc cancel ";
pub const TRANSFORM_NOTES: [&str; 7] = [
    "spaces around the value",
    "default: on for emails",
    "read text dates in this order",
    "a list (on for tags)",
    "zero-pad numbers to N digits",
    "value for empty cells",
    "Gold=gold; Silver=silver",
];

pub const CHECK_TITLE: &str = " Problems ";
pub const CHECK_RUNNING: &str = "Checking every row";
pub const CHECK_NONE: &str = "No problems: every row is ready";
pub const CHECK_ROW_TITLE: &str = "Row";
/// Check: what the `i` key changes, and why `n` does not go on under block.
pub const CHECK_POLICY: &str = "Rows with errors (i):";
pub const CHECK_BLOCKED: &str = "block: nothing is sent while any row has an error";
pub const CONNECT_SKIP_VERIFY_YES: &str = "new users get no verification email";
pub const CONNECT_SKIP_VERIFY_NO: &str = "new users get Zendesk's verification email";
pub const RESULTS_LOG: &str = "Log:";
/// Results detail: a row the invalid-row policy `include` sent despite its errors.
pub const RESULTS_SENT_DESPITE: &str = "sent despite its errors (include):";
pub const FILTERS: [&str; 3] = ["all", "errors", "warnings"];

pub const PREVIEW_TITLE: &str = "Request";
pub const PREVIEW_EMPTY: &str = "No row is ready to send: fix the mapping or the sheet";
pub const PREVIEW_GOTO_TITLE: &str = " Go to the request of sheet row ";
pub const PREVIEW_NOT_SENT: &str = "is not sent (it has an error) or is not in the table";

pub const CONNECT_TITLE: &str = " Zendesk account ";
pub const CONNECT_TEST: &str = "Test the connection";
/// The note beside an empty Zendesk URL.
pub const CONNECT_URL_EMPTY: &str = "a subdomain (acme), a host (acme.zendesk.com) or a URL";
/// Notes beside the Connect screen's OAuth client id.
pub const CONNECT_CLIENT_ID_EMPTY: &str = "yours from Admin Center, or the one login remembered";
pub const CONNECT_CLIENT_ID_SET: &str = "your account's OAuth client";
/// Notes beside the Connect screen's phone region.
pub const CONNECT_REGION_NONE: &str = "e.g. US: phones without + are then sent as E.164";
pub const CONNECT_REGION_SET: &str = "phones without + are read in this country, sent as E.164";
pub const CONNECT_REGION_BAD: &str = "not a country code: two letters such as US, GB or DE";
pub const CONNECT_UNTESTED: &str = "Enter on \"Test the connection\" signs in and asks Zendesk who you are (users/me); nothing else is sent.";
pub const CONNECT_SANDBOX: &str =
    "The built-in sandbox: a simulated Zendesk on this machine. Enter tests the connection.";
pub const CONNECT_TESTING: &str = "Signing in and asking who you are";

pub const IMPORT_TITLE: &str = " Start the import? ";
pub const IMPORT_KEYS: &str = "y send   n not yet";
pub const QUIT_RUNNING: &str = "An import is running. Quitting stops sending; the run stays in its journal and can be resumed from the start screen.";
pub const RUN_STARTING: &str = "STARTING";
pub const RUN_RUNNING: &str = "RUNNING";
pub const RUN_PAUSED: &str = "PAUSED";
pub const RUN_CANCELLING: &str = "CANCELLING";
pub const RUN_CANCELLED: &str = "CANCELLED";
pub const RUN_FINISHED: &str = "FINISHED";
pub const RUN_FAILED: &str = "STOPPED";
pub const RUN_LOG_TITLE: &str = " Log ";
/// The ETA before a few seconds of sending tell the rate.
pub const RUN_ETA_SOON: &str = "in a few seconds";
pub const RUN_ETA_HELD: &str = "(held while paused)";
/// A resumed run's rows finished by earlier sessions.
pub const RUN_BEFORE: &str = "finished before this session";

pub const RESULTS_TITLE: &str = " Results ";
pub const RESULTS_CELLS: &str = "the sheet row:";
pub const RESULTS_SENT: &str = "the user sent:";
pub const RESULTS_EXPORT_TITLE: &str = " Export to (.csv or .json) ";
pub const RETRY_READING: &str = "Reading the sheet again…";
pub const RETRY_SHEET: &str = "Retry from the corrected sheet: checking";
pub const RETRY_TITLE: &str = " Retry? ";
pub const RETRY_KEYS: &str = "y retry   a every failure   c corrected sheet   n no";
pub const RETRY_KEYS_NO_SHEET: &str = "y retry   a every failure   n no";
pub const OVERWRITE_TITLE: &str = " Replace the file? ";
pub const OVERWRITE_KEYS: &str = "y replace   n no";
pub const RESULTS_NOT_SENT: &str = "not sent";
pub const RESULTS_RESUME_HINT: &str =
    "rows not sent: u resumes the run (those that may have left are looked up)";
pub const RESULTS_NOTHING_TO_RETRY: &str = "No failed or unknown row to retry";

pub const PLAN_TITLE: &str = " Plan ";
/// The Plan row detail.
pub const PLAN_ROW: &str = "Row";
pub const PLAN_DETAIL_KEYS: &str = " ↑↓ PgUp PgDn scroll  ←→ row  Esc close ";
pub const PLAN_UNREADABLE: &str = "this row of the plan cannot be read back from its scratch file";
pub const PLAN_CHANGE: &str = "change:";
pub const PLAN_CHANGES: &str = "changes:";
pub const PLAN_WAS: &str = "now";
pub const PLAN_WILL_BE: &str = "will be";
pub const PLAN_EMPTY: &str = "(empty)";
pub const PLAN_SECONDARY: &str = "email (a secondary one is added)";
pub const PLAN_PRIMARY_STAYS: &str = "primary";
pub const PLAN_ADDED: &str = "added";
pub const PLAN_SECONDARY_NOTE: &str =
    "Zendesk keeps the primary and adds this one as a secondary identity.";
pub const PLAN_NEW_SENT: &str = "A new user, created with:";
pub const ORGANIZATIONS_NEED_PLAN: &str = "Organizations in upsert or update mode go through \
     the plan: it finds which exist (update_many by id) and which are new (create_many). Enter \
     looks them up.";
pub const PLAN_NEW_ORG_SENT: &str = "A new organization, created with:";
pub const PLAN_ORGANIZATIONS_ROUTED: &str = " New organizations go to organizations/create_many, \
     existing ones (found by external_id, else by name) to organizations/update_many by id.";
pub const PLAN_ACCOUNT_WARNINGS: &str = "The account's settings (for every row):";
pub const PLAN_CHECKING: &str =
    "Reading the account's custom fields and checking every row against them";
pub const PLAN_LOOKING: &str = "Looking the users up in the account";
pub const PLAN_FIX_MAPPING: &str =
    " Esc goes back to the mapping (Map is three steps back) to fix it.";
pub const PLAN_OFFER_KEYS: &str =
    " Enter looks them up and shows what each row will do · s imports without the plan";

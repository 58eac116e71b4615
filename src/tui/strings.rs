//! Every word the TUI shows, in one place, so wording changes show in one diff.

pub const APP: &str = "zdimport";
pub const STEP_OPEN: &str = "Open";
pub const STEP_SHEET: &str = "Sheet";
pub const STEP_MAP: &str = "Map";
pub const STEP_CHECK: &str = "Check";
pub const STEP_PREVIEW: &str = "Preview";
pub const STEPS: [&str; 5] = [STEP_OPEN, STEP_SHEET, STEP_MAP, STEP_CHECK, STEP_PREVIEW];

pub const HELP_TITLE: &str = " Keys ";
pub const HELP_CLOSE: &str = "Esc or ? closes this help";
pub const QUIT_TITLE: &str = " Quit zdimport? ";
pub const QUIT_QUESTION: &str = "The mapping has changes that are not saved as a profile.";
pub const QUIT_KEYS: &str = "y quit   n stay";
pub const ERROR_TITLE: &str = " Problem ";
pub const ERROR_KEYS: &str = "Esc or Enter closes";

pub const OPEN_TITLE: &str = " Open a worksheet ";
pub const OPEN_RECENT: &str = "recent";
pub const OPEN_EMPTY: &str =
    "No folders or supported files here (xlsx xlsm xlsb xls ods csv tsv txt)";
pub const LOADING: &str = "Loading";
pub const LOADING_CANCEL: &str = "Esc cancels";

pub const SHEETS_TITLE: &str = " Sheets ";
pub const GRID_TITLE: &str = " First rows ";
pub const HIDDEN: &str = "hidden";
pub const VERY_HIDDEN: &str = "very hidden";
pub const CHART: &str = "chart";
pub const SIZE_UNKNOWN: &str = "size ?";
pub const HEADER_MARK: &str = "header";

//! Where zdimport keeps its files, each overridable so tests never touch the real home.

use std::path::PathBuf;

/// Overrides the data dir (runs, journals, recent files).
pub const DATA_ENV: &str = "ZDIMPORT_DATA_DIR";

fn project() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "zdimport")
}

/// `$ZDIMPORT_DATA_DIR`, else the platform's data dir.
pub fn data_dir() -> Option<PathBuf> {
    match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => project().map(|p| p.data_dir().to_path_buf()),
    }
}

/// Overrides the state dir (log files).
pub const STATE_ENV: &str = "ZDIMPORT_STATE_DIR";

/// Where log files go: `$ZDIMPORT_STATE_DIR`; else, when the data dir is overridden,
/// `$ZDIMPORT_DATA_DIR/logs` (a relocated installation, or a test, keeps its logs beside its
/// runs); else the platform's state dir (Linux: `~/.local/state/zdimport`), or its cache dir
/// where it has none (macOS, Windows).
pub fn logs_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(STATE_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("logs"));
    }
    if let Some(dir) = std::env::var_os(DATA_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("logs"));
    }
    let project = project()?;
    let base = project.state_dir().unwrap_or_else(|| project.cache_dir());
    Some(base.join("logs"))
}

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

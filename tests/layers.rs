//! The layers lib.rs describes, kept: the front ends (`src/cli`, `src/tui`) reach the core only
//! through `session` (and the types it re-exports), so the two cannot drift apart again.

use std::path::Path;

/// The core's modules, which only `session` (and the core itself) may name.
const CORE: [&str; 11] = [
    "sheet", "mapping", "payload", "pipeline", "plan", "import", "zendesk", "profile", "doctor",
    "sandbox", "error",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::<core module>` in a file, with its line number.
fn core_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '{')
                .collect();
            if name.starts_with('{') || CORE.contains(&name.as_str()) {
                found.push((n + 1, line.trim().to_owned()));
            }
        }
    }
    found
}

#[test]
fn the_front_ends_name_no_core_module_but_session() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root.join("cli"), &mut files);
    rust_files(&root.join("tui"), &mut files);
    assert!(files.len() > 20, "the front ends' files: {files:?}");
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (line, code) in core_paths(&text) {
            offenders.push(format!("{}:{line}: {code}", file.display()));
        }
    }
    assert!(
        offenders.is_empty(),
        "the front ends go through crate::session (add what they need there):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_check_finds_core_paths_and_passes_session_ones() {
    let text = "use crate::plan::Plan;\nuse crate::session::check::Plan; // crate::plan\n\
                let x = crate::{sheet::Cell};\nlet y = crate::text::visible(s);";
    let found: Vec<usize> = core_paths(text).into_iter().map(|(n, _)| n).collect();
    assert_eq!(found, vec![1, 3]);
}

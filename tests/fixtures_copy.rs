//! `tests/fixtures` is a copy of the workplace's `../shared/fixtures` (real spreadsheets and
//! Zendesk answers nobody here wrote), so a fresh clone runs every test. Where the shared
//! folder is present, the copy must match it file for file: a fixture changed there (as
//! `users_search.json` once did) fails here until it is copied again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `dir`, by its path relative to `dir`, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().to_path_buf();
                found.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    found
}

#[test]
fn the_copy_matches_the_shared_fixtures_where_they_are() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = files(&root.join("tests/fixtures"));
    assert!(
        copy.keys().any(|p| p.starts_with("worksheets"))
            && copy.keys().any(|p| p.starts_with("zendesk")),
        "tests/fixtures holds the worksheets and the Zendesk answers"
    );
    let shared = root.join("../shared/fixtures");
    if !shared.is_dir() {
        eprintln!("no {}: the copy is all there is", shared.display());
        return;
    }
    let shared = files(&shared);
    let stale: Vec<String> = shared
        .iter()
        .filter(|(path, bytes)| copy.get(*path) != Some(*bytes))
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        stale.is_empty(),
        "tests/fixtures differs from ../shared/fixtures in {stale:?}: copy them again \
         (cp -r ../shared/fixtures/. tests/fixtures/)"
    );
}

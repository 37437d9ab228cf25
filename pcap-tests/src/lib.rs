//! Helpers of the regression runner: copy a case to a scratch folder, replay
//! it through the pcap backend, and compare outputs and counters.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A scratch folder under the system temp dir, emptied first.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("cnfwd-pcap-tests-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Copies every regular file of `from` into `to`.
pub fn copy_files(from: &Path, to: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// Checks that every value in `expected` is in `actual` at the same path.
/// Objects named `drops` or `slow_path` must match exactly (a missing
/// counter is zero).
/// Returns one line per mismatch.
pub fn subset_mismatches(expected: &Value, actual: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let exact = path.ends_with("drops") || path.ends_with("slow_path");
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => out.extend(subset_mismatches(ev, av, &p)),
                    None if exact && ev == &Value::from(0) => {}
                    None => out.push(format!("{p}: expected {ev}, missing")),
                }
            }
            if exact {
                for (k, av) in a {
                    if !e.contains_key(k) {
                        out.push(format!("{path}.{k}: expected 0, got {av}"));
                    }
                }
            }
        }
        (e, a) if e != a => out.push(format!("{path}: expected {e}, got {a}")),
        _ => {}
    }
    out
}

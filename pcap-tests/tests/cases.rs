//! Replays every case in `pcap-tests/cases/` through the pcap backend and
//! compares each port's output with the generator's expected capture, packet
//! by packet (naming the differing field), and the counters with
//! `expected-stats.json`.

use std::path::{Path, PathBuf};

use cnfwd_tools::pcapdiff::{diff, read_frames};
use dataplane::replay::replay;
use pcap_tests::{copy_files, scratch_dir, subset_mismatches};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")
}

fn run_case(case: &Path) -> Vec<String> {
    let name = case.file_name().unwrap().to_string_lossy().to_string();
    let dir = scratch_dir(&name);
    copy_files(case, &dir).expect("copy case");
    let report = match replay(&dir.join("config.toml")) {
        Ok(r) => r,
        Err(e) => return vec![format!("replay failed: {e}")],
    };
    let mut problems = Vec::new();
    for port in report.tables.ports.iter() {
        let expected_path = case.join(format!("expected-{}.pcap", port.name));
        let actual_path = dir.join(format!("out-{}.pcap", port.name));
        let expected = if expected_path.exists() {
            read_frames(&expected_path).expect("read expected")
        } else {
            Vec::new()
        };
        let actual = if actual_path.exists() {
            read_frames(&actual_path).expect("read output")
        } else {
            Vec::new()
        };
        for line in diff(&expected, &actual) {
            problems.push(format!("port {}: {line}", port.name));
        }
    }
    let stats = report.stats.to_json(&report.tables);
    let expected_stats = case.join("expected-stats.json");
    if expected_stats.exists() {
        let text = std::fs::read_to_string(&expected_stats).expect("read expected stats");
        let want: serde_json::Value =
            serde_json::from_str(&text).expect("expected-stats.json is JSON");
        problems.extend(subset_mismatches(&want, &stats, "stats"));
    }
    let (rx, tx, dropped) = report.stats.totals();
    let added = report.stats.added();
    if rx + added != tx + dropped {
        problems.push(format!(
            "rx {rx} + added {added} (flood copies, generated, extra fragments) != tx {tx} + dropped {dropped}"
        ));
    }
    problems
}

#[test]
fn every_case_matches_the_generator() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("cases dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("config.toml").exists())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 15,
        "expected at least 15 cases, found {}",
        cases.len()
    );
    let mut failed = Vec::new();
    for case in &cases {
        let problems = run_case(case);
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        if problems.is_empty() {
            println!("ok   {name}");
        } else {
            println!("FAIL {name}");
            for p in &problems {
                println!("     {p}");
            }
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases failed: {failed:?}",
        failed.len(),
        cases.len()
    );
}

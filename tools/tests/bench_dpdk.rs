//! `cnfwd-bench compare --dpdk` end to end on DPDK `net_memif` vdev pairs:
//! cnfwd (DPDK backend), `dpdk-testpmd` io and, when built, DPDK's `l3fwd`
//! forward a small profile with very short trials; every forwarder that
//! runs gets a report row whose trials all received frames, and a missing
//! `dpdk-testpmd` or `l3fwd` (`TESTPMD`/`L3FWD` pointed at a missing path)
//! gets a row saying what to install while the others still run.
//!
//! Needs root (memif sockets in /run, EAL's runtime folder), `cnfwd` built
//! with `--features dpdk` next to `cnfwd-bench` (or `$CNFWD_BIN`), and
//! `dpdk-testpmd`; `l3fwd` is used when `$L3FWD` names a built one
//! (`scripts/bench-build-l3fwd.sh`). Skipped (passing, with a line) when not root.
#![cfg(feature = "dpdk")]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const PROFILE: &str = r#"name = "ci-dpdk"
[frames]
sizes = [64]
[flows]
count = 64
dst = "10.3.0.0/24"
[search]
trial_duration = 0.3
min_rate = 1000
max_rate = 20000
latency_duration = 0.2
"#;

fn cnfwd_bin() -> PathBuf {
    std::env::var_os("CNFWD_BIN").map_or_else(
        || {
            Path::new(env!("CARGO_BIN_EXE_cnfwd-bench"))
                .with_file_name("cnfwd")
                .to_path_buf()
        },
        PathBuf::from,
    )
}

/// Runs `compare --dpdk` over `forwarders` with extra environment `env`;
/// returns the JSON results and the Markdown report.
fn compare(dir: &Path, tag: &str, forwarders: &[&str], env: &[(&str, &str)]) -> (Value, String) {
    let profile = dir.join("ci-dpdk.toml");
    std::fs::write(&profile, PROFILE).expect("profile");
    let json = dir.join(format!("{tag}.json"));
    let md = dir.join(format!("{tag}.md"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cnfwd-bench"));
    cmd.args(["compare", "--dpdk", "--profile"])
        .arg(&profile)
        .arg("--forwarders")
        .arg(forwarders.join(","))
        .arg("--cnfwd")
        .arg(cnfwd_bin())
        .arg("--json")
        .arg(&json)
        .arg("--report")
        .arg(&md);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("cnfwd-bench runs");
    assert!(
        out.status.success(),
        "cnfwd-bench compare --dpdk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written"))
            .expect("json parses");
    let report = std::fs::read_to_string(&md).expect("report written");
    (results, report)
}

/// The forwarder rows of the only frame size, by name.
fn rows(results: &Value) -> Vec<(String, &Value)> {
    let runs = results["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "one frame size");
    runs[0]["forwarders"]
        .as_array()
        .expect("forwarders")
        .iter()
        .map(|f| (f["name"].as_str().expect("name").to_owned(), f))
        .collect()
}

/// `row` ran: trials, each of which received frames, and a nonzero MRR.
fn assert_forwarded(name: &str, row: &Value) {
    let search = &row["search"];
    assert!(
        search.is_object(),
        "{name} did not run: {}",
        row["error"].as_str().unwrap_or("?")
    );
    let trials = search["trials"].as_array().expect("trials");
    assert!(!trials.is_empty(), "{name}: no trials");
    for t in trials {
        let received = t["result"]["received"].as_u64().expect("received");
        let rx_pps = t["result"]["rx_pps"].as_f64().expect("rx_pps");
        assert!(
            received > 0 && rx_pps > 0.0,
            "{name}: a trial received nothing: {t}"
        );
    }
    assert!(search["mrr"].as_f64().expect("mrr") > 0.0, "{name}: MRR 0");
    println!(
        "{name}: NDR >= {} pps, {} trials",
        search["ndr"]["lower"],
        trials.len()
    );
}

fn assert_install_row(row: &Value, needle: &str) {
    assert!(row["search"].is_null(), "ran although missing: {row}");
    let e = row["error"].as_str().expect("error text");
    assert!(e.contains(needle), "{e}");
}

#[test]
fn cnfwd_testpmd_and_l3fwd_forward_on_memif_and_missing_binaries_are_reported() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipping compare --dpdk: needs root (memif sockets, EAL runtime folder)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("cnfwd-bench-dpdk-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch");

    // cnfwd and testpmd io forward; l3fwd is missing: a row saying how to
    // build it, and the others still run.
    let (results, report) = compare(
        &dir,
        "a",
        &["cnfwd", "testpmd-io", "l3fwd"],
        &[("L3FWD", "/nonexistent/l3fwd")],
    );
    let r = rows(&results);
    let names: Vec<&str> = r.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["cnfwd", "testpmd-io", "l3fwd"]);
    assert_forwarded("cnfwd", r[0].1);
    assert_forwarded("testpmd-io", r[1].1);
    assert_install_row(r[2].1, "scripts/bench-build-l3fwd.sh");
    for n in ["cnfwd", "testpmd-io", "l3fwd"] {
        assert!(report.contains(n), "report names {n}:\n{report}");
    }

    // dpdk-testpmd missing: its row says what to install; cnfwd (and l3fwd,
    // when one was built) still run.
    let l3fwd = std::env::var("L3FWD")
        .ok()
        .filter(|p| Path::new(p).is_file());
    let mut forwarders = vec!["testpmd-io", "cnfwd"];
    if l3fwd.is_some() {
        forwarders.push("l3fwd");
    } else {
        println!("l3fwd not run: set L3FWD to a built one (scripts/bench-build-l3fwd.sh)");
    }
    let (results, _) = compare(
        &dir,
        "b",
        &forwarders,
        &[("TESTPMD", "/nonexistent/dpdk-testpmd")],
    );
    let r = rows(&results);
    assert_eq!(r.len(), forwarders.len());
    assert_install_row(r[0].1, "apt-get install dpdk");
    assert_forwarded("cnfwd", r[1].1);
    if l3fwd.is_some() {
        assert_forwarded("l3fwd", r[2].1);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn profiles_the_dpdk_comparison_cannot_route_name_the_field() {
    use cnfwd_tools::bench::profile::Profile;
    use cnfwd_tools::bench::vdev::check_profile;
    let cases = [
        ("[frames]\nvlan = 5", "frames.vlan"),
        ("[frames]\nsizes = [80]\n[flows]\nip = \"ipv6\"\nsrc = \"2001:db8::2/128\"\ndst = \"2001:db8:3::/120\"", "flows.ip"),
        ("[flows]\nsrc = \"10.9.0.1/32\"", "flows.src"),
        ("[flows]\ndst = \"10.2.0.0/16\"", "flows.dst"),
    ];
    for (text, field) in cases {
        let p = Profile::parse(text, "<test>").expect("valid profile");
        let e = check_profile(&p).expect_err(text);
        assert!(e.starts_with(field), "{text:?}: {e}");
    }
    let ok = Profile::parse("[flows]\ndst = \"10.3.0.0/16\"", "<test>").expect("valid");
    assert_eq!(
        check_profile(&ok).expect("routable"),
        ["10.3.0.0/16".parse::<ipnet::IpNet>().expect("prefix")]
    );
}

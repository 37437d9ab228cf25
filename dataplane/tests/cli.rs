//! The `cnfwd` binary as a user meets it: a bad configuration exits non-zero
//! naming the field and value; a good one prints per-network counts and
//! writes the stats JSON.

use std::path::Path;
use std::process::Command;

fn cnfwd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cnfwd"))
}

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("cnfwd-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn bad_config_names_field_and_value() {
    let dir = scratch("bad");
    let cfg = dir.join("bad.toml");
    std::fs::write(
        &cfg,
        "[[l2_networks]]\nname = \"a\"\nvlan = 5000\n[[ports]]\nname = \"p\"\nbackend = \"pcap\"\nmac = \"02:00:00:00:00:01\"\nmode = \"access\"\nnetworks = [\"nope\"]\n",
    )
    .unwrap();
    let out = cnfwd()
        .args(["run", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("l2_networks[0].vlan = 5000: VLAN id must be in 1..=4094"),
        "{err}"
    );
    assert!(
        err.contains("ports[0].networks[0] = \"nope\": no L2 or L3 network has this name"),
        "{err}"
    );

    std::fs::write(&cfg, "[[ports]]\nname = \"p\"\nmode = \"acess\"\n").unwrap();
    let out = cnfwd()
        .args(["check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:3:8:"), "{err}");

    let out = cnfwd()
        .args(["run", "--config"])
        .arg(dir.join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn run_prints_per_network_counts_and_writes_stats() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pcap-tests/cases/05-vrf-overlap");
    let dir = scratch("run");
    for e in std::fs::read_dir(&case).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    let stats = dir.join("stats.json");
    let out = cnfwd()
        .args(["run", "--config"])
        .arg(dir.join("config.toml"))
        .arg("--stats-json")
        .arg(&stats)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    // Every network in the JSON appears in the printed table with its counts.
    for (name, c) in json["networks"].as_object().unwrap() {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("network {name} not printed:\n{text}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[1], c["rx_packets"].to_string(), "{line}");
        assert_eq!(cols[2], c["tx_packets"].to_string(), "{line}");
    }
    let totals = &json["totals"];
    let n = |k: &str| totals[k].as_u64().unwrap();
    assert_eq!(
        n("rx_packets") + n("replicated") + n("generated"),
        n("tx_packets") + n("dropped")
    );
    assert!(text.contains("drop reason"), "{text}");
}

#[test]
fn damaged_capture_is_reported_after_its_packets() {
    let dir = scratch("damaged");
    let capture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/pcaps/fuzz-crash-eec28daf-bad-reclen.pcap");
    std::fs::write(
        dir.join("c.toml"),
        format!(
            "[[l2_networks]]\nname = \"l\"\nvlan = 1\n[[ports]]\nname = \"in\"\nbackend = \"pcap\"\nmac = \"02:00:00:00:00:01\"\nmode = \"access\"\nnetworks = [\"l\"]\nrx_pcap = \"{}\"\n[[ports]]\nname = \"out\"\nbackend = \"pcap\"\nmac = \"02:00:00:00:00:02\"\nmode = \"access\"\nnetworks = [\"l\"]\ntx_pcap = \"out.pcap\"\n",
            capture.display()
        ),
    )
    .unwrap();
    let out = cnfwd()
        .args(["run", "--config"])
        .arg(dir.join("c.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("record 2: length 4294967295 exceeds the limit of 262144 bytes"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 packets received"));
}

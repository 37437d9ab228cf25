//! `cnfwdctl` against a real `cnfwd run` (AF_PACKET ports on veth pairs in
//! network namespaces made and deleted by this test): every read command
//! in text and `--json`, human-first tables, the packet trace of a real
//! ping (addresses, MACs, time, ICMP identifier), `trace stop`, `show
//! routes` without a VRF, `show config` as TOML, `show stats` without raw
//! JSON, one uptime field name, and `cnfwd check FILE`.
//!
//! Needs root and `ip netns` (else it prints why and passes, as the
//! dataplane's namespace tests do) and the `cnfwd` binary next to
//! `cnfwdctl` (`cargo build -p dataplane --bin cnfwd`; `cargo test
//! --workspace` builds it) or named by `$CNFWD_BIN`.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

mod common;

use common::lab::{can_run, cnfwd_binary, Lab, APP_MAC, LAB_NETWORKS, R_APP_MAC};

/// The `red` domain, with a static route, before the lab's networks.
const DOMAIN: &str = r#"
[[l3_isolation_domains]]
name = "red"

[[l3_isolation_domains.static_routes]]
prefix = "198.51.100.0/24"
next_hop = "10.2.0.20"
"#;

#[test]
fn cnfwdctl_against_a_running_cnfwd() {
    if !can_run() {
        return;
    }
    let cnfwd = cnfwd_binary();
    let mut lab = Lab::new("cnfwdctl-live");
    let config = lab.dir.join("site.toml");
    std::fs::write(&config, format!("{DOMAIN}{LAB_NETWORKS}")).unwrap();

    // `cnfwd check FILE` as well as `--config FILE`; not both.
    for args in [vec!["check"], vec!["check", "--config"]] {
        let out = Command::new(&cnfwd)
            .args(&args)
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stdout)
            .contains("valid: 2 ports, 2 L3 + 0 L2 networks, 1 VRFs"));
    }
    let out = Command::new(&cnfwd)
        .arg("check")
        .arg(&config)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = Command::new(&cnfwd).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    lab.start(&cnfwd, &config);

    // Every read command, in text and in JSON.
    for cmd in [
        "info",
        "health",
        "ports",
        "networks",
        "vrfs",
        "routes",
        "neighbors",
        "drops",
        "workers",
        "config",
        "stats",
        "trace",
    ] {
        let t = lab.text(&["show", cmd]);
        assert!(
            !t.trim().is_empty() || cmd == "neighbors",
            "show {cmd}: empty"
        );
        if cmd != "config" {
            assert!(!t.contains("{\""), "show {cmd} prints raw JSON:\n{t}");
        }
        let _ = lab.json(&["show", cmd]);
    }

    // A real ping, traced.
    let t = lab.text(&["trace", "start", "20", "app"]);
    assert_eq!(t, "tracing the next 20 packet(s) received on port app\n");
    let ping = Command::new("ip")
        .args(["netns", "exec", &lab.ns("app")])
        .args(["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.2.0.20"])
        .output()
        .unwrap();
    assert!(ping.status.success(), "{ping:?}");
    let t = lab.text(&["trace", "stop"]);
    assert_eq!(t, "tracing stopped (the records stay: trace show)\n");
    let trace = lab.json(&["trace", "show"]);
    assert_eq!(trace["remaining"], 0);
    let echo: Vec<&Value> = trace["packets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["proto"] == 1)
        .collect();
    assert!(echo.len() >= 2, "{trace}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let id = echo[0]["icmp_id"].as_u64().expect("icmp_id");
    for p in &echo {
        assert_eq!(p["src"], "10.1.0.5", "{p}");
        assert_eq!(p["dst"], "10.2.0.20", "{p}");
        assert_eq!(p["src_mac"], APP_MAC, "{p}");
        assert_eq!(p["dst_mac"], R_APP_MAC, "{p}");
        assert_eq!(p["ethertype"], "0x0800", "{p}");
        assert_eq!(p["icmp_type"], 8, "{p}");
        assert_eq!(p["icmp_id"], id, "{p}");
        assert!(p.get("dst_port").is_none(), "ICMP has no ports: {p}");
        let t = p["time_ns"].as_u64().unwrap();
        assert!(now - t < 60_000_000_000, "time_ns {t} vs now {now}");
    }
    let text = lab.text(&["trace", "show"]);
    assert!(
        text.contains(&format!(
            "  icmp   10.1.0.5 > 10.2.0.20 echo-request id {id}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("  ether  {APP_MAC} > {R_APP_MAC} ipv4\n")),
        "{text}"
    );
    assert!(text.contains(" port app "), "{text}");
    // Stopped: another ping is not traced.
    let before = trace["packets"].as_array().unwrap().len();
    let _ = Command::new("ip")
        .args(["netns", "exec", &lab.ns("app")])
        .args(["ping", "-c", "1", "-W", "2", "10.2.0.20"])
        .output()
        .unwrap();
    let after = lab.json(&["trace", "show"])["packets"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after, "trace stop stopped tracing");

    // Tables lead with their key column.
    let routes = lab.text(&["show", "routes"]);
    let mut lines = routes.lines();
    assert!(lines.next().unwrap().starts_with("prefix "), "{routes}");
    assert!(
        routes
            .lines()
            .any(|l| l.starts_with("198.51.100.0/24  via ")
                && l.split_whitespace()
                    .rev()
                    .take(4)
                    .eq(["config", "red", "db", "10.2.0.20"])),
        "{routes}"
    );
    // Header, db's connected /24, its gateway and its broadcast /32s.
    let one = lab.text(&["show", "routes", "red", "10.2.0.0/16"]);
    assert_eq!(one.lines().count(), 4, "{one}");
    let all = lab.json(&["show", "routes"]);
    assert_eq!(all.as_array().unwrap().len(), 7, "{all}");
    let drops = lab.text(&["show", "drops"]);
    assert!(drops.starts_with("reason "), "{drops}");
    let stats = lab.text(&["show", "stats"]);
    assert!(stats.contains("\ndrops:\n  reason "), "{stats}");
    assert!(!stats.contains('{'), "{stats}");

    // The configuration as TOML that reads back.
    let cfg: toml::Table = toml::from_str(&lab.text(&["show", "config"])).unwrap();
    let nets: Vec<&str> = cfg["l3_networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(nets, ["app", "db"]);

    // One uptime field name.
    assert!(lab.json(&["show", "health"])["uptime_seconds"].is_number());
    assert!(lab.json(&["show", "info"])["uptime_seconds"].is_number());
}

//! `cnfwdctl capture` against a real `cnfwd run` (AF_PACKET ports on veth
//! pairs in network namespaces made and deleted by this test): a capture of
//! one port in rx, tx and drop with a count and a filter while real pings
//! and UDP datagrams cross it, read back with `tshark` (count, directions,
//! addresses, the drop comment, the interface name); one capture at a
//! time; stop; a relative FILE; and the errors (port, count, filter,
//! direction, path) in text and `--json`.
//!
//! Needs root and `ip netns` (else it prints why and passes) and tshark
//! (missing: skipped with a message, but a failure when `CI=true`), and the
//! `cnfwd` binary next to `cnfwdctl` (`cargo build -p dataplane --bin
//! cnfwd`) or named by `$CNFWD_BIN`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::lab::{cnfwd_binary, Lab, APP_MAC, LAB_NETWORKS, R_APP_MAC};

/// What this test adds to the shared lab.
trait CaptureLab {
    fn refused(&self, args: &[&str]) -> (String, Value);
    fn exec(&self, ns: &str, args: &[&str]) -> Output;
    fn wait_state(&self, state: &str) -> Value;
}

impl CaptureLab for Lab {
    /// A command that must fail with an error reply: (stderr text, the
    /// `--json` error object).
    fn refused(&self, args: &[&str]) -> (String, Value) {
        let out = self.ctl(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "cnfwdctl {}: {out:?}",
            args.join(" ")
        );
        let text = String::from_utf8(out.stderr).unwrap();
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.ctl(&a);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["kind"], "reply", "{v}");
        assert_eq!(v["command"], "/capture/start", "{v}");
        (text, v)
    }

    fn exec(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(ns)])
            .args(args)
            .output()
            .unwrap()
    }

    /// Waits until `capture status` says `state`.
    fn wait_state(&self, state: &str) -> Value {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.json(&["capture", "status"]);
            if s["state"] == state {
                return s;
            }
            assert!(Instant::now() < end, "capture never {state}: {s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The `red` domain before the lab's networks.
const DOMAIN: &str = r#"
[[l3_isolation_domains]]
name = "red"
"#;

/// The lab's needs, and tshark (missing: skipped, but a failure on CI).
fn can_run() -> bool {
    if !common::lab::can_run() {
        return false;
    }
    let tshark = Command::new("tshark").arg("--version").output();
    if !tshark.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tshark is missing on CI: scripts/setup.sh installs it (apt-get install -y tshark)"
        );
        println!("skipping: tshark is not installed (apt-get install -y tshark)");
        return false;
    }
    true
}

/// `tshark -r file -T fields` with `fields`: one row per packet.
fn tshark(file: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-T", "fields", "-E", "separator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "tshark -r {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// `count` UDP datagrams from app to `dst`:`port` (bash's /dev/udp).
fn udp(lab: &Lab, dst: &str, port: u16, count: usize) {
    for _ in 0..count {
        let out = lab.exec(
            "app",
            &[
                "bash",
                "-c",
                &format!("echo capture > /dev/udp/{dst}/{port}"),
            ],
        );
        assert!(out.status.success(), "{out:?}");
    }
}

#[test]
fn capture_rx_tx_and_drop_of_a_live_port_into_a_pcapng_tshark_reads() {
    if !can_run() {
        return;
    }
    let cnfwd = cnfwd_binary();
    let mut lab = Lab::new("cnfwd-capture");
    let config = lab.dir.join("site.toml");
    std::fs::write(&config, format!("{DOMAIN}{LAB_NETWORKS}")).unwrap();
    lab.start(&cnfwd, &config);
    let file = lab.dir.join("app.pcapng");
    let f = file.to_str().unwrap();

    assert_eq!(
        lab.text(&["capture", "status"]),
        "no capture since cnfwd started (capture start --port P FILE)\n"
    );
    // Bad requests: clear errors, in text and JSON, and no file made.
    for (args, want) in [
        (
            vec!["--port", "nope"],
            "port \"nope\": no such port (ports: app, db)",
        ),
        (
            vec!["--port", "app", "--count", "0"],
            "count 0: must be in 1..=1000000",
        ),
        (
            vec!["--port", "app", "--count", "1000001"],
            "count 1000001: must be in 1..=1000000",
        ),
        (
            vec!["--port", "app", "--filter", "host foo"],
            "bad filter at column 6 (\"foo\"): expected an IPv4 or IPv6 address",
        ),
        (
            vec!["--port", "app", "--filter", "udp and (port 9"],
            "bad filter at column 9 (\"(\"): this `(` is not closed",
        ),
        (
            vec!["--port", "app", "--direction", "rx,up"],
            "direction \"up\": expected rx, tx, drop or all",
        ),
    ] {
        let mut a = vec!["capture", "start"];
        a.extend_from_slice(&args);
        a.push(f);
        let (text, json) = lab.refused(&a);
        assert!(text.contains(want), "{args:?}: {text}");
        assert!(json["error"].as_str().unwrap().contains(want), "{json}");
        assert!(!file.exists(), "{args:?} made the file");
    }
    let missing = lab.dir.join("no/such/dir/x.pcapng");
    let (text, _) = lab.refused(&[
        "capture",
        "start",
        "--port",
        "app",
        missing.to_str().unwrap(),
    ]);
    assert!(text.contains("cannot open the directory"), "{text}");

    // rx, tx and drop of port app, ICMP and UDP port 9 only, 8 packets.
    let t = lab.text(&[
        "capture",
        "start",
        "--port",
        "app",
        "--direction",
        "rx,tx",
        "--direction",
        "drop",
        "--count",
        "8",
        "--filter",
        "icmp or udp port 9",
        f,
    ]);
    assert!(
        t.starts_with("capture running: port app, rx tx drop, filter \"icmp or udp port 9\"\n"),
        "{t}"
    );
    assert!(t.contains(&format!("  file     {f}\n")), "{t}");
    assert!(t.contains("  written  0 of 8 packets"), "{t}");
    // One at a time.
    let second = lab.dir.join("second.pcapng");
    let (text, _) = lab.refused(&["capture", "start", "--port", "db", second.to_str().unwrap()]);
    assert!(
        text.contains(&format!(
            "a capture is already running (port app, into {f}, 0 of 8 packets written)"
        )),
        "{text}"
    );
    assert!(!second.exists());

    // Not captured: UDP to another port, and port db's own traffic only
    // as it crosses app.
    udp(&lab, "10.1.0.1", 10, 2);
    let ping = lab.exec(
        "app",
        &["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.2.0.20"],
    );
    assert!(ping.status.success(), "{ping:?}");
    // Addressed to cnfwd, not ICMP: dropped as to_gateway.
    udp(&lab, "10.1.0.1", 9, 2);
    let s = lab.wait_state("done");
    assert_eq!(s["written"], 8, "{s}");
    assert_eq!(s["overflow"], 0, "{s}");
    assert!(s["bytes"].as_u64().unwrap() > 8 * 60, "{s}");
    let t = lab.text(&["capture", "status"]);
    assert!(t.starts_with("capture done: port app"), "{t}");
    assert!(t.contains("  written  8 of 8 packets"), "{t}");

    let rows = tshark(
        &file,
        &[
            "frame.interface_name",
            "frame.interface_description",
            "frame.packet_flags_direction",
            "ip.src",
            "ip.dst",
            "icmp.type",
            "udp.dstport",
            "frame.comment",
            "eth.src",
        ],
    );
    assert_eq!(rows.len(), 8, "{rows:?}");
    let row = |r: &Vec<String>| r[2..].join(" ");
    let mut got: Vec<String> = rows.iter().map(row).collect();
    got.sort();
    // Direction 1 inbound, 2 outbound (pcapng epb_flags; tshark prints hex).
    let (i, o) = ("0x00000001", "0x00000002");
    let mut want = vec![
        format!("{i} 10.1.0.5 10.2.0.20 8   {APP_MAC}"),
        format!("{i} 10.1.0.5 10.2.0.20 8   {APP_MAC}"),
        format!("{o} 10.2.0.20 10.1.0.5 0   {R_APP_MAC}"),
        format!("{o} 10.2.0.20 10.1.0.5 0   {R_APP_MAC}"),
        format!("{i} 10.1.0.5 10.1.0.1  9  {APP_MAC}"),
        format!("{i} 10.1.0.5 10.1.0.1  9  {APP_MAC}"),
        format!("{i} 10.1.0.5 10.1.0.1  9 drop: to_gateway {APP_MAC}"),
        format!("{i} 10.1.0.5 10.1.0.1  9 drop: to_gateway {APP_MAC}"),
    ];
    want.sort();
    assert_eq!(got, want, "{rows:?}");
    for r in &rows {
        assert_eq!(r[0], "app", "{r:?}");
        assert_eq!(r[1], "cnfwd af_packet r-app", "{r:?}");
    }
    // The file is well-formed to tshark (no warnings) and timestamps are now.
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .output()
        .unwrap();
    let complaints: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with("Running as user"))
        .map(str::to_string)
        .collect();
    assert!(out.status.success() && complaints.is_empty(), "{out:?}");
    let times = tshark(&file, &["frame.time_epoch"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for t in times {
        let t: f64 = t[0].parse().unwrap();
        assert!((now - t).abs() < 60.0, "time {t} vs now {now}");
    }

    // A relative FILE is cnfwdctl's working directory's; stop ends it.
    let sub = lab.dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let out = lab.ctl_in(
        &sub,
        &["capture", "start", "-p", "db", "-d", "all", "rel.pcapng"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let ping = lab.exec("app", &["ping", "-c", "1", "-W", "2", "10.2.0.20"]);
    assert!(ping.status.success(), "{ping:?}");
    std::thread::sleep(Duration::from_millis(100));
    let s = lab.json(&["capture", "stop"]);
    assert_eq!(s["state"], "done", "{s}");
    assert_eq!(s["file"], sub.join("rel.pcapng").to_str().unwrap(), "{s}");
    assert_eq!(s["directions"], serde_json::json!(["rx", "tx", "drop"]));
    let rows = tshark(
        &sub.join("rel.pcapng"),
        &["frame.packet_flags_direction", "ip.src"],
    );
    assert_eq!(
        rows.len() as u64,
        s["written"].as_u64().unwrap(),
        "{rows:?}"
    );
    // The echo request leaves on db, its reply comes in on db.
    assert!(
        rows.contains(&vec![o.to_string(), "10.1.0.5".to_string()]),
        "{rows:?}"
    );
    assert!(
        rows.contains(&vec![i.to_string(), "10.2.0.20".to_string()]),
        "{rows:?}"
    );
    // Stopped: nothing more is written.
    let _ = lab.exec("app", &["ping", "-c", "1", "-W", "2", "10.2.0.20"]);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(lab.json(&["capture", "status"])["written"], s["written"]);
}

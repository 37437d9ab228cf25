//! `cnfwd run` on DPDK ports (built with the `dpdk` feature), as a user runs
//! it: a regression case's pcap ports become `net_pcap` vdevs; the run stops
//! on `--duration` and on SIGINT, exits 0, writes the stats JSON, and what
//! the ports sent equals the generator's expected captures.
#![cfg(feature = "dpdk")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cnfwd_config::model::BackendKind;
use dataplane::io::pcap::file::CaptureReader;

fn frames(path: &Path) -> Vec<Vec<u8>> {
    let mut r = CaptureReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut v = Vec::new();
    while let Some(f) = r.next_frame([0; 6]).expect("readable capture") {
        v.push(f.data.to_vec());
    }
    v
}

/// Writes `case`'s config with every pcap port turned into a net_pcap vdev
/// port, into `dir`; returns the config path and the port names.
fn dpdk_config(case: &Path, dir: &Path, prefix: &str) -> (PathBuf, Vec<String>) {
    dpdk_config_workers(case, dir, prefix, 1)
}

/// Like [`dpdk_config`] with `workers` workers: each vdev gets one queue
/// pair per worker, every RX queue replaying the whole input capture and
/// TX queue `q` writing `out-<port>-<q>.pcap` (`out-<port>.pcap` for one
/// worker).
fn dpdk_config_workers(
    case: &Path,
    dir: &Path,
    prefix: &str,
    workers: usize,
) -> (PathBuf, Vec<String>) {
    let text = std::fs::read_to_string(case.join("config.toml")).unwrap();
    let mut cfg = cnfwd_config::parse(&text, "case").unwrap();
    let mut names = Vec::new();
    for (i, p) in cfg.ports.iter_mut().enumerate() {
        let mut dev = format!("net_pcap{i}");
        let rx = p.rx_pcap.take();
        for q in 0..workers {
            // net_pcap makes one queue per rx_pcap/tx_pcap argument; a port
            // without input gets an empty capture per queue.
            let input = match &rx {
                Some(rx) => case.join(rx),
                None => {
                    let empty = dir.join("empty.pcap");
                    std::fs::write(
                        &empty,
                        [
                            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
                            0, 0, 1, 0, 0, 0,
                        ],
                    )
                    .unwrap();
                    empty
                }
            };
            if rx.is_some() || workers > 1 {
                dev += &format!(",rx_pcap={}", input.display());
            }
            let out = if workers == 1 {
                format!("out-{}.pcap", p.name)
            } else {
                format!("out-{}-{q}.pcap", p.name)
            };
            dev += &format!(",tx_pcap={}", dir.join(out).display());
        }
        p.tx_pcap = None;
        p.backend = BackendKind::Dpdk;
        p.device = Some(dev.into());
        names.push(p.name.clone());
    }
    cfg.dpdk.eal_args = [
        "--no-huge",
        "-m",
        "512",
        "--no-pci",
        "--no-shconf",
        "-l",
        "0",
        "--file-prefix",
        prefix,
    ]
    .map(String::from)
    .to_vec();
    cfg.engine.workers = Some(workers as u32);
    cfg.control.socket = dir.join("cnfwd.sock").display().to_string();
    let path = dir.join("config.toml");
    std::fs::write(&path, toml::to_string(&cfg).expect("config serialises")).unwrap();
    (path, names)
}

fn check_outputs(case: &Path, dir: &Path, ports: &[String]) {
    for p in ports {
        let want = frames(&case.join(format!("expected-{p}.pcap")));
        let got = frames(&dir.join(format!("out-{p}.pcap")));
        assert_eq!(
            got, want,
            "port {p}: output differs from the expected capture"
        );
    }
}

#[test]
fn cnfwd_run_on_dpdk_vdevs_stops_on_duration_and_sigint() {
    let case =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../pcap-tests/cases/04-trunk-vlan-rewrite");
    let pid = std::process::id();

    // --duration
    let dir = std::env::temp_dir().join(format!("cnfwd-dpdk-cli-{pid}-a"));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = format!("cnfwd-cli-{pid}-a");
    let (cfg, ports) = dpdk_config(&case, &dir, &prefix);
    let stats = dir.join("stats.json");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_cnfwd"))
        .args(["run", "--duration", "1.5", "--config"])
        .arg(&cfg)
        .arg("--stats-json")
        .arg(&stats)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() >= Duration::from_millis(1500));
    check_outputs(&case, &dir, &ports);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("expected-stats.json")).unwrap())
            .unwrap();
    for p in &ports {
        for k in ["rx_packets", "tx_packets"] {
            assert_eq!(json["ports"][p][k], want["ports"][p][k], "port {p} {k}");
        }
    }
    assert_eq!(json["drops"], want["drops"], "drops by reason");
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));

    // SIGINT
    let dir = std::env::temp_dir().join(format!("cnfwd-dpdk-cli-{pid}-b"));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = format!("cnfwd-cli-{pid}-b");
    let (cfg, ports) = dpdk_config(&case, &dir, &prefix);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cnfwd"))
        .args(["run", "--stats-interval", "0.2", "--config"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // SIGINT once it forwards (its first rate line), however long EAL takes
    // to start (slower under a sanitizer or on a busy machine).
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let first_rate = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("pkt/s"));
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(first_rate.is_some(), "no rate line before exit: {rest:?}");
    check_outputs(&case, &dir, &ports);
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two workers on DPDK vdevs: each gets its own RX/TX queue pair of every
/// port; here each RX queue replays the whole input, so each TX queue must
/// carry exactly the expected output and the counters are twice the case's.
#[test]
fn cnfwd_run_with_two_workers_uses_one_queue_pair_each() {
    let case =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../pcap-tests/cases/04-trunk-vlan-rewrite");
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("cnfwd-dpdk-cli-{pid}-w2"));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = format!("cnfwd-cli-{pid}-w2");
    let (cfg, ports) = dpdk_config_workers(&case, &dir, &prefix, 2);
    let stats = dir.join("stats.json");
    let out = Command::new(env!("CARGO_BIN_EXE_cnfwd"))
        .args(["run", "--duration", "1.5", "--config"])
        .arg(&cfg)
        .arg("--stats-json")
        .arg(&stats)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let workers: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("worker"))
        .collect();
    assert_eq!(workers.len(), 3, "two workers:\n{stdout}");
    // Worker 0 alone announces the gateway addresses at start (on its TX
    // queue 0); everything else is each worker's own forwarding.
    let mut announced = std::collections::HashMap::new();
    for p in &ports {
        let want = frames(&case.join(format!("expected-{p}.pcap")));
        let n = want.iter().take_while(|f| is_announcement(f)).count();
        announced.insert(p.clone(), n as u64);
        for q in 0..2 {
            let got = frames(&dir.join(format!("out-{p}-{q}.pcap")));
            let want = if q == 0 { &want[..] } else { &want[n..] };
            assert_eq!(got, want, "port {p} TX queue {q}");
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("expected-stats.json")).unwrap())
            .unwrap();
    for p in &ports {
        for k in ["rx_packets", "tx_packets"] {
            let w = want["ports"][p][k].as_u64().unwrap_or(0);
            let once = if k == "tx_packets" { announced[p] } else { 0 };
            assert_eq!(
                json["ports"][p][k].as_u64().unwrap_or(0),
                2 * w - once,
                "port {p} {k}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A gratuitous ARP (request with sender = target address) or an
/// unsolicited NA to ff02::1: what cnfwd sends at start (docs/slow-path.md).
fn is_announcement(f: &[u8]) -> bool {
    let (et, l3) = match f.get(12..14) {
        Some([0x81, 0x00]) => (f.get(16..18), f.get(18..)),
        _ => (f.get(12..14), f.get(14..)),
    };
    match (et, l3) {
        (Some([0x08, 0x06]), Some(a)) if a.len() >= 28 => {
            a[6..8] == [0, 1] && a[14..18] == a[24..28]
        }
        (Some([0x86, 0xdd]), Some(ip)) if ip.len() >= 41 => {
            ip[6] == 58
                && ip[24..40] == [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
                && ip[40] == 136
        }
        _ => false,
    }
}

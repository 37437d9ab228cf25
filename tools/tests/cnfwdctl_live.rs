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

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const APP_MAC: &str = "02:aa:00:00:01:05";
const DB_MAC: &str = "02:aa:00:00:02:14";
const R_APP_MAC: &str = "02:cf:00:00:00:01";
const R_DB_MAC: &str = "02:cf:00:00:00:02";

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The namespaces, the scratch directory and cnfwd; all gone on drop
/// (also when an assertion fails).
struct Lab {
    namespaces: Vec<String>,
    dir: PathBuf,
    cnfwd: Option<Child>,
}

impl Lab {
    fn new() -> Lab {
        let prefix = format!("cnfwdctl-live-{}", std::process::id());
        let dir = std::env::temp_dir().join(&prefix);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut lab = Lab {
            namespaces: Vec::new(),
            dir,
            cnfwd: None,
        };
        for n in ["r", "app", "db"] {
            let ns = format!("{prefix}-{n}");
            ip(&["netns", "add", &ns]);
            lab.namespaces.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        let r = lab.ns("r");
        for (host, mac, rif, rmac, addr, gw) in [
            (
                "app",
                APP_MAC,
                "r-app",
                R_APP_MAC,
                "10.1.0.5/24",
                "10.1.0.1",
            ),
            ("db", DB_MAC, "r-db", R_DB_MAC, "10.2.0.20/24", "10.2.0.1"),
        ] {
            let h = lab.ns(host);
            ip(&[
                "-n", &r, "link", "add", rif, "address", rmac, "type", "veth", "peer", "name",
                "eth0", "address", mac, "netns", &h,
            ]);
            let out = Command::new("ip")
                .args(["netns", "exec", &r, "sysctl", "-qw"])
                .arg(format!("net.ipv6.conf.{rif}.disable_ipv6=1"))
                .output()
                .unwrap();
            assert!(out.status.success());
            ip(&["-n", &r, "link", "set", rif, "up"]);
            ip(&["-n", &h, "link", "set", "eth0", "up"]);
            ip(&["-n", &h, "addr", "add", addr, "dev", "eth0"]);
            ip(&["-n", &h, "route", "add", "default", "via", gw]);
        }
        lab
    }

    fn ns(&self, n: &str) -> String {
        self.namespaces
            .iter()
            .find(|x| x.ends_with(&format!("-{n}")))
            .unwrap()
            .clone()
    }

    fn sock(&self) -> PathBuf {
        self.dir.join("cnfwd.sock")
    }

    fn start(&mut self, cnfwd: &Path, config: &Path) {
        let log = std::fs::File::create(self.dir.join("cnfwd.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns("r")])
            .arg(cnfwd)
            .args(["run", "--stats-interval", "0", "--config"])
            .arg(config)
            .arg("--socket")
            .arg(self.sock())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.cnfwd = Some(child);
        let end = Instant::now() + Duration::from_secs(20);
        while !self.sock().exists() {
            assert!(
                Instant::now() < end,
                "cnfwd never served its socket: {}",
                std::fs::read_to_string(self.dir.join("cnfwd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cnfwdctl"))
            .arg("--socket")
            .arg(self.sock())
            .args(args)
            .env_remove("CNFWD_SOCKET")
            .output()
            .unwrap()
    }

    /// stdout of a command that must succeed.
    fn text(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "cnfwdctl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        serde_json::from_str(&self.text(&a)).unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut c) = self.cnfwd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.namespaces {
            // Whatever still runs inside (a ping) would keep it alive.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const CONFIG: &str = r#"
[[l3_isolation_domains]]
name = "red"

[[l3_isolation_domains.static_routes]]
prefix = "198.51.100.0/24"
next_hop = "10.2.0.20"

[[l3_networks]]
name = "app"
vlan = 100
l3_isolation_domain = "red"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"

[[l3_networks]]
name = "db"
vlan = 200
l3_isolation_domain = "red"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.2.0.0/24"

[[ports]]
name = "app"
backend = "af_packet"
interface = "r-app"
mode = "access"
networks = ["app"]

[[ports]]
name = "db"
backend = "af_packet"
interface = "r-db"
mode = "access"
networks = ["db"]
"#;

fn cnfwd_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CNFWD_BIN") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_BIN_EXE_cnfwdctl")).with_file_name("cnfwd");
    assert!(
        p.exists(),
        "no cnfwd binary at {}: run `cargo build -p dataplane --bin cnfwd` first (or set CNFWD_BIN)",
        p.display()
    );
    p
}

fn can_run() -> bool {
    // `id -u` says whether we are root.
    let uid = Command::new("id").arg("-u").output().map(|o| o.stdout);
    if !uid.is_ok_and(|u| u == b"0\n") {
        println!("skipping: needs root (network namespaces, AF_PACKET)");
        return false;
    }
    if !Command::new("ip")
        .args(["netns", "list"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!("skipping: `ip netns` is not available");
        return false;
    }
    true
}

#[test]
fn cnfwdctl_against_a_running_cnfwd() {
    if !can_run() {
        return;
    }
    let cnfwd = cnfwd_binary();
    let mut lab = Lab::new();
    let config = lab.dir.join("site.toml");
    std::fs::write(&config, CONFIG).unwrap();

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

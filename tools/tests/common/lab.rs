//! The lab the live `cnfwdctl` tests share: a router namespace `r` with
//! two veths to hosts `app` (10.1.0.5/24, via 10.1.0.1) and `db`
//! (10.2.0.20/24, via 10.2.0.1), IPv6 off on every veth end (no RS/ND noise
//! on the ports), a scratch directory, and a `cnfwd run` inside `r` with
//! its management socket there; everything is gone on drop, also when an
//! assertion fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const APP_MAC: &str = "02:aa:00:00:01:05";
pub const DB_MAC: &str = "02:aa:00:00:02:14";
pub const R_APP_MAC: &str = "02:cf:00:00:00:01";
pub const R_DB_MAC: &str = "02:cf:00:00:00:02";

pub fn ip(args: &[&str]) {
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
pub struct Lab {
    pub namespaces: Vec<String>,
    pub dir: PathBuf,
    pub cnfwd: Option<Child>,
}

impl Lab {
    pub fn new(name: &str) -> Lab {
        let prefix = format!("{name}-{}", std::process::id());
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
            for ns_if in [(&r, rif), (&h, "eth0")] {
                let out = Command::new("ip")
                    .args(["netns", "exec", ns_if.0, "sysctl", "-qw"])
                    .arg(format!("net.ipv6.conf.{}.disable_ipv6=1", ns_if.1))
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{out:?}");
            }
            ip(&["-n", &r, "link", "set", rif, "up"]);
            ip(&["-n", &h, "link", "set", "eth0", "up"]);
            ip(&["-n", &h, "addr", "add", addr, "dev", "eth0"]);
            ip(&["-n", &h, "route", "add", "default", "via", gw]);
        }
        lab
    }

    pub fn ns(&self, n: &str) -> String {
        self.namespaces
            .iter()
            .find(|x| x.ends_with(&format!("-{n}")))
            .unwrap()
            .clone()
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.join("cnfwd.sock")
    }

    pub fn start(&mut self, cnfwd: &Path, config: &Path) {
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

    pub fn ctl_in(&self, cwd: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cnfwdctl"))
            .current_dir(cwd)
            .arg("--socket")
            .arg(self.sock())
            .args(args)
            .env_remove("CNFWD_SOCKET")
            .output()
            .unwrap()
    }

    pub fn ctl(&self, args: &[&str]) -> Output {
        self.ctl_in(&self.dir, args)
    }

    /// stdout of a command that must succeed.
    pub fn text(&self, args: &[&str]) -> String {
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

    pub fn json(&self, args: &[&str]) -> Value {
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

/// The lab's networks and ports in cnfwd's TOML (`app` on `r-app`, `db` on
/// `r-db`, both in VRF `red`): a test's config is its `red` domain table
/// (with any static routes) followed by this.
pub const LAB_NETWORKS: &str = r#"
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

/// The `cnfwd` binary: `$CNFWD_BIN`, else the one next to `cnfwdctl`.
pub fn cnfwd_binary() -> PathBuf {
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

/// Whether this machine can run the lab (root, `ip netns`); says why
/// not.
pub fn can_run() -> bool {
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

//! Network namespaces and veth pairs for benchmarks and their tests, made
//! with `ip` and deleted on drop (also when a test fails).
//!
//! Every namespace is named `cnfwd-bench-<tag>-<pid>-<role>`, so parallel
//! runs never meet; nothing made here routes outside its namespaces.

use std::fs::File;
use std::process::{Command, Stdio};

use dataplane::io::afpacket::{AfPacketBackend, RingConfig};

use super::{open_port, BenchError};

/// Runs `ip ARGS`; the error has the command and `ip`'s message.
pub fn ip(args: &[&str]) -> Result<(), String> {
    run("ip", args)
}

/// Runs `prog ARGS` and waits; the error has the command and its stderr.
pub fn run(prog: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{prog} {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{prog} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A namespace, deleted (with its interfaces) on drop.
#[derive(Debug)]
pub struct Netns {
    /// Its name.
    pub name: String,
}

impl Netns {
    /// Makes namespace `cnfwd-bench-<tag>-<pid>-<role>` with `lo` up and
    /// IPv6 off on new interfaces (no router solicitations in the counts).
    pub fn new(tag: &str, role: &str) -> Result<Netns, String> {
        let name = format!("cnfwd-bench-{tag}-{}-{role}", std::process::id());
        let _ = ip(&["netns", "del", &name]);
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        ns.sysctl("net/ipv6/conf/default/disable_ipv6", "1")?;
        ns.sysctl("net/ipv6/conf/all/disable_ipv6", "1")?;
        Ok(ns)
    }

    /// Writes `/proc/sys/<key>` inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), String> {
        let (path, value) = (format!("/proc/sys/{key}"), value.to_owned());
        self.enter(move || std::fs::write(&path, value).map_err(|e| format!("{path}: {e}")))?
    }

    /// Runs `f` on a thread inside the namespace.
    pub fn enter<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let nsf = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
            nix::sched::setns(&nsf, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| format!("setns {path}: {e}"))?;
            Ok(f())
        })
        .join()
        .map_err(|_| "namespace thread panicked".to_owned())?
    }

    /// Opens `interface` of this namespace as a one-port AF_PACKET backend.
    pub fn open(&self, interface: &str, ring: RingConfig) -> Result<AfPacketBackend, String> {
        let i = interface.to_owned();
        self.enter(move || open_port(&i, ring).map_err(|e: BenchError| e.to_string()))?
    }

    /// `ip -s -j link show dev <interface>` in the namespace (sysfs shows
    /// the namespace of whoever mounted it, not this thread's).
    fn link_json(&self, interface: &str) -> Result<serde_json::Value, String> {
        let out = Command::new("ip")
            .args([
                "-n", &self.name, "-s", "-j", "link", "show", "dev", interface,
            ])
            .output()
            .map_err(|e| format!("ip link show {interface}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "ip -n {} link show {interface}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("ip link show {interface}: {e}"))?;
        Ok(v[0].clone())
    }

    /// Opens `interface` in the existing namespace `self` (not made here:
    /// it is not deleted, the `Netns` is forgotten).
    pub fn open_keep(self, interface: &str, ring: RingConfig) -> Result<AfPacketBackend, String> {
        let r = self.open(interface, ring);
        std::mem::forget(self);
        r
    }

    /// The MAC of `interface`.
    pub fn mac(&self, interface: &str) -> Result<[u8; 6], String> {
        let j = self.link_json(interface)?;
        let text = j["address"].as_str().unwrap_or_default().to_owned();
        let v: Vec<u8> = text
            .split(':')
            .filter_map(|h| u8::from_str_radix(h, 16).ok())
            .collect();
        v.try_into()
            .map_err(|_| format!("{interface}: bad MAC {text:?}"))
    }

    /// A counter of `interface`: `rx`/`tx` and `packets`/`bytes`/`dropped`...
    /// as `ip -s -j link` names them.
    pub fn counter(&self, interface: &str, dir: &str, name: &str) -> Result<u64, String> {
        let j = self.link_json(interface)?;
        j["stats64"][dir][name]
            .as_u64()
            .ok_or_else(|| format!("{interface}: no counter stats64.{dir}.{name}"))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Makes veth pair `a` (in `a_ns`) -- `b` (in `b_ns`), both up, IPv6 off,
/// TX checksum offload off (frames leave with complete checksums).
pub fn veth(a_ns: &Netns, a: &str, b_ns: &Netns, b: &str) -> Result<(), String> {
    ip(&[
        "-n", &a_ns.name, "link", "add", a, "type", "veth", "peer", "name", b, "netns", &b_ns.name,
    ])?;
    for (ns, i) in [(a_ns, a), (b_ns, b)] {
        let _ = ns.sysctl(&format!("net/ipv6/conf/{i}/disable_ipv6"), "1");
        let _ = run(
            "ip",
            &["netns", "exec", &ns.name, "ethtool", "-K", i, "tx", "off"],
        );
        ip(&["-n", &ns.name, "link", "set", i, "up"])?;
    }
    Ok(())
}

/// True when this process may make namespaces (root and `ip netns`);
/// otherwise prints why `what` is skipped.
pub fn can_run(what: &str) -> bool {
    if !nix::unistd::geteuid().is_root() {
        println!("skipping {what}: needs root (CAP_NET_ADMIN, CAP_NET_RAW)");
        return false;
    }
    if ip(&["netns", "list"]).is_err() {
        println!("skipping {what}: `ip netns` is not available");
        return false;
    }
    true
}

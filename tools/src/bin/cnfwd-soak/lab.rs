//! The soak's network: a router namespace where `cnfwd run` forwards on
//! AF_PACKET, and three host namespaces joined to it by veth pairs. Every
//! name starts with the run's prefix (`cnfwd-soak-<pid>` by default, so two
//! runs never meet); [`Lab`]'s drop kills what still runs inside and
//! deletes the namespaces (their veths go with them), also when the soak
//! fails or is interrupted.
//!
//! ```text
//!   app  10.1.0.10/24  --- cnf-a \
//!   srv  10.2.0.10/24  --- cnf-b  } cnfwd (VRF vrf1; ports a, b, c)
//!   csn  10.9.0.254/24 --- cnf-c /  CSN egress: 203.0.113.0/25 port 443
//!   (the csn host has 203.0.113.10-13 on lo: the allowlisted endpoints,
//!   answering; its route to 10.1.0.0/16 is via cnfwd)
//! ```

use std::fs::File;
use std::process::Command;
use std::thread::JoinHandle;

use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A host namespace.
#[derive(Debug, Clone)]
pub struct Host {
    /// The namespace.
    pub ns: String,
}

/// The namespaces of one soak run; all deleted when dropped.
pub struct Lab {
    /// The router namespace (cnfwd runs there).
    pub router: String,
    /// Every namespace made, router first.
    made: Vec<String>,
    prefix: String,
}

/// Runs `ip ARGS`; the error names the command and what `ip` said.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Starts `f` on a new thread that has entered network namespace `ns`
/// (sockets it opens live there).
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<Result<T, String>>, String> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let nsf = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
            setns(&nsf, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns {path}: {e}"))?;
            Ok(f())
        })
        .map_err(|e| format!("thread {name}: {e}"))
}

/// Writes `value` to `/proc/sys/<key>` inside namespace `ns`.
fn sysctl(ns: &str, key: &str, value: &str) -> Result<(), String> {
    let (path, value) = (format!("/proc/sys/{key}"), value.to_owned());
    in_netns(ns, "sysctl", move || {
        std::fs::write(&path, value).map_err(|e| format!("{path}: {e}"))
    })?
    .join()
    .map_err(|_| "sysctl thread panicked".to_string())??
}

impl Lab {
    /// Makes the router namespace `<prefix>-r`. Any namespace left by an
    /// earlier run with the same prefix is removed first.
    pub fn new(prefix: &str) -> Result<Lab, String> {
        let mut lab = Lab {
            router: format!("{prefix}-r"),
            made: Vec::new(),
            prefix: prefix.to_string(),
        };
        lab.namespace(&lab.router.clone())?;
        Ok(lab)
    }

    fn namespace(&mut self, ns: &str) -> Result<(), String> {
        let _ = ip(&["netns", "del", ns]);
        ip(&["netns", "add", ns])?;
        self.made.push(ns.to_string());
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        // No IPv6 anywhere: the soak's networks are IPv4, and router
        // solicitations or MLD reports would only add noise to the counts.
        sysctl(ns, "net/ipv6/conf/all/disable_ipv6", "1")?;
        sysctl(ns, "net/ipv6/conf/default/disable_ipv6", "1")
    }

    /// A host namespace `<prefix>-<name>` joined to the router: `eth0`
    /// (`host_mac`) in the host, `router_if` (`router_mac`) in the router,
    /// both up; the host gets `cidr` on `eth0` and `routes` (`[dest, via]`).
    pub fn host(
        &mut self,
        name: &str,
        router_if: &str,
        host_mac: &str,
        router_mac: &str,
        cidr: &str,
        routes: &[(&str, &str)],
    ) -> Result<Host, String> {
        let ns = format!("{}-{name}", self.prefix);
        self.namespace(&ns)?;
        // Made in the router namespace, the peer moved into the host's:
        // neither name is ever seen in the root namespace.
        ip(&[
            "-n",
            &self.router,
            "link",
            "add",
            "name",
            router_if,
            "address",
            router_mac,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "address",
            host_mac,
            "netns",
            &ns,
        ])?;
        ip(&["-n", &self.router, "link", "set", "dev", router_if, "up"])?;
        ip(&["-n", &ns, "link", "set", "dev", "eth0", "up"])?;
        ip(&["-n", &ns, "addr", "add", cidr, "dev", "eth0"])?;
        for (dest, via) in routes {
            ip(&["-n", &ns, "route", "add", dest, "via", via, "dev", "eth0"])?;
        }
        Ok(Host { ns })
    }

    /// Reads a counter of interface `ifname` in namespace `ns`
    /// (`/sys/class/net/<if>/statistics/<counter>`, read from inside).
    pub fn if_counter(ns: &str, ifname: &str, counter: &str) -> Result<u64, String> {
        // sysfs shows the namespace it was mounted in, so read the counter
        // through `ip -s` instead, which asks the kernel over netlink.
        let out = Command::new("ip")
            .args(["-n", ns, "-j", "-s", "link", "show", "dev", ifname])
            .output()
            .map_err(|e| format!("ip -s link: {e}"))?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("ip -j -s link show {ifname} in {ns}: {e}"))?;
        let (dir, key) = counter
            .split_once('_')
            .ok_or_else(|| format!("counter {counter}"))?;
        v[0]["stats64"][dir][key]
            .as_u64()
            .ok_or_else(|| format!("{ifname} in {ns}: no stats64.{dir}.{key}"))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Processes still inside keep a namespace (and its veths) alive.
        for ns in self.made.iter().rev() {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    if let Ok(pid) = pid.parse::<i32>() {
                        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                    }
                }
            }
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

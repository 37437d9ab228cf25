//! Real Linux hosts around a real `cnfwd run`, each in its own network
//! namespace (`linux_hosts.rs`, `slow_overload.rs`).
//!
//! A [`Lab`] is a router namespace where `cnfwd run` (AF_PACKET backend)
//! runs, and one namespace per host, joined to the router by a veth pair:
//! `eth0` in the host, the name given in the router. Hosts are configured
//! as a person would: an address and a default route via cnfwd's gateway
//! address, nothing else (no static ARP/ND entries, offloads as the kernel
//! sets them). The router's veth ends carry no address and have IPv6 off,
//! so its kernel stays out of the way. Everything made here has a name
//! unique to the test and process, and [`Lab`]'s drop deletes it (after
//! killing what runs in it), also when the test fails. Nothing leaves the
//! namespaces: the hosts' only route is cnfwd.
//!
//! The tests need root (CAP_NET_ADMIN, CAP_NET_RAW), `ip netns`, python3
//! and iputils (`ping`, `tracepath`): `scripts/setup.sh` installs them.
//! Without root or `ip netns` a test prints a line and passes (CI runs as
//! root); a missing tool fails it, naming the tool.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::connect_when_up;

/// Runs `ip ARGS`.
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

/// True when this process can make namespaces and veth pairs; the tools
/// the hosts run (`tools`) must be installed.
pub fn can_run(test: &str, tools: &[&str]) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        println!("skipping {test}: needs root (CAP_NET_ADMIN, CAP_NET_RAW)");
        return false;
    }
    if ip(&["netns", "list"]).is_err() {
        println!("skipping {test}: `ip netns` is not available");
        return false;
    }
    for tool in tools {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "{test} needs `{tool}` (scripts/setup.sh installs iputils-ping, iputils-tracepath, python3)"
        );
    }
    true
}

/// Runs `f` on a thread that entered namespace `ns`.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let nsf = File::open(&path).expect("open namespace");
        // SAFETY: `nsf` is an open namespace file; setns changes only this
        // thread's network namespace, and the thread ends with `f`.
        let r = unsafe { libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("namespace thread")
}

/// Writes `value` to `/proc/sys/<key>` inside namespace `ns`.
pub fn sysctl(ns: &str, key: &str, value: &str) {
    let (path, value) = (format!("/proc/sys/{key}"), value.to_owned());
    in_netns(ns, move || {
        std::fs::write(&path, value).unwrap_or_else(|e| panic!("{path}: {e}"));
    });
}

/// `aa:bb:...` text of a MAC.
pub fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The namespaces of one test; all deleted (their veths with them) on drop.
pub struct Lab {
    /// The router namespace, where cnfwd runs.
    pub router: String,
    /// Host namespaces made so far.
    hosts: Vec<String>,
    prefix: String,
    /// A scratch directory for configuration, socket, stats and logs.
    pub dir: PathBuf,
}

/// One Linux host: a namespace with `eth0`.
#[derive(Debug, Clone)]
pub struct Host {
    /// Its namespace.
    pub ns: String,
    /// Its MAC.
    pub mac: [u8; 6],
}

impl Lab {
    /// A router namespace for test `name` (unique with the process id).
    pub fn new(name: &str) -> Lab {
        let prefix = format!("cnfwd-{name}-{}", std::process::id());
        let dir = std::env::temp_dir().join(&prefix);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        let lab = Lab {
            router: format!("{prefix}-r"),
            hosts: Vec::new(),
            prefix,
            dir,
        };
        ip(&["netns", "add", &lab.router]).expect("router namespace");
        ip(&["-n", &lab.router, "link", "set", "lo", "up"]).expect("router lo up");
        lab
    }

    /// A host `name` joined to the router: `eth0` (MAC `mac`) in the host,
    /// `router_if` (MAC `router_mac`) in the router, both with `mtu`, up.
    pub fn host(
        &mut self,
        name: &str,
        mac: [u8; 6],
        router_if: &str,
        router_mac: [u8; 6],
        mtu: u32,
    ) -> Host {
        let ns = format!("{}-{name}", self.prefix);
        ip(&["netns", "add", &ns]).expect("host namespace");
        self.hosts.push(ns.clone());
        ip(&["-n", &ns, "link", "set", "lo", "up"]).expect("host lo up");
        // Made in the router's namespace, the peer moved into the host's:
        // neither name is ever seen in the root namespace.
        ip(&[
            "-n",
            &self.router,
            "link",
            "add",
            router_if,
            "address",
            &mac_text(router_mac),
            "mtu",
            &mtu.to_string(),
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "address",
            &mac_text(mac),
            "mtu",
            &mtu.to_string(),
            "netns",
            &ns,
        ])
        .expect("veth pair");
        sysctl(
            &self.router,
            &format!("net/ipv6/conf/{router_if}/disable_ipv6"),
            "1",
        );
        ip(&["-n", &self.router, "link", "set", router_if, "up"]).expect("router end up");
        ip(&["-n", &ns, "link", "set", "eth0", "up"]).expect("host end up");
        Host { ns, mac }
    }

    /// Writes `text` to `name` in the scratch directory.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).expect("write scratch file");
        p
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Processes still in a namespace keep it (and its veths) alive:
        // kill them first.
        for ns in self.hosts.iter().chain(std::iter::once(&self.router)) {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    if let Ok(pid) = pid.parse::<i32>() {
                        // SAFETY: plain system call; the pid is one of a
                        // process inside this test's own namespace.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
            }
            let _ = ip(&["netns", "del", ns]);
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("kept {} (cnfwd's log and stats)", self.dir.display());
        }
    }
}

impl Host {
    /// Adds `cidr` to `eth0` and a default route via `gw` (IPv4 or IPv6).
    pub fn address(&self, cidr: &str, gw: &str) {
        let fam = if cidr.contains(':') { "-6" } else { "-4" };
        ip(&["-n", &self.ns, fam, "addr", "add", cidr, "dev", "eth0"]).expect("address");
        ip(&[
            "-n", &self.ns, fam, "route", "add", "default", "via", gw, "dev", "eth0",
        ])
        .expect("default route");
    }

    /// Waits until duplicate address detection is over on every IPv6
    /// address of `eth0`.
    pub fn wait_dad(&self) {
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            let out = self.run(
                &["ip", "-6", "addr", "show", "dev", "eth0", "tentative"],
                Duration::from_secs(5),
            );
            if out.stdout.trim().is_empty() {
                return;
            }
            assert!(Instant::now() < end, "DAD never ended:\n{}", out.stdout);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The host kernel's counts of received TCP / UDP segments dropped for
    /// a bad checksum (`/proc/net/snmp`, `/proc/net/snmp6`), as text for
    /// failure messages.
    pub fn checksum_errors(&self) -> String {
        let out = self.run(
            &["cat", "/proc/net/snmp", "/proc/net/snmp6"],
            Duration::from_secs(5),
        );
        let lines: Vec<&str> = out.stdout.lines().collect();
        let mut found = Vec::new();
        for pair in lines.windows(2) {
            let (names, values) = (pair[0], pair[1]);
            let proto = names.split(':').next().unwrap_or("");
            if !(names.starts_with("Tcp:") || names.starts_with("Udp:"))
                || !values.starts_with(proto)
            {
                continue;
            }
            for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
                if n == "InCsumErrors" {
                    found.push(format!("{proto} InCsumErrors {v}"));
                }
            }
        }
        for l in &lines {
            if l.starts_with("Udp6InCsumErrors") {
                found.push(l.split_whitespace().collect::<Vec<_>>().join(" "));
            }
        }
        format!("{}: {}", self.ns, found.join(", "))
    }

    /// Runs `argv` in this host and waits for it (killed after `timeout`).
    pub fn run(&self, argv: &[&str], timeout: Duration) -> Ran {
        run_in(&self.ns, argv, timeout)
    }

    /// Starts `argv` in this host; it is killed when the returned guard
    /// drops. Its stdout is piped (see [`Proc::line`]).
    pub fn spawn(&self, argv: &[&str]) -> Proc {
        Proc::spawn(&self.ns, argv)
    }
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Ran {
    /// Exit status (None: killed at its timeout).
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// True when it exited 0.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => writeln!(f, "exit: {s}")?,
            None => writeln!(f, "exit: killed at its timeout")?,
        }
        write!(f, "stdout:\n{}stderr:\n{}", self.stdout, self.stderr)
    }
}

/// Runs `argv` in namespace `ns`, killed after `timeout`.
pub fn run_in(ns: &str, argv: &[&str], timeout: Duration) -> Ran {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let read = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let out = read(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let err = read(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let end = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().expect("wait") {
            Some(s) => break Some(s),
            None if Instant::now() >= end => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    Ran {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A process running in a namespace; killed on drop.
pub struct Proc {
    child: Child,
    stdout: Option<BufReader<std::process::ChildStdout>>,
}

impl Proc {
    fn spawn(ns: &str, argv: &[&str]) -> Proc {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        let stdout = child.stdout.take().map(BufReader::new);
        Proc { child, stdout }
    }

    /// The next line it prints (empty at its end).
    pub fn line(&mut self) -> String {
        let mut s = String::new();
        if let Some(r) = self.stdout.as_mut() {
            let _ = r.read_line(&mut s);
        }
        s
    }

    /// Waits for it to end (killed after `timeout`) and returns the rest
    /// of what it printed.
    pub fn finish(mut self, timeout: Duration) -> Ran {
        let mut rest = String::new();
        let reader = self.stdout.take();
        let t = std::thread::spawn(move || {
            if let Some(mut r) = reader {
                let _ = r.read_to_string(&mut rest);
            }
            rest
        });
        let end = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait().expect("wait") {
                Some(s) => break Some(s),
                None if Instant::now() >= end => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        Ran {
            status,
            stdout: t.join().unwrap_or_default(),
            stderr: String::new(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `cnfwd run` in the lab's router namespace, with a management socket and
/// a stats JSON file; killed on drop if still running.
pub struct Cnfwd {
    child: Option<Child>,
    /// Its management socket.
    pub socket: PathBuf,
    stats: PathBuf,
    log: PathBuf,
}

impl Cnfwd {
    /// Writes `config` and starts cnfwd on it; returns once its management
    /// socket answers (its AF_PACKET sockets are open by then).
    pub fn start(lab: &Lab, config: &str) -> Cnfwd {
        let cfg = lab.file("cnfwd.toml", config);
        let socket = lab.dir.join("cnfwd.sock");
        let stats = lab.dir.join("stats.json");
        let log = lab.dir.join("cnfwd.log");
        let logf = File::create(&log).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.router])
            .arg(env!("CARGO_BIN_EXE_cnfwd"))
            .args(["run", "--stats-interval", "0", "--config"])
            .arg(&cfg)
            .arg("--stats-json")
            .arg(&stats)
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(logf.try_clone().expect("log file"))
            .stderr(logf)
            .spawn()
            .expect("start cnfwd");
        let mut c = Cnfwd {
            child: Some(child),
            socket,
            stats,
            log,
        };
        let end = Instant::now() + Duration::from_secs(20);
        while !c.socket.exists() {
            if let Some(Ok(Some(status))) = c.child.as_mut().map(|c| c.try_wait()) {
                panic!("cnfwd exited at start ({status}):\n{}", c.log_text());
            }
            assert!(Instant::now() < end, "cnfwd never served its socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.call("/health", None);
        c
    }

    /// One management command; panics on an error reply.
    pub fn call(&self, cmd: &str, params: Option<Value>) -> Value {
        let mut client = connect_when_up(&self.socket, Duration::from_secs(10));
        client
            .call(cmd, params.as_ref())
            .unwrap_or_else(|e| panic!("{cmd}: socket: {e}"))
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
    }

    /// What cnfwd printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops cnfwd with SIGINT and returns its final stats JSON.
    pub fn stop(mut self) -> Value {
        let mut child = self.child.take().expect("running");
        // SAFETY: plain system call to our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let end = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() >= end {
                let _ = child.kill();
                let _ = child.wait();
                panic!("cnfwd did not stop on SIGINT:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "cnfwd: {status}\n{}", self.log_text());
        let text = std::fs::read_to_string(&self.stats).expect("stats JSON written");
        serde_json::from_str(&text).expect("stats JSON parses")
    }
}

impl Drop for Cnfwd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `rx + replicated + generated + fragments - fragmented = tx + dropped` of
/// a stats JSON (nothing is held once cnfwd has stopped).
pub fn assert_accounted(stats: &Value) {
    let n = |k: &str| {
        stats["totals"][k]
            .as_u64()
            .unwrap_or_else(|| panic!("totals.{k}"))
    };
    assert_eq!(
        n("rx_packets") + n("replicated") + n("generated") + n("fragments") - n("fragmented"),
        n("tx_packets") + n("dropped"),
        "every frame sent or dropped once: {}",
        stats["totals"]
    );
}

/// A port's drop count for `reason` in a stats JSON (0 when not listed).
pub fn port_drop(stats: &Value, port: &str, reason: &str) -> u64 {
    stats["ports"][port]["drops"][reason].as_u64().unwrap_or(0)
}

/// A slow-path counter of a stats JSON (0 when not listed).
pub fn slow_counter(stats: &Value, name: &str) -> u64 {
    stats["slow_path"][name].as_u64().unwrap_or(0)
}

/// The path of `p` as text, for command lines.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

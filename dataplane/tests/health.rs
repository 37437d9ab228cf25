//! Health of a running `cnfwd run` on AF_PACKET veth pairs: `/healthz` and
//! `/readyz` on the metrics listener, the `/health` socket command, and the
//! systemd notifications (`NOTIFY_SOCKET`).
//!
//! Each test makes its own network namespace and veth pairs (cnfwd's ends
//! in the root namespace, the peers in the namespace, IPv6 off, no
//! addresses: nothing crosses them), deleted by a guard even
//! when the test fails. The stall test makes a worker really stop polling
//! with the test-only hook `CNFWD_TEST_STALL_WORKER=WORKER:AFTER_MS:STALL_MS`
//! (the worker thread sleeps once, between two rounds: its heartbeat goes
//! stale exactly as a stuck worker's would; signals cannot stop one
//! thread). Workers idle adaptively, so the runs do not take a core each.
//!
//! The tests need root (CAP_NET_ADMIN, CAP_NET_RAW) and `ip netns`; without
//! them they print a line and pass. CI runs them as root.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod common;

use common::hosts::{can_run, ip};
use dataplane::control::Client;
use serde_json::Value;

// ---------------------------------------------------------------- set-up

/// A namespace, veth pairs into it and a scratch directory; all removed on
/// drop.
struct Lab {
    ns: String,
    links: Vec<String>,
    tag: String,
    dir: PathBuf,
}

impl Lab {
    fn new(n: u32) -> Self {
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("cnfwd-health-{pid}-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab {
            ns: format!("cnfwd-h{pid}-{n}"),
            links: Vec::new(),
            tag: format!("ch{pid}{n}"),
            dir,
        };
        ip(&["netns", "add", &lab.ns]).expect("create namespace");
        // Peers made in the namespace from now on start with IPv6 off.
        let _ = Command::new("ip")
            .args(["netns", "exec", &lab.ns, "sh", "-c"])
            .arg("echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6")
            .status();
        lab
    }

    /// An up veth pair: (cnfwd's end, peer in the namespace).
    fn veth(&mut self, suffix: char) -> (String, String) {
        let a = format!("{}{suffix}", self.tag);
        let p = format!("{a}p");
        assert!(p.len() <= 15, "interface name {p} too long");
        ip(&[
            "link", "add", &a, "type", "veth", "peer", "name", &p, "netns", &self.ns,
        ])
        .expect("create veth pair");
        self.links.push(a.clone());
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{a}/disable_ipv6"), "1");
        ip(&["link", "set", &a, "up"]).expect("veth up");
        ip(&["-n", &self.ns, "link", "set", &p, "up"]).expect("peer up");
        (a, p)
    }

    /// The configuration: `[engine]` and `[metrics]` lines given, one L2
    /// network, an access port on each interface.
    fn config(&self, head: &str, interfaces: &[&str]) -> PathBuf {
        let mut text = format!("{head}\n[[l2_networks]]\nname = \"l2\"\nvlan = 10\n");
        for (i, ifname) in interfaces.iter().enumerate() {
            text += &format!(
                "\n[[ports]]\nname = \"p{i}\"\nbackend = \"af_packet\"\ninterface = \"{ifname}\"\nmac = \"02:00:00:00:00:0{}\"\nmode = \"access\"\nnetworks = [\"l2\"]\n",
                i + 1
            );
        }
        let path = self.dir.join("cnfwd.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("cnfwd.sock")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for l in &self.links {
            let _ = ip(&["link", "del", l]);
        }
        let _ = ip(&["netns", "del", &self.ns]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running cnfwd, killed on drop.
struct Cnfwd(Child);

impl Cnfwd {
    fn start(lab: &Lab, config: &PathBuf, env: &[(&str, &str)]) -> Cnfwd {
        let child = Command::new(env!("CARGO_BIN_EXE_cnfwd"))
            .args(["run", "--quiet", "--stats-interval", "0", "--config"])
            .arg(config)
            .arg("--socket")
            .arg(lab.socket())
            .env_remove("NOTIFY_SOCKET")
            .env_remove("CNFWD_TEST_STALL_WORKER")
            .envs(env.iter().copied())
            .spawn()
            .expect("start cnfwd");
        Cnfwd(child)
    }

    fn alive(&mut self) {
        if let Ok(Some(status)) = self.0.try_wait() {
            panic!("cnfwd exited: {status}");
        }
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        let r = unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
        self.0.wait().expect("wait for cnfwd")
    }
}

impl Drop for Cnfwd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP exchange: (status, head, body).
fn http(addr: SocketAddr, method: &str, path: &str) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_string(), body.to_string()))
}

/// Polls `f` every 20 ms until it returns `Some`, for at most `within`.
fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `path` answers `status`; returns the body.
fn wait_status(cnfwd: &mut Cnfwd, addr: SocketAddr, path: &str, status: u16) -> String {
    wait_for(
        &format!("{path} to answer {status}"),
        Duration::from_secs(15),
        || {
            cnfwd.alive();
            http(addr, "GET", path)
                .filter(|r| r.0 == status)
                .map(|r| r.2)
        },
    )
}

fn health(c: &mut Client) -> Value {
    c.call("/health", None)
        .expect("socket")
        .expect("/health answers")
}

// ---------------------------------------------------------------- tests

/// Healthy run: both probes 200 in plain text (HEAD too), `/metrics` still
/// served, `/health` with every fact. Readiness fails while a port's
/// interface is administratively down, then while its peer is down (up but
/// not running), and recovers each time; liveness never fails.
#[test]
fn probes_pass_on_a_healthy_run_and_readiness_follows_the_links() {
    if !can_run(
        "probes_pass_on_a_healthy_run_and_readiness_follows_the_links",
        &[],
    ) {
        return;
    }
    let mut lab = Lab::new(1);
    let (a, ap) = lab.veth('a');
    let (b, _) = lab.veth('b');
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = lab.config(
        &format!("[engine]\nidle = \"adaptive\"\n[metrics]\nlisten = \"{addr}\"\n"),
        &[&a, &b],
    );
    let mut cnfwd = Cnfwd::start(&lab, &config, &[]);

    let body = wait_status(&mut cnfwd, addr, "/readyz", 200);
    assert_eq!(
        body,
        "ready: 1 worker(s) forwarding on snapshot 1, 2 port(s) up\n"
    );
    let (status, head, body) = http(addr, "GET", "/healthz").unwrap();
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"),
        "{head}"
    );
    assert_eq!(body, "ok: 1 worker(s) polling\n");
    let (status, head, body) = http(addr, "HEAD", "/healthz").unwrap();
    assert_eq!(status, 200);
    assert!(head.contains("\r\nContent-Length: 24\r\n"), "{head}");
    assert_eq!(body, "");
    let (status, _, body) = http(addr, "HEAD", "/readyz").unwrap();
    assert_eq!((status, body.as_str()), (200, ""));
    let (status, head, body) = http(addr, "GET", "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(head.contains("version=0.0.4"), "{head}");
    assert!(body.contains("\ncnfwd_workers 1\n"), "{body}");

    let mut c = common::connect_when_up(&lab.socket(), Duration::from_secs(10));
    let h = health(&mut c);
    // The fields /health always had.
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["workers"], 1);
    assert_eq!(h["snapshot"], 1);
    assert_eq!(h["workers_on_snapshot"], 1);
    assert!(h["uptime_seconds"].as_f64().unwrap() > 0.0);
    // And the probes' facts.
    assert_eq!(h["live"], true);
    assert_eq!(h["ready"], true);
    assert_eq!(h["not_ready"], serde_json::json!([]));
    assert_eq!(h["stall_timeout_ms"], 1000);
    let w = &h["worker_health"][0];
    assert_eq!(w["id"], 0);
    assert_eq!(w["stalled"], false);
    assert!(w["rounds"].as_u64().unwrap() > 0, "{w}");
    assert!(w["last_round_age_ms"].as_f64().unwrap() < 1000.0, "{w}");
    assert_eq!(h["ports"][0]["name"], "p0");
    assert_eq!(h["ports"][0]["device"], a.as_str());
    assert_eq!(h["ports"][0]["up"], true);
    assert_eq!(h["ports"][1]["state"], "up");

    // cnfwd's end administratively down.
    ip(&["link", "set", "dev", &a, "down"]).unwrap();
    let body = wait_status(&mut cnfwd, addr, "/readyz", 503);
    assert_eq!(
        body,
        format!("port p0 (af_packet {a}): not up: admin down\n")
    );
    let (status, _, _) = http(addr, "GET", "/healthz").unwrap();
    assert_eq!(status, 200, "a down port does not make cnfwd unhealthy");
    let h = health(&mut c);
    assert_eq!(
        (h["live"].as_bool(), h["ready"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(h["ports"][0]["up"], false);
    ip(&["link", "set", "dev", &a, "up"]).unwrap();
    wait_status(&mut cnfwd, addr, "/readyz", 200);

    // Up, but its peer is down: no carrier, not IFF_RUNNING.
    ip(&["-n", &lab.ns, "link", "set", "dev", &ap, "down"]).unwrap();
    let body = wait_status(&mut cnfwd, addr, "/readyz", 503);
    assert_eq!(
        body,
        format!("port p0 (af_packet {a}): not up: not running (operstate down)\n")
    );
    ip(&["-n", &lab.ns, "link", "set", "dev", &ap, "up"]).unwrap();
    wait_status(&mut cnfwd, addr, "/readyz", 200);
    assert_eq!(health(&mut c)["ready"], true);
    let status = cnfwd.terminate();
    assert!(status.success(), "{status}");
}

/// A worker that really stops polling makes `/healthz` (and `/readyz`, and
/// `/health`) fail naming it, and only it; all recover when it resumes.
#[test]
fn a_stalled_worker_fails_healthz_until_it_polls_again() {
    if !can_run("a_stalled_worker_fails_healthz_until_it_polls_again", &[]) {
        return;
    }
    let mut lab = Lab::new(2);
    let (a, _) = lab.veth('a');
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = lab.config(
        &format!(
            "[engine]\nworkers = 2\nidle = \"adaptive\"\nstall_timeout_ms = 800\n\
             [metrics]\nlisten = \"{addr}\"\n"
        ),
        &[&a],
    );
    // Worker 1 stops polling for 4 s, 3 s after it started. (With 300 ms,
    // runs beside compilers on a 2-core machine failed after about 1.5 s,
    // on a stall report that was not about worker 1.)
    let mut cnfwd = Cnfwd::start(&lab, &config, &[("CNFWD_TEST_STALL_WORKER", "1:3000:4000")]);
    let started = Instant::now();
    wait_status(&mut cnfwd, addr, "/healthz", 200);
    assert!(
        started.elapsed() < Duration::from_millis(3000),
        "cnfwd took {:?} to come up: the stall began before the first probe",
        started.elapsed()
    );
    let body = wait_status(&mut cnfwd, addr, "/healthz", 503);
    assert!(body.starts_with("worker 1"), "{body}");
    assert!(body.contains(": stalled: no polling round for "), "{body}");
    assert!(body.ends_with(" ms (stall_timeout_ms 800)\n"), "{body}");
    assert!(!body.contains("worker 0"), "{body}");
    let (status, _, ready) = http(addr, "GET", "/readyz").unwrap();
    assert_eq!(status, 503);
    assert!(ready.starts_with("worker 1"), "{ready}");

    let mut c = common::connect_when_up(&lab.socket(), Duration::from_secs(5));
    let h = health(&mut c);
    if h["live"] == true {
        // The stall ended between the probe and this request: too slow a
        // machine to look at the middle of a 4 s stall; the probe saw it.
        println!("stall over before /health was asked: {h}");
    } else {
        assert_eq!(h["status"], "stalled", "{h}");
        assert_eq!(h["worker_health"][0]["stalled"], false, "{h}");
        assert_eq!(h["worker_health"][1]["stalled"], true, "{h}");
        assert!(h["worker_health"][1]["last_round_age_ms"].as_f64().unwrap() > 800.0);
        assert!(h["not_live"][0].as_str().unwrap().starts_with("worker 1"));
    }

    let body = wait_status(&mut cnfwd, addr, "/healthz", 200);
    assert_eq!(body, "ok: 2 worker(s) polling\n");
    wait_status(&mut cnfwd, addr, "/readyz", 200);
    let h = health(&mut c);
    assert_eq!(h["status"], "ok", "{h}");
}

/// Receives notifications until one contains `want` (all of them, in
/// order).
fn recv_until(rx: &UnixDatagram, want: &str, got: &mut Vec<String>) {
    let end = Instant::now() + Duration::from_secs(15);
    let mut buf = vec![0u8; 4096];
    while !got.iter().any(|m| m.lines().any(|l| l == want)) {
        assert!(Instant::now() < end, "no {want} notification; got {got:?}");
        if let Ok(n) = rx.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

/// With `NOTIFY_SOCKET` set (a path, then an abstract `@name`), cnfwd
/// sends `READY=1` once forwarding and `STOPPING=1` on SIGTERM, with
/// `STATUS=` lines, in that order.
#[test]
fn sd_notify_sends_ready_then_stopping() {
    if !can_run("sd_notify_sends_ready_then_stopping", &[]) {
        return;
    }
    let mut lab = Lab::new(3);
    let (a, _) = lab.veth('a');
    let config = lab.config("[engine]\nidle = \"adaptive\"\n", &[&a]);
    let path = lab.dir.join("notify.sock");
    let abstract_name = format!("cnfwd-health-test-{}", std::process::id());
    for target in [
        path.to_str().unwrap().to_string(),
        format!("@{abstract_name}"),
    ] {
        let rx = match target.strip_prefix('@') {
            Some(name) => UnixDatagram::bind_addr(
                &std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap(),
            )
            .unwrap(),
            None => UnixDatagram::bind(&path).unwrap(),
        };
        rx.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let cnfwd = Cnfwd::start(&lab, &config, &[("NOTIFY_SOCKET", &target)]);
        let mut got = Vec::new();
        recv_until(&rx, "READY=1", &mut got);
        let ready = got.iter().position(|m| m.contains("READY=1")).unwrap();
        assert!(
            got[ready].contains("STATUS=forwarding with 1 worker(s)"),
            "{target}: {got:?}"
        );
        assert!(got[0].starts_with("STATUS=starting"), "{target}: {got:?}");
        // Ready means forwarding: the socket answers, the workers polled.
        let mut c = common::connect_when_up(&lab.socket(), Duration::from_secs(5));
        assert_eq!(health(&mut c)["worker_health"][0]["stalled"], false);
        drop(c);
        let status = cnfwd.terminate();
        assert!(status.success(), "{target}: {status}");
        recv_until(&rx, "STOPPING=1", &mut got);
        let stopping = got.iter().position(|m| m.contains("STOPPING=1")).unwrap();
        assert!(ready < stopping, "{target}: {got:?}");
        assert_eq!(
            got.iter().filter(|m| m.contains("READY=1")).count(),
            1,
            "{target}: {got:?}"
        );
        let _ = std::fs::remove_file(&path);
    }
}

/// `[engine] stall_timeout_ms`: default 1000, range checked.
#[test]
fn stall_timeout_is_configured_and_checked() {
    let base = "[[l2_networks]]\nname = \"l2\"\nvlan = 10\n";
    let resolve = |head: &str| {
        let cfg = cnfwd_config::parse(&format!("{head}\n{base}"), "<test>").unwrap();
        cnfwd_config::resolve(&cfg)
    };
    assert_eq!(resolve("").unwrap().engine.stall_timeout_ms, 1000);
    assert_eq!(
        resolve("[engine]\nstall_timeout_ms = 250")
            .unwrap()
            .engine
            .stall_timeout_ms,
        250
    );
    for bad in [0, 199, 3_600_001] {
        let errs = resolve(&format!("[engine]\nstall_timeout_ms = {bad}")).unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            text.iter()
                .any(|e| e.contains("engine.stall_timeout_ms") && e.contains("200..=3600000")),
            "{bad}: {text:?}"
        );
    }
}

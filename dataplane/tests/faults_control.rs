//! Fault injection on the management plane (issue 13): what a client, the
//! filesystem or a signal can do to a running cnfwd, and what it must
//! survive.
//!
//! - idle clients filling every slot are closed after
//!   `client_idle_timeout`, freeing them; a client that never reads its
//!   (huge) replies is closed after `client_stall_timeout`, with the memory
//!   it held released and the others served meanwhile;
//! - a client process killed mid-request, and 1,000 connect/close cycles,
//!   against a server in a child process whose SIGPIPE is the default
//!   (deadly) one: it survives, its fd count and client count come back;
//! - `/config/save` of a running `cnfwd run` onto a full tmpfs and onto a
//!   read-only mount (root): a clear error, the old file byte-identical, no
//!   temporary file left; then a save that can succeed does;
//! - SIGTERM while a million routes load (while parsing, while building the
//!   tables) and while a client adds routes through the socket: cnfwd ends
//!   within 2 s, status 0, one line saying so, no panic, no socket file;
//! - 20 stalled HTTP clients do not delay a `/metrics` scrape, and are
//!   closed after the read timeout.
//!
//! Tests needing root (mounts, network namespaces) print why and pass
//! without it, as the other root tests do.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::hosts::{can_run, Lab};
use common::server::{TempDir, TestServer};
use common::{connect_when_up, StopOnDrop};
use dataplane::control::metrics::{Endpoints, MetricsServer};
use dataplane::control::{
    Access, Client, ClientError, CommandError, CommandInfo, Handler, Params, Peer, Server,
    ServerConfig,
};
use nix::sys::socket::{
    connect, recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr,
};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(5);

// --- a small handler and a server to run it -----------------------------

/// Counters, and a reply of any size (`/big`).
#[derive(Default)]
struct Store {
    counters: BTreeMap<String, u64>,
}

const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "/counters",
        help: "Returns every counter",
        access: Access::Read,
    },
    CommandInfo {
        name: "/counter/add",
        help: "Adds one to a counter. Parameters: string name",
        access: Access::Write,
    },
    CommandInfo {
        name: "/big",
        help: "Returns a string of the given length. Parameters: integer bytes",
        access: Access::Read,
    },
];

impl Handler for Store {
    fn commands(&self) -> &[CommandInfo] {
        COMMANDS
    }

    fn call(&mut self, command: &str, params: Params<'_>, _: &Peer) -> Result<Value, CommandError> {
        match command {
            "/counters" => Ok(json!(self.counters)),
            "/counter/add" => {
                let name: String = params.parse()?;
                let c = self.counters.entry(name).or_default();
                *c += 1;
                Ok(json!(*c))
            }
            "/big" => {
                let bytes: usize = params.parse()?;
                Ok(json!("x".repeat(bytes.min(4 << 20))))
            }
            other => Err(CommandError::failed(format!("not mine: {other}"))),
        }
    }
}

/// A [`TestServer`] with a [`Store`] handler and `f`'s settings.
fn start_server(f: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let dir = TempDir::new("faults-srv");
    let mut cfg = ServerConfig {
        path: dir.0.join("cnfwd.sock"),
        ..ServerConfig::default()
    };
    f(&mut cfg);
    let server = Server::bind(&cfg).unwrap();
    TestServer::run::<Store>(server, cfg.path, dir)
}

/// A raw `SOCK_SEQPACKET` connection (blocking), reading nothing.
fn raw_connect(path: &Path) -> OwnedFd {
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    connect(fd.as_raw_fd(), &UnixAddr::new(path).unwrap()).unwrap();
    fd
}

/// Every message waiting on `fd` until the server closes it (EOF), each
/// within `within`.
fn messages_until_eof(fd: &OwnedFd, within: Duration) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 2 << 20];
    loop {
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(fd),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = u16::try_from(within.as_millis()).unwrap_or(u16::MAX);
        let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)).unwrap();
        assert_eq!(
            n, 1,
            "the server did not close the connection within {within:?}"
        );
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.push(buf[..n].to_vec()),
        }
    }
}

// --- 1. idle and stalled clients ----------------------------------------

#[test]
fn idle_clients_holding_every_slot_are_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(400);
    let srv = start_server(|c| {
        c.max_clients = 4;
        c.idle_timeout = Some(idle);
    });
    // A client that keeps talking is never idle.
    let mut busy = Client::connect(&srv.path, TIMEOUT).unwrap();
    let filled = Instant::now();
    let idlers: Vec<OwnedFd> = (0..3).map(|_| raw_connect(&srv.path)).collect();
    // Full: a new client is refused at once, as before.
    let t = Instant::now();
    match Client::connect(&srv.path, TIMEOUT) {
        Err(ClientError::Rejected { message, .. }) => {
            assert!(message.contains("too many clients (max 4)"), "{message}")
        }
        other => panic!("fifth client: {other:?}"),
    }
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "refusal took {:?}",
        t.elapsed()
    );
    // Keep `busy` active past the idle timeout while waiting for a slot.
    let served = loop {
        assert_eq!(
            busy.call("/counter/add", Some(&json!("n")))
                .unwrap()
                .map(|_| ()),
            Ok(())
        );
        match Client::connect(&srv.path, TIMEOUT) {
            Ok(c) => break c,
            Err(ClientError::Rejected { .. }) => {
                assert!(
                    filled.elapsed() < idle * 5,
                    "no slot freed after {:?}",
                    filled.elapsed()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("{e}"),
        }
    };
    let waited = filled.elapsed();
    assert!(
        waited >= idle,
        "a slot was freed after {waited:?}, before the idle timeout"
    );
    let mut served = served;
    let n = busy_count(&mut busy);
    assert_eq!(served.request("/counters").unwrap(), Ok(json!({ "n": n })));
    // Each idler got its greeting, then a notice saying why, then EOF.
    for fd in &idlers {
        let msgs = messages_until_eof(fd, TIMEOUT);
        assert_eq!(msgs.len(), 2, "greeting and notice: {msgs:?}");
        let notice: Value = serde_json::from_slice(&msgs[1]).unwrap();
        let text = notice["error"].as_str().unwrap();
        assert!(text.contains("no request for 0.4 s"), "{text}");
        assert!(text.contains("client_idle_timeout_s"), "{text}");
    }
    let s = srv.stats_after(Duration::from_millis(30));
    assert_eq!(s.idle_closed, 3, "{s:?}");
    assert!(s.rejected_clients >= 1, "{s:?}");
    assert_eq!(s.clients, 2, "busy and served: {s:?}");
    // A cnfwdctl-style client left idle learns why on its next request.
    std::thread::sleep(idle + Duration::from_millis(200));
    match served.request("/counters") {
        Err(ClientError::Closed { message, .. }) => {
            assert!(message.contains("no request for"), "{message}")
        }
        other => panic!("idle client: {other:?}"),
    }
}

/// `/counter/add` once more and the count it returned.
fn busy_count(c: &mut Client) -> u64 {
    c.call("/counter/add", Some(&json!("n")))
        .unwrap()
        .unwrap()
        .as_u64()
        .unwrap()
}

#[test]
fn a_client_that_never_reads_is_closed_after_the_stall_timeout() {
    let stall = Duration::from_millis(600);
    let srv = start_server(|c| {
        c.stall_timeout = Some(stall);
        c.idle_timeout = Some(Duration::from_secs(30));
    });
    // Asks for 900 KB replies, twenty times, and never reads.
    let hog = raw_connect(&srv.path);
    let req = br#"/big,900000"#;
    for _ in 0..20 {
        // Non-blocking: once the server stops reading, our sends would block.
        if send(
            hog.as_raw_fd(),
            req,
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        )
        .is_err()
        {
            break;
        }
    }
    let started = Instant::now();
    // Meanwhile another client is served promptly, every time.
    let mut other = Client::connect(&srv.path, TIMEOUT).unwrap();
    let mut worst = Duration::ZERO;
    let mut max_pending = 0;
    while started.elapsed() < stall + Duration::from_millis(400) {
        let t = Instant::now();
        other
            .call("/counter/add", Some(&json!("o")))
            .unwrap()
            .unwrap();
        worst = worst.max(t.elapsed());
        max_pending = max_pending.max(srv.stats_after(Duration::from_millis(30)).pending_bytes);
    }
    assert!(
        worst < Duration::from_millis(200),
        "another client waited {worst:?}"
    );
    // The hog held at most one reply, and only until it was closed.
    assert!(max_pending > 0, "the hog never had a reply waiting");
    assert!(
        max_pending <= 1 << 20,
        "held {max_pending} bytes for one client"
    );
    let deadline = Instant::now() + TIMEOUT;
    let s = loop {
        let s = srv.stats_after(Duration::from_millis(30));
        if s.stalled_closed == 1 || Instant::now() > deadline {
            break s;
        }
    };
    assert_eq!(s.stalled_closed, 1, "{s:?}");
    assert_eq!(s.pending_bytes, 0, "{s:?}");
    assert_eq!(s.clients, 1, "{s:?}");
    // Its end is closed (EOF, or ECONNRESET since its requests were unread).
    messages_until_eof(&hog, TIMEOUT);
    assert!(other.request("/counters").unwrap().unwrap()["o"]
        .as_u64()
        .is_some());
}

// --- 2. clients that die, and 1,000 connect/close cycles -----------------

/// Not a test on its own: the server of [`ChildServer`], run when the
/// variable names a socket path, with SIGPIPE at its default (deadly)
/// disposition; it ends when its stdin closes.
#[test]
fn child_server() {
    let Some(path) = std::env::var_os("CNFWD_FAULTS_SERVE") else {
        return;
    };
    // SAFETY: plain system call; restores the default SIGPIPE action, so
    // that a send without MSG_NOSIGNAL to a dead peer kills this process.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let mut server = Server::bind(&ServerConfig {
        path: PathBuf::from(path),
        max_clients: 16,
        ..ServerConfig::default()
    })
    .unwrap();
    let mut store = Store::default();
    loop {
        server.poll(Duration::from_millis(10), &mut store).unwrap();
    }
}

/// The server in a child process (this test binary, `child_server`).
struct ChildServer {
    child: Child,
    path: PathBuf,
    _dir: TempDir,
}

impl ChildServer {
    fn start() -> Self {
        let dir = TempDir::new("faults-child");
        let path = dir.0.join("cnfwd.sock");
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["child_server", "--exact", "--nocapture", "--test-threads=1"])
            .env("CNFWD_FAULTS_SERVE", &path)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut s = ChildServer {
            child,
            path,
            _dir: dir,
        };
        let _ = connect_when_up(&s.path, TIMEOUT);
        s.assert_alive();
        s
    }

    fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the server process died: {status}");
        }
    }

    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .count()
    }

    /// `/info`'s socket counters, asked by a client of its own (which
    /// counts itself in `clients`).
    fn socket_stats(&self) -> Value {
        let mut c = Client::connect(&self.path, TIMEOUT).unwrap();
        c.request("/info").unwrap().unwrap()["socket"].clone()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Not a test on its own: a client process that asks for large replies and
/// dies (SIGKILL) without reading them, when the variable names a socket.
#[test]
fn child_client_dies_mid_request() {
    let Some(path) = std::env::var_os("CNFWD_FAULTS_DIE") else {
        return;
    };
    let fd = raw_connect(Path::new(&path));
    for _ in 0..4 {
        let _ = send(fd.as_raw_fd(), b"/big,800000", MsgFlags::MSG_DONTWAIT);
    }
    // SAFETY: plain system call on our own pid.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
}

#[test]
fn clients_killed_mid_request_and_1000_connect_close_cycles_leave_no_trace() {
    let mut srv = ChildServer::start();
    let base_fds = srv.fds();
    // Three client processes killed with requests in flight.
    for _ in 0..3 {
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["child_client_dies_mid_request", "--exact", "--nocapture"])
            .env("CNFWD_FAULTS_DIE", &srv.path)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "the dying client did not die: {status}");
    }
    std::thread::sleep(Duration::from_millis(100));
    srv.assert_alive();
    // 1,000 cycles: closed at once, closed after a request for a large
    // reply (unread), closed after a small request and its reply.
    let mut answered = 0;
    for i in 0..1000 {
        let fd = raw_connect(&srv.path);
        match i % 3 {
            0 => {}
            1 => {
                let _ = send(fd.as_raw_fd(), b"/big,500000", MsgFlags::MSG_NOSIGNAL);
            }
            _ => {
                send(fd.as_raw_fd(), b"/counters", MsgFlags::MSG_NOSIGNAL).unwrap();
                let mut buf = vec![0u8; 4096];
                // Greeting, then the reply.
                recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()).unwrap();
                let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()).unwrap();
                let v: Value = serde_json::from_slice(&buf[..n]).unwrap();
                assert_eq!(v, json!({"/counters": {}}));
                answered += 1;
            }
        }
        drop(fd);
    }
    assert_eq!(answered, 333);
    srv.assert_alive();
    // Everything closed is noticed within a few rounds.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let s = srv.socket_stats();
        let fds = srv.fds();
        if (s["clients"] == 1 && fds == base_fds) || Instant::now() > deadline {
            assert_eq!(s["clients"], 1, "only the asking client: {s}");
            assert_eq!(s["pending_bytes"], 0, "{s}");
            // Those closed before their turn never count as accepted.
            assert!(s["accepted"].as_u64().unwrap() > 333, "{s}");
            assert_eq!(fds, base_fds, "open fds {fds}, {base_fds} before");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = Client::connect(&srv.path, TIMEOUT).unwrap();
    assert_eq!(
        c.call("/counter/add", Some(&json!("x"))).unwrap(),
        Ok(json!(1))
    );
    srv.assert_alive();
}

// --- 3. /config/save onto a full or read-only filesystem ---------------

/// A mount made by the test; unmounted on drop (lazily, also on failure).
struct Mount(PathBuf);

impl Mount {
    fn run(args: &[&str]) {
        let out = Command::new("mount").args(args).output().expect("mount");
        assert!(
            out.status.success(),
            "mount {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A config of one af_packet port on `ifname` (in the lab's router).
fn one_port_config(ifname: &str, socket_clients: &str) -> String {
    format!(
        r#"[control]
{socket_clients}

[[l3_isolation_domains]]
name = "red"

[[l3_networks]]
name = "core"
vlan = 10
l3_isolation_domain = "red"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.0.0.0/24"

[[ports]]
name = "p0"
backend = "af_packet"
interface = "{ifname}"
mac = "02:00:00:00:00:01"
mode = "access"
networks = ["core"]
"#
    )
}

/// `cnfwd run` in the lab's router namespace on `config`, its output in
/// `log`; killed on drop.
struct Run {
    child: Child,
    log: PathBuf,
    socket: PathBuf,
}

impl Run {
    fn start(lab: &Lab, config: &Path, tag: &str) -> Run {
        let log = lab.dir.join(format!("{tag}.log"));
        let socket = lab.dir.join(format!("{tag}.sock"));
        let logf = std::fs::File::create(&log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.router])
            .arg(env!("CARGO_BIN_EXE_cnfwd"))
            .args(["run", "--stats-interval", "0", "--config"])
            .arg(config)
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .unwrap();
        Run { child, log, socket }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Whether a thread of cnfwd is named `name` now.
    fn has_thread(&self, name: &str) -> bool {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid())) else {
            return false;
        };
        tasks
            .flatten()
            .any(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
    }

    fn sigterm(&self) {
        // SAFETY: plain system call to our own child.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
    }

    /// Waits for the exit (at most `within`) and returns its status and
    /// how long it took.
    fn wait_exit(&mut self, within: Duration) -> (std::process::ExitStatus, Duration) {
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return (s, t.elapsed());
            }
            if t.elapsed() > within {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("cnfwd did not exit within {within:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn files_in(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn config_save_onto_a_full_or_read_only_filesystem_keeps_the_old_file() {
    if !can_run(
        "config_save_onto_a_full_or_read_only_filesystem_keeps_the_old_file",
        &[],
    ) {
        return;
    }
    let mut lab = Lab::new("save");
    lab.host("h", [2, 0, 0, 0, 0, 0x10], "r0", [2, 0, 0, 0, 0, 1], 1500);
    let text = one_port_config("r0", "");

    // (a) a 64 KiB tmpfs, filled up after the config was written.
    let full = lab.dir.join("full");
    std::fs::create_dir(&full).unwrap();
    Mount::run(&[
        "-t",
        "tmpfs",
        "-o",
        "size=64k",
        "tmpfs",
        full.to_str().unwrap(),
    ]);
    let _full_mount = Mount(full.clone());
    let cfg = full.join("cnfwd.toml");
    std::fs::write(&cfg, &text).unwrap();
    let filler = full.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = [0u8; 4096];
        while f.write_all(&block).is_ok() {}
    }
    let mut run = Run::start(&lab, &cfg, "full");
    let mut c = connect_when_up(&run.socket, Duration::from_secs(20));
    // A change, so that the file to write differs from the old one.
    c.call(
        "/route/add",
        Some(&json!({"vrf": "red", "prefix": "198.51.100.0/24", "next_hop": "10.0.0.254"})),
    )
    .unwrap()
    .unwrap();
    let err = c.request("/config/save").unwrap().unwrap_err();
    assert!(
        err.starts_with(&format!("{}: not saved: ", cfg.display())),
        "{err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.ends_with("the file is unchanged"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        text,
        "old file changed"
    );
    assert_eq!(
        files_in(&full),
        ["cnfwd.toml", "filler"],
        "temporary file left"
    );
    // With room again the same save works, and the file has the route.
    std::fs::remove_file(&filler).unwrap();
    let ok = c.request("/config/save").unwrap().unwrap();
    assert_eq!(ok["saved"], cfg.display().to_string());
    let saved = std::fs::read_to_string(&cfg).unwrap();
    assert!(saved.contains("198.51.100.0/24"), "{saved}");
    // The previous version kept beside it.
    assert_eq!(files_in(&full), ["cnfwd.toml", "cnfwd.toml.bak"]);
    assert_eq!(
        std::fs::read_to_string(full.join("cnfwd.toml.bak")).unwrap(),
        text
    );
    run.sigterm();
    let (status, _) = run.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}:\n{}", run.log());

    // (b) a read-only bind mount (root ignores mode bits, not a ro mount).
    let src = lab.dir.join("ro-src");
    let ro = lab.dir.join("ro");
    std::fs::create_dir(&src).unwrap();
    std::fs::create_dir(&ro).unwrap();
    std::fs::write(src.join("cnfwd.toml"), &text).unwrap();
    Mount::run(&["--bind", src.to_str().unwrap(), ro.to_str().unwrap()]);
    let _ro_mount = Mount(ro.clone());
    Mount::run(&["-o", "remount,bind,ro", ro.to_str().unwrap()]);
    let cfg = ro.join("cnfwd.toml");
    let mut run = Run::start(&lab, &cfg, "ro");
    let mut c = connect_when_up(&run.socket, Duration::from_secs(20));
    // A change: a save with nothing to change writes nothing.
    c.call(
        "/route/add",
        Some(&json!({"vrf": "red", "prefix": "198.51.100.0/24", "next_hop": "10.0.0.254"})),
    )
    .unwrap()
    .unwrap();
    let err = c.request("/config/save").unwrap().unwrap_err();
    assert!(
        err.starts_with(&format!("{}: not saved: creating", cfg.display())),
        "{err}"
    );
    assert!(err.contains("Read-only file system"), "{err}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), text);
    assert_eq!(files_in(&ro), ["cnfwd.toml"]);
    run.sigterm();
    let (status, _) = run.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}:\n{}", run.log());
}

// --- 4. SIGTERM while a million routes load -----------------------------

/// `one_port_config` plus 1,000,000 distinct IPv4 /24 static routes.
fn million_route_config(ifname: &str) -> String {
    let mut text = one_port_config(ifname, "");
    text += "\n[[l3_isolation_domains.static_routes]]\nprefix = \"0.0.0.0/0\"\nnext_hop = \"10.0.0.254\"\n";
    // Each `[[...static_routes]]` adds to the last VRF defined ("red").
    let mut routes = String::with_capacity(60 << 20);
    for i in 0u32..1_000_000 {
        let (a, b, c) = (32 + (i >> 16), (i >> 8) & 255, i & 255);
        routes += &format!("\n[[l3_isolation_domains.static_routes]]\nprefix = \"{a}.{b}.{c}.0/24\"\nnext_hop = \"10.0.0.254\"\n");
    }
    text + &routes
}

/// Starts cnfwd on `cfg`, waits for its thread `phase` to exist, sends
/// SIGTERM and checks it ends within 2 s, cleanly, saying `said`.
fn sigterm_during(lab: &Lab, cfg: &Path, phase: &str, said: &str) -> Duration {
    let mut run = Run::start(lab, cfg, phase);
    let t = Instant::now();
    while !run.has_thread(phase) {
        if let Some(s) = run.child.try_wait().unwrap() {
            panic!(
                "cnfwd ended ({s}) before its {phase} thread was seen:\n{}",
                run.log()
            );
        }
        assert!(t.elapsed() < Duration::from_secs(120), "no {phase} thread");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    run.sigterm();
    let (status, took) = run.wait_exit(Duration::from_secs(10));
    let log = run.log();
    assert!(
        took < Duration::from_secs(2),
        "exited {took:?} after SIGTERM:\n{log}"
    );
    assert!(status.success(), "{status}:\n{log}");
    assert!(log.contains(said), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(!run.socket.exists(), "socket file left");
    println!(
        "SIGTERM while {phase}: exit 0 after {took:?}: {}",
        log.trim()
    );
    took
}

#[test]
fn sigterm_while_a_million_routes_load_stops_promptly() {
    if !can_run("sigterm_while_a_million_routes_load_stops_promptly", &[]) {
        return;
    }
    let mut lab = Lab::new("term");
    lab.host("h", [2, 0, 0, 0, 0, 0x10], "r0", [2, 0, 0, 0, 0, 1], 1500);
    let cfg = lab.file("million.toml", &million_route_config("r0"));
    sigterm_during(&lab, &cfg, "cnfwd-load", "SIGTERM: stopped while reading");
    sigterm_during(
        &lab,
        &cfg,
        "cnfwd-tables",
        "SIGTERM: stopped while building the forwarding tables; nothing was forwarded",
    );
}

#[test]
fn sigterm_while_a_client_adds_routes_through_the_socket_stops_cleanly() {
    if !can_run(
        "sigterm_while_a_client_adds_routes_through_the_socket_stops_cleanly",
        &[],
    ) {
        return;
    }
    let mut lab = Lab::new("term-sock");
    lab.host("h", [2, 0, 0, 0, 0, 0x10], "r0", [2, 0, 0, 0, 0, 1], 1500);
    let cfg = lab.file("cnfwd.toml", &one_port_config("r0", ""));
    let mut run = Run::start(&lab, &cfg, "adds");
    let socket = run.socket.clone();
    let _ = connect_when_up(&socket, Duration::from_secs(20));
    let stop = Arc::new(AtomicBool::new(false));
    let added = Arc::new(AtomicUsize::new(0));
    let adder = {
        let (stop, added, socket) = (stop.clone(), added.clone(), socket.clone());
        std::thread::spawn(move || {
            let _guard = StopOnDrop(&stop);
            let mut c = Client::connect(&socket, TIMEOUT).unwrap();
            for i in 0u32.. {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let prefix = format!("{}.{}.{}.0/24", 32 + (i >> 16), (i >> 8) & 255, i & 255);
                match c.call(
                    "/route/add",
                    Some(&json!({"vrf": "red", "prefix": prefix, "next_hop": "10.0.0.254"})),
                ) {
                    Ok(Ok(_)) => {
                        added.fetch_add(1, Ordering::Relaxed);
                    }
                    // cnfwd went away: what we expect after SIGTERM.
                    Err(_) => return,
                    Ok(Err(e)) => panic!("route {prefix}: {e}"),
                }
            }
        })
    };
    let t = Instant::now();
    while added.load(Ordering::Relaxed) < 2000 {
        assert!(t.elapsed() < Duration::from_secs(60), "adds too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    run.sigterm();
    let (status, took) = run.wait_exit(Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    adder.join().unwrap();
    let log = run.log();
    assert!(
        took < Duration::from_secs(2),
        "exited {took:?} after SIGTERM:\n{log}"
    );
    assert!(status.success(), "{status}:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(!socket.exists(), "socket file left");
    println!(
        "SIGTERM after {} routes added through the socket: exit 0 after {took:?}",
        added.load(Ordering::Relaxed)
    );
}

// --- 5. stalled metrics scrapers ----------------------------------------

fn scrape(addr: std::net::SocketAddr) -> (String, Duration) {
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    (out, t.elapsed())
}

#[test]
fn twenty_stalled_metrics_clients_do_not_delay_a_scrape() {
    // A body of some size, as a site with many networks has.
    let body: String = (0..5000)
        .map(|i| format!("cnfwd_x_total{{n=\"{i}\"}} {i}\n"))
        .collect();
    let expected = body.clone();
    let server = MetricsServer::serve(
        "127.0.0.1:0".parse().unwrap(),
        Endpoints::new(move || body.clone()),
    )
    .unwrap();
    let addr = server.local_addr();
    // 10 silent, 10 with half a request.
    let mut stalled = Vec::new();
    for i in 0..20 {
        let mut s = TcpStream::connect(addr).unwrap();
        if i % 2 == 1 {
            s.write_all(b"GET /metr").unwrap();
        }
        stalled.push(s);
    }
    std::thread::sleep(Duration::from_millis(100));
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        let (out, took) = scrape(addr);
        assert!(
            out.starts_with("HTTP/1.1 200 OK\r\n"),
            "{}",
            &out[..out.len().min(200)]
        );
        assert!(out.ends_with(&expected), "body cut");
        worst = worst.max(took);
    }
    println!("scrape with 20 stalled clients: worst of 5 {worst:?}");
    assert!(
        worst < Duration::from_millis(200),
        "a scrape took {worst:?}"
    );
    // The stalled ones are closed after the read timeout (2 s): EOF.
    let t = Instant::now();
    for mut s in stalled {
        s.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("a stalled client got {n} bytes"),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("a stalled client was not closed: {e}"),
        }
    }
    let closed = t.elapsed();
    assert!(closed < Duration::from_secs(4), "closed after {closed:?}");
    // More stalled clients than connections held: a scrape still passes.
    let many: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let (out, took) = scrape(addr);
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"));
    println!("scrape with 300 stalled clients: {took:?}");
    assert!(took < Duration::from_millis(500), "a scrape took {took:?}");
    drop(many);
}

//! The management socket server against a small test handler, over real
//! Unix sockets: protocol, bad input, slow and silent clients, the client
//! cap, stale sockets, a fuzz run, permissions (a client under another
//! uid), the stock `dpdk-telemetry.py`, and the Prometheus endpoint.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::server::{TempDir, TestServer};
use dataplane::control::socket::dpdk_telemetry_path;
use dataplane::control::{
    Access, Client, ClientError, CommandError, CommandInfo, ControlError, GroupSpec, Handler,
    Params, Peer, ReadAccess, Server, ServerConfig,
};
use nix::sys::socket::{bind, socket, AddressFamily, SockFlag, SockType, UnixAddr};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(5);

/// A counter store: one read command, one write command with typed
/// parameters, a command with a reply of chosen size, one that panics.
#[derive(Default)]
struct Store {
    counters: BTreeMap<String, u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddParams {
    name: String,
    by: u64,
}

#[derive(Deserialize)]
struct BigParams {
    bytes: usize,
}

const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "/counters",
        help: "Returns every counter",
        access: Access::Read,
    },
    CommandInfo {
        name: "/counter/add",
        help: "Adds to a counter. Parameters: {\"name\": string, \"by\": integer}",
        access: Access::Write,
    },
    CommandInfo {
        name: "/big",
        help: "Returns a string of the given length. Parameters: {\"bytes\": integer}",
        access: Access::Read,
    },
    CommandInfo {
        name: "/panic",
        help: "Panics",
        access: Access::Read,
    },
];

impl Handler for Store {
    fn commands(&self) -> &[CommandInfo] {
        COMMANDS
    }

    fn call(
        &mut self,
        command: &str,
        params: Params<'_>,
        _peer: &Peer,
    ) -> Result<Value, CommandError> {
        match command {
            "/counters" => Ok(json!(self.counters)),
            "/counter/add" => {
                let p: AddParams = params.parse()?;
                let c = self.counters.entry(p.name).or_default();
                *c = c
                    .checked_add(p.by)
                    .ok_or_else(|| CommandError::failed("counter would overflow"))?;
                Ok(json!(*c))
            }
            "/big" => {
                let p: BigParams = params.parse()?;
                if p.bytes > 4 << 20 {
                    return Err(CommandError::failed("at most 4 MiB"));
                }
                Ok(json!("x".repeat(p.bytes)))
            }
            "/panic" => panic!("test handler panics on purpose"),
            other => Err(CommandError::failed(format!("not mine: {other}"))),
        }
    }
}

/// A [`TestServer`] with a [`Store`] handler and `f`'s settings; the socket
/// file gets the configured mode.
fn start_server(f: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let dir = TempDir::new("ctl");
    let mut cfg = ServerConfig {
        path: dir.0.join("run/cnfwd.sock"),
        ..ServerConfig::default()
    };
    f(&mut cfg);
    let server = Server::bind(&cfg).unwrap();
    let meta = std::fs::metadata(&cfg.path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, cfg.mode);
    TestServer::run::<Store>(server, cfg.path, dir)
}

/// A client of `srv`.
fn client(srv: &TestServer) -> Client {
    Client::connect(&srv.path, TIMEOUT).unwrap()
}

/// The error message of an error reply (panics on a success).
fn error_of(r: Result<Value, String>) -> String {
    match r {
        Err(e) => e,
        Ok(v) => panic!("expected an error reply, got {v}"),
    }
}

fn raw_reply(c: &mut Client, msg: &[u8]) -> serde_json::Map<String, Value> {
    let raw = c.request_raw(msg).unwrap();
    let v: Value = serde_json::from_slice(&raw).unwrap_or_else(|e| {
        panic!(
            "reply is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&raw)
        )
    });
    let Value::Object(m) = v else {
        panic!("reply is not an object: {v}")
    };
    assert_eq!(m.len(), 1, "reply has not exactly one key: {m:?}");
    m
}

#[test]
fn greeting_list_help_and_info() {
    let srv = start_server(|c| c.max_output_len = 64 * 1024);
    let mut c = client(&srv);
    let g = c.greeting().clone();
    assert_eq!(g["pid"], std::process::id());
    assert_eq!(g["max_output_len"], 64 * 1024);
    assert_eq!(g["version"], format!("cnfwd {}", env!("CARGO_PKG_VERSION")));

    let list = c.request("/").unwrap().unwrap();
    assert_eq!(
        list,
        json!([
            "/",
            "/big",
            "/counter/add",
            "/counters",
            "/help",
            "/info",
            "/panic"
        ])
    );
    let help = c.request("/help,/counter/add").unwrap().unwrap();
    assert_eq!(help, json!({"/counter/add": COMMANDS[1].help}));
    let help = c.request("/help,\"/info\"").unwrap().unwrap();
    assert!(help["/info"].as_str().unwrap().contains("version"));
    let e = error_of(c.request("/help,/nope").unwrap());
    assert!(e.contains("unknown command \"/nope\""), "{e}");

    let info = c.request("/info").unwrap().unwrap();
    assert_eq!(info["pid"], std::process::id());
    assert_eq!(info["version"], g["version"]);
    assert_eq!(info["max_output_len"], 64 * 1024);
    assert!(info["uptime_seconds"].as_u64().unwrap() < 60);

    // The raw reply is keyed by the command, as DPDK's.
    let m = raw_reply(&mut c, b"/counters");
    assert_eq!(m["/counters"], json!({}));
    assert_eq!(
        c.request(r#"/counter/add,{"name":"a","by":2}"#).unwrap(),
        Ok(json!(2))
    );
    assert_eq!(
        c.request(r#"/counter/add,{"name":"a","by":3}"#).unwrap(),
        Ok(json!(5))
    );
    assert_eq!(c.request("/counters").unwrap(), Ok(json!({"a": 5})));
    srv.stop();
}

#[test]
fn bad_inputs_get_error_replies_and_the_connection_stays_usable() {
    let srv = start_server(|_| {});
    let mut c = client(&srv);
    let max = format!(r#"/counter/add,{{"name": "z", "by": {}}}"#, u64::MAX);
    assert_eq!(c.request(&max).unwrap(), Ok(json!(u64::MAX)));
    let big = {
        let mut v = b"/counter/add,".to_vec();
        v.resize((1 << 20) + 1, b' ');
        v
    };
    let cases: Vec<(&[u8], &str, &str)> = vec![
        (
            b"/nope",
            "/nope",
            "unknown command \"/nope\"; \"/\" lists the commands",
        ),
        (b"/counter/add", "/counter/add", "missing parameters"),
        (
            b"/counter/add,{\"name\": \"a\", \"by\": }",
            "/counter/add",
            "invalid JSON parameters at column 21",
        ),
        (
            b"/counter/add,{\"name\": \"a\", \"by\": \"7\"}",
            "/counter/add",
            "argument \"by\": invalid type: string \"7\", expected u64",
        ),
        (
            b"/counter/add,{\"name\": [1], \"by\": 7}",
            "/counter/add",
            "argument \"name\": invalid type: sequence, expected a string",
        ),
        (
            b"/counter/add,{\"name\": \"a\", \"by\": -1}",
            "/counter/add",
            "argument \"by\": invalid value: integer `-1`",
        ),
        (
            b"/counter/add,{\"name\": \"a\"}",
            "/counter/add",
            "invalid parameters: missing field `by`",
        ),
        (
            b"/counter/add,{\"name\": \"a\", \"by\": 1, \"x\": 2}",
            "/counter/add",
            "invalid parameters: unknown field `x`, expected `name` or `by`",
        ),
        (
            b"/counter/add,{\"name\": \"z\", \"by\": 1}",
            "/counter/add",
            "counter would overflow",
        ),
        (
            b"counters",
            "counters",
            "a request is \"/command\" or \"/command,params\"",
        ),
        (b"", "", "a request is \"/command\""),
        (
            b"/count\xff\xfe",
            "/count",
            "request is not UTF-8 (invalid byte at offset 6)",
        ),
        (
            b"/panic",
            "/panic",
            "internal error: /panic failed unexpectedly",
        ),
        (
            &big,
            "/counter/add",
            "request of 1048577 bytes is larger than the limit of 1048576 bytes",
        ),
    ];
    for (msg, key, want) in &cases {
        let m = raw_reply(&mut c, msg);
        let shown = String::from_utf8_lossy(&msg[..msg.len().min(60)]);
        let v = m
            .get(*key)
            .unwrap_or_else(|| panic!("{shown}: reply keyed {m:?}, not {key:?}"));
        let e = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{shown}: not an error: {v}"));
        assert!(
            e.starts_with(want),
            "{shown}: error {e:?} does not start with {want:?}"
        );
        // Still usable after every bad request.
        assert_eq!(c.request("/counters").unwrap(), Ok(json!({"z": u64::MAX})));
    }
    let s = srv.stats_after(Duration::from_millis(50));
    assert_eq!(s.too_large, 1);
    assert_eq!(s.handler_panics, 1);
    assert_eq!(s.errors as usize, cases.len());
    assert_eq!(s.requests as usize, 1 + 2 * cases.len());
    srv.stop();
}

#[test]
fn large_replies_fit_or_are_refused_clearly() {
    let srv = start_server(|_| {});
    let mut c = client(&srv);
    let max = c.max_output_len();
    assert_eq!(max, 1 << 20);
    // Far beyond the default 208 KiB socket buffer, still one message.
    let n = max - 100;
    let v = c.call("/big", Some(&json!({"bytes": n}))).unwrap().unwrap();
    assert_eq!(v.as_str().unwrap().len(), n);
    let e = error_of(c.call("/big", Some(&json!({"bytes": max}))).unwrap());
    assert!(e.contains("larger than max_output_len (1048576)"), "{e}");
    assert_eq!(
        srv.stats_after(Duration::from_millis(50)).oversized_replies,
        1
    );
    srv.stop();
}

#[test]
fn silent_and_slow_clients_do_not_block_others() {
    let srv = start_server(|_| {});
    // Connects, never reads (not even the greeting), never writes.
    let _silent = nix_connect(&srv.path);
    // Sends requests for big replies and does not read them: the server
    // must queue, not block.
    let mut slow = client(&srv);
    let req = br#"/big,{"bytes": 900000}"#;
    let slow_fd = slow.as_raw_fd();
    for _ in 0..6 {
        nix::sys::socket::send(slow_fd, req, nix::sys::socket::MsgFlags::empty()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let mut other = client(&srv);
    for i in 0..50 {
        let r = other
            .call("/counter/add", Some(&json!({"name": "n", "by": 1})))
            .unwrap();
        assert_eq!(r, Ok(json!(i + 1)));
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "other client took {:?}",
        started.elapsed()
    );
    // The slow client then gets all its replies, in order, whole.
    for _ in 0..6 {
        let raw = recv_reply(&mut slow);
        let v: Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(v["/big"].as_str().unwrap().len(), 900_000);
    }
    let s = srv.stats_after(Duration::from_millis(50));
    assert_eq!(s.clients, 3);
    assert!(
        s.queued_replies >= 1,
        "the slow client never made a reply wait"
    );
    srv.stop();
}

/// Reads one reply straight from the client's socket (for a client that
/// sent several requests without waiting).
fn recv_reply(c: &mut Client) -> Vec<u8> {
    let mut fds = [nix::poll::PollFd::new(
        c.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)).unwrap();
    assert_eq!(ready, 1, "no reply within 5 s");
    let mut buf = vec![0u8; 2 << 20];
    let n = nix::sys::socket::recv(c.as_raw_fd(), &mut buf, nix::sys::socket::MsgFlags::empty())
        .unwrap();
    buf.truncate(n);
    buf
}

fn nix_connect(path: &Path) -> std::os::fd::OwnedFd {
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    nix::sys::socket::connect(fd.as_raw_fd(), &UnixAddr::new(path).unwrap()).unwrap();
    fd
}

#[test]
fn client_cap_turns_extra_clients_away() {
    let srv = start_server(|c| c.max_clients = 2);
    let mut a = client(&srv);
    let b = client(&srv);
    match Client::connect(&srv.path, TIMEOUT) {
        Err(ClientError::Rejected { message, .. }) => {
            assert!(message.contains("too many clients (max 2)"), "{message}")
        }
        other => panic!("third client: {other:?}"),
    }
    assert_eq!(a.request("/counters").unwrap(), Ok(json!({})));
    drop(b);
    // The server notices the hang-up on its next round.
    let deadline = Instant::now() + TIMEOUT;
    let mut c = loop {
        match Client::connect(&srv.path, TIMEOUT) {
            Ok(c) => break c,
            Err(ClientError::Rejected { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(c.request("/counters").unwrap(), Ok(json!({})));
    let s = srv.stats_after(Duration::from_millis(50));
    assert!(s.rejected_clients >= 1);
    assert_eq!(s.clients, 2);
    srv.stop();
}

#[test]
fn stale_socket_is_replaced_and_a_live_one_is_not_stolen() {
    let dir = TempDir::new("ctl");
    let path = dir.0.join("cnfwd.sock");
    // A socket file nobody listens on: what a crashed run leaves.
    {
        let fd = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::empty(),
            None,
        )
        .unwrap();
        bind(fd.as_raw_fd(), &UnixAddr::new(&path).unwrap()).unwrap();
    }
    assert!(path.exists());
    let cfg = ServerConfig {
        path: path.clone(),
        ..ServerConfig::default()
    };
    let server = Server::bind(&cfg).expect("stale socket replaced");
    let srv = TestServer::run::<Store>(server, path.clone(), TempDir::new("ctl"));
    let mut c = client(&srv);
    assert_eq!(c.request("/counters").unwrap(), Ok(json!({})));

    match Server::bind(&cfg) {
        Err(e @ ControlError::InUse { .. }) => {
            let msg = e.to_string();
            assert_eq!(
                msg,
                format!(
                    "another cnfwd is serving {} (pid {}); stop it or choose another socket path",
                    path.display(),
                    std::process::id()
                )
            );
        }
        other => panic!("second bind: {other:?}"),
    }
    // The live server still serves.
    assert_eq!(c.request("/counters").unwrap(), Ok(json!({})));
    srv.stop();

    // Not a socket: left alone.
    std::fs::write(&path, "precious").unwrap();
    let e = Server::bind(&cfg).unwrap_err();
    assert!(matches!(e, ControlError::PathTaken { .. }), "{e}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
}

/// A random JSON value, depth-limited.
fn random_json(rng: &mut SmallRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.gen::<bool>()),
        2 => json!(rng.gen::<i64>()),
        3 => json!(rng.gen::<f64>() * 1e6),
        4 => {
            let n = rng.gen_range(0..12);
            json!((0..n).map(|_| rng.gen::<char>()).collect::<String>())
        }
        5 => Value::Array(
            (0..rng.gen_range(0..5))
                .map(|_| random_json(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let keys = ["name", "by", "bytes", "vrf", "", "x"];
            Value::Object(
                (0..rng.gen_range(0..5))
                    .map(|_| {
                        let k = keys[rng.gen_range(0..keys.len())].to_string();
                        (k, random_json(rng, depth - 1))
                    })
                    .collect(),
            )
        }
    }
}

#[test]
fn fuzz_random_bytes_and_json_then_a_valid_command_works() {
    let srv = start_server(|c| c.max_request = 4096);
    let mut rng = SmallRng::seed_from_u64(0x00c0_ffee);
    let names = [
        "/",
        "/help",
        "/info",
        "/counters",
        "/counter/add",
        "/big",
        "/x",
        "",
    ];
    let mut c = client(&srv);
    let mut sent = 0u64;
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let msg: Vec<u8> = match rng.gen_range(0..4) {
            0 => (0..rng.gen_range(0..6000)).map(|_| rng.gen()).collect(),
            1 => {
                let mut m = names[rng.gen_range(0..names.len())].as_bytes().to_vec();
                m.push(b',');
                m.extend((0..rng.gen_range(0..64)).map(|_| rng.gen::<u8>()));
                m
            }
            _ => {
                let name = names[rng.gen_range(0..names.len())];
                let mut v = random_json(&mut rng, 3);
                // Keep /big small enough to answer quickly.
                if let Some(b) = v.get_mut("bytes") {
                    *b = json!(rng.gen_range(0..2000));
                }
                format!("{name},{v}").into_bytes()
            }
        };
        if rng.gen_range(0..50) == 0 {
            // Sometimes a client that goes away mid-conversation.
            let fd = nix_connect(&srv.path);
            let _ =
                nix::sys::socket::send(fd.as_raw_fd(), &msg, nix::sys::socket::MsgFlags::empty());
            continue;
        }
        let raw = c.request_raw(&msg).expect("every request gets a reply");
        let v: Value = serde_json::from_slice(&raw).expect("reply is JSON");
        assert_eq!(v.as_object().map(|m| m.len()), Some(1), "{v}");
        sent += 1;
    }
    assert!(sent > 100, "only {sent} requests in 3 s");
    assert_eq!(
        c.request(r#"/counter/add,{"name":"after-fuzz","by":1}"#)
            .unwrap()
            .unwrap(),
        json!(1)
    );
    let mut fresh = client(&srv);
    assert_eq!(
        fresh.request("/counters").unwrap().unwrap()["after-fuzz"],
        json!(1)
    );
    srv.stop();
}

/// Runs a Python client as uid/gid 65534 (nobody/nogroup, no supplementary
/// groups) sending each request; returns the replies.
fn requests_as_nobody(path: &Path, requests: &[&str]) -> Vec<Value> {
    let script = r#"
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
hello = json.loads(s.recv(1024))
for req in sys.argv[2:]:
    s.send(req.encode())
    print(json.dumps(json.loads(s.recv(hello["max_output_len"]))))
"#;
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(path)
        .args(requests)
        .uid(65534)
        .gid(65534)
        .current_dir("/")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

#[test]
fn another_uid_is_refused_writes_and_allowed_reads_per_policy() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: needs root to run a client under another uid");
        return;
    }
    let add = r#"/counter/add,{"name":"n","by":1}"#;
    // Reads opened to the peer's group: reads pass, writes do not.
    let srv = start_server(|c| {
        c.mode = 0o666;
        c.read_access = ReadAccess::Group(GroupSpec::Id(65534));
    });
    let r = requests_as_nobody(&srv.path, &["/counters", add, "/info"]);
    assert_eq!(r[0], json!({"/counters": {}}));
    assert_eq!(
        r[1],
        json!({"/counter/add": {"error":
            "permission denied: /counter/add is a write command and needs uid 0 (you are uid 65534)"}})
    );
    assert!(r[2]["/info"]["pid"].is_number());
    assert_eq!(srv.stats_after(Duration::from_millis(50)).refused, 1);
    // Root still writes.
    assert_eq!(client(&srv).request(add).unwrap(), Ok(json!(1)));
    srv.stop();

    // Writers only: the peer may do nothing.
    let srv = start_server(|c| {
        c.mode = 0o666;
        c.write_group = Some(GroupSpec::Name("root".into()));
    });
    let r = requests_as_nobody(&srv.path, &["/counters", add]);
    let e = r[0]["/counters"]["error"].as_str().unwrap();
    assert!(
        e.starts_with("permission denied: /counters is a read command"),
        "{e}"
    );
    let e = r[1]["/counter/add"]["error"].as_str().unwrap();
    assert!(e.contains("needs uid 0 or group 0"), "{e}");
    assert_eq!(srv.stats_after(Duration::from_millis(50)).refused, 2);
    srv.stop();

    // The write group grants writes (the peer's gid is the group).
    let srv = start_server(|c| {
        c.mode = 0o666;
        c.write_group = Some(GroupSpec::Id(65534));
    });
    let r = requests_as_nobody(&srv.path, &[add, "/counters"]);
    assert_eq!(r[0], json!({"/counter/add": 1}));
    assert_eq!(r[1], json!({"/counters": {"n": 1}}));
    srv.stop();
}

#[test]
fn stock_dpdk_telemetry_py_queries_cnfwd() {
    let script = Path::new("/usr/bin/dpdk-telemetry.py");
    if !script.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have dpdk-telemetry.py (Debian's dpdk-dev)"
        );
        eprintln!("SKIPPED: /usr/bin/dpdk-telemetry.py not installed (apt-get install dpdk-dev)");
        return;
    }
    let dir = TempDir::new("ctl");
    let prefix = "cnfwd-test";
    let dpdk_path = dir.0.join("dpdk").join(prefix).join("dpdk_telemetry.v2");
    let srv = start_server(|c| c.dpdk_path = Some(dpdk_path.clone()));
    // The script finds it exactly where EAL would put it.
    let mut child = Command::new(python())
        .arg(script)
        .args(["-f", prefix])
        .env("RUNTIME_DIRECTORY", &dir.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"/info\n/counters\n/help,/counters\n/nope\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(lines[0]["/info"]["pid"], std::process::id());
    assert_eq!(lines[1], json!({"/counters": {}}));
    assert_eq!(
        lines[2],
        json!({"/help": {"/counters": "Returns every counter"}})
    );
    assert!(lines[3]["/nope"]["error"]
        .as_str()
        .unwrap()
        .starts_with("unknown command"));
    // The helper names the same place under the default runtime directory.
    assert!(dpdk_telemetry_path(prefix).ends_with("dpdk/cnfwd-test/dpdk_telemetry.v2"));
    srv.stop();
    assert!(!dpdk_path.exists(), "DPDK-path socket left behind");
}

mod metrics {
    use super::*;
    use dataplane::control::metrics::{render, MetricsServer, WorkerMetrics};
    use dataplane::pipeline::drop::DropReason;
    use dataplane::stats::Stats;
    use dataplane::tables::Tables;

    fn tables() -> Tables {
        let cfg = cnfwd_config::parse(
            "[[l2_networks]]\nname = \"storage\"\nvlan = 7\n\
             [[l2_networks]]\nname = \"odd\"\nvlan = 8\n\
             [[ports]]\nname = \"p0\"\nbackend = \"pcap\"\nmac = \"02:00:00:00:00:01\"\nmode = \"trunk\"\ntrunked_network = \"t\"\n\
             [[ports]]\nname = \"p1\"\nbackend = \"pcap\"\nmac = \"02:00:00:00:00:02\"\nmode = \"access\"\nnetworks = [\"storage\"]\n\
             [[trunked_networks]]\nname = \"t\"\nvlans = [7, 8]\n",
            "<test>",
        )
        .unwrap();
        let mut t = Tables::build(&cnfwd_config::resolve(&cfg).unwrap(), &[]).unwrap();
        // Configuration forbids such names; the exposition must still cope.
        let mut networks = t.networks.to_vec();
        networks[1].name = "odd\"name\\x\n".into();
        t.networks = networks.into();
        t
    }

    fn http_get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        (head.to_string(), body.to_string())
    }

    /// A strict check of one sample line of the text format (the parser
    /// below skips lines it does not understand).
    /// Name, labels, value.
    type Sample = (String, Vec<(String, String)>, u64);

    fn strict_sample(line: &str) -> Option<Sample> {
        let name_end = line.find(['{', ' '])?;
        let name = &line[..name_end];
        let mut ch = name.chars();
        let ok_first = ch
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
        if !ok_first || !ch.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            return None;
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(r) = rest.strip_prefix('{') {
            rest = r;
            loop {
                let eq = rest.find('=')?;
                let key = rest[..eq].to_string();
                rest = rest[eq + 1..].strip_prefix('"')?;
                let mut val = String::new();
                let mut it = rest.char_indices();
                let end = loop {
                    match it.next()? {
                        (_, '\\') => match it.next()?.1 {
                            '\\' => val.push('\\'),
                            '"' => val.push('"'),
                            'n' => val.push('\n'),
                            _ => return None,
                        },
                        (i, '"') => break i,
                        (_, c) => val.push(c),
                    }
                };
                labels.push((key, val));
                rest = &rest[end + 1..];
                if let Some(r) = rest.strip_prefix(',') {
                    rest = r;
                } else {
                    rest = rest.strip_prefix('}')?;
                    break;
                }
            }
        }
        let value = rest.strip_prefix(' ')?.parse().ok()?;
        Some((name.to_string(), labels, value))
    }

    #[test]
    fn metrics_endpoint_serves_valid_exposition_text() {
        let t = tables();
        let mut stats = Stats::new(t.ports.len(), t.networks.len());
        stats.ports[0].rx_packets = 10;
        stats.ports[0].rx_bytes = 1000;
        stats.ports[1].tx_packets = 7;
        stats.ports[0].drops[DropReason::NoRoute as usize] = 2;
        stats.ports[1].drops[DropReason::NoRoute as usize] = 1;
        stats.ports[0].drops[DropReason::UnknownVlan as usize] = 1;
        stats.networks[1].drops[DropReason::L2NoEgress as usize] = 4;
        stats.replicated = 3;
        let workers = vec![
            WorkerMetrics {
                id: 0,
                core: Some(2),
                rx_packets: 6,
                tx_packets: 4,
                busy_polls: 5,
                idle_polls: 100,
            },
            WorkerMetrics {
                id: 1,
                core: None,
                rx_packets: 4,
                tx_packets: 3,
                busy_polls: 2,
                idle_polls: 50,
            },
        ];
        let text = render(&stats, &t, &workers);
        let calls = Arc::new(AtomicUsize::new(0));
        let n = calls.clone();
        let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), move || {
            n.fetch_add(1, Ordering::Relaxed);
            text.clone()
        })
        .unwrap();
        let addr = server.local_addr();
        let (head, body) = http_get(addr, "/metrics");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(
            head.contains("Content-Type: text/plain; version=0.0.4"),
            "{head}"
        );

        // Every line is a comment or a strictly valid sample.
        let mut samples = Vec::new();
        for line in body.lines() {
            if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
                continue;
            }
            samples.push(strict_sample(line).unwrap_or_else(|| panic!("bad line: {line:?}")));
        }
        let get = |name: &str, labels: &[(&str, &str)]| {
            samples
                .iter()
                .find(|(n, l, _)| {
                    n == name
                        && l.len() == labels.len()
                        && labels
                            .iter()
                            .all(|(k, v)| l.iter().any(|(a, b)| a == k && b == v))
                })
                .map(|s| s.2)
        };
        assert_eq!(
            get("cnfwd_port_rx_packets_total", &[("port", "p0")]),
            Some(10)
        );
        assert_eq!(
            get("cnfwd_port_rx_bytes_total", &[("port", "p0")]),
            Some(1000)
        );
        assert_eq!(
            get("cnfwd_port_tx_packets_total", &[("port", "p1")]),
            Some(7)
        );
        assert_eq!(get("cnfwd_drops_total", &[("reason", "no_route")]), Some(3));
        assert_eq!(get("cnfwd_drops_total", &[("reason", "tx_full")]), Some(0));
        assert_eq!(
            get(
                "cnfwd_port_drops_total",
                &[("port", "p0"), ("reason", "unknown_vlan")]
            ),
            Some(1)
        );
        assert_eq!(
            get(
                "cnfwd_port_drops_total",
                &[("port", "p1"), ("reason", "tx_full")]
            ),
            None
        );
        // The escaped network name round-trips.
        assert_eq!(
            get(
                "cnfwd_network_drops_total",
                &[("network", "odd\"name\\x\n"), ("reason", "l2_no_egress")]
            ),
            Some(4)
        );
        assert_eq!(
            get(
                "cnfwd_network_rx_packets_total",
                &[("network", "storage"), ("vlan", "7")]
            ),
            Some(0)
        );
        assert_eq!(get("cnfwd_replicated_packets_total", &[]), Some(3));
        assert_eq!(get("cnfwd_workers", &[]), Some(2));
        assert_eq!(
            get(
                "cnfwd_worker_idle_polls_total",
                &[("worker", "0"), ("core", "2")]
            ),
            Some(100)
        );
        assert_eq!(
            get(
                "cnfwd_worker_rx_packets_total",
                &[("worker", "1"), ("core", "none")]
            ),
            Some(4)
        );
        assert_eq!(
            samples
                .iter()
                .filter(|s| s.0 == "cnfwd_drops_total")
                .count(),
            DropReason::COUNT
        );

        // A real parser agrees, with the declared types.
        let scrape =
            prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap();
        assert_eq!(scrape.samples.len(), samples.len());
        for s in &scrape.samples {
            let typed = match (&s.value, s.metric.as_str()) {
                (prometheus_parse::Value::Gauge(_), m) => !m.ends_with("_total"),
                (prometheus_parse::Value::Counter(_), m) => m.ends_with("_total"),
                _ => false,
            };
            assert!(typed, "{} has value {:?}", s.metric, s.value);
            assert!(
                scrape.docs.contains_key(&s.metric),
                "no HELP for {}",
                s.metric
            );
        }
        let rx = scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == "cnfwd_port_rx_packets_total" && s.labels.get("port") == Some("p0")
            })
            .unwrap();
        assert_eq!(rx.value, prometheus_parse::Value::Counter(10.0));

        let (head, _) = http_get(addr, "/other");
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        // A client that sends nothing times out without stopping the server.
        let _idle = TcpStream::connect(addr).unwrap();
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&vec![b'a'; 10_000]).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 431"), "{out}");
        drop(_idle);
        let (head, _) = http_get(addr, "/metrics?x=1");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        drop(server);
        assert!(
            TcpStream::connect(addr).is_err(),
            "still listening after drop"
        );
    }
}

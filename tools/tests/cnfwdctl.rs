//! The `cnfwdctl` binary end to end against a management socket server
//! with a small handler: tables, `--json`, exit statuses, and the socket
//! path in connection errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use dataplane::control::{
    Access, CommandError, CommandInfo, Handler, Params, Peer, Server, ServerConfig,
};
use serde_json::{json, Value};

const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "/ports",
        help: "Ports",
        access: Access::Read,
    },
    CommandInfo {
        name: "/routes",
        help: "Routes of a VRF",
        access: Access::Read,
    },
    CommandInfo {
        name: "/route/add",
        help: "Adds a route",
        access: Access::Write,
    },
];

/// Records what `/route/add` received.
struct Engine {
    added: Arc<Mutex<Vec<Value>>>,
}

impl Handler for Engine {
    fn commands(&self) -> &[CommandInfo] {
        COMMANDS
    }

    fn call(&mut self, command: &str, params: Params<'_>, _: &Peer) -> Result<Value, CommandError> {
        match command {
            "/ports" => Ok(json!([
                {"name": "p0", "rx_packets": 12, "tx_packets": 3},
                {"name": "uplink", "rx_packets": 7, "tx_packets": 1500, "driver": "af_packet"},
            ])),
            "/routes" => {
                let p = params.json()?;
                match p["vrf"].as_str() {
                    Some("blue") => Ok(json!([{"prefix": "10.0.0.0/8", "via": "10.0.0.1"}])),
                    Some(v) => Err(CommandError::failed(format!("no VRF {v:?}"))),
                    None => Err(CommandError::failed("vrf missing")),
                }
            }
            "/route/add" => {
                let p = params.json()?;
                self.added.lock().unwrap().push(p);
                Ok(json!("ok"))
            }
            _ => Err(CommandError::failed("unreachable")),
        }
    }
}

struct Fixture {
    dir: PathBuf,
    sock: PathBuf,
    added: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Fixture {
    fn start() -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cnfwdctl-e2e-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let sock = dir.join("cnfwd.sock");
        let mut server = Server::bind(&ServerConfig {
            path: sock.clone(),
            ..ServerConfig::default()
        })
        .unwrap();
        let added = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (added.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut engine = Engine { added: a };
            while !s.load(Ordering::Relaxed) {
                server.poll(Duration::from_millis(10), &mut engine).unwrap();
            }
        });
        Fixture {
            dir,
            sock,
            added,
            stop,
            thread: Some(thread),
        }
    }

    fn ctl(&self, args: &[&str]) -> Output {
        ctl_at(&self.sock, args)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ctl_at(sock: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cnfwdctl"))
        .arg("--socket")
        .arg(sock)
        .args(args)
        .env_remove("CNFWD_SOCKET")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn cnfwdctl_talks_to_a_server() {
    let f = Fixture::start();

    let out = f.ctl(&["show", "ports"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "name    rx_packets  tx_packets  driver\n\
         p0              12           3  -\n\
         uplink           7        1500  af_packet\n"
    );

    let out = f.ctl(&["--json", "show", "routes", "blue"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, json!([{"prefix": "10.0.0.0/8", "via": "10.0.0.1"}]));

    // An error reply: status 1, the server's message on stderr.
    let out = f.ctl(&["show", "routes", "red"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "cnfwdctl: /routes: no VRF \"red\"\n");
    assert!(out.stdout.is_empty());
    let out = f.ctl(&["show", "health"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown command \"/health\""),
        "{}",
        text(&out.stderr)
    );

    // A write command with parameters as JSON.
    let out = f.ctl(&["route", "add", "blue", "0.0.0.0/0", "via", "10.0.0.1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ok\n");
    assert_eq!(
        f.added.lock().unwrap().as_slice(),
        [json!({"vrf": "blue", "prefix": "0.0.0.0/0", "next_hop": "10.0.0.1"})]
    );

    // Generic forms.
    let out = f.ctl(&["list"]);
    assert_eq!(
        text(&out.stdout),
        "/\n/help\n/info\n/ports\n/route/add\n/routes\n"
    );
    let out = f.ctl(&["help", "routes"]);
    assert_eq!(text(&out.stdout), "/routes: Routes of a VRF\n");
    let out = f.ctl(&["raw", "/info"]);
    let info = text(&out.stdout);
    assert!(
        info.lines()
            .any(|l| l.starts_with("pid:") && l.ends_with(&format!(" {}", std::process::id()))),
        "{info}"
    );

    // Usage errors: status 2.
    let out = f.ctl(&["route", "add", "blue", "0.0.0.0/0", "towards", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = f.ctl(&["show", "everything"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn cnfwdctl_names_the_socket_when_it_cannot_connect() {
    let sock = std::env::temp_dir().join("cnfwdctl-no-such-dir/cnfwd.sock");
    let out = ctl_at(&sock, &["show", "ports"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!("cnfwdctl: cannot connect to {}: ", sock.display())),
        "{err}"
    );
}

#[test]
fn cnfwdctl_prints_completions() {
    let out = Command::new(env!("CARGO_BIN_EXE_cnfwdctl"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let s = text(&out.stdout);
    assert!(s.contains("complete -F _cnfwdctl"), "{s}");
    assert!(s.contains("neighbor"), "{s}");
}

/// Answers `/health` with whatever the test put in `reply` (an error when
/// it is a string).
struct HealthEngine {
    reply: Arc<Mutex<Value>>,
}

const HEALTH_COMMANDS: &[CommandInfo] = &[CommandInfo {
    name: "/health",
    help: "Health",
    access: Access::Read,
}];

impl Handler for HealthEngine {
    fn commands(&self) -> &[CommandInfo] {
        HEALTH_COMMANDS
    }

    fn call(&mut self, _: &str, _: Params<'_>, _: &Peer) -> Result<Value, CommandError> {
        match self.reply.lock().unwrap().clone() {
            Value::String(e) => Err(CommandError::failed(e)),
            v => Ok(v),
        }
    }
}

#[test]
fn cnfwdctl_health_is_an_exec_probe() {
    let dir = std::env::temp_dir().join(format!("cnfwdctl-health-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sock = dir.join("cnfwd.sock");
    let mut server = Server::bind(&ServerConfig {
        path: sock.clone(),
        ..ServerConfig::default()
    })
    .unwrap();
    let reply = Arc::new(Mutex::new(json!({
        "status": "ok", "workers": 2, "live": true, "ready": true,
        "not_live": [], "not_ready": [],
        "ports": [{"name": "a", "up": true}],
    })));
    let stop = Arc::new(AtomicBool::new(false));
    let (r, s) = (reply.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        let mut engine = HealthEngine { reply: r };
        while !s.load(Ordering::Relaxed) {
            server.poll(Duration::from_millis(10), &mut engine).unwrap();
        }
    });
    let run = |args: &[&str]| {
        let out = ctl_at(&sock, args);
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };

    assert_eq!(
        run(&["health"]),
        (Some(0), "live: 2 worker(s) polling\n".into(), String::new())
    );
    assert_eq!(
        run(&["health", "--ready"]),
        (
            Some(0),
            "ready: 2 worker(s) forwarding, 1 port(s) up\n".into(),
            String::new()
        )
    );

    // A port down: still live, not ready.
    *reply.lock().unwrap() = json!({
        "status": "ok", "workers": 2, "live": true, "ready": false,
        "not_live": [], "not_ready": ["port a (af_packet v0): not up: lowerlayerdown"],
    });
    assert_eq!(run(&["health"]).0, Some(0));
    assert_eq!(
        run(&["health", "--ready"]),
        (
            Some(1),
            "not ready: port a (af_packet v0): not up: lowerlayerdown\n".into(),
            String::new()
        )
    );

    // A stalled worker: neither; --json prints the reply, same status.
    let stalled = json!({
        "status": "stalled", "workers": 2, "live": false, "ready": false,
        "not_live": ["worker 1 (core 3): stalled: no polling round for 1200 ms (stall_timeout_ms 1000)"],
        "not_ready": ["worker 1 (core 3): stalled: no polling round for 1200 ms (stall_timeout_ms 1000)"],
    });
    *reply.lock().unwrap() = stalled.clone();
    assert_eq!(
        run(&["health"]),
        (
            Some(1),
            "not live: worker 1 (core 3): stalled: no polling round for 1200 ms (stall_timeout_ms 1000)\n".into(),
            String::new()
        )
    );
    let (code, out, _) = run(&["health", "--json"]);
    assert_eq!(code, Some(1));
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), stalled);

    // An error reply is unhealthy too.
    *reply.lock().unwrap() = json!("engine gone");
    assert_eq!(
        run(&["health"]),
        (
            Some(1),
            String::new(),
            "cnfwdctl: /health: engine gone\n".into()
        )
    );

    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    // Nobody there: 2, naming the socket.
    let (code, out, err) = run(&["health", "--ready"]);
    assert_eq!(code, Some(2));
    assert!(out.is_empty());
    assert!(
        err.starts_with(&format!("cnfwdctl: cannot connect to {}: ", sock.display())),
        "{err}"
    );
}

#[test]
fn json_errors_go_to_stdout_as_json() {
    let f = Fixture::start();
    let out = f.ctl(&["--json", "show", "routes", "red"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        json!({"error": "no VRF \"red\"", "command": "/routes", "kind": "reply"})
    );
    // A usage error found by cnfwdctl itself.
    let out = f.ctl(&[
        "--json",
        "route",
        "add",
        "blue",
        "0.0.0.0/0",
        "towards",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "usage");
    assert!(v["error"].as_str().unwrap().contains("via <ip>"), "{v}");
    // No server.
    let sock = std::env::temp_dir().join("cnfwdctl-no-such-dir/cnfwd.sock");
    let out = ctl_at(&sock, &["--json", "show", "ports"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "connection");
    assert_eq!(v["command"], "/ports");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!("cannot connect to {}: ", sock.display())),
        "{v}"
    );
}

#[test]
fn help_on_cnfwdctl_commands_needs_no_server() {
    let sock = std::env::temp_dir().join("cnfwdctl-no-such-dir/cnfwd.sock");
    let out = ctl_at(&sock, &["help", "show"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let h = text(&out.stdout);
    assert!(
        h.contains("Usage: cnfwdctl show [OPTIONS] <COMMAND>"),
        "{h}"
    );
    assert!(h.contains("routes"), "{h}");
    let out = ctl_at(&sock, &["help", "trace", "stop"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("Usage: cnfwdctl trace stop"),
        "{}",
        text(&out.stdout)
    );
    let out = ctl_at(&sock, &["help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("interactive prompt"));
    // A socket command is still asked of the server.
    let out = ctl_at(&sock, &["help", "/routes"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn completions_into_a_closed_pipe_exit_quietly() {
    // The read end is closed before cnfwdctl writes: every write fails
    // with EPIPE, as with `| head -3` once head has gone.
    let (r, w) = nix::unistd::pipe().unwrap();
    drop(r);
    let out = Command::new(env!("CARGO_BIN_EXE_cnfwdctl"))
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::from(w))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    // And `show ports | head -1` likewise.
    let f = Fixture::start();
    let (r, w) = nix::unistd::pipe().unwrap();
    drop(r);
    let out = Command::new(env!("CARGO_BIN_EXE_cnfwdctl"))
        .arg("--socket")
        .arg(&f.sock)
        .args(["show", "ports"])
        .stdout(std::process::Stdio::from(w))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

/// `cnfwdctl` on a pseudo-terminal, as a person at a shell would run it.
struct Pty {
    master: std::os::fd::OwnedFd,
    child: std::process::Child,
    seen: String,
}

impl Pty {
    fn spawn(sock: &Path, home: &Path) -> Pty {
        let p = nix::pty::openpty(None, None).unwrap();
        let slave = |fd: &std::os::fd::OwnedFd| std::process::Stdio::from(fd.try_clone().unwrap());
        let child = Command::new(env!("CARGO_BIN_EXE_cnfwdctl"))
            .arg("--socket")
            .arg(sock)
            .env_remove("CNFWD_SOCKET")
            .env("HOME", home)
            .env("XDG_STATE_HOME", home.join("state"))
            .env("TERM", "xterm")
            .stdin(slave(&p.slave))
            .stdout(slave(&p.slave))
            .stderr(slave(&p.slave))
            .spawn()
            .unwrap();
        drop(p.slave);
        Pty {
            master: p.master,
            child,
            seen: String::new(),
        }
    }

    fn send(&mut self, s: &str) {
        nix::unistd::write(&self.master, s.as_bytes()).unwrap();
    }

    /// Reads until `needle` has been printed (after what earlier calls
    /// consumed); answers cursor-position queries on the way.
    fn expect(&mut self, needle: &str) -> String {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let end = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(i) = self.seen.find(needle) {
                let upto = i + needle.len();
                let before = self.seen[..upto].to_string();
                self.seen.drain(..upto);
                return before;
            }
            let left = end.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "never saw {needle:?}; got {:?}", self.seen);
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            let ms = PollTimeout::try_from(left.as_millis().min(1000) as i32).unwrap();
            if poll(&mut fds, ms).unwrap() == 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            let n: usize = nix::unistd::read(&self.master, &mut buf).unwrap_or_default();
            assert!(n > 0, "pty closed before {needle:?}; got {:?}", self.seen);
            let chunk = String::from_utf8_lossy(&buf[..n]).into_owned();
            if chunk.contains("\x1b[6n") {
                self.send("\x1b[1;1R");
            }
            self.seen.push_str(&chunk);
        }
    }

    fn wait(mut self) -> Option<i32> {
        let end = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            if std::time::Instant::now() > end {
                let _ = self.child.kill();
                panic!("cnfwdctl did not exit; screen: {:?}", self.seen);
            }
            // Keep the pty drained so the child never blocks on output.
            let mut buf = [0u8; 4096];
            let _ = nix::fcntl::fcntl(
                &self.master,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            );
            while let Ok(n) = nix::unistd::read(&self.master, &mut buf) {
                if n == 0 {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn interactive_prompt_with_completion_history_and_one_connection() {
    let f = Fixture::start();
    let home = f.dir.join("home");
    std::fs::create_dir_all(&home).unwrap();

    let mut t = Pty::spawn(&f.sock, &home);
    t.expect("cnfwd# ");
    t.send("show ports\r");
    t.expect("uplink           7        1500  af_packet");
    t.expect("cnfwd# ");
    // Tab completes command words: "sh<Tab>po<Tab>" is "show ports ".
    t.send("sh\t");
    t.expect("show ");
    t.send("po\t");
    t.expect("ports ");
    t.send("\r");
    t.expect("p0              12           3  -");
    t.expect("cnfwd# ");
    // Several choices: a second Tab lists them; Ctrl-U clears the line.
    t.send("trace s\t\t");
    t.expect("show");
    t.expect("start");
    t.expect("stop");
    t.send("\x15");
    // An error reply: printed, the prompt comes back.
    t.send("show routes red\r");
    t.expect("cnfwdctl: /routes: no VRF \"red\"");
    t.expect("cnfwd# ");
    // A bad line: clap's message, the prompt comes back.
    t.send("show everything\r");
    t.expect("unrecognized subcommand 'everything'");
    t.expect("cnfwd# ");
    // Help on cnfwdctl's commands; --json on one line.
    t.send("help trace\r");
    t.expect("stop");
    t.expect("cnfwd# ");
    t.send("--json show routes blue\r");
    t.expect("\"via\": \"10.0.0.1\"");
    t.expect("cnfwd# ");
    // All of that on one connection.
    t.send("show info\r");
    t.expect("accepted:");
    let line = t.expect("\n");
    assert_eq!(line.trim(), "1", "one connection for the session");
    t.expect("cnfwd# ");
    t.send("quit\r");
    assert_eq!(t.wait(), Some(0));

    let history = std::fs::read_to_string(home.join("state/cnfwdctl/history")).unwrap();
    for line in ["show ports", "show routes red", "help trace", "quit"] {
        assert!(
            history.lines().any(|l| l == line),
            "{line:?} not in {history:?}"
        );
    }

    // History comes back in the next session: Up is `quit`, Up again
    // `show info`; run it. Ctrl-D leaves.
    let mut t = Pty::spawn(&f.sock, &home);
    t.expect("cnfwd# ");
    t.send("\x1b[A\x1b[A\r");
    t.expect("accepted:");
    t.expect("cnfwd# ");
    t.send("\x04");
    assert_eq!(t.wait(), Some(0));
}

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
        let dir = std::env::temp_dir().join(format!("cnfwdctl-e2e-{}", std::process::id()));
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
    assert!(text(&out.stdout).contains(&format!("pid: {}\n", std::process::id())));

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

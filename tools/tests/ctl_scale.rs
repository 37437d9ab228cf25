//! The management plane at scale, end to end: a live engine (one worker on
//! the memory backend) serving its real commands on a socket, driven by
//! `cnfwdctl` and the client library with a generated configuration of
//! 100,000 static routes (about 6 MB of TOML, written by the test):
//!
//! - `cnfwdctl config apply big.toml` (sent by path: cnfwd reads the
//!   file), its reply listing every change, the route added through the
//!   socket before it stated as removed (or kept, when asked);
//! - `/routes` and `/config` in pages that each fit `max_output_len`, and
//!   `cnfwdctl show routes` / `show config` following them;
//! - the same request sent inline (6 MB in one message): a clear error,
//!   never a raw OS error;
//! - `config save` editing the file in place (comments kept, `.bak`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dataplane::control::commands::{Commands, ControlState};
use dataplane::control::{Client, ClientError, Server, ServerConfig};
use dataplane::engine::snapshot::Snapshots;
use dataplane::engine::workers::{run, EngineOptions};
use dataplane::io::memory::MemoryBackend;
use dataplane::tables::Tables;
use serde_json::{json, Value};

/// Routes in the generated configuration.
const ROUTES: u32 = 100_000;

/// Two VRFs (red: an IPv4 and IPv6 network; blue), one port. Comments and
/// an explicit default, for `config save` to keep.
const BASE: &str = r#"# Edge site, scale test.
[engine]
burst_size = 32   # the default, written on purpose

[[l3_isolation_domains]]
name = "blue"

[[l3_networks]]
name = "red-app"   # tenant red
vlan = 100
l3_isolation_domain = "red"
ipv4_connected_prefix = "10.1.0.0/24"
ipv6_connected_prefix = "fd01::/64"
neighbors = [
  { ip = "10.1.0.254", mac = "02:00:00:00:02:54" },  # core router
]

[[l3_networks]]
name = "blue-app"
vlan = 200
l3_isolation_domain = "blue"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.2.0.0/24"

[[ports]]
name = "p"
backend = "pcap"
mac = "02:00:00:00:00:01"
mode = "trunk"
trunked_network = "t"

[[trunked_networks]]
name = "t"
vlans = [100, 200]

# Tenant red: the default route, then the generated ones.
[[l3_isolation_domains]]
name = "red"

[[l3_isolation_domains.static_routes]]
prefix = "0.0.0.0/0"
next_hop = "10.1.0.254"
"#;

/// `BASE` plus `n` distinct /24 routes of VRF red via the core router.
fn big_config(n: u32) -> String {
    let mut t = String::from(BASE);
    for i in 0..n {
        let (a, b, c) = (32 + (i >> 16), (i >> 8) & 255, i & 255);
        t += &format!(
            "\n[[l3_isolation_domains.static_routes]]\nprefix = \"{a}.{b}.{c}.0/24\"\nnext_hop = \"10.1.0.254\"\n"
        );
    }
    t
}

/// A scratch directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "cnfwd-scale-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running engine serving its commands on `socket` until dropped.
struct Live {
    socket: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Live {
    /// Runs the configuration in `file` (also where `/config/save` writes).
    fn start(dir: &Path, file: &Path) -> Live {
        let socket = dir.join("cnfwd.sock");
        let stop = Arc::new(AtomicBool::new(false));
        let (s, sock, file) = (stop.clone(), socket.clone(), file.to_path_buf());
        let text = std::fs::read_to_string(&file).unwrap();
        let cfg = cnfwd_config::parse(&text, "<test>").unwrap();
        let r = cnfwd_config::resolve(&cfg).unwrap();
        let mut server = Server::bind(&ServerConfig {
            path: sock,
            ..ServerConfig::default()
        })
        .unwrap();
        let thread = std::thread::spawn(move || {
            let mut snaps = Snapshots::new(Tables::build(&r, &[]).unwrap());
            let mut state = ControlState::new(cfg, r, Some(file), Vec::new());
            run(
                vec![MemoryBackend::new(1)],
                &mut snaps,
                &EngineOptions::default(),
                |h, snaps| {
                    while !s.load(Ordering::Relaxed) {
                        let mut c = Commands {
                            state: &mut state,
                            engine: h,
                            snapshots: snaps,
                        };
                        server.poll(Duration::from_millis(10), &mut c).unwrap();
                    }
                },
            )
            .unwrap();
        });
        Live {
            socket,
            stop,
            thread: Some(thread),
        }
    }

    fn client(&self) -> Client {
        Client::connect(&self.socket, Duration::from_secs(60)).unwrap()
    }

    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cnfwdctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(["--timeout", "60"])
            .args(args)
            .env_remove("CNFWD_SOCKET")
            .output()
            .unwrap()
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn ok(c: &mut Client, cmd: &str, p: Value) -> Value {
    match c.call(cmd, Some(&p)).unwrap() {
        Ok(v) => v,
        Err(e) => panic!("{cmd},{p}: {e}"),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every route of VRF `vrf` through `/routes` pages of `limit`, checking
/// each page's bookkeeping.
fn routes_by_pages(c: &mut Client, vrf: &str, limit: usize) -> Vec<Value> {
    let (mut offset, mut all, mut total) = (0u64, Vec::new(), None);
    loop {
        let raw = c
            .request_raw(
                format!(r#"/routes,{{"vrf":"{vrf}","offset":{offset},"limit":{limit}}}"#)
                    .as_bytes(),
            )
            .unwrap();
        assert!(
            raw.len() <= c.max_output_len(),
            "page of {} bytes",
            raw.len()
        );
        let page: Value = serde_json::from_slice::<Value>(&raw).unwrap()["/routes"].clone();
        assert_eq!(page["offset"], offset, "{page}");
        let t = page["total"].as_u64().unwrap();
        assert_eq!(*total.get_or_insert(t), t, "total changed between pages");
        let rows = page["routes"].as_array().unwrap();
        all.extend(rows.iter().cloned());
        match page["next_offset"].as_u64() {
            Some(n) => {
                // Full, or ended early at the byte budget.
                assert!(
                    rows.len() == limit || raw.len() > 400 * 1024,
                    "{} rows, {} bytes",
                    rows.len(),
                    raw.len()
                );
                assert_eq!(n, offset + rows.len() as u64);
                offset = n;
            }
            None => {
                assert_eq!(all.len() as u64, t);
                return all;
            }
        }
    }
}

#[test]
fn a_hundred_thousand_routes_through_the_management_socket() {
    let dir = Dir::new("big");
    let site = dir.0.join("site.toml");
    std::fs::write(&site, BASE).unwrap();
    let big = dir.0.join("big.toml");
    let big_text = big_config(ROUTES);
    std::fs::write(&big, &big_text).unwrap();
    let live = Live::start(&dir.0, &site);
    let mut c = live.client();

    // A route added at run time, then the big file applied over it.
    ok(
        &mut c,
        "/route/add",
        json!({"vrf": "red", "prefix": "203.0.113.0/24", "network": "red-app"}),
    );
    let routes = ok(
        &mut c,
        "/routes",
        json!({"vrf": "red", "prefix": "203.0.113.0/24"}),
    );
    assert_eq!(routes["routes"][0]["origin"], "socket", "{routes}");

    // Inline, the 6 MB request cannot go as one message: a clear error
    // (from the client, or the server's reply), never a raw OS error.
    let inline = c.call("/config/apply", Some(&json!({"toml": big_text})));
    match inline {
        Err(e @ ClientError::TooLarge { .. }) => {
            assert!(e.to_string().contains("does not fit one message"), "{e}")
        }
        Ok(Err(e)) => assert!(e.contains("is larger than the limit of"), "{e}"),
        other => panic!("an inline 6 MB apply: {other:?}"),
    }
    let mut c = live.client();

    let t0 = Instant::now();
    let out = live.ctl(&["--json", "config", "apply", big.to_str().unwrap()]);
    let apply_s = t0.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &reply["routes"];
    assert_eq!(r["added"], ROUTES, "{r}");
    assert_eq!(r["removed"], 1, "{r}");
    assert_eq!(r["changed"], 0, "{r}");
    // The socket route's removal is listed first, with its origin.
    assert_eq!(
        r["list"][0],
        json!({"change": "removed", "vrf": "red", "prefix": "203.0.113.0/24", "target": "attached to red-app", "origin": "socket"})
    );
    assert_eq!(r["list"].as_array().unwrap().len(), 100);
    assert_eq!(r["not_listed"], ROUTES as u64 + 1 - 100);
    assert_eq!(reply["socket_routes"]["policy"], "removed");
    assert_eq!(reply["socket_routes"]["removed"], 1);
    assert_eq!(
        reply["routes_after"].as_u64().unwrap(),
        reply["routes_before"].as_u64().unwrap() + u64::from(ROUTES) - 1
    );
    assert_eq!(reply["neighbors"]["added"], 0, "{reply}");
    eprintln!(
        "config apply of {} bytes, {ROUTES} routes: {apply_s:.2} s",
        big_text.len()
    );

    // /routes pages: every route once, each page within max_output_len.
    let t0 = Instant::now();
    let all = routes_by_pages(&mut c, "red", 10_000);
    let pages_s = t0.elapsed().as_secs_f64();
    // The generated routes, the default route and the connected, gateway
    // and directed broadcast routes of red-app (IPv4 and IPv6).
    assert_eq!(all.len(), ROUTES as usize + 1 + 5, "{:?}", &all[..5]);
    let mut prefixes: Vec<&str> = all.iter().map(|r| r["prefix"].as_str().unwrap()).collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    assert_eq!(prefixes.len(), all.len(), "a route listed twice");
    assert!(all.iter().all(|r| r["origin"] == "config"));
    eprintln!(
        "/routes in pages of 10,000: {} routes in {pages_s:.2} s",
        all.len()
    );
    // A limit outside 1..=10000 is refused, and says so.
    let e = c
        .call("/routes", Some(&json!({"vrf": "red", "limit": 10_001})))
        .unwrap()
        .unwrap_err();
    assert!(e.contains("limit 10001: must be in 1..=10000"), "{e}");

    // cnfwdctl follows the pages: a table with a header and one line per
    // route.
    let t0 = Instant::now();
    let out = live.ctl(&["show", "routes", "red"]);
    let show_s = t0.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), all.len() + 1);
    assert!(
        lines[0].contains("prefix") && lines[0].contains("next_hop"),
        "{}",
        lines[0]
    );
    assert!(table.contains("32.0.0.0/24"), "{}", &table[..500]);
    assert!(table.contains("33.134.159.0/24"), "the last route missing");
    eprintln!(
        "cnfwdctl show routes red: {} lines in {show_s:.2} s",
        lines.len()
    );

    // /config: the whole of it is too large for one reply, but a section,
    // or the text in pages, is not; the pages join into the configuration.
    let e = c.request("/config").unwrap().unwrap_err();
    assert!(e.contains("larger than max_output_len"), "{e}");
    let eng = ok(&mut c, "/config", json!({"section": "engine"}));
    assert_eq!(eng["burst_size"], 32);
    let e = c
        .call("/config", Some(&json!({"section": "routes"})))
        .unwrap()
        .unwrap_err();
    assert!(
        e.contains("section \"routes\": not a part of the configuration; one of af_packet, "),
        "{e}"
    );
    let t0 = Instant::now();
    let out = live.ctl(&["show", "config"]);
    let config_s = t0.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = cnfwd_config::parse(&text(&out.stdout), "<show config>").unwrap();
    assert_eq!(shown, cnfwd_config::parse(&big_text, "<big>").unwrap());
    eprintln!(
        "cnfwdctl show config: {} bytes of TOML in {config_s:.2} s",
        out.stdout.len()
    );
    let out = live.ctl(&["--json", "show", "config"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["l3_isolation_domains"][1]["static_routes"]
            .as_array()
            .unwrap()
            .len(),
        ROUTES as usize + 1
    );
    // A page offset in the middle of a character is refused.
    let p = ok(&mut c, "/config", json!({"format": "toml", "limit": 1000}));
    assert!(p["text"].as_str().unwrap().ends_with('\n'));
    assert!(p["text"].as_str().unwrap().len() <= 1000);
    assert_eq!(
        p["total_bytes"].as_u64().unwrap() as usize,
        out_len_toml(&mut c)
    );

    // A route added now, saved: the file is edited in place (comments and
    // the explicit default kept), the previous version kept as .bak.
    ok(
        &mut c,
        "/route/add",
        json!({"vrf": "blue", "prefix": "198.51.100.0/24", "next_hop": "10.2.0.9"}),
    );
    let t0 = Instant::now();
    let saved = ok(&mut c, "/config/save", json!(null));
    let save_s = t0.elapsed().as_secs_f64();
    assert_eq!(saved["mode"], "edited", "{saved}");
    assert_eq!(saved["backup"], format!("{}.bak", site.display()));
    assert_eq!(
        std::fs::read_to_string(format!("{}.bak", site.display())).unwrap(),
        BASE
    );
    let file = std::fs::read_to_string(&site).unwrap();
    assert!(file.starts_with("# Edge site, scale test.\n[engine]\nburst_size = 32   # the default, written on purpose\n"), "{}", &file[..300]);
    assert!(
        file.contains("  { ip = \"10.1.0.254\", mac = \"02:00:00:00:02:54\" },  # core router\n")
    );
    assert!(file.contains("# Tenant red: the default route, then the generated ones.\n"));
    assert!(!file.contains("mtu"), "a default written out");
    assert!(file.contains("prefix = \"198.51.100.0/24\"\nnext_hop = \"10.2.0.9\""));
    let mut want = cnfwd_config::parse(&big_text, "<big>").unwrap();
    want.l3_isolation_domains[0]
        .static_routes
        .push(cnfwd_config::model::StaticRoute {
            prefix: "198.51.100.0/24".parse().unwrap(),
            next_hop: Some("10.2.0.9".parse().unwrap()),
            network: None,
        });
    assert_eq!(cnfwd_config::parse(&file, "<saved>").unwrap(), want);
    eprintln!(
        "config save (edited in place): {} bytes in {save_s:.2} s",
        file.len()
    );
    // Saved again with nothing changed: the file is left alone.
    let again = ok(&mut c, "/config/save", json!(null));
    assert_eq!(again["unchanged"], true, "{again}");
}

fn out_len_toml(c: &mut Client) -> usize {
    let mut len = 0;
    let mut offset = 0u64;
    loop {
        let p = ok(c, "/config", json!({"format": "toml", "offset": offset}));
        len += p["text"].as_str().unwrap().len();
        match p["next_offset"].as_u64() {
            Some(n) => offset = n,
            None => return len,
        }
    }
}

#[test]
fn apply_can_keep_socket_routes_and_says_which_it_could_not() {
    let dir = Dir::new("keep");
    let site = dir.0.join("site.toml");
    std::fs::write(&site, BASE).unwrap();
    let live = Live::start(&dir.0, &site);
    let mut c = live.client();
    ok(
        &mut c,
        "/route/add",
        json!({"vrf": "red", "prefix": "203.0.113.0/24", "network": "red-app"}),
    );
    ok(
        &mut c,
        "/route/add",
        json!({"vrf": "blue", "prefix": "198.51.100.0/24", "next_hop": "10.2.0.9"}),
    );
    ok(
        &mut c,
        "/route/add",
        json!({"vrf": "red", "prefix": "192.0.2.0/24", "next_hop": "10.1.0.254"}),
    );
    // The new file routes 192.0.2.0/24 itself and has no VRF blue... well,
    // it keeps blue but moves the neighbour: a neighbour change is listed.
    let next = BASE
        .replace("02:00:00:00:02:54", "02:00:00:00:02:55")
        .replace(
            "prefix = \"0.0.0.0/0\"",
            "prefix = \"192.0.2.0/24\"\nnetwork = \"red-app\"\n\n[[l3_isolation_domains.static_routes]]\nprefix = \"0.0.0.0/0\"",
        );
    let r = ok(
        &mut c,
        "/config/apply",
        json!({"toml": next, "keep_socket_routes": true}),
    );
    assert_eq!(r["socket_routes"]["policy"], "kept", "{r}");
    assert_eq!(r["socket_routes"]["kept"], 2, "{r}");
    assert_eq!(
        r["socket_routes"]["removed_list"],
        json!([{"vrf": "red", "prefix": "192.0.2.0/24", "why": "the applied configuration routes this prefix itself"}])
    );
    assert_eq!(r["routes"]["changed"], 1, "{r}");
    assert_eq!(
        r["routes"]["list"],
        json!([{"change": "changed", "vrf": "red", "prefix": "192.0.2.0/24", "target": "attached to red-app", "was": "via 10.1.0.254 on red-app", "origin": "socket"}])
    );
    assert_eq!(
        r["neighbors"]["list"],
        json!([{"change": "changed", "network": "red-app", "ip": "10.1.0.254", "mac": "02:00:00:00:02:55", "was": "02:00:00:00:02:54"}])
    );
    let rows = ok(
        &mut c,
        "/routes",
        json!({"vrf": "red", "prefix": "203.0.113.0/24"}),
    );
    assert_eq!(rows["routes"][0]["origin"], "socket", "{rows}");
    let rows = ok(
        &mut c,
        "/routes",
        json!({"vrf": "red", "prefix": "192.0.2.0/24"}),
    );
    assert_eq!(rows["routes"][0]["origin"], "config", "{rows}");
    // Without keep: both listed as removed.
    let r = ok(&mut c, "/config/apply", json!({"toml": BASE}));
    assert_eq!(r["socket_routes"]["removed"], 2, "{r}");
    assert_eq!(r["routes"]["removed"], 3, "{r}");
    let socket_removed: Vec<&Value> = r["routes"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["origin"] == "socket")
        .collect();
    assert_eq!(socket_removed.len(), 2, "{r}");
    // A path cnfwd cannot use: a clear error reply, nothing changed.
    for (p, want) in [
        (json!({"path": "site.toml"}), "must be absolute"),
        (
            json!({"path": dir.0.join("none.toml")}),
            "cannot open it: No such file or directory",
        ),
        (json!({"path": dir.0}), "not a regular file"),
        (json!({"toml": BASE, "path": site}), "not both"),
        (json!({}), "missing \"toml\""),
    ] {
        let e = c.call("/config/apply", Some(&p)).unwrap().unwrap_err();
        assert!(e.contains(want), "{p}: {e}");
    }
}

/// What an operator sees, in text: a route added at run time shown as
/// such, then removed by an apply that says so, then a save.
#[test]
fn cnfwdctl_text_of_routes_apply_and_save() {
    let dir = Dir::new("text");
    let site = dir.0.join("site.toml");
    std::fs::write(&site, BASE).unwrap();
    let live = Live::start(&dir.0, &site);
    let run = |args: &[&str]| -> String {
        let out = live.ctl(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let t = text(&out.stdout);
        eprintln!("$ cnfwdctl {}\n{t}", args.join(" "));
        t
    };
    run(&["route", "add", "red", "203.0.113.0/24", "dev", "red-app"]);
    let t = run(&["show", "routes", "red"]);
    let line = t.lines().find(|l| l.contains("203.0.113.0/24")).unwrap();
    assert!(line.contains("socket"), "{t}");
    assert_eq!(t.lines().count(), 1 + 7, "{t}");
    let next = dir.0.join("next.toml");
    std::fs::write(
        &next,
        format!("{BASE}\n# Benchmarking range, to the core.\n[[l3_isolation_domains.static_routes]]\nprefix = \"198.18.0.0/15\"\nnext_hop = \"10.1.0.254\"\n"),
    )
    .unwrap();
    let t = run(&["config", "apply", next.to_str().unwrap()]);
    assert!(t.contains("203.0.113.0/24"), "{t}");
    assert!(t.contains("198.18.0.0/15"), "{t}");
    let t = run(&["config", "save"]);
    assert!(t.contains("edited"), "{t}");
    let t = run(&["show", "config"]);
    assert!(t.contains("[engine]\nburst_size = 32\n"), "{t}");
    let saved = std::fs::read_to_string(&site).unwrap();
    assert!(saved.starts_with("# Edge site, scale test.\n"), "{saved}");
    assert!(
        saved.contains("198.18.0.0/15") && !saved.contains("203.0.113.0"),
        "{saved}"
    );
}

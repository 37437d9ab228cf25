//! Operability (issue 14, "logs, telemetry, counters, start-up"), tried as
//! a user would:
//!
//! - the stock `/usr/bin/dpdk-telemetry.py` (DPDK 22.11) talks to a live
//!   AF_PACKET cnfwd through `[control] dpdk_telemetry_prefix` and reads
//!   `/ethdev/*` and `/eal/*` with exactly the fields DPDK 22.11's testpmd
//!   answers (`testdata/dpdk-telemetry/testpmd-22.11-net_null.txt`, a real
//!   session), with values matching cnfwd's own counters; `/routes,red`
//!   takes a bare VRF name;
//! - kernel ring drops (`PACKET_STATISTICS`), provoked by stalling a worker
//!   behind a one-block ring under a ping flood, show in `/ports`, the
//!   stats JSON, `/ethdev/stats` (`imissed`) and `/metrics`, with
//!   `cnfwd_build_info`, uptime, routes per VRF and turned-away socket
//!   clients;
//! - every write command logged once (done / failed, with the peer);
//! - the start-up banner, JSON log lines, `--log-level`, and an empty
//!   configuration (`check` warns, `run` refuses with exit 2);
//! - with the `dpdk` feature: DPDK ports (`net_null` vdevs) answer
//!   `/ethdev/*` from the device (name, `dev_flags`, mbuf size, link,
//!   EAL's arguments) and show `imissed`/`rx_nombuf` in `/ports` and the
//!   stats JSON.
//!
//! The tests with hosts need root, `ip netns`, `ping` and python3 (else
//! they print a line and pass); everything lives in namespaces and a
//! scratch folder unique to the process, deleted afterwards
//! (`common::hosts::Lab`). The others run anywhere.

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::hosts::{can_run, in_netns, Host, Lab};
use common::server::TempDir;
use dataplane::control::Client;
use serde_json::Value;

const ROUTER_MAC: [[u8; 6]; 2] = [[0x02, 0xcf, 0, 0, 0x2a, 1], [0x02, 0xcf, 0, 0, 0x2b, 1]];
const HOST_MAC: [[u8; 6]; 2] = [
    [0x02, 0xee, 0, 0, 0x2a, 0x10],
    [0x02, 0xee, 0, 0, 0x2b, 0x10],
];
const HOST_ADDR: [&str; 2] = ["10.1.0.10", "10.2.0.10"];
const GATEWAY: [&str; 2] = ["10.1.0.1", "10.2.0.1"];
const METRICS: &str = "127.0.0.1:9464";

/// Two hosts routed through cnfwd in VRF `red` (plus one static route),
/// one worker, a one-block RX ring, metrics on the router's loopback, at
/// most 2 socket clients, and `dpdk-telemetry.py`'s socket at `prefix`.
fn config(prefix: &str) -> String {
    format!(
        r#"
[engine]
workers = 1
idle = "adaptive"

[af_packet]
block_size = 4096
block_count = 1

[control]
max_clients = 2
dpdk_telemetry_prefix = "{prefix}"

[metrics]
listen = "{METRICS}"

[[l3_isolation_domains]]
name = "red"

[[l3_isolation_domains.static_routes]]
prefix = "192.0.2.0/24"
next_hop = "10.2.0.10"

[[l3_networks]]
name = "na"
vlan = 101
l3_isolation_domain = "red"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"

[[l3_networks]]
name = "nb"
vlan = 102
l3_isolation_domain = "red"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.2.0.0/24"

[[ports]]
name = "a"
backend = "af_packet"
interface = "ra"
mode = "access"
networks = ["na"]

[[ports]]
name = "b"
backend = "af_packet"
interface = "rb"
mode = "access"
networks = ["nb"]
"#
    )
}

/// `cnfwd run` in the router namespace with `env`; killed on drop.
struct Run {
    child: Option<Child>,
    socket: PathBuf,
    stats: PathBuf,
    log: PathBuf,
}

impl Run {
    fn start(lab: &Lab, config: &str, env: &[(&str, &Path)], stall: Option<&str>) -> Run {
        let cfg = lab.file("cnfwd.toml", config);
        let socket = lab.dir.join("cnfwd.sock");
        let stats = lab.dir.join("stats.json");
        let log = lab.dir.join("cnfwd.log");
        let logf = File::create(&log).expect("log file");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &lab.router])
            .arg(env!("CARGO_BIN_EXE_cnfwd"))
            .args(["run", "--stats-interval", "0", "--config"])
            .arg(&cfg)
            .arg("--stats-json")
            .arg(&stats)
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(logf.try_clone().expect("log file"))
            .stderr(logf);
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(s) = stall {
            cmd.env("CNFWD_TEST_STALL_WORKER", s);
        }
        let child = cmd.spawn().expect("start cnfwd");
        let run = Run {
            child: Some(child),
            socket,
            stats,
            log,
        };
        let end = Instant::now() + Duration::from_secs(20);
        while !run.socket.exists() {
            assert!(
                Instant::now() < end,
                "cnfwd never served its socket:\n{}",
                run.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        run
    }

    fn call(&self, cmd: &str) -> Value {
        let mut c = common::connect_when_up(&self.socket, Duration::from_secs(10));
        c.call(cmd, None)
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGINT, then the stats JSON.
    fn stop(mut self) -> Value {
        let mut child = self.child.take().expect("running");
        // SAFETY: a plain kill(2) of our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let status = child.wait().expect("wait");
        assert!(status.success(), "{status}:\n{}", self.log_text());
        serde_json::from_str(&std::fs::read_to_string(&self.stats).expect("stats JSON"))
            .expect("stats JSON parses")
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn lab_with_hosts(name: &str) -> (Lab, Vec<Host>) {
    let mut lab = Lab::new(name);
    let mut hosts = Vec::new();
    for k in 0..2 {
        let h = lab.host(
            &format!("h{k}"),
            HOST_MAC[k],
            ["ra", "rb"][k],
            ROUTER_MAC[k],
            1500,
        );
        common::hosts::sysctl(&h.ns, "net/ipv6/conf/eth0/disable_ipv6", "1");
        h.address(&format!("{}/24", HOST_ADDR[k]), GATEWAY[k]);
        hosts.push(h);
    }
    (lab, hosts)
}

/// The replies of a real DPDK 22.11 application (testpmd), by command.
fn dpdk_reference() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/dpdk-telemetry/testpmd-22.11-net_null.txt"
    );
    std::fs::read_to_string(path)
        .expect("reference session")
        .lines()
        .map(|l| serde_json::from_str(l).expect("reference line is JSON"))
        .collect()
}

fn reference_reply(cmd: &str) -> Value {
    dpdk_reference()
        .into_iter()
        .find_map(|v| v.get(cmd).filter(|x| !x.is_null()).cloned())
        .unwrap_or_else(|| panic!("no {cmd} in the reference"))
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

/// Runs the stock `dpdk-telemetry.py -f PREFIX` with `commands` on its
/// standard input (non-interactive: one JSON reply per line).
fn telemetry_py(runtime: &Path, prefix: &str, commands: &[&str]) -> Vec<Value> {
    let mut child = Command::new("python3")
        .arg("/usr/bin/dpdk-telemetry.py")
        .args(["-f", prefix])
        .env("RUNTIME_DIRECTORY", runtime)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dpdk-telemetry.py");
    let mut input = commands.join("\n");
    input.push_str("\nquit\n");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write commands");
    let out = child.wait_with_output().expect("dpdk-telemetry.py output");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "dpdk-telemetry.py: {}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let replies: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(
        replies.len(),
        commands.len(),
        "one reply per command:\n{text}"
    );
    replies
}

/// `count` pings from `from` to `dst` every `interval` seconds; replies.
fn pings(from: &Host, dst: &str, count: u32, interval: &str) -> u32 {
    let r = from.run(
        &[
            "ping",
            "-n",
            "-q",
            "-c",
            &count.to_string(),
            "-i",
            interval,
            "-W",
            "1",
            dst,
        ],
        Duration::from_secs(60),
    );
    r.stdout
        .lines()
        .find_map(|l| {
            let (_, rest) = l.split_once(" transmitted, ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0)
}

/// `GET /metrics` inside the router namespace.
fn metrics(lab: &Lab) -> String {
    in_netns(&lab.router, || {
        let mut s = std::net::TcpStream::connect(METRICS).expect("metrics listener");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).expect("metrics answer");
        text
    })
}

/// The value of the series `series` (name with labels, exactly as printed).
fn metric(text: &str, series: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (name, v) = l.rsplit_once(' ')?;
        (name == series).then(|| v.parse().ok()).flatten()
    })
}

#[test]
fn dpdk_telemetry_py_reads_dpdk_standard_endpoints_from_an_af_packet_run() {
    if !can_run(
        "dpdk_telemetry_py_reads_dpdk_standard_endpoints_from_an_af_packet_run",
        &["ping", "python3"],
    ) || !Path::new("/usr/bin/dpdk-telemetry.py").exists()
    {
        return;
    }
    let (lab, hosts) = lab_with_hosts("telemetry");
    let prefix = format!("cnfwd-test-{}", std::process::id());
    let runtime = lab.dir.join("runtime");
    let run = Run::start(
        &lab,
        &config(&prefix),
        &[("RUNTIME_DIRECTORY", &runtime)],
        None,
    );
    assert_eq!(pings(&hosts[0], HOST_ADDR[1], 5, "0.05"), 5, "h0 -> h1");
    // Counters reach the control thread within a publish interval.
    std::thread::sleep(Duration::from_millis(300));

    let cmds = [
        "/ethdev/list",
        "/ethdev/stats,0",
        "/ethdev/xstats,0",
        "/ethdev/info,0",
        "/ethdev/link_status,1",
        "/eal/params",
        "/eal/app_params",
        "/ethdev/stats,7",
        "/ethdev/stats,x",
        "/routes,red",
        "/",
    ];
    let r = telemetry_py(&runtime, &prefix, &cmds);
    let reply = |i: usize| -> &Value { &r[i][cmds[i].split(',').next().unwrap()] };
    assert_eq!(reply(0), &serde_json::json!([0, 1]));

    // Exactly DPDK 22.11's fields.
    let stats = reply(1);
    assert_eq!(
        keys(stats),
        keys(&reference_reply("/ethdev/stats")),
        "{stats}"
    );
    assert_eq!(stats["q_ipackets"].as_array().unwrap().len(), 16);
    let info = reply(3);
    assert_eq!(keys(info), keys(&reference_reply("/ethdev/info")), "{info}");
    let link = reply(4);
    assert_eq!(
        keys(link),
        keys(&reference_reply("/ethdev/link_status")),
        "{link}"
    );
    assert_eq!(link["status"], "UP");
    assert_eq!(link["duplex"], "full-duplex");
    let xstats = reply(2);
    let reference_x = reference_reply("/ethdev/xstats");
    let missing: Vec<_> = keys(&reference_x)
        .difference(&keys(xstats))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "xstats lack DPDK's {missing:?}: {xstats}"
    );

    // Values: cnfwd's own counters of port a (interface ra). The device
    // counters are read at each link check, the first a second after start.
    let end = Instant::now() + Duration::from_secs(3);
    while run.call("/ports")[0].get("kernel_drops").is_none() {
        assert!(
            Instant::now() < end,
            "no kernel_drops in /ports: {}",
            run.call("/ports")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ports = run.call("/ports");
    let a = &ports[0];
    assert_eq!(a["name"], "a");
    assert!(a["rx_packets"].as_u64().unwrap() >= 5, "{a}");
    assert_eq!(stats["ipackets"], a["rx_packets"], "{stats} vs {a}");
    assert_eq!(stats["opackets"], a["tx_packets"], "{stats} vs {a}");
    assert_eq!(stats["ibytes"], a["rx_bytes"], "{stats} vs {a}");
    assert_eq!(
        stats["q_ipackets"][0], stats["ipackets"],
        "one worker: queue 0"
    );
    assert_eq!(xstats["rx_good_packets"], stats["ipackets"]);
    assert_eq!(xstats["rx_q0_packets"], stats["ipackets"]);
    assert!(
        xstats.get("cnfwd_drop_martian_source").is_some(),
        "{xstats}"
    );
    assert_eq!(info["name"], "ra");
    assert_eq!(info["mac_addr"], "02:CF:00:00:2A:01");
    assert_eq!(info["nb_rx_queues"], 1);
    assert_eq!(info["mtu"], 1500);
    assert_eq!(a["kernel_drops"], 0, "the device counter is shown: {a}");

    assert_eq!(
        reply(5),
        &serde_json::json!(["cnfwd"]),
        "no EAL in an AF_PACKET run"
    );
    let app = reply(6).as_array().expect("app params").clone();
    assert_eq!(app.first(), Some(&Value::from("run")), "{app:?}");
    assert!(app.contains(&Value::from("--stats-json")), "{app:?}");

    // Unknown or malformed ids: an error reply saying why (DPDK: null).
    for i in [7, 8] {
        let e = reply(i)["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{}", r[i]));
        assert!(e.contains("port"), "{e}");
    }
    // A bare VRF name, as DPDK-style plain parameters (a page of routes).
    let routes = reply(9)["routes"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r[9]));
    assert!(
        routes
            .iter()
            .any(|x| x["prefix"] == "192.0.2.0/24" && x["vrf"] == "red"),
        "{routes:?}"
    );
    let listed = reply(10).as_array().expect("command list");
    for c in ["/ethdev/stats", "/eal/app_params", "/routes"] {
        assert!(listed.contains(&Value::from(c)), "{c} not in {listed:?}");
    }

    // The banner: once, before anything was forwarded.
    let log = run.log_text();
    for line in [
        "INFO cnfwd: cnfwd 0.1.0 starting: 2 port(s), 1 worker(s) on core(s) ",
        "port a (id 0): af_packet ra, MAC 02:cf:00:00:2a:01, link up",
        ", MTU 1500, 1 RX/TX queue(s) port=a port_id=0 backend=\"af_packet\" device=ra",
        "port b (id 1): af_packet rb, MAC 02:cf:00:00:2b:01, link up",
        format!("management socket {}", run.socket.display()).as_str(),
        format!(
            "management socket {}",
            runtime
                .join("dpdk")
                .join(&prefix)
                .join("dpdk_telemetry.v2")
                .display()
        )
        .as_str(),
        "metrics on http://127.0.0.1:9464/metrics",
    ] {
        assert_eq!(log.matches(line).count(), 1, "{line:?} once in:\n{log}");
    }
    let stats = run.stop();
    assert_eq!(
        stats["ports"]["a"]["device"]["kernel_drops"], 0,
        "{}",
        stats["ports"]["a"]
    );
    println!("dpdk-telemetry.py /ethdev/stats,0: {}", r[1]);
    println!(
        "banner:\n{}",
        log.lines().take(6).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn kernel_ring_drops_and_process_facts_reach_ports_stats_ethdev_and_metrics() {
    if !can_run(
        "kernel_ring_drops_and_process_facts_reach_ports_stats_ethdev_and_metrics",
        &["ping"],
    ) {
        return;
    }
    let (lab, hosts) = lab_with_hosts("kdrops");
    let runtime = lab.dir.join("runtime");
    // The only worker stops polling for 1.5 s, 0.5 s after start: its
    // one-block ring fills and the kernel drops the rest.
    let run = Run::start(
        &lab,
        &config("cnfwd-kdrops"),
        &[("RUNTIME_DIRECTORY", &runtime)],
        Some("0:500:1500"),
    );
    let _ = pings(&hosts[0], HOST_ADDR[1], 400, "0.005");
    // Read at the next link check (every second).
    let end = Instant::now() + Duration::from_secs(5);
    let dropped = loop {
        let n = run.call("/ports")[0]["kernel_drops"].as_u64().unwrap_or(0);
        if n > 0 || Instant::now() > end {
            break n;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        dropped > 0,
        "no kernel drops on a: {}\n{}",
        run.call("/ports"),
        run.log_text()
    );
    let mut c = common::connect_when_up(&run.socket, Duration::from_secs(5));
    // `/ethdev/stats` without a port id is an error; with one, imissed.
    let e = c.request("/ethdev/stats").expect("socket").unwrap_err();
    assert!(e.contains("expected a port id"), "{e}");
    let st = c
        .request("/ethdev/stats,0")
        .expect("socket")
        .expect("reply");
    // A state change and a refused one: each logged once, with the peer.
    let add = r#"/route/add,{"vrf":"red","prefix":"198.51.100.0/24","next_hop":"10.2.0.10"}"#;
    c.request(add).expect("socket").expect("route added");
    c.request(add).expect("socket").expect_err("added twice");
    assert!(st["imissed"].as_u64().unwrap() >= dropped, "{st}");
    drop(c);

    // Turn a client away: two connected (max_clients = 2), a third.
    let held: Vec<_> = (0..2)
        .map(|_| common::connect_when_up(&run.socket, Duration::from_secs(5)))
        .collect();
    let turned_away = Client::connect(&run.socket, Duration::from_secs(5))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(turned_away.contains("too many clients"), "{turned_away:?}");
    drop(held);
    std::thread::sleep(Duration::from_millis(1200));

    let text = metrics(&lab);
    assert_eq!(
        metric(&text, r#"cnfwd_build_info{version="0.1.0"}"#),
        Some(1),
        "{text}"
    );
    assert!(metric(&text, "cnfwd_uptime_seconds").is_some(), "{text}");
    let vrfs = run.call("/vrfs");
    assert_eq!(
        metric(&text, r#"cnfwd_vrf_routes{vrf="red",family="ipv4"}"#),
        vrfs[0]["ipv4_routes"].as_u64(),
        "{text}"
    );
    assert!(
        metric(
            &text,
            r#"cnfwd_port_device_total{port="a",counter="kernel_drops"}"#
        )
        .is_some_and(|n| n >= dropped),
        "{text}"
    );
    assert!(
        metric(&text, r#"cnfwd_port_rx_missed_total{port="a"}"#).is_some_and(|n| n >= dropped),
        "{text}"
    );
    assert_eq!(
        metric(&text, "cnfwd_control_rejected_clients_total"),
        Some(1),
        "{text}"
    );
    let log = run.log_text();
    assert!(log.contains("control: client turned away"), "{log}");
    assert_eq!(
        log.matches("control: /route/add done for uid 0").count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches("control: /route/add failed for uid 0").count(),
        1,
        "{log}"
    );
    assert!(log.contains("already has a route"), "{log}");
    let stats = run.stop();
    let device = &stats["ports"]["a"]["device"];
    assert!(
        device["kernel_drops"].as_u64().unwrap() >= dropped,
        "{device}"
    );
    println!("kernel drops on a: {dropped}; final {device}");
    for l in text.lines().filter(|l| {
        l.starts_with("cnfwd_build_info")
            || l.starts_with("cnfwd_uptime")
            || l.starts_with("cnfwd_vrf_routes")
            || l.starts_with("cnfwd_port_device_total")
            || l.starts_with("cnfwd_port_rx_missed")
            || l.starts_with("cnfwd_control_rejected")
    }) {
        println!("{l}");
    }
}

fn cnfwd(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cnfwd"));
    c.args(args).env_remove("RUST_LOG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run cnfwd")
}

const NO_PORTS: &str = "[[l3_isolation_domains]]\nname = \"red\"\n";

#[test]
fn an_empty_configuration_is_warned_by_check_and_refused_by_run() {
    let dir = TempDir::new("obs-empty");
    let cfg = dir.0.join("empty.toml");
    std::fs::write(&cfg, NO_PORTS).unwrap();
    let cfg = cfg.to_str().unwrap();
    let out = cnfwd(&["check", "--config", cfg], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(" WARN cnfwd: ") && err.contains("has no ports"),
        "{err}"
    );
    let out = cnfwd(&["run", "--config", cfg], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("ERROR cnfwd: ") && err.contains("not starting"),
        "{err}"
    );
    // Even with --quiet: a refusal is an error.
    let out = cnfwd(&["run", "--quiet", "--config", cfg], &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not starting"));
}

#[test]
fn log_lines_are_json_with_fields_and_the_level_filters_them() {
    let dir = TempDir::new("obs-json");
    let cfg = dir.0.join("empty.toml");
    std::fs::write(&cfg, NO_PORTS).unwrap();
    let cfg = cfg.to_str().unwrap();
    let out = cnfwd(&["--log-format", "json", "check", "--config", cfg], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    let line: Value = serde_json::from_str(err.lines().next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(line["level"], "WARN", "{line}");
    assert_eq!(line["config"], cfg, "the event's fields: {line}");
    assert!(
        line["message"].as_str().unwrap().contains("no ports"),
        "{line}"
    );
    assert!(line["timestamp"].is_string(), "{line}");
    // --log-level error hides the warning; RUST_LOG does too, and the
    // flag wins over it.
    let out = cnfwd(&["check", "--log-level", "error", "--config", cfg], &[]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let out = cnfwd(&["check", "--config", cfg], &[("RUST_LOG", "error")]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let out = cnfwd(
        &["check", "--log-level", "warn", "--config", cfg],
        &[("RUST_LOG", "error")],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ports"));
    // A filter that does not parse: exit 2 naming it.
    let out = cnfwd(&["check", "--log-level", "info,=[", "--config", cfg], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log-level \"info,=[\""));
}

/// DPDK ports answer `/ethdev/*` from the device itself (two `net_null`
/// vdevs that receive nothing), through the stock `dpdk-telemetry.py`.
#[cfg(feature = "dpdk")]
#[test]
fn dpdk_ports_answer_ethdev_telemetry_from_the_device() {
    if !Path::new("/usr/bin/dpdk-telemetry.py").exists() {
        println!("skipped: no /usr/bin/dpdk-telemetry.py");
        return;
    }
    let dir = TempDir::new("obs-dpdk");
    let prefix = format!("cnfwd-obs-dpdk-{}", std::process::id());
    let runtime = dir.0.join("runtime");
    let eal: Vec<String> = common::dpdk::eal_args(
        "obs",
        &["--vdev=net_null0,no-rx=1", "--vdev=net_null1,no-rx=1"],
    );
    let eal = serde_json::to_string(&eal).unwrap();
    let socket = dir.0.join("cnfwd.sock");
    let cfg = format!(
        r#"
[dpdk]
eal_args = {eal}

[engine]
workers = 1

[control]
dpdk_telemetry_prefix = "{prefix}"

[[l3_isolation_domains]]
name = "red"

[[l3_networks]]
name = "na"
vlan = 101
l3_isolation_domain = "red"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"

[[l3_networks]]
name = "nb"
vlan = 102
l3_isolation_domain = "red"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.2.0.0/24"

[[ports]]
name = "a"
backend = "dpdk"
device = "net_null0"
mode = "access"
networks = ["na"]

[[ports]]
name = "b"
backend = "dpdk"
device = "net_null1"
mode = "access"
networks = ["nb"]
"#
    );
    let cfg_path = dir.0.join("dpdk.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let stats_path = dir.0.join("stats.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cnfwd"))
        .args([
            "run",
            "--stats-interval",
            "0",
            "--duration",
            "6",
            "--config",
        ])
        .arg(&cfg_path)
        .arg("--socket")
        .arg(&socket)
        .arg("--stats-json")
        .arg(&stats_path)
        .env("RUNTIME_DIRECTORY", &runtime)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cnfwd");
    let end = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        if let Ok(Some(s)) = child.try_wait() {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("cnfwd ended ({s}):\n{err}");
        }
        assert!(Instant::now() < end, "no socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The first link check (a second in) reads the device counters.
    std::thread::sleep(Duration::from_millis(1500));
    let cmds = [
        "/ethdev/list",
        "/ethdev/stats,1",
        "/ethdev/info,1",
        "/ethdev/link_status,0",
        "/eal/params",
        "/ethdev/xstats,0",
    ];
    let r = telemetry_py(&runtime, &prefix, &cmds);
    let reply = |i: usize| -> &Value { &r[i][cmds[i].split(',').next().unwrap()] };
    assert_eq!(reply(0), &serde_json::json!([0, 1]));
    assert_eq!(
        keys(reply(1)),
        keys(&reference_reply("/ethdev/stats")),
        "{}",
        r[1]
    );
    let info = reply(2);
    assert_eq!(keys(info), keys(&reference_reply("/ethdev/info")), "{info}");
    // The device's own facts, as DPDK's testpmd showed them for net_null.
    assert_eq!(info["name"], "net_null1");
    assert_eq!(
        info["dev_flags"],
        reference_reply("/ethdev/info")["dev_flags"]
    );
    assert!(info["rx_mbuf_size_min"].as_u64().unwrap() >= 2048, "{info}");
    assert_eq!(info["port_id"], 1);
    assert_eq!(reply(3), &reference_reply("/ethdev/link_status"));
    let params = reply(4).as_array().unwrap();
    assert_eq!(params[0], "cnfwd");
    assert!(
        params.contains(&Value::from("--vdev=net_null0,no-rx=1")),
        "{params:?}"
    );
    let x = reply(5);
    for k in keys(&reference_reply("/ethdev/xstats")) {
        assert!(x.get(&k).is_some(), "{k} not in {x}");
    }
    // The device counters in /ports (read from rte_eth_stats).
    let mut c = common::connect_when_up(&socket, Duration::from_secs(5));
    let ports = c.request("/ports").expect("socket").expect("ports");
    for k in ["imissed", "rx_nombuf", "ierrors", "oerrors"] {
        assert_eq!(ports[0][k], 0, "{k}: {}", ports[0]);
    }
    assert!(ports[0].get("kernel_drops").is_none(), "{}", ports[0]);
    drop(c);
    let out = child.wait_with_output().expect("cnfwd ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let stats: Value =
        serde_json::from_str(&std::fs::read_to_string(&stats_path).unwrap()).unwrap();
    assert_eq!(stats["ports"]["b"]["device"]["rx_nombuf"], 0, "{stats}");
    assert!(err.contains("port b (id 1): dpdk net_null1, MAC "), "{err}");
    println!("DPDK /ethdev/info,1: {}", r[2]);
}

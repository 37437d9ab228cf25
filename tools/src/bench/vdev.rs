//! `cnfwd-bench compare --dpdk`: cnfwd (DPDK backend), `dpdk-testpmd` (io,
//! macswap) and DPDK's `l3fwd` (LPM) on DPDK `net_memif` vdev pairs, same
//! traffic, trials alternating between them (built with the `dpdk`
//! feature).
//!
//! Topology, per forwarder `i` (sockets in `/run/cnfwd-bench-<pid>/`,
//! removed at the end):
//!
//! ```text
//!  cnfwd-bench (EAL, lcore on --bench-cpu)          forwarder i (own EAL)
//!   gen: net_memif<2i>   client --f<i>-in.sock--  server net_memif0 (in)
//!   rx:  net_memif<2i+1> client --f<i>-out.sock-- server net_memif1 (out)
//!        02:fe:00:00:00:b0 / :b1                  02:fe:00:00:00:f0 / :f1
//! ```
//!
//! Every forwarder runs for the whole comparison, each with its own pair of
//! memif sockets and its own ports in cnfwd-bench; it busy-polls, so it is
//! stopped (SIGSTOP) while the others' trials run and continued (SIGCONT)
//! for its own, as `compare --veth` does. That keeps start-up (EAL, tables,
//! memif connection) out of the trials and lets trials alternate.
//!
//! - cnfwd: `cnfwd run`, DPDK backend (`[dpdk] eal_args`: `--no-huge
//!   --no-pci -l <bench-cpu>`, its own `--file-prefix`), two access ports
//!   on the memif servers, one VRF routing the profile's destinations (its
//!   prefix, or every route of its route table) via 10.2.0.2 (a static
//!   neighbour: cnfwd-bench's receive port), one worker on `--fwd-cpu`.
//! - testpmd-io / testpmd-macswap: `dpdk-testpmd --port-topology=paired`,
//!   main lcore on the bench CPU (printing statistics), forwarding lcore
//!   on the forwarder CPU: the L2 baselines (no routing).
//! - l3fwd: DPDK's `l3fwd` example in LPM mode (`--lookup=lpm
//!   --parse-ptype -P`) with the same routes (next hop port 1, IPv6: one
//!   route, l3fwd wants a file), `--eth-dest` set to cnfwd-bench's receive
//!   port, main and only lcore on the forwarder CPU (l3fwd opens one TX
//!   queue per lcore). Built by `scripts/bench-build-l3fwd.sh`.
//!
//! memif needs EAL's multi-process channel (no `--no-shconf`), so every
//! process gets its own `--file-prefix`, and its `/var/run/dpdk/<prefix>`
//! is removed afterwards. Before the search, each forwarder must pass
//! frames through (a warm-up of short trials, up to
//! [`WARMUP_TIMEOUT`]); one that does not, or whose binary is missing,
//! gets an error row (saying what to install) and the others still run.
//! The receiver takes any MAC address, so each forwarder's rewrite (or
//! none: testpmd io) is accepted; frames are matched by their stamp.
//!
//! The profile must be untagged IPv4 from 10.1.0.0/24 (as on veth).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dataplane::io::dpdk::{DpdkBackend, Eal};
use ipnet::IpNet;

use super::compare::{find_testpmd, mac_text};
use super::process::ForwarderProcess;
use super::profile::{Destinations, IpVersion, Profile};
use super::report::{ForwarderRun, SizeRun};
use super::run::{progress_text, trial_with_retries};
use super::search::Search;
use super::traffic::Traffic;
use super::trial::{run_trial, TrialSpec};

/// The forwarders `compare --dpdk` knows.
pub const DPDK_FORWARDERS: [&str; 4] = ["cnfwd", "testpmd-io", "testpmd-macswap", "l3fwd"];

/// How long a forwarder may take from its ports' connection to forwarding.
pub const WARMUP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long cnfwd-bench's ports may pass nothing before they are opened
/// again (see [`connect`]).
const RECONNECT_AFTER: Duration = Duration::from_secs(3);

/// How long a forwarder may take to create its memif sockets.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// MAC of the forwarders' in port (frames are sent to it).
const FWD_IN_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 0xf0];
/// MAC of the forwarders' out port.
const FWD_OUT_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 0xf1];
/// MAC of cnfwd-bench's generator ports.
const GEN_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 0xb0];
/// MAC of cnfwd-bench's receive ports (the next hop 10.2.0.2).
const SINK_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 0xb1];

/// Options of the DPDK vdev comparison.
#[derive(Debug, Clone)]
pub struct DpdkOptions {
    /// Forwarders to compare, in this order.
    pub forwarders: Vec<String>,
    /// The `cnfwd` binary (built with `--features dpdk`).
    pub cnfwd: PathBuf,
    /// CPU of the forwarders' forwarding lcore / worker.
    pub fwd_cpu: usize,
    /// CPU of cnfwd-bench itself (and the forwarders' main lcores).
    pub bench_cpu: usize,
}

/// Where `l3fwd` is: `$L3FWD`, else `../l3fwd/l3fwd` beside this program's
/// directory (where `scripts/bench-build-l3fwd.sh` puts it:
/// `target/l3fwd/l3fwd` for `target/release/cnfwd-bench`), else
/// `dpdk-l3fwd` on `$PATH`.
pub fn find_l3fwd() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("L3FWD") {
        return Some(PathBuf::from(p));
    }
    let built = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent()?.parent().map(|t| t.join("l3fwd/l3fwd")))
        .filter(|p| p.is_file());
    built.or_else(|| {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("dpdk-l3fwd"))
                .find(|p| p.is_file())
        })
    })
}

/// Checks that `p` can run through all the forwarders; returns the
/// prefixes to route. The error names the profile field.
pub fn check_profile(p: &Profile) -> Result<Vec<IpNet>, String> {
    if p.vlan.is_some() {
        return Err(
            "frames.vlan: the DPDK comparison is untagged (l3fwd does not take 802.1Q)".into(),
        );
    }
    if p.ip != IpVersion::Ipv4 {
        return Err("flows.ip: the DPDK comparison routes IPv4".into());
    }
    let gen_net: IpNet = "10.1.0.0/24".parse().expect("literal");
    let sink_net: IpNet = "10.2.0.0/24".parse().expect("literal");
    if !gen_net.contains(&p.src)
        || p.src.addr() == "10.1.0.1".parse::<std::net::IpAddr>().expect("literal")
    {
        return Err(format!(
            "flows.src: {} must be inside 10.1.0.0/24 (not .1, the gateway)",
            p.src
        ));
    }
    let (field, nets) = match &p.dst {
        Destinations::Prefix(n) => ("flows.dst", vec![*n]),
        Destinations::Routes(r) => ("flows.routes", r.clone()),
    };
    for n in &nets {
        for own in [gen_net, sink_net] {
            if n.contains(&own) || own.contains(n) {
                return Err(format!(
                    "{field}: {n} overlaps the comparison's own network {own}"
                ));
            }
        }
    }
    Ok(nets)
}

/// One forwarder under test: its process and cnfwd-bench's two ports to it.
struct Side<'e> {
    name: String,
    description: String,
    tx: DpdkBackend<'e>,
    rx: DpdkBackend<'e>,
    /// Declared after the ports: they are closed (memif disconnected)
    /// before the process is stopped.
    process: ForwarderProcess,
    log: PathBuf,
    searches: Vec<Search>,
    error: Option<String>,
}

/// A forwarder started, its memif sockets there, ports not open yet.
struct Started {
    name: String,
    description: String,
    process: ForwarderProcess,
    log: PathBuf,
    sockets: [PathBuf; 2],
}

fn memif(n: usize, role: &str, socket: &Path, mac: [u8; 6]) -> String {
    format!(
        "net_memif{n},role={role},socket={},socket-abstract=no,mac={}",
        socket.display(),
        mac_text(mac)
    )
}

fn cnfwd_config(
    routes: &[IpNet],
    fwd_cpu: usize,
    bench_cpu: usize,
    prefix: &str,
    in_dev: &str,
    out_dev: &str,
) -> String {
    let routes: Vec<String> = routes
        .iter()
        .map(|r| format!("  {{ prefix = \"{r}\", next_hop = \"10.2.0.2\" }},"))
        .collect();
    format!(
        r#"# cnfwd-bench compare --dpdk: two untagged access networks routed in one VRF.
[engine]
workers = 1
cores = [{fwd_cpu}]

[dpdk]
eal_args = ["--no-huge", "-m", "512", "--no-pci", "-l", "{bench_cpu}", "--file-prefix", "{prefix}"]

[[l3_isolation_domains]]
name = "bench"
static_routes = [
{routes}
]

{networks}
[[ports]]
name = "gen"
backend = "dpdk"
device = "{in_dev}"
mac = "{a}"
mode = "access"
networks = ["gen-net"]

[[ports]]
name = "sink"
backend = "dpdk"
device = "{out_dev}"
mac = "{b}"
mode = "access"
networks = ["sink-net"]
"#,
        routes = routes.join("\n"),
        networks = super::compare::routed_networks(SINK_MAC),
        a = mac_text(FWD_IN_MAC),
        b = mac_text(FWD_OUT_MAC),
    )
}

/// A DPDK child forwarder's EAL arguments up to `--`: its `lcores`
/// arguments, no hugepages or PCI, its own file prefix (memif needs the
/// multi-process channel, so no `--no-shconf`), and its memif pair.
fn child_eal(lcores: Vec<String>, prefix: &str, in_dev: &str, out_dev: &str) -> Vec<String> {
    let mut args = lcores;
    args.extend([
        "--no-huge".into(),
        "-m".into(),
        "512".into(),
        "--no-pci".into(),
        "--file-prefix".into(),
        prefix.to_owned(),
        format!("--vdev={in_dev}"),
        format!("--vdev={out_dev}"),
        "--".into(),
    ]);
    args
}

/// Opens one DPDK port on `device` (in cnfwd-bench's EAL).
fn open_port<'e>(eal: &'e Eal, name: &str, device: &str) -> Result<DpdkBackend<'e>, String> {
    let text = format!(
        "[dpdk]\neal_args = []\nmbufs = 16384\n\n[[ports]]\nname = \"{name}\"\nbackend = \"dpdk\"\n\
         device = \"{device}\"\nmode = \"access\"\nnetworks = [\"n\"]\n\n\
         [[l2_networks]]\nname = \"n\"\nvlan = 1\n"
    );
    let cfg = cnfwd_config::parse(&text, "<cnfwd-bench>").map_err(|e| format!("{device}: {e}"))?;
    let r = cnfwd_config::resolve(&cfg).map_err(|e| format!("{device}: {e:?}"))?;
    DpdkBackend::open(&r, eal, 1).map_err(|e| e.to_string())
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains('\u{1b}'))
        .collect();
    let from = lines.len().saturating_sub(5);
    lines[from..].join(" | ")
}

/// The EAL arguments of cnfwd-bench itself for the run with process id
/// `pid`, then those of `$CNFWD_BENCH_EAL_ARGS` (split at whitespace; e.g.
/// `--log-level=pmd.net.memif:debug`), else `--log-level
/// pmd.net.memif:warning` (memif logs every connection at info level).
pub fn bench_eal_args(bench_cpu: usize, pid: u32) -> Vec<String> {
    let extra = std::env::var("CNFWD_BENCH_EAL_ARGS").unwrap_or_default();
    [
        "--no-huge",
        "-m",
        "1024",
        "--no-pci",
        "-l",
        &bench_cpu.to_string(),
        "--file-prefix",
        &format!("cnfwd-bench-{pid}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(if extra.is_empty() {
        vec!["--log-level".to_owned(), "pmd.net.memif:warning".to_owned()]
    } else {
        extra.split_whitespace().map(str::to_owned).collect()
    })
    .collect()
}

/// Starts forwarder `i` (`name`): returns once its memif sockets exist.
fn start(
    i: usize,
    name: &str,
    routes: &[IpNet],
    opts: &DpdkOptions,
    sockdir: &Path,
    scratch: &Path,
) -> Result<Started, String> {
    let sockets = [
        sockdir.join(format!("f{i}-in.sock")),
        sockdir.join(format!("f{i}-out.sock")),
    ];
    let in_dev = memif(0, "server", &sockets[0], FWD_IN_MAC);
    let out_dev = memif(1, "server", &sockets[1], FWD_OUT_MAC);
    let prefix = format!("cnfwd-bench-{}-f{i}", std::process::id());
    let logp = scratch.join(format!("{name}-{i}.log"));
    let log = std::fs::File::create(&logp).map_err(|e| format!("{}: {e}", logp.display()))?;
    let stdout = log.try_clone().map_err(|e| e.to_string())?;
    let (fwd, bench) = (opts.fwd_cpu.to_string(), opts.bench_cpu.to_string());
    let (program, args, description): (PathBuf, Vec<String>, String) = match name {
        "cnfwd" => {
            if !opts.cnfwd.is_file() {
                return Err(format!(
                    "{} not found: build it with `cargo build --release -p dataplane --features dpdk --bin cnfwd` (or give --cnfwd)",
                    opts.cnfwd.display()
                ));
            }
            let cfg = scratch.join(format!("cnfwd-{i}.toml"));
            std::fs::write(
                &cfg,
                cnfwd_config(
                    routes,
                    opts.fwd_cpu,
                    opts.bench_cpu,
                    &prefix,
                    &in_dev,
                    &out_dev,
                ),
            )
            .map_err(|e| format!("{}: {e}", cfg.display()))?;
            let args = vec![
                "run".into(),
                "--config".into(),
                cfg.display().to_string(),
                "--socket".into(),
                scratch
                    .join(format!("cnfwd-{i}.sock"))
                    .display()
                    .to_string(),
                "--stats-interval".into(),
                "0".into(),
                "--quiet".into(),
            ];
            (
                opts.cnfwd.clone(),
                args,
                format!(
                    "cnfwd run, DPDK backend, full L3 path ({} route(s) via 10.2.0.2), one worker on CPU {fwd}",
                    routes.len()
                ),
            )
        }
        "testpmd-io" | "testpmd-macswap" => {
            let mode = name.trim_start_matches("testpmd-");
            let testpmd = find_testpmd()
                .filter(|p| p.is_file())
                .ok_or_else(|| {
                    format!(
                        "dpdk-testpmd not found{}: install it (Debian/Ubuntu: apt-get install dpdk) or set TESTPMD",
                        std::env::var("TESTPMD").map(|t| format!(" (TESTPMD={t})")).unwrap_or_default()
                    )
                })?;
            let mut args = child_eal(
                vec![
                    "-l".into(),
                    format!("{bench},{fwd}"),
                    "--main-lcore".into(),
                    bench.clone(),
                ],
                &prefix,
                &in_dev,
                &out_dev,
            );
            args.extend([
                format!("--forward-mode={mode}"),
                "--port-topology=paired".into(),
                "--auto-start".into(),
                "--total-num-mbufs=16384".into(),
                "--stats-period".into(),
                "1".into(),
            ]);
            (
                testpmd,
                args,
                format!(
                    "dpdk-testpmd --forward-mode={mode} --port-topology=paired, forwarding lcore on CPU {fwd} (L2: no routing)"
                ),
            )
        }
        "l3fwd" => {
            let l3fwd = find_l3fwd().filter(|p| p.is_file()).ok_or_else(|| {
                format!(
                    "l3fwd not found{}: build it with scripts/bench-build-l3fwd.sh (needs dpdk-doc libdpdk-dev pkg-config make gcc: apt-get install dpdk-doc libdpdk-dev pkg-config build-essential) or set L3FWD",
                    std::env::var("L3FWD").map(|t| format!(" (L3FWD={t})")).unwrap_or_default()
                )
            })?;
            // l3fwd's rule format (lpm_route_parse.c): "R<addr>/<len> <port>".
            let v4 = scratch.join(format!("l3fwd-{i}-v4.rules"));
            let v6 = scratch.join(format!("l3fwd-{i}-v6.rules"));
            let rules: String = routes.iter().map(|r| format!("R{r} 1\n")).collect();
            std::fs::write(&v4, rules).map_err(|e| format!("{}: {e}", v4.display()))?;
            // l3fwd --lookup=lpm wants an IPv6 rule file too.
            std::fs::write(&v6, "R2001:db8::/32 0\n")
                .map_err(|e| format!("{}: {e}", v6.display()))?;
            let mut args = child_eal(vec!["-l".into(), fwd.clone()], &prefix, &in_dev, &out_dev);
            args.extend([
                "-p".into(),
                "0x3".into(),
                "-P".into(),
                format!("--config=(0,0,{fwd}),(1,0,{fwd})"),
                "--lookup=lpm".into(),
                "--parse-ptype".into(),
                format!("--rule_ipv4={}", v4.display()),
                format!("--rule_ipv6={}", v6.display()),
                format!("--eth-dest=1,{}", mac_text(SINK_MAC)),
            ]);
            (
                l3fwd,
                args,
                format!(
                    "DPDK l3fwd --lookup=lpm ({} route(s) to port 1), main and only lcore on CPU {fwd}",
                    routes.len()
                ),
            )
        }
        other => {
            return Err(format!(
                "unknown forwarder {other:?} for --dpdk (known: {})",
                DPDK_FORWARDERS.join(", ")
            ))
        }
    };
    let child = spawn_unpinned(
        Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log),
    )
    .map_err(|e| format!("{}: {e}", program.display()))?;
    let mut process = ForwarderProcess::new(
        child,
        Some(PathBuf::from(format!("/var/run/dpdk/{prefix}"))),
    );
    let t0 = Instant::now();
    while !sockets.iter().all(|s| s.exists()) {
        if let Some(st) = process.exited() {
            return Err(format!(
                "{name} exited at start ({st}): {}",
                log_tail(&logp)
            ));
        }
        if t0.elapsed() > START_TIMEOUT {
            return Err(format!(
                "{name}: no memif sockets after {} s: {}",
                START_TIMEOUT.as_secs(),
                log_tail(&logp)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Started {
        name: name.to_owned(),
        description,
        process,
        log: logp,
        sockets,
    })
}

/// Spawns `cmd` allowed on every CPU: this thread is EAL's main lcore,
/// pinned to the bench CPU, and a child inherits the spawning thread's
/// affinity (cnfwd would refuse its worker core). The affinity is
/// restored right after.
fn spawn_unpinned(cmd: &mut Command) -> std::io::Result<std::process::Child> {
    use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    let me = Pid::from_raw(0);
    let pinned = sched_getaffinity(me).ok();
    let mut all = CpuSet::new();
    for cpu in 0..CpuSet::count() {
        let _ = all.set(cpu);
    }
    let _ = sched_setaffinity(me, &all);
    let child = cmd.spawn();
    if let Some(p) = pinned {
        let _ = sched_setaffinity(me, &p);
    }
    child
}

/// Opens cnfwd-bench's two ports to `s` (forwarder number `i`) and waits
/// until frames come through. A memif client that connected before the
/// server's port was started stays disconnected (DPDK does not retry), so
/// ports that pass nothing for [`RECONNECT_AFTER`] are closed and opened
/// again, until [`WARMUP_TIMEOUT`].
fn connect<'e>(
    eal: &'e Eal,
    i: usize,
    mut s: Started,
    profile: &Profile,
    sizes: usize,
) -> Result<Side<'e>, String> {
    let traffic = Traffic::new(profile, GEN_MAC, FWD_IN_MAC);
    let spec = TrialSpec {
        rate: Some(10_000.0),
        duration: Duration::from_millis(100),
        drain: Duration::from_millis(100),
        burst: 32,
    };
    let t0 = Instant::now();
    loop {
        let mut tx = open_port(eal, "gen", &memif(2 * i, "client", &s.sockets[0], GEN_MAC))?;
        let mut rx = open_port(
            eal,
            "sink",
            &memif(2 * i + 1, "client", &s.sockets[1], SINK_MAC),
        )?;
        let t1 = Instant::now();
        let mut last = None;
        while t1.elapsed() < RECONNECT_AFTER {
            let r = run_trial(&mut tx, &mut rx, &traffic, &spec)
                .map_err(|e| format!("{}: {e}", s.name))?;
            if r.received > 0 {
                return Ok(Side {
                    name: s.name,
                    description: s.description,
                    tx,
                    rx,
                    process: s.process,
                    log: s.log,
                    searches: (0..sizes)
                        .map(|_| Search::new(profile.search.clone()))
                        .collect(),
                    error: None,
                });
            }
            if let Some(st) = s.process.exited() {
                return Err(format!(
                    "{} exited at start ({st}): {}",
                    s.name,
                    log_tail(&s.log)
                ));
            }
            last = Some(r);
        }
        if t0.elapsed() > WARMUP_TIMEOUT {
            return Err(format!(
                "{}: forwarded nothing in {} s (last try: sent {}, received {}): {}",
                s.name,
                WARMUP_TIMEOUT.as_secs(),
                last.as_ref().map_or(0, |r| r.sent),
                last.as_ref().map_or(0, |r| r.received),
                log_tail(&s.log)
            ));
        }
        // Close both ports (memif disconnects) and connect again.
        drop((tx, rx));
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs the comparison of `profiles` (one per frame size, same flows and
/// destinations) on DPDK memif vdevs, in this process's `eal` (see the
/// module doc); `scratch` holds configurations and logs; `pb` shows
/// progress. One [`SizeRun`] per profile, every forwarder in each (an
/// error row for one that could not run).
pub fn compare_dpdk(
    eal: &Eal,
    profiles: &[Profile],
    opts: &DpdkOptions,
    scratch: &Path,
    pb: &indicatif::ProgressBar,
) -> Result<Vec<SizeRun>, String> {
    let Some(first) = profiles.first() else {
        return Ok(Vec::new());
    };
    let mut routes = None;
    for p in profiles {
        routes = Some(check_profile(p)?);
    }
    let routes = routes.unwrap_or_default();
    let sockdir = PathBuf::from(format!("/run/cnfwd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&sockdir).map_err(|e| format!("{}: {e}", sockdir.display()))?;
    let _cleanup = RemoveDir(sockdir.clone());

    // Start every forwarder first (they take seconds: EAL, tables), then
    // connect cnfwd-bench's ports to each.
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut started = Vec::new();
    for (i, name) in opts.forwarders.iter().enumerate() {
        pb.set_message(format!("starting {name}"));
        match start(i, name, &routes, opts, &sockdir, scratch) {
            Ok(s) => started.push((i, s)),
            Err(e) => errors.push((name.clone(), e)),
        }
    }
    let mut sides: Vec<Side> = Vec::new();
    for (i, s) in started {
        let name = s.name.clone();
        pb.set_message(format!("connecting to {name}"));
        match connect(eal, i, s, first, profiles.len()) {
            Ok(side) => {
                side.process.pause(true);
                sides.push(side);
            }
            Err(e) => errors.push((name, e)),
        }
    }

    // Size after size; within a size, one trial of each forwarder in turn.
    for (k, profile) in profiles.iter().enumerate() {
        let traffic = Traffic::new(profile, GEN_MAC, FWD_IN_MAC);
        loop {
            let mut any = false;
            for side in sides.iter_mut().filter(|s| s.error.is_none()) {
                let Some(p) = side.searches[k].next() else {
                    continue;
                };
                any = true;
                pb.set_message(format!(
                    "[{}] {}",
                    profile.sizes_label(),
                    progress_text(&side.name, &side.searches[k], &p, profile.search.width)
                ));
                side.process.pause(false);
                let r = trial_with_retries(profile, &mut side.tx, &mut side.rx, &traffic, &p);
                side.process.pause(true);
                if let Some(st) = side.process.exited() {
                    side.error = Some(format!(
                        "exited during the run ({st}): {}",
                        log_tail(&side.log)
                    ));
                    continue;
                }
                match r {
                    Ok(r) => side.searches[k].feed(p, r),
                    Err(e) => side.error = Some(e.to_string()),
                }
            }
            if !any {
                break;
            }
        }
    }

    let runs = profiles
        .iter()
        .enumerate()
        .map(|(k, profile)| {
            let mut forwarders: Vec<ForwarderRun> = sides
                .iter()
                .map(|s| ForwarderRun {
                    name: s.name.clone(),
                    description: s.description.clone(),
                    search: s.error.is_none().then(|| s.searches[k].result()),
                    error: s.error.clone(),
                })
                .chain(errors.iter().map(|(n, e)| ForwarderRun {
                    name: n.clone(),
                    description: String::new(),
                    search: None,
                    error: Some(e.clone()),
                }))
                .collect();
            forwarders.sort_by_key(|r| opts.forwarders.iter().position(|n| n == &r.name));
            SizeRun {
                sizes: profile.sizes_label(),
                mean_size: profile.mean_size(),
                forwarders,
            }
        })
        .collect();
    // Ports closed (memif disconnected) before the processes stop.
    drop(sides);
    Ok(runs)
}

/// Removes a directory when dropped.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

//! `cnfwd-soak`: runs `cnfwd run` for a long time (AF_PACKET, two workers,
//! adaptive idle) on veth pairs into network namespaces it makes, while
//! UDP traffic flows through it, routes change over the management socket
//! at a paced rate, the configuration is re-applied every few seconds,
//! short-lived socket clients come and go, and CSN flows are created and
//! expire; then checks that it held up:
//!
//! - RSS (`VmRSS`, sampled every `--sample-every`) stays flat after the
//!   warm-up: the least-squares slope is at most `--max-slope` KiB/min;
//! - the counters balance: `rx + replicated + generated = tx + dropped` in
//!   the final stats JSON, and the port counters sum to the totals;
//! - no panic in cnfwd's output, `/healthz` always 200, `/readyz` never
//!   not-ready for long, every worker's received count grows in every
//!   sample interval (no stalled worker);
//! - every management command succeeds, and cnfwd exits 0 on SIGTERM.
//!
//! It prints a summary and exits 1 when a check failed (2: could not set
//! up, e.g. not root). `scripts/soak.sh` builds and runs it.

mod churn;
mod lab;
mod probe;
mod site;
mod slope;
mod traffic;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use dataplane::control::Client;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use churn::ChurnCounts;
use lab::{in_netns, ip, Lab};
use probe::ProbeCounts;
use traffic::TrafficCounts;

/// Soak test of cnfwd on AF_PACKET (needs root).
#[derive(Parser, Debug)]
#[command(name = "cnfwd-soak", version)]
struct Cli {
    /// How long to run: seconds, or with a unit (`90s`, `30m`, `1h`).
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    duration: Duration,
    /// Offered traffic, packets per second (app host -> cnfwd).
    #[arg(long, default_value_t = 2000)]
    rate: u64,
    /// Route changes (adds + deletes) per second over the socket.
    #[arg(long, default_value_t = 1000)]
    route_rate: u64,
    /// Seconds between two `/config/apply`.
    #[arg(long, default_value_t = 5.0)]
    apply_every: f64,
    /// Seconds between two RSS / counter samples.
    #[arg(long, default_value_t = 10.0)]
    sample_every: f64,
    /// Largest RSS slope after the warm-up, KiB per minute (default: 256
    /// when the fit spans 5 minutes or more, else 1024; see README).
    #[arg(long)]
    max_slope: Option<f64>,
    /// Run cnfwd with `MALLOC_MMAP_THRESHOLD_` set to this many bytes (a
    /// fixed threshold: nearly every large allocation mapped and unmapped,
    /// so RSS follows live memory exactly). Default: glibc as it comes, as
    /// cnfwd runs in production. Every route change publishes a snapshot
    /// that copies the VRF's FIBs (~0.6 MiB); before the engine freed the
    /// snapshots no worker holds, hundreds piled up behind a descheduled
    /// worker and RSS stepped up and stayed, which this option was first
    /// made to tell apart from a leak.
    #[arg(long)]
    malloc_mmap_threshold: Option<u64>,
    /// The cnfwd binary (default: `cnfwd` next to this program).
    #[arg(long)]
    cnfwd: Option<PathBuf>,
    /// Write the summary and every sample as JSON here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Prefix of the namespaces and scratch directory (default
    /// `cnfwd-soak-<pid>`).
    #[arg(long)]
    name: Option<String>,
}

/// `90`, `90s`, `30m`, `1h` -> a duration.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number with s, m or h"))?;
    let mult = match unit {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        u => return Err(format!("{s:?}: unknown unit {u:?} (s, m or h)")),
    };
    if !(n > 0.0 && n.is_finite()) {
        return Err(format!("{s:?}: must be positive"));
    }
    Ok(Duration::from_secs_f64(n * mult))
}

/// Fits spanning this many minutes or more use [`LONG_LIMIT`].
const LONG_FIT_MIN: f64 = 5.0;
/// RSS slope limit of a long run (KiB/min).
const LONG_LIMIT: f64 = 256.0;
/// RSS slope limit of a short run (KiB/min): its estimate is noisy.
const SHORT_LIMIT: f64 = 1024.0;

/// One sample taken every `--sample-every`.
#[derive(Debug, Clone)]
struct Sample {
    t_s: f64,
    rss_kib: u64,
    rx: u64,
    /// `rx + replicated + generated - tx - dropped` read live (packets in
    /// hand or held for a resolution; the sum is read while workers run).
    in_flight: i64,
    worker_rx: Vec<u64>,
}

/// The checks' findings; any entry fails the run.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.0.push(what.into());
        }
    }
}

fn vmrss_kib(pid: i32) -> Result<u64, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("/proc/{pid}/status: no VmRSS"))
}

fn stat(v: &Value, k: &str) -> u64 {
    v["totals"][k].as_u64().unwrap_or(0)
}

/// `rx + replicated + generated + fragments - fragmented - tx - dropped`
/// of a stats JSON.
fn imbalance(v: &Value) -> i64 {
    let added =
        stat(v, "replicated") + stat(v, "generated") + stat(v, "fragments") - stat(v, "fragmented");
    (stat(v, "rx_packets") + added) as i64 - (stat(v, "tx_packets") + stat(v, "dropped")) as i64
}

fn ask(socket: &Path, cmd: &str) -> Result<Value, String> {
    let mut c = Client::connect(socket, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    c.call(cmd, None)
        .map_err(|e| format!("{cmd}: {e}"))?
        .map_err(|e| format!("{cmd}: error reply: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !nix::unistd::geteuid().is_root() {
        eprintln!(
            "cnfwd-soak: needs root: it makes network namespaces and veth pairs (CAP_NET_ADMIN) and cnfwd opens AF_PACKET sockets (CAP_NET_RAW); run it with sudo"
        );
        return ExitCode::from(2);
    }
    match soak(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("cnfwd-soak: {e}");
            ExitCode::from(2)
        }
    }
}

/// A started `cnfwd run`, killed on drop if still running.
struct Running {
    child: Option<Child>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn soak(cli: &Cli) -> Result<bool, String> {
    let name = cli
        .name
        .clone()
        .unwrap_or_else(|| format!("cnfwd-soak-{}", std::process::id()));
    let cnfwd = match &cli.cnfwd {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("cnfwd"),
    };
    if !cnfwd.is_file() {
        return Err(format!(
            "{}: no cnfwd binary (build it: cargo build -p dataplane --bin cnfwd, or pass --cnfwd)",
            cnfwd.display()
        ));
    }
    ip(&["netns", "list"]).map_err(|e| format!("`ip netns` does not work: {e}"))?;
    let dir = std::env::temp_dir().join(&name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let socket = dir.join("cnfwd.sock");
    let metrics_port = 9464;
    let configs = [
        site::config(0, &socket, metrics_port),
        site::config(1, &socket, metrics_port),
    ];
    let cfg_path = dir.join("cnfwd.toml");
    std::fs::write(&cfg_path, &configs[0]).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("cnfwd-variant1.toml"), &configs[1]).map_err(|e| e.to_string())?;

    // The network.
    let mut lab = Lab::new(&name)?;
    let app = lab.host(
        "app",
        "cnf-a",
        "02:5a:00:00:01:10",
        "02:cf:00:00:01:01",
        "10.1.0.10/24",
        &[("default", site::addr::APP_GW)],
    )?;
    let srv = lab.host(
        "srv",
        "cnf-b",
        "02:5a:00:00:02:10",
        "02:cf:00:00:02:01",
        "10.2.0.10/24",
        &[("default", site::addr::SRV_GW)],
    )?;
    let csn = lab.host(
        "csn",
        "cnf-c",
        "02:5a:00:00:09:fe",
        "02:cf:00:00:09:01",
        &format!("{}/24", site::addr::CSN_PEER),
        &[("10.1.0.0/16", site::addr::CSN_GW)],
    )?;
    for a in site::addr::ALLOWED {
        let a = format!("{}/32", std::net::Ipv4Addr::from(a));
        ip(&["-n", &csn.ns, "addr", "add", &a, "dev", "lo"])?;
    }

    // cnfwd, in the router namespace (`ip netns exec` execs it: same pid).
    let out_path = dir.join("cnfwd.out");
    let err_path = dir.join("cnfwd.err");
    let stats_path = dir.join("stats.json");
    let mut command = Command::new("ip");
    if let Some(threshold) = cli.malloc_mmap_threshold {
        command.env("MALLOC_MMAP_THRESHOLD_", threshold.to_string());
    }
    let child = command
        .args(["netns", "exec", &lab.router])
        .arg(&cnfwd)
        .args(["run", "--stats-interval", "10", "--config"])
        .arg(&cfg_path)
        .arg("--stats-json")
        .arg(&stats_path)
        .arg("--socket")
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).map_err(|e| e.to_string())?)
        .stderr(File::create(&err_path).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("start cnfwd: {e}"))?;
    let mut running = Running { child: Some(child) };
    let up_by = Instant::now() + Duration::from_secs(30);
    let greeting = loop {
        if let Ok(c) = Client::connect(&socket, Duration::from_secs(5)) {
            break c.greeting().clone();
        }
        if let Some(Ok(Some(st))) = running.child.as_mut().map(|c| c.try_wait()) {
            return Err(format!(
                "cnfwd exited at start ({st}):\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            ));
        }
        if Instant::now() > up_by {
            return Err("cnfwd never served its socket".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let pid = greeting["pid"]
        .as_i64()
        .ok_or_else(|| format!("greeting without pid: {greeting}"))? as i32;
    let child_pid = running.child.as_ref().map_or(0, |c| c.id() as i32);
    if pid != child_pid {
        return Err(format!(
            "the socket's cnfwd is pid {pid}, the one started is {child_pid}"
        ));
    }
    println!(
        "cnfwd-soak: {name}: cnfwd pid {pid} up; {:.0} s, {} pkt/s offered, {} route changes/s, apply every {} s, samples every {} s",
        cli.duration.as_secs_f64(),
        cli.rate,
        cli.route_rate,
        cli.apply_every,
        cli.sample_every
    );

    // Everything that runs alongside.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(|e| e.to_string())?;
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    let tcounts = Arc::new(TrafficCounts::default());
    let ccounts = Arc::new(ChurnCounts::default());
    let pcounts = Arc::new(ProbeCounts::default());
    let traffic = traffic::start(
        &app.ns,
        &srv.ns,
        &csn.ns,
        cli.rate,
        tcounts.clone(),
        ccounts.newest_route.clone(),
        stop.clone(),
    )?;
    let mut threads = Vec::new();
    {
        let (s, c, st) = (socket.clone(), ccounts.clone(), stop.clone());
        let (configs, rate, every) = (
            configs.clone(),
            cli.route_rate,
            Duration::from_secs_f64(cli.apply_every),
        );
        threads.push(std::thread::spawn(move || {
            churn::routes_and_applies(&s, configs, rate, every, &c, &st)
        }));
        let (s, c, st) = (socket.clone(), ccounts.clone(), stop.clone());
        threads.push(std::thread::spawn(move || churn::clients(s, &c, &st)));
    }
    let prober = {
        let (c, st) = (pcounts.clone(), stop.clone());
        in_netns(&lab.router, "soak-probe", move || {
            probe::run(metrics_port, &c, &st)
        })?
    };

    // The watch: every second cnfwd must still run; every sample interval
    // RSS, per-worker progress and the live balance.
    let mut findings = Findings::default();
    let start = Instant::now();
    let every = Duration::from_secs_f64(cli.sample_every);
    let mut next_sample = start;
    let mut samples: Vec<Sample> = Vec::new();
    let mut early_exit = None;
    while start.elapsed() < cli.duration {
        if stop.load(Ordering::Relaxed) {
            interrupted.store(true, Ordering::Relaxed);
            break;
        }
        if let Some(Ok(Some(st))) = running.child.as_mut().map(|c| c.try_wait()) {
            early_exit = Some(st);
            break;
        }
        if Instant::now() >= next_sample {
            next_sample += every;
            let t_s = start.elapsed().as_secs_f64();
            let rss = vmrss_kib(pid);
            let stats = ask(&socket, "/stats");
            let workers = ask(&socket, "/workers");
            match (rss, stats, workers) {
                (Ok(rss_kib), Ok(stats), Ok(workers)) => {
                    let worker_rx: Vec<u64> = workers
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|w| w["rx_packets"].as_u64().unwrap_or(0))
                                .collect()
                        })
                        .unwrap_or_default();
                    let s = Sample {
                        t_s,
                        rss_kib,
                        rx: stat(&stats, "rx_packets"),
                        in_flight: imbalance(&stats),
                        worker_rx,
                    };
                    if let Some(prev) = samples.last() {
                        findings.check(
                            s.worker_rx.len() == 2,
                            format!("/workers lists {} workers, not 2", s.worker_rx.len()),
                        );
                        for (i, (a, b)) in prev.worker_rx.iter().zip(&s.worker_rx).enumerate() {
                            findings.check(
                                b > a,
                                format!(
                                    "worker {i} received nothing between {:.0} s and {:.0} s (rx {a} -> {b}): stalled?",
                                    prev.t_s, s.t_s
                                ),
                            );
                        }
                    }
                    println!(
                        "cnfwd-soak: {:>6.0} s  RSS {:>7} KiB  rx {:>10}  workers rx {:?}  in flight {:>3}  routes {:>8}  applies {:>4}  clients {:>6}",
                        t_s,
                        s.rss_kib,
                        s.rx,
                        s.worker_rx,
                        s.in_flight,
                        ccounts.route_changes(),
                        ccounts.applies.load(Ordering::Relaxed),
                        clients_total(&ccounts),
                    );
                    samples.push(s);
                }
                (rss, stats, workers) => findings.0.push(format!(
                    "sample at {t_s:.0} s failed: {:?} {:?} {:?}",
                    rss.err(),
                    stats.err(),
                    workers.err()
                )),
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let ran_for = start.elapsed();

    // Stop the load, then cnfwd (SIGTERM) and read its final counters.
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    for t in traffic {
        match t.join() {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) | Ok(Err(e)) => findings.0.push(format!("traffic: {e}")),
            Err(_) => findings.0.push("a traffic thread panicked".into()),
        }
    }
    let _ = prober.join();
    // Let the last packets drain before reading the kernel's counts.
    std::thread::sleep(Duration::from_millis(500));
    let kernel: Vec<(String, u64, u64)> = ["a", "b", "c"]
        .iter()
        .map(|p| {
            (
                p.to_string(),
                Lab::if_counter(&lab.router, &format!("cnf-{p}"), "rx_packets").unwrap_or(0),
                Lab::if_counter(&lab.router, &format!("cnf-{p}"), "tx_packets").unwrap_or(0),
            )
        })
        .collect();
    let mut exit = early_exit;
    let mut stop_s = 0.0;
    if exit.is_none() {
        let t = Instant::now();
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        let by = t + Duration::from_secs(30);
        while let Some(c) = running.child.as_mut() {
            if let Ok(Some(st)) = c.try_wait() {
                exit = Some(st);
                break;
            }
            if Instant::now() > by {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        stop_s = t.elapsed().as_secs_f64();
    }
    running.child = None;
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    match exit {
        Some(st) if st.success() => {}
        Some(st) => findings.0.push(format!(
            "cnfwd exited {st}{}",
            if early_exit.is_some() {
                " during the run"
            } else {
                " on SIGTERM"
            }
        )),
        None => findings
            .0
            .push("cnfwd did not exit within 30 s of SIGTERM".into()),
    }
    for (i, l) in stderr.lines().chain(stdout.lines()).enumerate() {
        if l.contains("panicked") || l.contains("RUST_BACKTRACE") {
            findings.0.push(format!("cnfwd output line {}: {l}", i + 1));
        }
    }
    let fin: Value = std::fs::read_to_string(&stats_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    findings.check(!fin.is_null(), "no final stats JSON");

    // Counter balance: totals, and the ports summing to the totals.
    let bal = imbalance(&fin);
    findings.check(
        bal == 0,
        format!(
            "counters do not balance: rx + replicated + generated - tx - dropped = {bal} ({})",
            fin["totals"]
        ),
    );
    let ports = fin["ports"].as_object().cloned().unwrap_or_default();
    let sum = |k: &str| -> u64 { ports.values().map(|p| p[k].as_u64().unwrap_or(0)).sum() };
    let port_drops: u64 = ports
        .values()
        .flat_map(|p| p["drops"].as_object().cloned().unwrap_or_default())
        .map(|(_, v)| v.as_u64().unwrap_or(0))
        .sum();
    findings.check(
        sum("rx_packets") == stat(&fin, "rx_packets")
            && sum("tx_packets") == stat(&fin, "tx_packets")
            && port_drops == stat(&fin, "dropped"),
        format!(
            "ports do not sum to the totals: rx {} tx {} drops {} vs {}",
            sum("rx_packets"),
            sum("tx_packets"),
            port_drops,
            fin["totals"]
        ),
    );
    for (p, krx, ktx) in &kernel {
        let rx = fin["ports"][p]["rx_packets"].as_u64().unwrap_or(0);
        let tx = fin["ports"][p]["tx_packets"].as_u64().unwrap_or(0);
        findings.check(
            rx <= *krx && tx <= *ktx,
            format!(
                "port {p}: cnfwd counted rx {rx} tx {tx}, the kernel's veth only rx {krx} tx {ktx}"
            ),
        );
    }

    // RSS after the warm-up.
    let warm = slope::warm_up(ran_for).as_secs_f64();
    let fit: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.t_s >= warm)
        .map(|s| (s.t_s / 60.0, s.rss_kib as f64))
        .collect();
    let slope = slope::least_squares(&fit);
    let slope_se = slope::standard_error(&fit);
    let span_min = fit.last().map_or(0.0, |l| l.0 - fit[0].0);
    let max_slope = cli.max_slope.unwrap_or(if span_min >= LONG_FIT_MIN {
        LONG_LIMIT
    } else {
        SHORT_LIMIT
    });
    match slope {
        Some(k) => findings.check(
            k <= max_slope,
            format!("RSS grows {k:.1} KiB/min after the warm-up (limit {max_slope} KiB/min)"),
        ),
        None => findings.0.push(format!(
            "fewer than 2 RSS samples after the {warm:.0} s warm-up: run longer"
        )),
    }

    // Management and health.
    let errors = ccounts.errors.load(Ordering::Relaxed);
    findings.check(
        errors == 0,
        format!(
            "{errors} management failures, first: {:?}",
            ccounts
                .first_errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
        ),
    );
    let last_probe = pcounts
        .last_failure
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let hz = pcounts.healthz_failed.load(Ordering::Relaxed);
    findings.check(
        hz == 0,
        format!("/healthz failed {hz} times (last: {last_probe})"),
    );
    let streak = pcounts.readyz_longest_streak.load(Ordering::Relaxed);
    let ready_failed = pcounts.readyz_failed.load(Ordering::Relaxed);
    findings.check(
        ready_failed == 0,
        format!(
            "/readyz not ready {ready_failed} times for another reason than a worker a few snapshots behind, or more than {} behind (last: {last_probe})",
            probe::MAX_SNAPSHOT_LAG
        ),
    );
    findings.check(
        pcounts.probes.load(Ordering::Relaxed) > 0,
        "no health probe was made",
    );
    let max_in_flight = samples.iter().map(|s| s.in_flight.abs()).max().unwrap_or(0);
    // Held packets are bounded by neighbor_hold_total (1,024) per worker,
    // plus a burst in hand per worker and port.
    findings.check(
        max_in_flight <= 2 * 1024 + 2 * 3 * 32,
        format!("live imbalance {max_in_flight} exceeds what may be held or in hand"),
    );
    // The load really ran: the rates asked for were reached, every kind of
    // client came, CSN flows were admitted, denied and expired.
    let secs_run = ran_for.as_secs_f64();
    let achieved = ccounts.route_changes() as f64 / secs_run;
    findings.check(
        achieved >= 0.9 * cli.route_rate as f64,
        format!(
            "route changes: {achieved:.0}/s achieved, {} asked",
            cli.route_rate
        ),
    );
    let offered = tcounts.sent() as f64 / secs_run;
    findings.check(
        offered >= 0.9 * cli.rate as f64,
        format!("traffic: {offered:.0} pkt/s sent, {} asked", cli.rate),
    );
    let expected_applies = (secs_run / cli.apply_every) as u64;
    findings.check(
        ccounts.applies.load(Ordering::Relaxed) + 1 >= expected_applies,
        format!(
            "{} applies, {expected_applies} expected",
            ccounts.applies.load(Ordering::Relaxed)
        ),
    );
    for (what, n) in [
        ("complete clients", &ccounts.clients_complete),
        ("clients leaving mid-request", &ccounts.clients_mid_request),
        (
            "clients leaving before the greeting",
            &ccounts.clients_no_greeting,
        ),
    ] {
        findings.check(n.load(Ordering::Relaxed) > 0, format!("no {what}"));
    }
    let csn_n = |k: &str| fin["csn"][k].as_u64().unwrap_or(0);
    findings.check(
        csn_n("flow_created") > 0 && csn_n("flow_expired") > 0 && csn_n("csn_denied") > 0,
        format!(
            "CSN flows did not churn (created, expired and denied expected): {}",
            fin["csn"]
        ),
    );
    if interrupted.load(Ordering::Relaxed) {
        findings.0.push("interrupted".into());
    }

    // Summary.
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let changes = ccounts.route_changes();
    let secs = ran_for.as_secs_f64();
    let rss_first = samples.first().map_or(0, |s| s.rss_kib);
    let rss_last = samples.last().map_or(0, |s| s.rss_kib);
    let rss_max = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let route_mean_us = load(&ccounts.route_sum_us) / changes.max(1);
    let csn = fin["csn"].clone();
    let drops = fin["drops"].clone();
    let summary = json!({
        "duration_s": (secs * 10.0).round() / 10.0,
        "offered_pps": cli.rate,
        "malloc": malloc_text(cli),
        "packets": {
            "sent_by_app_host": tcounts.sent(),
            "sent_main": load(&tcounts.sent_main),
            "sent_csn_allowed": load(&tcounts.sent_allowed),
            "sent_csn_denied": load(&tcounts.sent_denied),
            "sent_probe": load(&tcounts.sent_probe),
            "send_errors": load(&tcounts.send_errors),
            "received_by_srv_sink": load(&tcounts.sink_received),
            "echoed_by_csn_host": load(&tcounts.echoed),
            "echo_replies_at_app_host": load(&tcounts.echo_replies),
            "csn_source_sockets": load(&tcounts.csn_sockets),
        },
        "cnfwd": {
            "totals": fin["totals"],
            "ports": fin["ports"],
            "drops": drops,
            "csn": csn,
            "slow_path": fin["slow_path"],
            "balance": bal,
            "max_live_imbalance": max_in_flight,
            "kernel_veth_router_side": kernel.iter().map(|(p, r, t)| json!({"port": p, "rx_packets": r, "tx_packets": t})).collect::<Vec<_>>(),
            "stop_s": (stop_s * 1000.0).round() / 1000.0,
            "exit": exit.map(|s| s.to_string()),
        },
        "routes": {
            "changes": changes,
            "adds": load(&ccounts.route_adds),
            "dels": load(&ccounts.route_dels),
            "achieved_per_s": (changes as f64 / secs).round(),
            "mean_us": route_mean_us,
            "max_us": load(&ccounts.route_max_us),
        },
        "applies": {
            "count": load(&ccounts.applies),
            "mean_us": load(&ccounts.apply_sum_us) / load(&ccounts.applies).max(1),
            "max_us": load(&ccounts.apply_max_us),
            "summary_routes_before_left_out_socket_routes": load(&ccounts.apply_summary_off),
        },
        "clients": {
            "complete": load(&ccounts.clients_complete),
            "left_mid_request": load(&ccounts.clients_mid_request),
            "left_before_greeting": load(&ccounts.clients_no_greeting),
        },
        "health": {
            "probes": load(&pcounts.probes),
            "healthz_failed": hz,
            "readyz_not_ready": load(&pcounts.readyz_not_ready),
            "readyz_longest_streak": streak,
            "readyz_max_snapshot_lag": load(&pcounts.readyz_max_lag),
            "readyz_failed": ready_failed,
        },
        "rss": {
            "samples": samples.len(),
            "warm_up_s": warm,
            "first_kib": rss_first,
            "last_kib": rss_last,
            "max_kib": rss_max,
            "slope_kib_per_min": slope.map(|k| (k * 10.0).round() / 10.0),
            "slope_standard_error": slope_se.map(|k| (k * 10.0).round() / 10.0),
            "fit_span_min": (span_min * 10.0).round() / 10.0,
            "limit_kib_per_min": max_slope,
            "series": samples.iter().map(|s| json!([s.t_s.round(), s.rss_kib])).collect::<Vec<_>>(),
        },
        "failures": findings.0,
    });
    println!(
        "\ncnfwd-soak summary ({name})\n\
         duration        {secs:.0} s ({} pkt/s offered; cnfwd's malloc: {})\n\
         packets         app host sent {} (srv {}, CSN allowed {}, CSN denied {}, probes {}); srv sink got {}; CSN echoes {} -> {} back\n\
         cnfwd totals    {}\n\
         drops           {}\n\
         csn             {}\n\
         ports           {}\n\
         balance         rx + replicated + generated - tx - dropped = {bal} (live, max |in flight| {max_in_flight})\n\
         routes          {changes} changes ({} adds, {} dels), {:.0}/s achieved, mean {route_mean_us} us, max {} us\n\
         applies         {} (mean {} us, max {} us; routes_before left out the socket's routes in {})\n\
         clients         {} complete, {} left mid-request, {} left before the greeting\n\
         health          {} probes: /healthz failed {hz}, /readyz not ready {} (a worker behind the newest snapshot by at most {}; longest streak {streak}; other reasons {ready_failed})\n\
         RSS             {} samples: {rss_first} -> {rss_last} KiB (max {rss_max}), slope after {warm:.0} s warm-up {} KiB/min (standard error {}, limit {max_slope})\n\
         exit            {} after SIGTERM in {stop_s:.2} s",
        cli.rate,
        malloc_text(cli),
        tcounts.sent(),
        load(&tcounts.sent_main),
        load(&tcounts.sent_allowed),
        load(&tcounts.sent_denied),
        load(&tcounts.sent_probe),
        load(&tcounts.sink_received),
        load(&tcounts.echoed),
        load(&tcounts.echo_replies),
        fin["totals"],
        fin["drops"],
        fin["csn"],
        kernel
            .iter()
            .map(|(p, krx, ktx)| format!(
                "{p}: rx {} tx {} (veth rx {krx} tx {ktx})",
                fin["ports"][p]["rx_packets"],
                fin["ports"][p]["tx_packets"]
            ))
            .collect::<Vec<_>>()
            .join(", "),
        load(&ccounts.route_adds),
        load(&ccounts.route_dels),
        changes as f64 / secs,
        load(&ccounts.route_max_us),
        load(&ccounts.applies),
        load(&ccounts.apply_sum_us) / load(&ccounts.applies).max(1),
        load(&ccounts.apply_max_us),
        load(&ccounts.apply_summary_off),
        load(&ccounts.clients_complete),
        load(&ccounts.clients_mid_request),
        load(&ccounts.clients_no_greeting),
        load(&pcounts.probes),
        load(&pcounts.readyz_not_ready),
        load(&pcounts.readyz_max_lag),
        samples.len(),
        slope.map_or("-".to_string(), |k| format!("{k:.1}")),
        slope_se.map_or("-".to_string(), |k| format!("{k:.1}")),
        exit.map_or("none".to_string(), |s| s.to_string()),
    );
    if let Some(r) = &cli.report {
        let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
        std::fs::write(r, text + "\n").map_err(|e| format!("{}: {e}", r.display()))?;
    }
    drop(lab);
    if findings.0.is_empty() {
        println!("cnfwd-soak: PASS");
        let _ = std::fs::remove_dir_all(&dir);
        Ok(true)
    } else {
        for f in &findings.0 {
            println!("FAIL  {f}");
        }
        println!(
            "cnfwd-soak: FAIL (cnfwd's config, output and stats kept in {})",
            dir.display()
        );
        Ok(false)
    }
}

fn malloc_text(cli: &Cli) -> String {
    match cli.malloc_mmap_threshold {
        None => "glibc defaults".into(),
        Some(t) => format!("MALLOC_MMAP_THRESHOLD_={t}"),
    }
}

fn clients_total(c: &ChurnCounts) -> u64 {
    c.clients_complete.load(Ordering::Relaxed)
        + c.clients_mid_request.load(Ordering::Relaxed)
        + c.clients_no_greeting.load(Ordering::Relaxed)
}

//! `cnfwd`: the forwarder's command line.
//!
//! `cnfwd run --config FILE [--stats-json PATH] [--duration SECS]
//! [--stats-interval SECS]` forwards with the ports the configuration names.
//! With pcap ports (the offline mode) it replays every input capture to its
//! end; with live ports (af_packet) it forwards until SIGINT/SIGTERM or
//! `--duration`, printing a rate line every `--stats-interval`. Either way it
//! ends by printing what it forwarded and dropped per port, per network and
//! per reason, and optionally writes the stats JSON.
//! `cnfwd check --config FILE` only validates, and prints what each port
//! resolved to. `cnfwd generate-config --from-network-status FILE` prints a
//! starting configuration for a pod's SR-IOV attachments. `cnfwd
//! drop-reasons` lists every drop counter with its meaning.
//!
//! Signals: `run` installs its SIGINT/SIGTERM handlers before it reads the
//! configuration, and every long phase (parse and validation, building the
//! forwarding tables, a replay) runs on a helper thread the main thread
//! watches, so a signal is honoured within about 20 ms whatever is being
//! done (a million routes loading included), with one line saying in which
//! phase. A live run stopped by a signal, during start-up or forwarding,
//! exits 0 (it was asked to stop, and did: systemd's `Restart=on-failure`
//! and Kubernetes see a clean stop); a replay stopped before its end exits
//! 128 + the signal number (130, 143), as an interrupted batch job does,
//! and writes no stats. A second signal while stopping ends the process at
//! once with 128 + the signal number. The management socket file is removed
//! on every one of these paths.
//!
//! Ports may name the pod's network attachment instead of a device
//! (`device = { network_attachment = "ns/name" }`); `check` and `run` read
//! the pod's annotations from `--pod-annotations FILE`, else
//! `$CNFWD_POD_ANNOTATIONS`, else `/etc/podnetinfo/annotations`
//! (`docs/kubernetes-attachments.md`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use cnfwd_config::attachment::{self, GenerateBackend, Pod};
use cnfwd_config::{BackendKind, PortBackend, ResolvedPort};
use dataplane::live::{self, LiveError, LiveOptions, LiveReport, Tick};
use dataplane::pipeline::DropReason;
use dataplane::replay::{replay_resolved, ReplayReport};
use dataplane::stats::Stats;
use dataplane::tables::Tables;
use signal_hook::consts::{SIGINT, SIGTERM};

#[derive(Parser)]
#[command(
    name = "cnfwd",
    version,
    about = "Userspace poll-mode packet forwarder for CNF/VNF tenant networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Forward traffic with the configured ports (pcap ports: replay to the end).
    Run {
        /// Configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Write the final counters as JSON to this file.
        #[arg(long)]
        stats_json: Option<PathBuf>,
        /// Print only errors.
        #[arg(long, short)]
        quiet: bool,
        /// Live ports: stop after this many seconds (default: until SIGINT/SIGTERM).
        #[arg(long)]
        duration: Option<f64>,
        /// Live ports: print a rate line every this many seconds (0: never).
        #[arg(long, default_value_t = 1.0)]
        stats_interval: f64,
        /// Live ports: serve the management socket here (overrides `[control] socket`).
        #[arg(long)]
        socket: Option<PathBuf>,
        /// The pod's downward-API annotations file, for ports naming a network
        /// attachment (default: $CNFWD_POD_ANNOTATIONS, else /etc/podnetinfo/annotations).
        #[arg(long, value_name = "FILE")]
        pod_annotations: Option<PathBuf>,
    },
    /// Validate a configuration and print what it defines and what each port resolved to.
    Check {
        /// Configuration file (TOML).
        #[arg(long, short, required_unless_present = "file")]
        config: Option<PathBuf>,
        /// Configuration file (TOML), as `cnfwd check FILE`.
        #[arg(value_name = "FILE", conflicts_with = "config")]
        file: Option<PathBuf>,
        /// The pod's downward-API annotations file, for ports naming a network
        /// attachment (default: $CNFWD_POD_ANNOTATIONS, else /etc/podnetinfo/annotations).
        #[arg(long, value_name = "FILE")]
        pod_annotations: Option<PathBuf>,
    },
    /// Print a starting cnfwd.toml for a pod: one port per SR-IOV network attachment.
    GenerateConfig {
        /// The pod's downward-API annotations file, or the network-status JSON itself.
        #[arg(long, value_name = "FILE")]
        from_network_status: PathBuf,
        /// The backend of the ports: dpdk (VFs bound to vfio-pci) or af_packet (kernel VFs).
        #[arg(long, value_enum, default_value = "dpdk")]
        backend: GenBackend,
    },
    /// List every drop reason with its description.
    DropReasons,
}

/// `generate-config --backend`.
#[derive(Clone, Copy, ValueEnum)]
enum GenBackend {
    Dpdk,
    #[value(name = "af_packet")]
    AfPacket,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            config,
            stats_json,
            quiet,
            duration,
            stats_interval,
            socket,
            pod_annotations,
        } => {
            attachment::set_process_pod(Pod::from_system(pod_annotations.as_deref()));
            run(
                &config,
                stats_json.as_deref(),
                quiet,
                duration,
                stats_interval,
                socket,
            )
        }
        Command::Check {
            config: Some(config),
            pod_annotations,
            ..
        }
        | Command::Check {
            file: Some(config),
            pod_annotations,
            ..
        } => match cnfwd_config::load_in(&config, &Pod::from_system(pod_annotations.as_deref())) {
            Ok((_, r)) => {
                let l3 = r.networks.iter().filter(|n| n.l3.is_some()).count();
                let routes: usize = r.vrfs.iter().map(|v| v.routes.len()).sum();
                println!(
                    "{}: valid: {} ports, {} L3 + {} L2 networks, {} VRFs, {} routes",
                    config.display(),
                    r.ports.len(),
                    l3,
                    r.networks.len() - l3,
                    r.vrfs.len(),
                    routes
                );
                for p in &r.ports {
                    println!("{}", describe_port(p));
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cnfwd: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Check { .. } => fail("check: a configuration file is required"),
        Command::GenerateConfig {
            from_network_status,
            backend,
        } => generate_config(&from_network_status, backend),
        Command::DropReasons => {
            for r in DropReason::ALL {
                println!("{:<20} {}", r.name(), r.description());
            }
            println!("\nslow-path counters (not drops: what cnfwd answered, generated or refused to send)");
            for c in dataplane::slow::SlowCounter::ALL {
                println!("{:<20} {}", c.name(), c.description());
            }
            ExitCode::SUCCESS
        }
    }
}

fn run(
    config: &Path,
    stats_json: Option<&Path>,
    quiet: bool,
    duration: Option<f64>,
    stats_interval: f64,
    socket: Option<PathBuf>,
) -> ExitCode {
    let seconds = |name: &str, v: f64| {
        Duration::try_from_secs_f64(v)
            .map_err(|_| format!("--{name} {v}: expected a number of seconds >= 0"))
    };
    let duration = match duration.map(|d| seconds("duration", d)).transpose() {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    let interval = match seconds("stats-interval", stats_interval) {
        Ok(i) if i.is_zero() => None,
        Ok(i) => Some(i),
        Err(e) => return fail(&e),
    };
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let path = config.to_path_buf();
    let loaded = signals.watch(move || cnfwd_config::load(&path));
    let (model, resolved) = match loaded {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return fail(&e.to_string()),
        Err(sig) => {
            eprintln!(
                "cnfwd: {}: stopped while reading {}; nothing was started",
                sig.name(),
                config.display()
            );
            return ExitCode::SUCCESS;
        }
    };
    if !quiet {
        for p in resolved.ports.iter().filter(|p| p.pod.is_some()) {
            println!("cnfwd:{}", describe_port(p));
        }
    }
    let base = config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let started = Instant::now();
    let report = match resolved.ports.first().map(|p| p.backend.kind()) {
        None | Some(BackendKind::Pcap) => {
            let replayed = signals.watch(move || {
                replay_resolved(&resolved, &base)
                    .map(Report::Replay)
                    .map_err(|e| e.to_string())
            });
            match replayed {
                Ok(r) => r,
                Err(sig) => {
                    eprintln!(
                        "cnfwd: {}: replay stopped before the end of its captures; no stats written",
                        sig.name()
                    );
                    return ExitCode::from(128 + sig.0 as u8);
                }
            }
        }
        Some(kind) => {
            let opts = LiveOptions {
                duration,
                interval,
                config: Some(model),
                config_path: Some(config.to_path_buf()),
                socket,
            };
            match run_live(kind, &resolved, opts, quiet, &signals.stop) {
                Err(RunError::Stopped(phase)) => {
                    eprintln!(
                        "cnfwd: {}: stopped while {phase}; nothing was forwarded",
                        signals.received().map_or("signal", |s| s.name())
                    );
                    return ExitCode::SUCCESS;
                }
                Err(RunError::Failed(e)) => Err(e),
                Ok(l) => Ok(Report::Live(l)),
            }
        }
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let elapsed = started.elapsed();
    if !quiet {
        print_summary(report.tables(), report.stats(), elapsed.as_secs_f64());
        if let Report::Live(l) = &report {
            print_workers(l);
        }
    }
    if let Some(path) = stats_json {
        let json = report.stats().to_json(report.tables());
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            return fail(&format!("cannot write {}: {e}", path.display()));
        }
    }
    let input_errors = match &report {
        Report::Replay(r) => &r.input_errors[..],
        Report::Live(_) => &[],
    };
    if input_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        for (port, e) in input_errors {
            eprintln!("cnfwd: port {port:?}: input capture damaged, replay of it stopped after its readable packets: {e}");
        }
        ExitCode::from(3)
    }
}

/// What a run ends with.
enum Report {
    Replay(ReplayReport),
    Live(LiveReport),
}

impl Report {
    fn tables(&self) -> &Tables {
        match self {
            Report::Replay(r) => &r.tables,
            Report::Live(l) => &l.tables,
        }
    }

    fn stats(&self) -> &Stats {
        match self {
            Report::Replay(r) => &r.stats,
            Report::Live(l) => &l.stats,
        }
    }
}

/// A signal number we stop on.
#[derive(Debug, Clone, Copy)]
struct Signal(i32);

impl Signal {
    fn name(self) -> &'static str {
        match self.0 {
            SIGINT => "SIGINT",
            SIGTERM => "SIGTERM",
            _ => "signal",
        }
    }
}

/// SIGINT and SIGTERM, installed once: the first sets `stop` (and records
/// which signal), a second one while `stop` is set exits at once with 128 +
/// its number.
struct Signals {
    stop: Arc<AtomicBool>,
    which: Arc<AtomicUsize>,
}

impl Signals {
    fn install() -> Result<Signals, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let which = Arc::new(AtomicUsize::new(0));
        for signal in [SIGINT, SIGTERM] {
            let err = |e: std::io::Error| format!("cannot install the signal handler: {e}");
            // Registered first, so it sees the flag as the previous signal left it.
            signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, stop.clone())
                .map_err(err)?;
            signal_hook::flag::register_usize(signal, which.clone(), signal as usize)
                .map_err(err)?;
            signal_hook::flag::register(signal, stop.clone()).map_err(err)?;
        }
        Ok(Signals { stop, which })
    }

    /// The signal received, if any.
    fn received(&self) -> Option<Signal> {
        if !self.stop.load(Ordering::Acquire) {
            return None;
        }
        match self.which.load(Ordering::Acquire) {
            0 => None,
            n => Some(Signal(n as i32)),
        }
    }

    /// Runs `work` on a helper thread and waits for it, or for a signal
    /// (checked every 20 ms): then the thread is left behind (the process
    /// is about to end) and the signal returned.
    fn watch<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Signal> {
        if let Some(s) = self.received() {
            return Err(s);
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("cnfwd-load".into())
            .spawn(move || {
                let _ = tx.send(work());
            });
        if let Err(e) = spawned {
            eprintln!("cnfwd: cannot start a thread: {e}");
            std::process::exit(1);
        }
        loop {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(v) => return Ok(v),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(s) = self.received() {
                        return Err(s);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // The work panicked (its message is printed): end as a
                    // panic would, without hanging.
                    eprintln!("cnfwd: internal error: a start-up phase failed unexpectedly");
                    std::process::exit(101);
                }
            }
        }
    }
}

/// Why a live run did not produce a report.
enum RunError {
    /// A signal arrived during start-up (the phase).
    Stopped(&'static str),
    /// It failed.
    Failed(String),
}

impl From<String> for RunError {
    fn from(e: String) -> Self {
        RunError::Failed(e)
    }
}

impl From<LiveError> for RunError {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::Stopped(phase) => RunError::Stopped(phase),
            e => RunError::Failed(e.to_string()),
        }
    }
}

/// Forwards with live ports until SIGINT/SIGTERM or the deadline, printing
/// a rate line every `interval`.
fn run_live(
    kind: BackendKind,
    resolved: &cnfwd_config::Resolved,
    opts: LiveOptions,
    quiet: bool,
    stop: &AtomicBool,
) -> Result<LiveReport, RunError> {
    let mut last: Option<Tick> = None;
    let on_tick = |t: &Tick| {
        if !quiet {
            print_rates(last.as_ref(), t);
        }
        last = Some(t.clone());
    };
    match kind {
        BackendKind::Dpdk => run_dpdk(resolved, &opts, stop, on_tick),
        _ => Ok(live::run_af_packet(resolved, &opts, stop, on_tick)?),
    }
}

/// One line of rates since the previous tick, with per-worker receive rates.
fn print_rates(prev: Option<&Tick>, t: &Tick) {
    let (rx, tx, dropped) = t.stats.totals();
    let (prx, ptx, pdrop, pt) = prev.map_or((0, 0, 0, Duration::ZERO), |p| {
        let (a, b, c) = p.stats.totals();
        (a, b, c, p.elapsed)
    });
    let dt = (t.elapsed - pt).as_secs_f64().max(1e-9);
    let per_worker: Vec<String> = t
        .workers
        .iter()
        .map(|w| {
            let before = prev
                .and_then(|p| p.workers.get(w.id))
                .map_or(0, |p| p.stats.totals().0);
            format!("w{} {:.0}", w.id, (w.stats.totals().0 - before) as f64 / dt)
        })
        .collect();
    println!(
        "cnfwd: {:>7.1} s  rx {:>10.0} pkt/s  tx {:>10.0} pkt/s  drop {:>10.0} pkt/s  [{}]  (totals rx {rx} tx {tx} drop {dropped})",
        t.elapsed.as_secs_f64(),
        (rx - prx) as f64 / dt,
        (tx - ptx) as f64 / dt,
        (dropped - pdrop) as f64 / dt,
        per_worker.join(", "),
    );
}

/// Starts EAL with `[dpdk] eal_args`, forwards on the DPDK ports until
/// SIGINT/SIGTERM or the deadline, then stops the ports and cleans EAL up.
#[cfg(feature = "dpdk")]
fn run_dpdk(
    resolved: &cnfwd_config::Resolved,
    opts: &LiveOptions,
    stop: &AtomicBool,
    on_tick: impl FnMut(&Tick),
) -> Result<LiveReport, RunError> {
    use dataplane::engine::cores;
    use dataplane::io::dpdk::{DpdkBackend, Eal};
    let topo = cores::Topology::system();
    let choice = cores::choose(
        &topo,
        &live::port_devices(resolved),
        resolved.engine.workers,
        &resolved.engine.cores,
        &cores::allowed_cores(&topo).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let eal = Eal::init(&resolved.dpdk_eal_args).map_err(|e| e.to_string())?;
    let report = {
        let queues = u16::try_from(choice.cores.len()).unwrap_or(u16::MAX);
        let backend = DpdkBackend::open(resolved, &eal, queues).map_err(|e| e.to_string())?;
        // Ports without a configured MAC use the device's.
        let macs = backend.port_macs();
        // One part (RX/TX queue pair of every port) per worker; the ports
        // are stopped and closed when the last worker drops its part.
        let driven = live::drive(backend.split(), macs, resolved, choice, opts, stop, on_tick);
        match driven {
            Err(LiveError::Stopped(phase)) => {
                // Still stop the ports and clean EAL up.
                eal.cleanup().map_err(|e| e.to_string())?;
                return Err(RunError::Stopped(phase));
            }
            other => other?,
        }
    };
    eal.cleanup().map_err(|e| e.to_string())?;
    Ok(report)
}

/// Without the `dpdk` feature there is no DPDK backend to run.
#[cfg(not(feature = "dpdk"))]
fn run_dpdk(
    _: &cnfwd_config::Resolved,
    _: &LiveOptions,
    _: &AtomicBool,
    _: impl FnMut(&Tick),
) -> Result<LiveReport, RunError> {
    Err(RunError::Failed("backend \"dpdk\": this cnfwd was built without DPDK support; rebuild with `cargo build --release --features dpdk` (needs libdpdk-dev)".to_string()))
}

/// One line per port for `check`: its device, MAC and, when the file named
/// the pod's attachment or resource, where the device was found.
fn describe_port(p: &ResolvedPort) -> String {
    let what = match &p.backend {
        PortBackend::Pcap { rx, tx } => format!(
            "pcap rx {} tx {}",
            rx.as_deref().unwrap_or("-"),
            tx.as_deref().unwrap_or("-")
        ),
        PortBackend::AfPacket { interface } => format!("af_packet interface {interface}"),
        PortBackend::Dpdk { device } => format!("dpdk device {device}"),
    };
    let mac = match (p.mac, &p.pod) {
        (Some(m), Some(o)) if o.mac_from_pod => format!("mac {m} (from network-status)"),
        (Some(m), _) => format!("mac {m}"),
        (None, _) => "mac of the device".to_string(),
    };
    let from = p
        .pod
        .as_ref()
        .map(|o| format!("\n    from {o}"))
        .unwrap_or_default();
    format!("  port {:?}: {what}, {mac}{from}", p.name)
}

fn generate_config(path: &Path, backend: GenBackend) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return fail(&format!("cannot read {}: {e}", path.display())),
    };
    let entries = match attachment::network_status_of_file(&text) {
        Ok(e) => e,
        Err(e) => return fail(&format!("{}: {e}", path.display())),
    };
    let backend = match backend {
        GenBackend::Dpdk => GenerateBackend::Dpdk,
        GenBackend::AfPacket => GenerateBackend::AfPacket,
    };
    match attachment::generate_config(&entries, &path.display().to_string(), backend) {
        Ok(toml) => {
            print!("{toml}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("cnfwd: {message}");
    ExitCode::FAILURE
}

/// Where each worker ran and what it did.
fn print_workers(l: &LiveReport) {
    println!("\n{}", l.cores.reason);
    println!(
        "{:<8} {:>6} {:>12} {:>12} {:>10}",
        "worker", "core", "rx", "tx", "idle %"
    );
    for w in &l.workers {
        let (rx, tx, _) = w.stats.totals();
        let idle = 100.0 * w.idle_rounds as f64 / w.rounds.max(1) as f64;
        let core = w.core.map_or("-".to_string(), |c| c.to_string());
        println!(
            "{:<8} {:>6} {:>12} {:>12} {:>10.1}",
            w.id, core, rx, tx, idle
        );
    }
}

fn print_summary(tables: &Tables, s: &Stats, secs: f64) {
    let (rx, tx, dropped) = s.totals();
    let mut out = std::io::stdout().lock();
    let copies = match (s.replicated, s.generated) {
        (0, 0) => String::new(),
        (r, 0) => format!(" (incl. {r} flood copies)"),
        (0, g) => format!(" (incl. {g} generated by cnfwd)"),
        (r, g) => format!(" (incl. {r} flood copies, {g} generated by cnfwd)"),
    };
    let _ = writeln!(
        out,
        "cnfwd: {rx} packets received, {tx} frames sent{copies}, {dropped} dropped, in {secs:.3} s"
    );
    let row = |out: &mut std::io::StdoutLock,
               name: &str,
               rx: &dyn std::fmt::Display,
               tx: &dyn std::fmt::Display,
               dropped: &dyn std::fmt::Display| {
        let _ = writeln!(out, "{name:<20} {rx:>12} {tx:>12} {dropped:>12}");
    };
    let _ = writeln!(out);
    row(&mut out, "port", &"rx", &"tx", &"dropped");
    for (p, c) in tables.ports.iter().zip(&s.ports) {
        row(
            &mut out,
            &p.name,
            &c.rx_packets,
            &c.tx_packets,
            &c.dropped(),
        );
    }
    let _ = writeln!(out);
    row(&mut out, "network", &"rx", &"tx", &"dropped");
    for (n, c) in tables.networks.iter().zip(&s.networks) {
        row(
            &mut out,
            &n.name,
            &c.rx_packets,
            &c.tx_packets,
            &c.dropped(),
        );
        for (&reason, &count) in DropReason::ALL.iter().zip(c.drops.iter()) {
            if count > 0 {
                let _ = writeln!(out, "  {:<18} {:>12}", reason.name(), count);
            }
        }
    }
    if s.slow.0.iter().any(|&c| c > 0) {
        let _ = writeln!(out, "\n{:<20} {:>12}  meaning", "slow path", "count");
        for &c in dataplane::slow::SlowCounter::ALL {
            let n = s.slow.get(c);
            if n > 0 {
                let _ = writeln!(out, "{:<20} {:>12}  {}", c.name(), n, c.description());
            }
        }
    }
    let drops = s.drops();
    if drops.iter().any(|&d| d > 0) {
        let _ = writeln!(out, "\n{:<20} {:>12}  meaning", "drop reason", "count");
        for (&reason, &count) in DropReason::ALL.iter().zip(drops.iter()) {
            if count > 0 {
                let _ = writeln!(
                    out,
                    "{:<20} {:>12}  {}",
                    reason.name(),
                    count,
                    reason.description()
                );
            }
        }
    }
}

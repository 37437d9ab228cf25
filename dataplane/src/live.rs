//! The live mode: `cnfwd run` on AF_PACKET or DPDK ports.
//!
//! Opens the ports with one queue per worker, builds the first snapshot
//! (ports without a configured MAC use the device's), chooses the worker
//! cores ([`crate::engine::cores`]), runs the engine ([`workers::run`]) and,
//! on the calling thread, the control loop: it watches the stop flag
//! (SIGINT/SIGTERM) and the deadline, reports rates every interval and
//! frees retired snapshots. When it returns, every worker has flushed its
//! TX queues and its counters are final. Beside it: the metrics listener
//! with its probes (`/healthz`, `/readyz`) and, when `NOTIFY_SOCKET` is
//! set, the systemd notifier (`crate::control::{health, notify}`).
//!
//! Before the workers start it logs, once, what it runs (`info` events:
//! the start-up banner): the version, the worker cores, every port with
//! its device, MAC, link and queues, the socket path(s) and the metrics
//! address. The management socket serves cnfwd's commands and DPDK's
//! `/ethdev/*` and `/eal/*` endpoints (`crate::control::ethdev`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::path::PathBuf;

use arc_swap::ArcSwap;
use cnfwd_config::{BackendKind, Config, PortBackend, Resolved, ResolvedIdle};

use crate::control::commands::{Commands, ControlState};
use crate::control::ethdev::{self, Ethdev};
use crate::control::health::Health;
use crate::control::metrics::Endpoints;
use crate::control::metrics::ProcessMetrics;
use crate::control::notify::{self, Notifier, RunNotifier};
use crate::control::{metrics, GroupSpec, MetricsServer, ReadAccess, Server, ServerConfig};
use crate::control::{CommandInfo, Handler, ServerStats};
use crate::engine::cores::{self, CoreChoice, PortDevice, Topology};
use crate::engine::snapshot::Snapshots;
use crate::engine::workers::{self, EngineHandle, EngineOptions, IdlePolicy, WorkerSample};
use crate::io::afpacket::{AfPacketBackend, RingConfig};
use crate::io::{Backend, DeviceTelemetry};
use crate::stats::Stats;
use crate::tables::Tables;

/// Why a live run could not start or ended in an error.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Opening the ports failed.
    #[error("{0}")]
    Open(String),
    /// The first snapshot could not be built.
    #[error(transparent)]
    Tables(#[from] crate::tables::TablesError),
    /// No cores for the workers.
    #[error(transparent)]
    Cores(#[from] cores::CoreError),
    /// A worker failed.
    #[error(transparent)]
    Engine(#[from] workers::EngineError),
    /// The configuration has no live ports.
    #[error("no af_packet or dpdk ports to run")]
    NoPorts,
    /// The management socket or metrics endpoint could not be set up.
    #[error("{0}")]
    Control(#[from] crate::control::ControlError),
    /// The stop flag was set before forwarding began (the phase it cut
    /// short, e.g. `building the forwarding tables`); nothing was left
    /// behind (the socket file is removed).
    #[error("stopped while {0}")]
    Stopped(&'static str),
}

/// How a live run is driven.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// Stop after this long (None: until `stop`).
    pub duration: Option<Duration>,
    /// Report rates this often (None: never).
    pub interval: Option<Duration>,
    /// The configuration as written (for `/config` and `/config/save`).
    pub config: Option<Config>,
    /// The file it came from (`/config/save` writes there).
    pub config_path: Option<PathBuf>,
    /// Serve the management socket here instead of `[control] socket`.
    pub socket: Option<PathBuf>,
}

/// One rate report.
#[derive(Debug, Clone)]
pub struct Tick {
    /// Time since the start.
    pub elapsed: Duration,
    /// Counters so far, summed over workers.
    pub stats: Stats,
    /// Each worker's sample.
    pub workers: Vec<WorkerSample>,
}

/// What a live run ends with.
#[derive(Debug)]
pub struct LiveReport {
    /// The tables in force at the end (names for the stats).
    pub tables: Tables,
    /// Final counters.
    pub stats: Stats,
    /// Each worker's final sample.
    pub workers: Vec<WorkerSample>,
    /// How the cores were chosen.
    pub cores: CoreChoice,
}

/// Engine options from the configuration and the chosen cores.
pub fn engine_options(r: &Resolved, cores: &CoreChoice) -> EngineOptions {
    EngineOptions {
        burst: r.burst_size,
        idle: match r.engine.idle {
            ResolvedIdle::Busy => IdlePolicy::Busy,
            ResolvedIdle::Adaptive {
                empty_polls,
                sleep_us,
            } => IdlePolicy::Adaptive {
                empty_polls,
                sleep: Duration::from_micros(u64::from(sleep_us)),
            },
        },
        cores: cores.cores.iter().map(|&c| Some(c)).collect(),
        ..EngineOptions::default()
    }
}

/// The ring geometry of `[af_packet]`.
pub fn ring_config(r: &Resolved) -> RingConfig {
    RingConfig {
        block_size: r.af_packet.block_size,
        block_count: r.af_packet.block_count,
        block_timeout_ms: r.af_packet.block_timeout_ms,
        ..RingConfig::default()
    }
}

/// Where each port's device is, for choosing cores: a configured
/// `numa_node` wins; then the interface or PCI device in sysfs.
pub fn port_devices(r: &Resolved) -> Vec<PortDevice> {
    r.ports
        .iter()
        .map(|p| match (p.numa_node, &p.backend) {
            (Some(n), _) => PortDevice::Node(n),
            (None, PortBackend::AfPacket { interface }) => PortDevice::Interface(interface.clone()),
            (None, PortBackend::Dpdk { device }) if is_pci_address(device) => {
                PortDevice::Pci(device.clone())
            }
            _ => PortDevice::Unknown,
        })
        .collect()
}

/// `dddd:bb:dd.f` (or `bb:dd.f`): a PCI address rather than a vdev string.
fn is_pci_address(s: &str) -> bool {
    let hex = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = s.split(':').collect();
    let (bus, devfn) = match parts.as_slice() {
        [dom, bus, devfn] if hex(dom, 4) => (*bus, *devfn),
        [bus, devfn] => (*bus, *devfn),
        _ => return false,
    };
    let Some((dev, func)) = devfn.split_once('.') else {
        return false;
    };
    hex(bus, 2)
        && hex(dev, 2)
        && func.len() == 1
        && func.bytes().all(|b| (b'0'..=b'7').contains(&b))
}

/// Runs the AF_PACKET ports of `r` until `stop` is set or the duration
/// ends, calling `on_tick` every interval.
pub fn run_af_packet(
    r: &Resolved,
    opts: &LiveOptions,
    stop: &AtomicBool,
    on_tick: impl FnMut(&Tick),
) -> Result<LiveReport, LiveError> {
    let topo = Topology::system();
    let choice = cores::choose(
        &topo,
        &port_devices(r),
        r.engine.workers,
        &r.engine.cores,
        &cores::allowed_cores(&topo)?,
    )?;
    if stop.load(Ordering::Relaxed) {
        return Err(LiveError::Stopped("opening the ports"));
    }
    let backend = AfPacketBackend::open_with(r, choice.cores.len(), ring_config(r))
        .map_err(|e| LiveError::Open(e.to_string()))?;
    let macs = backend.port_macs();
    let backends = backend.split();
    drive(backends, macs, r, choice, opts, stop, on_tick)
}

/// The management socket settings of `r` (`socket` overrides the path).
pub fn server_config(r: &Resolved, socket: Option<&std::path::Path>) -> ServerConfig {
    let c = &r.control;
    let group = |g: &Option<String>| {
        g.as_deref()
            .map(|g| g.parse::<GroupSpec>().unwrap_or_else(|e| match e {}))
    };
    ServerConfig {
        path: socket.map_or_else(|| PathBuf::from(&c.socket), PathBuf::from),
        dpdk_path: c
            .dpdk_telemetry_prefix
            .as_deref()
            .map(crate::control::socket::dpdk_telemetry_path),
        mode: if c.read_anyone { 0o666 } else { 0o660 },
        max_clients: c.max_clients as usize,
        idle_timeout: Some(Duration::from_secs(c.client_idle_timeout_s.into())),
        stall_timeout: Some(Duration::from_secs(c.client_stall_timeout_s.into())),
        write_group: group(&c.write_group),
        read_access: match (c.read_anyone, group(&c.read_group)) {
            (true, _) => ReadAccess::Anyone,
            (false, Some(g)) => ReadAccess::Group(g),
            (false, None) => ReadAccess::Writers,
        },
        ..ServerConfig::default()
    }
}

/// Runs already-opened backends (one per worker); ports without a
/// configured MAC use `device_macs`.
pub fn drive<B: Backend + Send>(
    backends: Vec<B>,
    device_macs: Vec<Option<[u8; 6]>>,
    r: &Resolved,
    choice: CoreChoice,
    opts: &LiveOptions,
    stop: &AtomicBool,
    on_tick: impl FnMut(&Tick),
) -> Result<LiveReport, LiveError> {
    drive_with(backends, device_macs, r, choice, opts, stop, on_tick, None)
}

/// [`drive`], with the ports' devices for the `/ethdev/*` endpoints and
/// the banner (DPDK: [`crate::io::dpdk::DpdkTelemetry`]); without them
/// those answer from cnfwd's counters.
#[allow(clippy::too_many_arguments)]
pub fn drive_with<B: Backend + Send>(
    backends: Vec<B>,
    device_macs: Vec<Option<[u8; 6]>>,
    r: &Resolved,
    choice: CoreChoice,
    opts: &LiveOptions,
    stop: &AtomicBool,
    mut on_tick: impl FnMut(&Tick),
    devices: Option<&dyn DeviceTelemetry>,
) -> Result<LiveReport, LiveError> {
    if backends.is_empty() {
        return Err(LiveError::NoPorts);
    }
    let tables = build_tables(r, &device_macs, stop)?;
    // Bound before the workers start: a socket that cannot be served is a
    // start-up error, not a surprise later.
    let mut server = if r.control.enabled || opts.socket.is_some() {
        Some(Server::bind(&server_config(r, opts.socket.as_deref()))?)
    } else {
        None
    };
    let mut state = ControlState::new(
        opts.config.clone().unwrap_or_default(),
        r.clone(),
        opts.config_path.clone(),
        device_macs,
    );
    let mut snapshots = Snapshots::new(tables);
    let mut eopts = engine_options(r, &choice);
    eopts.test_stall = workers::TestStall::from_env();
    let queues = backends.len();
    log_banner(
        r,
        &snapshots.current(),
        &choice,
        queues,
        server.as_ref().map(|s| s.paths()).unwrap_or_default(),
        devices,
    );
    let started = Instant::now();
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let deadline = opts.duration.map(|d| started + d);
    let control_stats = Arc::new(Mutex::new(server.as_ref().map(|s| s.stats())));
    let outcome = workers::run(backends, &mut snapshots, &eopts, |h, snaps| {
        let _metrics = match r.metrics_listen {
            None => None,
            Some(addr) => {
                let process = {
                    let control = control_stats.clone();
                    let capture = Arc::clone(h.capture());
                    move || ProcessMetrics {
                        uptime: started.elapsed(),
                        started_unix,
                        control: *control.lock().unwrap_or_else(|e| e.into_inner()),
                        capture: capture.totals(),
                    }
                };
                Some(MetricsServer::serve(
                    addr,
                    http_endpoints(h, snaps.shared(), r, process),
                )?)
            }
        };
        // Dropped before `_metrics`: STOPPING=1 as soon as the loop ends.
        let _notify = run_notifier(h, r);
        let mut ctl = Control {
            h,
            snaps,
            state: &mut state,
            server: server.as_mut(),
            devices,
            all_commands: Vec::new(),
            control_stats: &control_stats,
        };
        ctl.run(started, deadline, opts.interval, stop, &mut on_tick);
        Ok::<(), LiveError>(())
    })?;
    outcome.control?;
    Ok(LiveReport {
        tables: Tables::clone(&snapshots.current()),
        stats: outcome.stats,
        workers: outcome.workers,
        cores: choice,
    })
}

/// [`Tables::build`] on a helper thread (a million routes take seconds),
/// abandoned when `stop` is set meanwhile: the caller returns at once with
/// [`LiveError::Stopped`] and the process ends (the thread holds nothing
/// but memory).
fn build_tables(
    r: &Resolved,
    device_macs: &[Option<[u8; 6]>],
    stop: &AtomicBool,
) -> Result<Tables, LiveError> {
    const PHASE: &str = "building the forwarding tables";
    if stop.load(Ordering::Relaxed) {
        return Err(LiveError::Stopped(PHASE));
    }
    let (owned, macs) = (r.clone(), device_macs.to_vec());
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spawned = std::thread::Builder::new()
        .name("cnfwd-tables".into())
        .spawn(move || {
            let _ = tx.send(Tables::build(&owned, &macs));
        });
    if spawned.is_err() {
        // No thread to spare: build here, not interruptible.
        return Ok(Tables::build(r, device_macs)?);
    }
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(t) => return Ok(t?),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if stop.load(Ordering::Relaxed) {
                    return Err(LiveError::Stopped(PHASE));
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(LiveError::Open(
                    "building the forwarding tables failed unexpectedly".into(),
                ))
            }
        }
    }
}

/// The start-up banner (module doc): `info` events, one per fact.
fn log_banner(
    r: &Resolved,
    t: &Tables,
    choice: &CoreChoice,
    queues: usize,
    sockets: Vec<&std::path::Path>,
    devices: Option<&dyn DeviceTelemetry>,
) {
    let cores: Vec<String> = choice.cores.iter().map(|c| c.to_string()).collect();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        ports = r.ports.len(),
        workers = queues,
        cores = %cores.join(","),
        "cnfwd {} starting: {} port(s), {} worker(s) on core(s) {}",
        env!("CARGO_PKG_VERSION"),
        r.ports.len(),
        queues,
        cores.join(","),
    );
    for (i, p) in r.ports.iter().enumerate() {
        let mac = t
            .ports
            .get(i)
            .map_or_else(String::new, |e| cnfwd_config::MacAddr(e.mac).to_string());
        // (state, speed in Mb/s when known)
        let (backend, device, (link, speed)) = match &p.backend {
            PortBackend::AfPacket { interface } => {
                let sys = |f: &str| {
                    std::fs::read_to_string(format!("/sys/class/net/{interface}/{f}"))
                        .map(|s| s.trim().to_owned())
                };
                let state = sys("operstate").unwrap_or_else(|_| "unknown".into());
                let speed = sys("speed").ok().and_then(|s| s.parse::<u64>().ok());
                ("af_packet", interface.clone(), (state, speed))
            }
            PortBackend::Dpdk { device } => (
                "dpdk",
                device.clone(),
                devices
                    .and_then(|d| d.link_status(i as u16))
                    .and_then(|l| {
                        let status = l["status"].as_str()?.to_lowercase();
                        Some((status, l["speed"].as_u64()))
                    })
                    .unwrap_or_else(|| ("unknown".into(), None)),
            ),
            PortBackend::Pcap { rx, .. } => {
                ("pcap", rx.clone().unwrap_or_default(), ("up".into(), None))
            }
        };
        let link_text = match speed {
            Some(s) => format!("{link} {s} Mb/s"),
            None => link.clone(),
        };
        tracing::info!(
            port = %p.name,
            port_id = i,
            backend,
            device = %device,
            mac = %mac,
            link = %link,
            speed_mbps = speed,
            mtu = p.mtu,
            queues,
            "port {} (id {i}): {backend} {device}, MAC {mac}, link {link_text}, MTU {}, {queues} RX/TX queue(s)",
            p.name,
            p.mtu,
        );
    }
    for s in &sockets {
        tracing::info!(socket = %s.display(), "management socket {}", s.display());
    }
    if sockets.is_empty() {
        tracing::info!("management socket: none ([control] enabled = false)");
    }
    match r.metrics_listen {
        Some(a) => tracing::info!(metrics = %a, "metrics on http://{a}/metrics"),
        None => tracing::info!("metrics: none (no metrics_listen)"),
    }
}

/// `/metrics`, `/healthz` and `/readyz` of the running engine.
fn http_endpoints(
    h: &EngineHandle,
    tables: Arc<ArcSwap<Tables>>,
    r: &Resolved,
    process: impl Fn() -> ProcessMetrics + Send + Sync + 'static,
) -> Endpoints {
    let stall = Duration::from_millis(u64::from(r.engine.stall_timeout_ms));
    let ports = Arc::new(r.ports.clone());
    let health = {
        let (h, tables, ports) = (h.clone(), tables.clone(), ports);
        move || {
            let t = tables.load();
            Health::now(&h, (t.generation, t.published), &ports, stall)
        }
    };
    let health = Arc::new(health);
    let (live, ready) = (health.clone(), health);
    let h = h.clone();
    Endpoints::new(move || {
        let workers: Vec<metrics::WorkerMetrics> = h
            .workers()
            .iter()
            .map(|w| {
                let (rx, tx, _) = w.stats.totals();
                metrics::WorkerMetrics {
                    id: w.id,
                    core: w.core,
                    rx_packets: rx,
                    tx_packets: tx,
                    busy_polls: w.rounds - w.idle_rounds,
                    idle_polls: w.idle_rounds,
                }
            })
            .collect();
        metrics::render_with(&h.stats(), &tables.load(), &workers, Some(&process()))
    })
    .healthz(move || live().liveness())
    .readyz(move || ready().readiness())
}

/// The systemd notifier of a live run, when `NOTIFY_SOCKET` asks for one
/// (a notifier that cannot be set up is reported, not fatal).
fn run_notifier(h: &EngineHandle, r: &Resolved) -> Option<RunNotifier> {
    let stall = Duration::from_millis(u64::from(r.engine.stall_timeout_ms));
    let started = Notifier::from_env()?.and_then(|n| RunNotifier::start(n, h.clone(), stall));
    started
        .map_err(|e| tracing::warn!(error = %e, "{}: {e}; not notifying", notify::NOTIFY_SOCKET))
        .ok()
}

/// The control thread: the engine, the snapshots, the command state and
/// the socket.
struct Control<'a> {
    h: &'a EngineHandle,
    snaps: &'a mut Snapshots,
    state: &'a mut ControlState,
    server: Option<&'a mut Server>,
    /// The ports' devices (DPDK), for `/ethdev/*`.
    devices: Option<&'a dyn DeviceTelemetry>,
    /// cnfwd's commands and the ethdev ones (built at the first poll).
    all_commands: Vec<CommandInfo>,
    /// The socket's counters, for `/metrics` (refreshed every second).
    control_stats: &'a Mutex<Option<ServerStats>>,
}

impl Control<'_> {
    /// Until stopped: serve the socket, tick, sample rates, free retired
    /// snapshots. Never waits longer than 20 ms between checks of `stop`.
    fn run(
        &mut self,
        started: Instant,
        deadline: Option<Instant>,
        interval: Option<Duration>,
        stop: &AtomicBool,
        on_tick: &mut impl FnMut(&Tick),
    ) {
        let mut next_tick = interval.map(|i| started + i);
        let mut next_sample = started + Duration::from_secs(1);
        loop {
            let now = Instant::now();
            if stop.load(Ordering::Relaxed)
                || self.h.stopping()
                || deadline.is_some_and(|d| now >= d)
            {
                return;
            }
            if let (Some(t), Some(i)) = (next_tick, interval) {
                if now >= t {
                    on_tick(&Tick {
                        elapsed: now - started,
                        stats: self.h.stats(),
                        workers: self.h.workers(),
                    });
                    next_tick = Some(t + i);
                }
            }
            if now >= next_sample {
                self.state.sample(self.h);
                if let Some(s) = self.server.as_deref() {
                    *self.control_stats.lock().unwrap_or_else(|e| e.into_inner()) = Some(s.stats());
                }
                next_sample = now + Duration::from_secs(1);
            }
            self.snaps.reclaim();
            self.state.pump_neighbors(self.h);
            // Short, so that a learned neighbour reaches the workers (and
            // their held packets leave) within a few milliseconds.
            let mut wake = now + Duration::from_millis(2);
            for t in [deadline, next_tick].into_iter().flatten() {
                wake = wake.min(t);
            }
            let wait = wake.saturating_duration_since(Instant::now());
            match self.server.as_deref_mut() {
                Some(server) => {
                    let mut commands = Commands {
                        state: self.state,
                        engine: self.h,
                        snapshots: self.snaps,
                    };
                    if self.all_commands.is_empty() {
                        self.all_commands = ethdev::all_commands(commands.commands());
                    }
                    let mut handler = Ethdev {
                        commands: &mut commands,
                        all: &self.all_commands,
                        devices: self.devices,
                    };
                    if let Err(e) = server.poll(wait, &mut handler) {
                        static POLL_ERRORS: crate::log_limit::LogEvery =
                            crate::log_limit::LogEvery::new();
                        if let Some(n) = POLL_ERRORS.tick() {
                            tracing::error!(error = %e, occurrences = n, "management socket: {e}");
                        }
                        std::thread::sleep(wait);
                    }
                }
                None => std::thread::sleep(wait),
            }
        }
    }
}

/// The backend kind of a configuration's ports (validation makes them all
/// the same).
pub fn backend_kind(r: &Resolved) -> Option<BackendKind> {
    r.ports.first().map(|p| p.backend.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_addresses_are_told_from_vdevs() {
        assert!(is_pci_address("0000:3b:02.0"));
        assert!(is_pci_address("3b:02.7"));
        assert!(!is_pci_address("net_pcap0,rx_pcap=x.pcap"));
        assert!(!is_pci_address("0000:3b:02.8"));
        assert!(!is_pci_address("net_ring0"));
    }
}

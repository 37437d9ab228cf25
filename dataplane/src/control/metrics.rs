//! Prometheus metrics: the text exposition format (version 0.0.4) of
//! cnfwd's counters, and a tiny HTTP/1.1 server for `GET /metrics` and the
//! probes `GET /healthz` and `GET /readyz` (see [`super::health`] for what
//! they check; [`MetricsServer::serve`]).
//!
//! Metric families (all counters unless said otherwise):
//!
//! | name | labels |
//! | --- | --- |
//! | `cnfwd_port_{rx,tx}_{packets,bytes}_total` | `port` |
//! | `cnfwd_port_drops_total` | `port`, `reason` (non-zero reasons only) |
//! | `cnfwd_network_{rx,tx}_{packets,bytes}_total` | `network`, `vlan` |
//! | `cnfwd_network_drops_total` | `network`, `reason` (non-zero reasons only) |
//! | `cnfwd_drops_total` | `reason` (every reason, zeros included) |
//! | `cnfwd_replicated_packets_total` | |
//! | `cnfwd_generated_packets_total` | |
//! | `cnfwd_port_rx_offload_total` | `port`, `kind` (`rx_csum_completed`, `rx_gso_segmented`, `rx_gso_segments`, `rx_offload_rejected`) |
//! | `cnfwd_port_link_up` (gauge) | `port` |
//! | `cnfwd_port_link_changes_total` | `port`, `change` (`went_down`, `went_gone`, `came_back`, `reopened`) |
//! | `cnfwd_slow_path_total` | `counter` (every slow-path counter, zeros included) |
//! | `cnfwd_worker_{rx,tx}_packets_total`, `cnfwd_worker_{busy,idle}_polls_total` | `worker`, `core` |
//! | `cnfwd_workers` (gauge) | |
//! | `cnfwd_port_device_total` | `port`, `counter` (what the device counted and cnfwd never saw: `kernel_drops` on AF_PACKET; `imissed`, `rx_nombuf`, `ierrors`, `oerrors` on DPDK) |
//! | `cnfwd_port_rx_missed_total` | `port` (frames lost before cnfwd: AF_PACKET `kernel_drops`, DPDK `imissed`; 0 for captures) |
//! | `cnfwd_build_info` (gauge, 1) | `version` |
//! | `cnfwd_uptime_seconds` (gauge) | |
//! | `cnfwd_capture_packets_total`, `cnfwd_capture_overflow_total` | |
//! | `cnfwd_start_time_seconds` (gauge, Unix time) | |
//! | `cnfwd_vrf_routes` (gauge) | `vrf`, `family` (`ipv4`, `ipv6`) |
//! | `cnfwd_control_clients` (gauge), `cnfwd_control_rejected_clients_total`, `cnfwd_control_refused_requests_total`, `cnfwd_control_requests_total`, `cnfwd_control_errors_total` | (with a management socket) |
//!
//! Every family has `# HELP` and `# TYPE` lines; label values are escaped
//! (`\\`, `\"`, `\n`). Per-port and per-network drop series appear on their
//! first drop (so a thousand networks do not make 23 thousand zero series);
//! `cnfwd_drops_total` always has every reason.

use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};

use crate::pipeline::drop::DropReason;
use crate::slow::SlowCounter;
use crate::stats::{Counters, Stats};
use crate::tables::Tables;

use super::ControlError;

/// One worker's counters, as the engine reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerMetrics {
    /// Worker index.
    pub id: usize,
    /// The core it is pinned to, if pinned.
    pub core: Option<usize>,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets transmitted.
    pub tx_packets: u64,
    /// Polls that received at least one packet.
    pub busy_polls: u64,
    /// Polls that received nothing.
    pub idle_polls: u64,
}

/// Facts about the process beside the packet counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessMetrics {
    /// Time since the forwarder started.
    pub uptime: Duration,
    /// When it started (since the Unix epoch).
    pub started_unix: Duration,
    /// The management socket's counters, when it serves one.
    pub control: Option<super::ServerStats>,
    /// Live capture: packets written and lost to full queues, over every
    /// capture of this run.
    pub capture: (u64, u64),
}

/// The exposition text for `stats` (names from `tables`; counters beyond the
/// tables' length are ignored) and `workers`, with `cnfwd_build_info` and
/// the routes per VRF but no process facts ([`render_with`] adds them).
pub fn render(stats: &Stats, tables: &Tables, workers: &[WorkerMetrics]) -> String {
    render_with(stats, tables, workers, None)
}

/// [`render`] plus the uptime, start time and management socket counters
/// of `process`.
pub fn render_with(
    stats: &Stats,
    tables: &Tables,
    workers: &[WorkerMetrics],
    process: Option<&ProcessMetrics>,
) -> String {
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "cnfwd_build_info",
        "Always 1; the version of this cnfwd in the label.",
        "gauge",
    );
    sample(
        &mut out,
        "cnfwd_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );
    if let Some(p) = process {
        family(
            &mut out,
            "cnfwd_uptime_seconds",
            "Seconds since the forwarder started.",
            "gauge",
        );
        sample(&mut out, "cnfwd_uptime_seconds", &[], p.uptime.as_secs());
        for (name, help, v) in [
            (
                "cnfwd_capture_packets_total",
                "Packets written to live capture files (capture start).",
                p.capture.0,
            ),
            (
                "cnfwd_capture_overflow_total",
                "Packets a live capture matched but lost: the worker's capture queue was full.",
                p.capture.1,
            ),
        ] {
            family(&mut out, name, help, "counter");
            sample(&mut out, name, &[], v);
        }
        family(
            &mut out,
            "cnfwd_start_time_seconds",
            "When the forwarder started, in seconds since the Unix epoch.",
            "gauge",
        );
        sample(
            &mut out,
            "cnfwd_start_time_seconds",
            &[],
            p.started_unix.as_secs(),
        );
        if let Some(c) = &p.control {
            control_metrics(&mut out, c);
        }
    }
    family(
        &mut out,
        "cnfwd_vrf_routes",
        "Routes in the VRF's FIB (connected, gateway and static), by address family.",
        "gauge",
    );
    for v in &tables.vrfs {
        sample(
            &mut out,
            "cnfwd_vrf_routes",
            &[("vrf", &v.name), ("family", "ipv4")],
            v.fib4.len() as u64,
        );
        sample(
            &mut out,
            "cnfwd_vrf_routes",
            &[("vrf", &v.name), ("family", "ipv6")],
            v.fib6.len() as u64,
        );
    }
    family(
        &mut out,
        "cnfwd_port_device_total",
        "What the port's device counted and cnfwd never saw as packets: kernel_drops (AF_PACKET ring full), imissed, rx_nombuf, ierrors, oerrors (DPDK rte_eth_stats).",
        "counter",
    );
    for (p, l) in tables.ports.iter().zip(&stats.link) {
        for (counter, n) in l.device.named() {
            sample(
                &mut out,
                "cnfwd_port_device_total",
                &[("port", &p.name), ("counter", counter)],
                n,
            );
        }
    }
    family(
        &mut out,
        "cnfwd_port_rx_missed_total",
        "Frames lost on receive before cnfwd saw them (AF_PACKET kernel ring drops, DPDK imissed).",
        "counter",
    );
    for (i, p) in tables.ports.iter().enumerate() {
        let missed = stats.link.get(i).map_or(0, |l| l.device.rx_missed());
        sample(
            &mut out,
            "cnfwd_port_rx_missed_total",
            &[("port", &p.name)],
            missed,
        );
    }
    type Field = fn(&Counters) -> u64;
    let fields: [(&str, &str, Field); 4] = [
        ("rx_packets", "Frames received", |c| c.rx_packets),
        ("rx_bytes", "Bytes of frames received", |c| c.rx_bytes),
        ("tx_packets", "Frames transmitted", |c| c.tx_packets),
        ("tx_bytes", "Bytes of frames transmitted", |c| c.tx_bytes),
    ];
    for (field, help, get) in fields {
        family(
            &mut out,
            &format!("cnfwd_port_{field}_total"),
            &format!("{help} on the port."),
            "counter",
        );
        for (p, c) in tables.ports.iter().zip(&stats.ports) {
            sample(
                &mut out,
                &format!("cnfwd_port_{field}_total"),
                &[("port", &p.name)],
                get(c),
            );
        }
    }
    family(
        &mut out,
        "cnfwd_port_drops_total",
        "Frames dropped, by ingress port and reason.",
        "counter",
    );
    for (p, c) in tables.ports.iter().zip(&stats.ports) {
        for (&r, &n) in DropReason::ALL.iter().zip(&c.drops) {
            if n != 0 {
                sample(
                    &mut out,
                    "cnfwd_port_drops_total",
                    &[("port", &p.name), ("reason", r.name())],
                    n,
                );
            }
        }
    }
    for (field, help, get) in fields {
        let name = format!("cnfwd_network_{field}_total");
        family(
            &mut out,
            &name,
            &format!("{help} on the network."),
            "counter",
        );
        for (n, c) in tables.networks.iter().zip(&stats.networks) {
            let vlan = n.vlan.to_string();
            sample(
                &mut out,
                &name,
                &[("network", &n.name), ("vlan", &vlan)],
                get(c),
            );
        }
    }
    family(
        &mut out,
        "cnfwd_network_drops_total",
        "Frames dropped, by network and reason.",
        "counter",
    );
    for (net, c) in tables.networks.iter().zip(&stats.networks) {
        for (&r, &n) in DropReason::ALL.iter().zip(&c.drops) {
            if n != 0 {
                sample(
                    &mut out,
                    "cnfwd_network_drops_total",
                    &[("network", &net.name), ("reason", r.name())],
                    n,
                );
            }
        }
    }
    family(
        &mut out,
        "cnfwd_drops_total",
        "Frames dropped, by reason (see `cnfwd drop-reasons`).",
        "counter",
    );
    let ports_len = tables.ports.len().min(stats.ports.len());
    let mut drops = [0u64; DropReason::COUNT];
    for c in &stats.ports[..ports_len] {
        for (a, b) in drops.iter_mut().zip(&c.drops) {
            *a += b;
        }
    }
    for (&r, &n) in DropReason::ALL.iter().zip(&drops) {
        sample(&mut out, "cnfwd_drops_total", &[("reason", r.name())], n);
    }
    family(
        &mut out,
        "cnfwd_replicated_packets_total",
        "Extra frames made by flooding (rx + replicated + generated = tx + dropped).",
        "counter",
    );
    sample(
        &mut out,
        "cnfwd_replicated_packets_total",
        &[],
        stats.replicated,
    );
    family(
        &mut out,
        "cnfwd_fragmented_packets_total",
        "IPv4 packets fragmented for a smaller egress MTU (RFC 1812 5.2.6).",
        "counter",
    );
    sample(
        &mut out,
        "cnfwd_fragmented_packets_total",
        &[],
        stats.fragmented,
    );
    family(
        &mut out,
        "cnfwd_fragments_total",
        "Fragments sent for them (rx + replicated + generated + fragments - fragmented = tx + dropped).",
        "counter",
    );
    sample(&mut out, "cnfwd_fragments_total", &[], stats.fragments);
    family(
        &mut out,
        "cnfwd_port_rx_offload_total",
        "Receive offloads honoured per port (AF_PACKET): checksums completed, GSO frames cut, segments made, frames refused.",
        "counter",
    );
    for (p, o) in tables.ports.iter().zip(&stats.offload) {
        for (kind, n) in o.named() {
            sample(
                &mut out,
                "cnfwd_port_rx_offload_total",
                &[("port", &p.name), ("kind", kind)],
                n,
            );
        }
    }
    family(
        &mut out,
        "cnfwd_port_link_up",
        "1 when every worker found the port's link up at its last check (AF_PACKET: interface up and running, not deleted); 0 when down or gone.",
        "gauge",
    );
    for (i, p) in tables.ports.iter().enumerate() {
        let up = stats.link_state(i) == crate::io::LinkState::Up;
        sample(
            &mut out,
            "cnfwd_port_link_up",
            &[("port", &p.name)],
            u64::from(up),
        );
    }
    family(
        &mut out,
        "cnfwd_port_link_changes_total",
        "Link changes per port: went_down, went_gone (interface deleted), came_back, reopened (on a re-created interface).",
        "counter",
    );
    for (p, l) in tables.ports.iter().zip(&stats.link) {
        for (change, n) in l.named() {
            sample(
                &mut out,
                "cnfwd_port_link_changes_total",
                &[("port", &p.name), ("change", change)],
                n,
            );
        }
    }
    family(
        &mut out,
        "cnfwd_generated_packets_total",
        "Frames cnfwd originated: ICMP errors, echo replies, ARP/NS requests, announcements, probes.",
        "counter",
    );
    sample(
        &mut out,
        "cnfwd_generated_packets_total",
        &[],
        stats.generated,
    );
    family(
        &mut out,
        "cnfwd_slow_path_total",
        "Slow-path events by counter (ARP/ND answered, errors sent or limited, neighbours learned, MAC moves...).",
        "counter",
    );
    for &c in SlowCounter::ALL {
        sample(
            &mut out,
            "cnfwd_slow_path_total",
            &[("counter", c.name())],
            stats.slow.get(c),
        );
    }

    family(&mut out, "cnfwd_workers", "Worker threads.", "gauge");
    sample(&mut out, "cnfwd_workers", &[], workers.len() as u64);
    type WField = fn(&WorkerMetrics) -> u64;
    let wfields: [(&str, &str, WField); 4] = [
        (
            "cnfwd_worker_rx_packets_total",
            "Packets received by the worker.",
            |w| w.rx_packets,
        ),
        (
            "cnfwd_worker_tx_packets_total",
            "Packets transmitted by the worker.",
            |w| w.tx_packets,
        ),
        (
            "cnfwd_worker_busy_polls_total",
            "Polls that received at least one packet.",
            |w| w.busy_polls,
        ),
        (
            "cnfwd_worker_idle_polls_total",
            "Polls that received nothing.",
            |w| w.idle_polls,
        ),
    ];
    for (name, help, get) in wfields {
        family(&mut out, name, help, "counter");
        for w in workers {
            let id = w.id.to_string();
            let core = w.core.map_or_else(|| "none".to_string(), |c| c.to_string());
            sample(&mut out, name, &[("worker", &id), ("core", &core)], get(w));
        }
    }
    out
}

fn control_metrics(out: &mut String, c: &super::ServerStats) {
    family(
        out,
        "cnfwd_control_clients",
        "Management socket clients connected now.",
        "gauge",
    );
    sample(out, "cnfwd_control_clients", &[], c.clients);
    type CField = fn(&super::ServerStats) -> u64;
    let counters: [(&str, &str, CField); 4] = [
        (
            "cnfwd_control_rejected_clients_total",
            "Management socket clients turned away because max_clients were connected.",
            |c| c.rejected_clients,
        ),
        (
            "cnfwd_control_refused_requests_total",
            "Management requests refused for lack of rights.",
            |c| c.refused,
        ),
        (
            "cnfwd_control_requests_total",
            "Management requests received (including bad ones).",
            |c| c.requests,
        ),
        (
            "cnfwd_control_errors_total",
            "Management error replies sent, for any reason.",
            |c| c.errors,
        ),
    ];
    for (name, help, get) in counters {
        family(out, name, help, "counter");
        sample(out, name, &[], get(c));
    }
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    // HELP text escapes only backslash and newline.
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            out.push_str(&escape_label(v));
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value escaped for the text format: `\` → `\\`, `"` → `\"`,
/// newline → `\n`.
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Largest request head read (bytes); beyond it the answer is 431.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// A connection must deliver its whole request head within this; a silent
/// or trickling one is closed then (it never delays anybody else).
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// A connection must take its whole answer within this.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Input read and discarded after answering an incomplete request.
const MAX_DRAIN: usize = 64 * 1024;
/// How long that draining may take.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);
/// How often the loop checks for shutdown.
const STOP_CHECK: Duration = Duration::from_millis(50);
/// Connections held open at once. When full, a new connection closes the
/// one that has waited longest for its request head; with none waiting for
/// one, new connections wait in the listen backlog.
const MAX_CONNECTIONS: usize = 256;

/// A probe's answer: `200 OK` when `ok`, else `503 Service Unavailable`;
/// `body` is plain text either way (one line per finding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Passing.
    pub ok: bool,
    /// Why (plain text, ends with a newline).
    pub body: String,
}

type Render = Box<dyn Fn() -> String + Send + Sync>;
type Check = Box<dyn Fn() -> Probe + Send + Sync>;

/// What the server answers: `/metrics` always, `/healthz` and `/readyz`
/// when given (404 otherwise).
pub struct Endpoints {
    metrics: Render,
    healthz: Option<Check>,
    readyz: Option<Check>,
}

impl Endpoints {
    /// `/metrics` answered with the text `metrics` returns.
    pub fn new(metrics: impl Fn() -> String + Send + Sync + 'static) -> Self {
        Endpoints {
            metrics: Box::new(metrics),
            healthz: None,
            readyz: None,
        }
    }

    /// `/healthz` answered by `check` (liveness).
    pub fn healthz(mut self, check: impl Fn() -> Probe + Send + Sync + 'static) -> Self {
        self.healthz = Some(Box::new(check));
        self
    }

    /// `/readyz` answered by `check` (readiness).
    pub fn readyz(mut self, check: impl Fn() -> Probe + Send + Sync + 'static) -> Self {
        self.readyz = Some(Box::new(check));
        self
    }
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("healthz", &self.healthz.is_some())
            .field("readyz", &self.readyz.is_some())
            .finish_non_exhaustive()
    }
}

/// The metrics and probes HTTP server: one thread that serves every
/// connection with non-blocking sockets and `poll(2)`, with
/// `Connection: close`, an 8 KiB request head that must arrive within 2 s
/// and an answer that must be taken within 5 s. A client that connects and
/// sends nothing (or half a request) costs one fd until its timeout and
/// delays nobody; at most 256 connections are held, a new one closing the
/// one that has waited longest for its request. `HEAD` answers like `GET`
/// without the body. Dropping it stops the thread and closes the listener
/// and every connection.
///
/// Why hand-written and single-threaded: three fixed `GET` endpoints, no
/// keep-alive, no request body. A thread per connection (the first design,
/// at most 8) let 8 silent clients hold every thread for their read
/// timeout, so a scrape waited seconds behind them; a poll loop has no such
/// cap. hyper needs an async runtime (tokio) for three endpoints.
/// `tiny_http` 0.12 was measured beside this server in one run
/// (`cargo run --release -p cnfwd-benches --example http_listener_compare`,
/// 127.0.0.1, a 64 KiB /metrics body, two runs): scrapes are no slower
/// (median 87-110 µs here, 176-179 µs with tiny_http), but 200 silent
/// clients took the process from 7 to 203 threads (tiny_http starts a pool
/// thread for every connection that blocks reading its head, with no head
/// timeout and no connection cap; here: 2 threads before and after), and
/// one client sending a 32 MiB request line without an end grew the
/// process by 32 MiB and got no answer (tiny_http buffers a header line
/// without a bound; here: no growth, `431` after 8 KiB). Bounding both would mean wrapping
/// its listener in the same accept and read-deadline logic as here.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `listen` (port 0: any free port, see
    /// [`MetricsServer::local_addr`]) and serves `GET /metrics` with the
    /// text `render` returns (200, `text/plain; version=0.0.4`); any other
    /// path is 404, another method 405.
    pub fn start(
        listen: SocketAddr,
        render: impl Fn() -> String + Send + Sync + 'static,
    ) -> Result<MetricsServer, ControlError> {
        Self::serve(listen, Endpoints::new(render))
    }

    /// Listens on `listen` and serves `endpoints`: `/metrics` (200,
    /// `text/plain; version=0.0.4`), `/healthz` and `/readyz` (200 or 503,
    /// `text/plain`, `Cache-Control: no-store`); any other path is 404, a
    /// method other than GET and HEAD 405.
    pub fn serve(listen: SocketAddr, endpoints: Endpoints) -> Result<MetricsServer, ControlError> {
        let listener = TcpListener::bind(listen)
            .map_err(|e| ControlError::io(format!("metrics: binding {listen}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| ControlError::io("metrics: local address", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| ControlError::io("metrics: non-blocking listener", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("cnfwd-metrics".into())
            .spawn(move || serve_loop(listener, flag, endpoints))
            .map_err(|e| ControlError::io("metrics: starting the thread", e))?;
        Ok(MetricsServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address actually listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Where a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the request head.
    Reading,
    /// Writing the answer.
    Writing,
    /// Answer sent, write side shut: discarding what the client still sends
    /// (closing with unread input would reset the connection and lose the
    /// answer).
    Draining,
}

struct Conn {
    stream: TcpStream,
    phase: Phase,
    /// When the current phase must be over.
    deadline: Instant,
    /// When it was accepted (eviction order).
    opened: Instant,
    head: Vec<u8>,
    /// The request head ended (else the answer is followed by draining).
    complete: bool,
    out: Vec<u8>,
    sent: usize,
    drained: usize,
}

/// What to do with a connection after some I/O.
enum Next {
    Keep,
    Close,
}

fn serve_loop(listener: TcpListener, stop: Arc<AtomicBool>, endpoints: Endpoints) {
    let mut conns: Vec<Conn> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let room = conns.len() < MAX_CONNECTIONS || conns.iter().any(|c| c.phase == Phase::Reading);
        let wait = conns
            .iter()
            .map(|c| c.deadline.saturating_duration_since(now))
            .fold(STOP_CHECK, Duration::min);
        let revents = {
            let mut fds = Vec::with_capacity(conns.len() + 1);
            let listen_ev = if room {
                PollFlags::POLLIN
            } else {
                PollFlags::empty()
            };
            fds.push(PollFd::new(listener.as_fd(), listen_ev));
            for c in &conns {
                let ev = match c.phase {
                    Phase::Writing => PollFlags::POLLOUT,
                    Phase::Reading | Phase::Draining => PollFlags::POLLIN,
                };
                fds.push(PollFd::new(c.stream.as_fd(), ev));
            }
            let ms = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            match nix::poll::poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(_) => fds
                    .iter()
                    .map(|f| f.revents().unwrap_or(PollFlags::empty()))
                    .collect::<Vec<_>>(),
                Err(Errno::EINTR) => vec![PollFlags::empty(); fds.len()],
                Err(e) => {
                    static POLL_ERRORS: crate::log_limit::LogEvery =
                        crate::log_limit::LogEvery::new();
                    if let Some(n) = POLL_ERRORS.tick() {
                        tracing::error!(error = %e, occurrences = n, "metrics: poll: {e}");
                    }
                    std::thread::sleep(STOP_CHECK);
                    continue;
                }
            }
        };
        let mut keep = Vec::with_capacity(conns.len());
        for (c, ev) in conns.drain(..).zip(&revents[1..]) {
            let mut c = c;
            let next = if ev.is_empty() {
                Next::Keep
            } else {
                step(&mut c, &endpoints, &mut buf)
            };
            if matches!(next, Next::Keep) && Instant::now() < c.deadline {
                keep.push(c);
            }
        }
        conns = keep;
        if revents[0].contains(PollFlags::POLLIN) {
            accept_all(&listener, &mut conns);
        }
    }
}

/// Accepts what the backlog holds, making room by closing the connection
/// that has waited longest for its request head.
fn accept_all(listener: &TcpListener, conns: &mut Vec<Conn>) {
    loop {
        if conns.len() >= MAX_CONNECTIONS {
            let oldest = conns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.phase == Phase::Reading)
                .min_by_key(|(_, c)| c.opened)
                .map(|(i, _)| i);
            match oldest {
                Some(i) => drop(conns.swap_remove(i)),
                None => return,
            }
        }
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                let now = Instant::now();
                conns.push(Conn {
                    stream,
                    phase: Phase::Reading,
                    deadline: now + READ_TIMEOUT,
                    opened: now,
                    head: Vec::new(),
                    complete: false,
                    out: Vec::new(),
                    sent: 0,
                    drained: 0,
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                // EMFILE and friends: the client stays in the backlog.
                static ACCEPT_ERRORS: crate::log_limit::LogEvery =
                    crate::log_limit::LogEvery::new();
                if let Some(n) = ACCEPT_ERRORS.tick() {
                    tracing::error!(error = %e, occurrences = n, "metrics: accept: {e}");
                }
                return;
            }
        }
    }
}

/// Does what a ready connection allows: read its head (and answer it), write
/// the answer, or drain.
fn step(c: &mut Conn, endpoints: &Endpoints, buf: &mut [u8]) -> Next {
    if c.phase == Phase::Reading {
        loop {
            if head_complete(&c.head) {
                c.complete = true;
                break;
            }
            if c.head.len() > MAX_REQUEST_HEAD {
                break;
            }
            match c.stream.read(buf) {
                Ok(0) => break,
                Ok(n) => c.head.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Next::Keep,
                Err(_) => return Next::Close,
            }
        }
        c.out = answer(&c.head, c.complete, endpoints);
        c.phase = Phase::Writing;
        c.deadline = Instant::now() + WRITE_TIMEOUT;
    }
    if c.phase == Phase::Writing {
        while c.sent < c.out.len() {
            match c.stream.write(&c.out[c.sent..]) {
                Ok(0) => return Next::Close,
                Ok(n) => c.sent += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Next::Keep,
                Err(_) => return Next::Close,
            }
        }
        if c.complete {
            return Next::Close;
        }
        if c.stream.shutdown(std::net::Shutdown::Write).is_err() {
            return Next::Close;
        }
        c.phase = Phase::Draining;
        c.deadline = Instant::now() + DRAIN_TIMEOUT;
    }
    // Draining.
    while c.drained < MAX_DRAIN {
        match c.stream.read(buf) {
            Ok(0) => return Next::Close,
            Ok(n) => c.drained += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Next::Keep,
            Err(_) => return Next::Close,
        }
    }
    Next::Close
}

fn head_complete(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

/// The whole HTTP answer (head and body) to a request head.
fn answer(head: &[u8], complete: bool, endpoints: &Endpoints) -> Vec<u8> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    let mut head_only = false;
    let mut extra = "";
    let (status, content_type, body) = if !complete && head.len() > MAX_REQUEST_HEAD {
        (
            "431 Request Header Fields Too Large",
            PLAIN,
            "request head too large\n".to_string(),
        )
    } else {
        let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = target.split('?').next().unwrap_or("");
        head_only = method == "HEAD";
        let probe = match path {
            "/healthz" => endpoints.healthz.as_ref(),
            "/readyz" => endpoints.readyz.as_ref(),
            _ => None,
        };
        match (method, path, probe) {
            ("GET" | "HEAD", "/metrics", _) => (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                (endpoints.metrics)(),
            ),
            ("GET" | "HEAD", _, Some(check)) => {
                let p = check();
                extra = "Cache-Control: no-store\r\n";
                let status = if p.ok {
                    "200 OK"
                } else {
                    "503 Service Unavailable"
                };
                (status, PLAIN, p.body)
            }
            ("GET" | "HEAD", _, None) => {
                let paths = match (&endpoints.healthz, &endpoints.readyz) {
                    (None, None) => "/metrics",
                    (Some(_), None) => "/metrics, /healthz",
                    (None, Some(_)) => "/metrics, /readyz",
                    (Some(_), Some(_)) => "/metrics, /healthz, /readyz",
                };
                ("404 Not Found", PLAIN, format!("not found: try {paths}\n"))
            }
            ("", _, _) => ("400 Bad Request", PLAIN, "bad request\n".to_string()),
            _ => {
                extra = "Allow: GET, HEAD\r\n";
                (
                    "405 Method Not Allowed",
                    PLAIN,
                    "only GET and HEAD\n".to_string(),
                )
            }
        }
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(addr: SocketAddr, method: &str, path: &str) -> (String, String) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        (head.to_string(), body.to_string())
    }

    #[test]
    fn probes_answer_200_or_503_in_plain_text_and_head_works() {
        let live = Arc::new(AtomicBool::new(true));
        let l = live.clone();
        let server = MetricsServer::serve(
            "127.0.0.1:0".parse().unwrap(),
            Endpoints::new(|| "cnfwd_workers 1\n".to_string())
                .healthz(move || {
                    let ok = l.load(Ordering::Relaxed);
                    Probe {
                        ok,
                        body: if ok { "ok\n" } else { "worker 1: stalled\n" }.into(),
                    }
                })
                .readyz(|| Probe {
                    ok: false,
                    body: "port p0: down\n".into(),
                }),
        )
        .unwrap();
        let addr = server.local_addr();
        let (head, body) = request(addr, "GET", "/healthz");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(
            head.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nCache-Control: no-store\r\n"), "{head}");
        assert_eq!(body, "ok\n");
        live.store(false, Ordering::Relaxed);
        let (head, body) = request(addr, "GET", "/healthz?verbose=1");
        assert!(
            head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{head}"
        );
        assert_eq!(body, "worker 1: stalled\n");
        // HEAD: the same status and length, no body.
        let (head, body) = request(addr, "HEAD", "/readyz");
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains("\r\nContent-Length: 14\r\n"), "{head}");
        assert_eq!(body, "");
        let (head, body) = request(addr, "HEAD", "/metrics");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("version=0.0.4"), "{head}");
        assert!(head.contains("\r\nContent-Length: 16\r\n"), "{head}");
        assert_eq!(body, "");
        let (_, body) = request(addr, "GET", "/metrics");
        assert_eq!(body, "cnfwd_workers 1\n");
        let (head, body) = request(addr, "POST", "/healthz");
        assert!(head.starts_with("HTTP/1.1 405 "), "{head}");
        assert!(head.contains("\r\nAllow: GET, HEAD\r\n"), "{head}");
        assert_eq!(body, "only GET and HEAD\n");
        let (head, body) = request(addr, "GET", "/livez");
        assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
        assert_eq!(body, "not found: try /metrics, /healthz, /readyz\n");
    }

    #[test]
    fn a_silent_client_does_not_hold_up_a_probe() {
        let server = MetricsServer::serve(
            "127.0.0.1:0".parse().unwrap(),
            Endpoints::new(String::new).healthz(|| Probe {
                ok: true,
                body: "ok\n".into(),
            }),
        )
        .unwrap();
        let addr = server.local_addr();
        let _silent = TcpStream::connect(addr).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let t = std::time::Instant::now();
        let (head, _) = request(addr, "GET", "/healthz");
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(t.elapsed() < READ_TIMEOUT, "waited {:?}", t.elapsed());
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
    }
}

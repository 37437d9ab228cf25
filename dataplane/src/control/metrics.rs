//! Prometheus metrics: the text exposition format (version 0.0.4) of
//! cnfwd's counters, and a tiny HTTP/1.1 server for `GET /metrics`.
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
//! | `cnfwd_slow_path_total` | `counter` (every slow-path counter, zeros included) |
//! | `cnfwd_worker_{rx,tx}_packets_total`, `cnfwd_worker_{busy,idle}_polls_total` | `worker`, `core` |
//! | `cnfwd_workers` (gauge) | |
//!
//! Every family has `# HELP` and `# TYPE` lines; label values are escaped
//! (`\\`, `\"`, `\n`). Per-port and per-network drop series appear on their
//! first drop (so a thousand networks do not make 23 thousand zero series);
//! `cnfwd_drops_total` always has every reason.

use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

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

/// The exposition text for `stats` (names from `tables`; counters beyond the
/// tables' length are ignored) and `workers`.
pub fn render(stats: &Stats, tables: &Tables, workers: &[WorkerMetrics]) -> String {
    let mut out = String::with_capacity(4096);
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
/// Per-connection read and write timeout: a slow scraper delays the next
/// one by at most this much.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Input read and discarded after answering an incomplete request.
const MAX_DRAIN: usize = 64 * 1024;
/// How often the accept loop checks for shutdown.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// The `/metrics` HTTP server, on its own thread. Connections are served
/// one at a time (`Connection: close`), each bounded by a 2 s read/write
/// timeout and an 8 KiB request head. Dropping it stops the thread and
/// closes the listener.
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
        render: impl Fn() -> String + Send + 'static,
    ) -> Result<MetricsServer, ControlError> {
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
            .spawn(move || serve(listener, flag, render))
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

fn serve(listener: TcpListener, stop: Arc<AtomicBool>, render: impl Fn() -> String) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = handle(stream, &render);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(STOP_CHECK),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("cnfwd: metrics: accept: {e}");
                std::thread::sleep(STOP_CHECK);
            }
        }
    }
}

fn handle(mut stream: TcpStream, render: &impl Fn() -> String) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let complete = loop {
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            break true;
        }
        if head.len() > MAX_REQUEST_HEAD {
            break false;
        }
        match stream.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    let (status, body) = if !complete && head.len() > MAX_REQUEST_HEAD {
        (
            "431 Request Header Fields Too Large",
            "request head too large\n".to_string(),
        )
    } else {
        let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = target.split('?').next().unwrap_or("");
        match (method, path) {
            ("GET", "/metrics") => ("200 OK", render()),
            ("GET", _) => ("404 Not Found", "not found: try /metrics\n".to_string()),
            ("", _) => ("400 Bad Request", "bad request\n".to_string()),
            _ => ("405 Method Not Allowed", "only GET\n".to_string()),
        }
    };
    let content_type = if status.starts_with("200") {
        "text/plain; version=0.0.4; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()?;
    if !complete {
        // Closing with unread input would reset the connection and lose
        // the answer: stop writing, then drain a bounded amount.
        stream.shutdown(std::net::Shutdown::Write)?;
        let mut drained = 0;
        while drained < MAX_DRAIN {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
    }
}

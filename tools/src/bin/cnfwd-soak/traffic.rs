//! The offered traffic: plain UDP from kernel sockets in the host
//! namespaces, paced in small batches (a few thousand packets per second
//! cost a few percent of a core).
//!
//! - **app -> srv** (80 %): 8 sockets (8 source ports, so the flows spread
//!   over both workers' fanout sockets) to the srv host's sink.
//! - **app -> CSN** (15 %): a pool of 32 sockets sending in turn to the four
//!   allowlisted endpoints and one denied address; every 250 ms two sockets
//!   are replaced by new ones (new source ports): new 5-tuples all along,
//!   admitted or denied by cnfwd's CSN stage, while the CSN host echoes the
//!   admitted ones back (replies go through the flow table) and old flows
//!   expire after the short UDP timeouts of the configuration.
//! - **probes** (5 %): to the newest churned /32 routes (198.18.0.0/16 via
//!   the srv host), forwarded when the route is in force, else taken by the
//!   default route to the CSN and denied there.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::lab::in_netns;
use crate::site::addr;

/// What the traffic threads did, shared with the report.
#[derive(Debug, Default)]
pub struct TrafficCounts {
    /// Datagrams sent app -> srv sink.
    pub sent_main: AtomicU64,
    /// Datagrams sent to allowlisted CSN endpoints.
    pub sent_allowed: AtomicU64,
    /// Datagrams sent to the denied address.
    pub sent_denied: AtomicU64,
    /// Datagrams sent to churned routes.
    pub sent_probe: AtomicU64,
    /// Sends the kernel refused (buffer full, no route yet).
    pub send_errors: AtomicU64,
    /// CSN sockets opened (each a new 5-tuple per destination).
    pub csn_sockets: AtomicU64,
    /// Datagrams the srv sink received.
    pub sink_received: AtomicU64,
    /// Datagrams the CSN host echoed.
    pub echoed: AtomicU64,
    /// Echoes received back on the app host.
    pub echo_replies: AtomicU64,
}

impl TrafficCounts {
    /// Every datagram the app host sent.
    pub fn sent(&self) -> u64 {
        self.sent_main.load(Ordering::Relaxed)
            + self.sent_allowed.load(Ordering::Relaxed)
            + self.sent_denied.load(Ordering::Relaxed)
            + self.sent_probe.load(Ordering::Relaxed)
    }
}

fn v4(a: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

fn parse(a: &str) -> Ipv4Addr {
    a.parse().expect("literal address")
}

fn bind(host: &str) -> std::io::Result<UdpSocket> {
    let s = UdpSocket::bind(SocketAddrV4::new(parse(host), 0))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// A traffic thread: the outer error is entering its namespace, the inner
/// one what it met while running.
pub type TrafficThread = JoinHandle<Result<Result<(), String>, String>>;

/// Starts the srv sink, the CSN echo and the app sender; each stops when
/// `stop` is set. `newest_route` is the index of the newest churned route.
pub fn start(
    app_ns: &str,
    srv_ns: &str,
    csn_ns: &str,
    rate: u64,
    counts: Arc<TrafficCounts>,
    newest_route: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
) -> Result<Vec<TrafficThread>, String> {
    let mut threads = Vec::new();
    let (c, s) = (counts.clone(), stop.clone());
    threads.push(in_netns(srv_ns, "soak-sink", move || sink(&c, &s))?);
    let (c, s) = (counts.clone(), stop.clone());
    threads.push(in_netns(csn_ns, "soak-echo", move || echo(&c, &s))?);
    threads.push(in_netns(app_ns, "soak-send", move || {
        send(rate, &counts, &newest_route, &stop)
    })?);
    Ok(threads)
}

fn sink(counts: &TrafficCounts, stop: &AtomicBool) -> Result<(), String> {
    let s = UdpSocket::bind(SocketAddrV4::new(parse(addr::SRV), addr::SINK_PORT))
        .map_err(|e| format!("sink bind: {e}"))?;
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        if s.recv_from(&mut buf).is_ok() {
            counts.sink_received.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

fn echo(counts: &TrafficCounts, stop: &AtomicBool) -> Result<(), String> {
    let socks = addr::ALLOWED
        .iter()
        .map(|a| UdpSocket::bind(SocketAddrV4::new(v4(*a), addr::CSN_PORT)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("echo bind: {e}"))?;
    for s in &socks {
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
    }
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let mut any = false;
        for s in &socks {
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                any = true;
                if s.send_to(&buf[..n], from).is_ok() {
                    counts.echoed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if !any {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    Ok(())
}

/// Sends one datagram; counts it in `ok` or as an error.
fn send_one(s: &UdpSocket, payload: &[u8], to: SocketAddrV4, ok: &AtomicU64, err: &AtomicU64) {
    match s.send_to(payload, to) {
        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
        Err(_) => err.fetch_add(1, Ordering::Relaxed),
    };
}

fn send(
    rate: u64,
    counts: &TrafficCounts,
    newest_route: &AtomicU32,
    stop: &AtomicBool,
) -> Result<(), String> {
    let main = (0..8)
        .map(|_| bind(addr::APP))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("app bind: {e}"))?;
    let mut pool = (0..32)
        .map(|_| bind(addr::APP))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("app bind: {e}"))?;
    counts.csn_sockets.fetch_add(32, Ordering::Relaxed);
    let probe = bind(addr::APP).map_err(|e| format!("app bind: {e}"))?;
    let sink = SocketAddrV4::new(parse(addr::SRV), addr::SINK_PORT);
    let payload = [0x5au8; 64];
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    let (mut n, mut next_churn, mut replace) = (0u64, Duration::from_millis(250), 0usize);
    while !stop.load(Ordering::Relaxed) {
        let elapsed = start.elapsed();
        let due = (rate as f64 * elapsed.as_secs_f64()) as u64;
        while n < due {
            match n % 20 {
                0..=15 => send_one(
                    &main[(n / 20 % 8) as usize],
                    &payload,
                    sink,
                    &counts.sent_main,
                    &counts.send_errors,
                ),
                16..=18 => {
                    let i = (n / 20) as usize;
                    let s = &pool[i % pool.len()];
                    let k = i / pool.len() % (addr::ALLOWED.len() + 1);
                    if k < addr::ALLOWED.len() {
                        let to = SocketAddrV4::new(v4(addr::ALLOWED[k]), addr::CSN_PORT);
                        send_one(s, &payload, to, &counts.sent_allowed, &counts.send_errors);
                    } else {
                        let to = SocketAddrV4::new(v4(addr::DENIED), addr::CSN_PORT);
                        send_one(s, &payload, to, &counts.sent_denied, &counts.send_errors);
                    }
                }
                _ => {
                    let i = newest_route.load(Ordering::Relaxed).saturating_sub(5);
                    let to = SocketAddrV4::new(crate::churn::route_addr(i), 9);
                    send_one(
                        &probe,
                        &payload,
                        to,
                        &counts.sent_probe,
                        &counts.send_errors,
                    );
                }
            }
            n += 1;
        }
        // Echoes coming back through cnfwd's flow table.
        for s in &pool {
            while s.recv_from(&mut buf).is_ok() {
                counts.echo_replies.fetch_add(1, Ordering::Relaxed);
            }
        }
        if elapsed >= next_churn {
            next_churn += Duration::from_millis(250);
            for _ in 0..2 {
                replace = (replace + 1) % pool.len();
                pool[replace] = bind(addr::APP).map_err(|e| format!("app bind: {e}"))?;
                counts.csn_sockets.fetch_add(1, Ordering::Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

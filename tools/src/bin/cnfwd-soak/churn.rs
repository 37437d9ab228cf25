//! Changes made to the running cnfwd through its management socket, as an
//! operator's tools would make them:
//!
//! - [`routes_and_applies`]: one writer connection adds and removes /32
//!   routes in 198.18.0.0/16 (via the srv host) at a paced rate, keeping a
//!   window of the newest routes installed (each add or delete is one
//!   change, one request, one published snapshot); every `apply_every` it
//!   sends `/config/apply` with the other configuration variant. An apply
//!   replaces the running configuration, so the routes added over the
//!   socket are gone after it: the writer checks with `/routes` that its
//!   window is in force before the apply and gone after it, then starts a
//!   new window. Any error reply is a failure. (It also counts applies whose
//!   summary's `routes_before` leaves the socket's routes out.)
//! - [`clients`]: short-lived clients, ~20 a second, each connecting,
//!   issuing one read command and disconnecting; one in six leaves without
//!   reading the reply and one in six before even reading the greeting.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dataplane::control::Client;
use nix::sys::socket::{
    connect, send, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr,
};
use serde_json::{json, Value};

use crate::site;

/// Routes of one window at most (the oldest is deleted before a new add).
const WINDOW: usize = 500;
/// Distinct /32s cycled through (the window never wraps onto itself).
const SPACE: u32 = 65_536;

/// The address of churned route `i` (198.18.0.0/16, cycled).
pub fn route_addr(i: u32) -> Ipv4Addr {
    let i = i % SPACE;
    Ipv4Addr::new(198, 18, (i >> 8) as u8, (i & 0xff) as u8)
}

/// What the churn threads did, shared with the report.
#[derive(Debug, Default)]
pub struct ChurnCounts {
    /// Routes added.
    pub route_adds: AtomicU64,
    /// Routes deleted.
    pub route_dels: AtomicU64,
    /// Slowest route change seen (microseconds, request to reply).
    pub route_max_us: AtomicU64,
    /// Sum of route change times (microseconds), for the mean.
    pub route_sum_us: AtomicU64,
    /// `/config/apply` requests that succeeded.
    pub applies: AtomicU64,
    /// Slowest apply (microseconds).
    pub apply_max_us: AtomicU64,
    /// Sum of apply times (microseconds), for the mean.
    pub apply_sum_us: AtomicU64,
    /// Applies whose `routes_before` left out the routes added over the
    /// socket since the previous apply (see the report).
    pub apply_summary_off: AtomicU64,
    /// Clients that connected, asked, read the reply and left.
    pub clients_complete: AtomicU64,
    /// Clients that left after sending a request, reply unread.
    pub clients_mid_request: AtomicU64,
    /// Clients that left before reading the greeting.
    pub clients_no_greeting: AtomicU64,
    /// Index of the newest route added (for the probe traffic).
    pub newest_route: Arc<AtomicU32>,
    /// Failures (error replies, unexpected route counts, connect errors).
    pub errors: AtomicU64,
    /// The first few failures, as text.
    pub first_errors: Mutex<Vec<String>>,
}

impl ChurnCounts {
    /// Records a failure.
    pub fn fail(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut f = self.first_errors.lock().unwrap_or_else(|p| p.into_inner());
        if f.len() < 10 {
            f.push(what);
        }
    }

    /// Route changes made (adds + deletes).
    pub fn route_changes(&self) -> u64 {
        self.route_adds.load(Ordering::Relaxed) + self.route_dels.load(Ordering::Relaxed)
    }
}

/// One timed request on `c`; an error reply or a socket error is a
/// failure (returned as text).
fn call(c: &mut Client, cmd: &str, params: Value) -> Result<(Value, u64), String> {
    let t = Instant::now();
    let r = c
        .call(cmd, Some(&params))
        .map_err(|e| format!("{cmd}: {e}"))?
        .map_err(|e| format!("{cmd} {params}: error reply: {e}"))?;
    Ok((r, t.elapsed().as_micros() as u64))
}

fn max(a: &AtomicU64, v: u64) {
    a.fetch_max(v, Ordering::Relaxed);
}

/// The route writer and config applier (runs until `stop`); see the module
/// doc. `rate` is route changes per second.
pub fn routes_and_applies(
    socket: &Path,
    configs: [String; 2],
    rate: u64,
    apply_every: Duration,
    counts: &ChurnCounts,
    stop: &AtomicBool,
) {
    let mut c = match Client::connect(socket, Duration::from_secs(10)) {
        Ok(c) => c,
        Err(e) => return counts.fail(format!("writer connect: {e}")),
    };
    let mut window: VecDeque<u32> = VecDeque::new();
    let (mut next, mut done, mut variant) = (0u32, 0u64, 0usize);
    let mut routes_after: Option<u64> = None;
    let start = Instant::now();
    let mut next_apply = start + apply_every;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next_apply {
            next_apply += apply_every;
            // The socket's routes are in force before the apply ...
            let extra_before = u64::from(variant == 1);
            expect_churned(
                &mut c,
                window.len() as u64 + extra_before,
                "before /config/apply",
                counts,
            );
            variant ^= 1;
            match call(&mut c, "/config/apply", json!({"toml": configs[variant]})) {
                Ok((r, us)) => {
                    counts.applies.fetch_add(1, Ordering::Relaxed);
                    max(&counts.apply_max_us, us);
                    counts.apply_sum_us.fetch_add(us, Ordering::Relaxed);
                    let before = r["routes_before"].as_u64();
                    if let (Some(after), Some(before)) = (routes_after, before) {
                        if before != after + window.len() as u64 {
                            counts.apply_summary_off.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    routes_after = r["routes_after"].as_u64();
                    window.clear();
                }
                Err(e) => counts.fail(e),
            }
            // ... and gone after it (the file has none of them).
            expect_churned(
                &mut c,
                u64::from(variant == 1),
                "after /config/apply",
                counts,
            );
            continue;
        }
        // Paced: at most `rate` changes per second since the start.
        let due = (rate as f64 * start.elapsed().as_secs_f64()) as u64;
        if done >= due {
            std::thread::sleep(Duration::from_micros(500));
            continue;
        }
        let (cmd, i) = if window.len() >= WINDOW {
            ("/route/del", window.pop_front().unwrap_or_default())
        } else {
            ("/route/add", next)
        };
        let mut params = json!({"vrf": site::VRF, "prefix": format!("{}/32", route_addr(i))});
        if cmd == "/route/add" {
            params["next_hop"] = json!(site::addr::SRV);
        }
        match call(&mut c, cmd, params) {
            Ok((_, us)) => {
                max(&counts.route_max_us, us);
                counts.route_sum_us.fetch_add(us, Ordering::Relaxed);
                if cmd == "/route/add" {
                    counts.route_adds.fetch_add(1, Ordering::Relaxed);
                    counts.newest_route.store(next, Ordering::Relaxed);
                    window.push_back(next);
                    next = next.wrapping_add(1);
                } else {
                    counts.route_dels.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                counts.fail(e);
                // Reconnect if the connection itself broke.
                if let Ok(n) = Client::connect(socket, Duration::from_secs(10)) {
                    c = n;
                }
            }
        }
        done += 1;
    }
}

/// Checks that VRF vrf1 has `n` routes inside 198.18.0.0/15 (the churned
/// /32s and variant 1's 198.19.0.0/16), as `/routes` lists them.
fn expect_churned(c: &mut Client, n: u64, when: &str, counts: &ChurnCounts) {
    let filter = json!({"vrf": site::VRF, "prefix": "198.18.0.0/15"});
    match call(c, "/routes", filter) {
        Ok((r, _)) => {
            // One page holds them all (at most 1,000 by default).
            let listed = r["total"].as_u64().unwrap_or(u64::MAX);
            if listed != n {
                counts.fail(format!(
                    "{when}: /routes lists {listed} routes in 198.18.0.0/15, expected {n}"
                ));
            }
        }
        Err(e) => counts.fail(e),
    }
}

/// The read commands short-lived clients issue, in turn.
const READS: [(&str, Option<&str>); 6] = [
    ("/health", None),
    ("/workers", None),
    (
        "/routes",
        Some(r#"{"vrf":"vrf1","prefix":"198.18.0.0/16"}"#),
    ),
    ("/stats", None),
    ("/csn/flows", None),
    ("/ports", None),
];

/// Short-lived clients until `stop` (see the module doc).
pub fn clients(socket: PathBuf, counts: &ChurnCounts, stop: &AtomicBool) {
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        n += 1;
        let (cmd, params) = READS[n % READS.len()];
        let request = match params {
            Some(p) => format!("{cmd},{p}"),
            None => cmd.to_string(),
        };
        match n % 6 {
            // Gone before the greeting: connect and close at once.
            0 => match raw_connect(&socket) {
                Ok(()) => {
                    counts.clients_no_greeting.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => counts.fail(format!("client connect: {e}")),
            },
            // Gone mid-request: send, then close without reading.
            3 => match Client::connect(&socket, Duration::from_secs(5)) {
                Ok(c) => {
                    match send(c.as_raw_fd(), request.as_bytes(), MsgFlags::MSG_NOSIGNAL) {
                        Ok(_) => counts.clients_mid_request.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            counts.fail(format!("client send {cmd}: {e}"));
                            0
                        }
                    };
                    drop(c);
                }
                Err(e) => counts.fail(format!("client connect: {e}")),
            },
            _ => match Client::connect(&socket, Duration::from_secs(5)) {
                Ok(mut c) => match c.request(&request) {
                    Ok(Ok(_)) => {
                        counts.clients_complete.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Err(e)) => counts.fail(format!("client {request}: error reply: {e}")),
                    Err(e) => counts.fail(format!("client {request}: {e}")),
                },
                Err(e) => counts.fail(format!("client connect: {e}")),
            },
        }
    }
}

/// Connects to the socket and closes at once (the greeting unread).
fn raw_connect(path: &Path) -> Result<(), String> {
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| e.to_string())?;
    let addr = UnixAddr::new(path).map_err(|e| e.to_string())?;
    connect(fd.as_raw_fd(), &addr).map_err(|e| e.to_string())
}

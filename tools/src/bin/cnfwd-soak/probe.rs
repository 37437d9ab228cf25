//! Liveness and readiness, asked the way Kubernetes asks: `GET /healthz`
//! and `GET /readyz` on cnfwd's metrics listener, from a thread inside the
//! router namespace (where the listener's 127.0.0.1 is), once a second.
//!
//! `/healthz` must always answer 200 (a failure means a stalled worker or a
//! failed engine). `/readyz` answers 503 while a worker has not yet picked
//! up the newest snapshot, which at 1,000 route changes a second is nearly
//! always the case at the instant of a probe (a worker is a few snapshots,
//! i.e. a few milliseconds, behind). So a not-ready answer fails the soak
//! only when it gives another reason, or a worker is more than
//! [`MAX_SNAPSHOT_LAG`] snapshots behind (a second of changes at
//! 1,000/s: as late as a stalled worker).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Snapshots a worker may be behind the newest at a probe.
pub const MAX_SNAPSHOT_LAG: u64 = 1000;

/// What the probes saw.
#[derive(Debug, Default)]
pub struct ProbeCounts {
    /// Probes made (each `/healthz` + `/readyz`).
    pub probes: AtomicU64,
    /// `/healthz` answers other than 200 (or no answer).
    pub healthz_failed: AtomicU64,
    /// `/readyz` answers other than 200.
    pub readyz_not_ready: AtomicU64,
    /// Longest run of consecutive not-ready answers.
    pub readyz_longest_streak: AtomicU64,
    /// Largest snapshot lag a not-ready answer reported.
    pub readyz_max_lag: AtomicU64,
    /// Not-ready answers for another reason than a lag, or a lag above
    /// [`MAX_SNAPSHOT_LAG`].
    pub readyz_failed: AtomicU64,
    /// The last failing answer's body.
    pub last_failure: Mutex<String>,
}

/// `GET path` on 127.0.0.1:`port`: (status, body).
fn get(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("send: {e}"))?;
    let mut text = String::new();
    s.read_to_string(&mut text)
        .map_err(|e| format!("read: {e}"))?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not HTTP: {text:?}"))?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((status, body))
}

/// `B - A` of a readiness line `...: on snapshot A, not B yet (...)`; None
/// for any other line.
fn snapshot_lag(line: &str) -> Option<u64> {
    let rest = line.split("on snapshot ").nth(1)?;
    let (a, rest) = rest.split_once(", not ")?;
    let (b, _) = rest.split_once(" yet")?;
    let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    b.checked_sub(a)
}

/// Probes until `stop` (call it on a thread inside the router namespace).
pub fn run(port: u16, counts: &ProbeCounts, stop: &AtomicBool) {
    let mut streak = 0u64;
    let note = |what: String| {
        *counts
            .last_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = what;
    };
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_secs(1));
        counts.probes.fetch_add(1, Ordering::Relaxed);
        match get(port, "/healthz") {
            Ok((200, _)) => {}
            Ok((code, body)) => {
                counts.healthz_failed.fetch_add(1, Ordering::Relaxed);
                note(format!("/healthz {code}: {}", body.trim()));
            }
            Err(e) => {
                counts.healthz_failed.fetch_add(1, Ordering::Relaxed);
                note(format!("/healthz: {e}"));
            }
        }
        match get(port, "/readyz") {
            Ok((200, _)) => streak = 0,
            other => {
                streak += 1;
                counts.readyz_not_ready.fetch_add(1, Ordering::Relaxed);
                counts
                    .readyz_longest_streak
                    .fetch_max(streak, Ordering::Relaxed);
                let acceptable = match &other {
                    Ok((503, body)) => body.lines().all(|l| match snapshot_lag(l) {
                        Some(lag) => {
                            counts.readyz_max_lag.fetch_max(lag, Ordering::Relaxed);
                            lag <= MAX_SNAPSHOT_LAG
                        }
                        None => false,
                    }),
                    _ => false,
                };
                if !acceptable {
                    counts.readyz_failed.fetch_add(1, Ordering::Relaxed);
                    note(match other {
                        Ok((code, body)) => format!("/readyz {code}: {}", body.trim()),
                        Err(e) => format!("/readyz: {e}"),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn snapshot_lag_of_readiness_lines() {
        let l = "worker 0 (core 1): on snapshot 59020, not 59026 yet (configuration not applied)";
        assert_eq!(super::snapshot_lag(l), Some(6));
        assert_eq!(
            super::snapshot_lag("port a (af_packet cnf-a): not up: down"),
            None
        );
        assert_eq!(
            super::snapshot_lag("worker 1 (core 0): stalled for 2.1 s"),
            None
        );
    }
}

//! One trial: the generator sends the profile's traffic out of one port at
//! a rate for a duration while the receiver counts what comes back on
//! another, then waits a drain time for what is still in flight.
//!
//! Both ports are dataplane [`Backend`]s (AF_PACKET, or DPDK with the
//! `dpdk` feature), each driven by its own thread of this process, so
//! the stamps' send times and the receive times come from one clock.
//! Receive time is the kernel's timestamp of the frame where the backend
//! has one (AF_PACKET: when the frame reached the socket, so the ring's
//! block timeout does not count), else the time the burst was read.
//!
//! Frames stamped before the trial started (left over from an earlier
//! trial) are not counted (`stale`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dataplane::io::{Backend, IoError};
use dataplane::packet::PacketBuf;
use serde::Serialize;

use super::measure::{Latency, Measure};
use super::profile::FCS;
use super::stamp::{find, Clock};
use super::traffic::Traffic;

/// How to run a trial.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrialSpec {
    /// Packets per second (None: as fast as the port takes them).
    pub rate: Option<f64>,
    /// How long the generator sends.
    pub duration: Duration,
    /// How long the receiver goes on after the generator stopped.
    pub drain: Duration,
    /// Packets per send call.
    pub burst: usize,
}

/// What a trial measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialResult {
    /// The rate asked for (pps; None: max).
    pub target_pps: Option<f64>,
    /// Trial duration asked for (s).
    pub duration_s: f64,
    /// Packets the sending port took.
    pub sent: u64,
    /// Rate the generator achieved (pps): `sent` over its sending time.
    pub offered_pps: f64,
    /// Distinct stamped packets received.
    pub received: u64,
    /// `sent - received` (0 when more came back than were sent).
    pub lost: u64,
    /// `lost / sent`.
    pub loss_ratio: f64,
    /// Packets that arrived after one of their flow sent later.
    pub reordered: u64,
    /// Copies of packets already received.
    pub duplicates: u64,
    /// Stamped frames of flows outside the run, or from an earlier trial.
    pub stale: u64,
    /// Received rate (pps): `received` over the generator's sending time.
    pub rx_pps: f64,
    /// Received rate in Gbit/s of frames (with FCS, without preamble/IFG).
    pub rx_gbps: f64,
    /// Most the generator was behind its schedule (ms) when it sent a
    /// burst (fixed rates; 0 at max rate): it was not given the CPU. A
    /// late generator catches up with back-to-back bursts, which a
    /// forwarder with small buffers may drop: [`crate::bench::run::search`]
    /// repeats a lossy trial whose generator was late.
    pub generator_lag_ms: f64,
    /// Times this trial was run (repeats after a late generator).
    pub attempts: u32,
    /// Latency from the actual send times.
    pub latency: Option<Latency>,
    /// Latency from the intended send times (fixed rates only; see
    /// [`crate::bench::measure`]).
    pub latency_corrected: Option<Latency>,
}

/// Runs one trial: `traffic` out of port 0 of `tx`, received on port 0 of
/// `rx`.
pub fn run_trial<T, R>(
    tx: &mut T,
    rx: &mut R,
    traffic: &Traffic,
    spec: &TrialSpec,
) -> Result<TrialResult, IoError>
where
    T: Backend + Send,
    R: Backend + Send,
{
    let clock = Clock::process();
    let wall_offset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        .wrapping_sub(clock.now_ns());
    // The generator starts a little later, so the receiver is polling.
    let start_ns = clock.now_ns() + 20_000_000;
    let stop = AtomicBool::new(false);
    let (gen, measure) = std::thread::scope(|s| {
        let stop = &stop;
        let receiver =
            s.spawn(move || receive(rx, traffic, &clock, wall_offset, start_ns, spec, stop));
        let gen = generate(tx, traffic, &clock, start_ns, spec);
        std::thread::sleep(spec.drain);
        stop.store(true, Ordering::Release);
        let m = receiver.join().expect("receiver thread");
        (gen, m)
    });
    let (sent, secs, lag_ns) = gen?;
    let m = measure?;
    let lost = sent.saturating_sub(m.received);
    Ok(TrialResult {
        target_pps: spec.rate,
        duration_s: spec.duration.as_secs_f64(),
        sent,
        offered_pps: sent as f64 / secs.max(1e-9),
        received: m.received,
        lost,
        loss_ratio: if sent > 0 {
            lost as f64 / sent as f64
        } else {
            0.0
        },
        reordered: m.reordered,
        duplicates: m.duplicates,
        stale: m.foreign,
        rx_pps: m.received as f64 / secs.max(1e-9),
        rx_gbps: m.bytes as f64 * 8.0 / secs.max(1e-9) / 1e9,
        generator_lag_ms: lag_ns as f64 / 1e6,
        attempts: 1,
        latency: m.latency(),
        latency_corrected: m.latency_corrected(),
    })
}

/// Sends for `spec.duration` from `start_ns`; returns (packets taken,
/// seconds from the first send to the last, most ns behind schedule).
fn generate<T: Backend>(
    tx: &mut T,
    traffic: &Traffic,
    clock: &Clock,
    start_ns: u64,
    spec: &TrialSpec,
) -> Result<(u64, f64, u64), IoError> {
    tx.worker_started()?;
    let burst = spec.burst.max(1);
    let end_ns = start_ns + spec.duration.as_nanos() as u64;
    let mut pending: Vec<T::Buf> = Vec::with_capacity(burst);
    let mut k: u64 = 0;
    let mut no_buffer = 0u64;
    let mut lag = 0u64;
    let wait_until = |t: u64| {
        let now = clock.now_ns();
        if t > now + 150_000 {
            std::thread::sleep(Duration::from_nanos(t - now - 100_000));
        } else if t > now {
            std::thread::yield_now();
        }
    };
    while clock.now_ns() < start_ns {
        wait_until(start_ns);
    }
    loop {
        let now = clock.now_ns();
        if now >= end_ns {
            break;
        }
        if pending.is_empty() {
            let n = match spec.rate {
                Some(pps) => {
                    let due = ((now - start_ns) as f64 * pps / 1e9) as u64 + 1;
                    if due <= k {
                        wait_until(start_ns + (k as f64 * 1e9 / pps) as u64);
                        continue;
                    }
                    lag = lag.max(now.saturating_sub(start_ns + (k as f64 * 1e9 / pps) as u64));
                    (due - k).min(burst as u64) as usize
                }
                None => burst,
            };
            let ts = clock.now_ns();
            for _ in 0..n {
                let Some(mut b) = tx.alloc(0, traffic.template(k)) else {
                    no_buffer += 1;
                    break;
                };
                traffic.patch(b.data_mut(), k, ts);
                pending.push(b);
                k += 1;
            }
            if pending.is_empty() {
                std::thread::yield_now();
                continue;
            }
        }
        let before = pending.len();
        let taken = tx.tx_burst(0, &mut pending)?;
        if taken < before {
            std::thread::yield_now();
        }
    }
    let _ = no_buffer;
    let unsent = pending.len() as u64;
    for b in pending.drain(..) {
        tx.recycle(b);
    }
    tx.flush()?;
    tx.worker_stopping();
    let secs = (clock.now_ns().min(end_ns) - start_ns) as f64 / 1e9;
    Ok((k - unsent, secs, lag))
}

fn receive<R: Backend>(
    rx: &mut R,
    traffic: &Traffic,
    clock: &Clock,
    wall_offset: u64,
    start_ns: u64,
    spec: &TrialSpec,
    stop: &AtomicBool,
) -> Result<Measure, IoError> {
    rx.worker_started()?;
    let schedule = spec.rate.map(|pps| (start_ns, pps));
    let mut m = Measure::new(traffic.flows.len(), schedule);
    let mut bufs: Vec<R::Buf> = Vec::with_capacity(64);
    loop {
        let n = rx.rx_burst(0, &mut bufs, 64)?;
        if n == 0 {
            if stop.load(Ordering::Acquire) {
                break;
            }
            std::thread::sleep(Duration::from_micros(50));
            continue;
        }
        let now = clock.now_ns();
        for b in bufs.drain(..) {
            if let Some(s) = find(b.data(), traffic.dst_port) {
                let t = match b.timestamp_ns() {
                    0 => now,
                    ts => ts.wrapping_sub(wall_offset).min(now),
                };
                if s.sent_ns < start_ns {
                    m.foreign += 1;
                } else {
                    m.record(s, b.data().len() + FCS, t);
                }
            }
            rx.recycle(b);
        }
    }
    rx.worker_stopping();
    Ok(m)
}

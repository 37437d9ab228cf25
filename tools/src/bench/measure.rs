//! Receiver-side measurement: counts, loss, reordering, duplicates and
//! latency of the stamped packets that came back.
//!
//! Per flow the receiver keeps the highest sequence number seen and a
//! window of the [`WINDOW`] numbers below it (a bitmap). A packet
//! - above the highest: in order (the gap, if any, may still arrive late);
//! - inside the window and already marked: a **duplicate** (not counted as
//!   received again);
//! - inside the window and not marked: **reordered** (arrived after a packet
//!   sent later; RFC 4737's definition), counted as received;
//! - below the window: reordered too (too late to tell it from a duplicate;
//!   counted in `late`).
//!
//! Loss is what the generator sent minus the distinct packets received:
//! exact whatever the order, as long as no packet is duplicated more than
//! [`WINDOW`] packets later.
//!
//! Latency is receive time minus send time (one clock, see
//! [`crate::bench::stamp`]) in an HdrHistogram (1 ns .. 1 hour, 3
//! significant digits). At a fixed rate a second histogram measures from
//! each packet's *intended* send time (the schedule `start + k / rate`)
//! instead of the time it was actually sent: when the generator falls
//! behind (it was not scheduled), the packets it sends late carry that
//! delay too. That is the coordinated-omission correction for an open-loop
//! generator (HdrHistogram's `record_correct` assumes a closed loop, one
//! request at a time, and would invent samples at every interval).

use hdrhistogram::Histogram;
use serde::Serialize;

use super::stamp::Stamp;

/// Sequence numbers below the highest one that are remembered per flow.
pub const WINDOW: u32 = 256;
const WORDS: usize = (WINDOW / 64) as usize;

/// Highest latency recorded (larger values are clamped): one hour.
pub const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

#[derive(Debug, Clone, Copy, Default)]
struct FlowTrack {
    seen: bool,
    max: u32,
    /// Bit i of the window: sequence `max - i` arrived.
    bits: [u64; WORDS],
}

impl FlowTrack {
    fn shift(&mut self, d: u32) {
        if d >= WINDOW {
            self.bits = [0; WORDS];
            return;
        }
        let (w, b) = ((d / 64) as usize, d % 64);
        for i in (0..WORDS).rev() {
            let lo = if i >= w { self.bits[i - w] } else { 0 };
            let carry = if b > 0 && i > w {
                self.bits[i - w - 1] >> (64 - b)
            } else {
                0
            };
            self.bits[i] = if b > 0 { (lo << b) | carry } else { lo };
        }
    }

    fn mark(&mut self, back: u32) -> bool {
        let (w, b) = ((back / 64) as usize, back % 64);
        let was = self.bits[w] >> b & 1 == 1;
        self.bits[w] |= 1 << b;
        was
    }
}

/// What happened to one packet at the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Above every earlier sequence number of its flow.
    InOrder,
    /// After a packet of its flow sent later.
    Reordered,
    /// A copy of a packet already received.
    Duplicate,
    /// Not one of this run's flows.
    Foreign,
}

/// The receiver's tallies for one trial.
#[derive(Debug, Clone)]
pub struct Measure {
    flows: Vec<FlowTrack>,
    /// Distinct stamped packets received.
    pub received: u64,
    /// Bytes of those packets, with FCS.
    pub bytes: u64,
    /// Packets that arrived after one of their flow sent later.
    pub reordered: u64,
    /// Reordered packets that were below the window (see the module doc).
    pub late: u64,
    /// Copies of packets already received.
    pub duplicates: u64,
    /// Stamped frames of a flow index outside the run.
    pub foreign: u64,
    /// Receive time of the first and last packet (clock ns).
    pub first_ns: Option<u64>,
    /// See `first_ns`.
    pub last_ns: u64,
    latency: Histogram<u64>,
    intended: Option<(Histogram<u64>, u64, f64)>,
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("valid histogram bounds")
}

impl Measure {
    /// A receiver for `flows` flows. With `schedule = Some((start_ns,
    /// pps))` (a fixed-rate run: packet k intended at `start_ns + k * 1e9 /
    /// pps`) the corrected histogram is kept too.
    pub fn new(flows: usize, schedule: Option<(u64, f64)>) -> Measure {
        Measure {
            flows: vec![FlowTrack::default(); flows],
            received: 0,
            bytes: 0,
            reordered: 0,
            late: 0,
            duplicates: 0,
            foreign: 0,
            first_ns: None,
            last_ns: 0,
            latency: new_hist(),
            intended: schedule.map(|(s, pps)| (new_hist(), s, 1e9 / pps)),
        }
    }

    /// Accounts one stamped packet of `size` bytes (with FCS) received at
    /// `now_ns`.
    pub fn record(&mut self, s: Stamp, size: usize, now_ns: u64) -> Arrival {
        let nflows = self.flows.len() as u64;
        let Some(f) = self.flows.get_mut(s.flow as usize) else {
            self.foreign += 1;
            return Arrival::Foreign;
        };
        let arrival = if !f.seen {
            f.seen = true;
            f.max = s.seq;
            f.mark(0);
            Arrival::InOrder
        } else if s.seq > f.max {
            f.shift(s.seq - f.max);
            f.max = s.seq;
            f.mark(0);
            Arrival::InOrder
        } else if f.max - s.seq < WINDOW {
            if f.mark(f.max - s.seq) {
                Arrival::Duplicate
            } else {
                Arrival::Reordered
            }
        } else {
            self.late += 1;
            Arrival::Reordered
        };
        match arrival {
            Arrival::Duplicate => {
                self.duplicates += 1;
                return arrival;
            }
            Arrival::Reordered => self.reordered += 1,
            _ => {}
        }
        self.received += 1;
        self.bytes += size as u64;
        self.first_ns.get_or_insert(now_ns);
        self.last_ns = now_ns;
        // The stamp holds the low 48 bits of the send time.
        let sent = (now_ns & !((1u64 << 48) - 1)) | s.sent_ns;
        let sent = if sent > now_ns {
            sent.wrapping_sub(1 << 48)
        } else {
            sent
        };
        let lat = now_ns.saturating_sub(sent).clamp(1, MAX_LATENCY_NS);
        let _ = self.latency.record(lat);
        if let Some((h, start, interval)) = &mut self.intended {
            let k = s.seq as u64 * nflows + s.flow as u64;
            let due = *start + (k as f64 * *interval) as u64;
            let _ = h.record(now_ns.saturating_sub(due).clamp(1, MAX_LATENCY_NS));
        }
        arrival
    }

    /// The latency summary (from the actual send times).
    pub fn latency(&self) -> Option<Latency> {
        Latency::of(&self.latency)
    }

    /// The latency summary from the intended send times (fixed rates only).
    pub fn latency_corrected(&self) -> Option<Latency> {
        self.intended.as_ref().and_then(|(h, _, _)| Latency::of(h))
    }
}

/// Latency percentiles in nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Smallest.
    pub min: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// 99.99th percentile.
    pub p99_99: u64,
    /// Largest.
    pub max: u64,
    /// The percentile curve: (percentile, ns) points, HdrHistogram's
    /// "percentile distribution" (5 ticks per half distance).
    pub curve: Vec<(f64, u64)>,
}

impl Latency {
    /// The summary of `h`, `None` if empty.
    pub fn of(h: &Histogram<u64>) -> Option<Latency> {
        if h.is_empty() {
            return None;
        }
        let mut curve: Vec<(f64, u64)> = h
            .iter_quantiles(5)
            .map(|v| {
                (
                    v.quantile_iterated_to() * 100.0,
                    h.highest_equivalent(v.value_iterated_to()),
                )
            })
            .filter(|(q, _)| *q < 100.0)
            .collect();
        curve.dedup_by(|a, b| a.0 == b.0);
        Some(Latency {
            count: h.len(),
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            p99_99: h.value_at_quantile(0.9999),
            max: h.max(),
            curve,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(flow: u32, seq: u32) -> Stamp {
        Stamp {
            flow,
            seq,
            sent_ns: 0,
        }
    }

    #[test]
    fn classifies_order_reorder_and_duplicates() {
        let mut m = Measure::new(2, None);
        let seqs = [0, 1, 3, 2, 2, 4, 300, 5, 299, 300, 40];
        let want = [
            Arrival::InOrder,
            Arrival::InOrder,
            Arrival::InOrder,
            Arrival::Reordered,
            Arrival::Duplicate,
            Arrival::InOrder,
            Arrival::InOrder,
            Arrival::Reordered, // below the window: late
            Arrival::Reordered,
            Arrival::Duplicate,
            Arrival::Reordered,
        ];
        for (i, (&s, w)) in seqs.iter().zip(want).enumerate() {
            assert_eq!(
                m.record(st(0, s), 64, 10 + i as u64),
                w,
                "packet {i} seq {s}"
            );
        }
        assert_eq!(m.record(st(5, 0), 64, 100), Arrival::Foreign);
        assert_eq!(m.record(st(1, 7), 64, 100), Arrival::InOrder);
        assert_eq!(
            (m.received, m.duplicates, m.reordered, m.late),
            (10, 2, 4, 2)
        );
    }

    #[test]
    fn window_shift_crosses_words() {
        let mut m = Measure::new(1, None);
        for s in (0..200).step_by(3) {
            m.record(st(0, s), 64, 1);
        }
        for s in (0..200).step_by(3) {
            if 198 - s < WINDOW {
                assert_eq!(m.record(st(0, s), 64, 1), Arrival::Duplicate, "seq {s}");
            }
        }
        for s in (1..198).step_by(3) {
            assert_eq!(m.record(st(0, s), 64, 1), Arrival::Reordered, "seq {s}");
        }
    }
}

//! Counters: `/stats` and `/stats/clear`, drop reasons (`/drops`) and the
//! workers' rates (`/workers`).

use serde_json::{json, Value};

use super::{Command, Commands};
use crate::pipeline::DropReason;
use crate::stats::Stats;

/// This area's commands, each with its handler.
pub(super) const COMMANDS: &[Command] = &[
    Command::read(
        "/stats",
        "All counters in the stats JSON shape (since the last /stats/clear).",
        |c, _, _| Ok(c.stats()),
    ),
    Command::read(
        "/drops",
        "Drop counters by reason (non-zero), then slow-path counters (ARP/ND answered, ICMP errors, neighbours), with their meaning.",
        |c, _, _| Ok(c.drops()),
    ),
    Command::read(
        "/workers",
        "Workers: core, counters, packet rates over the last second, idle share, snapshot.",
        |c, _, _| Ok(c.workers()),
    ),
    Command::write(
        "/stats/clear",
        "Restart every counter from zero.",
        |c, _, _| Ok(c.clear_stats()),
    ),
];

impl Commands<'_> {
    /// All counters since the last `/stats/clear`, in the stats JSON shape.
    fn stats(&self) -> Value {
        let t = self.snapshots.current();
        self.state.stats(self.engine).to_json(&t)
    }

    /// Moves the baselines (total and per worker) to the counters now.
    fn clear_stats(&mut self) -> Value {
        self.state.baseline = self.engine.stats();
        self.state.baseline_workers = self
            .engine
            .workers()
            .into_iter()
            .map(|w| (w.id, w.stats))
            .collect();
        json!({"cleared": true})
    }

    /// Non-zero drop reasons (`kind: drop`), then the non-zero slow-path
    /// counters (`kind: slow_path`: frames answered, generated, limited).
    fn drops(&self) -> Value {
        let stats = self.state.stats(self.engine);
        let d = stats.drops();
        let drops = DropReason::ALL
            .iter()
            .zip(d.iter())
            .filter(|(_, &c)| c > 0)
            .map(|(r, &c)| json!({"reason": r.name(), "count": c, "kind": "drop", "meaning": r.description()}));
        let slow = crate::slow::SlowCounter::ALL
            .iter()
            .map(|&c| (c, stats.slow.get(c)))
            .filter(|&(_, n)| n > 0)
            .map(|(c, n)| json!({"reason": c.name(), "count": n, "kind": "slow_path", "meaning": c.description()}));
        Value::Array(drops.chain(slow).collect())
    }

    fn workers(&self) -> Value {
        let [(t0, old), (t1, new)] = &self.state.samples;
        let dt = t1.duration_since(*t0).as_secs_f64();
        let current = self.engine.workers();
        Value::Array(
            current
                .iter()
                .map(|w| {
                    let base = self.state.baseline_workers.get(&w.id);
                    let s = base.map_or_else(|| w.stats.clone(), |b| w.stats.since(b));
                    let (rx, tx, dropped) = s.totals();
                    let rate = |f: fn(&Stats) -> u64| -> f64 {
                        match (old.iter().find(|o| o.id == w.id), new.iter().find(|o| o.id == w.id)) {
                            (Some(a), Some(b)) if dt > 0.0 => {
                                f(&b.stats).saturating_sub(f(&a.stats)) as f64 / dt
                            }
                            _ => 0.0,
                        }
                    };
                    json!({
                        "id": w.id,
                        "core": w.core,
                        "rx_packets": rx,
                        "tx_packets": tx,
                        "dropped": dropped,
                        "rx_pps": rate(|s| s.totals().0).round(),
                        "tx_pps": rate(|s| s.totals().1).round(),
                        "idle_pct": (1000.0 * w.idle_rounds as f64 / w.rounds.max(1) as f64).round() / 10.0,
                        "snapshot": w.generation,
                    })
                })
                .collect(),
        )
    }
}

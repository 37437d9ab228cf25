//! ICMP error rate limits, per worker, in the packets' own clock: a token
//! bucket per destination (Linux's inetpeer limit: one token per
//! `icmp_ratelimit` ms, depth 6) in a fixed direct-mapped table (a
//! colliding destination takes the slot over, starting full, as Linux's
//! peer cache forgets), then the worker's bucket (Linux's
//! `icmp_msgs_per_sec` / `icmp_msgs_burst`).

use cnfwd_config::SlowPathSettings;

/// Slots of the per-destination table.
const TARGETS: usize = 1024;

/// A token bucket in nanoseconds: `level` tokens scaled by `per_token_ns`.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Tokens x `per_token_ns`, so refills are exact integers.
    credit: u64,
    last_ns: u64,
}

impl Bucket {
    fn take(&mut self, now: u64, per_token_ns: u64, depth: u64) -> bool {
        let cap = per_token_ns.saturating_mul(depth);
        let elapsed = now.saturating_sub(self.last_ns);
        self.credit = self.credit.saturating_add(elapsed).min(cap);
        self.last_ns = now.max(self.last_ns);
        if depth == 0 || self.credit < per_token_ns {
            return false;
        }
        self.credit -= per_token_ns;
        true
    }
}

/// A worker's ICMP error limiter.
#[derive(Debug, Clone)]
pub struct IcmpLimiter {
    global: Bucket,
    global_ns: u64,
    global_depth: u64,
    target_ns: u64,
    target_depth: u64,
    targets: Box<[(u128, Bucket)]>,
    used: Box<[bool]>,
}

impl IcmpLimiter {
    /// A limiter with full buckets.
    pub fn new(s: &SlowPathSettings) -> Self {
        let global_ns = 1_000_000_000 / u64::from(s.icmp_rate_per_s.max(1));
        let global_depth = u64::from(s.icmp_burst);
        let target_ns = u64::from(s.icmp_target_interval_ms) * 1_000_000;
        Self {
            global: Bucket {
                credit: global_ns * global_depth,
                last_ns: 0,
            },
            global_ns,
            global_depth: if s.icmp_rate_per_s == 0 {
                0
            } else {
                global_depth
            },
            target_ns,
            target_depth: u64::from(s.icmp_target_burst),
            targets: vec![(0, Bucket::default()); TARGETS].into_boxed_slice(),
            used: vec![false; TARGETS].into_boxed_slice(),
        }
    }

    /// True when an error to `dst` may be sent at `now`; `exempt` skips the
    /// per-destination bucket (fragmentation needed, Packet Too Big).
    pub fn allow(&mut self, dst: u128, now: u64, exempt: bool) -> bool {
        if !exempt && self.target_ns > 0 {
            let h = (dst ^ (dst >> 64)) as u64;
            let slot = (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54) as usize % TARGETS;
            let (addr, b) = &mut self.targets[slot];
            if !self.used[slot] || *addr != dst {
                self.used[slot] = true;
                *addr = dst;
                *b = Bucket {
                    credit: self.target_ns * self.target_depth,
                    last_ns: now,
                };
            }
            if !b.take(now, self.target_ns, self.target_depth) {
                return false;
            }
        }
        self.global.take(now, self.global_ns, self.global_depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_target_burst_then_one_per_interval_and_global_cap() {
        let mut l = IcmpLimiter::new(&SlowPathSettings::default());
        let sent = (0..100).filter(|_| l.allow(7, 0, false)).count();
        assert_eq!(sent, 6);
        assert!(!l.allow(7, 999_999_999, false));
        assert!(l.allow(7, 1_000_000_000, false));
        // Many targets: the worker bucket (50) caps the rest.
        let mut l = IcmpLimiter::new(&SlowPathSettings::default());
        let sent = (0..10_000u128).filter(|&d| l.allow(d, 0, false)).count();
        assert_eq!(sent, 50);
        // One per millisecond comes back at 1000/s.
        assert!(l.allow(20_000, 1_000_000, false));
        assert!(!l.allow(20_001, 1_000_000, false));
    }
}

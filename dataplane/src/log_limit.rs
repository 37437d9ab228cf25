//! Rate limits for log lines that something outside cnfwd can trigger
//! again and again (a client, a peer, a failing system call in a loop).
//!
//! [`LogEvery`] lets the 1st, 2nd, 4th, 8th, ... occurrence of one kind of
//! event through and counts the rest: a flood costs a logarithmic number of
//! lines, each saying how many occurrences there were so far, and an atomic
//! increment per occurrence (no lock, no allocation: usable on the packet
//! path). Per-packet decisions with a time-based budget use
//! `csn::LogLimiter` instead.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts occurrences of one event and admits the powers of two (see the
/// module doc).
#[derive(Debug, Default)]
pub struct LogEvery {
    seen: AtomicU64,
}

impl LogEvery {
    /// No occurrence yet (usable in a `static`).
    pub const fn new() -> Self {
        LogEvery {
            seen: AtomicU64::new(0),
        }
    }

    /// Counts one occurrence; `Some(n)` (the count so far, `n` a power of
    /// two) when this one should be logged.
    pub fn tick(&self) -> Option<u64> {
        let n = self.seen.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        n.is_power_of_two().then_some(n)
    }

    /// Occurrences counted so far.
    pub fn count(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_logs_powers_of_two_only() {
        let e = LogEvery::new();
        let logged: Vec<u64> = (0..1000).filter_map(|_| e.tick()).collect();
        assert_eq!(logged, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
        assert_eq!(e.count(), 1000);
    }
}

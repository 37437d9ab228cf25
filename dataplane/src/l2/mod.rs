//! Bridging for L2 networks: a MAC table per worker (network, MAC) -> port,
//! learned from source addresses, bounded in size, aged like a Linux
//! bridge's forwarding database.
//!
//! - An entry lives `mac_age_s` (the network's setting, default 300 s, the
//!   Linux bridge's `ageing_time`) after its address was last seen as a
//!   source; an expired entry is never used (its frames are flooded) and is
//!   removed when met (`macs_aged_out`).
//! - An address seen on another port moves there (`mac_moves`).
//! - Static entries (the network's `static_macs`) come from the snapshot:
//!   they are looked up first, never learned over, never aged or moved.
//! - When the table is full, expired entries are reclaimed first; if none
//!   is, the address is not learned (its frames are flooded, never
//!   dropped) and `mac_table_full` counts it.

use rustc_hash::FxHashMap;

use cnfwd_config::PortId;

use crate::slow::{SlowCounter, SlowCounters};

/// Default bound on learned addresses per worker.
pub const DEFAULT_CAPACITY: usize = 65_536;

/// A learned address: its port and when it was last seen (ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    port: PortId,
    seen_ns: u64,
}

/// A worker's MAC learning table.
#[derive(Debug, Clone)]
pub struct Bridge {
    table: FxHashMap<(u16, [u8; 6]), Entry>,
    capacity: usize,
}

impl Default for Bridge {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl Bridge {
    /// An empty table holding at most `capacity` addresses, allocated up
    /// front so learning never allocates on the packet path.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            table: FxHashMap::with_capacity_and_hasher(capacity, Default::default()),
            capacity,
        }
    }

    /// Records that `mac` (if unicast) is behind `port` on `network` at
    /// `now`; entries older than `age_ns` count as gone.
    #[inline]
    pub fn learn(
        &mut self,
        network: u16,
        mac: [u8; 6],
        port: PortId,
        now: u64,
        age_ns: u64,
        counters: &mut SlowCounters,
    ) {
        if mac[0] & 1 != 0 {
            return;
        }
        if let Some(e) = self.table.get_mut(&(network, mac)) {
            if now.saturating_sub(e.seen_ns) > age_ns {
                counters.add(SlowCounter::MacsAgedOut, 1);
            } else if e.port != port {
                counters.add(SlowCounter::MacMoves, 1);
            }
            *e = Entry { port, seen_ns: now };
            return;
        }
        if self.table.len() >= self.capacity {
            self.reclaim(now, age_ns, counters);
        }
        if self.table.len() < self.capacity {
            self.table
                .insert((network, mac), Entry { port, seen_ns: now });
        } else {
            counters.add(SlowCounter::MacTableFull, 1);
        }
    }

    /// Removes every expired entry (a full table, before refusing).
    #[cold]
    fn reclaim(&mut self, now: u64, age_ns: u64, counters: &mut SlowCounters) {
        let before = self.table.len();
        self.table
            .retain(|_, e| now.saturating_sub(e.seen_ns) <= age_ns);
        counters.add(SlowCounter::MacsAgedOut, (before - self.table.len()) as u64);
    }

    /// The port `mac` was learned on in `network`, unless it expired
    /// (then it is removed and counted).
    #[inline]
    pub fn lookup(
        &mut self,
        network: u16,
        mac: [u8; 6],
        now: u64,
        age_ns: u64,
        counters: &mut SlowCounters,
    ) -> Option<PortId> {
        let e = *self.table.get(&(network, mac))?;
        if now.saturating_sub(e.seen_ns) > age_ns {
            self.table.remove(&(network, mac));
            counters.add(SlowCounter::MacsAgedOut, 1);
            return None;
        }
        Some(e.port)
    }

    /// Number of learned addresses (expired ones not yet removed included).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when nothing is learned.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGE: u64 = 300_000_000_000;

    #[test]
    fn learns_moves_ages_and_bounds() {
        let mut c = SlowCounters::default();
        let mut b = Bridge::with_capacity(2);
        let a = [2, 0, 0, 0, 0, 1];
        b.learn(0, a, 1, 0, AGE, &mut c);
        assert_eq!(b.lookup(0, a, 0, AGE, &mut c), Some(1));
        assert_eq!(
            b.lookup(1, a, 0, AGE, &mut c),
            None,
            "networks are separate"
        );
        b.learn(0, a, 3, 1, AGE, &mut c);
        assert_eq!(
            b.lookup(0, a, 1, AGE, &mut c),
            Some(3),
            "a station that moved is relearned"
        );
        assert_eq!(c.get(SlowCounter::MacMoves), 1);
        b.learn(0, [0xff; 6], 1, 1, AGE, &mut c);
        assert_eq!(
            b.lookup(0, [0xff; 6], 1, AGE, &mut c),
            None,
            "group addresses are never learned"
        );
        b.learn(0, [2, 0, 0, 0, 0, 2], 1, 1, AGE, &mut c);
        b.learn(0, [2, 0, 0, 0, 0, 3], 1, 1, AGE, &mut c);
        assert_eq!((b.len(), c.get(SlowCounter::MacTableFull)), (2, 1));
        // 300 s later the entries are gone; the full table makes room.
        let later = 1 + AGE + 1;
        assert_eq!(b.lookup(0, a, later, AGE, &mut c), None);
        assert_eq!(c.get(SlowCounter::MacsAgedOut), 1);
        b.learn(0, [2, 0, 0, 0, 0, 3], 1, later, AGE, &mut c);
        // Full again (the expired [..2] is still in): reclaimed, not refused.
        b.learn(0, [2, 0, 0, 0, 0, 4], 2, later, AGE, &mut c);
        assert_eq!(b.lookup(0, [2, 0, 0, 0, 0, 4], later, AGE, &mut c), Some(2));
        assert_eq!(c.get(SlowCounter::MacsAgedOut), 2);
        assert_eq!(c.get(SlowCounter::MacTableFull), 1);
    }
}

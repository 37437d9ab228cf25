//! Bridging for L2 networks: a MAC table per worker (network, MAC) -> port,
//! learned from source addresses, bounded in size.
//!
//! Entries do not age yet; when the table is full, new addresses are not
//! learned (their frames are flooded, never dropped) and `learn_refused`
//! counts them.

use rustc_hash::FxHashMap;

use cnfwd_config::PortId;

/// Default bound on learned addresses per worker.
pub const DEFAULT_CAPACITY: usize = 65_536;

/// A worker's MAC learning table.
#[derive(Debug, Clone)]
pub struct Bridge {
    table: FxHashMap<(u16, [u8; 6]), PortId>,
    capacity: usize,
    /// Addresses not learned because the table was full.
    pub learn_refused: u64,
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
            learn_refused: 0,
        }
    }

    /// Records that `mac` (if unicast) is behind `port` on `network`.
    #[inline]
    pub fn learn(&mut self, network: u16, mac: [u8; 6], port: PortId) {
        if mac[0] & 1 != 0 {
            return;
        }
        if let Some(p) = self.table.get_mut(&(network, mac)) {
            *p = port;
        } else if self.table.len() < self.capacity {
            self.table.insert((network, mac), port);
        } else {
            self.learn_refused += 1;
        }
    }

    /// The port `mac` was learned on in `network`.
    #[inline]
    pub fn lookup(&self, network: u16, mac: [u8; 6]) -> Option<PortId> {
        self.table.get(&(network, mac)).copied()
    }

    /// Number of learned addresses.
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

    #[test]
    fn learns_moves_and_bounds() {
        let mut b = Bridge::with_capacity(2);
        let a = [2, 0, 0, 0, 0, 1];
        b.learn(0, a, 1);
        assert_eq!(b.lookup(0, a), Some(1));
        assert_eq!(b.lookup(1, a), None, "networks are separate");
        b.learn(0, a, 3);
        assert_eq!(b.lookup(0, a), Some(3), "a station that moved is relearned");
        b.learn(0, [0xff; 6], 1);
        assert_eq!(
            b.lookup(0, [0xff; 6]),
            None,
            "group addresses are never learned"
        );
        b.learn(0, [2, 0, 0, 0, 0, 2], 1);
        b.learn(0, [2, 0, 0, 0, 0, 3], 1);
        assert_eq!((b.len(), b.learn_refused), (2, 1));
    }
}

//! Publishing forwarding snapshots to running workers (RCU style).
//!
//! The control thread owns a [`Snapshots`] and publishes a complete new
//! [`Tables`] with [`Snapshots::publish`]; each worker holds a
//! [`SnapshotReader`] and picks the newest snapshot up between bursts.
//!
//! Guarantees:
//! - A worker reads one snapshot for a whole burst; it never sees a
//!   half-applied change.
//! - A reader loads the snapshot *after* receiving the burst it is about to
//!   process. So every packet received after `publish` returned is
//!   forwarded by the new snapshot (or a later one), never an older one.
//! - The per-burst check is one atomic load of the current pointer
//!   (`arc_swap::Cache`): no lock and no read-modify-write unless the
//!   snapshot changed, and then one reference-count update per change.
//! - Reclamation happens on the control thread: a replaced snapshot is kept
//!   in a retired list until every registered reader has acknowledged a
//!   newer generation or nothing but that list holds it, so the last
//!   reference (and the freeing of a large FIB) is never dropped on a
//!   worker.
//! - Memory stays bounded when a worker lags behind a stream of changes
//!   (1,000 route changes a second, a worker descheduled for a while): a
//!   reader only ever moves to the newest snapshot, so a retired one that
//!   no reader holds now can never be held again and is freed at once,
//!   whatever generation the slowest reader is on. At most one retired
//!   snapshot per reader waits (the soak test, `scripts/soak.sh`, found
//!   hundreds of 0.6 MiB copies piling up behind one slow worker before).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Cache};

use crate::tables::Tables;

/// A reader's acknowledgement slot, alone on its cache line.
#[derive(Debug)]
#[repr(align(128))]
struct Seen(AtomicU64);

/// A reader that has left (its slot no longer holds anything back).
const GONE: u64 = u64::MAX;

/// The control thread's side: publishes snapshots, reclaims old ones.
#[derive(Debug)]
pub struct Snapshots {
    current: Arc<ArcSwap<Tables>>,
    generation: u64,
    retired: Vec<Arc<Tables>>,
    readers: Arc<Mutex<Vec<Arc<Seen>>>>,
}

impl Snapshots {
    /// Starts with `tables` as generation 1.
    pub fn new(mut tables: Tables) -> Self {
        tables.generation = 1;
        tables.published = Some(std::time::Instant::now());
        Self {
            current: Arc::new(ArcSwap::from_pointee(tables)),
            generation: 1,
            retired: Vec::new(),
            readers: Arc::default(),
        }
    }

    /// The snapshot in force now.
    pub fn current(&self) -> Arc<Tables> {
        self.current.load_full()
    }

    /// The current-snapshot pointer itself, for readers outside the
    /// engine (the metrics thread): `load()` gives the snapshot in force.
    pub fn shared(&self) -> Arc<ArcSwap<Tables>> {
        Arc::clone(&self.current)
    }

    /// The generation of the snapshot in force (1 for the first).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Makes `tables` the snapshot in force and returns its generation.
    /// Readers pick it up at their next burst; the replaced snapshot is
    /// freed by a later [`Snapshots::reclaim`] (called here too) once no
    /// reader can hold it.
    pub fn publish(&mut self, mut tables: Tables) -> u64 {
        self.generation += 1;
        tables.generation = self.generation;
        tables.published = Some(std::time::Instant::now());
        let old = self.current.swap(Arc::new(tables));
        self.retired.push(old);
        self.reclaim();
        self.generation
    }

    /// A reader for one worker, registered for reclamation. It starts on the
    /// snapshot in force.
    pub fn reader(&self) -> SnapshotReader {
        let seen = Arc::new(Seen(AtomicU64::new(self.generation)));
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&seen));
        SnapshotReader {
            cache: Cache::new(Arc::clone(&self.current)),
            seen,
            generation: 0,
        }
    }

    /// Frees retired snapshots no reader can still hold. Returns how many
    /// are still waiting for a reader.
    pub fn reclaim(&mut self) -> usize {
        let oldest_in_use = {
            let mut readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
            readers.retain(|s| s.0.load(Ordering::Acquire) != GONE);
            readers
                .iter()
                .map(|s| s.0.load(Ordering::Acquire))
                .min()
                .unwrap_or(GONE)
        };
        // `ArcSwap::swap` pays every reader's pending debt on the old pointer
        // before it returns, so a retired snapshot's strong count includes
        // every reader holding it: 1 means only this list does.
        self.retired
            .retain(|t| t.generation >= oldest_in_use && Arc::strong_count(t) > 1);
        self.retired.len()
    }
}

/// A worker's side: the snapshot for the next burst.
pub struct SnapshotReader {
    cache: Cache<Arc<ArcSwap<Tables>>, Arc<Tables>>,
    seen: Arc<Seen>,
    generation: u64,
}

impl std::fmt::Debug for SnapshotReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotReader")
            .field("generation", &self.generation)
            .finish()
    }
}

impl SnapshotReader {
    /// The newest published snapshot. Call it after receiving a burst and
    /// keep the reference for the whole burst.
    #[inline]
    pub fn load(&mut self) -> &Tables {
        let t = self.cache.load();
        if t.generation != self.generation {
            self.generation = t.generation;
            // The previous snapshot's reference was released by the cache
            // above; tell the publisher it may free it.
            self.seen.0.store(self.generation, Ordering::Release);
        }
        t
    }

    /// The generation last loaded (0 before the first load).
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl Drop for SnapshotReader {
    fn drop(&mut self) {
        self.seen.0.store(GONE, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Tables {
        let cfg = cnfwd_config::parse(
            "[[l2_networks]]\nname = \"l\"\nvlan = 7\n\
             [[ports]]\nname = \"a\"\nbackend = \"pcap\"\nmac = \"02:00:00:00:00:01\"\nmode = \"access\"\nnetworks = [\"l\"]\n",
            "<test>",
        )
        .unwrap();
        Tables::build(&cnfwd_config::resolve(&cfg).unwrap(), &[]).unwrap()
    }

    #[test]
    fn readers_see_new_generations_and_hold_back_reclamation() {
        let mut s = Snapshots::new(tables());
        let mut r = s.reader();
        assert_eq!(r.load().generation, 1);
        assert_eq!(s.publish(tables()), 2);
        // The reader has not loaded generation 2 yet: generation 1 waits.
        assert_eq!(s.reclaim(), 1);
        let held = s.retired[0].clone();
        assert_eq!(
            Arc::strong_count(&held),
            3,
            "retired list, reader cache, this test"
        );
        drop(held);
        assert_eq!(r.load().generation, 2);
        assert_eq!(s.reclaim(), 0, "acknowledged: freed on the control thread");
        s.publish(tables());
        s.publish(tables());
        // Generation 2 is held by the reader's cache; 3 by no one, and no
        // reader can ever load it again: freed though the reader is behind.
        assert_eq!(s.reclaim(), 1);
        assert_eq!(s.retired[0].generation, 2);
        for _ in 0..100 {
            s.publish(tables());
        }
        assert_eq!(
            s.reclaim(),
            1,
            "a lagging reader holds back one snapshot, not 100"
        );
        assert_eq!(r.load().generation, 104);
        assert_eq!(s.reclaim(), 0);
        // A reader that is gone holds nothing back.
        s.publish(tables());
        drop(r);
        assert_eq!(s.reclaim(), 0);
        assert_eq!(s.current().generation, 105);
    }
}

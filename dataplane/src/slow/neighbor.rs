//! The neighbour table: learned entries per L3 network with their states
//! and timers (static entries stay in the snapshot and win over learned
//! ones; they are never learned over). One table per engine, owned by the
//! control thread (live) or the replay worker; workers only see its
//! [`Update`]s.
//!
//! Learning follows Linux and VPP: a request addressed to cnfwd creates or
//! refreshes the sender's entry (`stale`, usable); an answer (ARP reply,
//! gratuitous ARP, NA) refreshes an existing entry or completes one being
//! resolved (`reachable`), and never creates one. `neighbor_reachable_s`
//! after it was learned or confirmed, an entry is probed with unicast
//! requests `neighbor_retry_ms` apart; after `neighbor_tries` unanswered
//! probes it is removed.

use rustc_hash::FxHashMap;

use cnfwd_config::{NetworkId, SlowPathSettings};

use super::{Event, EventKind, Probe, SlowCounter, SlowCounters, SlowShared, Update};

/// An entry's state, as `cnfwdctl show neighbors` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Being resolved by a worker; no MAC yet.
    Incomplete,
    /// Confirmed by an answer.
    Reachable,
    /// Learned from a request, not confirmed; usable.
    Stale,
    /// Being probed after its reachable time; still usable.
    Probing,
    /// Resolution failed; kept a little to be seen, not usable.
    Failed,
}

impl State {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            State::Incomplete => "incomplete",
            State::Reachable => "reachable",
            State::Stale => "stale",
            State::Probing => "probing",
            State::Failed => "failed",
        }
    }

    fn usable(self) -> bool {
        matches!(self, State::Reachable | State::Stale | State::Probing)
    }
}

/// One learned entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The MAC (zero while incomplete).
    pub mac: [u8; 6],
    /// State.
    pub state: State,
    /// When it was created, learned or last confirmed (ns).
    pub updated_ns: u64,
    /// When its timer fires next (ns).
    next_ns: u64,
    /// Probes sent in this probing round.
    tries: u32,
}

/// The engine's learned neighbours.
#[derive(Debug)]
pub struct NeighborTable {
    entries: FxHashMap<(NetworkId, u128), Entry>,
    per_network: FxHashMap<NetworkId, u32>,
    settings: SlowPathSettings,
    /// Counters the table keeps (learned, refused, aged out).
    pub counters: SlowCounters,
    /// Changes not yet given to the workers.
    pub updates: Vec<Update>,
    /// Probes not yet given to a worker.
    pub probes: Vec<Probe>,
    /// Live: changes a worker's queue could not take yet, per worker.
    backlog: Vec<std::collections::VecDeque<Update>>,
}

impl NeighborTable {
    /// An empty table.
    pub fn new(settings: &SlowPathSettings) -> Self {
        Self {
            entries: FxHashMap::default(),
            per_network: FxHashMap::default(),
            settings: settings.clone(),
            counters: SlowCounters::default(),
            updates: Vec::new(),
            probes: Vec::new(),
            backlog: Vec::new(),
        }
    }

    /// Live, on the control thread: takes the workers' events, runs the
    /// timers due at `now`, and passes every change to every worker and
    /// the probes to worker 0. A change a worker's queue cannot take now
    /// waits here and goes first next time, so no worker misses one.
    pub fn pump(&mut self, shared: &SlowShared, now: u64) {
        while let Some(ev) = shared.events.pop() {
            self.event(ev, now);
        }
        self.tick(now);
        if self.backlog.len() != shared.updates.len() {
            self.backlog
                .resize_with(shared.updates.len(), Default::default);
        }
        for u in self.updates.drain(..) {
            for b in self.backlog.iter_mut() {
                b.push_back(u);
            }
        }
        for (b, q) in self.backlog.iter_mut().zip(&shared.updates) {
            while let Some(&u) = b.front() {
                if q.push(u).is_err() {
                    break;
                }
                b.pop_front();
            }
        }
        for p in self.probes.drain(..) {
            // A probe the queue cannot take is skipped: the next one follows.
            let _ = shared.probes.push(p);
        }
    }

    fn retry_ns(&self) -> u64 {
        u64::from(self.settings.neighbor_retry_ms) * 1_000_000
    }

    fn reachable_ns(&self) -> u64 {
        u64::from(self.settings.neighbor_reachable_s) * 1_000_000_000
    }

    /// Takes one worker's event at `now`.
    pub fn event(&mut self, ev: Event, now: u64) {
        let key = (ev.network, ev.ip);
        let reachable = self.reachable_ns();
        let retry_ns = self.retry_ns();
        let tries = u64::from(self.settings.neighbor_tries);
        match (ev.kind, self.entries.get_mut(&key)) {
            (EventKind::Resolving, Some(e)) => {
                if e.state == State::Failed {
                    e.state = State::Incomplete;
                    e.next_ns = now + retry_ns * (tries + 1);
                }
            }
            (EventKind::Resolving, None) => {
                self.insert(
                    key,
                    Entry {
                        mac: [0; 6],
                        state: State::Incomplete,
                        updated_ns: now,
                        next_ns: now + retry_ns * (tries + 1),
                        tries: 0,
                    },
                );
            }
            (EventKind::Request | EventKind::Answer, Some(e)) => {
                let was_usable = e.state.usable();
                let changed = e.mac != ev.mac || !was_usable;
                e.mac = ev.mac;
                e.updated_ns = now;
                e.next_ns = now + reachable;
                e.tries = 0;
                e.state = match (ev.kind, e.state) {
                    (EventKind::Answer, _) => State::Reachable,
                    (_, State::Reachable) if !changed => State::Reachable,
                    _ => State::Stale,
                };
                if !was_usable {
                    self.counters.add(SlowCounter::NeighborsLearned, 1);
                }
                if changed {
                    self.updates.push(Update {
                        network: ev.network,
                        ip: ev.ip,
                        mac: Some(ev.mac),
                    });
                }
            }
            (EventKind::Request, None) => {
                if self.insert(
                    key,
                    Entry {
                        mac: ev.mac,
                        state: State::Stale,
                        updated_ns: now,
                        next_ns: now + reachable,
                        tries: 0,
                    },
                ) {
                    self.counters.add(SlowCounter::NeighborsLearned, 1);
                    self.updates.push(Update {
                        network: ev.network,
                        ip: ev.ip,
                        mac: Some(ev.mac),
                    });
                }
            }
            // An answer nobody asked for teaches nothing.
            (EventKind::Answer, None) => {}
            (EventKind::Confirm, Some(e)) if e.state.usable() => {
                e.state = State::Reachable;
                e.updated_ns = now;
                e.next_ns = now + reachable;
                e.tries = 0;
            }
            // Nothing to confirm, or no MAC to use (RFC 4861 7.2.5: an NA
            // without a link-layer address does not complete a resolution).
            (EventKind::Confirm, _) => {}
        }
    }

    /// Adds an entry if its network has room; counts a refusal.
    fn insert(&mut self, key: (NetworkId, u128), e: Entry) -> bool {
        let n = self.per_network.entry(key.0).or_insert(0);
        if *n >= self.settings.neighbor_table_size {
            self.counters.add(SlowCounter::NeighborTableFull, 1);
            // The worker that learned it may already use it: take it back.
            self.updates.push(Update {
                network: key.0,
                ip: key.1,
                mac: None,
            });
            return false;
        }
        *n += 1;
        self.entries.insert(key, e);
        true
    }

    fn remove_key(&mut self, key: (NetworkId, u128)) -> Option<Entry> {
        let e = self.entries.remove(&key)?;
        if let Some(n) = self.per_network.get_mut(&key.0) {
            *n = n.saturating_sub(1);
        }
        if e.state.usable() {
            self.updates.push(Update {
                network: key.0,
                ip: key.1,
                mac: None,
            });
        }
        Some(e)
    }

    /// Runs the timers due at `now`: failed resolutions, probes, removals.
    pub fn tick(&mut self, now: u64) {
        let retry = self.retry_ns();
        let tries = self.settings.neighbor_tries;
        let mut expired = Vec::new();
        for (&key, e) in self.entries.iter_mut() {
            if now < e.next_ns {
                continue;
            }
            match e.state {
                State::Incomplete => {
                    e.state = State::Failed;
                    e.next_ns = now + retry;
                }
                State::Failed => expired.push((key, false)),
                State::Reachable | State::Stale => {
                    e.state = State::Probing;
                    e.tries = 1;
                    e.next_ns = now + retry;
                    self.probes.push(Probe {
                        network: key.0,
                        ip: key.1,
                        mac: e.mac,
                    });
                }
                State::Probing if e.tries < tries => {
                    e.tries += 1;
                    e.next_ns = now + retry;
                    self.probes.push(Probe {
                        network: key.0,
                        ip: key.1,
                        mac: e.mac,
                    });
                }
                State::Probing => expired.push((key, true)),
            }
        }
        for (key, aged) in expired {
            self.remove_key(key);
            if aged {
                self.counters.add(SlowCounter::NeighborsAgedOut, 1);
            }
        }
    }

    /// True when there is nothing to tell the workers and no timer can run.
    #[inline]
    pub fn is_quiet(&self) -> bool {
        self.entries.is_empty() && self.updates.is_empty() && self.probes.is_empty()
    }

    /// Removes a learned entry (`/neighbor/del`): the next packet to it
    /// resolves it again. False when there is none.
    pub fn remove(&mut self, network: NetworkId, ip: u128) -> bool {
        self.remove_key((network, ip)).is_some()
    }

    /// Every entry, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (NetworkId, u128, &Entry)> {
        self.entries.iter().map(|(&(n, ip), e)| (n, ip, e))
    }

    /// The entry for `ip` on `network`.
    pub fn get(&self, network: NetworkId, ip: u128) -> Option<&Entry> {
        self.entries.get(&(network, ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn ev(kind: EventKind, ip: u128, mac: u8) -> Event {
        Event {
            kind,
            network: 1,
            ip,
            mac: [2, 0, 0, 0, 0, mac],
        }
    }

    #[test]
    fn answers_only_complete_what_was_asked_and_entries_age_out() {
        let mut t = NeighborTable::new(&SlowPathSettings::default());
        t.event(ev(EventKind::Answer, 5, 1), 0);
        assert!(t.get(1, 5).is_none() && t.updates.is_empty());
        t.event(ev(EventKind::Resolving, 5, 0), 0);
        t.event(ev(EventKind::Answer, 5, 1), S / 10);
        assert_eq!(t.get(1, 5).unwrap().state, State::Reachable);
        assert_eq!(t.updates.len(), 1);
        // 30 s later: probed three times, then removed.
        let base = S / 10 + 30 * S;
        for k in 0..3 {
            t.tick(base + k * S);
            assert_eq!(t.probes.len() as u64, k + 1);
        }
        t.tick(base + 3 * S);
        assert!(t.get(1, 5).is_none());
        assert_eq!(t.updates.last().unwrap().mac, None);
        assert_eq!(t.counters.get(SlowCounter::NeighborsAgedOut), 1);
    }

    #[test]
    fn a_solicited_na_without_lladdr_confirms_a_probed_entry() {
        let mut t = NeighborTable::new(&SlowPathSettings::default());
        t.event(ev(EventKind::Confirm, 5, 0), 0);
        assert!(t.get(1, 5).is_none(), "creates nothing");
        t.event(ev(EventKind::Resolving, 5, 0), 0);
        t.event(ev(EventKind::Confirm, 5, 0), 0);
        assert_eq!(t.get(1, 5).unwrap().state, State::Incomplete);
        t.event(ev(EventKind::Answer, 5, 1), 0);
        t.updates.clear();
        // Probed after 30 s; each probe answered without a link-layer
        // address (Linux's NA to a unicast NS): kept, MAC unchanged.
        let mut now = 30 * S;
        for _ in 0..5 {
            t.tick(now);
            assert_eq!(t.get(1, 5).unwrap().state, State::Probing);
            t.event(ev(EventKind::Confirm, 5, 0), now + S / 100);
            let e = t.get(1, 5).unwrap();
            assert_eq!((e.state, e.mac), (State::Reachable, [2, 0, 0, 0, 0, 1]));
            now += 30 * S + S / 100;
        }
        assert!(t.updates.is_empty(), "nothing changed for the workers");
        assert_eq!(t.counters.get(SlowCounter::NeighborsAgedOut), 0);
    }

    #[test]
    fn requests_learn_and_the_table_is_bounded() {
        let s = SlowPathSettings {
            neighbor_table_size: 1,
            ..Default::default()
        };
        let mut t = NeighborTable::new(&s);
        t.event(ev(EventKind::Request, 5, 1), 0);
        t.event(ev(EventKind::Request, 6, 2), 0);
        assert_eq!(t.get(1, 5).unwrap().state, State::Stale);
        assert!(t.get(1, 6).is_none());
        assert_eq!(t.counters.get(SlowCounter::NeighborTableFull), 1);
        assert!(t.remove(1, 5));
        assert!(!t.remove(1, 5));
    }
}

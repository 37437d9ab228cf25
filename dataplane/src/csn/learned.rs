//! Addresses learned from DNS answers to allowlisted names.
//!
//! [`LearnedTable::learn`] takes a parsed response ([`super::dns`]); when
//! its question matches name rules of the allowlist and its rcode is 0, each
//! address answer reachable through the CNAME chain becomes a *grant*:
//! (address, question name) → the name's rules, valid until
//! `now + clamp(ttl, dns_ttl_min, dns_ttl_max)`. The record's own TTL is used
//! (not the smaller TTL of a CNAME before it): the address is what the
//! application connects to, and shortening its life only adds the drops this
//! table exists to avoid.
//!
//! # Lifetime
//!
//! A grant allows new flows while `now < expires` **or** while it was used
//! by a new flow within the last `dns_idle_grace` ([`LearnedTable::check`]
//! records the use). So an application that keeps connecting to an address
//! past its TTL keeps working, and one that stopped for the grace period
//! loses it. Flows already created never come back here: a flow outlives
//! its grant until the flow itself ends. A new answer refreshes a grant
//! (never shortens it).
//!
//! # Bounds
//!
//! - Per name at most `learned_per_name_cap` addresses. A new address beyond
//!   it **replaces the oldest** (learned first) address of that name and
//!   counts `learned_cap_overflow`: CDN names rotate addresses, and the new
//!   answer is the one the application is about to use, so refusing it would
//!   break the connection being made now.
//! - In total at most `learned_capacity` grants. When full, expired grants
//!   are reclaimed first; if none, the new address is refused and counted
//!   (`learned_table_full`): existing grants are never evicted for it.
//!
//! # Concurrency and time
//!
//! Time is always a parameter (nanoseconds of any monotonic clock); nothing
//! here reads a clock. Learning and expiry take `&mut self` (the control
//! thread's copy); [`LearnedTable::check`] takes `&self`, allocates nothing,
//! and records a use with one relaxed atomic *store* (no read-modify-write),
//! at most once per second per grant, so workers can read a shared table.
//! Rule ids belong to one allowlist snapshot: after a reload call
//! [`LearnedTable::rebind`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::allowlist::{Allowlist, RuleId};
use super::dns::DnsResponse;
use super::{CsnCounter, CsnCounters, CsnSettings, NS_PER_S};

/// Minimum time between two recorded uses of one grant (limits writes to
/// shared cache lines from workers).
const TOUCH_RESOLUTION_NS: u64 = NS_PER_S;

/// One (address, name) pair.
#[derive(Debug)]
struct Grant {
    name: Arc<str>,
    rules: Arc<[RuleId]>,
    expires_ns: u64,
    last_used_ns: AtomicU64,
    /// Deadline of this grant's entry in the timer heap.
    timer_at: u64,
}

impl Grant {
    fn deadline(&self, grace_ns: u64) -> u64 {
        let used = self.last_used_ns.load(Ordering::Relaxed);
        if used == 0 {
            self.expires_ns
        } else {
            self.expires_ns.max(used.saturating_add(grace_ns))
        }
    }
}

#[derive(Debug)]
struct NameEntry {
    name: Arc<str>,
    rules: Arc<[RuleId]>,
    /// Addresses in the order they were learned (oldest first).
    addrs: VecDeque<IpAddr>,
}

/// One grant as [`LearnedTable::list`] shows it: address, name, nanoseconds
/// left, rules.
pub type LearnedRow = (IpAddr, Arc<str>, u64, Arc<[RuleId]>);

/// What one [`LearnedTable::learn`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LearnOutcome {
    /// The question matched no name rule (or rcode ≠ 0): nothing learned.
    pub not_allowlisted: bool,
    /// New grants.
    pub installed: u32,
    /// Existing grants refreshed.
    pub refreshed: u32,
    /// Oldest addresses replaced because the name was at its cap.
    pub cap_overflow: u32,
    /// Addresses refused because the table was full.
    pub table_full: u32,
}

impl LearnOutcome {
    /// Adds this outcome to the module's counters.
    pub fn count_into(&self, c: &mut CsnCounters) {
        c.add(
            CsnCounter::DnsNotAllowlisted,
            u64::from(self.not_allowlisted),
        );
        c.add(CsnCounter::LearnedInstalled, u64::from(self.installed));
        c.add(CsnCounter::LearnedRefreshed, u64::from(self.refreshed));
        c.add(CsnCounter::LearnedCapOverflow, u64::from(self.cap_overflow));
        c.add(CsnCounter::LearnedTableFull, u64::from(self.table_full));
    }
}

/// The learned-address table (see the module doc).
#[derive(Debug)]
pub struct LearnedTable {
    ttl_min_ns: u64,
    ttl_max_ns: u64,
    grace_ns: u64,
    per_name_cap: usize,
    capacity: usize,
    addrs: FxHashMap<IpAddr, Vec<Grant>>,
    names: FxHashMap<Arc<str>, NameEntry>,
    timers: BinaryHeap<Reverse<(u64, IpAddr, Arc<str>)>>,
    len: usize,
}

impl LearnedTable {
    /// An empty table with the `dns_*` and `learned_*` knobs of `s`.
    pub fn new(s: &CsnSettings) -> Self {
        LearnedTable {
            ttl_min_ns: u64::from(s.dns_ttl_min_s) * NS_PER_S,
            ttl_max_ns: u64::from(s.dns_ttl_max_s) * NS_PER_S,
            grace_ns: u64::from(s.dns_idle_grace_s) * NS_PER_S,
            per_name_cap: (s.learned_per_name_cap as usize).max(1),
            capacity: (s.learned_capacity as usize).max(1),
            addrs: FxHashMap::default(),
            names: FxHashMap::default(),
            timers: BinaryHeap::new(),
            len: 0,
        }
    }

    /// Number of grants ((address, name) pairs).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is learned.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Distinct addresses with at least one grant.
    pub fn addresses(&self) -> usize {
        self.addrs.len()
    }

    /// The TTL a record with `ttl` seconds gets, in nanoseconds.
    pub fn clamp_ttl_ns(&self, ttl: u32) -> u64 {
        (u64::from(ttl) * NS_PER_S).clamp(self.ttl_min_ns, self.ttl_max_ns)
    }

    /// Learns the answers of `resp` (see the module doc) at time `now_ns`.
    pub fn learn(
        &mut self,
        allowlist: &Allowlist,
        resp: &DnsResponse,
        now_ns: u64,
    ) -> LearnOutcome {
        let mut out = LearnOutcome::default();
        let rules = allowlist.match_name(&resp.question);
        if rules.is_empty() || resp.rcode != 0 {
            out.not_allowlisted = true;
            return out;
        }
        let (name, rules): (Arc<str>, Arc<[RuleId]>) =
            match self.names.get_key_value(resp.question.as_str()) {
                Some((k, e)) if *e.rules == rules[..] => (k.clone(), e.rules.clone()),
                _ => {
                    let name: Arc<str> = Arc::from(resp.question.as_str());
                    let rules: Arc<[RuleId]> = Arc::from(rules);
                    let e = self.names.entry(name.clone()).or_insert_with(|| NameEntry {
                        name: name.clone(),
                        rules: rules.clone(),
                        addrs: VecDeque::new(),
                    });
                    e.rules = rules.clone();
                    (name, rules)
                }
            };
        for a in &resp.addresses {
            let expires = now_ns.saturating_add(self.clamp_ttl_ns(a.ttl));
            // Refresh.
            if let Some(g) = self
                .addrs
                .get_mut(&a.addr)
                .and_then(|gs| gs.iter_mut().find(|g| g.name == name))
            {
                g.expires_ns = g.expires_ns.max(expires);
                g.rules = rules.clone();
                out.refreshed += 1;
                continue;
            }
            // Per-name cap: replace the oldest.
            if self.names.get(&name).map_or(0, |e| e.addrs.len()) >= self.per_name_cap {
                if let Some(old) = self.names.get_mut(&name).and_then(|e| e.addrs.pop_front()) {
                    self.remove_grant(old, &name);
                    out.cap_overflow += 1;
                }
            }
            if self.len >= self.capacity {
                self.expire(now_ns, usize::MAX);
                if self.len >= self.capacity {
                    out.table_full += 1;
                    continue;
                }
            }
            // (Expiry above may have dropped the name's entry with its last
            // address: recreate it.)
            let entry = self.names.entry(name.clone()).or_insert_with(|| NameEntry {
                name: name.clone(),
                rules: rules.clone(),
                addrs: VecDeque::new(),
            });
            entry.addrs.push_back(a.addr);
            let grant = Grant {
                name: name.clone(),
                rules: rules.clone(),
                expires_ns: expires,
                last_used_ns: AtomicU64::new(0),
                timer_at: expires,
            };
            self.addrs.entry(a.addr).or_default().push(grant);
            self.timers.push(Reverse((expires, a.addr, name.clone())));
            self.len += 1;
            out.installed += 1;
        }
        // A name whose every address was refused keeps no entry.
        if self.names.get(&name).is_some_and(|e| e.addrs.is_empty()) {
            self.names.remove(&name);
        }
        self.compact_timers();
        out
    }

    fn remove_grant(&mut self, addr: IpAddr, name: &Arc<str>) {
        if let Some(gs) = self.addrs.get_mut(&addr) {
            let before = gs.len();
            gs.retain(|g| g.name != *name);
            self.len -= before - gs.len();
            if gs.is_empty() {
                self.addrs.remove(&addr);
            }
        }
    }

    /// Rebuilds the timer heap when stale entries (left by replaced grants)
    /// outnumber live ones, so it stays O(grants).
    fn compact_timers(&mut self) {
        if self.timers.len() <= 2 * self.len + 1024 {
            return;
        }
        self.timers = self
            .addrs
            .iter()
            .flat_map(|(a, gs)| gs.iter().map(|g| Reverse((g.timer_at, *a, g.name.clone()))))
            .collect();
    }

    /// The rule that allows a new flow to `addr` with `proto` and destination
    /// `port` through a live grant, and records the use (see the module doc).
    /// Allocation-free; `&self`.
    #[inline]
    pub fn check(
        &self,
        allowlist: &Allowlist,
        addr: IpAddr,
        proto: u8,
        port: u16,
        now_ns: u64,
    ) -> Option<RuleId> {
        let gs = self.addrs.get(&addr)?;
        for g in gs {
            if g.deadline(self.grace_ns) <= now_ns {
                continue;
            }
            if let Some(&r) = g
                .rules
                .iter()
                .find(|&&r| allowlist.rule_allows(r, proto, port))
            {
                let used = g.last_used_ns.load(Ordering::Relaxed);
                if used == 0 || now_ns >= used.saturating_add(TOUCH_RESOLUTION_NS) {
                    g.last_used_ns.store(now_ns, Ordering::Relaxed);
                }
                return Some(r);
            }
        }
        None
    }

    /// Every rule of the live grants of `addr` (for
    /// [`Allowlist::closest_rule`]), sorted, without duplicates.
    pub fn rules_for(&self, addr: IpAddr, now_ns: u64) -> Vec<RuleId> {
        let mut out: Vec<RuleId> = self
            .addrs
            .get(&addr)
            .into_iter()
            .flatten()
            .filter(|g| g.deadline(self.grace_ns) > now_ns)
            .flat_map(|g| g.rules.iter().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Live addresses learned for `name`, oldest first.
    pub fn addresses_of(&self, name: &str, now_ns: u64) -> Vec<IpAddr> {
        let Some(e) = self.names.get(name) else {
            return Vec::new();
        };
        e.addrs
            .iter()
            .copied()
            .filter(|a| {
                self.addrs.get(a).is_some_and(|gs| {
                    gs.iter()
                        .any(|g| g.name == e.name && g.deadline(self.grace_ns) > now_ns)
                })
            })
            .collect()
    }

    /// Up to `max` live grants as `(address, name, nanoseconds left before
    /// new flows stop being allowed, rules)` (slow path: `/csn/learned`).
    pub fn list(&self, now_ns: u64, max: usize) -> Vec<LearnedRow> {
        self.addrs
            .iter()
            .flat_map(|(a, gs)| gs.iter().map(move |g| (a, g)))
            .filter_map(|(a, g)| {
                let left = g.deadline(self.grace_ns).checked_sub(now_ns)?;
                (left > 0).then(|| (*a, g.name.clone(), left, g.rules.clone()))
            })
            .take(max)
            .collect()
    }

    /// Removes grants whose TTL and idle grace are over at `now_ns`, examining
    /// at most `budget` timer entries (incremental: call it every few
    /// milliseconds with a small budget). Returns the grants removed.
    pub fn expire(&mut self, now_ns: u64, budget: usize) -> usize {
        let mut removed = 0;
        for _ in 0..budget {
            match self.timers.peek() {
                Some(Reverse((at, _, _))) if *at <= now_ns => {}
                _ => break,
            }
            let Some(Reverse((at, addr, name))) = self.timers.pop() else {
                break;
            };
            let grace = self.grace_ns;
            let Some(g) = self
                .addrs
                .get_mut(&addr)
                .and_then(|gs| gs.iter_mut().find(|g| g.name == name))
            else {
                continue; // replaced or removed already
            };
            if g.timer_at != at {
                continue; // stale entry
            }
            let deadline = g.deadline(grace);
            if deadline > now_ns {
                g.timer_at = deadline;
                self.timers.push(Reverse((deadline, addr, name)));
                continue;
            }
            self.remove_grant(addr, &name);
            if let Some(e) = self.names.get_mut(&name) {
                e.addrs.retain(|a| *a != addr);
                if e.addrs.is_empty() {
                    self.names.remove(&name);
                }
            }
            removed += 1;
        }
        removed
    }

    /// Re-resolves every learned name against a new allowlist snapshot: names
    /// that still match keep their addresses with the new rule ids; the
    /// others are forgotten. Returns the grants removed.
    pub fn rebind(&mut self, allowlist: &Allowlist) -> usize {
        let mut removed = 0;
        let names: Vec<Arc<str>> = self.names.keys().cloned().collect();
        for name in names {
            let rules = allowlist.match_name(&name);
            if rules.is_empty() {
                if let Some(e) = self.names.remove(&name) {
                    for a in e.addrs {
                        let before = self.len;
                        self.remove_grant(a, &name);
                        removed += before - self.len;
                    }
                }
                continue;
            }
            let rules: Arc<[RuleId]> = Arc::from(rules);
            if let Some(e) = self.names.get_mut(&name) {
                e.rules = rules.clone();
                for a in &e.addrs {
                    if let Some(gs) = self.addrs.get_mut(a) {
                        for g in gs.iter_mut().filter(|g| g.name == name) {
                            g.rules = rules.clone();
                        }
                    }
                }
            }
        }
        self.compact_timers();
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use crate::csn::dns::AddressAnswer;
    use cnfwd_config::egress::{parse_endpoint, EgressRule};

    const S: u64 = NS_PER_S;

    fn allowlist(list: &[(&str, Option<u32>)]) -> Allowlist {
        let rules: Vec<EgressRule> = list
            .iter()
            .map(|&(d, p)| {
                let (target, port) = parse_endpoint(d, p).unwrap();
                EgressRule {
                    category: "t".into(),
                    target,
                    port,
                }
            })
            .collect();
        Allowlist::new(&rules).unwrap()
    }

    fn resp(q: &str, rcode: u8, answers: &[(&str, u32)]) -> DnsResponse {
        DnsResponse {
            id: 1,
            rcode,
            truncated_flag: false,
            question: q.into(),
            qtype: 1,
            chain: vec![q.into()],
            addresses: answers
                .iter()
                .map(|&(a, ttl)| AddressAnswer {
                    addr: a.parse().unwrap(),
                    ttl,
                    owner: q.into(),
                })
                .collect(),
        }
    }

    fn settings() -> CsnSettings {
        CsnSettings {
            dns_ttl_min_s: 10,
            dns_ttl_max_s: 100,
            dns_idle_grace_s: 50,
            learned_per_name_cap: 3,
            learned_capacity: 5,
            ..CsnSettings::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn learn_check_clamp_expire() {
        let a = allowlist(&[("api.example.com", Some(443)), ("*.cdn.example", None)]);
        let mut t = LearnedTable::new(&settings());
        let o = t.learn(
            &a,
            &resp(
                "api.example.com",
                0,
                &[("192.0.2.1", 1), ("2001:db8::1", 1000)],
            ),
            0,
        );
        assert_eq!(o.installed, 2);
        assert_eq!(t.check(&a, ip("192.0.2.1"), 6, 443, 0), Some(0));
        assert_eq!(t.check(&a, ip("192.0.2.1"), 6, 80, 0), None);
        assert_eq!(t.check(&a, ip("192.0.2.2"), 6, 443, 0), None);
        // TTL 1 s raised to 10 s; 1000 s lowered to 100 s.
        assert_eq!(t.clamp_ttl_ns(1), 10 * S);
        assert_eq!(t.clamp_ttl_ns(1000), 100 * S);
        // Not allowlisted, or an error rcode: nothing learned.
        assert!(
            t.learn(&a, &resp("other.example", 0, &[("192.0.2.9", 60)]), 0)
                .not_allowlisted
        );
        assert!(
            t.learn(&a, &resp("x.cdn.example", 2, &[("192.0.2.9", 60)]), 0)
                .not_allowlisted
        );
        assert_eq!(t.check(&a, ip("192.0.2.9"), 6, 443, 0), None);
        assert_eq!(t.len(), 2);
        // The v6 address is never used: gone right after its clamped TTL.
        assert_eq!(t.check(&a, ip("2001:db8::1"), 6, 443, 99 * S), Some(0));
        assert_eq!(
            t.expire(101 * S, usize::MAX),
            1,
            "v4 never used: gone at 10 s; v6 used at 99 s: in its grace"
        );
        assert_eq!(t.check(&a, ip("2001:db8::1"), 6, 443, 148 * S), Some(0));
        assert_eq!(t.check(&a, ip("2001:db8::1"), 6, 443, 199 * S), None);
        assert!(t.expire(199 * S, usize::MAX) >= 1);
        assert_eq!(
            t.addresses_of("api.example.com", 199 * S),
            Vec::<IpAddr>::new()
        );
    }

    #[test]
    fn idle_grace_only_for_used_addresses() {
        let a = allowlist(&[(".example.org", None)]);
        let mut t = LearnedTable::new(&settings());
        t.learn(
            &a,
            &resp(
                "www.example.org",
                0,
                &[("192.0.2.1", 20), ("192.0.2.2", 20)],
            ),
            0,
        );
        // .1 is used at 15 s; .2 never.
        assert!(t.check(&a, ip("192.0.2.1"), 17, 53, 15 * S).is_some());
        assert!(
            t.check(&a, ip("192.0.2.2"), 17, 53, 20 * S).is_none(),
            "TTL over"
        );
        assert!(
            t.check(&a, ip("192.0.2.1"), 17, 53, 60 * S).is_some(),
            "grace"
        );
        assert_eq!(t.expire(60 * S, usize::MAX), 1);
        assert_eq!(
            t.addresses_of("www.example.org", 60 * S),
            vec![ip("192.0.2.1")]
        );
        // Used at 60 s: alive until 110 s.
        assert!(t.check(&a, ip("192.0.2.1"), 17, 53, 109 * S).is_some());
        assert_eq!(
            t.expire(158 * S, usize::MAX),
            0,
            "used at 109 s: until 159 s"
        );
        assert!(t.check(&a, ip("192.0.2.1"), 17, 53, 159 * S).is_none());
        assert_eq!(t.expire(159 * S, usize::MAX), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn refresh_never_shortens() {
        let a = allowlist(&[("x.example", None)]);
        let mut t = LearnedTable::new(&settings());
        t.learn(&a, &resp("x.example", 0, &[("192.0.2.1", 100)]), 0);
        let o = t.learn(&a, &resp("x.example", 0, &[("192.0.2.1", 10)]), 0);
        assert_eq!((o.installed, o.refreshed), (0, 1));
        assert!(t.check(&a, ip("192.0.2.1"), 6, 1, 99 * S).is_some());
        // Refreshed at 90 s with 100 s: until 190 s.
        t.learn(&a, &resp("x.example", 0, &[("192.0.2.1", 100)]), 90 * S);
        assert_eq!(t.expire(150 * S, usize::MAX), 0);
        assert!(t.check(&a, ip("192.0.2.1"), 6, 1, 189 * S).is_some());
    }

    #[test]
    fn per_name_cap_replaces_oldest_and_capacity_refuses() {
        let a = allowlist(&[("a.example", None), ("b.example", None)]);
        let mut t = LearnedTable::new(&settings());
        let o = t.learn(
            &a,
            &resp(
                "a.example",
                0,
                &[
                    ("192.0.2.1", 60),
                    ("192.0.2.2", 60),
                    ("192.0.2.3", 60),
                    ("192.0.2.4", 60),
                ],
            ),
            0,
        );
        assert_eq!((o.installed, o.cap_overflow), (4, 1));
        assert_eq!(
            t.addresses_of("a.example", 0),
            vec![ip("192.0.2.2"), ip("192.0.2.3"), ip("192.0.2.4")]
        );
        assert!(t.check(&a, ip("192.0.2.1"), 6, 1, 0).is_none());
        // Capacity 5: two more fit, the third is refused.
        let o = t.learn(
            &a,
            &resp(
                "b.example",
                0,
                &[
                    ("198.51.100.1", 60),
                    ("198.51.100.2", 60),
                    ("198.51.100.3", 60),
                ],
            ),
            0,
        );
        assert_eq!((o.installed, o.table_full), (2, 1));
        assert_eq!(t.len(), 5);
        let mut c = CsnCounters::default();
        o.count_into(&mut c);
        assert_eq!(c.get(CsnCounter::LearnedTableFull), 1);
        // After expiry there is room again (expired grants reclaimed first).
        let o = t.learn(&a, &resp("b.example", 0, &[("198.51.100.3", 60)]), 61 * S);
        assert_eq!((o.installed, o.table_full), (1, 0));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn same_address_two_names_and_rebind() {
        let a = allowlist(&[("a.example", Some(443)), ("b.example", Some(80))]);
        let mut t = LearnedTable::new(&settings());
        t.learn(&a, &resp("a.example", 0, &[("192.0.2.1", 60)]), 0);
        t.learn(&a, &resp("b.example", 0, &[("192.0.2.1", 20)]), 0);
        assert_eq!(t.addresses(), 1);
        assert_eq!(t.len(), 2);
        assert_eq!(t.check(&a, ip("192.0.2.1"), 6, 443, 0), Some(0));
        assert_eq!(t.check(&a, ip("192.0.2.1"), 6, 80, 0), Some(1));
        assert_eq!(t.rules_for(ip("192.0.2.1"), 0), vec![0, 1]);
        t.expire(30 * S, usize::MAX);
        assert_eq!(t.check(&a, ip("192.0.2.1"), 6, 80, 30 * S), None);
        assert_eq!(t.check(&a, ip("192.0.2.1"), 6, 443, 30 * S), Some(0));
        // New snapshot: a.example is gone, b.example moved to id 0.
        let b = allowlist(&[("b.example", Some(80)), ("c.example", None)]);
        t.learn(&a, &resp("b.example", 0, &[("192.0.2.7", 60)]), 30 * S);
        assert_eq!(t.rebind(&b), 1);
        assert_eq!(t.check(&b, ip("192.0.2.1"), 6, 443, 30 * S), None);
        assert_eq!(t.check(&b, ip("192.0.2.7"), 6, 80, 30 * S), Some(0));
    }

    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        /// Name index, address indices, TTL.
        Learn(usize, Vec<u8>, u32),
        /// Address index, port.
        Check(u8, u16),
        Advance(u32),
        Expire(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0usize..4, proptest::collection::vec(0u8..12, 0..6), 0u32..200)
                .prop_map(|(n, a, t)| Op::Learn(n, a, t)),
            3 => (0u8..12, prop::sample::select(vec![80u16, 443])).prop_map(|(a, p)| Op::Check(a, p)),
            2 => (0u32..80).prop_map(Op::Advance),
            1 => (1usize..10).prop_map(Op::Expire),
        ]
    }

    proptest! {
        /// Invariants under any sequence: counts agree, caps hold, a check
        /// only ever grants a rule of a name the address was learned for and
        /// that allows the port, and an address answered less than
        /// `dns_ttl_min` ago and still installed is always allowed.
        #[test]
        fn invariants(ops in proptest::collection::vec(op(), 1..120)) {
            let names = ["a.example", "b.example", "x.c.example", "d.example"];
            let a = allowlist(&[
                ("a.example", Some(443)),
                ("b.example", None),
                ("*.c.example", Some(80)),
                ("d.example", Some(443)),
            ]);
            let s = settings(); // min 10 s, max 100 s, grace 50 s, cap 3, capacity 5
            let mut t = LearnedTable::new(&s);
            let mut now = 0u64;
            // (address, name) -> time of the last answer for it.
            let mut answered: HashMap<(IpAddr, usize), u64> = HashMap::new();
            let addr = |i: u8| IpAddr::from([192, 0, 2, i]);
            for op in ops {
                match op {
                    Op::Learn(n, addrs, ttl) => {
                        let mut r = resp(names[n], 0, &[]);
                        for &i in &addrs {
                            r.addresses.push(AddressAnswer { addr: addr(i), ttl, owner: names[n].into() });
                        }
                        let o = t.learn(&a, &r, now);
                        prop_assert_eq!(
                            (o.installed + o.refreshed + o.table_full) as usize,
                            addrs.len()
                        );
                        for &i in &addrs {
                            answered.insert((addr(i), n), now);
                        }
                    }
                    Op::Check(i, port) => {
                        if let Some(rule) = t.check(&a, addr(i), 6, port, now) {
                            prop_assert!(a.rule_allows(rule, 6, port));
                            let name_ok = (0..names.len()).any(|n| {
                                answered.contains_key(&(addr(i), n))
                                    && a.match_name(names[n]).contains(&rule)
                            });
                            prop_assert!(name_ok);
                        }
                    }
                    Op::Advance(sec) => now += u64::from(sec) * S,
                    Op::Expire(budget) => {
                        let before = t.len();
                        let n = t.expire(now, budget);
                        prop_assert!(n <= budget);
                        prop_assert_eq!(t.len(), before - n);
                    }
                }
                let grants: usize = t.addrs.values().map(Vec::len).sum();
                prop_assert_eq!(grants, t.len());
                prop_assert!(t.len() <= 5);
                for e in t.names.values() {
                    prop_assert!(!e.addrs.is_empty() && e.addrs.len() <= 3);
                }
                // Freshly answered and still installed: allowed.
                for (&(ad, n), &at) in &answered {
                    let installed = t
                        .addrs
                        .get(&ad)
                        .is_some_and(|gs| gs.iter().any(|g| &*g.name == names[n]));
                    if installed && now < at + 10 * S {
                        let port = if n == 2 { 80 } else { 443 };
                        prop_assert!(t.check(&a, ad, 6, port, now).is_some());
                    }
                }
            }
            // After a full expiry nothing past its deadline remains.
            t.expire(now, usize::MAX);
            for gs in t.addrs.values() {
                for g in gs {
                    prop_assert!(g.deadline(t.grace_ns) > now);
                }
            }
        }
    }

    #[test]
    fn hundred_thousand_addresses() {
        let a = allowlist(&[(".bulk.example", None)]);
        let s = CsnSettings {
            learned_capacity: 100_000,
            learned_per_name_cap: 100,
            ..CsnSettings::default()
        };
        let mut t = LearnedTable::new(&s);
        for n in 0..1000u32 {
            let mut r = resp(&format!("n{n}.bulk.example"), 0, &[]);
            for i in 0..100u32 {
                let x = n * 100 + i;
                r.addresses.push(AddressAnswer {
                    addr: IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + x)),
                    ttl: 300,
                    owner: r.question.clone(),
                });
            }
            assert_eq!(t.learn(&a, &r, 0).installed, 100);
        }
        assert_eq!(t.len(), 100_000);
        assert!(t.check(&a, ip("10.1.134.159"), 6, 443, 0).is_some());
        // Incremental expiry: bounded work per call.
        assert_eq!(t.expire(301 * S, 1000), 1000);
        assert_eq!(t.len(), 99_000);
    }
}

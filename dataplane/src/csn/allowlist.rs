//! The compiled CSN allowlist.
//!
//! Built once per configuration snapshot from the resolved rules
//! ([`cnfwd_config::ResolvedCsn::allow`], each an [`EgressRule`]);
//! read-only afterwards, so workers share it without synchronisation.
//!
//! # Rules
//!
//! A rule's id ([`RuleId`]) is its index in the resolved list, stable for one
//! snapshot. A rule allows:
//!
//! - **port given**: TCP and UDP to that destination port. The model has no
//!   protocol field; DNS, QUIC and HTTPS all need both, and nothing else
//!   carries a port a rule could name.
//! - **port absent** (and no URL scheme, see [`cnfwd_config::egress`]): every
//!   protocol and every port, ICMP included. This is what most egress policy
//!   tools do with a port-less entry (Kubernetes NetworkPolicy `to` without
//!   `ports`, Squid `dstdomain` without `port`, Azure Firewall `*`), and
//!   the reason to write a rule without a port.
//!
//! # Matching
//!
//! - Addresses ([`Allowlist::check_addr`]): exact addresses (/32, /128) in a
//!   hash; other prefixes in the FIB's LPM tables ([`crate::fib`]), where a
//!   prefix's port set is the union of its own rules and of every shorter
//!   prefix that covers it, so one longest-prefix lookup answers for all
//!   covering rules. An address is checked in the hash first, then in the
//!   LPM. Both are allocation-free; a port set is scanned by binary search.
//! - Names ([`Allowlist::match_name`]): three hashes (exact names, apex-included
//!   suffixes, apex-excluded suffixes), looked up once per label of the name:
//!   O(labels), independent of the number of rules. Names are compared in
//!   lower case without a trailing dot (as `cnfwd_config` stores them and
//!   [`super::dns`] returns them).
//!
//! Measured (`benches/benches/csn.rs`, 10,000 rules: 2,500 names, 2,500
//! wildcards, 2,500 /24s, 2,500 hosts; same machine and caveats as
//! [`super::flow`]): [`Allowlist::check_v4`] 6.3-7.5 ns per denied address
//! (hash miss + LPM miss), 16.8-18.6 ns per allowed one; compiled in 5-15 ms.
//!
//! Per-rule hit counters are not atomics: each worker owns a [`RuleHits`]
//! (plain `u64` per rule) and readers sum them.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cnfwd_config::egress::{EgressRule, EgressTarget};
use ipnet::IpNet;
use rustc_hash::FxHashMap;

use crate::fib::{Fib4, Fib6, FibError, NO_ROUTE};

/// Index of a rule in the resolved allowlist.
pub type RuleId = u32;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// True when `proto` carries ports a port rule can name (TCP, UDP).
#[inline]
fn has_ports(proto: u8) -> bool {
    proto == IPPROTO_TCP || proto == IPPROTO_UDP
}

/// The rules that apply to one address or prefix, by port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PortSet {
    /// A rule without a port (any protocol, any port), if any.
    any: Option<RuleId>,
    /// `(port, rule)` sorted by port (first rule per port kept).
    ports: Vec<(u16, RuleId)>,
    /// Every rule of the set, for the closest-rule search.
    rules: Vec<RuleId>,
}

impl PortSet {
    fn add(&mut self, rule: RuleId, port: Option<u16>) {
        match port {
            None => {
                self.any.get_or_insert(rule);
            }
            Some(p) => {
                if let Err(i) = self.ports.binary_search_by_key(&p, |&(q, _)| q) {
                    self.ports.insert(i, (p, rule));
                }
            }
        }
        if !self.rules.contains(&rule) {
            self.rules.push(rule);
        }
    }

    #[inline]
    fn allows(&self, proto: u8, port: u16) -> Option<RuleId> {
        if let Some(r) = self.any {
            return Some(r);
        }
        if !has_ports(proto) {
            return None;
        }
        self.ports
            .binary_search_by_key(&port, |&(q, _)| q)
            .ok()
            .map(|i| self.ports[i].1)
    }
}

/// Result of an address check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed by this rule.
    Allowed(RuleId),
    /// No address rule allows it (a learned name may still; see
    /// [`super::LearnedTable::check`]).
    Denied,
}

/// The rule a denied packet came closest to, for its log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closest {
    /// A rule for exactly this address allows other ports / protocols.
    SameAddress(RuleId),
    /// A name rule the address was learned for allows other ports.
    LearnedName(RuleId),
    /// The longest prefix rule covering the address allows other ports.
    CoveringPrefix(RuleId),
    /// No rule mentions this address.
    None,
}

/// Errors compiling an allowlist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowlistError {
    /// More rules than a [`RuleId`] or the LPM value range can index.
    #[error("{0} allowlist rules is more than the 2^31 - 1 supported")]
    TooManyRules(usize),
    /// The LPM refused a prefix.
    #[error("prefix {prefix}: {source}")]
    Fib {
        /// The prefix.
        prefix: IpNet,
        /// Why.
        source: FibError,
    },
}

/// Per-rule hit counters owned by one worker (plain `u64`, not atomics:
/// nothing shared is written per packet). Readers sum the workers'.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleHits(Vec<u64>);

impl RuleHits {
    /// Zeroed counters for `rules` rules.
    pub fn new(rules: usize) -> Self {
        RuleHits(vec![0; rules])
    }

    /// Counts one hit of `rule` (ignored for an id out of range, e.g. after a
    /// snapshot swap with fewer rules).
    #[inline]
    pub fn hit(&mut self, rule: RuleId) {
        if let Some(c) = self.0.get_mut(rule as usize) {
            *c += 1;
        }
    }

    /// Hits of `rule` (0 when out of range).
    pub fn get(&self, rule: RuleId) -> u64 {
        self.0.get(rule as usize).copied().unwrap_or(0)
    }

    /// Adds `other`'s counts into `self` (growing to the longer of both).
    pub fn merge(&mut self, other: &RuleHits) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a += b;
        }
    }
}

/// The compiled allowlist (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    rules: Vec<EgressRule>,
    sets: Vec<PortSet>,
    exact4: FxHashMap<u32, u32>,
    exact6: FxHashMap<u128, u32>,
    cidr4: Fib4,
    cidr6: Fib6,
    names_exact: FxHashMap<String, Vec<RuleId>>,
    names_apex: FxHashMap<String, Vec<RuleId>>,
    names_below: FxHashMap<String, Vec<RuleId>>,
}

impl Allowlist {
    /// Compiles `rules` (the resolved CSN's `allow`, in order: rule id =
    /// index).
    pub fn new(rules: &[EgressRule]) -> Result<Self, AllowlistError> {
        if rules.len() > crate::fib::MAX_VALUE as usize {
            return Err(AllowlistError::TooManyRules(rules.len()));
        }
        let mut a = Allowlist {
            rules: rules.to_vec(),
            ..Allowlist::default()
        };
        let mut prefixes: BTreeMap<(u8, IpNet), PortSet> = BTreeMap::new();
        for (id, rule) in rules.iter().enumerate() {
            let id = id as RuleId;
            match &rule.target {
                EgressTarget::Exact(n) => a.names_exact.entry(n.clone()).or_default().push(id),
                EgressTarget::SuffixWithApex(n) => {
                    a.names_apex.entry(n.clone()).or_default().push(id)
                }
                EgressTarget::SuffixOnly(n) => a.names_below.entry(n.clone()).or_default().push(id),
                EgressTarget::Prefix(net) => {
                    let net = net.trunc();
                    match net {
                        IpNet::V4(n) if n.prefix_len() == 32 => {
                            let set = a.set_for(true, u128::from(u32::from(n.addr())));
                            a.sets[set].add(id, rule.port);
                        }
                        IpNet::V6(n) if n.prefix_len() == 128 => {
                            let set = a.set_for(false, u128::from(n.addr()));
                            a.sets[set].add(id, rule.port);
                        }
                        _ => prefixes
                            .entry((net.prefix_len(), net))
                            .or_default()
                            .add(id, rule.port),
                    }
                }
            }
        }
        // Shorter prefixes first, so the lookup of a prefix's network finds
        // the longest prefix already installed that covers it.
        for ((_, net), mut set) in prefixes {
            let cover = match net {
                IpNet::V4(n) => a.cidr4.lookup(u32::from(n.network())),
                IpNet::V6(n) => a.cidr6.lookup(u128::from(n.network())),
            };
            if cover != NO_ROUTE {
                let inherited = a.sets[cover as usize].clone();
                for &(p, r) in &inherited.ports {
                    set.add(r, Some(p));
                }
                if let Some(r) = inherited.any {
                    set.add(r, None);
                }
                for r in inherited.rules {
                    if !set.rules.contains(&r) {
                        set.rules.push(r);
                    }
                }
            }
            let idx = a.sets.len() as u32;
            a.sets.push(set);
            let res = match net {
                IpNet::V4(n) => a.cidr4.insert(n, idx),
                IpNet::V6(n) => a.cidr6.insert(n, idx),
            };
            res.map_err(|source| AllowlistError::Fib {
                prefix: net,
                source,
            })?;
        }
        Ok(a)
    }

    fn set_for(&mut self, v4: bool, addr: u128) -> usize {
        let next = self.sets.len() as u32;
        let idx = if v4 {
            *self.exact4.entry(addr as u32).or_insert(next)
        } else {
            *self.exact6.entry(addr).or_insert(next)
        };
        if idx == next {
            self.sets.push(PortSet::default());
        }
        idx as usize
    }

    /// The rules, in id order.
    pub fn rules(&self) -> &[EgressRule] {
        &self.rules
    }

    /// The rule with this id.
    pub fn rule(&self, id: RuleId) -> Option<&EgressRule> {
        self.rules.get(id as usize)
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules (everything is denied).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// True when rule `id` allows protocol `proto` to destination `port`
    /// (see the module doc); false for an unknown id.
    #[inline]
    pub fn rule_allows(&self, id: RuleId, proto: u8, port: u16) -> bool {
        match self.rules.get(id as usize) {
            Some(r) => match r.port {
                None => true,
                Some(p) => has_ports(proto) && p == port,
            },
            None => false,
        }
    }

    /// Whether an IPv4 destination (`u32::from(Ipv4Addr)`), protocol and
    /// destination port are allowed by an address rule. Allocation-free.
    #[inline]
    pub fn check_v4(&self, dst: u32, proto: u8, port: u16) -> Verdict {
        if let Some(&set) = self.exact4.get(&dst) {
            if let Some(r) = self.sets[set as usize].allows(proto, port) {
                return Verdict::Allowed(r);
            }
        }
        let set = self.cidr4.lookup(dst);
        if set != NO_ROUTE {
            if let Some(r) = self.sets[set as usize].allows(proto, port) {
                return Verdict::Allowed(r);
            }
        }
        Verdict::Denied
    }

    /// Whether an IPv6 destination (`u128::from(Ipv6Addr)`), protocol and
    /// destination port are allowed by an address rule. Allocation-free.
    #[inline]
    pub fn check_v6(&self, dst: u128, proto: u8, port: u16) -> Verdict {
        if let Some(&set) = self.exact6.get(&dst) {
            if let Some(r) = self.sets[set as usize].allows(proto, port) {
                return Verdict::Allowed(r);
            }
        }
        let set = self.cidr6.lookup(dst);
        if set != NO_ROUTE {
            if let Some(r) = self.sets[set as usize].allows(proto, port) {
                return Verdict::Allowed(r);
            }
        }
        Verdict::Denied
    }

    /// [`Allowlist::check_v4`] or [`Allowlist::check_v6`] by family.
    #[inline]
    pub fn check_addr(&self, dst: IpAddr, proto: u8, port: u16) -> Verdict {
        match dst {
            IpAddr::V4(a) => self.check_v4(u32::from(a), proto, port),
            IpAddr::V6(a) => self.check_v6(u128::from(a), proto, port),
        }
    }

    /// Name rules matching `name` (lower case, no trailing dot), sorted and
    /// without duplicates: exact rules for the name, apex-included suffix
    /// rules for the name or any parent, apex-excluded rules for any proper
    /// parent. One hash lookup per label per kind.
    pub fn match_name(&self, name: &str) -> Vec<RuleId> {
        let name = name.strip_suffix('.').unwrap_or(name);
        let mut out = Vec::new();
        if name.is_empty() {
            return out;
        }
        if let Some(r) = self.names_exact.get(name) {
            out.extend_from_slice(r);
        }
        let mut suffix = name;
        let mut proper = false;
        loop {
            if let Some(r) = self.names_apex.get(suffix) {
                out.extend_from_slice(r);
            }
            if proper {
                if let Some(r) = self.names_below.get(suffix) {
                    out.extend_from_slice(r);
                }
            }
            match suffix.split_once('.') {
                Some((_, rest)) if !rest.is_empty() => {
                    suffix = rest;
                    proper = true;
                }
                _ => break,
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The rule a denied packet to `dst` came closest to, for the log line
    /// (slow path, allocates nothing but walks at most the rules of one
    /// address): a rule for exactly `dst`, else a name rule in `learned_rules`
    /// (the rules the address was learned for, from
    /// [`super::LearnedTable::rules_for`]), else the longest covering prefix
    /// rule, else [`Closest::None`].
    pub fn closest_rule(&self, dst: IpAddr, learned_rules: &[RuleId]) -> Closest {
        let exact = match dst {
            IpAddr::V4(a) => self.exact4.get(&u32::from(a)),
            IpAddr::V6(a) => self.exact6.get(&u128::from(a)),
        };
        if let Some(r) = exact.and_then(|&s| self.sets[s as usize].rules.first()) {
            return Closest::SameAddress(*r);
        }
        if let Some(&r) = learned_rules.first() {
            return Closest::LearnedName(r);
        }
        let set = match dst {
            IpAddr::V4(a) => self.cidr4.lookup(u32::from(a)),
            IpAddr::V6(a) => self.cidr6.lookup(u128::from(a)),
        };
        if set == NO_ROUTE {
            return Closest::None;
        }
        // The set holds the covering prefixes' rules too: pick the longest.
        let best = self.sets[set as usize]
            .rules
            .iter()
            .copied()
            .max_by_key(|&r| match self.rules[r as usize].target {
                EgressTarget::Prefix(n) => (n.prefix_len(), std::cmp::Reverse(r)),
                _ => (0, std::cmp::Reverse(r)),
            });
        best.map_or(Closest::None, Closest::CoveringPrefix)
    }

    /// A one-line description of rule `id` for logs: `#id category target
    /// port`.
    pub fn describe(&self, id: RuleId) -> String {
        let Some(r) = self.rule(id) else {
            return format!("#{id} (unknown)");
        };
        let target = match &r.target {
            EgressTarget::Exact(n) => n.clone(),
            EgressTarget::SuffixWithApex(n) => format!(".{n}"),
            EgressTarget::SuffixOnly(n) => format!("*.{n}"),
            EgressTarget::Prefix(p) => p.to_string(),
        };
        match r.port {
            Some(p) => format!("#{id} {} {target} port {p}", r.category),
            None => format!("#{id} {} {target} any port", r.category),
        }
    }
}

/// Formats the denied-packet log line: source, destination, protocol, port
/// and the closest rule.
pub fn deny_log_line(
    allowlist: &Allowlist,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    port: u16,
    closest: Closest,
) -> String {
    let rule = match closest {
        Closest::SameAddress(r) => format!("same address: {}", allowlist.describe(r)),
        Closest::LearnedName(r) => format!("learned for: {}", allowlist.describe(r)),
        Closest::CoveringPrefix(r) => format!("covering prefix: {}", allowlist.describe(r)),
        Closest::None => "no rule mentions this destination".to_string(),
    };
    format!("csn_denied src {src} dst {dst} proto {proto} port {port}; closest rule {rule}")
}

/// `u32` of an IPv4 address, `u128` of an IPv6 one (helpers for callers that
/// keep addresses as integers like [`crate::packet::Meta`]).
pub fn addr_from_bits(v4: bool, bits: u128) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(bits as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(bits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnfwd_config::egress::parse_endpoint;
    use proptest::prelude::*;

    fn rules(list: &[(&str, Option<u32>)]) -> Vec<EgressRule> {
        list.iter()
            .map(|&(d, p)| {
                let (target, port) = parse_endpoint(d, p).unwrap();
                EgressRule {
                    category: "test".into(),
                    target,
                    port,
                }
            })
            .collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_ports_and_protocols() {
        let a = Allowlist::new(&rules(&[
            ("203.0.113.7", Some(443)),      // 0
            ("10.0.0.0/8", Some(80)),        // 1
            ("10.1.0.0/16", Some(8080)),     // 2
            ("192.0.2.0/24", None),          // 3: any port, any protocol
            ("2001:db8::/32", Some(53)),     // 4
            ("2001:db8::1", None),           // 5
            ("203.0.113.7", Some(8443)),     // 6
            ("https://198.51.100.9/", None), // 7: URL scheme port 443
        ]))
        .unwrap();
        assert_eq!(a.check_addr(ip("203.0.113.7"), 6, 443), Verdict::Allowed(0));
        assert_eq!(
            a.check_addr(ip("203.0.113.7"), 17, 443),
            Verdict::Allowed(0)
        );
        assert_eq!(
            a.check_addr(ip("203.0.113.7"), 6, 8443),
            Verdict::Allowed(6)
        );
        assert_eq!(a.check_addr(ip("203.0.113.7"), 6, 80), Verdict::Denied);
        // A port rule does not allow ICMP.
        assert_eq!(a.check_addr(ip("203.0.113.7"), 1, 443), Verdict::Denied);
        // Longest prefix /16 inherits the /8's port.
        assert_eq!(a.check_addr(ip("10.1.2.3"), 6, 80), Verdict::Allowed(1));
        assert_eq!(a.check_addr(ip("10.1.2.3"), 6, 8080), Verdict::Allowed(2));
        assert_eq!(a.check_addr(ip("10.2.2.3"), 6, 8080), Verdict::Denied);
        // Port absent: any port, any protocol.
        assert_eq!(a.check_addr(ip("192.0.2.77"), 6, 1), Verdict::Allowed(3));
        assert_eq!(a.check_addr(ip("192.0.2.77"), 1, 0), Verdict::Allowed(3));
        assert_eq!(a.check_addr(ip("192.0.2.77"), 47, 0), Verdict::Allowed(3));
        assert_eq!(a.check_addr(ip("192.0.3.1"), 6, 1), Verdict::Denied);
        assert_eq!(a.check_addr(ip("2001:db8::1"), 58, 0), Verdict::Allowed(5));
        assert_eq!(a.check_addr(ip("2001:db8::2"), 17, 53), Verdict::Allowed(4));
        assert_eq!(a.check_addr(ip("2001:db8::2"), 17, 54), Verdict::Denied);
        assert_eq!(
            a.check_addr(ip("198.51.100.9"), 6, 443),
            Verdict::Allowed(7)
        );
        assert_eq!(a.check_addr(ip("198.51.100.9"), 6, 80), Verdict::Denied);
        assert!(a.rule_allows(3, 1, 0));
        assert!(!a.rule_allows(0, 1, 443));
        assert!(!a.rule_allows(99, 6, 443));
    }

    #[test]
    fn names() {
        let a = Allowlist::new(&rules(&[
            ("mcr.microsoft.com", Some(443)), // 0
            (".ubuntu.com", None),            // 1
            ("*.example.com", Some(80)),      // 2
            ("example.com", Some(8080)),      // 3
            ("*.a.example.com", None),        // 4
        ]))
        .unwrap();
        assert_eq!(a.match_name("mcr.microsoft.com"), vec![0]);
        assert_eq!(a.match_name("mcr.microsoft.com."), vec![0]);
        assert!(a.match_name("x.mcr.microsoft.com").is_empty());
        assert!(a.match_name("microsoft.com").is_empty());
        assert_eq!(a.match_name("ubuntu.com"), vec![1]);
        assert_eq!(a.match_name("archive.ubuntu.com"), vec![1]);
        assert!(a.match_name("xubuntu.com").is_empty());
        assert_eq!(a.match_name("example.com"), vec![3]);
        assert_eq!(a.match_name("www.example.com"), vec![2]);
        assert_eq!(a.match_name("x.a.example.com"), vec![2, 4]);
        assert_eq!(a.match_name("a.example.com"), vec![2]);
        assert!(a.match_name("").is_empty());
        assert!(a.match_name("com").is_empty());
    }

    #[test]
    fn closest() {
        let a = Allowlist::new(&rules(&[
            ("203.0.113.7", Some(443)), // 0
            ("10.0.0.0/8", Some(80)),   // 1
            ("10.1.0.0/16", Some(81)),  // 2
            ("x.example", Some(443)),   // 3
        ]))
        .unwrap();
        assert_eq!(
            a.closest_rule(ip("203.0.113.7"), &[]),
            Closest::SameAddress(0)
        );
        assert_eq!(
            a.closest_rule(ip("10.1.0.1"), &[]),
            Closest::CoveringPrefix(2)
        );
        assert_eq!(
            a.closest_rule(ip("10.2.0.1"), &[]),
            Closest::CoveringPrefix(1)
        );
        assert_eq!(
            a.closest_rule(ip("10.2.0.1"), &[3]),
            Closest::LearnedName(3)
        );
        assert_eq!(a.closest_rule(ip("192.0.2.1"), &[]), Closest::None);
        let line = deny_log_line(
            &a,
            ip("172.16.0.5"),
            ip("10.1.0.1"),
            6,
            22,
            a.closest_rule(ip("10.1.0.1"), &[]),
        );
        assert_eq!(
            line,
            "csn_denied src 172.16.0.5 dst 10.1.0.1 proto 6 port 22; closest rule covering prefix: #2 test 10.1.0.0/16 port 81"
        );
    }

    #[test]
    fn hits() {
        let mut h = RuleHits::new(2);
        h.hit(1);
        h.hit(1);
        h.hit(5);
        let mut t = RuleHits::new(1);
        t.merge(&h);
        assert_eq!((t.get(0), t.get(1), t.get(5)), (0, 2, 0));
    }

    #[test]
    fn ten_thousand_rules() {
        let mut list = Vec::new();
        for i in 0..10_000u32 {
            let (target, port) = match i % 4 {
                0 => parse_endpoint(&format!("h{i}.example.com"), Some(443)).unwrap(),
                1 => parse_endpoint(&format!("*.s{i}.example.net"), None).unwrap(),
                2 => parse_endpoint(&format!("10.{}.{}.0/24", i >> 8, i & 255), Some(443)).unwrap(),
                _ => parse_endpoint(&format!("100.64.{}.{}", i >> 8, i & 255), Some(80)).unwrap(),
            };
            list.push(EgressRule {
                category: "bulk".into(),
                target,
                port,
            });
        }
        let a = Allowlist::new(&list).unwrap();
        assert_eq!(a.match_name("h4.example.com"), vec![4]);
        assert_eq!(a.match_name("x.y.s5.example.net"), vec![5]);
        assert!(a.match_name("s5.example.net").is_empty());
        assert_eq!(a.check_addr(ip("10.0.6.9"), 6, 443), Verdict::Allowed(6));
        assert_eq!(a.check_addr(ip("100.64.0.7"), 6, 80), Verdict::Allowed(7));
        assert_eq!(a.check_addr(ip("100.64.0.8"), 6, 80), Verdict::Denied);
    }

    /// Naive reference: any rule whose prefix contains the address and whose
    /// port/protocol allows the packet.
    fn naive(rules: &[EgressRule], dst: IpAddr, proto: u8, port: u16) -> bool {
        rules.iter().any(|r| match r.target {
            EgressTarget::Prefix(n) => {
                n.contains(&dst)
                    && match r.port {
                        None => true,
                        Some(p) => has_ports(proto) && p == port,
                    }
            }
            _ => false,
        })
    }

    /// Naive name matcher: the three forms by string comparison.
    fn naive_name(rule: &EgressRule, name: &str) -> bool {
        match &rule.target {
            EgressTarget::Exact(n) => name == n,
            EgressTarget::SuffixWithApex(n) => name == n || name.ends_with(&format!(".{n}")),
            EgressTarget::SuffixOnly(n) => name.ends_with(&format!(".{n}")),
            EgressTarget::Prefix(_) => false,
        }
    }

    fn name_strategy() -> impl Strategy<Value = String> {
        // Few labels from a tiny alphabet, so rules and names overlap often.
        proptest::collection::vec(prop::sample::select(vec!["a", "b", "ab", "c"]), 1..5)
            .prop_map(|labels| labels.join("."))
    }

    proptest! {
        #[test]
        fn name_match_matches_naive(
            rules in proptest::collection::vec((0u8..3, name_strategy()), 1..30),
            names in proptest::collection::vec(name_strategy(), 1..30),
        ) {
            let rules: Vec<EgressRule> = rules
                .into_iter()
                .map(|(kind, n)| EgressRule {
                    category: "p".into(),
                    target: match kind {
                        0 => EgressTarget::Exact(n),
                        1 => EgressTarget::SuffixWithApex(n),
                        _ => EgressTarget::SuffixOnly(n),
                    },
                    port: None,
                })
                .collect();
            let a = Allowlist::new(&rules).unwrap();
            for name in names {
                let want: Vec<RuleId> = (0..rules.len() as RuleId)
                    .filter(|&r| naive_name(&rules[r as usize], &name))
                    .collect();
                prop_assert_eq!(a.match_name(&name), want, "{}", name);
            }
        }

        #[test]
        fn addr_check_matches_naive(
            list in proptest::collection::vec((any::<u32>(), 8u8..=32, proptest::option::of(1u16..4)), 1..40),
            probes in proptest::collection::vec((any::<u32>(), 0usize..40, 0u8..3, 0u16..5), 1..60),
        ) {
            // Addresses folded into 10.0.0.0/14 so prefixes overlap.
            let fold = |a: u32| 0x0a00_0000 | (a & 0x0003_ffff);
            let rules: Vec<EgressRule> = list
                .iter()
                .map(|&(a, len, port)| EgressRule {
                    category: "p".into(),
                    target: EgressTarget::Prefix(
                        IpNet::new(IpAddr::V4(Ipv4Addr::from(fold(a))), len).unwrap().trunc(),
                    ),
                    port,
                })
                .collect();
            let a = Allowlist::new(&rules).unwrap();
            for (addr, pick, proto, port) in probes {
                // Half the probes hit a rule's own network address.
                let dst = if addr % 2 == 0 {
                    match rules[pick % rules.len()].target {
                        EgressTarget::Prefix(n) => n.network(),
                        _ => unreachable!(),
                    }
                } else {
                    IpAddr::V4(Ipv4Addr::from(fold(addr)))
                };
                let proto = [1u8, 6, 17][proto as usize];
                let got = a.check_addr(dst, proto, port);
                let want = naive(&rules, dst, proto, port);
                prop_assert_eq!(matches!(got, Verdict::Allowed(_)), want, "{} {} {}", dst, proto, port);
                if let Verdict::Allowed(r) = got {
                    prop_assert!(naive(&rules[r as usize..=r as usize], dst, proto, port));
                }
            }
        }
    }
}

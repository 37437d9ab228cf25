//! Unit and property tests of the FIBs against a naive reference.

use super::*;
use ipnet::{Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn n4(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}
fn n6(s: &str) -> Ipv6Net {
    s.parse().unwrap()
}
fn a4(s: &str) -> u32 {
    u32::from(s.parse::<Ipv4Addr>().unwrap())
}
fn a6(s: &str) -> u128 {
    u128::from(s.parse::<Ipv6Addr>().unwrap())
}

#[test]
fn empty_tables_miss_and_cost_nothing() {
    let mut out = [7u32; 3];
    for mut f in [Fib4::new(), Fib4::new_large()] {
        assert_eq!(f.lookup(0), NO_ROUTE);
        assert_eq!(f.lookup(u32::MAX), NO_ROUTE);
        f.lookup_burst(&[0, 1, u32::MAX], &mut out);
        assert_eq!(out, [NO_ROUTE; 3]);
        assert!(f.is_empty());
        assert_eq!(f.plies(), 0);
        assert_eq!(
            f.memory_bytes().total(),
            0,
            "an empty VRF allocates nothing"
        );
        // The root comes with the first prefix and goes with the last.
        f.insert(n4("10.0.0.0/8"), 1).unwrap();
        assert!(f.memory_bytes().lookup >= 65536 * 4);
        assert_eq!(f.lookup(a4("10.1.1.1")), 1);
        f.remove(n4("10.0.0.0/8"));
        assert_eq!(f.memory_bytes().total(), 0);
        assert_eq!(f.lookup(a4("10.1.1.1")), NO_ROUTE);
        f.insert(n4("10.0.0.0/8"), 2).unwrap();
        assert_eq!(f.lookup(a4("10.1.1.1")), 2);
    }
    assert!(Fib4::new().memory_bytes().total() == 0);
    let mut f = Fib6::default();
    assert_eq!(f.lookup(0), NO_ROUTE);
    assert_eq!(f.lookup(u128::MAX), NO_ROUTE);
    f.lookup_burst(&[0, 1, u128::MAX], &mut out);
    assert_eq!(out, [NO_ROUTE; 3]);
    assert_eq!(f.len(), 0);
    assert!(f.memory_bytes().total() < 1024, "{}", f.memory_bytes());
    f.insert(n6("2001:db8::/32"), 1).unwrap();
    assert_eq!(f.lookup(a6("2001:db8::1")), 1);
    f.remove(n6("2001:db8::/32"));
    assert!(f.memory_bytes().total() < 1024, "{}", f.memory_bytes());
    assert_eq!(f.lookup(a6("2001:db8::1")), NO_ROUTE);
}

#[test]
fn v4_overlapping_prefixes_insert_and_remove() {
    let mut f = Fib4::new();
    assert_eq!(f.insert(n4("0.0.0.0/0"), 1), Ok(None));
    assert_eq!(f.insert(n4("10.0.0.0/8"), 2), Ok(None));
    assert_eq!(f.insert(n4("10.1.0.0/16"), 3), Ok(None));
    assert_eq!(f.insert(n4("10.1.2.0/24"), 4), Ok(None));
    assert_eq!(f.insert(n4("10.1.2.3/32"), 5), Ok(None));
    assert_eq!(f.insert(n4("10.1.2.128/25"), 6), Ok(None));
    assert_eq!(f.lookup(a4("11.0.0.0")), 1);
    assert_eq!(f.lookup(a4("10.2.0.0")), 2);
    assert_eq!(f.lookup(a4("10.1.3.0")), 3);
    assert_eq!(f.lookup(a4("10.1.2.4")), 4);
    assert_eq!(f.lookup(a4("10.1.2.3")), 5);
    assert_eq!(f.lookup(a4("10.1.2.200")), 6);
    assert_eq!(f.len(), 6);
    // Replace.
    assert_eq!(f.insert(n4("10.1.0.0/16"), 30), Ok(Some(3)));
    assert_eq!(f.lookup(a4("10.1.3.0")), 30);
    assert_eq!(f.lookup(a4("10.1.2.4")), 4);
    // Remove the middle ones; covers come back.
    assert_eq!(f.remove(n4("10.1.2.0/24")), Some(4));
    assert_eq!(f.lookup(a4("10.1.2.4")), 30);
    assert_eq!(f.lookup(a4("10.1.2.3")), 5);
    assert_eq!(f.lookup(a4("10.1.2.200")), 6);
    assert_eq!(f.remove(n4("10.1.2.0/24")), None);
    assert_eq!(f.remove(n4("10.1.0.0/16")), Some(30));
    assert_eq!(f.lookup(a4("10.1.2.4")), 2);
    assert_eq!(f.remove(n4("0.0.0.0/0")), Some(1));
    assert_eq!(f.lookup(a4("11.0.0.0")), NO_ROUTE);
    assert_eq!(f.remove(n4("10.1.2.3/32")), Some(5));
    assert_eq!(f.remove(n4("10.1.2.128/25")), Some(6));
    assert_eq!(f.lookup(a4("10.1.2.3")), 2);
    assert_eq!(
        f.plies(),
        0,
        "plies are folded back when they become uniform"
    );
    assert_eq!(f.remove(n4("10.0.0.0/8")), Some(2));
    assert!(f.is_empty());
    assert_eq!(f.lookup(a4("10.1.2.3")), NO_ROUTE);
}

#[test]
fn v4_large_root() {
    let mut f = Fib4::new_large();
    f.insert(n4("0.0.0.0/0"), 1).unwrap();
    assert_eq!(f.memory_bytes().lookup, 4 << 24);
    f.insert(n4("10.1.2.0/23"), 2).unwrap();
    f.insert(n4("10.1.2.3/32"), 3).unwrap();
    f.insert(n4("10.1.2.0/25"), 4).unwrap();
    let addrs = [
        a4("10.1.2.3"),
        a4("10.1.2.4"),
        a4("10.1.2.200"),
        a4("10.1.3.1"),
        a4("9.0.0.0"),
    ];
    let mut out = [0; 5];
    f.lookup_burst(&addrs, &mut out);
    assert_eq!(out, [3, 4, 2, 2, 1]);
    for (a, o) in addrs.iter().zip(out) {
        assert_eq!(f.lookup(*a), o);
    }
    assert_eq!(f.plies(), 1);
    f.remove(n4("10.1.2.3/32"));
    f.remove(n4("10.1.2.0/25"));
    assert_eq!(f.plies(), 0);
    assert_eq!(f.lookup(a4("10.1.2.3")), 2);
}

#[test]
fn v4_host_bits_get_iter_and_errors() {
    let mut f = Fib4::new();
    assert_eq!(f.insert(n4("192.168.1.77/24"), 9), Ok(None));
    assert_eq!(f.get(n4("192.168.1.0/24")), Some(9));
    assert_eq!(f.get(n4("192.168.1.1/24")), Some(9));
    assert_eq!(f.get(n4("192.168.0.0/16")), None);
    assert_eq!(
        f.insert(n4("1.0.0.0/8"), MAX_VALUE + 1),
        Err(FibError::ValueOutOfRange {
            value: MAX_VALUE + 1,
            max: MAX_VALUE
        })
    );
    assert!(f.insert(n4("1.0.0.0/8"), NO_ROUTE).is_err());
    assert_eq!(f.len(), 1);
    assert_eq!(f.insert(n4("1.0.0.0/8"), MAX_VALUE), Ok(None));
    assert_eq!(f.lookup(a4("1.2.3.4")), MAX_VALUE);
    assert_eq!(f.insert(n4("1.0.0.0/7"), 0), Ok(None));
    assert_eq!(f.lookup(a4("0.2.3.4")), 0);
    let all: Vec<_> = f.iter().collect();
    assert_eq!(
        all,
        vec![
            (n4("0.0.0.0/7"), 0),
            (n4("1.0.0.0/8"), MAX_VALUE),
            (n4("192.168.1.0/24"), 9)
        ]
    );
    assert_eq!(f.remove(n4("192.168.1.99/24")), Some(9));
}

#[test]
fn burst_matches_single_and_tolerates_length_mismatch() {
    let mut f = Fib4::new();
    f.insert(n4("10.0.0.0/8"), 1).unwrap();
    f.insert(n4("10.1.0.0/16"), 2).unwrap();
    f.insert(n4("10.1.2.0/24"), 3).unwrap();
    f.insert(n4("10.1.2.3/32"), 4).unwrap();
    let addrs = [
        a4("10.9.9.9"),
        a4("10.1.9.9"),
        a4("10.1.2.9"),
        a4("10.1.2.3"),
        a4("9.9.9.9"),
    ];
    let mut out = [0u32; 5];
    f.lookup_burst(&addrs, &mut out);
    assert_eq!(out, [1, 2, 3, 4, NO_ROUTE]);
    let mut short = [7u32; 2];
    f.lookup_burst(&addrs, &mut short);
    assert_eq!(short, [1, 2]);
    let mut long = [7u32; 7];
    f.lookup_burst(&addrs, &mut long);
    assert_eq!(long, [1, 2, 3, 4, NO_ROUTE, 7, 7]);
    f.lookup_burst(&[], &mut long);

    let mut g = Fib6::new();
    g.insert(n6("2001:db8::/32"), 1).unwrap();
    g.insert(n6("2001:db8:1::/48"), 2).unwrap();
    g.insert(n6("2001:db8:1::1/128"), 3).unwrap();
    let addrs = [
        a6("2001:db8::1"),
        a6("2001:db8:1::2"),
        a6("2001:db8:1::1"),
        a6("::1"),
    ];
    let mut out = [0u32; 4];
    g.lookup_burst(&addrs, &mut out);
    assert_eq!(out, [1, 2, 3, NO_ROUTE]);
    for (a, o) in addrs.iter().zip(out) {
        assert_eq!(g.lookup(*a), o);
    }
}

#[test]
fn v6_deep_prefixes_and_default() {
    let mut f = Fib6::new();
    f.insert(n6("::/0"), 0).unwrap();
    f.insert(n6("2001:db8::/32"), 1).unwrap();
    f.insert(n6("2001:db8:0:1::/64"), 2).unwrap();
    f.insert(n6("2001:db8:0:1::5/128"), 3).unwrap();
    f.insert(n6("2001:db8:0:1::4/127"), 4).unwrap();
    assert_eq!(f.lookup(a6("2001:db8:0:1::5")), 3);
    assert_eq!(f.lookup(a6("2001:db8:0:1::4")), 4);
    assert_eq!(f.lookup(a6("2001:db8:0:1::6")), 2);
    assert_eq!(f.lookup(a6("2001:db8:0:2::6")), 1);
    assert_eq!(f.lookup(a6("fe80::1")), 0);
    assert_eq!(
        f.plies(),
        15 - 1,
        "a /128 needs a ply per 8 bits after the root"
    );
    assert_eq!(f.remove(n6("2001:db8:0:1::5/128")), Some(3));
    assert_eq!(f.lookup(a6("2001:db8:0:1::5")), 4);
    assert_eq!(f.remove(n6("2001:db8:0:1::4/127")), Some(4));
    assert_eq!(f.lookup(a6("2001:db8:0:1::5")), 2);
    assert_eq!(f.remove(n6("2001:db8:0:1::/64")), Some(2));
    assert_eq!(f.remove(n6("::/0")), Some(0));
    assert_eq!(f.lookup(a6("fe80::1")), NO_ROUTE);
    assert_eq!(f.lookup(a6("2001:db8:0:1::5")), 1);
    assert_eq!(f.plies(), 2);
    assert_eq!(f.remove(n6("2001:db8::/32")), Some(1));
    assert_eq!(f.plies(), 0);
    assert!(f.insert(n6("::/0"), MAX_VALUE + 1).is_err());
}

#[test]
fn memory_add_and_display() {
    let m = FibMemory {
        lookup: 1 << 20,
        control: 1 << 19,
    } + FibMemory {
        lookup: 0,
        control: 1 << 19,
    };
    assert_eq!(m.total(), 2 << 20);
    assert_eq!(m.to_string(), "2.0 MiB (lookup 1.0 MiB + control 1.0 MiB)");
    let s: FibMemory = [m, m].into_iter().sum();
    assert_eq!(s.total(), 4 << 20);
}

// ---- property tests against a naive reference -------------------------------

/// The naive reference: a list scanned for the longest match.
#[derive(Default, Debug)]
struct Naive {
    /// (left-aligned network, length, value)
    routes: Vec<(u128, u8, u32)>,
}

impl Naive {
    fn insert(&mut self, a: u128, l: u8, v: u32) -> Option<u32> {
        for r in &mut self.routes {
            if r.0 == a && r.1 == l {
                return Some(std::mem::replace(&mut r.2, v));
            }
        }
        self.routes.push((a, l, v));
        None
    }
    fn remove(&mut self, a: u128, l: u8) -> Option<u32> {
        let i = self.routes.iter().position(|r| r.0 == a && r.1 == l)?;
        Some(self.routes.swap_remove(i).2)
    }
    fn lookup(&self, addr: u128) -> u32 {
        let mut best: Option<(u8, u32)> = None;
        for &(a, l, v) in &self.routes {
            let m = if l == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(l))
            };
            if addr & m == a && !matches!(best, Some((bl, _)) if l <= bl) {
                best = Some((l, v));
            }
        }
        best.map_or(NO_ROUTE, |(_, v)| v)
    }
    fn sorted(&self) -> Vec<(u128, u8, u32)> {
        let mut v = self.routes.clone();
        v.sort();
        v
    }
    /// Addresses around every prefix's edges and ply boundaries.
    fn probes(&self, width: u32) -> Vec<u128> {
        let mut out = Vec::new();
        let top = if width == 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        for &(a, l, _) in &self.routes {
            let net = a >> (128 - width);
            let host = if u32::from(l) >= width {
                0
            } else {
                top >> u32::from(l)
            };
            let last = net | host;
            for x in [
                net,
                last,
                net.wrapping_sub(1) & top,
                last.wrapping_add(1) & top,
                net | (host >> 1),
                (net | (host >> 1)).wrapping_add(1),
            ] {
                out.push(x & top);
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u128, u8, u32),
    Remove(u128, u8),
    /// Remove the n-th installed prefix (mod len), so removes hit often.
    RemoveExisting(usize),
}

/// Addresses concentrated on a few regions so prefixes overlap.
fn addr_strategy(width: u32) -> impl Strategy<Value = u128> {
    let bases: Vec<u128> = if width == 32 {
        vec![0, 0x0a00_0000, 0x0a01_0200, 0xc0a8_0000, 0xffff_ffff]
    } else {
        vec![
            0,
            0x2001_0db8 << 96,
            (0x2001_0db8_0001u128) << 80,
            0xfe80 << 112,
            u128::MAX,
        ]
    };
    let top = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    prop_oneof![
        3 => (proptest::sample::select(bases), any::<u128>(), 0u32..=width)
            .prop_map(move |(b, r, bits)| {
                let m = if bits == 0 { 0 } else { u128::MAX >> (128 - bits) };
                (b ^ (r & m)) & top
            }),
        1 => any::<u128>().prop_map(move |r| r & top),
    ]
}

fn len_strategy(width: u32) -> BoxedStrategy<u8> {
    if width == 32 {
        prop_oneof![
            Just(0u8),
            Just(32),
            15u8..=17,
            23u8..=25,
            7u8..=9,
            0u8..=32,
            31u8..=32
        ]
        .boxed()
    } else {
        prop_oneof![
            Just(0u8),
            Just(128),
            Just(16),
            Just(24),
            Just(32),
            Just(40),
            Just(48),
            Just(56),
            Just(64),
            15u8..=17,
            31u8..=33,
            47u8..=49,
            0u8..=128,
            120u8..=128
        ]
        .boxed()
    }
}

fn ops_strategy(width: u32) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        5 => (addr_strategy(width), len_strategy(width), 0u32..8).prop_map(move |(a, l, v)| {
            let a = if l == 0 { 0 } else { a & ((u128::MAX >> (128 - width)) << (width - u32::from(l)) ) };
            Op::Insert(a << (128 - width), l, v)
        }),
        1 => (addr_strategy(width), len_strategy(width)).prop_map(move |(a, l)| {
            let a = if l == 0 { 0 } else { a & ((u128::MAX >> (128 - width)) << (width - u32::from(l)) ) };
            Op::Remove(a << (128 - width), l)
        }),
        3 => any::<usize>().prop_map(Op::RemoveExisting),
    ];
    proptest::collection::vec(op, 1..60)
}

trait Table {
    const WIDTH: u32;
    fn new() -> Self;
    fn ins(&mut self, a: u128, l: u8, v: u32) -> Option<u32>;
    fn rem(&mut self, a: u128, l: u8) -> Option<u32>;
    fn look(&self, a: u128) -> u32;
    fn burst(&self, a: &[u128]) -> Vec<u32>;
    fn all(&self) -> Vec<(u128, u8, u32)>;
    fn count(&self) -> usize;
    fn ply_count(&self) -> usize;
    fn check_internal(&self) -> Result<(), String> {
        Ok(())
    }
}

impl Table for Fib4 {
    const WIDTH: u32 = 32;
    fn new() -> Self {
        Fib4::new()
    }
    fn ins(&mut self, a: u128, l: u8, v: u32) -> Option<u32> {
        self.insert(
            Ipv4Net::new(Ipv4Addr::from((a >> 96) as u32), l).unwrap(),
            v,
        )
        .unwrap()
    }
    fn rem(&mut self, a: u128, l: u8) -> Option<u32> {
        self.remove(Ipv4Net::new(Ipv4Addr::from((a >> 96) as u32), l).unwrap())
    }
    fn look(&self, a: u128) -> u32 {
        self.lookup(a as u32)
    }
    fn burst(&self, a: &[u128]) -> Vec<u32> {
        let a: Vec<u32> = a.iter().map(|&x| x as u32).collect();
        let mut out = vec![0; a.len()];
        self.lookup_burst(&a, &mut out);
        out
    }
    fn all(&self) -> Vec<(u128, u8, u32)> {
        self.iter()
            .map(|(n, v)| (u128::from(u32::from(n.network())) << 96, n.prefix_len(), v))
            .collect()
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn ply_count(&self) -> usize {
        self.plies()
    }
}

/// [`Fib4::new_large`] (24-bit root) under the same tests.
struct Large(Fib4);

impl Table for Large {
    const WIDTH: u32 = 32;
    fn new() -> Self {
        Large(Fib4::new_large())
    }
    fn ins(&mut self, a: u128, l: u8, v: u32) -> Option<u32> {
        self.0.ins(a, l, v)
    }
    fn rem(&mut self, a: u128, l: u8) -> Option<u32> {
        self.0.rem(a, l)
    }
    fn look(&self, a: u128) -> u32 {
        self.0.look(a)
    }
    fn burst(&self, a: &[u128]) -> Vec<u32> {
        self.0.burst(a)
    }
    fn all(&self) -> Vec<(u128, u8, u32)> {
        self.0.all()
    }
    fn count(&self) -> usize {
        self.0.count()
    }
    fn ply_count(&self) -> usize {
        self.0.ply_count()
    }
}

impl Table for Fib6 {
    const WIDTH: u32 = 128;
    fn new() -> Self {
        Fib6::new()
    }
    fn ins(&mut self, a: u128, l: u8, v: u32) -> Option<u32> {
        self.insert(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap(), v)
            .unwrap()
    }
    fn rem(&mut self, a: u128, l: u8) -> Option<u32> {
        self.remove(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap())
    }
    fn look(&self, a: u128) -> u32 {
        self.lookup(a)
    }
    fn burst(&self, a: &[u128]) -> Vec<u32> {
        let mut out = vec![0; a.len()];
        self.lookup_burst(a, &mut out);
        out
    }
    fn all(&self) -> Vec<(u128, u8, u32)> {
        self.iter()
            .map(|(n, v)| (u128::from(n.network()), n.prefix_len(), v))
            .collect()
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn ply_count(&self) -> usize {
        self.plies()
    }
    fn check_internal(&self) -> Result<(), String> {
        self.check_image()
    }
}

fn check<T: Table>(ops: &[Op], randoms: &[u128]) -> Result<(), TestCaseError> {
    let w = T::WIDTH;
    let mut t = T::new();
    let mut r = Naive::default();
    for op in ops {
        match *op {
            Op::Insert(a, l, v) => prop_assert_eq!(t.ins(a, l, v), r.insert(a, l, v)),
            Op::Remove(a, l) => prop_assert_eq!(t.rem(a, l), r.remove(a, l)),
            Op::RemoveExisting(i) => {
                if !r.routes.is_empty() {
                    let (a, l, _) = r.routes[i % r.routes.len()];
                    prop_assert_eq!(t.rem(a, l), r.remove(a, l));
                }
            }
        }
        t.check_internal().map_err(TestCaseError::fail)?;
        // Cheap check after every step: the edges of the installed prefixes.
        for p in r.probes(w) {
            prop_assert_eq!(
                t.look(p),
                r.lookup(p << (128 - w)),
                "addr {:#x} after {:?}",
                p,
                op
            );
        }
    }
    prop_assert_eq!(t.count(), r.routes.len());
    prop_assert_eq!(t.all(), r.sorted());
    let mut probes = r.probes(w);
    probes.extend(
        randoms
            .iter()
            .map(|&x| if w == 128 { x } else { x & ((1u128 << w) - 1) }),
    );
    let want: Vec<u32> = probes.iter().map(|&p| r.lookup(p << (128 - w))).collect();
    let single: Vec<u32> = probes.iter().map(|&p| t.look(p)).collect();
    prop_assert_eq!(&single, &want);
    prop_assert_eq!(&t.burst(&probes), &want);
    // The trie is canonical: a fresh build of the same routes has as many plies.
    let mut fresh = T::new();
    for (a, l, v) in r.sorted() {
        fresh.ins(a, l, v);
    }
    prop_assert_eq!(t.ply_count(), fresh.ply_count());
    // Removing everything leaves no ply behind.
    for (a, l, _) in r.sorted() {
        t.rem(a, l);
    }
    prop_assert_eq!(t.ply_count(), 0);
    t.check_internal().map_err(TestCaseError::fail)?;
    prop_assert_eq!(t.look(probes.first().copied().unwrap_or(0)), NO_ROUTE);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn fib4_matches_naive(ops in ops_strategy(32), randoms in proptest::collection::vec(addr_strategy(32), 64)) {
        check::<Fib4>(&ops, &randoms)?;
    }

    #[test]
    fn fib6_matches_naive(ops in ops_strategy(128), randoms in proptest::collection::vec(addr_strategy(128), 64)) {
        check::<Fib6>(&ops, &randoms)?;
    }
}

proptest! {
    // A 24-bit root is 80 MiB to allocate and short prefixes rewrite millions
    // of slots: fewer cases (the 16-bit variant covers the shared code).
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn fib4_large_matches_naive(ops in ops_strategy(32), randoms in proptest::collection::vec(addr_strategy(32), 64)) {
        check::<Large>(&ops, &randoms)?;
    }
}

/// Bursts longer than one internal chunk (256), where every, some or no
/// address continues into plies, agree with single lookups on both layouts.
#[test]
fn long_bursts_match_single_lookups() {
    for mut f in [Fib4::new(), Fib4::new_large()] {
        f.insert(n4("10.0.0.0/8"), 1).unwrap();
        for i in 0..600u32 {
            // /32s and /28s: plies at every level of both layouts.
            let a = a4("10.0.0.0") | (i << 8) | (i & 0xff);
            f.insert(Ipv4Net::new(Ipv4Addr::from(a), 32).unwrap(), 100 + i)
                .unwrap();
            let b = a4("10.64.0.0") | (i << 9);
            f.insert(Ipv4Net::new(Ipv4Addr::from(b), 28).unwrap(), 5000 + i)
                .unwrap();
        }
        let mut addrs: Vec<u32> = (0..1000u32)
            .map(|i| a4("10.0.0.0") | (i << 8) | (i & 0xff))
            .collect();
        addrs.extend((0..700u32).map(|i| a4("10.64.0.5") | (i << 9)));
        addrs.extend((0..300u32).map(|i| i.wrapping_mul(0x9e37_79b9)));
        let mut out = vec![0u32; addrs.len()];
        f.lookup_burst(&addrs, &mut out);
        for (&a, &o) in addrs.iter().zip(&out) {
            assert_eq!(o, f.lookup(a), "{}", Ipv4Addr::from(a));
        }
        // All of one chunk continue into plies.
        let plies: Vec<u32> = addrs[..256].to_vec();
        let mut out = vec![0u32; 256];
        f.lookup_burst(&plies, &mut out);
        for (&a, &o) in plies.iter().zip(&out) {
            assert_eq!(o, f.lookup(a));
        }
    }
}

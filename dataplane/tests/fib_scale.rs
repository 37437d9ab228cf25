//! FIB at scale, on real BGP tables (`testdata/routes/`, see its SOURCES.md):
//! the 1M-prefix IPv4 union, 1,024 VRFs of 1,000 prefixes, the IPv6 table.
//! Each checks lookups (single and burst) against a per-length hash-map
//! reference and prints build time and memory (run with `--nocapture`).

use std::collections::HashMap;
use std::time::Instant;

use dataplane::fib::{parse_prefix_list, Fib4, Fib6, FibMemory, NO_ROUTE};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const ROUTES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/routes/");

fn load(name: &str) -> Vec<(IpNet, Option<u32>)> {
    let path = format!("{ROUTES}{name}");
    let xz = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut text = Vec::new();
    lzma_rs::xz_decompress(&mut &xz[..], &mut text).unwrap();
    parse_prefix_list(std::str::from_utf8(&text).unwrap()).unwrap()
}

fn v4(list: &[(IpNet, Option<u32>)]) -> Vec<(Ipv4Net, Option<u32>)> {
    list.iter()
        .filter_map(|&(n, v)| {
            if let IpNet::V4(n) = n {
                Some((n, v))
            } else {
                None
            }
        })
        .collect()
}

fn v6(list: &[(IpNet, Option<u32>)]) -> Vec<(Ipv6Net, Option<u32>)> {
    list.iter()
        .filter_map(|&(n, v)| {
            if let IpNet::V6(n) = n {
                Some((n, v))
            } else {
                None
            }
        })
        .collect()
}

/// Longest-match reference: one hash map per length, scanned from the longest.
struct Reference<const W: usize> {
    by_len: Vec<HashMap<u128, u32>>,
}

impl<const W: usize> Reference<W> {
    fn new() -> Self {
        Reference {
            by_len: (0..=W).map(|_| HashMap::new()).collect(),
        }
    }
    fn mask(a: u128, l: usize) -> u128 {
        if l == 0 {
            0
        } else {
            a & ((u128::MAX >> (128 - W)) << (W - l))
        }
    }
    fn insert(&mut self, a: u128, l: u8, v: u32) {
        self.by_len[usize::from(l)].insert(a, v);
    }
    fn remove(&mut self, a: u128, l: u8) {
        self.by_len[usize::from(l)].remove(&a);
    }
    fn lookup(&self, a: u128) -> u32 {
        (0..=W)
            .rev()
            .find_map(|l| self.by_len[l].get(&Self::mask(a, l)).copied())
            .unwrap_or(NO_ROUTE)
    }
}

/// Random addresses: half uniform, half inside random installed prefixes.
fn probes4(rng: &mut SmallRng, prefixes: &[Ipv4Net], n: usize) -> Vec<u32> {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                rng.gen()
            } else {
                let p = prefixes[rng.gen_range(0..prefixes.len())];
                let host = if p.prefix_len() == 32 {
                    0
                } else {
                    u32::MAX >> p.prefix_len()
                };
                u32::from(p.network()) | (rng.gen::<u32>() & host)
            }
        })
        .collect()
}

fn check4(fib: &Fib4, reference: &Reference<32>, addrs: &[u32]) {
    let mut out = vec![0; addrs.len()];
    for (ca, co) in addrs.chunks(32).zip(out.chunks_mut(32)) {
        fib.lookup_burst(ca, co);
    }
    for (&a, &o) in addrs.iter().zip(&out) {
        let want = reference.lookup(u128::from(a));
        assert_eq!(
            fib.lookup(a),
            want,
            "lookup {}",
            std::net::Ipv4Addr::from(a)
        );
        assert_eq!(o, want, "lookup_burst {}", std::net::Ipv4Addr::from(a));
    }
}

#[test]
fn ipv4_union_of_two_real_tables() {
    let t = Instant::now();
    let tier1 = v4(&load("ipv4-bgp.txt.xz"));
    let ris = v4(&load("ipv4-bgp-origin-as.txt.xz"));
    println!(
        "ipv4: read and parsed {} + {} prefixes in {:.2?}",
        tier1.len(),
        ris.len(),
        t.elapsed()
    );

    // Tier1 prefixes get their index as value; RIS ones their origin AS
    // (replacing the value where both tables have the prefix).
    let routes: Vec<(Ipv4Net, u32)> = tier1
        .iter()
        .enumerate()
        .map(|(i, &(n, _))| (n, i as u32))
        .chain(ris.iter().map(|&(n, v)| (n, v.unwrap_or(0) & 0x7fff_ffff)))
        .collect();
    let t = Instant::now();
    let mut fib = Fib4::new();
    for &(n, v) in &routes {
        fib.insert(n, v).unwrap();
    }
    let build = t.elapsed();
    let mut reference = Reference::<32>::new();
    for &(n, v) in &routes {
        reference.insert(u128::from(u32::from(n.network())), n.prefix_len(), v);
    }
    assert!(fib.len() > 1_000_000, "{}", fib.len());
    let before = fib.memory_bytes();
    fib.shrink_to_fit();
    println!(
        "ipv4 union: {} prefixes, {} plies, built in {:.2?} ({:.0} ns/insert); memory {} (before shrink_to_fit: {})",
        fib.len(),
        fib.plies(),
        build,
        build.as_nanos() as f64 / routes.len() as f64,
        fib.memory_bytes(),
        before
    );

    let mut rng = SmallRng::seed_from_u64(4);
    let prefixes: Vec<Ipv4Net> = routes.iter().map(|r| r.0).collect();
    check4(&fib, &reference, &probes4(&mut rng, &prefixes, 4000));

    // The same with the 24-bit root.
    let t = Instant::now();
    let mut large = Fib4::new_large();
    for &(n, v) in &routes {
        large.insert(n, v).unwrap();
    }
    let build = t.elapsed();
    large.shrink_to_fit();
    println!(
        "ipv4 union, 24-bit root: {} plies, built in {build:.2?}; memory {}",
        large.plies(),
        large.memory_bytes()
    );
    check4(&large, &reference, &probes4(&mut rng, &prefixes, 4000));
    drop(large);

    // Remove 50,000 random prefixes; the covers must come back.
    for _ in 0..50_000 {
        let (n, _) = routes[rng.gen_range(0..routes.len())];
        fib.remove(n);
        reference.remove(u128::from(u32::from(n.network())), n.prefix_len());
    }
    check4(&fib, &reference, &probes4(&mut rng, &prefixes, 4000));
}

#[test]
fn ipv4_1024_vrfs_of_1000_prefixes() {
    let table: Vec<Ipv4Net> = v4(&load("ipv4-bgp.txt.xz"))
        .into_iter()
        .map(|r| r.0)
        .collect();
    let mut rng = SmallRng::seed_from_u64(1024);

    // Each VRF takes a different slice of 1,000 consecutive prefixes of the
    // sorted table (like a tenant's routes, they cluster in address space).
    let stride = table.len() / 1024;
    let t = Instant::now();
    let vrfs: Vec<(Fib4, Vec<Ipv4Net>)> = (0..1024)
        .map(|i| {
            let slice = &table[i * stride..(i * stride + 1000).min(table.len())];
            let mut fib = Fib4::new();
            for (j, &n) in slice.iter().enumerate() {
                fib.insert(n, (i * 1000 + j) as u32).unwrap();
            }
            fib.shrink_to_fit();
            (fib, slice.to_vec())
        })
        .collect();
    let build = t.elapsed();
    let mem: FibMemory = vrfs.iter().map(|v| v.0.memory_bytes()).sum();
    let plies: usize = vrfs.iter().map(|v| v.0.plies()).sum();
    println!(
        "1024 VRFs x 1000 prefixes (slices): built in {build:.2?}, {plies} plies, memory {mem}"
    );
    for (i, (fib, slice)) in vrfs.iter().enumerate().step_by(7) {
        assert_eq!(fib.len(), 1000);
        let mut reference = Reference::<32>::new();
        for (j, &n) in slice.iter().enumerate() {
            reference.insert(
                u128::from(u32::from(n.network())),
                n.prefix_len(),
                (i * 1000 + j) as u32,
            );
        }
        check4(fib, &reference, &probes4(&mut rng, slice, 100));
    }
    drop(vrfs);

    // Worst case: 1,000 prefixes drawn at random from the whole table (one
    // ply per prefix). Built for 64 VRFs and scaled, to keep the test small.
    let vrfs: Vec<Fib4> = (0..64)
        .map(|i| {
            let mut fib = Fib4::new();
            while fib.len() < 1000 {
                fib.insert(table[rng.gen_range(0..table.len())], i).unwrap();
            }
            fib.shrink_to_fit();
            fib
        })
        .collect();
    let mem: FibMemory = vrfs.iter().map(|v| v.memory_bytes()).sum();
    let plies: usize = vrfs.iter().map(|v| v.plies()).sum();
    println!(
        "1024 VRFs x 1000 prefixes (random draws, 64 built, x16): {} plies, memory {}",
        plies * 16,
        FibMemory {
            lookup: mem.lookup * 16,
            control: mem.control * 16
        }
    );
}

#[test]
fn ipv6_real_table() {
    let routes: Vec<(Ipv6Net, u32)> = v6(&load("ipv6-bgp.txt.xz"))
        .into_iter()
        .enumerate()
        .map(|(i, (n, _))| (n, i as u32))
        .collect();
    let t = Instant::now();
    let mut fib = Fib6::new();
    for &(n, v) in &routes {
        fib.insert(n, v).unwrap();
    }
    let build = t.elapsed();
    fib.shrink_to_fit();
    println!(
        "ipv6: {} prefixes, {} plies, built in {build:.2?}, memory {}",
        fib.len(),
        fib.plies(),
        fib.memory_bytes()
    );
    assert_eq!(fib.len(), routes.len());

    let mut reference = Reference::<128>::new();
    for &(n, v) in &routes {
        reference.insert(u128::from(n.network()), n.prefix_len(), v);
    }
    let mut rng = SmallRng::seed_from_u64(6);
    let addrs: Vec<u128> = (0..4000)
        .map(|i| {
            let p = routes[rng.gen_range(0..routes.len())].0;
            let host = if p.prefix_len() == 128 {
                0
            } else {
                u128::MAX >> p.prefix_len()
            };
            // Half inside a prefix, half with random bits below its /32.
            let host = if i % 2 == 0 { host } else { u128::MAX >> 32 };
            u128::from(p.network()) | (rng.gen::<u128>() & host)
        })
        .collect();
    check6(&fib, &reference, &addrs);

    // Remove 20,000 random prefixes; the covers must come back.
    for _ in 0..20_000 {
        let (n, _) = routes[rng.gen_range(0..routes.len())];
        fib.remove(n);
        reference.remove(u128::from(n.network()), n.prefix_len());
    }
    check6(&fib, &reference, &addrs);
}

fn check6(fib: &Fib6, reference: &Reference<128>, addrs: &[u128]) {
    let mut out = vec![0; addrs.len()];
    for (ca, co) in addrs.chunks(32).zip(out.chunks_mut(32)) {
        fib.lookup_burst(ca, co);
    }
    for (&a, &o) in addrs.iter().zip(&out) {
        let want = reference.lookup(a);
        assert_eq!(
            fib.lookup(a),
            want,
            "lookup {}",
            std::net::Ipv6Addr::from(a)
        );
        assert_eq!(o, want, "lookup_burst {}", std::net::Ipv6Addr::from(a));
    }
}

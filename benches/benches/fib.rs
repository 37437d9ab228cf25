//! LPM lookups on the real BGP tables (`shared/routes/ipv4-bgp.txt.xz`,
//! `ipv6-bgp.txt.xz`): `lookup_burst` over bursts of 32 random destinations,
//! and 32 single `lookup` calls for comparison. Destinations are spread
//! across the table (a random prefix, then a random address inside it), so
//! nearly every lookup misses the cache, as on a router.
//!
//! Run: `cargo bench --bench fib -- --warm-up-time 1 --measurement-time 3`

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::fib::{parse_prefix_list, Fib4, Fib6};
use ipnet::IpNet;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const ROUTES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/routes/");
const DESTS: usize = 65_536;
const BURST: usize = 32;

fn load(name: &str) -> Vec<IpNet> {
    let path = format!("{ROUTES}{name}");
    let xz = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut text = Vec::new();
    lzma_rs::xz_decompress(&mut &xz[..], &mut text).expect("xz");
    let list = parse_prefix_list(std::str::from_utf8(&text).expect("utf-8")).expect("prefix list");
    list.into_iter().map(|(n, _)| n).collect()
}

fn bench(c: &mut Criterion) {
    let mut rng = SmallRng::seed_from_u64(0xf1b);

    // IPv4.
    let v4: Vec<_> = load("ipv4-bgp.txt.xz")
        .into_iter()
        .filter_map(|n| if let IpNet::V4(n) = n { Some(n) } else { None })
        .collect();
    let t = Instant::now();
    let mut fib4 = Fib4::new();
    for (i, &n) in v4.iter().enumerate() {
        fib4.insert(n, i as u32).expect("insert");
    }
    let build = t.elapsed();
    fib4.shrink_to_fit();
    println!(
        "fib4: {} prefixes, {} plies, built in {build:.2?}, memory {}",
        fib4.len(),
        fib4.plies(),
        fib4.memory_bytes()
    );
    let t = Instant::now();
    let mut fib4l = Fib4::new_large();
    for (i, &n) in v4.iter().enumerate() {
        fib4l.insert(n, i as u32).expect("insert");
    }
    let build = t.elapsed();
    fib4l.shrink_to_fit();
    println!(
        "fib4 (24-bit root): {} plies, built in {build:.2?}, memory {}",
        fib4l.plies(),
        fib4l.memory_bytes()
    );
    let dst4: Vec<u32> = (0..DESTS)
        .map(|_| {
            let p = v4[rng.gen_range(0..v4.len())];
            let host = if p.prefix_len() == 32 {
                0
            } else {
                u32::MAX >> p.prefix_len()
            };
            u32::from(p.network()) | (rng.gen::<u32>() & host)
        })
        .collect();

    // IPv6.
    let v6: Vec<_> = load("ipv6-bgp.txt.xz")
        .into_iter()
        .filter_map(|n| if let IpNet::V6(n) = n { Some(n) } else { None })
        .collect();
    let t = Instant::now();
    let mut fib6 = Fib6::new();
    for (i, &n) in v6.iter().enumerate() {
        fib6.insert(n, i as u32).expect("insert");
    }
    let build = t.elapsed();
    fib6.shrink_to_fit();
    println!(
        "fib6: {} prefixes, {} plies, built in {build:.2?}, memory {}",
        fib6.len(),
        fib6.plies(),
        fib6.memory_bytes()
    );
    let dst6: Vec<u128> = (0..DESTS)
        .map(|_| {
            let p = v6[rng.gen_range(0..v6.len())];
            let host = if p.prefix_len() == 128 {
                0
            } else {
                u128::MAX >> p.prefix_len()
            };
            u128::from(p.network()) | (rng.gen::<u128>() & host)
        })
        .collect();

    let mut g = c.benchmark_group("fib");
    g.throughput(Throughput::Elements(BURST as u64));
    let mut out = [0u32; BURST];

    let mut i = 0;
    g.bench_function("v4_lookup_burst32", |b| {
        b.iter(|| {
            i = (i + BURST) % DESTS;
            fib4.lookup_burst(black_box(&dst4[i..i + BURST]), &mut out);
            black_box(&out);
        })
    });
    let mut i = 0;
    g.bench_function("v4_lookup_single_x32", |b| {
        b.iter(|| {
            i = (i + BURST) % DESTS;
            for (o, &a) in out.iter_mut().zip(black_box(&dst4[i..i + BURST])) {
                *o = fib4.lookup(a);
            }
            black_box(&out);
        })
    });
    let mut i = 0;
    g.bench_function("v4_24bit_root_lookup_burst32", |b| {
        b.iter(|| {
            i = (i + BURST) % DESTS;
            fib4l.lookup_burst(black_box(&dst4[i..i + BURST]), &mut out);
            black_box(&out);
        })
    });
    let mut i = 0;
    g.bench_function("v4_24bit_root_lookup_single_x32", |b| {
        b.iter(|| {
            i = (i + BURST) % DESTS;
            for (o, &a) in out.iter_mut().zip(black_box(&dst4[i..i + BURST])) {
                *o = fib4l.lookup(a);
            }
            black_box(&out);
        })
    });
    let mut i = 0;
    g.bench_function("v6_lookup_burst32", |b| {
        b.iter(|| {
            i = (i + BURST) % DESTS;
            fib6.lookup_burst(black_box(&dst6[i..i + BURST]), &mut out);
            black_box(&out);
        })
    });
    let mut i = 0;
    g.bench_function("v6_lookup_single_x32", |b| {
        b.iter(|| {
            i = (i + BURST) % DESTS;
            for (o, &a) in out.iter_mut().zip(black_box(&dst6[i..i + BURST])) {
                *o = fib6.lookup(a);
            }
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! LPM lookups on the real BGP tables (`testdata/routes/ipv4-bgp.txt.xz`,
//! `ipv6-bgp.txt.xz`): `lookup_burst` over bursts of 32 random destinations,
//! and 32 single `lookup` calls for comparison. Destinations are spread
//! across the table (a random prefix, then a random address inside it), so
//! nearly every lookup misses the cache, as on a router.
//!
//! Run: `cargo bench --bench fib -- --warm-up-time 1 --measurement-time 3`

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Instant;

use cnfwd_benches::{load_routes, random_dst};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::fib::{Fib4, Fib6};
use ipnet::IpNet;
use rand::rngs::SmallRng;
use rand::SeedableRng;

const DESTS: usize = 65_536;
const BURST: usize = 32;

fn bench(c: &mut Criterion) {
    let mut rng = SmallRng::seed_from_u64(0xf1b);

    // IPv4.
    let table4 = load_routes("ipv4-bgp.txt.xz");
    let v4: Vec<_> = table4
        .iter()
        .filter_map(|&n| if let IpNet::V4(n) = n { Some(n) } else { None })
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
        .map(|_| match random_dst(&table4, &mut rng) {
            IpAddr::V4(a) => u32::from(a),
            IpAddr::V6(_) => unreachable!("IPv4 table"),
        })
        .collect();

    // IPv6.
    let table6 = load_routes("ipv6-bgp.txt.xz");
    let v6: Vec<_> = table6
        .iter()
        .filter_map(|&n| if let IpNet::V6(n) = n { Some(n) } else { None })
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
        .map(|_| match random_dst(&table6, &mut rng) {
            IpAddr::V6(a) => u128::from(a),
            IpAddr::V4(_) => unreachable!("IPv6 table"),
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

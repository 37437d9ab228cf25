//! Per-stage and whole-path cost of cnfwd's pipeline at burst 32, with
//! destinations drawn at random across the real Internet tables (a handful of
//! destinations would stay in cache and flatter the numbers).
//!
//! Run: `cargo bench -p cnfwd-benches --bench pipeline`
//! Each benchmark processes one burst of 32 packets per iteration; criterion
//! reports time per burst and packets/s (Throughput::Elements(32)).

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;

use cnfwd_benches::{
    full_path_config, load_routes, random_dst, udp_frame, HOST_MAC, IN_MAC, IN_VLAN,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::packet::ethernet::EthView;
use dataplane::packet::meta::Meta;
use dataplane::packet::parse::{parse_ipv4, parse_ipv6};
use dataplane::packet::{HeapBuf, PacketBuf};
use dataplane::pipeline::classify::classify;
use dataplane::pipeline::{Pipeline, Verdict};
use dataplane::tables::Tables;
use ipnet::IpNet;
use rand::rngs::SmallRng;
use rand::SeedableRng;

const BURST: usize = 32;
const POOL: usize = 16_384;

/// A pool of frames to random destinations of `table`, from an on-link host
/// of the ingress network, or (`remote_src`) from random addresses of the
/// table too, as traffic from behind a router would be.
fn frames(table: &[IpNet], rng: &mut SmallRng, remote_src: bool) -> Vec<Vec<u8>> {
    (0..POOL)
        .map(|i| {
            let dst = random_dst(table, rng);
            let src = match (dst, remote_src) {
                (_, true) => random_dst(table, rng),
                (std::net::IpAddr::V4(_), false) => "10.100.0.10".parse().unwrap(),
                (std::net::IpAddr::V6(_), false) => "fd00:100::10".parse().unwrap(),
            };
            udp_frame(
                IN_MAC,
                HOST_MAC,
                IN_VLAN,
                src,
                dst,
                1024 + (i % 50_000) as u16,
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut rng = SmallRng::seed_from_u64(0xc0ffee);
    let v4 = load_routes("ipv4-bgp.txt.xz");
    let v6 = load_routes("ipv6-bgp.txt.xz");
    let all: Vec<IpNet> = v4.iter().chain(&v6).copied().collect();
    let config = full_path_config(&all);
    let resolved = cnfwd_config::resolve(&config).expect("bench config is valid");
    let tables = Tables::build(&resolved, &[]).expect("tables");
    let (m4, m6) = tables.fib_memory();
    println!(
        "FIB memory: IPv4 {} prefixes {m4}; IPv6 {} prefixes {m6}",
        v4.len(),
        v6.len()
    );
    let f4 = frames(&v4, &mut rng, false);
    let f6 = frames(&v6, &mut rng, false);
    let r4 = frames(&v4, &mut rng, true);
    let r6 = frames(&v6, &mut rng, true);
    let in_port = &tables.ports[0];

    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(BURST as u64));

    let mut at = 0usize;
    fn next_burst<'a>(at: &mut usize, pool: &'a [Vec<u8>]) -> &'a [Vec<u8>] {
        *at = (*at + BURST) % (POOL - BURST);
        &pool[*at..*at + BURST]
    }

    g.bench_function("parse_ipv4", |b| {
        b.iter(|| {
            let mut m = Meta::default();
            for f in next_burst(&mut at, &f4) {
                let eth = EthView::parse(f).unwrap();
                let _ = parse_ipv4(&f[eth.payload_offset as usize..], &mut m);
                black_box(&m);
            }
        })
    });
    g.bench_function("parse_ipv6", |b| {
        b.iter(|| {
            let mut m = Meta::default();
            for f in next_burst(&mut at, &f6) {
                let eth = EthView::parse(f).unwrap();
                let _ = parse_ipv6(&f[eth.payload_offset as usize..], &mut m);
                black_box(&m);
            }
        })
    });
    g.bench_function("classify", |b| {
        b.iter(|| {
            for f in next_burst(&mut at, &f4) {
                let eth = EthView::parse(f).unwrap();
                black_box(classify(in_port, &eth).ok());
            }
        })
    });
    let dst4: Vec<u32> = f4
        .iter()
        .map(|f| u32::from_be_bytes([f[34], f[35], f[36], f[37]]))
        .collect();
    let dst6: Vec<u128> = f6
        .iter()
        .map(|f| u128::from_be_bytes(f[42..58].try_into().unwrap()))
        .collect();
    let vrf = &tables.vrfs[0];
    let mut k = 0usize;
    g.bench_function("route_ipv4_lookup", |b| {
        b.iter(|| {
            k = (k + BURST) % (POOL - BURST);
            for &d in &dst4[k..k + BURST] {
                black_box(vrf.fib4.lookup(d));
            }
        })
    });
    g.bench_function("route_ipv6_lookup", |b| {
        b.iter(|| {
            k = (k + BURST) % (POOL - BURST);
            for &d in &dst6[k..k + BURST] {
                black_box(vrf.fib6.lookup(d));
            }
        })
    });

    // The full path: a burst of 32 buffers reused like an RX ring's, refilled
    // from the next 32 frames of the pool each iteration (as an RX copy
    // would), then processed. `refill_only` measures the refill alone, so the
    // pipeline's own cost is full_path - refill_only.
    let mut pipeline = Pipeline::new();
    let mut verdicts = vec![Verdict::Drop(dataplane::pipeline::DropReason::NoRoute); BURST];
    let mut burst: Vec<HeapBuf> = f4[..BURST].iter().map(|f| HeapBuf::from_frame(f)).collect();
    let mut j = 0usize;
    g.bench_function("refill_only", |b| {
        b.iter(|| {
            j = (j + BURST) % (POOL - BURST);
            for (buf, f) in burst.iter_mut().zip(&f4[j..j + BURST]) {
                buf.set_frame(f);
            }
            black_box(&burst);
        })
    });
    // The reverse-path check's cost, three ways: `full_path_*` (strict, the
    // default) from on-link hosts, which pass without a source lookup; the
    // same with `source_check = "off"`; and `loose` with sources drawn from
    // the whole table (traffic from behind a router: one more FIB lookup per
    // packet; strict would refuse them, their routes lead out the egress).
    let with_check = |check| {
        let mut cfg = config.clone();
        for n in &mut cfg.l3_networks {
            n.source_check = check;
        }
        let resolved = cnfwd_config::resolve(&cfg).expect("bench config is valid");
        Tables::build(&resolved, &[]).expect("tables")
    };
    let tables_off = with_check(cnfwd_config::SourceCheck::Off);
    let tables_loose = with_check(cnfwd_config::SourceCheck::Loose);
    for (name, pool, tables) in [
        ("full_path_ipv4", &f4, &tables),
        ("full_path_ipv6", &f6, &tables),
        ("full_path_ipv4_no_urpf", &f4, &tables_off),
        ("full_path_ipv6_no_urpf", &f6, &tables_off),
        ("full_path_ipv4_remote_src_no_urpf", &r4, &tables_off),
        ("full_path_ipv6_remote_src_no_urpf", &r6, &tables_off),
        ("full_path_ipv4_remote_src_loose", &r4, &tables_loose),
        ("full_path_ipv6_remote_src_loose", &r6, &tables_loose),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                j = (j + BURST) % (POOL - BURST);
                for (buf, f) in burst.iter_mut().zip(&pool[j..j + BURST]) {
                    buf.set_frame(f);
                }
                pipeline.process(tables, 0, &mut burst, &mut verdicts);
                black_box(&verdicts);
            })
        });
        // Every packet of the pool must really take the forwarding path.
        for k in (0..POOL - BURST).step_by(BURST) {
            for (buf, f) in burst.iter_mut().zip(&pool[k..k + BURST]) {
                buf.set_frame(f);
            }
            pipeline.process(tables, 0, &mut burst, &mut verdicts);
            assert!(
                verdicts
                    .iter()
                    .all(|v| matches!(v, Verdict::Tx { port: 1, .. })),
                "{name}: {verdicts:?}"
            );
            assert_eq!(
                burst[0].data()[15],
                200,
                "VLAN rewritten to the egress network's"
            );
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);

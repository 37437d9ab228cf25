//! Whole-pipeline cost per packet of CSN egress, with 1,000,000 flows in the
//! worker's table and 10,000 allowlist rules, against the plain routed path
//! (the same frames, the same egress, a snapshot without a CSN) measured in
//! the same run.
//!
//! Run: `cargo bench -p cnfwd-benches --bench csn_path`
//! One iteration = one burst of 32 frames (refilled each time; the refill is
//! in every case, reference included). Throughput::Elements(32).

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;

use cnfwd_config::egress::{EgressRule, EgressTarget};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::packet::HeapBuf;
use dataplane::pipeline::{Pipeline, Verdict};
use dataplane::tables::Tables;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const BURST: usize = 32;
const FLOWS: usize = 1_000_000;
const RULES: usize = 10_000;

const CONFIG: &str = r#"
[[l3_isolation_domains]]
name = "v"
[[l3_isolation_domains.static_routes]]
prefix = "0.0.0.0/0"
next_hop = "10.9.0.254"
[[l3_networks]]
name = "app"
vlan = 100
l3_isolation_domain = "v"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/16"
[[l3_networks]]
name = "csn"
vlan = 900
l3_isolation_domain = "v"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.9.0.0/24"
neighbors = [{ ip = "10.9.0.254", mac = "02:cc:00:00:09:fe" }]
[[ports]]
name = "app"
backend = "pcap"
mac = "02:00:00:00:01:01"
mode = "access"
networks = ["app"]
[[ports]]
name = "csn"
backend = "pcap"
mac = "02:00:00:00:09:01"
mode = "access"
networks = ["csn"]
[cloud_services_network]
network = "csn"
enable_default_egress_endpoints = false
[cloud_services_network.settings]
flow_capacity = 1100000
expiry_budget = 32
"#;

/// 10,000 rules: one /10 on port 443 that the flows use, then /32 hosts,
/// /24s and names as filler.
fn rules() -> Vec<EgressRule> {
    let mut v = vec![EgressRule {
        category: "bench".into(),
        target: EgressTarget::Prefix("100.64.0.0/10".parse().unwrap()),
        port: Some(443),
    }];
    for i in 1..RULES {
        let i = i as u32;
        let target = match i % 3 {
            0 => EgressTarget::Prefix(
                format!("172.16.{}.{}/32", i >> 8 & 0xff, i & 0xff)
                    .parse()
                    .unwrap(),
            ),
            1 => EgressTarget::Prefix(format!("192.168.{}.0/24", i & 0xff).parse().unwrap()),
            _ => EgressTarget::Exact(format!("host{i}.example.com")),
        };
        v.push(EgressRule {
            category: "filler".into(),
            target,
            port: Some(443),
        });
    }
    v
}

fn tcp_frame(src: u32, dst: u32, sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 1, 1, 2, 0xaa, 0, 0, 0, 1, 0x08, 0x00];
    let mut ip = vec![0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0];
    ip.extend_from_slice(&src.to_be_bytes());
    ip.extend_from_slice(&dst.to_be_bytes());
    let mut s: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    ip[10..12].copy_from_slice(&(!(s as u16)).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f
}

const SRC: u32 = 0x0a01_0000; // 10.1.0.0
const CSN_BASE: u32 = 0x6440_0000; // 100.64.0.0

/// Flow `i`'s frame: 10.1.x.y:(1024 + i % 60000) -> 100.64.0.0/10 random.
fn flow_frame(i: usize, dsts: &[u32], flags: u8) -> Vec<u8> {
    tcp_frame(
        SRC | (i as u32 & 0xffff),
        dsts[i],
        1024 + (i % 60_000) as u16,
        443,
        flags,
    )
}

fn run(p: &mut Pipeline, t: &Tables, frames: &[Vec<u8>], bufs: &mut [HeapBuf], v: &mut [Verdict]) {
    for (b, f) in bufs.iter_mut().zip(frames) {
        b.set_frame(f);
    }
    p.process(t, 0, bufs, v);
}

fn bench(c: &mut Criterion) {
    let cfg = cnfwd_config::parse(CONFIG, "<bench>").unwrap();
    let resolved = cnfwd_config::resolve(&cfg).unwrap();
    let plain = {
        let mut t = Tables::build(&resolved, &[]).unwrap();
        t.csn = None;
        t
    };
    let csn = Tables::build(&resolved, &[])
        .unwrap()
        .with_csn_rules(&rules())
        .unwrap();
    let mut rng = SmallRng::seed_from_u64(7);
    let dsts: Vec<u32> = (0..FLOWS)
        .map(|_| CSN_BASE | rng.gen::<u32>() >> 10)
        .collect();

    // One pipeline (one worker) with 1,000,000 established flows.
    let mut p = Pipeline::new();
    p.set_now(1);
    let mut bufs: Vec<HeapBuf> = (0..BURST).map(|_| HeapBuf::from_frame(&[0; 60])).collect();
    let mut v = vec![Verdict::Drop(dataplane::pipeline::DropReason::NoRoute); BURST];
    let mut chunk = Vec::with_capacity(BURST);
    for start in (0..FLOWS).step_by(BURST) {
        chunk.clear();
        chunk.extend((start..(start + BURST).min(FLOWS)).map(|i| flow_frame(i, &dsts, 0x10)));
        run(
            &mut p,
            &csn,
            &chunk,
            &mut bufs[..chunk.len()],
            &mut v[..chunk.len()],
        );
    }
    let flows = p.csn().map_or(0, |w| w.flows().len());
    eprintln!(
        "flows in the table: {flows}, allowlist rules: {}",
        csn.csn.as_ref().unwrap().allowlist.len()
    );

    // Established: random flows of the million, ACKs.
    let est: Vec<Vec<u8>> = (0..16_384)
        .map(|_| flow_frame(rng.gen_range(0..FLOWS), &dsts, 0x10))
        .collect();
    // Denied: port 444 to the /10.
    let denied: Vec<Vec<u8>> = (0..16_384)
        .map(|i| {
            tcp_frame(
                SRC | 7,
                CSN_BASE | rng.gen::<u32>() >> 10,
                2000 + i as u16,
                444,
                0x02,
            )
        })
        .collect();

    let mut g = c.benchmark_group("csn_path");
    g.throughput(Throughput::Elements(BURST as u64));
    for (name, t, pool) in [
        ("reference_plain_routed", &plain, &est),
        ("csn_egress_established", &csn, &est),
        ("csn_egress_denied", &csn, &denied),
    ] {
        let mut k = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let at = k % (pool.len() / BURST) * BURST;
                k += 1;
                run(&mut p, t, &pool[at..at + BURST], &mut bufs, &mut v);
                black_box(&v);
            })
        });
    }
    // New flows: each iteration a burst of SYNs never seen, the clock moving
    // 1 ms per burst, so after 30,000 bursts (the SYN timeout) flows expire
    // as fast as they come and the table stays near 1,000,000 (the cost
    // includes the incremental expiry that keeps it there).
    let mut n = 0u32;
    let mut now = 1u64;
    let mut fresh: Vec<Vec<u8>> = Vec::with_capacity(BURST);
    g.bench_function("csn_egress_new_flow", |b| {
        b.iter(|| {
            fresh.clear();
            for _ in 0..BURST {
                n = n.wrapping_add(1);
                fresh.push(tcp_frame(
                    0x0a01_8000 | (n & 0x7fff),
                    CSN_BASE | (n >> 4 & 0x3f_ffff),
                    30_000 + (n >> 19) as u16,
                    443,
                    0x02,
                ));
            }
            now += 1_000_000;
            p.set_now(now);
            run(&mut p, &csn, &fresh, &mut bufs, &mut v);
            black_box(&v);
        })
    });
    g.finish();
    let full = v
        .iter()
        .filter(|x| {
            matches!(
                x,
                Verdict::Drop(dataplane::pipeline::DropReason::CsnFlowTableFull)
            )
        })
        .count();
    eprintln!(
        "flows at the end: {}, last burst refused as full: {full}",
        p.csn().map_or(0, |w| w.flows().len())
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! CSN egress costs per packet, in bursts of 32 (criterion throughput is per
//! packet):
//!
//! - `flow_established_*`: a flow-table lookup of an established TCP flow
//!   with 1,000,000 flows installed, keys random (so nearly every lookup
//!   misses the cache, as with real traffic), forward and return direction;
//!   `track` x 32 and `track_burst`.
//! - `reference_random_line_read`: one random 64-byte read per packet from a
//!   buffer the size of the 1M-flow table: the memory floor, same run.
//! - `flow_established_10k_flows_track_burst32`: the same lookup in a
//!   cache-resident table (10,000 flows): the lookup's compute cost.
//! - `flow_new_insert`: creating a new flow (miss, then insert) in a table
//!   that holds ~1,000,000 flows (~900,000 live, the rest expired but not
//!   yet swept), with the worker's incremental expiry (256 steps per burst)
//!   that keeps it at that level: flows live 28.1 ms of a virtual clock that
//!   advances 1 µs per burst.
//! - `allowlist_denied`: `Allowlist::check_v4` of random denied destinations
//!   against 10,000 rules (names, hosts and CIDRs).
//! - `allowlist_allowed`: the same for allowed destinations (the first
//!   packet of a new flow pays this plus `flow_new_insert`).
//!
//! Run: `cargo bench -p cnfwd-benches --bench csn -- --warm-up-time 1 --measurement-time 3`

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use cnfwd_config::egress::{parse_endpoint, EgressRule};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::csn::flow::{tcp_flags, FlowKey, FlowTable, FlowTimeouts, Hit};
use dataplane::csn::{Allowlist, Verdict};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const FLOWS: usize = 1_000_000;
const BURST: usize = 32;
const RULES: usize = 10_000;

fn random_key(rng: &mut SmallRng) -> FlowKey {
    FlowKey {
        vrf: 1,
        v6: false,
        proto: 6,
        src: u128::from(0x0a00_0000 | (rng.gen::<u32>() & 0x00ff_ffff)),
        dst: u128::from(rng.gen::<u32>() | 0x0100_0000),
        sport: rng.gen_range(1024..65535),
        dport: 443,
    }
}

fn allowlist(rng: &mut SmallRng) -> (Allowlist, Vec<u32>) {
    let mut rules = Vec::with_capacity(RULES);
    let mut allowed = Vec::new();
    for i in 0..RULES {
        let (domain, port) = match i % 4 {
            0 => (format!("svc{i}.example.com"), Some(443)),
            1 => (format!("*.tenant{i}.example.net"), None),
            2 => {
                // A /24 somewhere in 100.64.0.0/10 .. 172.x: random, unique
                // enough; host bits cleared by formatting a /24.
                let a: u32 = rng.gen::<u32>() & 0x3fff_ff00 | 0x6440_0000;
                allowed.push(a | 7);
                (
                    format!("{}.{}.{}.0/24", a >> 24, (a >> 16) & 255, (a >> 8) & 255),
                    Some(443),
                )
            }
            _ => {
                let a: u32 = rng.gen::<u32>() & 0x0fff_ffff | 0xc000_0000;
                allowed.push(a);
                (
                    format!(
                        "{}.{}.{}.{}",
                        a >> 24,
                        (a >> 16) & 255,
                        (a >> 8) & 255,
                        a & 255
                    ),
                    Some(443),
                )
            }
        };
        let (target, port) = parse_endpoint(&domain, port).expect("rule");
        rules.push(EgressRule {
            category: "bench".into(),
            target,
            port,
        });
    }
    (Allowlist::new(&rules).expect("allowlist"), allowed)
}

fn bench(c: &mut Criterion) {
    let mut rng = SmallRng::seed_from_u64(0xc5a);
    let to = FlowTimeouts::default();

    // --- 1,000,000 established flows -------------------------------------
    let t = Instant::now();
    let mut table = FlowTable::new(FLOWS, to, rng.gen());
    let created = Instant::now() - t;
    let keys: Vec<FlowKey> = (0..FLOWS).map(|_| random_key(&mut rng)).collect();
    let t = Instant::now();
    for k in &keys {
        table.insert(k, tcp_flags::SYN, 0, 0).expect("insert");
        table.track(&k.reversed(), tcp_flags::SYN | tcp_flags::ACK, 0);
        table.track(k, tcp_flags::ACK, 0);
    }
    let filled = Instant::now() - t;
    println!(
        "flow table: {} flows of capacity {}, {} bytes ({:.1} MiB, {:.1} B/flow); allocated in {created:.2?}, {} handshakes in {filled:.2?}",
        table.len(),
        table.capacity(),
        table.memory_bytes(),
        table.memory_bytes() as f64 / (1 << 20) as f64,
        table.memory_bytes() as f64 / FLOWS as f64,
        FLOWS,
    );
    // Probe order: random over all flows, both directions.
    let probes: Vec<FlowKey> = (0..FLOWS).map(|_| keys[rng.gen_range(0..FLOWS)]).collect();
    let reversed: Vec<FlowKey> = probes.iter().map(FlowKey::reversed).collect();
    let flags = [tcp_flags::ACK; BURST];

    let mut g = c.benchmark_group("csn");
    g.throughput(Throughput::Elements(BURST as u64));
    let mut i = 0usize;
    g.bench_function("flow_established_track_x32", |b| {
        b.iter(|| {
            i = (i + BURST) % (FLOWS - BURST);
            let mut hits = 0u32;
            for k in black_box(&probes[i..i + BURST]) {
                hits += u32::from(table.track(k, tcp_flags::ACK, 1).is_some());
            }
            assert_eq!(hits, BURST as u32);
            hits
        })
    });
    let mut out: [Option<Hit>; BURST] = [None; BURST];
    g.bench_function("flow_established_track_burst32", |b| {
        b.iter(|| {
            i = (i + BURST) % (FLOWS - BURST);
            table.track_burst(black_box(&probes[i..i + BURST]), &flags, 1, &mut out);
            out[BURST - 1].is_some()
        })
    });
    g.bench_function("flow_established_return_track_burst32", |b| {
        b.iter(|| {
            i = (i + BURST) % (FLOWS - BURST);
            table.track_burst(black_box(&reversed[i..i + BURST]), &flags, 1, &mut out);
            out[0].is_some()
        })
    });
    // Reference in the same run: one random 64-byte line of a buffer as large
    // as the table per packet (the memory floor of any 1M-flow lookup here).
    let lines: Vec<[u64; 8]> = vec![[1u64; 8]; table.memory_bytes() / 64];
    let line_idx: Vec<usize> = (0..FLOWS).map(|_| rng.gen_range(0..lines.len())).collect();
    g.bench_function("reference_random_line_read", |b| {
        b.iter(|| {
            i = (i + BURST) % (FLOWS - BURST);
            let mut s = 0u64;
            for &l in black_box(&line_idx[i..i + BURST]) {
                s = s.wrapping_add(lines[l][0]);
            }
            s
        })
    });
    drop(lines);
    drop(table);

    // Cache-resident table (10,000 flows): the lookup's own compute cost.
    let mut small = FlowTable::new(10_000, to, rng.gen());
    let small_keys: Vec<FlowKey> = (0..10_000).map(|_| random_key(&mut rng)).collect();
    for k in &small_keys {
        small.insert(k, tcp_flags::SYN, 0, 0).expect("insert");
        small.track(&k.reversed(), tcp_flags::SYN | tcp_flags::ACK, 0);
        small.track(k, tcp_flags::ACK, 0);
    }
    let small_probes: Vec<FlowKey> = (0..65_536)
        .map(|_| small_keys[rng.gen_range(0..small_keys.len())])
        .collect();
    let mut si = 0usize;
    g.bench_function("flow_established_10k_flows_track_burst32", |b| {
        b.iter(|| {
            si = (si + BURST) % (small_probes.len() - BURST);
            small.track_burst(
                black_box(&small_probes[si..si + BURST]),
                &flags,
                1,
                &mut out,
            );
            out[0].is_some()
        })
    });
    drop(small);

    // --- new flows into a table kept at ~1,000,000 live flows ------------
    // Flows live `life`; 32 arrive per `step`: ~900,000 live flows, plus the
    // expired ones the sweep (256 steps per burst) has not reached yet.
    let step = 1_000u64; // virtual ns per burst
    let life = (900_000 / BURST) as u64 * step;
    let short = FlowTimeouts { udp: life, ..to };
    let mut table = FlowTable::new(FLOWS + FLOWS / 10, short, rng.gen());
    let ring: Vec<FlowKey> = (0..4 * FLOWS)
        .map(|_| FlowKey {
            proto: 17,
            ..random_key(&mut rng)
        })
        .collect();
    let mut now = 0u64;
    let mut at = 0usize;
    let insert_burst = |table: &mut FlowTable, now: &mut u64, at: &mut usize| {
        *now += step;
        for k in &ring[*at..*at + BURST] {
            // A refusal is counted in the table's stats (printed below).
            let _ = black_box(table.insert(k, 0, 0, *now));
        }
        *at = (*at + BURST) % (ring.len() - BURST);
        table.expire(*now, 256);
    };
    for _ in 0..(2 * FLOWS / BURST) {
        insert_burst(&mut table, &mut now, &mut at);
    }
    println!(
        "new-flow table: {} flows stored (capacity {}), {} live, {} refused while filling",
        table.len(),
        table.capacity(),
        table.iter(now).count(),
        table.stats().refused_full
    );
    g.bench_function("flow_new_insert", |b| {
        b.iter(|| insert_burst(&mut table, &mut now, &mut at))
    });
    println!(
        "new-flow table after the run: {} flows stored, {} refused in total",
        table.len(),
        table.stats().refused_full
    );
    drop(table);

    // --- allowlist with 10,000 rules -------------------------------------
    let t = Instant::now();
    let (list, allowed) = allowlist(&mut rng);
    println!(
        "allowlist: {} rules compiled in {:.2?}",
        list.len(),
        t.elapsed()
    );
    let denied: Vec<u32> = (0..65_536)
        .map(|_| loop {
            let a: u32 = rng.gen();
            if list.check_v4(a, 6, 443) == Verdict::Denied {
                break a;
            }
        })
        .collect();
    let allowed_probe: Vec<u32> = (0..65_536)
        .map(|_| allowed[rng.gen_range(0..allowed.len())])
        .collect();
    let mut j = 0usize;
    g.bench_function("allowlist_denied", |b| {
        b.iter(|| {
            j = (j + BURST) % (denied.len() - BURST);
            let mut n = 0u32;
            for &a in black_box(&denied[j..j + BURST]) {
                n += u32::from(list.check_v4(a, 6, 443) == Verdict::Denied);
            }
            assert_eq!(n, BURST as u32);
            n
        })
    });
    g.bench_function("allowlist_allowed", |b| {
        b.iter(|| {
            j = (j + BURST) % (allowed_probe.len() - BURST);
            let mut n = 0u32;
            for &a in black_box(&allowed_probe[j..j + BURST]) {
                n += u32::from(list.check_v4(a, 6, 443) != Verdict::Denied);
            }
            assert_eq!(n, BURST as u32);
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Runs the full IPv4 path over many bursts, for `valgrind --tool=callgrind`
//! (instruction counts per stage, repeatable on a noisy machine):
//!
//! `cargo build --release -p cnfwd-benches --example path_profile &&
//!  valgrind --tool=callgrind target/release/examples/path_profile 100000 2000`
//!
//! Arguments: prefixes taken from the real IPv4 table, bursts of 32 to run,
//! distinct frames (destinations) cycled through. `SOURCE_CHECK=off|loose|
//! strict` sets every network's reverse-path check (default: the config's,
//! strict); the source is an on-link host of the ingress network.

use std::hint::black_box;

use cnfwd_benches::{
    full_path_config, load_routes, random_dst, udp_frame, HOST_MAC, IN_MAC, IN_VLAN,
};
use dataplane::packet::HeapBuf;
use dataplane::pipeline::{DropReason, Pipeline, Verdict};
use dataplane::tables::Tables;
use rand::rngs::SmallRng;
use rand::SeedableRng;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let prefixes = args.first().copied().unwrap_or(100_000);
    let bursts = args.get(1).copied().unwrap_or(2_000);
    let mut v4 = load_routes("ipv4-bgp.txt.xz");
    v4.truncate(prefixes);
    let mut config = full_path_config(&v4);
    if let Ok(check) = std::env::var("SOURCE_CHECK") {
        let check = match check.as_str() {
            "off" => cnfwd_config::SourceCheck::Off,
            "loose" => cnfwd_config::SourceCheck::Loose,
            _ => cnfwd_config::SourceCheck::Strict,
        };
        for n in &mut config.l3_networks {
            n.source_check = check;
        }
    }
    let tables = Tables::build(&cnfwd_config::resolve(&config).unwrap(), &[]).unwrap();
    let mut rng = SmallRng::seed_from_u64(7);
    let pool_len = args.get(2).copied().unwrap_or(4096).max(64);
    let pool: Vec<Vec<u8>> = (0..pool_len)
        .map(|_| {
            udp_frame(
                IN_MAC,
                HOST_MAC,
                IN_VLAN,
                "10.100.0.10".parse().unwrap(),
                random_dst(&v4, &mut rng),
                9,
            )
        })
        .collect();
    let mut burst: Vec<HeapBuf> = pool[..32].iter().map(|f| HeapBuf::from_frame(f)).collect();
    let mut verdicts = vec![Verdict::Drop(DropReason::NoRoute); 32];
    let mut pipeline = Pipeline::new();
    let mut sent = 0usize;
    let started = std::time::Instant::now();
    for b in 0..bursts {
        let at = (b * 32) % (pool.len() - 32);
        for (buf, f) in burst.iter_mut().zip(&pool[at..at + 32]) {
            buf.set_frame(f);
        }
        pipeline.process(&tables, 0, &mut burst, &mut verdicts);
        sent += verdicts
            .iter()
            .filter(|v| matches!(v, Verdict::Tx { .. }))
            .count();
        black_box(&burst);
    }
    let ns = started.elapsed().as_nanos() as f64 / (bursts * 32) as f64;
    println!(
        "{sent} of {} packets forwarded, {ns:.1} ns/packet (refill included)",
        bursts * 32
    );
}

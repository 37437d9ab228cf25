//! Writes the traffic capture of the DPDK throughput benchmark
//! (`scripts/bench-testpmd.sh`): N 64-byte 802.1Q VLAN-100 UDP frames to
//! cnfwd's ingress trunk MAC ([`IN_MAC`]), destinations drawn at random
//! across the real IPv4 table (`../shared/routes/ipv4-bgp.txt.xz`), source
//! address and source port random too: thousands of flows whose lookups
//! spread over the whole FIB instead of staying in cache.
//!
//! `cargo run --release -p cnfwd-benches --example make_bench_traffic -- OUT.pcap [N=4096] [SEED=1]`

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;

use cnfwd_benches::{load_routes, random_dst, udp_frame, HOST_MAC, IN_MAC, IN_VLAN};
use dataplane::io::pcap::file::CaptureWriter;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first().map(PathBuf::from) else {
        eprintln!("usage: make_bench_traffic OUT.pcap [N=4096] [SEED=1]");
        return ExitCode::FAILURE;
    };
    let parse = |i: usize, default: u64| -> Result<u64, String> {
        args.get(i).map_or(Ok(default), |a| {
            a.parse().map_err(|e| format!("{a:?}: {e}"))
        })
    };
    let (n, seed) = match (parse(1, 4096), parse(2, 1)) {
        (Ok(n), Ok(s)) if n > 0 => (n, s),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("make_bench_traffic: {e}");
            return ExitCode::FAILURE;
        }
        _ => {
            eprintln!("make_bench_traffic: N must be > 0");
            return ExitCode::FAILURE;
        }
    };
    let table: Vec<_> = load_routes("ipv4-bgp.txt.xz")
        .into_iter()
        .filter(|p| p.prefix_len() > 0)
        .collect();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut w = match CaptureWriter::create(&out) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("make_bench_traffic: {e}");
            return ExitCode::FAILURE;
        }
    };
    for i in 0..n {
        // Sources inside the "app" network 10.100.0.0/16 (hosts .1.0 up).
        let src = IpAddr::V4(Ipv4Addr::from(
            0x0a64_0000 | rng.gen_range(0x0100u32..0xff00),
        ));
        let dst = random_dst(&table, &mut rng);
        let sport = rng.gen_range(1024u16..=65535);
        let frame = udp_frame(IN_MAC, HOST_MAC, IN_VLAN, src, dst, sport);
        debug_assert_eq!(frame.len(), 64);
        if let Err(e) = w.write(1_000_000_000 + i * 1000, &frame) {
            eprintln!("make_bench_traffic: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = w.flush() {
        eprintln!("make_bench_traffic: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "make_bench_traffic: {} frames, destinations over {} prefixes, seed {seed} -> {}",
        n,
        table.len(),
        out.display()
    );
    ExitCode::SUCCESS
}

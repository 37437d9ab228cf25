//! Writes the traffic capture of the DPDK throughput benchmarks
//! (`scripts/bench-testpmd.sh`, `scripts/bench-l3fwd.sh`): N 64-byte
//! 802.1Q VLAN-100 UDP frames to cnfwd's ingress trunk MAC ([`IN_MAC`]),
//! destinations drawn at random across the real IPv4 table
//! (`testdata/routes/ipv4-bgp.txt.xz`), source address and source port
//! random too: thousands of flows whose lookups spread over the whole FIB
//! instead of staying in cache.
//!
//! With `--untagged` the frames carry no 802.1Q tag (for DPDK's `l3fwd`,
//! which expects plain IPv4 over Ethernet): the same addresses and ports
//! for the same seed, still 64 bytes long (the UDP payload grows by the 4
//! bytes of the tag; IPv4 total length, UDP length and the IPv4 header
//! checksum are adjusted; TTL stays 64).
//!
//! `cargo run --release -p cnfwd-benches --example make_bench_traffic -- [--untagged] OUT.pcap [N=4096] [SEED=1]`

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;

use cnfwd_benches::{load_routes, random_dst, udp_frame, HOST_MAC, IN_MAC, IN_VLAN};
use dataplane::io::pcap::file::CaptureWriter;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const USAGE: &str = "usage: make_bench_traffic [--untagged] OUT.pcap [N=4096] [SEED=1]";

/// Offset of the IPv4 header in an untagged Ethernet frame.
const L3: usize = 14;

/// The IPv4 header checksum (RFC 791) over `h`, whose checksum field is zero.
fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut s: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Turns a tagged IPv4/UDP frame from [`udp_frame`] into the same frame
/// without its 802.1Q tag and of the same length: the tag's 4 bytes move to
/// the end of the UDP payload, IPv4 total length and UDP length grow by 4
/// and the IPv4 header checksum is recomputed.
fn untag_ipv4_udp(tagged: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(tagged.len());
    f.extend_from_slice(&tagged[..12]); // destination and source MAC
    f.extend_from_slice(&tagged[16..]); // EtherType 0x0800 onwards
    f.extend_from_slice(&[0xab; 4]);
    let grow = |f: &mut Vec<u8>, at: usize| {
        let v = u16::from_be_bytes([f[at], f[at + 1]]) + 4;
        f[at..at + 2].copy_from_slice(&v.to_be_bytes());
    };
    grow(&mut f, L3 + 2); // IPv4 total length
    let ihl = usize::from(f[L3] & 0x0f) * 4;
    grow(&mut f, L3 + ihl + 4); // UDP length (UDP checksum is 0: not used)
    f[L3 + 10..L3 + 12].fill(0);
    let c = ipv4_checksum(&f[L3..L3 + ihl]);
    f[L3 + 10..L3 + 12].copy_from_slice(&c.to_be_bytes());
    f
}

/// Command line: `[--untagged] OUT [N] [SEED]` (the flag may stand anywhere).
struct Args {
    out: PathBuf,
    n: u64,
    seed: u64,
    untagged: bool,
}

fn parse_args(argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut untagged = false;
    let mut pos = Vec::new();
    for a in argv {
        match a.as_str() {
            "--untagged" => untagged = true,
            "-h" | "--help" => return Err(USAGE.into()),
            s if s.starts_with("--") => return Err(format!("unknown option {s:?}\n{USAGE}")),
            _ => pos.push(a),
        }
    }
    if pos.is_empty() || pos.len() > 3 {
        return Err(USAGE.into());
    }
    let num = |i: usize, default: u64| -> Result<u64, String> {
        pos.get(i).map_or(Ok(default), |a| {
            a.parse().map_err(|e| format!("{a:?}: {e}\n{USAGE}"))
        })
    };
    let (n, seed) = (num(1, 4096)?, num(2, 1)?);
    if n == 0 {
        return Err(format!("N must be > 0\n{USAGE}"));
    }
    Ok(Args {
        out: PathBuf::from(&pos[0]),
        n,
        seed,
        untagged,
    })
}

fn main() -> ExitCode {
    let Args {
        out,
        n,
        seed,
        untagged,
    } = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("make_bench_traffic: {e}");
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
        let mut frame = udp_frame(IN_MAC, HOST_MAC, IN_VLAN, src, dst, sport);
        if untagged {
            frame = untag_ipv4_udp(&frame);
        }
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
        "make_bench_traffic: {} {} frames, destinations over {} prefixes, seed {seed} -> {}",
        n,
        if untagged { "untagged" } else { "VLAN-100" },
        table.len(),
        out.display()
    );
    ExitCode::SUCCESS
}

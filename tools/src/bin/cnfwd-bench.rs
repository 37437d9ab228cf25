//! `cnfwd-bench gen`: the traffic generator of `scripts/bench-kernel.sh`.
//!
//! `cnfwd-bench gen --interface IF --src-mac MAC --dst-mac MAC --src-ip IP
//! --dst-net PREFIX --flows N --size BYTES --duration SECS [--rate PPS]`
//! sends prebuilt IPv4/UDP frames (one per flow, checksums correct) through
//! AF_PACKET as fast as the kernel takes them (or at `--rate`), then prints
//! one line: `sent=<packets> bytes=<bytes> seconds=<s> pps=<rate>
//! pushed_back=<calls>`. Exit status 0 on success, 2 on bad arguments or a
//! socket error (with a message naming the value).

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use cnfwd_config::MacAddr;
use cnfwd_tools::bench::frames::{build_frames, FlowSpec};
use cnfwd_tools::bench::{generate, GenOptions};
use ipnet::Ipv4Net;

#[derive(Parser)]
#[command(
    name = "cnfwd-bench",
    version,
    about = "Traffic generator for cnfwd's forwarding benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send UDP frames of many flows through AF_PACKET for a fixed time.
    Gen {
        /// Interface to send on (up; CAP_NET_RAW needed).
        #[arg(long)]
        interface: String,
        /// Source MAC of the frames (usually the interface's).
        #[arg(long)]
        src_mac: MacAddr,
        /// Destination MAC (the forwarder's port).
        #[arg(long)]
        dst_mac: MacAddr,
        /// Source IPv4 address.
        #[arg(long)]
        src_ip: Ipv4Addr,
        /// Destination prefix: flow i goes to its i-th host address.
        #[arg(long)]
        dst_net: Ipv4Net,
        /// Number of flows.
        #[arg(long, default_value_t = 1024)]
        flows: usize,
        /// Frame length in bytes, without FCS (42..=9014).
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// IPv4 TTL.
        #[arg(long, default_value_t = 64)]
        ttl: u8,
        /// Seconds to send.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Packets per second at most (default: as fast as possible).
        #[arg(long)]
        rate: Option<u64>,
        /// Packets offered per send call.
        #[arg(long, default_value_t = 256)]
        batch: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Gen {
            interface,
            src_mac,
            dst_mac,
            src_ip,
            dst_net,
            flows,
            size,
            ttl,
            duration,
            rate,
            batch,
        } => {
            if !(duration.is_finite() && duration > 0.0 && duration <= 86_400.0) {
                eprintln!("cnfwd-bench: --duration {duration}: must be in (0, 86400] seconds");
                return ExitCode::from(2);
            }
            let spec = FlowSpec {
                src_mac: src_mac.octets(),
                dst_mac: dst_mac.octets(),
                src_ip,
                dst_net,
                flows,
                size,
                ttl,
            };
            let opts = GenOptions {
                interface,
                duration: Duration::from_secs_f64(duration),
                rate,
                batch,
            };
            match build_frames(&spec).and_then(|f| generate(&f, &opts)) {
                Ok(r) => {
                    println!(
                        "sent={} bytes={} seconds={:.3} pps={:.0} pushed_back={}",
                        r.sent,
                        r.bytes,
                        r.elapsed.as_secs_f64(),
                        r.pps(),
                        r.pushed_back
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cnfwd-bench: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

//! `cnfwd-bench-testfwd`: a test-only forwarder with known faults, for
//! testing `cnfwd-bench` itself (tools/tests/bench_*.rs).
//!
//! Reads frames from `--in` and writes them unchanged to `--out` (two
//! AF_PACKET interfaces, e.g. veth ends), doing on purpose what a real
//! forwarder may do by accident:
//!
//! - `--rate-cap PPS`: a token-bucket policer (depth `--bucket` packets,
//!   default 10 ms worth, at least 16) on the frames' kernel arrival times:
//!   frames beyond the rate are dropped, so the rate it forwards without
//!   loss is known, and does not depend on when this process gets a CPU;
//! - `--delay-us D`: holds every burst D microseconds before sending it;
//! - `--drop-every N`, `--dup-every N`, `--swap-every N`: of the frames
//!   received (counted from 1), the N-th, 2N-th... is dropped / sent twice /
//!   held back and sent after the next frame that is sent (checked in
//!   that order: a frame is at most one of them).
//!
//! Runs until SIGINT/SIGTERM or `--duration`, then writes its counters as
//! JSON to `--stats` (or stdout): received, forwarded, policed, dropped,
//! duplicated, swapped.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use cnfwd_tools::bench::open_port;
use dataplane::io::afpacket::RingConfig;
use dataplane::io::Backend;
use dataplane::packet::buf::HeapBuf;
use dataplane::packet::PacketBuf;

#[derive(Parser)]
#[command(
    name = "cnfwd-bench-testfwd",
    about = "Test-only forwarder with known faults"
)]
struct Cli {
    /// Interface frames come in on.
    #[arg(long = "in")]
    input: String,
    /// Interface frames go out on.
    #[arg(long = "out")]
    output: String,
    /// Forward at most this many packets per second (token bucket).
    #[arg(long)]
    rate_cap: Option<f64>,
    /// Token bucket depth in packets (default: 10 ms of the cap, >= 16).
    #[arg(long)]
    bucket: Option<f64>,
    /// Hold every burst this many microseconds.
    #[arg(long, default_value_t = 0)]
    delay_us: u64,
    /// Drop every N-th frame.
    #[arg(long)]
    drop_every: Option<u64>,
    /// Send every N-th frame twice.
    #[arg(long)]
    dup_every: Option<u64>,
    /// Send every N-th frame after the next one.
    #[arg(long)]
    swap_every: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Write the counters here (default: stdout).
    #[arg(long)]
    stats: Option<std::path::PathBuf>,
}

#[derive(Default)]
struct Counters {
    received: u64,
    forwarded: u64,
    policed: u64,
    dropped: u64,
    duplicated: u64,
    swapped: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cnfwd-bench-testfwd: {e}");
            ExitCode::from(2)
        }
    }
}

fn every(n: Option<u64>, i: u64) -> bool {
    n.is_some_and(|n| n > 0 && i.is_multiple_of(n))
}

fn run(cli: &Cli) -> Result<(), Box<dyn std::error::Error>> {
    let ring = RingConfig {
        block_size: 64 * 1024,
        block_count: 128,
        ..RingConfig::default()
    };
    let mut rx = open_port(&cli.input, ring)?;
    let mut tx = open_port(
        &cli.output,
        RingConfig {
            block_count: 2,
            ..ring
        },
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())?;
    let end = cli
        .duration
        .map(|d| Instant::now() + Duration::from_secs_f64(d));
    let mut c = Counters::default();
    let mut bucket = cli.rate_cap.map(|cap| {
        let depth = cli.bucket.unwrap_or((cap / 100.0).max(16.0));
        (cap, depth, depth, 0u64) // rate, depth, tokens, last ns
    });
    let mut inb: Vec<HeapBuf> = Vec::with_capacity(64);
    let mut out: Vec<HeapBuf> = Vec::with_capacity(256);
    let mut held: Option<HeapBuf> = None;
    let mut idle_since = Instant::now();
    while !stop.load(Ordering::Relaxed) && end.is_none_or(|e| Instant::now() < e) {
        let n = rx.rx_burst(0, &mut inb, 64)?;
        if n == 0 {
            if let Some(h) = held.take() {
                if idle_since.elapsed() > Duration::from_millis(100) {
                    out.push(h); // nothing came after it: sent in order
                } else {
                    held = Some(h);
                }
            }
            if out.is_empty() {
                std::thread::sleep(Duration::from_micros(50));
                continue;
            }
        } else {
            idle_since = Instant::now();
        }
        for b in inb.drain(..) {
            c.received += 1;
            if let Some((rate, depth, tokens, last)) = &mut bucket {
                let ts = b.timestamp_ns();
                if *last != 0 && ts > *last {
                    *tokens = (*tokens + (ts - *last) as f64 * *rate / 1e9).min(*depth);
                }
                *last = (*last).max(ts);
                if *tokens < 1.0 {
                    c.policed += 1;
                    continue;
                }
                *tokens -= 1.0;
            }
            let i = c.received;
            if every(cli.drop_every, i) {
                c.dropped += 1;
                continue;
            }
            if every(cli.dup_every, i) {
                if let Some(copy) = b.try_clone() {
                    out.push(copy);
                    c.duplicated += 1;
                }
            } else if every(cli.swap_every, i) && held.is_none() {
                held = Some(b);
                continue;
            }
            out.push(b);
            if let Some(h) = held.take() {
                out.push(h);
                c.swapped += 1;
            }
        }
        if cli.delay_us > 0 && !out.is_empty() {
            std::thread::sleep(Duration::from_micros(cli.delay_us));
        }
        let before = out.len();
        let mut tries = 0;
        while !out.is_empty() && tries < 1000 {
            tx.tx_burst(0, &mut out)?;
            tries += 1;
            if !out.is_empty() {
                std::thread::yield_now();
            }
        }
        c.forwarded += (before - out.len()) as u64;
        out.clear();
    }
    let json = format!(
        "{{\"received\":{},\"forwarded\":{},\"policed\":{},\"dropped\":{},\"duplicated\":{},\"swapped\":{}}}\n",
        c.received, c.forwarded, c.policed, c.dropped, c.duplicated, c.swapped
    );
    match &cli.stats {
        Some(p) => std::fs::write(p, json)?,
        None => print!("{json}"),
    }
    Ok(())
}

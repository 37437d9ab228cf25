//! `cnfwd-pcapdiff EXPECTED ACTUAL`: compare two captures packet by packet
//! and print which header field differs in each differing packet (at most
//! `--max-diffs`, then how many more), then a summary line saying what was
//! done with timestamps. Exit status 0 when the same, 1 when different, 2
//! on a usage or read error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use cnfwd_tools::pcapdiff::{compare, read_timed_frames, Timestamps};

/// Compare two captures (pcap or pcapng) packet by packet, naming the first
/// differing header field of each differing packet.
///
/// Frames are decoded into named fields (Ethernet, every VLAN tag,
/// IPv4/IPv6, TCP/UDP ports); a differing packet is reported by the first
/// field that differs, with both values. The last line is a summary: the
/// verdict, the counts, and whether timestamps were compared (with the
/// largest skew between paired packets either way).
///
/// Exit status: 0 the captures are the same, 1 they differ, 2 a usage or
/// read error.
#[derive(Parser)]
#[command(name = "cnfwd-pcapdiff", version, about, long_about)]
struct Args {
    /// The capture with the expected packets.
    expected: PathBuf,
    /// The capture to check against it.
    actual: PathBuf,
    /// Print at most this many differences, then "... and K more" (0: all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_diffs: usize,
    /// `ignore`: compare frames only (the summary still gives the largest
    /// skew); `compare`: a packet whose capture time differs is different.
    #[arg(long, value_enum, value_name = "MODE", default_value = "ignore")]
    timestamps: Mode,
    /// Print only the summary line.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Ignore,
    Compare,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let read = |p: &PathBuf| {
        read_timed_frames(p).map_err(|e| {
            eprintln!("cnfwd-pcapdiff: {}: {e}", p.display());
        })
    };
    let (Ok(e), Ok(a)) = (read(&args.expected), read(&args.actual)) else {
        return ExitCode::from(2);
    };
    let mode = match args.timestamps {
        Mode::Ignore => Timestamps::Ignore,
        Mode::Compare => Timestamps::Compare,
    };
    let c = compare(&e, &a, mode);
    let mut text = String::new();
    if !args.quiet {
        let cap = if args.max_diffs == 0 {
            usize::MAX
        } else {
            args.max_diffs
        };
        for line in c.differences.iter().take(cap) {
            text.push_str(line);
            text.push('\n');
        }
        if c.differences.len() > cap {
            text.push_str(&format!(
                "... and {} more (--max-diffs 0 prints all)\n",
                c.differences.len() - cap
            ));
        }
    }
    text.push_str(&c.summary());
    text.push('\n');
    // A closed pipe (`| head`) ends the output quietly.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    if c.same() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

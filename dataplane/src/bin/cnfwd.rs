//! `cnfwd`: the forwarder's command line.
//!
//! `cnfwd run --config FILE [--stats-json PATH]` forwards with the ports the
//! configuration names. With pcap ports (the offline mode) it replays every
//! input capture to its end, prints what it forwarded and dropped per port,
//! per network and per reason, and optionally writes the stats JSON.
//! `cnfwd check --config FILE` only validates. `cnfwd drop-reasons` lists
//! every drop counter with its meaning.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use dataplane::pipeline::DropReason;
use dataplane::replay::{replay, ReplayReport};

#[derive(Parser)]
#[command(
    name = "cnfwd",
    version,
    about = "Userspace poll-mode packet forwarder for CNF/VNF tenant networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Forward traffic with the configured ports (pcap ports: replay to the end).
    Run {
        /// Configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Write the final counters as JSON to this file.
        #[arg(long)]
        stats_json: Option<PathBuf>,
        /// Print only errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Validate a configuration and print what it defines.
    Check {
        /// Configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// List every drop reason with its description.
    DropReasons,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            config,
            stats_json,
            quiet,
        } => run(&config, stats_json.as_deref(), quiet),
        Command::Check { config } => match cnfwd_config::load(&config) {
            Ok((_, r)) => {
                let l3 = r.networks.iter().filter(|n| n.l3.is_some()).count();
                let routes: usize = r.vrfs.iter().map(|v| v.routes.len()).sum();
                println!(
                    "{}: valid: {} ports, {} L3 + {} L2 networks, {} VRFs, {} routes",
                    config.display(),
                    r.ports.len(),
                    l3,
                    r.networks.len() - l3,
                    r.vrfs.len(),
                    routes
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cnfwd: {e}");
                ExitCode::FAILURE
            }
        },
        Command::DropReasons => {
            for r in DropReason::ALL {
                println!("{:<20} {}", r.name(), r.description());
            }
            ExitCode::SUCCESS
        }
    }
}

fn run(config: &std::path::Path, stats_json: Option<&std::path::Path>, quiet: bool) -> ExitCode {
    let started = Instant::now();
    let report = match replay(config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cnfwd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let elapsed = started.elapsed();
    if !quiet {
        print_summary(&report, elapsed.as_secs_f64());
    }
    if let Some(path) = stats_json {
        let json = report.stats.to_json(&report.tables);
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("cnfwd: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if report.input_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        for (port, e) in &report.input_errors {
            eprintln!("cnfwd: port {port:?}: input capture damaged, replay of it stopped after its readable packets: {e}");
        }
        ExitCode::from(3)
    }
}

fn print_summary(r: &ReplayReport, secs: f64) {
    let s = &r.stats;
    let (rx, tx, dropped) = s.totals();
    let mut out = std::io::stdout().lock();
    let copies = if s.replicated > 0 {
        format!(" (incl. {} flood copies)", s.replicated)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "cnfwd: {rx} packets received, {tx} frames sent{copies}, {dropped} dropped, in {secs:.3} s"
    );
    let _ = writeln!(
        out,
        "\n{:<20} {:>12} {:>12} {:>12}",
        "port", "rx", "tx", "dropped"
    );
    for (p, c) in r.tables.ports.iter().zip(&s.ports) {
        let _ = writeln!(
            out,
            "{:<20} {:>12} {:>12} {:>12}",
            p.name,
            c.rx_packets,
            c.tx_packets,
            c.dropped()
        );
    }
    let _ = writeln!(
        out,
        "\n{:<20} {:>12} {:>12} {:>12}",
        "network", "rx", "tx", "dropped"
    );
    for (n, c) in r.tables.networks.iter().zip(&s.networks) {
        let _ = writeln!(
            out,
            "{:<20} {:>12} {:>12} {:>12}",
            n.name,
            c.rx_packets,
            c.tx_packets,
            c.dropped()
        );
        for (&reason, &count) in DropReason::ALL.iter().zip(c.drops.iter()) {
            if count > 0 {
                let _ = writeln!(out, "  {:<18} {:>12}", reason.name(), count);
            }
        }
    }
    let drops = s.drops();
    if drops.iter().any(|&d| d > 0) {
        let _ = writeln!(out, "\n{:<20} {:>12}  meaning", "drop reason", "count");
        for (&reason, &count) in DropReason::ALL.iter().zip(drops.iter()) {
            if count > 0 {
                let _ = writeln!(
                    out,
                    "{:<20} {:>12}  {}",
                    reason.name(),
                    count,
                    reason.description()
                );
            }
        }
    }
}

//! `cnfwd-bench`: throughput, loss and latency of a forwarder, its no-drop
//! rate (NDR/PDR search), and comparisons of forwarders.
//!
//! - `cnfwd-bench run --profile P --tx IF --rx IF --dst-mac MAC`: one
//!   trial of the profile's `[traffic]` (rate, duration) through whatever
//!   forwards from interface `--tx` to `--rx` (optionally in namespaces).
//! - `cnfwd-bench search ...` (same arguments): the NDR/PDR search and the
//!   latency trials at 10/50/90 % of PDR.
//! - `cnfwd-bench compare --veth --profile P`: cnfwd (AF_PACKET) against
//!   the Linux kernel on veth pairs in namespaces it makes
//!   ([`cnfwd_tools::bench::compare`]).
//! - `cnfwd-bench compare --dpdk --profile P`: cnfwd (DPDK backend)
//!   against `dpdk-testpmd` (io, macswap) and DPDK's `l3fwd` (LPM) on
//!   `net_memif` vdev pairs (`cnfwd_tools::bench::vdev`; needs this
//!   program built with `--features dpdk`).
//!
//! All three take `--json FILE` (results) and `--report FILE.md` (Markdown,
//! with SVG plots `FILE-*.svg` beside it). Profiles: `tools/profiles/`,
//! format in [`cnfwd_tools::bench::profile`].
//!
//! `cnfwd-bench gen`: the plain traffic generator of old:
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

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use cnfwd_config::MacAddr;
use cnfwd_tools::bench::compare::{compare_veth, VethOptions};
use cnfwd_tools::bench::frames::{build_frames, FlowSpec};
use cnfwd_tools::bench::netns::Netns;
use cnfwd_tools::bench::profile::{Profile, ProfileError};
use cnfwd_tools::bench::report::{machine, now_utc, ForwarderRun, Report, SizeRun};
use cnfwd_tools::bench::run::{progress_bar, search, single};
use cnfwd_tools::bench::traffic::Traffic;
use cnfwd_tools::bench::{generate, open_port, GenOptions};
use dataplane::io::afpacket::RingConfig;
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

/// Where the results go.
#[derive(Args, Clone)]
struct Output {
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a Markdown report here, with SVG plots `<report without .md>-*.svg`.
    #[arg(long)]
    report: Option<PathBuf>,
}

/// A forwarder set up by the user: traffic out of one interface, back on another.
#[derive(Args, Clone)]
struct Path2 {
    /// Traffic profile (TOML; see tools/profiles/).
    #[arg(long)]
    profile: PathBuf,
    /// Interface the generator sends on.
    #[arg(long)]
    tx: String,
    /// Interface the receiver counts on.
    #[arg(long)]
    rx: String,
    /// Namespace of --tx (default: this process's).
    #[arg(long)]
    tx_netns: Option<String>,
    /// Namespace of --rx.
    #[arg(long)]
    rx_netns: Option<String>,
    /// Destination MAC of the frames (the forwarder's port).
    #[arg(long)]
    dst_mac: MacAddr,
    /// Source MAC (default 02:00:00:00:00:01).
    #[arg(long)]
    src_mac: Option<MacAddr>,
    #[command(flatten)]
    out: Output,
}

#[derive(Subcommand)]
enum Command {
    /// One trial at the profile's rate and duration; prints the measurement.
    Run(Path2),
    /// The NDR/PDR search (MLRsearch-like) plus latency at 10/50/90 % of PDR.
    Search(Path2),
    /// The same profile through several forwarders, trials alternating.
    Compare {
        /// Traffic profile (TOML).
        #[arg(long)]
        profile: PathBuf,
        /// Compare on veth pairs in namespaces (forwarders: kernel, cnfwd,
        /// testpmd-io, testpmd-macswap).
        #[arg(long)]
        veth: bool,
        /// Compare on DPDK vdevs (cnfwd, testpmd-io, testpmd-macswap, l3fwd).
        #[arg(long, conflicts_with = "veth")]
        dpdk: bool,
        /// Forwarders, in order (default: all of the chosen kind).
        #[arg(long, value_delimiter = ',')]
        forwarders: Vec<String>,
        /// Frame sizes (bytes with FCS) to run one after the other, each a
        /// whole comparison (default: the profile's).
        #[arg(long, value_delimiter = ',')]
        sizes: Vec<usize>,
        /// The cnfwd binary (default: `cnfwd` next to this program).
        #[arg(long)]
        cnfwd: Option<PathBuf>,
        /// CPU of the forwarders.
        #[arg(long, default_value_t = 1)]
        fwd_cpu: usize,
        /// CPU of cnfwd-bench's generator and receiver.
        #[arg(long, default_value_t = 0)]
        bench_cpu: usize,
        #[command(flatten)]
        out: Output,
    },
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

fn load(path: &Path) -> Result<Profile, String> {
    Profile::load(path).map_err(|e: ProfileError| e.to_string())
}

fn open_in(
    ns: Option<&str>,
    interface: &str,
    ring: RingConfig,
) -> Result<dataplane::io::afpacket::AfPacketBackend, String> {
    match ns {
        None => open_port(interface, ring).map_err(|e| e.to_string()),
        Some(n) => Netns { name: n.to_owned() }.open_keep(interface, ring),
    }
}

fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

fn write_outputs(report: &Report, out: &Output) -> Result<(), String> {
    if let Some(j) = &out.json {
        let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
        std::fs::write(j, text).map_err(|e| format!("{}: {e}", j.display()))?;
    }
    if let Some(r) = &out.report {
        let prefix = r.with_extension("").display().to_string();
        report.plots(&prefix)?;
        std::fs::write(r, report.markdown(Some(&prefix)))
            .map_err(|e| format!("{}: {e}", r.display()))?;
    }
    if out.json.is_none() && out.report.is_none() {
        print!("{}", report.markdown(None));
    }
    Ok(())
}

fn run_path(a: &Path2, full: bool) -> Result<(), String> {
    let profile = load(&a.profile)?;
    let mut tx = open_in(
        a.tx_netns.as_deref(),
        &a.tx,
        RingConfig {
            block_count: 2,
            ..RingConfig::default()
        },
    )?;
    let mut rx = open_in(
        a.rx_netns.as_deref(),
        &a.rx,
        RingConfig {
            block_count: 256,
            ..RingConfig::default()
        },
    )?;
    let src = a.src_mac.map_or([2, 0, 0, 0, 0, 1], |m| m.octets());
    let traffic = Traffic::new(&profile, src, a.dst_mac.octets());
    let date = now_utc();
    if !full {
        let r = single(&profile, &mut tx, &mut rx, &traffic).map_err(|e| e.to_string())?;
        let text = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
        if let Some(j) = &a.out.json {
            std::fs::write(j, &text).map_err(|e| format!("{}: {e}", j.display()))?;
        }
        println!(
            "sent {} received {} lost {} ({:.4} %) reordered {} duplicates {} | offered {:.4} Mpps, received {:.4} Mpps {:.3} Gbit/s",
            r.sent, r.received, r.lost, r.loss_ratio * 100.0, r.reordered, r.duplicates,
            r.offered_pps / 1e6, r.rx_pps / 1e6, r.rx_gbps
        );
        for (what, l) in [
            ("latency", &r.latency),
            ("latency from intended send times", &r.latency_corrected),
        ] {
            if let Some(l) = l {
                println!(
                    "{what} (µs): min {:.1} p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} p99.99 {:.1} max {:.1}",
                    l.min as f64 / 1e3, l.p50 as f64 / 1e3, l.p90 as f64 / 1e3, l.p99 as f64 / 1e3,
                    l.p99_9 as f64 / 1e3, l.p99_99 as f64 / 1e3, l.max as f64 / 1e3
                );
            }
        }
        return Ok(());
    }
    let pb = progress_bar();
    let result =
        search(&profile, &mut tx, &mut rx, &traffic, Some(&pb)).map_err(|e| e.to_string())?;
    pb.finish_and_clear();
    let report = Report {
        command: command_line(),
        date,
        machine: machine(),
        setup: format!("AF_PACKET: out of {} , back on {}", a.tx, a.rx),
        runs: vec![SizeRun {
            sizes: profile.sizes_label(),
            mean_size: profile.mean_size(),
            forwarders: vec![ForwarderRun {
                name: "forwarder".into(),
                description: format!("whatever forwards from {} to {}", a.tx, a.rx),
                search: Some(result),
                error: None,
            }],
        }],
        profile,
    };
    write_outputs(&report, &a.out)
}

#[allow(clippy::too_many_arguments)]
fn run_compare(
    profile_path: &Path,
    veth: bool,
    dpdk: bool,
    forwarders: Vec<String>,
    sizes: Vec<usize>,
    cnfwd: Option<PathBuf>,
    fwd_cpu: usize,
    bench_cpu: usize,
    out: &Output,
) -> Result<(), String> {
    let base = load(profile_path)?;
    if !dpdk && !veth {
        return Err(
            "compare: say where: --veth (veth pairs in namespaces) or --dpdk (DPDK memif vdevs)"
                .into(),
        );
    }
    let cnfwd = cnfwd.unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("cnfwd")))
            .unwrap_or_else(|| PathBuf::from("cnfwd"))
    });
    let mut profiles = Vec::new();
    if sizes.is_empty() {
        profiles.push(base.clone());
    }
    for s in sizes {
        if s < base.min_size() || s > cnfwd_tools::bench::profile::MAX_SIZE {
            return Err(format!(
                "--sizes: {s} is outside {}..={}",
                base.min_size(),
                cnfwd_tools::bench::profile::MAX_SIZE
            ));
        }
        let mut p = base.clone();
        p.sizes = vec![s];
        profiles.push(p);
    }
    let scratch = std::env::temp_dir().join(format!("cnfwd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let date = now_utc();
    let pb = progress_bar();
    let (runs, setup) = if dpdk {
        let r = compare_dpdk_runs(
            &profiles, forwarders, cnfwd, fwd_cpu, bench_cpu, &scratch, &pb,
        );
        pb.finish_and_clear();
        let _ = std::fs::remove_dir_all(&scratch);
        (r?, format!(
            "DPDK net_memif vdev pairs (cnfwd-bench: memif clients, forwarder: memif servers), one pair per forwarder; forwarders' forwarding core: CPU {fwd_cpu}, cnfwd-bench's generator and receiver (and the forwarders' EAL main lcores): CPU {bench_cpu}; --no-huge; trials alternate between forwarders (the others SIGSTOPped)"
        ))
    } else {
        let r = compare_veth_runs(
            &profiles, forwarders, cnfwd, fwd_cpu, bench_cpu, &scratch, &pb,
        );
        pb.finish_and_clear();
        let _ = std::fs::remove_dir_all(&scratch);
        (r?, format!(
            "veth pairs in namespaces; forwarders on CPU {fwd_cpu}, cnfwd-bench on CPU {bench_cpu}; trials alternate between forwarders"
        ))
    };
    let report = Report {
        command: command_line(),
        date,
        machine: machine(),
        setup,
        profile: base,
        runs,
    };
    write_outputs(&report, out)
}

#[cfg(feature = "dpdk")]
fn compare_dpdk_runs(
    profiles: &[Profile],
    forwarders: Vec<String>,
    cnfwd: PathBuf,
    fwd_cpu: usize,
    bench_cpu: usize,
    scratch: &Path,
    pb: &indicatif::ProgressBar,
) -> Result<Vec<SizeRun>, String> {
    use cnfwd_tools::bench::vdev::{bench_eal_args, compare_dpdk, DpdkOptions, DPDK_FORWARDERS};
    let opts = DpdkOptions {
        forwarders: if forwarders.is_empty() {
            DPDK_FORWARDERS.iter().map(|s| s.to_string()).collect()
        } else {
            forwarders
        },
        cnfwd,
        fwd_cpu,
        bench_cpu,
    };
    let pid = std::process::id();
    let eal = dataplane::io::dpdk::Eal::init(&bench_eal_args(bench_cpu, pid))
        .map_err(|e| format!("DPDK EAL: {e}"))?;
    let runtime = eal.runtime_dir().to_owned();
    let r = compare_dpdk(&eal, profiles, &opts, scratch, pb);
    drop(eal);
    if runtime.contains(&format!("cnfwd-bench-{pid}")) {
        let _ = std::fs::remove_dir_all(&runtime);
    }
    r
}

#[cfg(not(feature = "dpdk"))]
fn compare_dpdk_runs(
    _profiles: &[Profile],
    _forwarders: Vec<String>,
    _cnfwd: PathBuf,
    _fwd_cpu: usize,
    _bench_cpu: usize,
    _scratch: &Path,
    _pb: &indicatif::ProgressBar,
) -> Result<Vec<SizeRun>, String> {
    Err("this cnfwd-bench was built without DPDK: build it with `cargo build --release -p cnfwd-tools --features dpdk --bin cnfwd-bench` (needs libdpdk-dev, clang, pkg-config; and cnfwd with `cargo build --release -p dataplane --features dpdk --bin cnfwd`)".into())
}

fn compare_veth_runs(
    profiles: &[Profile],
    forwarders: Vec<String>,
    cnfwd: PathBuf,
    fwd_cpu: usize,
    bench_cpu: usize,
    scratch: &Path,
    pb: &indicatif::ProgressBar,
) -> Result<Vec<SizeRun>, String> {
    let opts = VethOptions {
        forwarders: if forwarders.is_empty() {
            cnfwd_tools::bench::compare::VETH_FORWARDERS
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            forwarders
        },
        cnfwd,
        fwd_cpu,
        bench_cpu,
    };
    profiles
        .iter()
        .map(|p| compare_veth(p, &opts, scratch, pb))
        .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let done = |r: Result<(), String>| match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cnfwd-bench: {e}");
            ExitCode::from(2)
        }
    };
    match cli.command {
        Command::Run(a) => done(run_path(&a, false)),
        Command::Search(a) => done(run_path(&a, true)),
        Command::Compare {
            profile,
            veth,
            dpdk,
            forwarders,
            sizes,
            cnfwd,
            fwd_cpu,
            bench_cpu,
            out,
        } => done(run_compare(
            &profile, veth, dpdk, forwarders, sizes, cnfwd, fwd_cpu, bench_cpu, &out,
        )),
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

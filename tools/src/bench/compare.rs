//! `cnfwd-bench compare` on veth: cnfwd (AF_PACKET backend) against the
//! Linux kernel routing the same networks, same traffic, trials
//! alternating between them.
//!
//! Topology (namespaces `cnfwd-bench-cmp-<pid>-*`, deleted at the end):
//!
//! ```text
//!   gen: g<i> --veth-- fwd-in :fwd<i>: fwd-out --veth-- s<i> :sink
//!        10.1.0.2       10.1.0.1     10.2.0.1       10.2.0.2 (no address)
//! ```
//!
//! one `fwd<i>` namespace per forwarder, so each keeps its set-up for the
//! whole run and trials can alternate (`kernel`, `cnfwd`, `kernel`, ...)
//! without reconfiguring anything. The profile's destination prefix is
//! routed via 10.2.0.2 (a permanent neighbour entry / a static neighbour:
//! nothing is resolved); its sources must be in 10.1.0.0/24.
//!
//! - kernel: addresses on fwd-in/fwd-out, the route, `ip_forward=1`;
//! - cnfwd: `cnfwd run` with two AF_PACKET access ports on fwd-in/fwd-out (which keep
//!   the MACs the traffic uses; the kernel's devices get others, so its IP
//!   stack drops the frames as "other host"), one VRF with both networks,
//!   one worker. It busy-polls, so it is stopped (SIGSTOP) while the other
//!   forwarders' trials run, and continued (SIGCONT) for its own.
//!
//! CPUs (as `scripts/bench-kernel.sh` had them): cnfwd-bench (generator
//! and receiver threads) on CPU 0, the forwarders on CPU 1 (cnfwd's
//! worker core; RPS of `fwd-in` to CPU 1, so the kernel forwards there and
//! delivers to cnfwd's ring there).
//!
//! - testpmd-io / testpmd-macswap: `dpdk-testpmd` on two DPDK
//!   `net_af_packet` vdevs (one per veth end), `--port-topology=paired`,
//!   forwarding lcore on CPU 1 (main lcore on CPU 0, printing statistics),
//!   `--no-huge --no-pci --no-shconf`: the L2 baselines users compare with
//!   (no routing: io passes frames on untouched, macswap swaps the MACs).
//!   Stopped and continued like cnfwd. A missing `dpdk-testpmd` is reported
//!   in its row, with what to install, and the others still run.
//!
//! The kernels here have no 802.1Q or VRF devices, so the profile must be
//! untagged IPv4.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use dataplane::io::afpacket::{AfPacketBackend, RingConfig};
use ipnet::IpNet;

use super::netns::{ip, veth, Netns};
use super::process::ForwarderProcess;
use super::profile::{Destinations, IpVersion, Profile};
use super::report::{ForwarderRun, SizeRun};
use super::run::{progress_text, trial_with_retries};
use super::search::Search;
use super::traffic::Traffic;

/// The forwarders `compare --veth` knows.
pub const VETH_FORWARDERS: [&str; 4] = ["kernel", "cnfwd", "testpmd-io", "testpmd-macswap"];

/// Where `dpdk-testpmd` is: `$TESTPMD`, else the first on `$PATH`.
pub fn find_testpmd() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TESTPMD") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("dpdk-testpmd"))
            .find(|p| p.is_file())
    })
}

/// Options of the veth comparison.
#[derive(Debug, Clone)]
pub struct VethOptions {
    /// Forwarders to compare, in this order.
    pub forwarders: Vec<String>,
    /// The `cnfwd` binary.
    pub cnfwd: PathBuf,
    /// CPU of the forwarders.
    pub fwd_cpu: usize,
    /// CPU of cnfwd-bench itself.
    pub bench_cpu: usize,
}

struct Side {
    name: String,
    description: String,
    /// The forwarder's process (none for the kernel); declared before the
    /// namespace, so it is stopped before the namespace goes.
    child: Option<ForwarderProcess>,
    /// Kept for its lifetime: dropping it deletes the namespace.
    _ns: Netns,
    tx: AfPacketBackend,
    rx: AfPacketBackend,
    traffic: Traffic,
    search: Search,
}

impl Side {
    fn pause(&self, stop: bool) {
        if let Some(c) = &self.child {
            c.pause(stop);
        }
    }
}

/// `m` as `aa:bb:cc:dd:ee:ff`.
pub(crate) fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Checks that `p` can run on veth through the kernel and cnfwd; the
/// error names the profile field.
pub fn check_profile(p: &Profile) -> Result<IpNet, String> {
    if p.vlan.is_some() {
        return Err(
            "frames.vlan: the veth comparison is untagged (no 802.1Q devices in these kernels)"
                .into(),
        );
    }
    if p.ip != IpVersion::Ipv4 {
        return Err("flows.ip: the veth comparison routes IPv4".into());
    }
    let gen_net: IpNet = "10.1.0.0/24".parse().expect("literal");
    if !gen_net.contains(&p.src)
        || p.src.addr() == "10.1.0.1".parse::<std::net::IpAddr>().expect("literal")
    {
        return Err(format!(
            "flows.src: {} must be inside 10.1.0.0/24 (not .1, the gateway)",
            p.src
        ));
    }
    match &p.dst {
        Destinations::Prefix(n) if n.contains(&gen_net) || gen_net.contains(n) => Err(format!(
            "flows.dst: {n} overlaps the generator's network 10.1.0.0/24"
        )),
        Destinations::Prefix(n) => Ok(*n),
        Destinations::Routes(_) => {
            Err("flows.routes: the veth comparison routes one prefix (flows.dst)".into())
        }
    }
}

fn cnfwd_config(
    dst: IpNet,
    fwd_cpu: usize,
    a_mac: [u8; 6],
    b_mac: [u8; 6],
    s_mac: [u8; 6],
) -> String {
    format!(
        r#"# cnfwd-bench compare: two untagged access networks routed in one VRF.
[engine]
workers = 1
cores = [{fwd_cpu}]

[[l3_isolation_domains]]
name = "bench"
static_routes = [{{ prefix = "{dst}", next_hop = "10.2.0.2" }}]

{networks}
[[ports]]
name = "gen"
backend = "af_packet"
interface = "fwd-in"
mac = "{a}"
mode = "access"
networks = ["gen-net"]

[[ports]]
name = "sink"
backend = "af_packet"
interface = "fwd-out"
mac = "{b}"
mode = "access"
networks = ["sink-net"]
"#,
        networks = routed_networks(s_mac),
        a = mac_text(a_mac),
        b = mac_text(b_mac),
    )
}

/// The two networks every compared cnfwd routes between, in its TOML:
/// `gen-net` (10.1.0.0/24) and `sink-net` (10.2.0.0/24, the sink 10.2.0.2
/// a static neighbour at `sink_mac`), both in VRF `bench`.
pub(crate) fn routed_networks(sink_mac: [u8; 6]) -> String {
    format!(
        r#"[[l3_networks]]
name = "gen-net"
vlan = 101
l3_isolation_domain = "bench"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"
ipv4_gateway = "10.1.0.1"

[[l3_networks]]
name = "sink-net"
vlan = 102
l3_isolation_domain = "bench"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.2.0.0/24"
ipv4_gateway = "10.2.0.1"
neighbors = [{{ ip = "10.2.0.2", mac = "{sink}" }}]
"#,
        sink = mac_text(sink_mac)
    )
}

/// Runs the comparison of `profile` on veth; `pb` shows progress.
pub fn compare_veth(
    profile: &Profile,
    opts: &VethOptions,
    scratch: &Path,
    pb: &indicatif::ProgressBar,
) -> Result<SizeRun, String> {
    let dst = check_profile(profile)?;
    let gen = Netns::new("cmp", "gen")?;
    let sink = Netns::new("cmp", "sink")?;
    let mut sides: Vec<Side> = Vec::new();
    let mut runs: Vec<ForwarderRun> = Vec::new();
    for (i, name) in opts.forwarders.iter().enumerate() {
        pb.set_message(format!("setting up {name}"));
        match setup(i, name, profile, dst, opts, &gen, &sink, scratch) {
            Ok(side) => {
                side.pause(true);
                sides.push(side);
            }
            Err(e) => runs.push(ForwarderRun {
                name: name.clone(),
                description: String::new(),
                search: None,
                error: Some(e),
            }),
        }
    }
    let all_cpus = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok();
    // This thread, and the generator and receiver threads it starts, on
    // the bench CPU (set after the forwarders started: children inherit it).
    let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &{
        let mut s = nix::sched::CpuSet::new();
        let _ = s.set(opts.bench_cpu);
        s
    });
    // Alternate: one trial of each forwarder in turn until all are done.
    loop {
        let mut any = false;
        for side in sides.iter_mut() {
            let Some(p) = side.search.next() else {
                continue;
            };
            any = true;
            pb.set_message(progress_text(
                &side.name,
                &side.search,
                &p,
                profile.search.width,
            ));
            side.pause(false);
            let r = trial_with_retries(profile, &mut side.tx, &mut side.rx, &side.traffic, &p);
            side.pause(true);
            if let Some(st) = side.child.as_mut().and_then(ForwarderProcess::exited) {
                return Err(format!("{}: exited during the run ({st})", side.name));
            }
            side.search
                .feed(p, r.map_err(|e| format!("{}: {e}", side.name))?);
        }
        if !any {
            break;
        }
    }
    if let Some(all) = all_cpus {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &all);
    }
    for side in &sides {
        runs.push(ForwarderRun {
            name: side.name.clone(),
            description: side.description.clone(),
            search: Some(side.search.result()),
            error: None,
        });
    }
    runs.sort_by_key(|r| opts.forwarders.iter().position(|n| n == &r.name));
    Ok(SizeRun {
        sizes: profile.sizes_label(),
        mean_size: profile.mean_size(),
        forwarders: runs,
    })
}

#[allow(clippy::too_many_arguments)]
fn setup(
    i: usize,
    name: &str,
    profile: &Profile,
    dst: IpNet,
    opts: &VethOptions,
    gen: &Netns,
    sink: &Netns,
    scratch: &Path,
) -> Result<Side, String> {
    let ns = Netns::new("cmp", &format!("fwd{i}"))?;
    let (g, s) = (format!("g{i}"), format!("s{i}"));
    veth(gen, &g, &ns, "fwd-in")?;
    veth(&ns, "fwd-out", sink, &s)?;
    let a_mac = ns.mac("fwd-in")?;
    let b_mac = ns.mac("fwd-out")?;
    let s_mac = sink.mac(&s)?;
    let g_mac = gen.mac(&g)?;
    // `ip netns exec` mounts the namespace's own /sys.
    super::netns::run(
        "ip",
        &[
            "netns",
            "exec",
            &ns.name,
            "sh",
            "-c",
            &format!(
                "echo {:x} > /sys/class/net/fwd-in/queues/rx-0/rps_cpus",
                1u64 << opts.fwd_cpu
            ),
        ],
    )
    .map_err(|e| format!("{name}: RPS on fwd-in: {e}"))?;
    let n = &ns.name;
    let (description, child) = match name {
        "kernel" => {
            ip(&["-n", n, "addr", "add", "10.1.0.1/24", "dev", "fwd-in"])?;
            ip(&["-n", n, "addr", "add", "10.2.0.1/24", "dev", "fwd-out"])?;
            ip(&[
                "-n",
                n,
                "neigh",
                "replace",
                "10.2.0.2",
                "lladdr",
                &mac_text(s_mac),
                "dev",
                "fwd-out",
                "nud",
                "permanent",
            ])?;
            ip(&[
                "-n",
                n,
                "route",
                "add",
                &dst.to_string(),
                "via",
                "10.2.0.2",
                "dev",
                "fwd-out",
            ])?;
            ns.sysctl("net/ipv4/ip_forward", "1")?;
            (
                format!(
                    "Linux kernel router (ip_forward=1, {dst} via 10.2.0.2, permanent neighbour), receive processing on CPU {} (RPS)",
                    opts.fwd_cpu
                ),
                None,
            )
        }
        "cnfwd" => {
            if !opts.cnfwd.is_file() {
                return Err(format!(
                    "{} not found: build it with `cargo build --release -p dataplane --bin cnfwd` (or give --cnfwd)",
                    opts.cnfwd.display()
                ));
            }
            ip(&[
                "-n",
                n,
                "link",
                "set",
                "fwd-in",
                "address",
                "02:fe:00:00:00:f0",
            ])?;
            ip(&[
                "-n",
                n,
                "link",
                "set",
                "fwd-out",
                "address",
                "02:fe:00:00:00:f1",
            ])?;
            let cfg = scratch.join(format!("cnfwd-{i}.toml"));
            std::fs::write(&cfg, cnfwd_config(dst, opts.fwd_cpu, a_mac, b_mac, s_mac))
                .map_err(|e| format!("{}: {e}", cfg.display()))?;
            let log = std::fs::File::create(scratch.join(format!("cnfwd-{i}.log")))
                .map_err(|e| e.to_string())?;
            let mut child = Command::new("ip")
                .args(["netns", "exec", n])
                .arg(&opts.cnfwd)
                .args(["run", "--config"])
                .arg(&cfg)
                .args(["--stats-interval", "0", "--quiet"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_err(|e| e.to_string())?)
                .stderr(log)
                .spawn()
                .map_err(|e| format!("{}: {e}", opts.cnfwd.display()))?;
            std::thread::sleep(Duration::from_millis(2000));
            if let Ok(Some(st)) = child.try_wait() {
                let text = std::fs::read_to_string(scratch.join(format!("cnfwd-{i}.log")))
                    .unwrap_or_default();
                return Err(format!("cnfwd exited at start ({st}): {}", text.trim()));
            }
            (
                format!(
                    "cnfwd run, AF_PACKET backend, one worker on CPU {} (busy polling), static route {dst} via 10.2.0.2",
                    opts.fwd_cpu
                ),
                Some(ForwarderProcess::new(child, None)),
            )
        }
        "testpmd-io" | "testpmd-macswap" => {
            let Some(testpmd) = find_testpmd() else {
                return Err(
                    "dpdk-testpmd not found (Debian/Ubuntu: apt-get install dpdk; or set TESTPMD)"
                        .into(),
                );
            };
            let mode = name.trim_start_matches("testpmd-");
            ip(&[
                "-n",
                n,
                "link",
                "set",
                "fwd-in",
                "address",
                "02:fe:00:00:00:f0",
            ])?;
            ip(&[
                "-n",
                n,
                "link",
                "set",
                "fwd-out",
                "address",
                "02:fe:00:00:00:f1",
            ])?;
            let prefix = format!("cnfwd-bench-{}-{i}", std::process::id());
            let logp = scratch.join(format!("{name}-{i}.log"));
            let log = std::fs::File::create(&logp).map_err(|e| e.to_string())?;
            let mut child = Command::new("ip")
                .args(["netns", "exec", n])
                .arg(&testpmd)
                .args([
                    "-l",
                    &format!("{},{}", opts.bench_cpu, opts.fwd_cpu),
                    "--main-lcore",
                    &opts.bench_cpu.to_string(),
                    "--no-huge",
                    "-m",
                    "512",
                    "--no-pci",
                    "--no-shconf",
                    "--file-prefix",
                    &prefix,
                    "--vdev=net_af_packet0,iface=fwd-in",
                    "--vdev=net_af_packet1,iface=fwd-out",
                    "--",
                    &format!("--forward-mode={mode}"),
                    "--port-topology=paired",
                    "--auto-start",
                    "--total-num-mbufs=16384",
                    "--stats-period",
                    "1",
                ])
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_err(|e| e.to_string())?)
                .stderr(log)
                .spawn()
                .map_err(|e| format!("{}: {e}", testpmd.display()))?;
            std::thread::sleep(Duration::from_millis(3000));
            if let Ok(Some(st)) = child.try_wait() {
                let text = std::fs::read_to_string(&logp).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(5).collect();
                return Err(format!(
                    "dpdk-testpmd exited at start ({st}): {}",
                    tail.join(" | ")
                ));
            }
            (
                format!(
                    "dpdk-testpmd --forward-mode={mode} --port-topology=paired on net_af_packet vdevs (fwd-in, fwd-out), forwarding lcore on CPU {}",
                    opts.fwd_cpu
                ),
                Some(ForwarderProcess::new(
                    child,
                    Some(PathBuf::from(format!("/var/run/dpdk/{prefix}"))),
                )),
            )
        }
        other => {
            return Err(format!(
                "unknown forwarder {other:?} for --veth (known: {})",
                VETH_FORWARDERS.join(", ")
            ))
        }
    };
    let tx = gen.open(
        &g,
        RingConfig {
            block_count: 2,
            ..RingConfig::default()
        },
    )?;
    let rx = sink.open(
        &s,
        RingConfig {
            block_count: 256,
            ..RingConfig::default()
        },
    )?;
    let dst_mac = if name == "cnfwd" {
        a_mac
    } else {
        ns.mac("fwd-in")?
    };
    Ok(Side {
        name: name.to_owned(),
        description,
        traffic: Traffic::new(profile, g_mac, dst_mac),
        _ns: ns,
        tx,
        rx,
        child,
        search: Search::new(profile.search.clone()),
    })
}

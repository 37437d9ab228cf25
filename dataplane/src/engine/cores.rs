//! Which cores the workers run on.
//!
//! Configured cores are used as given (checked against the cores this
//! process may run on). Otherwise cores are chosen like DPDK applications
//! are deployed by hand: on the NUMA node the ports are attached to (for a
//! PCI device `/sys/bus/pci/devices/<addr>/numa_node`, for a Linux
//! interface `/sys/class/net/<if>/device/numa_node`; a port's configured
//! `numa_node` wins), skipping core 0 (where the kernel and housekeeping
//! run) unless nothing else is available. All of sysfs is read below an
//! injectable root ([`Topology::with_root`]), so tests describe any machine.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Why no core set could be chosen.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CoreError {
    /// A configured core is not one this process may run on.
    #[error("engine.cores: core {core} is not available to this process (allowed: {allowed})")]
    NotAllowed {
        /// The core.
        core: usize,
        /// The allowed cores, as a cpulist.
        allowed: String,
    },
    /// More workers than usable cores, with no cores configured.
    #[error("{workers} workers need {workers} cores, but only {available} are available ({allowed}); lower engine.workers or list engine.cores explicitly")]
    TooFewCores {
        /// Workers asked for.
        workers: usize,
        /// Cores available.
        available: usize,
        /// The allowed cores, as a cpulist.
        allowed: String,
    },
    /// A sysfs cpulist could not be parsed.
    #[error("{path}: bad cpu list {text:?}")]
    BadCpuList {
        /// The file.
        path: String,
        /// Its content.
        text: String,
    },
}

/// Where a port's device sits, for NUMA lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortDevice {
    /// A PCI function (`0000:3b:02.0`).
    Pci(String),
    /// A Linux network interface.
    Interface(String),
    /// A known NUMA node (configured, or reported by DPDK).
    Node(u32),
    /// Nothing to go by (pcap files, vdevs).
    Unknown,
}

/// The machine's CPU and NUMA layout, read from a sysfs tree.
#[derive(Debug, Clone)]
pub struct Topology {
    root: PathBuf,
}

impl Topology {
    /// The running system (`/sys`).
    pub fn system() -> Self {
        Self::with_root("/")
    }

    /// A tree rooted at `root` (holding `sys/...`), for tests.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn read(&self, rel: &str) -> Option<String> {
        fs::read_to_string(self.root.join(rel))
            .ok()
            .map(|s| s.trim().to_owned())
    }

    /// NUMA nodes and their CPUs. A machine without
    /// `/sys/devices/system/node` is one node 0 holding every online CPU.
    pub fn nodes(&self) -> Result<BTreeMap<u32, Vec<usize>>, CoreError> {
        let mut nodes = BTreeMap::new();
        let dir = self.root.join("sys/devices/system/node");
        if let Ok(entries) = fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name();
                let Some(id) = name
                    .to_str()
                    .and_then(|n| n.strip_prefix("node"))
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    continue;
                };
                let path = e.path().join("cpulist");
                let text = fs::read_to_string(&path).unwrap_or_default();
                nodes.insert(id, parse_cpulist(text.trim(), &path)?);
            }
        }
        if nodes.is_empty() {
            nodes.insert(0, self.online_cpus()?);
        }
        Ok(nodes)
    }

    /// Online CPUs (`/sys/devices/system/cpu/online`).
    pub fn online_cpus(&self) -> Result<Vec<usize>, CoreError> {
        let rel = "sys/devices/system/cpu/online";
        match self.read(rel) {
            Some(t) => parse_cpulist(&t, &self.root.join(rel)),
            None => Ok((0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()),
        }
    }

    /// The NUMA node of a port's device, if the system says.
    pub fn device_node(&self, dev: &PortDevice) -> Option<u32> {
        let text = match dev {
            PortDevice::Node(n) => return Some(*n),
            PortDevice::Unknown => return None,
            PortDevice::Pci(addr) => self.read(&format!("sys/bus/pci/devices/{addr}/numa_node")),
            PortDevice::Interface(name) => {
                self.read(&format!("sys/class/net/{name}/device/numa_node"))
            }
        };
        // -1: the platform does not know (single-node machines, VMs).
        text.and_then(|t| t.parse::<i64>().ok())
            .and_then(|n| u32::try_from(n).ok())
    }
}

/// Parses a kernel cpulist (`0-3,8,10-11`).
pub fn parse_cpulist(text: &str, path: &Path) -> Result<Vec<usize>, CoreError> {
    let bad = || CoreError::BadCpuList {
        path: path.display().to_string(),
        text: text.to_owned(),
    };
    let mut cpus = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: usize = a.parse().map_err(|_| bad())?;
        let b: usize = b.parse().map_err(|_| bad())?;
        if b < a || b - a > 65_536 {
            return Err(bad());
        }
        cpus.extend(a..=b);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// Formats CPUs as a cpulist (for messages).
pub fn format_cpulist(cpus: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    out.join(",")
}

/// The cores chosen and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreChoice {
    /// One core per worker.
    pub cores: Vec<usize>,
    /// The NUMA node preferred (the ports' node), if known.
    pub node: Option<u32>,
    /// A sentence for the log: how the cores were chosen.
    pub reason: String,
}

/// Chooses one core per worker.
///
/// - `configured` non-empty: exactly those (one worker each), each of which
///   must be in `allowed` (the process's CPU affinity).
/// - else `workers` cores from `allowed`: first those on the ports' NUMA
///   node (the node most ports sit on; ties go to the lower node), then the
///   other nodes, core 0 last. Two workers never share a core.
pub fn choose(
    topo: &Topology,
    ports: &[PortDevice],
    workers: usize,
    configured: &[usize],
    allowed: &[usize],
) -> Result<CoreChoice, CoreError> {
    let mut allowed = allowed.to_vec();
    allowed.sort_unstable();
    allowed.dedup();
    if !configured.is_empty() {
        if let Some(&core) = configured.iter().find(|c| !allowed.contains(c)) {
            return Err(CoreError::NotAllowed {
                core,
                allowed: format_cpulist(&allowed),
            });
        }
        return Ok(CoreChoice {
            cores: configured.to_vec(),
            node: None,
            reason: format!("configured cores {}", format_cpulist(configured)),
        });
    }
    let nodes = topo.nodes()?;
    let mut votes: BTreeMap<u32, usize> = BTreeMap::new();
    for d in ports {
        if let Some(n) = topo.device_node(d) {
            *votes.entry(n).or_default() += 1;
        }
    }
    // Most ports; among equals the lowest node id.
    let node = votes
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(&n, _)| n);
    let node_of = |cpu: usize| {
        nodes
            .iter()
            .find(|(_, cpus)| cpus.contains(&cpu))
            .map(|(&n, _)| n)
    };
    // Order: preferred node first, core 0 last, then by number.
    let mut order = allowed.clone();
    order.sort_by_key(|&c| (c == 0, node.is_some() && node_of(c) != node, c));
    if workers > order.len() {
        return Err(CoreError::TooFewCores {
            workers,
            available: order.len(),
            allowed: format_cpulist(&allowed),
        });
    }
    let cores: Vec<usize> = order[..workers].to_vec();
    let on_node = cores.iter().filter(|&&c| node_of(c) == node).count();
    let reason = match node {
        Some(n) if on_node == cores.len() => format!(
            "cores {} on NUMA node {n}, the ports' node",
            format_cpulist(&sorted(&cores))
        ),
        Some(n) => format!(
            "cores {}: only {on_node} of {} on NUMA node {n}, the ports' node; the rest on other nodes (cross-node traffic)",
            format_cpulist(&sorted(&cores)),
            cores.len()
        ),
        None => format!(
            "cores {} (the ports' NUMA node is unknown)",
            format_cpulist(&sorted(&cores))
        ),
    };
    Ok(CoreChoice {
        cores,
        node,
        reason,
    })
}

fn sorted(c: &[usize]) -> Vec<usize> {
    let mut v = c.to_vec();
    v.sort_unstable();
    v
}

/// The cores this process may run on (its CPU affinity), or every online
/// CPU when the affinity cannot be read.
pub fn allowed_cores(topo: &Topology) -> Result<Vec<usize>, CoreError> {
    match core_affinity::get_core_ids() {
        Some(ids) if !ids.is_empty() => Ok(ids.into_iter().map(|c| c.id).collect()),
        _ => topo.online_cpus(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake two-node machine: node 0 = cpus 0-3, node 1 = cpus 4-7; PCI
    /// device 0000:3b:02.0 and interface eth1 on node 1, eth0 on node 0,
    /// veth0 without a device.
    fn two_nodes() -> (tempfile_dir::Dir, Topology) {
        let d = tempfile_dir::Dir::new("cores");
        d.write("sys/devices/system/cpu/online", "0-7\n");
        d.write("sys/devices/system/node/node0/cpulist", "0-3\n");
        d.write("sys/devices/system/node/node1/cpulist", "4-7\n");
        d.write("sys/devices/system/node/possible", "0-1\n");
        d.write("sys/bus/pci/devices/0000:3b:02.0/numa_node", "1\n");
        d.write("sys/class/net/eth1/device/numa_node", "1\n");
        d.write("sys/class/net/eth0/device/numa_node", "0\n");
        d.write("sys/class/net/vm0/device/numa_node", "-1\n");
        let t = Topology::with_root(d.path());
        (d, t)
    }

    /// A throwaway directory under the target dir's tmp (no extra crate).
    mod tempfile_dir {
        use std::path::{Path, PathBuf};

        pub struct Dir(PathBuf);

        impl Dir {
            pub fn new(tag: &str) -> Self {
                let p = std::env::temp_dir().join(format!(
                    "cnfwd-{tag}-{}-{:?}",
                    std::process::id(),
                    std::thread::current().id()
                ));
                let _ = std::fs::remove_dir_all(&p);
                std::fs::create_dir_all(&p).unwrap();
                Self(p)
            }
            pub fn path(&self) -> &Path {
                &self.0
            }
            pub fn write(&self, rel: &str, text: &str) {
                let p = self.0.join(rel);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, text).unwrap();
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn all() -> Vec<usize> {
        (0..8).collect()
    }

    #[test]
    fn cpulists_parse_and_format() {
        let p = Path::new("x");
        assert_eq!(
            parse_cpulist("0-3,8,10-11", p).unwrap(),
            [0, 1, 2, 3, 8, 10, 11]
        );
        assert_eq!(parse_cpulist("", p).unwrap(), Vec::<usize>::new());
        assert!(parse_cpulist("3-1", p).is_err());
        assert!(parse_cpulist("a", p).is_err());
        assert_eq!(format_cpulist(&[0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
    }

    #[test]
    fn reads_nodes_and_device_nodes() {
        let (_d, t) = two_nodes();
        let nodes = t.nodes().unwrap();
        assert_eq!(nodes[&0], [0, 1, 2, 3]);
        assert_eq!(nodes[&1], [4, 5, 6, 7]);
        assert_eq!(
            t.device_node(&PortDevice::Pci("0000:3b:02.0".into())),
            Some(1)
        );
        assert_eq!(
            t.device_node(&PortDevice::Interface("eth0".into())),
            Some(0)
        );
        assert_eq!(
            t.device_node(&PortDevice::Interface("vm0".into())),
            None,
            "-1"
        );
        assert_eq!(t.device_node(&PortDevice::Interface("veth9".into())), None);
        assert_eq!(t.device_node(&PortDevice::Node(3)), Some(3));
    }

    #[test]
    fn picks_cores_on_the_ports_node() {
        let (_d, t) = two_nodes();
        let pci = PortDevice::Pci("0000:3b:02.0".into());
        let c = choose(&t, &[pci.clone(), PortDevice::Unknown], 2, &[], &all()).unwrap();
        assert_eq!(c.cores, [4, 5]);
        assert_eq!(c.node, Some(1));
        assert!(c.reason.contains("NUMA node 1"), "{}", c.reason);
        // Interfaces on node 0: core 0 is skipped.
        let eth0 = PortDevice::Interface("eth0".into());
        let c = choose(&t, std::slice::from_ref(&eth0), 3, &[], &all()).unwrap();
        assert_eq!(c.cores, [1, 2, 3]);
        // Node 0 has 3 cores besides core 0; a fourth worker goes to node 1
        // before core 0 is used.
        let c = choose(&t, std::slice::from_ref(&eth0), 4, &[], &all()).unwrap();
        assert_eq!(c.cores, [1, 2, 3, 4]);
        assert!(c.reason.contains("only 3 of 4"), "{}", c.reason);
        // Majority wins: two ports on node 1, one on node 0.
        let eth1 = PortDevice::Interface("eth1".into());
        let c = choose(&t, &[eth0, eth1, pci], 1, &[], &all()).unwrap();
        assert_eq!(c.cores, [4]);
    }

    #[test]
    fn respects_the_process_affinity_and_core_zero_rule() {
        let (_d, t) = two_nodes();
        let pci = PortDevice::Pci("0000:3b:02.0".into());
        // A pod limited to cores 0, 2 and 6.
        let c = choose(&t, std::slice::from_ref(&pci), 2, &[], &[0, 2, 6]).unwrap();
        assert_eq!(c.cores, [6, 2]);
        // Core 0 only when nothing else is left.
        let c = choose(&t, &[pci], 3, &[], &[0, 2, 6]).unwrap();
        assert_eq!(c.cores, [6, 2, 0]);
        let e = choose(&t, &[], 4, &[], &[0, 2, 6]).unwrap_err();
        assert!(
            e.to_string()
                .contains("4 workers need 4 cores, but only 3 are available (0,2,6)"),
            "{e}"
        );
        // Unknown node: lowest cores except 0.
        let c = choose(&t, &[PortDevice::Unknown], 2, &[], &all()).unwrap();
        assert_eq!((c.cores, c.node), (vec![1, 2], None));
    }

    #[test]
    fn configured_cores_are_checked_against_the_affinity() {
        let (_d, t) = two_nodes();
        let c = choose(&t, &[], 0, &[5, 7], &all()).unwrap();
        assert_eq!(c.cores, [5, 7]);
        let e = choose(&t, &[], 0, &[5, 9], &all()).unwrap_err();
        assert_eq!(
            e,
            CoreError::NotAllowed {
                core: 9,
                allowed: "0-7".into()
            }
        );
    }

    #[test]
    fn a_machine_without_numa_is_one_node() {
        let d = tempfile_dir::Dir::new("cores-flat");
        d.write("sys/devices/system/cpu/online", "0-1\n");
        let t = Topology::with_root(d.path());
        assert_eq!(t.nodes().unwrap()[&0], [0, 1]);
        let c = choose(&t, &[PortDevice::Interface("x".into())], 1, &[], &[0, 1]).unwrap();
        assert_eq!(c.cores, [1]);
    }
}

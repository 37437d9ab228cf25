//! The validated model: names replaced by indices, defaults filled in, every
//! cross-reference checked. The data plane builds its tables from this and
//! never sees a name it has to look up.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::egress::EgressRule;
use crate::mac::MacAddr;
use crate::model::{BackendKind, SourceCheck};

/// Index into [`Resolved::ports`].
pub type PortId = u16;
/// Index into [`Resolved::networks`].
pub type NetworkId = u16;
/// Index into [`Resolved::vrfs`].
pub type VrfId = u16;

/// A configuration that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Packets per burst, 1..=256.
    pub burst_size: usize,
    /// Ports in configuration order.
    pub ports: Vec<ResolvedPort>,
    /// L2 networks then L3 networks, each in configuration order.
    pub networks: Vec<ResolvedNetwork>,
    /// VRFs in configuration order.
    pub vrfs: Vec<ResolvedVrf>,
    /// The CSN and its allowlist, if configured.
    pub csn: Option<ResolvedCsn>,
    /// EAL arguments for DPDK ports (`[dpdk] eal_args`).
    pub dpdk_eal_args: Vec<String>,
    /// mbufs per DPDK packet pool (`[dpdk] mbufs`; `None`: sized from the
    /// rings).
    pub dpdk_mbufs: Option<u32>,
    /// Workers, cores and idle policy.
    pub engine: ResolvedEngine,
    /// AF_PACKET ring geometry (validated).
    pub af_packet: crate::model::AfPacket,
    /// The management socket settings (validated).
    pub control: crate::model::Control,
    /// Where to serve Prometheus metrics, if anywhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// ARP/ND, neighbour resolution and ICMP error settings (validated).
    pub slow_path: crate::slow_path::SlowPathSettings,
}

/// Validated `[engine]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedEngine {
    /// Worker threads, >= 1; equals `cores.len()` when cores are given.
    pub workers: usize,
    /// Configured cores (empty: choose on the ports' NUMA node).
    pub cores: Vec<usize>,
    /// Idle policy.
    pub idle: ResolvedIdle,
    /// Milliseconds without a completed polling round after which a
    /// worker is stalled, 200..=3600000.
    pub stall_timeout_ms: u32,
}

/// Validated idle policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvedIdle {
    /// Busy polling.
    Busy,
    /// Sleep `sleep_us` per round after `empty_polls` empty rounds.
    Adaptive {
        /// Empty rounds before sleeping, >= 1.
        empty_polls: u32,
        /// Microseconds per sleep, 1..=100000.
        sleep_us: u32,
    },
}

/// Backend-specific settings of a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortBackend {
    /// Capture replay: RX from `rx`, TX to `tx` (either may be absent).
    Pcap {
        /// Capture read as RX.
        rx: Option<String>,
        /// Capture written with TX.
        tx: Option<String>,
    },
    /// AF_PACKET on a Linux interface.
    AfPacket {
        /// Interface name.
        interface: String,
    },
    /// DPDK device (PCI address or vdev).
    Dpdk {
        /// Device string.
        device: String,
    },
}

impl PortBackend {
    /// The backend kind.
    pub fn kind(&self) -> BackendKind {
        match self {
            PortBackend::Pcap { .. } => BackendKind::Pcap,
            PortBackend::AfPacket { .. } => BackendKind::AfPacket,
            PortBackend::Dpdk { .. } => BackendKind::Dpdk,
        }
    }
}

/// How a port carries networks, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// One network, untagged.
    Access(NetworkId),
    /// VLAN -> network, sorted by VLAN, VLANs unique.
    Trunk(Vec<(u16, NetworkId)>),
}

/// A validated port.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPort {
    /// Name.
    pub name: String,
    /// Backend and its settings.
    pub backend: PortBackend,
    /// The port's MAC (`None` only for backends that read it from the device).
    pub mac: Option<MacAddr>,
    /// L3 MTU, >= every attached network's MTU.
    pub mtu: u32,
    /// NUMA node, when configured.
    pub numa_node: Option<u32>,
    /// Networks carried.
    pub attachment: Attachment,
    /// Where the device came from when the file named the pod's network
    /// attachment or resource (`None`: named in the file).
    pub pod: Option<crate::attachment::PodOrigin>,
}

/// L3 specifics of a network.
#[derive(Debug, Clone, PartialEq)]
pub struct L3Info {
    /// Its VRF.
    pub vrf: VrfId,
    /// IPv4 connected prefix and cnfwd's address in it.
    pub ipv4: Option<(Ipv4Net, Ipv4Addr)>,
    /// IPv6 connected prefix and cnfwd's address in it.
    pub ipv6: Option<(Ipv6Net, Ipv6Addr)>,
    /// Static neighbours, each inside a connected prefix, IPs unique.
    pub neighbors: Vec<(IpAddr, MacAddr)>,
    /// Reverse-path filtering of packets arriving on the network.
    pub source_check: SourceCheck,
}

/// A validated L2 or L3 network.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedNetwork {
    /// Name.
    pub name: String,
    /// VLAN id, 1..=4094.
    pub vlan: u16,
    /// MTU, 64..=9200.
    pub mtu: u32,
    /// `None` for an L2 network.
    pub l3: Option<L3Info>,
    /// Ports carrying it, in configuration order (at most one for L3).
    pub ports: Vec<PortId>,
    /// Informational interface name.
    pub interface_name: Option<String>,
    /// L2 networks: seconds a learned MAC lives after it was last seen.
    pub mac_age_s: u32,
    /// L2 networks: MACs pinned to ports.
    pub static_macs: Vec<(MacAddr, PortId)>,
}

/// What a route does with a matching packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTarget {
    /// Addressed to cnfwd itself (a gateway address).
    Local(NetworkId),
    /// The destination is on this network (connected prefix, or a static
    /// route naming only a network).
    Attached(NetworkId),
    /// Forward to this next hop, which is on this network.
    Via(IpAddr, NetworkId),
}

/// One entry of a VRF's routing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Destination (host bits zero).
    pub prefix: IpNet,
    /// Where it goes.
    pub target: RouteTarget,
    /// True for configured static routes, false for connected/local ones.
    pub is_static: bool,
}

/// A validated VRF: its whole routing table.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedVrf {
    /// Name.
    pub name: String,
    /// Connected, gateway (/32, /128) and static routes; prefixes unique.
    pub routes: Vec<Route>,
}

/// The validated CSN.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedCsn {
    /// The L3 network that is the CSN.
    pub network: NetworkId,
    /// Every allowed endpoint (defaults included only when enabled).
    pub allow: Vec<EgressRule>,
    /// The CSN module's settings (validated).
    pub settings: crate::csn::CsnSettings,
}

impl Resolved {
    /// The target of a static route added at run time to VRF `vrf`, by the
    /// same rules as `static_routes` in the file: `network` (by name, any
    /// VRF: an explicit leak) and/or `next_hop`, which must lie in a
    /// connected prefix (of `network` when given, else of a network of the
    /// VRF). The error says which argument is wrong and why.
    pub fn route_target(
        &self,
        vrf: VrfId,
        prefix: IpNet,
        next_hop: Option<IpAddr>,
        network: Option<&str>,
    ) -> Result<RouteTarget, String> {
        let holds = |n: &ResolvedNetwork, ip: IpAddr| match (&n.l3, ip) {
            (Some(l3), IpAddr::V4(a)) => l3.ipv4.is_some_and(|(p, _)| p.contains(&a)),
            (Some(l3), IpAddr::V6(a)) => l3.ipv6.is_some_and(|(p, _)| p.contains(&a)),
            (None, _) => false,
        };
        let v4 = matches!(prefix, IpNet::V4(_));
        let net = match network {
            None => None,
            Some(name) => {
                let Some(id) = self.networks.iter().position(|n| n.name == name) else {
                    return Err(format!("network {name:?}: no L3 network has this name"));
                };
                if self.networks[id].l3.is_none() {
                    return Err(format!(
                        "network {name:?}: is an L2 network; routes lead to L3 networks"
                    ));
                }
                Some(id as NetworkId)
            }
        };
        match (next_hop, net) {
            (None, None) => Err("a route needs next_hop, network, or both".into()),
            (Some(nh), _) if nh.is_ipv4() != v4 => Err(format!(
                "next_hop {nh}: address family differs from prefix {prefix}"
            )),
            (Some(nh), Some(id)) if holds(&self.networks[id as usize], nh) => {
                Ok(RouteTarget::Via(nh, id))
            }
            (Some(nh), Some(id)) => Err(format!(
                "next_hop {nh}: not inside a connected prefix of network {:?}",
                self.networks[id as usize].name
            )),
            (Some(nh), None) => self
                .networks
                .iter()
                .position(|n| n.l3.as_ref().is_some_and(|l| l.vrf == vrf) && holds(n, nh))
                .map(|id| RouteTarget::Via(nh, id as NetworkId))
                .ok_or_else(|| {
                    format!(
                        "next_hop {nh}: not inside any connected prefix of isolation domain {:?}",
                        self.vrfs.get(vrf as usize).map_or("?", |v| v.name.as_str())
                    )
                }),
            (None, Some(id)) => {
                let l3 = self.networks[id as usize].l3.as_ref();
                if l3.is_some_and(|l| {
                    if v4 {
                        l.ipv4.is_some()
                    } else {
                        l.ipv6.is_some()
                    }
                }) {
                    Ok(RouteTarget::Attached(id))
                } else {
                    Err(format!(
                        "network {:?}: has no connected prefix of the family of {prefix}",
                        self.networks[id as usize].name
                    ))
                }
            }
        }
    }
}

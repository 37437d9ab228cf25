//! The forwarding tables workers read: built once from a [`Resolved`]
//! configuration, then immutable (a snapshot). Every name is an index here;
//! every route ends in an [`Adjacency`] whose egress port, MTU and (for a
//! next hop) neighbour MAC were resolved when the snapshot was built, as VPP
//! does with its adjacencies; routes through the same next hop share one.
//!
//! A VRF with at least [`LARGE_FIB4_ROUTES`] IPv4 routes gets the 24-8 FIB
//! layout (one memory read per lookup up to /24, 80 MiB); smaller VRFs get
//! the compact 16-8-8 one, so 1,024 small VRFs stay affordable.

use std::net::IpAddr;

use cnfwd_config::{Attachment, NetworkId, PortId, Resolved, RouteTarget};
use ipnet::IpNet;
use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use crate::fib::{Fib4, Fib6, FibError, FibMemory};

/// IPv4 routes from which a VRF uses [`Fib4::new_large`].
pub const LARGE_FIB4_ROUTES: usize = 100_000;

/// "No network" in a VLAN map.
pub const NO_NETWORK: u16 = u16::MAX;
/// "No port" for a network attached nowhere.
pub const NO_PORT: u16 = u16::MAX;

/// Why a snapshot could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TablesError {
    /// A port has no MAC (only pcap needs one from config, and validation
    /// requires it there).
    #[error("port {port:?} has no MAC address")]
    NoMac {
        /// The port.
        port: String,
    },
    /// A FIB rejected a route.
    #[error("VRF {vrf:?}: route {prefix}: {source}")]
    Fib {
        /// VRF name.
        vrf: String,
        /// The route.
        prefix: IpNet,
        /// Why.
        source: FibError,
    },
    /// More adjacencies than FIB values can index.
    #[error("too many adjacencies ({0})")]
    TooManyRoutes(usize),
}

/// Per-port forwarding facts.
#[derive(Debug, Clone)]
pub struct PortEntry {
    /// Name, for stats.
    pub name: String,
    /// The port's MAC.
    pub mac: [u8; 6],
    /// True for a trunk port (egress frames carry the network's tag).
    pub trunk: bool,
    /// Access ports: the network of untagged frames, else [`NO_NETWORK`].
    pub access_network: u16,
    /// Trunk ports: VID -> network ([`NO_NETWORK`] if not carried); 4096 entries.
    pub vlan_map: Box<[u16]>,
}

/// Per-network forwarding facts.
#[derive(Debug, Clone)]
pub struct NetworkEntry {
    /// Name, for stats.
    pub name: String,
    /// VLAN id.
    pub vlan: u16,
    /// MTU (L3: IP packet; L2: payload after the tag).
    pub mtu: u32,
    /// True for an L3 network.
    pub l3: bool,
    /// L3: its VRF.
    pub vrf: u16,
    /// Ports carrying it, configuration order.
    pub ports: Box<[PortId]>,
    /// L3: static neighbours, IPv4 (host order) -> MAC.
    pub neighbors4: FxHashMap<u32, [u8; 6]>,
    /// L3: static neighbours, IPv6 -> MAC.
    pub neighbors6: FxHashMap<u128, [u8; 6]>,
}

/// What a route resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdjKind {
    /// Addressed to cnfwd.
    Local,
    /// Destination on the egress network: neighbour looked up per packet.
    Attached,
    /// Via a next hop whose MAC was resolved at build time.
    ViaResolved,
    /// Via a next hop with no neighbour entry.
    ViaUnresolved,
}

/// The result of a FIB lookup: everything the rewrite needs.
#[derive(Debug, Clone, Copy)]
pub struct Adjacency {
    /// Kind.
    pub kind: AdjKind,
    /// Egress network.
    pub network: NetworkId,
    /// Egress port, or [`NO_PORT`].
    pub port: PortId,
    /// Egress network MTU.
    pub mtu: u32,
    /// Next-hop MAC ([`AdjKind::ViaResolved`] only).
    pub mac: [u8; 6],
}

/// One VRF's lookup tables.
#[derive(Debug, Default)]
pub struct VrfTables {
    /// Name, for stats.
    pub name: String,
    /// IPv4 LPM: value = adjacency index.
    pub fib4: Fib4,
    /// IPv6 LPM: value = adjacency index.
    pub fib6: Fib6,
}

/// A complete, immutable forwarding snapshot.
#[derive(Debug)]
pub struct Tables {
    /// Ports, by [`PortId`].
    pub ports: Vec<PortEntry>,
    /// Networks, by [`NetworkId`].
    pub networks: Vec<NetworkEntry>,
    /// VRFs, by VRF id.
    pub vrfs: Vec<VrfTables>,
    /// Adjacencies, indexed by FIB values.
    pub adjacencies: Vec<Adjacency>,
}

impl Tables {
    /// Builds the snapshot. A port's MAC is the configured `mac`, else its
    /// entry in `device_macs` (what the backend read from the device).
    pub fn build(r: &Resolved, device_macs: &[Option<[u8; 6]>]) -> Result<Self, TablesError> {
        let mut ports = Vec::with_capacity(r.ports.len());
        for (i, p) in r.ports.iter().enumerate() {
            let mac = p
                .mac
                .map(|m| m.octets())
                .or(device_macs.get(i).copied().flatten())
                .ok_or_else(|| TablesError::NoMac {
                    port: p.name.clone(),
                })?;
            let mut vlan_map = vec![NO_NETWORK; 4096].into_boxed_slice();
            let (trunk, access_network) = match &p.attachment {
                Attachment::Access(n) => (false, *n),
                Attachment::Trunk(map) => {
                    for &(vid, n) in map {
                        vlan_map[vid as usize] = n;
                    }
                    (true, NO_NETWORK)
                }
            };
            ports.push(PortEntry {
                name: p.name.clone(),
                mac,
                trunk,
                access_network,
                vlan_map,
            });
        }

        let networks: Vec<NetworkEntry> = r
            .networks
            .iter()
            .map(|n| {
                let mut neighbors4 = FxHashMap::default();
                let mut neighbors6 = FxHashMap::default();
                if let Some(l3) = &n.l3 {
                    for &(ip, mac) in &l3.neighbors {
                        match ip {
                            IpAddr::V4(a) => neighbors4.insert(u32::from(a), mac.octets()),
                            IpAddr::V6(a) => neighbors6.insert(u128::from(a), mac.octets()),
                        };
                    }
                }
                NetworkEntry {
                    name: n.name.clone(),
                    vlan: n.vlan,
                    mtu: n.mtu,
                    l3: n.l3.is_some(),
                    vrf: n.l3.as_ref().map_or(0, |l| l.vrf),
                    ports: n.ports.clone().into_boxed_slice(),
                    neighbors4,
                    neighbors6,
                }
            })
            .collect();

        let mut adjacencies = Vec::new();
        let mut shared: FxHashMap<(AdjKind, NetworkId, [u8; 6]), u32> = FxHashMap::default();
        let mut vrfs = Vec::with_capacity(r.vrfs.len());
        for v in &r.vrfs {
            let v4_routes = v
                .routes
                .iter()
                .filter(|r| matches!(r.prefix, IpNet::V4(_)))
                .count();
            let mut t = VrfTables {
                name: v.name.clone(),
                fib4: if v4_routes >= LARGE_FIB4_ROUTES {
                    Fib4::new_large()
                } else {
                    Fib4::new()
                },
                fib6: Fib6::new(),
            };
            for route in &v.routes {
                let (kind, net, mac) = match route.target {
                    RouteTarget::Local(n) => (AdjKind::Local, n, [0; 6]),
                    RouteTarget::Attached(n) => (AdjKind::Attached, n, [0; 6]),
                    RouteTarget::Via(nh, n) => {
                        let ne = &networks[n as usize];
                        let mac = match nh {
                            IpAddr::V4(a) => ne.neighbors4.get(&u32::from(a)),
                            IpAddr::V6(a) => ne.neighbors6.get(&u128::from(a)),
                        };
                        match mac {
                            Some(&m) => (AdjKind::ViaResolved, n, m),
                            None => (AdjKind::ViaUnresolved, n, [0; 6]),
                        }
                    }
                };
                // Routes with the same next hop share one adjacency (as VPP's
                // do): a million routes via one router stay one cache line.
                let idx = match shared.entry((kind, net, mac)) {
                    Entry::Occupied(e) => *e.get(),
                    Entry::Vacant(e) => {
                        let ne = &networks[net as usize];
                        let idx = u32::try_from(adjacencies.len())
                            .map_err(|_| TablesError::TooManyRoutes(adjacencies.len()))?;
                        adjacencies.push(Adjacency {
                            kind,
                            network: net,
                            port: ne.ports.first().copied().unwrap_or(NO_PORT),
                            mtu: ne.mtu,
                            mac,
                        });
                        *e.insert(idx)
                    }
                };
                let res = match route.prefix {
                    IpNet::V4(p) => t.fib4.insert(p, idx),
                    IpNet::V6(p) => t.fib6.insert(p, idx),
                };
                res.map_err(|source| TablesError::Fib {
                    vrf: v.name.clone(),
                    prefix: route.prefix,
                    source,
                })?;
            }
            // A snapshot is immutable: give back the growth slack.
            t.fib4.shrink_to_fit();
            t.fib6.shrink_to_fit();
            vrfs.push(t);
        }
        Ok(Self {
            ports,
            networks,
            vrfs,
            adjacencies,
        })
    }

    /// Memory of every VRF's FIBs (IPv4, IPv6).
    pub fn fib_memory(&self) -> (FibMemory, FibMemory) {
        (
            self.vrfs.iter().map(|v| v.fib4.memory_bytes()).sum(),
            self.vrfs.iter().map(|v| v.fib6.memory_bytes()).sum(),
        )
    }
}

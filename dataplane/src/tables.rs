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
use std::sync::Arc;

use cnfwd_config::{Attachment, NetworkId, PortId, Resolved, RouteTarget, SourceCheck};
use ipnet::IpNet;

use rustc_hash::FxHashMap;

use crate::csn::CsnTables;
use crate::fib::{Fib4, Fib6, FibError, FibMemory};

mod onlink;
pub use onlink::OnLink;

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
    /// The CSN allowlist could not be compiled.
    #[error("cloud_services_network allowlist: {0}")]
    Allowlist(#[from] crate::csn::allowlist::AllowlistError),
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
    /// The port's IPv6 link-local address (fe80::/64 + modified EUI-64 of
    /// its MAC), answered by ND and echo.
    pub link_local: u128,
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
    /// L3: IPv4 connected prefix (network address, host order; length) and
    /// cnfwd's gateway address on it.
    pub ipv4: Option<(u32, u8, u32)>,
    /// L3: IPv6 connected prefix (network address; length) and cnfwd's
    /// gateway address on it.
    pub ipv6: Option<(u128, u8, u128)>,
    /// L3: the directed broadcast address of the IPv4 connected prefix
    /// (host order; 0 when there is none: no prefix, or a /31 or /32).
    pub broadcast4: u32,
    /// L3: reverse-path filtering of packets arriving on the network.
    pub source_check: SourceCheck,
    /// L2: seconds a learned MAC lives after it was last seen.
    pub mac_age_s: u32,
    /// L2: configured MAC -> port entries (never learned over, never aged).
    pub static_macs: FxHashMap<[u8; 6], PortId>,
}

/// What a route resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdjKind {
    /// Addressed to cnfwd.
    Local,
    /// The directed broadcast address of a connected prefix: never
    /// forwarded (RFC 2644), never a valid source (RFC 1812 4.2.2.11).
    Broadcast,
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
    /// The egress port's MAC (the rewritten source), precomputed so the
    /// rewrite reads nothing but the adjacency (zero without a port).
    pub src_mac: [u8; 6],
    /// The egress tag's VID: the network's VLAN when the egress port is a
    /// trunk, `None` on an access port (precomputed like `src_mac`).
    pub out_vid: Option<u16>,
    /// Next-hop address ([`AdjKind::ViaResolved`], [`AdjKind::ViaUnresolved`];
    /// IPv4 as an IPv4-mapped address, see [`crate::slow::neighbor_key`]),
    /// looked up in the learned neighbours when it has no static entry.
    pub nh: u128,
}

/// One VRF's lookup tables.
#[derive(Debug, Default, Clone)]
pub struct VrfTables {
    /// Name, for stats.
    pub name: String,
    /// IPv4 LPM: value = adjacency index.
    pub fib4: Fib4,
    /// IPv6 LPM: value = adjacency index.
    pub fib6: Fib6,
    /// Which on-link sources pass the reverse-path check without a lookup.
    pub onlink: OnLink,
}

impl VrfTables {
    /// Inserts or replaces a route; the value it replaced, if any.
    fn insert(&mut self, prefix: IpNet, adj: u32) -> Result<Option<u32>, TablesError> {
        let res = match prefix {
            IpNet::V4(p) => self.fib4.insert(p, adj),
            IpNet::V6(p) => self.fib6.insert(p, adj),
        };
        res.map_err(|source| TablesError::Fib {
            vrf: self.name.clone(),
            prefix,
            source,
        })
    }
}

/// What an adjacency stands for; routes with the same key share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdjKey {
    /// Addressed to cnfwd on this network.
    Local(NetworkId),
    /// The directed broadcast of this network's IPv4 connected prefix.
    Broadcast(NetworkId),
    /// Destination on this network.
    Attached(NetworkId),
    /// Via this next hop on this network.
    Via(IpAddr, NetworkId),
}

impl From<RouteTarget> for AdjKey {
    fn from(t: RouteTarget) -> Self {
        match t {
            RouteTarget::Local(n) => AdjKey::Local(n),
            RouteTarget::Attached(n) => AdjKey::Attached(n),
            RouteTarget::Via(nh, n) => AdjKey::Via(nh, n),
        }
    }
}

/// One change to a VRF's routing table, applied with
/// [`Tables::with_changes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableChange {
    /// Add (or replace) the route for `prefix` in VRF `vrf`.
    AddRoute {
        /// VRF id.
        vrf: u16,
        /// The prefix.
        prefix: IpNet,
        /// Where it leads.
        target: RouteTarget,
    },
    /// Remove the route for exactly `prefix` from VRF `vrf`.
    RemoveRoute {
        /// VRF id.
        vrf: u16,
        /// The prefix.
        prefix: IpNet,
    },
    /// Add (or replace) a static neighbour on an L3 network.
    AddNeighbor {
        /// The network.
        network: NetworkId,
        /// Its address.
        ip: IpAddr,
        /// Its MAC.
        mac: [u8; 6],
    },
    /// Remove a static neighbour.
    RemoveNeighbor {
        /// The network.
        network: NetworkId,
        /// Its address.
        ip: IpAddr,
    },
}

/// Why a [`TableChange`] was refused; the snapshot is then unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// No VRF with that id.
    #[error("no VRF with id {0}")]
    NoVrf(u16),
    /// No network with that id, or it is not an L3 network.
    #[error("no L3 network with id {0}")]
    NoL3Network(NetworkId),
    /// Removing a route that is not there.
    #[error("VRF {vrf:?} has no route for {prefix}")]
    NoSuchRoute {
        /// VRF name.
        vrf: String,
        /// The prefix.
        prefix: IpNet,
    },
    /// Removing a neighbour that is not there.
    #[error("network {network:?} has no static neighbour {ip}")]
    NoSuchNeighbor {
        /// Network name.
        network: String,
        /// The address.
        ip: IpAddr,
    },
    /// The FIB refused the route, or adjacencies ran out.
    #[error(transparent)]
    Tables(#[from] TablesError),
}

/// A complete, immutable forwarding snapshot.
///
/// Parts are shared between snapshots ([`Arc`]) so that a change copies
/// only what it touches: a route change copies one VRF, a neighbour change
/// the network list and the adjacencies.
#[derive(Debug, Clone)]
pub struct Tables {
    /// Ports, by [`PortId`].
    pub ports: Arc<[PortEntry]>,
    /// Networks, by [`NetworkId`].
    pub networks: Arc<[NetworkEntry]>,
    /// VRFs, by VRF id.
    pub vrfs: Vec<Arc<VrfTables>>,
    /// Adjacencies, indexed by FIB values.
    pub adjacencies: Arc<[Adjacency]>,
    /// What each adjacency stands for (same index as `adjacencies`).
    pub adj_keys: Arc<[AdjKey]>,
    /// The CSN (network, VRF, compiled allowlist, settings), if configured.
    pub csn: Option<Arc<CsnTables>>,
    /// Set when the snapshot is published (1 for the first); 0 before.
    pub generation: u64,
    /// When it was published (`None` before).
    pub published: Option<std::time::Instant>,
    /// The slow path's settings (ARP/ND, resolution, ICMP limits).
    pub slow: Arc<cnfwd_config::SlowPathSettings>,
}

/// Resolves an adjacency key against the networks' neighbours, with the
/// egress rewrite (source MAC, tag) taken from `ports`.
fn resolve_adj(ports: &[PortEntry], networks: &[NetworkEntry], key: AdjKey) -> Adjacency {
    let (kind, net, mac, nh) = match key {
        AdjKey::Local(n) => (AdjKind::Local, n, [0; 6], 0),
        AdjKey::Broadcast(n) => (AdjKind::Broadcast, n, [0; 6], 0),
        AdjKey::Attached(n) => (AdjKind::Attached, n, [0; 6], 0),
        AdjKey::Via(nh, n) => match networks[n as usize].neighbor(nh) {
            Some(m) => (AdjKind::ViaResolved, n, m, crate::slow::ip_key(nh)),
            None => (AdjKind::ViaUnresolved, n, [0; 6], crate::slow::ip_key(nh)),
        },
    };
    let ne = &networks[net as usize];
    let port = ne.ports.first().copied().unwrap_or(NO_PORT);
    let out = ports.get(usize::from(port));
    Adjacency {
        kind,
        network: net,
        port,
        mtu: ne.mtu,
        mac,
        src_mac: out.map_or([0; 6], |p| p.mac),
        out_vid: out.and_then(|p| p.trunk.then_some(ne.vlan)),
        nh,
    }
}

/// Adjacency index for `key`, appending a new adjacency when none exists.
fn adjacency_index(
    ports: &[PortEntry],
    networks: &[NetworkEntry],
    adjacencies: &mut Vec<Adjacency>,
    keys: &mut Vec<AdjKey>,
    index: &mut FxHashMap<AdjKey, u32>,
    key: AdjKey,
) -> Result<u32, TablesError> {
    if let Some(&i) = index.get(&key) {
        return Ok(i);
    }
    let i = u32::try_from(adjacencies.len())
        .map_err(|_| TablesError::TooManyRoutes(adjacencies.len()))?;
    adjacencies.push(resolve_adj(ports, networks, key));
    keys.push(key);
    index.insert(key, i);
    Ok(i)
}

impl NetworkEntry {
    /// The static neighbour MAC of `ip`, if configured.
    pub fn neighbor(&self, ip: IpAddr) -> Option<[u8; 6]> {
        match ip {
            IpAddr::V4(a) => self.neighbors4.get(&u32::from(a)).copied(),
            IpAddr::V6(a) => self.neighbors6.get(&u128::from(a)).copied(),
        }
    }
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
                link_local: crate::slow::wire::link_local(mac),
            });
        }

        let networks: Vec<NetworkEntry> =
            r.networks
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
                        ipv4: n
                            .l3
                            .as_ref()
                            .and_then(|l| l.ipv4)
                            .map(|(p, gw)| (u32::from(p.network()), p.prefix_len(), u32::from(gw))),
                        ipv6: n.l3.as_ref().and_then(|l| l.ipv6).map(|(p, gw)| {
                            (u128::from(p.network()), p.prefix_len(), u128::from(gw))
                        }),
                        broadcast4: n
                            .l3
                            .as_ref()
                            .and_then(|l| l.ipv4)
                            .filter(|(p, _)| p.prefix_len() <= 30)
                            .map_or(0, |(p, _)| u32::from(p.broadcast())),
                        source_check: n.l3.as_ref().map_or(SourceCheck::Off, |l| l.source_check),
                        mac_age_s: n.mac_age_s,
                        static_macs: n
                            .static_macs
                            .iter()
                            .map(|&(mac, port)| (mac.octets(), port))
                            .collect(),
                    }
                })
                .collect();

        // Routes with the same next hop share one adjacency (as VPP's do):
        // a million routes via one router stay one cache line.
        let mut adjacencies = Vec::new();
        let mut adj_keys = Vec::new();
        let mut index = FxHashMap::default();
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
                onlink: OnLink::new(&networks, vrfs.len() as u16),
            };
            // The VRF's routes, then the directed broadcasts of its
            // connected prefixes, as Linux's local table has them: never
            // forwarded, never sources.
            let vrf_id = vrfs.len() as u16;
            let routes = v.routes.iter().map(|r| (r.prefix, AdjKey::from(r.target)));
            let broadcasts = networks
                .iter()
                .enumerate()
                .filter(|(_, ne)| ne.l3 && ne.vrf == vrf_id && ne.broadcast4 != 0)
                .map(|(n, ne)| {
                    let host = ipnet::Ipv4Net::from(std::net::Ipv4Addr::from(ne.broadcast4));
                    (IpNet::V4(host), AdjKey::Broadcast(n as NetworkId))
                });
            for (prefix, key) in routes.chain(broadcasts) {
                let idx = adjacency_index(
                    &ports,
                    &networks,
                    &mut adjacencies,
                    &mut adj_keys,
                    &mut index,
                    key,
                )?;
                if let Some(old) = t.insert(prefix, idx)? {
                    t.onlink.remove(&networks, prefix, adj_keys[old as usize]);
                }
                t.onlink.add(&networks, prefix, key);
            }
            // A snapshot is immutable: give back the growth slack.
            t.fib4.shrink_to_fit();
            t.fib6.shrink_to_fit();
            vrfs.push(Arc::new(t));
        }
        let csn = match &r.csn {
            Some(c) => {
                let vrf = networks.get(c.network as usize).map_or(0, |n| n.vrf);
                Some(Arc::new(CsnTables::new(
                    c.network,
                    vrf,
                    &c.allow,
                    c.settings.clone(),
                )?))
            }
            None => None,
        };
        Ok(Self {
            ports: ports.into(),
            networks: networks.into(),
            vrfs,
            adjacencies: adjacencies.into(),
            adj_keys: adj_keys.into(),
            csn,
            generation: 0,
            published: None,
            slow: Arc::new(r.slow_path.clone()),
        })
    }

    /// A new snapshot with `changes` applied in order, sharing every part
    /// they do not touch with `self`. All or nothing: on an error `self` is
    /// untouched and nothing is returned. A route to a next hop without a
    /// static neighbour is accepted (its packets count `neighbor_miss`
    /// until the neighbour is added).
    pub fn with_changes(&self, changes: &[TableChange]) -> Result<Self, ChangeError> {
        let mut vrfs = self.vrfs.clone();
        let mut networks: Option<Vec<NetworkEntry>> = None;
        let mut adjacencies = self.adjacencies.to_vec();
        let mut keys = self.adj_keys.to_vec();
        let mut index: Option<FxHashMap<AdjKey, u32>> = None;
        let mut touched_neighbors = false;
        for &change in changes {
            let nets: &[NetworkEntry] = networks.as_deref().unwrap_or(&self.networks);
            match change {
                TableChange::AddRoute {
                    vrf,
                    prefix,
                    target,
                } => {
                    let key = AdjKey::from(target);
                    let (AdjKey::Local(n)
                    | AdjKey::Broadcast(n)
                    | AdjKey::Attached(n)
                    | AdjKey::Via(_, n)) = key;
                    // A network of another VRF is an explicit leak, as in
                    // the configuration.
                    vrfs.get(vrf as usize).ok_or(ChangeError::NoVrf(vrf))?;
                    nets.get(n as usize)
                        .filter(|e| e.l3)
                        .ok_or(ChangeError::NoL3Network(n))?;
                    let index = index.get_or_insert_with(|| {
                        keys.iter()
                            .enumerate()
                            .map(|(i, k)| (*k, i as u32))
                            .collect()
                    });
                    let idx = adjacency_index(
                        &self.ports,
                        nets,
                        &mut adjacencies,
                        &mut keys,
                        index,
                        key,
                    )?;
                    let v = Arc::make_mut(&mut vrfs[vrf as usize]);
                    if let Some(old) = v.insert(prefix, idx)? {
                        v.onlink.remove(nets, prefix, keys[old as usize]);
                    }
                    v.onlink.add(nets, prefix, key);
                }
                TableChange::RemoveRoute { vrf, prefix } => {
                    let v = vrfs.get_mut(vrf as usize).ok_or(ChangeError::NoVrf(vrf))?;
                    let present = match prefix {
                        IpNet::V4(p) => v.fib4.get(p),
                        IpNet::V6(p) => v.fib6.get(p),
                    };
                    let Some(old) = present else {
                        return Err(ChangeError::NoSuchRoute {
                            vrf: v.name.clone(),
                            prefix,
                        });
                    };
                    let v = Arc::make_mut(v);
                    match prefix {
                        IpNet::V4(p) => v.fib4.remove(p),
                        IpNet::V6(p) => v.fib6.remove(p),
                    };
                    v.onlink.remove(nets, prefix, keys[old as usize]);
                }
                TableChange::AddNeighbor { network, ip, mac } => {
                    let nets = networks.get_or_insert_with(|| self.networks.to_vec());
                    let e = nets.get_mut(network as usize).filter(|e| e.l3);
                    let e = e.ok_or(ChangeError::NoL3Network(network))?;
                    match ip {
                        IpAddr::V4(a) => e.neighbors4.insert(u32::from(a), mac),
                        IpAddr::V6(a) => e.neighbors6.insert(u128::from(a), mac),
                    };
                    touched_neighbors = true;
                }
                TableChange::RemoveNeighbor { network, ip } => {
                    let nets = networks.get_or_insert_with(|| self.networks.to_vec());
                    let e = nets.get_mut(network as usize).filter(|e| e.l3);
                    let e = e.ok_or(ChangeError::NoL3Network(network))?;
                    let removed = match ip {
                        IpAddr::V4(a) => e.neighbors4.remove(&u32::from(a)),
                        IpAddr::V6(a) => e.neighbors6.remove(&u128::from(a)),
                    };
                    if removed.is_none() {
                        return Err(ChangeError::NoSuchNeighbor {
                            network: e.name.clone(),
                            ip,
                        });
                    }
                    touched_neighbors = true;
                }
            }
        }
        let networks: Arc<[NetworkEntry]> = match networks {
            Some(n) => n.into(),
            None => Arc::clone(&self.networks),
        };
        if touched_neighbors {
            // Next hops re-resolve in place: FIB values (indices) stay valid.
            for (a, k) in adjacencies.iter_mut().zip(&keys) {
                if matches!(k, AdjKey::Via(..)) {
                    *a = resolve_adj(&self.ports, &networks, *k);
                }
            }
        }
        Ok(Self {
            ports: Arc::clone(&self.ports),
            networks,
            vrfs,
            adjacencies: adjacencies.into(),
            adj_keys: keys.into(),
            csn: self.csn.clone(),
            generation: 0,
            published: None,
            slow: Arc::clone(&self.slow),
        })
    }

    /// A new snapshot with the CSN allowlist recompiled from `rules` (the
    /// resolved CSN's `allow`), sharing everything else with `self`. Errors
    /// when this snapshot has no CSN or the rules do not compile.
    pub fn with_csn_rules(
        &self,
        rules: &[cnfwd_config::egress::EgressRule],
    ) -> Result<Self, TablesError> {
        let mut next = self.clone();
        next.generation = 0;
        if let Some(c) = &self.csn {
            next.csn = Some(Arc::new(CsnTables::new(
                c.network,
                c.vrf,
                rules,
                c.settings.clone(),
            )?));
        }
        Ok(next)
    }

    /// Memory of every VRF's FIBs (IPv4, IPv6).
    pub fn fib_memory(&self) -> (FibMemory, FibMemory) {
        (
            self.vrfs.iter().map(|v| v.fib4.memory_bytes()).sum(),
            self.vrfs.iter().map(|v| v.fib6.memory_bytes()).sum(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Tables {
        let cfg = cnfwd_config::parse(
            r#"
[[l3_isolation_domains]]
name = "a"
[[l3_isolation_domains]]
name = "b"
[[l3_networks]]
name = "na"
vlan = 10
l3_isolation_domain = "a"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.0.0.0/24"
[[l3_networks]]
name = "nb"
vlan = 20
l3_isolation_domain = "b"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"
[[ports]]
name = "p"
backend = "pcap"
mac = "02:00:00:00:00:01"
mode = "trunk"
trunked_network = "t"
[[trunked_networks]]
name = "t"
vlans = [10, 20]
"#,
            "<test>",
        )
        .unwrap();
        Tables::build(&cnfwd_config::resolve(&cfg).unwrap(), &[]).unwrap()
    }

    fn adj4(t: &Tables, vrf: usize, ip: [u8; 4]) -> Option<Adjacency> {
        let v = t.vrfs[vrf].fib4.lookup(u32::from_be_bytes(ip));
        t.adjacencies.get(v as usize).copied()
    }

    #[test]
    fn route_changes_copy_only_the_vrf_they_touch() {
        let t = tables();
        let nh: IpAddr = "10.0.0.9".parse().unwrap();
        let prefix: IpNet = "192.0.2.0/24".parse().unwrap();
        let t2 = t
            .with_changes(&[TableChange::AddRoute {
                vrf: 0,
                prefix,
                target: RouteTarget::Via(nh, 0),
            }])
            .unwrap();
        assert!(
            adj4(&t, 0, [192, 0, 2, 1]).is_none(),
            "the old snapshot is untouched"
        );
        let a = adj4(&t2, 0, [192, 0, 2, 1]).unwrap();
        assert_eq!((a.kind, a.network), (AdjKind::ViaUnresolved, 0));
        assert!(Arc::ptr_eq(&t.vrfs[1], &t2.vrfs[1]), "VRF b shared");
        assert!(!Arc::ptr_eq(&t.vrfs[0], &t2.vrfs[0]));
        assert!(Arc::ptr_eq(&t.networks, &t2.networks));

        // A neighbour resolves the adjacency in place.
        let mac = [2, 0, 0, 0, 0, 9];
        let t3 = t2
            .with_changes(&[TableChange::AddNeighbor {
                network: 0,
                ip: nh,
                mac,
            }])
            .unwrap();
        let a = adj4(&t3, 0, [192, 0, 2, 1]).unwrap();
        assert_eq!((a.kind, a.mac), (AdjKind::ViaResolved, mac));
        let t4 = t3
            .with_changes(&[TableChange::RemoveNeighbor { network: 0, ip: nh }])
            .unwrap();
        assert_eq!(
            adj4(&t4, 0, [192, 0, 2, 1]).unwrap().kind,
            AdjKind::ViaUnresolved
        );

        let t5 = t4
            .with_changes(&[TableChange::RemoveRoute { vrf: 0, prefix }])
            .unwrap();
        assert!(adj4(&t5, 0, [192, 0, 2, 1]).is_none());
    }

    /// The reverse-path shortcut for on-link sources follows every change
    /// that could make a connected-prefix source resolve elsewhere, and
    /// agrees with a real lookup whenever it answers yes.
    #[test]
    fn on_link_shortcut_follows_route_changes() {
        let t = tables();
        let na = &t.networks[0];
        let host = u32::from_be_bytes([10, 0, 0, 200]);
        let passes = |t: &Tables| {
            let ok = t.vrfs[0].onlink.passes4(&t.networks[0], 0, host);
            if ok {
                assert_eq!(adj4(t, 0, [10, 0, 0, 200]).unwrap().network, 0);
            }
            ok
        };
        assert!(passes(&t));
        assert!(!t.vrfs[0]
            .onlink
            .passes4(na, 0, u32::from_be_bytes([10, 0, 1, 1])));
        let inner: IpNet = "10.0.0.128/25".parse().unwrap();
        let connected: IpNet = "10.0.0.0/24".parse().unwrap();
        let gw: IpNet = "10.0.0.1/32".parse().unwrap();
        let via = RouteTarget::Via("10.0.0.9".parse().unwrap(), 0);
        let add = |prefix, target| TableChange::AddRoute {
            vrf: 0,
            prefix,
            target,
        };
        let del = |prefix| TableChange::RemoveRoute { vrf: 0, prefix };
        // A more specific route inside the prefix, added then removed.
        let t2 = t.with_changes(&[add(inner, via)]).unwrap();
        assert!(!passes(&t2));
        assert!(passes(&t2.with_changes(&[del(inner)]).unwrap()));
        // Replacing the route twice counts once.
        let t3 = t2
            .with_changes(&[add(inner, via), add(inner, via)])
            .unwrap();
        assert!(passes(&t3.with_changes(&[del(inner)]).unwrap()));
        // The connected route replaced, removed, put back.
        let t4 = t.with_changes(&[add(connected, via)]).unwrap();
        assert!(!passes(&t4));
        let t5 = t.with_changes(&[del(connected)]).unwrap();
        assert!(!passes(&t5));
        let back = t5
            .with_changes(&[add(connected, RouteTarget::Attached(0))])
            .unwrap();
        assert!(passes(&back));
        // The gateway's own host route shadows nothing; the same prefix
        // via a next hop does.
        let t6 = t.with_changes(&[del(gw)]).unwrap();
        assert!(passes(&t6));
        assert!(passes(
            &t6.with_changes(&[add(gw, RouteTarget::Local(0))]).unwrap()
        ));
        assert!(!passes(&t.with_changes(&[add(gw, via)]).unwrap()));
        // Routes elsewhere or in the other VRF change nothing.
        let outside: IpNet = "10.0.1.0/24".parse().unwrap();
        assert!(passes(&t.with_changes(&[add(outside, via)]).unwrap()));
        let other = TableChange::AddRoute {
            vrf: 1,
            prefix: inner,
            target: RouteTarget::Attached(1),
        };
        assert!(passes(&t.with_changes(&[other]).unwrap()));
    }

    #[test]
    fn bad_changes_are_refused_whole() {
        let t = tables();
        let prefix: IpNet = "192.0.2.0/24".parse().unwrap();
        let good = TableChange::AddRoute {
            vrf: 0,
            prefix,
            target: RouteTarget::Attached(0),
        };
        let cases = [
            (
                TableChange::AddRoute {
                    vrf: 0,
                    prefix,
                    target: RouteTarget::Attached(5),
                },
                "no L3 network with id 5",
            ),
            (
                TableChange::AddRoute {
                    vrf: 7,
                    prefix,
                    target: RouteTarget::Attached(0),
                },
                "no VRF with id 7",
            ),
            (
                TableChange::RemoveRoute { vrf: 1, prefix },
                "VRF \"b\" has no route for 192.0.2.0/24",
            ),
            (
                TableChange::RemoveNeighbor {
                    network: 0,
                    ip: "10.0.0.5".parse().unwrap(),
                },
                "network \"na\" has no static neighbour 10.0.0.5",
            ),
            (
                TableChange::AddNeighbor {
                    network: 9,
                    ip: "10.0.0.5".parse().unwrap(),
                    mac: [0; 6],
                },
                "no L3 network with id 9",
            ),
        ];
        for (bad, msg) in cases {
            let e = t.with_changes(&[good, bad]).unwrap_err();
            assert_eq!(e.to_string(), msg);
        }
        assert!(adj4(&t, 0, [192, 0, 2, 1]).is_none());
    }
}

//! The passes over what ports carry: VRF (isolation domain) names, L2 and
//! L3 networks (L2 first, then L3: their index is their network id) and
//! trunked networks.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::{check_mtu, check_name, check_prefix, check_vlan, q, Errors};
use crate::model::{Config, IpAllocationType, L3Network};
use crate::resolved::{L3Info, NetworkId, ResolvedNetwork, VrfId};

/// The networks resolved so far, with their field paths and names.
pub(super) struct Networks<'c> {
    /// Every network, indexed by its id.
    pub(super) list: Vec<ResolvedNetwork>,
    /// Each network's field path (`l2_networks[i]`, `l3_networks[i]`).
    pub(super) paths: Vec<String>,
    /// Ids by name.
    pub(super) ids: HashMap<&'c str, NetworkId>,
}

/// The trunked networks: index by name, and each one's VLAN map.
pub(super) struct Trunks<'c> {
    /// Index by name.
    pub(super) ids: HashMap<&'c str, usize>,
    /// Each trunk's (VLAN, network) pairs, sorted.
    pub(super) maps: Vec<Vec<(u16, NetworkId)>>,
}

/// The isolation domains' names (checked, unique), giving each its VRF id.
pub(super) fn vrf_names<'c>(errs: &mut Errors, config: &'c Config) -> HashMap<&'c str, VrfId> {
    let mut vrf_ids: HashMap<&str, VrfId> = HashMap::new();
    for (i, d) in config.l3_isolation_domains.iter().enumerate() {
        check_name(errs, &format!("l3_isolation_domains[{i}].name"), &d.name);
        if vrf_ids.insert(&d.name, i as VrfId).is_some() {
            errs.push(
                format!("l3_isolation_domains[{i}].name"),
                q(&d.name),
                "duplicate isolation domain name",
            );
        }
    }
    vrf_ids
}

/// The L2 networks, then the L3 ones (their id is their place here).
pub(super) fn networks<'c>(
    errs: &mut Errors,
    config: &'c Config,
    vrf_ids: &HashMap<&str, VrfId>,
) -> Networks<'c> {
    let mut nets = Networks {
        list: Vec::new(),
        paths: Vec::new(),
        ids: HashMap::new(),
    };
    for (i, n) in config.l2_networks.iter().enumerate() {
        let path = format!("l2_networks[{i}]");
        let id = nets.add(errs, &path, &n.name, n.vlan, n.mtu, &n.interface_name);
        nets.list[id].mac_age_s = n.mac_age_s;
        if !(1..=1_000_000).contains(&n.mac_age_s) {
            errs.push(
                format!("{path}.mac_age_s"),
                n.mac_age_s.to_string(),
                "must be 1..=1000000 seconds".to_string(),
            );
        }
    }
    for (i, n) in config.l3_networks.iter().enumerate() {
        let path = format!("l3_networks[{i}]");
        let id = nets.add(errs, &path, &n.name, n.vlan, n.mtu, &n.interface_name);
        nets.list[id].l3 = Some(l3_info(errs, &path, n, vrf_ids));
    }
    nets
}

impl<'c> Networks<'c> {
    /// Checks what every network has (name, VLAN, MTU, a name no other
    /// network has) and adds it without L3 information; returns its id.
    fn add(
        &mut self,
        errs: &mut Errors,
        path: &str,
        name: &'c str,
        vlan: u32,
        mtu: u32,
        interface_name: &Option<String>,
    ) -> usize {
        check_name(errs, &format!("{path}.name"), name);
        let vlan = check_vlan(errs, &format!("{path}.vlan"), vlan);
        check_mtu(errs, &format!("{path}.mtu"), mtu);
        let id = self.list.len();
        if self.ids.insert(name, id as NetworkId).is_some() {
            errs.push(
                format!("{path}.name"),
                q(name),
                "duplicate network name (L2 and L3 networks share names)",
            );
        }
        self.list.push(ResolvedNetwork {
            name: name.to_string(),
            vlan,
            mtu,
            l3: None,
            ports: Vec::new(),
            interface_name: interface_name.clone(),
            mac_age_s: 0,
            static_macs: Vec::new(),
        });
        self.paths.push(path.to_string());
        id
    }
}

/// An L3 network's VRF, connected prefixes and gateways, and neighbours.
fn l3_info(errs: &mut Errors, path: &str, n: &L3Network, vrf_ids: &HashMap<&str, VrfId>) -> L3Info {
    let vrf = match vrf_ids.get(n.l3_isolation_domain.as_str()) {
        Some(&v) => v,
        None => {
            errs.push(
                format!("{path}.l3_isolation_domain"),
                q(&n.l3_isolation_domain),
                "no l3_isolation_domains entry has this name",
            );
            0
        }
    };
    let (want4, want6) = match n.ip_allocation_type {
        IpAllocationType::Ipv4 => (true, false),
        IpAllocationType::Ipv6 => (false, true),
        IpAllocationType::DualStack => (true, true),
    };
    let kind = format!("{:?}", n.ip_allocation_type)
        .replace("Ipv4", "IPV4")
        .replace("Ipv6", "IPV6");
    // IPv4 first, then IPv6.
    let [ipv4, ipv6] = [
        (
            "ipv4",
            want4,
            n.ipv4_connected_prefix.map(IpNet::V4),
            n.ipv4_gateway.map(IpAddr::V4),
        ),
        (
            "ipv6",
            want6,
            n.ipv6_connected_prefix.map(IpNet::V6),
            n.ipv6_gateway.map(IpAddr::V6),
        ),
    ]
    .map(|(fam, want, prefix, gw)| connected_prefix(errs, path, fam, &kind, want, prefix, gw));
    let ipv4 = ipv4.and_then(|c| match c {
        (IpNet::V4(p), IpAddr::V4(g)) => Some((p, g)),
        _ => None,
    });
    let ipv6 = ipv6.and_then(|c| match c {
        (IpNet::V6(p), IpAddr::V6(g)) => Some((p, g)),
        _ => None,
    });
    L3Info {
        vrf,
        ipv4,
        ipv6,
        neighbors: static_neighbors(errs, path, n, ipv4, ipv6),
        source_check: n.source_check,
    }
}

/// An L3 network's static neighbours: each of a family the network
/// carries, unique, not its gateway or directed broadcast, with a unicast
/// MAC.
fn static_neighbors(
    errs: &mut Errors,
    path: &str,
    n: &L3Network,
    ipv4: Option<(Ipv4Net, Ipv4Addr)>,
    ipv6: Option<(Ipv6Net, Ipv6Addr)>,
) -> Vec<(IpAddr, crate::MacAddr)> {
    let mut neighbors = Vec::new();
    let mut seen = HashSet::new();
    for (j, nb) in n.neighbors.iter().enumerate() {
        let npath = format!("{path}.neighbors[{j}].ip");
        // A neighbour may lie outside the connected prefix: a static route
        // naming only this network makes such destinations on-link.
        let has_family = match nb.ip {
            IpAddr::V4(_) => ipv4.is_some(),
            IpAddr::V6(_) => ipv6.is_some(),
        };
        if !has_family {
            errs.push(
                npath,
                nb.ip.to_string(),
                "the network has no connected prefix of this address family",
            );
        } else if !seen.insert(nb.ip) {
            errs.push(npath, nb.ip.to_string(), "duplicate neighbour address");
        } else if Some(nb.ip) == ipv4.map(|(_, g)| IpAddr::V4(g))
            || Some(nb.ip) == ipv6.map(|(_, g)| IpAddr::V6(g))
        {
            errs.push(
                npath,
                nb.ip.to_string(),
                "is the network's own gateway address",
            );
        } else if ipv4
            .is_some_and(|(p, _)| p.prefix_len() <= 30 && nb.ip == IpAddr::V4(p.broadcast()))
        {
            errs.push(
                npath,
                nb.ip.to_string(),
                "is the directed broadcast address of the network's connected prefix",
            );
        } else if nb.mac.is_multicast() {
            errs.push(
                format!("{path}.neighbors[{j}].mac"),
                nb.mac.to_string(),
                "a neighbour MAC must be unicast",
            );
        } else {
            neighbors.push((nb.ip, nb.mac));
        }
    }
    neighbors
}

/// The trunked networks: names, isolation domains, and each VLAN mapped to
/// the one network (in the listed domains) that has it.
pub(super) fn trunks<'c>(
    errs: &mut Errors,
    config: &'c Config,
    vrf_ids: &HashMap<&str, VrfId>,
    networks: &[ResolvedNetwork],
) -> Trunks<'c> {
    let mut trunk_ids: HashMap<&str, usize> = HashMap::new();
    let mut trunk_maps: Vec<Vec<(u16, NetworkId)>> = Vec::new();
    for (i, t) in config.trunked_networks.iter().enumerate() {
        let path = format!("trunked_networks[{i}]");
        check_name(errs, &format!("{path}.name"), &t.name);
        if trunk_ids.insert(&t.name, i).is_some() {
            errs.push(
                format!("{path}.name"),
                q(&t.name),
                "duplicate trunked network name",
            );
        }
        let mut domains = HashSet::new();
        for (j, d) in t.isolation_domains.iter().enumerate() {
            match vrf_ids.get(d.as_str()) {
                Some(&v) => {
                    domains.insert(v);
                }
                None => errs.push(
                    format!("{path}.isolation_domains[{j}]"),
                    q(d),
                    "no l3_isolation_domains entry has this name",
                ),
            }
        }
        if t.vlans.is_empty() {
            errs.push(
                format!("{path}.vlans"),
                "[]",
                "a trunked network carries at least one VLAN",
            );
        }
        let mut map = Vec::new();
        let mut seen = HashSet::new();
        for (j, &v) in t.vlans.iter().enumerate() {
            let vpath = format!("{path}.vlans[{j}]");
            let vlan = check_vlan(errs, &vpath, v);
            if vlan == 0 {
                continue;
            }
            if !seen.insert(vlan) {
                errs.push(vpath, v.to_string(), "VLAN used twice on the same trunk");
                continue;
            }
            let candidates: Vec<NetworkId> = networks
                .iter()
                .enumerate()
                .filter(|(_, n)| n.vlan == vlan)
                .filter(|(_, n)| match &n.l3 {
                    Some(l3) => domains.is_empty() || domains.contains(&l3.vrf),
                    None => true,
                })
                .map(|(k, _)| k as NetworkId)
                .collect();
            match candidates.as_slice() {
                [one] => map.push((vlan, *one)),
                [] => errs.push(
                    vpath,
                    v.to_string(),
                    "no L2 or L3 network (in the listed isolation_domains) has this VLAN",
                ),
                many => {
                    let names: Vec<&str> = many
                        .iter()
                        .map(|&k| networks[k as usize].name.as_str())
                        .collect();
                    errs.push(vpath, v.to_string(), format!("ambiguous: networks {names:?} all have this VLAN; list isolation_domains to choose"));
                }
            }
        }
        map.sort_unstable();
        trunk_maps.push(map);
    }
    Trunks {
        ids: trunk_ids,
        maps: trunk_maps,
    }
}

/// Checks one family's `{fam}_connected_prefix` and `{fam}_gateway` of an
/// L3 network against its `ip_allocation_type` (`want`), filling in the
/// default gateway (first host). Returns the prefix (host bits cleared) and
/// gateway when the family is carried.
fn connected_prefix(
    errs: &mut Errors,
    path: &str,
    fam: &str,
    kind: &str,
    want: bool,
    prefix: Option<IpNet>,
    gateway: Option<IpAddr>,
) -> Option<(IpNet, IpAddr)> {
    let pfield = format!("{path}.{fam}_connected_prefix");
    let gfield = format!("{path}.{fam}_gateway");
    match (want, prefix) {
        (true, None) => {
            errs.push(
                pfield,
                "(absent)",
                format!("required by ip_allocation_type = {kind}"),
            );
            None
        }
        (false, Some(p)) => {
            errs.push(
                pfield,
                p.to_string(),
                format!("not allowed with ip_allocation_type = {kind}"),
            );
            None
        }
        (false, None) => {
            if let Some(g) = gateway {
                errs.push(
                    gfield,
                    g.to_string(),
                    format!("given without {fam}_connected_prefix"),
                );
            }
            None
        }
        (true, Some(p)) => {
            check_prefix(errs, &pfield, p);
            let p = p.trunc();
            let gw = gateway.unwrap_or(match p {
                IpNet::V4(p) => IpAddr::V4(default_gw4(p)),
                IpNet::V6(p) => IpAddr::V6(default_gw6(p)),
            });
            if !p.contains(&gw) {
                errs.push(
                    gfield,
                    gw.to_string(),
                    format!("outside {fam}_connected_prefix {p}"),
                );
            } else if let (IpNet::V4(p4), IpAddr::V4(g4)) = (p, gw) {
                if p4.prefix_len() < 31 && (g4 == p4.network() || g4 == p4.broadcast()) {
                    errs.push(
                        gfield,
                        gw.to_string(),
                        format!("is the network or broadcast address of {p}"),
                    );
                }
            }
            Some((p, gw))
        }
    }
}

fn default_gw4(p: Ipv4Net) -> Ipv4Addr {
    if p.prefix_len() >= 31 {
        p.network()
    } else {
        Ipv4Addr::from(u32::from(p.network()) + 1)
    }
}

fn default_gw6(p: Ipv6Net) -> Ipv6Addr {
    if p.prefix_len() == 128 {
        p.network()
    } else {
        Ipv6Addr::from(u128::from(p.network()) + 1)
    }
}

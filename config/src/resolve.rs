//! Validation: checks every rule of the model and resolves names to indices.
//!
//! All violations are collected, not just the first, each naming the field
//! path and the value. A configuration that passes is a [`Resolved`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::attachment::Pod;
use crate::egress::{parse_endpoint, EgressRule};
use crate::error::FieldError;
use crate::model::{BackendKind, Config, DeviceSpec, IpAllocationType, PortMode};
use crate::resolved::*;

/// Smallest MTU the platform accepts.
pub const MTU_MIN: u32 = 64;
/// Largest MTU the platform accepts.
pub const MTU_MAX: u32 = 9200;
/// Largest burst a worker takes from a port.
pub const BURST_MAX: u32 = 256;

struct Errors(Vec<FieldError>);

impl Errors {
    fn push(
        &mut self,
        field: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.0.push(FieldError::new(field, value, reason));
    }
}

fn q(s: &str) -> String {
    format!("{s:?}")
}

/// Validates `config` and resolves it. On failure returns every violation.
/// Ports naming a network attachment or resource resolve in the process's
/// pod ([`crate::attachment::process_pod`], read when first needed).
pub fn resolve(config: &Config) -> Result<Resolved, Vec<FieldError>> {
    resolve_with(config, &|| crate::attachment::process_pod())
}

/// [`resolve`] in the pod given (tests, `generate-config`).
pub fn resolve_in(config: &Config, pod: &Pod) -> Result<Resolved, Vec<FieldError>> {
    resolve_with(config, &|| pod)
}

pub(crate) fn resolve_with<'p>(
    config: &Config,
    pod: &dyn Fn() -> &'p Pod,
) -> Result<Resolved, Vec<FieldError>> {
    let mut errs = Errors(Vec::new());

    let burst = config.engine.burst_size;
    if !(1..=BURST_MAX).contains(&burst) {
        errs.push(
            "engine.burst_size",
            burst.to_string(),
            format!("must be in 1..={BURST_MAX}"),
        );
    }

    let engine = resolve_engine(&mut errs, &config.engine);
    let ring = &config.af_packet;
    if ring.block_size < 4096 || !ring.block_size.is_multiple_of(4096) || ring.block_size > 1 << 26
    {
        errs.push(
            "af_packet.block_size",
            ring.block_size.to_string(),
            "must be a multiple of 4096 between 4096 and 64 MiB",
        );
    }
    if !(1..=65_536).contains(&ring.block_count) {
        errs.push(
            "af_packet.block_count",
            ring.block_count.to_string(),
            "must be in 1..=65536",
        );
    }
    if !(1..=1000).contains(&ring.block_timeout_ms) {
        errs.push(
            "af_packet.block_timeout_ms",
            ring.block_timeout_ms.to_string(),
            "must be in 1..=1000",
        );
    }

    if let Some(n) = config.dpdk.mbufs {
        if !(256..=1 << 24).contains(&n) {
            errs.push("dpdk.mbufs", n.to_string(), "must be in 256..=16777216");
        }
    }

    let control = &config.control;
    if control.enabled && !control.socket.starts_with('/') {
        errs.push(
            "control.socket",
            q(&control.socket),
            "must be an absolute path",
        );
    }
    if !(1..=1024).contains(&control.max_clients) {
        errs.push(
            "control.max_clients",
            control.max_clients.to_string(),
            "must be in 1..=1024",
        );
    }
    for (field, secs) in [
        (
            "control.client_idle_timeout_s",
            control.client_idle_timeout_s,
        ),
        (
            "control.client_stall_timeout_s",
            control.client_stall_timeout_s,
        ),
    ] {
        if secs > 86_400 {
            errs.push(
                field,
                secs.to_string(),
                "must be in 0..=86400 (seconds; 0: never)",
            );
        }
    }
    for (field, g) in [
        ("control.write_group", &control.write_group),
        ("control.read_group", &control.read_group),
    ] {
        if let Some(g) = g {
            if g.is_empty() || g.contains(['/', ':', ' ']) {
                errs.push(field, q(g), "must be a group name or a numeric gid");
            }
        }
    }
    if let Some(p) = &control.dpdk_telemetry_prefix {
        if p.is_empty() || p.contains('/') {
            errs.push(
                "control.dpdk_telemetry_prefix",
                q(p),
                "must be a DPDK file prefix (no '/')",
            );
        }
    }
    let metrics_listen = match &config.metrics.listen {
        None => None,
        Some(l) => match l.parse::<std::net::SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                errs.push(
                    "metrics.listen",
                    q(l),
                    "must be address:port, e.g. 127.0.0.1:9464",
                );
                None
            }
        },
    };

    // --- VRFs -------------------------------------------------------------
    let mut vrf_ids: HashMap<&str, VrfId> = HashMap::new();
    for (i, d) in config.l3_isolation_domains.iter().enumerate() {
        check_name(
            &mut errs,
            &format!("l3_isolation_domains[{i}].name"),
            &d.name,
        );
        if vrf_ids.insert(&d.name, i as VrfId).is_some() {
            errs.push(
                format!("l3_isolation_domains[{i}].name"),
                q(&d.name),
                "duplicate isolation domain name",
            );
        }
    }

    // --- networks (L2 first, then L3) --------------------------------------
    let mut networks: Vec<ResolvedNetwork> = Vec::new();
    let mut net_paths: Vec<String> = Vec::new();
    let mut net_ids: HashMap<&str, NetworkId> = HashMap::new();
    for (i, n) in config.l2_networks.iter().enumerate() {
        let path = format!("l2_networks[{i}]");
        check_name(&mut errs, &format!("{path}.name"), &n.name);
        let vlan = check_vlan(&mut errs, &format!("{path}.vlan"), n.vlan);
        check_mtu(&mut errs, &format!("{path}.mtu"), n.mtu);
        if net_ids
            .insert(&n.name, networks.len() as NetworkId)
            .is_some()
        {
            errs.push(
                format!("{path}.name"),
                q(&n.name),
                "duplicate network name (L2 and L3 networks share names)",
            );
        }
        networks.push(ResolvedNetwork {
            name: n.name.clone(),
            vlan,
            mtu: n.mtu,
            l3: None,
            ports: Vec::new(),
            interface_name: n.interface_name.clone(),
            mac_age_s: n.mac_age_s,
            static_macs: Vec::new(),
        });
        if !(1..=1_000_000).contains(&n.mac_age_s) {
            errs.push(
                format!("{path}.mac_age_s"),
                n.mac_age_s.to_string(),
                "must be 1..=1000000 seconds".to_string(),
            );
        }
        net_paths.push(path);
    }
    for (i, n) in config.l3_networks.iter().enumerate() {
        let path = format!("l3_networks[{i}]");
        check_name(&mut errs, &format!("{path}.name"), &n.name);
        let vlan = check_vlan(&mut errs, &format!("{path}.vlan"), n.vlan);
        check_mtu(&mut errs, &format!("{path}.mtu"), n.mtu);
        if net_ids
            .insert(&n.name, networks.len() as NetworkId)
            .is_some()
        {
            errs.push(
                format!("{path}.name"),
                q(&n.name),
                "duplicate network name (L2 and L3 networks share names)",
            );
        }
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
        let ipv4 = connected_prefix(
            &mut errs,
            &path,
            "ipv4",
            &kind,
            want4,
            n.ipv4_connected_prefix.map(IpNet::V4),
            n.ipv4_gateway.map(IpAddr::V4),
        )
        .and_then(|c| match c {
            (IpNet::V4(p), IpAddr::V4(g)) => Some((p, g)),
            _ => None,
        });
        let ipv6 = connected_prefix(
            &mut errs,
            &path,
            "ipv6",
            &kind,
            want6,
            n.ipv6_connected_prefix.map(IpNet::V6),
            n.ipv6_gateway.map(IpAddr::V6),
        )
        .and_then(|c| match c {
            (IpNet::V6(p), IpAddr::V6(g)) => Some((p, g)),
            _ => None,
        });
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
        networks.push(ResolvedNetwork {
            name: n.name.clone(),
            vlan,
            mtu: n.mtu,
            l3: Some(L3Info {
                vrf,
                ipv4,
                ipv6,
                neighbors,
                source_check: n.source_check,
            }),
            ports: Vec::new(),
            interface_name: n.interface_name.clone(),
            mac_age_s: 0,
            static_macs: Vec::new(),
        });
        net_paths.push(path);
    }

    // --- trunked networks -------------------------------------------------
    let mut trunk_ids: HashMap<&str, usize> = HashMap::new();
    let mut trunk_maps: Vec<Vec<(u16, NetworkId)>> = Vec::new();
    for (i, t) in config.trunked_networks.iter().enumerate() {
        let path = format!("trunked_networks[{i}]");
        check_name(&mut errs, &format!("{path}.name"), &t.name);
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
            let vlan = check_vlan(&mut errs, &vpath, v);
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

    // --- ports --------------------------------------------------------------
    let mut ports = Vec::new();
    let mut port_names = HashSet::new();
    let first_backend = config.ports.first().map(|p| p.backend);
    for (i, p) in config.ports.iter().enumerate() {
        let path = format!("ports[{i}]");
        check_name(&mut errs, &format!("{path}.name"), &p.name);
        if !port_names.insert(p.name.as_str()) {
            errs.push(format!("{path}.name"), q(&p.name), "duplicate port name");
        }
        if Some(p.backend) != first_backend {
            errs.push(
                format!("{path}.backend"),
                q(p.backend.as_str()),
                format!(
                    "all ports must use one backend (ports[0] uses {:?})",
                    first_backend.map(BackendKind::as_str).unwrap_or("")
                ),
            );
        }
        let (backend, found) = resolve_backend(&mut errs, &path, p, pod);
        let (found_mac, mut origin) = found.map_or((None, None), |f| (f.mac, Some(f.origin)));
        if let Some(o) = &mut origin {
            o.mac_from_pod = p.mac.is_none() && found_mac.is_some();
        }
        // Two ports on one device found in the pod (the same attachment, or
        // a resource index that an attachment's device has too).
        let name = backend_name(&backend);
        let twice = ports.iter().find(|q: &&ResolvedPort| {
            !name.is_empty()
                && backend_name(&q.backend) == name
                && (origin.is_some() || q.pod.is_some())
        });
        if let Some(other) = twice {
            let (field, value) = match (&origin, p.backend) {
                (Some(o), BackendKind::Dpdk) => ("device", o.spec.to_string()),
                (Some(o), _) => ("interface", o.spec.to_string()),
                (None, BackendKind::Dpdk) => ("device", q(name)),
                (None, _) => ("interface", q(name)),
            };
            errs.push(
                format!("{path}.{field}"),
                value,
                format!("resolves to {name}, which port {:?} uses too", other.name),
            );
        }
        if p.backend == BackendKind::Pcap && p.mac.is_none() {
            errs.push(
                format!("{path}.mac"),
                "(absent)",
                "pcap ports need a mac (there is no device to read it from)",
            );
        }
        if let Some(m) = p.mac {
            if m.is_multicast() {
                errs.push(
                    format!("{path}.mac"),
                    m.to_string(),
                    "a port MAC must be unicast",
                );
            }
        } else if let Some(m) = found_mac.filter(|m| m.is_multicast()) {
            errs.push(
                format!("{path}.mac"),
                "(absent)",
                format!("the attachment's MAC {m} in network-status is not unicast; set mac"),
            );
        }
        let attachment = match p.mode {
            PortMode::Access => {
                if let Some(t) = &p.trunked_network {
                    errs.push(
                        format!("{path}.trunked_network"),
                        q(t),
                        "only trunk ports carry a trunked network (mode = \"trunk\")",
                    );
                }
                match p.networks.as_slice() {
                    [one] => match net_ids.get(one.as_str()) {
                        Some(&id) => Some(Attachment::Access(id)),
                        None => {
                            errs.push(
                                format!("{path}.networks[0]"),
                                q(one),
                                "no L2 or L3 network has this name",
                            );
                            None
                        }
                    },
                    other => {
                        errs.push(
                            format!("{path}.networks"),
                            format!("{other:?}"),
                            format!(
                                "an access port carries exactly one network, got {}",
                                other.len()
                            ),
                        );
                        None
                    }
                }
            }
            PortMode::Trunk => {
                if !p.networks.is_empty() {
                    errs.push(
                        format!("{path}.networks"),
                        format!("{:?}", p.networks),
                        "a trunk port carries a trunked_network, not networks",
                    );
                }
                match &p.trunked_network {
                    None => {
                        errs.push(
                            format!("{path}.trunked_network"),
                            "(absent)",
                            "required for mode = \"trunk\"",
                        );
                        None
                    }
                    Some(t) => match trunk_ids.get(t.as_str()) {
                        Some(&k) => Some(Attachment::Trunk(trunk_maps[k].clone())),
                        None => {
                            errs.push(
                                format!("{path}.trunked_network"),
                                q(t),
                                "no trunked_networks entry has this name",
                            );
                            None
                        }
                    },
                }
            }
        };
        let Some(attachment) = attachment else {
            continue;
        };
        let attached: Vec<NetworkId> = match &attachment {
            Attachment::Access(n) => vec![*n],
            Attachment::Trunk(map) => map.iter().map(|&(_, n)| n).collect(),
        };
        let max_net_mtu = attached
            .iter()
            .map(|&n| networks[n as usize].mtu)
            .max()
            .unwrap_or(1500);
        let mtu = match p.mtu {
            Some(m) => {
                check_mtu(&mut errs, &format!("{path}.mtu"), m);
                if m < max_net_mtu {
                    errs.push(
                        format!("{path}.mtu"),
                        m.to_string(),
                        format!("smaller than the MTU {max_net_mtu} of a network it carries"),
                    );
                }
                m
            }
            None => max_net_mtu,
        };
        let id = ports.len() as PortId;
        for n in attached {
            networks[n as usize].ports.push(id);
        }
        ports.push(ResolvedPort {
            name: p.name.clone(),
            backend,
            mac: p.mac.or(found_mac),
            mtu,
            numa_node: p.numa_node,
            attachment,
            pod: origin,
        });
    }
    // Static MACs of L2 networks: each on a port that carries the network.
    for (i, n) in config.l2_networks.iter().enumerate() {
        for (j, sm) in n.static_macs.iter().enumerate() {
            let path = format!("l2_networks[{i}].static_macs[{j}]");
            let port = ports.iter().position(|p| p.name == sm.port);
            match port {
                Some(p) if networks[i].ports.contains(&(p as PortId)) => {
                    if sm.mac.octets()[0] & 1 != 0 {
                        errs.push(
                            format!("{path}.mac"),
                            sm.mac.to_string(),
                            "must be a unicast MAC".to_string(),
                        );
                    } else {
                        networks[i].static_macs.push((sm.mac, p as PortId));
                    }
                }
                Some(_) => errs.push(
                    format!("{path}.port"),
                    q(&sm.port),
                    format!("port does not carry network {:?}", n.name),
                ),
                None => errs.push(format!("{path}.port"), q(&sm.port), "no port has this name"),
            }
        }
    }
    for (n, path) in networks.iter().zip(&net_paths) {
        if n.l3.is_some() && n.ports.len() > 1 {
            let names: Vec<&str> = n
                .ports
                .iter()
                .map(|&p| ports[p as usize].name.as_str())
                .collect();
            errs.push(
                format!("{path}.name"),
                q(&n.name),
                format!("an L3 network is attached to at most one port, found {names:?}"),
            );
        }
    }

    // --- VRF routing tables ------------------------------------------------
    let mut vrfs: Vec<ResolvedVrf> = config
        .l3_isolation_domains
        .iter()
        .map(|d| ResolvedVrf {
            name: d.name.clone(),
            routes: Vec::new(),
        })
        .collect();
    // Connected prefixes and gateway addresses, per VRF, checked for overlap.
    let mut table: Vec<BTreeMap<IpNet, (Route, String)>> = vec![BTreeMap::new(); vrfs.len()];
    let mut connected: Vec<Vec<(IpNet, NetworkId)>> = vec![Vec::new(); vrfs.len()];
    for (id, (n, path)) in networks.iter().zip(&net_paths).enumerate() {
        let Some(l3) = &n.l3 else { continue };
        let id = id as NetworkId;
        let own = [
            l3.ipv4
                .map(|(p, g)| (IpNet::V4(p), IpNet::from(IpAddr::V4(g)), "ipv4")),
            l3.ipv6
                .map(|(p, g)| (IpNet::V6(p), IpNet::from(IpAddr::V6(g)), "ipv6")),
        ];
        let Some(t) = table.get_mut(l3.vrf as usize) else {
            continue;
        };
        for (prefix, gw, fam) in own.into_iter().flatten() {
            let field = format!("{path}.{fam}_connected_prefix");
            if let Some((_, other)) = t.values().find(|(r, _)| {
                !r.is_static
                    && overlaps(r.prefix, prefix)
                    && matches!(r.target, RouteTarget::Attached(_))
            }) {
                errs.push(
                    field,
                    prefix.to_string(),
                    format!("overlaps {other} in the same isolation domain"),
                );
                continue;
            }
            connected[l3.vrf as usize].push((prefix, id));
            t.insert(
                prefix,
                (
                    Route {
                        prefix,
                        target: RouteTarget::Attached(id),
                        is_static: false,
                    },
                    field.clone(),
                ),
            );
            t.insert(
                gw,
                (
                    Route {
                        prefix: gw,
                        target: RouteTarget::Local(id),
                        is_static: false,
                    },
                    format!("{path}.{fam}_gateway"),
                ),
            );
        }
    }
    for (v, d) in config.l3_isolation_domains.iter().enumerate() {
        for (j, r) in d.static_routes.iter().enumerate() {
            let path = format!("l3_isolation_domains[{v}].static_routes[{j}]");
            check_prefix(&mut errs, &format!("{path}.prefix"), r.prefix);
            let prefix = r.prefix.trunc();
            let net = match &r.network {
                None => None,
                Some(name) => match net_ids.get(name.as_str()) {
                    Some(&id) if networks[id as usize].l3.is_some() => Some(id),
                    Some(_) => {
                        errs.push(
                            format!("{path}.network"),
                            q(name),
                            "is an L2 network; routes lead to L3 networks",
                        );
                        continue;
                    }
                    None => {
                        errs.push(
                            format!("{path}.network"),
                            q(name),
                            "no L3 network has this name",
                        );
                        continue;
                    }
                },
            };
            let target = match (r.next_hop, net) {
                (None, None) => {
                    errs.push(
                        format!("{path}.prefix"),
                        prefix.to_string(),
                        "a static route needs next_hop, network, or both",
                    );
                    continue;
                }
                (Some(nh), _) if is_v4(nh) != is_v4_net(prefix) => {
                    errs.push(
                        format!("{path}.next_hop"),
                        nh.to_string(),
                        format!("address family differs from prefix {prefix}"),
                    );
                    continue;
                }
                (Some(nh), Some(id)) => {
                    if !network_holds(&networks[id as usize], nh) {
                        errs.push(
                            format!("{path}.next_hop"),
                            nh.to_string(),
                            format!(
                                "not inside a connected prefix of network {:?}",
                                networks[id as usize].name
                            ),
                        );
                        continue;
                    }
                    RouteTarget::Via(nh, id)
                }
                (Some(nh), None) => {
                    // Connected prefixes never overlap inside a VRF, so at most one holds it.
                    let holder = connected[v]
                        .iter()
                        .find(|(p, _)| p.contains(&nh))
                        .map(|&(_, id)| id);
                    match holder {
                        Some(id) => RouteTarget::Via(nh, id),
                        None => {
                            errs.push(
                                format!("{path}.next_hop"),
                                nh.to_string(),
                                format!(
                                    "not inside any connected prefix of isolation domain {:?}",
                                    d.name
                                ),
                            );
                            continue;
                        }
                    }
                }
                (None, Some(id)) => {
                    let fam_ok = match networks[id as usize].l3.as_ref() {
                        Some(l3) if is_v4_net(prefix) => l3.ipv4.is_some(),
                        Some(l3) => l3.ipv6.is_some(),
                        None => false,
                    };
                    if !fam_ok {
                        errs.push(
                            format!("{path}.network"),
                            q(&networks[id as usize].name),
                            format!("has no connected prefix of the family of {prefix}"),
                        );
                        continue;
                    }
                    RouteTarget::Attached(id)
                }
            };
            if let Some((_, other)) = table[v].get(&prefix) {
                errs.push(
                    format!("{path}.prefix"),
                    prefix.to_string(),
                    format!("already routed by {other}"),
                );
                continue;
            }
            table[v].insert(
                prefix,
                (
                    Route {
                        prefix,
                        target,
                        is_static: true,
                    },
                    path,
                ),
            );
        }
    }
    for (vrf, t) in vrfs.iter_mut().zip(table) {
        vrf.routes = t.into_values().map(|(r, _)| r).collect();
    }

    // --- CSN ----------------------------------------------------------------
    let csn = config.cloud_services_network.as_ref().and_then(|c| {
        let network = match net_ids.get(c.network.as_str()) {
            Some(&id) if networks[id as usize].l3.is_some() => id,
            Some(_) => {
                errs.push(
                    "cloud_services_network.network",
                    q(&c.network),
                    "the CSN must be an L3 network",
                );
                return None;
            }
            None => {
                errs.push(
                    "cloud_services_network.network",
                    q(&c.network),
                    "no L3 network has this name",
                );
                return None;
            }
        };
        let mut allow = Vec::new();
        let lists = [
            (
                "default_egress_endpoints",
                &c.default_egress_endpoints,
                c.enable_default_egress_endpoints,
            ),
            (
                "additional_egress_endpoints",
                &c.additional_egress_endpoints,
                true,
            ),
        ];
        for (list_name, list, enabled) in lists {
            for (i, cat) in list.iter().enumerate() {
                for (j, e) in cat.endpoints.iter().enumerate() {
                    match parse_endpoint(&e.domain_name, e.port) {
                        Ok((target, port)) if enabled => allow.push(EgressRule {
                            category: cat.category.clone(),
                            target,
                            port,
                        }),
                        Ok(_) => {}
                        Err(why) => errs.push(
                            format!("cloud_services_network.{list_name}[{i}].endpoints[{j}]"),
                            format!(
                                "{{ domain_name = {:?}, port = {:?} }}",
                                e.domain_name, e.port
                            ),
                            why,
                        ),
                    }
                }
            }
        }
        if let Err(e) = c.settings.validate() {
            let field = crate::csn::CsnSettings::field_of(&e);
            let value = toml::Value::try_from(&c.settings)
                .ok()
                .and_then(|v| v.get(field).map(|v| v.to_string()))
                .unwrap_or_default();
            errs.push(
                format!("cloud_services_network.settings.{field}"),
                value,
                e.to_string(),
            );
            return None;
        }
        Some(ResolvedCsn {
            network,
            allow,
            settings: c.settings.clone(),
        })
    });

    if let Err(e) = config.slow_path.validate() {
        let value = toml::Value::try_from(&config.slow_path)
            .ok()
            .and_then(|v| v.get(e.field).map(|v| v.to_string()))
            .unwrap_or_default();
        errs.push(format!("slow_path.{}", e.field), value, e.why.to_string());
    }

    if errs.0.is_empty() {
        Ok(Resolved {
            burst_size: burst as usize,
            ports,
            networks,
            vrfs,
            csn,
            dpdk_eal_args: config.dpdk.eal_args.clone(),
            dpdk_mbufs: config.dpdk.mbufs,
            engine,
            af_packet: config.af_packet.clone(),
            control: config.control.clone(),
            metrics_listen,
            slow_path: config.slow_path.clone(),
        })
    } else {
        Err(errs.0)
    }
}

/// Most worker threads one cnfwd runs.
const WORKERS_MAX: u32 = 128;

fn resolve_engine(errs: &mut Errors, e: &crate::model::Engine) -> ResolvedEngine {
    let workers = match (e.workers, e.cores.len()) {
        (Some(w), n) if n > 0 && w as usize != n => {
            errs.push(
                "engine.workers",
                w.to_string(),
                format!("engine.cores lists {n} cores: one worker runs on each, so workers must be {n} (or left out)"),
            );
            n
        }
        (Some(w), _) => {
            if !(1..=WORKERS_MAX).contains(&w) {
                errs.push(
                    "engine.workers",
                    w.to_string(),
                    format!("must be in 1..={WORKERS_MAX}"),
                );
            }
            w as usize
        }
        (None, 0) => 1,
        (None, n) => n,
    };
    let mut seen = HashSet::new();
    for (i, c) in e.cores.iter().enumerate() {
        if !seen.insert(c) {
            errs.push(
                format!("engine.cores[{i}]"),
                c.to_string(),
                "listed twice: two workers on one core would take turns",
            );
        }
    }
    let idle = match e.idle {
        crate::model::IdleMode::Busy => ResolvedIdle::Busy,
        crate::model::IdleMode::Adaptive => {
            if e.idle_empty_polls == 0 {
                errs.push("engine.idle_empty_polls", "0", "must be at least 1");
            }
            if !(1..=100_000).contains(&e.idle_sleep_us) {
                errs.push(
                    "engine.idle_sleep_us",
                    e.idle_sleep_us.to_string(),
                    "must be in 1..=100000",
                );
            }
            ResolvedIdle::Adaptive {
                empty_polls: e.idle_empty_polls,
                sleep_us: e.idle_sleep_us,
            }
        }
    };
    // Above the longest adaptive sleep (100 ms) with room to spare, so a
    // sleeping worker never looks stalled.
    if !(200..=3_600_000).contains(&e.stall_timeout_ms) {
        errs.push(
            "engine.stall_timeout_ms",
            e.stall_timeout_ms.to_string(),
            "must be in 200..=3600000",
        );
    }
    ResolvedEngine {
        workers,
        cores: e.cores.clone(),
        idle,
        stall_timeout_ms: e.stall_timeout_ms,
    }
}

/// The device or interface a backend names (empty for pcap).
fn backend_name(b: &PortBackend) -> &str {
    match b {
        PortBackend::Pcap { .. } => "",
        PortBackend::AfPacket { interface } => interface,
        PortBackend::Dpdk { device } => device,
    }
}

/// A port's backend settings; for a `device`/`interface` naming the pod's
/// attachment or resource, also what it resolved to.
fn resolve_backend<'p>(
    errs: &mut Errors,
    path: &str,
    p: &crate::model::Port,
    pod: &dyn Fn() -> &'p Pod,
) -> (PortBackend, Option<crate::attachment::Found>) {
    let mut not_for = |field: &str, v: Option<String>, kind: &str| {
        if let Some(v) = v {
            errs.push(
                format!("{path}.{field}"),
                v,
                format!("only for backend = {kind:?}"),
            );
        }
    };
    let shown = |d: &Option<DeviceSpec>| {
        d.as_ref().map(|d| match d {
            DeviceSpec::Name(n) => q(n),
            DeviceSpec::Pod(r) => r.to_string(),
        })
    };
    match p.backend {
        BackendKind::Pcap => {
            not_for("interface", shown(&p.interface), "af_packet");
            not_for("device", shown(&p.device), "dpdk");
            (
                PortBackend::Pcap {
                    rx: p.rx_pcap.clone(),
                    tx: p.tx_pcap.clone(),
                },
                None,
            )
        }
        BackendKind::AfPacket => {
            not_for("rx_pcap", p.rx_pcap.as_deref().map(q), "pcap");
            not_for("tx_pcap", p.tx_pcap.as_deref().map(q), "pcap");
            not_for("device", shown(&p.device), "dpdk");
            let field = format!("{path}.interface");
            let (interface, found) = match &p.interface {
                Some(DeviceSpec::Pod(r)) => match pod().interface(r) {
                    Ok(f) => (f.name.clone(), Some(f)),
                    Err(why) => {
                        errs.push(field, r.to_string(), why);
                        return (
                            PortBackend::AfPacket {
                                interface: String::new(),
                            },
                            None,
                        );
                    }
                },
                Some(DeviceSpec::Name(n)) => (n.clone(), None),
                None => (String::new(), None),
            };
            if interface.is_empty() || interface.len() > 15 || interface.contains(['/', ' ']) {
                let why = "backend af_packet needs a Linux interface name (1..=15 characters, no '/' or space)";
                match &found {
                    Some(f) => errs.push(
                        field,
                        f.origin.spec.to_string(),
                        format!("resolves to {interface:?}: {why}"),
                    ),
                    None => errs.push(field, q(&interface), why),
                }
            }
            (PortBackend::AfPacket { interface }, found)
        }
        BackendKind::Dpdk => {
            not_for("rx_pcap", p.rx_pcap.as_deref().map(q), "pcap");
            not_for("tx_pcap", p.tx_pcap.as_deref().map(q), "pcap");
            not_for("interface", shown(&p.interface), "af_packet");
            let (device, found) = match &p.device {
                Some(DeviceSpec::Pod(r)) => match pod().pci_device(r) {
                    Ok(f) => (f.name.clone(), Some(f)),
                    Err(why) => {
                        errs.push(format!("{path}.device"), r.to_string(), why);
                        return (
                            PortBackend::Dpdk {
                                device: String::new(),
                            },
                            None,
                        );
                    }
                },
                Some(DeviceSpec::Name(n)) => (n.clone(), None),
                None => (String::new(), None),
            };
            if device.is_empty() {
                errs.push(
                    format!("{path}.device"),
                    "(absent)",
                    "backend dpdk needs a PCI address or vdev string, or { network_attachment = \"namespace/name\" }",
                );
            }
            (PortBackend::Dpdk { device }, found)
        }
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

fn check_name(errs: &mut Errors, field: &str, name: &str) {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !ok {
        errs.push(
            field,
            q(name),
            "names are 1..=64 characters of letters, digits, '-', '_' and '.'",
        );
    }
}

fn check_vlan(errs: &mut Errors, field: &str, vlan: u32) -> u16 {
    if (1..=4094).contains(&vlan) {
        vlan as u16
    } else {
        errs.push(field, vlan.to_string(), "VLAN id must be in 1..=4094");
        0
    }
}

fn check_mtu(errs: &mut Errors, field: &str, mtu: u32) {
    if !(MTU_MIN..=MTU_MAX).contains(&mtu) {
        errs.push(
            field,
            mtu.to_string(),
            format!("MTU must be in {MTU_MIN}..={MTU_MAX}"),
        );
    }
}

fn check_prefix(errs: &mut Errors, field: &str, p: IpNet) {
    if p.trunc() != p {
        errs.push(
            field,
            p.to_string(),
            format!("host bits set; did you mean {}?", p.trunc()),
        );
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

fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b) || b.contains(&a)
}

fn is_v4(a: IpAddr) -> bool {
    a.is_ipv4()
}

fn is_v4_net(p: IpNet) -> bool {
    matches!(p, IpNet::V4(_))
}

fn network_holds(n: &ResolvedNetwork, a: IpAddr) -> bool {
    match (&n.l3, a) {
        (Some(l3), IpAddr::V4(a)) => l3.ipv4.is_some_and(|(p, _)| p.contains(&a)),
        (Some(l3), IpAddr::V6(a)) => l3.ipv6.is_some_and(|(p, _)| p.contains(&a)),
        (None, _) => false,
    }
}

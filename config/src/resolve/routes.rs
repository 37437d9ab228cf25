//! The pass that builds each VRF's routing table: the connected prefixes
//! and gateway addresses of its L3 networks (checked for overlap), then its
//! static routes (each checked against them).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::networks::Networks;
use super::{check_prefix, q, Errors};
use crate::model::{Config, L3IsolationDomain, StaticRoute};
use crate::resolved::{NetworkId, ResolvedNetwork, ResolvedVrf, Route, RouteTarget};

/// One VRF's routes by prefix, each with the field that made it.
type Table = BTreeMap<IpNet, (Route, String)>;

/// Every isolation domain's VRF with its routes.
pub(super) fn vrfs(errs: &mut Errors, config: &Config, nets: &Networks<'_>) -> Vec<ResolvedVrf> {
    let mut vrfs: Vec<ResolvedVrf> = config
        .l3_isolation_domains
        .iter()
        .map(|d| ResolvedVrf {
            name: d.name.clone(),
            routes: Vec::new(),
        })
        .collect();
    // Connected prefixes and gateway addresses, per VRF, checked for overlap.
    let mut table: Vec<Table> = vec![BTreeMap::new(); vrfs.len()];
    let connected = connected_routes(errs, nets, &mut table);
    for (v, d) in config.l3_isolation_domains.iter().enumerate() {
        for (j, r) in d.static_routes.iter().enumerate() {
            let path = format!("l3_isolation_domains[{v}].static_routes[{j}]");
            check_prefix(errs, &format!("{path}.prefix"), r.prefix);
            let prefix = r.prefix.trunc();
            let Some(target) = static_target(errs, &path, d, r, nets, &connected[v]) else {
                continue;
            };
            if let Some((_, other)) = table[v].get(&prefix) {
                errs.push(
                    format!("{path}.prefix"),
                    prefix.to_string(),
                    format!("already routed by {other}"),
                );
                continue;
            }
            insert(&mut table[v], prefix, target, true, path);
        }
    }
    for (vrf, t) in vrfs.iter_mut().zip(table) {
        vrf.routes = t.into_values().map(|(r, _)| r).collect();
    }
    vrfs
}

/// Each VRF's connected prefixes and gateway addresses into its table;
/// returns each VRF's connected prefixes with their network.
fn connected_routes(
    errs: &mut Errors,
    nets: &Networks<'_>,
    table: &mut [Table],
) -> Vec<Vec<(IpNet, NetworkId)>> {
    let mut connected: Vec<Vec<(IpNet, NetworkId)>> = vec![Vec::new(); table.len()];
    for (id, (n, path)) in nets.list.iter().zip(&nets.paths).enumerate() {
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
            insert(t, prefix, RouteTarget::Attached(id), false, field);
            insert(
                t,
                gw,
                RouteTarget::Local(id),
                false,
                format!("{path}.{fam}_gateway"),
            );
        }
    }
    connected
}

/// Where the static route `r` of VRF `d` at `path` leads (`prefix` is its
/// prefix with host bits cleared; `connected`: the VRF's connected
/// prefixes); `None` with its error pushed when it leads nowhere valid.
fn static_target(
    errs: &mut Errors,
    path: &str,
    d: &L3IsolationDomain,
    r: &StaticRoute,
    nets: &Networks<'_>,
    connected: &[(IpNet, NetworkId)],
) -> Option<RouteTarget> {
    let prefix = r.prefix.trunc();
    let net = match &r.network {
        None => None,
        Some(name) => match nets.ids.get(name.as_str()) {
            Some(&id) if nets.list[id as usize].l3.is_some() => Some(id),
            Some(_) => {
                errs.push(
                    format!("{path}.network"),
                    q(name),
                    "is an L2 network; routes lead to L3 networks",
                );
                return None;
            }
            None => {
                errs.push(
                    format!("{path}.network"),
                    q(name),
                    "no L3 network has this name",
                );
                return None;
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
            return None;
        }
        (Some(nh), _) if is_v4(nh) != is_v4_net(prefix) => {
            errs.push(
                format!("{path}.next_hop"),
                nh.to_string(),
                format!("address family differs from prefix {prefix}"),
            );
            return None;
        }
        (Some(nh), Some(id)) => {
            if !network_holds(&nets.list[id as usize], nh) {
                errs.push(
                    format!("{path}.next_hop"),
                    nh.to_string(),
                    format!(
                        "not inside a connected prefix of network {:?}",
                        nets.list[id as usize].name
                    ),
                );
                return None;
            }
            RouteTarget::Via(nh, id)
        }
        (Some(nh), None) => {
            // Connected prefixes never overlap inside a VRF, so at most one holds it.
            let holder = connected
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
                    return None;
                }
            }
        }
        (None, Some(id)) => {
            let fam_ok = match nets.list[id as usize].l3.as_ref() {
                Some(l3) if is_v4_net(prefix) => l3.ipv4.is_some(),
                Some(l3) => l3.ipv6.is_some(),
                None => false,
            };
            if !fam_ok {
                errs.push(
                    format!("{path}.network"),
                    q(&nets.list[id as usize].name),
                    format!("has no connected prefix of the family of {prefix}"),
                );
                return None;
            }
            RouteTarget::Attached(id)
        }
    };
    Some(target)
}

/// Adds a route made by `field` to `t`.
fn insert(t: &mut Table, prefix: IpNet, target: RouteTarget, is_static: bool, field: String) {
    t.insert(
        prefix,
        (
            Route {
                prefix,
                target,
                is_static,
            },
            field,
        ),
    );
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

//! Routes: the paged `/routes` listing, `/route/add` and `/route/del`.

use std::net::IpAddr;

use cnfwd_config::model::StaticRoute;
use cnfwd_config::RouteTarget;
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{fail, net_name, Command, Commands};
use crate::control::telemetry::CommandError;
use crate::tables::{AdjKey, TableChange, Tables};

/// Most routes one `/routes` reply lists (the largest `limit`).
pub const MAX_ROUTES_LISTED: usize = 10_000;
/// Routes per `/routes` reply when no `limit` is given (about 120 KB of
/// JSON, within any client's `max_output_len`).
pub const DEFAULT_ROUTES_PAGE: usize = 1_000;
/// A `/routes` page ends early, before `limit`, once its routes take this
/// many bytes of JSON (half the default `max_output_len`); `next_offset`
/// says where the next one starts.
pub const ROUTES_PAGE_BYTES: usize = 512 * 1024;

/// This area's commands, each with its handler.
pub(super) const COMMANDS: &[Command] = &[
    Command::read(
        "/routes",
        "Routes, a page at a time. Params (optional): {\"vrf\": NAME, \"prefix\": CIDR (routes inside it), \"offset\": N, \"limit\": N (default 1000, at most 10000; a page ends early at 512 KiB)}. Reply: {\"total\", \"offset\", \"next_offset\" (null on the last page), \"routes\": [{vrf, prefix, kind, next_hop, network, origin: config|socket}]}.",
        |c, p, _| c.routes(p.parse_or_default()?),
    ),
    Command::write(
        "/route/add",
        "Add a route. Params: {\"vrf\": NAME, \"prefix\": CIDR, \"next_hop\": IP and/or \"network\": NAME}.",
        |c, p, _| c.route_add(p.parse()?),
    ),
    Command::write(
        "/route/del",
        "Remove a static route. Params: {\"vrf\": NAME, \"prefix\": CIDR}.",
        |c, p, _| c.route_del(p.parse()?),
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteParams {
    vrf: String,
    prefix: IpNet,
    #[serde(default)]
    next_hop: Option<IpAddr>,
    #[serde(default)]
    network: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RouteFilter {
    #[serde(default)]
    vrf: Option<String>,
    #[serde(default)]
    prefix: Option<IpNet>,
    #[serde(default)]
    offset: usize,
    #[serde(default)]
    limit: Option<usize>,
}

impl Commands<'_> {
    fn vrf_id(&self, t: &Tables, name: &str) -> Result<u16, CommandError> {
        t.vrfs
            .iter()
            .position(|v| v.name == name)
            .map(|i| i as u16)
            .ok_or_else(|| fail(format!("vrf {name:?}: no such L3 isolation domain")))
    }

    fn routes(&self, f: RouteFilter) -> Result<Value, CommandError> {
        let t = self.snapshots.current();
        let vrfs: Vec<u16> = match &f.vrf {
            Some(name) => vec![self.vrf_id(&t, name)?],
            None => (0..t.vrfs.len() as u16).collect(),
        };
        let limit = f.limit.unwrap_or(DEFAULT_ROUTES_PAGE);
        if limit == 0 || limit > MAX_ROUTES_LISTED {
            return Err(fail(format!(
                "limit {limit}: must be in 1..={MAX_ROUTES_LISTED}"
            )));
        }
        let end = f.offset.saturating_add(limit);
        let mut rows = Vec::new();
        let mut total = 0usize;
        let (mut bytes, mut full) = (0usize, false);
        let describe = |adj: u32| -> (String, Option<String>, Option<&str>) {
            match t.adj_keys.get(adj as usize) {
                Some(AdjKey::Local(n)) => ("local".into(), None, net_name(&t, *n)),
                Some(AdjKey::Broadcast(n)) => ("broadcast".into(), None, net_name(&t, *n)),
                Some(AdjKey::Attached(n)) => ("attached".into(), None, net_name(&t, *n)),
                Some(AdjKey::Via(nh, n)) => {
                    let resolved =
                        t.adjacencies[adj as usize].kind == crate::tables::AdjKind::ViaResolved;
                    (
                        if resolved {
                            "via"
                        } else {
                            "via (no neighbour)"
                        }
                        .into(),
                        Some(nh.to_string()),
                        net_name(&t, *n),
                    )
                }
                None => ("?".into(), None, None),
            }
        };
        let socket = &self.state.socket_routes;
        for v in vrfs {
            let vrf = &t.vrfs[v as usize];
            let v4 = vrf.fib4.iter().map(|(p, a)| (IpNet::V4(p), a));
            let v6 = vrf.fib6.iter().map(|(p, a)| (IpNet::V6(p), a));
            for (prefix, adj) in v4.chain(v6) {
                if let Some(within) = f.prefix {
                    if !within.contains(&prefix) {
                        continue;
                    }
                }
                total += 1;
                if total <= f.offset || total > end || full {
                    continue;
                }
                let (kind, nh, net) = describe(adj);
                let origin = if !socket.is_empty() && socket.contains(&(vrf.name.clone(), prefix)) {
                    "socket"
                } else {
                    "config"
                };
                let row = json!({
                    "vrf": vrf.name,
                    "prefix": prefix.to_string(),
                    "kind": kind,
                    "next_hop": nh,
                    "network": net,
                    "origin": origin,
                });
                // The row's JSON and its comma.
                bytes += serde_json::to_string(&row).map_or(0, |t| t.len()) + 1;
                if bytes > ROUTES_PAGE_BYTES && !rows.is_empty() {
                    full = true;
                    continue;
                }
                rows.push(row);
            }
        }
        let next = f.offset.saturating_add(rows.len());
        Ok(json!({
            "total": total,
            "offset": f.offset,
            "next_offset": if next < total { Some(next) } else { None },
            "routes": rows,
        }))
    }

    fn route_add(&mut self, p: RouteParams) -> Result<Value, CommandError> {
        let t = self.snapshots.current();
        let vrf = self.vrf_id(&t, &p.vrf)?;
        if p.prefix != p.prefix.trunc() {
            return Err(fail(format!(
                "prefix {}: host bits set (did you mean {}?)",
                p.prefix,
                p.prefix.trunc()
            )));
        }
        let existing = match p.prefix {
            IpNet::V4(x) => t.vrfs[vrf as usize].fib4.get(x),
            IpNet::V6(x) => t.vrfs[vrf as usize].fib6.get(x),
        };
        if existing.is_some() {
            return Err(fail(format!(
                "prefix {}: VRF {:?} already has a route for it (remove it first)",
                p.prefix, p.vrf
            )));
        }
        let target = self
            .state
            .resolved
            .route_target(vrf, p.prefix, p.next_hop, p.network.as_deref())
            .map_err(fail)?;
        let generation = self.publish(&[TableChange::AddRoute {
            vrf,
            prefix: p.prefix,
            target,
        }])?;
        self.state.config.l3_isolation_domains[vrf as usize]
            .static_routes
            .push(StaticRoute {
                prefix: p.prefix,
                next_hop: p.next_hop,
                network: p.network.clone(),
            });
        self.state.socket_routes.insert((p.vrf.clone(), p.prefix));
        Ok(json!({
            "added": p.prefix.to_string(),
            "vrf": p.vrf,
            "target": target_text(&t, target),
            "snapshot": generation,
        }))
    }

    fn route_del(&mut self, p: RouteParams) -> Result<Value, CommandError> {
        let t = self.snapshots.current();
        let vrf = self.vrf_id(&t, &p.vrf)?;
        let routes = &mut self.state.config.l3_isolation_domains[vrf as usize].static_routes;
        let Some(i) = routes.iter().position(|r| r.prefix.trunc() == p.prefix) else {
            let connected = self.state.resolved.vrfs[vrf as usize]
                .routes
                .iter()
                .any(|r| r.prefix == p.prefix && !r.is_static);
            return Err(fail(if connected {
                format!(
                    "prefix {}: a connected or gateway route of VRF {:?}; change its network instead",
                    p.prefix, p.vrf
                )
            } else {
                format!(
                    "prefix {}: VRF {:?} has no static route for it",
                    p.prefix, p.vrf
                )
            }));
        };
        let generation = self.publish(&[TableChange::RemoveRoute {
            vrf,
            prefix: p.prefix,
        }])?;
        self.state.config.l3_isolation_domains[vrf as usize]
            .static_routes
            .remove(i);
        self.state.socket_routes.remove(&(p.vrf.clone(), p.prefix));
        Ok(json!({"removed": p.prefix.to_string(), "vrf": p.vrf, "snapshot": generation}))
    }
}

fn target_text(t: &Tables, target: RouteTarget) -> String {
    match target {
        RouteTarget::Local(n) => format!("local on {}", net_name(t, n).unwrap_or("?")),
        RouteTarget::Attached(n) => format!("attached to {}", net_name(t, n).unwrap_or("?")),
        RouteTarget::Via(nh, n) => format!("via {nh} on {}", net_name(t, n).unwrap_or("?")),
    }
}

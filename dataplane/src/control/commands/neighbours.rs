//! Neighbours: static and learned (`/neighbors`), `/neighbor/add` and
//! `/neighbor/del`.

use std::net::IpAddr;

use cnfwd_config::model::Neighbor;
use cnfwd_config::MacAddr;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{fail, mac_text, Command, Commands};
use crate::control::telemetry::CommandError;
use crate::tables::TableChange;

/// This area's commands, each with its handler.
pub(super) const COMMANDS: &[Command] = &[
    Command::read(
        "/neighbors",
        "Static neighbours per L3 network.",
        |c, _, _| Ok(c.neighbors()),
    ),
    Command::write(
        "/neighbor/add",
        "Add or replace a static neighbour. Params: {\"network\": NAME, \"ip\": IP, \"mac\": MAC}.",
        |c, p, _| c.neighbor_change(p.parse()?, true),
    ),
    Command::write(
        "/neighbor/del",
        "Remove a static neighbour. Params: {\"network\": NAME, \"ip\": IP}.",
        |c, p, _| c.neighbor_change(p.parse()?, false),
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeighborParams {
    network: String,
    ip: IpAddr,
    #[serde(default)]
    mac: Option<MacAddr>,
}

impl Commands<'_> {
    /// Static entries first, then learned ones with their state and age,
    /// each network's in address order.
    fn neighbors(&self) -> Value {
        let t = self.snapshots.current();
        let now = self.engine.csn().now_ns();
        let mut rows = Vec::new();
        for (id, n) in t.networks.iter().enumerate().filter(|(_, n)| n.l3) {
            let mut v4: Vec<_> = n.neighbors4.iter().collect();
            v4.sort();
            for (ip, mac) in v4 {
                rows.push(json!({"network": n.name, "ip": std::net::Ipv4Addr::from(*ip).to_string(), "mac": mac_text(*mac), "state": "static"}));
            }
            let mut v6: Vec<_> = n.neighbors6.iter().collect();
            v6.sort();
            for (ip, mac) in v6 {
                rows.push(json!({"network": n.name, "ip": std::net::Ipv6Addr::from(*ip).to_string(), "mac": mac_text(*mac), "state": "static"}));
            }
            let mut learned: Vec<_> = self
                .state
                .neighbors
                .entries()
                .filter(|(net, _, _)| usize::from(*net) == id)
                .map(|(_, ip, e)| (crate::slow::key_ip(ip), e))
                .collect();
            learned.sort_by_key(|(ip, _)| *ip);
            for (ip, e) in learned {
                rows.push(json!({
                    "network": n.name,
                    "ip": ip.to_string(),
                    "mac": mac_text(e.mac),
                    "state": e.state.name(),
                    "age_s": now.saturating_sub(e.updated_ns) / 1_000_000_000,
                }));
            }
        }
        Value::Array(rows)
    }

    fn neighbor_change(&mut self, p: NeighborParams, add: bool) -> Result<Value, CommandError> {
        let r = &self.state.resolved;
        let (id, l3) = r
            .networks
            .iter()
            .enumerate()
            .find_map(|(i, n)| {
                n.l3.as_ref()
                    .filter(|_| n.name == p.network)
                    .map(|l| (i, l))
            })
            .ok_or_else(|| {
                fail(format!(
                    "network {:?}: no L3 network has this name",
                    p.network
                ))
            })?;
        let inside = match p.ip {
            IpAddr::V4(a) => l3.ipv4.is_some_and(|(n, _)| n.contains(&a)),
            IpAddr::V6(a) => l3.ipv6.is_some_and(|(n, _)| n.contains(&a)),
        };
        if !inside {
            return Err(fail(format!(
                "ip {}: not inside a connected prefix of network {:?}",
                p.ip, p.network
            )));
        }
        let is_static = l3.neighbors.iter().any(|(ip, _)| *ip == p.ip);
        if !add && !is_static {
            // A learned entry: forgotten, so the next packet resolves it anew.
            if self
                .state
                .neighbors
                .remove(id as u16, crate::slow::ip_key(p.ip))
            {
                return Ok(json!({
                    "removed": p.ip.to_string(),
                    "network": p.network,
                    "learned": true,
                }));
            }
        }
        let change = if add {
            let mac = p
                .mac
                .ok_or_else(|| fail("mac: missing (e.g. \"02:00:00:00:00:01\")"))?;
            // The rules the configuration file's neighbours obey (resolve),
            // so that the running configuration stays loadable.
            if mac.is_multicast() {
                return Err(fail(format!("mac {mac}: a neighbour MAC must be unicast")));
            }
            let gateway = match p.ip {
                IpAddr::V4(_) => l3.ipv4.map(|(_, g)| IpAddr::V4(g)),
                IpAddr::V6(_) => l3.ipv6.map(|(_, g)| IpAddr::V6(g)),
            };
            if gateway == Some(p.ip) {
                return Err(fail(format!(
                    "ip {}: is the network's own gateway address",
                    p.ip
                )));
            }
            TableChange::AddNeighbor {
                network: id as u16,
                ip: p.ip,
                mac: mac.octets(),
            }
        } else {
            TableChange::RemoveNeighbor {
                network: id as u16,
                ip: p.ip,
            }
        };
        let generation = self.publish(&[change])?;
        // The running configuration follows.
        let l3_index = id - self.state.config.l2_networks.len();
        if let Some(net) = self.state.config.l3_networks.get_mut(l3_index) {
            net.neighbors.retain(|n| n.ip != p.ip);
            if let Some(mac) = p.mac.filter(|_| add) {
                net.neighbors.push(Neighbor { ip: p.ip, mac });
            }
        }
        if let Some(n) = self.state.resolved.networks[id].l3.as_mut() {
            n.neighbors.retain(|(ip, _)| *ip != p.ip);
            if let Some(mac) = p.mac.filter(|_| add) {
                n.neighbors.push((p.ip, mac));
            }
        }
        Ok(json!({
            if add { "added" } else { "removed" }: p.ip.to_string(),
            "network": p.network,
            "snapshot": generation,
        }))
    }
}

//! What a `/config/apply` changed: routes, static neighbours and CSN
//! allowlist entries added, removed and changed, as `frr-reload.py` or
//! Junos `show | compare` would list them.
//!
//! Routes and neighbours are compared on the forwarding tables in force
//! before and after (so routes added through the socket, connected and
//! gateway routes count like any other), the allowlist on the
//! configuration. Each kind reports its counts and a list capped at
//! [`MAX_CHANGES_LISTED`] entries, removals of socket routes first (they
//! are the ones an operator may not expect).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use cnfwd_config::model::CloudServicesNetwork;
use cnfwd_config::Config;
use ipnet::IpNet;
use serde_json::{json, Value};

use crate::tables::{AdjKey, Tables};

/// Most entries listed per kind of change (routes, neighbours, allowlist);
/// the counts are always complete.
pub const MAX_CHANGES_LISTED: usize = 100;

/// One route's target, by names (network indices differ between the two
/// tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target<'a> {
    Local(&'a str),
    Broadcast(&'a str),
    Attached(&'a str),
    Via(IpAddr, &'a str),
    Unknown,
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Local(n) => write!(f, "local on {n}"),
            Target::Broadcast(n) => write!(f, "broadcast of {n}"),
            Target::Attached(n) => write!(f, "attached to {n}"),
            Target::Via(nh, n) => write!(f, "via {nh} on {n}"),
            Target::Unknown => f.write_str("?"),
        }
    }
}

fn routes(t: &Tables) -> HashMap<(&str, IpNet), Target<'_>> {
    let net = |n: u16| t.networks.get(n as usize).map_or("?", |x| x.name.as_str());
    let target = |adj: u32| match t.adj_keys.get(adj as usize) {
        Some(AdjKey::Local(n)) => Target::Local(net(*n)),
        Some(AdjKey::Broadcast(n)) => Target::Broadcast(net(*n)),
        Some(AdjKey::Attached(n)) => Target::Attached(net(*n)),
        Some(AdjKey::Via(nh, n)) => Target::Via(*nh, net(*n)),
        None => Target::Unknown,
    };
    let mut m = HashMap::new();
    for v in &t.vrfs {
        for (p, adj) in v.fib4.iter() {
            m.insert((v.name.as_str(), IpNet::V4(p)), target(adj));
        }
        for (p, adj) in v.fib6.iter() {
            m.insert((v.name.as_str(), IpNet::V6(p)), target(adj));
        }
    }
    m
}

fn neighbors(t: &Tables) -> HashMap<(&str, IpAddr), [u8; 6]> {
    let mut m = HashMap::new();
    for n in t.networks.iter().filter(|n| n.l3) {
        for (ip, mac) in &n.neighbors4 {
            m.insert((n.name.as_str(), IpAddr::from(ip.to_be_bytes())), *mac);
        }
        for (ip, mac) in &n.neighbors6 {
            m.insert((n.name.as_str(), IpAddr::from(ip.to_be_bytes())), *mac);
        }
    }
    m
}

/// The endpoints in force: the defaults (when enabled) and the additional
/// ones, as `(category, domain_name, port)`.
fn endpoints(c: &Config) -> HashSet<(String, String, Option<u32>, bool)> {
    let mut s = HashSet::new();
    let Some(csn): Option<&CloudServicesNetwork> = c.cloud_services_network.as_ref() else {
        return s;
    };
    let defaults = csn
        .default_egress_endpoints
        .iter()
        .filter(|_| csn.enable_default_egress_endpoints)
        .map(|c| (c, true));
    for (cat, default) in defaults.chain(csn.additional_egress_endpoints.iter().map(|c| (c, false)))
    {
        for e in &cat.endpoints {
            s.insert((cat.category.clone(), e.domain_name.clone(), e.port, default));
        }
    }
    s
}

fn mac_text(m: [u8; 6]) -> String {
    cnfwd_config::MacAddr(m).to_string()
}

/// Counts and a capped list of one kind of change.
#[derive(Default)]
struct Report {
    added: usize,
    removed: usize,
    changed: usize,
    /// (sort key: socket removals first, then by text; entry)
    list: Vec<((u8, String), Value)>,
}

impl Report {
    fn push(&mut self, first: bool, key: String, entry: Value) {
        self.list.push(((u8::from(!first), key), entry));
    }

    fn json(mut self) -> Value {
        let total = self.list.len();
        if total > MAX_CHANGES_LISTED {
            self.list
                .select_nth_unstable_by(MAX_CHANGES_LISTED - 1, |a, b| a.0.cmp(&b.0));
            self.list.truncate(MAX_CHANGES_LISTED);
        }
        self.list.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        json!({
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "not_listed": total - self.list.len(),
            "list": self.list.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        })
    }
}

/// The routes, neighbours and allowlist entries that differ between
/// `old` and `new` (see the module doc). `socket_routes` are the routes
/// that were added through the socket (VRF name, prefix): their entries
/// say `origin: "socket"`.
pub fn compare(
    old: &Tables,
    new: &Tables,
    old_config: &Config,
    new_config: &Config,
    socket_routes: &HashSet<(String, IpNet)>,
) -> Value {
    let (ro, rn) = (routes(old), routes(new));
    let origin = |vrf: &str, p: IpNet| {
        if socket_routes.contains(&(vrf.to_string(), p)) {
            "socket"
        } else {
            "config"
        }
    };
    let mut r = Report::default();
    for (&(vrf, prefix), &was) in &ro {
        let key = format!("{vrf} {prefix}");
        match rn.get(&(vrf, prefix)) {
            None => {
                r.removed += 1;
                let o = origin(vrf, prefix);
                r.push(
                    o == "socket",
                    key,
                    json!({"change": "removed", "vrf": vrf, "prefix": prefix.to_string(), "target": was.to_string(), "origin": o}),
                );
            }
            Some(&now) if now != was => {
                r.changed += 1;
                r.push(
                    false,
                    key,
                    json!({"change": "changed", "vrf": vrf, "prefix": prefix.to_string(), "target": now.to_string(), "was": was.to_string(), "origin": origin(vrf, prefix)}),
                );
            }
            Some(_) => {}
        }
    }
    for (&(vrf, prefix), &now) in &rn {
        if !ro.contains_key(&(vrf, prefix)) {
            r.added += 1;
            r.push(
                false,
                format!("{vrf} {prefix}"),
                json!({"change": "added", "vrf": vrf, "prefix": prefix.to_string(), "target": now.to_string()}),
            );
        }
    }

    let (no, nn) = (neighbors(old), neighbors(new));
    let mut n = Report::default();
    for (&(net, ip), &mac) in &no {
        match nn.get(&(net, ip)) {
            None => {
                n.removed += 1;
                n.push(false, format!("{net} {ip}"), json!({"change": "removed", "network": net, "ip": ip.to_string(), "mac": mac_text(mac)}));
            }
            Some(&now) if now != mac => {
                n.changed += 1;
                n.push(false, format!("{net} {ip}"), json!({"change": "changed", "network": net, "ip": ip.to_string(), "mac": mac_text(now), "was": mac_text(mac)}));
            }
            Some(_) => {}
        }
    }
    for (&(net, ip), &mac) in &nn {
        if !no.contains_key(&(net, ip)) {
            n.added += 1;
            n.push(false, format!("{net} {ip}"), json!({"change": "added", "network": net, "ip": ip.to_string(), "mac": mac_text(mac)}));
        }
    }

    let (eo, en) = (endpoints(old_config), endpoints(new_config));
    let mut a = Report::default();
    let entry = |change: &str, (cat, name, port, default): &(String, String, Option<u32>, bool)| json!({"change": change, "category": cat, "domain_name": name, "port": port, "default": default});
    for e in eo.difference(&en) {
        a.removed += 1;
        a.push(
            false,
            format!("{} {} {:?}", e.0, e.1, e.2),
            entry("removed", e),
        );
    }
    for e in en.difference(&eo) {
        a.added += 1;
        a.push(
            false,
            format!("{} {} {:?}", e.0, e.1, e.2),
            entry("added", e),
        );
    }
    json!({"routes": r.json(), "neighbors": n.json(), "allowlist": a.json()})
}

//! What runs: liveness, ports, networks and VRFs (`/health`, `/ports`,
//! `/networks`, `/vrfs`).

use std::fs;
use std::time::Instant;

use cnfwd_config::PortBackend;
use serde_json::{json, Value};

use super::{counters_json, mac_text, Command, Commands};
use crate::control::health::{port_states, Health};

/// This area's commands, each with its handler.
pub(super) const COMMANDS: &[Command] = &[
    Command::read(
        "/health",
        "Liveness and readiness: workers polling (last round, stalled), ports up, configuration applied, snapshot generation, uptime.",
        |c, _, _| Ok(c.health()),
    ),
    Command::read(
        "/ports",
        "Ports: backend, device, link, MAC, MTU, NUMA node, queues, counters (with the device's: kernel_drops on AF_PACKET, imissed/rx_nombuf/ierrors/oerrors on DPDK).",
        |c, _, _| Ok(c.ports()),
    ),
    Command::read(
        "/networks",
        "Networks: kind, VLAN, MTU, VRF, prefixes, ports, counters.",
        |c, _, _| Ok(c.networks()),
    ),
    Command::read(
        "/vrfs",
        "VRFs (L3 isolation domains): route counts and FIB memory.",
        |c, _, _| Ok(c.vrfs()),
    ),
];

impl Commands<'_> {
    /// `status` is `stopping` (a worker failed), `stalled` (a worker has
    /// not polled for `[engine] stall_timeout_ms`) or `ok`; the other
    /// fields are [`Health::json_fields`]'s (the facts behind `/healthz`
    /// and `/readyz`).
    fn health(&self) -> Value {
        let workers = self.engine.workers();
        let r = &self.state.resolved;
        let h = Health::evaluate(
            &workers,
            self.engine.started(),
            Instant::now(),
            std::time::Duration::from_millis(u64::from(r.engine.stall_timeout_ms)),
            self.snapshots.generation(),
            self.snapshots.current().published,
            port_states(&r.ports, &self.engine.stats()),
            self.engine.stopping(),
        );
        let status = if h.stopping {
            "stopping"
        } else if h.workers.iter().any(|w| w.stalled) {
            "stalled"
        } else {
            "ok"
        };
        let mut reply = json!({
            "status": status,
            "workers": workers.len(),
            "snapshot": self.snapshots.generation(),
            "workers_on_snapshot": workers.iter().filter(|w| w.generation == self.snapshots.generation()).count(),
            "uptime_seconds": self.state.started.elapsed().as_secs_f64(),
        });
        if let Some(m) = reply.as_object_mut() {
            m.extend(h.json_fields());
        }
        reply
    }

    fn ports(&self) -> Value {
        let stats = self.state.stats(self.engine);
        let t = self.snapshots.current();
        let queues = self.engine.workers().len();
        let rows: Vec<Value> = self
            .state
            .resolved
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (backend, device, link) = match &p.backend {
                    PortBackend::AfPacket { interface } => {
                        let state =
                            fs::read_to_string(format!("/sys/class/net/{interface}/operstate"))
                                .map(|s| s.trim().to_owned())
                                .unwrap_or_else(|_| "missing".into());
                        ("af_packet", interface.clone(), state)
                    }
                    PortBackend::Dpdk { device } => ("dpdk", device.clone(), "-".into()),
                    PortBackend::Pcap { rx, .. } => {
                        ("pcap", rx.clone().unwrap_or_default(), "-".into())
                    }
                };
                let mut row = json!({
                    "name": p.name,
                    "backend": backend,
                    "device": device,
                    "link": link,
                    "cnfwd_link": stats.link_state(i).name(),
                    "mac": t.ports.get(i).map(|e| mac_text(e.mac)),
                    "mtu": p.mtu,
                    "numa_node": p.numa_node,
                    "queues": queues,
                });
                if let (Some(c), Some(obj)) = (stats.ports.get(i), row.as_object_mut()) {
                    if let Value::Object(m) = counters_json(c) {
                        obj.extend(m);
                    }
                    // kernel_drops (AF_PACKET), imissed/rx_nombuf/... (DPDK).
                    obj.extend(stats.device_fields(i));
                }
                row
            })
            .collect();
        Value::Array(rows)
    }

    fn networks(&self) -> Value {
        let stats = self.state.stats(self.engine);
        let r = &self.state.resolved;
        let rows: Vec<Value> = r
            .networks
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let ports: Vec<&str> = n
                    .ports
                    .iter()
                    .filter_map(|&p| r.ports.get(p as usize).map(|x| x.name.as_str()))
                    .collect();
                let mut row = json!({
                    "name": n.name,
                    "kind": if n.l3.is_some() { "l3" } else { "l2" },
                    "vlan": n.vlan,
                    "mtu": n.mtu,
                    "vrf": n.l3.as_ref().and_then(|l| r.vrfs.get(l.vrf as usize)).map(|v| &v.name),
                    "ipv4": n.l3.as_ref().and_then(|l| l.ipv4).map(|(p, gw)| format!("{p} gw {gw}")),
                    "ipv6": n.l3.as_ref().and_then(|l| l.ipv6).map(|(p, gw)| format!("{p} gw {gw}")),
                    "ports": ports.join(","),
                });
                if let (Some(c), Some(obj)) = (stats.networks.get(i), row.as_object_mut()) {
                    if let Value::Object(m) = counters_json(c) {
                        obj.extend(m);
                    }
                }
                row
            })
            .collect();
        Value::Array(rows)
    }

    fn vrfs(&self) -> Value {
        let t = self.snapshots.current();
        Value::Array(
            t.vrfs
                .iter()
                .map(|v| {
                    json!({
                        "name": v.name,
                        "ipv4_routes": v.fib4.len(),
                        "ipv6_routes": v.fib6.len(),
                        "fib_bytes": v.fib4.memory_bytes().total() + v.fib6.memory_bytes().total(),
                    })
                })
                .collect(),
        )
    }
}

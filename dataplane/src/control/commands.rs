//! The management commands of a running cnfwd: what `cnfwdctl` and
//! `dpdk-telemetry.py` reach through the socket.
//!
//! [`ControlState`] is the control thread's own state (the running
//! configuration, its file, counter baselines, rate samples); [`Commands`]
//! borrows it together with the engine handle and the snapshots for one
//! [`super::Server::poll`] round and implements [`Handler`].
//!
//! Guarantees:
//! - A write command is validated completely before anything changes; on
//!   an error nothing changes and the reply names the argument.
//! - Route and neighbour changes are published as a new snapshot that
//!   workers pick up at their next burst (see `engine::snapshot`); the
//!   running configuration (`/config`, `/config/save`) follows every
//!   change.
//! - `/stats/clear` moves a baseline: workers' counters are never written
//!   by the control thread, so clearing cannot race with forwarding.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use cnfwd_config::model::{EgressEndpoint, EgressEndpointCategory, Neighbor, StaticRoute};
use cnfwd_config::{Config, MacAddr, PortBackend, Resolved, RouteTarget};
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{json, Value};

use super::health::{port_states, Health};
pub use super::save::{save_atomically, save_with_backup};
use super::telemetry::{Access, CommandError, CommandInfo, Handler, Params, Peer};
use crate::csn::CsnDump;
use crate::engine::snapshot::Snapshots;
use crate::engine::workers::{EngineHandle, WorkerSample};
use crate::pipeline::DropReason;
use crate::slow::neighbor::NeighborTable;
use crate::stats::{Counters, Stats};
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
/// Bytes of configuration text per `/config` page when no `limit` is
/// given; escaped in JSON it stays well within `max_output_len`.
pub const DEFAULT_CONFIG_PAGE: usize = 256 * 1024;
/// The largest `/config` page `limit` (bytes of text).
pub const MAX_CONFIG_PAGE: usize = 512 * 1024;
/// The largest file `/config/apply,{"path"}` reads (64 MiB: a million
/// routes in `[[...static_routes]]` form).
pub const MAX_CONFIG_FILE: u64 = 64 << 20;

/// The control thread's state between requests.
#[derive(Debug)]
pub struct ControlState {
    /// The running configuration (the file's, plus every change since).
    pub config: Config,
    /// Its resolved form.
    pub resolved: Resolved,
    /// Where `/config/save` writes.
    pub config_path: Option<PathBuf>,
    /// MACs the backends read from the devices (for rebuilding tables).
    pub device_macs: Vec<Option<[u8; 6]>>,
    started: Instant,
    /// Counters at the last `/stats/clear`, total and per worker.
    baseline: Stats,
    baseline_workers: BTreeMap<usize, Stats>,
    /// The two latest rate samples (time, per-worker sample).
    samples: [(Instant, Vec<WorkerSample>); 2],
    /// The learned neighbours (the workers see its changes).
    pub neighbors: NeighborTable,
    /// Routes added through `/route/add` since the file was loaded, applied
    /// or saved (VRF name, prefix): `origin: "socket"` in `/routes`.
    socket_routes: HashSet<(String, IpNet)>,
    /// The running configuration as text, for `/config` pages: (format,
    /// section, text); dropped by every write command.
    config_text: Option<(ConfigFormat, Option<String>, Arc<str>)>,
}

impl ControlState {
    /// State for a run of `config` (resolved as `resolved`, read from
    /// `path`).
    pub fn new(
        config: Config,
        resolved: Resolved,
        config_path: Option<PathBuf>,
        device_macs: Vec<Option<[u8; 6]>>,
    ) -> Self {
        let now = Instant::now();
        let neighbors = NeighborTable::new(&resolved.slow_path);
        Self {
            neighbors,
            config,
            resolved,
            config_path,
            device_macs,
            started: now,
            baseline: Stats::default(),
            baseline_workers: BTreeMap::new(),
            samples: [(now, Vec::new()), (now, Vec::new())],
            socket_routes: HashSet::new(),
            config_text: None,
        }
    }

    /// Routes added through the socket and not yet written to the file
    /// (`/config/save`) or replaced (`/config/apply`): VRF name, prefix.
    pub fn socket_routes(&self) -> &HashSet<(String, IpNet)> {
        &self.socket_routes
    }

    /// Takes a rate sample (the control loop calls this about once a
    /// second; `/workers` reports rates between the last two samples).
    pub fn sample(&mut self, engine: &EngineHandle) {
        let newest = (Instant::now(), engine.workers());
        self.samples.swap(0, 1);
        self.samples[1] = newest;
    }

    /// The slow path's turn on the control thread: the workers' neighbour
    /// events in, timers, changes and probes out.
    pub fn pump_neighbors(&mut self, engine: &EngineHandle) {
        self.neighbors.pump(engine.slow(), engine.csn().now_ns());
        engine.set_table_counters(&self.neighbors.counters);
    }

    /// Counters since the last `/stats/clear`.
    pub fn stats(&self, engine: &EngineHandle) -> Stats {
        engine.stats().since(&self.baseline)
    }
}

/// One round of commands: the state, the engine and the snapshots.
pub struct Commands<'a> {
    /// Control state.
    pub state: &'a mut ControlState,
    /// The running engine.
    pub engine: &'a EngineHandle,
    /// The snapshots workers read.
    pub snapshots: &'a mut Snapshots,
}

const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "/health",
        help: "Liveness and readiness: workers polling (last round, stalled), ports up, configuration applied, snapshot generation, uptime.",
        access: Access::Read,
    },
    CommandInfo {
        name: "/ports",
        help: "Ports: backend, device, link, MAC, MTU, NUMA node, queues, counters (with the device's: kernel_drops on AF_PACKET, imissed/rx_nombuf/ierrors/oerrors on DPDK).",
        access: Access::Read,
    },
    CommandInfo {
        name: "/networks",
        help: "Networks: kind, VLAN, MTU, VRF, prefixes, ports, counters.",
        access: Access::Read,
    },
    CommandInfo {
        name: "/vrfs",
        help: "VRFs (L3 isolation domains): route counts and FIB memory.",
        access: Access::Read,
    },
    CommandInfo {
        name: "/routes",
        help: "Routes, a page at a time. Params (optional): {\"vrf\": NAME, \"prefix\": CIDR (routes inside it), \"offset\": N, \"limit\": N (default 1000, at most 10000; a page ends early at 512 KiB)}. Reply: {\"total\", \"offset\", \"next_offset\" (null on the last page), \"routes\": [{vrf, prefix, kind, next_hop, network, origin: config|socket}]}.",
        access: Access::Read,
    },
    CommandInfo {
        name: "/neighbors",
        help: "Static neighbours per L3 network.",
        access: Access::Read,
    },
    CommandInfo {
        name: "/drops",
        help: "Drop counters by reason (non-zero), then slow-path counters (ARP/ND answered, ICMP errors, neighbours), with their meaning.",
        access: Access::Read,
    },
    CommandInfo {
        name: "/workers",
        help: "Workers: core, counters, packet rates over the last second, idle share, snapshot.",
        access: Access::Read,
    },
    CommandInfo {
        name: "/config",
        help: "The running configuration (the file plus every change since). No params: the whole of it as JSON. {\"section\": KEY}: one top-level part (e.g. \"l3_isolation_domains\"). {\"format\": \"toml\"|\"json\", \"offset\": BYTES, \"limit\": BYTES (default 262144)}: the text, a page of whole lines at a time: {\"total_bytes\", \"offset\", \"next_offset\" (null on the last page), \"text\"}.",
        access: Access::Read,
    },
    CommandInfo {
        name: "/stats",
        help: "All counters in the stats JSON shape (since the last /stats/clear).",
        access: Access::Read,
    },
    CommandInfo {
        name: "/trace/show",
        help: "Packets traced since /trace/start, each with the pipeline's decisions.",
        access: Access::Read,
    },
    CommandInfo {
        name: "/csn/flows",
        help: "CSN flows per worker: count, capacity, memory and a bounded list. Params (optional): {\"limit\": N} (default 100, at most 10000).",
        access: Access::Read,
    },
    CommandInfo {
        name: "/csn/learned",
        help: "Addresses learned from DNS answers to allowlisted names, with the time left. Params (optional): {\"limit\": N}.",
        access: Access::Read,
    },
    CommandInfo {
        name: "/csn/allowlist",
        help: "The compiled CSN allowlist: every rule with the flows it admitted (summed over workers).",
        access: Access::Read,
    },
    CommandInfo {
        name: "/route/add",
        help: "Add a route. Params: {\"vrf\": NAME, \"prefix\": CIDR, \"next_hop\": IP and/or \"network\": NAME}.",
        access: Access::Write,
    },
    CommandInfo {
        name: "/route/del",
        help: "Remove a static route. Params: {\"vrf\": NAME, \"prefix\": CIDR}.",
        access: Access::Write,
    },
    CommandInfo {
        name: "/neighbor/add",
        help: "Add or replace a static neighbour. Params: {\"network\": NAME, \"ip\": IP, \"mac\": MAC}.",
        access: Access::Write,
    },
    CommandInfo {
        name: "/neighbor/del",
        help: "Remove a static neighbour. Params: {\"network\": NAME, \"ip\": IP}.",
        access: Access::Write,
    },
    CommandInfo {
        name: "/allowlist/add",
        help: "Add a CSN egress endpoint. Params: {\"category\": NAME, \"domain_name\": NAME|URL|CIDR, \"port\": N (optional)}.",
        access: Access::Write,
    },
    CommandInfo {
        name: "/allowlist/del",
        help: "Remove a CSN egress endpoint. Params: as /allowlist/add.",
        access: Access::Write,
    },
    CommandInfo {
        name: "/config/apply",
        help: "Validate and apply a whole configuration, replacing the running one. Params: {\"toml\": TEXT} or {\"path\": ABSOLUTE_PATH} (read by cnfwd if your uid and groups may read it), \"keep_socket_routes\": true to keep routes added with /route/add (default: removed, and listed). Ports cannot change (restart for that). Reply: every route, neighbour and allowlist entry added, removed or changed (counts, first 100 listed).",
        access: Access::Write,
    },
    CommandInfo {
        name: "/config/save",
        help: "Write the running configuration into its file, edited in place (comments, order and layout kept; defaults left out), the previous version kept as FILE.bak (each written to a temporary file, fsync, rename, fsync of the directory); on an error the file is unchanged and the reply names the step and the OS error.",
        access: Access::Write,
    },
    CommandInfo {
        name: "/stats/clear",
        help: "Restart every counter from zero.",
        access: Access::Write,
    },
    CommandInfo {
        name: "/trace/start",
        help: "Trace the next packets. Params: {\"count\": N, \"port\": NAME (optional)}.",
        access: Access::Write,
    },
    CommandInfo {
        name: "/trace/stop",
        help: "Stop tracing (the records stay).",
        access: Access::Write,
    },
    super::capture::START,
    super::capture::STOP,
    super::capture::STATUS,
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitParams {
    #[serde(default)]
    limit: Option<usize>,
}

/// Most flows or learned addresses one `/csn/*` reply lists per worker.
pub const MAX_CSN_LISTED: usize = 10_000;

/// How long a `/csn/*` command waits for the workers' answers.
const CSN_DUMP_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

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

/// The text form of `/config` pages.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum ConfigFormat {
    Json,
    Toml,
}

impl ConfigFormat {
    fn name(self) -> &'static str {
        match self {
            ConfigFormat::Json => "json",
            ConfigFormat::Toml => "toml",
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigParams {
    #[serde(default)]
    format: Option<ConfigFormat>,
    #[serde(default)]
    section: Option<String>,
    #[serde(default)]
    offset: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeighborParams {
    network: String,
    ip: IpAddr,
    #[serde(default)]
    mac: Option<MacAddr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowParams {
    category: String,
    domain_name: String,
    #[serde(default)]
    port: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyParams {
    #[serde(default)]
    toml: Option<String>,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    keep_socket_routes: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceParams {
    count: u64,
    #[serde(default)]
    port: Option<String>,
}

fn fail(msg: impl Into<String>) -> CommandError {
    CommandError::failed(msg)
}

fn counters_json(c: &Counters) -> Value {
    json!({
        "rx_packets": c.rx_packets,
        "rx_bytes": c.rx_bytes,
        "tx_packets": c.tx_packets,
        "tx_bytes": c.tx_bytes,
        "dropped": c.dropped(),
    })
}

fn mac_text(m: [u8; 6]) -> String {
    MacAddr(m).to_string()
}

impl Handler for Commands<'_> {
    fn commands(&self) -> &[CommandInfo] {
        COMMANDS
    }

    fn call(
        &mut self,
        command: &str,
        params: Params<'_>,
        peer: &Peer,
    ) -> Result<Value, CommandError> {
        if COMMANDS
            .iter()
            .any(|c| c.name == command && c.access == Access::Write)
        {
            // The running configuration may change: its text is stale.
            self.state.config_text = None;
        }
        match command {
            "/health" => Ok(self.health()),
            "/ports" => Ok(self.ports()),
            "/networks" => Ok(self.networks()),
            "/vrfs" => Ok(self.vrfs()),
            "/routes" => self.routes(params.parse_or_default()?),
            "/neighbors" => Ok(self.neighbors()),
            "/drops" => Ok(self.drops()),
            "/workers" => Ok(self.workers()),
            "/config" => self.config(params.parse_or_default()?),
            "/stats" => {
                let t = self.snapshots.current();
                Ok(self.state.stats(self.engine).to_json(&t))
            }
            "/trace/show" => Ok(json!({
                "remaining": self.engine.trace().remaining(),
                "packets": self.engine.trace().records(),
            })),
            "/route/add" => self.route_add(params.parse()?),
            "/route/del" => self.route_del(params.parse()?),
            "/neighbor/add" => self.neighbor_change(params.parse()?, true),
            "/neighbor/del" => self.neighbor_change(params.parse()?, false),
            "/csn/flows" => self.csn_flows(params.parse_or_default()?),
            "/csn/learned" => self.csn_learned(params.parse_or_default()?),
            "/csn/allowlist" => self.csn_allowlist(),
            "/allowlist/add" => self.allow_change(params.parse()?, true),
            "/allowlist/del" => self.allow_change(params.parse()?, false),
            "/config/apply" => self.apply(params.parse()?, peer),
            "/config/save" => self.save(),
            "/stats/clear" => {
                self.state.baseline = self.engine.stats();
                self.state.baseline_workers = self
                    .engine
                    .workers()
                    .into_iter()
                    .map(|w| (w.id, w.stats))
                    .collect();
                Ok(json!({"cleared": true}))
            }
            "/trace/start" => {
                let p: TraceParams = params.parse()?;
                let t = self.snapshots.current();
                let port = match &p.port {
                    None => None,
                    Some(name) => Some(
                        t.ports
                            .iter()
                            .position(|x| &x.name == name)
                            .ok_or_else(|| fail(format!("port {name:?}: no such port")))?
                            as u16,
                    ),
                };
                if p.count == 0 || p.count > crate::engine::trace::MAX_RECORDS as u64 {
                    return Err(fail(format!(
                        "count {}: must be in 1..={}",
                        p.count,
                        crate::engine::trace::MAX_RECORDS
                    )));
                }
                self.engine.trace().start(p.count, port);
                Ok(json!({"tracing": p.count, "port": p.port}))
            }
            "/trace/stop" => {
                self.engine.trace().stop();
                Ok(json!({"tracing": 0}))
            }
            c if c.starts_with("/capture/") => {
                super::capture::call(self.engine, &self.state.resolved, c, params, peer)
            }
            other => Err(fail(format!("{other}: not implemented by this handler"))),
        }
    }
}

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

    /// `/config`: the whole configuration or one section as JSON, or a
    /// page of its text (see the command's help).
    fn config(&mut self, p: ConfigParams) -> Result<Value, CommandError> {
        let section = p.section.clone();
        let paged = p.format.is_some() || p.offset.is_some() || p.limit.is_some();
        if !paged {
            let all = serde_json::to_value(&self.state.config)
                .map_err(|e| fail(format!("cannot encode the configuration: {e}")))?;
            return match section {
                None => Ok(all),
                Some(key) => all.get(&key).cloned().ok_or_else(|| {
                    fail(format!(
                        "section {key:?}: not a part of the configuration; one of {}",
                        config_sections(&all)
                    ))
                }),
            };
        }
        let format = p.format.unwrap_or(ConfigFormat::Toml);
        let limit = p.limit.unwrap_or(DEFAULT_CONFIG_PAGE);
        if limit == 0 || limit > MAX_CONFIG_PAGE {
            return Err(fail(format!(
                "limit {limit}: must be in 1..={MAX_CONFIG_PAGE} (bytes)"
            )));
        }
        let text = self.config_text(format, section.as_deref())?;
        let offset = p.offset.unwrap_or(0);
        let (page, next) = text_page(&text, offset, limit).map_err(fail)?;
        Ok(json!({
            "format": format.name(),
            "section": section,
            "total_bytes": text.len(),
            "offset": offset,
            "next_offset": next,
            "text": page,
        }))
    }

    /// The running configuration (or a section of it) as text, kept until
    /// the next write command so that pages come from one version.
    fn config_text(
        &mut self,
        format: ConfigFormat,
        section: Option<&str>,
    ) -> Result<Arc<str>, CommandError> {
        if let Some((f, s, t)) = &self.state.config_text {
            if *f == format && s.as_deref() == section {
                return Ok(t.clone());
            }
        }
        let encode = |e: String| fail(format!("cannot encode the configuration: {e}"));
        let text = match format {
            ConfigFormat::Toml => {
                match cnfwd_config::edit::to_toml(&self.state.config, section)
                    .map_err(|e| fail(e.to_string()))?
                {
                    Some(t) => t,
                    None => {
                        let all = serde_json::to_value(&self.state.config)
                            .map_err(|e| encode(e.to_string()))?;
                        return Err(fail(format!(
                            "section {:?}: not a part of the configuration (or empty); one of {}",
                            section.unwrap_or_default(),
                            config_sections(&all)
                        )));
                    }
                }
            }
            ConfigFormat::Json => {
                let mut v =
                    serde_json::to_value(&self.state.config).map_err(|e| encode(e.to_string()))?;
                if let Some(key) = section {
                    let all = v.clone();
                    v = v.get_mut(key).map(Value::take).ok_or_else(|| {
                        fail(format!(
                            "section {key:?}: not a part of the configuration; one of {}",
                            config_sections(&all)
                        ))
                    })?;
                }
                let mut t = serde_json::to_string_pretty(&v).map_err(|e| encode(e.to_string()))?;
                t.push('\n');
                t
            }
        };
        let text: Arc<str> = Arc::from(text);
        self.state.config_text = Some((format, section.map(str::to_string), text.clone()));
        Ok(text)
    }

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

    /// Non-zero drop reasons (`kind: drop`), then the non-zero slow-path
    /// counters (`kind: slow_path`: frames answered, generated, limited).
    fn drops(&self) -> Value {
        let stats = self.state.stats(self.engine);
        let d = stats.drops();
        let drops = DropReason::ALL
            .iter()
            .zip(d.iter())
            .filter(|(_, &c)| c > 0)
            .map(|(r, &c)| json!({"reason": r.name(), "count": c, "kind": "drop", "meaning": r.description()}));
        let slow = crate::slow::SlowCounter::ALL
            .iter()
            .map(|&c| (c, stats.slow.get(c)))
            .filter(|&(_, n)| n > 0)
            .map(|(c, n)| json!({"reason": c.name(), "count": n, "kind": "slow_path", "meaning": c.description()}));
        Value::Array(drops.chain(slow).collect())
    }

    fn workers(&self) -> Value {
        let [(t0, old), (t1, new)] = &self.state.samples;
        let dt = t1.duration_since(*t0).as_secs_f64();
        let current = self.engine.workers();
        Value::Array(
            current
                .iter()
                .map(|w| {
                    let base = self.state.baseline_workers.get(&w.id);
                    let s = base.map_or_else(|| w.stats.clone(), |b| w.stats.since(b));
                    let (rx, tx, dropped) = s.totals();
                    let rate = |f: fn(&Stats) -> u64| -> f64 {
                        match (old.iter().find(|o| o.id == w.id), new.iter().find(|o| o.id == w.id)) {
                            (Some(a), Some(b)) if dt > 0.0 => {
                                f(&b.stats).saturating_sub(f(&a.stats)) as f64 / dt
                            }
                            _ => 0.0,
                        }
                    };
                    json!({
                        "id": w.id,
                        "core": w.core,
                        "rx_packets": rx,
                        "tx_packets": tx,
                        "dropped": dropped,
                        "rx_pps": rate(|s| s.totals().0).round(),
                        "tx_pps": rate(|s| s.totals().1).round(),
                        "idle_pct": (1000.0 * w.idle_rounds as f64 / w.rounds.max(1) as f64).round() / 10.0,
                        "snapshot": w.generation,
                    })
                })
                .collect(),
        )
    }

    /// Publishes `changes` on top of the current snapshot.
    fn publish(&mut self, changes: &[TableChange]) -> Result<u64, CommandError> {
        let next = self
            .snapshots
            .current()
            .with_changes(changes)
            .map_err(|e| fail(e.to_string()))?;
        Ok(self.snapshots.publish(next))
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

    fn allow_change(&mut self, p: AllowParams, add: bool) -> Result<Value, CommandError> {
        let mut config = self.state.config.clone();
        let Some(csn) = config.cloud_services_network.as_mut() else {
            return Err(fail("this configuration has no cloud_services_network"));
        };
        let endpoint = EgressEndpoint {
            domain_name: p.domain_name.clone(),
            port: p.port,
        };
        let cats = &mut csn.additional_egress_endpoints;
        if add {
            match cats.iter_mut().find(|c| c.category == p.category) {
                Some(c) if c.endpoints.contains(&endpoint) => {
                    return Err(fail(format!(
                        "domain_name {:?}: already allowed in category {:?}",
                        p.domain_name, p.category
                    )))
                }
                Some(c) => c.endpoints.push(endpoint),
                None => cats.push(EgressEndpointCategory {
                    category: p.category.clone(),
                    endpoints: vec![endpoint],
                }),
            }
        } else {
            let c = cats
                .iter_mut()
                .find(|c| c.category == p.category)
                .ok_or_else(|| fail(format!("category {:?}: no such category", p.category)))?;
            let before = c.endpoints.len();
            c.endpoints.retain(|e| e != &endpoint);
            if c.endpoints.len() == before {
                return Err(fail(format!(
                    "domain_name {:?}: not in category {:?}",
                    p.domain_name, p.category
                )));
            }
            cats.retain(|c| !c.endpoints.is_empty());
        }
        // Validated as a whole, like a file: the endpoint's syntax included.
        let resolved = cnfwd_config::resolve(&config).map_err(|errs| {
            fail(
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let rules = resolved.csn.as_ref().map_or(&[][..], |c| &c.allow[..]);
        // Takes effect: a snapshot with the recompiled allowlist.
        let next = self
            .snapshots
            .current()
            .with_csn_rules(rules)
            .map_err(|e| fail(e.to_string()))?;
        let generation = self.snapshots.publish(next);
        let rules = rules.len();
        self.state.config = config;
        self.state.resolved = resolved;
        Ok(json!({
            if add { "added" } else { "removed" }: p.domain_name,
            "category": p.category,
            "rules": rules,
            "snapshot": generation,
        }))
    }

    fn csn_dumps(&self, limit: Option<usize>) -> Result<Vec<CsnDump>, CommandError> {
        if self.snapshots.current().csn.is_none() {
            return Err(fail("this configuration has no cloud_services_network"));
        }
        let limit = limit.unwrap_or(100).min(MAX_CSN_LISTED);
        Ok(self.engine.csn().dumps(limit, CSN_DUMP_WAIT))
    }

    fn csn_flows(&self, p: LimitParams) -> Result<Value, CommandError> {
        let dumps = self.csn_dumps(p.limit)?;
        let t = self.snapshots.current();
        let allow = t.csn.as_ref().map(|c| &c.allowlist);
        let workers: Vec<Value> = dumps
            .iter()
            .enumerate()
            .map(|(i, d)| {
                json!({
                    "worker": i,
                    "flows": d.flow_count,
                    "capacity": d.flow_capacity,
                    "memory_bytes": d.flow_memory,
                    "list": d.flows.iter().map(|(k, state, rule)| json!({
                        "proto": k.proto,
                        "src": k.src_addr().to_string(),
                        "sport": k.sport,
                        "dst": k.dst_addr().to_string(),
                        "dport": k.dport,
                        "state": state,
                        "rule": allow.map(|a| a.describe(*rule)),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let total: usize = dumps.iter().map(|d| d.flow_count).sum();
        Ok(json!({"count": total, "workers": workers}))
    }

    fn csn_learned(&self, p: LimitParams) -> Result<Value, CommandError> {
        let dumps = self.csn_dumps(p.limit)?;
        // Every worker holds the same grants; list the first worker's.
        let d = dumps.first().cloned().unwrap_or_default();
        Ok(json!({
            "count": d.learned_count,
            "list": d.learned.iter().map(|(addr, name, left, rules)| json!({
                "address": addr.to_string(),
                "name": name,
                "seconds_left": (*left as f64 / 1e9 * 10.0).round() / 10.0,
                "rules": rules,
            })).collect::<Vec<_>>(),
        }))
    }

    fn csn_allowlist(&self) -> Result<Value, CommandError> {
        let dumps = self.csn_dumps(Some(0))?;
        let t = self.snapshots.current();
        let Some(c) = t.csn.as_ref() else {
            return Err(fail("this configuration has no cloud_services_network"));
        };
        let hits = |r: usize| -> u64 {
            dumps
                .iter()
                .filter(|d| d.rules == c.allowlist.len())
                .map(|d| d.hits.get(r).copied().unwrap_or(0))
                .sum()
        };
        Ok(json!({
            "network": net_name(&t, c.network),
            "rules": (0..c.allowlist.len()).map(|r| json!({
                "id": r,
                "rule": c.allowlist.describe(r as u32),
                "flows_admitted": hits(r),
            })).collect::<Vec<_>>(),
        }))
    }

    /// `/config/apply`: the new configuration replaces the running one
    /// (as `frr-reload.py` makes the running configuration the file's):
    /// routes added through the socket are removed unless
    /// `keep_socket_routes` (then merged into the new configuration, still
    /// `origin: "socket"`; one whose VRF is gone or whose prefix the file
    /// routes itself is dropped and listed). The reply lists every change.
    fn apply(&mut self, p: ApplyParams, peer: &Peer) -> Result<Value, CommandError> {
        let (text, origin) = match (p.toml, p.path) {
            (Some(t), None) => (t, "<config/apply>".to_string()),
            (None, Some(path)) => {
                let t = super::peer_read::read_for_peer(&path, peer, MAX_CONFIG_FILE)
                    .map_err(|e| fail(e.to_string()))?;
                (t, path.display().to_string())
            }
            (Some(_), Some(_)) => {
                return Err(fail(
                    "give either \"toml\" (the text) or \"path\" (a file cnfwd reads), not both",
                ))
            }
            (None, None) => {
                return Err(fail(
                    "missing \"toml\" (the text) or \"path\" (an absolute path cnfwd reads), e.g. /config/apply,{\"path\": \"/etc/cnfwd/site.toml\"}",
                ))
            }
        };
        let mut config = cnfwd_config::parse(&text, &origin).map_err(|e| fail(e.to_string()))?;
        drop(text);
        // Socket routes: carried over (keep) or listed as removed.
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        let mut socket: Vec<&(String, IpNet)> = self.state.socket_routes.iter().collect();
        socket.sort();
        for (vrf, prefix) in socket {
            if !p.keep_socket_routes {
                dropped.push(json!({"vrf": vrf, "prefix": prefix.to_string(), "why": "not in the applied configuration"}));
                continue;
            }
            let route = self
                .state
                .config
                .l3_isolation_domains
                .iter()
                .find(|d| &d.name == vrf)
                .and_then(|d| d.static_routes.iter().find(|r| r.prefix.trunc() == *prefix));
            let target = config
                .l3_isolation_domains
                .iter_mut()
                .find(|d| &d.name == vrf);
            match (route, target) {
                (Some(r), Some(d)) if !d.static_routes.iter().any(|x| x.prefix.trunc() == *prefix) => {
                    d.static_routes.push(r.clone());
                    kept.push((vrf.clone(), *prefix));
                }
                (_, None) => dropped.push(json!({"vrf": vrf, "prefix": prefix.to_string(), "why": "the VRF is not in the applied configuration"})),
                _ => dropped.push(json!({"vrf": vrf, "prefix": prefix.to_string(), "why": "the applied configuration routes this prefix itself"})),
            }
        }
        let resolved = cnfwd_config::resolve(&config).map_err(|errs| {
            fail(
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let old = &self.state.resolved;
        let port_key = |r: &Resolved| -> Vec<(String, PortBackend)> {
            r.ports
                .iter()
                .map(|p| (p.name.clone(), p.backend.clone()))
                .collect()
        };
        if port_key(old) != port_key(&resolved) {
            return Err(fail(
                "ports: the new configuration changes the ports (names, backends or devices); ports are opened at start, so restart cnfwd for that",
            ));
        }
        if resolved.control != old.control || resolved.metrics_listen != old.metrics_listen {
            return Err(fail(
                "control/metrics: the socket and the metrics endpoint are set up at start; restart cnfwd to change them",
            ));
        }
        if resolved.engine != old.engine || resolved.af_packet != old.af_packet {
            return Err(fail(
                "engine/af_packet: workers, cores, idle policy and rings are set at start; restart cnfwd to change them",
            ));
        }
        let tables =
            Tables::build(&resolved, &self.state.device_macs).map_err(|e| fail(e.to_string()))?;
        let names =
            |r: &Resolved| -> Vec<String> { r.networks.iter().map(|n| n.name.clone()).collect() };
        let (old_nets, new_nets) = (names(old), names(&resolved));
        let added: Vec<&String> = new_nets.iter().filter(|n| !old_nets.contains(n)).collect();
        let removed: Vec<&String> = old_nets.iter().filter(|n| !new_nets.contains(n)).collect();
        let changed: Vec<&String> = resolved
            .networks
            .iter()
            .filter(|n| old.networks.iter().any(|o| o.name == n.name && o != *n))
            .map(|n| &n.name)
            .collect();
        let routes =
            |t: &Tables| -> usize { t.vrfs.iter().map(|v| v.fib4.len() + v.fib6.len()).sum() };
        let current = self.snapshots.current();
        let mut summary = json!({
            "networks_added": added,
            "networks_removed": removed,
            "networks_changed": changed,
            "vrfs": resolved.vrfs.len(),
            "routes_before": routes(&current),
            "routes_after": routes(&tables),
            "network_counters_restarted": old_nets != new_nets,
        });
        let changes = super::changes::compare(
            &current,
            &tables,
            &self.state.config,
            &config,
            &self.state.socket_routes,
        );
        drop(current);
        if let (Value::Object(m), Value::Object(c)) = (&mut summary, changes) {
            m.extend(c);
            m.insert(
                "socket_routes".into(),
                json!({
                    "policy": if p.keep_socket_routes { "kept" } else { "removed" },
                    "kept": kept.len(),
                    "removed": dropped.len(),
                    "removed_list": dropped,
                }),
            );
        }
        let generation = self.snapshots.publish(tables);
        self.state.config = config;
        self.state.resolved = resolved;
        self.state.socket_routes = kept.into_iter().collect();
        summary["snapshot"] = json!(generation);
        Ok(summary)
    }

    /// `/config/save`: the file edited in place ([`cnfwd_config::edit`]),
    /// the previous version kept as `FILE.bak`; nothing written when the
    /// file already says the running configuration. Socket routes are
    /// then part of the file (`origin: "config"`).
    fn save(&mut self) -> Result<Value, CommandError> {
        let path = self
            .state
            .config_path
            .clone()
            .ok_or_else(|| fail("this run has no configuration file to save to"))?;
        let shown = path.display().to_string();
        let old = match fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(fail(format!(
                    "{shown}: not saved: reading the current file: {e}; the file is unchanged"
                )))
            }
        };
        let edited = cnfwd_config::edit::edit_in_place(old.as_deref(), &self.state.config)
            .map_err(|e| fail(e.to_string()))?;
        let (mode, why) = match &edited.mode {
            cnfwd_config::edit::SaveMode::Edited => ("edited", None),
            cnfwd_config::edit::SaveMode::Rewritten(why) => ("rewritten", Some(why.clone())),
        };
        let unchanged = old.as_deref() == Some(edited.text.as_str());
        let backup = if unchanged {
            None
        } else {
            save_with_backup(
                &path,
                old.as_deref().map(str::as_bytes),
                edited.text.as_bytes(),
            )
            .map_err(|e| fail(e.to_string()))?
        };
        self.state.socket_routes.clear();
        Ok(json!({
            "saved": shown,
            "bytes": edited.text.len(),
            "unchanged": unchanged,
            "mode": mode,
            "rewritten_because": why,
            "backup": backup.map(|b| b.display().to_string()),
        }))
    }
}

fn net_name(t: &Tables, n: u16) -> Option<&str> {
    t.networks.get(n as usize).map(|x| x.name.as_str())
}

fn target_text(t: &Tables, target: RouteTarget) -> String {
    match target {
        RouteTarget::Local(n) => format!("local on {}", net_name(t, n).unwrap_or("?")),
        RouteTarget::Attached(n) => format!("attached to {}", net_name(t, n).unwrap_or("?")),
        RouteTarget::Via(nh, n) => format!("via {nh} on {}", net_name(t, n).unwrap_or("?")),
    }
}

/// The top-level keys of the configuration, for error messages.
fn config_sections(all: &Value) -> String {
    all.as_object()
        .map(|m| m.keys().map(String::as_str).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

/// The page of `text` that starts at byte `offset` and holds whole lines
/// of at most `limit` bytes (a single longer line is cut at a character
/// boundary), and where the next page starts (`None`: this is the last).
fn text_page(text: &str, offset: usize, limit: usize) -> Result<(&str, Option<usize>), String> {
    if offset > text.len() || !text.is_char_boundary(offset) {
        return Err(format!(
            "offset {offset}: not the start of a page (the text has {} bytes; use the next_offset of the previous page)",
            text.len()
        ));
    }
    let rest = &text[offset..];
    if rest.len() <= limit {
        return Ok((rest, None));
    }
    // Bytes: `limit` may fall inside a character.
    let mut end = match rest.as_bytes()[..limit].iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => limit,
    };
    while !rest.is_char_boundary(end) {
        end -= 1;
    }
    if end == 0 {
        // A limit smaller than one character: take that character.
        end = rest.chars().next().map_or(0, char::len_utf8);
    }
    Ok((&rest[..end], Some(offset + end)))
}

#[cfg(test)]
mod tests {
    use super::text_page;

    #[test]
    fn text_pages_are_whole_lines_and_join_to_the_text() {
        let text = "a = 1\nbb = \"é\"\n\nccc = 3\n";
        for limit in 1..=text.len() + 1 {
            let (mut offset, mut joined) = (Some(0), String::new());
            while let Some(o) = offset {
                let (page, next) = text_page(text, o, limit).unwrap();
                assert!(
                    !page.is_empty() && page.len() <= limit.max(2),
                    "{limit} {o}"
                );
                if next.is_some() && page.len() < limit && page.contains('\n') {
                    assert!(page.ends_with('\n'), "{page:?}");
                }
                joined.push_str(page);
                offset = next;
            }
            assert_eq!(joined, text, "limit {limit}");
        }
        assert!(text_page(text, 13, 5)
            .unwrap_err()
            .contains("not the start of a page"));
        assert!(text_page(text, 99, 5).is_err());
        assert_eq!(text_page(text, text.len(), 5).unwrap(), ("", None));
    }
}

//! The management commands of a running cnfwd: what `cnfwdctl` and
//! `dpdk-telemetry.py` reach through the socket.
//!
//! [`ControlState`] is the control thread's own state (the running
//! configuration, its file, counter baselines, rate samples); [`Commands`]
//! borrows it together with the engine handle and the snapshots for one
//! [`super::Server::poll`] round and implements [`Handler`].
//!
//! Each command is registered once, with its handler, as a [`Command`] in
//! the `COMMANDS` table of its area's module (as VPP's `VLIB_CLI_COMMAND`
//! does): [`status`] (`/health`, `/ports`, `/networks`, `/vrfs`),
//! [`stats`] (`/stats`, `/drops`, `/workers`, `/stats/clear`), [`routes`],
//! [`neighbours`], [`csn`] (`/csn/*`, `/allowlist/*`), [`config`]
//! (`/config`, `/config/apply`, `/config/save`), [`trace`] and live
//! capture (`/capture/*`, in `control/capture.rs`); `AREAS` below
//! concatenates the areas. A command without a handler cannot be
//! written, and the listing and the dispatch come from the same table.
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

mod config;
mod csn;
mod neighbours;
mod routes;
mod stats;
mod status;
mod trace;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use cnfwd_config::{Config, MacAddr, Resolved};
use ipnet::IpNet;
use serde_json::{json, Value};

use self::config::ConfigFormat;
pub use self::config::{DEFAULT_CONFIG_PAGE, MAX_CONFIG_FILE, MAX_CONFIG_PAGE};
pub use self::csn::MAX_CSN_LISTED;
pub use self::routes::{DEFAULT_ROUTES_PAGE, MAX_ROUTES_LISTED, ROUTES_PAGE_BYTES};
pub use super::save::{save_atomically, save_with_backup};
use super::telemetry::{Access, CommandError, CommandInfo, Handler, Params, Peer};
use crate::engine::snapshot::Snapshots;
use crate::engine::workers::{EngineHandle, WorkerSample};
use crate::slow::neighbor::NeighborTable;
use crate::stats::{Counters, Stats};
use crate::tables::{TableChange, Tables};

/// Every area's commands, in the order [`Handler::commands`] lists them
/// (`/` sorts them by name). Adding an area is one line here.
const AREAS: &[&[Command]] = &[
    status::COMMANDS,
    stats::COMMANDS,
    routes::COMMANDS,
    neighbours::COMMANDS,
    csn::COMMANDS,
    config::COMMANDS,
    trace::COMMANDS,
    super::capture::COMMANDS,
];

/// What runs one command: the round's [`Commands`], the request's
/// parameters and the client. The reply value or the error text goes back
/// to the client as `{"/command": ...}`.
pub type Run = fn(&mut Commands<'_>, Params<'_>, &Peer) -> Reply;

/// A command's reply value, or why it failed.
pub type Reply = Result<Value, CommandError>;

/// One command: its name, `/help` text and access, and the function that
/// runs it. Guarantees: a registered command always has a handler (the
/// table entry cannot be written without one).
#[derive(Clone, Copy)]
pub struct Command {
    /// Name, help and access, as the server lists and checks them.
    pub info: CommandInfo,
    /// Its handler.
    pub run: Run,
}

impl Command {
    /// A command that reads state (allowed to readers and writers).
    pub const fn read(name: &'static str, help: &'static str, run: Run) -> Self {
        Self::new(name, help, Access::Read, run)
    }

    /// A command that changes state (uid 0 and the write group only); the
    /// cached `/config` text is dropped before it runs.
    pub const fn write(name: &'static str, help: &'static str, run: Run) -> Self {
        Self::new(name, help, Access::Write, run)
    }

    const fn new(name: &'static str, help: &'static str, access: Access, run: Run) -> Self {
        Self {
            info: CommandInfo { name, help, access },
            run,
        }
    }
}

/// Every registered command, in [`AREAS`] order.
fn registered() -> impl Iterator<Item = &'static Command> {
    AREAS.iter().flat_map(|area| area.iter())
}

/// The [`CommandInfo`]s of [`registered`], built once.
static INFOS: LazyLock<Vec<CommandInfo>> = LazyLock::new(|| registered().map(|c| c.info).collect());

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

impl Handler for Commands<'_> {
    fn commands(&self) -> &[CommandInfo] {
        &INFOS
    }

    fn call(&mut self, command: &str, params: Params<'_>, peer: &Peer) -> Reply {
        let Some(c) = registered().find(|c| c.info.name == command) else {
            return Err(fail(format!("{command}: not implemented by this handler")));
        };
        if c.info.access == Access::Write {
            // The running configuration may change: its text is stale.
            self.state.config_text = None;
        }
        (c.run)(self, params, peer)
    }
}

impl Commands<'_> {
    /// Publishes `changes` on top of the current snapshot.
    fn publish(&mut self, changes: &[TableChange]) -> Result<u64, CommandError> {
        let next = self
            .snapshots
            .current()
            .with_changes(changes)
            .map_err(|e| fail(e.to_string()))?;
        Ok(self.snapshots.publish(next))
    }
}

/// `config` validated and resolved as a file would be; the error lists
/// every violation, joined by "; ".
fn resolve_config(config: &Config) -> Result<Resolved, CommandError> {
    cnfwd_config::resolve(config).map_err(|errs| {
        fail(
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
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

fn net_name(t: &Tables, n: u16) -> Option<&str> {
    t.networks.get(n as usize).map(|x| x.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_registered_once_with_a_name_the_server_routes() {
        let mut names = HashSet::new();
        for c in registered() {
            let name = c.info.name;
            assert!(name.starts_with('/') && name.len() > 1, "{name}");
            assert!(
                !["/help", "/info"].contains(&name),
                "{name}: a server builtin"
            );
            assert!(!c.info.help.is_empty(), "{name}: no help");
            assert!(names.insert(name), "{name}: registered twice");
        }
        assert_eq!(INFOS.len(), names.len());
        assert!(INFOS
            .iter()
            .map(|i| i.name)
            .eq(registered().map(|c| c.info.name)));
    }
}

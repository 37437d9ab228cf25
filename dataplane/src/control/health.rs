//! Liveness and readiness of a live run: one evaluation ([`Health`])
//! behind `GET /healthz` and `GET /readyz` on the metrics listener and the
//! `/health` socket command, so that an HTTP probe and `cnfwdctl health`
//! always agree.
//!
//! - **Live** (`/healthz`): the engine is not stopping (no worker failed)
//!   and no worker is stalled. A worker is *stalled* when its heartbeat
//!   ([`WorkerSample::last_round`], refreshed about every 10 ms after a
//!   completed polling round; the engine's start before its first round)
//!   is older than `[engine] stall_timeout_ms`. Adaptive idle sleeps are at
//!   most 100 ms, and a sleeping worker still completes rounds, so it is
//!   not stalled.
//! - **Ready** (`/readyz`): live, and every worker has completed a round
//!   (forwarding), every worker uses the snapshot in force (the
//!   configuration, including the last `/config/apply`, is applied), and
//!   every port is up. A worker whose last round ended less than
//!   [`SNAPSHOT_GRACE`] after the snapshot in force was published has not
//!   had the chance to load it yet and is not *behind*: under a stream of
//!   route changes (one snapshot a millisecond) every worker is always a
//!   few generations back at its last heartbeat, and readiness must not
//!   flap for that (the soak test saw `/readyz` 503 in 1,701 of 1,710
//!   probes before).
//! - **Port up**: `af_packet`: the interface exists and is `IFF_UP` and
//!   `IFF_RUNNING`, read from `/sys/class/net/<if>/flags` (bit `IFF_UP`)
//!   and `operstate` (`up`, or `unknown` for drivers that do not report
//!   it), which is how the kernel itself derives `IFF_RUNNING`; sysfs shows
//!   the network namespace it was mounted in, cnfwd's own in the usual
//!   case. cnfwd's own view must agree: a port whose interface its
//!   workers found down or gone at their last link check (every second,
//!   `Stats::link`) is not up either, until every worker has it up again
//!   (a re-created interface: reopened). `dpdk`: started (the engine only runs once every port started;
//!   the link status is not read). `pcap`: always.
//!
//! Findings are plain text, one per line, naming the worker (and core) or
//! the port (and device).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use cnfwd_config::{PortBackend, ResolvedPort};
use serde_json::{json, Value};

use super::metrics::Probe;

/// How long after a snapshot's publication a worker still on an older one
/// is not yet *behind* (several heartbeats and a long round).
pub const SNAPSHOT_GRACE: Duration = Duration::from_millis(100);
use crate::engine::workers::{EngineHandle, WorkerSample};
use crate::io::LinkState;
use crate::stats::Stats;

/// One port's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortState {
    /// Port name.
    pub name: String,
    /// `af_packet`, `dpdk` or `pcap`.
    pub backend: &'static str,
    /// Interface, device or capture.
    pub device: String,
    /// Up (see the module doc).
    pub up: bool,
    /// What was seen: af_packet: `up` (or `unknown`: running, operstate
    /// not reported), `admin down`, `not running (operstate X)`, `missing`;
    /// dpdk: `started`; pcap: `-`.
    pub state: String,
}

impl PortState {
    /// The state of `p` now.
    pub fn of(p: &ResolvedPort) -> PortState {
        let (backend, device, up, state) = match &p.backend {
            PortBackend::AfPacket { interface } => {
                let (up, state) = interface_state(interface);
                ("af_packet", interface.clone(), up, state)
            }
            PortBackend::Dpdk { device } => ("dpdk", device.clone(), true, "started".into()),
            PortBackend::Pcap { rx, .. } => (
                "pcap",
                rx.clone().unwrap_or_default(),
                true,
                "-".to_string(),
            ),
        };
        PortState {
            name: p.name.clone(),
            backend,
            device,
            up,
            state,
        }
    }
}

/// Every port's state now ([`PortState::of`]), with what the workers
/// last saw of its link (`stats.link`): not up while any worker has it
/// down or gone, even when sysfs already says up.
pub fn port_states(ports: &[ResolvedPort], stats: &Stats) -> Vec<PortState> {
    ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut s = PortState::of(p);
            match stats.link_state(i) {
                LinkState::Up => {}
                _ if !s.up => {}
                LinkState::Down => {
                    s.up = false;
                    s.state = "down at cnfwd's last link check".into();
                }
                LinkState::Gone => {
                    s.up = false;
                    s.state = "interface re-created, not reopened by every worker yet".into();
                }
            }
            s
        })
        .collect()
}

/// `IFF_UP` in `/sys/class/net/<if>/flags`.
const IFF_UP: u32 = 0x1;

/// Whether interface `ifname` is `IFF_UP | IFF_RUNNING`, and what was seen.
pub fn interface_state(ifname: &str) -> (bool, String) {
    if ifname.is_empty() || ifname.contains('/') || ifname == "." || ifname == ".." {
        return (false, "invalid name".into());
    }
    let dir = Path::new("/sys/class/net").join(ifname);
    let Ok(flags) = fs::read_to_string(dir.join("flags")) else {
        return (false, "missing".into());
    };
    let flags = flags.trim();
    let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).unwrap_or(0);
    let oper = fs::read_to_string(dir.join("operstate"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    if flags & IFF_UP == 0 {
        return (false, "admin down".into());
    }
    // The kernel sets IFF_RUNNING on an up device whose operstate is up or
    // unknown (netif_oper_up).
    if oper == "up" || oper == "unknown" {
        (true, oper)
    } else {
        (false, format!("not running (operstate {oper})"))
    }
}

/// One worker's health.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerHealth {
    /// Worker index.
    pub id: usize,
    /// Core, if pinned.
    pub core: Option<usize>,
    /// Rounds completed (as last published).
    pub rounds: u64,
    /// Time since its last completed round, as last published (`None`:
    /// no round yet).
    pub last_round_age: Option<Duration>,
    /// No round for longer than the stall timeout (counted from the
    /// engine's start before the first round).
    pub stalled: bool,
    /// Snapshot generation in use.
    pub generation: u64,
    /// On an older snapshot than the one in force, though its last round
    /// ended more than [`SNAPSHOT_GRACE`] after that one was published.
    pub behind: bool,
}

impl WorkerHealth {
    fn who(&self) -> String {
        match self.core {
            Some(c) => format!("worker {} (core {c})", self.id),
            None => format!("worker {}", self.id),
        }
    }
}

/// Liveness and readiness at one moment (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// A worker failed: the engine is stopping.
    pub stopping: bool,
    /// `[engine] stall_timeout_ms`.
    pub stall_timeout: Duration,
    /// Every worker.
    pub workers: Vec<WorkerHealth>,
    /// Every port.
    pub ports: Vec<PortState>,
    /// The snapshot generation in force.
    pub generation: u64,
}

impl Health {
    /// Judges `samples` at `now`; `started` is the engine's start;
    /// `generation` is the snapshot in force, `published` when it was
    /// published (`None`: any worker on another one is behind).
    #[allow(clippy::too_many_arguments)]
    pub fn evaluate(
        samples: &[WorkerSample],
        started: Instant,
        now: Instant,
        stall_timeout: Duration,
        generation: u64,
        published: Option<Instant>,
        ports: Vec<PortState>,
        stopping: bool,
    ) -> Health {
        let workers = samples
            .iter()
            .map(|w| {
                let since = now.saturating_duration_since(w.last_round.unwrap_or(started));
                WorkerHealth {
                    id: w.id,
                    core: w.core,
                    rounds: w.rounds,
                    last_round_age: w.last_round.map(|_| since),
                    stalled: since > stall_timeout,
                    generation: w.generation,
                    behind: w.generation != generation
                        && match (w.last_round, published) {
                            (Some(t), Some(p)) => t > p + SNAPSHOT_GRACE,
                            _ => true,
                        },
                }
            })
            .collect();
        Health {
            stopping,
            stall_timeout,
            workers,
            ports,
            generation,
        }
    }

    /// The health of the running `engine` now, with snapshot `generation`
    /// (published at `published`) in force, for `ports`.
    pub fn now(
        engine: &EngineHandle,
        (generation, published): (u64, Option<Instant>),
        ports: &[ResolvedPort],
        stall_timeout: Duration,
    ) -> Health {
        Health::evaluate(
            &engine.workers(),
            engine.started(),
            Instant::now(),
            stall_timeout,
            generation,
            published,
            port_states(ports, &engine.stats()),
            engine.stopping(),
        )
    }

    /// Why it is not live (empty: live).
    pub fn not_live(&self) -> Vec<String> {
        let mut why = Vec::new();
        if self.stopping {
            why.push("engine stopping: a worker failed".to_string());
        }
        for w in self.workers.iter().filter(|w| w.stalled) {
            let limit = self.stall_timeout.as_millis();
            why.push(match w.last_round_age {
                Some(a) => format!(
                    "{}: stalled: no polling round for {} ms (stall_timeout_ms {limit})",
                    w.who(),
                    a.as_millis()
                ),
                None => format!(
                    "{}: stalled: no polling round since the start (stall_timeout_ms {limit})",
                    w.who()
                ),
            });
        }
        why
    }

    /// Why it is not ready (empty: ready); includes [`Health::not_live`].
    pub fn not_ready(&self) -> Vec<String> {
        let mut why = self.not_live();
        for w in &self.workers {
            if w.last_round_age.is_none() && !w.stalled {
                why.push(format!("{}: no polling round yet", w.who()));
            } else if w.behind && !w.stalled {
                why.push(format!(
                    "{}: on snapshot {}, not {} yet (configuration not applied)",
                    w.who(),
                    w.generation,
                    self.generation
                ));
            }
        }
        for p in self.ports.iter().filter(|p| !p.up) {
            why.push(format!(
                "port {} ({} {}): not up: {}",
                p.name, p.backend, p.device, p.state
            ));
        }
        why
    }

    /// Live: no stalled worker, not stopping.
    pub fn live(&self) -> bool {
        self.not_live().is_empty()
    }

    /// Ready: live, forwarding on the configuration in force, ports up.
    pub fn ready(&self) -> bool {
        self.not_ready().is_empty()
    }

    /// The `/healthz` answer.
    pub fn liveness(&self) -> Probe {
        let why = self.not_live();
        if why.is_empty() {
            Probe {
                ok: true,
                body: format!("ok: {} worker(s) polling\n", self.workers.len()),
            }
        } else {
            Probe {
                ok: false,
                body: lines(&why),
            }
        }
    }

    /// The `/readyz` answer.
    pub fn readiness(&self) -> Probe {
        let why = self.not_ready();
        if why.is_empty() {
            Probe {
                ok: true,
                body: format!(
                    "ready: {} worker(s) forwarding on snapshot {}, {} port(s) up\n",
                    self.workers.len(),
                    self.generation,
                    self.ports.len()
                ),
            }
        } else {
            Probe {
                ok: false,
                body: lines(&why),
            }
        }
    }

    /// The fields `/health` adds to its reply: `live`, `ready`,
    /// `not_live`, `not_ready` (the findings), `stall_timeout_ms`,
    /// `worker_health` (per worker: `id`, `core`, `rounds`,
    /// `last_round_age_ms` (null before the first round), `stalled`,
    /// `snapshot`) and `ports` (per port: `name`, `backend`, `device`,
    /// `up`, `state`).
    pub fn json_fields(&self) -> serde_json::Map<String, Value> {
        let (not_live, not_ready) = (self.not_live(), self.not_ready());
        let ms = |d: Duration| (d.as_secs_f64() * 1e4).round() / 10.0;
        let v = json!({
            "live": not_live.is_empty(),
            "ready": not_ready.is_empty(),
            "not_live": not_live,
            "not_ready": not_ready,
            "stall_timeout_ms": self.stall_timeout.as_millis() as u64,
            "worker_health": self.workers.iter().map(|w| json!({
                "id": w.id,
                "core": w.core,
                "rounds": w.rounds,
                "last_round_age_ms": w.last_round_age.map(ms),
                "stalled": w.stalled,
                "snapshot": w.generation,
            })).collect::<Vec<_>>(),
            "ports": self.ports.iter().map(|p| json!({
                "name": p.name,
                "backend": p.backend,
                "device": p.device,
                "up": p.up,
                "state": p.state,
            })).collect::<Vec<_>>(),
        });
        match v {
            Value::Object(m) => m,
            _ => unreachable!("json! of an object"),
        }
    }
}

fn lines(why: &[String]) -> String {
    let mut s = String::new();
    for w in why {
        let _ = writeln!(s, "{w}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: usize, last_round: Option<Instant>, generation: u64) -> WorkerSample {
        WorkerSample {
            id,
            core: Some(id + 2),
            rounds: 5,
            generation,
            last_round,
            ..WorkerSample::default()
        }
    }

    fn port(name: &str, up: bool) -> PortState {
        PortState {
            name: name.into(),
            backend: "af_packet",
            device: format!("veth-{name}"),
            up,
            state: if up { "up" } else { "lowerlayerdown" }.into(),
        }
    }

    #[test]
    fn stalls_ports_and_snapshots_decide_liveness_and_readiness() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(10);
        let timeout = Duration::from_millis(1000);
        let fresh = Some(now - Duration::from_millis(5));
        let h = Health::evaluate(
            &[sample(0, fresh, 3), sample(1, fresh, 3)],
            t0,
            now,
            timeout,
            3,
            None,
            vec![port("a", true)],
            false,
        );
        assert!(h.live() && h.ready(), "{:?}", h.not_ready());
        assert_eq!(h.liveness().body, "ok: 2 worker(s) polling\n");
        assert_eq!(
            h.readiness().body,
            "ready: 2 worker(s) forwarding on snapshot 3, 1 port(s) up\n"
        );

        // Worker 1 stalled 1.5 s ago; port b down; worker 0 behind a
        // snapshot.
        let h = Health::evaluate(
            &[
                sample(0, fresh, 2),
                sample(1, Some(now - Duration::from_millis(1500)), 3),
            ],
            t0,
            now,
            timeout,
            3,
            None,
            vec![port("a", true), port("b", false)],
            false,
        );
        let live = h.liveness();
        assert!(!live.ok);
        assert_eq!(
            live.body,
            "worker 1 (core 3): stalled: no polling round for 1500 ms (stall_timeout_ms 1000)\n"
        );
        let ready = h.readiness();
        assert!(!ready.ok);
        assert_eq!(
            ready.body,
            "worker 1 (core 3): stalled: no polling round for 1500 ms (stall_timeout_ms 1000)\n\
             worker 0 (core 2): on snapshot 2, not 3 yet (configuration not applied)\n\
             port b (af_packet veth-b): not up: lowerlayerdown\n"
        );
        // Behind only when its last round ended well after the snapshot in
        // force was published: a stream of route changes keeps every
        // worker a few generations back at its last heartbeat.
        let behind = |published: Duration| {
            Health::evaluate(
                &[sample(0, fresh, 2)],
                t0,
                now,
                timeout,
                3,
                Some(now - published),
                vec![],
                false,
            )
        };
        assert!(behind(Duration::from_millis(1)).ready());
        let late = behind(Duration::from_secs(2));
        assert_eq!(
            late.not_ready(),
            ["worker 0 (core 2): on snapshot 2, not 3 yet (configuration not applied)"]
        );
        let j = h.json_fields();
        assert_eq!(j["live"], false);
        assert_eq!(j["worker_health"][1]["stalled"], true);
        assert_eq!(j["worker_health"][1]["last_round_age_ms"], 1500.0);
        assert_eq!(j["ports"][1]["up"], false);
    }

    #[test]
    fn a_worker_without_a_round_is_not_ready_then_stalled() {
        let t0 = Instant::now();
        let timeout = Duration::from_millis(1000);
        let at = |ms| {
            Health::evaluate(
                &[sample(0, None, 1)],
                t0,
                t0 + Duration::from_millis(ms),
                timeout,
                1,
                None,
                vec![],
                false,
            )
        };
        let early = at(50);
        assert!(early.live());
        assert_eq!(
            early.not_ready(),
            ["worker 0 (core 2): no polling round yet"]
        );
        let late = at(1200);
        assert_eq!(
            late.not_live(),
            ["worker 0 (core 2): stalled: no polling round since the start (stall_timeout_ms 1000)"]
        );
        assert_eq!(
            late.json_fields()["worker_health"][0]["last_round_age_ms"],
            Value::Null
        );
        let stopping = Health {
            stopping: true,
            ..at(50)
        };
        assert_eq!(stopping.not_live(), ["engine stopping: a worker failed"]);
    }

    #[test]
    fn interfaces_are_read_from_sysfs() {
        assert_eq!(
            interface_state("lo").0,
            Path::new("/sys/class/net/lo").exists()
        );
        assert_eq!(
            interface_state("cnfwd-no-such-if"),
            (false, "missing".to_string())
        );
        assert_eq!(interface_state("../x"), (false, "invalid name".to_string()));
    }
}

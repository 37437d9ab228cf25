//! DPDK's standard telemetry endpoints on cnfwd's management socket, so
//! that `dpdk-telemetry.py` and DPDK exporters (telegraf's `dpdk` input,
//! collectd, Prometheus exporters of DPDK telemetry) work unchanged:
//!
//! | command | reply (DPDK 22.11's fields) |
//! | --- | --- |
//! | `/ethdev/list` | the port ids: cnfwd's ports in configuration order (`/ports` order), `0..n` |
//! | `/ethdev/stats,<id>` | `ipackets`, `opackets`, `ibytes`, `obytes`, `imissed`, `ierrors`, `oerrors`, `rx_nombuf`, `q_ipackets` ... `q_errors` (16 entries each) |
//! | `/ethdev/xstats,<id>` | every extended statistic, then cnfwd's own `cnfwd_*` counters of the port |
//! | `/ethdev/info,<id>` | `name`, `state`, `nb_rx_queues`, `nb_tx_queues`, `port_id`, `mtu`, `rx_mbuf_size_min`, `mac_addr`, `promiscuous`, `scattered_rx`, `all_multicast`, `dev_started`, `lro`, `dev_configured`, `rxq_state`, `txq_state`, `numa_node`, `dev_flags`, `rx_offloads`, `tx_offloads`, `ethdev_rss_hf` |
//! | `/ethdev/link_status,<id>` | `{"status": "UP", "speed": Mb/s, "duplex": "full-duplex"}` or `{"status": "DOWN"}` |
//! | `/eal/params` | the EAL arguments, program name first (`["cnfwd"]` without DPDK) |
//! | `/eal/app_params` | cnfwd's own command line after the program name |
//!
//! Parameters are plain, as DPDK takes them: `/ethdev/stats,0`, not JSON.
//! A port id is parsed as DPDK's `strtoul(params, 0)` does (decimal, `0x`
//! hex, leading zero octal; text after the number ignored); a missing,
//! non-numeric or unknown id gets an error reply where DPDK answers
//! `null`. `/routes,red` (a bare word) lists VRF `red`'s routes.
//!
//! Values: on DPDK ports they come from the device through
//! [`DeviceTelemetry`] (`rte_eth_stats_get`, `rte_eth_xstats_get`,
//! `rte_eth_dev_info_get`, `rte_eth_link_get_nowait`). On other backends
//! from cnfwd's counters, which are cumulative since start, never reset
//! by `/stats/clear` (exporters compute rates from them): `ipackets` /
//! `ibytes` / `opackets` / `obytes` the port's, `imissed` the kernel's
//! ring drops (`PACKET_STATISTICS`), `ierrors` the frames received that
//! were not frames (`rx_unconvertible`), `oerrors` and `rx_nombuf` 0; queue
//! `i` is worker `i`'s share; `name` the interface, `link_status` the
//! link cnfwd watches with the interface's speed and duplex from sysfs.
//!
//! [`Ethdev`] wraps cnfwd's [`Commands`] as one [`Handler`]: these
//! commands first, everything else to `Commands`. It also logs every write
//! command once, with its (cut) parameters, the peer and the outcome:
//! `info` when it took effect, `warn` when it failed.

use std::fs;

use cnfwd_config::{PortBackend, PortId};
use serde_json::{json, Map, Value};

use super::commands::Commands;
use super::telemetry::{Access, CommandError, CommandInfo, Handler, Params, Peer};
use crate::io::DeviceTelemetry;
use crate::pipeline::DropReason;
use crate::stats::Stats;

/// `RTE_ETHDEV_QUEUE_STAT_CNTRS`: entries in each `q_*` array.
pub const QUEUE_STAT_COUNTERS: usize = 16;

/// The commands [`Ethdev`] adds, with DPDK's help texts.
pub const COMMANDS: [CommandInfo; 7] = [
    CommandInfo {
        name: "/ethdev/list",
        help: "Returns list of available ethdev ports. Takes no parameters",
        access: Access::Read,
    },
    CommandInfo {
        name: "/ethdev/stats",
        help: "Returns the common stats for a port. Parameters: int port_id",
        access: Access::Read,
    },
    CommandInfo {
        name: "/ethdev/xstats",
        help: "Returns the extended stats for a port. Parameters: int port_id",
        access: Access::Read,
    },
    CommandInfo {
        name: "/ethdev/info",
        help: "Returns the device info for a port. Parameters: int port_id",
        access: Access::Read,
    },
    CommandInfo {
        name: "/ethdev/link_status",
        help: "Returns the link status for a port. Parameters: int port_id",
        access: Access::Read,
    },
    CommandInfo {
        name: "/eal/params",
        help: "Returns EAL commandline parameters used. Takes no parameters",
        access: Access::Read,
    },
    CommandInfo {
        name: "/eal/app_params",
        help: "Returns app commandline parameters used. Takes no parameters",
        access: Access::Read,
    },
];

/// `inner`'s commands followed by [`COMMANDS`] (a command `inner` already
/// has is not added twice): what [`Ethdev::commands`] should list. Build it
/// once and keep it.
pub fn all_commands(inner: &[CommandInfo]) -> Vec<CommandInfo> {
    let mut all = inner.to_vec();
    for c in COMMANDS {
        if !all.iter().any(|x| x.name == c.name) {
            all.push(c);
        }
    }
    all
}

/// cnfwd's commands plus DPDK's ethdev and EAL endpoints (module doc).
pub struct Ethdev<'a, 'b> {
    /// cnfwd's own commands, which every other command goes to.
    pub commands: &'a mut Commands<'b>,
    /// [`all_commands`] of `commands`.
    pub all: &'a [CommandInfo],
    /// The devices, when the ports are DPDK ethdevs.
    pub devices: Option<&'a dyn DeviceTelemetry>,
}

impl Handler for Ethdev<'_, '_> {
    fn commands(&self) -> &[CommandInfo] {
        self.all
    }

    fn call(
        &mut self,
        command: &str,
        params: Params<'_>,
        peer: &Peer,
    ) -> Result<Value, CommandError> {
        match command {
            "/ethdev/list" => Ok(Value::from((0..self.port_count()).collect::<Vec<usize>>())),
            "/ethdev/stats" => {
                let p = self.port(params)?;
                self.device_reply(p, |d| d.stats(p))
                    .unwrap_or_else(|| Ok(self.stats(p)))
            }
            "/ethdev/xstats" => {
                let p = self.port(params)?;
                let mut x = match self.devices.and_then(|d| d.xstats(p)) {
                    Some(Value::Object(m)) => m,
                    _ if self.devices.is_some() => {
                        return Err(CommandError::failed(format!(
                            "port {p}: the device gave no extended statistics"
                        )))
                    }
                    _ => self.generic_xstats(p),
                };
                x.extend(self.cnfwd_xstats(p));
                Ok(Value::Object(x))
            }
            "/ethdev/info" => {
                let p = self.port(params)?;
                self.device_reply(p, |d| d.info(p))
                    .unwrap_or_else(|| Ok(self.info(p)))
            }
            "/ethdev/link_status" => {
                let p = self.port(params)?;
                self.device_reply(p, |d| d.link_status(p))
                    .unwrap_or_else(|| Ok(self.link_status(p)))
            }
            "/eal/params" => Ok(Value::from(
                self.devices
                    .map_or_else(|| vec!["cnfwd".to_string()], |d| d.eal_params()),
            )),
            "/eal/app_params" => Ok(Value::from(std::env::args().skip(1).collect::<Vec<_>>())),
            "/routes" => match bare_word(params) {
                // `/routes,red`: the VRF, as DPDK-style plain parameters.
                Some(vrf) => {
                    let as_json = json!({ "vrf": vrf }).to_string();
                    self.commands
                        .call(command, Params::new(Some(&as_json)), peer)
                }
                None => self.commands.call(command, params, peer),
            },
            _ => {
                let write = self
                    .all
                    .iter()
                    .any(|c| c.name == command && c.access == Access::Write);
                let result = self.commands.call(command, params, peer);
                if write {
                    log_change(command, params, peer, &result);
                }
                result
            }
        }
    }
}

/// Longest parameter text quoted in a log line (a `/config/apply` carries
/// a whole file).
const MAX_LOGGED_PARAMS: usize = 200;

/// Logs a write command once: `info` when it changed something, `warn`
/// when it was refused, with who asked (a client's own rate of requests
/// bounds these; reads are not logged).
fn log_change(
    command: &str,
    params: Params<'_>,
    peer: &Peer,
    result: &Result<Value, CommandError>,
) {
    let raw = params.raw().unwrap_or("");
    let mut end = raw.len().min(MAX_LOGGED_PARAMS);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    let shown = if end < raw.len() {
        format!("{}... ({} bytes)", &raw[..end], raw.len())
    } else {
        raw.to_string()
    };
    match result {
        Ok(_) => tracing::info!(
            command,
            params = %shown,
            uid = peer.uid,
            pid = peer.pid,
            "control: {command} done for uid {} pid {}",
            peer.uid,
            peer.pid
        ),
        Err(e) => tracing::warn!(
            command,
            params = %shown,
            uid = peer.uid,
            pid = peer.pid,
            error = %e,
            "control: {command} failed for uid {} pid {}: {e}",
            peer.uid,
            peer.pid
        ),
    }
}

/// The parameter text when it is a bare word (not JSON): trimmed, non-empty,
/// not starting with `{`, `[` or `"`.
pub fn bare_word(params: Params<'_>) -> Option<&str> {
    let raw = params.raw()?.trim();
    (!raw.is_empty() && !raw.starts_with(['{', '[', '"'])).then_some(raw)
}

/// A port id as DPDK's `eth_dev_parse_port_params` reads it: the text must
/// start with a digit; `strtoul(text, 0)` (so `0x1f` and `017` too); what
/// follows the number is ignored.
pub fn parse_port_id(params: Option<&str>) -> Result<u16, CommandError> {
    let text = params.unwrap_or("");
    let usage = || {
        CommandError::failed(format!(
            "expected a port id (e.g. /ethdev/stats,0; /ethdev/list lists them), got {:?}",
            text
        ))
    };
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(usage());
    }
    let (digits, radix) = if let Some(h) = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .filter(|h| h.starts_with(|c: char| c.is_ascii_hexdigit()))
    {
        (h, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        (&text[1..], 8)
    } else {
        (text, 10)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let value = if end == 0 {
        0
    } else {
        u64::from_str_radix(&digits[..end], radix).unwrap_or(u64::MAX)
    };
    if value >= u64::from(u16::MAX) {
        return Err(CommandError::failed(format!(
            "port id {text:?}: out of range (ports are 0..{})",
            u16::MAX
        )));
    }
    Ok(value as u16)
}

impl Ethdev<'_, '_> {
    fn port_count(&self) -> usize {
        self.commands.state.resolved.ports.len()
    }

    fn port(&self, params: Params<'_>) -> Result<PortId, CommandError> {
        let id = parse_port_id(params.raw())?;
        if usize::from(id) >= self.port_count() {
            return Err(CommandError::failed(format!(
                "port {id}: no such port (ports are 0..{}; /ethdev/list)",
                self.port_count()
            )));
        }
        Ok(id)
    }

    /// `Some(reply)` on DPDK ports: the device's answer, or an error when
    /// it cannot say; `None` on other backends.
    fn device_reply(
        &self,
        port: PortId,
        read: impl FnOnce(&dyn DeviceTelemetry) -> Option<Value>,
    ) -> Option<Result<Value, CommandError>> {
        let d = self.devices?;
        Some(
            read(d).ok_or_else(|| {
                CommandError::failed(format!("port {port}: the device did not answer"))
            }),
        )
    }

    fn totals(&self) -> Stats {
        self.commands.engine.stats()
    }

    fn stats(&self, port: PortId) -> Value {
        let s = self.totals();
        let i = usize::from(port);
        let c = s.ports.get(i).cloned().unwrap_or_default();
        let device = s.link.get(i).map(|l| l.device).unwrap_or_default();
        let workers = self.commands.engine.workers();
        let queue = |f: fn(&crate::stats::Counters) -> u64| -> Vec<u64> {
            let mut q = vec![0u64; QUEUE_STAT_COUNTERS];
            for w in &workers {
                if let (Some(slot), Some(pc)) = (q.get_mut(w.id), w.stats.ports.get(i)) {
                    *slot = f(pc);
                }
            }
            q
        };
        json!({
            "ipackets": c.rx_packets,
            "opackets": c.tx_packets,
            "ibytes": c.rx_bytes,
            "obytes": c.tx_bytes,
            "imissed": device.rx_missed(),
            "ierrors": c.drops[DropReason::RxUnconvertible as usize],
            "oerrors": device.oerrors.unwrap_or(0),
            "rx_nombuf": device.rx_nombuf.unwrap_or(0),
            "q_ipackets": queue(|c| c.rx_packets),
            "q_opackets": queue(|c| c.tx_packets),
            "q_ibytes": queue(|c| c.rx_bytes),
            "q_obytes": queue(|c| c.tx_bytes),
            "q_errors": vec![0u64; QUEUE_STAT_COUNTERS],
        })
    }

    /// DPDK's generic xstats (`eth_dev_stats_strings` and the per-queue
    /// ones), from [`Ethdev::stats`].
    fn generic_xstats(&self, port: PortId) -> Map<String, Value> {
        let st = self.stats(port);
        let n = |k: &str| st[k].as_u64().unwrap_or(0);
        let mut m = Map::new();
        for (name, key) in [
            ("rx_good_packets", "ipackets"),
            ("tx_good_packets", "opackets"),
            ("rx_good_bytes", "ibytes"),
            ("tx_good_bytes", "obytes"),
            ("rx_missed_errors", "imissed"),
            ("rx_errors", "ierrors"),
            ("tx_errors", "oerrors"),
            ("rx_mbuf_allocation_errors", "rx_nombuf"),
        ] {
            m.insert(name.into(), n(key).into());
        }
        let queues = self
            .commands
            .engine
            .workers()
            .len()
            .min(QUEUE_STAT_COUNTERS);
        let q = |k: &str, i: usize| st[k][i].as_u64().unwrap_or(0);
        for i in 0..queues {
            m.insert(format!("rx_q{i}_packets"), q("q_ipackets", i).into());
            m.insert(format!("rx_q{i}_bytes"), q("q_ibytes", i).into());
            m.insert(format!("rx_q{i}_errors"), q("q_errors", i).into());
        }
        for i in 0..queues {
            m.insert(format!("tx_q{i}_packets"), q("q_opackets", i).into());
            m.insert(format!("tx_q{i}_bytes"), q("q_obytes", i).into());
        }
        m
    }

    /// cnfwd's own counters of the port as xstats: every drop reason
    /// (`cnfwd_drop_<reason>`, by ingress port), the offloads honoured
    /// (`cnfwd_<counter>`), the link changes (`cnfwd_link_<change>`) and
    /// the device counters (`cnfwd_<name>`).
    fn cnfwd_xstats(&self, port: PortId) -> Map<String, Value> {
        let s = self.totals();
        let i = usize::from(port);
        let mut m = Map::new();
        let c = s.ports.get(i).cloned().unwrap_or_default();
        for (&r, &n) in DropReason::ALL.iter().zip(c.drops.iter()) {
            m.insert(format!("cnfwd_drop_{}", r.name()), n.into());
        }
        for (k, n) in s.offload.get(i).copied().unwrap_or_default().named() {
            m.insert(format!("cnfwd_{k}"), n.into());
        }
        let link = s.link.get(i).copied().unwrap_or_default();
        for (k, n) in link.named() {
            m.insert(format!("cnfwd_link_{k}"), n.into());
        }
        for (k, n) in link.device.named() {
            m.insert(format!("cnfwd_{k}"), n.into());
        }
        m
    }

    fn info(&self, port: PortId) -> Value {
        let i = usize::from(port);
        let r = &self.commands.state.resolved;
        let p = &r.ports[i];
        let t = self.commands.snapshots.current();
        let mac = t.ports.get(i).map_or([0; 6], |e| e.mac);
        let queues = self.commands.engine.workers().len();
        let (name, numa) = match &p.backend {
            PortBackend::AfPacket { interface } => (
                interface.clone(),
                p.numa_node
                    .map(i64::from)
                    .unwrap_or_else(|| sysfs_numa(interface)),
            ),
            PortBackend::Dpdk { device } => (device.clone(), p.numa_node.map_or(-1, i64::from)),
            PortBackend::Pcap { rx, .. } => (
                rx.clone().unwrap_or_else(|| p.name.clone()),
                p.numa_node.map_or(-1, i64::from),
            ),
        };
        let promisc = u8::from(matches!(p.backend, PortBackend::AfPacket { .. }));
        json!({
            "name": name,
            "state": 1,
            "nb_rx_queues": queues,
            "nb_tx_queues": queues,
            "port_id": port,
            "mtu": p.mtu,
            "rx_mbuf_size_min": 0,
            "mac_addr": format!(
                "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
                mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
            ),
            "promiscuous": promisc,
            "scattered_rx": 0,
            "all_multicast": promisc,
            "dev_started": 1,
            "lro": 0,
            "dev_configured": 1,
            "rxq_state": vec![1; queues],
            "txq_state": vec![1; queues],
            "numa_node": numa,
            "dev_flags": 0,
            "rx_offloads": 0,
            "tx_offloads": 0,
            "ethdev_rss_hf": 0,
        })
    }

    fn link_status(&self, port: PortId) -> Value {
        let i = usize::from(port);
        let up = self.totals().link_state(i) == crate::io::LinkState::Up;
        let (speed, full) = match &self.commands.state.resolved.ports[i].backend {
            PortBackend::AfPacket { interface } => sysfs_speed(interface),
            _ => (0, true),
        };
        link_json(up, speed, full)
    }
}

/// DPDK's `/ethdev/link_status` object: `{"status": "DOWN"}`, or `UP` with
/// the speed (Mb/s) and `full-duplex` / `half-duplex`.
pub fn link_json(up: bool, speed: u32, full_duplex: bool) -> Value {
    if up {
        json!({
            "status": "UP",
            "speed": speed,
            "duplex": if full_duplex { "full-duplex" } else { "half-duplex" },
        })
    } else {
        json!({"status": "DOWN"})
    }
}

/// The interface's NUMA node from sysfs (`-1`: unknown, as DPDK says).
fn sysfs_numa(interface: &str) -> i64 {
    fs::read_to_string(format!("/sys/class/net/{interface}/device/numa_node"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(-1)
}

/// The interface's speed (Mb/s; 0 when unknown, DPDK's
/// `RTE_ETH_SPEED_NUM_NONE`) and whether it is full duplex (sysfs; a
/// virtual interface without a duplex counts as full).
fn sysfs_speed(interface: &str) -> (u32, bool) {
    let read = |f: &str| fs::read_to_string(format!("/sys/class/net/{interface}/{f}")).ok();
    let speed = read("speed")
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| u32::try_from(s).ok())
        .unwrap_or(0);
    let full = read("duplex").is_none_or(|d| d.trim() != "half");
    (speed, full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ids_parse_as_dpdk_parses_them() {
        assert_eq!(parse_port_id(Some("0")).unwrap(), 0);
        assert_eq!(parse_port_id(Some("12")).unwrap(), 12);
        assert_eq!(parse_port_id(Some("0x1f")).unwrap(), 31);
        assert_eq!(parse_port_id(Some("017")).unwrap(), 15);
        // Text after the number is ignored, as DPDK does.
        assert_eq!(parse_port_id(Some("1,extra")).unwrap(), 1);
        for bad in [
            None,
            Some(""),
            Some(" 0"),
            Some("x"),
            Some("-1"),
            Some("65535"),
        ] {
            assert!(parse_port_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bare_words_are_told_from_json() {
        assert_eq!(bare_word(Params::new(Some("red"))), Some("red"));
        assert_eq!(bare_word(Params::new(Some(" red "))), Some("red"));
        assert_eq!(bare_word(Params::new(Some(r#"{"vrf":"red"}"#))), None);
        assert_eq!(bare_word(Params::new(Some("  "))), None);
        assert_eq!(bare_word(Params::new(None)), None);
    }

    #[test]
    fn every_command_is_listed_once() {
        let inner = [COMMANDS[1]];
        let all = all_commands(&inner);
        assert_eq!(all.len(), COMMANDS.len());
        assert_eq!(all[0].name, "/ethdev/stats");
    }
}

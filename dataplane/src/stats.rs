//! Counters: per port, per network, per drop reason. One [`Stats`] per
//! worker, written only by that worker; one JSON shape everywhere.

use cnfwd_config::{NetworkId, PortId};
use serde_json::{json, Map, Value};

use crate::csn::{CsnCounter, CsnCounters};
use crate::io::{LinkState, OffloadCounters, PortLink};
use crate::pipeline::drop::DropReason;
use crate::slow::{SlowCounter, SlowCounters};
use crate::tables::Tables;

/// Packet and byte counters of one port or network, plus its drops.
#[derive(Debug, Clone, PartialEq, Eq)]
#[repr(align(64))]
pub struct Counters {
    /// Frames received (port) or classified to it (network).
    pub rx_packets: u64,
    /// Bytes of those frames, as received.
    pub rx_bytes: u64,
    /// Frames sent (port) or sent out on it (network).
    pub tx_packets: u64,
    /// Bytes of those frames, as sent.
    pub tx_bytes: u64,
    /// Drops by reason (index = `DropReason as usize`).
    pub drops: [u64; DropReason::COUNT],
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            rx_packets: 0,
            rx_bytes: 0,
            tx_packets: 0,
            tx_bytes: 0,
            drops: [0; DropReason::COUNT],
        }
    }
}

impl Counters {
    /// Sum of all drops.
    pub fn dropped(&self) -> u64 {
        self.drops.iter().sum()
    }
}

/// All counters of one worker (or the sum of several).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// By port id.
    pub ports: Vec<Counters>,
    /// By network id.
    pub networks: Vec<Counters>,
    /// Extra frames made by flooding (a packet flooded to 3 ports adds 2),
    /// so that `rx + replicated = tx + dropped` always.
    pub replicated: u64,
    /// The CSN module's counters (flows, learning, DNS parse errors, holds).
    pub csn: CsnCounters,
    /// Frames cnfwd originated (ICMP errors, echo replies routed anew, ARP
    /// requests, NS, announcements, probes), so that
    /// `rx + replicated + generated = tx + dropped` (plus packets held).
    pub generated: u64,
    /// IPv4 packets sent as fragments (each split into `fragments`
    /// frames); a fragmented packet adds `fragments - fragmented` frames, so
    /// that `rx + replicated + generated + fragments - fragmented = tx +
    /// dropped` ([`Stats::added`]).
    pub fragmented: u64,
    /// Fragments sent for the `fragmented` packets (all pieces, the first
    /// included).
    pub fragments: u64,
    /// The slow path's counters.
    pub slow: SlowCounters,
    /// Per port (by id): receive offloads honoured (AF_PACKET: checksums
    /// completed, GSO frames cut).
    pub offload: Vec<OffloadCounters>,
    /// Per port (by id): its link as the backend last saw it and how often
    /// it changed (always up for captures and memory ports). Summed over
    /// workers with [`PortLink::merge`]: a port is up when every worker
    /// has it up.
    pub link: Vec<PortLink>,
}

impl Stats {
    /// Frames that left or were dropped beyond those received: flood
    /// copies, frames cnfwd generated, and the extra pieces of fragmented
    /// packets; `rx + added = tx + dropped` once nothing is held.
    pub fn added(&self) -> u64 {
        self.replicated + self.generated + self.fragments.saturating_sub(self.fragmented)
    }

    /// Counts one drop for `reason` on port `port` and network `network`
    /// (ids out of range are not counted there).
    pub fn count_drop(&mut self, port: PortId, network: NetworkId, reason: DropReason) {
        if let Some(c) = self.ports.get_mut(port as usize) {
            c.drops[reason as usize] += 1;
        }
        if let Some(c) = self.networks.get_mut(network as usize) {
            c.drops[reason as usize] += 1;
        }
    }

    /// Zeroed counters for `ports` ports and `networks` networks.
    pub fn new(ports: usize, networks: usize) -> Self {
        Self {
            ports: vec![Counters::default(); ports],
            networks: vec![Counters::default(); networks],
            replicated: 0,
            csn: CsnCounters::default(),
            generated: 0,
            fragmented: 0,
            fragments: 0,
            slow: SlowCounters::default(),
            offload: vec![OffloadCounters::default(); ports],
            link: vec![PortLink::default(); ports],
        }
    }

    /// Adds `other` into `self` (summing workers), growing `self` to
    /// `other`'s port and network count.
    pub fn add(&mut self, other: &Stats) {
        fn sum(into: &mut Vec<Counters>, from: &[Counters]) {
            if into.len() < from.len() {
                into.resize(from.len(), Counters::default());
            }
            for (a, b) in into.iter_mut().zip(from) {
                a.rx_packets += b.rx_packets;
                a.rx_bytes += b.rx_bytes;
                a.tx_packets += b.tx_packets;
                a.tx_bytes += b.tx_bytes;
                for (x, y) in a.drops.iter_mut().zip(b.drops.iter()) {
                    *x += y;
                }
            }
        }
        sum(&mut self.ports, &other.ports);
        sum(&mut self.networks, &other.networks);
        self.replicated += other.replicated;
        self.generated += other.generated;
        self.fragmented += other.fragmented;
        self.fragments += other.fragments;
        self.slow.add_all(&other.slow);
        if self.offload.len() < other.offload.len() {
            self.offload
                .resize(other.offload.len(), OffloadCounters::default());
        }
        for (a, b) in self.offload.iter_mut().zip(&other.offload) {
            a.add(b);
        }
        if self.link.len() < other.link.len() {
            self.link.resize(other.link.len(), PortLink::default());
        }
        for (a, b) in self.link.iter_mut().zip(&other.link) {
            a.merge(b);
        }
        for (a, b) in self.csn.0.iter_mut().zip(other.csn.0.iter()) {
            *a += b;
        }
    }

    /// `self - base`, counter by counter (saturating: counters only grow, a
    /// shorter `base` counts as zeros). Used for "since the last clear".
    pub fn since(&self, base: &Stats) -> Stats {
        fn diff(now: &[Counters], base: &[Counters]) -> Vec<Counters> {
            now.iter()
                .enumerate()
                .map(|(i, c)| match base.get(i) {
                    None => c.clone(),
                    Some(b) => {
                        let mut d = Counters {
                            rx_packets: c.rx_packets.saturating_sub(b.rx_packets),
                            rx_bytes: c.rx_bytes.saturating_sub(b.rx_bytes),
                            tx_packets: c.tx_packets.saturating_sub(b.tx_packets),
                            tx_bytes: c.tx_bytes.saturating_sub(b.tx_bytes),
                            ..Counters::default()
                        };
                        for ((x, y), z) in d.drops.iter_mut().zip(&c.drops).zip(&b.drops) {
                            *x = y.saturating_sub(*z);
                        }
                        d
                    }
                })
                .collect()
        }
        Stats {
            ports: diff(&self.ports, &base.ports),
            networks: diff(&self.networks, &base.networks),
            replicated: self.replicated.saturating_sub(base.replicated),
            generated: self.generated.saturating_sub(base.generated),
            fragmented: self.fragmented.saturating_sub(base.fragmented),
            fragments: self.fragments.saturating_sub(base.fragments),
            offload: self
                .offload
                .iter()
                .enumerate()
                .map(|(i, o)| o.since(&base.offload.get(i).copied().unwrap_or_default()))
                .collect(),
            link: self
                .link
                .iter()
                .enumerate()
                .map(|(i, l)| l.since(&base.link.get(i).copied().unwrap_or_default()))
                .collect(),
            slow: {
                let mut c = SlowCounters::default();
                for ((x, y), z) in c.0.iter_mut().zip(&self.slow.0).zip(&base.slow.0) {
                    *x = y.saturating_sub(*z);
                }
                c
            },
            csn: {
                let mut c = CsnCounters::default();
                for ((x, y), z) in c.0.iter_mut().zip(&self.csn.0).zip(&base.csn.0) {
                    *x = y.saturating_sub(*z);
                }
                c
            },
        }
    }

    /// Drops by reason over all ports.
    pub fn drops(&self) -> [u64; DropReason::COUNT] {
        let mut d = [0; DropReason::COUNT];
        for p in &self.ports {
            for (a, b) in d.iter_mut().zip(p.drops.iter()) {
                *a += b;
            }
        }
        d
    }

    /// `port`'s link state (up when unknown).
    pub fn link_state(&self, port: usize) -> LinkState {
        self.link.get(port).map_or(LinkState::Up, |l| l.state)
    }

    /// Totals over ports: (rx packets, tx packets, dropped).
    pub fn totals(&self) -> (u64, u64, u64) {
        let rx = self.ports.iter().map(|p| p.rx_packets).sum();
        let tx = self.ports.iter().map(|p| p.tx_packets).sum();
        (rx, tx, self.drops().iter().sum())
    }

    /// The stats JSON (schema in the README): names from `tables`, drops
    /// listed only when non-zero; a port's `offload` and `link` objects
    /// only when not all zero / up (`link`: `state` `up`/`down`/`gone` and
    /// the counters `went_down`, `went_gone`, `came_back`, `reopened`).
    pub fn to_json(&self, tables: &Tables) -> Value {
        let counters = |c: &Counters| {
            json!({
                "rx_packets": c.rx_packets,
                "rx_bytes": c.rx_bytes,
                "tx_packets": c.tx_packets,
                "tx_bytes": c.tx_bytes,
                "drops": drops_json(&c.drops),
            })
        };
        let mut ports = Map::new();
        for (i, (p, c)) in tables.ports.iter().zip(&self.ports).enumerate() {
            let mut v = counters(c);
            if let Some(o) = self
                .offload
                .get(i)
                .filter(|o| **o != OffloadCounters::default())
            {
                v["offload"] = o
                    .named()
                    .iter()
                    .map(|&(k, n)| (k.to_string(), Value::from(n)))
                    .collect::<Map<String, Value>>()
                    .into();
            }
            if let Some(l) = self.link.get(i).filter(|l| **l != PortLink::default()) {
                let mut m: Map<String, Value> = l
                    .named()
                    .iter()
                    .map(|&(k, n)| (k.to_string(), Value::from(n)))
                    .collect();
                m.insert("state".into(), l.state.name().into());
                v["link"] = m.into();
            }
            ports.insert(p.name.clone(), v);
        }
        let mut networks = Map::new();
        for (n, c) in tables.networks.iter().zip(&self.networks) {
            networks.insert(n.name.clone(), counters(c));
        }
        let (rx, tx, dropped) = self.totals();
        json!({
            "ports": ports,
            "networks": networks,
            "drops": drops_json(&self.drops()),
            "totals": {
                "rx_packets": rx,
                "tx_packets": tx,
                "replicated": self.replicated,
                "generated": self.generated,
                "fragmented": self.fragmented,
                "fragments": self.fragments,
                "dropped": dropped,
            },
            "slow_path": SlowCounter::ALL
                .iter()
                .filter(|&&c| self.slow.get(c) != 0)
                .map(|&c| (c.name().to_string(), Value::from(self.slow.get(c))))
                .collect::<Map<String, Value>>(),
            "csn": CsnCounter::ALL
                .iter()
                .filter(|&&c| self.csn.get(c) != 0)
                .map(|&c| (c.name().to_string(), Value::from(self.csn.get(c))))
                .collect::<Map<String, Value>>(),
        })
    }
}

fn drops_json(d: &[u64; DropReason::COUNT]) -> Value {
    let mut m = Map::new();
    for (&r, &n) in DropReason::ALL.iter().zip(d.iter()) {
        if n != 0 {
            m.insert(r.name().to_string(), n.into());
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_merge_to_the_worst_state_and_sum_their_changes() {
        let mut a = Stats::new(2, 0);
        let mut b = Stats::new(2, 0);
        a.link[1] = PortLink {
            state: LinkState::Up,
            went_gone: 1,
            came_back: 1,
            reopened: 1,
            ..PortLink::default()
        };
        b.link[1] = PortLink {
            state: LinkState::Gone,
            went_down: 1,
            ..PortLink::default()
        };
        let mut total = Stats::default();
        total.add(&a);
        total.add(&b);
        assert_eq!(total.link_state(0), LinkState::Up);
        assert_eq!(
            total.link_state(1),
            LinkState::Gone,
            "one worker has it gone"
        );
        assert_eq!(
            (
                total.link[1].went_down,
                total.link[1].went_gone,
                total.link[1].came_back,
                total.link[1].reopened
            ),
            (1, 1, 1, 1)
        );
        let d = total.since(&a);
        assert_eq!((d.link[1].went_gone, d.link[1].went_down), (0, 1));
        assert_eq!(d.link_state(1), LinkState::Gone);
        assert_eq!(Stats::default().link_state(5), LinkState::Up);
    }
}

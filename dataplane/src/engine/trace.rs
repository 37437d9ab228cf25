//! Packet tracing, like VPP's `trace add`: the control thread arms a budget
//! of N packets (optionally from one port); workers record each traced
//! packet's receive time (`time_ns`, since the epoch), ingress MACs, source
//! and destination (address, port; ICMP type, code and identifier instead
//! of ports) and pipeline decisions (ingress network and VLAN, VRF, matched
//! prefix, next hop, verdict, drop reason, egress port) and the control
//! thread reads the records.
//!
//! Cost when disarmed: one relaxed load per burst. While armed, a worker
//! claims packets from the budget with one atomic update per burst and
//! builds the records off the fast path's data (allocation is fine here:
//! tracing is a debugging mode).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use cnfwd_config::PortId;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde_json::{json, Value};

use crate::packet::buf::PacketBuf;
use crate::packet::meta::Family;
use crate::pipeline::{Pipeline, Verdict};
use crate::tables::{AdjKey, Tables, NO_NETWORK};

/// Most records kept; older ones are discarded first.
pub const MAX_RECORDS: usize = 10_000;

/// Any port.
const ANY_PORT: u32 = u32::MAX;

/// What a traced packet looked like on arrival, before the pipeline
/// rewrote it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ingress {
    /// Received length.
    len: u32,
    /// Destination and source MAC (zero for a runt).
    macs: [u8; 12],
    /// Receive time, ns since the epoch (the capture's for pcap ports).
    time_ns: u64,
}

/// The [`Ingress`] facts of a burst (called only while tracing).
pub(crate) fn ingress<P: PacketBuf>(bufs: &[P]) -> Vec<Ingress> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    bufs.iter()
        .map(|b| {
            let d = b.data();
            let mut macs = [0; 12];
            if let Some(m) = d.get(..12) {
                macs.copy_from_slice(m);
            }
            let ts = b.timestamp_ns();
            Ingress {
                len: d.len() as u32,
                macs,
                time_ns: if ts == 0 { now } else { ts },
            }
        })
        .collect()
}

/// The trace state shared by the control thread and the workers.
#[derive(Debug)]
pub struct TraceShared {
    remaining: AtomicU64,
    port: AtomicU32,
    records: Mutex<Vec<Value>>,
    seq: AtomicU64,
}

impl Default for TraceShared {
    fn default() -> Self {
        Self {
            remaining: AtomicU64::new(0),
            port: AtomicU32::new(ANY_PORT),
            records: Mutex::new(Vec::new()),
            seq: AtomicU64::new(0),
        }
    }
}

impl TraceShared {
    /// Clears earlier records and traces the next `count` packets received
    /// (only on `port`, if given).
    pub fn start(&self, count: u64, port: Option<PortId>) {
        self.remaining.store(0, Ordering::SeqCst);
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.port
            .store(port.map_or(ANY_PORT, u32::from), Ordering::SeqCst);
        self.remaining
            .store(count.min(MAX_RECORDS as u64), Ordering::SeqCst);
    }

    /// Stops tracing; the records stay.
    pub fn stop(&self) {
        self.remaining.store(0, Ordering::SeqCst);
    }

    /// Packets still to be traced.
    pub fn remaining(&self) -> u64 {
        self.remaining.load(Ordering::Relaxed)
    }

    /// The records so far, in the order workers made them.
    pub fn records(&self) -> Vec<Value> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// True when packets from `port` are being traced (one relaxed load,
    /// then the port filter only while armed).
    #[inline]
    pub fn wants(&self, port: PortId) -> bool {
        self.remaining.load(Ordering::Relaxed) > 0 && {
            let p = self.port.load(Ordering::Relaxed);
            p == ANY_PORT || p == u32::from(port)
        }
    }

    /// Takes up to `n` packets from the budget; returns how many.
    fn claim(&self, n: u64) -> u64 {
        let mut took = 0;
        let _ = self
            .remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| {
                took = r.min(n);
                Some(r - took)
            });
        took
    }

    /// Records the first packets of a burst just processed by `pipeline`:
    /// `arrived[i]` is packet i as received, `verdicts[i]` its verdict.
    pub(crate) fn record(
        &self,
        worker: usize,
        t: &Tables,
        port: PortId,
        pipeline: &Pipeline,
        arrived: &[Ingress],
        verdicts: &[Verdict],
    ) {
        let n = self.claim(verdicts.len().min(arrived.len()) as u64) as usize;
        if n == 0 {
            return;
        }
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let seq = self.seq.fetch_add(1, Ordering::Relaxed);
            out.push(describe(
                seq,
                worker,
                t,
                port,
                pipeline,
                i,
                arrived[i],
                verdicts[i],
            ));
        }
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.extend(out);
        if records.len() > MAX_RECORDS {
            let extra = records.len() - MAX_RECORDS;
            records.drain(..extra);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn describe(
    seq: u64,
    worker: usize,
    t: &Tables,
    port: PortId,
    pipeline: &Pipeline,
    i: usize,
    arrived: Ingress,
    verdict: Verdict,
) -> Value {
    let m = pipeline.meta(i);
    let port_name = t.ports.get(port as usize).map(|p| p.name.clone());
    let mac = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    let mut r = json!({
        "seq": seq,
        "time_ns": arrived.time_ns,
        "worker": worker,
        "snapshot": t.generation,
        "port": port_name,
        "len": arrived.len,
        "dst_mac": mac(&arrived.macs[..6]),
        "src_mac": mac(&arrived.macs[6..]),
        "vlan": m.eth.tci.map(|tci| tci & 0x0fff),
        "ethertype": format!("{:#06x}", m.eth.ethertype),
    });
    let net = t
        .networks
        .get(m.network as usize)
        .filter(|_| m.network != NO_NETWORK);
    if let Some(n) = net {
        r["network"] = json!(n.name);
        if n.l3 {
            let vrf = &t.vrfs[n.vrf as usize];
            r["vrf"] = json!(vrf.name);
            let (src, dst) = match m.family {
                Family::V4 => (
                    IpAddr::V4(Ipv4Addr::from(m.src as u32)),
                    Some(IpAddr::V4(Ipv4Addr::from(m.dst as u32))),
                ),
                Family::V6 => (
                    IpAddr::V6(Ipv6Addr::from(m.src)),
                    Some(IpAddr::V6(Ipv6Addr::from(m.dst))),
                ),
                Family::None => (IpAddr::V4(Ipv4Addr::UNSPECIFIED), None),
            };
            if let Some(dst) = dst {
                r["src"] = json!(src.to_string());
                r["dst"] = json!(dst.to_string());
                r["proto"] = json!(m.proto);
                match m.proto {
                    // ICMP / ICMPv6: the parser keeps type << 8 | code and,
                    // for echo, the identifier in the port fields.
                    1 | 58 if m.l4_offset != 0 => {
                        let (ty, code) = (m.src_port >> 8, m.src_port & 0xff);
                        r["icmp_type"] = json!(ty);
                        r["icmp_code"] = json!(code);
                        if matches!((m.proto, ty), (1, 0 | 8) | (58, 128 | 129)) {
                            r["icmp_id"] = json!(m.dst_port);
                        }
                    }
                    6 | 17 if m.l4_offset != 0 => {
                        r["src_port"] = json!(m.src_port);
                        r["dst_port"] = json!(m.dst_port);
                    }
                    _ => {}
                }
                if let Some((prefix, adj)) = matched_prefix(t, n.vrf as usize, dst) {
                    r["prefix"] = json!(prefix.to_string());
                    r["next_hop"] = match t.adj_keys.get(adj as usize) {
                        Some(AdjKey::Via(nh, _)) => json!(nh.to_string()),
                        Some(AdjKey::Attached(_)) => json!("attached"),
                        Some(AdjKey::Local(_)) => json!("local"),
                        Some(AdjKey::Broadcast(_)) => json!("broadcast"),
                        None => Value::Null,
                    };
                }
            }
        }
    }
    if let Some(reason) = pipeline.slow().replaced.get(i).copied().flatten() {
        // Dropped, and its buffer now carries the ICMP error about it.
        r["verdict"] = json!("drop");
        r["reason"] = json!(reason.name());
        r["icmp_error"] = json!(true);
    }
    match verdict {
        Verdict::Tx { .. } | Verdict::Hold { .. }
            if pipeline.slow().replaced.get(i).copied().flatten().is_some() => {}
        Verdict::Tx { port, network } => {
            r["verdict"] = json!("tx");
            r["egress_port"] = json!(t.ports.get(port as usize).map(|p| &p.name));
            r["egress_network"] = json!(t.networks.get(network as usize).map(|n| &n.name));
        }
        Verdict::Flood { network } => {
            r["verdict"] = json!("flood");
            r["egress_network"] = json!(t.networks.get(network as usize).map(|n| &n.name));
        }
        Verdict::Drop(reason) => {
            r["verdict"] = json!("drop");
            r["reason"] = json!(reason.name());
        }
        Verdict::Hold { port, network } => {
            r["verdict"] = json!("hold");
            r["egress_port"] = json!(t.ports.get(port as usize).map(|p| &p.name));
            r["egress_network"] = json!(t.networks.get(network as usize).map(|n| &n.name));
        }
    }
    r
}

/// The longest prefix in VRF `vrf` that matches `dst`, with its adjacency
/// (the FIB answers values, not prefixes: ask for each length in turn).
pub fn matched_prefix(t: &Tables, vrf: usize, dst: IpAddr) -> Option<(IpNet, u32)> {
    let v = t.vrfs.get(vrf)?;
    match dst {
        IpAddr::V4(a) => (0..=32u8).rev().find_map(|len| {
            let p = Ipv4Net::new(a, len).ok()?.trunc();
            v.fib4.get(p).map(|adj| (IpNet::V4(p), adj))
        }),
        IpAddr::V6(a) => (0..=128u8).rev().find_map(|len| {
            let p = Ipv6Net::new(a, len).ok()?.trunc();
            v.fib6.get(p).map(|adj| (IpNet::V6(p), adj))
        }),
    }
}

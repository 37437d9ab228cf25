//! DPDK faults (issue 13): a TX ring that stays full and an mbuf pool that
//! runs dry, against a real DPDK (vdevs, no NICs, no hugepages), driven
//! by cnfwd's own worker.
//!
//! The site is pcap-tests case 01 (two L3 networks, static neighbours):
//! frames from 10.1.0.10 on port `app` to 10.2.0.20 are routed out of port
//! `db`. Port `db` is a `net_ring` vdev: what cnfwd sends loops to the
//! ring's RX side, which this test reads as the far end would, or leaves
//! alone so that the ring stays full.
//!
//! - TX ring full: nobody drains `db`'s ring; every frame it did not take
//!   is counted as `tx_full`, its mbuf freed (the pool's in-use count
//!   comes back to its start once the ring is read); forwarding resumes
//!   as soon as the ring is drained.
//! - Pool dry (`[dpdk] mbufs = 512`): while the test holds every mbuf,
//!   `app` (a `net_pcap` vdev, which allocates on receive) receives
//!   nothing, the device counts `rx_nombuf`, and the gratuitous ARPs cnfwd
//!   sends at start are counted as `alloc_failed`; nothing crashes. Once
//!   the mbufs return, the rest of the capture is forwarded, every frame
//!   of it either forwarded or counted by the device, and no mbuf leaks.
//!
//! `rte_eal_init` works once per process: one test runs the steps in order.
#![cfg(feature = "dpdk")]

mod common;

use common::dpdk::eal_args;

use std::path::{Path, PathBuf};

use cnfwd_config::{PortBackend, PortId, Resolved};
use dataplane::engine::Worker;
use dataplane::io::dpdk::{DpdkBackend, Eal, Mbuf};
use dataplane::io::pcap::file::CaptureWriter;
use dataplane::io::Backend;
use dataplane::packet::buf::PacketBuf;
use dataplane::pipeline::DropReason;
use dataplane::slow::SlowCounter;
use dataplane::tables::Tables;

const APP: PortId = 0;
const DB: PortId = 1;
const BURST: usize = 32;

/// Case 01's site with its ports on `devices` and `mbufs` per pool.
fn config(devices: [&str; 2], mbufs: Option<u32>) -> Resolved {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../pcap-tests/cases/01-l3-access-to-access");
    let (_, mut r) = cnfwd_config::load(&dir.join("config.toml")).unwrap();
    for (p, d) in r.ports.iter_mut().zip(devices) {
        p.backend = PortBackend::Dpdk {
            device: d.to_string(),
        };
    }
    r.dpdk_mbufs = mbufs;
    r
}

/// Frame `seq`: UDP 10.1.0.10 -> 10.2.0.20 to port app's MAC, `seq` in
/// the payload, valid IPv4 checksum.
fn frame(seq: u32) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0x01, 0x01]);
    f[6..12].copy_from_slice(&[0x02, 0xaa, 0, 0, 0x01, 0x10]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&50u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 1, 0, 10]);
    ip[16..20].copy_from_slice(&[10, 2, 0, 20]);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f[34..36].copy_from_slice(&4000u16.to_be_bytes());
    f[36..38].copy_from_slice(&5000u16.to_be_bytes());
    f[38..40].copy_from_slice(&30u16.to_be_bytes());
    f[42..46].copy_from_slice(&seq.to_be_bytes());
    f
}

/// The sequence number of a frame routed by cnfwd (TTL 63, MACs
/// rewritten).
fn seq_of(b: &Mbuf<'_>) -> u32 {
    let d = b.data();
    assert_eq!(d[14 + 8], 63, "routed: TTL decremented");
    assert_eq!(
        &d[..6],
        &[0x02, 0xaa, 0, 0, 0x02, 0x20],
        "to the neighbour's MAC"
    );
    u32::from_be_bytes(d[42..46].try_into().unwrap())
}

/// Reads everything waiting on `port`'s RX side (the far end of a
/// `net_ring`); the sequence numbers, in order. The mbufs are freed.
fn drain(be: &mut DpdkBackend<'_>, port: PortId) -> Vec<u32> {
    let mut got = Vec::new();
    let mut rx: Vec<Mbuf<'_>> = Vec::with_capacity(BURST);
    while be.rx_burst(port, &mut rx, BURST).unwrap() > 0 {
        got.extend(rx.drain(..).map(|b| seq_of(&b)));
    }
    got
}

fn drops(w: &Worker<DpdkBackend<'_>>, port: PortId, r: DropReason) -> u64 {
    w.stats.ports[port as usize].drops[r as usize]
}

/// `db`'s TX ring (a `net_ring` nobody reads) fills up and stays full.
fn tx_ring_stays_full(eal: &Eal) {
    let mut r = config(["net_ring10", "net_ring11"], None);
    // Only the test's frames in db's ring.
    r.slow_path.announce = false;
    let mut be = DpdkBackend::open(&r, eal, 1).unwrap();
    let tables = Tables::build(&r, &be.port_macs()).unwrap();
    let baseline = be.pool_in_use(APP).unwrap();
    let pool_size = baseline + be.pool_available(APP).unwrap();
    let mut w: Worker<DpdkBackend<'_>> = Worker::new(&tables, BURST);

    // 4,000 frames into app (its ring loops TX to RX), forwarded burst by
    // burst; db's ring is never read.
    let offered = 4000u32;
    let mut next = 0u32;
    while next < offered {
        let mut pkts: Vec<Mbuf<'_>> = (next..next + BURST as u32)
            .map(|s| be.alloc_frame(APP, &frame(s)).expect("pool empty"))
            .collect();
        assert_eq!(be.tx_burst(APP, &mut pkts).unwrap(), BURST);
        next += BURST as u32;
        while w.poll(&mut be, &tables, APP).unwrap() > 0 {}
    }
    w.finish(&mut be).unwrap();
    be.flush().unwrap();
    let c = &w.stats.ports[DB as usize];
    let in_ring = c.tx_packets;
    let full = drops(&w, DB, DropReason::TxFull);
    assert_eq!(w.stats.ports[APP as usize].rx_packets, u64::from(offered));
    assert!(
        (256..u64::from(offered)).contains(&in_ring),
        "the ring took {in_ring} of {offered}"
    );
    assert_eq!(
        in_ring + full,
        u64::from(offered),
        "every frame sent or counted"
    );
    // The mbufs of the frames not sent were freed: only the ring holds any.
    assert_eq!(
        u64::from(be.pool_in_use(APP).unwrap()),
        u64::from(baseline) + in_ring,
        "mbufs beyond the ring's leaked"
    );
    eprintln!(
        "tx ring full: {offered} offered, {in_ring} in db's ring, {full} counted tx_full; pool {pool_size} mbufs"
    );

    // Drained: the first `in_ring` frames, in order; every mbuf back.
    let got = drain(&mut be, DB);
    assert_eq!(got, (0..in_ring as u32).collect::<Vec<_>>());
    assert_eq!(be.pool_in_use(APP).unwrap(), baseline, "mbufs leaked");

    // Recovery: forwarding resumes at once.
    let mut pkts: Vec<Mbuf<'_>> = (0..100u32)
        .map(|s| be.alloc_frame(APP, &frame(offered + s)).unwrap())
        .collect();
    while !pkts.is_empty() {
        be.tx_burst(APP, &mut pkts).unwrap();
        while w.poll(&mut be, &tables, APP).unwrap() > 0 {}
    }
    assert_eq!(drops(&w, DB, DropReason::TxFull), full, "no new tx_full");
    assert_eq!(w.stats.ports[DB as usize].tx_packets, in_ring + 100);
    assert_eq!(
        drain(&mut be, DB),
        (offered..offered + 100).collect::<Vec<_>>()
    );
    w.finish(&mut be).unwrap();
    be.flush().unwrap();
    assert_eq!(be.pool_in_use(APP).unwrap(), baseline, "mbufs leaked");
    drop(be);
}

/// A capture of `n` frames (sequence 0..n) for `net_pcap`'s `rx_pcap`.
fn capture(path: &Path, n: u32) {
    let mut w = CaptureWriter::create(path).unwrap();
    for s in 0..n {
        w.write(u64::from(s) * 1000, &frame(s)).unwrap();
    }
    w.flush().unwrap();
}

/// A pool of 512 mbufs runs dry, then recovers.
fn mempool_runs_dry(eal: &Eal, tmp: &Path) {
    let n = 2000u32;
    let input = tmp.join("dry-in.pcap");
    capture(&input, n);
    let app = format!("net_pcap20,rx_pcap={}", input.display());
    let r = config([&app, "net_ring21"], Some(512));
    let mut be = DpdkBackend::open(&r, eal, 1).unwrap();
    let tables = Tables::build(&r, &be.port_macs()).unwrap();
    let baseline = be.pool_in_use(APP).unwrap();
    let size = baseline + be.pool_available(APP).unwrap();
    assert_eq!(size, 512, "[dpdk] mbufs sizes the pool");
    let mut w: Worker<DpdkBackend<'_>> = Worker::new(&tables, BURST);

    // The test takes every mbuf (as a stuck consumer would).
    let mut held = Vec::new();
    while let Some(m) = be.alloc_frame(DB, &frame(0)) {
        held.push(m);
    }
    assert_eq!(be.pool_available(APP).unwrap(), 0);
    assert!(
        be.alloc(DB, &frame(0)).is_none(),
        "Backend::alloc on a dry pool"
    );
    for _ in 0..50 {
        w.poll(&mut be, &tables, APP).unwrap();
        w.poll(&mut be, &tables, DB).unwrap();
    }
    let dry_nombuf = be.device_stats(APP).unwrap().rx_nombuf;
    assert_eq!(
        w.stats.ports[APP as usize].rx_packets, 0,
        "received without mbufs"
    );
    assert!(
        w.stats.slow.get(SlowCounter::AllocFailed) >= 2,
        "the start-up announcements that found no mbuf: {:?}",
        w.stats.slow
    );
    assert_eq!(w.stats.slow.get(SlowCounter::AnnouncementsSent), 0);

    // The mbufs come back: the rest of the capture is forwarded.
    drop(held);
    let mut got = Vec::new();
    let mut idle = 0;
    while idle < 200 {
        let k = w.poll(&mut be, &tables, APP).unwrap();
        got.extend(drain(&mut be, DB));
        idle = if k == 0 { idle + 1 } else { 0 };
    }
    w.finish(&mut be).unwrap();
    be.flush().unwrap();
    got.extend(drain(&mut be, DB));
    let dev = be.device_stats(APP).unwrap();
    let rx = w.stats.ports[APP as usize].rx_packets;
    eprintln!(
        "pool dry: {n} frames offered; while dry {dry_nombuf} rx_nombuf; after: {rx} received, {} forwarded, device {dev:?}; alloc_failed {}",
        got.len(),
        w.stats.slow.get(SlowCounter::AllocFailed)
    );
    assert!(rx > 0, "nothing received after the pool refilled");
    assert_eq!(got.len() as u64, rx, "every frame received was forwarded");
    assert!(got.windows(2).all(|p| p[0] < p[1]), "order kept");
    // Every frame of the capture: received by cnfwd or counted by the
    // device as lost for lack of an mbuf.
    assert_eq!(rx + dev.rx_nombuf, u64::from(n), "device {dev:?}");
    assert!(dev.rx_nombuf > 0, "the dry pool made no rx_nombuf");
    assert_eq!(be.pool_in_use(APP).unwrap(), baseline, "mbufs leaked");
    drop(be);
}

#[test]
fn tx_ring_full_and_mempool_dry() {
    let eal = Eal::init(&eal_args("dpdk-faults", &[])).unwrap();
    let tmp: PathBuf =
        std::env::temp_dir().join(format!("cnfwd-dpdk-faults-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();

    tx_ring_stays_full(&eal);
    mempool_runs_dry(&eal, &tmp);

    let _ = std::fs::remove_dir_all(&tmp);
    let run_dir = eal.runtime_dir().to_owned();
    eal.cleanup().unwrap();
    let _ = std::fs::remove_dir_all(&run_dir);
}

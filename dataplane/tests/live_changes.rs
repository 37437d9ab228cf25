//! Route changes under traffic: two workers forward a continuous stream
//! while the control thread publishes 10,000 route changes. No packet may
//! be lost, and every packet must leave by a route that was in force while
//! it was being forwarded: not one withdrawn before it was received, not
//! one published after it was sent.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use cnfwd_config::RouteTarget;
use common::{checksum, connect_when_up, StopOnDrop};
use dataplane::engine::snapshot::Snapshots;
use dataplane::engine::workers::{self, EngineOptions};
use dataplane::io::memory::ChannelBackend;
use dataplane::tables::{TableChange, Tables};
use ipnet::IpNet;

const CHANGES: u64 = 10_000;
/// Next hops the changes rotate through (static neighbours on "out").
const HOPS: u64 = 64;
const IN_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xaa];

fn hop_ip(i: u64) -> Ipv4Addr {
    Ipv4Addr::new(10, 1, 0, 10 + i as u8)
}

fn hop_mac(i: u64) -> [u8; 6] {
    [0x02, 0x11, 0, 0, 0, i as u8]
}

const DEFAULT_MAC: [u8; 6] = [0x02, 0x22, 0, 0, 0, 0xdd];
/// The default route's next hop after the socket test's `/config/apply`.
const APPLIED_MAC: [u8; 6] = [0x02, 0x33, 0, 0, 0, 0xee];

fn config() -> String {
    config_with_default("10.1.0.2")
}

/// The configuration with the default route via `default_nh`.
fn config_with_default(default_nh: &str) -> String {
    let mut neighbors = format!(
        "{{ ip = \"10.1.0.2\", mac = \"{}\" }}, {{ ip = \"10.1.0.3\", mac = \"{}\" }}",
        mac_text(DEFAULT_MAC),
        mac_text(APPLIED_MAC)
    );
    for i in 0..HOPS {
        neighbors += &format!(
            ", {{ ip = \"{}\", mac = \"{}\" }}",
            hop_ip(i),
            mac_text(hop_mac(i))
        );
    }
    // Announcements are off: the streams' check counts every frame out.
    format!(
        r#"
[slow_path]
announce = false

[[l3_isolation_domains]]
name = "v"
static_routes = [{{ prefix = "0.0.0.0/0", next_hop = "{default_nh}" }}]

[[l3_networks]]
name = "in"
vlan = 10
l3_isolation_domain = "v"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.0.0.0/24"

[[l3_networks]]
name = "out"
vlan = 20
l3_isolation_domain = "v"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"
neighbors = [{neighbors}]

[[ports]]
name = "p0"
backend = "pcap"
mac = "{in_mac}"
mode = "access"
networks = ["in"]

[[ports]]
name = "p1"
backend = "pcap"
mac = "02:00:00:00:00:02"
mode = "access"
networks = ["out"]
"#,
        in_mac = mac_text(IN_MAC)
    )
}

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What change `k` does to 203.0.113.0/24: every third change withdraws
/// it (traffic falls back to the default route), the others point it at
/// next hop `k % HOPS`. Version 0 is the configuration (no specific route).
fn change(k: u64) -> TableChange {
    let prefix: IpNet = "203.0.113.0/24".parse().unwrap();
    if k.is_multiple_of(3) {
        TableChange::RemoveRoute { vrf: 0, prefix }
    } else {
        TableChange::AddRoute {
            vrf: 0,
            prefix,
            target: RouteTarget::Via(IpAddr::V4(hop_ip(k % HOPS)), 1),
        }
    }
}

/// The next-hop MAC packets to 203.0.113.0/24 get under version `v`.
fn expected_mac(v: u64) -> [u8; 6] {
    if v == 0 || v.is_multiple_of(3) {
        DEFAULT_MAC
    } else {
        hop_mac(v % HOPS)
    }
}

/// A UDP packet from the host on "in" to 203.0.113.7 carrying the stream
/// id, its sequence number and the version in force when it was sent.
fn frame(stream: u8, seq: u64, version: u64) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&IN_MAC);
    f.extend_from_slice(&HOST_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let payload_len = 1 + 8 + 8;
    let total = 20 + 8 + payload_len;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, 0, 5]);
    ip[16..20].copy_from_slice(&[203, 0, 113, 7]);
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35]);
    f.extend_from_slice(&((8 + payload_len) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.push(stream);
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&version.to_be_bytes());
    f
}

/// Two streams, one per worker, and the shared clocks of a change test:
/// `started`/`completed` count the changes begun/finished by the control
/// side; frames are stamped with `completed` when sent and observed with
/// `started` when they come out.
struct Traffic {
    to_workers: Vec<crossbeam_channel::Sender<Vec<u8>>>,
    from_workers: Vec<crossbeam_channel::Receiver<Vec<u8>>>,
    started: Arc<AtomicU64>,
    completed: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
}

/// Frames observed on one stream: (frame, changes started when it came out).
type Observed = Vec<(Vec<u8>, u64)>;

impl Traffic {
    /// Two channel backends (one per worker; stream i enters worker i's
    /// port 0 and leaves by its port 1) and the traffic around them.
    fn new() -> (Vec<ChannelBackend>, Self) {
        let mut backends = Vec::new();
        let mut to_workers = Vec::new();
        let mut from_workers = Vec::new();
        for _ in 0..2 {
            let (b, ends) = ChannelBackend::new(2, 256);
            let [into, out]: [_; 2] = ends.try_into().unwrap();
            backends.push(b);
            to_workers.push(into.to_port);
            from_workers.push(out.from_port);
        }
        let t = Traffic {
            to_workers,
            from_workers,
            started: Arc::default(),
            completed: Arc::default(),
            done: Arc::default(),
        };
        (backends, t)
    }

    /// Runs `control` while a sender streams frames into both workers and
    /// an observer per stream collects what comes out; `rx_total` reads
    /// the workers' received-packet counter. Returns the control's result,
    /// the packets sent per stream and each stream's observed frames.
    fn run<R: Send>(
        self,
        rx_total: impl Fn() -> u64,
        control: impl FnOnce(&AtomicU64, &AtomicU64) -> R + Send,
    ) -> (R, u64, Vec<Observed>) {
        let Traffic {
            to_workers,
            from_workers,
            started,
            completed,
            done,
        } = self;
        std::thread::scope(|s| {
            let (completed_s, done_s) = (Arc::clone(&completed), Arc::clone(&done));
            let sender = s.spawn(move || {
                let mut seq = 0u64;
                while !done_s.load(Ordering::Acquire) {
                    for (stream, tx) in to_workers.iter().enumerate() {
                        let v = completed_s.load(Ordering::Acquire);
                        tx.send(frame(stream as u8, seq, v)).unwrap();
                    }
                    seq += 1;
                }
                seq
            });
            let observers: Vec<_> = from_workers
                .into_iter()
                .map(|rx| {
                    let (started, done) = (Arc::clone(&started), Arc::clone(&done));
                    s.spawn(move || {
                        let mut out = Vec::new();
                        loop {
                            match rx.recv_timeout(Duration::from_millis(200)) {
                                Ok(f) => out.push((f, started.load(Ordering::Acquire))),
                                Err(_) if done.load(Ordering::Acquire) => return out,
                                Err(_) => {}
                            }
                        }
                    })
                })
                .collect();
            let result = control(&started, &completed);
            // A little more traffic under the last version, then stop.
            std::thread::sleep(Duration::from_millis(20));
            done.store(true, Ordering::Release);
            let sent_per_stream = sender.join().unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            while rx_total() < 2 * sent_per_stream {
                assert!(Instant::now() < deadline, "workers stalled");
                std::thread::sleep(Duration::from_millis(5));
            }
            let outputs = observers.into_iter().map(|o| o.join().unwrap()).collect();
            (result, sent_per_stream, outputs)
        })
    }
}

/// Checks every stream: nothing lost, order kept, and each packet left by
/// the next hop of a version in force while it was forwarded (published
/// before it was sent, begun before it came out; a worker's snapshot only
/// moves forward, so versions never decrease along a stream). Returns the
/// versions seen.
fn check_streams(
    outputs: &[Observed],
    sent_per_stream: u64,
    expected: impl Fn(u64) -> [u8; 6],
) -> std::collections::BTreeSet<u64> {
    let mut versions = std::collections::BTreeSet::new();
    for (stream, out) in outputs.iter().enumerate() {
        assert_eq!(
            out.len() as u64,
            sent_per_stream,
            "stream {stream}: none lost"
        );
        let mut floor = 0;
        for (i, (f, started_when_out)) in out.iter().enumerate() {
            let payload = &f[14 + 20 + 8..];
            assert_eq!(payload[0] as usize, stream);
            let seq = u64::from_be_bytes(payload[1..9].try_into().unwrap());
            let sent_under = u64::from_be_bytes(payload[9..17].try_into().unwrap());
            assert_eq!(seq, i as u64, "stream {stream}: order kept");
            let mac: [u8; 6] = f[..6].try_into().unwrap();
            let v = (sent_under.max(floor)..=*started_when_out)
                .find(|&v| expected(v) == mac)
                .unwrap_or_else(|| {
                    panic!(
                        "stream {stream} packet {seq}: sent under version {sent_under}, out before version {} started, after version {floor}, but left to {} (a route not in force then)",
                        started_when_out + 1,
                        mac_text(mac)
                    )
                });
            floor = v;
            versions.insert(v);
        }
    }
    assert!(
        versions.len() > 100,
        "the streams overlapped only {} versions",
        versions.len()
    );
    versions
}

#[test]
fn ten_thousand_route_changes_under_traffic() {
    let cfg = cnfwd_config::parse(&config(), "<test>").unwrap();
    let resolved = cnfwd_config::resolve(&cfg).unwrap();
    let tables = Tables::build(&resolved, &[]).unwrap();
    let mut snapshots = Snapshots::new(tables);
    let (backends, traffic) = Traffic::new();
    let opts = EngineOptions::default();
    let outcome = workers::run(backends, &mut snapshots, &opts, |h, snaps| {
        traffic.run(
            || h.stats().ports[0].rx_packets,
            |started, completed| {
                // The changes, at the control thread's pace.
                let t0 = snaps.generation();
                let mut current = snaps.current();
                for k in 1..=CHANGES {
                    let next = current.with_changes(&[change(k)]).unwrap();
                    started.store(k, Ordering::Release);
                    snaps.publish(next);
                    completed.store(k, Ordering::Release);
                    current = snaps.current();
                    if k % 16 == 0 {
                        // Let packets through between bursts of changes.
                        std::thread::yield_now();
                    }
                }
                assert_eq!(snaps.generation(), t0 + CHANGES);
            },
        )
    })
    .unwrap();
    let ((), sent_per_stream, outputs) = outcome.control;
    assert!(
        sent_per_stream > 1000,
        "only {sent_per_stream} packets per stream"
    );
    check_streams(&outputs, sent_per_stream, expected_mac);
    let (rx, tx, dropped) = outcome.stats.totals();
    assert_eq!(
        (rx, tx, dropped),
        (2 * sent_per_stream, 2 * sent_per_stream, 0)
    );
    // Every retired snapshot was freed on this thread.
    assert_eq!(snapshots.reclaim(), 0);
}

/// The same through the management socket of a live run: 10,000 route
/// additions and removals by `/route/add` and `/route/del`, then a whole
/// new configuration by `/config/apply`, while two workers forward a
/// stream. Version k = the k-th write acknowledged.
#[test]
fn route_changes_and_config_apply_through_the_socket() {
    use dataplane::engine::cores::CoreChoice;
    use dataplane::live::{self, LiveOptions};
    use serde_json::json;

    const WRITES: u64 = 10_000;
    let expected = |v: u64| -> [u8; 6] {
        if v == WRITES + 1 {
            APPLIED_MAC
        } else if v % 2 == 1 {
            hop_mac(v % HOPS)
        } else {
            DEFAULT_MAC
        }
    };
    let dir = std::env::temp_dir().join(format!("cnfwd-sock-changes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("cnfwd.sock");
    let cfg = cnfwd_config::parse(&config(), "<test>").unwrap();
    let resolved = cnfwd_config::resolve(&cfg).unwrap();
    let (backends, traffic) = Traffic::new();
    let stop = AtomicBool::new(false);
    let connect = || connect_when_up(&socket, Duration::from_secs(10));
    let (sent_per_stream, outputs, report) = std::thread::scope(|s| {
        let opts = LiveOptions {
            config: Some(cfg.clone()),
            socket: Some(socket.clone()),
            ..LiveOptions::default()
        };
        let choice = CoreChoice {
            cores: vec![],
            node: None,
            reason: "test".into(),
        };
        let (resolved, stop) = (&resolved, &stop);
        let run =
            s.spawn(move || live::drive(backends, vec![], resolved, choice, &opts, stop, |_| {}));
        // The live run stops even when an assertion below fails.
        let _stop = StopOnDrop(stop);
        let stats_client = std::sync::Mutex::new(connect());
        let rx_total = || {
            let mut c = stats_client.lock().unwrap();
            let stats = c.call("/stats", None).unwrap().unwrap();
            stats["totals"]["rx_packets"].as_u64().unwrap()
        };
        let ((), sent, outputs) = traffic.run(rx_total, |started, completed| {
            let mut client = connect();
            for k in 1..=WRITES {
                let (cmd, params) = if k % 2 == 1 {
                    let nh = hop_ip(k % HOPS).to_string();
                    (
                        "/route/add",
                        json!({"vrf": "v", "prefix": "203.0.113.0/24", "next_hop": nh}),
                    )
                } else {
                    (
                        "/route/del",
                        json!({"vrf": "v", "prefix": "203.0.113.0/24"}),
                    )
                };
                started.store(k, Ordering::Release);
                let reply = client.call(cmd, Some(&params)).expect("socket");
                reply.unwrap_or_else(|e| panic!("{cmd} {params}: {e}"));
                completed.store(k, Ordering::Release);
            }
            // A whole new configuration: the default route moves to 10.1.0.3.
            started.store(WRITES + 1, Ordering::Release);
            let reply = client
                .call(
                    "/config/apply",
                    Some(&json!({"toml": config_with_default("10.1.0.3")})),
                )
                .expect("socket")
                .expect("config applied");
            completed.store(WRITES + 1, Ordering::Release);
            assert_eq!(reply["routes_before"], reply["routes_after"], "{reply}");
            // A bad configuration changes nothing and names the field.
            let bad = config_with_default("10.1.0.3").replace("vlan = 20", "vlan = 5000");
            let e = client
                .call("/config/apply", Some(&json!({"toml": bad})))
                .expect("socket")
                .unwrap_err();
            assert!(e.contains("l3_networks[1].vlan = 5000"), "{e}");
        });
        stop.store(true, Ordering::Release);
        let report = run.join().unwrap().expect("live run");
        (sent, outputs, report)
    });
    let drops: Vec<_> = dataplane::pipeline::DropReason::ALL
        .iter()
        .zip(report.stats.drops())
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{} {n}", r.name()))
        .collect();
    assert!(drops.is_empty(), "drops: {drops:?}");
    let versions = check_streams(&outputs, sent_per_stream, expected);
    assert!(
        versions.contains(&(WRITES + 1)),
        "no packet after the apply"
    );
    let (rx, tx, dropped) = report.stats.totals();
    assert_eq!(
        (rx, tx, dropped),
        (2 * sent_per_stream, 2 * sent_per_stream, 0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

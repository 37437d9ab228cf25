//! A capture driven the way workers drive it (through [`tap`]), read back
//! with `pcap-file`'s reader: the blocks, options and counters.

use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::blocks::section_header::SectionHeaderOption;
use pcap_file::pcapng::{Block, PcapNgReader};

use std::path::Path;

use super::*;
use crate::packet::buf::HeapBuf;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("cnfwd-capture-{}-{name}", std::process::id()))
}

fn frame(last: u8, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14] = 0x45;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 0, 0, last]);
    f
}

fn request(path: &Path, dirs: Directions, filter: &str, count: u64, snaplen: u32) -> StartRequest {
    StartRequest {
        port: 1,
        port_name: "net1".into(),
        port_description: "af_packet veth1".into(),
        directions: dirs,
        filter: filter.into(),
        program: Program::compile(filter).unwrap(),
        count,
        snaplen,
        file: File::create(path).unwrap(),
        path: path.to_path_buf(),
    }
}

/// Reads the file back: (interface names, packets as (flags, comment,
/// original length, data)).
#[allow(clippy::type_complexity)]
fn read(
    path: &Path,
) -> (
    Vec<String>,
    String,
    Vec<(u32, Option<String>, u32, Vec<u8>)>,
) {
    let data = std::fs::read(path).unwrap();
    let mut r = PcapNgReader::new(&data[..]).unwrap();
    let app = r
        .section()
        .options
        .iter()
        .find_map(|o| match o {
            SectionHeaderOption::UserApplication(a) => Some(a.to_string()),
            _ => None,
        })
        .unwrap_or_default();
    let (mut ifs, mut pkts) = (Vec::new(), Vec::new());
    while let Some(b) = r.next_block() {
        match b.unwrap() {
            Block::InterfaceDescription(i) => {
                assert_eq!(i.linktype, pcap_file::DataLink::ETHERNET);
                assert!(i
                    .options
                    .contains(&InterfaceDescriptionOption::IfTsResol(9)));
                for o in &i.options {
                    if let InterfaceDescriptionOption::IfName(n) = o {
                        ifs.push(n.to_string());
                    }
                }
            }
            Block::EnhancedPacket(p) => {
                let mut flags = 0;
                let mut comment = None;
                for o in &p.options {
                    match o {
                        EnhancedPacketOption::Flags(f) => flags = *f,
                        EnhancedPacketOption::Comment(c) => comment = Some(c.to_string()),
                        _ => {}
                    }
                }
                pkts.push((flags, comment, p.original_len, p.data.to_vec()));
            }
            _ => {}
        }
    }
    (ifs, app, pkts)
}

fn wait_state(c: &CaptureShared, state: &str) -> Value {
    for _ in 0..2000 {
        let s = c.status();
        if s["state"] == state {
            return s;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("state {state} not reached: {}", c.status());
}

#[test]
fn directions_filter_count_and_drop_comments_reach_the_file() {
    let path = temp("basic.pcapng");
    let c = Arc::new(CaptureShared::new(2));
    assert_eq!(c.status()["state"], "idle");
    let all = Directions::parse(&["rx,tx", "drop"]).unwrap();
    c.start(request(&path, all, "not dst host 10.0.0.9", 5, 60))
        .unwrap();
    let w0 = Some((0usize, Arc::clone(&c)));
    let w1 = Some((1usize, Arc::clone(&c)));
    // Another port: nothing.
    assert!(tap(&w0, 0).is_none());
    let t0 = tap(&w0, 1).unwrap();
    let rx: Vec<HeapBuf> = [2, 9, 3]
        .iter()
        .map(|&l| HeapBuf::from_frame(&frame(l, 100)))
        .collect();
    t0.frames(Directions::RX, &rx);
    t0.dropped(&frame(4, 50), DropReason::NoRoute);
    t0.dropped(&frame(9, 50), DropReason::NoRoute);
    let t1 = tap(&w1, 1).unwrap();
    t1.frames(Directions::TX, &[HeapBuf::from_frame(&frame(5, 40))]);
    t1.frames(Directions::TX, &[HeapBuf::from_frame(&frame(6, 40))]);
    // Past the count: matched, not taken.
    t1.frames(Directions::TX, &[HeapBuf::from_frame(&frame(7, 40))]);
    let s = wait_state(&c, "done");
    assert_eq!(s["written"], 5, "{s}");
    assert_eq!(s["matched"], 6, "{s}");
    assert_eq!(s["overflow"], 0, "{s}");
    assert_eq!(s["directions"], json!(["rx", "tx", "drop"]));
    // Done: disarmed, a tap finds nothing.
    assert!(tap(&w0, 1).is_none());
    let (ifs, app, pkts) = read(&path);
    assert_eq!(ifs, ["net1"]);
    assert_eq!(app, format!("cnfwd {}", env!("CARGO_PKG_VERSION")));
    assert_eq!(pkts.len(), 5);
    // The writer takes the workers' queues in turn: order by content.
    let mut pkts = pkts;
    pkts.sort_by_key(|p| p.3[33]);
    let lasts: Vec<u8> = pkts.iter().map(|p| p.3[33]).collect();
    assert_eq!(lasts, [2, 3, 4, 5, 6]);
    assert_eq!((pkts[0].0, pkts[1].0, pkts[2].0), (1, 1, 1));
    assert_eq!(pkts[2].1.as_deref(), Some("drop: no_route"));
    assert_eq!((pkts[3].0, pkts[4].0), (2, 2));
    assert_eq!((pkts[0].1.as_deref(), pkts[3].1.as_deref()), (None, None));
    // Snaplen 60: cut, original length kept.
    assert_eq!((pkts[0].2, pkts[0].3.len()), (100, 60));
    assert_eq!((pkts[3].2, pkts[3].3.len()), (40, 40));
    assert_eq!(c.totals(), (5, 0));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn one_at_a_time_stop_writes_what_was_queued_and_bad_values_are_refused() {
    let path = temp("stop.pcapng");
    let c = Arc::new(CaptureShared::new(1));
    c.start(request(&path, Directions::RX, "", 100, 65_535))
        .unwrap();
    let e = c
        .start(request(&temp("second.pcapng"), Directions::RX, "", 1, 64))
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("a capture is already running (port net1, into"),
        "{e}"
    );
    let w = Some((0usize, Arc::clone(&c)));
    tap(&w, 1)
        .unwrap()
        .frames(Directions::RX, &[HeapBuf::from_frame(&frame(7, 80))]);
    // Tx is not captured here.
    tap(&w, 1)
        .unwrap()
        .frames(Directions::TX, &[HeapBuf::from_frame(&frame(8, 80))]);
    let s = c.stop();
    assert_eq!(s["state"], "done", "{s}");
    assert_eq!(s["written"], 1, "{s}");
    assert!(tap(&w, 1).is_none());
    let (_, _, pkts) = read(&path);
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].3, frame(7, 80));
    // A new capture may start after the last ended.
    let e = c
        .start(request(&path, Directions::RX, "", 0, 64))
        .unwrap_err();
    assert!(
        e.to_string().contains("count 0: must be in 1..=1000000"),
        "{e}"
    );
    let e = c
        .start(request(&path, Directions::RX, "", MAX_COUNT + 1, 64))
        .unwrap_err();
    assert!(e.to_string().contains("must be in 1..="), "{e}");
    assert!(Directions::parse(&["rx", "up"])
        .unwrap_err()
        .contains("\"up\""));
    assert_eq!(Directions::parse::<&str>(&[]).unwrap(), Directions::DEFAULT);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(temp("second.pcapng"));
}

#[test]
fn a_full_queue_is_counted_never_waited_on() {
    // A session with one slot per worker and no writer: the second frame
    // finds no free slot.
    let q = WorkerQueue {
        free: ArrayQueue::new(1),
        full: ArrayQueue::new(1),
        matched: AtomicU64::new(0),
        overflow: AtomicU64::new(0),
    };
    let _ = q.free.push(Box::new(Slot {
        data: vec![0; 64].into_boxed_slice(),
        caplen: 0,
        orig_len: 0,
        ts_ns: 0,
        dir: Directions::RX,
        reason: None,
    }));
    let s = Session {
        port: 0,
        dirs: Directions::RX,
        program: Program::default(),
        snaplen: 64,
        remaining: AtomicU64::new(10),
        queues: vec![q].into_boxed_slice(),
    };
    for l in 1..=3 {
        s.offer(&s.queues[0], Directions::RX, &frame(l, 70), 1, None);
    }
    assert_eq!(s.sum(|q| &q.matched), 3);
    assert_eq!(s.sum(|q| &q.overflow), 2);
    // Claims of lost frames are given back.
    assert_eq!(s.remaining.load(Ordering::Relaxed), 9);
    let slot = s.queues[0].full.pop().unwrap();
    assert_eq!((slot.caplen, slot.orig_len), (64, 70));
}

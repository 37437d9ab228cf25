//! cnfwd's capture reader (`dataplane::io::pcap::file`) beside the
//! `pcap-file` crate (2.0, the current stable release), in one run: the
//! measurement behind the decision written in that module's doc.
//!
//! 1. **Capabilities** on the committed captures (`testdata/pcaps`, every
//!    `pcap-tests/cases/*/*.pcap`): frames each reader returns, whether the
//!    bytes and timestamps agree (Ethernet captures only: `pcap-file` does
//!    not convert other link types), and the first error each reports.
//! 2. **Damaged files**: every input of the `capture` fuzz corpus
//!    (`fuzz/corpus/capture`), read to the end by both (a panic is caught
//!    and counted; after an error the crate is asked once more, to see
//!    whether it moved on).
//! 3. **Throughput**: a generated capture of N frames (IMIX 7:4:1 of 64,
//!    594 and 1,518 bytes) as classic pcap and as pcapng, read from a file
//!    through each reader, every frame copied into a reused buffer as the
//!    replay backend copies it into a pooled one; five alternating rounds,
//!    the median reported.
//!
//! `cargo run --release -p cnfwd-benches --example pcap_reader_compare -- [N=1000000]`
//! (run from the repository root).

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, BufWriter, Cursor, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dataplane::io::pcap::file::{CaptureReader, CaptureWriter};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgReader, PcapNgWriter};
use pcap_file::{DataLink, PcapError};

const LOCAL_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
/// Frames read per file at most (the fuzz corpus may hold loops).
const MAX_FRAMES: usize = 10_000_000;

/// What one reader made of one file.
#[derive(Debug, Default)]
struct Outcome {
    /// (timestamp ns, bytes) of every frame returned.
    frames: Vec<(u64, Vec<u8>)>,
    /// Records refused one by one (ours only; the crate has no such kind).
    rejected: u64,
    /// The error that ended reading, if any.
    error: Option<String>,
    /// Link types seen are all Ethernet.
    ethernet_only: bool,
    /// The reader panicked.
    panicked: bool,
    /// After its error, the crate returned something other than an error
    /// or the end (it moved past the bad record).
    resumed: bool,
}

fn ours(data: &[u8]) -> Outcome {
    let mut o = Outcome {
        ethernet_only: true,
        ..Outcome::default()
    };
    let mut r = match CaptureReader::new(Cursor::new(data)) {
        Ok(r) => r,
        Err(e) => {
            o.error = Some(e.to_string());
            return o;
        }
    };
    while o.frames.len() < MAX_FRAMES {
        match r.next_frame(LOCAL_MAC) {
            Ok(Some(f)) => o.frames.push((f.timestamp_ns, f.data.to_vec())),
            Ok(None) => break,
            Err(e) if e.is_record_error() => o.rejected += 1,
            Err(e) => {
                o.error = Some(e.to_string());
                break;
            }
        }
    }
    if r.link_type().is_some_and(|l| l != 1) {
        o.ethernet_only = false;
    }
    o
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn crate_pcap(data: &[u8], o: &mut Outcome) -> Result<(), PcapError> {
    let mut r = PcapReader::new(Cursor::new(data))?;
    o.ethernet_only = r.header().datalink == DataLink::ETHERNET;
    while o.frames.len() < MAX_FRAMES {
        match r.next_packet() {
            Some(Ok(p)) => o.frames.push((ns(p.timestamp), p.data.into_owned())),
            None => break,
            Some(Err(e)) => {
                o.resumed = matches!(r.next_packet(), Some(Ok(_)));
                return Err(e);
            }
        }
    }
    Ok(())
}

fn crate_pcapng(data: &[u8], o: &mut Outcome) -> Result<(), PcapError> {
    let mut r = PcapNgReader::new(Cursor::new(data))?;
    o.ethernet_only = true;
    while o.frames.len() < MAX_FRAMES {
        // Owned, so that the interface table can be asked about it (this
        // part compares capabilities; part 3 measures the borrowed path).
        let block = r.next_block().map(|b| b.map(Block::into_owned));
        let (ts, data, link) = match block {
            Some(Ok(Block::EnhancedPacket(p))) => {
                let link = r.packet_interface(&p).map(|i| i.linktype);
                (ns(p.timestamp), p.data, link)
            }
            Some(Ok(Block::SimplePacket(p))) => {
                let link = r.interfaces().first().map(|i| i.linktype);
                (0, p.data, link)
            }
            Some(Ok(Block::Packet(p))) => {
                let link = r
                    .interfaces()
                    .get(p.interface_id as usize)
                    .map(|i| i.linktype);
                // The obsolete Packet Block: the crate gives the raw count
                // of if_tsresol units, not a time.
                (p.timestamp, p.data, link)
            }
            Some(Ok(_)) => continue,
            None => break,
            Some(Err(e)) => {
                o.resumed = matches!(r.next_block(), Some(Ok(_)));
                return Err(e);
            }
        };
        if link != Some(DataLink::ETHERNET) {
            o.ethernet_only = false;
        }
        o.frames.push((ts, data.into_owned()));
    }
    Ok(())
}

fn theirs(data: &[u8]) -> Outcome {
    let mut o = Outcome::default();
    let pcapng = data.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]);
    let run = catch_unwind(AssertUnwindSafe(|| {
        let mut got = Outcome::default();
        let read = if pcapng {
            crate_pcapng(data, &mut got)
        } else {
            crate_pcap(data, &mut got)
        };
        got.error = read.err().map(|e| e.to_string());
        got
    }));
    match run {
        Ok(got) => o = got,
        Err(_) => o.panicked = true,
    }
    o
}

fn short(e: &Option<String>) -> String {
    match e {
        None => "-".into(),
        Some(s) => s.chars().take(60).collect(),
    }
}

fn captures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut push_dir = |dir: &Path| {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
                if ext == "pcap" || ext == "pcapng" {
                    files.push(p);
                }
            }
        }
    };
    push_dir(Path::new("testdata/pcaps"));
    if let Ok(rd) = std::fs::read_dir("pcap-tests/cases") {
        for e in rd.flatten() {
            push_dir(&e.path());
        }
    }
    files.sort();
    files
}

/// Part 1: the committed captures.
fn capabilities() {
    println!("== 1. committed captures (ours | pcap-file 2.0) ==");
    let (mut files, mut same, mut differ) = (0, 0, Vec::new());
    for path in captures() {
        let Ok(data) = std::fs::read(&path) else {
            continue;
        };
        files += 1;
        let a = ours(&data);
        let b = theirs(&data);
        let agree = a.error.is_none()
            && b.error.is_none()
            && !b.panicked
            && a.rejected == 0
            && a.frames == b.frames;
        if agree {
            same += 1;
        } else {
            let bytes_same = a.frames.len() == b.frames.len()
                && a.frames.iter().zip(&b.frames).all(|(x, y)| x.1 == y.1);
            let ts_diff = a.frames.iter().zip(&b.frames).find(|(x, y)| x.0 != y.0);
            let ts_same = a.frames.len() == b.frames.len() && ts_diff.is_none();
            differ.push(format!(
                "{}: ours {} frames ({} rejected, error {}) | crate {} frames (error {}{}), ethernet {} | bytes {} timestamps {}",
                path.display(),
                a.frames.len(),
                a.rejected,
                short(&a.error),
                b.frames.len(),
                short(&b.error),
                if b.panicked { ", PANIC" } else { "" },
                b.ethernet_only,
                if bytes_same { "same" } else { "differ" },
                match (ts_same, ts_diff) {
                    (true, _) => "same".to_string(),
                    (false, Some((x, y))) => format!("differ (first: ours {} ns, crate {} ns)", x.0, y.0),
                    (false, None) => "differ".to_string(),
                },
            ));
        }
    }
    println!(
        "{files} files; identical frames, bytes and timestamps: {same}; different: {}",
        differ.len()
    );
    for d in &differ {
        println!("  {d}");
    }
}

/// Part 2: the fuzz corpus.
fn damaged() {
    println!("== 2. fuzz corpus fuzz/corpus/capture ==");
    let Ok(rd) = std::fs::read_dir("fuzz/corpus/capture") else {
        println!("(no corpus here: run from the repository root)");
        return;
    };
    let (mut n, mut panics, mut crate_err, mut crate_resumed, mut ours_err) = (0, 0, 0, 0, 0);
    let (mut ours_frames, mut crate_frames) = (0usize, 0usize);
    let mut panic_files = Vec::new();
    let mut only_one = Vec::new();
    for e in rd.flatten() {
        let Ok(data) = std::fs::read(e.path()) else {
            continue;
        };
        n += 1;
        let a = ours(&data);
        let b = theirs(&data);
        if a.frames.len() != b.frames.len() && only_one.len() < 10 {
            only_one.push(format!(
                "{} ours {} crate {}",
                e.file_name().to_string_lossy(),
                a.frames.len(),
                b.frames.len()
            ));
        }
        ours_err += usize::from(a.error.is_some());
        ours_frames += a.frames.len();
        crate_frames += b.frames.len();
        crate_err += usize::from(b.error.is_some());
        crate_resumed += usize::from(b.resumed);
        if b.panicked {
            panics += 1;
            panic_files.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    println!(
        "{n} inputs: ours ended with an error on {ours_err}, {ours_frames} frames; pcap-file: {panics} panics, {crate_err} errors ({crate_resumed} resumed after one), {crate_frames} frames"
    );
    println!(
        "  frames returned by one reader only (first 10 inputs): {}",
        only_one.join(", ")
    );
    for f in panic_files.iter().take(5) {
        println!("  panicked on {f}");
    }
}

/// IMIX 7:4:1 sizes, cycled.
fn frame_len(i: usize) -> usize {
    match i % 12 {
        0..=6 => 64,
        7..=10 => 594,
        _ => 1518,
    }
}

fn frame(i: usize, buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 3, 0x08, 0x00]);
    buf.resize(frame_len(i), (i & 0xff) as u8);
}

fn write_captures(n: usize, pcap: &Path, pcapng: &Path) {
    let mut w = CaptureWriter::create(pcap).expect("creating the pcap");
    let mut ng = PcapNgWriter::new(BufWriter::new(
        File::create(pcapng).expect("creating the pcapng"),
    ))
    .expect("pcapng header");
    let mut idb = InterfaceDescriptionBlock::new(DataLink::ETHERNET, 65_535);
    idb.options.push(InterfaceDescriptionOption::IfTsResol(9));
    ng.write_pcapng_block(idb).expect("pcapng interface");
    let mut buf = Vec::new();
    for i in 0..n {
        frame(i, &mut buf);
        let ts = 1_700_000_000_000_000_000u64 + i as u64 * 1_000;
        w.write(ts, &buf).expect("writing the pcap");
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_nanos(ts),
            original_len: buf.len() as u32,
            data: Cow::Borrowed(&buf),
            options: Vec::new(),
        };
        ng.write_pcapng_block(epb).expect("writing the pcapng");
    }
    w.flush().expect("flushing the pcap");
    ng.into_inner().flush().expect("flushing the pcapng");
}

/// Reads every frame of `path` with ours; (frames, bytes).
fn read_ours(path: &Path, pool: &mut Vec<u8>) -> (u64, u64) {
    let mut r = CaptureReader::open(path).expect("opening");
    let (mut n, mut bytes) = (0u64, 0u64);
    while let Ok(Some(f)) = r.next_frame(LOCAL_MAC) {
        pool.clear();
        pool.extend_from_slice(f.data);
        n += 1;
        bytes += pool.len() as u64;
    }
    (n, bytes)
}

/// Reads every packet of `path` with pcap-file; (frames, bytes).
fn read_theirs(path: &Path, pcapng: bool, pool: &mut Vec<u8>) -> (u64, u64) {
    let file = File::open(path).expect("opening");
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut take = |d: &[u8]| {
        pool.clear();
        pool.extend_from_slice(d);
        n += 1;
        bytes += pool.len() as u64;
    };
    if pcapng {
        let mut r = PcapNgReader::new(file).expect("pcapng header");
        while let Some(Ok(b)) = r.next_block() {
            if let Block::EnhancedPacket(p) = b {
                take(&p.data);
            }
        }
    } else {
        let mut r = PcapReader::new(file).expect("pcap header");
        while let Some(Ok(p)) = r.next_packet() {
            take(&p.data);
        }
    }
    (n, bytes)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Part 3: throughput.
fn throughput(n: usize) {
    println!("== 3. throughput, {n} frames IMIX 7:4:1 (64/594/1518 B), from a file, 5 alternating rounds ==");
    let dir = std::env::temp_dir().join(format!("cnfwd-pcap-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (pcap, pcapng) = (dir.join("big.pcap"), dir.join("big.pcapng"));
    write_captures(n, &pcap, &pcapng);
    // Warm the page cache.
    for p in [&pcap, &pcapng] {
        let mut sink = Vec::new();
        let _ = BufReader::new(File::open(p).expect("open")).read_to_end(&mut sink);
    }
    let mut pool = Vec::with_capacity(2048);
    for (label, path, ng) in [("pcap  ", &pcap, false), ("pcapng", &pcapng, true)] {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut check = None;
        for _ in 0..5 {
            let t = Instant::now();
            let ra = read_ours(path, &mut pool);
            a.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let rb = read_theirs(path, ng, &mut pool);
            b.push(t.elapsed().as_secs_f64());
            assert_eq!(ra, rb, "both readers must return the same frames");
            check = Some(ra);
        }
        let (frames, bytes) = check.unwrap_or_default();
        let (ta, tb) = (median(a), median(b));
        println!(
            "{label}: ours {:.3} s = {:.2} Mpps {:.0} MB/s | pcap-file {:.3} s = {:.2} Mpps {:.0} MB/s | ours/crate time {:.2}",
            ta,
            frames as f64 / ta / 1e6,
            bytes as f64 / ta / 1e6,
            tb,
            frames as f64 / tb / 1e6,
            bytes as f64 / tb / 1e6,
            ta / tb
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000usize);
    capabilities();
    damaged();
    throughput(n);
}

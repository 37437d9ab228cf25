//! Live packet capture, like VPP's `pcap trace` and `dpdk-pdump`: the
//! control thread arms a capture of one port ([`CaptureShared::start`]),
//! workers copy that port's matching frames into preallocated slots, and a
//! writer thread drains the slots into a pcapng file ([`pcapng`]) until
//! `count` packets are written or [`CaptureShared::stop`].
//!
//! Directions: `rx` is a frame as received, before the pipeline; `tx` a
//! frame as handed to the port's TX burst (after rewrite; each fragment,
//! flood copy and frame cnfwd generated); `drop` a frame the pipeline
//! dropped, written with the comment `drop: <reason>` (the names of
//! `cnfwd drop-reasons`). Not seen by `drop`: packets whose buffer became
//! an ICMP error (their `rx` copy and the error's `tx` copy are), and
//! packets dropped after the pipeline (neighbour or DNS hold overflow,
//! TX queue full): they are only counted.
//!
//! Cost for the workers, and why ports not captured are not slowed:
//! - Disarmed: one relaxed atomic load per burst (before the pipeline) and
//!   per non-empty TX queue at flush; nothing else, no branch per packet.
//! - Armed, another port: the same load plus one compare of the port
//!   number; no packet of that port is looked at.
//! - Armed, the captured port: one `Arc` clone per burst (the session),
//!   then per packet of a captured direction the filter ([`filter`]: a
//!   decode of the headers on the stack and a postfix program, no
//!   allocation), and for a match one atomic claim from the budget, one
//!   pop from the worker's free-slot queue, a copy of up to `snaplen`
//!   bytes and a push to its full-slot queue (`crossbeam_queue::ArrayQueue`,
//!   lock-free). With no free slot the packet is counted in `overflow` and
//!   forwarding goes on: a worker never waits for the writer.
//!
//! Memory: each worker gets its own slots, allocated on the control thread
//! at start (at most [`QUEUE_BYTES`] per worker, between [`MIN_SLOTS`] and
//! [`MAX_SLOTS`] slots and never more than `count`) and freed when the
//! capture ends.

pub mod filter;
pub mod pcapng;

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use cnfwd_config::PortId;
use crossbeam_queue::ArrayQueue;
use serde_json::{json, Value};

use crate::packet::buf::PacketBuf;
use crate::pipeline::DropReason;
pub use filter::{FilterError, Program};

/// Packets written when no count is given (VPP's `pcap trace` default).
pub const DEFAULT_COUNT: u64 = 1000;
/// The largest count.
pub const MAX_COUNT: u64 = 1_000_000;
/// Bytes kept of each frame when no snaplen is given (whole frames).
pub const DEFAULT_SNAPLEN: u32 = 65_535;
/// Slot memory per worker, at most.
pub const QUEUE_BYTES: usize = 32 << 20;
/// Slots per worker, at least (when `count` allows).
pub const MIN_SLOTS: usize = 64;
/// Slots per worker, at most.
pub const MAX_SLOTS: usize = 4096;
/// How long the writer sleeps when it found nothing to write.
const WRITER_IDLE: Duration = Duration::from_millis(1);

/// A set of directions (bits: rx 1, tx 2, drop 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directions(u8);

impl Directions {
    /// Frames as received.
    pub const RX: Directions = Directions(1);
    /// Frames as sent.
    pub const TX: Directions = Directions(2);
    /// Frames the pipeline dropped.
    pub const DROP: Directions = Directions(4);
    /// The default: rx and tx.
    pub const DEFAULT: Directions = Directions(3);

    /// Parses names (`rx`, `tx`, `drop`, each item may be comma-separated;
    /// `all` for the three); empty: [`Directions::DEFAULT`].
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Directions, String> {
        let mut bits = 0;
        for part in names.iter().flat_map(|n| n.as_ref().split(',')) {
            bits |= match part.trim() {
                "rx" => 1,
                "tx" => 2,
                "drop" => 4,
                "all" => 7,
                other => return Err(format!("direction {other:?}: expected rx, tx, drop or all")),
            };
        }
        Ok(if bits == 0 {
            Directions::DEFAULT
        } else {
            Directions(bits)
        })
    }

    /// Whether `d` is in the set.
    #[inline]
    pub fn has(self, d: Directions) -> bool {
        self.0 & d.0 != 0
    }

    /// The names in the set, in the order rx, tx, drop.
    pub fn names(self) -> Vec<&'static str> {
        [(1, "rx"), (2, "tx"), (4, "drop")]
            .into_iter()
            .filter(|(b, _)| self.0 & b != 0)
            .map(|(_, n)| n)
            .collect()
    }
}

/// What a capture is asked to do (validated by the control side).
#[derive(Debug)]
pub struct StartRequest {
    /// The port captured.
    pub port: PortId,
    /// Its name (the pcapng interface name).
    pub port_name: String,
    /// A description of the port for the interface block (backend, device).
    pub port_description: String,
    /// Directions captured.
    pub directions: Directions,
    /// The filter as given.
    pub filter: String,
    /// Its compiled form.
    pub program: Program,
    /// Packets to write, 1..=[`MAX_COUNT`].
    pub count: u64,
    /// Bytes kept per frame.
    pub snaplen: u32,
    /// The file, open for writing (empty).
    pub file: File,
    /// Its path (for status).
    pub path: PathBuf,
}

/// Why a capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Only one capture at a time.
    #[error("a capture is already running (port {port}, into {}, {written} of {count} packets written): stop it first with `capture stop`", file.display())]
    Running {
        /// Its port.
        port: String,
        /// Its file.
        file: PathBuf,
        /// Packets it wrote so far.
        written: u64,
        /// Its count.
        count: u64,
    },
    /// A value out of range.
    #[error("{0}")]
    Invalid(String),
    /// The file header could not be written, or the writer thread not
    /// started.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// One copied frame.
#[derive(Debug)]
pub struct Slot {
    data: Box<[u8]>,
    caplen: u32,
    orig_len: u32,
    ts_ns: u64,
    dir: Directions,
    reason: Option<DropReason>,
}

impl Slot {
    /// The bytes kept.
    pub fn bytes(&self) -> &[u8] {
        &self.data[..self.caplen as usize]
    }
}

/// One worker's slots and counters, alone on its cache lines.
#[derive(Debug)]
#[repr(align(128))]
struct WorkerQueue {
    free: ArrayQueue<Box<Slot>>,
    full: ArrayQueue<Box<Slot>>,
    matched: AtomicU64,
    overflow: AtomicU64,
}

/// A running capture as the workers see it.
#[derive(Debug)]
pub struct Session {
    port: PortId,
    dirs: Directions,
    program: Program,
    snaplen: u32,
    /// Slots still to be filled (the count, less what workers queued).
    remaining: AtomicU64,
    queues: Box<[WorkerQueue]>,
}

impl Session {
    fn sum(&self, f: impl Fn(&WorkerQueue) -> &AtomicU64) -> u64 {
        self.queues
            .iter()
            .map(|q| f(q).load(Ordering::Relaxed))
            .sum()
    }

    /// Copies `frame` if it passes the filter and a slot is free.
    #[inline]
    fn offer(
        &self,
        q: &WorkerQueue,
        dir: Directions,
        frame: &[u8],
        ts_ns: u64,
        reason: Option<DropReason>,
    ) {
        if !self.program.matches(frame) {
            return;
        }
        q.matched.fetch_add(1, Ordering::Relaxed);
        let claimed = self
            .remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| r.checked_sub(1))
            .is_ok();
        if !claimed {
            return;
        }
        let Some(mut slot) = q.free.pop() else {
            self.remaining.fetch_add(1, Ordering::Relaxed);
            q.overflow.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let caplen = frame.len().min(self.snaplen as usize).min(slot.data.len());
        slot.data[..caplen].copy_from_slice(&frame[..caplen]);
        slot.caplen = caplen as u32;
        slot.orig_len = frame.len() as u32;
        slot.ts_ns = ts_ns;
        slot.dir = dir;
        slot.reason = reason;
        // Cannot fail: free and full hold the same slots.
        let _ = q.full.push(slot);
    }
}

/// A worker's view of an armed capture of the port it handles now (see
/// [`tap`]).
pub struct Tap {
    session: Arc<Session>,
    worker: usize,
    now_ns: u64,
}

/// The capture of `port` for this worker, when one is armed on that port
/// (disarmed: one relaxed load).
#[inline]
pub fn tap(capture: &Option<(usize, Arc<CaptureShared>)>, port: PortId) -> Option<Tap> {
    let (worker, c) = capture.as_ref()?;
    if !c.arm.armed.load(Ordering::Relaxed) {
        return None;
    }
    tap_armed(c, *worker, port)
}

#[cold]
fn tap_armed(c: &CaptureShared, worker: usize, port: PortId) -> Option<Tap> {
    let session = c.arm.session.load_full()?;
    if session.port != port || worker >= session.queues.len() {
        return None;
    }
    Some(Tap {
        session,
        worker,
        now_ns: unix_ns(),
    })
}

fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Tap {
    /// Whether `dir` is captured.
    #[inline]
    pub fn wants(&self, dir: Directions) -> bool {
        self.session.dirs.has(dir)
    }

    /// Offers a burst of frames in direction `dir`.
    pub fn frames<P: PacketBuf>(&self, dir: Directions, bufs: &[P]) {
        if !self.wants(dir) {
            return;
        }
        let q = &self.session.queues[self.worker];
        for b in bufs {
            let ts = b.timestamp_ns();
            let ts = if ts == 0 || dir == Directions::TX {
                self.now_ns
            } else {
                ts
            };
            self.session.offer(q, dir, b.data(), ts, None);
        }
    }

    /// Offers one dropped frame.
    pub fn dropped(&self, frame: &[u8], reason: DropReason) {
        if self.wants(Directions::DROP) {
            let q = &self.session.queues[self.worker];
            self.session
                .offer(q, Directions::DROP, frame, self.now_ns, Some(reason));
        }
    }
}

/// The arm flag and session the workers read.
#[derive(Debug, Default)]
struct Arm {
    armed: AtomicBool,
    session: ArcSwapOption<Session>,
}

impl Arm {
    fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
        self.session.store(None);
    }
}

const RUNNING: u8 = 1;
const DONE: u8 = 2;
const FAILED: u8 = 3;

/// The writer's progress, shared with the control thread.
#[derive(Debug, Default)]
struct Progress {
    state: AtomicU8,
    written: AtomicU64,
    bytes: AtomicU64,
    stop: AtomicBool,
    error: Mutex<Option<String>>,
}

/// The last (or running) capture, for status.
#[derive(Debug)]
struct Current {
    port: String,
    directions: Directions,
    filter: String,
    path: PathBuf,
    count: u64,
    snaplen: u32,
    slots: usize,
    started: Instant,
    finished: Arc<Mutex<Option<Instant>>>,
    session: Arc<Session>,
    progress: Arc<Progress>,
    writer: Option<JoinHandle<()>>,
}

/// The capture state shared by the control thread and the workers (one
/// per engine). At most one capture runs at a time.
#[derive(Debug)]
pub struct CaptureShared {
    arm: Arc<Arm>,
    workers: usize,
    current: Mutex<Option<Current>>,
    /// Packets written and overflows of captures that ended.
    past: Mutex<(u64, u64)>,
}

impl CaptureShared {
    /// Capture state for an engine of `workers` workers.
    pub fn new(workers: usize) -> Self {
        Self {
            arm: Arc::default(),
            workers: workers.max(1),
            current: Mutex::new(None),
            past: Mutex::new((0, 0)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Current>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The running capture, if any: (port, file, written, count).
    pub fn running(&self) -> Option<CaptureError> {
        let cur = self.lock();
        let c = cur.as_ref()?;
        (c.progress.state.load(Ordering::SeqCst) == RUNNING).then(|| CaptureError::Running {
            port: c.port.clone(),
            file: c.path.clone(),
            written: c.progress.written.load(Ordering::Relaxed),
            count: c.count,
        })
    }

    /// Starts a capture: writes the file header, preallocates the slots,
    /// starts the writer thread and arms the workers. Refused while one
    /// runs. Returns the status.
    pub fn start(&self, req: StartRequest) -> Result<Value, CaptureError> {
        if let Some(e) = self.running() {
            return Err(e);
        }
        if req.count == 0 || req.count > MAX_COUNT {
            return Err(CaptureError::Invalid(format!(
                "count {}: must be in 1..={MAX_COUNT}",
                req.count
            )));
        }
        if req.snaplen == 0 {
            return Err(CaptureError::Invalid(
                "snaplen 0: must be at least 1".into(),
            ));
        }
        let mut cur = self.lock();
        if let Some(c) = cur.take() {
            self.finish(c);
        }
        let io = |source| CaptureError::Io {
            path: req.path.clone(),
            source,
        };
        let out = pcapng::Writer::new(req.file, &req.port_name, &req.port_description, req.snaplen)
            .map_err(io)?;
        let slot_bytes = req.snaplen as usize;
        let slots = (QUEUE_BYTES / slot_bytes)
            .clamp(MIN_SLOTS, MAX_SLOTS)
            .min(req.count as usize);
        let queues: Box<[WorkerQueue]> = (0..self.workers)
            .map(|_| {
                let q = WorkerQueue {
                    free: ArrayQueue::new(slots),
                    full: ArrayQueue::new(slots),
                    matched: AtomicU64::new(0),
                    overflow: AtomicU64::new(0),
                };
                for _ in 0..slots {
                    let _ = q.free.push(Box::new(Slot {
                        data: vec![0; slot_bytes].into_boxed_slice(),
                        caplen: 0,
                        orig_len: 0,
                        ts_ns: 0,
                        dir: Directions::RX,
                        reason: None,
                    }));
                }
                q
            })
            .collect();
        let session = Arc::new(Session {
            port: req.port,
            dirs: req.directions,
            program: req.program,
            snaplen: req.snaplen,
            remaining: AtomicU64::new(req.count),
            queues,
        });
        let progress = Arc::new(Progress {
            state: AtomicU8::new(RUNNING),
            ..Progress::default()
        });
        let finished = Arc::new(Mutex::new(None));
        let writer = {
            let (session, progress, arm, finished) = (
                Arc::clone(&session),
                Arc::clone(&progress),
                Arc::clone(&self.arm),
                Arc::clone(&finished),
            );
            let count = req.count;
            std::thread::Builder::new()
                .name("cnfwd-capture".into())
                .spawn(move || write_loop(out, &session, &progress, &arm, count, &finished))
                .map_err(io)?
        };
        self.arm.session.store(Some(Arc::clone(&session)));
        self.arm.armed.store(true, Ordering::SeqCst);
        tracing::info!(
            port = %req.port_name,
            file = %req.path.display(),
            count = req.count,
            filter = %req.filter,
            directions = ?req.directions.names(),
            "capture started"
        );
        *cur = Some(Current {
            port: req.port_name,
            directions: req.directions,
            filter: req.filter,
            path: req.path,
            count: req.count,
            snaplen: req.snaplen,
            slots,
            started: Instant::now(),
            finished,
            session,
            progress,
            writer: Some(writer),
        });
        Ok(status_of(cur.as_ref()))
    }

    /// Stops the running capture (the packets queued so far are written and
    /// the file closed); returns the status. Without a running capture the
    /// status of the last one.
    pub fn stop(&self) -> Value {
        let mut cur = self.lock();
        if let Some(c) = cur.as_mut() {
            stop_writer(&self.arm, c);
        }
        status_of(cur.as_ref())
    }

    /// Ends `c` and adds its counts to the totals.
    fn finish(&self, mut c: Current) {
        stop_writer(&self.arm, &mut c);
        let mut past = self.past.lock().unwrap_or_else(|e| e.into_inner());
        past.0 += c.progress.written.load(Ordering::Relaxed);
        past.1 += c.session.sum(|q| &q.overflow);
    }

    /// The state of the running or last capture.
    pub fn status(&self) -> Value {
        status_of(self.lock().as_ref())
    }

    /// Packets written and packets lost to full queues, over every capture
    /// of this run (for /metrics).
    pub fn totals(&self) -> (u64, u64) {
        let (mut w, mut o) = *self.past.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = self.lock().as_ref() {
            w += c.progress.written.load(Ordering::Relaxed);
            o += c.session.sum(|q| &q.overflow);
        }
        (w, o)
    }
}

impl Drop for CaptureShared {
    /// A running capture's file is completed when the engine ends.
    fn drop(&mut self) {
        let mut cur = self.lock();
        if let Some(c) = cur.as_mut() {
            stop_writer(&self.arm, c);
        }
    }
}

fn stop_writer(arm: &Arm, c: &mut Current) {
    if c.progress.state.load(Ordering::SeqCst) == RUNNING {
        arm.disarm();
    }
    c.progress.stop.store(true, Ordering::SeqCst);
    if let Some(w) = c.writer.take() {
        let _ = w.join();
    }
}

fn status_of(cur: Option<&Current>) -> Value {
    let Some(c) = cur else {
        return json!({"state": "idle"});
    };
    let state = match c.progress.state.load(Ordering::SeqCst) {
        RUNNING => "running",
        FAILED => "failed",
        _ => "done",
    };
    let end = *c.finished.lock().unwrap_or_else(|e| e.into_inner());
    let elapsed = end.unwrap_or_else(Instant::now) - c.started;
    json!({
        "state": state,
        "port": c.port,
        "directions": c.directions.names(),
        "filter": c.filter,
        "file": c.path,
        "count": c.count,
        "snaplen": c.snaplen,
        "written": c.progress.written.load(Ordering::Relaxed),
        "bytes": c.progress.bytes.load(Ordering::Relaxed),
        "matched": c.session.sum(|q| &q.matched),
        "overflow": c.session.sum(|q| &q.overflow),
        "slots_per_worker": c.slots,
        "elapsed_seconds": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "error": c.progress.error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
    })
}

/// The writer thread: drains the workers' full slots into the file until
/// `count` packets are written or it is told to stop (then it waits a
/// moment for bursts in flight and drains once more).
fn write_loop(
    mut out: pcapng::Writer,
    session: &Session,
    progress: &Progress,
    arm: &Arm,
    count: u64,
    finished: &Mutex<Option<Instant>>,
) {
    let mut written = 0u64;
    let mut stopping = false;
    let result = loop {
        let mut did = 0;
        let mut failed = None;
        'queues: for q in session.queues.iter() {
            while written < count {
                let Some(slot) = q.full.pop() else { break };
                let r = out.packet(&slot);
                let _ = q.free.push(slot);
                match r {
                    Ok(n) => {
                        written += 1;
                        did += 1;
                        progress.written.store(written, Ordering::Relaxed);
                        progress.bytes.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed = Some(e);
                        break 'queues;
                    }
                }
            }
        }
        if let Some(e) = failed {
            break Err(e);
        }
        if written >= count {
            break Ok(());
        }
        if stopping {
            break Ok(());
        }
        if progress.stop.load(Ordering::SeqCst) {
            // Bursts that loaded the session before the disarm finish
            // within microseconds; one more pass takes their frames.
            std::thread::sleep(Duration::from_millis(5));
            stopping = true;
            continue;
        }
        if did == 0 {
            std::thread::sleep(WRITER_IDLE);
        }
    };
    if written >= count {
        arm.disarm();
    }
    let result = result.and_then(|()| out.finish());
    *finished.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    match result {
        Ok(()) => {
            tracing::info!(written, "capture finished");
            progress.state.store(DONE, Ordering::SeqCst);
        }
        Err(e) => {
            arm.disarm();
            tracing::warn!(error = %e, written, "capture failed");
            *progress.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
            progress.state.store(FAILED, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests;

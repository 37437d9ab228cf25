//! `cnfwd-bench`: the traffic generator of the forwarding benchmark
//! (`scripts/bench-kernel.sh`).
//!
//! [`frames`] prebuilds one UDP frame per flow; [`generate`] sends them
//! round-robin through an AF_PACKET socket for a fixed time, as fast as the
//! kernel takes them or at a given rate. Sending goes through cnfwd's own
//! AF_PACKET backend ([`AfPacketBackend::tx_burst`]: `sendmmsg` in chunks of
//! 64, `PACKET_QDISC_BYPASS`, never blocking), so this module has no unsafe
//! code of its own. Packets the kernel pushes back on (`EAGAIN`/`ENOBUFS`)
//! are offered again, not counted as sent: [`GenReport::sent`] is what the
//! kernel took.

pub mod compare;
pub mod frames;
pub mod measure;
pub mod netns;
pub mod process;
pub mod profile;
pub mod report;
pub mod run;
pub mod search;
pub mod stamp;
pub mod traffic;
pub mod trial;
#[cfg(feature = "dpdk")]
pub mod vdev;

use std::time::{Duration, Instant};

use dataplane::io::afpacket::{AfPacketBackend, AfPacketError, RingConfig};
use dataplane::io::{Backend, IoError};
use dataplane::packet::buf::{HeapBuf, HeapPool};
use dataplane::packet::PacketBuf;

/// Why the generator could not run. Each names the value at fault.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// `--size` outside what an Ethernet/IPv4/UDP frame can be.
    #[error("frame size {size} is outside {min}..={max} bytes (Ethernet + IPv4 + UDP at least)")]
    BadSize {
        /// The size asked for.
        size: usize,
        /// Smallest possible.
        min: usize,
        /// Largest allowed.
        max: usize,
    },
    /// `--flows` zero or more than the destination prefix can make distinct.
    #[error("{flows} flows: must be 1..={max} for this destination prefix")]
    BadFlows {
        /// The count asked for.
        flows: usize,
        /// Most distinct flows the prefix gives.
        max: u64,
    },
    /// `--rate` zero.
    #[error("rate must be at least 1 packet per second")]
    BadRate,
    /// The interface name cannot be used in a port configuration.
    #[error("interface name {0:?} is not valid (1..=15 characters, no quotes or spaces)")]
    BadInterface(String),
    /// The backend failed while sending.
    #[error(transparent)]
    Io(#[from] IoError),
    /// Opening the AF_PACKET socket failed.
    #[error(transparent)]
    Open(#[from] AfPacketError),
    /// The kernel refused a frame outright (not back-pressure), e.g. larger
    /// than the interface MTU.
    #[error("interface {interface:?}: the kernel refuses a {size}-byte frame: {error}")]
    Refused {
        /// Interface name.
        interface: String,
        /// Frame size.
        size: usize,
        /// The error the kernel gave.
        error: String,
    },
}

/// How to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenOptions {
    /// Interface to send on (must exist and be up).
    pub interface: String,
    /// How long to send.
    pub duration: Duration,
    /// Packets per second at most (None: as fast as the kernel takes them).
    pub rate: Option<u64>,
    /// Packets offered per `tx_burst` call (the backend issues one
    /// `sendmmsg` per 64).
    pub batch: usize,
}

/// What a generator run did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenReport {
    /// Packets the kernel took.
    pub sent: u64,
    /// Bytes of those packets.
    pub bytes: u64,
    /// Time from the first send to the last.
    pub elapsed: Duration,
    /// `tx_burst` calls that left packets behind (kernel back-pressure).
    pub pushed_back: u64,
}

impl GenReport {
    /// Packets per second over `elapsed` (0 for an empty run).
    pub fn pps(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.sent as f64 / s
        } else {
            0.0
        }
    }
}

/// Opens `interface` as a one-port AF_PACKET backend (a small RX ring: the
/// generator receives nothing).
fn open(interface: &str) -> Result<AfPacketBackend, BenchError> {
    open_port(
        interface,
        RingConfig {
            block_size: 64 * 1024,
            block_count: 2,
            ..RingConfig::default()
        },
    )
}

/// Opens `interface` (in the calling thread's network namespace) as a
/// one-port AF_PACKET backend with RX ring `ring`; port 0 is the interface.
pub fn open_port(interface: &str, ring: RingConfig) -> Result<AfPacketBackend, BenchError> {
    if interface.is_empty()
        || interface.len() > 15
        || interface
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == b'"' || b == b'\\' || b == b'/')
    {
        return Err(BenchError::BadInterface(interface.to_owned()));
    }
    let text = format!(
        "[[ports]]\nname = \"gen\"\nbackend = \"af_packet\"\ninterface = \"{interface}\"\n\
         mode = \"access\"\nnetworks = [\"gen\"]\n\n[[l2_networks]]\nname = \"gen\"\nvlan = 1\n"
    );
    // This text is valid by construction (the name was checked above).
    let cfg = cnfwd_config::parse(&text, "<cnfwd-bench>")
        .map_err(|e| BenchError::BadInterface(format!("{interface} ({e})")))?;
    let r = cnfwd_config::resolve(&cfg)
        .map_err(|e| BenchError::BadInterface(format!("{interface} ({e:?})")))?;
    Ok(AfPacketBackend::open_with(&r, 1, ring)?)
}

/// Sends `frames` round-robin on `opts.interface` for `opts.duration`.
/// Returns what the kernel took; an error if the socket cannot be opened or
/// the kernel refuses the frames themselves.
pub fn generate(frames: &[Vec<u8>], opts: &GenOptions) -> Result<GenReport, BenchError> {
    if opts.rate == Some(0) {
        return Err(BenchError::BadRate);
    }
    let Some(size) = frames.first().map(Vec::len) else {
        return Err(BenchError::BadFlows { flows: 0, max: 0 });
    };
    let mut backend = open(&opts.interface)?;
    let batch = opts.batch.max(1);
    let mut pool = HeapPool::new();
    let mut pending: Vec<HeapBuf> = Vec::with_capacity(batch);
    let mut next = 0usize;
    let mut report = GenReport {
        sent: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
        pushed_back: 0,
    };
    let start = Instant::now();
    let end = start + opts.duration;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let mut want = batch;
        if let Some(rate) = opts.rate {
            let due = ((now - start).as_secs_f64() * rate as f64) as u64 + 1;
            let room = due.saturating_sub(report.sent) as usize;
            if room == 0 {
                std::thread::sleep(Duration::from_micros(50));
                continue;
            }
            want = want.min(room);
        }
        while pending.len() < want {
            pending.push(pool.take(&frames[next]));
            next = (next + 1) % frames.len();
        }
        let offered = pending.len();
        let offered_bytes: usize = pending.iter().map(|b| b.data().len()).sum();
        let (errors_before, _) = backend.tx_errors(0);
        let taken = backend.tx_burst(0, &mut pending)?;
        let (errors_after, last) = backend.tx_errors(0);
        if errors_after > errors_before {
            return Err(BenchError::Refused {
                interface: opts.interface.clone(),
                size,
                error: last.map_or_else(|| "unknown".to_owned(), ToString::to_string),
            });
        }
        report.sent += taken as u64;
        let left_bytes: usize = pending.iter().map(|b| b.data().len()).sum();
        report.bytes += (offered_bytes - left_bytes) as u64;
        if taken < offered {
            report.pushed_back += 1;
        }
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

//! The stamp every generated packet carries at the start of its L4 payload,
//! and how the receiver finds it again in a forwarded frame.
//!
//! Layout (14 bytes, big-endian): `0xCB` (magic), flow index (24 bits),
//! per-flow sequence number (32 bits), send time (48 bits, nanoseconds
//! since the run's [`Clock`] epoch: 78 hours of range). Generator and
//! receiver are threads of one process and read the same monotonic clock,
//! so receive time minus send time is the latency through what is between.
//!
//! [`find`] accepts a frame as ours when it is Ethernet (any number of
//! 802.1Q/802.1ad tags: a forwarder may add or remove them), IPv4 or IPv6
//! with UDP or TCP right after the IP header, the profile's destination
//! port, and the magic byte.

use std::time::Instant;

/// Bytes of the stamp.
pub const STAMP_LEN: usize = 14;
/// First byte of every stamp.
pub const MAGIC: u8 = 0xCB;

/// What a stamp says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Flow index (0..flows).
    pub flow: u32,
    /// Sequence number within the flow, from 0.
    pub seq: u32,
    /// Send time, nanoseconds since the clock's epoch (48 bits).
    pub sent_ns: u64,
}

impl Stamp {
    /// Writes the stamp into the first [`STAMP_LEN`] bytes of `out`
    /// (`flow` keeps its low 24 bits, `sent_ns` its low 48).
    pub fn write(&self, out: &mut [u8]) {
        out[0] = MAGIC;
        out[1..4].copy_from_slice(&self.flow.to_be_bytes()[1..]);
        out[4..8].copy_from_slice(&self.seq.to_be_bytes());
        out[8..14].copy_from_slice(&self.sent_ns.to_be_bytes()[2..]);
    }

    /// Reads a stamp from the start of `b`; `None` if too short or the magic
    /// byte is wrong.
    pub fn read(b: &[u8]) -> Option<Stamp> {
        if b.len() < STAMP_LEN || b[0] != MAGIC {
            return None;
        }
        let flow = u32::from_be_bytes([0, b[1], b[2], b[3]]);
        let seq = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        let mut t = [0u8; 8];
        t[2..].copy_from_slice(&b[8..14]);
        Some(Stamp {
            flow,
            seq,
            sent_ns: u64::from_be_bytes(t),
        })
    }
}

/// The time base shared by a generator and its receiver.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn new() -> Clock {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// The clock of this process (epoch: its first use), shared by every
    /// trial so that a frame left over from an earlier trial is recognised
    /// by its send time.
    pub fn process() -> Clock {
        static CLOCK: std::sync::OnceLock<Clock> = std::sync::OnceLock::new();
        *CLOCK.get_or_init(Clock::new)
    }

    /// Nanoseconds since the epoch.
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Nanoseconds from the epoch to `t` (0 before it).
    pub fn ns_at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_nanos() as u64
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Finds the stamp of a generated packet in `frame` (see the module doc);
/// `None` for any other frame.
pub fn find(frame: &[u8], dst_port: u16) -> Option<Stamp> {
    let mut off = 12;
    let mut ethertype = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        off += 4;
        ethertype = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    }
    off += 2;
    let (proto, l4) = match ethertype {
        0x0800 => {
            let ihl = (*frame.get(off)? & 0x0f) as usize * 4;
            (*frame.get(off + 9)?, off + ihl)
        }
        0x86dd => (*frame.get(off + 6)?, off + 40),
        _ => return None,
    };
    let port = u16::from_be_bytes([*frame.get(l4 + 2)?, *frame.get(l4 + 3)?]);
    if port != dst_port {
        return None;
    }
    let payload = match proto {
        17 => l4 + 8,
        6 => l4 + ((*frame.get(l4 + 12)? >> 4) as usize * 4),
        _ => return None,
    };
    Stamp::read(frame.get(payload..)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_24_bit_flow_and_48_bit_time() {
        let s = Stamp {
            flow: 0x00ab_cdef,
            seq: 0xdead_beef,
            sent_ns: 0x0000_1234_5678_9abc,
        };
        let mut b = [0u8; STAMP_LEN];
        s.write(&mut b);
        assert_eq!(Stamp::read(&b), Some(s));
        b[0] = 0;
        assert_eq!(Stamp::read(&b), None);
    }
}

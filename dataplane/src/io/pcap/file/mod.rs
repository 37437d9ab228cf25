//! Capture files: read classic pcap and pcapng, write classic pcap.
//!
//! This module is the file layer of the pcap backend. It knows nothing about
//! ports or the pipeline: [`CaptureReader`] turns a capture file into a
//! sequence of Ethernet frames, [`CaptureWriter`] turns Ethernet frames into a
//! classic pcap file. It is 100% safe Rust, uses only `std` and `thiserror`,
//! and no file content, however damaged, can make it panic, loop forever or
//! allocate more than a fixed amount of memory.
//!
//! # Formats read
//!
//! The format is detected from the first four bytes (the magic number), never
//! from the file name (several real captures named `.pcap` are pcapng):
//!
//! | magic (as bytes in the file)        | format                                   |
//! | ----------------------------------- | ---------------------------------------- |
//! | `d4 c3 b2 a1` / `a1 b2 c3 d4`       | classic pcap, microseconds, LE / BE      |
//! | `4d 3c b2 a1` / `a1 b2 3c 4d`       | classic pcap, nanoseconds, LE / BE       |
//! | `0a 0d 0d 0a` (+ byte-order magic)  | pcapng, either byte order                |
//!
//! Classic pcap: version 2.x; the header's link type applies to every record
//! (only its low 26 bits are the link type, as in libpcap; the FCS bits above
//! are ignored). The header's snaplen is informational: a record's captured
//! length is checked against [`MAX_RECORD_LEN`] only, like Wireshark does.
//! `thiszone` is ignored, like libpcap does. A sub-second field out of range
//! (e.g. `usec >= 1_000_000`) is tolerated and simply added.
//!
//! pcapng: version 1.x; several sections (each Section Header Block may switch
//! byte order and resets the interface list) and several Interface Description
//! Blocks per section, each with its own link type, snaplen, `if_tsresol`
//! (default 10^-6 s) and `if_tsoffset` (seconds added to every timestamp).
//! Packets come from Enhanced Packet Blocks (type 6), Simple Packet Blocks
//! (type 3: interface 0, timestamp 0, captured length = the smaller of the
//! original length, the block's room and the interface snaplen when non-zero)
//! and the obsolete Packet Block (type 2). Every other block type is skipped
//! by its length without being read into memory. A block's trailing length
//! must equal its leading length.
//!
//! # Every frame returned is Ethernet
//!
//! [`CaptureReader::next_frame`] takes the MAC address of the local port
//! (`local_mac`) and always returns an Ethernet II frame:
//!
//! * `ETHERNET` (1): the record, byte for byte (even when shorter than an
//!   Ethernet header: the packet parser counts that as a drop; an FCS, if the
//!   capture has one, is left in place).
//! * `LINUX_SLL` (113) and `LINUX_SLL2` (276): the cooked header is replaced by
//!   an Ethernet header. EtherType = the SLL protocol field. Source MAC = the
//!   SLL link-layer address when its length is 6, else `00:00:00:00:00:00`.
//!   Destination MAC = `ff:ff:ff:ff:ff:ff` when the SLL packet type is
//!   broadcast (1) or multicast (2), else `local_mac`. A protocol value below
//!   `0x0600` (e.g. `0x0004`, 802.2 LLC; `0x0001`, Novell 802.3) is not an
//!   EtherType: that record is refused with the per-record error
//!   [`CaptureError::Unconvertible`] ([`ConversionFailure::NotAnEtherType`]).
//! * `RAW` (101), `IPV4` (228), `IPV6` (229): an Ethernet header is prepended;
//!   EtherType from the IP version nibble of the first byte (4 -> `0x0800`,
//!   6 -> `0x86dd`, for all three link types); any other version, or an empty
//!   record, is the per-record error [`ConversionFailure::IpVersion`] /
//!   [`ConversionFailure::TooShort`].
//! * `NULL` (0) and `LOOP` (108): the 4-byte address-family header is replaced
//!   by an Ethernet header. The family is in network byte order for `LOOP`; for
//!   `NULL` it is in the capturing host's order, read in the file's byte order
//!   and, if that gives no known family, byte-swapped (the capturing host may
//!   differ from the writing host). `AF_INET` = 2 -> IPv4 (`0x0800`);
//!   `AF_INET6` = 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS)
//!   -> IPv6 (`0x86dd`); anything else is the per-record error
//!   [`ConversionFailure::AddressFamily`].
//! * Converted frames (all of the above but `ETHERNET`) have destination MAC
//!   `local_mac` and source MAC `00:00:00:00:00:00`, except where the SLL rule
//!   above says otherwise. A record shorter than its link-layer header is the
//!   per-record error [`ConversionFailure::TooShort`].
//! * Any other link type: [`CaptureError::UnsupportedLinkType`] naming it (see
//!   [`link_type_name`]). For classic pcap this comes from
//!   [`CaptureReader::new`]; for pcapng it is a per-record error for each
//!   packet of such an interface (packets of other interfaces still read).
//!
//! [`Frame::orig_len`] is the original length of the converted frame: the
//! file's original length minus the link-layer header plus 14. A record whose
//! captured length exceeds its original length is tolerated; `orig_len` is
//! then raised to the captured length, so `data.len() <= orig_len` always.
//!
//! # Limits and errors
//!
//! * A record (classic record or pcapng packet) whose captured length exceeds
//!   [`MAX_RECORD_LEN`] (262,144 bytes) and a pcapng block whose total length
//!   exceeds [`MAX_BLOCK_LEN`] (16 MiB) is [`CaptureError::RecordTooLong`].
//!   The reader never holds more than one record (plus 14 bytes of headroom)
//!   in memory; other blocks are skipped without being buffered. At most
//!   [`MAX_INTERFACES`] interfaces per pcapng section are accepted.
//! * A pcapng block length below 12 or not a multiple of 4, or any length that
//!   overruns its block, is [`CaptureError::Malformed`].
//! * A file that ends inside a header, record or block is
//!   [`CaptureError::Truncated`]; a file that ends exactly at a record or block
//!   boundary is a clean end (`Ok(None)`).
//! * Errors carry `index`: the 1-based number of the record (classic pcap,
//!   = Wireshark's frame number) or block (pcapng, counting every block, the
//!   Section Header Block being block 1) in which the problem was found;
//!   0 means the file header.
//!
//! # After an error
//!
//! Errors are of two kinds ([`CaptureError::is_record_error`]):
//!
//! * **Per-record errors** ([`CaptureError::Unconvertible`],
//!   [`CaptureError::UnknownInterface`], and pcapng's per-interface
//!   [`CaptureError::UnsupportedLinkType`]): the whole record has been
//!   consumed, the file is still in sync, and the next call to
//!   [`CaptureReader::next_frame`] returns the next record. They are counted by
//!   [`CaptureReader::records_rejected`]. A caller that forwards what it can
//!   counts these as drops and carries on.
//! * **Fatal errors** (everything else: I/O, truncation, lengths over a limit,
//!   malformed blocks): the reader is finished. Every later call returns the
//!   same error again (an I/O error is re-created with the same kind and
//!   message), never `Ok(None)`, so a loop that retries cannot mistake a
//!   damaged file for a complete one and cannot spin on new data.
//!
//! # Writing
//!
//! [`CaptureWriter`] writes classic pcap, nanosecond resolution (magic
//! `0xa1b23c4d` in little-endian order), version 2.4, link type Ethernet,
//! snaplen 262,144; every record has `incl_len == orig_len == data.len()`.
//!
//! # Why hand-written rather than the `pcap-file` crate
//!
//! Measured against `pcap-file` 2.0.0 (the current stable release) by
//! `benches/examples/pcap_reader_compare.rs`, both readers in the same run
//! (`cargo run --release -p cnfwd-benches --example pcap_reader_compare`):
//!
//! * **Throughput is not the reason**: 1,000,000 IMIX frames from a file,
//!   each copied into a reused buffer, median of 5 alternating rounds on
//!   this 2-core shared machine, quiet: classic pcap 11.0 Mpps here and
//!   10.8 Mpps with the crate, pcapng 6.2 and 5.7 Mpps; under load from
//!   other builds: 4.4-4.6 and 4.3-4.7 Mpps, 2.5-2.6 and 2.3 Mpps. The ratio
//!   of times stayed within 0.90-1.07: a tie. (pcapng here was 11% slower
//!   until a packet block's fixed 20 bytes were read in one call and
//!   padding skipped without `io::copy`.)
//! * **Capabilities are**. On the 220 committed captures (`testdata/pcaps`,
//!   `pcap-tests/cases`) the two agree on 212; of the other 8, the crate:
//!   - gives pcapng timestamps 1,000 times too small (it reads an Enhanced
//!     Packet Block's timestamp as nanoseconds whatever the interface's
//!     `if_tsresol`, default microseconds): 3 captures. The replay backend's
//!     clock is the capture's, so every timer (ARP retries, ICMP rate limits,
//!     aging) would run 1,000 times too slowly; `if_tsoffset` is ignored too;
//!   - refuses a whole file where a record's `orig_len` exceeds the header's
//!     snaplen (`tcp-truncated-header.pcap`: 0 frames instead of 24) and a
//!     record whose sub-second field is out of range; Wireshark and libpcap
//!     read both (see "Formats read");
//!   - returns the raw link-layer bytes: SLL/SLL2, RAW/IPv4/IPv6 and
//!     NULL/LOOP still need the conversion to Ethernet kept in `linktype.rs`.
//! * **Damaged files**: on the 345 inputs of the `capture` fuzz corpus the
//!   crate never panicked, but after any error it cannot go on (0 of 302
//!   errors resumed): it has no per-record error after which the next
//!   record is read, and it does not say whether an error is fatal, so the
//!   replay's "count the bad record as a drop and carry on" cannot be built
//!   on it. It also allocates an 8 MB buffer per reader up front and keeps
//!   every Interface Description Block of a section without a bound.
//!
//! `pcap-file` 3.0 (release candidates only when this was measured; it
//! needs Rust 1.93 against this workspace's 1.87) applies `if_tsresol`; the
//! other points stand. The live-capture pcapng writer may use the crate's
//! writer; this module keeps only the classic pcap writer the replay uses.

mod linktype;
mod pcapng;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub use linktype::{link_type_name, ConversionFailure};
pub use reader::{CaptureFormat, CaptureReader};
pub use writer::CaptureWriter;

/// Largest captured length of one record, in bytes, that the reader accepts
/// and the writer writes (libpcap's and Wireshark's maximum for Ethernet).
pub const MAX_RECORD_LEN: u32 = 262_144;

/// Largest pcapng block, in bytes (total length field), that the reader
/// accepts, whatever its type. Larger blocks are [`CaptureError::RecordTooLong`].
pub const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;

/// Most Interface Description Blocks the reader accepts in one pcapng section
/// (bounds the memory a hostile file can make it use).
pub const MAX_INTERFACES: usize = 65_536;

/// One frame read from a capture, always Ethernet (see the module doc for the
/// conversion rules).
///
/// `data` borrows the reader's reusable buffer: it is valid until the next
/// call on the reader, and reading it allocates nothing once the buffer has
/// grown to the largest record seen. `data.len() <= orig_len` always.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Capture time in nanoseconds since the Unix epoch (0 when the record has
    /// none, e.g. a pcapng Simple Packet Block). Saturates at `u64::MAX`.
    pub timestamp_ns: u64,
    /// Length of the frame on the wire, as Ethernet (see the module doc).
    pub orig_len: u32,
    /// The captured bytes of the Ethernet frame (possibly fewer than
    /// `orig_len` when the capture used a small snaplen).
    pub data: &'a [u8],
}

/// Everything that can go wrong reading or writing a capture file.
///
/// Every variant that concerns a record carries its `index` (see the module
/// doc) and the value that was wrong, so the message alone lets a user find
/// the problem in a hex dump or in Wireshark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Reading or writing the underlying file failed.
    #[error("capture I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// The capture file could not be opened or created.
    #[error("cannot open capture file {path}: {source}")]
    Open {
        /// The path given.
        path: std::path::PathBuf,
        /// Why the OS refused.
        source: std::io::Error,
    },

    /// The first four bytes are no pcap or pcapng magic number.
    #[error("not a pcap or pcapng file: first bytes {magic:02x?}")]
    UnknownFormat {
        /// The first four bytes of the file.
        magic: [u8; 4],
    },

    /// A pcap header or pcapng Section Header Block has a version this reader
    /// does not know (pcap 2.x and pcapng 1.x are read).
    #[error("record {index}: unsupported {format} version {major}.{minor}")]
    UnsupportedVersion {
        /// Where (0 = the file header).
        index: u64,
        /// `"pcap"` or `"pcapng"`.
        format: &'static str,
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },

    /// The link type cannot be converted into Ethernet.
    #[error("link type {link_type} ({name}) cannot be converted to Ethernet")]
    UnsupportedLinkType {
        /// The link type number (LINKTYPE_*).
        link_type: u32,
        /// Its name (e.g. `"IEEE802_11_RADIOTAP"`), or `"unknown"`.
        name: &'static str,
    },

    /// A record or block is longer than the reader's (or writer's) limit.
    #[error("record {index}: length {len} exceeds the limit of {limit} bytes")]
    RecordTooLong {
        /// Where.
        index: u64,
        /// The length the file claims (or the frame given to the writer).
        len: u64,
        /// The limit ([`MAX_RECORD_LEN`] or [`MAX_BLOCK_LEN`]).
        limit: u64,
    },

    /// The file ends in the middle of a header, record or block.
    #[error("record {index}: file ends inside the {what} ({got} of {expected} bytes)")]
    Truncated {
        /// Where (0 = the file header).
        index: u64,
        /// What was being read (e.g. `"record header"`).
        what: &'static str,
        /// Bytes needed.
        expected: u64,
        /// Bytes found before the end of the file.
        got: u64,
    },

    /// A structural field is invalid (e.g. a pcapng block length that is not
    /// a multiple of 4, or an option that overruns its block).
    #[error("record {index}: malformed {what} (value {value})")]
    Malformed {
        /// Where.
        index: u64,
        /// What is wrong.
        what: &'static str,
        /// The offending value.
        value: u64,
    },

    /// Per-record: this record cannot be turned into an Ethernet frame. The
    /// record was consumed; the next call reads the next one.
    #[error("record {index}: {name} ({link_type}) record not converted to Ethernet: {reason}")]
    Unconvertible {
        /// Where.
        index: u64,
        /// The record's link type.
        link_type: u32,
        /// Its name.
        name: &'static str,
        /// Why.
        reason: ConversionFailure,
    },

    /// Per-record: a pcapng packet names an interface that no Interface
    /// Description Block of its section declared. The record was consumed.
    #[error("record {index}: packet on undeclared interface {interface} ({declared} declared)")]
    UnknownInterface {
        /// Where.
        index: u64,
        /// Interface id in the packet block.
        interface: u32,
        /// Interfaces declared so far in the section.
        declared: u32,
    },

    /// Writer: the timestamp does not fit a classic pcap record (32-bit
    /// seconds, i.e. after 2106-02-07).
    #[error("frame {index}: timestamp {timestamp_ns} ns does not fit a pcap record")]
    TimestampOutOfRange {
        /// 1-based number of the frame being written.
        index: u64,
        /// The timestamp given.
        timestamp_ns: u64,
    },
}

impl CaptureError {
    /// True when the error concerns one record only and the reader can go on:
    /// the record was consumed and the next [`CaptureReader::next_frame`]
    /// returns the next one. False for fatal errors, after which the reader
    /// returns this error again on every call.
    pub fn is_record_error(&self) -> bool {
        matches!(
            self,
            CaptureError::Unconvertible { .. }
                | CaptureError::UnknownInterface { .. }
                | CaptureError::UnsupportedLinkType { .. }
        )
    }

    /// An equal copy of `self` (an I/O error becomes a new error of the same
    /// kind and message): what a finished reader returns on later calls.
    pub(crate) fn replicate(&self) -> CaptureError {
        use std::io;
        let io_copy = |e: &io::Error| io::Error::new(e.kind(), e.to_string());
        match self {
            CaptureError::Io(e) => CaptureError::Io(io_copy(e)),
            CaptureError::Open { path, source } => CaptureError::Open {
                path: path.clone(),
                source: io_copy(source),
            },
            CaptureError::UnknownFormat { magic } => CaptureError::UnknownFormat { magic: *magic },
            CaptureError::UnsupportedVersion {
                index,
                format,
                major,
                minor,
            } => CaptureError::UnsupportedVersion {
                index: *index,
                format,
                major: *major,
                minor: *minor,
            },
            CaptureError::UnsupportedLinkType { link_type, name } => {
                CaptureError::UnsupportedLinkType {
                    link_type: *link_type,
                    name,
                }
            }
            CaptureError::RecordTooLong { index, len, limit } => CaptureError::RecordTooLong {
                index: *index,
                len: *len,
                limit: *limit,
            },
            CaptureError::Truncated {
                index,
                what,
                expected,
                got,
            } => CaptureError::Truncated {
                index: *index,
                what,
                expected: *expected,
                got: *got,
            },
            CaptureError::Malformed { index, what, value } => CaptureError::Malformed {
                index: *index,
                what,
                value: *value,
            },
            CaptureError::Unconvertible {
                index,
                link_type,
                name,
                reason,
            } => CaptureError::Unconvertible {
                index: *index,
                link_type: *link_type,
                name,
                reason: *reason,
            },
            CaptureError::UnknownInterface {
                index,
                interface,
                declared,
            } => CaptureError::UnknownInterface {
                index: *index,
                interface: *interface,
                declared: *declared,
            },
            CaptureError::TimestampOutOfRange {
                index,
                timestamp_ns,
            } => CaptureError::TimestampOutOfRange {
                index: *index,
                timestamp_ns: *timestamp_ns,
            },
        }
    }
}

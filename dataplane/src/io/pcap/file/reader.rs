//! [`CaptureReader`]: format detection, classic pcap records, and the common
//! machinery (bounded reads, the reusable buffer, the error policy) shared
//! with the pcapng parser.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use super::linktype::{self, HEADROOM};
use super::pcapng;
use super::{CaptureError, Frame, MAX_RECORD_LEN};

/// Which kind of file a [`CaptureReader`] found (from the magic number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic libpcap format.
    Pcap {
        /// Timestamps in nanoseconds (magic 0xa1b23c4d) rather than
        /// microseconds (0xa1b2c3d4).
        nanosecond: bool,
        /// The file is big-endian.
        big_endian: bool,
    },
    /// pcapng (byte order may change per section).
    Pcapng,
}

/// One record as found in the file, before conversion to Ethernet. Its
/// captured bytes are in `buf[HEADROOM..HEADROOM + caplen]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRecord {
    pub caplen: usize,
    pub orig_len: u32,
    pub timestamp_ns: u64,
    pub link_type: u32,
    pub big_endian: bool,
}

#[derive(Debug)]
enum Kind {
    Classic {
        big_endian: bool,
        nanosecond: bool,
        link_type: u32,
    },
    Pcapng(pcapng::State),
}

/// Reads Ethernet frames from a classic pcap or pcapng capture.
///
/// Guarantees: never panics and never loops forever whatever the input; holds
/// at most one record (at most [`MAX_RECORD_LEN`] + 14 bytes) in memory plus a
/// bounded interface table; allocates nothing per frame once its buffer has
/// grown to the largest record. See the module doc for the conversion rules
/// and the behaviour after an error.
#[derive(Debug)]
pub struct CaptureReader<R: Read> {
    inner: R,
    kind: Kind,
    /// `HEADROOM` free bytes, then the current record. Its length is a
    /// high-water mark; only `HEADROOM + caplen` bytes are meaningful.
    buf: Vec<u8>,
    /// Records (classic) or blocks (pcapng) started so far.
    index: u64,
    packets_read: u64,
    records_rejected: u64,
    link_type: Option<u32>,
    /// Set by a fatal error; returned again by every later call.
    failed: Option<CaptureError>,
    /// Set at a clean end of file.
    done: bool,
}

impl CaptureReader<BufReader<File>> {
    /// Opens the capture at `path` (buffered) and reads its header, as
    /// [`CaptureReader::new`] does. A file that cannot be opened is
    /// [`CaptureError::Open`] naming the path.
    pub fn open(path: &Path) -> Result<CaptureReader<BufReader<File>>, CaptureError> {
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        CaptureReader::new(BufReader::with_capacity(64 * 1024, file))
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header from `r` and detects the format from the magic
    /// number. Fails with [`CaptureError::UnknownFormat`] if it is neither
    /// pcap nor pcapng, [`CaptureError::Truncated`] if the header is cut,
    /// [`CaptureError::UnsupportedVersion`], or (classic pcap only)
    /// [`CaptureError::UnsupportedLinkType`]. `r` should be buffered: the
    /// reader issues small reads.
    pub fn new(mut r: R) -> Result<Self, CaptureError> {
        let mut magic = [0u8; 4];
        let got = read_up_to(&mut r, &mut magic)?;
        if got < magic.len() {
            return Err(CaptureError::Truncated {
                index: 0,
                what: "file header",
                expected: 4,
                got: got as u64,
            });
        }
        let classic = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => Some((false, false)),
            [0xa1, 0xb2, 0xc3, 0xd4] => Some((true, false)),
            [0x4d, 0x3c, 0xb2, 0xa1] => Some((false, true)),
            [0xa1, 0xb2, 0x3c, 0x4d] => Some((true, true)),
            _ => None,
        };
        let mut reader = CaptureReader {
            inner: r,
            kind: Kind::Pcapng(pcapng::State::default()),
            buf: Vec::new(),
            index: 0,
            packets_read: 0,
            records_rejected: 0,
            link_type: None,
            failed: None,
            done: false,
        };
        if let Some((big_endian, nanosecond)) = classic {
            let mut rest = [0u8; 20];
            let got = read_up_to(&mut reader.inner, &mut rest)?;
            if got < rest.len() {
                return Err(CaptureError::Truncated {
                    index: 0,
                    what: "file header",
                    expected: 24,
                    got: 4 + got as u64,
                });
            }
            let major = u16_at(&rest, 0, big_endian);
            let minor = u16_at(&rest, 2, big_endian);
            if major != 2 {
                return Err(CaptureError::UnsupportedVersion {
                    index: 0,
                    format: "pcap",
                    major,
                    minor,
                });
            }
            // thiszone(4) sigfigs(4) snaplen(4) network(4); snaplen is
            // informational (see the module doc).
            let link_type = u32_at(&rest, 16, big_endian) & 0x03ff_ffff;
            if !linktype::is_supported(link_type) {
                return Err(CaptureError::UnsupportedLinkType {
                    link_type,
                    name: linktype::link_type_name(link_type),
                });
            }
            reader.kind = Kind::Classic {
                big_endian,
                nanosecond,
                link_type,
            };
            reader.link_type = Some(link_type);
            return Ok(reader);
        }
        if magic != pcapng::SHB_TYPE {
            return Err(CaptureError::UnknownFormat { magic });
        }
        // The Section Header Block is read now so that a bad one fails here.
        reader.index = 1;
        if let Kind::Pcapng(state) = &mut reader.kind {
            // A Section Header Block never yields a packet.
            let _ = state.block(&mut reader.inner, magic, &mut reader.buf, reader.index)?;
        }
        Ok(reader)
    }

    /// The next frame, converted to Ethernet (see the module doc), or
    /// `Ok(None)` at a clean end of file (and on every call after it).
    ///
    /// `local_mac` is the destination MAC given to converted frames. On a
    /// per-record error ([`CaptureError::is_record_error`]) the record is
    /// skipped and the next call goes on; after any other error every call
    /// returns that error again. Allocates only to grow the internal buffer
    /// to a record larger than any before (bounded by [`MAX_RECORD_LEN`]).
    pub fn next_frame(&mut self, local_mac: [u8; 6]) -> Result<Option<Frame<'_>>, CaptureError> {
        if let Some(e) = &self.failed {
            return Err(e.replicate());
        }
        if self.done {
            return Ok(None);
        }
        let raw = match self.next_raw() {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                self.done = true;
                return Ok(None);
            }
            Err(e) => {
                if e.is_record_error() {
                    self.records_rejected += 1;
                } else {
                    self.failed = Some(e.replicate());
                }
                return Err(e);
            }
        };
        let index = self.index;
        let Some(record) = self.buf.get_mut(..HEADROOM + raw.caplen) else {
            // Unreachable: `load` sized the buffer. Fatal rather than panic.
            let e = CaptureError::Malformed {
                index,
                what: "internal buffer state",
                value: raw.caplen as u64,
            };
            self.failed = Some(e.replicate());
            return Err(e);
        };
        let conv = match linktype::to_ethernet(raw.link_type, record, raw.big_endian, local_mac) {
            Ok(conv) => conv,
            Err(reason) => {
                self.records_rejected += 1;
                return Err(CaptureError::Unconvertible {
                    index,
                    link_type: raw.link_type,
                    name: linktype::link_type_name(raw.link_type),
                    reason,
                });
            }
        };
        let data = record.get(conv.start..conv.end).unwrap_or(&[]);
        let orig = (u64::from(raw.orig_len) + 14).saturating_sub(u64::from(conv.header_len));
        let orig_len = u32::try_from(orig.max(data.len() as u64)).unwrap_or(u32::MAX);
        self.packets_read += 1;
        self.link_type = Some(raw.link_type);
        Ok(Some(Frame {
            timestamp_ns: raw.timestamp_ns,
            orig_len,
            data,
        }))
    }

    /// Number of frames returned so far by [`CaptureReader::next_frame`]
    /// (records refused with an error are not counted).
    pub fn packets_read(&self) -> u64 {
        self.packets_read
    }

    /// Number of records refused with a per-record error so far (see
    /// [`CaptureError::is_record_error`]).
    pub fn records_rejected(&self) -> u64 {
        self.records_rejected
    }

    /// The file format detected by [`CaptureReader::new`].
    pub fn format(&self) -> CaptureFormat {
        match &self.kind {
            Kind::Classic {
                big_endian,
                nanosecond,
                ..
            } => CaptureFormat::Pcap {
                nanosecond: *nanosecond,
                big_endian: *big_endian,
            },
            Kind::Pcapng(_) => CaptureFormat::Pcapng,
        }
    }

    /// The link type (LINKTYPE_* number) of the frame most recently returned:
    /// for classic pcap, the file's link type from the start; for pcapng,
    /// `None` until the first frame.
    pub fn link_type(&self) -> Option<u32> {
        self.link_type
    }

    /// Capacity of the internal record buffer (tests check the memory bound).
    #[cfg(test)]
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    fn next_raw(&mut self) -> Result<Option<RawRecord>, CaptureError> {
        match &mut self.kind {
            Kind::Classic {
                big_endian,
                nanosecond,
                link_type,
            } => {
                self.index += 1;
                next_classic(
                    &mut self.inner,
                    &mut self.buf,
                    self.index,
                    *big_endian,
                    *nanosecond,
                    *link_type,
                )
            }
            Kind::Pcapng(state) => {
                state.next_packet(&mut self.inner, &mut self.buf, &mut self.index)
            }
        }
    }
}

fn next_classic<R: Read>(
    r: &mut R,
    buf: &mut Vec<u8>,
    index: u64,
    big_endian: bool,
    nanosecond: bool,
    link_type: u32,
) -> Result<Option<RawRecord>, CaptureError> {
    let mut hdr = [0u8; 16];
    let got = read_up_to(r, &mut hdr)?;
    if got == 0 {
        return Ok(None);
    }
    if got < hdr.len() {
        return Err(CaptureError::Truncated {
            index,
            what: "record header",
            expected: 16,
            got: got as u64,
        });
    }
    let ts_sec = u64::from(u32_at(&hdr, 0, big_endian));
    let ts_frac = u64::from(u32_at(&hdr, 4, big_endian));
    let incl_len = u32_at(&hdr, 8, big_endian);
    let orig_len = u32_at(&hdr, 12, big_endian);
    if incl_len > MAX_RECORD_LEN {
        return Err(CaptureError::RecordTooLong {
            index,
            len: u64::from(incl_len),
            limit: u64::from(MAX_RECORD_LEN),
        });
    }
    let caplen = incl_len as usize;
    read_record(r, buf, caplen, index, "record data")?;
    // u32 seconds * 1e9 + u32 * 1e3 < 2^64: no overflow possible.
    let timestamp_ns = ts_sec * 1_000_000_000 + if nanosecond { ts_frac } else { ts_frac * 1_000 };
    Ok(Some(RawRecord {
        caplen,
        orig_len,
        timestamp_ns,
        link_type,
        big_endian,
    }))
}

/// Reads `caplen` (<= [`MAX_RECORD_LEN`], checked by the caller) bytes into
/// `buf[HEADROOM..]`, growing `buf` only when needed and to exactly what is
/// needed. A short read is [`CaptureError::Truncated`].
pub(crate) fn read_record<R: Read>(
    r: &mut R,
    buf: &mut Vec<u8>,
    caplen: usize,
    index: u64,
    what: &'static str,
) -> Result<(), CaptureError> {
    let need = HEADROOM + caplen.min(MAX_RECORD_LEN as usize);
    if buf.len() < need {
        buf.reserve_exact(need - buf.len());
        buf.resize(need, 0);
    }
    let dst = buf.get_mut(HEADROOM..need).unwrap_or(&mut []);
    let got = read_up_to(r, dst)?;
    if got < caplen {
        return Err(CaptureError::Truncated {
            index,
            what,
            expected: caplen as u64,
            got: got as u64,
        });
    }
    Ok(())
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
/// Retries on `Interrupted`; other I/O errors are returned.
pub(crate) fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n.min(buf.len() - filled),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

pub(crate) fn u16_at(b: &[u8], at: usize, big_endian: bool) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        a.copy_from_slice(s);
    }
    if big_endian {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

pub(crate) fn u32_at(b: &[u8], at: usize, big_endian: bool) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    if big_endian {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

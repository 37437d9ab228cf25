//! [`CaptureWriter`]: classic pcap, nanosecond resolution, Ethernet.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::{CaptureError, MAX_RECORD_LEN};

/// Magic number of a nanosecond-resolution classic pcap file.
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const VERSION_MAJOR: u16 = 2;
const VERSION_MINOR: u16 = 4;
const LINKTYPE_ETHERNET: u32 = 1;

/// The 24-byte file header every [`CaptureWriter`] starts with (little-endian).
pub(crate) fn file_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&MAGIC_NS.to_le_bytes());
    h[4..6].copy_from_slice(&VERSION_MAJOR.to_le_bytes());
    h[6..8].copy_from_slice(&VERSION_MINOR.to_le_bytes());
    // thiszone (8..12) and sigfigs (12..16) are 0.
    h[16..20].copy_from_slice(&MAX_RECORD_LEN.to_le_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    h
}

/// Writes Ethernet frames to a classic pcap file: magic `0xa1b23c4d`
/// (nanoseconds) in little-endian order, version 2.4, link type Ethernet (1),
/// snaplen 262,144, `incl_len == orig_len == data.len()` for every record.
///
/// Guarantees: never panics; allocates nothing per frame (the header of each
/// record is built on the stack); a frame refused for its length or timestamp leaves the file as it
/// was. Output is buffered by `W`: call [`CaptureWriter::flush`] (or
/// [`CaptureWriter::into_inner`]) to see write errors, since dropping a
/// `BufWriter` flushes but discards errors.
#[derive(Debug)]
pub struct CaptureWriter<W: Write> {
    inner: W,
    packets_written: u64,
}

impl CaptureWriter<BufWriter<File>> {
    /// Creates (or truncates) the file at `path` and writes the pcap header.
    /// A file that cannot be created is [`CaptureError::Open`] naming the path.
    pub fn create(path: &Path) -> Result<CaptureWriter<BufWriter<File>>, CaptureError> {
        let file = File::create(path).map_err(|source| CaptureError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        CaptureWriter::new(BufWriter::with_capacity(64 * 1024, file))
    }
}

impl<W: Write> CaptureWriter<W> {
    /// Writes the 24-byte pcap file header to `w`; the file is then a valid
    /// (empty) capture. `w` should be buffered: each record is two writes.
    pub fn new(mut w: W) -> Result<Self, CaptureError> {
        w.write_all(&file_header())?;
        Ok(CaptureWriter {
            inner: w,
            packets_written: 0,
        })
    }

    /// Appends one record: `timestamp_ns` nanoseconds since the Unix epoch,
    /// `data` an Ethernet frame. Refuses a frame longer than
    /// [`MAX_RECORD_LEN`] ([`CaptureError::RecordTooLong`]) and a timestamp at
    /// or after 2^32 seconds ([`CaptureError::TimestampOutOfRange`]) without
    /// writing anything.
    pub fn write(&mut self, timestamp_ns: u64, data: &[u8]) -> Result<(), CaptureError> {
        let index = self.packets_written + 1;
        let len = match u32::try_from(data.len()) {
            Ok(len) if len <= MAX_RECORD_LEN => len,
            _ => {
                return Err(CaptureError::RecordTooLong {
                    index,
                    len: data.len() as u64,
                    limit: u64::from(MAX_RECORD_LEN),
                })
            }
        };
        let Ok(secs) = u32::try_from(timestamp_ns / 1_000_000_000) else {
            return Err(CaptureError::TimestampOutOfRange {
                index,
                timestamp_ns,
            });
        };
        // < 10^9, fits u32.
        let nanos = (timestamp_ns % 1_000_000_000) as u32;
        self.inner.write_all(&record_header(secs, nanos, len))?;
        self.inner.write_all(data)?;
        self.packets_written += 1;
        Ok(())
    }

    /// Flushes buffered records to the underlying writer.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.inner.flush()?;
        Ok(())
    }

    /// Number of records written so far.
    pub fn packets_written(&self) -> u64 {
        self.packets_written
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> Result<W, CaptureError> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// The 16-byte record header: seconds, nanoseconds, incl_len, orig_len.
pub(crate) fn record_header(secs: u32, nanos: u32, len: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&secs.to_le_bytes());
    h[4..8].copy_from_slice(&nanos.to_le_bytes());
    h[8..12].copy_from_slice(&len.to_le_bytes());
    h[12..16].copy_from_slice(&len.to_le_bytes());
    h
}

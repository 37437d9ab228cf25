//! pcapng: sections, interfaces and packet blocks, read as a stream.
//!
//! Every block is read through [`Body`], which knows how many bytes of the
//! block are left: no field can be read past its block, every block is
//! consumed to its end (and its trailing length checked) before the next one,
//! and nothing but packet data is buffered. Each block consumes at least 12
//! bytes of input, so the reader always makes progress.

use std::io::{self, Read};

use super::linktype;
use super::reader::{read_record, read_up_to, u16_at, u32_at, RawRecord};
use super::{CaptureError, MAX_BLOCK_LEN, MAX_INTERFACES, MAX_RECORD_LEN};

/// Block type of the Section Header Block, as bytes (a palindrome, so the
/// same in either byte order).
pub(crate) const SHB_TYPE: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;

const OPT_ENDOFOPT: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// Parser state: the current section's byte order and interfaces.
#[derive(Debug, Default)]
pub(crate) struct State {
    big_endian: bool,
    interfaces: Vec<Interface>,
}

/// What an Interface Description Block declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Interface {
    link_type: u32,
    snaplen: u32,
    /// `if_tsresol`: bit 7 clear = 10^-n s, set = 2^-n s; default 6 (µs).
    tsresol: u8,
    /// `if_tsoffset`: seconds added to every timestamp.
    tsoffset: i64,
}

/// A packet block's outcome once the block is consumed: a record, or a
/// per-record error (the file is still in sync).
type Packet = Result<RawRecord, CaptureError>;

impl State {
    /// Reads blocks until one yields a packet (or a per-record error), or
    /// the input ends cleanly at a block boundary (`Ok(None)`). `index` is
    /// the running block number.
    pub(crate) fn next_packet<R: Read>(
        &mut self,
        r: &mut R,
        buf: &mut Vec<u8>,
        index: &mut u64,
    ) -> Result<Option<RawRecord>, CaptureError> {
        loop {
            *index += 1;
            let mut block_type = [0u8; 4];
            let got = read_up_to(r, &mut block_type)?;
            if got == 0 {
                return Ok(None);
            }
            if got < block_type.len() {
                return Err(CaptureError::Truncated {
                    index: *index,
                    what: "block header",
                    expected: 8,
                    got: got as u64,
                });
            }
            if let Some(packet) = self.block(r, block_type, buf, *index)? {
                return packet.map(Some);
            }
        }
    }

    /// Reads the rest of one block whose 4 type bytes were already read.
    /// `Ok(None)`: a block without a packet (section, interface, skipped).
    pub(crate) fn block<R: Read>(
        &mut self,
        r: &mut R,
        block_type: [u8; 4],
        buf: &mut Vec<u8>,
        index: u64,
    ) -> Result<Option<Packet>, CaptureError> {
        let mut len_bytes = [0u8; 4];
        let got = read_up_to(r, &mut len_bytes)?;
        if got < len_bytes.len() {
            return Err(CaptureError::Truncated {
                index,
                what: "block header",
                expected: 8,
                got: 4 + got as u64,
            });
        }
        if block_type == SHB_TYPE {
            self.section(r, len_bytes, index)?;
            return Ok(None);
        }
        let be = self.big_endian;
        let block_type = u32_at(&block_type, 0, be);
        let len = u32_at(&len_bytes, 0, be);
        check_len(len, 12, index)?;
        let mut body = Body {
            r,
            len,
            remaining: u64::from(len) - 12,
            read: 8,
            index,
        };
        let packet = match block_type {
            IDB => {
                self.interface(&mut body)?;
                None
            }
            EPB => Some(self.enhanced(&mut body, buf, false)?),
            PB => Some(self.enhanced(&mut body, buf, true)?),
            SPB => Some(self.simple(&mut body, buf)?),
            _ => None,
        };
        body.finish(be)?;
        Ok(packet)
    }

    /// Section Header Block: byte order, version; resets the interfaces.
    fn section<R: Read>(
        &mut self,
        r: &mut R,
        len_bytes: [u8; 4],
        index: u64,
    ) -> Result<(), CaptureError> {
        let mut bom = [0u8; 4];
        let got = read_up_to(r, &mut bom)?;
        if got < bom.len() {
            return Err(CaptureError::Truncated {
                index,
                what: "section header block",
                expected: 12,
                got: 8 + got as u64,
            });
        }
        let be = match bom {
            [0x1a, 0x2b, 0x3c, 0x4d] => true,
            [0x4d, 0x3c, 0x2b, 0x1a] => false,
            _ => {
                return Err(CaptureError::Malformed {
                    index,
                    what: "section header byte-order magic",
                    value: u64::from(u32::from_be_bytes(bom)),
                })
            }
        };
        let len = u32_at(&len_bytes, 0, be);
        // type, length, BOM, version, section length, trailing length.
        check_len(len, 28, index)?;
        let mut body = Body {
            r,
            len,
            remaining: u64::from(len) - 16,
            read: 12,
            index,
        };
        let major = body.u16(be)?;
        let minor = body.u16(be)?;
        if major != 1 {
            return Err(CaptureError::UnsupportedVersion {
                index,
                format: "pcapng",
                major,
                minor,
            });
        }
        // Section length and options are not needed.
        body.finish(be)?;
        self.big_endian = be;
        self.interfaces.clear();
        Ok(())
    }

    /// Interface Description Block: link type, snaplen, if_tsresol,
    /// if_tsoffset.
    fn interface<R: Read>(&mut self, body: &mut Body<'_, R>) -> Result<(), CaptureError> {
        let be = self.big_endian;
        let link_type = u32::from(body.u16(be)?);
        let _reserved = body.u16(be)?;
        let snaplen = body.u32(be)?;
        let mut iface = Interface {
            link_type,
            snaplen,
            tsresol: 6,
            tsoffset: 0,
        };
        while body.remaining >= 4 {
            let code = body.u16(be)?;
            let len = u64::from(body.u16(be)?);
            let padded = pad4(len);
            if padded > body.remaining {
                return Err(CaptureError::Malformed {
                    index: body.index,
                    what: "option length (overruns its block)",
                    value: len,
                });
            }
            match code {
                OPT_ENDOFOPT => break,
                OPT_IF_TSRESOL if len >= 1 => {
                    let mut v = [0u8; 1];
                    body.bytes(&mut v)?;
                    iface.tsresol = v[0];
                    body.skip(padded - 1)?;
                }
                OPT_IF_TSOFFSET if len == 8 => {
                    let mut v = [0u8; 8];
                    body.bytes(&mut v)?;
                    iface.tsoffset = if be {
                        i64::from_be_bytes(v)
                    } else {
                        i64::from_le_bytes(v)
                    };
                }
                _ => body.skip(padded)?,
            }
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(CaptureError::Malformed {
                index: body.index,
                what: "section: too many interface description blocks",
                value: self.interfaces.len() as u64 + 1,
            });
        }
        self.interfaces.push(iface);
        Ok(())
    }

    /// Enhanced Packet Block, or (`obsolete`) the Packet Block, whose
    /// interface id is 16 bits followed by a 16-bit drop count.
    fn enhanced<R: Read>(
        &self,
        body: &mut Body<'_, R>,
        buf: &mut Vec<u8>,
        obsolete: bool,
    ) -> Result<Packet, CaptureError> {
        let be = self.big_endian;
        // The fixed part, 20 bytes in both block types, in one read:
        // interface id (EPB: u32; obsolete PB: u16 id, u16 drops count),
        // timestamp high and low, captured and original length.
        let mut fixed = [0u8; 20];
        body.bytes(&mut fixed)?;
        let interface = if obsolete {
            u32::from(u16_at(&fixed, 0, be))
        } else {
            u32_at(&fixed, 0, be)
        };
        let ts_high = u64::from(u32_at(&fixed, 4, be));
        let ts_low = u64::from(u32_at(&fixed, 8, be));
        let caplen = u32_at(&fixed, 12, be);
        let orig_len = u32_at(&fixed, 16, be);
        if caplen > MAX_RECORD_LEN {
            return Err(CaptureError::RecordTooLong {
                index: body.index,
                len: u64::from(caplen),
                limit: u64::from(MAX_RECORD_LEN),
            });
        }
        if u64::from(caplen) > body.remaining {
            return Err(CaptureError::Malformed {
                index: body.index,
                what: "captured length (overruns its block)",
                value: u64::from(caplen),
            });
        }
        let iface = match self.usable_interface(interface, body.index) {
            Ok(iface) => iface,
            Err(e) => return Ok(Err(e)),
        };
        body.data(buf, caplen)?;
        Ok(Ok(RawRecord {
            caplen: caplen as usize,
            orig_len,
            timestamp_ns: iface.timestamp_ns((ts_high << 32) | ts_low),
            link_type: iface.link_type,
            big_endian: be,
        }))
    }

    /// Simple Packet Block: interface 0, no timestamp; captured length is
    /// the smallest of the original length, the block's room and the
    /// interface's snaplen (when not 0).
    fn simple<R: Read>(
        &self,
        body: &mut Body<'_, R>,
        buf: &mut Vec<u8>,
    ) -> Result<Packet, CaptureError> {
        let orig_len = body.u32(self.big_endian)?;
        let iface = match self.usable_interface(0, body.index) {
            Ok(iface) => iface,
            Err(e) => return Ok(Err(e)),
        };
        let mut caplen = u64::from(orig_len).min(body.remaining);
        if iface.snaplen != 0 {
            caplen = caplen.min(u64::from(iface.snaplen));
        }
        if caplen > u64::from(MAX_RECORD_LEN) {
            return Err(CaptureError::RecordTooLong {
                index: body.index,
                len: caplen,
                limit: u64::from(MAX_RECORD_LEN),
            });
        }
        // caplen <= MAX_RECORD_LEN fits u32.
        let caplen = caplen as u32;
        body.data(buf, caplen)?;
        Ok(Ok(RawRecord {
            caplen: caplen as usize,
            orig_len,
            timestamp_ns: 0,
            link_type: iface.link_type,
            big_endian: self.big_endian,
        }))
    }

    /// The interface a packet names, if declared and convertible; else the
    /// per-record error.
    fn usable_interface(&self, id: u32, index: u64) -> Result<Interface, CaptureError> {
        let declared = u32::try_from(self.interfaces.len()).unwrap_or(u32::MAX);
        let iface = *self
            .interfaces
            .get(id as usize)
            .ok_or(CaptureError::UnknownInterface {
                index,
                interface: id,
                declared,
            })?;
        if !linktype::is_supported(iface.link_type) {
            return Err(CaptureError::UnsupportedLinkType {
                link_type: iface.link_type,
                name: linktype::link_type_name(iface.link_type),
            });
        }
        Ok(iface)
    }
}

impl Interface {
    /// A pcapng timestamp (in this interface's units) in ns since the epoch,
    /// `if_tsoffset` included; saturates at 0 and `u64::MAX`.
    fn timestamp_ns(&self, ts: u64) -> u64 {
        let exp = u32::from(self.tsresol & 0x7f);
        let ts = u128::from(ts);
        let ns: u128 = if self.tsresol & 0x80 == 0 {
            if exp <= 9 {
                ts * 10u128.pow(9 - exp)
            } else {
                10u128.checked_pow(exp - 9).map_or(0, |d| ts / d)
            }
        } else {
            (ts * 1_000_000_000).checked_shr(exp).unwrap_or(0)
        };
        // |ns| < 2^94 and |offset| < 2^93: no i128 overflow.
        let total = ns as i128 + i128::from(self.tsoffset) * 1_000_000_000;
        total.clamp(0, i128::from(u64::MAX)) as u64
    }
}

/// Checks a block's total length: at most [`MAX_BLOCK_LEN`], at least `min`,
/// a multiple of 4.
fn check_len(len: u32, min: u32, index: u64) -> Result<(), CaptureError> {
    if len > MAX_BLOCK_LEN {
        return Err(CaptureError::RecordTooLong {
            index,
            len: u64::from(len),
            limit: u64::from(MAX_BLOCK_LEN),
        });
    }
    if len < min {
        return Err(CaptureError::Malformed {
            index,
            what: "block length (too small)",
            value: u64::from(len),
        });
    }
    if len & 3 != 0 {
        return Err(CaptureError::Malformed {
            index,
            what: "block length (not a multiple of 4)",
            value: u64::from(len),
        });
    }
    Ok(())
}

fn pad4(n: u64) -> u64 {
    (n + 3) & !3
}

/// The unread part of one block's body (the trailing length excluded).
struct Body<'a, R> {
    r: &'a mut R,
    /// Total length of the block.
    len: u32,
    /// Body bytes not yet consumed.
    remaining: u64,
    /// Bytes of the block read so far (for error messages).
    read: u64,
    /// Block number.
    index: u64,
}

impl<R: Read> Body<'_, R> {
    /// Claims `n` bytes of the body; more than remain is malformed.
    fn claim(&mut self, n: u64) -> Result<(), CaptureError> {
        if n > self.remaining {
            return Err(CaptureError::Malformed {
                index: self.index,
                what: "field (overruns its block of this length)",
                value: u64::from(self.len),
            });
        }
        self.remaining -= n;
        Ok(())
    }

    fn truncated(&self) -> CaptureError {
        CaptureError::Truncated {
            index: self.index,
            what: "pcapng block",
            expected: u64::from(self.len),
            got: self.read,
        }
    }

    fn bytes(&mut self, out: &mut [u8]) -> Result<(), CaptureError> {
        self.claim(out.len() as u64)?;
        let got = read_up_to(self.r, out)?;
        self.read += got as u64;
        if got < out.len() {
            return Err(self.truncated());
        }
        Ok(())
    }

    fn u16(&mut self, be: bool) -> Result<u16, CaptureError> {
        let mut b = [0u8; 2];
        self.bytes(&mut b)?;
        Ok(u16_at(&b, 0, be))
    }

    fn u32(&mut self, be: bool) -> Result<u32, CaptureError> {
        let mut b = [0u8; 4];
        self.bytes(&mut b)?;
        Ok(u32_at(&b, 0, be))
    }

    /// Discards `n` body bytes without buffering them.
    fn skip(&mut self, n: u64) -> Result<(), CaptureError> {
        // Padding (0-3 bytes) and an empty options area are the common
        // case after every packet: read them without `io::copy`'s set-up.
        if n <= 8 {
            let mut small = [0u8; 8];
            return self.bytes(&mut small[..n as usize]);
        }
        self.claim(n)?;
        let copied = io::copy(&mut self.r.by_ref().take(n), &mut io::sink())?;
        self.read += copied;
        if copied < n {
            return Err(self.truncated());
        }
        Ok(())
    }

    /// Reads `caplen` (<= MAX_RECORD_LEN) packet bytes into the record
    /// buffer, then skips their padding.
    fn data(&mut self, buf: &mut Vec<u8>, caplen: u32) -> Result<(), CaptureError> {
        let padded = pad4(u64::from(caplen));
        self.claim(u64::from(caplen))?;
        if let Err(e) = read_record(
            self.r,
            buf,
            caplen as usize,
            self.index,
            "pcapng packet data",
        ) {
            return Err(match e {
                CaptureError::Truncated { got, .. } => CaptureError::Truncated {
                    index: self.index,
                    what: "pcapng block",
                    expected: u64::from(self.len),
                    got: self.read + got,
                },
                other => other,
            });
        }
        self.read += u64::from(caplen);
        // Padding past the body's end (a block that ends without it) is
        // tolerated: only what the block holds is skipped.
        let pad = (padded - u64::from(caplen)).min(self.remaining);
        self.skip(pad)
    }

    /// Skips what is left of the body (options), then reads the trailing
    /// length and checks it equals the leading one.
    fn finish(mut self, be: bool) -> Result<(), CaptureError> {
        let rest = self.remaining;
        self.skip(rest)?;
        let mut t = [0u8; 4];
        let got = read_up_to(self.r, &mut t)?;
        self.read += got as u64;
        if got < t.len() {
            return Err(self.truncated());
        }
        let trailing = u32_at(&t, 0, be);
        if trailing != self.len {
            return Err(CaptureError::Malformed {
                index: self.index,
                what: "trailing block length (differs from the leading one)",
                value: u64::from(trailing),
            });
        }
        Ok(())
    }
}

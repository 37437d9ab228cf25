//! IPv4 fragmentation (RFC 791 3.2, RFC 1812 5.2.6), as Linux's
//! `ip_do_fragment` does it: every fragment but the last carries
//! `(MTU - header length)` rounded down to 8 bytes of payload, the
//! identification is kept, offsets continue from the packet's own (a
//! fragment fragmented again), MF is set on every piece but the last, which
//! keeps the packet's own MF. Later fragments keep the header's length and
//! its options with the copy bit; the others are overwritten with NOPs
//! (Linux's `ip_options_fragment`; RFC 791 allows either removing them or
//! this). Header checksums are recomputed. The reserved flag is cleared, as
//! Linux does.
//!
//! Pure byte work over a frame whose L2 header is already the egress one:
//! [`Plan::new`] checks the packet and sizes the pieces, [`Plan::write`]
//! builds piece `k >= 1` into a caller's buffer, [`Plan::finish_first`]
//! turns the frame itself into piece 0 (the caller then trims it to the
//! length returned). No allocation.

use crate::slow::wire::internet_checksum as ipv4_checksum;

/// Why a packet cannot be fragmented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FragError {
    /// The frame does not hold the IPv4 header and datagram it announces.
    #[error("malformed IPv4 datagram")]
    Malformed,
    /// The MTU leaves less than 8 bytes of payload per fragment.
    #[error("MTU too small to fragment")]
    MtuTooSmall,
    /// The datagram already fits.
    #[error("datagram fits the MTU")]
    Fits,
}

/// How one IPv4 datagram splits for an MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Offset of the IPv4 header in the frame (the L2 header's length).
    l3: usize,
    /// IPv4 header length.
    hlen: usize,
    /// Payload bytes of the datagram.
    payload: usize,
    /// Payload bytes per fragment but the last (a multiple of 8).
    step: usize,
    /// The packet's own fragment offset, in bytes.
    base: usize,
    /// The packet's own MF flag.
    more: bool,
}

impl Plan {
    /// Plans the split of the IPv4 datagram at `l3` in `frame` for `mtu`
    /// (largest IP datagram of the egress network).
    pub fn new(frame: &[u8], l3: usize, mtu: usize) -> Result<Self, FragError> {
        let ip = frame.get(l3..).ok_or(FragError::Malformed)?;
        let (&vihl, total) = match (ip.first(), ip.get(2..4)) {
            (Some(v), Some(t)) => (v, usize::from(u16::from_be_bytes([t[0], t[1]]))),
            _ => return Err(FragError::Malformed),
        };
        let hlen = usize::from(vihl & 0x0f) * 4;
        if vihl >> 4 != 4 || hlen < 20 || total < hlen || ip.len() < total {
            return Err(FragError::Malformed);
        }
        if total <= mtu {
            return Err(FragError::Fits);
        }
        let step = mtu.saturating_sub(hlen) & !7;
        if step == 0 {
            return Err(FragError::MtuTooSmall);
        }
        let flags = u16::from_be_bytes([ip[6], ip[7]]);
        Ok(Self {
            l3,
            hlen,
            payload: total - hlen,
            step,
            base: usize::from(flags & 0x1fff) * 8,
            more: flags & 0x2000 != 0,
        })
    }

    /// Number of fragments.
    pub fn count(&self) -> usize {
        self.payload.div_ceil(self.step)
    }

    /// Frame length of fragment `k` (L2 header, IPv4 header, its payload).
    pub fn frame_len(&self, k: usize) -> usize {
        self.l3 + self.hlen + self.piece(k)
    }

    /// Payload bytes of fragment `k`.
    fn piece(&self, k: usize) -> usize {
        self.payload.saturating_sub(k * self.step).min(self.step)
    }

    /// Writes fragment `k` (1 <= k < count) of `frame` (the original, as
    /// given to [`Plan::new`]) into `out`; returns its length, or `None` when
    /// `out` is too short or `k` out of range.
    pub fn write(&self, frame: &[u8], k: usize, out: &mut [u8]) -> Option<usize> {
        if k == 0 || k >= self.count() {
            return None;
        }
        let (h, len) = (self.l3 + self.hlen, self.frame_len(k));
        let out = out.get_mut(..len)?;
        let data = h + k * self.step;
        out[..h].copy_from_slice(frame.get(..h)?);
        out[h..].copy_from_slice(frame.get(data..data + self.piece(k))?);
        nop_uncopied_options(&mut out[self.l3 + 20..h]);
        self.finish_header(&mut out[self.l3..h], k);
        Some(len)
    }

    /// Makes `frame` (the original) fragment 0 in place and returns its new
    /// length (the caller trims the frame to it). Call after every
    /// [`Plan::write`]: those read the payload this leaves behind.
    pub fn finish_first(&self, frame: &mut [u8]) -> usize {
        let h = self.l3 + self.hlen;
        if let Some(header) = frame.get_mut(self.l3..h) {
            self.finish_header(header, 0);
        }
        self.frame_len(0)
    }

    /// Total length, flags and offset, checksum of fragment `k`'s header.
    fn finish_header(&self, header: &mut [u8], k: usize) {
        let total = (self.hlen + self.piece(k)) as u16;
        let last = k + 1 == self.count();
        let offset = ((self.base + k * self.step) / 8) as u16 & 0x1fff;
        let flags = offset | if !last || self.more { 0x2000 } else { 0 };
        header[2..4].copy_from_slice(&total.to_be_bytes());
        header[6..8].copy_from_slice(&flags.to_be_bytes());
        header[10..12].fill(0);
        let sum = ipv4_checksum(header);
        header[10..12].copy_from_slice(&sum.to_be_bytes());
    }
}

/// Overwrites every option without the copy bit (0x80) with NOPs, stopping
/// at the end-of-list option or a malformed length (Linux's
/// `ip_options_fragment`).
fn nop_uncopied_options(opts: &mut [u8]) {
    let mut at = 0;
    while at < opts.len() {
        match opts[at] {
            0 => return,
            1 => {
                at += 1;
                continue;
            }
            _ => {}
        }
        let Some(&len) = opts.get(at + 1) else {
            return;
        };
        let len = usize::from(len);
        if len < 2 || at + len > opts.len() {
            return;
        }
        if opts[at] & 0x80 == 0 {
            opts[at..at + len].fill(1);
        }
        at += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An untagged Ethernet frame with an IPv4 header (`options` appended)
    /// and `payload` bytes counting up.
    fn frame(options: &[u8], payload: usize, flags: u16) -> Vec<u8> {
        let hlen = 20 + options.len();
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let total = (hlen + payload) as u16;
        let mut h = vec![0x40 | (hlen / 4) as u8, 0];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&[0x12, 0x34]);
        h.extend_from_slice(&flags.to_be_bytes());
        h.extend_from_slice(&[63, 17, 0, 0, 10, 0, 0, 1, 10, 0, 1, 1]);
        h.extend_from_slice(options);
        let sum = ipv4_checksum(&h);
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        f.extend_from_slice(&h);
        f.extend((0..payload).map(|i| i as u8));
        f
    }

    fn split(f: &[u8], mtu: usize) -> Vec<Vec<u8>> {
        let plan = Plan::new(f, 14, mtu).unwrap();
        let mut out = vec![];
        let mut buf = [0u8; 2048];
        for k in 1..plan.count() {
            let n = plan.write(f, k, &mut buf).unwrap();
            out.push(buf[..n].to_vec());
        }
        let mut first = f.to_vec();
        let n = plan.finish_first(&mut first);
        first.truncate(n);
        out.insert(0, first);
        out
    }

    fn field(f: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([f[14 + at], f[15 + at]])
    }

    #[test]
    fn pieces_are_multiples_of_8_with_offsets_and_mf() {
        let f = frame(&[], 1480 + 1480 + 40, 0);
        let frags = split(&f, 1500);
        assert_eq!(frags.len(), 3);
        let lens: Vec<u16> = frags.iter().map(|g| field(g, 2)).collect();
        assert_eq!(lens, [1500, 1500, 60]);
        let flags: Vec<u16> = frags.iter().map(|g| field(g, 6)).collect();
        assert_eq!(flags, [0x2000, 0x2000 | 185, 370]);
        // Identification kept, checksums right, payload reassembles.
        let mut data = vec![];
        for g in &frags {
            assert_eq!(field(g, 4), 0x1234);
            assert_eq!(ipv4_checksum(&g[14..34]), 0);
            data.extend_from_slice(&g[34..]);
        }
        assert_eq!(data, f[34..]);
    }

    #[test]
    fn odd_mtu_rounds_down_and_a_fragment_keeps_its_offset_and_mf() {
        // MTU 1000: 980 -> 976 per piece. The packet is itself a middle
        // fragment (offset 100 units, MF set): MF stays on the last piece.
        let f = frame(&[], 2000, 0x2000 | 100);
        let frags = split(&f, 1000);
        let flags: Vec<u16> = frags.iter().map(|g| field(g, 6)).collect();
        assert_eq!(flags, [0x2000 | 100, 0x2000 | 222, 0x2000 | 344]);
        assert_eq!(field(&frags[2], 2), 20 + 2000 - 2 * 976);
    }

    #[test]
    fn only_copied_options_survive_into_later_fragments() {
        // Record route (7, not copied), then loose source route (0x83, copied),
        // then NOP and end of list: 7 + 7 + 1 + 1 = 16 bytes.
        let opts = [7, 7, 4, 0, 0, 0, 0, 0x83, 7, 4, 10, 0, 0, 9, 1, 0];
        let f = frame(&opts, 100, 0);
        let frags = split(&f, 36 + 48);
        assert_eq!(frags.len(), 3);
        assert_eq!(frags[0][34..50], opts, "the first keeps every option");
        for g in &frags[1..] {
            assert_eq!(g[34..41], [1; 7], "record route replaced by NOPs");
            assert_eq!(g[41..48], opts[7..14], "source route copied");
            assert_eq!(ipv4_checksum(&g[14..50]), 0);
        }
    }

    #[test]
    fn refusals() {
        let f = frame(&[], 100, 0);
        assert_eq!(Plan::new(&f, 14, 120), Err(FragError::Fits));
        assert_eq!(Plan::new(&f, 14, 27), Err(FragError::MtuTooSmall));
        assert_eq!(Plan::new(&f[..60], 14, 68), Err(FragError::Malformed));
        assert_eq!(Plan::new(&f, 200, 68), Err(FragError::Malformed));
    }
}

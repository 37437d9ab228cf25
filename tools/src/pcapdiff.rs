//! Compare two captures packet by packet and say which header field differs,
//! the way a person reading two tshark dumps side by side would.
//!
//! Frames are decoded into a flat list of named fields (Ethernet, every VLAN
//! tag, IPv4/IPv6, the L4 ports); the first differing field is reported by
//! name, with both values. [`diff`] ignores timestamps; [`compare`] can
//! compare them too and always measures the largest skew between paired
//! packets, so a summary can say what was ignored.

use std::fmt::Write as _;
use std::path::Path;

use dataplane::io::pcap::file::{CaptureError, CaptureReader};

/// Reads every frame of a capture (Ethernet after conversion).
pub fn read_frames(path: &Path) -> Result<Vec<Vec<u8>>, CaptureError> {
    Ok(read_timed_frames(path)?
        .into_iter()
        .map(|(_, f)| f)
        .collect())
}

/// Reads every frame of a capture with its capture time (ns since the
/// epoch), for replays that keep the capture's timing.
pub fn read_timed_frames(path: &Path) -> Result<Vec<(u64, Vec<u8>)>, CaptureError> {
    let mut r = CaptureReader::open(path)?;
    let mut out = Vec::new();
    while let Some(f) = r.next_frame([0; 6])? {
        out.push((f.timestamp_ns, f.data.to_vec()));
    }
    Ok(out)
}

/// The named fields of a frame, outermost first; whatever cannot be decoded
/// is left in a final `payload` field.
pub fn fields(frame: &[u8]) -> Vec<(String, String)> {
    let mut f = Vec::new();
    let hex = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    if frame.len() < 14 {
        f.push((
            "frame".into(),
            format!("{} bytes: {}", frame.len(), hex(frame)),
        ));
        return f;
    }
    f.push(("eth.dst".into(), hex(&frame[0..6])));
    f.push(("eth.src".into(), hex(&frame[6..12])));
    let mut off = 12;
    let mut et = u16::from_be_bytes([frame[12], frame[13]]);
    let mut tag = 0;
    while matches!(et, 0x8100 | 0x88a8 | 0x9100) && frame.len() >= off + 6 {
        let tci = u16::from_be_bytes([frame[off + 2], frame[off + 3]]);
        f.push((format!("vlan[{tag}].tpid"), format!("{et:#06x}")));
        f.push((format!("vlan[{tag}].pcp"), (tci >> 13).to_string()));
        f.push((format!("vlan[{tag}].dei"), ((tci >> 12) & 1).to_string()));
        f.push((format!("vlan[{tag}].vid"), (tci & 0xfff).to_string()));
        off += 4;
        et = u16::from_be_bytes([frame[off], frame[off + 1]]);
        tag += 1;
    }
    f.push(("eth.type".into(), format!("{et:#06x}")));
    let l3 = &frame[off + 2..];
    let mut l4: Option<(u8, &[u8])> = None;
    let rest: &[u8] = match et {
        0x0800 if l3.len() >= 20 => {
            let ihl = usize::from(l3[0] & 0xf) * 4;
            f.push(("ip.version".into(), (l3[0] >> 4).to_string()));
            f.push(("ip.ihl".into(), ihl.to_string()));
            f.push(("ip.tos".into(), l3[1].to_string()));
            f.push((
                "ip.len".into(),
                u16::from_be_bytes([l3[2], l3[3]]).to_string(),
            ));
            f.push((
                "ip.id".into(),
                u16::from_be_bytes([l3[4], l3[5]]).to_string(),
            ));
            f.push((
                "ip.flags_frag".into(),
                format!("{:#06x}", u16::from_be_bytes([l3[6], l3[7]])),
            ));
            f.push(("ip.ttl".into(), l3[8].to_string()));
            f.push(("ip.proto".into(), l3[9].to_string()));
            f.push((
                "ip.checksum".into(),
                format!("{:#06x}", u16::from_be_bytes([l3[10], l3[11]])),
            ));
            f.push((
                "ip.src".into(),
                format!("{}.{}.{}.{}", l3[12], l3[13], l3[14], l3[15]),
            ));
            f.push((
                "ip.dst".into(),
                format!("{}.{}.{}.{}", l3[16], l3[17], l3[18], l3[19]),
            ));
            if ihl >= 20 && l3.len() >= ihl {
                l4 = Some((l3[9], &l3[ihl..]));
                &l3[ihl..]
            } else {
                &l3[20..]
            }
        }
        0x86dd if l3.len() >= 40 => {
            let a = |b: &[u8]| {
                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap_or([0; 16])).to_string()
            };
            f.push(("ipv6.version".into(), (l3[0] >> 4).to_string()));
            f.push((
                "ipv6.plen".into(),
                u16::from_be_bytes([l3[4], l3[5]]).to_string(),
            ));
            f.push(("ipv6.nxt".into(), l3[6].to_string()));
            f.push(("ipv6.hlim".into(), l3[7].to_string()));
            f.push(("ipv6.src".into(), a(&l3[8..24])));
            f.push(("ipv6.dst".into(), a(&l3[24..40])));
            l4 = Some((l3[6], &l3[40..]));
            &l3[40..]
        }
        _ => l3,
    };
    let rest = match l4 {
        Some((6 | 17, b)) if b.len() >= 8 => {
            let name = if l4.map(|x| x.0) == Some(6) {
                "tcp"
            } else {
                "udp"
            };
            f.push((
                format!("{name}.srcport"),
                u16::from_be_bytes([b[0], b[1]]).to_string(),
            ));
            f.push((
                format!("{name}.dstport"),
                u16::from_be_bytes([b[2], b[3]]).to_string(),
            ));
            if name == "udp" {
                f.push((
                    "udp.checksum".into(),
                    format!("{:#06x}", u16::from_be_bytes([b[6], b[7]])),
                ));
            }
            b
        }
        _ => rest,
    };
    f.push(("payload".into(), format!("{} bytes", rest.len())));
    f.push(("frame.bytes".into(), hex(frame)));
    f
}

/// One sentence per difference between the two frame lists; empty when equal.
pub fn diff(expected: &[Vec<u8>], actual: &[Vec<u8>]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        if e == a {
            continue;
        }
        let (fe, fa) = (fields(e), fields(a));
        let mut s = format!("packet {}: ", i + 1);
        match fe.iter().zip(&fa).find(|(x, y)| x != y) {
            Some(((ne, ve), (na, va))) if ne == na => {
                let _ = write!(s, "{ne} differs: expected {ve}, got {va}");
            }
            Some(((ne, ve), (na, va))) => {
                let _ = write!(s, "layout differs: expected {ne}={ve}, got {na}={va}");
            }
            None => {
                let _ = write!(s, "{} vs {} bytes", e.len(), a.len());
            }
        }
        if e.len() != a.len() {
            let _ = write!(s, " (length expected {}, got {})", e.len(), a.len());
        }
        out.push(s);
    }
    if expected.len() != actual.len() {
        out.push(format!(
            "expected {} packets, got {}",
            expected.len(),
            actual.len()
        ));
    }
    out
}

/// Whether [`compare`] counts a timestamp difference as a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timestamps {
    /// Compare frames only (the largest skew is still measured).
    #[default]
    Ignore,
    /// A packet whose capture time differs is a differing packet.
    Compare,
}

/// The outcome of [`compare`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// One sentence per difference, in packet order (the packet-count
    /// sentence last); empty when the captures are the same.
    pub differences: Vec<String>,
    /// Packets in the expected capture.
    pub expected: usize,
    /// Packets in the actual capture.
    pub actual: usize,
    /// Paired packets whose frames differ.
    pub frames_differ: usize,
    /// Paired packets whose timestamps differ (counted in either mode).
    pub times_differ: usize,
    /// The largest |actual - expected| capture time over paired packets,
    /// in ns, and the (1-based) packet where it was seen.
    pub largest_skew: Option<(u64, usize)>,
    /// How timestamps were treated.
    pub timestamps: Timestamps,
}

impl Comparison {
    /// True when nothing counted as a difference.
    pub fn same(&self) -> bool {
        self.differences.is_empty()
    }

    /// One line: the verdict, the counts, and what was done with
    /// timestamps (with the largest skew seen).
    pub fn summary(&self) -> String {
        let mut s = if self.same() {
            format!("identical: {} packets", self.expected)
        } else {
            let mut s = format!(
                "different: {} of {} paired packets differ",
                self.frames_differ.max(self.times_differ),
                self.expected.min(self.actual)
            );
            if self.expected != self.actual {
                let _ = write!(
                    s,
                    ", expected {} packets, got {}",
                    self.expected, self.actual
                );
            }
            s
        };
        let skew = match self.largest_skew {
            Some((0, _)) | None => "none".to_string(),
            Some((ns, at)) => format!("{} (packet {at})", seconds(ns)),
        };
        match self.timestamps {
            Timestamps::Ignore => {
                let _ = write!(s, " (timestamps ignored; largest skew {skew})");
            }
            Timestamps::Compare => {
                let _ = write!(
                    s,
                    " (timestamps compared: {} differ; largest skew {skew})",
                    self.times_differ
                );
            }
        }
        s
    }
}

/// `ns` as seconds with microseconds.
fn seconds(ns: u64) -> String {
    format!("{} s", stamp(ns))
}

/// Compares two captures of (capture time in ns, frame): frames as
/// [`diff`] does, and capture times as `timestamps` says.
pub fn compare(
    expected: &[(u64, Vec<u8>)],
    actual: &[(u64, Vec<u8>)],
    timestamps: Timestamps,
) -> Comparison {
    let frames = |v: &[(u64, Vec<u8>)]| v.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>();
    let (fe, fa) = (frames(expected), frames(actual));
    let frame_diffs = diff(&fe, &fa);
    let frames_differ = fe.iter().zip(&fa).filter(|(e, a)| e != a).count();
    let mut largest_skew: Option<(u64, usize)> = None;
    let mut times_differ = 0;
    let mut time_diffs: Vec<(usize, String)> = Vec::new();
    for (i, ((te, _), (ta, _))) in expected.iter().zip(actual).enumerate() {
        let skew = te.abs_diff(*ta);
        if skew > 0 {
            times_differ += 1;
            if timestamps == Timestamps::Compare {
                let sign = if ta > te { "+" } else { "-" };
                time_diffs.push((
                    i + 1,
                    format!(
                        "packet {}: timestamp differs: expected {}, got {} ({sign}{})",
                        i + 1,
                        stamp(*te),
                        stamp(*ta),
                        seconds(skew)
                    ),
                ));
            }
        }
        if largest_skew.is_none_or(|(s, _)| skew > s) {
            largest_skew = Some((skew, i + 1));
        }
    }
    // Merge in packet order: frame sentences start "packet N: ".
    let number = |s: &str| {
        s.strip_prefix("packet ")
            .and_then(|r| r.split(':').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(usize::MAX)
    };
    let mut differences: Vec<(usize, String)> = frame_diffs
        .into_iter()
        .map(|s| (number(&s), s))
        .chain(time_diffs)
        .collect();
    differences.sort_by_key(|(n, _)| *n);
    Comparison {
        differences: differences.into_iter().map(|(_, s)| s).collect(),
        expected: expected.len(),
        actual: actual.len(),
        frames_differ,
        times_differ,
        largest_skew,
        timestamps,
    }
}

/// Nanoseconds as seconds with six decimals, or nine when the
/// nanoseconds matter.
fn stamp(ns: u64) -> String {
    let frac = ns % 1_000_000_000;
    if frac.is_multiple_of(1000) {
        format!("{}.{:06}", ns / 1_000_000_000, frac / 1000)
    } else {
        format!("{}.{frac:09}", ns / 1_000_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(ttl: u8) -> Vec<u8> {
        let mut e = vec![0u8; 14];
        e[12] = 0x08;
        e.extend_from_slice(&[
            0x45, 0, 0, 20, 0, 0, 0, 0, ttl, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        e
    }

    #[test]
    fn timestamps_are_ignored_but_measured_or_compared() {
        let hour = 3_600_000_000_000u64;
        let e = vec![(1_000, ipv4(64)), (2_000, ipv4(64))];
        let a = vec![(1_000 + hour, ipv4(64)), (2_500, ipv4(64))];
        let c = compare(&e, &a, Timestamps::Ignore);
        assert!(c.same());
        assert_eq!(c.largest_skew, Some((hour, 1)));
        assert_eq!(
            c.summary(),
            "identical: 2 packets (timestamps ignored; largest skew 3600.000000 s (packet 1))"
        );
        let c = compare(&e, &a, Timestamps::Compare);
        assert!(!c.same());
        assert_eq!(c.differences.len(), 2);
        assert_eq!(
            c.differences[0],
            "packet 1: timestamp differs: expected 0.000001, got 3600.000001 (+3600.000000 s)"
        );
        assert_eq!(
            c.summary(),
            "different: 2 of 2 paired packets differ (timestamps compared: 2 differ; largest skew 3600.000000 s (packet 1))"
        );
        let same = compare(&e, &e, Timestamps::Compare);
        assert!(same.same());
        assert_eq!(
            same.summary(),
            "identical: 2 packets (timestamps compared: 0 differ; largest skew none)"
        );
    }

    #[test]
    fn frame_and_time_differences_come_in_packet_order() {
        let e = vec![(0, ipv4(64)), (0, ipv4(64)), (0, ipv4(64))];
        let a = vec![(0, ipv4(64)), (5, ipv4(64)), (0, ipv4(63))];
        let c = compare(&e[..], &a[..2], Timestamps::Compare);
        assert_eq!(
            c.differences,
            vec![
                "packet 2: timestamp differs: expected 0.000000, got 0.000000005 (+0.000000005 s)"
                    .to_string(),
                "expected 3 packets, got 2".to_string(),
            ]
        );
        let c = compare(&e, &a, Timestamps::Ignore);
        assert_eq!(
            c.differences,
            vec!["packet 3: ip.ttl differs: expected 64, got 63".to_string()]
        );
        assert_eq!(c.frames_differ, 1);
        assert_eq!(c.times_differ, 1);
    }

    #[test]
    fn names_the_differing_field() {
        let mut e = vec![0u8; 14];
        e[12] = 0x08;
        e.extend_from_slice(&[
            0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        let mut a = e.clone();
        a[14 + 8] = 63;
        let d = diff(&[e.clone()], &[a]);
        assert_eq!(
            d,
            vec!["packet 1: ip.ttl differs: expected 64, got 63".to_string()]
        );
        assert!(diff(&[e.clone()], &[e.clone()]).is_empty());
        assert_eq!(
            diff(&[e.clone()], &[]),
            vec!["expected 1 packets, got 0".to_string()]
        );
    }
}

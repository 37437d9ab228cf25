//! Tests: annotated byte arrays (parse and emit), conversions, damaged
//! input, every real capture in `testdata/pcaps`, and property tests.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::linktype::HEADROOM;
use super::*;

const MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
const BCAST: [u8; 6] = [0xff; 6];
const ZERO: [u8; 6] = [0; 6];

// ---------------------------------------------------------------------------
// Helpers: an independent little emitter for test inputs.

/// Classic pcap header: (magic as written, big-endian?, link type).
fn pcap_header(be: bool, nanos: bool, snaplen: u32, link_type: u32) -> Vec<u8> {
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut v = Vec::new();
    let w32 = |v: &mut Vec<u8>, x: u32| {
        v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() })
    };
    let w16 = |v: &mut Vec<u8>, x: u16| {
        v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() })
    };
    w32(&mut v, magic);
    w16(&mut v, 2);
    w16(&mut v, 4);
    w32(&mut v, 0);
    w32(&mut v, 0);
    w32(&mut v, snaplen);
    w32(&mut v, link_type);
    v
}

fn pcap_record(be: bool, sec: u32, frac: u32, incl: u32, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [sec, frac, incl, orig] {
        v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
    }
    v.extend_from_slice(data);
    v
}

/// One pcapng block: type, total length, body padded to 4, total length.
fn ng_block(be: bool, block_type: u32, body: &[u8]) -> Vec<u8> {
    let padded = (body.len() + 3) & !3;
    let total = (12 + padded) as u32;
    let e32 = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
    let mut v = Vec::new();
    v.extend_from_slice(&e32(block_type));
    v.extend_from_slice(&e32(total));
    v.extend_from_slice(body);
    v.resize(8 + padded, 0);
    v.extend_from_slice(&e32(total));
    v
}

fn ng_shb(be: bool) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&if be {
        0x1a2b_3c4du32.to_be_bytes()
    } else {
        0x1a2b_3c4du32.to_le_bytes()
    });
    body.extend_from_slice(&if be {
        1u16.to_be_bytes()
    } else {
        1u16.to_le_bytes()
    });
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&[0xff; 8]); // section length unknown
    ng_block(be, 0x0a0d_0d0a, &body)
}

fn ng_idb(be: bool, link_type: u16, snaplen: u32, tsresol: Option<u8>) -> Vec<u8> {
    let e16 = |x: u16| if be { x.to_be_bytes() } else { x.to_le_bytes() };
    let e32 = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
    let mut body = Vec::new();
    body.extend_from_slice(&e16(link_type));
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&e32(snaplen));
    if let Some(r) = tsresol {
        body.extend_from_slice(&e16(9));
        body.extend_from_slice(&e16(1));
        body.extend_from_slice(&[r, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    }
    ng_block(be, 1, &body)
}

fn ng_epb(be: bool, iface: u32, ts: u64, orig: u32, data: &[u8]) -> Vec<u8> {
    let e32 = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
    let mut body = Vec::new();
    body.extend_from_slice(&e32(iface));
    body.extend_from_slice(&e32((ts >> 32) as u32));
    body.extend_from_slice(&e32(ts as u32));
    body.extend_from_slice(&e32(data.len() as u32));
    body.extend_from_slice(&e32(orig));
    body.extend_from_slice(data);
    ng_block(be, 6, &body)
}

/// A minimal Ethernet frame of `len` bytes with EtherType 0x0800.
fn eth_frame(len: usize, fill: u8) -> Vec<u8> {
    let mut f = vec![fill; len];
    if len >= 14 {
        f[..6].copy_from_slice(&BCAST);
        f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
    }
    f
}

/// Frames read, owned: (timestamp_ns, orig_len, data).
type Frames = Vec<(u64, u32, Vec<u8>)>;

/// Reads the whole input; returns the frames and how it ended.
fn read_all(bytes: &[u8]) -> (Frames, Result<(), CaptureError>) {
    let mut r = match CaptureReader::new(bytes) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut out = Vec::new();
    loop {
        match r.next_frame(MAC) {
            Ok(Some(f)) => out.push((f.timestamp_ns, f.orig_len, f.data.to_vec())),
            Ok(None) => return (out, Ok(())),
            Err(e) => return (out, Err(e)),
        }
    }
}

fn pcaps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/pcaps")
}

// ---------------------------------------------------------------------------
// Classic pcap, byte level.

/// A little-endian microsecond pcap with one 60-byte ARP frame, annotated.
#[rustfmt::skip]
static PCAP_LE_US: [u8; 24 + 16 + 42] = [
    // file header
    0xd4, 0xc3, 0xb2, 0xa1,         // magic 0xa1b2c3d4, little-endian, µs
    0x02, 0x00, 0x04, 0x00,         // version 2.4
    0x00, 0x00, 0x00, 0x00,         // thiszone
    0x00, 0x00, 0x00, 0x00,         // sigfigs
    0xff, 0xff, 0x00, 0x00,         // snaplen 65535
    0x01, 0x00, 0x00, 0x00,         // LINKTYPE_ETHERNET
    // record header
    0x10, 0x00, 0x00, 0x00,         // ts_sec 16
    0x20, 0xa1, 0x07, 0x00,         // ts_usec 500_000
    0x2a, 0x00, 0x00, 0x00,         // incl_len 42
    0x3c, 0x00, 0x00, 0x00,         // orig_len 60
    // frame: ARP request
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  0x02, 0x00, 0x00, 0x00, 0x00, 0x02,  0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc0, 0xa8, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01,
];

#[test]
fn pcap_le_microseconds_deconstruct() {
    let mut r = CaptureReader::new(&PCAP_LE_US[..]).unwrap();
    assert_eq!(
        r.format(),
        CaptureFormat::Pcap {
            nanosecond: false,
            big_endian: false
        }
    );
    assert_eq!(r.link_type(), Some(1));
    let f = r.next_frame(MAC).unwrap().unwrap();
    assert_eq!(f.timestamp_ns, 16_500_000_000);
    assert_eq!(f.orig_len, 60);
    assert_eq!(f.data, &PCAP_LE_US[40..]);
    assert!(r.next_frame(MAC).unwrap().is_none());
    assert!(r.next_frame(MAC).unwrap().is_none());
    assert_eq!(r.packets_read(), 1);
}

#[test]
fn pcap_be_nanoseconds_and_le_nanoseconds() {
    let frame = eth_frame(20, 0xab);
    for be in [false, true] {
        let mut bytes = pcap_header(be, true, 262_144, 1);
        bytes.extend(pcap_record(be, 7, 123, 20, 20, &frame));
        let mut r = CaptureReader::new(&bytes[..]).unwrap();
        assert_eq!(
            r.format(),
            CaptureFormat::Pcap {
                nanosecond: true,
                big_endian: be
            }
        );
        let f = r.next_frame(MAC).unwrap().unwrap();
        assert_eq!(f.timestamp_ns, 7_000_000_123);
        assert_eq!(f.data, &frame[..]);
    }
}

#[test]
fn pcap_incl_len_over_orig_len_is_tolerated() {
    let frame = eth_frame(30, 1);
    let mut bytes = pcap_header(false, false, 65535, 1);
    bytes.extend(pcap_record(false, 0, 0, 30, 20, &frame));
    let (frames, end) = read_all(&bytes);
    end.unwrap();
    assert_eq!(frames[0].1, 30, "orig_len raised to the captured length");
    assert_eq!(frames[0].2, frame);
}

#[test]
fn pcap_record_over_limit_is_fatal_and_repeats() {
    let mut bytes = pcap_header(false, false, 65535, 1);
    bytes.extend(pcap_record(false, 0, 0, 14, 14, &eth_frame(14, 0)));
    bytes.extend(pcap_record(false, 0, 0, MAX_RECORD_LEN + 1, 70, &[0; 64]));
    let mut r = CaptureReader::new(&bytes[..]).unwrap();
    assert!(r.next_frame(MAC).unwrap().is_some());
    for _ in 0..3 {
        match r.next_frame(MAC) {
            Err(CaptureError::RecordTooLong {
                index: 2,
                len,
                limit,
            }) => {
                assert_eq!(len, u64::from(MAX_RECORD_LEN) + 1);
                assert_eq!(limit, 262_144);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(r.buffer_capacity() <= HEADROOM + 14);
}

#[test]
fn pcap_truncated_header_and_record() {
    let mut bytes = pcap_header(false, false, 65535, 1);
    bytes.extend(pcap_record(false, 0, 0, 40, 40, &eth_frame(40, 0)));
    // cut inside the record data
    let cut = &bytes[..24 + 16 + 10];
    let mut r = CaptureReader::new(cut).unwrap();
    let e = r.next_frame(MAC).unwrap_err();
    assert!(
        matches!(
            e,
            CaptureError::Truncated {
                index: 1,
                expected: 40,
                got: 10,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(matches!(
        r.next_frame(MAC),
        Err(CaptureError::Truncated { index: 1, .. })
    ));
    // cut inside the record header
    let (_, end) = read_all(&bytes[..24 + 5]);
    assert!(matches!(
        end,
        Err(CaptureError::Truncated {
            index: 1,
            what: "record header",
            expected: 16,
            got: 5
        })
    ));
    // cut inside the file header
    let (_, end) = read_all(&bytes[..10]);
    assert!(matches!(
        end,
        Err(CaptureError::Truncated {
            index: 0,
            got: 10,
            ..
        })
    ));
    let (_, end) = read_all(&[]);
    assert!(matches!(
        end,
        Err(CaptureError::Truncated {
            index: 0,
            got: 0,
            ..
        })
    ));
}

#[test]
fn unknown_magic_and_version() {
    let (_, end) = read_all(b"GIF89a and some more bytes for a header");
    assert!(matches!(end, Err(CaptureError::UnknownFormat { magic }) if &magic == b"GIF8"));
    let mut bytes = pcap_header(false, false, 65535, 1);
    bytes[4] = 3;
    let (_, end) = read_all(&bytes);
    assert!(matches!(
        end,
        Err(CaptureError::UnsupportedVersion {
            format: "pcap",
            major: 3,
            minor: 4,
            ..
        })
    ));
}

#[test]
fn unsupported_link_types_are_named() {
    for (lt, name) in [
        (105, "IEEE802_11"),
        (127, "IEEE802_11_RADIOTAP"),
        (9, "PPP"),
        (4242, "unknown"),
    ] {
        let bytes = pcap_header(false, false, 65535, lt);
        match CaptureReader::new(&bytes[..]) {
            Err(CaptureError::UnsupportedLinkType { link_type, name: n }) => {
                assert_eq!((link_type, n), (lt, name));
            }
            other => panic!("{lt}: {other:?}"),
        }
    }
    let msg = CaptureError::UnsupportedLinkType {
        link_type: 127,
        name: link_type_name(127),
    }
    .to_string();
    assert_eq!(
        msg,
        "link type 127 (IEEE802_11_RADIOTAP) cannot be converted to Ethernet"
    );
}

/// A reader that hands out one byte at a time and is interrupted in between.
struct Trickle<'a> {
    data: &'a [u8],
    interrupt: bool,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "signal"));
        }
        match (self.data.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(dst)) => {
                *dst = *b;
                self.data = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn short_reads_and_interrupts() {
    let path = pcaps_dir().join("IcmpPackets.pcap");
    let bytes = std::fs::read(path).unwrap();
    let mut r = CaptureReader::new(Trickle {
        data: &bytes,
        interrupt: false,
    })
    .unwrap();
    let mut n = 0;
    while r.next_frame(MAC).unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 15);
}

#[test]
fn io_error_is_fatal_and_repeats() {
    struct Fails(usize);
    impl Read for Fails {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let header = pcap_header(false, false, 65535, 1);
            if self.0 < header.len() {
                let n = buf.len().min(header.len() - self.0);
                buf[..n].copy_from_slice(&header[self.0..self.0 + n]);
                self.0 += n;
                Ok(n)
            } else {
                Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone"))
            }
        }
    }
    let mut r = CaptureReader::new(Fails(0)).unwrap();
    for _ in 0..2 {
        match r.next_frame(MAC) {
            Err(CaptureError::Io(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
                assert_eq!(e.to_string(), "gone");
            }
            other => panic!("{other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Conversions to Ethernet.

fn convert_one(
    link_type: u32,
    be: bool,
    record: &[u8],
    orig: u32,
) -> Result<(Vec<u8>, u32), CaptureError> {
    let mut bytes = pcap_header(be, false, 65535, link_type);
    bytes.extend(pcap_record(be, 0, 0, record.len() as u32, orig, record));
    let mut r = CaptureReader::new(&bytes[..])?;
    let f = r.next_frame(MAC)?.expect("one frame");
    Ok((f.data.to_vec(), f.orig_len))
}

fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&dst);
    v.extend_from_slice(&src);
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn sll(pkt_type: u16, addr_len: u16, addr: [u8; 8], protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&pkt_type.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
    v.extend_from_slice(&addr_len.to_be_bytes());
    v.extend_from_slice(&addr);
    v.extend_from_slice(&protocol.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

#[test]
fn linux_sll_to_ethernet() {
    let payload = [0x00, 0x01, 0x08, 0x00, 0x06, 0x04];
    let src = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
    let addr = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0];
    // unicast to us (0): dst = local MAC, src from the SLL address
    let (f, orig) = convert_one(113, false, &sll(0, 6, addr, 0x0806, &payload), 22).unwrap();
    assert_eq!(f, eth(MAC, src, 0x0806, &payload));
    assert_eq!(orig, 20, "orig_len: 22 - 16 + 14");
    // broadcast (1) and multicast (2): dst = ff:..
    for t in [1, 2] {
        let (f, _) = convert_one(113, false, &sll(t, 6, addr, 0x0800, &payload), 22).unwrap();
        assert_eq!(f, eth(BCAST, src, 0x0800, &payload));
    }
    // outgoing (4), address length 8: src 0
    let (f, _) = convert_one(113, false, &sll(4, 8, [1; 8], 0x86dd, &payload), 22).unwrap();
    assert_eq!(f, eth(MAC, ZERO, 0x86dd, &payload));
    // 802.2 LLC: refused, per record
    let e = convert_one(113, false, &sll(0, 6, addr, 0x0004, &payload), 22).unwrap_err();
    assert!(e.is_record_error());
    assert!(matches!(
        e,
        CaptureError::Unconvertible {
            index: 1,
            link_type: 113,
            reason: ConversionFailure::NotAnEtherType { protocol: 4 },
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "record 1: LINUX_SLL (113) record not converted to Ethernet: SLL protocol 0x0004 is not an EtherType"
    );
    // shorter than the SLL header
    let e = convert_one(113, false, &[0; 15], 15).unwrap_err();
    assert!(matches!(
        e,
        CaptureError::Unconvertible {
            reason: ConversionFailure::TooShort { len: 15, need: 16 },
            ..
        }
    ));
}

#[test]
fn linux_sll2_to_ethernet() {
    let payload = [0x45, 0, 0, 20];
    let mut rec = Vec::new();
    rec.extend_from_slice(&0x0800u16.to_be_bytes()); // protocol
    rec.extend_from_slice(&[0, 0]); // reserved
    rec.extend_from_slice(&3u32.to_be_bytes()); // ifindex
    rec.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
    rec.push(2); // multicast
    rec.push(6); // address length
    rec.extend_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0, 0]);
    rec.extend_from_slice(&payload);
    let (f, orig) = convert_one(276, false, &rec, 24).unwrap();
    assert_eq!(
        f,
        eth(
            BCAST,
            [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
            0x0800,
            &payload
        )
    );
    assert_eq!(orig, 18);
    rec[10] = 0; // to us
    rec[11] = 4; // not a MAC
    let (f, _) = convert_one(276, false, &rec, 24).unwrap();
    assert_eq!(f, eth(MAC, ZERO, 0x0800, &payload));
    rec[0..2].copy_from_slice(&0x0004u16.to_be_bytes());
    assert!(matches!(
        convert_one(276, false, &rec, 24),
        Err(CaptureError::Unconvertible {
            reason: ConversionFailure::NotAnEtherType { protocol: 4 },
            ..
        })
    ));
}

#[test]
fn raw_ip_to_ethernet() {
    let v4 = [0x45, 0, 0, 20, 1, 2, 3, 4];
    let v6 = [0x60, 0, 0, 0, 9, 9];
    for lt in [101, 228, 229] {
        let (f, orig) = convert_one(lt, false, &v4, 8).unwrap();
        assert_eq!(f, eth(MAC, ZERO, 0x0800, &v4));
        assert_eq!(orig, 22);
        let (f, _) = convert_one(lt, true, &v6, 6).unwrap();
        assert_eq!(f, eth(MAC, ZERO, 0x86dd, &v6));
        assert!(matches!(
            convert_one(lt, false, &[0x50, 0], 2),
            Err(CaptureError::Unconvertible {
                reason: ConversionFailure::IpVersion { version: 5 },
                ..
            })
        ));
        assert!(matches!(
            convert_one(lt, false, &[], 0),
            Err(CaptureError::Unconvertible {
                reason: ConversionFailure::TooShort { len: 0, need: 1 },
                ..
            })
        ));
    }
}

#[test]
fn null_and_loop_to_ethernet() {
    let v4 = [0x45, 0, 0, 20];
    let v6 = [0x60, 0, 0, 0];
    let rec = |family: [u8; 4], p: &[u8]| [&family[..], p].concat();
    // NULL, little-endian file, host order = file order
    let (f, orig) = convert_one(0, false, &rec(2u32.to_le_bytes(), &v4), 4 + 4).unwrap();
    assert_eq!(f, eth(MAC, ZERO, 0x0800, &v4));
    assert_eq!(orig, 18);
    // NULL, big-endian file
    let (f, _) = convert_one(0, true, &rec(30u32.to_be_bytes(), &v6), 8).unwrap();
    assert_eq!(f, eth(MAC, ZERO, 0x86dd, &v6));
    // NULL, family in the other order than the file: byte-swapped fallback
    for fam in [10u32, 24, 28, 30] {
        let (f, _) = convert_one(0, false, &rec(fam.to_be_bytes(), &v6), 8).unwrap();
        assert_eq!(f, eth(MAC, ZERO, 0x86dd, &v6), "family {fam}");
    }
    // LOOP: always network order
    let (f, _) = convert_one(108, false, &rec(2u32.to_be_bytes(), &v4), 8).unwrap();
    assert_eq!(f, eth(MAC, ZERO, 0x0800, &v4));
    assert!(matches!(
        convert_one(108, false, &rec(2u32.to_le_bytes(), &v4), 8),
        Err(CaptureError::Unconvertible {
            reason: ConversionFailure::AddressFamily {
                family: 0x0200_0000
            },
            ..
        })
    ));
    assert!(matches!(
        convert_one(0, false, &rec(7u32.to_le_bytes(), &v4), 8),
        Err(CaptureError::Unconvertible {
            reason: ConversionFailure::AddressFamily { family: 7 },
            ..
        })
    ));
    assert!(matches!(
        convert_one(0, false, &[2, 0], 2),
        Err(CaptureError::Unconvertible {
            reason: ConversionFailure::TooShort { len: 2, need: 4 },
            ..
        })
    ));
}

#[test]
fn record_error_skips_one_record_only() {
    let mut bytes = pcap_header(false, false, 65535, 101);
    bytes.extend(pcap_record(false, 1, 0, 2, 2, &[0x45, 0]));
    bytes.extend(pcap_record(false, 2, 0, 2, 2, &[0x15, 0])); // version 1
    bytes.extend(pcap_record(false, 3, 0, 2, 2, &[0x65, 0]));
    let mut r = CaptureReader::new(&bytes[..]).unwrap();
    assert!(r.next_frame(MAC).unwrap().is_some());
    let e = r.next_frame(MAC).unwrap_err();
    assert!(
        matches!(e, CaptureError::Unconvertible { index: 2, .. }),
        "{e:?}"
    );
    let f = r.next_frame(MAC).unwrap().unwrap();
    assert_eq!(f.timestamp_ns, 3_000_000_000);
    assert_eq!(&f.data[12..14], &[0x86, 0xdd]);
    assert!(r.next_frame(MAC).unwrap().is_none());
    assert_eq!((r.packets_read(), r.records_rejected()), (2, 1));
}

// ---------------------------------------------------------------------------
// pcapng, byte level.

/// Little-endian pcapng: SHB, IDB (Ethernet, ns resolution), EPB, a custom
/// block to skip, SPB, obsolete PB. Annotated.
#[rustfmt::skip]
static PCAPNG_LE: &[u8] = &[
    // Section Header Block
    0x0a, 0x0d, 0x0d, 0x0a,         // block type
    0x1c, 0x00, 0x00, 0x00,         // total length 28
    0x4d, 0x3c, 0x2b, 0x1a,         // byte-order magic, little-endian
    0x01, 0x00, 0x00, 0x00,         // version 1.0
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // section length: unknown
    0x1c, 0x00, 0x00, 0x00,         // total length 28
    // Interface Description Block
    0x01, 0x00, 0x00, 0x00,         // block type 1
    0x20, 0x00, 0x00, 0x00,         // total length 32
    0x01, 0x00, 0x00, 0x00,         // LINKTYPE_ETHERNET, reserved
    0x00, 0x00, 0x04, 0x00,         // snaplen 262144
    0x09, 0x00, 0x01, 0x00,         // option if_tsresol, length 1
    0x09, 0x00, 0x00, 0x00,         // 10^-9 s, padding
    0x00, 0x00, 0x00, 0x00,         // opt_endofopt
    0x20, 0x00, 0x00, 0x00,         // total length 32
    // Enhanced Packet Block
    0x06, 0x00, 0x00, 0x00,         // block type 6
    0x30, 0x00, 0x00, 0x00,         // total length 48
    0x00, 0x00, 0x00, 0x00,         // interface 0
    0x01, 0x00, 0x00, 0x00,         // timestamp high
    0x02, 0x00, 0x00, 0x00,         // timestamp low: ts = 2^32 + 2 ns
    0x0f, 0x00, 0x00, 0x00,         // captured length 15
    0x40, 0x00, 0x00, 0x00,         // original length 64
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x45,
    0x00,                           // padding to 16
    0x30, 0x00, 0x00, 0x00,         // total length 48
    // custom block (0x00000BAD), skipped
    0xad, 0x0b, 0x00, 0x00,
    0x10, 0x00, 0x00, 0x00,         // total length 16
    0xde, 0xad, 0xbe, 0xef,
    0x10, 0x00, 0x00, 0x00,
    // Simple Packet Block
    0x03, 0x00, 0x00, 0x00,         // block type 3
    0x20, 0x00, 0x00, 0x00,         // total length 32
    0x0e, 0x00, 0x00, 0x00,         // original length 14
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x08, 0x06,
    0x00, 0x00,                     // padding
    0x20, 0x00, 0x00, 0x00,
    // Packet Block (obsolete)
    0x02, 0x00, 0x00, 0x00,         // block type 2
    0x30, 0x00, 0x00, 0x00,         // total length 48
    0x00, 0x00,                     // interface 0
    0x00, 0x00,                     // drops
    0x00, 0x00, 0x00, 0x00,         // timestamp high
    0xe8, 0x03, 0x00, 0x00,         // timestamp low 1000
    0x0e, 0x00, 0x00, 0x00,         // captured length 14
    0x0e, 0x00, 0x00, 0x00,         // original length 14
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0x86, 0xdd,
    0x00, 0x00,                     // padding
    0x30, 0x00, 0x00, 0x00,
];

#[test]
fn pcapng_le_deconstruct() {
    let mut r = CaptureReader::new(PCAPNG_LE).unwrap();
    assert_eq!(r.format(), CaptureFormat::Pcapng);
    assert_eq!(r.link_type(), None);
    let f = r.next_frame(MAC).unwrap().unwrap();
    assert_eq!(f.timestamp_ns, (1 << 32) + 2);
    assert_eq!(f.orig_len, 64);
    assert_eq!(f.data, &PCAPNG_LE[88..103]);
    assert_eq!(r.link_type(), Some(1));
    let f = r.next_frame(MAC).unwrap().unwrap();
    assert_eq!((f.timestamp_ns, f.orig_len), (0, 14));
    assert_eq!(f.data, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 8, 6]);
    let f = r.next_frame(MAC).unwrap().unwrap();
    assert_eq!((f.timestamp_ns, f.orig_len), (1000, 14));
    assert_eq!(&f.data[12..], &[0x86, 0xdd]);
    assert!(r.next_frame(MAC).unwrap().is_none());
    assert_eq!(r.packets_read(), 3);
}

#[test]
fn pcapng_matches_emitter() {
    // The helper emitter builds the same SHB/IDB/EPB bytes as the annotation.
    let mut built = ng_shb(false);
    built.extend(ng_idb(false, 1, 262_144, Some(9)));
    built.extend(ng_epb(false, 0, (1 << 32) + 2, 64, &PCAPNG_LE[88..103]));
    assert_eq!(&built[..], &PCAPNG_LE[..built.len()]);
}

#[test]
fn pcapng_sections_interfaces_and_resolutions() {
    let payload_v4 = [0x45, 0, 0, 20];
    // section 1, big-endian: iface 0 = raw IP at µs (default), iface 1 =
    // 802.11, iface 2 = Ethernet at 2^-10 s
    let mut b = ng_shb(true);
    b.extend(ng_idb(true, 101, 0, None));
    b.extend(ng_idb(true, 105, 0, None));
    b.extend(ng_idb(true, 1, 0, Some(0x80 | 10)));
    b.extend(ng_epb(true, 0, 1_500_000, 4, &payload_v4));
    b.extend(ng_epb(true, 1, 0, 4, &[0; 4]));
    b.extend(ng_epb(true, 2, 1024 * 3 + 512, 14, &eth_frame(14, 0)));
    b.extend(ng_epb(true, 7, 0, 14, &eth_frame(14, 0)));
    // section 2, little-endian: interfaces reset; iface 0 = LINUX_SLL, 10^-3 s
    b.extend(ng_shb(false));
    b.extend(ng_epb(false, 2, 0, 14, &eth_frame(14, 0))); // iface 2 gone
    b.extend(ng_idb(false, 113, 0, Some(3)));
    b.extend(ng_epb(
        false,
        0,
        42,
        20,
        &sll(1, 6, [9; 8], 0x0806, &[1, 2, 3, 4]),
    ));

    let mut r = CaptureReader::new(&b[..]).unwrap();
    let f = r.next_frame(MAC).unwrap().unwrap();
    assert_eq!(f.timestamp_ns, 1_500_000_000);
    assert_eq!(f.data, &eth(MAC, ZERO, 0x0800, &payload_v4)[..]);
    assert_eq!(r.link_type(), Some(101));
    let e = r.next_frame(MAC).unwrap_err();
    assert!(matches!(
        e,
        CaptureError::UnsupportedLinkType {
            link_type: 105,
            name: "IEEE802_11"
        }
    ));
    assert!(e.is_record_error());
    let f = r.next_frame(MAC).unwrap().unwrap();
    assert_eq!(f.timestamp_ns, 3_500_000_000);
    let e = r.next_frame(MAC).unwrap_err();
    assert!(
        matches!(
            e,
            CaptureError::UnknownInterface {
                index: 8,
                interface: 7,
                declared: 3
            }
        ),
        "{e:?}"
    );
    let e = r.next_frame(MAC).unwrap_err();
    assert!(
        matches!(
            e,
            CaptureError::UnknownInterface {
                index: 10,
                interface: 2,
                declared: 0
            }
        ),
        "{e:?}"
    );
    let f = r.next_frame(MAC).unwrap().unwrap();
    assert_eq!(f.timestamp_ns, 42_000_000);
    assert_eq!(f.data, &eth(BCAST, [9; 6], 0x0806, &[1, 2, 3, 4])[..]);
    assert_eq!(r.link_type(), Some(113));
    assert!(r.next_frame(MAC).unwrap().is_none());
    assert_eq!((r.packets_read(), r.records_rejected()), (3, 3));
}

#[test]
fn pcapng_tsresol_and_tsoffset() {
    // if_tsoffset option (code 14) = 100 s, resolution 10^-12 (ps)
    let mut body = Vec::new();
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&0u32.to_le_bytes());
    body.extend_from_slice(&[14, 0, 8, 0]);
    body.extend_from_slice(&100i64.to_le_bytes());
    body.extend_from_slice(&[9, 0, 1, 0, 12, 0, 0, 0]);
    body.extend_from_slice(&[2, 0, 3, 0, b'a', b'b', b'c', 0]); // if_name, skipped
    let mut b = ng_shb(false);
    b.extend(ng_block(false, 1, &body));
    b.extend(ng_epb(false, 0, 5_000_000, 14, &eth_frame(14, 0)));
    let (frames, end) = read_all(&b);
    end.unwrap();
    assert_eq!(frames[0].0, 100_000_005_000);
}

#[test]
fn pcapng_damaged_blocks_are_fatal() {
    let good = {
        let mut b = ng_shb(false);
        b.extend(ng_idb(false, 1, 0, None));
        b
    };
    let with = |tail: &[u8]| [&good[..], tail].concat();
    // length below 12
    let (_, end) = read_all(&with(&[6, 0, 0, 0, 8, 0, 0, 0]));
    assert!(
        matches!(
            end,
            Err(CaptureError::Malformed {
                index: 3,
                value: 8,
                ..
            })
        ),
        "{end:?}"
    );
    // not a multiple of 4
    let (_, end) = read_all(&with(&[6, 0, 0, 0, 13, 0, 0, 0]));
    assert!(
        matches!(
            end,
            Err(CaptureError::Malformed {
                index: 3,
                value: 13,
                ..
            })
        ),
        "{end:?}"
    );
    // over 16 MiB
    let (_, end) = read_all(&with(&[6, 0, 0, 0, 0, 0, 0, 2]));
    assert!(
        matches!(end, Err(CaptureError::RecordTooLong { index: 3, limit, .. }) if limit == 16 << 20)
    );
    // captured length over the record limit
    let mut epb = ng_epb(false, 0, 0, 14, &eth_frame(14, 0));
    epb[20..24].copy_from_slice(&(MAX_RECORD_LEN + 4).to_le_bytes());
    let (_, end) = read_all(&with(&epb));
    assert!(
        matches!(end, Err(CaptureError::RecordTooLong { index: 3, .. })),
        "{end:?}"
    );
    // captured length overrunning the block
    epb[20..24].copy_from_slice(&100u32.to_le_bytes());
    let (_, end) = read_all(&with(&epb));
    assert!(
        matches!(
            end,
            Err(CaptureError::Malformed {
                index: 3,
                value: 100,
                ..
            })
        ),
        "{end:?}"
    );
    // trailing length differs
    let mut epb = ng_epb(false, 0, 0, 14, &eth_frame(14, 0));
    let n = epb.len();
    epb[n - 4] ^= 4;
    let (frames, end) = read_all(&with(&epb));
    assert!(frames.is_empty());
    assert!(
        matches!(end, Err(CaptureError::Malformed { index: 3, .. })),
        "{end:?}"
    );
    // truncated inside a block, then the error repeats
    let epb = ng_epb(false, 0, 0, 14, &eth_frame(14, 0));
    let bytes = with(&epb[..epb.len() - 6]);
    let mut r = CaptureReader::new(&bytes[..]).unwrap();
    for _ in 0..2 {
        let e = r.next_frame(MAC).unwrap_err();
        assert!(
            matches!(e, CaptureError::Truncated { index: 3, .. }),
            "{e:?}"
        );
    }
    // option overrunning the IDB
    let mut b = ng_shb(false);
    b.extend(ng_block(false, 1, &[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0xff, 0]));
    let (_, end) = read_all(&b);
    assert!(
        matches!(
            end,
            Err(CaptureError::Malformed {
                index: 2,
                value: 255,
                ..
            })
        ),
        "{end:?}"
    );
    // bad byte-order magic, bad version
    let mut b = ng_shb(false);
    b[8] = 0;
    assert!(matches!(
        read_all(&b).1,
        Err(CaptureError::Malformed { index: 1, .. })
    ));
    let mut b = ng_shb(false);
    b[12] = 2;
    assert!(matches!(
        read_all(&b).1,
        Err(CaptureError::UnsupportedVersion {
            format: "pcapng",
            major: 2,
            ..
        })
    ));
    // empty section: clean end
    let (frames, end) = read_all(&ng_shb(true));
    assert!(frames.is_empty() && end.is_ok());
}

#[test]
fn pcapng_big_block_is_skipped_without_buffering() {
    let mut b = ng_shb(false);
    b.extend(ng_block(false, 0x0bad, &vec![7u8; 1 << 20]));
    b.extend(ng_idb(false, 1, 0, None));
    b.extend(ng_epb(false, 0, 0, 14, &eth_frame(14, 0)));
    let mut r = CaptureReader::new(&b[..]).unwrap();
    assert!(r.next_frame(MAC).unwrap().is_some());
    assert!(r.buffer_capacity() <= HEADROOM + 14);
}

// ---------------------------------------------------------------------------
// Writer.

#[rustfmt::skip]
static WRITTEN: [u8; 24 + 16 + 14] = [
    0x4d, 0x3c, 0xb2, 0xa1,         // magic 0xa1b23c4d, little-endian, ns
    0x02, 0x00, 0x04, 0x00,         // version 2.4
    0x00, 0x00, 0x00, 0x00,         // thiszone
    0x00, 0x00, 0x00, 0x00,         // sigfigs
    0x00, 0x00, 0x04, 0x00,         // snaplen 262144
    0x01, 0x00, 0x00, 0x00,         // LINKTYPE_ETHERNET
    0x02, 0x00, 0x00, 0x00,         // ts_sec 2
    0x15, 0xcd, 0x5b, 0x07,         // ts_nsec 123456789
    0x0e, 0x00, 0x00, 0x00,         // incl_len 14
    0x0e, 0x00, 0x00, 0x00,         // orig_len 14
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
];

#[test]
fn writer_construct() {
    let mut w = CaptureWriter::new(Vec::new()).unwrap();
    w.write(2_123_456_789, &WRITTEN[40..]).unwrap();
    assert_eq!(w.packets_written(), 1);
    assert_eq!(w.into_inner().unwrap(), WRITTEN);
}

#[test]
fn writer_deconstruct() {
    let mut r = CaptureReader::new(&WRITTEN[..]).unwrap();
    assert_eq!(
        r.format(),
        CaptureFormat::Pcap {
            nanosecond: true,
            big_endian: false
        }
    );
    let f = r.next_frame(MAC).unwrap().unwrap();
    assert_eq!(
        (f.timestamp_ns, f.orig_len, f.data),
        (2_123_456_789, 14, &WRITTEN[40..])
    );
}

#[test]
fn writer_refuses_without_writing() {
    let mut w = CaptureWriter::new(Vec::new()).unwrap();
    let big = vec![0u8; MAX_RECORD_LEN as usize + 1];
    assert!(matches!(
        w.write(0, &big),
        Err(CaptureError::RecordTooLong {
            index: 1,
            len: 262_145,
            limit: 262_144
        })
    ));
    assert!(matches!(
        w.write(1 << 32 << 30, &[0; 14]),
        Err(CaptureError::TimestampOutOfRange { index: 1, .. })
    ));
    w.write(
        u64::from(u32::MAX) * 1_000_000_000 + 999_999_999,
        &big[..MAX_RECORD_LEN as usize],
    )
    .unwrap();
    assert_eq!(w.packets_written(), 1);
    let out = w.into_inner().unwrap();
    assert_eq!(out.len(), 24 + 16 + MAX_RECORD_LEN as usize);
    let (frames, end) = read_all(&out);
    end.unwrap();
    assert_eq!(
        frames[0].0,
        u64::from(u32::MAX) * 1_000_000_000 + 999_999_999
    );
}

#[test]
fn writer_file_round_trip() {
    let dir = std::env::temp_dir().join(format!("cnfwd-pcap-file-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("out.pcap");
    let mut w = CaptureWriter::create(&path).unwrap();
    for i in 0..100u64 {
        w.write(i * 1_000_001, &eth_frame(14 + i as usize, i as u8))
            .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let mut r = CaptureReader::open(&path).unwrap();
    let mut n = 0u64;
    while let Some(f) = r.next_frame(MAC).unwrap() {
        assert_eq!(f.timestamp_ns, n * 1_000_001);
        assert_eq!(f.data, &eth_frame(14 + n as usize, n as u8)[..]);
        n += 1;
    }
    assert_eq!(n, 100);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(
        CaptureReader::open(&dir.join("missing.pcap")),
        Err(CaptureError::Open { .. })
    ));
}

// ---------------------------------------------------------------------------
// The real captures in testdata/pcaps (counts from SOURCES.md).

struct Expect {
    file: &'static str,
    pcapng: bool,
    link_type: u32,
    packets: u64,
}

const fn ex(file: &'static str, pcapng: bool, link_type: u32, packets: u64) -> Expect {
    Expect {
        file,
        pcapng,
        link_type,
        packets,
    }
}

/// How reading a shared capture ends: cleanly, except for the fuzz samples.
fn expected_end(file: &str, end: &Result<(), CaptureError>) -> bool {
    match file {
        // Record 2 claims incl_len 0xFFFFFFFF.
        "fuzz-crash-eec28daf-bad-reclen.pcap" => matches!(
            end,
            Err(CaptureError::RecordTooLong {
                index: 2,
                len: 0xffff_ffff,
                limit: 262_144
            })
        ),
        // Record 12 claims incl_len 19200 with 8928 bytes left in the file.
        "fuzz-crash-81dba690.pcap" => matches!(
            end,
            Err(CaptureError::Truncated {
                index: 12,
                expected: 19_200,
                got: 8_928,
                ..
            })
        ),
        _ => end.is_ok(),
    }
}

const SHARED: &[Expect] = &[
    ex("icmp_dot1q.pcap", false, 1, 15),
    ex("http-vlan-0.pcap", false, 1, 14),
    ex("vlan-collisions.pcap", false, 1, 42),
    ex("802.1ad_QinQ.pcap", false, 1, 2),
    ex("VlanPackets.pcap", false, 1, 26),
    ex("rpvstp-trunk-native-vid5.pcap", false, 1, 22),
    ex("vlan-pcp-dei.pcapng", true, 1, 9),
    ex("wikipedia.pcap", false, 1, 136),
    ex("ipv6_options.pcap", true, 1, 6),
    ex("ip4_fragments.pcap", false, 1, 53),
    ex("ip6_fragments.pcap", false, 1, 36),
    ex("IcmpPackets.pcap", true, 1, 15),
    ex("communityid-icmp6.pcap", false, 1, 49),
    ex("DnsPackets.pcap", false, 1, 464),
    ex("dns-two-responses.pcap", false, 1, 3),
    ex("dns_tcp.pcap", false, 1, 11),
    ex("vxlan-encapsulated-http.pcap", false, 1, 12),
    ex("tcp-truncated-header.pcap", false, 1, 24),
    ex("ipv6-bad-version.pcap", false, 1, 4),
    ex("fuzz-crash-81dba690.pcap", false, 1, 11),
    ex("fuzz-crash-eec28daf-bad-reclen.pcap", false, 1, 1),
    ex("linuxsll-arp.pcap", false, 113, 12),
    ex("raw_ip.pcap", false, 101, 100),
];

/// What reading one shared capture to its end saw.
struct Seen {
    reader: CaptureReader<std::io::BufReader<std::fs::File>>,
    /// EtherType (bytes 12..14) of every frame.
    ethertypes: Vec<u16>,
    /// Longest frame.
    max_len: usize,
    /// Frames with fewer captured bytes than orig_len.
    cut: u64,
    end: Result<(), CaptureError>,
}

fn read_shared(name: &str) -> Seen {
    let mut reader =
        CaptureReader::open(&pcaps_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (mut ethertypes, mut max_len, mut cut) = (Vec::new(), 0, 0);
    let end = loop {
        match reader.next_frame(MAC) {
            Ok(Some(f)) => {
                assert!(f.data.len() <= f.orig_len as usize, "{name}");
                let t = f
                    .data
                    .get(12..14)
                    .map_or(0, |t| u16::from_be_bytes([t[0], t[1]]));
                ethertypes.push(t);
                max_len = max_len.max(f.data.len());
                cut += u64::from(f.data.len() < f.orig_len as usize);
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    Seen {
        reader,
        ethertypes,
        max_len,
        cut,
        end,
    }
}

#[test]
fn every_shared_capture_reads() {
    let dir = pcaps_dir();
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SHARED.iter().map(|e| e.file.to_owned()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "a capture was added or removed: update SHARED"
    );

    for e in SHARED {
        let Seen { reader: r, end, .. } = read_shared(e.file);
        assert_eq!(r.format() == CaptureFormat::Pcapng, e.pcapng, "{}", e.file);
        assert_eq!(r.packets_read(), e.packets, "{}", e.file);
        assert_eq!(r.link_type(), Some(e.link_type), "{}", e.file);
        assert_eq!(r.records_rejected(), 0, "{}", e.file);
        assert!(expected_end(e.file, &end), "{}: {end:?}", e.file);
    }
}

#[test]
fn shared_conversions_and_details() {
    let types = |name| read_shared(name).ethertypes;
    assert_eq!(types("linuxsll-arp.pcap"), vec![0x0806; 12]);
    let raw = types("raw_ip.pcap");
    assert_eq!(raw.iter().filter(|&&t| t == 0x0800).count(), 50);
    assert_eq!(raw.iter().filter(|&&t| t == 0x86dd).count(), 50);
    assert_eq!(types("icmp_dot1q.pcap"), vec![0x8100; 15]);
    assert_eq!(types("802.1ad_QinQ.pcap"), vec![0x88a8; 2]);
    assert_eq!(read_shared("vxlan-encapsulated-http.pcap").max_len, 9100);
    assert_eq!(
        read_shared("tcp-truncated-header.pcap").cut,
        24,
        "every record is cut by the 68-byte snaplen"
    );
    // SLL: every record has packet type 1 (broadcast) and a 6-byte address;
    // 62-byte records become 60-byte Ethernet frames.
    let mut r = CaptureReader::open(&pcaps_dir().join("linuxsll-arp.pcap")).unwrap();
    let f = r.next_frame(MAC).unwrap().unwrap();
    assert_eq!(&f.data[..6], &BCAST);
    assert_eq!(&f.data[6..12], &[0xcc, 0x2d, 0xe0, 0x26, 0x19, 0x99]);
    assert_eq!((f.data.len(), f.orig_len), (60, 60));
}

// ---------------------------------------------------------------------------
// Property tests: nothing panics, memory stays bounded, reading terminates.

/// Drives a reader over `bytes` to the end; checks the invariants.
fn survive(bytes: &[u8]) {
    let Ok(mut r) = CaptureReader::new(bytes) else {
        return;
    };
    // Every call consumes at least 12 bytes or ends the reader.
    for _ in 0..=bytes.len() / 12 + 2 {
        match r.next_frame(MAC) {
            Ok(Some(f)) => assert!(f.data.len() <= f.orig_len as usize),
            Ok(None) => {
                assert!(r.next_frame(MAC).unwrap().is_none());
                return;
            }
            Err(e) if e.is_record_error() => {}
            Err(e) => {
                let again = r.next_frame(MAC).unwrap_err();
                assert_eq!(again.to_string(), e.to_string());
                return;
            }
        }
        assert!(r.buffer_capacity() <= HEADROOM + MAX_RECORD_LEN as usize);
    }
    panic!("reader did not terminate");
}

fn headers() -> Vec<Vec<u8>> {
    let mut ng = ng_shb(false);
    ng.extend(ng_idb(false, 1, 0, None));
    let mut ng_be = ng_shb(true);
    ng_be.extend(ng_idb(true, 113, 0, None));
    vec![
        pcap_header(false, false, 65535, 1),
        pcap_header(true, true, 65535, 101),
        pcap_header(false, false, 65535, 113),
        pcap_header(true, false, 65535, 0),
        ng,
        ng_be,
    ]
}

proptest! {
    // No regression files: they would be written outside this module.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_tail_never_panics(which in 0usize..6, tail in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut bytes = headers()[which].clone();
        bytes.extend_from_slice(&tail);
        survive(&bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        survive(&bytes);
    }

    #[test]
    fn damaged_real_captures_never_panic(
        which in 0usize..SHARED.len(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = std::fs::read(pcaps_dir().join(SHARED[which].file)).unwrap();
        for (at, v) in flips {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep);
        survive(&bytes);
    }

    #[test]
    fn write_then_read_round_trip(frames in proptest::collection::vec(
        (0u64..(1 << 42), proptest::collection::vec(any::<u8>(), 0..1600)), 0..20)) {
        let mut w = CaptureWriter::new(Vec::new()).unwrap();
        for (ts, data) in &frames {
            w.write(*ts, data).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let (read, end) = read_all(&bytes);
        prop_assert!(end.is_ok());
        prop_assert_eq!(read.len(), frames.len());
        for ((ts, orig, data), (ts0, data0)) in read.iter().zip(&frames) {
            prop_assert_eq!(*ts, *ts0);
            prop_assert_eq!(*orig as usize, data0.len());
            prop_assert_eq!(data, data0);
        }
    }
}

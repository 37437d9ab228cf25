//! Defensive DNS response parsing for FQDN allowlist learning.
//!
//! [`parse_response`] reads one DNS message (a UDP/53 payload, or one message
//! cut out of a TCP/53 stream by [`next_tcp_message`]) and returns the
//! question, the rcode, and the A/AAAA answers reachable from the question
//! through the CNAME chain of the answer section. Nothing else of the message
//! is used: authority and additional records are never learned from (an
//! additional record naming an allowlisted host is not an answer to the
//! question, and learning from it would let any response inject addresses).
//!
//! # Guarantees
//!
//! - No input panics, loops or allocates more than a bounded amount: names
//!   are at most [`MAX_NAME_LEN`] bytes in wire form with labels of at most
//!   [`MAX_LABEL_LEN`]; a name follows at most [`MAX_POINTER_HOPS`]
//!   compression pointers (more is a loop); section counts are checked
//!   against the bytes left before any record is read; at most
//!   [`MAX_ANSWERS`] answer records are kept and the CNAME chain is at most
//!   [`MAX_CHAIN`] names long.
//! - Every rejection is one [`DnsError`] variant with its own counter name
//!   ([`DnsError::counter`]); an error means nothing from the message may be
//!   installed.
//! - Names are returned in lower case, without the trailing dot, so
//!   comparisons are case-insensitive as DNS requires (RFC 4343).
//!
//! The TC (truncated) flag is reported, not an error: the records present in
//! a truncated UDP response are complete records (a record cut in the middle
//! is [`DnsError::Truncated`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest name in wire form (length bytes included), RFC 1035 §2.3.4.
pub const MAX_NAME_LEN: usize = 255;
/// Longest label, RFC 1035 §2.3.4.
pub const MAX_LABEL_LEN: usize = 63;
/// Compression pointers followed while reading one name; one more is
/// [`DnsError::CompressionLoop`]. Real names need one or two.
pub const MAX_POINTER_HOPS: usize = 16;
/// Answer records kept from one response; further ones are ignored (never an
/// install, never an error). Real responses carry at most a few dozen.
pub const MAX_ANSWERS: usize = 64;
/// Names in a CNAME chain, the question included. Longer chains stop there.
pub const MAX_CHAIN: usize = 16;

const HEADER_LEN: usize = 12;
/// Smallest question: root name (1) + type (2) + class (2).
const MIN_QUESTION_LEN: usize = 5;
/// Smallest resource record: root name (1) + type, class, TTL, rdlength (10).
const MIN_RR_LEN: usize = 11;
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// Why a DNS message was not used. One variant per cause; each has a counter
/// name ([`DnsError::counter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// Shorter than the 12-byte header.
    #[error("DNS message of {len} bytes is shorter than its 12-byte header")]
    ShortHeader {
        /// Bytes available.
        len: usize,
    },
    /// The QR bit is clear: a query, not a response.
    #[error("DNS message is a query, not a response")]
    NotResponse,
    /// Opcode other than 0 (standard query).
    #[error("DNS opcode {opcode} is not a standard query (0)")]
    Opcode {
        /// The opcode found.
        opcode: u8,
    },
    /// The question count is not 1 (every resolver sends exactly one).
    #[error("DNS response has {count} questions (expected 1)")]
    QuestionCount {
        /// The count found.
        count: u16,
    },
    /// The section counts need more bytes than the message has left.
    #[error("DNS counts need at least {needed} bytes but {available} remain")]
    AbsurdCount {
        /// Minimum bytes the counts imply.
        needed: usize,
        /// Bytes after the header.
        available: usize,
    },
    /// A name, question or record runs past the end of the message.
    #[error("DNS message truncated at offset {offset}")]
    Truncated {
        /// Offset of the field that did not fit.
        offset: usize,
    },
    /// A name followed more than [`MAX_POINTER_HOPS`] compression pointers.
    #[error("DNS name at offset {offset} has a compression loop")]
    CompressionLoop {
        /// Offset where the name started.
        offset: usize,
    },
    /// A name is longer than [`MAX_NAME_LEN`] bytes in wire form.
    #[error("DNS name at offset {offset} is longer than 255 bytes")]
    NameTooLong {
        /// Offset where the name started.
        offset: usize,
    },
    /// A label length byte uses the reserved `01`/`10` high bits (extended
    /// label types, RFC 6891 §5), which no resolver emits.
    #[error("DNS label type {byte:#04x} at offset {offset} is reserved")]
    BadLabelType {
        /// Offset of the length byte.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// An A record whose data is not 4 bytes or an AAAA record whose data is
    /// not 16 bytes.
    #[error("DNS record type {rtype} at offset {offset} has {len} bytes of data")]
    BadRdataLength {
        /// Offset of the record.
        offset: usize,
        /// The record type.
        rtype: u16,
        /// Its rdlength.
        len: u16,
    },
}

impl DnsError {
    /// The counter this error increments (snake_case, stable).
    pub fn counter(&self) -> &'static str {
        match self {
            DnsError::ShortHeader { .. } => "dns_short_header",
            DnsError::NotResponse => "dns_not_response",
            DnsError::Opcode { .. } => "dns_bad_opcode",
            DnsError::QuestionCount { .. } => "dns_question_count",
            DnsError::AbsurdCount { .. } => "dns_absurd_count",
            DnsError::Truncated { .. } => "dns_truncated",
            DnsError::CompressionLoop { .. } => "dns_compression_loop",
            DnsError::NameTooLong { .. } => "dns_name_too_long",
            DnsError::BadLabelType { .. } => "dns_bad_label_type",
            DnsError::BadRdataLength { .. } => "dns_bad_rdata_length",
        }
    }

    /// Every counter name [`DnsError::counter`] can return.
    pub const COUNTERS: [&'static str; 10] = [
        "dns_short_header",
        "dns_not_response",
        "dns_bad_opcode",
        "dns_question_count",
        "dns_absurd_count",
        "dns_truncated",
        "dns_compression_loop",
        "dns_name_too_long",
        "dns_bad_label_type",
        "dns_bad_rdata_length",
    ];
}

/// One A or AAAA answer reachable from the question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressAnswer {
    /// The address.
    pub addr: IpAddr,
    /// The record's own TTL in seconds (not lowered by the CNAMEs before it).
    pub ttl: u32,
    /// The record's owner name (the question or a name of the chain).
    pub owner: String,
}

/// What a response says about its question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsResponse {
    /// Transaction id.
    pub id: u16,
    /// Response code (0 = no error, 3 = NXDOMAIN, ...).
    pub rcode: u8,
    /// The TC flag: the server cut the response (the records present are
    /// whole).
    pub truncated_flag: bool,
    /// The question name, lower case, no trailing dot (`""` for the root).
    pub question: String,
    /// The question type (1 = A, 28 = AAAA, ...).
    pub qtype: u16,
    /// The question name followed by each CNAME target reached from it, in
    /// order, at most [`MAX_CHAIN`] names.
    pub chain: Vec<String>,
    /// A/AAAA records (class IN) of the answer section whose owner is a name
    /// of `chain`, in message order.
    pub addresses: Vec<AddressAnswer>,
}

/// Reads 2 bytes big-endian at `at`.
fn u16_at(msg: &[u8], at: usize) -> Result<u16, DnsError> {
    match msg.get(at..at + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(DnsError::Truncated { offset: at }),
    }
}

fn u32_at(msg: &[u8], at: usize) -> Result<u32, DnsError> {
    match msg.get(at..at + 4) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(DnsError::Truncated { offset: at }),
    }
}

/// Reads the (possibly compressed) name at `start`; returns it lower case
/// without the trailing dot, and the offset just after the name's bytes at
/// `start` (after the first pointer if any).
fn read_name(msg: &[u8], start: usize) -> Result<(String, usize), DnsError> {
    let mut out = String::new();
    let mut pos = start;
    let mut end = None;
    let mut hops = 0usize;
    // Wire length: each label's length byte + bytes, plus the root byte.
    let mut wire_len = 1usize;
    loop {
        let Some(&len) = msg.get(pos) else {
            return Err(DnsError::Truncated { offset: pos });
        };
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok((out, end.unwrap_or(pos + 1)));
                }
                let len = usize::from(len);
                wire_len += 1 + len;
                if wire_len > MAX_NAME_LEN {
                    return Err(DnsError::NameTooLong { offset: start });
                }
                let Some(label) = msg.get(pos + 1..pos + 1 + len) else {
                    return Err(DnsError::Truncated { offset: pos });
                };
                if !out.is_empty() {
                    out.push('.');
                }
                for &b in label {
                    // Names are bytes; keep printable ASCII, escape the rest
                    // so the string is valid UTF-8 and never collides with a
                    // configured (ASCII-only) name.
                    if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                        out.push(char::from(b.to_ascii_lowercase()));
                    } else {
                        out.push_str(&format!("\\{b:03}"));
                    }
                }
                pos += 1 + len;
            }
            0xc0 => {
                let Some(&lo) = msg.get(pos + 1) else {
                    return Err(DnsError::Truncated { offset: pos });
                };
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return Err(DnsError::CompressionLoop { offset: start });
                }
                if end.is_none() {
                    end = Some(pos + 2);
                }
                pos = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
            }
            _ => {
                return Err(DnsError::BadLabelType {
                    offset: pos,
                    byte: len,
                })
            }
        }
    }
}

/// A record of the answer section, as the chain walk needs it.
struct Answer {
    owner: String,
    rtype: u16,
    ttl: u32,
    cname: Option<String>,
    addr: Option<IpAddr>,
}

/// Parses one DNS response (see the module doc for what is checked).
pub fn parse_response(msg: &[u8]) -> Result<DnsResponse, DnsError> {
    if msg.len() < HEADER_LEN {
        return Err(DnsError::ShortHeader { len: msg.len() });
    }
    let id = u16_at(msg, 0)?;
    let flags = u16_at(msg, 2)?;
    if flags & 0x8000 == 0 {
        return Err(DnsError::NotResponse);
    }
    let opcode = ((flags >> 11) & 0x0f) as u8;
    if opcode != 0 {
        return Err(DnsError::Opcode { opcode });
    }
    let qd = u16_at(msg, 4)?;
    let an = u16_at(msg, 6)?;
    let ns = u16_at(msg, 8)?;
    let ar = u16_at(msg, 10)?;
    if qd != 1 {
        return Err(DnsError::QuestionCount { count: qd });
    }
    let needed = usize::from(qd) * MIN_QUESTION_LEN
        + (usize::from(an) + usize::from(ns) + usize::from(ar)) * MIN_RR_LEN;
    let available = msg.len() - HEADER_LEN;
    if needed > available {
        return Err(DnsError::AbsurdCount { needed, available });
    }

    let (question, mut pos) = read_name(msg, HEADER_LEN)?;
    let qtype = u16_at(msg, pos)?;
    let _qclass = u16_at(msg, pos + 2)?;
    pos += 4;

    let mut answers: Vec<Answer> = Vec::new();
    for _ in 0..an {
        let rr_start = pos;
        let (owner, after) = read_name(msg, pos)?;
        let rtype = u16_at(msg, after)?;
        let class = u16_at(msg, after + 2)?;
        let ttl = u32_at(msg, after + 4)?;
        let rdlen = u16_at(msg, after + 8)?;
        let rdata_at = after + 10;
        let rdata_end = rdata_at + usize::from(rdlen);
        let Some(rdata) = msg.get(rdata_at..rdata_end) else {
            return Err(DnsError::Truncated { offset: rr_start });
        };
        pos = rdata_end;
        if class != CLASS_IN || answers.len() >= MAX_ANSWERS {
            continue;
        }
        let (mut cname, mut addr) = (None, None);
        match rtype {
            TYPE_A => {
                let b: [u8; 4] = rdata.try_into().map_err(|_| DnsError::BadRdataLength {
                    offset: rr_start,
                    rtype,
                    len: rdlen,
                })?;
                addr = Some(IpAddr::V4(Ipv4Addr::from(b)));
            }
            TYPE_AAAA => {
                let b: [u8; 16] = rdata.try_into().map_err(|_| DnsError::BadRdataLength {
                    offset: rr_start,
                    rtype,
                    len: rdlen,
                })?;
                addr = Some(IpAddr::V6(Ipv6Addr::from(b)));
            }
            TYPE_CNAME => {
                let (target, target_end) = read_name(msg, rdata_at)?;
                if target_end > rdata_end {
                    return Err(DnsError::Truncated { offset: rdata_at });
                }
                cname = Some(target);
            }
            _ => continue,
        }
        answers.push(Answer {
            owner,
            rtype,
            ttl,
            cname,
            addr,
        });
    }
    // The other sections are not used, but their records must be whole: a
    // message cut inside them is as suspect as one cut in the answers.
    for _ in 0..(usize::from(ns) + usize::from(ar)) {
        let (_, after) = read_name(msg, pos)?;
        let rdlen = u16_at(msg, after + 8)?;
        let end = after + 10 + usize::from(rdlen);
        if end > msg.len() {
            return Err(DnsError::Truncated { offset: pos });
        }
        pos = end;
    }

    // Walk the chain: question, then the CNAME target of the current name.
    let mut chain = vec![question.clone()];
    while chain.len() < MAX_CHAIN {
        let current = &chain[chain.len() - 1];
        let next = answers
            .iter()
            .find(|a| a.rtype == TYPE_CNAME && &a.owner == current)
            .and_then(|a| a.cname.clone());
        match next {
            Some(target) if !chain.contains(&target) => chain.push(target),
            _ => break,
        }
    }
    let addresses = answers
        .into_iter()
        .filter_map(|a| match a.addr {
            Some(addr) if chain.contains(&a.owner) => Some(AddressAnswer {
                addr,
                ttl: a.ttl,
                owner: a.owner,
            }),
            _ => None,
        })
        .collect();
    Ok(DnsResponse {
        id,
        rcode: (flags & 0x0f) as u8,
        truncated_flag: flags & 0x0200 != 0,
        question,
        qtype,
        chain,
        addresses,
    })
}

/// One step of cutting a TCP/53 byte stream into DNS messages (RFC 1035
/// §4.2.2: each message is preceded by its 2-byte big-endian length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpSplit<'a> {
    /// A whole message, and the bytes after it.
    Message {
        /// The message (without its length prefix).
        msg: &'a [u8],
        /// What follows it in the buffer.
        rest: &'a [u8],
    },
    /// The buffer holds only part of the next message: keep it and append the
    /// next segment. `need` is the total bytes (prefix included) required.
    NeedMore {
        /// Bytes the buffer must hold before the message is complete.
        need: usize,
    },
}

/// Cuts the first message out of `stream` (bytes of one direction of a TCP/53
/// connection, starting at a message boundary). Never an error: a partial
/// message is [`TcpSplit::NeedMore`].
pub fn next_tcp_message(stream: &[u8]) -> TcpSplit<'_> {
    let Some(prefix) = stream.get(..2) else {
        return TcpSplit::NeedMore { need: 2 };
    };
    let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
    match stream.get(2..2 + len) {
        Some(msg) => TcpSplit::Message {
            msg,
            rest: &stream[2 + len..],
        },
        None => TcpSplit::NeedMore { need: 2 + len },
    }
}

/// Every whole message of `stream` (see [`next_tcp_message`]), and the
/// trailing bytes of an incomplete one (empty when the stream ends on a
/// boundary).
pub fn split_tcp_messages(stream: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut out = Vec::new();
    let mut rest = stream;
    while let TcpSplit::Message { msg, rest: r } = next_tcp_message(rest) {
        out.push(msg);
        rest = r;
    }
    (out, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds a response: header, question `name` type A, then `answers` as
    /// raw record bytes.
    fn response(flags: u16, counts: [u16; 4], body: &[u8]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34];
        m.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m.extend_from_slice(body);
        m
    }

    fn name(n: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in n.split('.').filter(|l| !l.is_empty()) {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v
    }

    fn rr(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut v = owner.to_vec();
        v.extend_from_slice(&rtype.to_be_bytes());
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&ttl.to_be_bytes());
        v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        v.extend_from_slice(rdata);
        v
    }

    /// `WWW.Example.com` A -> CNAME cdn.example.net (pointer-compressed
    /// owner) -> A 192.0.2.1 (TTL 60) and AAAA 2001:db8::1 (TTL 30); plus an
    /// A for an unrelated name that must not be returned.
    fn sample() -> Vec<u8> {
        let mut body = name("WWW.Example.com");
        body.extend_from_slice(&[0, 1, 0, 1]);
        // Owner: pointer to the question name at offset 12.
        body.extend(rr(&[0xc0, 12], TYPE_CNAME, 300, &name("cdn.example.net")));
        // The CNAME target starts at 12 + 17 + 4 + 12 = 45.
        body.extend(rr(&[0xc0, 45], TYPE_A, 60, &[192, 0, 2, 1]));
        body.extend(rr(
            &[0xc0, 45],
            TYPE_AAAA,
            30,
            &"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets(),
        ));
        body.extend(rr(
            &name("evil.example.org"),
            TYPE_A,
            60,
            &[198, 51, 100, 1],
        ));
        response(0x8180, [1, 4, 0, 0], &body)
    }

    #[test]
    fn cname_chain_and_addresses() {
        let r = parse_response(&sample()).unwrap();
        assert_eq!(r.id, 0x1234);
        assert_eq!(r.rcode, 0);
        assert_eq!(r.question, "www.example.com");
        assert_eq!(r.qtype, 1);
        assert_eq!(r.chain, vec!["www.example.com", "cdn.example.net"]);
        assert_eq!(
            r.addresses,
            vec![
                AddressAnswer {
                    addr: "192.0.2.1".parse().unwrap(),
                    ttl: 60,
                    owner: "cdn.example.net".into()
                },
                AddressAnswer {
                    addr: "2001:db8::1".parse().unwrap(),
                    ttl: 30,
                    owner: "cdn.example.net".into()
                },
            ]
        );
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            parse_response(&[0; 11]),
            Err(DnsError::ShortHeader { len: 11 })
        );
        let mut q = sample();
        q[2] &= 0x7f;
        assert_eq!(parse_response(&q), Err(DnsError::NotResponse));
        let mut q = sample();
        q[2] |= 0x28; // opcode 5 (UPDATE)
        assert_eq!(parse_response(&q), Err(DnsError::Opcode { opcode: 5 }));
        let mut q = sample();
        q[5] = 2;
        assert!(matches!(
            parse_response(&q),
            Err(DnsError::QuestionCount { count: 2 })
        ));
    }

    #[test]
    fn absurd_count() {
        let mut q = sample();
        q[6] = 0xff; // 65,280+ answers in a 150-byte message
        assert!(matches!(
            parse_response(&q),
            Err(DnsError::AbsurdCount { .. })
        ));
    }

    #[test]
    fn truncated_record() {
        let q = sample();
        for cut in 12..q.len() {
            let e = parse_response(&q[..cut]).unwrap_err();
            assert!(
                matches!(e, DnsError::Truncated { .. } | DnsError::AbsurdCount { .. }),
                "cut {cut}: {e:?}"
            );
        }
    }

    #[test]
    fn compression_loop() {
        // The question name is a pointer to itself.
        let body = [0xc0, 12, 0, 1, 0, 1];
        let m = response(0x8180, [1, 0, 0, 0], &body);
        assert_eq!(
            parse_response(&m),
            Err(DnsError::CompressionLoop { offset: 12 })
        );
        // Two pointers pointing at each other.
        let body = [0xc0, 14, 0xc0, 12, 0, 1, 0, 1];
        let m = response(0x8180, [1, 0, 0, 0], &body);
        assert!(matches!(
            parse_response(&m),
            Err(DnsError::CompressionLoop { .. })
        ));
    }

    #[test]
    fn name_and_label_limits() {
        // 5 labels of 63 bytes: 320 bytes in wire form.
        let long = vec!["a".repeat(63); 5].join(".");
        let mut body = name(&long);
        body.extend_from_slice(&[0, 1, 0, 1]);
        let m = response(0x8180, [1, 0, 0, 0], &body);
        assert_eq!(
            parse_response(&m),
            Err(DnsError::NameTooLong { offset: 12 })
        );
        // A length byte 0x40..0xbf is a reserved label type (a label > 63).
        let mut body = vec![0x40];
        body.extend_from_slice(&[b'a'; 64]);
        body.extend_from_slice(&[0, 0, 1, 0, 1]);
        let m = response(0x8180, [1, 0, 0, 0], &body);
        assert!(matches!(
            parse_response(&m),
            Err(DnsError::BadLabelType { byte: 0x40, .. })
        ));
        // The longest legal name (253 characters, 255 wire bytes) is fine.
        let max = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        let mut body = name(&max);
        assert_eq!(body.len(), 255);
        body.extend_from_slice(&[0, 1, 0, 1]);
        let m = response(0x8180, [1, 0, 0, 0], &body);
        assert_eq!(parse_response(&m).unwrap().question, max);
    }

    #[test]
    fn bad_rdata_length() {
        let mut body = name("x.example");
        body.extend_from_slice(&[0, 1, 0, 1]);
        body.extend(rr(&[0xc0, 12], TYPE_A, 60, &[1, 2, 3]));
        let m = response(0x8180, [1, 1, 0, 0], &body);
        assert!(matches!(
            parse_response(&m),
            Err(DnsError::BadRdataLength {
                rtype: 1,
                len: 3,
                ..
            })
        ));
    }

    #[test]
    fn cname_loop_and_unrelated_owner() {
        // a -> b -> a (loop in the data, not in compression), A for b.
        let mut body = name("a.example");
        body.extend_from_slice(&[0, 1, 0, 1]);
        body.extend(rr(&name("a.example"), TYPE_CNAME, 60, &name("b.example")));
        body.extend(rr(&name("b.example"), TYPE_CNAME, 60, &name("a.example")));
        body.extend(rr(&name("b.example"), TYPE_A, 60, &[192, 0, 2, 9]));
        body.extend(rr(&name("c.example"), TYPE_A, 60, &[192, 0, 2, 10]));
        let m = response(0x8180, [1, 4, 0, 0], &body);
        let r = parse_response(&m).unwrap();
        assert_eq!(r.chain, vec!["a.example", "b.example"]);
        assert_eq!(r.addresses.len(), 1);
        assert_eq!(r.addresses[0].addr, "192.0.2.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn rcode_and_tc_flag() {
        let mut body = name("nx.example");
        body.extend_from_slice(&[0, 1, 0, 1]);
        let m = response(0x8383, [1, 0, 0, 0], &body);
        let r = parse_response(&m).unwrap();
        assert_eq!(r.rcode, 3);
        assert!(r.truncated_flag);
        assert!(r.addresses.is_empty());
    }

    #[test]
    fn tcp_split() {
        let a = sample();
        let mut stream = (a.len() as u16).to_be_bytes().to_vec();
        stream.extend_from_slice(&a);
        stream.extend_from_slice(&[0, 3, 1, 2, 3]);
        stream.extend_from_slice(&[0, 10, 1]);
        let (msgs, rest) = split_tcp_messages(&stream);
        assert_eq!(msgs, vec![&a[..], &[1, 2, 3][..]]);
        assert_eq!(rest, &[0, 10, 1]);
        assert_eq!(next_tcp_message(rest), TcpSplit::NeedMore { need: 12 });
        assert_eq!(next_tcp_message(&[0]), TcpSplit::NeedMore { need: 2 });
        assert_eq!(
            next_tcp_message(&[0, 0]),
            TcpSplit::Message {
                msg: &[],
                rest: &[]
            }
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_response(&bytes);
            let _ = split_tcp_messages(&bytes);
        }

        #[test]
        fn mutated_responses_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut m = sample();
            for (at, byte) in edits {
                let i = at.index(m.len());
                m[i] = byte;
            }
            let len = cut.index(m.len() + 1);
            if let Ok(r) = parse_response(&m[..len]) {
                // Whatever parses keeps its promises.
                prop_assert!(r.chain.len() <= MAX_CHAIN);
                prop_assert!(r.addresses.len() <= MAX_ANSWERS);
                prop_assert!(r.addresses.iter().all(|a| r.chain.contains(&a.owner)));
            }
        }
    }
}

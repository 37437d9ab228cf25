//! The capture filter: a subset of pcap-filter (tcpdump) syntax, parsed on
//! the control thread ([`Program::compile`], errors with the column of the
//! bad token) into a small postfix program that a worker evaluates on a
//! frame without allocating ([`Program::matches`]).
//!
//! Primitives: `[src|dst] host ADDR`, `[src|dst] net PREFIX`,
//! `[tcp|udp] [src|dst] port N`, `ip`, `ip6`, `arp`, `tcp`, `udp`, `icmp`,
//! `icmp6`, `vlan [VID]`; joined with `and`/`&&`, `or`/`||`, `not`/`!` and
//! parentheses. As in tcpdump, `not` binds tightest and `and`/`or` have the
//! same precedence, associating left to right (`a or b and c` is
//! `(a or b) and c`). A bare address is `host ADDR`; `port` also takes a
//! few service names (`domain`, `http`, `https`, `ssh`, ...).
//!
//! Differences from tcpdump, on purpose:
//! - L3/L4 primitives look through 802.1Q/802.1ad tags (up to two), as
//!   Wireshark's display filters do; tcpdump needs `vlan and ...` for a
//!   tagged frame. `vlan N` matches a frame with a tag of VID N at either
//!   level.
//! - `host` and `net` match IPv4 and IPv6 source/destination and the ARP
//!   sender and target addresses (as tcpdump's do for `arp`);
//!   `port` matches TCP, UDP and SCTP ports of an unfragmented packet or a
//!   first fragment (tcpdump too looks at first fragments only).
//! - IPv6 extension headers (hop-by-hop, routing, fragment, destination
//!   options) are skipped to find the transport protocol.
//! - Names are not resolved (`host example.com` is an error: give the
//!   address); there is no `ether`, `less`/`greater` or byte-offset syntax.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::packet::ethernet::{is_tpid, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6};

/// Most operations in one program (a filter of about 120 primitives).
pub const MAX_OPS: usize = 256;
/// Deepest evaluation stack a program may need.
pub const MAX_DEPTH: usize = 32;
/// Longest filter text accepted.
pub const MAX_TEXT: usize = 4096;

/// Why a filter text was refused: the 1-based column of the bad token (in
/// characters) and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad filter at column {column}{}: {message}", if token.is_empty() { String::new() } else { format!(" ({token:?})") })]
pub struct FilterError {
    /// 1-based column of the token in the filter text.
    pub column: usize,
    /// The token there (empty at the end of the text).
    pub token: String,
    /// What is wrong.
    pub message: String,
}

/// Which address or port of a packet a primitive looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Source or destination.
    Either,
    /// Source only.
    Src,
    /// Destination only.
    Dst,
}

/// One test on a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    /// IPv4 (EtherType 0x0800, through tags).
    Ip,
    /// IPv6 (EtherType 0x86dd, through tags).
    Ip6,
    /// ARP.
    Arp,
    /// TCP over IPv4 or IPv6.
    Tcp,
    /// UDP over IPv4 or IPv6.
    Udp,
    /// ICMP (over IPv4).
    Icmp,
    /// ICMPv6.
    Icmp6,
    /// Tagged; with a VID, a tag of that VID.
    Vlan(Option<u16>),
    /// An IPv4 address (also ARP's sender/target).
    Host4(Side, u32),
    /// An IPv6 address.
    Host6(Side, u128),
    /// An IPv4 prefix (address, mask).
    Net4(Side, u32, u32),
    /// An IPv6 prefix (address, mask).
    Net6(Side, u128, u128),
    /// A TCP/UDP/SCTP port; the protocol restricts it (0: any of them).
    Port(Side, u8, u16),
}

/// A program operation (postfix order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Push the test's result.
    Test(Test),
    /// Negate the top.
    Not,
    /// Pop two, push their conjunction.
    And,
    /// Pop two, push their disjunction.
    Or,
}

/// A compiled filter. The empty program matches every frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Program {
    ops: Vec<Op>,
}

impl Program {
    /// Parses and compiles `text` (empty or blank: match all).
    pub fn compile(text: &str) -> Result<Program, FilterError> {
        if text.chars().count() > MAX_TEXT {
            return Err(FilterError {
                column: MAX_TEXT + 1,
                token: String::new(),
                message: format!("longer than {MAX_TEXT} characters"),
            });
        }
        let tokens = lex(text)?;
        if tokens.is_empty() {
            return Ok(Program::default());
        }
        let mut p = Parser {
            tokens,
            at: 0,
            ops: Vec::new(),
            text_chars: text.chars().count(),
        };
        p.expr(0)?;
        if let Some(t) = p.tokens.get(p.at) {
            return Err(p.error_at(t, "expected `and`, `or` or the end of the filter"));
        }
        let depth = stack_depth(&p.ops);
        if p.ops.len() > MAX_OPS || depth > MAX_DEPTH {
            return Err(FilterError {
                column: 1,
                token: String::new(),
                message: format!(
                    "too complex: {} operations, nesting {depth} (at most {MAX_OPS} and {MAX_DEPTH})",
                    p.ops.len()
                ),
            });
        }
        Ok(Program { ops: p.ops })
    }

    /// The operations, in postfix order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// True when the program matches every frame.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Whether `frame` (an Ethernet frame) matches. Never allocates; a
    /// truncated or malformed frame simply fails the tests that need the
    /// missing headers.
    #[inline]
    pub fn matches(&self, frame: &[u8]) -> bool {
        if self.ops.is_empty() {
            return true;
        }
        let f = Fields::decode(frame);
        let mut stack = [false; MAX_DEPTH];
        let mut sp = 0usize;
        for op in &self.ops {
            match *op {
                Op::Test(t) => {
                    if sp < MAX_DEPTH {
                        stack[sp] = f.test(t);
                    }
                    sp += 1;
                }
                Op::Not => {
                    if let Some(top) = stack.get_mut(sp.wrapping_sub(1)) {
                        *top = !*top;
                    }
                }
                Op::And | Op::Or => {
                    if !(2..=MAX_DEPTH).contains(&sp) {
                        return false; // unreachable for compiled programs
                    }
                    let (a, b) = (stack[sp - 2], stack[sp - 1]);
                    sp -= 1;
                    stack[sp - 1] = if *op == Op::And { a && b } else { a || b };
                }
            }
        }
        sp == 1 && stack[0]
    }
}

/// The deepest stack `ops` needs.
fn stack_depth(ops: &[Op]) -> usize {
    let (mut sp, mut max) = (0usize, 0usize);
    for op in ops {
        match op {
            Op::Test(_) => sp += 1,
            Op::Not => {}
            Op::And | Op::Or => sp = sp.saturating_sub(1),
        }
        max = max.max(sp);
    }
    max
}

/// The facts of a frame the tests read (decoded once per frame, on the
/// stack).
#[derive(Debug, Default, Clone, Copy)]
struct Fields {
    tags: [Option<u16>; 2],
    ethertype: u16,
    v4: Option<(u32, u32)>,
    v6: Option<(u128, u128)>,
    arp: Option<(u32, u32)>,
    /// Transport protocol (IPv4 protocol / IPv6 next header after
    /// extension headers); 255 when none.
    proto: u8,
    ports: Option<(u16, u16)>,
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

fn be128(d: &[u8], at: usize) -> Option<u128> {
    Some(u128::from_be_bytes(d.get(at..at + 16)?.try_into().ok()?))
}

impl Fields {
    fn decode(d: &[u8]) -> Fields {
        let mut f = Fields {
            proto: 255,
            ..Fields::default()
        };
        let Some(mut et) = be16(d, 12) else {
            return f;
        };
        let mut off = 14;
        for tag in &mut f.tags {
            if !is_tpid(et) {
                break;
            }
            let (Some(tci), Some(inner)) = (be16(d, off), be16(d, off + 2)) else {
                return f;
            };
            *tag = Some(tci & 0x0fff);
            et = inner;
            off += 4;
        }
        f.ethertype = et;
        let l4 = match et {
            ETHERTYPE_IPV4 => {
                let Some(&vihl) = d.get(off) else { return f };
                let ihl = usize::from(vihl & 0x0f) * 4;
                let (Some(src), Some(dst), Some(&proto), Some(frag)) = (
                    be32(d, off + 12),
                    be32(d, off + 16),
                    d.get(off + 9),
                    be16(d, off + 6),
                ) else {
                    return f;
                };
                if vihl >> 4 != 4 || ihl < 20 {
                    return f;
                }
                f.v4 = Some((src, dst));
                f.proto = proto;
                // Ports only in an unfragmented packet or a first fragment.
                (frag & 0x1fff == 0).then_some(off + ihl)
            }
            ETHERTYPE_IPV6 => {
                let (Some(src), Some(dst), Some(&first)) =
                    (be128(d, off + 8), be128(d, off + 24), d.get(off + 6))
                else {
                    return f;
                };
                f.v6 = Some((src, dst));
                let (mut next, mut at, mut first_frag) = (first, off + 40, true);
                for _ in 0..8 {
                    match next {
                        0 | 43 | 60 => {
                            let (Some(&n), Some(&len)) = (d.get(at), d.get(at + 1)) else {
                                return f;
                            };
                            next = n;
                            at += (usize::from(len) + 1) * 8;
                        }
                        44 => {
                            let (Some(&n), Some(fo)) = (d.get(at), be16(d, at + 2)) else {
                                return f;
                            };
                            next = n;
                            first_frag = fo & 0xfff8 == 0;
                            at += 8;
                        }
                        _ => break,
                    }
                }
                f.proto = next;
                first_frag.then_some(at)
            }
            ETHERTYPE_ARP => {
                // Ethernet/IPv4 ARP only: sender at 14, target at 24.
                let eth_ipv4 = be16(d, off + 2) == Some(ETHERTYPE_IPV4)
                    && d.get(off + 4..off + 6) == Some(&[6, 4][..]);
                if let (true, Some(spa), Some(tpa)) =
                    (eth_ipv4, be32(d, off + 14), be32(d, off + 24))
                {
                    f.arp = Some((spa, tpa));
                }
                None
            }
            _ => None,
        };
        if let Some(at) = l4 {
            if matches!(f.proto, 6 | 17 | 132) {
                if let (Some(s), Some(t)) = (be16(d, at), be16(d, at + 2)) {
                    f.ports = Some((s, t));
                }
            }
        }
        f
    }

    fn test(&self, t: Test) -> bool {
        fn side<T: Copy>(pair: Option<(T, T)>, s: Side, ok: impl Fn(T) -> bool) -> bool {
            pair.is_some_and(|(a, b)| match s {
                Side::Either => ok(a) || ok(b),
                Side::Src => ok(a),
                Side::Dst => ok(b),
            })
        }
        match t {
            // As tcpdump: the EtherType alone (a malformed header is
            // still `ip`; addresses need a whole one).
            Test::Ip => self.ethertype == ETHERTYPE_IPV4,
            Test::Ip6 => self.ethertype == ETHERTYPE_IPV6,
            Test::Arp => self.ethertype == ETHERTYPE_ARP,
            Test::Tcp => self.l3() && self.proto == 6,
            Test::Udp => self.l3() && self.proto == 17,
            Test::Icmp => self.v4.is_some() && self.proto == 1,
            Test::Icmp6 => self.v6.is_some() && self.proto == 58,
            Test::Vlan(None) => self.tags[0].is_some(),
            Test::Vlan(Some(vid)) => self.tags.contains(&Some(vid)),
            Test::Host4(s, a) => side(self.v4, s, |x| x == a) || side(self.arp, s, |x| x == a),
            Test::Host6(s, a) => side(self.v6, s, |x| x == a),
            Test::Net4(s, a, m) => {
                side(self.v4, s, |x| x & m == a) || side(self.arp, s, |x| x & m == a)
            }
            Test::Net6(s, a, m) => side(self.v6, s, |x| x & m == a),
            Test::Port(s, proto, p) => {
                (proto == 0 || proto == self.proto) && side(self.ports, s, |x| x == p)
            }
        }
    }

    fn l3(&self) -> bool {
        self.v4.is_some() || self.v6.is_some()
    }
}

/// A token and the 0-based character column where it starts.
#[derive(Debug, Clone)]
struct Token {
    text: String,
    column: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        if two == "&&" || two == "||" {
            i += 2;
        } else if matches!(c, '(' | ')' | '!') {
            i += 1;
        } else if matches!(c, '&' | '|') {
            return Err(FilterError {
                column: start + 1,
                token: c.to_string(),
                message: format!("`{c}` alone is not an operator: use `{c}{c}`"),
            });
        } else {
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '(' | ')' | '!' | '&' | '|')
            {
                i += 1;
            }
        }
        out.push(Token {
            text: chars[start..i].iter().collect(),
            column: start,
        });
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    ops: Vec<Op>,
    text_chars: usize,
}

/// Service names `port` takes, as in /etc/services.
const SERVICES: &[(&str, u16)] = &[
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("http", 80),
    ("ntp", 123),
    ("bgp", 179),
    ("https", 443),
    ("syslog", 514),
];

/// Parenthesis nesting the parser follows before refusing (its recursion
/// stays shallow whatever the text).
const MAX_NESTING: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(|t| t.text.as_str())
    }

    fn error_at(&self, t: &Token, message: &str) -> FilterError {
        FilterError {
            column: t.column + 1,
            token: t.text.clone(),
            message: message.into(),
        }
    }

    /// An error at the current token (or at the end of the text).
    fn error(&self, message: &str) -> FilterError {
        match self.tokens.get(self.at) {
            Some(t) => self.error_at(t, message),
            None => FilterError {
                column: self.text_chars + 1,
                token: String::new(),
                message: format!("{message}, got the end of the filter"),
            },
        }
    }

    /// expr := unary ((and|or) unary)*, left to right, equal precedence.
    fn expr(&mut self, nesting: usize) -> Result<(), FilterError> {
        self.unary(nesting)?;
        loop {
            let op = match self.peek() {
                Some("and" | "&&") => Op::And,
                Some("or" | "||") => Op::Or,
                _ => return Ok(()),
            };
            self.at += 1;
            self.unary(nesting)?;
            self.ops.push(op);
        }
    }

    fn unary(&mut self, nesting: usize) -> Result<(), FilterError> {
        match self.peek() {
            Some("not" | "!") => {
                if nesting >= MAX_NESTING {
                    return Err(self.error("nested too deeply"));
                }
                self.at += 1;
                self.unary(nesting + 1)?;
                self.ops.push(Op::Not);
                Ok(())
            }
            Some("(") => {
                if nesting >= MAX_NESTING {
                    return Err(self.error("nested too deeply"));
                }
                let open = self.tokens[self.at].clone();
                self.at += 1;
                self.expr(nesting + 1)?;
                match self.peek() {
                    Some(")") => {
                        self.at += 1;
                        Ok(())
                    }
                    Some(_) => Err(self.error("expected `)`, `and` or `or`")),
                    None => Err(self.error_at(&open, "this `(` is not closed")),
                }
            }
            _ => self.primitive(),
        }
    }

    fn primitive(&mut self) -> Result<(), FilterError> {
        const EXPECTED: &str = "expected a primitive (host, net, port, ip, ip6, arp, tcp, udp, icmp, icmp6, vlan), `not` or `(`";
        let Some(word) = self.peek().map(str::to_string) else {
            return Err(self.error(EXPECTED));
        };
        self.at += 1;
        let test = match word.as_str() {
            "ip" => Test::Ip,
            "ip6" => Test::Ip6,
            "arp" => Test::Arp,
            "icmp" => Test::Icmp,
            "icmp6" => Test::Icmp6,
            "tcp" | "udp" => {
                let proto = if word == "tcp" { 6 } else { 17 };
                match self.peek() {
                    Some("port" | "src" | "dst") => return self.qualified(proto),
                    _ if proto == 6 => Test::Tcp,
                    _ => Test::Udp,
                }
            }
            "vlan" => match self.peek().map(|s| s.parse::<u16>()) {
                Some(Ok(vid)) if vid <= 4095 => {
                    self.at += 1;
                    Test::Vlan(Some(vid))
                }
                Some(Ok(_)) => return Err(self.error("a VLAN ID is 0..=4095")),
                _ => Test::Vlan(None),
            },
            "src" | "dst" | "host" | "net" | "port" => {
                self.at -= 1;
                return self.qualified(0);
            }
            w if w.parse::<IpAddr>().is_ok() => {
                self.at -= 1;
                return self.qualified(0);
            }
            _ => {
                self.at -= 1;
                return Err(self.error(EXPECTED));
            }
        };
        self.ops.push(Op::Test(test));
        Ok(())
    }

    /// `[src|dst] (host A | net P | port N | A)`; `proto` non-zero after
    /// `tcp`/`udp` (then only `port` may follow).
    fn qualified(&mut self, proto: u8) -> Result<(), FilterError> {
        let side = match self.peek() {
            Some("src") => {
                self.at += 1;
                Side::Src
            }
            Some("dst") => {
                self.at += 1;
                Side::Dst
            }
            _ => Side::Either,
        };
        let kind = match self.peek() {
            Some(k @ ("host" | "net" | "port")) => {
                let k = k.to_string();
                self.at += 1;
                k
            }
            Some(w) if proto == 0 && w.parse::<IpAddr>().is_ok() => "host".into(),
            _ if proto != 0 => return Err(self.error("expected `port`")),
            _ => return Err(self.error("expected `host`, `net`, `port` or an address")),
        };
        if proto != 0 && kind != "port" {
            self.at -= 1;
            return Err(self.error("expected `port` (after tcp/udp)"));
        }
        let Some(value) = self.tokens.get(self.at).cloned() else {
            return Err(self.error(&format!("expected a value after `{kind}`")));
        };
        self.at += 1;
        let test =
            match kind.as_str() {
                "host" => match value.text.parse::<IpAddr>() {
                    Ok(IpAddr::V4(a)) => Test::Host4(side, u32::from(a)),
                    Ok(IpAddr::V6(a)) => Test::Host6(side, u128::from(a)),
                    Err(_) => {
                        return Err(self.error_at(
                            &value,
                            "expected an IPv4 or IPv6 address (names are not resolved)",
                        ))
                    }
                },
                "net" => {
                    let net = match value.text.parse::<IpNet>() {
                        Ok(n) => n,
                        Err(_) => match value.text.parse::<IpAddr>() {
                            Ok(a) => IpNet::from(a),
                            Err(_) => {
                                return Err(
                                    self.error_at(&value, "expected a prefix such as 10.0.0.0/8")
                                )
                            }
                        },
                    };
                    if net.trunc() != net {
                        return Err(self.error_at(
                            &value,
                            &format!("non-network bits set (the network is {})", net.trunc()),
                        ));
                    }
                    match net {
                        IpNet::V4(n) => {
                            Test::Net4(side, u32::from(n.network()), u32::from(n.netmask()))
                        }
                        IpNet::V6(n) => {
                            Test::Net6(side, u128::from(n.network()), u128::from(n.netmask()))
                        }
                    }
                }
                _ => {
                    let port = value
                        .text
                        .parse::<u16>()
                        .ok()
                        .or_else(|| SERVICES.iter().find(|s| s.0 == value.text).map(|s| s.1));
                    match port {
                        Some(p) => Test::Port(side, proto, p),
                        None => return Err(self.error_at(
                            &value,
                            "expected a port number 0..=65535 (or domain, http, https, ssh, ...)",
                        )),
                    }
                }
            };
        self.ops.push(Op::Test(test));
        Ok(())
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |s: &Side| match s {
            Side::Either => "",
            Side::Src => "src ",
            Side::Dst => "dst ",
        };
        match self {
            Test::Ip => write!(f, "ip"),
            Test::Ip6 => write!(f, "ip6"),
            Test::Arp => write!(f, "arp"),
            Test::Tcp => write!(f, "tcp"),
            Test::Udp => write!(f, "udp"),
            Test::Icmp => write!(f, "icmp"),
            Test::Icmp6 => write!(f, "icmp6"),
            Test::Vlan(None) => write!(f, "vlan"),
            Test::Vlan(Some(v)) => write!(f, "vlan {v}"),
            Test::Host4(s, a) => write!(f, "{}host {}", side(s), Ipv4Addr::from(*a)),
            Test::Host6(s, a) => write!(f, "{}host {}", side(s), Ipv6Addr::from(*a)),
            Test::Net4(s, a, m) => write!(
                f,
                "{}net {}/{}",
                side(s),
                Ipv4Addr::from(*a),
                m.count_ones()
            ),
            Test::Net6(s, a, m) => write!(
                f,
                "{}net {}/{}",
                side(s),
                Ipv6Addr::from(*a),
                m.count_ones()
            ),
            Test::Port(s, p, n) => {
                let proto = match p {
                    6 => "tcp ",
                    17 => "udp ",
                    _ => "",
                };
                write!(f, "{proto}{}port {n}", side(s))
            }
        }
    }
}

impl fmt::Display for Program {
    /// The program fully parenthesized (how it was understood).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut stack: Vec<String> = Vec::new();
        for op in &self.ops {
            match op {
                Op::Test(t) => stack.push(t.to_string()),
                Op::Not => {
                    let a = stack.pop().unwrap_or_default();
                    stack.push(format!("not {a}"));
                }
                Op::And | Op::Or => {
                    let b = stack.pop().unwrap_or_default();
                    let a = stack.pop().unwrap_or_default();
                    let w = if *op == Op::And { "and" } else { "or" };
                    stack.push(format!("({a} {w} {b})"));
                }
            }
        }
        write!(f, "{}", stack.pop().unwrap_or_default())
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;

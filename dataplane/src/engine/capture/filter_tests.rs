//! The filter on crafted frames (untagged, tagged, double-tagged; IPv4,
//! IPv6 with extension headers, ARP, fragments), its precedence against
//! tcpdump's, and its error messages.

use super::*;

/// An Ethernet header with `tags` (VIDs) and `ethertype`, then `payload`.
fn eth(tags: &[u16], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    for (i, vid) in tags.iter().enumerate() {
        let tpid: u16 = if i + 1 < tags.len() { 0x88a8 } else { 0x8100 };
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&vid.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 header (no options) with `proto`, `frag` (flags+offset field)
/// and `l4` after it.
fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, frag: u16, l4: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0, 1];
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let total = (h.len() + l4.len()) as u16;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h.extend_from_slice(l4);
    h
}

/// An IPv6 header with `next` and `rest` (extension headers and L4).
fn ipv6(src: &str, dst: &str, next: u8, rest: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&src.parse::<Ipv6Addr>().unwrap().octets());
    h.extend_from_slice(&dst.parse::<Ipv6Addr>().unwrap().octets());
    h.extend_from_slice(rest);
    h
}

/// TCP/UDP ports followed by padding.
fn ports(src: u16, dst: u16) -> Vec<u8> {
    let mut l4 = src.to_be_bytes().to_vec();
    l4.extend_from_slice(&dst.to_be_bytes());
    l4.extend_from_slice(&[0; 16]);
    l4
}

fn arp(spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
    a.extend_from_slice(&[2, 0, 0, 0, 0, 2]);
    a.extend_from_slice(&spa);
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&tpa);
    a
}

fn m(filter: &str, frame: &[u8]) -> bool {
    Program::compile(filter)
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
        .matches(frame)
}

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [192, 0, 2, 7];

#[test]
fn protocols_and_hosts_on_untagged_ipv4() {
    let tcp = eth(&[], 0x0800, &ipv4(A, B, 6, 0, &ports(40000, 443)));
    let udp = eth(&[], 0x0800, &ipv4(B, A, 17, 0, &ports(53, 5353)));
    let icmp = eth(&[], 0x0800, &ipv4(A, B, 1, 0, &[8, 0, 0, 0, 0, 1, 0, 1]));
    assert!(m("ip", &tcp) && !m("ip6", &tcp) && !m("arp", &tcp));
    assert!(m("tcp", &tcp) && !m("udp", &tcp) && !m("icmp", &tcp));
    assert!(m("udp", &udp) && m("icmp", &icmp) && !m("icmp6", &icmp));
    assert!(m("host 10.0.0.1", &tcp) && m("host 10.0.0.1", &udp));
    assert!(m("src host 10.0.0.1", &tcp) && !m("src host 10.0.0.1", &udp));
    assert!(m("dst host 10.0.0.1", &udp) && !m("dst host 10.0.0.1", &tcp));
    assert!(m("10.0.0.1", &tcp) && m("dst 192.0.2.7", &tcp));
    assert!(!m("host 10.0.0.2", &tcp));
    assert!(m("net 10.0.0.0/8", &tcp) && m("src net 10.0.0.0/8", &tcp));
    assert!(!m("dst net 10.0.0.0/8", &tcp) && m("dst net 192.0.2.0/24", &tcp));
    assert!(!m("net 10.1.0.0/16", &tcp));
    assert!(m("port 443", &tcp) && m("dst port 443", &tcp) && !m("src port 443", &tcp));
    assert!(m("tcp port 443", &tcp) && !m("udp port 443", &tcp));
    assert!(m("port https", &tcp) && m("udp src port domain", &udp));
    assert!(!m("port 443", &icmp) && !m("vlan", &tcp));
}

#[test]
fn tags_are_looked_through_and_vlan_matches_either_level() {
    let one = eth(&[100], 0x0800, &ipv4(A, B, 17, 0, &ports(1, 2)));
    let two = eth(
        &[10, 200],
        0x86dd,
        &ipv6("2001:db8::1", "2001:db8::2", 6, &ports(3, 4)),
    );
    assert!(m("vlan", &one) && m("vlan 100", &one) && !m("vlan 101", &one));
    assert!(m("vlan and ip and udp and port 2", &one));
    assert!(m("ip and host 192.0.2.7", &one));
    assert!(m("vlan 10 and vlan 200", &two) && !m("vlan 100", &two));
    assert!(m("ip6 and tcp and src port 3", &two) && !m("ip", &two));
    assert!(m("host 2001:db8::2 and dst host 2001:db8::2", &two));
    assert!(m("net 2001:db8::/32", &two) && !m("net 2001:db9::/32", &two));
    assert!(!m("src net 2001:db8::2/128", &two) && m("dst net 2001:db8::2/128", &two));
    // A VID of 0 (priority tag) is a tag too.
    assert!(m("vlan 0", &eth(&[0], 0x0806, &arp(A, B))));
}

#[test]
fn arp_ipv6_extension_headers_and_fragments() {
    let a = eth(&[], 0x0806, &arp(A, B));
    assert!(m("arp", &a) && m("host 10.0.0.1", &a) && m("dst host 192.0.2.7", &a));
    assert!(!m("ip", &a) && !m("src host 192.0.2.7", &a));
    // Hop-by-hop (8 bytes) then ICMPv6 echo.
    let mut hbh = vec![58, 0, 0, 0, 0, 0, 0, 0];
    hbh.extend_from_slice(&[128, 0, 0, 0, 0, 1, 0, 1]);
    let v6 = eth(&[], 0x86dd, &ipv6("fe80::1", "ff02::1", 0, &hbh));
    assert!(m("icmp6", &v6) && !m("icmp", &v6) && !m("udp", &v6));
    // A first fragment has ports, a later one does not.
    let first = eth(&[], 0x0800, &ipv4(A, B, 17, 0x2000, &ports(7, 9)));
    let later = eth(&[], 0x0800, &ipv4(A, B, 17, 0x0010, &ports(7, 9)));
    assert!(m("udp and port 9", &first));
    assert!(m("udp", &later) && !m("port 9", &later));
    // Truncated frames fail what they cannot answer, without panicking.
    for cut in [0, 5, 13, 14, 20, 33, 34, 37] {
        let f = &first[..cut.min(first.len())];
        assert!(!m("port 9", f), "cut {cut}");
        assert!(m("not port 9", f), "cut {cut}");
    }
}

#[test]
fn precedence_is_tcpdumps_not_binds_tightest_and_or_left_to_right() {
    let udp = eth(&[], 0x0800, &ipv4(A, B, 17, 0, &ports(1, 2)));
    // tcpdump: `tcp or udp and port 9` is `(tcp or udp) and port 9`.
    assert!(!m("tcp or udp and port 9", &udp));
    assert!(m("tcp or (udp and port 2)", &udp));
    assert!(m("not tcp and udp", &udp) && !m("not (tcp or udp)", &udp));
    assert!(m("! tcp && udp", &udp) && m("!tcp||tcp", &udp));
    assert!(m("not not udp", &udp));
    let p = Program::compile("tcp or udp and not port 9").unwrap();
    assert_eq!(p.to_string(), "((tcp or udp) and not port 9)");
    // Empty filter: everything.
    assert!(m("", &udp) && m("   ", &[]));
}

#[test]
fn bad_filters_name_the_column_and_what_was_expected() {
    let e = |f: &str| Program::compile(f).unwrap_err();
    let x = e("host foo");
    assert_eq!((x.column, x.token.as_str()), (6, "foo"));
    assert!(x.to_string().contains("names are not resolved"), "{x}");
    let x = e("tcp and");
    assert_eq!(x.column, 8);
    assert!(x.to_string().contains("got the end of the filter"), "{x}");
    let x = e("udp port 70000");
    assert_eq!((x.column, x.token.as_str()), (10, "70000"));
    let x = e("(tcp or udp");
    assert_eq!(x.column, 1);
    assert!(x.to_string().contains("not closed"), "{x}");
    let x = e("tcp udp");
    assert_eq!((x.column, x.token.as_str()), (5, "udp"));
    assert!(x.message.contains("expected `and`, `or`"), "{x}");
    let x = e("net 10.0.0.1/8");
    assert!(x
        .to_string()
        .contains("non-network bits set (the network is 10.0.0.0/8)"));
    assert_eq!(e("tcp & udp").column, 5);
    assert_eq!(e("vlan 5000").column, 6);
    assert_eq!(e("ether host 1").token, "ether");
    assert_eq!(e("tcp host 1.2.3.4").token, "host");
    assert_eq!(e(")").column, 1);
    // Deep nesting is refused, not overflowed.
    let deep = "(".repeat(10_000) + "ip" + &")".repeat(10_000);
    assert!(e(&deep).to_string().contains("longer than"));
    let deep = "(".repeat(100) + "ip" + &")".repeat(100);
    assert!(e(&deep).to_string().contains("nested too deeply"));
    let many = vec!["ip"; 200].join(" or ");
    assert!(e(&many).to_string().contains("too complex"));
    // Non-ASCII: columns count characters.
    assert_eq!(e("ip and ü").column, 8);
}

#[test]
fn compiled_programs_are_postfix_and_shallow() {
    let p = Program::compile("src host 10.0.0.1 and (port 53 or vlan 7)").unwrap();
    assert_eq!(
        p.ops(),
        &[
            Op::Test(Test::Host4(Side::Src, 0x0a00_0001)),
            Op::Test(Test::Port(Side::Either, 0, 53)),
            Op::Test(Test::Vlan(Some(7))),
            Op::Or,
            Op::And,
        ]
    );
    // Left-associative chains need a stack of two, however long.
    let chain = vec!["ip"; 100].join(" or ");
    assert_eq!(stack_depth(Program::compile(&chain).unwrap().ops()), 2);
}

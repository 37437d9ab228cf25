//! The capture filter (`engine::capture::filter`) selects the same frames
//! as tshark's display filters on every committed pcap-tests input
//! capture (tagged and untagged, IPv4, IPv6, ARP, malformed frames): the
//! frames are merged into one file, and for each pair (our filter, the
//! display filter that means the same) the frame numbers must be equal.
//!
//! tshark is run with IP reassembly off (a capture filter sees one frame
//! at a time). Display filters match headers quoted inside ICMP errors
//! too (`ip.addr`, `udp.port`), which a capture filter does not: pairs on
//! addresses and ports leave ICMP out on both sides.
//!
//! Needs tshark: skipped with a message when it is missing, a failure when
//! `CI=true`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dataplane::engine::capture::Program;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::DataLink;

/// (our filter, tshark's display filter). tcpdump's `icmp`, `tcp` and
/// `udp` are the IP protocol number, so a later fragment or a truncated
/// header still counts (`ip.proto == N`, `ipv6.fraghdr.nxt == N` on
/// tshark's side); `vlan` is an 802.1Q or 802.1ad tag (`ieee8021ad` to
/// tshark); and/or associate left to right.
const PAIRS: &[(&str, &str)] = &[
    ("ip", "ip"),
    ("ip6", "ipv6"),
    ("arp", "arp"),
    ("vlan", "vlan || ieee8021ad"),
    (
        "vlan 100",
        "vlan.id == 100 || ieee8021ad.id == 100 || ieee8021ad.svid == 100 || ieee8021ad.cvid == 100",
    ),
    (
        "vlan 300 or vlan 200",
        "vlan.id in {200,300} || ieee8021ad.id in {200,300} || ieee8021ad.svid in {200,300} || ieee8021ad.cvid in {200,300}",
    ),
    ("icmp", "icmp || ip.proto == 1"),
    ("icmp6", "icmpv6"),
    ("not ip and not ip6", "!ip && !ipv6"),
    ("tcp and not icmp and not icmp6", "(tcp || ip.proto == 6 || ipv6.fraghdr.nxt == 6) && !(icmp || ip.proto == 1) && !icmpv6"),
    ("udp and not icmp and not icmp6", "(udp || ip.proto == 17 || ipv6.fraghdr.nxt == 17) && !(icmp || ip.proto == 1) && !icmpv6"),
    (
        "host 10.1.0.10 and not icmp",
        "(ip.addr == 10.1.0.10 || arp.src.proto_ipv4 == 10.1.0.10 || arp.dst.proto_ipv4 == 10.1.0.10) && !(icmp || ip.proto == 1)",
    ),
    ("src host 198.51.100.1 and not icmp", "ip.src == 198.51.100.1 && !(icmp || ip.proto == 1)"),
    ("dst 10.2.0.20 and not icmp", "ip.dst == 10.2.0.20 && !(icmp || ip.proto == 1)"),
    (
        "host 2001:db8:1::10 and not icmp6",
        "ipv6.addr == 2001:db8:1::10 && !icmpv6",
    ),
    (
        "net 10.0.0.0/8 and not icmp",
        "(ip.addr == 10.0.0.0/8 || arp.src.proto_ipv4 == 10.0.0.0/8 || arp.dst.proto_ipv4 == 10.0.0.0/8) && !(icmp || ip.proto == 1)",
    ),
    (
        "dst net 2001:db8::/32 and not icmp6",
        "ipv6.dst == 2001:db8::/32 && !icmpv6",
    ),
    (
        "port 53 and not icmp and not icmp6",
        "(tcp.port == 53 || udp.port == 53) && !icmp && !icmpv6",
    ),
    (
        "udp dst port 5000 and not icmp and not icmp6",
        "udp.dstport == 5000 && !icmp && !icmpv6",
    ),
    (
        "tcp src port 443 and not icmp and not icmp6",
        "tcp.srcport == 443 && !icmp && !icmpv6",
    ),
    (
        "vlan and (ip6 or arp) || !vlan && icmp",
        "(((vlan || ieee8021ad) && (ipv6 || arp)) || !(vlan || ieee8021ad)) && (icmp || ip.proto == 1)",
    ),
];

/// Cases of deliberately malformed frames, where a capture filter reading
/// fixed offsets and a dissector guessing differ by design.
const SKIPPED_CASES: &[&str] = &["10-malformed", "28-arp-invalid"];

fn tshark_missing() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tshark is missing on CI: scripts/setup.sh installs it (apt-get install -y tshark)"
        );
        println!("skipping: tshark is not installed (apt-get install -y tshark)");
    }
    !ok
}

/// Every Ethernet frame of the committed input captures, with its origin.
fn frames() -> Vec<(String, Vec<u8>)> {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pcap-tests/cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|d| !SKIPPED_CASES.iter().any(|s| d.ends_with(s)))
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("in-") && n.ends_with(".pcap")
        })
        .collect();
    files.sort();
    assert!(files.len() > 20, "pcap-tests inputs: {}", files.len());
    let mut out = Vec::new();
    for f in files {
        let mut r = PcapReader::new(std::fs::File::open(&f).unwrap()).unwrap();
        if r.header().datalink != DataLink::ETHERNET {
            continue;
        }
        let mut i = 0;
        while let Some(p) = r.next_packet() {
            i += 1;
            let Ok(p) = p else { break };
            out.push((format!("{} #{i}", f.display()), p.data.into_owned()));
        }
    }
    out
}

#[test]
fn the_filter_selects_what_tshark_selects_on_every_pcap_test_input() {
    if tshark_missing() {
        return;
    }
    let frames = frames();
    let dir = std::env::temp_dir().join(format!("cnfwd-capture-filter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let merged = dir.join("all.pcap");
    {
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            snaplen: 262_144,
            ..PcapHeader::default()
        };
        let mut w =
            PcapWriter::with_header(std::fs::File::create(&merged).unwrap(), header).unwrap();
        for (_, f) in &frames {
            w.write_packet(&PcapPacket {
                timestamp: Duration::ZERO,
                orig_len: f.len() as u32,
                data: Cow::Borrowed(f),
            })
            .unwrap();
        }
    }
    let mut failures = Vec::new();
    for (ours, theirs) in PAIRS {
        let p = Program::compile(ours).unwrap_or_else(|e| panic!("{ours}: {e}"));
        let mine: Vec<usize> = frames
            .iter()
            .enumerate()
            .filter(|(_, (_, f))| p.matches(f))
            .map(|(i, _)| i + 1)
            .collect();
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&merged)
            .args(["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"])
            .args(["-Y", theirs, "-T", "fields", "-e", "frame.number"])
            .output()
            .unwrap();
        assert!(out.status.success(), "tshark -Y {theirs:?}: {out:?}");
        let tshark: Vec<usize> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        assert!(
            !tshark.is_empty() && tshark.len() < frames.len(),
            "{theirs:?} selects {} of {} frames: not a useful comparison",
            tshark.len(),
            frames.len()
        );
        if mine != tshark {
            let only_mine: Vec<_> = mine
                .iter()
                .filter(|n| !tshark.contains(n))
                .take(3)
                .collect();
            let only_theirs: Vec<_> = tshark
                .iter()
                .filter(|n| !mine.contains(n))
                .take(3)
                .collect();
            let name = |n: &&usize| frames[**n - 1].0.clone();
            failures.push(format!(
                "{ours:?} selects {} frames, tshark's {theirs:?} {}; only ours: {:?}; only tshark's: {:?}",
                mine.len(),
                tshark.len(),
                only_mine.iter().map(name).collect::<Vec<_>>(),
                only_theirs.iter().map(name).collect::<Vec<_>>(),
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

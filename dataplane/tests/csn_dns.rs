//! The CSN DNS parser over the real captures of `testdata/pcaps`.
//!
//! Every capture is read with the repo's pcap reader, headers are parsed
//! with `dataplane::packet::parse`, and every UDP or TCP payload from port 53
//! (TCP: one byte stream per direction, cut into messages by the 2-byte
//! length prefix) goes through `csn::dns::parse_response`. Nothing may panic.
//! What the parser returns must equal `data/csn_dns_answers.txt`, which
//! scapy wrote (`data/csn_dns_answers.py`), and an allowlist naming some of
//! those names must learn exactly their addresses.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use cnfwd_config::egress::{parse_endpoint, EgressRule};
use dataplane::csn::dns::{self, DnsResponse};
use dataplane::csn::{Allowlist, CsnCounter, CsnCounters, CsnSettings, LearnedTable};
use dataplane::io::pcap::file::CaptureReader;
use dataplane::packet::ethernet::EthView;
use dataplane::packet::meta::Meta;
use dataplane::packet::parse::{parse_ipv4, parse_ipv6};

fn pcaps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/pcaps")
}

/// One parsed response: (file, frame index) -> response.
type Parsed = BTreeMap<(String, u64), Vec<DnsResponse>>;

/// The L4 header and payload bounds of an IP packet whose L4 protocol `meta`
/// found: (l4 offset in `l3`, end of the IP packet).
fn l4_bounds(l3: &[u8], meta: &Meta, v6: bool) -> Option<(usize, usize)> {
    let end = usize::from(meta.ip_len).min(l3.len());
    if !v6 {
        return Some((usize::from(l3[0] & 0x0f) * 4, end));
    }
    // IPv6: walk the same extension headers as the parser.
    let mut next = l3[6];
    let mut off = 40;
    for _ in 0..8 {
        if next == meta.proto {
            return Some((off, end));
        }
        let len = match next {
            0 | 43 | 60 => (usize::from(*l3.get(off + 1)?) + 1) * 8,
            44 => 8,
            51 => (usize::from(*l3.get(off + 1)?) + 2) * 4,
            _ => return None,
        };
        next = *l3.get(off)?;
        off += len;
    }
    None
}

/// Reads one capture; returns the parsed responses and counts parse errors
/// into `errors`.
fn read_capture(path: &Path, errors: &mut CsnCounters) -> Parsed {
    read_capture_ports(path, errors, false, &mut 0)
}

/// [`read_capture`]; `any_port`: every UDP/TCP payload, not just from port
/// 53. `seen` counts the messages handed to the parser.
fn read_capture_ports(
    path: &Path,
    errors: &mut CsnCounters,
    any_port: bool,
    seen: &mut u64,
) -> Parsed {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut out = Parsed::new();
    let Ok(mut reader) = CaptureReader::open(path) else {
        return out;
    };
    let mut streams: HashMap<(u128, u128, u16, u16), Vec<u8>> = HashMap::new();
    let mut index = 0u64;
    loop {
        let frame = match reader.next_frame([2, 0, 0, 0, 0, 1]) {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.is_record_error() => {
                index += 1;
                continue;
            }
            Err(_) => break,
        };
        let i = index;
        index += 1;
        let data = frame.data;
        let Some(eth) = EthView::parse(data) else {
            continue;
        };
        let l3 = &data[usize::from(eth.payload_offset)..];
        let mut meta = Meta::default();
        let v6 = match eth.ethertype {
            0x0800 => false,
            0x86dd => true,
            _ => continue,
        };
        let ok = if v6 {
            parse_ipv6(l3, &mut meta)
        } else {
            parse_ipv4(l3, &mut meta)
        };
        if ok.is_err()
            || !(meta.proto == 17 || meta.proto == 6)
            || (!any_port && meta.src_port != 53)
        {
            continue;
        }
        let Some((l4, end)) = l4_bounds(l3, &meta, v6) else {
            continue;
        };
        let Some(seg) = l3.get(l4..end) else {
            continue;
        };
        let msgs: Vec<Vec<u8>> = if meta.proto == 17 {
            match seg.get(8..) {
                Some(p) => vec![p.to_vec()],
                None => continue,
            }
        } else {
            let doff = seg.get(12).map_or(0, |b| usize::from(b >> 4) * 4);
            let Some(payload) = seg.get(doff..).filter(|p| doff >= 20 && !p.is_empty()) else {
                continue;
            };
            let (src, dst) = if v6 {
                let a = |r: std::ops::Range<usize>| u128::from_be_bytes(l3[r].try_into().unwrap());
                (a(8..24), a(24..40))
            } else {
                let a = |r: std::ops::Range<usize>| {
                    u128::from(u32::from_be_bytes(l3[r].try_into().unwrap()))
                };
                (a(12..16), a(16..20))
            };
            let buf = streams
                .entry((src, dst, meta.src_port, meta.dst_port))
                .or_default();
            buf.extend_from_slice(payload);
            let (msgs, rest) = dns::split_tcp_messages(buf);
            let msgs: Vec<Vec<u8>> = msgs.iter().map(|m| m.to_vec()).collect();
            let rest = rest.to_vec();
            *buf = rest;
            msgs
        };
        for m in msgs {
            *seen += 1;
            match dns::parse_response(&m) {
                Ok(r) => out.entry((name.clone(), i)).or_default().push(r),
                Err(e) => errors.add(CsnCounter::from_dns_error(&e), 1),
            }
        }
    }
    out
}

/// One response as the fixture lists it: question, rcode, (address, TTL)s.
type Answer = (String, u8, Vec<(IpAddr, u32)>);

/// `data/csn_dns_answers.txt`: (file, index) -> responses.
fn expected() -> BTreeMap<(String, u64), Vec<Answer>> {
    let text = include_str!("data/csn_dns_answers.txt");
    let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 5, "{line}");
        let addrs = f[4]
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| {
                let (a, t) = s.split_once('/').unwrap();
                (a.parse().unwrap(), t.parse().unwrap())
            })
            .collect();
        out.entry((f[0].to_string(), f[1].parse().unwrap()))
            .or_default()
            .push((f[2].to_string(), f[3].parse().unwrap(), addrs));
    }
    out
}

fn capture_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(pcaps())
        .expect("testdata/pcaps")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "expected the shared captures, found {files:?}"
    );
    files
}

fn all_captures() -> (Parsed, CsnCounters) {
    let mut errors = CsnCounters::default();
    let mut all = Parsed::new();
    for f in &capture_files() {
        all.extend(read_capture(f, &mut errors));
    }
    (all, errors)
}

#[test]
fn captures_parse_to_what_scapy_reads() {
    let (all, errors) = all_captures();
    let want = expected();
    let got: BTreeMap<_, Vec<_>> = all
        .iter()
        .map(|(k, rs)| {
            let v = rs
                .iter()
                .map(|r| {
                    let addrs = r.addresses.iter().map(|a| (a.addr, a.ttl)).collect();
                    (r.question.clone(), r.rcode, addrs)
                })
                .collect();
            (k.clone(), v)
        })
        .collect();
    for (k, v) in &want {
        assert_eq!(got.get(k), Some(v), "{k:?}");
    }
    for k in got.keys() {
        assert!(
            want.contains_key(k),
            "parsed a response scapy does not list: {k:?}"
        );
    }
    // The three DNS captures are all well-formed responses.
    for f in ["DnsPackets.pcap", "dns-two-responses.pcap", "dns_tcp.pcap"] {
        assert!(got.keys().any(|(g, _)| g == f), "{f}");
    }
    assert_eq!(
        got.keys().filter(|(f, _)| f == "DnsPackets.pcap").count(),
        212
    );
    // Spot checks against tshark's reading of the small captures.
    let cmu = &all[&("dns-two-responses.pcap".to_string(), 1)][0];
    assert_eq!(
        cmu.chain,
        [
            "www.cmu.edu",
            "www-cmu.andrew.cmu.edu",
            "www-cmu-2.andrew.cmu.edu"
        ]
    );
    let tcp = &all[&("dns_tcp.pcap".to_string(), 5)][0];
    assert_eq!(tcp.question, "www.tcpdump.org");
    assert_eq!(
        tcp.addresses.len(),
        2,
        "additional-section addresses are not answers"
    );
    // Port-53 payloads that are not well-formed responses were counted, not
    // parsed: print the tally for the record.
    for (n, v) in errors.iter().filter(|(_, v)| *v > 0) {
        println!("{n}: {v}");
    }
}

/// Independent matcher for the test's allowlist forms.
fn allowed(name: &str) -> bool {
    name == "www.cmu.edu"
        || name == "tcpdump.org"
        || name.ends_with(".tcpdump.org")
        || name == "www.google.com"
        || name.ends_with(".google-analytics.com")
}

#[test]
fn allowlisted_names_learn_exactly_their_addresses() {
    let list = [
        ("www.cmu.edu", Some(443)),
        (".tcpdump.org", None),
        ("www.google.com", Some(443)),
        ("*.google-analytics.com", Some(443)),
        // Apex only: must not match www.cplusplus.com.
        ("cplusplus.com", None),
    ];
    let rules: Vec<EgressRule> = list
        .iter()
        .map(|&(d, p)| {
            let (target, port) = parse_endpoint(d, p).unwrap();
            EgressRule {
                category: "test".into(),
                target,
                port,
            }
        })
        .collect();
    let allowlist = Allowlist::new(&rules).unwrap();
    let settings = CsnSettings {
        learned_per_name_cap: 1000,
        ..CsnSettings::default()
    };
    let mut learned = LearnedTable::new(&settings);
    let (all, _) = all_captures();
    let mut counters = CsnCounters::default();
    for rs in all.values() {
        for r in rs {
            learned.learn(&allowlist, r, 0).count_into(&mut counters);
        }
    }
    // Expected from the scapy list and the independent matcher.
    let mut want: BTreeMap<String, BTreeSet<IpAddr>> = BTreeMap::new();
    let mut other: BTreeSet<IpAddr> = BTreeSet::new();
    for rs in expected().values() {
        for (q, rcode, addrs) in rs {
            if allowed(q) && *rcode == 0 {
                want.entry(q.clone())
                    .or_default()
                    .extend(addrs.iter().map(|a| a.0));
            } else {
                other.extend(addrs.iter().map(|a| a.0));
            }
        }
    }
    assert!(want.len() >= 4, "{want:?}");
    for (name, addrs) in &want {
        let got: BTreeSet<IpAddr> = learned.addresses_of(name, 0).into_iter().collect();
        assert_eq!(&got, addrs, "{name}");
    }
    let total: BTreeSet<IpAddr> = want.values().flatten().copied().collect();
    assert_eq!(learned.addresses(), total.len());
    for a in &total {
        assert!(learned.check(&allowlist, *a, 6, 443, 0).is_some(), "{a}");
    }
    // www.cmu.edu allows 443 only; .tcpdump.org any port.
    let cmu: IpAddr = "128.2.10.163".parse().unwrap();
    assert!(learned.check(&allowlist, cmu, 6, 80, 0).is_none());
    let tcpdump: IpAddr = "192.139.46.66".parse().unwrap();
    assert!(learned.check(&allowlist, tcpdump, 6, 80, 0).is_some());
    // Additional-section addresses (the name servers) are not learned.
    let ns: IpAddr = "128.2.1.8".parse().unwrap();
    assert!(learned.check(&allowlist, ns, 6, 443, 0).is_none());
    // Answers to names not on the list are not learned.
    for a in other.difference(&total) {
        assert!(learned.check(&allowlist, *a, 6, 443, 0).is_none(), "{a}");
    }
    let www_cplusplus: IpAddr = "184.172.109.16".parse().unwrap();
    assert!(other.contains(&www_cplusplus));
    assert!(counters.get(CsnCounter::DnsNotAllowlisted) > 0);
    assert_eq!(
        counters.get(CsnCounter::LearnedInstalled),
        total.len() as u64
    );
}

#[test]
fn every_udp_and_tcp_payload_survives_the_parser() {
    // mDNS, LLMNR, NFS, VXLAN, HTTP, the fuzz samples...: none may panic.
    let mut errors = CsnCounters::default();
    let mut seen = 0;
    let mut ok = 0;
    for f in capture_files() {
        ok += read_capture_ports(&f, &mut errors, true, &mut seen)
            .values()
            .map(Vec::len)
            .sum::<usize>();
    }
    let rejected: u64 = errors.iter().map(|(_, v)| v).sum();
    println!("{seen} payloads: {ok} parsed as responses, {rejected} rejected");
    for (n, v) in errors.iter().filter(|(_, v)| *v > 0) {
        println!("  {n}: {v}");
    }
    assert_eq!(seen, ok as u64 + rejected);
    assert!(seen > 500 && rejected > 100, "{seen} {rejected}");
}

#[test]
fn icmp_errors_in_captures_give_flow_keys() {
    use dataplane::csn::flow::key_from_icmp_error;
    let mut keys = Vec::new();
    for f in capture_files() {
        let Ok(mut reader) = CaptureReader::open(&f) else {
            continue;
        };
        loop {
            let frame = match reader.next_frame([2, 0, 0, 0, 0, 1]) {
                Ok(Some(fr)) => fr,
                Ok(None) => break,
                Err(e) if e.is_record_error() => continue,
                Err(_) => break,
            };
            let Some(eth) = EthView::parse(frame.data) else {
                continue;
            };
            let l3 = &frame.data[usize::from(eth.payload_offset)..];
            let mut meta = Meta::default();
            let v6 = eth.ethertype == 0x86dd;
            let ok = match eth.ethertype {
                0x0800 => parse_ipv4(l3, &mut meta),
                0x86dd => parse_ipv6(l3, &mut meta),
                _ => continue,
            };
            let Some((l4, end)) = ok.ok().and_then(|_| l4_bounds(l3, &meta, v6)) else {
                continue;
            };
            let Some(icmp) = l3.get(l4..end) else {
                continue;
            };
            // ICMP dest unreachable (3), time exceeded (11); ICMPv6 1..=3.
            let error = matches!(
                (meta.proto, icmp.first()),
                (1, Some(3 | 11)) | (58, Some(1..=3))
            );
            if error {
                if let Some(quoted) = icmp.get(8..) {
                    keys.push((f.clone(), key_from_icmp_error(0, v6, quoted)));
                }
            }
        }
    }
    let good: Vec<_> = keys.iter().filter(|(_, k)| k.is_ok()).collect();
    println!("{} ICMP errors, {} quoted keys", keys.len(), good.len());
    assert!(good.len() >= 3, "{keys:?}");
    assert!(good.iter().any(|(_, k)| k.as_ref().unwrap().proto == 17));
    assert!(good.iter().any(|(_, k)| k.as_ref().unwrap().v6));
}

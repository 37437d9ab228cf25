//! Every real capture in `testdata/pcaps/` goes through the pipeline on
//! three configurations (bridged, routed on an access port, routed on a trunk
//! carrying every VLAN the capture has) with no panic, and every packet is
//! either forwarded or counted under a drop reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dataplane::io::pcap::file::CaptureReader;
use dataplane::replay::{replay, ReplayReport};
use pcap_tests::scratch_dir;

fn shared_pcaps() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/pcaps");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    v
}

/// Outer VLAN ids seen and the most frequent unicast destination MAC.
fn survey(path: &Path) -> (BTreeSet<u16>, [u8; 6]) {
    let mut vids = BTreeSet::new();
    let mut dsts: BTreeMap<[u8; 6], u32> = BTreeMap::new();
    let Ok(mut r) = CaptureReader::open(path) else {
        return (vids, [2, 0, 0, 0, 0, 1]);
    };
    loop {
        match r.next_frame([2, 0, 0, 0, 0, 1]) {
            Ok(Some(f)) => {
                let d = f.data;
                if d.len() >= 18 && matches!((d[12], d[13]), (0x81, 0x00) | (0x88, 0xa8)) {
                    let vid = u16::from_be_bytes([d[14], d[15]]) & 0xfff;
                    if vid != 0 {
                        vids.insert(vid);
                    }
                }
                if d.len() >= 6 && d[0] & 1 == 0 {
                    let mut m = [0u8; 6];
                    m.copy_from_slice(&d[..6]);
                    *dsts.entry(m).or_default() += 1;
                }
            }
            Ok(None) => break,
            Err(e) if e.is_record_error() => continue,
            Err(_) => break,
        }
    }
    let top = dsts
        .iter()
        .max_by_key(|(m, n)| (**n, std::cmp::Reverse(**m)))
        .map(|(m, _)| *m)
        .unwrap_or([2, 0, 0, 0, 0, 1]);
    (vids, top)
}

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

const ROUTED_TAIL: &str = r#"
[[l3_isolation_domains]]
name = "v"
[[l3_isolation_domains.static_routes]]
prefix = "0.0.0.0/0"
next_hop = "192.0.2.254"
[[l3_isolation_domains.static_routes]]
prefix = "::/0"
next_hop = "2001:db8:ffff::fe"

[[l3_networks]]
name = "uplink"
vlan = 4000
l3_isolation_domain = "v"
ipv4_connected_prefix = "192.0.2.0/24"
ipv6_connected_prefix = "2001:db8:ffff::/64"
mtu = 9200
neighbors = [{ ip = "192.0.2.254", mac = "02:ee:00:00:00:fe" }, { ip = "2001:db8:ffff::fe", mac = "02:ee:00:00:00:fe" }]

[[ports]]
name = "out"
backend = "pcap"
mac = "02:00:00:00:00:02"
mode = "access"
networks = ["uplink"]
tx_pcap = "out.pcap"
"#;

fn configs(capture: &Path, vids: &BTreeSet<u16>, dst: [u8; 6]) -> Vec<(&'static str, String)> {
    let rx = capture.display();
    let mut v = vec![
        (
            "bridged",
            format!(
                r#"
[[l2_networks]]
name = "lan"
vlan = 10
mtu = 9200
[[ports]]
name = "in"
backend = "pcap"
mac = "02:00:00:00:00:01"
mode = "access"
networks = ["lan"]
rx_pcap = "{rx}"
[[ports]]
name = "out"
backend = "pcap"
mac = "02:00:00:00:00:02"
mode = "access"
networks = ["lan"]
tx_pcap = "out.pcap"
"#
            ),
        ),
        (
            "routed-access",
            format!(
                r#"
[[l3_networks]]
name = "lan"
vlan = 10
l3_isolation_domain = "v"
ipv4_connected_prefix = "10.0.0.0/8"
ipv6_connected_prefix = "fd00::/16"
mtu = 9200
[[ports]]
name = "in"
backend = "pcap"
mac = "{}"
mode = "access"
networks = ["lan"]
rx_pcap = "{rx}"
{ROUTED_TAIL}"#,
                mac(dst)
            ),
        ),
    ];
    if !vids.is_empty() {
        let mut s = String::new();
        for (k, vid) in vids.iter().enumerate() {
            s += &format!(
                "[[l3_networks]]\nname = \"vlan{vid}\"\nvlan = {vid}\nl3_isolation_domain = \"v\"\nipv4_connected_prefix = \"10.{}.{}.0/24\"\nipv6_connected_prefix = \"fd00:{k:x}::/64\"\nmtu = 9200\n",
                k / 256,
                k % 256
            );
        }
        let list: Vec<String> = vids.iter().map(|v| v.to_string()).collect();
        s += &format!(
            "[[trunked_networks]]\nname = \"t\"\nvlans = [{}]\n[[ports]]\nname = \"in\"\nbackend = \"pcap\"\nmac = \"{}\"\nmode = \"trunk\"\ntrunked_network = \"t\"\nrx_pcap = \"{rx}\"\n{ROUTED_TAIL}",
            list.join(", "),
            mac(dst)
        );
        v.push(("routed-trunk", s));
    }
    v
}

fn check(report: &ReplayReport, what: &str) {
    let s = &report.stats;
    let (rx, tx, dropped) = s.totals();
    assert!(rx > 0, "{what}: nothing received");
    assert_eq!(
        rx + s.added(),
        tx + dropped,
        "{what}: rx {rx} + added {} (flood copies, generated, extra fragments) != tx {tx} + dropped {dropped}: {:#}",
        s.added(),
        s.to_json(&report.tables)
    );
}

#[test]
fn every_shared_capture_is_forwarded_or_counted() {
    let captures = shared_pcaps();
    assert!(
        captures.len() >= 20,
        "found only {} captures",
        captures.len()
    );
    for capture in &captures {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        let (vids, dst) = survey(capture);
        for (kind, text) in configs(capture, &vids, dst) {
            let dir = scratch_dir(&format!("shared-{name}-{kind}"));
            let cfg = dir.join("config.toml");
            std::fs::write(&cfg, text).unwrap();
            let report = replay(&cfg).unwrap_or_else(|e| panic!("{name} ({kind}): {e}"));
            let what = format!("{name} ({kind})");
            check(&report, &what);
            let fuzzed = name.starts_with("fuzz-");
            assert_eq!(
                !report.input_errors.is_empty(),
                fuzzed,
                "{what}: input errors {:?}",
                report.input_errors
            );
            let (rx, tx, dropped) = report.stats.totals();
            println!("{what:<55} rx {rx:>4} tx {tx:>4} dropped {dropped:>4} vlans {vids:?}");
        }
    }
}

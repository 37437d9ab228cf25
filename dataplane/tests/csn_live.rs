//! CSN enforcement on a live run, driven through the management socket:
//! an endpoint added with `/allowlist/add` admits new flows at once, one
//! removed with `/allowlist/del` refuses new flows while the flows it
//! admitted keep working, and `/csn/*` show the flows and rule hits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod common;

use common::{checksum, connect_when_up, StopOnDrop};
use dataplane::engine::cores::CoreChoice;
use dataplane::io::memory::ChannelBackend;
use dataplane::live::{self, LiveOptions};
use serde_json::json;

const PORT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x01];
const HOST_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0x01, 0x10];
const CSN_GW_MAC: [u8; 6] = [0x02, 0xcc, 0, 0, 0x09, 0xfe];

// Announcements off: the test reads every frame the CSN port sends.
const CONFIG: &str = r#"
[slow_path]
announce = false
[control]
enabled = false

[[l3_isolation_domains]]
name = "vrf1"
static_routes = [{ prefix = "0.0.0.0/0", next_hop = "10.9.0.254" }]

[[l3_networks]]
name = "app"
vlan = 100
l3_isolation_domain = "vrf1"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"

[[l3_networks]]
name = "csn"
vlan = 900
l3_isolation_domain = "vrf1"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.9.0.0/24"
neighbors = [{ ip = "10.9.0.254", mac = "02:cc:00:00:09:fe" }]

[[ports]]
name = "app"
backend = "pcap"
mac = "02:00:00:00:01:01"
mode = "access"
networks = ["app"]

[[ports]]
name = "csn"
backend = "pcap"
mac = "02:00:00:00:09:01"
mode = "access"
networks = ["csn"]

[cloud_services_network]
network = "csn"
enable_default_egress_endpoints = false
additional_egress_endpoints = [
  { category = "base", endpoints = [{ domain_name = "192.0.2.10", port = 443 }] },
]

[cloud_services_network.settings]
flow_capacity = 1024
"#;

/// UDP from the workload 10.1.0.10:`sport` to `dst`:443.
fn udp(sport: u16, dst: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&PORT_MAC);
    f.extend_from_slice(&HOST_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(20u16 + 8 + 4).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 1, 0, 10]);
    ip[16..20].copy_from_slice(&dst);
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&443u16.to_be_bytes());
    f.extend_from_slice(&12u16.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(b"ping");
    f
}

#[test]
fn allowlist_changes_take_effect_live_and_csn_state_is_visible() {
    let dir = std::env::temp_dir().join(format!("cnfwd-csn-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("cnfwd.sock");
    let cfg = cnfwd_config::parse(CONFIG, "<test>").unwrap();
    let resolved = cnfwd_config::resolve(&cfg).unwrap();
    let (backend, ends) = ChannelBackend::new(2, 64);
    let [app, csn]: [_; 2] = ends.try_into().unwrap();
    let stop = AtomicBool::new(false);
    let report = std::thread::scope(|s| {
        let opts = LiveOptions {
            config: Some(cfg.clone()),
            socket: Some(socket.clone()),
            ..LiveOptions::default()
        };
        let choice = CoreChoice {
            cores: vec![],
            node: None,
            reason: "test".into(),
        };
        let (resolved, stop_ref) = (&resolved, &stop);
        let run = s.spawn(move || {
            live::drive(
                vec![backend],
                vec![],
                resolved,
                choice,
                &opts,
                stop_ref,
                |_| {},
            )
        });
        let _stop = StopOnDrop(&stop);
        let mut c = connect_when_up(&socket, Duration::from_secs(10));
        let mut call = |cmd: &str, params: Option<serde_json::Value>| {
            c.call(cmd, params.as_ref())
                .expect("socket")
                .unwrap_or_else(|e| panic!("{cmd}: {e}"))
        };
        // Sends one frame; returns what left on the CSN port (if anything).
        let send = |sport: u16, dst: [u8; 4]| -> Option<Vec<u8>> {
            app.to_port.send(udp(sport, dst)).unwrap();
            csn.from_port.recv_timeout(Duration::from_millis(300)).ok()
        };

        // Not allowed yet: denied.
        assert!(
            send(1000, [198, 51, 100, 7]).is_none(),
            "denied before the rule"
        );
        let r = call(
            "/allowlist/add",
            Some(json!({"category": "ops", "domain_name": "198.51.100.0/24", "port": 443})),
        );
        assert_eq!(r["added"], "198.51.100.0/24");
        // At once: a new flow is admitted and routed to the CSN gateway.
        let out = send(1001, [198, 51, 100, 7]).expect("allowed after /allowlist/add");
        assert_eq!(out[..6], CSN_GW_MAC);
        let rules = call("/csn/allowlist", None);
        let ops = rules["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"].as_str().unwrap_or("").contains("198.51.100.0/24"))
            .unwrap_or_else(|| panic!("rule listed: {rules}"))
            .clone();
        assert_eq!(ops["flows_admitted"], 1, "{rules}");
        let flows = call("/csn/flows", None);
        assert_eq!(flows["count"], 1, "{flows}");
        let f = &flows["workers"][0]["list"][0];
        assert_eq!(
            (f["dst"].as_str(), f["dport"].as_u64()),
            (Some("198.51.100.7"), Some(443))
        );

        // Removed: new flows are refused, the admitted one keeps working.
        call(
            "/allowlist/del",
            Some(json!({"category": "ops", "domain_name": "198.51.100.0/24", "port": 443})),
        );
        assert!(
            send(1002, [198, 51, 100, 7]).is_none(),
            "new flow denied after /allowlist/del"
        );
        assert!(
            send(1001, [198, 51, 100, 7]).is_some(),
            "established flow still forwarded"
        );
        let drops = call("/drops", None);
        let denied = drops
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["reason"] == "csn_denied")
            .map(|d| d["count"].as_u64().unwrap());
        assert_eq!(denied, Some(2), "{drops}");
        // The running configuration followed both changes.
        let config = call("/config", None);
        let cats = &config["cloud_services_network"]["additional_egress_endpoints"];
        assert_eq!(cats.as_array().unwrap().len(), 1, "{cats}");
        stop.store(true, Ordering::Release);
        run.join().unwrap().expect("live run")
    });
    let (rx, tx, dropped) = report.stats.totals();
    assert_eq!((rx, tx, dropped), (4, 2, 2), "every frame counted once");
    let _ = std::fs::remove_dir_all(&dir);
}

//! The management commands called in process (no socket) against a live
//! engine: one worker on the memory backend, as `fuzz/fuzz_targets/control.rs`
//! drives them. Regressions found by that fuzz target live here.

use std::net::IpAddr;

use dataplane::control::commands::{Commands, ControlState};
use dataplane::control::telemetry::{Handler, Params, Peer};
use dataplane::engine::snapshot::Snapshots;
use dataplane::engine::workers::{run, EngineOptions};
use dataplane::io::memory::MemoryBackend;
use dataplane::tables::Tables;

const CONFIG: &str = r#"
[[l3_isolation_domains]]
name = "red"
[[l3_networks]]
name = "red-app"
vlan = 100
l3_isolation_domain = "red"
ip_allocation_type = "DualStack"
ipv4_connected_prefix = "10.1.0.0/24"
ipv6_connected_prefix = "fd01::/64"
[[ports]]
name = "p"
backend = "pcap"
mac = "02:00:00:00:00:01"
mode = "access"
networks = ["red-app"]
"#;

/// Runs `requests` (command, JSON params) in order and returns each result
/// as `Ok(reply)` or `Err(message)`, with the running configuration after.
fn call_all(requests: &[(&str, &str)]) -> (Vec<Result<String, String>>, ControlState) {
    let cfg = cnfwd_config::parse(CONFIG, "<test>").unwrap();
    let r = cnfwd_config::resolve(&cfg).unwrap();
    let mut snaps = Snapshots::new(Tables::build(&r, &[]).unwrap());
    let mut state = ControlState::new(cfg, r, None, Vec::new());
    let peer = Peer {
        pid: 1,
        uid: 0,
        gid: 0,
    };
    let out = run(
        vec![MemoryBackend::new(1)],
        &mut snaps,
        &EngineOptions::default(),
        |h, snaps| {
            let mut c = Commands {
                state: &mut state,
                engine: h,
                snapshots: snaps,
            };
            requests
                .iter()
                .map(|(cmd, params)| {
                    c.call(cmd, Params::new(Some(params)), &peer)
                        .map(|v| v.to_string())
                        .map_err(|e| e.to_string())
                })
                .collect::<Vec<_>>()
        },
    )
    .unwrap();
    (out.control, state)
}

/// fuzz/regressions/control/crash-e3ce435b…: `/neighbor/add` took a
/// multicast MAC the configuration refuses, so the running configuration
/// (what `/config/save` writes) no longer loaded. The gateway's own address
/// is refused by the configuration as well.
#[test]
fn neighbor_add_obeys_the_configuration_rules() {
    let (results, state) = call_all(&[
        (
            "/neighbor/add",
            r#"{"network": "red-app", "ip": "10.1.0.11", "mac": "01:aa:00:00:01:11"}"#,
        ),
        (
            "/neighbor/add",
            r#"{"network": "red-app", "ip": "10.1.0.1", "mac": "02:aa:00:00:01:01"}"#,
        ),
        (
            "/neighbor/add",
            r#"{"network": "red-app", "ip": "fd01::1", "mac": "02:aa:00:00:01:01"}"#,
        ),
        (
            "/neighbor/add",
            r#"{"network": "red-app", "ip": "10.1.0.12", "mac": "02:aa:00:00:01:12"}"#,
        ),
    ]);
    let e = results[0].as_ref().unwrap_err();
    assert!(e.contains("unicast"), "{e}");
    for r in &results[1..3] {
        let e = r.as_ref().unwrap_err();
        assert!(e.contains("gateway"), "{e}");
    }
    assert!(results[3].is_ok(), "{:?}", results[3]);
    // Only the valid neighbour went into the running configuration, which
    // still resolves.
    let n = &state.config.l3_networks[0].neighbors;
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].ip, "10.1.0.12".parse::<IpAddr>().unwrap());
    cnfwd_config::resolve(&state.config).unwrap();
}

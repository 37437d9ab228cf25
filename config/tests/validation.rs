//! Every validation rule: a good base config, one mutation each, and the exact
//! field path and value the error must name.

use cnfwd_config::{parse, resolve, ConfigError, RouteTarget};

const BASE: &str = r#"
[[l3_isolation_domains]]
name = "red"
[[l3_isolation_domains.static_routes]]
prefix = "0.0.0.0/0"
next_hop = "10.0.2.254"

[[l3_isolation_domains]]
name = "blue"

[[l3_networks]]
name = "app"
vlan = 100
l3_isolation_domain = "red"
ip_allocation_type = "DualStack"
ipv4_connected_prefix = "10.0.1.0/24"
ipv6_connected_prefix = "2001:db8:1::/64"
neighbors = [{ ip = "10.0.1.10", mac = "02:00:00:00:00:10" }]

[[l3_networks]]
name = "core"
vlan = 110
l3_isolation_domain = "red"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.0.2.0/24"
ipv4_gateway = "10.0.2.1"

[[l3_networks]]
name = "blue-app"
vlan = 100
l3_isolation_domain = "blue"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.0.1.0/24"

[[l2_networks]]
name = "storage"
vlan = 300

[[trunked_networks]]
name = "t"
vlans = [100, 300]
isolation_domains = ["red"]

[[ports]]
name = "p0"
backend = "pcap"
mac = "02:00:00:00:01:00"
mode = "trunk"
trunked_network = "t"

[[ports]]
name = "p1"
backend = "pcap"
mac = "02:00:00:00:01:01"
mode = "access"
networks = ["core"]
"#;

fn errors_of(text: &str) -> Vec<String> {
    let cfg = parse(text, "<test>").expect("parses");
    match resolve(&cfg) {
        Ok(_) => vec![],
        Err(errs) => errs.iter().map(|e| e.to_string()).collect(),
    }
}

fn assert_error(text: &str, expected: &str) {
    let errs = errors_of(text);
    assert!(
        errs.iter().any(|e| e == expected),
        "expected error {expected:?}, got {errs:#?}"
    );
}

#[test]
fn base_is_valid_and_resolves_names() {
    let cfg = parse(BASE, "<test>").unwrap();
    let r = resolve(&cfg).unwrap();
    assert_eq!(r.burst_size, 32);
    assert_eq!(r.ports.len(), 2);
    // networks: L2 first, then L3 in order.
    let names: Vec<&str> = r.networks.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["storage", "app", "core", "blue-app"]);
    // The trunk maps VLAN 100 to red's "app", not blue's, because of isolation_domains.
    match &r.ports[0].attachment {
        cnfwd_config::Attachment::Trunk(map) => assert_eq!(map, &vec![(100, 1), (300, 0)]),
        other => panic!("{other:?}"),
    }
    // Default gateway is the first host; static route resolved to "core".
    let red = &r.vrfs[0];
    let find = |p: &str| {
        red.routes
            .iter()
            .find(|x| x.prefix == p.parse().unwrap())
            .map(|x| x.target)
    };
    assert_eq!(find("10.0.1.1/32"), Some(RouteTarget::Local(1)));
    assert_eq!(find("2001:db8:1::1/128"), Some(RouteTarget::Local(1)));
    assert_eq!(find("10.0.1.0/24"), Some(RouteTarget::Attached(1)));
    assert_eq!(
        find("0.0.0.0/0"),
        Some(RouteTarget::Via("10.0.2.254".parse().unwrap(), 2))
    );
    assert_eq!(r.networks[2].ports, vec![1]);
}

#[test]
fn example_config_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/edge-site.toml");
    let (_, r) = cnfwd_config::load(std::path::Path::new(path)).unwrap();
    assert_eq!(r.ports.len(), 4);
    assert_eq!(r.csn.as_ref().unwrap().allow.len(), 3);
}

#[test]
fn vlan_out_of_range() {
    assert_error(
        &BASE.replace("vlan = 300", "vlan = 4095"),
        "l2_networks[0].vlan = 4095: VLAN id must be in 1..=4094",
    );
    assert_error(
        &BASE.replace("vlan = 110", "vlan = 0"),
        "l3_networks[1].vlan = 0: VLAN id must be in 1..=4094",
    );
}

#[test]
fn vlan_twice_on_one_port() {
    assert_error(
        &BASE.replace("vlans = [100, 300]", "vlans = [100, 300, 100]"),
        "trunked_networks[0].vlans[2] = 100: VLAN used twice on the same trunk",
    );
}

#[test]
fn ambiguous_and_unknown_trunk_vlans() {
    let text = BASE.replace("isolation_domains = [\"red\"]\n", "");
    let errs = errors_of(&text);
    assert!(
        errs.iter()
            .any(|e| e.starts_with("trunked_networks[0].vlans[0] = 100: ambiguous")),
        "{errs:?}"
    );
    assert_error(
        &BASE.replace("vlans = [100, 300]", "vlans = [100, 301]"),
        "trunked_networks[0].vlans[1] = 301: no L2 or L3 network (in the listed isolation_domains) has this VLAN",
    );
}

#[test]
fn duplicate_names() {
    assert_error(
        &BASE.replace("name = \"blue-app\"", "name = \"app\""),
        "l3_networks[2].name = \"app\": duplicate network name (L2 and L3 networks share names)",
    );
    assert_error(
        &BASE.replace("name = \"p1\"", "name = \"p0\""),
        "ports[1].name = \"p0\": duplicate port name",
    );
    assert_error(
        &BASE.replace("name = \"blue\"", "name = \"red\""),
        "l3_isolation_domains[1].name = \"red\": duplicate isolation domain name",
    );
}

#[test]
fn unknown_references() {
    assert_error(
        &BASE.replace("networks = [\"core\"]", "networks = [\"nope\"]"),
        "ports[1].networks[0] = \"nope\": no L2 or L3 network has this name",
    );
    assert_error(
        &BASE.replace("trunked_network = \"t\"", "trunked_network = \"x\""),
        "ports[0].trunked_network = \"x\": no trunked_networks entry has this name",
    );
    assert_error(
        &BASE.replace("l3_isolation_domain = \"blue\"", "l3_isolation_domain = \"green\""),
        "l3_networks[2].l3_isolation_domain = \"green\": no l3_isolation_domains entry has this name",
    );
}

#[test]
fn overlapping_prefixes_in_one_vrf() {
    // blue-app overlaps app only if they share a VRF.
    assert_error(
        &BASE.replace("l3_isolation_domain = \"blue\"", "l3_isolation_domain = \"red\""),
        "l3_networks[2].ipv4_connected_prefix = 10.0.1.0/24: overlaps l3_networks[0].ipv4_connected_prefix in the same isolation domain",
    );
    assert_error(
        &BASE.replace("ipv4_connected_prefix = \"10.0.2.0/24\"", "ipv4_connected_prefix = \"10.0.0.0/16\"")
            .replace("ipv4_gateway = \"10.0.2.1\"", "ipv4_gateway = \"10.0.2.2\""),
        "l3_networks[1].ipv4_connected_prefix = 10.0.0.0/16: overlaps l3_networks[0].ipv4_connected_prefix in the same isolation domain",
    );
}

#[test]
fn gateway_outside_prefix() {
    assert_error(
        &BASE.replace("ipv4_gateway = \"10.0.2.1\"", "ipv4_gateway = \"10.0.3.1\""),
        "l3_networks[1].ipv4_gateway = 10.0.3.1: outside ipv4_connected_prefix 10.0.2.0/24",
    );
}

#[test]
fn access_port_with_two_networks() {
    assert_error(
        &BASE.replace("networks = [\"core\"]", "networks = [\"core\", \"storage\"]"),
        "ports[1].networks = [\"core\", \"storage\"]: an access port carries exactly one network, got 2",
    );
}

#[test]
fn mtu_range() {
    assert_error(
        &BASE.replace("vlan = 300", "vlan = 300\nmtu = 9201"),
        "l2_networks[0].mtu = 9201: MTU must be in 64..=9200",
    );
    assert_error(
        &BASE.replace("vlan = 300", "vlan = 300\nmtu = 63"),
        "l2_networks[0].mtu = 63: MTU must be in 64..=9200",
    );
}

#[test]
fn allocation_type_needs_its_prefix() {
    assert_error(
        &BASE.replace("ipv6_connected_prefix = \"2001:db8:1::/64\"\n", ""),
        "l3_networks[0].ipv6_connected_prefix = (absent): required by ip_allocation_type = DualStack",
    );
    assert_error(
        &BASE.replace(
            "ip_allocation_type = \"IPV4\"\nipv4_connected_prefix = \"10.0.2.0/24\"",
            "ip_allocation_type = \"IPV6\"\nipv4_connected_prefix = \"10.0.2.0/24\"",
        ),
        "l3_networks[1].ipv6_connected_prefix = (absent): required by ip_allocation_type = IPV6",
    );
}

#[test]
fn static_route_next_hop_must_be_connected() {
    assert_error(
        &BASE.replace("next_hop = \"10.0.2.254\"", "next_hop = \"192.0.2.1\""),
        "l3_isolation_domains[0].static_routes[0].next_hop = 192.0.2.1: not inside any connected prefix of isolation domain \"red\"",
    );
}

#[test]
fn neighbor_of_a_family_the_network_lacks() {
    assert_error(
        &BASE.replace(
            "ipv4_gateway = \"10.0.2.1\"",
            "ipv4_gateway = \"10.0.2.1\"\nneighbors = [{ ip = \"2001:db8::9\", mac = \"02:00:00:00:00:09\" }]",
        ),
        "l3_networks[1].neighbors[0].ip = 2001:db8::9: the network has no connected prefix of this address family",
    );
}

#[test]
fn neighbor_at_the_directed_broadcast() {
    assert_error(
        &BASE.replace(
            "ipv4_gateway = \"10.0.2.1\"",
            "ipv4_gateway = \"10.0.2.1\"\nneighbors = [{ ip = \"10.0.2.255\", mac = \"02:00:00:00:00:09\" }]",
        ),
        "l3_networks[1].neighbors[0].ip = 10.0.2.255: is the directed broadcast address of the network's connected prefix",
    );
}

#[test]
fn host_bits_in_prefix() {
    assert_error(
        &BASE.replace("\"10.0.2.0/24\"", "\"10.0.2.7/24\""),
        "l3_networks[1].ipv4_connected_prefix = 10.0.2.7/24: host bits set; did you mean 10.0.2.0/24?",
    );
}

#[test]
fn all_errors_reported_at_once() {
    let text = BASE
        .replace("vlan = 300", "vlan = 5000")
        .replace("networks = [\"core\"]", "networks = [\"nope\"]");
    let cfg = parse(&text, "<test>").unwrap();
    let err = ConfigError::Invalid(resolve(&cfg).unwrap_err());
    let shown = err.to_string();
    assert!(shown.starts_with("invalid configuration ("), "{shown}");
    assert!(shown.contains("l2_networks[0].vlan = 5000"), "{shown}");
    assert!(shown.contains("ports[1].networks[0] = \"nope\""), "{shown}");
}

#[test]
fn toml_errors_point_at_line_and_column() {
    let text = "[[ports]]\nname = \"p0\"\nbackend = \"pcap\"\nmode = \"acess\"\n";
    match parse(text, "x.toml") {
        Err(ConfigError::Syntax {
            origin,
            line,
            column,
            message,
        }) => {
            assert_eq!(
                (origin.as_str(), line, column),
                ("x.toml", 4, 8),
                "{message}"
            );
            assert!(message.contains("acess"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    match parse("[engine]\nburst_sise = 3\n", "y.toml") {
        Err(ConfigError::Syntax { line, message, .. }) => {
            assert_eq!(line, 2);
            assert!(message.contains("burst_sise"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn platform_string_booleans() {
    let base = "[[l3_isolation_domains]]\nname = \"c\"\n[[l3_networks]]\nname = \"csn\"\nvlan = 5\nl3_isolation_domain = \"c\"\nip_allocation_type = \"IPV4\"\nipv4_connected_prefix = \"10.9.0.0/24\"\n[cloud_services_network]\nnetwork = \"csn\"\n";
    let with = |v: &str| {
        parse(
            &format!("{base}enable_default_egress_endpoints = {v}\n"),
            "<t>",
        )
    };
    assert!(
        with("\"True\"")
            .unwrap()
            .cloud_services_network
            .unwrap()
            .enable_default_egress_endpoints
    );
    assert!(
        !with("\"False\"")
            .unwrap()
            .cloud_services_network
            .unwrap()
            .enable_default_egress_endpoints
    );
    assert!(
        !with("false")
            .unwrap()
            .cloud_services_network
            .unwrap()
            .enable_default_egress_endpoints
    );
    assert!(with("\"maybe\"").is_err());
}

#[test]
fn engine_and_af_packet_settings() {
    let ok = format!("[engine]\ncores = [2, 3]\nidle = \"adaptive\"\nidle_sleep_us = 50\n{BASE}");
    let r = resolve(&parse(&ok, "<t>").unwrap()).unwrap();
    assert_eq!(r.engine.workers, 2, "one worker per listed core");
    assert_eq!(r.engine.cores, [2, 3]);
    assert_eq!(
        r.engine.idle,
        cnfwd_config::ResolvedIdle::Adaptive {
            empty_polls: 256,
            sleep_us: 50
        }
    );
    let r = resolve(&parse(BASE, "<t>").unwrap()).unwrap();
    assert_eq!(
        (r.engine.workers, r.engine.idle),
        (1, cnfwd_config::ResolvedIdle::Busy)
    );
    assert_eq!(
        (r.af_packet.block_size, r.af_packet.block_count),
        (128 * 1024, 32),
        "a block holds a 64 KiB GSO super-frame with its headers"
    );

    assert_error(
        &format!("[engine]\nworkers = 3\ncores = [1, 2]\n{BASE}"),
        "engine.workers = 3: engine.cores lists 2 cores: one worker runs on each, so workers must be 2 (or left out)",
    );
    assert_error(
        &format!("[engine]\nworkers = 0\n{BASE}"),
        "engine.workers = 0: must be in 1..=128",
    );
    assert_error(
        &format!("[engine]\ncores = [1, 1]\n{BASE}"),
        "engine.cores[1] = 1: listed twice: two workers on one core would take turns",
    );
    assert_error(
        &format!("[engine]\nidle = \"adaptive\"\nidle_empty_polls = 0\n{BASE}"),
        "engine.idle_empty_polls = 0: must be at least 1",
    );
    assert_error(
        &format!("[af_packet]\nblock_size = 5000\n{BASE}"),
        "af_packet.block_size = 5000: must be a multiple of 4096 between 4096 and 64 MiB",
    );
    assert_error(
        &format!("[af_packet]\nblock_count = 0\n{BASE}"),
        "af_packet.block_count = 0: must be in 1..=65536",
    );
}

#[test]
fn csn_settings_defaults_ranges_and_unknown_fields() {
    let base = "[[l3_isolation_domains]]\nname = \"c\"\n[[l3_networks]]\nname = \"csn\"\nvlan = 5\nl3_isolation_domain = \"c\"\nip_allocation_type = \"IPV4\"\nipv4_connected_prefix = \"10.9.0.0/24\"\n[cloud_services_network]\nnetwork = \"csn\"\n";
    // Absent table: every default.
    let r = resolve(&parse(base, "<t>").unwrap()).unwrap();
    assert_eq!(
        r.csn.unwrap().settings,
        cnfwd_config::CsnSettings::default()
    );
    // Some fields given: those change, the others keep their default.
    let text = format!(
        "{base}[cloud_services_network.settings]\nflow_capacity = 1000\ndns_hold_max_ms = 0\n"
    );
    let s = resolve(&parse(&text, "<t>").unwrap())
        .unwrap()
        .csn
        .unwrap()
        .settings;
    assert_eq!((s.flow_capacity, s.dns_hold_max_ms, s.udp_s), (1000, 0, 30));
    // Out of range: the field path names the setting.
    assert_error(
        &format!("{base}[cloud_services_network.settings]\nudp_s = 0\n"),
        "cloud_services_network.settings.udp_s = 0: udp_s must be greater than 0",
    );
    assert_error(
        &format!("{base}[cloud_services_network.settings]\ndns_ttl_min_s = 100\ndns_ttl_max_s = 50\n"),
        "cloud_services_network.settings.dns_ttl_min_s = 100: dns_ttl_min_s (100) is above dns_ttl_max_s (50)",
    );
    assert_error(
        &format!("{base}[cloud_services_network.settings]\ndns_hold_max_ms = 60000\n"),
        "cloud_services_network.settings.dns_hold_max_ms = 60000: dns_hold_max_ms 60000 is above 10000",
    );
    // Unknown knobs are refused at parse time.
    let e = parse(
        &format!("{base}[cloud_services_network.settings]\nflow_capacty = 5\n"),
        "<t>",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("flow_capacty"), "{e}");
}

#[test]
fn dpdk_mbufs_range() {
    let with = |n: &str| format!("[dpdk]\nmbufs = {n}\n{BASE}");
    assert_error(&with("100"), "dpdk.mbufs = 100: must be in 256..=16777216");
    assert_error(
        &with("16777217"),
        "dpdk.mbufs = 16777217: must be in 256..=16777216",
    );
    let cfg = parse(&with("512"), "<test>").expect("parses");
    assert_eq!(resolve(&cfg).expect("valid").dpdk_mbufs, Some(512));
    let cfg = parse(BASE, "<test>").expect("parses");
    assert_eq!(resolve(&cfg).expect("valid").dpdk_mbufs, None);
}

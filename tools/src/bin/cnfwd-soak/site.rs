//! The soak's cnfwd configuration, in two variants that `/config/apply`
//! alternates between. They differ in one static route (198.19.0.0/16 via
//! the srv host) and one allowlist category (192.0.2.0/24 port 8443): both
//! change the tables the workers read, neither changes ports, workers or
//! the control socket (which cannot change live).

use std::path::Path;

/// Addresses and MACs of the site (see `lab.rs` for the picture).
pub mod addr {
    /// The app host (sender).
    pub const APP: &str = "10.1.0.10";
    /// cnfwd's gateway on the app network.
    pub const APP_GW: &str = "10.1.0.1";
    /// The srv host (sink, and next hop of the churned routes).
    pub const SRV: &str = "10.2.0.10";
    /// cnfwd's gateway on the srv network.
    pub const SRV_GW: &str = "10.2.0.1";
    /// The CSN gateway host (next hop of the default route).
    pub const CSN_PEER: &str = "10.9.0.254";
    /// cnfwd's gateway on the CSN network.
    pub const CSN_GW: &str = "10.9.0.1";
    /// Allowlisted endpoints (in 203.0.113.0/25, port 443), answered by the
    /// CSN host.
    pub const ALLOWED: [[u8; 4]; 4] = [
        [203, 0, 113, 10],
        [203, 0, 113, 11],
        [203, 0, 113, 12],
        [203, 0, 113, 13],
    ];
    /// A destination outside the allowlist (denied by cnfwd).
    pub const DENIED: [u8; 4] = [203, 0, 113, 200];
    /// The UDP port of the endpoints.
    pub const CSN_PORT: u16 = 443;
    /// The UDP port the srv host counts on.
    pub const SINK_PORT: u16 = 9000;
}

/// The VRF every network is in.
pub const VRF: &str = "vrf1";

/// The configuration text of variant `variant` (0 or 1).
pub fn config(variant: usize, socket: &Path, metrics_port: u16) -> String {
    let extra_route = if variant == 1 {
        "\n  { prefix = \"198.19.0.0/16\", next_hop = \"10.2.0.10\" },"
    } else {
        ""
    };
    let extra_allow = if variant == 1 {
        "\n  { category = \"extra\", endpoints = [{ domain_name = \"192.0.2.0/24\", port = 8443 }] },"
    } else {
        ""
    };
    format!(
        r#"# cnfwd-soak, variant {variant}
[engine]
workers = 2
idle = "adaptive"

[control]
socket = "{socket}"
max_clients = 16

[metrics]
listen = "127.0.0.1:{metrics_port}"

[[l3_isolation_domains]]
name = "{VRF}"
static_routes = [
  {{ prefix = "0.0.0.0/0", next_hop = "10.9.0.254" }},{extra_route}
]

[[l3_networks]]
name = "app"
vlan = 100
l3_isolation_domain = "{VRF}"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"

[[l3_networks]]
name = "srv"
vlan = 200
l3_isolation_domain = "{VRF}"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.2.0.0/24"

[[l3_networks]]
name = "csn"
vlan = 900
l3_isolation_domain = "{VRF}"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.9.0.0/24"

[[ports]]
name = "a"
backend = "af_packet"
interface = "cnf-a"
mode = "access"
networks = ["app"]

[[ports]]
name = "b"
backend = "af_packet"
interface = "cnf-b"
mode = "access"
networks = ["srv"]

[[ports]]
name = "c"
backend = "af_packet"
interface = "cnf-c"
mode = "access"
networks = ["csn"]

[cloud_services_network]
network = "csn"
enable_default_egress_endpoints = false
additional_egress_endpoints = [
  {{ category = "soak", endpoints = [{{ domain_name = "203.0.113.0/25", port = 443 }}] }},{extra_allow}
]

# Short timeouts so that flows are created and expire all along the run.
[cloud_services_network.settings]
flow_capacity = 4096
udp_s = 3
udp_stream_s = 5
icmp_s = 3
"#,
        socket = socket.display(),
    )
}

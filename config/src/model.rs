//! The configuration as the operator writes it: one struct per resource,
//! field names in the platform's own vocabulary (snake_case of Operator Nexus
//! NetworkCloud / ManagedNetworkFabric resources).
//!
//! These types only describe the file; nothing here is checked beyond TOML
//! types. [`crate::resolve`] validates them and turns names into indices.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Deserializer, Serialize};

use crate::mac::MacAddr;

/// A whole cnfwd configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Engine settings (burst size, workers, cores, idle policy).
    #[serde(default)]
    pub engine: Engine,
    /// DPDK settings, for `backend = "dpdk"` ports.
    #[serde(default)]
    pub dpdk: Dpdk,
    /// AF_PACKET ring settings, for `backend = "af_packet"` ports.
    #[serde(default)]
    pub af_packet: AfPacket,
    /// The management socket of live runs.
    #[serde(default)]
    pub control: Control,
    /// The Prometheus endpoint (off unless `listen` is set).
    #[serde(default)]
    pub metrics: Metrics,
    /// Packet I/O endpoints.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// L3 isolation domains (VRFs).
    #[serde(default)]
    pub l3_isolation_domains: Vec<L3IsolationDomain>,
    /// L2 networks: a VLAN, bridged.
    #[serde(default)]
    pub l2_networks: Vec<L2Network>,
    /// L3 networks: a VLAN in a VRF, routed.
    #[serde(default)]
    pub l3_networks: Vec<L3Network>,
    /// Sets of VLANs carried tagged on one trunk port.
    #[serde(default)]
    pub trunked_networks: Vec<TrunkedNetwork>,
    /// The Cloud Services Network, if this site has one.
    #[serde(default)]
    pub cloud_services_network: Option<CloudServicesNetwork>,
    /// ARP/ND, neighbour resolution and ICMP error settings.
    #[serde(default)]
    pub slow_path: crate::slow_path::SlowPathSettings,
}

/// `[engine]`: how workers process packets.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Engine {
    /// Packets taken from a port per poll and processed together (1..=256).
    #[serde(default = "default_burst_size")]
    pub burst_size: u32,
    /// Worker threads (1..=128). Default: the number of `cores`, else 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    /// Cores to pin the workers to, one each. Default: chosen on the ports'
    /// NUMA node, core 0 last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cores: Vec<usize>,
    /// What a worker does when its ports are idle.
    #[serde(default)]
    pub idle: IdleMode,
    /// `idle = "adaptive"`: empty polling rounds before sleeping.
    #[serde(default = "default_idle_empty_polls")]
    pub idle_empty_polls: u32,
    /// `idle = "adaptive"`: microseconds slept per idle round.
    #[serde(default = "default_idle_sleep_us")]
    pub idle_sleep_us: u32,
    /// A worker that has not completed a polling round for this many
    /// milliseconds is stalled: `/healthz` fails (200..=3600000).
    #[serde(default = "default_stall_timeout_ms")]
    pub stall_timeout_ms: u32,
}

impl Default for Engine {
    fn default() -> Self {
        Self {
            burst_size: default_burst_size(),
            workers: None,
            cores: Vec::new(),
            idle: IdleMode::default(),
            idle_empty_polls: default_idle_empty_polls(),
            idle_sleep_us: default_idle_sleep_us(),
            stall_timeout_ms: default_stall_timeout_ms(),
        }
    }
}

/// `engine.idle`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdleMode {
    /// Poll without pause (DPDK's way): lowest latency, a full core each.
    #[default]
    Busy,
    /// Sleep between polls after a run of empty ones (shared hosts).
    Adaptive,
}

fn default_burst_size() -> u32 {
    32
}

fn default_idle_empty_polls() -> u32 {
    256
}

fn default_idle_sleep_us() -> u32 {
    100
}

fn default_stall_timeout_ms() -> u32 {
    1000
}

/// `[control]`: the management socket (DPDK telemetry v2 protocol).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// Serve the socket during live runs.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Socket path.
    #[serde(default = "default_socket")]
    pub socket: String,
    /// Group (name or gid) whose members may run write commands; uid 0
    /// always may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_group: Option<String>,
    /// Group (name or gid) whose members may run read commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_group: Option<String>,
    /// Anyone who can connect may run read commands (socket mode 0666).
    #[serde(default)]
    pub read_anyone: bool,
    /// Most clients connected at once (1..=1024).
    #[serde(default = "default_max_clients")]
    pub max_clients: u32,
    /// Close a client that sends no request for this many seconds, so idle
    /// clients cannot hold every slot (0: never; 0..=86400, default 60).
    #[serde(default = "default_client_idle_timeout_s")]
    pub client_idle_timeout_s: u32,
    /// Close a client that leaves a reply unread for this many seconds
    /// (0: never; 0..=86400, default 10).
    #[serde(default = "default_client_stall_timeout_s")]
    pub client_stall_timeout_s: u32,
    /// Also serve the socket where `dpdk-telemetry.py -f <prefix>` looks
    /// (`/var/run/dpdk/<prefix>/dpdk_telemetry.v2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpdk_telemetry_prefix: Option<String>,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            enabled: true,
            socket: default_socket(),
            write_group: None,
            read_group: None,
            read_anyone: false,
            max_clients: default_max_clients(),
            client_idle_timeout_s: default_client_idle_timeout_s(),
            client_stall_timeout_s: default_client_stall_timeout_s(),
            dpdk_telemetry_prefix: None,
        }
    }
}

fn default_socket() -> String {
    "/run/cnfwd/cnfwd.sock".to_owned()
}

fn default_max_clients() -> u32 {
    16
}

fn default_client_idle_timeout_s() -> u32 {
    60
}

fn default_client_stall_timeout_s() -> u32 {
    10
}

/// `[metrics]`: Prometheus text exposition over HTTP.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// `address:port` to serve `GET /metrics` on, e.g. `127.0.0.1:9464`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
}

/// `[af_packet]`: ring geometry of every AF_PACKET socket.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AfPacket {
    /// Bytes per RX ring block: a multiple of 4096, and the largest frame
    /// received whole.
    #[serde(default = "default_block_size")]
    pub block_size: u32,
    /// Blocks per RX ring (1..=65536).
    #[serde(default = "default_block_count")]
    pub block_count: u32,
    /// A block with packets is handed over after this many ms (1..=1000).
    #[serde(default = "default_block_timeout_ms")]
    pub block_timeout_ms: u32,
}

impl Default for AfPacket {
    fn default() -> Self {
        Self {
            block_size: default_block_size(),
            block_count: default_block_count(),
            block_timeout_ms: default_block_timeout_ms(),
        }
    }
}

/// 128 KiB: a block must hold the largest GSO super-frame (64 KiB of
/// packet) with its headers, which a 64 KiB block cannot.
fn default_block_size() -> u32 {
    128 * 1024
}

/// 32 blocks of 128 KiB: 4 MiB of ring per queue.
fn default_block_count() -> u32 {
    32
}

fn default_block_timeout_ms() -> u32 {
    1
}

/// `[dpdk]`: how DPDK's EAL is started.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dpdk {
    /// EAL arguments, as for any DPDK application (e.g. `["-l", "2-3",
    /// "--no-huge", "-m", "1024", "--no-shconf", "--no-pci"]`). Ports name
    /// their devices themselves: a vdev string is probed at start, a PCI
    /// address must be one EAL probed.
    #[serde(default)]
    pub eal_args: Vec<String>,
    /// mbufs in each packet pool (one pool per NUMA socket of the ports).
    /// Default: enough for every RX and TX ring of the socket's ports, the
    /// per-core caches and 4,096 in flight in the pipeline. A smaller pool
    /// can run dry under load: receive then fails (`rx_nombuf`) and frames
    /// cnfwd originates are counted as `alloc_failed` until mbufs return.
    /// 256..=16777216; a PCI NIC also needs its RX rings' worth at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mbufs: Option<u32>,
}

/// Which I/O backend drives a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// Replays `rx_pcap` as RX, writes TX to `tx_pcap`.
    Pcap,
    /// A Linux interface through AF_PACKET (`interface`).
    AfPacket,
    /// A DPDK device: PCI address or vdev string (`device`).
    Dpdk,
}

impl BackendKind {
    /// The name used in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Pcap => "pcap",
            BackendKind::AfPacket => "af_packet",
            BackendKind::Dpdk => "dpdk",
        }
    }
}

/// How networks are carried on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PortMode {
    /// Exactly one network, untagged.
    Access,
    /// A trunked network: each VLAN tagged.
    Trunk,
}

/// `[[ports]]`: one packet I/O endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Unique port name.
    pub name: String,
    /// The backend driving it.
    pub backend: BackendKind,
    /// The port's own MAC address (source MAC of routed packets; the
    /// destination MAC routed packets must carry). Required for pcap ports.
    #[serde(default)]
    pub mac: Option<MacAddr>,
    /// Largest IP packet (L3 MTU) the port carries, 64..=9200. Default: the
    /// largest MTU of its networks.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// NUMA node of the device, when known.
    #[serde(default)]
    pub numa_node: Option<u32>,
    /// Access or trunk.
    pub mode: PortMode,
    /// Access ports: the one network carried untagged.
    #[serde(default)]
    pub networks: Vec<String>,
    /// Trunk ports: the trunked network carried.
    #[serde(default)]
    pub trunked_network: Option<String>,
    /// pcap backend: capture replayed as RX (pcap or pcapng).
    #[serde(default)]
    pub rx_pcap: Option<String>,
    /// pcap backend: capture file written with TX.
    #[serde(default)]
    pub tx_pcap: Option<String>,
    /// af_packet backend: Linux interface name, or `{ network_attachment =
    /// "namespace/name" }`: the attachment's interface in the pod.
    #[serde(default)]
    pub interface: Option<DeviceSpec>,
    /// dpdk backend: PCI address or vdev string, or `{ network_attachment =
    /// "namespace/name" }` / `{ resource = "vendor/name", index = N }`: the
    /// PCI device the pod was given (see [`crate::attachment`]).
    #[serde(default)]
    pub device: Option<DeviceSpec>,
}

/// A port's `device` or `interface`: the name itself, or where the pod was
/// given it (resolved at start by [`crate::attachment`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum DeviceSpec {
    /// As written: a PCI address, a vdev string or an interface name.
    Name(String),
    /// A network attachment and/or a device-plugin resource of the pod.
    Pod(PodDevice),
}

impl From<String> for DeviceSpec {
    fn from(s: String) -> Self {
        DeviceSpec::Name(s)
    }
}

impl From<&str> for DeviceSpec {
    fn from(s: &str) -> Self {
        DeviceSpec::Name(s.to_owned())
    }
}

impl<'de> Deserialize<'de> for DeviceSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = DeviceSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a device name, or a table { network_attachment = \"namespace/name\" } or { resource = \"vendor/name\", index = N }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DeviceSpec, E> {
                Ok(DeviceSpec::Name(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<DeviceSpec, A::Error> {
                PodDevice::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(DeviceSpec::Pod)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `{ network_attachment, resource, index }`: a device the pod was given.
/// The annotation is read first; `resource` alone, or when the annotation
/// does not give the device, is looked up in the SR-IOV device plugin's
/// `PCIDEVICE_<RESOURCE>` environment variable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PodDevice {
    /// `namespace/name` (or `name`) of a network attachment in the Multus
    /// `network-status` annotation; `@interface` picks one of several
    /// attachments of the same network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_attachment: Option<String>,
    /// SR-IOV device plugin resource, e.g. `intel.com/sriov_red`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Which of the resource's devices (0-based), when the pod has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

impl std::fmt::Display for PodDevice {
    /// The TOML inline table, as written in the file.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(a) = &self.network_attachment {
            parts.push(format!("network_attachment = {a:?}"));
        }
        if let Some(r) = &self.resource {
            parts.push(format!("resource = {r:?}"));
        }
        if let Some(i) = self.index {
            parts.push(format!("index = {i}"));
        }
        if parts.is_empty() {
            f.write_str("{}")
        } else {
            write!(f, "{{ {} }}", parts.join(", "))
        }
    }
}

/// `[[l3_isolation_domains]]`: a VRF.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct L3IsolationDomain {
    /// Unique VRF name.
    pub name: String,
    /// Static routes of this VRF.
    #[serde(default)]
    pub static_routes: Vec<StaticRoute>,
}

/// A static route: `prefix` via `next_hop`, or to `network`, or both.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticRoute {
    /// Destination prefix (host bits zero).
    pub prefix: IpNet,
    /// Next-hop address; must lie in a connected prefix (of `network` when given).
    #[serde(default)]
    pub next_hop: Option<IpAddr>,
    /// Egress L3 network; may belong to another VRF (explicit leak).
    #[serde(default)]
    pub network: Option<String>,
}

/// `[[l2_networks]]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct L2Network {
    /// Unique network name (shared namespace with L3 networks).
    pub name: String,
    /// VLAN id, 1..=4094.
    pub vlan: u32,
    /// Largest frame payload after the VLAN tag, 64..=9200.
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// Interface name of this network inside the workload (informational).
    #[serde(default)]
    pub interface_name: Option<String>,
    /// Seconds a learned MAC is kept after it was last seen (Linux bridge
    /// ageing_time: 300), 1..=1000000.
    #[serde(default = "default_mac_age_s")]
    pub mac_age_s: u32,
    /// MAC addresses pinned to a port (never learned over, never aged).
    #[serde(default)]
    pub static_macs: Vec<StaticMac>,
}

/// A static MAC entry of an L2 network.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticMac {
    /// The unicast MAC.
    pub mac: MacAddr,
    /// The port it is behind; the port must carry the network.
    pub port: String,
}

fn default_mac_age_s() -> u32 {
    300
}

/// Which address families an L3 network carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum IpAllocationType {
    /// IPv4 only: needs `ipv4_connected_prefix`.
    #[serde(rename = "IPV4")]
    Ipv4,
    /// IPv6 only: needs `ipv6_connected_prefix`.
    #[serde(rename = "IPV6")]
    Ipv6,
    /// Both prefixes (the platform's default).
    #[default]
    DualStack,
}

/// Reverse-path filtering of an L3 network (`source_check`), as VPP's uRPF
/// and Linux's `rp_filter` (RFC 3704).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceCheck {
    /// No check.
    Off,
    /// The source must have a route in the network's VRF (RFC 3704 loose).
    Loose,
    /// The route back to the source must also leave through the network the
    /// packet came in on (RFC 3704 strict; the default, right for a
    /// single-homed tenant network).
    #[default]
    Strict,
}

/// `[[l3_networks]]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct L3Network {
    /// Unique network name (shared namespace with L2 networks).
    pub name: String,
    /// VLAN id, 1..=4094.
    pub vlan: u32,
    /// The VRF this network routes in.
    pub l3_isolation_domain: String,
    /// Address families; decides which prefixes are required.
    #[serde(default)]
    pub ip_allocation_type: IpAllocationType,
    /// IPv4 connected prefix.
    #[serde(default)]
    pub ipv4_connected_prefix: Option<Ipv4Net>,
    /// IPv6 connected prefix.
    #[serde(default)]
    pub ipv6_connected_prefix: Option<Ipv6Net>,
    /// cnfwd's own IPv4 address on the network. Default: first host of the prefix.
    #[serde(default)]
    pub ipv4_gateway: Option<Ipv4Addr>,
    /// cnfwd's own IPv6 address on the network. Default: prefix + 1.
    #[serde(default)]
    pub ipv6_gateway: Option<Ipv6Addr>,
    /// Largest IP packet, 64..=9200.
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// Interface name of this network inside the workload (informational).
    #[serde(default)]
    pub interface_name: Option<String>,
    /// Static neighbours (IP -> MAC) on this network.
    #[serde(default)]
    pub neighbors: Vec<Neighbor>,
    /// Reverse-path filtering of packets arriving on this network.
    #[serde(default)]
    pub source_check: SourceCheck,
}

fn default_mtu() -> u32 {
    1500
}

/// A static neighbour entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Neighbor {
    /// The neighbour's address, inside the network's connected prefix.
    pub ip: IpAddr,
    /// Its MAC address.
    pub mac: MacAddr,
}

/// `[[trunked_networks]]`: VLANs carried tagged on one port.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkedNetwork {
    /// Unique name.
    pub name: String,
    /// VLANs carried; tagged traffic for any other VLAN is dropped.
    pub vlans: Vec<u32>,
    /// When given, L3 networks a VLAN may map to must be in these VRFs.
    #[serde(default)]
    pub isolation_domains: Vec<String>,
    /// Interface name of the trunk inside the workload (informational).
    #[serde(default)]
    pub interface_name: Option<String>,
}

/// `[cloud_services_network]`: the egress allowlist of the CSN.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CloudServicesNetwork {
    /// The L3 network that is the CSN.
    pub network: String,
    /// Whether `default_egress_endpoints` are allowed. Accepts the platform's
    /// string form `"True"` / `"False"` too.
    #[serde(default = "default_true", deserialize_with = "bool_or_platform_string")]
    pub enable_default_egress_endpoints: bool,
    /// The platform's default endpoints (carried in config, not in code).
    #[serde(default)]
    pub default_egress_endpoints: Vec<EgressEndpointCategory>,
    /// Endpoints the operator adds.
    #[serde(default)]
    pub additional_egress_endpoints: Vec<EgressEndpointCategory>,
    /// Flow table, timeouts, DNS learning and hold knobs
    /// (`[cloud_services_network.settings]`; every field optional).
    #[serde(default)]
    pub settings: crate::csn::CsnSettings,
}

fn default_true() -> bool {
    true
}

fn bool_or_platform_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrString {
        Bool(bool),
        Str(String),
    }
    match BoolOrString::deserialize(d)? {
        BoolOrString::Bool(b) => Ok(b),
        BoolOrString::Str(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        BoolOrString::Str(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        BoolOrString::Str(s) => Err(serde::de::Error::custom(format!(
            "expected true, false, \"True\" or \"False\", got {s:?}"
        ))),
    }
}

/// A category of egress endpoints (`{ category, endpoints = [...] }`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EgressEndpointCategory {
    /// Free-form category name.
    pub category: String,
    /// The endpoints.
    pub endpoints: Vec<EgressEndpoint>,
}

/// One allowlisted endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EgressEndpoint {
    /// Exact name, `.suffix` / `*.suffix` name, URL, IP address or CIDR.
    pub domain_name: String,
    /// Destination port; absent: the URL scheme's port, else any port.
    #[serde(default)]
    pub port: Option<u32>,
}

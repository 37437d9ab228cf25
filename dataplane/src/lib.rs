//! cnfwd's data plane: the packet path from RX to TX.
//!
//! - [`packet`]: buffers, header views, per-packet metadata;
//! - [`pipeline`]: the stages in path order and every drop reason;
//! - [`fib`]: IPv4/IPv6 longest-prefix match, one pair per VRF;
//! - [`l2`]: bridging for L2 networks;
//! - [`csn`]: the CSN egress allowlist, flow table and DNS learning;
//! - [`tables`]: the immutable forwarding snapshot built from configuration;
//! - [`io`]: the backend contract and the backends;
//! - [`engine`]: workers that poll, process and transmit;
//! - [`stats`]: counters and their JSON;
//! - [`control`]: the management socket (DPDK telemetry v2), its client and
//!   the Prometheus endpoint;
//! - [`replay`]: the offline mode (`cnfwd run` on pcap ports);
//! - [`live`]: the live mode (`cnfwd run` on AF_PACKET or DPDK ports).
//!
//! Safe Rust everywhere except `io/` backends that talk to the OS or DPDK.
#![deny(unsafe_code)]

pub mod control;
mod counters;
pub mod csn;
pub mod engine;
pub mod fib;
pub mod io;
pub mod l2;
pub mod live;
pub mod log_limit;
pub mod packet;
pub mod pipeline;
pub mod replay;
pub mod slow;
pub mod stats;
pub mod tables;

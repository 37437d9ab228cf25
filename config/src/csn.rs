//! `[cloud_services_network.settings]`: every knob of the CSN module (flow
//! table, timeouts, DNS learning, the DNS hold), with defaults and range
//! checks. The data plane (`dataplane::csn`) uses these values as they are.

use serde::{Deserialize, Serialize};

/// Nanoseconds per second, for the `*_s` settings.
pub const NS_PER_S: u64 = 1_000_000_000;

/// Every knob of the CSN module, with defaults. Drops into the configuration
/// as a table (e.g. `[cloud_services_network.settings]`); unknown fields are
/// refused, missing ones take the default. [`CsnSettings::validate`] checks
/// the ranges.
///
/// Timeouts are idle timeouts in seconds: a flow lives that long after its
/// last packet in its current state. Defaults compared with Linux conntrack
/// (`nf_conntrack_*_timeout_*`):
///
/// | setting | default | conntrack | why |
/// |---|---|---|---|
/// | `tcp_syn_sent_s` | 30 | 120 | half-open flows are the ones that fill tables |
/// | `tcp_syn_recv_s` | 30 | 60 | same |
/// | `tcp_established_s` | 7440 | 432000 (5 days) | RFC 5382 REQ-5: at least 2 h 4 min; keepalives refresh it |
/// | `tcp_fin_wait_s` | 60 | 120 (fin_wait) / 60 (close_wait) | one side closed |
/// | `tcp_closing_s` | 30 | 120 (time_wait) / 30 (last_ack) | both sides sent FIN |
/// | `tcp_close_s` | 10 | 10 | after a RST |
/// | `udp_s` | 30 | 30 | one direction seen only |
/// | `udp_stream_s` | 120 | 120 | replies seen |
/// | `icmp_s` | 30 | 30 | echo identifier flows |
/// | `other_s` | 600 | 600 (generic) | other protocols |
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsnSettings {
    /// Flows per worker table (memory = slots x 68 bytes, slots = capacity x
    /// 5/4; 1,000,000 flows take ~81 MiB).
    pub flow_capacity: u32,
    /// TCP: SYN sent, no SYN-ACK yet.
    pub tcp_syn_sent_s: u32,
    /// TCP: SYN-ACK seen, handshake not completed.
    pub tcp_syn_recv_s: u32,
    /// TCP: handshake done, no FIN.
    pub tcp_established_s: u32,
    /// TCP: one side sent FIN.
    pub tcp_fin_wait_s: u32,
    /// TCP: both sides sent FIN.
    pub tcp_closing_s: u32,
    /// TCP: RST seen.
    pub tcp_close_s: u32,
    /// UDP with packets in the egress direction only.
    pub udp_s: u32,
    /// UDP with replies seen.
    pub udp_stream_s: u32,
    /// ICMP / ICMPv6 echo.
    pub icmp_s: u32,
    /// Any other protocol.
    pub other_s: u32,
    /// Flow-table slots examined per incremental expiry call (one call per
    /// burst: at the default 64, a 1.25M-slot table is swept in ~20,000
    /// bursts, ~2 s at 10 Mpps; lookups expire lazily and a full table
    /// reclaims before refusing, so the sweep only bounds stale memory).
    pub expiry_budget: u32,
    /// Slots examined to reclaim expired flows when an insert finds the table
    /// full, before refusing it.
    pub full_reclaim_budget: u32,
    /// Smallest TTL a learned address gets (seconds); lower DNS TTLs are
    /// raised to it (apps and stub resolvers cache beyond tiny TTLs).
    pub dns_ttl_min_s: u32,
    /// Largest TTL a learned address gets (seconds).
    pub dns_ttl_max_s: u32,
    /// After its TTL, an address used by a new flow within this many seconds
    /// stays allowed for new flows (the "connection dropped at TTL expiry"
    /// pain); an idle one is removed.
    pub dns_idle_grace_s: u32,
    /// Addresses kept per learned name; more replaces the oldest (counted as
    /// `learned_cap_overflow`).
    pub learned_per_name_cap: u32,
    /// Learned addresses in total; more are refused (counted as
    /// `learned_table_full`).
    pub learned_capacity: u32,
    /// Denied-packet log lines per second (token bucket; burst = the rate).
    pub deny_log_per_s: u32,
    /// Longest time (milliseconds) a DNS response that taught addresses is
    /// held back from the workload until every worker has installed them;
    /// when it passes, the response is sent anyway and `dns_hold_timeout`
    /// counts it. 0 disables the hold.
    pub dns_hold_max_ms: u32,
    /// DNS responses one worker holds at most at once; more are sent without
    /// a hold (counted as `dns_hold_overflow`).
    pub dns_hold_capacity: u32,
}

impl Default for CsnSettings {
    fn default() -> Self {
        CsnSettings {
            flow_capacity: 1_000_000,
            tcp_syn_sent_s: 30,
            tcp_syn_recv_s: 30,
            tcp_established_s: 7440,
            tcp_fin_wait_s: 60,
            tcp_closing_s: 30,
            tcp_close_s: 10,
            udp_s: 30,
            udp_stream_s: 120,
            icmp_s: 30,
            other_s: 600,
            expiry_budget: 64,
            full_reclaim_budget: 4096,
            dns_ttl_min_s: 60,
            dns_ttl_max_s: 86_400,
            dns_idle_grace_s: 900,
            learned_per_name_cap: 64,
            learned_capacity: 200_000,
            deny_log_per_s: 10,
            dns_hold_max_ms: 50,
            dns_hold_capacity: 256,
        }
    }
}

/// A [`CsnSettings`] value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A setting that must be positive is 0 (`field` names it).
    #[error("{field} must be greater than 0")]
    Zero {
        /// The setting's name.
        field: &'static str,
    },
    /// `dns_ttl_min_s` is above `dns_ttl_max_s`.
    #[error("dns_ttl_min_s ({min}) is above dns_ttl_max_s ({max})")]
    TtlRange {
        /// `dns_ttl_min_s`.
        min: u32,
        /// `dns_ttl_max_s`.
        max: u32,
    },
    /// `dns_hold_max_ms` above 10 s (a held response that long is a lost one).
    #[error("dns_hold_max_ms {0} is above 10000")]
    HoldTooLong(u32),
    /// The flow capacity is above what the table indexes (2^31 - 1).
    #[error("flow_capacity {0} is above 2147483647")]
    FlowCapacity(u32),
}

impl CsnSettings {
    /// Checks every range: capacities, budgets and timeouts positive, TTL
    /// minimum not above the maximum.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let positive = [
            ("flow_capacity", self.flow_capacity),
            ("tcp_syn_sent_s", self.tcp_syn_sent_s),
            ("tcp_syn_recv_s", self.tcp_syn_recv_s),
            ("tcp_established_s", self.tcp_established_s),
            ("tcp_fin_wait_s", self.tcp_fin_wait_s),
            ("tcp_closing_s", self.tcp_closing_s),
            ("tcp_close_s", self.tcp_close_s),
            ("udp_s", self.udp_s),
            ("udp_stream_s", self.udp_stream_s),
            ("icmp_s", self.icmp_s),
            ("other_s", self.other_s),
            ("expiry_budget", self.expiry_budget),
            ("full_reclaim_budget", self.full_reclaim_budget),
            ("dns_ttl_max_s", self.dns_ttl_max_s),
            ("learned_per_name_cap", self.learned_per_name_cap),
            ("learned_capacity", self.learned_capacity),
            ("dns_hold_capacity", self.dns_hold_capacity),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(SettingsError::Zero { field });
        }
        if self.dns_ttl_min_s > self.dns_ttl_max_s {
            return Err(SettingsError::TtlRange {
                min: self.dns_ttl_min_s,
                max: self.dns_ttl_max_s,
            });
        }
        if self.dns_hold_max_ms > 10_000 {
            return Err(SettingsError::HoldTooLong(self.dns_hold_max_ms));
        }
        if self.flow_capacity > i32::MAX as u32 {
            return Err(SettingsError::FlowCapacity(self.flow_capacity));
        }
        Ok(())
    }

    /// The setting an error is about (for field paths).
    pub fn field_of(e: &SettingsError) -> &'static str {
        match e {
            SettingsError::Zero { field } => field,
            SettingsError::TtlRange { .. } => "dns_ttl_min_s",
            SettingsError::HoldTooLong(_) => "dns_hold_max_ms",
            SettingsError::FlowCapacity(_) => "flow_capacity",
        }
    }
}

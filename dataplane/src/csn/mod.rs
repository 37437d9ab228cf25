//! The Cloud Services Network (CSN) stateful egress allowlist: what may
//! leave through the CSN, and what may come back.
//!
//! # Parts and what each guarantees
//!
//! - [`allowlist`]: the compiled allowlist ([`Allowlist`]), built once per
//!   configuration snapshot from `cnfwd_config`'s resolved CSN rules.
//!   Address checks ([`Allowlist::check_addr`]) are two hash/LPM lookups and
//!   a short port scan, allocation-free; name checks
//!   ([`Allowlist::match_name`]) are O(labels) hash lookups, whatever the
//!   number of rules. A denied packet gets a "closest rule" for its log line
//!   ([`Allowlist::closest_rule`], slow path). Per-rule hit counters are plain
//!   `u64`s owned by each worker ([`RuleHits`]), summed by readers.
//! - [`dns`]: a defensive DNS response parser (UDP payloads and TCP/53
//!   streams). No input panics; every rejection is a typed error with its own
//!   counter.
//! - [`learned`]: addresses learned from DNS answers to allowlisted names
//!   ([`LearnedTable`]): TTL clamped to `[dns_ttl_min, dns_ttl_max]`, an idle
//!   grace after the TTL for addresses still in use, a per-name cap and a
//!   total capacity, both counted when hit. Time is injected. Expiry never
//!   touches flows: flows do not re-check the allowlist.
//! - [`flow`]: the per-worker flow table ([`FlowTable`]): fixed capacity,
//!   preallocated, no allocation and no lock after creation; one entry per
//!   flow found from both directions; TCP state followed (SYN, SYN-ACK, ACK,
//!   FIN both ways, RST) with per-state timeouts; UDP/ICMP/other by idle
//!   timeout; incremental and lazy expiry; a full table refuses new flows
//!   (counted) and keeps the existing ones. Also the key of an ICMP error's
//!   quoted packet ([`flow::key_from_icmp_error`]).
//!
//! # How the pipeline uses them (integration sketch)
//!
//! - Egress (route says CSN): [`FlowTable::track`] hits → forward. Miss →
//!   [`Allowlist::check_addr`], then [`LearnedTable::check`]; allowed →
//!   [`FlowTable::insert`] (refused: [`CsnCounter::FlowTableFull`], drop);
//!   denied → [`CsnCounter::CsnDenied`] and, through a [`LogLimiter`], a log
//!   line built with [`Allowlist::closest_rule`].
//! - Ingress from the CSN: [`FlowTable::track`] must hit (the reversed
//!   5-tuple finds the same entry), else [`CsnCounter::CsnNoFlow`]. ICMP
//!   errors: [`flow::key_from_icmp_error`] on the quoted bytes, then
//!   [`FlowTable::lookup`]. DNS responses on a tracked flow go to the slow
//!   path: [`dns::parse_response`] then [`LearnedTable::learn`].
//!
//! Counters are declared once in [`CsnCounter`] (name + description); a
//! worker or the control thread keeps a [`CsnCounters`] array.
#![forbid(unsafe_code)]

pub mod allowlist;
pub mod dns;
pub mod flow;
pub mod learned;

pub use allowlist::{Allowlist, Closest, RuleHits, RuleId, Verdict};
pub use flow::{Direction, FlowKey, FlowTable, FlowTimeouts, TcpState};
pub use learned::{LearnOutcome, LearnedTable};

use serde::Deserialize;

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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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
    /// Flow-table slots examined per incremental expiry call.
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
            expiry_budget: 1024,
            full_reclaim_budget: 4096,
            dns_ttl_min_s: 60,
            dns_ttl_max_s: 86_400,
            dns_idle_grace_s: 900,
            learned_per_name_cap: 64,
            learned_capacity: 200_000,
            deny_log_per_s: 10,
        }
    }
}

/// A [`CsnSettings`] value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A setting that must be positive is 0.
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
        if self.flow_capacity > i32::MAX as u32 {
            return Err(SettingsError::FlowCapacity(self.flow_capacity));
        }
        Ok(())
    }

    /// The flow timeouts in nanoseconds.
    pub fn flow_timeouts(&self) -> FlowTimeouts {
        let ns = |s: u32| u64::from(s) * NS_PER_S;
        FlowTimeouts {
            tcp_syn_sent: ns(self.tcp_syn_sent_s),
            tcp_syn_recv: ns(self.tcp_syn_recv_s),
            tcp_established: ns(self.tcp_established_s),
            tcp_fin_wait: ns(self.tcp_fin_wait_s),
            tcp_closing: ns(self.tcp_closing_s),
            tcp_close: ns(self.tcp_close_s),
            udp: ns(self.udp_s),
            udp_stream: ns(self.udp_stream_s),
            icmp: ns(self.icmp_s),
            other: ns(self.other_s),
        }
    }
}

macro_rules! csn_counters {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $desc:literal; )*) => {
        /// Every counter the CSN module produces.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum CsnCounter {
            $( $(#[$doc])* $variant, )*
        }

        impl CsnCounter {
            /// Every counter, in declaration order (index = `as usize`).
            pub const ALL: &'static [CsnCounter] = &[$(CsnCounter::$variant),*];
            /// Number of counters.
            pub const COUNT: usize = Self::ALL.len();

            /// The counter name (snake_case, as in the stats JSON).
            pub fn name(self) -> &'static str {
                match self { $(CsnCounter::$variant => $name,)* }
            }

            /// One line saying what the counter counts.
            pub fn description(self) -> &'static str {
                match self { $(CsnCounter::$variant => $desc,)* }
            }

            /// The counter with this name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($name => Some(CsnCounter::$variant),)* _ => None }
            }
        }
    };
}

csn_counters! {
    /// Egress packet to a destination no rule allows (drop).
    CsnDenied = "csn_denied", "egress to the CSN not allowed by the allowlist";
    /// Packet from the CSN that matches no flow (drop).
    CsnNoFlow = "csn_no_flow", "packet from the CSN matching no flow";
    /// New flow refused because the flow table is full (drop).
    FlowTableFull = "flow_table_full", "new CSN flow refused: flow table full";
    /// Flows created.
    FlowCreated = "flow_created", "CSN flows created";
    /// Flows removed by expiry (incremental, lazy, or reclaimed when full).
    FlowExpired = "flow_expired", "CSN flows expired";
    /// Denied-packet log lines suppressed by the rate limit.
    DenyLogSuppressed = "csn_deny_log_suppressed", "denied-packet log lines suppressed by the rate limit";
    /// DNS message shorter than its header.
    DnsShortHeader = "dns_short_header", "DNS response shorter than its 12-byte header";
    /// DNS query where a response was expected.
    DnsNotResponse = "dns_not_response", "DNS message on a response path is a query";
    /// DNS opcode other than QUERY.
    DnsBadOpcode = "dns_bad_opcode", "DNS response with an opcode other than QUERY";
    /// DNS response without exactly one question.
    DnsQuestionCount = "dns_question_count", "DNS response without exactly one question";
    /// DNS section counts larger than the message.
    DnsAbsurdCount = "dns_absurd_count", "DNS section counts need more bytes than the message has";
    /// DNS record or name cut short.
    DnsTruncated = "dns_truncated", "DNS name or record runs past the end of the message";
    /// DNS compression pointers loop.
    DnsCompressionLoop = "dns_compression_loop", "DNS name compression pointers loop";
    /// DNS name over 255 bytes.
    DnsNameTooLong = "dns_name_too_long", "DNS name longer than 255 bytes";
    /// DNS reserved label type.
    DnsBadLabelType = "dns_bad_label_type", "DNS label with a reserved type (length byte 0x40-0xbf)";
    /// DNS A/AAAA with the wrong data length.
    DnsBadRdataLength = "dns_bad_rdata_length", "DNS A/AAAA record whose data is not 4/16 bytes";
    /// Learned addresses installed (new address for a name).
    LearnedInstalled = "learned_installed", "addresses learned from DNS answers to allowlisted names";
    /// Learned addresses whose TTL was refreshed by a new answer.
    LearnedRefreshed = "learned_refreshed", "learned addresses refreshed by a new DNS answer";
    /// Per-name cap reached: the oldest address of the name was replaced.
    LearnedCapOverflow = "learned_cap_overflow", "per-name address cap reached: oldest address replaced";
    /// Learned table full: the new address was refused.
    LearnedTableFull = "learned_table_full", "learned address table full: new address refused";
    /// Learned addresses expired (TTL and idle grace over).
    LearnedExpired = "learned_expired", "learned addresses expired";
    /// DNS responses whose question matches no allowlisted name.
    DnsNotAllowlisted = "dns_not_allowlisted", "DNS responses for names not on the allowlist (nothing learned)";
}

impl CsnCounter {
    /// The counter of a DNS parse error.
    pub fn from_dns_error(e: &dns::DnsError) -> CsnCounter {
        use dns::DnsError as E;
        match e {
            E::ShortHeader { .. } => CsnCounter::DnsShortHeader,
            E::NotResponse => CsnCounter::DnsNotResponse,
            E::Opcode { .. } => CsnCounter::DnsBadOpcode,
            E::QuestionCount { .. } => CsnCounter::DnsQuestionCount,
            E::AbsurdCount { .. } => CsnCounter::DnsAbsurdCount,
            E::Truncated { .. } => CsnCounter::DnsTruncated,
            E::CompressionLoop { .. } => CsnCounter::DnsCompressionLoop,
            E::NameTooLong { .. } => CsnCounter::DnsNameTooLong,
            E::BadLabelType { .. } => CsnCounter::DnsBadLabelType,
            E::BadRdataLength { .. } => CsnCounter::DnsBadRdataLength,
        }
    }
}

/// One value per [`CsnCounter`]; plain `u64`s owned by one thread (a worker
/// or the control thread), summed by readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsnCounters(pub [u64; CsnCounter::COUNT]);

impl Default for CsnCounters {
    fn default() -> Self {
        CsnCounters([0; CsnCounter::COUNT])
    }
}

impl CsnCounters {
    /// Adds `n` to `c` (wrapping never happens in practice; saturates).
    #[inline]
    pub fn add(&mut self, c: CsnCounter, n: u64) {
        let v = &mut self.0[c as usize];
        *v = v.saturating_add(n);
    }

    /// The value of `c`.
    pub fn get(&self, c: CsnCounter) -> u64 {
        self.0[c as usize]
    }

    /// `(name, value)` of every counter, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        CsnCounter::ALL.iter().map(|&c| (c.name(), self.get(c)))
    }
}

/// Token bucket for denied-packet log lines: at most `per_s` lines per second
/// with a burst of `per_s`. Time is injected (nanoseconds).
#[derive(Debug, Clone)]
pub struct LogLimiter {
    per_s: u64,
    tokens: u64,
    last_ns: u64,
}

impl LogLimiter {
    /// A full bucket of `per_s` tokens (0 disables logging).
    pub fn new(per_s: u32) -> Self {
        LogLimiter {
            per_s: u64::from(per_s),
            tokens: u64::from(per_s),
            last_ns: 0,
        }
    }

    /// True when a line may be logged at `now_ns` (and takes a token).
    pub fn allow(&mut self, now_ns: u64) -> bool {
        if self.per_s == 0 {
            return false;
        }
        let elapsed = now_ns.saturating_sub(self.last_ns);
        let refill = elapsed.saturating_mul(self.per_s) / NS_PER_S;
        if refill > 0 {
            self.tokens = (self.tokens + refill).min(self.per_s);
            // Advance by the time the refilled tokens stand for, so fractions
            // of a token are not lost.
            self.last_ns = self.last_ns.saturating_add(refill * NS_PER_S / self.per_s);
            if self.tokens == self.per_s {
                self.last_ns = now_ns;
            }
        }
        if self.tokens > 0 {
            self.tokens -= 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_defaults_and_toml() {
        let s: CsnSettings = toml::from_str("").unwrap();
        assert_eq!(s, CsnSettings::default());
        s.validate().unwrap();
        let s: CsnSettings = toml::from_str("dns_ttl_min_s = 5\nflow_capacity = 10").unwrap();
        assert_eq!(s.dns_ttl_min_s, 5);
        assert_eq!(s.flow_capacity, 10);
        assert_eq!(s.udp_s, 30);
        assert!(toml::from_str::<CsnSettings>("no_such_knob = 1").is_err());
        let bad = CsnSettings {
            dns_ttl_min_s: 10,
            dns_ttl_max_s: 5,
            ..CsnSettings::default()
        };
        assert_eq!(
            bad.validate(),
            Err(SettingsError::TtlRange { min: 10, max: 5 })
        );
        let bad = CsnSettings {
            udp_s: 0,
            ..CsnSettings::default()
        };
        assert_eq!(bad.validate(), Err(SettingsError::Zero { field: "udp_s" }));
    }

    #[test]
    fn counters_names_unique_and_dns_mapped() {
        let mut names: Vec<_> = CsnCounter::ALL.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CsnCounter::COUNT);
        for c in CsnCounter::ALL {
            assert_eq!(CsnCounter::from_name(c.name()), Some(*c));
        }
        // Every DNS error counter name exists here.
        for n in dns::DnsError::COUNTERS {
            assert!(CsnCounter::from_name(n).is_some(), "{n}");
        }
        let e = dns::DnsError::CompressionLoop { offset: 12 };
        assert_eq!(CsnCounter::from_dns_error(&e).name(), e.counter());
    }

    #[test]
    fn log_limiter() {
        let mut l = LogLimiter::new(2);
        assert!(l.allow(0));
        assert!(l.allow(0));
        assert!(!l.allow(1));
        assert!(l.allow(NS_PER_S / 2));
        assert!(!l.allow(NS_PER_S / 2 + 1));
        assert!(l.allow(10 * NS_PER_S));
        assert!(l.allow(10 * NS_PER_S));
        assert!(!l.allow(10 * NS_PER_S));
        assert!(!LogLimiter::new(0).allow(0));
    }
}

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
pub mod stage;

pub use allowlist::{Allowlist, Closest, RuleHits, RuleId, Verdict};
pub use flow::{Direction, FlowKey, FlowTable, FlowTimeouts, TcpState};
pub use learned::{LearnOutcome, LearnedTable};
pub use stage::{CsnDump, CsnTables, CsnWorker, LearnSync};

pub use cnfwd_config::csn::{CsnSettings, SettingsError, NS_PER_S};

/// The flow timeouts of `s` in nanoseconds.
pub fn flow_timeouts(s: &CsnSettings) -> FlowTimeouts {
    let ns = |v: u32| u64::from(v) * NS_PER_S;
    FlowTimeouts {
        tcp_syn_sent: ns(s.tcp_syn_sent_s),
        tcp_syn_recv: ns(s.tcp_syn_recv_s),
        tcp_established: ns(s.tcp_established_s),
        tcp_fin_wait: ns(s.tcp_fin_wait_s),
        tcp_closing: ns(s.tcp_closing_s),
        tcp_close: ns(s.tcp_close_s),
        udp: ns(s.udp_s),
        udp_stream: ns(s.udp_stream_s),
        icmp: ns(s.icmp_s),
        other: ns(s.other_s),
    }
}

crate::counters::named_counters! {
    /// Every counter the CSN module produces.
    pub enum CsnCounter {
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
        /// DNS responses seen on CSN flows and parsed.
        DnsResponses = "dns_responses", "DNS responses from the CSN parsed for learning";
        /// TCP/53 segments that do not hold whole DNS messages (not parsed).
        DnsTcpPartial = "dns_tcp_partial", "TCP/53 segment not holding whole DNS messages (not learned from)";
        /// DNS responses held until every worker installed their addresses.
        DnsHeld = "dns_held", "DNS responses held until every worker installed the learned addresses";
        /// Held DNS responses sent when `dns_hold_max_ms` passed before every
        /// worker acknowledged.
        DnsHoldTimeout = "dns_hold_timeout", "held DNS responses sent after dns_hold_max_ms without every worker's acknowledgement";
        /// DNS responses not held because the worker's hold queue was full.
        DnsHoldOverflow = "dns_hold_overflow", "DNS responses sent without a hold: hold queue full";
        /// Learn messages not delivered to a worker because its queue was full.
        LearnQueueFull = "learn_queue_full", "learned addresses not delivered to a worker: its queue was full";
        /// ICMP errors from the CSN about an existing flow (forwarded).
        IcmpRelated = "icmp_related", "ICMP errors from the CSN quoting a packet of an existing flow";
    }
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

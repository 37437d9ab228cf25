//! Every reason cnfwd drops a packet, declared once: its counter name (as it
//! appears in the stats JSON) and a one-line description, like VPP's `.api`
//! error counters. The hot path sets a [`DropReason`] (one byte); nothing
//! else is built per drop.

crate::counters::named_counters! {
    /// Why a packet was dropped.
    pub enum DropReason {
        /// Shorter than an Ethernet header, or cut inside a VLAN tag.
        EthTruncated = "eth_truncated", "frame shorter than its Ethernet header and VLAN tags";
        /// Tagged frame (VID 1..4094) on an access port.
        TaggedOnAccess = "tagged_on_access", "VLAN-tagged frame on an access port";
        /// Untagged or priority-tagged frame on a trunk port.
        UntaggedOnTrunk = "untagged_on_trunk", "untagged or priority-tagged frame on a trunk port";
        /// The tag's VID is not carried by the port.
        UnknownVlan = "unknown_vlan", "VLAN not carried by the trunk port";
        /// L2: the destination was learned on the ingress port.
        L2SamePort = "l2_same_port", "L2 destination MAC is behind the ingress port";
        /// L2: source MAC multicast, broadcast or all zeros.
        L2InvalidSource = "l2_invalid_source", "L2 source MAC is multicast, broadcast or all zeros (never learned)";
        /// L2: destination in 01:80:C2:00:00:00-0F.
        L2ReservedGroup = "l2_reserved_group", "L2 destination is an IEEE 802.1Q reserved group (01:80:C2:00:00:00-0F: STP, pause, LACP, 802.1X, LLDP); never forwarded";
        /// L2: nowhere to flood.
        L2NoEgress = "l2_no_egress", "L2 network has no other port to flood to";
        /// ARP: not Ethernet/IPv4, or cut short.
        ArpMalformed = "arp_malformed", "ARP message not Ethernet/IPv4, lengths wrong, or truncated";
        /// ARP: the Ethernet source is not the ARP sender.
        ArpSenderMismatch = "arp_sender_mismatch", "ARP with an Ethernet source other than its sender MAC";
        /// ARP: the sender is outside the network's prefix.
        ArpSenderOutside = "arp_sender_outside", "ARP from a sender address outside the network's IPv4 prefix";
        /// ARP request for an address that is not cnfwd's, or another op.
        ArpNotForUs = "arp_not_for_us", "ARP request for an address that is not cnfwd's gateway, or an unknown op";
        /// ARP reply or gratuitous ARP taken by the neighbour table.
        ArpConsumed = "arp_consumed", "ARP reply or gratuitous ARP taken by the neighbour table (not an error)";
        /// Neighbour Discovery message failing RFC 4861 validation.
        NdInvalid = "nd_invalid", "NS/NA failing RFC 4861 validation (hop limit, code, length, checksum, options)";
        /// NS for an address that is not cnfwd's.
        NdNotForUs = "nd_not_for_us", "Neighbour Solicitation for an address that is not cnfwd's";
        /// NA taken by the neighbour table.
        NdConsumed = "nd_consumed", "Neighbour Advertisement taken by the neighbour table (not an error)";
        /// Other ICMPv6 ND/MLD message to cnfwd.
        Icmp6Unsupported = "icmp6_unsupported", "ICMPv6 router/MLD/redirect message to cnfwd (not handled)";
        /// A second VLAN tag inside the network's tag on an L3 network.
        InnerVlanTag = "inner_vlan_tag", "second VLAN tag on an L3 network (QinQ termination not supported)";
        /// EtherType neither IPv4 nor IPv6 on an L3 network.
        NotIp = "not_ip", "EtherType is not IPv4 or IPv6 on an L3 network";
        /// Broadcast or multicast destination MAC on an L3 network.
        L3Multicast = "l3_multicast", "broadcast or multicast frame on an L3 network that is not ARP or ND for cnfwd";
        /// Unicast destination MAC that is not the ingress port's.
        L3MacMismatch = "l3_mac_mismatch", "unicast destination MAC is not the ingress port's MAC";
        /// IPv4 header invalid or truncated.
        Ip4Malformed = "ip4_malformed", "IPv4 version, IHL or total length invalid, or packet truncated";
        /// IPv4 header checksum wrong.
        Ip4BadChecksum = "ip4_bad_checksum", "IPv4 header checksum wrong";
        /// IPv6 header invalid or truncated.
        Ip6Malformed = "ip6_malformed", "IPv6 version invalid or payload length beyond the frame";
        /// IPv4 source no router may forward (RFC 1812 5.3.7).
        MartianSource = "martian_source", "IPv4 source in 0/8, 127/8 or 224/4, limited or the ingress network's directed broadcast, or (found by the reverse-path check) another connected prefix's directed broadcast or one of cnfwd's own addresses";
        /// IPv4 destination no router may forward (RFC 1812 5.3.7).
        MartianDestination = "martian_destination", "IPv4 destination in 0/8 or 127/8, or the limited broadcast 255.255.255.255";
        /// IPv6 source no router may forward (RFC 4291).
        Ip6MartianSource = "ip6_martian_source", "IPv6 source ::, ::1, multicast or IPv4-mapped (::ffff:0:0/96), or (found by the reverse-path check) one of cnfwd's own addresses";
        /// IPv6 destination no router may forward (RFC 4291).
        Ip6MartianDestination = "ip6_martian_destination", "IPv6 destination ::, ::1 or IPv4-mapped (::ffff:0:0/96)";
        /// IPv6 link-local source or destination routed onto another link.
        Ip6ScopeViolation = "ip6_scope_violation", "IPv6 link-local source or destination routed to a network other than the ingress one (RFC 4007)";
        /// To the directed broadcast address of a connected prefix.
        DirectedBroadcast = "directed_broadcast", "IPv4 destination is the directed broadcast address of a connected prefix (RFC 2644: not forwarded)";
        /// Reverse-path filter (the network's `source_check`) refused the source.
        RpfFailed = "rpf_failed", "source fails the network's reverse-path check: no route back (loose), or not through the ingress network (strict)";
        /// Addressed to one of cnfwd's gateway addresses.
        ToGateway = "to_gateway", "addressed to cnfwd: neither ICMP echo nor Neighbour Discovery";
        /// No route in the VRF.
        NoRoute = "no_route", "no route to the destination in the network's VRF";
        /// TTL or hop limit exhausted.
        TtlExpired = "ttl_expired", "TTL or hop limit <= 1 (answered with time exceeded, rate-limited)";
        /// Larger than the egress network's MTU.
        MtuExceeded = "mtu_exceeded", "packet larger than the egress network's MTU";
        /// No MAC for the next hop and no address to ask from.
        NeighborMiss = "neighbor_miss", "no neighbour entry for the next hop, and no gateway address of its family to resolve it from";
        /// Held while resolving, and the resolution failed.
        NeighborUnresolved = "neighbor_unresolved", "held for a next hop that did not answer (host unreachable sent, rate-limited)";
        /// The hold for the next hop (or the worker's) is full.
        NeighborHoldFull = "neighbor_hold_full", "next hop being resolved and its hold (or the worker's) is full";
        /// The egress network is attached to no port.
        NoEgressPort = "no_egress_port", "egress network is not attached to any port";
        /// No buffer (flood copy) or no headroom (tag push).
        NoBuffer = "no_buffer", "no packet buffer or headroom available (flood copy, tag push)";
        /// Egress to the CSN not allowed by the allowlist.
        CsnDenied = "csn_denied", "egress to the CSN: destination, protocol or port not on the allowlist";
        /// From the CSN, matching no flow.
        CsnNoFlow = "csn_no_flow", "from the CSN: matches no flow opened from inside (unsolicited)";
        /// A new CSN flow refused: the worker's flow table is full.
        CsnFlowTableFull = "csn_flow_table_full", "egress to the CSN allowed, but the flow table is full: new flow refused";
        /// The backend's TX queue did not take the packet.
        TxFull = "tx_full", "egress TX queue full: the backend did not take the packet";
        /// The egress port's link is down or its device gone.
        PortDown = "port_down", "egress port down or its device gone (af_packet: interface down or deleted): not sent";
        /// A capture record that could not be turned into an Ethernet frame.
        RxUnconvertible = "rx_unconvertible", "received but not a whole Ethernet frame: a pcap record of another link type, or an AF_PACKET frame truncated by the ring or with a malformed offload header";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for (i, &r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r as usize, i);
            assert!(seen.insert(r.name()), "{}", r.name());
            assert_eq!(DropReason::from_name(r.name()), Some(r));
            assert!(!r.description().is_empty());
        }
    }
}

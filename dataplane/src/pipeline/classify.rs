//! Classification: (ingress port, outermost tag) -> network.

use crate::packet::ethernet::EthView;
use crate::pipeline::drop::DropReason;
use crate::tables::{PortEntry, NO_NETWORK};

/// The network a frame belongs to, or why it belongs to none. A VID-0
/// (priority) tag counts as untagged.
#[inline]
pub fn classify(port: &PortEntry, eth: &EthView) -> Result<u16, DropReason> {
    let vid = eth.vid();
    if !port.trunk {
        if vid != 0 {
            return Err(DropReason::TaggedOnAccess);
        }
        return Ok(port.access_network);
    }
    if vid == 0 {
        return Err(DropReason::UntaggedOnTrunk);
    }
    match port.vlan_map.get(vid as usize) {
        Some(&n) if n != NO_NETWORK => Ok(n),
        _ => Err(DropReason::UnknownVlan),
    }
}

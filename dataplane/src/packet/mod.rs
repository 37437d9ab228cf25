//! Packet buffers, header views and per-packet metadata.
//!
//! Who reads which header:
//!
//! - Ethernet and 802.1Q/802.1ad: cnfwd's own views in [`ethernet`]
//!   (smoltcp has no 802.1Q view).
//! - IPv4: cnfwd's own view in [`parse`] (named field offsets, one length
//!   check, then plain reads), not smoltcp's: the module doc of [`parse`]
//!   gives the measurement, and a property test keeps it in agreement with
//!   smoltcp's checked `Ipv4Packet`.
//! - IPv6: smoltcp's `wire::Ipv6Packet` (zero-copy, `new_checked`), with
//!   the extension-header walk in [`parse`].
//! - TCP/UDP ports, TCP flags, ICMP type/code: read at fixed offsets by
//!   [`parse`] after a length check (best-effort metadata, never a drop).

pub mod buf;
pub mod ethernet;
pub mod fragment;
pub mod meta;
pub mod parse;

pub use buf::{HeapBuf, PacketBuf};
pub use meta::Meta;

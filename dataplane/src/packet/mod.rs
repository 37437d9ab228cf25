//! Packet buffers, header views and per-packet metadata.
//!
//! Header views over IPv4/IPv6/TCP/UDP come from smoltcp's `wire` module
//! (thin, zero-copy, checked constructors); smoltcp has no 802.1Q view, so
//! [`ethernet`] holds cnfwd's own, in the same style.

pub mod buf;
pub mod ethernet;
pub mod fragment;
pub mod meta;
pub mod parse;

pub use buf::{HeapBuf, PacketBuf};
pub use meta::Meta;

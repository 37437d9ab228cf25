//! Raw bindings to the system DPDK.
//!
//! This crate is deliberately empty until the DPDK backend lands: it will hold
//! bindgen output over `libdpdk` (found with pkg-config) and a small C shim for
//! DPDK's `static inline` functions, and nothing else. Nothing in the default
//! build depends on it.
#![no_std]

//! Tools around cnfwd: [`pcapdiff`], the packet-by-packet capture
//! comparison behind `cnfwd-pcapdiff` and the pcap-tests runner,
//! [`ctl`], the command line and rendering of `cnfwdctl`, and [`bench`],
//! `cnfwd-bench`: traffic profiles, a stamped-packet generator and
//! receiver (throughput, loss, reordering, duplicates, latency), the
//! NDR/PDR search, forwarder comparisons and their reports.
#![forbid(unsafe_code)]

pub mod bench;
pub mod ctl;
pub mod pcapdiff;

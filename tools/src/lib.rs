//! Tools around cnfwd: [`pcapdiff`], the packet-by-packet capture
//! comparison behind `cnfwd-pcapdiff` and the pcap-tests runner,
//! [`ctl`], the command line and rendering of `cnfwdctl`, and [`bench`],
//! the traffic generator behind `cnfwd-bench`.
#![forbid(unsafe_code)]

pub mod bench;
pub mod ctl;
pub mod pcapdiff;

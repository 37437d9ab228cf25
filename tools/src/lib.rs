//! Tools around cnfwd. For now: [`pcapdiff`], the packet-by-packet capture
//! comparison behind `cnfwd-pcapdiff` and the pcap-tests runner.
#![forbid(unsafe_code)]

pub mod pcapdiff;

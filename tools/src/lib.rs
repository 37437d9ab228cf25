//! Tools around cnfwd: [`pcapdiff`], the packet-by-packet capture
//! comparison behind `cnfwd-pcapdiff` and the pcap-tests runner, and
//! [`ctl`], the command line and rendering of `cnfwdctl`.
#![forbid(unsafe_code)]

pub mod ctl;
pub mod pcapdiff;

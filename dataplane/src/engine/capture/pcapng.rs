//! The capture file: pcapng written with the `pcap-file` crate's
//! [`PcapNgWriter`] (issue 16: a kept crate over hand-written blocks).
//!
//! Layout: a Section Header Block (`shb_userappl` "cnfwd VERSION"), one
//! Interface Description Block for the captured port (`if_name` the port
//! name, `if_description` its backend and device, link type Ethernet, the
//! capture's snaplen, `if_tsresol` 9: nanoseconds, which is the unit
//! `pcap-file` writes EPB timestamps in), then one Enhanced Packet Block
//! per packet with `epb_flags` inbound (rx, drop) or outbound (tx), and for
//! a drop the comment `drop: <reason>`.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, PcapError};

use super::{Directions, Slot};

/// `epb_flags` direction bits (pcapng: 01 inbound, 10 outbound).
const INBOUND: u32 = 1;
const OUTBOUND: u32 = 2;

/// A pcapng file being written.
pub struct Writer {
    w: PcapNgWriter<BufWriter<File>>,
}

fn io(e: PcapError) -> std::io::Error {
    match e {
        PcapError::IoError(e) => e,
        other => std::io::Error::other(other),
    }
}

impl Writer {
    /// Writes the section header and the interface block of port
    /// `port_name` into `file`.
    pub fn new(
        file: File,
        port_name: &str,
        description: &str,
        snaplen: u32,
    ) -> std::io::Result<Writer> {
        let shb = SectionHeaderBlock {
            options: vec![SectionHeaderOption::UserApplication(Cow::Owned(format!(
                "cnfwd {}",
                env!("CARGO_PKG_VERSION")
            )))],
            ..SectionHeaderBlock::default()
        };
        let mut w = PcapNgWriter::with_section_header(BufWriter::new(file), shb).map_err(io)?;
        let mut options = vec![InterfaceDescriptionOption::IfName(Cow::Owned(
            port_name.to_string(),
        ))];
        if !description.is_empty() {
            options.push(InterfaceDescriptionOption::IfDescription(Cow::Owned(
                description.to_string(),
            )));
        }
        options.push(InterfaceDescriptionOption::IfTsResol(9));
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen,
            options,
        })
        .map_err(io)?;
        w.get_mut().flush()?;
        Ok(Writer { w })
    }

    /// Writes one packet; returns the bytes written.
    pub fn packet(&mut self, slot: &Slot) -> std::io::Result<usize> {
        let flags = if slot.dir == Directions::TX {
            OUTBOUND
        } else {
            INBOUND
        };
        let mut options = vec![EnhancedPacketOption::Flags(flags)];
        if let Some(r) = slot.reason {
            options.push(EnhancedPacketOption::Comment(Cow::Owned(format!(
                "drop: {}",
                r.name()
            ))));
        }
        self.w
            .write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::from_nanos(slot.ts_ns),
                original_len: slot.orig_len,
                data: Cow::Borrowed(slot.bytes()),
                options,
            })
            .map_err(io)
    }

    /// Flushes and syncs the file.
    pub fn finish(self) -> std::io::Result<()> {
        let mut b = self.w.into_inner();
        b.flush()?;
        b.get_ref().sync_data()
    }
}

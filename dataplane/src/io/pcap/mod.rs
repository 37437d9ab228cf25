//! The pcap backend: each port replays a capture (pcap or pcapng) as its RX
//! and writes its TX to a pcap file. Deterministic: the same inputs give the
//! same outputs, byte for byte; output timestamps are the input packets'.
//!
//! - A port without `rx_pcap` receives nothing; one without `tx_pcap`
//!   discards what it transmits (still counted as transmitted), like DPDK's
//!   `net_pcap` without `tx_pcap`.
//! - Capture records that cannot become Ethernet frames (see [`file`]) are
//!   reported through [`Backend::rx_rejected`] and counted as received and
//!   dropped (`rx_unconvertible`).
//! - A damaged capture (truncated, absurd lengths) ends that port's RX after
//!   the readable packets; the error is kept and reported by
//!   [`PcapBackend::input_errors`].

pub mod file;

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use cnfwd_config::{PortBackend, PortId, Resolved};

use crate::io::{Backend, IoError};
use crate::packet::buf::{HeapBuf, HeapPool, PacketBuf};
use file::{CaptureError, CaptureReader, CaptureWriter};

struct PcapPort {
    name: String,
    mac: [u8; 6],
    reader: Option<CaptureReader<BufReader<File>>>,
    writer: Option<CaptureWriter<BufWriter<File>>>,
    rejected: u64,
    error: Option<CaptureError>,
}

/// Ports backed by capture files.
pub struct PcapBackend {
    ports: Vec<PcapPort>,
    pool: HeapPool,
}

impl PcapBackend {
    /// Opens every port's capture files; relative paths are taken from
    /// `base_dir` (the configuration file's folder).
    pub fn open(r: &Resolved, base_dir: &Path) -> Result<Self, IoError> {
        let mut ports = Vec::with_capacity(r.ports.len());
        for p in &r.ports {
            let PortBackend::Pcap { rx, tx } = &p.backend else {
                return Err(IoError::WrongBackend {
                    port: p.name.clone(),
                    backend: p.backend.kind().as_str(),
                    expected: "pcap",
                });
            };
            let err = |source| IoError::Capture {
                port: p.name.clone(),
                source,
            };
            let reader = match rx {
                Some(path) => Some(CaptureReader::open(&base_dir.join(path)).map_err(err)?),
                None => None,
            };
            let writer = match tx {
                Some(path) => Some(CaptureWriter::create(&base_dir.join(path)).map_err(err)?),
                None => None,
            };
            ports.push(PcapPort {
                name: p.name.clone(),
                mac: p.mac.map(|m| m.octets()).unwrap_or_default(),
                reader,
                writer,
                rejected: 0,
                error: None,
            });
        }
        Ok(Self {
            ports,
            pool: HeapPool::new(),
        })
    }

    /// Captures that ended in an error: (port name, error). Their readable
    /// packets were all delivered first.
    pub fn input_errors(&self) -> impl Iterator<Item = (&str, &CaptureError)> {
        self.ports
            .iter()
            .filter_map(|p| p.error.as_ref().map(|e| (p.name.as_str(), e)))
    }
}

impl Backend for PcapBackend {
    type Buf = HeapBuf;

    fn port_count(&self) -> usize {
        self.ports.len()
    }

    fn rx_burst(
        &mut self,
        port: PortId,
        out: &mut Vec<HeapBuf>,
        max: usize,
    ) -> Result<usize, IoError> {
        let Some(p) = self.ports.get_mut(port as usize) else {
            return Ok(0);
        };
        let mut got = 0;
        for _ in 0..max {
            let Some(reader) = p.reader.as_mut() else {
                break;
            };
            match reader.next_frame(p.mac) {
                Ok(Some(frame)) => {
                    let mut buf = self.pool.take(frame.data);
                    buf.timestamp_ns = frame.timestamp_ns;
                    out.push(buf);
                    got += 1;
                }
                Ok(None) => p.reader = None,
                Err(e) if e.is_record_error() => p.rejected += 1,
                Err(e) => {
                    p.error = Some(e);
                    p.reader = None;
                }
            }
        }
        Ok(got)
    }

    fn tx_burst(&mut self, port: PortId, pkts: &mut Vec<HeapBuf>) -> Result<usize, IoError> {
        let Some(p) = self.ports.get_mut(port as usize) else {
            return Ok(0);
        };
        let n = pkts.len();
        for buf in pkts.drain(..) {
            if let Some(w) = p.writer.as_mut() {
                w.write(buf.timestamp_ns, buf.data())
                    .map_err(|source| IoError::Capture {
                        port: p.name.clone(),
                        source,
                    })?;
            }
            self.pool.put(buf);
        }
        Ok(n)
    }

    fn alloc(&mut self, _port: PortId, frame: &[u8]) -> Option<HeapBuf> {
        Some(self.pool.take(frame))
    }

    fn rx_finished(&self, port: PortId) -> bool {
        self.ports
            .get(port as usize)
            .is_none_or(|p| p.reader.is_none())
    }

    fn rx_rejected(&mut self, port: PortId) -> u64 {
        self.ports
            .get_mut(port as usize)
            .map_or(0, |p| std::mem::take(&mut p.rejected))
    }

    fn recycle(&mut self, buf: HeapBuf) {
        self.pool.put(buf);
    }

    fn flush(&mut self) -> Result<(), IoError> {
        for p in &mut self.ports {
            if let Some(w) = p.writer.as_mut() {
                w.flush().map_err(|source| IoError::Capture {
                    port: p.name.clone(),
                    source,
                })?;
            }
        }
        Ok(())
    }
}

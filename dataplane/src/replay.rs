//! Offline mode: load a configuration whose ports are pcap ports, replay
//! every input capture through one worker until all are exhausted, and
//! return the counters. Deterministic: the regression harness.

use std::path::{Path, PathBuf};

use cnfwd_config::{BackendKind, ConfigError, Resolved};

use crate::engine::Worker;
use crate::io::pcap::PcapBackend;
use crate::io::IoError;
use crate::stats::Stats;
use crate::tables::{Tables, TablesError};

/// Why a replay could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configuration's ports are not pcap ports.
    #[error("offline replay needs backend = \"pcap\" ports; this configuration uses {0}")]
    NotPcap(&'static str),
    /// The tables could not be built.
    #[error(transparent)]
    Tables(#[from] TablesError),
    /// A capture could not be opened, read or written.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// What a finished replay reports.
#[derive(Debug)]
pub struct ReplayReport {
    /// The forwarding tables used (names for the stats).
    pub tables: Tables,
    /// All counters.
    pub stats: Stats,
    /// Captures that ended in an error after their readable packets:
    /// (port, message).
    pub input_errors: Vec<(String, String)>,
}

/// Replays the captures of an already-resolved configuration; relative
/// capture paths are taken from `base_dir`.
pub fn replay_resolved(r: &Resolved, base_dir: &Path) -> Result<ReplayReport, ReplayError> {
    if let Some(p) = r
        .ports
        .iter()
        .find(|p| p.backend.kind() != BackendKind::Pcap)
    {
        return Err(ReplayError::NotPcap(p.backend.kind().as_str()));
    }
    let tables = Tables::build(r, &[])?;
    let mut backend = PcapBackend::open(r, base_dir)?;
    let mut worker = Worker::new(&tables, r.burst_size);
    worker.use_packet_clock();
    worker.run_to_completion(&mut backend, &tables)?;
    let input_errors = backend
        .input_errors()
        .map(|(p, e)| (p.to_string(), e.to_string()))
        .collect();
    Ok(ReplayReport {
        tables,
        stats: worker.stats,
        input_errors,
    })
}

/// Loads `config` and replays its captures (paths relative to its folder).
pub fn replay(config: &Path) -> Result<ReplayReport, ReplayError> {
    let (_, r) = cnfwd_config::load(config)?;
    let base: PathBuf = config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    replay_resolved(&r, &base)
}

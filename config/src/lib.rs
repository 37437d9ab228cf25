//! cnfwd's network model.
//!
//! The operator writes a TOML file whose resources mirror the platform's
//! (ports, L2/L3/trunked networks, L3 isolation domains, the cloud services
//! network). [`load`] reads it, [`parse`] checks its syntax (errors point at
//! line and column), and [`resolve`] checks every rule of the model (errors
//! name the field path and the value) and turns names into indices: the
//! [`Resolved`] model the data plane builds its tables from.
//!
//! This crate does no I/O beyond reading the file, and, for ports that name
//! a Kubernetes network attachment or device-plugin resource, the pod's
//! annotations file and environment ([`attachment`]).
#![forbid(unsafe_code)]

pub mod attachment;
pub mod csn;
pub mod edit;
pub mod egress;
mod error;
pub mod mac;
pub mod model;
mod resolve;
pub mod resolved;
pub mod slow_path;

use std::path::Path;

pub use csn::CsnSettings;
pub use error::{ConfigError, FieldError};
pub use mac::MacAddr;
pub use model::{BackendKind, Config, SourceCheck};
pub use resolve::{resolve, resolve_in, BURST_MAX, MTU_MAX, MTU_MIN};
pub use resolved::*;
pub use slow_path::SlowPathSettings;

/// Parses TOML text into the model. `origin` names the text in errors (a path
/// or `<input>`). Checks syntax and types only; see [`resolve`].
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ConfigError::Syntax {
            origin: origin.to_string(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })
}

/// Reads, parses and validates a configuration file. Ports naming a
/// network attachment or resource resolve in the process's pod
/// ([`attachment::process_pod`]).
pub fn load(path: &Path) -> Result<(Config, Resolved), ConfigError> {
    load_with(path, &|| attachment::process_pod())
}

/// [`load`] in the pod given.
pub fn load_in(path: &Path, pod: &attachment::Pod) -> Result<(Config, Resolved), ConfigError> {
    load_with(path, &|| pod)
}

fn load_with<'p>(
    path: &Path,
    pod: &dyn Fn() -> &'p attachment::Pod,
) -> Result<(Config, Resolved), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let config = parse(&text, &path.display().to_string())?;
    let resolved = resolve::resolve_with(&config, pod).map_err(ConfigError::Invalid)?;
    Ok((config, resolved))
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

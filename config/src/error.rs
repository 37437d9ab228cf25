//! Configuration errors: they name the file position or the field path and
//! the offending value, so an operator can fix the file without reading code.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong loading a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or a value has the wrong type.
    #[error("{origin}:{line}:{column}: {message}")]
    Syntax {
        /// File name (or `<input>`).
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the TOML parser said.
        message: String,
    },
    /// The file parsed but violates the model's rules; every violation found.
    #[error("{}", Invalid(.0))]
    Invalid(Vec<FieldError>),
}

struct Invalid<'a>(&'a [FieldError]);

impl fmt::Display for Invalid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration ({} error", self.0.len())?;
        if self.0.len() != 1 {
            write!(f, "s")?;
        }
        write!(f, "):")?;
        for e in self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// One rule violation: the field path (`l3_networks[2].vlan`), the value
/// found there, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} = {value}: {reason}")]
pub struct FieldError {
    /// Path of the field, e.g. `ports[0].networks`.
    pub field: String,
    /// The offending value as written (quoted for strings).
    pub value: String,
    /// What rule it breaks.
    pub reason: String,
}

impl FieldError {
    /// Builds an error; `value` is rendered with `Debug` for strings so quotes show.
    pub fn new(
        field: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

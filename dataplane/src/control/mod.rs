//! The management plane: the telemetry socket server, its client, and the
//! Prometheus endpoint.
//!
//! - [`telemetry`]: the DPDK telemetry v2 protocol (greeting, requests,
//!   single-key replies) and the [`Handler`] trait commands plug into;
//! - [`socket`]: [`Server`], a single-threaded non-blocking `SOCK_SEQPACKET`
//!   server driven from the control thread's loop by [`Server::poll`];
//! - [`auth`]: who may run read and write commands (`SO_PEERCRED`, groups);
//! - [`capture`]: `/capture/*`, live packet capture into a pcapng file;
//! - [`commands`]: the commands of a running cnfwd (ports, routes,
//!   neighbours, config apply/save, trace...);
//! - [`ethdev`]: DPDK's standard `/ethdev/*` and `/eal/*` telemetry
//!   endpoints beside cnfwd's commands;
//! - [`client`]: a blocking client of the same protocol (`cnfwdctl`, tests);
//! - [`metrics`]: Prometheus text exposition and a small HTTP server (also
//!   serving the probes `/healthz` and `/readyz`);
//! - [`health`]: liveness and readiness of a live run (the probes and
//!   `/health`);
//! - [`notify`]: the systemd notification protocol (`NOTIFY_SOCKET`);
//! - [`save`]: replacing a file atomically, keeping a backup (`/config/save`);
//! - [`peer_read`]: reading a file a client names, only if the client may
//!   (`/config/apply,{"path"}`);
//! - [`changes`]: what a `/config/apply` changed.
//!
//! Plugging commands in: implement [`Handler`] (list [`CommandInfo`]s, run
//! one in [`Handler::call`], parse parameters with [`Params::parse`]), bind a
//! [`Server`] with a [`ServerConfig`] and call [`Server::poll`] from the
//! control thread's loop with a short timeout.

pub mod auth;
pub mod capture;
pub mod changes;
pub mod client;
pub mod commands;
pub mod ethdev;
pub mod health;
pub mod metrics;
pub mod notify;
pub mod peer_read;
pub mod save;
pub mod socket;
pub mod telemetry;

pub use auth::{GroupSpec, ReadAccess};
pub use client::{Client, ClientError};
pub use metrics::{MetricsServer, WorkerMetrics};
pub use socket::{Server, ServerConfig, ServerStats};
pub use telemetry::{Access, CommandError, CommandInfo, Handler, Params, Peer};

use std::path::PathBuf;

/// What went wrong setting up or running the management servers (never a
/// client's bad request: those get an error reply).
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Another process serves the socket path.
    #[error("another cnfwd is serving {}{}; stop it or choose another socket path", path.display(), match pid { Some(p) => format!(" (pid {p})"), None => String::new() })]
    InUse {
        /// The socket path.
        path: PathBuf,
        /// The pid from its greeting, if it sent one.
        pid: Option<u64>,
    },
    /// Something that is not a cnfwd socket is at the path (a regular file,
    /// a stream socket): left alone.
    #[error("{}: {what}; not replacing it", path.display())]
    PathTaken {
        /// The path.
        path: PathBuf,
        /// What is there.
        what: String,
    },
    /// A group name not in the group database.
    #[error("group {0:?} does not exist")]
    UnknownGroup(String),
    /// The group database could not be read.
    #[error("looking up group {group:?}: {source}")]
    GroupLookup {
        /// The group.
        group: String,
        /// The error.
        source: std::io::Error,
    },
    /// A configuration value that cannot work.
    #[error("invalid control configuration: {0}")]
    Config(String),
    /// A system call failed; `context` says which and on what.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (e.g. `binding /run/cnfwd/cnfwd.sock`).
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

impl ControlError {
    pub(crate) fn io(context: impl Into<String>, source: impl Into<std::io::Error>) -> Self {
        ControlError::Io {
            context: context.into(),
            source: source.into(),
        }
    }
}

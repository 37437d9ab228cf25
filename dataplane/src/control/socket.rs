//! The management socket server: `SOCK_SEQPACKET` on a Unix path, DPDK
//! telemetry v2 framing (see [`super::telemetry`]), driven by
//! [`Server::poll`] from the control thread's loop.
//!
//! Guarantees:
//!
//! - Nothing blocks on a client. Every fd is non-blocking; one `poll(2)`
//!   (bounded by the caller's timeout) covers the listeners and all clients.
//!   An idle client costs one fd and nothing else.
//! - A reply the socket cannot take now is kept (at most one per client) and
//!   sent when the client becomes writable; meanwhile that client's further
//!   requests wait in its socket (the kernel then blocks the client, not
//!   us). A client that never reads therefore holds at most one reply in
//!   memory (at most `max_output_len` bytes; `pending_bytes` in
//!   [`ServerStats`]), and only until [`ServerConfig::stall_timeout`].
//! - No client holds a slot for ever: one that sends no request for
//!   [`ServerConfig::idle_timeout`] (default 60 s, like an sshd or VPP CLI
//!   session timeout) is closed (`idle_closed`), and one whose waiting reply
//!   the socket has not taken for [`ServerConfig::stall_timeout`] (default
//!   10 s: it does not read) is closed (`stalled_closed`). Either is sent
//!   `{"error": "..."}` saying why first, when its socket takes it. A client
//!   that hangs up, or dies, mid-request frees its slot at the next round;
//!   sends use `MSG_NOSIGNAL`, so its death is never a `SIGPIPE` here.
//! - Each request gets exactly one reply, in order. Bad input (too large,
//!   not UTF-8, not `/command`, unknown command, bad parameters, refused)
//!   gets an error reply and the connection stays usable.
//! - A reply larger than the client's `max_output_len` (from the greeting)
//!   is replaced by an error reply saying so. `SO_SNDBUF` is raised (forced
//!   when privileged) so replies up to `max_output_len` fit in one message;
//!   if the kernel grants less, the greeting announces the smaller limit.
//! - A panicking [`Handler::call`] becomes an error reply and is counted;
//!   the server keeps serving.
//! - At most [`ServerConfig::max_clients`] clients: one more is sent
//!   `{"error": "..."}` and closed (counted in `rejected_clients`).
//! - One round of [`Server::poll`] spends about [`ROUND_BUDGET`] answering
//!   (at least one request): clients left over are served first next round,
//!   so slow commands (a route added to a million-route VRF) neither starve
//!   a client nor keep the caller from checking its stop flag.

use std::collections::HashSet;
use std::io::ErrorKind;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    bind, connect, getsockopt, listen, recv, send, setsockopt, socket, sockopt, AddressFamily,
    Backlog, MsgFlags, SockFlag, SockType, UnixAddr,
};
use nix::unistd::{chown, Gid};
use serde_json::{json, Value};

use super::auth::{GroupSpec, Policy, ReadAccess, Rights};
use super::telemetry::{
    error_reply, greeting, parse_request, reply, reply_key, version, Access, CommandInfo, Handler,
    Params, Peer,
};
use super::ControlError;

/// The default socket path.
pub const DEFAULT_SOCKET_PATH: &str = "/run/cnfwd/cnfwd.sock";
/// The default largest request (1 MiB).
pub const DEFAULT_MAX_REQUEST: usize = 1 << 20;
/// The default largest reply (1 MiB).
pub const DEFAULT_MAX_OUTPUT_LEN: usize = 1 << 20;
/// The default client cap.
pub const DEFAULT_MAX_CLIENTS: usize = 16;
/// Requests read from one client per [`Server::poll`] round, so that one
/// busy client cannot starve the others.
const REQUESTS_PER_ROUND: usize = 16;
/// Clients accepted per listener per round.
const ACCEPTS_PER_ROUND: usize = 64;
/// How long [`Server::bind`] waits for a live server's greeting (its pid).
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// The default [`ServerConfig::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default [`ServerConfig::stall_timeout`].
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Time one [`Server::poll`] round spends answering requests before it
/// leaves the other ready clients to the next round (at least one request
/// is answered per round).
pub const ROUND_BUDGET: Duration = Duration::from_millis(20);

/// Where and how to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The socket path; parent directories are created.
    pub path: PathBuf,
    /// A second path served the same way, for tools that look for DPDK's
    /// socket (see [`dpdk_telemetry_path`]).
    pub dpdk_path: Option<PathBuf>,
    /// The socket file's mode (default 0o660).
    pub mode: u32,
    /// Most clients connected at once (at least 1).
    pub max_clients: usize,
    /// Members may run write commands (uid 0 always may). The socket file's
    /// group is set to it (else to the read group, if any).
    pub write_group: Option<GroupSpec>,
    /// Who may run read commands besides writers. A read group other than
    /// the socket file's group needs a `mode` that lets its members connect.
    pub read_access: ReadAccess,
    /// Largest request in bytes; a larger one gets an error reply.
    pub max_request: usize,
    /// Largest reply in bytes, announced in the greeting.
    pub max_output_len: usize,
    /// Close a client that sent no request for this long while no reply
    /// of its was waiting (None or zero: never).
    pub idle_timeout: Option<Duration>,
    /// Close a client whose reply has waited this long for its socket to
    /// take it, i.e. that does not read (None or zero: never).
    pub stall_timeout: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from(DEFAULT_SOCKET_PATH),
            dpdk_path: None,
            mode: 0o660,
            max_clients: DEFAULT_MAX_CLIENTS,
            write_group: None,
            read_access: ReadAccess::Writers,
            max_request: DEFAULT_MAX_REQUEST,
            max_output_len: DEFAULT_MAX_OUTPUT_LEN,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            stall_timeout: Some(DEFAULT_STALL_TIMEOUT),
        }
    }
}

/// Where DPDK's EAL puts the telemetry socket for `file_prefix`, and so
/// where `dpdk-telemetry.py -f <file_prefix>` looks:
/// `$RUNTIME_DIRECTORY/dpdk/<prefix>/dpdk_telemetry.v2`, with
/// `RUNTIME_DIRECTORY` defaulting to `/var/run` for root and to
/// `$XDG_RUNTIME_DIR` (else `/tmp`) for others.
pub fn dpdk_telemetry_path(file_prefix: &str) -> PathBuf {
    let run_dir = std::env::var_os("RUNTIME_DIRECTORY")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            if nix::unistd::geteuid().is_root() {
                PathBuf::from("/var/run")
            } else {
                std::env::var_os("XDG_RUNTIME_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/tmp"))
            }
        });
    run_dir
        .join("dpdk")
        .join(file_prefix)
        .join("dpdk_telemetry.v2")
}

/// Counters of the server since [`Server::bind`]. `clients` is current;
/// the others only grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerStats {
    /// Clients connected now.
    pub clients: u64,
    /// Clients accepted.
    pub accepted: u64,
    /// Clients turned away because `max_clients` were connected.
    pub rejected_clients: u64,
    /// Requests received (including bad ones).
    pub requests: u64,
    /// Error replies sent for any reason (a subset of `requests`).
    pub errors: u64,
    /// Requests refused for lack of rights (also in `errors`).
    pub refused: u64,
    /// Requests over `max_request` (also in `errors`).
    pub too_large: u64,
    /// Replies over `max_output_len`, replaced by an error (also in `errors`).
    pub oversized_replies: u64,
    /// Handler calls that panicked (also in `errors`).
    pub handler_panics: u64,
    /// Replies the socket could not take at once, kept and sent later.
    pub queued_replies: u64,
    /// Clients closed after `idle_timeout` without a request.
    pub idle_closed: u64,
    /// Clients closed because a reply waited `stall_timeout` for them to
    /// read.
    pub stalled_closed: u64,
    /// Bytes of replies waiting for their client now (at most
    /// `max_output_len` per client).
    pub pending_bytes: u64,
}

struct Listener {
    sock: UnixListener,
    path: PathBuf,
    /// (dev, inode) of the socket file we created: removed on drop only if
    /// it is still ours.
    id: (u64, u64),
}

struct Client {
    fd: OwnedFd,
    peer: Peer,
    rights: Rights,
    /// Largest reply this client was promised (greeting).
    max_out: usize,
    /// A reply waiting for the socket to take it.
    pending: Option<Vec<u8>>,
    /// When the client connected or last sent a request.
    last_request: Instant,
    /// Since when `pending` has been waiting.
    pending_since: Instant,
}

impl Client {
    /// Why this client must be closed now, if it must: the counter to
    /// bump and the notice it is sent.
    fn expired(
        &self,
        now: Instant,
        idle: Option<Duration>,
        stall: Option<Duration>,
    ) -> Option<Expiry> {
        match (&self.pending, idle, stall) {
            (Some(_), _, Some(t)) if now.duration_since(self.pending_since) >= t => {
                Some(Expiry::Stalled(t))
            }
            (None, Some(t), _) if now.duration_since(self.last_request) >= t => {
                Some(Expiry::Idle(t))
            }
            _ => None,
        }
    }
}

/// Why a client was closed by the server.
#[derive(Debug, Clone, Copy)]
enum Expiry {
    Idle(Duration),
    Stalled(Duration),
}

impl Expiry {
    fn notice(self) -> Vec<u8> {
        let why = match self {
            Expiry::Idle(t) => format!(
                "closed by the server: no request for {} (control.client_idle_timeout_s)",
                secs(t)
            ),
            Expiry::Stalled(t) => format!(
                "closed by the server: a reply waited {} for this client to read it (control.client_stall_timeout_s)",
                secs(t)
            ),
        };
        json!({ "error": why }).to_string().into_bytes()
    }
}

/// `1.5 s`, `60 s`.
fn secs(t: Duration) -> String {
    format!("{} s", t.as_secs_f64())
}

/// The management socket server. Dropping it closes every client and
/// removes the socket files it created.
pub struct Server {
    listeners: Vec<Listener>,
    clients: Vec<Client>,
    policy: Policy,
    max_clients: usize,
    max_request: usize,
    max_output_len: usize,
    idle_timeout: Option<Duration>,
    stall_timeout: Option<Duration>,
    /// The client served first in the next round (fairness when a round
    /// runs out of [`ROUND_BUDGET`]).
    first: usize,
    write_group: Option<u32>,
    stats: ServerStats,
    buf: Vec<u8>,
    started: Instant,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("paths", &self.paths())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

enum Served {
    Alive,
    Closed,
}

const BUILTINS: &[CommandInfo] = &[
    CommandInfo {
        name: "/",
        help: "Returns the list of commands",
        access: Access::Read,
    },
    CommandInfo {
        name: "/help",
        help: "Returns help text for a command. Parameters: string command",
        access: Access::Read,
    },
    CommandInfo {
        name: "/info",
        help: "Returns the version, pid, uptime, max output length and the socket's counters (clients, rejected, idle and stalled clients closed)",
        access: Access::Read,
    },
];

impl Server {
    /// Binds the socket(s): creates parent directories, replaces a stale
    /// socket file (nobody accepts on it), refuses a live one
    /// ([`ControlError::InUse`], with the pid from its greeting) or anything
    /// that is not a socket ([`ControlError::PathTaken`]), sets the mode and
    /// group, then listens. Groups are resolved here.
    pub fn bind(config: &ServerConfig) -> Result<Server, ControlError> {
        if config.max_clients == 0 {
            return Err(ControlError::Config(
                "max_clients must be at least 1".into(),
            ));
        }
        if config.max_request == 0 || config.max_output_len < 1024 {
            return Err(ControlError::Config(
                "max_request must be positive and max_output_len at least 1024".into(),
            ));
        }
        let policy = Policy::resolve(config.write_group.as_ref(), &config.read_access)?;
        let file_group = policy.write_gid.or(match policy.read {
            super::auth::ResolvedRead::Gid(g) => Some(g),
            _ => None,
        });
        let mut server = Server {
            listeners: Vec::new(),
            clients: Vec::new(),
            write_group: policy.write_gid,
            policy,
            max_clients: config.max_clients,
            max_request: config.max_request,
            max_output_len: config.max_output_len,
            idle_timeout: config.idle_timeout.filter(|t| !t.is_zero()),
            stall_timeout: config.stall_timeout.filter(|t| !t.is_zero()),
            first: 0,
            stats: ServerStats::default(),
            buf: vec![0; config.max_request],
            started: Instant::now(),
        };
        let paths = std::iter::once(&config.path).chain(config.dpdk_path.as_ref());
        for path in paths {
            // On error, `server` drops and removes what was already bound.
            let l = bind_listener(path, config.mode, file_group, config.max_clients)?;
            server.listeners.push(l);
        }
        Ok(server)
    }

    /// The paths served.
    pub fn paths(&self) -> Vec<&Path> {
        self.listeners.iter().map(|l| l.path.as_path()).collect()
    }

    /// Counters since bind (`clients` and `pending_bytes` as of now).
    pub fn stats(&self) -> ServerStats {
        self.live_stats()
    }

    fn live_stats(&self) -> ServerStats {
        ServerStats {
            clients: self.clients.len() as u64,
            pending_bytes: self
                .clients
                .iter()
                .filter_map(|c| c.pending.as_ref())
                .map(|p| p.len() as u64)
                .sum(),
            ..self.stats
        }
    }

    /// Waits at most `timeout` for activity, then accepts new clients,
    /// answers ready requests (up to 16 per client, about [`ROUND_BUDGET`]
    /// in all per call), flushes pending replies and closes clients past
    /// their idle or stall timeout. Never blocks on a client. Returns early
    /// (with `Ok`) when a signal interrupts the wait. Errors only when
    /// `poll(2)` itself fails.
    pub fn poll(
        &mut self,
        timeout: Duration,
        handler: &mut impl Handler,
    ) -> Result<(), ControlError> {
        let nl = self.listeners.len();
        let ready = {
            let mut fds = Vec::with_capacity(nl + self.clients.len());
            for l in &self.listeners {
                fds.push(PollFd::new(l.sock.as_fd(), PollFlags::POLLIN));
            }
            for c in &self.clients {
                let ev = if c.pending.is_some() {
                    PollFlags::POLLOUT
                } else {
                    PollFlags::POLLIN
                };
                fds.push(PollFd::new(c.fd.as_fd(), ev));
            }
            // Wake in time to close the first client that expires.
            let timeout = match self.next_expiry() {
                Some(at) => timeout.min(at.saturating_duration_since(Instant::now())),
                None => timeout,
            };
            // Round up so that a sub-millisecond timeout still waits.
            let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            match nix::poll::poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(0) | Err(Errno::EINTR) => vec![PollFlags::empty(); fds.len()],
                Ok(_) => fds
                    .iter()
                    .map(|f| f.revents().unwrap_or(PollFlags::empty()))
                    .collect::<Vec<_>>(),
                Err(e) => return Err(ControlError::io("poll on the management socket", e)),
            }
        };
        let round_end = Instant::now() + ROUND_BUDGET;
        let n = self.clients.len();
        let start = if n == 0 { 0 } else { self.first % n };
        let mut closed = HashSet::new();
        let mut out_of_time = None;
        for ci in (start..n).chain(0..start) {
            let ev = ready[nl + ci];
            if ev.is_empty() {
                continue;
            }
            if out_of_time.is_none() && Instant::now() >= round_end {
                // Served first next round; its readiness persists.
                out_of_time = Some(ci);
            }
            let may_serve = out_of_time.is_none();
            if ev.contains(PollFlags::POLLOUT) && !self.flush(ci) {
                closed.insert(ci);
                continue;
            }
            let readable = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
            if may_serve && ev.intersects(readable) && self.clients[ci].pending.is_none() {
                if let Served::Closed = self.serve(ci, handler, round_end) {
                    closed.insert(ci);
                }
            }
            if ev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
                && self.clients[ci].pending.is_some()
            {
                // Gone with a reply pending: nobody will read it.
                closed.insert(ci);
            }
        }
        self.first = out_of_time.unwrap_or(start);
        let now = Instant::now();
        for (ci, c) in self.clients.iter().enumerate() {
            if closed.contains(&ci) {
                continue;
            }
            if let Some(why) = c.expired(now, self.idle_timeout, self.stall_timeout) {
                match why {
                    Expiry::Idle(_) => self.stats.idle_closed += 1,
                    Expiry::Stalled(_) => self.stats.stalled_closed += 1,
                }
                // Best effort: a stalled client's buffer is likely full.
                let _ = send(
                    c.fd.as_raw_fd(),
                    &why.notice(),
                    MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
                );
                closed.insert(ci);
            }
        }
        if !closed.is_empty() {
            let mut i = 0;
            self.clients.retain(|_| {
                let keep = !closed.contains(&i);
                i += 1;
                keep
            });
            // Keep `first` on the client it named, or the one after.
            let removed_before = closed.iter().filter(|&&c| c < self.first).count();
            self.first -= removed_before;
        }
        for (li, &ev) in ready[..nl].iter().enumerate() {
            if ev.contains(PollFlags::POLLIN) {
                self.accept(li);
            }
        }
        self.stats = self.live_stats();
        Ok(())
    }

    /// When the first client reaches its idle or stall timeout.
    fn next_expiry(&self) -> Option<Instant> {
        self.clients
            .iter()
            .filter_map(
                |c| match (&c.pending, self.idle_timeout, self.stall_timeout) {
                    (Some(_), _, Some(t)) => Some(c.pending_since + t),
                    (None, Some(t), _) => Some(c.last_request + t),
                    _ => None,
                },
            )
            .min()
    }

    fn accept(&mut self, li: usize) {
        for _ in 0..ACCEPTS_PER_ROUND {
            let stream = match self.listeners[li].sock.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: the client stays in the backlog.
                    static ACCEPT_ERRORS: crate::log_limit::LogEvery =
                        crate::log_limit::LogEvery::new();
                    if let Some(n) = ACCEPT_ERRORS.tick() {
                        tracing::error!(error = %e, occurrences = n, "control: accept: {e}");
                    }
                    return;
                }
            };
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            let fd = OwnedFd::from(stream);
            if self.clients.len() >= self.max_clients {
                self.stats.rejected_clients += 1;
                // A client can do this in a loop: the 1st, 2nd, 4th... only.
                let n = self.stats.rejected_clients;
                if n.is_power_of_two() {
                    tracing::warn!(
                        max_clients = self.max_clients,
                        rejected_clients = n,
                        "control: client turned away: {} clients connected already ({n} turned away so far)",
                        self.max_clients
                    );
                }
                let msg = json!({
                    "error": format!("too many clients (max {}); try again later", self.max_clients)
                });
                let _ = send(
                    fd.as_raw_fd(),
                    msg.to_string().as_bytes(),
                    MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
                );
                continue;
            }
            let peer = match getsockopt(&fd, sockopt::PeerCredentials) {
                Ok(c) => Peer {
                    pid: c.pid(),
                    uid: c.uid(),
                    gid: c.gid(),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "control: SO_PEERCRED: {e}; closing the client");
                    continue;
                }
            };
            let rights = self.policy.rights(&peer);
            let max_out = grow_send_buffer(&fd, self.max_output_len);
            let hello = greeting(std::process::id(), max_out);
            match send(
                fd.as_raw_fd(),
                &hello,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
            ) {
                Ok(_) => {}
                Err(_) => continue,
            }
            self.stats.accepted += 1;
            self.clients.push(Client {
                fd,
                peer,
                rights,
                max_out,
                pending: None,
                last_request: Instant::now(),
                pending_since: Instant::now(),
            });
        }
    }

    /// Reads and answers up to [`REQUESTS_PER_ROUND`] requests, and no
    /// more once `round_end` has passed (at least one).
    fn serve(&mut self, ci: usize, handler: &mut impl Handler, round_end: Instant) -> Served {
        for i in 0..REQUESTS_PER_ROUND {
            if i > 0 && Instant::now() >= round_end {
                return Served::Alive;
            }
            let fd = self.clients[ci].fd.as_raw_fd();
            // MSG_TRUNC: the result is the message's real length, so an
            // oversized request is recognised (and its excess discarded).
            let n = match recv(
                fd,
                &mut self.buf,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC,
            ) {
                Ok(n) => n,
                Err(Errno::EAGAIN) => return Served::Alive,
                Err(Errno::EINTR) => continue,
                Err(_) => return Served::Closed,
            };
            if n == 0 && peer_hung_up(&self.clients[ci].fd) {
                return Served::Closed;
            }
            self.clients[ci].last_request = Instant::now();
            let out = if n > self.max_request {
                self.stats.requests += 1;
                self.stats.too_large += 1;
                self.stats.errors += 1;
                let key = match parse_request(&self.buf[..self.max_request.min(1024)]) {
                    Ok(r) => reply_key(r.command),
                    Err((k, _)) => k,
                };
                error_reply(
                    &key,
                    &format!(
                        "request of {n} bytes is larger than the limit of {} bytes",
                        self.max_request
                    ),
                )
            } else {
                let msg = self.buf[..n].to_vec();
                self.answer(ci, &msg, handler)
            };
            match self.send_reply(ci, out) {
                Served::Alive if self.clients[ci].pending.is_some() => return Served::Alive,
                Served::Alive => {}
                Served::Closed => return Served::Closed,
            }
        }
        Served::Alive
    }

    /// The reply message for one request (never fails: errors are replies).
    fn answer(&mut self, ci: usize, msg: &[u8], handler: &mut impl Handler) -> Vec<u8> {
        self.stats.requests += 1;
        let req = match parse_request(msg) {
            Ok(r) => r,
            Err((key, e)) => {
                self.stats.errors += 1;
                return error_reply(&key, &e);
            }
        };
        let key = reply_key(req.command);
        let info = BUILTINS
            .iter()
            .chain(handler.commands().iter())
            .find(|c| c.name == req.command)
            .copied();
        let Some(info) = info else {
            self.stats.errors += 1;
            return error_reply(
                &key,
                &format!("unknown command {key:?}; \"/\" lists the commands"),
            );
        };
        let client = &self.clients[ci];
        if !client.rights.allows(info.access) {
            self.stats.refused += 1;
            self.stats.errors += 1;
            let peer = client.peer;
            // A client can repeat this in a loop: the 1st, 2nd, 4th... only.
            if self.stats.refused.is_power_of_two() {
                tracing::warn!(
                    command = %key,
                    access = info.access.name(),
                    uid = peer.uid,
                    gid = peer.gid,
                    pid = peer.pid,
                    refused = self.stats.refused,
                    "control: refused {} ({} command) for uid {} gid {} pid {}",
                    key,
                    info.access.name(),
                    peer.uid,
                    peer.gid,
                    peer.pid
                );
            }
            let who = match (info.access, self.write_group) {
                (Access::Write, Some(g)) => format!("uid 0 or group {g}"),
                (Access::Write, None) => "uid 0".to_string(),
                (Access::Read, _) => "read access".to_string(),
            };
            return error_reply(
                &key,
                &format!(
                    "permission denied: {key} is a {} command and needs {who} (you are uid {})",
                    info.access.name(),
                    peer.uid
                ),
            );
        }
        let params = Params::new(req.params);
        let result = match info.name {
            "/" => Ok(self.list(handler)),
            "/help" => self.help(params, handler),
            "/info" => Ok(json!({
                "version": version(),
                "pid": std::process::id(),
                "uptime_seconds": self.started.elapsed().as_secs(),
                "max_output_len": client.max_out,
                "socket": self.live_stats(),
            })),
            name => {
                let peer = client.peer;
                match catch_unwind(AssertUnwindSafe(|| handler.call(name, params, &peer))) {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(_) => {
                        self.stats.handler_panics += 1;
                        tracing::error!(command = %key, "control: command {key} panicked");
                        Err(format!("internal error: {key} failed unexpectedly"))
                    }
                }
            }
        };
        let out = match result {
            Ok(v) => reply(&key, v),
            Err(e) => {
                self.stats.errors += 1;
                return error_reply(&key, &e);
            }
        };
        let max_out = self.clients[ci].max_out;
        if out.len() > max_out {
            self.stats.oversized_replies += 1;
            self.stats.errors += 1;
            return error_reply(
                &key,
                &format!(
                    "reply of {} bytes is larger than max_output_len ({max_out}); narrow the request, or ask for pages if it takes offset and limit (/help,{key})",
                    out.len()
                ),
            );
        }
        out
    }

    fn list(&self, handler: &impl Handler) -> Value {
        let mut names: Vec<&str> = BUILTINS
            .iter()
            .chain(handler.commands().iter())
            .map(|c| c.name)
            .collect();
        names.sort_unstable();
        names.dedup();
        json!(names)
    }

    fn help(&self, params: Params<'_>, handler: &impl Handler) -> Result<Value, String> {
        let raw = params.raw().map(str::trim).unwrap_or("");
        // Accept `/help,/x` (DPDK) and `/help,"/x"` (JSON).
        let name = match serde_json::from_str::<String>(raw) {
            Ok(s) => s,
            Err(_) => raw.to_string(),
        };
        if name.is_empty() {
            return Err("usage: /help,/command".into());
        }
        let info = BUILTINS
            .iter()
            .chain(handler.commands().iter())
            .find(|c| c.name == name)
            .ok_or_else(|| {
                format!(
                    "unknown command {:?}; \"/\" lists the commands",
                    reply_key(&name)
                )
            })?;
        Ok(json!({ info.name: info.help }))
    }

    /// Sends (or queues) one reply. `Closed` when the client is gone.
    fn send_reply(&mut self, ci: usize, out: Vec<u8>) -> Served {
        let c = &mut self.clients[ci];
        match send(
            c.fd.as_raw_fd(),
            &out,
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        ) {
            Ok(_) => Served::Alive,
            Err(Errno::EAGAIN) | Err(Errno::ENOBUFS) | Err(Errno::EINTR) => {
                c.pending = Some(out);
                c.pending_since = Instant::now();
                self.stats.queued_replies += 1;
                Served::Alive
            }
            Err(Errno::EMSGSIZE) => {
                // The kernel shrank the buffer under us: say so, small.
                self.stats.oversized_replies += 1;
                self.stats.errors += 1;
                let key = reply_key(&first_key(&out));
                let msg = error_reply(
                    &key,
                    &format!(
                        "reply of {} bytes does not fit the socket buffer; narrow the request",
                        out.len()
                    ),
                );
                self.send_reply(ci, msg)
            }
            Err(_) => Served::Closed,
        }
    }

    /// Sends a pending reply; false when the client is gone.
    fn flush(&mut self, ci: usize) -> bool {
        let since = self.clients[ci].pending_since;
        match self.clients[ci].pending.take() {
            Some(out) => {
                let queued = self.stats.queued_replies;
                let alive = matches!(self.send_reply(ci, out), Served::Alive);
                if self.clients[ci].pending.is_some() {
                    // Still waiting: the same reply, the same stall clock.
                    self.clients[ci].pending_since = since;
                    self.stats.queued_replies = queued;
                }
                alive
            }
            None => true,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for l in &self.listeners {
            if let Ok(m) = std::fs::symlink_metadata(&l.path) {
                if (m.dev(), m.ino()) == l.id {
                    let _ = std::fs::remove_file(&l.path);
                }
            }
        }
    }
}

/// The key of a reply we built (for the EMSGSIZE fallback).
fn first_key(out: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Map<String, Value>>(out)
        .ok()
        .and_then(|m| m.keys().next().cloned())
        .unwrap_or_default()
}

/// After a zero-length read: did the peer close (else it sent an empty
/// message, which gets an error reply)?
fn peer_hung_up(fd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    match nix::poll::poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLHUP)),
        Err(_) => true,
    }
}

/// Raises `SO_SNDBUF` so that one message of `want` bytes fits (the kernel
/// refuses a datagram larger than the buffer less 32 bytes), forcing it when
/// privileged. Returns the largest reply that fits.
fn grow_send_buffer(fd: &OwnedFd, want: usize) -> usize {
    // Room for the message, its skb and one greeting still unread.
    let need = want + 64 * 1024;
    let have = |fd: &OwnedFd| getsockopt(fd, sockopt::SndBuf).unwrap_or(0);
    if have(fd) < need {
        // The kernel doubles what it is given.
        let _ = setsockopt(fd, sockopt::SndBuf, &(need / 2 + 1));
        if have(fd) < need {
            let _ = setsockopt(fd, sockopt::SndBufForce, &(need / 2 + 1));
        }
    }
    let got = have(fd);
    if got >= need {
        want
    } else {
        want.min(got.saturating_sub(64 * 1024).max(1024))
    }
}

fn bind_listener(
    path: &Path,
    mode: u32,
    group: Option<u32>,
    max_clients: usize,
) -> Result<Listener, ControlError> {
    let shown = path.display();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| ControlError::io(format!("creating {}", dir.display()), e))?;
    }
    claim_path(path)?;
    let addr =
        UnixAddr::new(path).map_err(|e| ControlError::io(format!("socket path {shown}"), e))?;
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| ControlError::io("creating a SOCK_SEQPACKET socket", e))?;
    bind(fd.as_raw_fd(), &addr).map_err(|e| ControlError::io(format!("binding {shown}"), e))?;
    // Mode and group before listen: nobody connects in between.
    let meta = std::fs::symlink_metadata(path);
    let id = meta.as_ref().map(|m| (m.dev(), m.ino())).unwrap_or((0, 0));
    let listener = Listener {
        sock: UnixListener::from(fd),
        path: path.to_path_buf(),
        id,
    };
    let setup = || -> Result<(), ControlError> {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| ControlError::io(format!("chmod {mode:o} {shown}"), e))?;
        if let Some(g) = group {
            chown(path, None, Some(Gid::from_raw(g)))
                .map_err(|e| ControlError::io(format!("chgrp {g} {shown}"), e))?;
        }
        let backlog = Backlog::new(i32::try_from(max_clients.clamp(16, 1024)).unwrap_or(1024))
            .map_err(|e| ControlError::io("listen backlog", e))?;
        listen(&listener.sock, backlog)
            .map_err(|e| ControlError::io(format!("listen on {shown}"), e))
    };
    if let Err(e) = setup() {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(listener)
}

/// Makes `path` free: nothing there, or a socket nobody accepts on (removed).
fn claim_path(path: &Path) -> Result<(), ControlError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ControlError::io(format!("checking {}", path.display()), e)),
    };
    if !meta.file_type().is_socket() {
        return Err(ControlError::PathTaken {
            path: path.to_path_buf(),
            what: "exists and is not a socket".into(),
        });
    }
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| ControlError::io("creating a SOCK_SEQPACKET socket", e))?;
    let addr = UnixAddr::new(path)
        .map_err(|e| ControlError::io(format!("socket path {}", path.display()), e))?;
    match connect(fd.as_raw_fd(), &addr) {
        Err(Errno::ECONNREFUSED) => std::fs::remove_file(path)
            .map_err(|e| ControlError::io(format!("removing stale socket {}", path.display()), e)),
        // Accepted, or a full backlog: somebody is serving it.
        Ok(()) | Err(Errno::EAGAIN) => Err(ControlError::InUse {
            path: path.to_path_buf(),
            pid: read_greeting_pid(&fd),
        }),
        Err(Errno::EPROTOTYPE) => Err(ControlError::PathTaken {
            path: path.to_path_buf(),
            what: "is a socket of another type (not SOCK_SEQPACKET)".into(),
        }),
        Err(e) => Err(ControlError::io(
            format!("checking whether {} is in use", path.display()),
            e,
        )),
    }
}

fn read_greeting_pid(fd: &OwnedFd) -> Option<u64> {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let ms = PollTimeout::try_from(PROBE_TIMEOUT).unwrap_or(PollTimeout::ZERO);
    nix::poll::poll(&mut fds, ms).ok()?;
    let mut buf = [0u8; 1024];
    let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT).ok()?;
    let v: Value = serde_json::from_slice(&buf[..n]).ok()?;
    v.get("pid")?.as_u64()
}

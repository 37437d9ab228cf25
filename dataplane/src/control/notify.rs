//! The systemd notification protocol (`sd_notify(3)`) for `Type=notify`
//! services: when `NOTIFY_SOCKET` is set, a live run sends `READY=1` once
//! every worker has completed its first polling round (it forwards),
//! `STATUS=...` lines when that changes (a worker stalls or recovers), and
//! `STOPPING=1` when it shuts down ([`RunNotifier`]).
//!
//! The protocol is spoken here directly rather than through the `sd-notify`
//! crate: it is one datagram of `KEY=VALUE` lines sent to a Unix datagram
//! socket, and `std` covers all of it without `unsafe` (filesystem paths,
//! and abstract addresses written `@name` through
//! `SocketAddrExt::from_abstract_name`), so a dependency would add nothing.
//! Not done: unsetting `NOTIFY_SOCKET` (changing the environment of a
//! threaded process is unsound, and cnfwd starts no children), the
//! watchdog and the file-descriptor store.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::health::Health;
use crate::engine::workers::EngineHandle;

/// The environment variable naming the service manager's socket.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// A socket to the service manager.
#[derive(Debug)]
pub struct Notifier {
    sock: UnixDatagram,
    addr: SocketAddr,
    target: String,
}

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` asks for (`None`: not set or empty).
    pub fn from_env() -> Option<io::Result<Notifier>> {
        let target = std::env::var_os(NOTIFY_SOCKET)?;
        let target = target.to_string_lossy();
        (!target.is_empty()).then(|| Notifier::new(&target))
    }

    /// A notifier for `target`: an absolute path, or `@name` for an
    /// abstract address.
    pub fn new(target: &str) -> io::Result<Notifier> {
        let addr = match target.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
            None if target.starts_with('/') => SocketAddr::from_pathname(target)?,
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{NOTIFY_SOCKET}={target:?}: neither an absolute path nor @abstract"),
                ))
            }
        };
        let sock = UnixDatagram::unbound()?;
        sock.set_write_timeout(Some(Duration::from_secs(1)))?;
        Ok(Notifier {
            sock,
            addr,
            target: target.to_owned(),
        })
    }

    /// Sends `state`: newline-separated `KEY=VALUE` assignments.
    pub fn send(&self, state: &str) -> io::Result<()> {
        self.sock.send_to_addr(state.as_bytes(), &self.addr)?;
        Ok(())
    }

    /// Where it sends.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// How often the notifier thread looks at the workers.
const CHECK_EVERY: Duration = Duration::from_millis(20);

/// Notifies the service manager about a live run from a thread of its own
/// (see the module doc); dropping it sends `STOPPING=1` and joins it.
#[derive(Debug)]
pub struct RunNotifier {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RunNotifier {
    /// Starts watching `engine` (workers stall after `stall_timeout`).
    pub fn start(
        notifier: Notifier,
        engine: EngineHandle,
        stall_timeout: Duration,
    ) -> io::Result<RunNotifier> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("cnfwd-notify".into())
            .spawn(move || watch(&notifier, &engine, stall_timeout, &flag))?;
        Ok(RunNotifier {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for RunNotifier {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watch(n: &Notifier, engine: &EngineHandle, stall_timeout: Duration, stop: &AtomicBool) {
    let mut failed = false;
    let mut send = |state: &str| {
        if let Err(e) = n.send(state) {
            if !failed {
                tracing::warn!(error = %e, "{NOTIFY_SOCKET} {}: {e}", n.target());
                failed = true;
            }
        }
    };
    let workers = engine.workers().len();
    send(&format!("STATUS=starting {workers} worker(s)"));
    let mut ready = false;
    let mut last_status = String::new();
    while !stop.load(Ordering::Relaxed) {
        let samples = engine.workers();
        if !ready && samples.iter().all(|w| w.last_round.is_some()) {
            ready = true;
            last_status = format!("forwarding with {workers} worker(s)");
            send(&format!("READY=1\nSTATUS={last_status}"));
        } else if ready {
            let h = Health::evaluate(
                &samples,
                engine.started(),
                Instant::now(),
                stall_timeout,
                0,
                None,
                Vec::new(),
                engine.stopping(),
            );
            let stalled: Vec<String> = h
                .workers
                .iter()
                .filter(|w| w.stalled)
                .map(|w| match w.core {
                    Some(c) => format!("worker {} (core {c})", w.id),
                    None => format!("worker {}", w.id),
                })
                .collect();
            let status = if h.stopping {
                "stopping: a worker failed".to_string()
            } else if stalled.is_empty() {
                format!("forwarding with {workers} worker(s)")
            } else {
                format!("stalled: {}", stalled.join(", "))
            };
            if status != last_status {
                send(&format!("STATUS={status}"));
                last_status = status;
            }
        }
        std::thread::sleep(CHECK_EVERY);
    }
    send("STOPPING=1\nSTATUS=stopping");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_reach_path_and_abstract_sockets() {
        let dir = std::env::temp_dir().join(format!("cnfwd-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let n = Notifier::new(path.to_str().unwrap()).unwrap();
        n.send("READY=1\nSTATUS=x").unwrap();
        let mut buf = [0u8; 256];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=x");
        std::fs::remove_dir_all(&dir).unwrap();

        let name = format!("cnfwd-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let n = Notifier::new(&format!("@{name}")).unwrap();
        n.send("STOPPING=1").unwrap();
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STOPPING=1");

        assert!(Notifier::new("relative/path").is_err());
    }
}

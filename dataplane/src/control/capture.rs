//! `/capture/start`, `/capture/stop`, `/capture/status`: live packet
//! capture into a pcapng file (see `engine::capture` for what is captured
//! and what it costs the workers).
//!
//! The file is written by cnfwd, which usually runs as root, so
//! [`open_for_peer`] creates or truncates it only where the requesting
//! client could itself: the path must be absolute; the directory is opened
//! first and, on that open directory, the client's uid and groups
//! (`SO_PEERCRED`) need write and search permission by its mode bits and
//! search permission on every directory of its real path; an existing file
//! must be a regular file the client may write; a symbolic link as the last
//! component is refused (`O_NOFOLLOW`). A file cnfwd creates is given to
//! the client (`fchown` to its uid and gid), mode 0644. uid 0 may write
//! anywhere. ACLs and LSM policies are not consulted (as for
//! `/config/apply`'s path, see `peer_read`).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use cnfwd_config::{PortBackend, Resolved};
use serde::Deserialize;
use serde_json::Value;

use super::commands::Command;
use super::peer_read::Who;
use super::telemetry::{CommandError, Peer};
use crate::engine::capture::{
    Directions, Program, StartRequest, DEFAULT_COUNT, DEFAULT_SNAPLEN, MAX_COUNT,
};
use crate::engine::workers::EngineHandle;

/// The largest snaplen (tcpdump's).
pub const MAX_SNAPLEN: u32 = 262_144;

/// The `/capture/*` commands, each with its handler (one line in the
/// registry's `AREAS`).
pub(crate) const COMMANDS: &[Command] = &[
    Command::write(
        "/capture/start",
        "Capture one port into a pcapng file written by cnfwd. Params: {\"port\": NAME, \"file\": ABSOLUTE_PATH (you must be allowed to write it; it is given to you), \"directions\": \"rx,tx,drop\" or [..] (default rx and tx; drop: frames the pipeline dropped, with the reason as comment), \"count\": N (default 1000, at most 1000000), \"filter\": pcap-filter subset (host, net, port, ip, ip6, arp, tcp, udp, icmp, icmp6, vlan; and/or/not), \"snaplen\": BYTES (default 65535)}. One capture at a time.",
        |c, p, peer| start(c.engine, &c.state.resolved, p.parse()?, peer),
    ),
    Command::write(
        "/capture/stop",
        "Stop the running capture: the packets queued so far are written and the file closed. Reply: the final status.",
        |c, _, _| Ok(c.engine.capture().stop()),
    ),
    Command::read(
        "/capture/status",
        "The running or last capture: state (idle, running, done, failed), port, directions, filter, file, packets written and matched, overflow (lost to full queues), bytes.",
        |c, _, _| Ok(c.engine.capture().status()),
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartParams {
    port: String,
    file: PathBuf,
    #[serde(default)]
    directions: Option<Value>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    snaplen: Option<u32>,
}

fn fail(msg: impl Into<String>) -> CommandError {
    CommandError::failed(msg)
}

fn start(
    engine: &EngineHandle,
    resolved: &Resolved,
    p: StartParams,
    peer: &Peer,
) -> Result<Value, CommandError> {
    let names: Vec<&str> = resolved.ports.iter().map(|p| p.name.as_str()).collect();
    let index = names.iter().position(|n| *n == p.port).ok_or_else(|| {
        fail(format!(
            "port {:?}: no such port (ports: {})",
            p.port,
            names.join(", ")
        ))
    })?;
    let directions = match &p.directions {
        None => Directions::DEFAULT,
        Some(Value::String(s)) => Directions::parse(&[s]).map_err(fail)?,
        Some(Value::Array(a)) => {
            let items: Option<Vec<&str>> = a.iter().map(Value::as_str).collect();
            let items =
                items.ok_or_else(|| fail("directions: expected a string or a list of strings"))?;
            Directions::parse(&items).map_err(fail)?
        }
        Some(_) => return Err(fail("directions: expected a string or a list of strings")),
    };
    let count = p.count.unwrap_or(DEFAULT_COUNT);
    if count == 0 || count > MAX_COUNT {
        return Err(fail(format!("count {count}: must be in 1..={MAX_COUNT}")));
    }
    let snaplen = p.snaplen.unwrap_or(DEFAULT_SNAPLEN);
    if snaplen == 0 || snaplen > MAX_SNAPLEN {
        return Err(fail(format!(
            "snaplen {snaplen}: must be in 1..={MAX_SNAPLEN}"
        )));
    }
    let filter = p.filter.unwrap_or_default();
    let program = Program::compile(&filter).map_err(|e| fail(e.to_string()))?;
    if let Some(running) = engine.capture().running() {
        return Err(fail(running.to_string()));
    }
    let file = open_for_peer(&p.file, peer).map_err(fail)?;
    let port = &resolved.ports[index];
    let port_description = match &port.backend {
        PortBackend::AfPacket { interface } => format!("cnfwd af_packet {interface}"),
        PortBackend::Dpdk { device } => format!("cnfwd dpdk {device}"),
        PortBackend::Pcap { rx, .. } => {
            format!("cnfwd pcap {}", rx.as_deref().unwrap_or("-"))
        }
    };
    engine
        .capture()
        .start(StartRequest {
            port: index as u16,
            port_name: p.port,
            port_description,
            directions,
            filter,
            program,
            count,
            snaplen,
            file,
            path: p.file,
        })
        .map_err(|e| fail(e.to_string()))
}

/// Mode bits: write and search for the directory, write for the file.
const WRITE: u32 = 2;
const SEARCH: u32 = 1;

/// Creates (or truncates) `path` for `peer` (see the module doc); the
/// error text is the reply.
pub fn open_for_peer(path: &Path, peer: &Peer) -> Result<File, String> {
    let shown = path.display();
    if !path.is_absolute() {
        return Err(format!(
            "file {shown:?}: must be absolute (it is written by cnfwd, whose working directory is not yours)"
        ));
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(format!("file {shown:?}: names no file"));
    };
    let dir_file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| {
            format!(
                "{}: cannot open the directory: {e}{}",
                dir.display(),
                if e.kind() == std::io::ErrorKind::NotFound {
                    " (cnfwd writes in its own mount namespace: a directory inside another container is not visible to it)"
                } else {
                    ""
                }
            )
        })?;
    let fd_dir = PathBuf::from(format!("/proc/self/fd/{}", dir_file.as_raw_fd()));
    let who = (peer.uid != 0).then(|| Who::of(peer));
    let denied = |what: String| {
        format!(
            "{shown}: permission denied: uid {} may not {what} (checked by mode bits against your uid and groups)",
            peer.uid
        )
    };
    if let Some(who) = &who {
        let meta = dir_file
            .metadata()
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        if !who.may(&meta, WRITE | SEARCH) {
            return Err(denied(format!("write in {}", dir.display())));
        }
        // The directories really crossed (symbolic links followed).
        let real = std::fs::read_link(&fd_dir)
            .map_err(|_| denied("reach it (its real path cannot be established)".into()))?;
        for d in real.ancestors().skip(1) {
            let m = std::fs::metadata(d).map_err(|_| denied(format!("search {}", d.display())))?;
            if !who.may(&m, SEARCH) {
                return Err(denied(format!("search {}", d.display())));
            }
        }
    }
    // Opened through the directory already checked.
    let target = fd_dir.join(name);
    let flags = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    let opened = |e: std::io::Error| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            format!("{shown}: is a symbolic link: refused (name the file it points to)")
        } else {
            format!("{shown}: cannot open it for writing: {e}")
        }
    };
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(flags)
        .open(&target)
    {
        Ok(f) => {
            if peer.uid != 0 {
                if let Err(e) = std::os::unix::fs::fchown(&f, Some(peer.uid), Some(peer.gid)) {
                    let _ = std::fs::remove_file(&target);
                    return Err(format!("{shown}: cannot give it to uid {}: {e}", peer.uid));
                }
            }
            Ok(f)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let f = OpenOptions::new()
                .write(true)
                .custom_flags(flags)
                .open(&target)
                .map_err(opened)?;
            let meta = f.metadata().map_err(|e| format!("{shown}: {e}"))?;
            if !meta.is_file() {
                return Err(format!("{shown}: not a regular file"));
            }
            if let Some(who) = &who {
                if !who.may(&meta, WRITE) {
                    return Err(denied(format!(
                        "write it (owner uid {}, mode {:o})",
                        meta.uid(),
                        meta.mode() & 0o7777
                    )));
                }
            }
            f.set_len(0)
                .map_err(|e| format!("{shown}: cannot truncate it: {e}"))?;
            Ok(f)
        }
        Err(e) => Err(opened(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn peer(uid: u32, gid: u32) -> Peer {
        Peer { pid: 0, uid, gid }
    }

    #[test]
    fn the_peer_must_be_able_to_write_there_itself() {
        let d = std::env::temp_dir().join(format!("cnfwd-capture-open-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let set = |p: &Path, mode: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        set(&d, 0o755);
        let meta = std::fs::metadata(&d).unwrap();
        let (owner, group) = (meta.uid(), meta.gid());
        let other = owner.wrapping_add(4242);
        let other_gid = group.wrapping_add(4242);
        let f = d.join("x.pcapng");

        // Others may not write in a 0755 directory.
        let e = open_for_peer(&f, &peer(other, other_gid)).unwrap_err();
        assert!(
            e.contains(&format!("may not write in {}", d.display())),
            "{e}"
        );
        assert!(!f.exists());
        // A group-writable directory lets a member create it, and the file
        // is theirs (when cnfwd may chown: as root).
        set(&d, 0o775);
        let r = open_for_peer(&f, &peer(other, group));
        if owner == 0 {
            r.unwrap();
            let m = std::fs::metadata(&f).unwrap();
            assert_eq!((m.uid(), m.gid()), (other, group));
            assert_eq!(m.mode() & 0o777, 0o644);
            // An existing file of someone else, not writable by others.
            let e = open_for_peer(&f, &peer(other.wrapping_add(1), other_gid)).unwrap_err();
            assert!(e.contains("may not write in"), "{e}");
            set(&d, 0o777);
            let e = open_for_peer(&f, &peer(other.wrapping_add(1), other_gid)).unwrap_err();
            assert!(e.contains("may not write it (owner uid"), "{e}");
            // Its owner may, and it is truncated.
            std::fs::write(&f, b"old").unwrap();
            open_for_peer(&f, &peer(other, group)).unwrap();
            assert_eq!(std::fs::metadata(&f).unwrap().len(), 0);
        }
        // Symbolic links, directories, relative paths, missing directories.
        let link = d.join("link.pcapng");
        let _ = std::os::unix::fs::symlink("/etc/passwd", &link);
        let e = open_for_peer(&link, &peer(0, 0)).unwrap_err();
        assert!(e.contains("is a symbolic link: refused"), "{e}");
        let e = open_for_peer(Path::new("x.pcapng"), &peer(0, 0)).unwrap_err();
        assert!(e.contains("must be absolute"), "{e}");
        let e = open_for_peer(&d.join("nope/x.pcapng"), &peer(0, 0)).unwrap_err();
        assert!(e.contains("cannot open the directory: No such file"), "{e}");
        std::fs::create_dir(d.join("sub")).unwrap();
        let e = open_for_peer(&d.join("sub"), &peer(0, 0)).unwrap_err();
        assert!(e.contains("cannot open it for writing"), "{e}");
        let e = open_for_peer(Path::new("/"), &peer(0, 0)).unwrap_err();
        assert!(e.contains("names no file"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}

//! Reading a file named by a socket client, on the client's behalf
//! (`/config/apply,{"path": ...}`): a configuration of 100,000 routes is
//! megabytes, more than one `SOCK_SEQPACKET` message can carry, so the
//! client names the file and cnfwd reads it.
//!
//! cnfwd usually runs as root, so it must not read for a client what the
//! client could not read itself. [`read_for_peer`] therefore:
//!
//! - opens the path (absolute only: cnfwd's working directory is not the
//!   client's) with `O_NONBLOCK | O_NOCTTY`, so a FIFO or a device cannot
//!   block the control thread, and refuses anything but a regular file;
//! - checks, on the inode it opened (`fstat` of the descriptor, so a path
//!   swapped after the check changes nothing), that the peer's uid, gid
//!   and supplementary groups (`SO_PEERCRED`, `/proc/PID/status`) have
//!   read permission by its mode bits, and that they may search every
//!   directory on the file's real path (`/proc/self/fd/N`), as the kernel
//!   would check them for an `open(2)` by the client;
//! - reads at most `max_bytes`, as UTF-8.
//!
//! uid 0 may read anything (as `CAP_DAC_READ_SEARCH` would let it).
//! ACLs and LSM policies are not consulted: a file readable only through
//! an ACL entry is refused (say so and use a mode that grants it).

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::telemetry::Peer;

/// Why a file could not be read for a client; the text is the error reply.
#[derive(Debug, thiserror::Error)]
pub enum PeerReadError {
    /// Not an absolute path.
    #[error("path {0:?}: must be absolute (it is opened by cnfwd, whose working directory is not yours)")]
    NotAbsolute(PathBuf),
    /// open(2) failed.
    #[error("{}: cannot open it: {source}{}", path.display(), if source.kind() == std::io::ErrorKind::NotFound { " (cnfwd opens it in its own mount namespace: a file inside another container is not visible to it)" } else { "" })]
    Open {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A directory, FIFO, socket or device.
    #[error("{}: not a regular file", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// The peer may not read it (or reach it).
    #[error("{}: permission denied: uid {uid} may not {what} (checked by mode bits against your uid and groups)", path.display())]
    Denied {
        /// The path.
        path: PathBuf,
        /// The peer's uid.
        uid: u32,
        /// What the peer may not do, e.g. `read it` or `search /etc/cnfwd`.
        what: String,
    },
    /// Larger than the limit.
    #[error("{}: {size} bytes is more than the limit of {max} bytes", path.display())]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// read(2) failed or the text is not UTF-8.
    #[error("{}: cannot read it: {source}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The OS error (or invalid UTF-8).
        source: std::io::Error,
    },
}

/// Mode bits to test: read for the file, search (execute) for directories.
const READ: u32 = 4;
const SEARCH: u32 = 1;

/// The peer's identity for permission checks: uid, primary and
/// supplementary groups.
pub(super) struct Who {
    uid: u32,
    groups: Vec<u32>,
}

impl Who {
    pub(super) fn of(peer: &Peer) -> Who {
        let mut groups = vec![peer.gid];
        if peer.pid > 0 {
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", peer.pid)) {
                if let Some(line) = status.lines().find(|l| l.starts_with("Groups:")) {
                    groups.extend(
                        line["Groups:".len()..]
                            .split_whitespace()
                            .filter_map(|g| g.parse::<u32>().ok()),
                    );
                }
            }
        }
        Who {
            uid: peer.uid,
            groups,
        }
    }

    /// Whether the mode bits of `m` grant `bits` (4 read, 1 search) to this
    /// identity: owner class, else group class, else others, as the
    /// kernel's `generic_permission` picks one class.
    pub(super) fn may(&self, m: &Metadata, bits: u32) -> bool {
        let mode = m.mode();
        let class = if m.uid() == self.uid {
            mode >> 6
        } else if self.groups.contains(&m.gid()) {
            mode >> 3
        } else {
            mode
        };
        class & bits == bits
    }
}

/// Reads `path` for `peer` (see the module doc): the text, or why not.
pub fn read_for_peer(path: &Path, peer: &Peer, max_bytes: u64) -> Result<String, PeerReadError> {
    if !path.is_absolute() {
        return Err(PeerReadError::NotAbsolute(path.to_path_buf()));
    }
    let p = || path.to_path_buf();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|source| PeerReadError::Open { path: p(), source })?;
    let meta = file
        .metadata()
        .map_err(|source| PeerReadError::Read { path: p(), source })?;
    if !meta.is_file() {
        return Err(PeerReadError::NotRegular { path: p() });
    }
    if peer.uid != 0 {
        check_access(&file, &meta, path, &Who::of(peer))?;
    }
    if meta.len() > max_bytes {
        return Err(PeerReadError::TooLarge {
            path: p(),
            size: meta.len(),
            max: max_bytes,
        });
    }
    let mut text = String::with_capacity(meta.len() as usize);
    file.take(max_bytes + 1)
        .read_to_string(&mut text)
        .map_err(|source| PeerReadError::Read { path: p(), source })?;
    if text.len() as u64 > max_bytes {
        return Err(PeerReadError::TooLarge {
            path: p(),
            size: text.len() as u64,
            max: max_bytes,
        });
    }
    Ok(text)
}

/// The peer's rights on the opened inode and on the directories of its
/// real path.
fn check_access(
    file: &File,
    meta: &Metadata,
    shown: &Path,
    who: &Who,
) -> Result<(), PeerReadError> {
    let denied = |what: String| PeerReadError::Denied {
        path: shown.to_path_buf(),
        uid: who.uid,
        what,
    };
    if !who.may(meta, READ) {
        return Err(denied("read it".into()));
    }
    // The path the kernel resolved for the descriptor (symbolic links
    // followed), so the directories checked are the ones really crossed.
    let real = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .map_err(|_| denied("reach it (its real path cannot be established)".into()))?;
    for dir in real.ancestors().skip(1) {
        let m = std::fs::metadata(dir).map_err(|_| denied(format!("search {}", dir.display())))?;
        if !who.may(&m, SEARCH) {
            return Err(denied(format!("search {}", dir.display())));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn peer(uid: u32, gid: u32) -> Peer {
        // pid 0: no supplementary groups looked up.
        Peer { pid: 0, uid, gid }
    }

    #[test]
    fn mode_bits_decide_for_owner_group_and_others() {
        let d = std::env::temp_dir().join(format!("cnfwd-peer-read-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        let f = d.join("site.toml");
        std::fs::write(&f, "[engine]\n").unwrap();
        let meta = std::fs::metadata(&f).unwrap();
        let (owner, group) = (meta.uid(), meta.gid());
        let set = |mode: u32| {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        let other = owner.wrapping_add(4242);
        let other_gid = group.wrapping_add(4242);

        set(0o600);
        if owner != 0 {
            assert_eq!(
                read_for_peer(&f, &peer(owner, other_gid), 100).unwrap(),
                "[engine]\n"
            );
        }
        let e = read_for_peer(&f, &peer(other, other_gid), 100).unwrap_err();
        assert!(e.to_string().contains("permission denied: uid"), "{e}");
        assert!(e.to_string().contains("may not read it"), "{e}");
        set(0o640);
        assert!(read_for_peer(&f, &peer(other, group), 100).is_ok());
        assert!(read_for_peer(&f, &peer(other, other_gid), 100).is_err());
        set(0o604);
        // The group class is chosen for a member, and it has no read bit.
        assert!(read_for_peer(&f, &peer(other, group), 100).is_err());
        assert!(read_for_peer(&f, &peer(other, other_gid), 100).is_ok());
        // A directory on the way that others may not search.
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o750)).unwrap();
        let e = read_for_peer(&f, &peer(other, other_gid), 100).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("may not search {}", d.display())),
            "{e}"
        );
        // Root reads anything; the size limit holds for everyone.
        set(0o000);
        assert!(read_for_peer(&f, &peer(0, 0), 100).is_ok());
        let e = read_for_peer(&f, &peer(0, 0), 4).unwrap_err();
        assert!(
            e.to_string()
                .contains("9 bytes is more than the limit of 4 bytes"),
            "{e}"
        );
        // Relative paths, directories and missing files: clear errors.
        let e = read_for_peer(Path::new("site.toml"), &peer(0, 0), 100).unwrap_err();
        assert!(e.to_string().contains("must be absolute"), "{e}");
        let e = read_for_peer(&d, &peer(0, 0), 100).unwrap_err();
        assert!(e.to_string().ends_with("not a regular file"), "{e}");
        let e = read_for_peer(&d.join("nope.toml"), &peer(0, 0), 100).unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot open it: No such file or directory"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}

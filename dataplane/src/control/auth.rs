//! Who may run what: the peer's credentials (`SO_PEERCRED`) against the
//! configured groups.
//!
//! - Write commands: uid 0, or a member of the write group.
//! - Read commands: whoever may write, plus (per [`ReadAccess`]) a member of
//!   the read group, or anyone who could connect (the socket file's mode and
//!   group then being the only gate).
//!
//! Membership is the peer's effective gid or the user database's
//! supplementary groups of its uid (`getgrouplist`, as `id` shows them),
//! resolved once per connection at accept time: a group change takes effect
//! on the next connection.

use nix::unistd::{getgrouplist, Gid, Group, Uid, User};
use std::ffi::CString;

use super::telemetry::{Access, Peer};
use super::ControlError;

/// A group, by id or by name (resolved when the server binds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupSpec {
    /// A numeric gid.
    Id(u32),
    /// A group name from the group database.
    Name(String),
}

impl GroupSpec {
    /// The gid; [`ControlError::UnknownGroup`] for a name not in the group
    /// database.
    pub fn resolve(&self) -> Result<u32, ControlError> {
        match self {
            GroupSpec::Id(g) => Ok(*g),
            GroupSpec::Name(n) => match Group::from_name(n) {
                Ok(Some(g)) => Ok(g.gid.as_raw()),
                Ok(None) => Err(ControlError::UnknownGroup(n.clone())),
                Err(e) => Err(ControlError::GroupLookup {
                    group: n.clone(),
                    source: e.into(),
                }),
            },
        }
    }
}

impl std::str::FromStr for GroupSpec {
    type Err = std::convert::Infallible;
    /// All digits: a gid; otherwise a name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<u32>() {
            Ok(g) => GroupSpec::Id(g),
            Err(_) => GroupSpec::Name(s.to_string()),
        })
    }
}

/// Who may run read commands besides those who may write.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReadAccess {
    /// Only uid 0 and the write group.
    #[default]
    Writers,
    /// Also members of this group.
    Group(GroupSpec),
    /// Any peer that could connect.
    Anyone,
}

/// Resolved policy: gids, ready for per-connection checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub write_gid: Option<u32>,
    pub read: ResolvedRead,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolvedRead {
    Writers,
    Gid(u32),
    Anyone,
}

/// What one connection may do, decided at accept time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rights {
    pub read: bool,
    pub write: bool,
}

impl Rights {
    pub fn allows(self, access: Access) -> bool {
        match access {
            Access::Read => self.read,
            Access::Write => self.write,
        }
    }
}

impl Policy {
    pub fn resolve(write: Option<&GroupSpec>, read: &ReadAccess) -> Result<Self, ControlError> {
        Ok(Self {
            write_gid: write.map(GroupSpec::resolve).transpose()?,
            read: match read {
                ReadAccess::Writers => ResolvedRead::Writers,
                ReadAccess::Group(g) => ResolvedRead::Gid(g.resolve()?),
                ReadAccess::Anyone => ResolvedRead::Anyone,
            },
        })
    }

    /// The rights of `peer`. Looks up the group database only when a group
    /// decides.
    pub fn rights(&self, peer: &Peer) -> Rights {
        if peer.uid == 0 {
            return Rights {
                read: true,
                write: true,
            };
        }
        let mut groups: Option<Vec<u32>> = None;
        let mut member = |gid: u32| {
            gid == peer.gid || groups.get_or_insert_with(|| groups_of(peer)).contains(&gid)
        };
        let write = self.write_gid.is_some_and(&mut member);
        let read = write
            || match self.read {
                ResolvedRead::Writers => false,
                ResolvedRead::Gid(g) => member(g),
                ResolvedRead::Anyone => true,
            };
        Rights { read, write }
    }
}

/// Supplementary groups of the peer's uid in the user database (empty when
/// the uid has no entry).
fn groups_of(peer: &Peer) -> Vec<u32> {
    let Ok(Some(user)) = User::from_uid(Uid::from_raw(peer.uid)) else {
        return Vec::new();
    };
    let Ok(name) = CString::new(user.name) else {
        return Vec::new();
    };
    getgrouplist(&name, Gid::from_raw(peer.gid))
        .map(|g| g.into_iter().map(Gid::as_raw).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(uid: u32, gid: u32) -> Peer {
        Peer { pid: 1, uid, gid }
    }

    #[test]
    fn root_may_do_everything() {
        let p = Policy::resolve(None, &ReadAccess::Writers).unwrap();
        assert_eq!(
            p.rights(&peer(0, 0)),
            Rights {
                read: true,
                write: true
            }
        );
        assert_eq!(
            p.rights(&peer(1000, 1000)),
            Rights {
                read: false,
                write: false
            }
        );
    }

    #[test]
    fn groups_grant_by_effective_gid() {
        let p = Policy::resolve(
            Some(&GroupSpec::Id(4242)),
            &ReadAccess::Group(GroupSpec::Id(4343)),
        )
        .unwrap();
        // Uids without a passwd entry: only the effective gid counts.
        assert_eq!(
            p.rights(&peer(77777, 4242)),
            Rights {
                read: true,
                write: true
            }
        );
        assert_eq!(
            p.rights(&peer(77777, 4343)),
            Rights {
                read: true,
                write: false
            }
        );
        assert_eq!(
            p.rights(&peer(77777, 1)),
            Rights {
                read: false,
                write: false
            }
        );
        let open = Policy::resolve(None, &ReadAccess::Anyone).unwrap();
        assert_eq!(
            open.rights(&peer(77777, 1)),
            Rights {
                read: true,
                write: false
            }
        );
    }

    #[test]
    fn group_names_resolve_or_fail_clearly() {
        assert_eq!(GroupSpec::Name("root".into()).resolve().unwrap(), 0);
        assert_eq!("12".parse::<GroupSpec>().unwrap(), GroupSpec::Id(12));
        let e = GroupSpec::Name("no-such-group-cnfwd".into())
            .resolve()
            .unwrap_err();
        assert!(e.to_string().contains("no-such-group-cnfwd"), "{e}");
    }
}

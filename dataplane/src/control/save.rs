//! Replacing a file so that a crash, a full filesystem or a read-only
//! directory leaves the old file or the new one, never a mix and never
//! nothing (`/config/save`).
//!
//! [`save_atomically`] writes a temporary file beside the target (same
//! directory, so the rename cannot cross filesystems), fsyncs it, renames
//! it over the target and fsyncs the directory. Any failure before the
//! rename removes the temporary file and leaves the target byte for byte
//! as it was; the error ([`SaveError`]) names the target, the step and the
//! OS error, and says what state the target is in.
//!
//! [`save_with_backup`] first keeps the file's current content as
//! `FILE.bak` (the same way), so that a save can be undone by hand.

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Which step of a save failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveStep {
    /// Keeping the previous version as `FILE.bak` (`temp` names the
    /// backup); the target is unchanged.
    Backup,
    /// Creating the temporary file beside the target.
    Create,
    /// Writing the data into it.
    Write,
    /// fsync of the temporary file.
    Sync,
    /// Renaming it over the target.
    Rename,
    /// fsync of the directory after the rename (the new file is in place,
    /// but a crash could still bring the old one back).
    SyncDir,
}

impl SaveStep {
    fn describe(self) -> &'static str {
        match self {
            SaveStep::Backup => "creating the backup",
            SaveStep::Create => "creating the temporary file",
            SaveStep::Write => "writing the temporary file",
            SaveStep::Sync => "flushing the temporary file to disk",
            SaveStep::Rename => "renaming the temporary file over it",
            SaveStep::SyncDir => "flushing the directory to disk",
        }
    }
}

/// A save that did not complete. Before [`SaveStep::SyncDir`] the target is
/// unchanged and no temporary file is left; at `SyncDir` the new content is
/// in place but not yet known to be durable.
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: not saved: {} {}: {source}; {}",
    path.display(),
    step.describe(),
    temp.display(),
    if *step == SaveStep::SyncDir { "the new file is in place but may not survive a crash" } else { "the file is unchanged" }
)]
pub struct SaveError {
    /// The file being replaced.
    pub path: PathBuf,
    /// The temporary file used.
    pub temp: PathBuf,
    /// The step that failed.
    pub step: SaveStep,
    /// The OS error.
    pub source: std::io::Error,
}

/// Replaces `path` with `data` atomically (see the module doc). A symbolic
/// link is followed: its target is replaced and the link kept. The new file
/// keeps the old one's permissions (else 0644 less the umask).
pub fn save_atomically(path: &Path, data: &[u8]) -> Result<(), SaveError> {
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    let temp = dir.join(format!(".{name}.cnfwd-{}.tmp", std::process::id()));
    let err = |step: SaveStep, source: std::io::Error| SaveError {
        path: path.to_path_buf(),
        temp: temp.clone(),
        step,
        source,
    };
    let open = || {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&temp)
    };
    let mut f = match open() {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            // Left by an earlier run with our pid: it is ours to replace.
            let _ = fs::remove_file(&temp);
            open().map_err(|e| err(SaveStep::Create, e))?
        }
        Err(e) => return Err(err(SaveStep::Create, e)),
    };
    let written = (|| {
        if let Ok(meta) = fs::metadata(&target) {
            f.set_permissions(meta.permissions())
                .map_err(|e| err(SaveStep::Create, e))?;
        }
        f.write_all(data).map_err(|e| err(SaveStep::Write, e))?;
        f.sync_all().map_err(|e| err(SaveStep::Sync, e))?;
        drop(f);
        fs::rename(&temp, &target).map_err(|e| err(SaveStep::Rename, e))
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| err(SaveStep::SyncDir, e))
}

/// `path` with `.bak` appended (`site.toml` -> `site.toml.bak`), beside
/// the file a symbolic link points to.
pub fn backup_path(path: &Path) -> PathBuf {
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    };
    let mut name = target
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".bak");
    target.with_file_name(name)
}

/// Replaces `path` with `data` atomically after keeping `previous` (the
/// file's current content, `None` when there is none) as
/// [`backup_path`], with the file's mode. Returns the backup's path. A
/// failure to write the backup is [`SaveStep::Backup`]: nothing changed
/// but, at most, the old backup.
pub fn save_with_backup(
    path: &Path,
    previous: Option<&[u8]>,
    data: &[u8],
) -> Result<Option<PathBuf>, SaveError> {
    let backup = match previous {
        None => None,
        Some(old) => {
            let bak = backup_path(path);
            save_atomically(&bak, old).map_err(|e| SaveError {
                path: path.to_path_buf(),
                temp: bak.clone(),
                step: SaveStep::Backup,
                source: e.source,
            })?;
            if let Ok(meta) = fs::metadata(path) {
                let _ = fs::set_permissions(&bak, meta.permissions());
            }
            Some(bak)
        }
    };
    save_atomically(path, data)?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cnfwd-save-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn entries(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_the_file_keeps_its_mode_and_follows_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let d = scratch("ok");
        let p = d.join("cnfwd.toml");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        save_atomically(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let link = d.join("link.toml");
        std::os::unix::fs::symlink("cnfwd.toml", &link).unwrap();
        save_atomically(&link, b"via link").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&p).unwrap(), b"via link");
        assert_eq!(entries(&d), ["cnfwd.toml", "link.toml"]);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_previous_version_is_kept_as_bak_with_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let d = scratch("bak");
        let p = d.join("site.toml");
        fs::write(&p, "one").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let bak = save_with_backup(&p, Some(b"one"), b"two").unwrap().unwrap();
        assert_eq!(bak, d.join("site.toml.bak"));
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read(&bak).unwrap(), b"one");
        assert_eq!(
            fs::metadata(&bak).unwrap().permissions().mode() & 0o777,
            0o600
        );
        save_with_backup(&p, Some(b"two"), b"three").unwrap();
        assert_eq!(fs::read(&bak).unwrap(), b"two");
        assert_eq!(entries(&d), ["site.toml", "site.toml.bak"]);
        // A backup that cannot be written: nothing else changes.
        fs::remove_file(&bak).unwrap();
        fs::create_dir(&bak).unwrap();
        fs::write(bak.join("x"), "").unwrap();
        let e = save_with_backup(&p, Some(b"three"), b"four").unwrap_err();
        assert_eq!(e.step, SaveStep::Backup);
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "{}: not saved: creating the backup {}",
                p.display(),
                bak.display()
            )),
            "{text}"
        );
        assert!(text.ends_with("the file is unchanged"), "{text}");
        assert_eq!(fs::read(&p).unwrap(), b"three");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_failed_rename_leaves_the_target_and_no_temporary_file() {
        let d = scratch("rename");
        // A directory where the file should be: rename(2) refuses.
        let p = d.join("cnfwd.toml");
        fs::create_dir(&p).unwrap();
        fs::write(p.join("keep"), "x").unwrap();
        let e = save_atomically(&p, b"new").unwrap_err();
        assert_eq!(e.step, SaveStep::Rename);
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("{}: not saved: renaming", p.display())),
            "{text}"
        );
        assert!(text.ends_with("the file is unchanged"), "{text}");
        assert_eq!(entries(&d), ["cnfwd.toml"]);
        assert_eq!(entries(&p), ["keep"]);
        fs::remove_dir_all(&d).unwrap();
    }
}

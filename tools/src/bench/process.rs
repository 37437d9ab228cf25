//! A forwarder running as a child process of `cnfwd-bench compare`:
//! paused (SIGSTOP) while the other forwarders' trials run, continued
//! (SIGCONT) for its own, and stopped for good when dropped (SIGINT, then
//! SIGKILL after 5 s), its DPDK runtime directory removed.

use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A forwarder child process; see the module doc.
#[derive(Debug)]
pub struct ForwarderProcess {
    child: Child,
    /// DPDK's runtime directory of the child (removed on drop).
    runtime_dir: Option<PathBuf>,
}

impl ForwarderProcess {
    /// Takes charge of `child`; `runtime_dir` (if any) is removed when it is
    /// dropped.
    pub fn new(child: Child, runtime_dir: Option<PathBuf>) -> ForwarderProcess {
        ForwarderProcess { child, runtime_dir }
    }

    /// Stops (`true`: SIGSTOP) or continues (`false`: SIGCONT) the child.
    pub fn pause(&self, stop: bool) {
        let sig = if stop {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        let _ = kill(self.pid(), sig);
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }
}

impl Drop for ForwarderProcess {
    fn drop(&mut self) {
        let pid = self.pid();
        let _ = kill(pid, Signal::SIGCONT);
        let _ = kill(pid, Signal::SIGINT);
        for _ in 0..50 {
            if self.child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(d) = &self.runtime_dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

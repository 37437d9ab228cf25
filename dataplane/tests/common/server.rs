//! A management socket server polled on a thread of the test process, with
//! the handler the test brings, and the scratch directory it lives in.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use dataplane::control::{Handler, Server, ServerStats};

/// A scratch directory (world-traversable, for tests with another uid),
/// removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty directory named after `tag`, this process and a
    /// counter.
    pub fn new(tag: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "cnfwd-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server polled every 10 ms on its own thread with a `H::default()`
/// handler; stops and joins on drop (which removes the socket file).
pub struct TestServer {
    /// The socket path.
    pub path: PathBuf,
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<ServerStats>>,
    thread: Option<JoinHandle<()>>,
    _dir: TempDir,
}

impl TestServer {
    /// Polls `server` (bound at `path`, inside `dir`) until dropped.
    pub fn run<H: Handler + Default + 'static>(
        mut server: Server,
        path: PathBuf,
        dir: TempDir,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(server.stats()));
        let (s, st) = (stop.clone(), stats.clone());
        let thread = std::thread::spawn(move || {
            let mut handler = H::default();
            while !s.load(Ordering::Relaxed) {
                server
                    .poll(Duration::from_millis(10), &mut handler)
                    .unwrap();
                *st.lock().unwrap() = server.stats();
            }
        });
        TestServer {
            path,
            stop,
            stats,
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// The server's counters, after `settle` (to let it finish the round
    /// that answered the test).
    pub fn stats_after(&self, settle: Duration) -> ServerStats {
        std::thread::sleep(settle);
        *self.stats.lock().unwrap()
    }

    /// Stops the server, joins its thread and checks the socket file is gone.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        assert!(!self.path.exists(), "socket file left behind");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

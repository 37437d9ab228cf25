//! The live engine: one thread per worker, pinned to its core, polling its
//! own backend (its RX queue of every port, its own TX queue per port).
//!
//! - Per packet a worker touches only its own memory: its backend, its
//!   pipeline, its counters. The shared things it reads are the snapshot
//!   pointer (once per burst, see [`super::snapshot`]) and the stop flag
//!   (once per round of all ports).
//! - Counters: each worker counts in private [`Stats`] and copies them into
//!   its own cache-line-aligned slot after its first round, then every
//!   `publish_every` (and once at the end); readers ([`EngineHandle::stats`])
//!   sum the slots. A lock is taken only for that copy, never per packet.
//! - Heartbeat: each publication also stamps the time it was made
//!   ([`WorkerSample::last_round`]), always right after a completed round:
//!   a worker that keeps completing rounds refreshes it every
//!   `publish_every`, one that is stuck stops refreshing it. No extra work
//!   per round (the loop reads the clock each round anyway).
//! - Idle policy ([`IdlePolicy`]): busy polling like DPDK (the default), or
//!   adaptive back-off for shared hosts: after `empty_polls` rounds without
//!   a packet the worker sleeps `sleep` between rounds until traffic comes
//!   back.
//! - Links: every [`LINK_CHECK_INTERVAL`] (1 s) the worker has its
//!   backend check the ports' links ([`Backend::check_links`]: AF_PACKET
//!   makes two `ioctl`s per port) and copies the result into its counters
//!   (`Stats::link`), so a port whose device went away is reported, the
//!   others keep forwarding, and it is reopened when the device returns.
//! - Shutdown: when the control function returns (or a worker fails), every
//!   worker finishes the round in hand, flushes its TX queues and its
//!   backend, publishes its final counters and exits; [`run`] joins them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cnfwd_config::PortId;

use super::capture::CaptureShared;
use super::snapshot::{SnapshotReader, Snapshots};
use super::trace::TraceShared;
use super::Worker;
use crate::csn::LearnSync;
use crate::io::{Backend, IoError, LINK_CHECK_INTERVAL};
use crate::slow::{SlowCounters, SlowShared};
use crate::stats::Stats;

/// What a worker does when a round of polls brought nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdlePolicy {
    /// Poll again at once (a CPU hint only): lowest latency, 100% CPU.
    Busy,
    /// After `empty_polls` consecutive empty rounds, sleep `sleep` before
    /// each further round until a packet arrives.
    Adaptive {
        /// Empty rounds before sleeping.
        empty_polls: u32,
        /// Sleep between empty rounds.
        sleep: Duration,
    },
}

/// How the workers run.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Packets per poll.
    pub burst: usize,
    /// Idle policy.
    pub idle: IdlePolicy,
    /// One core per backend (`None`: not pinned).
    pub cores: Vec<Option<usize>>,
    /// How often workers copy their counters for readers.
    pub publish_every: Duration,
    /// Test only: make one worker really stall (see [`TestStall`]).
    pub test_stall: Option<TestStall>,
}

/// **Test only**: worker `worker` stops polling for `stall` once, `after`
/// its start (a `std::thread::sleep` in its loop, between two rounds), so
/// that tests can see the stall detection of `/healthz` react to a real
/// stall. Set from `CNFWD_TEST_STALL_WORKER=WORKER:AFTER_MS:STALL_MS`
/// (read once, at start, by `cnfwd run`); never set it in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestStall {
    /// The worker that stalls.
    pub worker: usize,
    /// Time from its start to the stall.
    pub after: Duration,
    /// How long it stalls.
    pub stall: Duration,
}

impl TestStall {
    /// The environment variable read by [`TestStall::from_env`].
    pub const ENV: &'static str = "CNFWD_TEST_STALL_WORKER";

    /// Parses `WORKER:AFTER_MS:STALL_MS`.
    pub fn parse(s: &str) -> Option<TestStall> {
        let mut it = s.trim().split(':').map(str::parse::<u64>);
        let (Some(Ok(w)), Some(Ok(a)), Some(Ok(d)), None) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return None;
        };
        Some(TestStall {
            worker: usize::try_from(w).ok()?,
            after: Duration::from_millis(a),
            stall: Duration::from_millis(d),
        })
    }

    /// From [`TestStall::ENV`], if set and well formed (a malformed value
    /// is reported on stderr and ignored).
    pub fn from_env() -> Option<TestStall> {
        let v = std::env::var(Self::ENV).ok()?;
        let t = Self::parse(&v);
        match t {
            Some(t) => tracing::warn!(
                "{}: TEST ONLY: worker {} will stall for {:?} after {:?}",
                Self::ENV,
                t.worker,
                t.stall,
                t.after
            ),
            None => tracing::warn!(
                "{}={v:?}: expected WORKER:AFTER_MS:STALL_MS; ignored",
                Self::ENV
            ),
        }
        t
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            burst: 32,
            idle: IdlePolicy::Busy,
            cores: Vec::new(),
            publish_every: Duration::from_millis(10),
            test_stall: None,
        }
    }
}

/// Why the engine stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A backend failed in a worker.
    #[error("worker {worker}: {source}")]
    Io {
        /// The worker.
        worker: usize,
        /// What failed.
        source: IoError,
    },
    /// A worker thread panicked (a bug).
    #[error("worker {0} panicked")]
    Panicked(usize),
    /// A worker thread could not be started.
    #[error("cannot start worker {worker}: {source}")]
    Spawn {
        /// The worker.
        worker: usize,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A worker's counters as last published, with its loop statistics.
#[derive(Debug, Clone, Default)]
pub struct WorkerSample {
    /// Worker index.
    pub id: usize,
    /// Core it is pinned to.
    pub core: Option<usize>,
    /// Its packet counters.
    pub stats: Stats,
    /// Rounds (one poll of every port).
    pub rounds: u64,
    /// Rounds that received nothing.
    pub idle_rounds: u64,
    /// Sleeps taken under the adaptive idle policy.
    pub sleeps: u64,
    /// Snapshot generation in use.
    pub generation: u64,
    /// When this sample was published: right after a completed round, so
    /// the worker's last round is at most `publish_every` older than the
    /// truth. `None` before its first round.
    pub last_round: Option<Instant>,
}

/// One worker's published slot, alone on its cache lines.
#[derive(Debug)]
#[repr(align(128))]
struct Slot {
    sample: Mutex<WorkerSample>,
}

/// What the control function sees of the running engine. Clones share
/// the same workers (e.g. for the metrics thread).
#[derive(Debug, Clone)]
pub struct EngineHandle {
    slots: Vec<Arc<Slot>>,
    csn: Arc<LearnSync>,
    stop: Arc<AtomicBool>,
    trace: Arc<TraceShared>,
    capture: Arc<CaptureShared>,
    slow: Arc<SlowShared>,
    /// The neighbour table's own counters, as the control thread last set
    /// them (added to every [`EngineHandle::stats`]).
    table_counters: Arc<Mutex<SlowCounters>>,
    started: Instant,
}

impl EngineHandle {
    /// When the workers were started (the age of a worker that has not
    /// completed a round yet counts from here).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The workers' shared CSN state (learn queues, dumps for `/csn/*`).
    pub fn csn(&self) -> &Arc<LearnSync> {
        &self.csn
    }

    /// The queues between the workers and the neighbour table.
    pub fn slow(&self) -> &Arc<SlowShared> {
        &self.slow
    }

    /// Records the neighbour table's counters (control thread).
    pub fn set_table_counters(&self, c: &SlowCounters) {
        self.table_counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone_from(c);
    }

    /// Counters summed over workers, as last published (at most
    /// `publish_every` old), with the neighbour table's.
    pub fn stats(&self) -> Stats {
        let mut total = Stats::default();
        for s in &self.slots {
            total.add(&s.sample.lock().unwrap_or_else(|e| e.into_inner()).stats);
        }
        total.slow.add_all(
            &self
                .table_counters
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        total
    }

    /// Each worker's last published sample.
    pub fn workers(&self) -> Vec<WorkerSample> {
        self.slots
            .iter()
            .map(|s| s.sample.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    }

    /// Live packet capture of all workers.
    pub fn capture(&self) -> &Arc<CaptureShared> {
        &self.capture
    }

    /// Packet tracing of all workers.
    pub fn trace(&self) -> &TraceShared {
        &self.trace
    }

    /// True once a worker failed (the engine is stopping): the control
    /// function should return.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// What a run ends with.
#[derive(Debug)]
pub struct RunOutcome<R> {
    /// The control function's result.
    pub control: R,
    /// Final counters, summed over workers.
    pub stats: Stats,
    /// Each worker's final sample.
    pub workers: Vec<WorkerSample>,
}

/// Runs one worker per backend until `control` returns, then stops them.
///
/// `control` runs on the calling thread (the control thread) with the
/// engine handle and the snapshots, so it can publish changes while the
/// workers forward. Backends are dropped on their worker threads after the
/// final flush. The first worker error (or panic) is returned after every
/// worker has stopped.
pub fn run<B, R>(
    backends: Vec<B>,
    snapshots: &mut Snapshots,
    opts: &EngineOptions,
    control: impl FnOnce(&EngineHandle, &mut Snapshots) -> R,
) -> Result<RunOutcome<R>, EngineError>
where
    B: Backend + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let networks = snapshots.current().networks.len();
    let slots: Vec<Arc<Slot>> = backends
        .iter()
        .enumerate()
        .map(|(id, b)| {
            Arc::new(Slot {
                sample: Mutex::new(WorkerSample {
                    id,
                    core: opts.cores.get(id).copied().flatten(),
                    stats: Stats::new(b.port_count(), networks),
                    ..Default::default()
                }),
            })
        })
        .collect();
    let handle = EngineHandle {
        slots: slots.clone(),
        csn: Arc::new(LearnSync::new(backends.len())),
        stop: Arc::clone(&stop),
        trace: Arc::default(),
        capture: Arc::new(CaptureShared::new(backends.len())),
        slow: Arc::new(SlowShared::new(backends.len())),
        table_counters: Arc::default(),
        started: Instant::now(),
    };
    std::thread::scope(|scope| {
        let mut threads = Vec::with_capacity(backends.len());
        let mut spawn_error = None;
        for (id, backend) in backends.into_iter().enumerate() {
            let reader = snapshots.reader();
            let slot = Arc::clone(&slots[id]);
            let worker_stop = Arc::clone(&stop);
            let trace = Arc::clone(&handle.trace);
            let capture = Arc::clone(&handle.capture);
            let csn = Arc::clone(&handle.csn);
            let slow = Arc::clone(&handle.slow);
            let core = opts.cores.get(id).copied().flatten();
            let spawned = std::thread::Builder::new()
                .name(format!("cnfwd-worker-{id}"))
                .spawn_scoped(scope, move || {
                    if let Some(c) = core {
                        if !core_affinity::set_for_current(core_affinity::CoreId { id: c }) {
                            tracing::warn!(
                                worker = id,
                                core = c,
                                "worker {id}: cannot pin to core {c}; running unpinned"
                            );
                        }
                    }
                    let r = worker_loop(
                        id,
                        backend,
                        reader,
                        &slot,
                        &worker_stop,
                        (&trace, csn, slow, capture),
                        opts,
                    );
                    if r.is_err() {
                        worker_stop.store(true, Ordering::Relaxed);
                    }
                    r
                });
            match spawned {
                Ok(t) => threads.push(t),
                Err(source) => {
                    spawn_error = Some(EngineError::Spawn { worker: id, source });
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
        let control = {
            // Workers stop even if `control` panics (the scope joins them
            // before the panic goes on).
            let _stop_on_exit = StopOnDrop(&stop);
            match spawn_error {
                None => Some(control(&handle, snapshots)),
                Some(_) => None,
            }
        };
        let mut first_error = spawn_error;
        for (id, t) in threads.into_iter().enumerate() {
            let e = match t.join() {
                Ok(Ok(())) => None,
                Ok(Err(source)) => Some(EngineError::Io { worker: id, source }),
                Err(_) => Some(EngineError::Panicked(id)),
            };
            if first_error.is_none() {
                first_error = e;
            }
        }
        snapshots.reclaim();
        match (first_error, control) {
            (Some(e), _) => Err(e),
            (None, Some(control)) => Ok(RunOutcome {
                control,
                stats: handle.stats(),
                workers: handle.workers(),
            }),
            (None, None) => unreachable!("control skipped only on a spawn error"),
        }
    })
}

/// Sets the stop flag when dropped, unwinding included.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn worker_loop<B: Backend>(
    id: usize,
    mut backend: B,
    mut reader: SnapshotReader,
    slot: &Slot,
    stop: &AtomicBool,
    (trace, csn, slow, capture): (
        &Arc<TraceShared>,
        Arc<LearnSync>,
        Arc<SlowShared>,
        Arc<CaptureShared>,
    ),
    opts: &EngineOptions,
) -> Result<(), IoError> {
    backend.worker_started()?;
    let mut worker: Worker<B> = Worker::new(reader.load(), opts.burst);
    worker.set_csn(id, csn, reader.load());
    worker.set_slow(id, slow);
    worker.set_trace(id, Arc::clone(trace));
    worker.set_capture(id, capture);
    let ports = backend.port_count();
    let (mut rounds, mut idle_rounds, mut sleeps, mut empty) = (0u64, 0u64, 0u64, 0u32);
    // The first round publishes at once: readers learn the worker polls.
    let mut next_publish = Instant::now();
    // Link checks: a few system calls per port, once a second.
    let mut next_link_check = Instant::now() + LINK_CHECK_INTERVAL;
    let mut test_stall = opts
        .test_stall
        .filter(|t| t.worker == id)
        .map(|t| (Instant::now() + t.after, t.stall));
    let publish = |w: &Worker<B>, rounds, idle_rounds, sleeps, generation, now| {
        let mut s = slot.sample.lock().unwrap_or_else(|e| e.into_inner());
        s.stats.clone_from(&w.stats);
        s.rounds = rounds;
        s.idle_rounds = idle_rounds;
        s.sleeps = sleeps;
        s.generation = generation;
        s.last_round = Some(now);
    };
    let result = loop {
        let mut received = 0;
        let mut failed = None;
        for p in 0..ports {
            match worker.poll_live(&mut backend, &mut reader, p as PortId) {
                Ok(n) => received += n,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            break Err(e);
        }
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        rounds += 1;
        if received == 0 {
            idle_rounds += 1;
            // Acknowledge new snapshots while idle too, so the control
            // thread can free the old ones.
            reader.load();
            empty = empty.saturating_add(1);
            match opts.idle {
                IdlePolicy::Adaptive { empty_polls, sleep } if empty >= empty_polls => {
                    sleeps += 1;
                    std::thread::sleep(sleep);
                }
                _ => std::hint::spin_loop(),
            }
        } else {
            empty = 0;
        }
        let now = Instant::now();
        if now >= next_link_check {
            backend.check_links();
            worker.refresh_links(&backend);
            next_link_check = now + LINK_CHECK_INTERVAL;
        }
        if now >= next_publish {
            publish(
                &worker,
                rounds,
                idle_rounds,
                sleeps,
                reader.generation(),
                now,
            );
            next_publish = now + opts.publish_every;
            if let Some((_, stall)) = test_stall.filter(|(at, _)| now >= *at) {
                test_stall = None;
                std::thread::sleep(stall);
            }
        }
    };
    // Whatever happened, nothing stays queued and the counters are final.
    let flushed = worker.finish(&mut backend).and_then(|()| backend.flush());
    publish(
        &worker,
        rounds,
        idle_rounds,
        sleeps,
        reader.generation(),
        Instant::now(),
    );
    backend.worker_stopping();
    result.and(flushed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::memory::ChannelBackend;
    use crate::tables::Tables;

    fn tables() -> Tables {
        let cfg = cnfwd_config::parse(
            "[[l2_networks]]\nname = \"l\"\nvlan = 7\n\
             [[ports]]\nname = \"a\"\nbackend = \"pcap\"\nmac = \"02:00:00:00:00:01\"\nmode = \"access\"\nnetworks = [\"l\"]\n\
             [[ports]]\nname = \"b\"\nbackend = \"pcap\"\nmac = \"02:00:00:00:00:02\"\nmode = \"access\"\nnetworks = [\"l\"]\n",
            "<test>",
        )
        .unwrap();
        Tables::build(&cnfwd_config::resolve(&cfg).unwrap(), &[]).unwrap()
    }

    fn broadcast(i: u8) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 1, i, 0x08, 0x00]);
        f.resize(60, 0);
        f
    }

    #[test]
    fn workers_forward_count_and_stop_with_final_counters() {
        let mut snaps = Snapshots::new(tables());
        let (b0, e0) = ChannelBackend::new(2, 1024);
        let (b1, e1) = ChannelBackend::new(2, 1024);
        let opts = EngineOptions {
            idle: IdlePolicy::Adaptive {
                empty_polls: 4,
                sleep: Duration::from_micros(200),
            },
            ..EngineOptions::default()
        };
        let out = run(vec![b0, b1], &mut snaps, &opts, |h, _| {
            for i in 0..100 {
                e0[0].to_port.send(broadcast(i)).unwrap();
            }
            for i in 0..50 {
                e1[0].to_port.send(broadcast(i)).unwrap();
            }
            // Published counters catch up within a few publish intervals.
            let deadline = Instant::now() + Duration::from_secs(10);
            while h.stats().ports[0].rx_packets < 150 {
                assert!(Instant::now() < deadline);
                std::thread::sleep(Duration::from_millis(2));
            }
            // Then the workers idle and back off.
            std::thread::sleep(Duration::from_millis(50));
            h.workers()
        })
        .unwrap();
        assert_eq!(out.stats.ports[0].rx_packets, 150);
        assert_eq!(out.stats.ports[1].tx_packets, 150, "flooded to b");
        assert_eq!(out.workers[0].stats.ports[0].rx_packets, 100);
        assert_eq!(out.workers[1].stats.ports[0].rx_packets, 50);
        assert_eq!(e0[1].from_port.try_iter().count(), 100);
        assert_eq!(e1[1].from_port.try_iter().count(), 50);
        for w in &out.control {
            assert!(w.sleeps > 0, "worker {} never slept while idle", w.id);
            assert!(w.idle_rounds <= w.rounds);
            assert_eq!(w.generation, 1);
        }
    }

    #[test]
    fn heartbeat_goes_stale_only_for_a_stalled_worker() {
        assert_eq!(
            TestStall::parse("1:50:600"),
            Some(TestStall {
                worker: 1,
                after: Duration::from_millis(50),
                stall: Duration::from_millis(600),
            })
        );
        for bad in ["", "1:2", "1:2:3:4", "x:1:2", "1:-2:3"] {
            assert_eq!(TestStall::parse(bad), None, "{bad:?}");
        }
        let mut snaps = Snapshots::new(tables());
        let (b0, _e0) = ChannelBackend::new(2, 16);
        let (b1, _e1) = ChannelBackend::new(2, 16);
        let opts = EngineOptions {
            idle: IdlePolicy::Adaptive {
                empty_polls: 4,
                sleep: Duration::from_micros(200),
            },
            test_stall: TestStall::parse("1:50:600"),
            ..EngineOptions::default()
        };
        run(vec![b0, b1], &mut snaps, &opts, |h, _| {
            let age = |w: &WorkerSample| w.last_round.map(|t| t.elapsed());
            // Both publish after their first round.
            let deadline = Instant::now() + Duration::from_secs(10);
            while h.workers().iter().any(|w| w.last_round.is_none()) {
                assert!(Instant::now() < deadline, "a worker never published");
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(h
                .workers()
                .iter()
                .all(|w| w.last_round.unwrap() >= h.started()));
            // Well into worker 1's stall: its heartbeat is old, worker 0's
            // keeps moving.
            std::thread::sleep(Duration::from_millis(400));
            let w = h.workers();
            let (a0, a1) = (age(&w[0]).unwrap(), age(&w[1]).unwrap());
            assert!(a1 >= Duration::from_millis(300), "worker 1 age {a1:?}");
            assert!(a0 < a1, "worker 0 age {a0:?}, worker 1 age {a1:?}");
            // And it comes back.
            let deadline = Instant::now() + Duration::from_secs(10);
            while age(&h.workers()[1]).unwrap() > Duration::from_millis(100) {
                assert!(Instant::now() < deadline, "worker 1 never resumed");
                std::thread::sleep(Duration::from_millis(5));
            }
        })
        .unwrap();
    }

    /// A backend whose port fails on the first poll.
    struct Failing;

    impl Backend for Failing {
        type Buf = crate::packet::buf::HeapBuf;
        fn port_count(&self) -> usize {
            1
        }
        fn rx_burst(
            &mut self,
            _: PortId,
            _: &mut Vec<Self::Buf>,
            _: usize,
        ) -> Result<usize, IoError> {
            Err(IoError::WrongBackend {
                port: "a".into(),
                backend: "x",
                expected: "y",
            })
        }
        fn tx_burst(&mut self, _: PortId, _: &mut Vec<Self::Buf>) -> Result<usize, IoError> {
            Ok(0)
        }
        fn alloc(&mut self, _: PortId, frame: &[u8]) -> Option<crate::packet::buf::HeapBuf> {
            Some(crate::packet::buf::HeapBuf::from_frame(frame))
        }
        fn rx_finished(&self, _: PortId) -> bool {
            false
        }
        fn flush(&mut self) -> Result<(), IoError> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_worker_stops_the_engine_and_is_reported() {
        let mut snaps = Snapshots::new(tables());
        let r = run(
            vec![Failing],
            &mut snaps,
            &EngineOptions::default(),
            |h, _| {
                let deadline = Instant::now() + Duration::from_secs(10);
                while !h.stopping() {
                    assert!(Instant::now() < deadline, "control never told to stop");
                    std::thread::sleep(Duration::from_millis(1));
                }
            },
        );
        let e = r.unwrap_err();
        assert!(matches!(e, EngineError::Io { worker: 0, .. }), "{e}");
    }
}

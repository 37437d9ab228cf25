//! Target 4: the management request parser and every registered command
//! with fuzzed parameters, against a live engine (one worker on the memory
//! backend, so `/csn/*` dumps are answered) and a control state built from
//! `cnfwd_fuzz::CONFIG`.
//!
//! An input is requests separated by `\n`. Each is split by
//! `parse_request`, then called on `Commands` like the server does (the
//! server adds only the socket, access checks and `/`, `/help`, `/info`).
//! Excluded: `/config/save` (writes a file; this run has no file anyway)
//! and `/config/apply` by `path` (reads files from the host as uid 0;
//! `/config/apply` with `toml` text is fuzzed).
//! Nothing stops the process through the handler.
//!
//! Each input starts from the fixed configuration (fresh control state,
//! fresh snapshot), so a crash reproduces from its input alone.
//!
//! Checks: no panic; every reply serialises; a write command that fails
//! leaves the running configuration unchanged; the running configuration
//! after any sequence still resolves.
#![no_main]

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use cnfwd_fuzz::{CONFIG, PORTS};
use dataplane::control::commands::{Commands, ControlState};
use dataplane::control::telemetry::{
    error_reply, parse_request, reply, reply_key, Access, Handler, Params, Peer,
};
use dataplane::engine::snapshot::Snapshots;
use dataplane::engine::workers::{run, EngineOptions, IdlePolicy};
use dataplane::io::memory::MemoryBackend;
use dataplane::tables::Tables;
use libfuzzer_sys::fuzz_target;

const EXCLUDED: &[&str] = &["/config/save"];

type Link = (SyncSender<Vec<u8>>, Receiver<()>);

/// The channel to the engine thread, started on first use.
fn engine() -> &'static Mutex<Link> {
    static E: OnceLock<Mutex<Link>> = OnceLock::new();
    E.get_or_init(|| {
        let (in_tx, in_rx) = sync_channel::<Vec<u8>>(0);
        let (done_tx, done_rx) = sync_channel::<()>(0);
        std::thread::spawn(move || {
            let (cfg, r) = fixed();
            // Built once (the FIB build dominates a run); shared parts are
            // `Arc`s, so a clone is cheap.
            let fresh = Tables::build(&r, &[]).expect("fuzz tables");
            let mut snaps = Snapshots::new(fresh.clone());
            let opts = EngineOptions {
                burst: 32,
                idle: IdlePolicy::Adaptive {
                    empty_polls: 16,
                    sleep: Duration::from_micros(50),
                },
                ..EngineOptions::default()
            };
            let backends = vec![MemoryBackend::new(PORTS.len())];
            let _ = run(backends, &mut snaps, &opts, |h, snaps| {
                let mut clean = snaps.generation();
                for input in in_rx {
                    let (cfg, r) = (cfg.clone(), r.clone());
                    // Back to the fixed tables if the last input changed them.
                    if snaps.generation() != clean {
                        clean = snaps.publish(fresh.clone());
                    }
                    snaps.reclaim();
                    let mut state = ControlState::new(cfg, r, None, Vec::new());
                    let mut commands = Commands {
                        state: &mut state,
                        engine: h,
                        snapshots: snaps,
                    };
                    serve(&mut commands, &input);
                    let _ = done_tx.send(());
                }
            });
        });
        Mutex::new((in_tx, done_rx))
    })
}

fn fixed() -> (cnfwd_config::Config, cnfwd_config::Resolved) {
    let cfg = cnfwd_config::parse(CONFIG, "<fuzz>").expect("fuzz config parses");
    let r = cnfwd_config::resolve(&cfg).expect("fuzz config resolves");
    (cfg, r)
}

fn serve(c: &mut Commands<'_>, input: &[u8]) {
    let peer = Peer {
        pid: 1,
        uid: 0,
        gid: 0,
    };
    for msg in input.split(|&b| b == b'\n') {
        let req = match parse_request(msg) {
            Ok(req) => req,
            Err((key, text)) => {
                let _ = error_reply(&key, &text);
                continue;
            }
        };
        if EXCLUDED.contains(&req.command) {
            continue;
        }
        let by_path = req
            .params
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .is_some_and(|v| v.get("path").is_some());
        if req.command == "/config/apply" && by_path {
            continue;
        }
        let Some(access) = c
            .commands()
            .iter()
            .find(|i| i.name == req.command)
            .map(|i| i.access)
        else {
            continue;
        };
        let before = (access == Access::Write).then(|| c.state.config.clone());
        let key = reply_key(req.command);
        match c.call(req.command, Params::new(req.params), &peer) {
            Ok(v) => {
                let bytes = reply(&key, v);
                assert!(
                    !bytes.is_empty(),
                    "{}: reply does not serialise",
                    req.command
                );
            }
            Err(e) => {
                let _ = error_reply(&key, &e.to_string());
                if let Some(before) = before {
                    assert!(
                        before == c.state.config,
                        "{} failed ({e}) but changed the running configuration",
                        req.command
                    );
                }
            }
        }
    }
    if let Err(e) = cnfwd_config::resolve(&c.state.config) {
        panic!("running configuration no longer resolves: {e:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let link = engine().lock().unwrap_or_else(|e| e.into_inner());
    link.0.send(data.to_vec()).expect("engine thread alive");
    link.1.recv().expect("engine thread answers");
});

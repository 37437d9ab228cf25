//! Packet tracing: `/trace/start`, `/trace/stop` and `/trace/show`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{fail, Command, Commands};
use crate::control::telemetry::CommandError;
use crate::engine::trace::MAX_RECORDS;

/// This area's commands, each with its handler.
pub(super) const COMMANDS: &[Command] = &[
    Command::read(
        "/trace/show",
        "Packets traced since /trace/start, each with the pipeline's decisions.",
        |c, _, _| Ok(c.trace_show()),
    ),
    Command::write(
        "/trace/start",
        "Trace the next packets. Params: {\"count\": N, \"port\": NAME (optional)}.",
        |c, p, _| c.trace_start(p.parse()?),
    ),
    Command::write(
        "/trace/stop",
        "Stop tracing (the records stay).",
        |c, _, _| Ok(c.trace_stop()),
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceParams {
    count: u64,
    #[serde(default)]
    port: Option<String>,
}

impl Commands<'_> {
    /// What is left to trace and the records so far.
    fn trace_show(&self) -> Value {
        json!({
            "remaining": self.engine.trace().remaining(),
            "packets": self.engine.trace().records(),
        })
    }

    /// Traces the next `count` packets (of one port, if named).
    fn trace_start(&mut self, p: TraceParams) -> Result<Value, CommandError> {
        let t = self.snapshots.current();
        let port = match &p.port {
            None => None,
            Some(name) => Some(
                t.ports
                    .iter()
                    .position(|x| &x.name == name)
                    .ok_or_else(|| fail(format!("port {name:?}: no such port")))?
                    as u16,
            ),
        };
        if p.count == 0 || p.count > MAX_RECORDS as u64 {
            return Err(fail(format!(
                "count {}: must be in 1..={}",
                p.count, MAX_RECORDS
            )));
        }
        self.engine.trace().start(p.count, port);
        Ok(json!({"tracing": p.count, "port": p.port}))
    }

    /// Stops tracing; the records stay.
    fn trace_stop(&mut self) -> Value {
        self.engine.trace().stop();
        json!({"tracing": 0})
    }
}

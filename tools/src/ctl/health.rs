//! `cnfwdctl health [--ready]`: an exec probe over the `/health` reply.
//!
//! Exit status 0 when live (with `--ready`: ready), 1 when not (or when
//! the server answers `/health` with an error), 2 when the socket cannot be
//! reached. One line says why on stdout (`--json`: the reply instead).
//! Liveness and readiness are the server's own verdicts (`live`, `ready`,
//! with the findings in `not_live`, `not_ready`), the same ones its
//! `/healthz` and `/readyz` give; a cnfwd too old to send them is judged
//! live by `status == "ok"` and never ready.

use serde_json::Value;

/// The verdict on a `/health` reply: passing, and the line saying why.
pub fn verdict(reply: &Value, ready: bool) -> (bool, String) {
    let (flag, findings, what) = if ready {
        ("ready", "not_ready", "ready")
    } else {
        ("live", "not_live", "live")
    };
    let workers = reply["workers"].as_u64().unwrap_or(0);
    let ok =
        match reply[flag].as_bool() {
            Some(b) => b,
            None if !ready => reply["status"] == "ok",
            None => return (
                false,
                "not ready: the /health reply has no readiness (a cnfwd older than its probes?)"
                    .to_string(),
            ),
        };
    if ok {
        let line = if ready {
            let ports = reply["ports"].as_array().map_or(0, Vec::len);
            format!("ready: {workers} worker(s) forwarding, {ports} port(s) up")
        } else {
            format!("live: {workers} worker(s) polling")
        };
        return (true, line);
    }
    let why: Vec<&str> = reply[findings]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let why = if why.is_empty() {
        format!("status {}", super::render::cell(&reply["status"]))
    } else {
        why.join("; ")
    };
    (false, format!("not {what}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn verdicts_follow_the_server() {
        let healthy = json!({
            "status": "ok", "workers": 2, "live": true, "ready": true,
            "not_live": [], "not_ready": [],
            "ports": [{"name": "a"}, {"name": "b"}],
        });
        assert_eq!(
            verdict(&healthy, false),
            (true, "live: 2 worker(s) polling".into())
        );
        assert_eq!(
            verdict(&healthy, true),
            (true, "ready: 2 worker(s) forwarding, 2 port(s) up".into())
        );
        let down = json!({
            "status": "ok", "workers": 1, "live": true, "ready": false,
            "not_live": [],
            "not_ready": ["port a (af_packet v0): not up: down", "port b (af_packet v1): not up: missing"],
        });
        assert!(verdict(&down, false).0);
        assert_eq!(
            verdict(&down, true),
            (
                false,
                "not ready: port a (af_packet v0): not up: down; port b (af_packet v1): not up: missing"
                    .into()
            )
        );
        let stalled = json!({
            "status": "stalled", "workers": 1, "live": false, "ready": false,
            "not_live": ["worker 0: stalled: no polling round for 1500 ms (stall_timeout_ms 1000)"],
        });
        assert_eq!(
            verdict(&stalled, false),
            (
                false,
                "not live: worker 0: stalled: no polling round for 1500 ms (stall_timeout_ms 1000)"
                    .into()
            )
        );
        // An older cnfwd: status only.
        let old = json!({"status": "ok", "workers": 1});
        assert!(verdict(&old, false).0);
        assert!(!verdict(&old, true).0);
        assert_eq!(
            verdict(&json!({"status": "stopping"}), false),
            (false, "not live: status stopping".into())
        );
    }
}

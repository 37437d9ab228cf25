//! Requests and replies larger than one socket message.
//!
//! - `/routes` replies come a page at a time (`offset`, `limit`, the reply's
//!   `total` and `next_offset`): [`all_routes`] follows the pages and
//!   returns every route as one array (a table for `render`), choosing a
//!   page size that fits the greeting's `max_output_len` and halving it if
//!   the server still finds a page too large.
//! - `/config` is paged as text (`format`, `offset`, `limit`):
//!   [`config_text`] joins the pages; `show config` prints the TOML,
//!   `--json show config` the JSON.
//! - `config apply FILE` sends the file's text when it fits one message
//!   ([`INLINE_APPLY_MAX`]) and otherwise its absolute path, which cnfwd
//!   reads itself if the caller's uid and groups may ([`apply_params`]).
//!
//! Pages are taken one after the other: a change made between two pages
//! (a route added) can shift a `/routes` page by a route; `/config` pages
//! come from one version of the text unless a write command runs in
//! between.

use std::path::Path;

use dataplane::control::{Client, ClientError};
use serde_json::{json, Map, Value};

/// Largest configuration file `config apply` sends inline (its text in
/// the request); a larger one is sent by path. 128 KiB fits one
/// `SOCK_SEQPACKET` message even without the right to raise `SO_SNDBUF`.
pub const INLINE_APPLY_MAX: u64 = 128 * 1024;

/// Most pages followed (a guard against a server whose `next_offset` does
/// not move on).
const MAX_PAGES: usize = 100_000;

/// Bytes of reply budgeted per route when choosing the page size.
const ROUTE_BYTES: usize = 256;

/// A reply: `Ok(value)` or the server's error message.
pub type Reply = Result<Value, String>;

fn too_large(msg: &str) -> bool {
    msg.contains("larger than max_output_len") || msg.contains("does not fit the socket buffer")
}

/// Every route `/routes` lists for `params` (`vrf`, `prefix`), following
/// the pages. A server that answers with a plain array (no pages) is
/// taken as is.
pub fn all_routes(client: &mut Client, params: Option<&Value>) -> Result<Reply, ClientError> {
    let mut p: Map<String, Value> = params
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut limit = (client.max_output_len() / ROUTE_BYTES).clamp(16, 10_000);
    let mut rows: Vec<Value> = Vec::new();
    let mut offset = 0u64;
    for _ in 0..MAX_PAGES {
        p.insert("offset".into(), json!(offset));
        p.insert("limit".into(), json!(limit));
        let v = match client.call("/routes", Some(&Value::Object(p.clone())))? {
            Ok(v) => v,
            Err(e) if too_large(&e) && limit > 1 => {
                limit /= 2;
                continue;
            }
            Err(e) => return Ok(Err(e)),
        };
        let Value::Object(mut page) = v else {
            // Not paged: the whole answer.
            return Ok(Ok(v));
        };
        let Some(Value::Array(batch)) = page.remove("routes") else {
            return Ok(Ok(Value::Object(page)));
        };
        rows.extend(batch);
        match page.get("next_offset").and_then(Value::as_u64) {
            Some(next) if next > offset => offset = next,
            Some(next) => {
                return Ok(Err(format!(
                    "the server's next_offset {next} does not follow offset {offset}"
                )))
            }
            None => return Ok(Ok(Value::Array(rows))),
        }
    }
    Ok(Err(format!("more than {MAX_PAGES} pages of routes")))
}

/// The running configuration (or one `section`) as `format` (`toml` or
/// `json`) text, joined from its pages.
pub fn config_text(
    client: &mut Client,
    format: &str,
    section: Option<&str>,
) -> Result<Result<String, String>, ClientError> {
    // Escaping in JSON can double the size of the text: half the budget.
    let mut limit = (client.max_output_len() / 2).saturating_sub(512).max(1024);
    let mut text = String::new();
    let mut offset = 0u64;
    for _ in 0..MAX_PAGES {
        let mut p = json!({"format": format, "offset": offset, "limit": limit});
        if let Some(s) = section {
            p["section"] = json!(s);
        }
        let page = match client.call("/config", Some(&p))? {
            Ok(v) => v,
            Err(e) if too_large(&e) && limit > 64 => {
                limit /= 2;
                continue;
            }
            Err(e) => return Ok(Err(e)),
        };
        let Some(chunk) = page.get("text").and_then(Value::as_str) else {
            return Ok(Err(format!("not a page of text: {page}")));
        };
        text.push_str(chunk);
        match page.get("next_offset").and_then(Value::as_u64) {
            Some(next) if next > offset => offset = next,
            Some(next) => {
                return Ok(Err(format!(
                    "the server's next_offset {next} does not follow offset {offset}"
                )))
            }
            None => return Ok(Ok(text)),
        }
    }
    Ok(Err(format!("more than {MAX_PAGES} pages of configuration")))
}

/// The running configuration for `show config`: TOML text (a string
/// value), or with `json` the configuration as a JSON value.
pub fn config(client: &mut Client, json: bool) -> Result<Reply, ClientError> {
    let text = match config_text(client, if json { "json" } else { "toml" }, None)? {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    if json {
        Ok(serde_json::from_str(&text)
            .map_err(|e| format!("the configuration pages do not join into JSON: {e}")))
    } else {
        Ok(Ok(Value::String(text.trim_end().to_string())))
    }
}

/// The parameters of `/config/apply` for `file`: `{"toml": TEXT}` when it
/// has at most [`INLINE_APPLY_MAX`] bytes, else `{"path": ABSOLUTE}`.
pub fn apply_params(file: &Path) -> std::io::Result<Value> {
    let size = std::fs::metadata(file)?.len();
    if size <= INLINE_APPLY_MAX {
        let text = std::fs::read_to_string(file)?;
        return Ok(json!({ "toml": text }));
    }
    let abs = std::fs::canonicalize(file)?;
    Ok(json!({ "path": abs }))
}

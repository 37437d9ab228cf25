//! The DPDK telemetry v2 protocol, without I/O: how a request message splits
//! into a command and its parameters, what a reply message looks like, and
//! the [`Handler`] trait through which cnfwd's commands plug in.
//!
//! The wire format (one message per `SOCK_SEQPACKET` record):
//!
//! - on connect the server sends the greeting
//!   `{"version": "cnfwd <ver>", "pid": N, "max_output_len": N}`;
//! - a request is `"/command"` or `"/command,params"` (UTF-8);
//! - the reply is a single-key object `{"/command": value}`; an error is
//!   `{"/command": {"error": "what was wrong"}}` (DPDK answers `null`,
//!   cnfwd says why, keeping the single-key shape);
//! - `/` lists the commands, `/help,/command` describes one and `/info`
//!   answers version, pid, uptime and `max_output_len` (DPDK's own `/info`
//!   has the first and last of these).
//!
//! Write commands take their parameters as JSON after the comma; read
//! commands may too. [`Params`] turns that text into a typed value and names
//! the argument that had the wrong type.

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Reads state: allowed to readers and writers.
    Read,
    /// Changes state: allowed to uid 0 and the write group only.
    Write,
}

impl Access {
    /// `"read"` or `"write"`, as in `/help` replies.
    pub fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// One command a [`Handler`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    /// The command, starting with `/` (e.g. `/route/add`).
    pub name: &'static str,
    /// One line for `/help`: what it does and its parameters.
    pub help: &'static str,
    /// Who may run it; checked by the server before [`Handler::call`].
    pub access: Access,
}

/// The process on the other end of a connection, from `SO_PEERCRED` at
/// connect time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// Its pid (as seen in the server's pid namespace; 0 if not known).
    pub pid: i32,
    /// Its effective uid.
    pub uid: u32,
    /// Its effective gid.
    pub gid: u32,
}

/// Why a command failed; the text goes into the error reply
/// `{"/command": {"error": "<text>"}}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The command needs parameters and got none.
    #[error("missing parameters: expected JSON after the comma, e.g. {example}")]
    MissingParams {
        /// An example of what to send.
        example: String,
    },
    /// The parameters are not JSON.
    #[error("invalid JSON parameters at column {column}: {message}")]
    InvalidJson {
        /// 1-based column in the parameter text.
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// Valid JSON of the wrong shape; `argument` names the offending
    /// top-level field when it could be found.
    #[error("{}", match argument {
        Some(a) => format!("argument {a:?}: {message}"),
        None => format!("invalid parameters: {message}"),
    })]
    BadParams {
        /// The top-level field with the wrong type or value, if known.
        argument: Option<String>,
        /// What was wrong (e.g. `invalid type: string "x", expected u64`).
        message: String,
    },
    /// The command ran and failed (a route that does not exist, ...).
    #[error("{0}")]
    Failed(String),
}

impl CommandError {
    /// A [`CommandError::Failed`] with this message.
    pub fn failed(msg: impl Into<String>) -> Self {
        CommandError::Failed(msg.into())
    }
}

/// The text after the first comma of a request, with typed accessors.
/// Borrowed from the server's receive buffer for the duration of one call.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    raw: Option<&'a str>,
}

/// Top-level fields tried one by one to find which one has a wrong type
/// (each try is one deserialisation; beyond this, the error names none).
const MAX_BLAME_FIELDS: usize = 64;

impl<'a> Params<'a> {
    /// Parameters with this raw text (`None`: the request had no comma).
    pub fn new(raw: Option<&'a str>) -> Self {
        Self { raw }
    }

    /// The raw text after the comma, untouched (`None`: no comma).
    pub fn raw(&self) -> Option<&'a str> {
        self.raw
    }

    /// True when there was no comma or only whitespace after it.
    pub fn is_empty(&self) -> bool {
        self.raw.is_none_or(|r| r.trim().is_empty())
    }

    /// The parameters as a JSON value; [`CommandError::MissingParams`] when
    /// empty, [`CommandError::InvalidJson`] (with the column) when not JSON.
    pub fn json(&self) -> Result<Value, CommandError> {
        let raw = self.non_empty()?;
        serde_json::from_str(raw).map_err(|e| CommandError::InvalidJson {
            column: e.column(),
            message: strip_position(&e.to_string()),
        })
    }

    /// The parameters as `T`. Errors: [`CommandError::MissingParams`],
    /// [`CommandError::InvalidJson`], or [`CommandError::BadParams`] naming
    /// the top-level argument with the wrong type or a missing/unknown field
    /// (as serde says: ``missing field `vrf` ``).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, CommandError> {
        let value = self.json()?;
        from_value_blaming(value)
    }

    /// Like [`Params::parse`], but empty parameters give `T::default()`.
    pub fn parse_or_default<T: DeserializeOwned + Default>(&self) -> Result<T, CommandError> {
        if self.is_empty() {
            Ok(T::default())
        } else {
            self.parse()
        }
    }

    fn non_empty(&self) -> Result<&'a str, CommandError> {
        match self.raw {
            Some(r) if !r.trim().is_empty() => Ok(r),
            _ => Err(CommandError::MissingParams {
                example: "/command,{\"name\": value}".to_string(),
            }),
        }
    }
}

/// Deserialises `value` as `T`; on a type error in an object, finds the
/// top-level field responsible by removing fields one at a time: the field
/// whose removal changes the error (to success or to "missing field") is
/// the culprit.
fn from_value_blaming<T: DeserializeOwned>(value: Value) -> Result<T, CommandError> {
    let err = match T::deserialize(&value) {
        Ok(t) => return Ok(t),
        Err(e) => strip_position(&e.to_string()),
    };
    // serde already names the field for these.
    let names_field = err.starts_with("missing field") || err.starts_with("unknown field");
    let mut argument = None;
    if let (false, Value::Object(map)) = (names_field, &value) {
        if map.len() <= MAX_BLAME_FIELDS {
            for key in map.keys() {
                let mut without = map.clone();
                without.remove(key);
                let other = T::deserialize(&Value::Object(without))
                    .map(|_| ())
                    .map_err(|e| strip_position(&e.to_string()));
                if other.as_ref().err() != Some(&err) {
                    argument = Some(key.clone());
                    break;
                }
            }
        }
    }
    Err(CommandError::BadParams {
        argument,
        message: err,
    })
}

/// serde_json appends " at line L column C"; for one-line parameters the
/// column is reported separately (or meaningless for a `Value`).
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// cnfwd's commands, served by [`crate::control::Server`]. The server owns
/// the socket, access checks and the built-in `/`, `/help` and `/info`; a
/// handler only lists its commands and runs them.
///
/// Calls happen on the thread that drives [`crate::control::Server::poll`],
/// one at a time. A call should return promptly (it delays every other
/// client); it must not block on a client.
pub trait Handler {
    /// The commands this handler serves. Names start with `/`, are unique,
    /// and are not `/`, `/help` or `/info` (the server answers those; a
    /// handler entry with one of those names is ignored).
    fn commands(&self) -> &[CommandInfo];

    /// Runs `command` (one of [`Handler::commands`], access already checked
    /// for `peer`) and returns the reply value, which the server wraps as
    /// `{"/command": value}`.
    fn call(
        &mut self,
        command: &str,
        params: Params<'_>,
        peer: &Peer,
    ) -> Result<Value, CommandError>;
}

/// A request split into command and parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The text before the first comma.
    pub command: &'a str,
    /// The text after it, if there was a comma.
    pub params: Option<&'a str>,
}

/// Longest command name echoed back as a reply key (a longer one is cut).
pub const MAX_COMMAND_KEY: usize = 128;

/// Splits a request message. Errors (with the reply key to use) for a
/// message that is not UTF-8 or does not start with `/`.
pub fn parse_request(msg: &[u8]) -> Result<Request<'_>, (String, String)> {
    let text = match std::str::from_utf8(msg) {
        Ok(t) => t,
        Err(e) => {
            let key = reply_key(&String::from_utf8_lossy(&msg[..e.valid_up_to()]));
            return Err((
                key,
                format!(
                    "request is not UTF-8 (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            ));
        }
    };
    // Tools (and `echo`) may add a trailing newline.
    let text = text.trim_end_matches(['\n', '\r', '\0']);
    let (command, params) = match text.split_once(',') {
        Some((c, p)) => (c, Some(p)),
        None => (text, None),
    };
    if !command.starts_with('/') {
        return Err((
            reply_key(command),
            format!(
                "a request is \"/command\" or \"/command,params\"; got {:?}",
                cut(command, 40)
            ),
        ));
    }
    Ok(Request { command, params })
}

/// The reply key for a command: the command itself, cut to
/// [`MAX_COMMAND_KEY`] bytes at a character boundary.
pub fn reply_key(command: &str) -> String {
    cut(command, MAX_COMMAND_KEY).to_string()
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A reply message: `{"<key>": value}` serialised.
pub fn reply(key: &str, value: Value) -> Vec<u8> {
    let mut m = Map::with_capacity(1);
    m.insert(key.to_string(), value);
    // Serialising a Value cannot fail (string keys, finite numbers).
    serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
}

/// An error reply message: `{"<key>": {"error": msg}}`.
pub fn error_reply(key: &str, msg: &str) -> Vec<u8> {
    reply(key, json!({ "error": msg }))
}

/// The greeting sent on connect, as DPDK sends it.
pub fn greeting(pid: u32, max_output_len: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "version": version(),
        "pid": pid,
        "max_output_len": max_output_len,
    }))
    .unwrap_or_default()
}

/// `"cnfwd <crate version>"`, the greeting's and `/info`'s version.
pub fn version() -> String {
    format!("cnfwd {}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(deny_unknown_fields)]
    struct Add {
        name: String,
        count: u64,
        #[serde(default)]
        port: Option<String>,
    }

    #[test]
    fn requests_split_at_the_first_comma() {
        let r = parse_request(b"/route/add,{\"a\":1,\"b\":2}").unwrap();
        assert_eq!(r.command, "/route/add");
        assert_eq!(r.params, Some("{\"a\":1,\"b\":2}"));
        let r = parse_request(b"/ports\n").unwrap();
        assert_eq!((r.command, r.params), ("/ports", None));
        let r = parse_request(b"/").unwrap();
        assert_eq!(r.command, "/");
    }

    #[test]
    fn bad_requests_are_errors_with_a_key() {
        let (key, msg) = parse_request(b"ports").unwrap_err();
        assert_eq!(key, "ports");
        assert!(msg.contains("/command"), "{msg}");
        let (key, msg) = parse_request(b"/x\xff\xfe").unwrap_err();
        assert_eq!(key, "/x");
        assert!(msg.contains("not UTF-8"), "{msg}");
        let long = "é".repeat(200);
        let (key, _) = parse_request(long.as_bytes()).unwrap_err();
        assert!(key.len() <= MAX_COMMAND_KEY && long.starts_with(&key));
    }

    #[test]
    fn typed_params_name_the_wrong_argument() {
        let p = Params::new(Some(r#"{"name": "a", "count": "seven"}"#));
        match p.parse::<Add>() {
            Err(CommandError::BadParams { argument, message }) => {
                assert_eq!(argument.as_deref(), Some("count"));
                assert!(
                    message.contains("invalid type: string \"seven\""),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        let p = Params::new(Some(r#"{"name": 3, "count": 1}"#));
        let e = p.parse::<Add>().unwrap_err();
        assert!(
            e.to_string()
                .starts_with("argument \"name\": invalid type: integer `3`"),
            "{e}"
        );
        // Optional field with a wrong type: removing it makes the parse succeed.
        let p = Params::new(Some(r#"{"name": "a", "count": 1, "port": 7}"#));
        let e = p.parse::<Add>().unwrap_err();
        assert!(e.to_string().starts_with("argument \"port\""), "{e}");
    }

    #[test]
    fn params_errors_say_what_is_missing_or_broken() {
        let e = Params::new(Some(r#"{"name": "a"}"#))
            .parse::<Add>()
            .unwrap_err();
        assert_eq!(e.to_string(), "invalid parameters: missing field `count`");
        let e = Params::new(Some(r#"{"name": "a", "count": 1, "x": 0}"#))
            .parse::<Add>()
            .unwrap_err();
        assert!(e.to_string().contains("unknown field `x`"), "{e}");
        let e = Params::new(Some(r#"{"name": "a", "count": }"#))
            .parse::<Add>()
            .unwrap_err();
        assert!(
            matches!(e, CommandError::InvalidJson { column: 24, .. }),
            "{e:?}"
        );
        let e = Params::new(Some(r#""text""#)).parse::<Add>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid parameters: invalid type: string \"text\", expected struct Add"
        );
        assert!(matches!(
            Params::new(None).parse::<Add>(),
            Err(CommandError::MissingParams { .. })
        ));
        assert!(matches!(
            Params::new(Some("  ")).parse::<Add>(),
            Err(CommandError::MissingParams { .. })
        ));
        assert_eq!(
            Params::new(Some(" ")).parse_or_default::<Add>(),
            Ok(Add::default())
        );
    }

    #[test]
    fn replies_have_one_key() {
        let r: Value = serde_json::from_slice(&error_reply("/x", "bad \"thing\"")).unwrap();
        assert_eq!(r, json!({"/x": {"error": "bad \"thing\""}}));
        let g: Value = serde_json::from_slice(&greeting(42, 4096)).unwrap();
        assert_eq!(g["pid"], 42);
        assert_eq!(g["max_output_len"], 4096);
        assert!(g["version"].as_str().unwrap().starts_with("cnfwd "));
    }
}

//! `cnfwdctl`: the command line ([`cli`]), the rendering of replies
//! ([`render`]), the interactive prompt ([`interactive`]) and [`run`],
//! which ties them to a [`dataplane::control::Client`].
//!
//! Exit status: 0 on success, 1 on an error reply, 2 on a usage or
//! connection error (the message names the socket path). Errors go to
//! stderr as `cnfwdctl: ...` lines; with `--json` they go to stdout as one
//! JSON object `{"error": MESSAGE, "command": ..., "kind": ...}` instead,
//! with the same exit status. `health` is a probe: 1 also when the reply
//! says unhealthy ([`health`]).

pub mod capture;
pub mod cli;
pub mod health;
pub mod interactive;
pub mod pages;
pub mod render;

use std::io::Write;
use std::time::Duration;

use clap::CommandFactory;
use dataplane::control::{Client, ClientError};
use serde_json::{json, Value};

use cli::{local_help, request_for, Cli, Command, Request};

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: the server answered with an error.
pub const EXIT_ERROR_REPLY: u8 = 1;
/// Exit status: bad command line, or no conversation with the server.
pub const EXIT_USAGE: u8 = 2;

/// Where replies and errors go, and in which form.
pub struct Output<'a, O: Write, E: Write> {
    /// Replies (and, with `json`, errors).
    pub out: &'a mut O,
    /// Error lines (text mode).
    pub err: &'a mut E,
    /// Print JSON instead of text.
    pub json: bool,
}

impl<O: Write, E: Write> Output<'_, O, E> {
    /// Prints an error: a `cnfwdctl: ...` line on `err`, or with `json` a
    /// JSON object on `out` (`kind`: `reply`, `usage` or `connection`).
    pub fn error(&mut self, kind: &str, command: Option<&str>, message: &str) {
        if self.json {
            let v = json!({"error": message, "command": command, "kind": kind});
            let _ = writeln!(self.out, "{}", pretty(&v));
        } else {
            match command {
                Some(c) if kind == "reply" => {
                    let _ = writeln!(self.err, "cnfwdctl: {c}: {message}");
                }
                _ => {
                    let _ = writeln!(self.err, "cnfwdctl: {message}");
                }
            }
        }
    }

    /// Prints `text` as is (a closed pipe, as with `| head`, is not an
    /// error: the rest is dropped quietly).
    pub fn text(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The seconds of `--timeout`, if usable.
pub fn timeout_of(cli: &Cli) -> Option<Duration> {
    (cli.timeout.is_finite() && cli.timeout > 0.0)
        .then(|| Duration::from_secs_f64(cli.timeout.min(86_400.0)))
}

/// Runs a parsed command line, printing to `out` (the reply) and `err`
/// (errors); returns the exit status. Without a command: the interactive
/// prompt (when stdin is a terminal; otherwise one command per input line).
pub fn run(cli: &Cli, out: &mut impl Write, err: &mut impl Write) -> u8 {
    let Some(command) = &cli.command else {
        return interactive::run(cli, out, err);
    };
    let mut o = Output {
        out,
        err,
        json: cli.json,
    };
    // Commands that need no server.
    match command {
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics when the pipe
            // closes under it (`| head`).
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "cnfwdctl", &mut buf);
            let _ = o.out.write_all(&buf);
            return EXIT_OK;
        }
        Command::Help { command } => {
            if let Some(text) = local_help(command) {
                if o.json {
                    o.text(&(pretty(&json!({"help": text})) + "\n"));
                } else {
                    o.text(&text);
                }
                return EXIT_OK;
            }
        }
        _ => {}
    }
    let Some(timeout) = timeout_of(cli) else {
        o.error(
            "usage",
            None,
            "--timeout must be a positive number of seconds",
        );
        return EXIT_USAGE;
    };
    let request = match request_for(command) {
        Ok(Some(r)) => r,
        Ok(None) => return EXIT_OK,
        Err(e) => {
            o.error("usage", None, &e.to_string());
            return EXIT_USAGE;
        }
    };
    let mut client = match Client::connect(&cli.socket, timeout) {
        Ok(c) => c,
        Err(e) => {
            o.error("connection", Some(&request.command), &e.to_string());
            return EXIT_USAGE;
        }
    };
    execute(&mut client, command, &request, &mut o)
}

/// Sends `request` (made from `command`) on `client` and prints the reply
/// or the error; returns the exit status. Shared by one-shot and
/// interactive use.
pub fn execute(
    client: &mut Client,
    command: &Command,
    request: &Request,
    o: &mut Output<'_, impl Write, impl Write>,
) -> u8 {
    match exchange(client, request) {
        Err(e) => {
            o.error("connection", Some(&request.command), &e.to_string());
            EXIT_USAGE
        }
        Ok(Err(msg)) => {
            o.error("reply", Some(&request.command), &msg);
            EXIT_ERROR_REPLY
        }
        Ok(Ok(value)) => {
            let probe = match command {
                Command::Health { ready } => Some(health::verdict(&value, *ready)),
                _ => None,
            };
            let code = match &probe {
                Some((false, _)) => EXIT_ERROR_REPLY,
                _ => EXIT_OK,
            };
            let text = match probe {
                _ if o.json => pretty(&value) + "\n",
                Some((_, line)) => line + "\n",
                None => render::render_reply(&request.command, &value),
            };
            o.text(&text);
            code
        }
    }
}

/// One request and its reply (the place to follow pages of a long reply).
pub fn exchange(
    client: &mut Client,
    request: &Request,
) -> Result<Result<Value, String>, ClientError> {
    // Replies larger than one message come in pages (see `pages`).
    match (request.command.as_str(), &request.raw, &request.params) {
        ("/routes", None, params) => pages::all_routes(client, params.as_ref()),
        ("/config", None, None) => pages::config(client, true),
        _ => client.request(&request.message()),
    }
}

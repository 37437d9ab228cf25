//! `cnfwdctl` with no command: a prompt like `vppctl`'s. Each line is a
//! cnfwdctl command line without the program name (`show ports`,
//! `route add red 10.0.0.0/8 via 10.0.0.1`, `help show`, `--json show
//! vrfs`); `quit`, `exit` or Ctrl-D leave, Ctrl-C abandons the line.
//!
//! Guarantees: one connection for the whole session (opened before the
//! first prompt; if the server goes away, the next command reconnects);
//! Tab completes command words from the same command tree as the one-shot
//! form (a second Tab lists the choices, as in bash and vppctl); history
//! is kept in `$XDG_STATE_HOME/cnfwdctl/history` (else
//! `~/.cnfwdctl_history`), saved after every command. An error reply or a
//! bad line is printed and the prompt comes back; the session exits 0 at
//! the end, or 2 when the socket cannot be reached at the start.

use std::io::Write;
use std::path::PathBuf;

use clap::{CommandFactory, Parser};
use dataplane::control::Client;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use super::cli::{local_help, request_for, Cli, Command};
use super::{execute, timeout_of, Output, EXIT_OK, EXIT_USAGE};

/// The prompt.
pub const PROMPT: &str = "cnfwd# ";

/// Words the prompt understands besides cnfwdctl's commands.
const SESSION_WORDS: &[&str] = &["quit", "exit"];

/// The history file: `$XDG_STATE_HOME/cnfwdctl/history`, else
/// `$HOME/.cnfwdctl_history` (`None` without either).
pub fn history_path() -> Option<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(state) = nonempty("XDG_STATE_HOME") {
        return Some(PathBuf::from(state).join("cnfwdctl").join("history"));
    }
    nonempty("HOME").map(|h| PathBuf::from(h).join(".cnfwdctl_history"))
}

/// Splits a line into words: blanks separate, single or double quotes
/// group (no escapes inside single quotes; `\` escapes the next character
/// elsewhere). An unclosed quote is an error.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unclosed {q} quote"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// The completions of the word being typed at the end of `line`: the
/// subcommand names (and, first word only, `quit`/`exit`) that start with
/// it. Returns the byte offset where that word starts.
pub fn complete_line(line: &str) -> (usize, Vec<String>) {
    let start = line.rfind(|c: char| c.is_whitespace()).map_or(0, |i| i + 1);
    let partial = &line[start..];
    let before: Vec<&str> = line[..start].split_whitespace().collect();
    let mut cmd = Cli::command();
    cmd.build();
    let mut cur = &cmd;
    // `help WORDS...` completes like the words themselves.
    let words = match before.first() {
        Some(&"help") => &before[1..],
        _ => &before[..],
    };
    for w in words {
        if w.starts_with('-') {
            continue;
        }
        match cur.find_subcommand(w) {
            Some(sub) => cur = sub,
            None => return (start, Vec::new()),
        }
    }
    let mut names: Vec<String> = cur
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    if before.is_empty() {
        names.extend(SESSION_WORDS.iter().map(|s| s.to_string()));
    }
    let mut found: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with(partial))
        .collect();
    found.sort();
    found.dedup();
    (start, found)
}

/// Tab completion over cnfwdctl's command tree.
struct CtlHelper;

impl Completer for CtlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words) = complete_line(&line[..pos]);
        Ok((
            start,
            words
                .into_iter()
                .map(|w| Pair {
                    display: w.clone(),
                    replacement: format!("{w} "),
                })
                .collect(),
        ))
    }
}

impl Hinter for CtlHelper {
    type Hint = String;
}
impl Highlighter for CtlHelper {}
impl Validator for CtlHelper {}
impl Helper for CtlHelper {}

/// The session; see the module doc. `out`/`err` receive what commands
/// print (the prompt and line editing use the terminal directly).
pub fn run(cli: &Cli, out: &mut impl Write, err: &mut impl Write) -> u8 {
    let Some(timeout) = timeout_of(cli) else {
        let _ = writeln!(
            err,
            "cnfwdctl: --timeout must be a positive number of seconds"
        );
        return EXIT_USAGE;
    };
    let mut client = match Client::connect(&cli.socket, timeout) {
        Ok(c) => Some(c),
        Err(e) => {
            let _ = writeln!(err, "cnfwdctl: {e}");
            return EXIT_USAGE;
        }
    };
    let config = rustyline::Config::builder()
        .max_history_size(1000)
        .map(|b| {
            b.auto_add_history(false)
                .completion_type(rustyline::CompletionType::List)
        })
        .map(|b| b.build());
    let editor = config.and_then(Editor::<CtlHelper, DefaultHistory>::with_config);
    let mut rl = match editor {
        Ok(rl) => rl,
        Err(e) => {
            let _ = writeln!(err, "cnfwdctl: cannot start the prompt: {e}");
            return EXIT_USAGE;
        }
    };
    rl.set_helper(Some(CtlHelper));
    let history = history_path();
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    loop {
        let line = match rl.readline(PROMPT) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                let _ = writeln!(err, "cnfwdctl: {e}");
                break;
            }
        };
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let _ = rl.add_history_entry(trimmed);
        if let Some(h) = &history {
            if let Some(dir) = h.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = rl.save_history(h);
        }
        if SESSION_WORDS.contains(&trimmed) {
            break;
        }
        one_line(cli, trimmed, &mut client, timeout, out, err);
    }
    EXIT_OK
}

/// Runs one line of the session.
fn one_line(
    cli: &Cli,
    line: &str,
    client: &mut Option<Client>,
    timeout: std::time::Duration,
    out: &mut impl Write,
    err: &mut impl Write,
) {
    let words = match split_words(line) {
        Ok(w) => w,
        Err(e) => {
            let _ = writeln!(err, "cnfwdctl: {e}");
            return;
        }
    };
    let parsed = match Cli::try_parse_from(std::iter::once("cnfwdctl".to_string()).chain(words)) {
        Ok(p) => p,
        Err(e) => {
            // `--help` and `--version` are not errors.
            let text = e.render().to_string();
            if e.use_stderr() {
                let _ = write!(err, "{text}");
            } else {
                let _ = write!(out, "{text}");
            }
            let _ = out.flush();
            return;
        }
    };
    let mut o = Output {
        out,
        err,
        json: cli.json || parsed.json,
    };
    let Some(command) = &parsed.command else {
        return;
    };
    match command {
        Command::Completions { .. } => {
            o.error(
                "usage",
                None,
                "completions: run `cnfwdctl completions SHELL` from the shell",
            );
            return;
        }
        Command::Help { command } => {
            if let Some(text) = local_help(command) {
                o.text(&text);
                return;
            }
        }
        _ => {}
    }
    let request = match request_for(command) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            o.error("usage", None, &e.to_string());
            return;
        }
    };
    if client.is_none() {
        match Client::connect(&cli.socket, timeout) {
            Ok(c) => *client = Some(c),
            Err(e) => {
                o.error("connection", Some(&request.command), &e.to_string());
                return;
            }
        }
    }
    if let Some(c) = client.as_mut() {
        if execute(c, command, &request, &mut o) == super::EXIT_USAGE {
            // The conversation broke: start a new one next time.
            *client = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            split_words(r#"  show routes  "red vrf" 'a b' c\ d "#).unwrap(),
            vec!["show", "routes", "red vrf", "a b", "c d"]
        );
        assert_eq!(
            split_words(r#"raw '/routes,{"vrf":"a"}'"#).unwrap()[1],
            r#"/routes,{"vrf":"a"}"#
        );
        assert_eq!(split_words("x ''").unwrap(), vec!["x", ""]);
        assert!(split_words("say \"unclosed").is_err());
        assert!(split_words("   ").unwrap().is_empty());
    }

    #[test]
    fn completion_walks_the_command_tree() {
        let (start, c) = complete_line("sh");
        assert_eq!((start, c), (0, vec!["show".to_string()]));
        let (start, c) = complete_line("show ro");
        assert_eq!((start, c), (5, vec!["routes".to_string()]));
        let (_, c) = complete_line("trace s");
        assert_eq!(c, vec!["show", "start", "stop"]);
        let (_, c) = complete_line("help show w");
        assert_eq!(c, vec!["workers"]);
        let (_, c) = complete_line("q");
        assert_eq!(c, vec!["quit"]);
        let (_, c) = complete_line("show ports x");
        assert!(c.is_empty());
        let (_, c) = complete_line("nonsense ");
        assert!(c.is_empty());
    }
}

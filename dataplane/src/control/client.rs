//! A blocking client of the management socket (what `cnfwdctl` and the
//! tests use): connect, read the greeting, send a request, read its reply.
//! Every wait is bounded by the timeout given at connect.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    connect, getsockopt, recv, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags,
    SockFlag, SockType, UnixAddr,
};
use serde_json::Value;

/// Why a request got no reply (an error *reply* is not a `ClientError`).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Could not connect.
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The server turned the connection away (e.g. too many clients).
    #[error("{}: server refused the connection: {message}", path.display())]
    Rejected {
        /// The socket path.
        path: PathBuf,
        /// Its message.
        message: String,
    },
    /// The server closed the connection and said why (e.g. the client was
    /// idle longer than `control.client_idle_timeout_s`): reconnect.
    #[error("{}: {message}", path.display())]
    Closed {
        /// The socket path.
        path: PathBuf,
        /// Its message.
        message: String,
    },
    /// Sending or receiving failed, or the server closed the connection.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The request is larger than one message on this socket can be (the
    /// send buffer, `net.core.wmem_max`, or the kernel's largest skb).
    #[error("{}: a request of {bytes} bytes does not fit one message on this socket ({why}); send less, or name a file the server reads (config apply does so above 128 KiB)", path.display())]
    TooLarge {
        /// The socket path.
        path: PathBuf,
        /// The request's size.
        bytes: usize,
        /// What the kernel said.
        why: String,
    },
    /// No message within the timeout.
    #[error("{}: no answer within {timeout:?} ({what})", path.display())]
    Timeout {
        /// The socket path.
        path: PathBuf,
        /// What was awaited.
        what: &'static str,
        /// The timeout.
        timeout: Duration,
    },
    /// The server sent something that is not the protocol.
    #[error("{}: not a cnfwd/DPDK telemetry v2 reply: {detail}", path.display())]
    Protocol {
        /// The socket path.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
}

/// A connection to the management socket.
#[derive(Debug)]
pub struct Client {
    fd: OwnedFd,
    path: PathBuf,
    timeout: Duration,
    greeting: Value,
    max_output_len: usize,
}

impl AsFd for Client {
    /// The connected socket (non-blocking), e.g. to poll it.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Client {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Client {
    /// Connects to `path` and reads the greeting; every later wait (send
    /// room, reply) is bounded by `timeout` too.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Client, ClientError> {
        let conn_err = |e: Errno| ClientError::Connect {
            path: path.to_path_buf(),
            source: e.into(),
        };
        let fd = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
        .map_err(conn_err)?;
        let addr = UnixAddr::new(path).map_err(conn_err)?;
        connect(fd.as_raw_fd(), &addr).map_err(conn_err)?;
        let mut c = Client {
            fd,
            path: path.to_path_buf(),
            timeout,
            greeting: Value::Null,
            max_output_len: 0,
        };
        let hello = c.recv_message("greeting")?;
        let v: Value = serde_json::from_slice(&hello).map_err(|e| c.protocol(e.to_string()))?;
        if let Some(msg) = v.get("error").and_then(Value::as_str) {
            return Err(ClientError::Rejected {
                path: c.path.clone(),
                message: msg.to_string(),
            });
        }
        c.max_output_len = v
            .get("max_output_len")
            .and_then(Value::as_u64)
            .ok_or_else(|| c.protocol(format!("greeting without max_output_len: {v}")))?
            as usize;
        c.greeting = v;
        Ok(c)
    }

    /// The greeting (`version`, `pid`, `max_output_len`).
    pub fn greeting(&self) -> &Value {
        &self.greeting
    }

    /// The largest reply the server promised.
    pub fn max_output_len(&self) -> usize {
        self.max_output_len
    }

    /// Sends one raw message and returns the raw reply message.
    pub fn request_raw(&mut self, msg: &[u8]) -> Result<Vec<u8>, ClientError> {
        self.send_message(msg)?;
        self.recv_message("reply")
    }

    /// Sends `"/command"` or `"/command,params"` and returns the reply's
    /// value: `Ok(Ok(value))`, or `Ok(Err(message))` for an error reply
    /// (`{"error": "..."}`, or DPDK's `null`).
    pub fn request(&mut self, request: &str) -> Result<Result<Value, String>, ClientError> {
        let raw = self.request_raw(request.as_bytes())?;
        let reply: serde_json::Map<String, Value> =
            serde_json::from_slice(&raw).map_err(|e| self.protocol(e.to_string()))?;
        if let Some(message) = server_notice(&reply) {
            return Err(ClientError::Closed {
                path: self.path.clone(),
                message,
            });
        }
        let mut it = reply.into_iter();
        let (Some((_, value)), None) = (it.next(), it.next()) else {
            return Err(self.protocol("reply is not a single-key object".into()));
        };
        Ok(match value {
            Value::Object(m) if m.len() == 1 && m.get("error").is_some_and(Value::is_string) => {
                Err(m["error"].as_str().unwrap_or_default().to_string())
            }
            Value::Null => {
                Err("the server answered null (unknown command or bad parameters)".into())
            }
            v => Ok(v),
        })
    }

    /// `request` for `command` with `params` serialised as JSON after the comma.
    pub fn call(
        &mut self,
        command: &str,
        params: Option<&Value>,
    ) -> Result<Result<Value, String>, ClientError> {
        match params {
            Some(p) => self.request(&format!("{command},{p}")),
            None => self.request(command),
        }
    }

    /// A `{"error": "..."}` notice already received, if the server sent one
    /// before closing.
    fn waiting_notice(&self) -> Option<String> {
        let mut buf = vec![0u8; 4096];
        let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT).ok()?;
        let m: serde_json::Map<String, Value> = serde_json::from_slice(&buf[..n]).ok()?;
        server_notice(&m)
    }

    fn protocol(&self, detail: String) -> ClientError {
        ClientError::Protocol {
            path: self.path.clone(),
            detail,
        }
    }

    fn wait(
        &self,
        flags: PollFlags,
        deadline: Instant,
        what: &'static str,
    ) -> Result<(), ClientError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            let mut fds = [PollFd::new(self.fd.as_fd(), flags)];
            match nix::poll::poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(0) => {
                    return Err(ClientError::Timeout {
                        path: self.path.clone(),
                        what,
                        timeout: self.timeout,
                    })
                }
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    return Err(ClientError::Io {
                        path: self.path.clone(),
                        what,
                        source: e.into(),
                    })
                }
            }
        }
    }

    fn send_message(&mut self, msg: &[u8]) -> Result<(), ClientError> {
        // One datagram must fit the send buffer (less 32 bytes): grow it
        // for a large request, forced when privileged; if the kernel says
        // no, send fails with EMSGSIZE ("Message too long").
        let need = msg.len() + 4096;
        if getsockopt(&self.fd, sockopt::SndBuf).unwrap_or(0) < need {
            let _ = setsockopt(&self.fd, sockopt::SndBuf, &(need / 2 + 1));
            if getsockopt(&self.fd, sockopt::SndBuf).unwrap_or(0) < need {
                let _ = setsockopt(&self.fd, sockopt::SndBufForce, &(need / 2 + 1));
            }
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            match send(
                self.fd.as_raw_fd(),
                msg,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
            ) {
                Ok(_) => return Ok(()),
                Err(Errno::EAGAIN) => {
                    self.wait(PollFlags::POLLOUT, deadline, "sending the request")?
                }
                Err(Errno::EINTR) => {}
                Err(e @ (Errno::EMSGSIZE | Errno::ENOBUFS)) => {
                    return Err(ClientError::TooLarge {
                        path: self.path.clone(),
                        bytes: msg.len(),
                        why: format!(
                            "{}; send buffer {} bytes",
                            e.desc(),
                            getsockopt(&self.fd, sockopt::SndBuf).unwrap_or(0)
                        ),
                    })
                }
                Err(e) => {
                    // Closed by the server: its notice may be waiting.
                    if let Some(message) = self.waiting_notice() {
                        return Err(ClientError::Closed {
                            path: self.path.clone(),
                            message,
                        });
                    }
                    return Err(ClientError::Io {
                        path: self.path.clone(),
                        what: "sending the request",
                        source: e.into(),
                    });
                }
            }
        }
    }

    fn recv_message(&mut self, what: &'static str) -> Result<Vec<u8>, ClientError> {
        let deadline = Instant::now() + self.timeout;
        let io = |source: Errno| ClientError::Io {
            path: self.path.clone(),
            what,
            source: source.into(),
        };
        loop {
            // Peek the length first (MSG_TRUNC gives the real size).
            let mut probe = [0u8; 1];
            match recv(
                self.fd.as_raw_fd(),
                &mut probe,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
            ) {
                Ok(0) => {
                    return Err(ClientError::Io {
                        path: self.path.clone(),
                        what,
                        source: std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "connection closed by the server",
                        ),
                    })
                }
                Ok(n) => {
                    let mut buf = vec![0u8; n];
                    let got =
                        recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT).map_err(io)?;
                    buf.truncate(got);
                    return Ok(buf);
                }
                Err(Errno::EAGAIN) => self.wait(PollFlags::POLLIN, deadline, what)?,
                Err(Errno::EINTR) => {}
                Err(e) => return Err(io(e)),
            }
        }
    }
}

/// The message of a server notice (`{"error": "..."}`, not keyed by a
/// command: a rejection or a close), if `m` is one.
fn server_notice(m: &serde_json::Map<String, Value>) -> Option<String> {
    match (m.len(), m.get("error")) {
        (1, Some(Value::String(s))) => Some(s.clone()),
        _ => None,
    }
}

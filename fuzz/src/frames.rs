//! The pipeline target's input layout: one byte choosing the burst size,
//! then up to [`MAX_FRAMES`] records `[port: u8][len: u16 BE][len bytes]`
//! (the port is taken modulo the port count; a short last record takes what
//! is left).

/// Most frames one input holds.
pub const MAX_FRAMES: usize = 32;

/// An input cut into its burst size (1..=32) and its frames (port, bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Burst<'a> {
    /// Packets per poll.
    pub burst: usize,
    /// Frames in input order, with the receiving port (already reduced
    /// modulo the port count).
    pub frames: Vec<(u8, &'a [u8])>,
}

/// Cuts `data` for `ports` ports (never fails: every input is a burst).
pub fn split(data: &[u8], ports: u8) -> Burst<'_> {
    let Some((&b, mut rest)) = data.split_first() else {
        return Burst {
            burst: 1,
            frames: Vec::new(),
        };
    };
    let mut frames = Vec::new();
    while frames.len() < MAX_FRAMES && rest.len() >= 3 {
        let port = rest[0] % ports.max(1);
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let body = &rest[3..];
        let take = len.min(body.len());
        frames.push((port, &body[..take]));
        rest = &body[take..];
    }
    Burst {
        burst: usize::from(b % 32) + 1,
        frames,
    }
}

/// The inverse of [`split`]: encodes frames (at most [`MAX_FRAMES`], each
/// cut to 65535 bytes) with `burst` packets per poll.
pub fn join(burst: u8, frames: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = vec![burst.wrapping_sub(1) % 32];
    for (port, f) in frames.iter().take(MAX_FRAMES) {
        let f = &f[..f.len().min(usize::from(u16::MAX))];
        out.push(*port);
        out.extend_from_slice(&(f.len() as u16).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

//! Parser for prefix-list files such as `testdata/routes/*.txt`: one prefix per
//! line (`a.b.c.d/len` or IPv6 `x:y::/len`, host bits zero), optionally
//! followed by whitespace and a decimal `u32` (e.g. an origin AS or a next-hop
//! index). Blank lines and comments (from `#` to the end of the line) are
//! ignored; surrounding whitespace is trimmed.

use ipnet::IpNet;

/// What was wrong with a line of a prefix list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixListErrorKind {
    /// The first column is not an `address/length` prefix.
    #[error("not a prefix (expected address/length)")]
    BadPrefix,
    /// The prefix has bits set after its length (e.g. `10.0.0.1/8`).
    #[error("host bits set (did you mean {0}?)")]
    HostBitsSet(IpNet),
    /// The second column is not a decimal `u32`.
    #[error("second column is not a number in 0..=4294967295")]
    BadValue,
    /// More than two columns.
    #[error("too many columns (expected prefix [value])")]
    TooManyColumns,
}

/// A line of a prefix list that could not be parsed: its 1-based number, its
/// text, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}: {text:?}")]
pub struct PrefixListError {
    /// 1-based line number.
    pub line: usize,
    /// The line as found (without the line ending).
    pub text: String,
    /// What was wrong.
    pub kind: PrefixListErrorKind,
}

/// Parses a prefix list (format in the module doc) into `(prefix, value)`
/// pairs in file order; `value` is `None` for one-column lines. Returns the
/// first bad line as an error; never panics.
pub fn parse_prefix_list(text: &str) -> Result<Vec<(IpNet, Option<u32>)>, PrefixListError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let content = match raw.find('#') {
            Some(p) => &raw[..p],
            None => raw,
        };
        let mut cols = content.split_whitespace();
        let Some(first) = cols.next() else { continue };
        let err = |kind| PrefixListError {
            line: i + 1,
            text: raw.to_string(),
            kind,
        };
        let net: IpNet = first
            .parse()
            .map_err(|_| err(PrefixListErrorKind::BadPrefix))?;
        if net.trunc() != net {
            return Err(err(PrefixListErrorKind::HostBitsSet(net.trunc())));
        }
        let value = match cols.next() {
            None => None,
            Some(v) => Some(
                v.parse::<u32>()
                    .map_err(|_| err(PrefixListErrorKind::BadValue))?,
            ),
        };
        if cols.next().is_some() {
            return Err(err(PrefixListErrorKind::TooManyColumns));
        }
        out.push((net, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_formats_comments_and_blanks() {
        let text = "# header\n\n1.0.0.0/24\n1.0.4.0/22 38803\n  2001:db8::/32\t7  # doc\n\r\n";
        let got = parse_prefix_list(text).unwrap();
        assert_eq!(
            got,
            vec![
                ("1.0.0.0/24".parse().unwrap(), None),
                ("1.0.4.0/22".parse().unwrap(), Some(38803)),
                ("2001:db8::/32".parse().unwrap(), Some(7)),
            ]
        );
    }

    #[test]
    fn errors_name_line_and_text() {
        let e = parse_prefix_list("1.0.0.0/24\n\n1.2.3.4/33\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.text, "1.2.3.4/33");
        assert_eq!(e.kind, PrefixListErrorKind::BadPrefix);
        assert!(e.to_string().contains("line 3"));

        let e = parse_prefix_list("10.0.0.1/8").unwrap_err();
        assert_eq!(
            e.kind,
            PrefixListErrorKind::HostBitsSet("10.0.0.0/8".parse().unwrap())
        );
        let e = parse_prefix_list("10.0.0.0/8 x").unwrap_err();
        assert_eq!(e.kind, PrefixListErrorKind::BadValue);
        let e = parse_prefix_list("10.0.0.0/8 4294967296").unwrap_err();
        assert_eq!(e.kind, PrefixListErrorKind::BadValue);
        let e = parse_prefix_list("10.0.0.0/8 1 2").unwrap_err();
        assert_eq!(e.kind, PrefixListErrorKind::TooManyColumns);
        let e = parse_prefix_list("10.0.0.0").unwrap_err();
        assert_eq!(e.kind, PrefixListErrorKind::BadPrefix);
    }

    #[test]
    fn empty_input() {
        assert_eq!(parse_prefix_list("").unwrap(), vec![]);
        assert_eq!(parse_prefix_list("\n# only\n   \n").unwrap(), vec![]);
    }
}

//! Human-readable rendering of any reply value, since reply shapes are the
//! commands' business:
//!
//! - an array of objects: a table whose columns are the keys (union, in
//!   first-seen order);
//! - an object whose values are all objects: a table whose first column is
//!   the key; but when some of those values are themselves tables (objects
//!   of objects, arrays of objects), one titled section per key instead;
//! - any other object: `key: value` lines;
//! - an array of scalars: one per line; a scalar: itself.
//!
//! Nested values inside a cell or a line are compact JSON; `null` and a
//! missing cell are `-`. A `name` column comes first; columns of numbers are
//! right-aligned. Output ends with a newline unless
//! empty.

use serde_json::{Map, Value};

/// The text for `value`.
pub fn render(value: &Value) -> String {
    let mut out = String::new();
    render_into(&mut out, value, 0);
    out
}

fn render_into(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let rows: Vec<&Map<String, Value>> =
                items.iter().filter_map(Value::as_object).collect();
            table(out, &pad, None, rows.iter().map(|r| (None, *r)));
        }
        Value::Array(items) => {
            for v in items {
                out.push_str(&pad);
                out.push_str(&cell(v));
                out.push('\n');
            }
        }
        Value::Object(m) if !m.is_empty() && m.values().all(Value::is_object) => {
            if m.values().any(is_table) {
                for (k, v) in m {
                    out.push_str(&format!("{pad}{k}:\n"));
                    render_into(out, v, indent + 2);
                }
            } else {
                let rows = m
                    .iter()
                    .filter_map(|(k, v)| Some((Some(k.as_str()), v.as_object()?)));
                table(out, &pad, Some("name"), rows);
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                out.push_str(&format!("{pad}{k}: {}\n", cell(v)));
            }
        }
        v => {
            out.push_str(&pad);
            out.push_str(&cell(v));
            out.push('\n');
        }
    }
}

/// An object of objects or a non-empty array of objects.
fn is_table(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty() && m.values().all(Value::is_object),
        Value::Array(a) => !a.is_empty() && a.iter().all(Value::is_object),
        _ => false,
    }
}

/// One cell: strings bare, `null` as `-`, other scalars as JSON, nested
/// values as compact JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        v => v.to_string(),
    }
}

fn table<'a>(
    out: &mut String,
    pad: &str,
    key_column: Option<&str>,
    rows: impl Iterator<Item = (Option<&'a str>, &'a Map<String, Value>)>,
) {
    let rows: Vec<_> = rows.collect();
    let mut columns: Vec<&str> = Vec::new();
    for (_, r) in &rows {
        for k in r.keys() {
            if !columns.contains(&k.as_str()) {
                columns.push(k);
            }
        }
    }
    // A `name` column leads (replies arrive with sorted keys).
    if let Some(i) = columns.iter().position(|c| *c == "name") {
        let c = columns.remove(i);
        columns.insert(0, c);
    }
    let mut header: Vec<String> = key_column.map(str::to_string).into_iter().collect();
    header.extend(columns.iter().map(|c| c.to_string()));
    // A column whose values are all numbers (or missing) is right-aligned.
    let mut numeric: Vec<bool> = key_column.map(|_| false).into_iter().collect();
    numeric.extend(columns.iter().map(|c| {
        let mut vals = rows
            .iter()
            .filter_map(|(_, r)| r.get(*c))
            .filter(|v| !v.is_null());
        vals.clone().next().is_some() && vals.all(Value::is_number)
    }));
    let body: Vec<Vec<(String, bool)>> = rows
        .iter()
        .map(|(key, r)| {
            let mut line: Vec<(String, bool)> =
                key.map(|k| (k.to_string(), false)).into_iter().collect();
            for (i, c) in columns.iter().enumerate() {
                let v = r.get(*c).unwrap_or(&Value::Null);
                line.push((cell(v), numeric[i + usize::from(key_column.is_some())]));
            }
            line
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            body.iter()
                .map(|l| l[i].0.chars().count())
                .chain(std::iter::once(header[i].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let emit = |out: &mut String, cells: &[(String, bool)]| {
        let mut line = pad.to_string();
        for (i, (text, numeric)) in cells.iter().enumerate() {
            let w = widths[i];
            if i > 0 {
                line.push_str("  ");
            }
            if *numeric {
                line.push_str(&format!("{text:>w$}"));
            } else {
                line.push_str(&format!("{text:<w$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    let head: Vec<(String, bool)> = header.into_iter().zip(numeric.iter().copied()).collect();
    emit(out, &head);
    for l in &body {
        emit(out, l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn array_of_objects_is_a_table_with_the_union_of_keys() {
        let v = json!([
            {"name": "p0", "rx_packets": 10, "mtu": 1500},
            {"name": "port-long", "rx_packets": 1234, "driver": {"kind": "pcap"}},
        ]);
        assert_eq!(
            render(&v),
            "name        mtu  rx_packets  driver\n\
             p0         1500          10  -\n\
             port-long     -        1234  {\"kind\":\"pcap\"}\n"
        );
    }

    #[test]
    fn object_of_objects_is_a_table_keyed_by_name() {
        let v = json!({"p0": {"rx": 1, "tx": 2}, "p1": {"rx": 30, "up": true}});
        assert_eq!(
            render(&v),
            "name  rx  tx  up\n\
             p0     1   2  -\n\
             p1    30   -  true\n"
        );
    }

    #[test]
    fn nested_tables_become_sections() {
        let v = json!({
            "ports": {"p0": {"rx": 1}},
            "drops": {"no_route": 3},
            "totals": {"rx": 1, "dropped": 3},
        });
        assert_eq!(
            render(&v),
            "drops:\n  no_route: 3\nports:\n  name  rx\n  p0     1\ntotals:\n  dropped: 3\n  rx: 1\n"
        );
    }

    #[test]
    fn scalars_and_mixed_objects_are_lines() {
        assert_eq!(
            render(&json!({"version": "cnfwd 0.1.0", "pid": 7, "tags": ["a", 1], "x": null})),
            "pid: 7\ntags: [\"a\",1]\nversion: cnfwd 0.1.0\nx: -\n"
        );
        assert_eq!(render(&json!("ok")), "ok\n");
        assert_eq!(render(&json!(["/", "/info"])), "/\n/info\n");
        assert_eq!(render(&json!([])), "");
        assert_eq!(render(&json!({})), "");
        assert_eq!(render(&json!(null)), "-\n");
    }
}

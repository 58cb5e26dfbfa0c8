//! JSON Canonicalization Scheme (RFC 8785).

use serde_json::Value;

/// The JCS form of `value`: keys sorted by UTF-16 code units, no whitespace,
/// numbers in ECMAScript form, strings escaped minimally.
#[must_use]
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                out.push_str(&n.to_string());
            } else if let Some(f) = n.as_f64() {
                out.push_str(&es6_number(f));
            }
        }
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<(&String, Vec<u16>)> = map.keys().map(|k| (k, k.encode_utf16().collect())).collect();
            keys.sort_by(|a, b| a.1.cmp(&b.1));
            out.push('{');
            for (i, (k, _)) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(*k) {
                    write(v, out);
                }
            }
            out.push('}');
        }
    }
}

/// ECMAScript `Number.prototype.toString` for finite doubles.
fn es6_number(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let abs = f.abs();
    if (1e-6..1e21).contains(&abs) {
        // Rust's Display is the shortest round-trip form without an exponent.
        return format!("{f}");
    }
    let e = format!("{f:e}");
    match e.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => e,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_sort_by_utf16_and_whitespace_goes() {
        let v = json!({"b": [1, {"z": null, "a": true}], "a": "x\n\u{20ac}", "\u{e9}": 1});
        assert_eq!(canonical_json(&v), "{\"a\":\"x\\n\u{20ac}\",\"b\":[1,{\"a\":true,\"z\":null}],\"\u{e9}\":1}");
    }

    #[test]
    fn numbers_use_the_ecmascript_form() {
        let v: Value = serde_json::from_str("[1.5, 1e21, 1e-7, 100.0, -0.0, 333333333.3333333]").unwrap();
        assert_eq!(canonical_json(&v), "[1.5,1e+21,1e-7,100,0,333333333.3333333]");
    }
}

//! A small JSON reader that keeps every number's text.
//!
//! Prices in the LiteLLM map and the model-prices snapshot are JSON numbers written as binary
//! floats (`3e-07`, `0.075`). Going through `f64` would turn `0.1` into
//! `0.1000000000000000055…`; so this reader never converts a number: it keeps the digits exactly
//! as written, and [`crate::num::decimal_from_json_number`] turns them into a decimal exactly.
//! (serde_json's `arbitrary_precision` feature would do the same, but features unify across the
//! workspace and that one changes `serde_json::Value` for every other crate.)
//!
//! Every value also remembers its line, so importers report `file:line $.path: what was wrong`.

use std::fmt::Write as _;

/// One JSON value with the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Json {
    pub line: u32,
    pub kind: JsonKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JsonKind {
    Null,
    Bool(bool),
    /// The number's text exactly as written in the file.
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Members in file order (duplicates kept; lookups take the first).
    Object(Vec<(String, Json)>),
}

/// A syntax error: line, column and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonSyntaxError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl std::fmt::Display for JsonSyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Deepest nesting accepted (arrays and objects), so a hostile file cannot overflow the stack.
pub const JSON_DEPTH_MAX: u32 = 128;

impl Json {
    /// Parses a whole document (one value, surrounded only by whitespace).
    pub fn parse(text: &str) -> Result<Json, JsonSyntaxError> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
            line: 1,
            line_start: 0,
        };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(p.err("trailing characters after the JSON value"));
        }
        Ok(v)
    }

    pub fn type_name(&self) -> &'static str {
        match self.kind {
            JsonKind::Null => "null",
            JsonKind::Bool(_) => "a boolean",
            JsonKind::Number(_) => "a number",
            JsonKind::String(_) => "a string",
            JsonKind::Array(_) => "an array",
            JsonKind::Object(_) => "an object",
        }
    }

    /// The member `key` of an object (None if not an object or absent).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match &self.kind {
            JsonKind::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(String, Json)]> {
        match &self.kind {
            JsonKind::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match &self.kind {
            JsonKind::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            JsonKind::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, JsonKind::Null)
    }
}

/// Builds a JSONPath-like string: `$.prices.openai["gpt-4.1"].standard[2]`.
pub fn path_push_key(path: &str, key: &str) -> String {
    let simple = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let mut s = String::with_capacity(path.len() + key.len() + 4);
    s.push_str(path);
    if simple {
        s.push('.');
        s.push_str(key);
    } else {
        let _ = write!(s, "[{key:?}]");
    }
    s
}

pub fn path_push_index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    line: u32,
    line_start: usize,
}

impl Parser<'_> {
    fn err(&self, msg: &str) -> JsonSyntaxError {
        JsonSyntaxError {
            line: self.line,
            column: (self.i - self.line_start + 1) as u32,
            message: msg.to_string(),
        }
    }

    fn ws(&mut self) {
        while let Some(&b) = self.s.get(self.i) {
            match b {
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    self.line_start = self.i;
                }
                b' ' | b'\t' | b'\r' => self.i += 1,
                _ => break,
            }
        }
    }

    fn value(&mut self, depth: u32) -> Result<Json, JsonSyntaxError> {
        if depth > JSON_DEPTH_MAX {
            return Err(self.err("nesting too deep"));
        }
        let line = self.line;
        let kind = match self.s.get(self.i) {
            None => return Err(self.err("unexpected end of input")),
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => JsonKind::String(self.string()?),
            Some(b't') => self.literal("true", JsonKind::Bool(true))?,
            Some(b'f') => self.literal("false", JsonKind::Bool(false))?,
            Some(b'n') => self.literal("null", JsonKind::Null)?,
            Some(b'-' | b'0'..=b'9') => JsonKind::Number(self.number()?),
            Some(_) => return Err(self.err("expected a JSON value")),
        };
        Ok(Json { line, kind })
    }

    fn literal(&mut self, word: &str, kind: JsonKind) -> Result<JsonKind, JsonSyntaxError> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(kind)
        } else {
            Err(self.err("expected true, false or null"))
        }
    }

    fn object(&mut self, depth: u32) -> Result<JsonKind, JsonSyntaxError> {
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(JsonKind::Object(members));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.err("expected a string key"));
            }
            let key = self.string()?;
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return Err(self.err("expected ':' after an object key"));
            }
            self.i += 1;
            self.ws();
            let v = self.value(depth + 1)?;
            members.push((key, v));
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(JsonKind::Object(members));
                }
                _ => return Err(self.err("expected ',' or '}' in an object")),
            }
        }
    }

    fn array(&mut self, depth: u32) -> Result<JsonKind, JsonSyntaxError> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(JsonKind::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(JsonKind::Array(items));
                }
                _ => return Err(self.err("expected ',' or ']' in an array")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonSyntaxError> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("truncated \\u escape"))?;
        let txt = std::str::from_utf8(h).map_err(|_| self.err("bad \\u escape"))?;
        let v = u32::from_str_radix(txt, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonSyntaxError> {
        self.i += 1; // opening quote
        let mut out = String::new();
        let mut run_start = self.i;
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return Err(self.err("unterminated string"));
            };
            match b {
                b'"' => {
                    out.push_str(self.utf8(run_start, self.i)?);
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(self.utf8(run_start, self.i)?);
                    self.i += 1;
                    let e = *self
                        .s
                        .get(self.i)
                        .ok_or_else(|| self.err("unterminated escape"))?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&hi) {
                                if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(self.err("lone surrogate in \\u escape"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("bad surrogate pair"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            out.push(char::from_u32(c).ok_or_else(|| self.err("bad \\u escape"))?);
                        }
                        _ => return Err(self.err("unknown escape")),
                    }
                    run_start = self.i;
                }
                0..=0x1f => return Err(self.err("control character in string")),
                _ => self.i += 1,
            }
        }
    }

    fn utf8(&self, a: usize, b: usize) -> Result<&str, JsonSyntaxError> {
        std::str::from_utf8(&self.s[a..b]).map_err(|_| self.err("invalid UTF-8 in string"))
    }

    fn number(&mut self) -> Result<String, JsonSyntaxError> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let s = p.i;
            while matches!(p.s.get(p.i), Some(b'0'..=b'9')) {
                p.i += 1;
            }
            p.i > s
        };
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        if !digits(self) {
            return Err(self.err("expected digits"));
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !digits(self) {
                return Err(self.err("expected digits after '.'"));
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return Err(self.err("expected exponent digits"));
            }
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_number_text_and_lines() {
        let j = Json::parse("{\n \"a\": 3e-07,\n \"b\": [0.1, \"x\\u00e9\"]\n}").unwrap();
        assert_eq!(j.get("a").unwrap().kind, JsonKind::Number("3e-07".into()));
        assert_eq!(j.get("a").unwrap().line, 2);
        let b = j.get("b").unwrap().as_array().unwrap();
        assert_eq!(b[0].kind, JsonKind::Number("0.1".into()));
        assert_eq!(b[1].as_str(), Some("xé"));
    }

    #[test]
    fn reports_position_of_errors() {
        let e = Json::parse("{\n \"a\": 1,\n \"b\": }").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("expected a JSON value"), "{e}");
        assert!(Json::parse("[1, 2").is_err());
        assert!(Json::parse("01x").is_err());
    }

    #[test]
    fn builds_paths() {
        assert_eq!(path_push_key("$", "prices"), "$.prices");
        assert_eq!(
            path_push_key("$.prices", "gpt-4.1"),
            "$.prices[\"gpt-4.1\"]"
        );
        assert_eq!(path_push_index("$.data", 3), "$.data[3]");
    }
}

//! Conditions of `if-condition` and `while-condition` steps: STIX patterning
//! comparison expressions over variables.
//!
//! Supported: `AND`, `OR`, `NOT`, parentheses and STIX brackets; the operators
//! `=` (`==`), `!=`, `<`, `<=`, `>`, `>=`, `IN (…)`, `LIKE`, `MATCHES`,
//! `ISSUBSET`, `ISSUPERSET`, each optionally preceded by `NOT`; operands
//! `__name__:value`, quoted strings, numbers, `true`/`false`, and bare words
//! (read as strings, as SOARCA playbooks write `__x__:value = yes`). A lone
//! operand is tested for truth (`__flag__:value`).

use std::net::Ipv4Addr;

use crate::vars::{TypedValue, VarError};

/// Longest condition accepted, in bytes.
pub const MAX_CONDITION_LEN: usize = 4096;
const MAX_NESTING: usize = 64;

/// A parse or evaluation failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("condition syntax error at byte {pos}: {message}")]
    Syntax { pos: usize, message: String },
    #[error("condition is longer than {MAX_CONDITION_LEN} bytes")]
    TooLong,
    #[error(transparent)]
    Variable(#[from] VarError),
    #[error("condition cannot be evaluated: {0}")]
    Type(String),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
}

/// An operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Var(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Set(Vec<Operand>),
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    Compare { lhs: Operand, negated: bool, op: Op, rhs: Operand },
    Truthy(Operand),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Comma,
    Sym(Op),
    Word(String),
    Str(String),
    Var(String),
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ConditionError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let syntax = |pos, m: &str| ConditionError::Syntax { pos, message: m.to_owned() };
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' | b')' | b'[' | b']' | b',' => {
                out.push((
                    i,
                    match c {
                        b'(' => Tok::Open,
                        b')' => Tok::Close,
                        b'[' => Tok::OpenBracket,
                        b']' => Tok::CloseBracket,
                        _ => Tok::Comma,
                    },
                ));
                i += 1;
            }
            b'\'' | b'"' => {
                i += 1;
                let mut s = String::new();
                loop {
                    let Some(ch) = src[i..].chars().next() else {
                        return Err(syntax(start, "unterminated string"));
                    };
                    i += ch.len_utf8();
                    if ch == '\\' {
                        let Some(esc) = src[i..].chars().next() else {
                            return Err(syntax(start, "unterminated string"));
                        };
                        i += esc.len_utf8();
                        s.push(esc);
                    } else if ch as u32 == u32::from(c) {
                        break;
                    } else {
                        s.push(ch);
                    }
                }
                out.push((start, Tok::Str(s)));
            }
            b'=' | b'!' | b'<' | b'>' => {
                let two = b.get(i + 1) == Some(&b'=');
                let op = match (c, two) {
                    (b'=', true) | (b'=', false) => Op::Eq,
                    (b'!', true) => Op::Ne,
                    (b'<', true) => Op::Le,
                    (b'<', false) => Op::Lt,
                    (b'>', true) => Op::Ge,
                    (b'>', false) => Op::Gt,
                    _ => return Err(syntax(i, "unexpected '!'")),
                };
                i += if two { 2 } else { 1 };
                out.push((start, Tok::Sym(op)));
            }
            _ => {
                while i < b.len() && !b" \t\r\n()[],=!<>'\"".contains(&b[i]) {
                    i += 1;
                }
                let word = &src[start..i];
                if let Some(name) = word.strip_suffix(":value")
                    && crate::vars::references(word).next() == Some(name)
                {
                    out.push((start, Tok::Var(name.to_owned())));
                } else {
                    out.push((start, Tok::Word(word.to_owned())));
                }
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
}

fn keyword(t: Option<&Tok>, k: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }
    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |(p, _)| *p)
    }
    fn err(&self, m: &str) -> ConditionError {
        ConditionError::Syntax { pos: self.pos(), message: m.to_owned() }
    }
    fn or(&mut self, depth: usize) -> Result<Condition, ConditionError> {
        let mut lhs = self.and(depth)?;
        while keyword(self.peek(), "OR") {
            self.at += 1;
            lhs = Condition::Or(Box::new(lhs), Box::new(self.and(depth)?));
        }
        Ok(lhs)
    }
    fn and(&mut self, depth: usize) -> Result<Condition, ConditionError> {
        let mut lhs = self.not(depth)?;
        while keyword(self.peek(), "AND") {
            self.at += 1;
            lhs = Condition::And(Box::new(lhs), Box::new(self.not(depth)?));
        }
        Ok(lhs)
    }
    fn not(&mut self, depth: usize) -> Result<Condition, ConditionError> {
        if depth > MAX_NESTING {
            return Err(self.err("nested too deeply"));
        }
        if keyword(self.peek(), "NOT") {
            self.at += 1;
            return Ok(Condition::Not(Box::new(self.not(depth + 1)?)));
        }
        self.primary(depth)
    }
    fn primary(&mut self, depth: usize) -> Result<Condition, ConditionError> {
        let close = match self.peek() {
            Some(Tok::Open) => Some(Tok::Close),
            Some(Tok::OpenBracket) => Some(Tok::CloseBracket),
            _ => None,
        };
        if let Some(close) = close {
            self.at += 1;
            let inner = self.or(depth + 1)?;
            if self.peek() != Some(&close) {
                return Err(self.err("missing closing parenthesis or bracket"));
            }
            self.at += 1;
            return Ok(inner);
        }
        let lhs = self.operand()?;
        let negated = keyword(self.peek(), "NOT");
        if negated {
            self.at += 1;
        }
        let op = match self.peek() {
            Some(Tok::Sym(op)) => Some(*op),
            Some(Tok::Word(w)) => match w.to_ascii_uppercase().as_str() {
                "IN" => Some(Op::In),
                "LIKE" => Some(Op::Like),
                "MATCHES" => Some(Op::Matches),
                "ISSUBSET" => Some(Op::IsSubset),
                "ISSUPERSET" => Some(Op::IsSuperset),
                _ => None,
            },
            _ => None,
        };
        let Some(op) = op else {
            if negated {
                return Err(self.err("expected an operator after NOT"));
            }
            return Ok(Condition::Truthy(lhs));
        };
        self.at += 1;
        let rhs = if op == Op::In { self.set()? } else { self.operand()? };
        Ok(Condition::Compare { lhs, negated, op, rhs })
    }
    fn set(&mut self) -> Result<Operand, ConditionError> {
        if self.peek() != Some(&Tok::Open) {
            return Err(self.err("IN expects a list: ('a', 'b')"));
        }
        self.at += 1;
        let mut items = vec![self.operand()?];
        while self.peek() == Some(&Tok::Comma) {
            self.at += 1;
            items.push(self.operand()?);
        }
        if self.peek() != Some(&Tok::Close) {
            return Err(self.err("missing ')' after the IN list"));
        }
        self.at += 1;
        Ok(Operand::Set(items))
    }
    fn operand(&mut self) -> Result<Operand, ConditionError> {
        let tok = self.peek().cloned();
        let out = match tok {
            Some(Tok::Var(v)) => Operand::Var(v),
            Some(Tok::Str(s)) => Operand::Str(s),
            Some(Tok::Word(w)) => {
                if ["AND", "OR", "NOT", "IN", "LIKE", "MATCHES"].iter().any(|k| w.eq_ignore_ascii_case(k)) {
                    return Err(self.err(&format!("expected a value, found {w}")));
                }
                if w == "true" || w == "false" {
                    Operand::Bool(w == "true")
                } else if let Ok(n) = w.parse::<f64>() {
                    Operand::Num(n)
                } else {
                    Operand::Str(w)
                }
            }
            _ => return Err(self.err("expected a value")),
        };
        self.at += 1;
        Ok(out)
    }
}

impl Condition {
    /// Parses a condition.
    ///
    /// # Errors
    /// [`ConditionError::Syntax`] with the byte offset of the problem.
    pub fn parse(src: &str) -> Result<Self, ConditionError> {
        if src.len() > MAX_CONDITION_LEN {
            return Err(ConditionError::TooLong);
        }
        let toks = lex(src)?;
        let mut p = Parser { toks, at: 0, end: src.len() };
        let c = p.or(0)?;
        if p.at != p.toks.len() {
            return Err(p.err("unexpected trailing input"));
        }
        Ok(c)
    }

    /// Every variable the condition reads.
    #[must_use]
    pub fn variables(&self) -> Vec<&str> {
        fn operand<'a>(o: &'a Operand, out: &mut Vec<&'a str>) {
            match o {
                Operand::Var(v) => out.push(v),
                Operand::Set(items) => items.iter().for_each(|i| operand(i, out)),
                _ => {}
            }
        }
        fn walk<'a>(c: &'a Condition, out: &mut Vec<&'a str>) {
            match c {
                Condition::And(a, b) | Condition::Or(a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Condition::Not(a) => walk(a, out),
                Condition::Compare { lhs, rhs, .. } => {
                    operand(lhs, out);
                    operand(rhs, out);
                }
                Condition::Truthy(o) => operand(o, out),
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// Evaluates the condition, reading variables through `lookup`.
    ///
    /// # Errors
    /// An undefined variable, a bad regular expression, or an operator applied
    /// to values it cannot compare.
    pub fn evaluate(&self, lookup: &dyn Fn(&str) -> Result<TypedValue, VarError>) -> Result<bool, ConditionError> {
        Ok(match self {
            Self::And(a, b) => a.evaluate(lookup)? && b.evaluate(lookup)?,
            Self::Or(a, b) => a.evaluate(lookup)? || b.evaluate(lookup)?,
            Self::Not(a) => !a.evaluate(lookup)?,
            Self::Truthy(o) => truthy(&resolve(o, lookup)?),
            Self::Compare { lhs, negated, op, rhs } => {
                let l = resolve(lhs, lookup)?;
                let r = resolve(rhs, lookup)?;
                compare(&l, *op, &r)? != *negated
            }
        })
    }
}

#[derive(Debug, Clone)]
enum Val {
    Null,
    Bool(bool),
    Num(f64),
    Text(String),
    Set(Vec<Val>),
}

fn resolve(o: &Operand, lookup: &dyn Fn(&str) -> Result<TypedValue, VarError>) -> Result<Val, ConditionError> {
    Ok(match o {
        Operand::Var(name) => match lookup(name)? {
            TypedValue::Null => Val::Null,
            TypedValue::Bool(b) => Val::Bool(b),
            #[allow(clippy::cast_precision_loss)]
            TypedValue::Integer(i) | TypedValue::Long(i) => Val::Num(i as f64),
            TypedValue::Float(f) => Val::Num(f),
            other => Val::Text(other.to_text()),
        },
        Operand::Str(s) => Val::Text(s.clone()),
        Operand::Num(n) => Val::Num(*n),
        Operand::Bool(b) => Val::Bool(*b),
        Operand::Set(items) => Val::Set(items.iter().map(|i| resolve(i, lookup)).collect::<Result<_, _>>()?),
    })
}

fn truthy(v: &Val) -> bool {
    match v {
        Val::Null => false,
        Val::Bool(b) => *b,
        Val::Num(n) => *n != 0.0,
        Val::Text(s) => !(s.is_empty() || s == "false"),
        Val::Set(s) => !s.is_empty(),
    }
}

fn text(v: &Val) -> String {
    match v {
        Val::Null => String::new(),
        Val::Bool(b) => b.to_string(),
        Val::Num(n) => n.to_string(),
        Val::Text(s) => s.clone(),
        Val::Set(_) => String::from("(set)"),
    }
}

fn number(v: &Val) -> Option<f64> {
    match v {
        Val::Num(n) => Some(*n),
        Val::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn equal(l: &Val, r: &Val) -> bool {
    match (l, r) {
        (Val::Null, Val::Null) => true,
        (Val::Num(_), _) | (_, Val::Num(_)) => {
            matches!((number(l), number(r)), (Some(a), Some(b)) if a == b)
        }
        _ => text(l) == text(r),
    }
}

fn cidr(s: &str) -> Option<(u32, u32)> {
    let (a, bits) = match s.split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok()?),
        None => (s, 32),
    };
    if bits > 32 {
        return None;
    }
    let ip: Ipv4Addr = a.parse().ok()?;
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    Some((u32::from(ip) & mask, mask))
}

fn subset(inner: &Val, outer: &Val) -> Result<bool, ConditionError> {
    let (Some((ia, im)), Some((oa, om))) = (cidr(&text(inner)), cidr(&text(outer))) else {
        return Err(ConditionError::Type("ISSUBSET/ISSUPERSET compare IPv4 addresses or CIDR ranges".into()));
    };
    Ok(im >= om && (ia & om) == oa)
}

fn compare(l: &Val, op: Op, r: &Val) -> Result<bool, ConditionError> {
    Ok(match op {
        Op::Eq => equal(l, r),
        Op::Ne => !equal(l, r),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ord = match (number(l), number(r)) {
                (Some(a), Some(b)) => a.partial_cmp(&b).ok_or_else(|| ConditionError::Type("NaN".into()))?,
                _ => text(l).cmp(&text(r)),
            };
            match op {
                Op::Lt => ord.is_lt(),
                Op::Le => ord.is_le(),
                Op::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            }
        }
        Op::In => match r {
            Val::Set(items) => items.iter().any(|i| equal(l, i)),
            _ => return Err(ConditionError::Type("IN expects a list".into())),
        },
        Op::Like => {
            let mut pattern = String::from("^");
            for ch in text(r).chars() {
                match ch {
                    '%' => pattern.push_str(".*"),
                    '_' => pattern.push('.'),
                    c => pattern.push_str(&regex::escape(&c.to_string())),
                }
            }
            pattern.push('$');
            regex_match(&pattern, &text(l))?
        }
        Op::Matches => regex_match(&text(r), &text(l))?,
        Op::IsSubset => subset(l, r)?,
        Op::IsSuperset => subset(r, l)?,
    })
}

fn regex_match(pattern: &str, haystack: &str) -> Result<bool, ConditionError> {
    let re = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| ConditionError::Type(format!("bad regular expression: {e}")))?;
    Ok(re.is_match(haystack))
}

#[cfg(test)]
mod tests;

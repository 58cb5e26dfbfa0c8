#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::model::{Variable, VariableType, Variables};
use crate::vars::Scope;

fn scope() -> Scope {
    let mut v = Variables::new();
    for (n, t, val) in [
        ("__count__", "integer", "5"),
        ("__name__", "string", "host-01.example.org"),
        ("__ip__", "ipv4-addr", "10.1.2.3"),
        ("__flag__", "bool", "true"),
        ("__off__", "bool", "false"),
        ("__should.execute.true__", "string", "yes"),
    ] {
        v.insert(n.into(), Variable::new(VariableType::from(t), val));
    }
    Scope::new(v)
}

fn eval(src: &str) -> bool {
    let s = scope();
    Condition::parse(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .evaluate(&|n| s.typed(n))
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

#[test]
fn comparisons_follow_the_variable_types() {
    assert!(eval("__count__:value = 5"));
    assert!(eval("__count__:value > 4 AND __count__:value <= 5"));
    assert!(!eval("__count__:value < 5"));
    assert!(eval("__count__:value != 6"));
    assert!(eval("__name__:value = 'host-01.example.org'"));
    assert!(eval("__should.execute.true__:value = yes"));
}

#[test]
fn boolean_connectives_and_precedence() {
    assert!(eval("__flag__:value"));
    assert!(!eval("__off__:value"));
    assert!(eval("NOT __off__:value"));
    assert!(eval("__off__:value OR __flag__:value AND __count__:value = 5"));
    assert!(!eval("(__off__:value OR __flag__:value) AND __count__:value = 6"));
    assert!(eval("[__count__:value = 5] AND NOT [__name__:value = 'x']"));
}

#[test]
fn cacao_operators() {
    assert!(eval("__name__:value LIKE 'host-%.example.org'"));
    assert!(!eval("__name__:value LIKE 'host-_.example.org'"));
    assert!(eval("__name__:value MATCHES '^host-[0-9]+'"));
    assert!(eval("__count__:value IN (1, 5, 9)"));
    assert!(eval("__count__:value NOT IN (1, 2)"));
    assert!(eval("__ip__:value ISSUBSET '10.0.0.0/8'"));
    assert!(!eval("__ip__:value ISSUBSET '192.168.0.0/16'"));
    assert!(eval("'10.0.0.0/8' ISSUPERSET __ip__:value"));
    assert!(eval("__name__:value NOT = 'other'"));
}

#[test]
fn syntax_errors_are_located_and_undefined_variables_reported() {
    let e = Condition::parse("__count__:value = ").unwrap_err();
    assert!(matches!(e, ConditionError::Syntax { pos: 18, .. }), "{e}");
    assert!(Condition::parse("(__a__:value = 1").is_err());
    assert!(Condition::parse("__a__:value = 'open").is_err());
    let s = scope();
    let c = Condition::parse("__missing__:value = 1").unwrap();
    assert!(matches!(c.evaluate(&|n| s.typed(n)), Err(ConditionError::Variable(VarError::Undefined(_)))));
    let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
    assert!(Condition::parse(&deep).is_err());
}

#[test]
fn variables_lists_every_reference() {
    let c = Condition::parse("__a__:value = 1 OR __b__:value IN (__c__:value, 2)").unwrap();
    assert_eq!(c.variables(), vec!["__a__", "__b__", "__c__"]);
}

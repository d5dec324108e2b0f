//! Expression attribute names and values for DynamoDB requests.
//!
//! Expressions in this crate name every attribute as `#attr` (so that
//! reserved words such as `size`, `key` or `state` need no thought) and every
//! value as `:name`. DynamoDB rejects a request that declares a name or value
//! its expressions do not use, so both maps are derived from the expression
//! text: names from the `#` tokens, values by keeping only the `:` tokens that
//! occur.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// The `#name` map for `exprs`: `#state` → `state`; `None` when empty.
pub(crate) fn names(exprs: &[&str]) -> Option<HashMap<String, String>> {
    let map: HashMap<String, String> = exprs
        .iter()
        .flat_map(|expr| tokens(expr, '#'))
        .map(|token| (token.to_owned(), token[1..].to_owned()))
        .collect();
    (!map.is_empty()).then_some(map)
}

/// The `:value` map for `exprs`: those of `values` that `exprs` use; `None`
/// when empty.
pub(crate) fn values<'a>(
    exprs: &[&str],
    values: impl IntoIterator<Item = (&'a str, AttributeValue)>,
) -> Option<HashMap<String, AttributeValue>> {
    let used: Vec<&str> = exprs.iter().flat_map(|expr| tokens(expr, ':')).collect();
    let map: HashMap<String, AttributeValue> = values
        .into_iter()
        .filter(|(name, _)| used.contains(name))
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    (!map.is_empty()).then_some(map)
}

/// Tokens of `expr` made of `sigil` and the word characters after it.
fn tokens(expr: &str, sigil: char) -> impl Iterator<Item = &str> {
    expr.match_indices(sigil).filter_map(move |(start, _)| {
        let rest = &expr[start + 1..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (len > 0).then(|| &expr[start..=start + len])
    })
}

/// A string value.
pub(crate) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

/// A number value.
pub(crate) fn n(number: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_are_those_the_expressions_use() {
        let update = "SET #state = :running, #version = #version + :one";
        let cond = "#state IN (:open, :open_2) AND attribute_exists(#pk)";
        let names = names(&[update, cond]).unwrap();
        let mut keys: Vec<_> = names.iter().map(|(k, v)| format!("{k}={v}")).collect();
        keys.sort();
        assert_eq!(keys, ["#pk=pk", "#state=state", "#version=version"]);

        let values = values(
            &[update, cond],
            [
                (":running", s("running")),
                (":one", n(1)),
                (":open", s("open")),
                (":unused", s("x")),
                (":open_2", s("open")),
            ],
        )
        .unwrap();
        let mut keys: Vec<_> = values.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, [":one", ":open", ":open_2", ":running"]);

        assert!(super::names(&["x = y"]).is_none());
        assert!(super::values(&["#a = #b"], [(":a", n(1))]).is_none());
    }
}

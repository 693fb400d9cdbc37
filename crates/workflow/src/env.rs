//! `${VAR}` in string values: replaced by the environment variable; `$${` writes a literal
//! `${`. Only string values are touched (never keys), and a substitution only ever yields a
//! string, so it cannot turn into the `{ env: … }` / `{ file: … }` mapping a secret needs.

use super::check::{join, with_path};
use super::tree::{Node, Value};

/// A `${…}` that could not be replaced, with the text to point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The `${…}` as written, to find its column in the source.
    pub needle: String,
    pub message: String,
}

/// A `${…}` of the tree that could not be replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unresolved {
    /// Line and column of the string node it is in.
    pub node_at: (u32, u32),
    /// Line and column of the `${` itself.
    pub line_col: (u32, u32),
    pub message: String,
}

/// Replaces every `${VAR}` of `text`. Returns the new text and whether a variable was
/// replaced (an escape alone does not count).
pub(crate) fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<Result<String, ()>>,
) -> Result<(String, bool), Vec<Problem>> {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    let mut replaced = false;
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                problems.push(Problem {
                    needle: tail.to_owned(),
                    message:
                        "`${` without its closing `}`: write `${VAR}`, or `$${` for a literal `${`"
                            .to_owned(),
                });
                rest = "";
                break;
            };
            let name = &after[..end];
            let needle = format!("${{{name}}}");
            if !is_var_name(name) {
                problems.push(Problem {
                    message: format!(
                        "`{}` is not a variable reference: expected `${{NAME}}` with letters, digits and `_`",
                        needle.escape_debug()
                    ),
                    needle,
                });
            } else {
                match lookup(name) {
                    Some(Ok(value)) => {
                        out.push_str(&value);
                        replaced = true;
                    }
                    Some(Err(())) => problems.push(Problem {
                        message: format!("environment variable `{name}` is not valid UTF-8"),
                        needle,
                    }),
                    None => problems.push(Problem {
                        message: format!(
                            "environment variable `{name}` is not set (write `$${{{name}}}` for a literal `${{{name}}}`)"
                        ),
                        needle,
                    }),
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if problems.is_empty() {
        Ok((out, replaced))
    } else {
        Err(problems)
    }
}

/// The process environment, as [`substitute`] looks it up.
pub(crate) fn process_env(name: &str) -> Option<Result<String, ()>> {
    match std::env::var(name) {
        Ok(v) => Some(Ok(v)),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => Some(Err(())),
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`: what a shell accepts as a variable name.
pub(crate) fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Substitutes in every string value of the tree (`path` is the node's field path);
/// returns each problem with the line and column of its node and of its `${` in `source`.
pub(crate) fn substitute_tree(
    node: &mut Node,
    path: &str,
    source: &str,
    lookup: &dyn Fn(&str) -> Option<Result<String, ()>>,
    problems: &mut Vec<Unresolved>,
) {
    let pos = node.pos;
    match &mut node.value {
        Value::Str { text, substituted } if text.contains('$') => match substitute(text, lookup) {
            Ok((new, replaced)) => {
                *text = new;
                *substituted = replaced;
            }
            Err(found) => {
                // The problems are in text order: each is looked for after the one before,
                // so that a repeated `${X}` is pointed at where each occurs.
                let mut from = 0;
                problems.extend(found.into_iter().map(|p| Unresolved {
                    node_at: (pos.line, pos.column),
                    line_col: locate(source, pos, &p.needle, &mut from),
                    message: with_path(path, p.message),
                }));
            }
        },
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute_tree(item, &format!("{path}[{i}]"), source, lookup, problems);
            }
        }
        Value::Map(entries) => {
            for (key, value) in entries {
                let path = join(path, key.as_str().unwrap_or("?"));
                substitute_tree(value, &path, source, lookup, problems);
            }
        }
        _ => {}
    }
}

/// Where `needle` is inside the scalar at `pos`, searching its source text from byte `from`
/// on (then moved past it): its line and column when found, else the scalar's own position.
fn locate(source: &str, pos: super::tree::Pos, needle: &str, from: &mut usize) -> (u32, u32) {
    let found = pos.bytes.and_then(|(offset, len)| {
        let raw = source.get(offset..offset.checked_add(len)?)?;
        let i = *from + raw.get(*from..)?.find(needle)?;
        *from = i + needle.len();
        Some(&raw[..i])
    });
    let Some(before) = found else {
        return (pos.line, pos.column);
    };
    let count = |s: &str| u32::try_from(s.chars().count()).unwrap_or(u32::MAX);
    match before.rfind('\n') {
        None => (pos.line, pos.column.saturating_add(count(before))),
        Some(nl) => {
            let lines = u32::try_from(before.matches('\n').count()).unwrap_or(u32::MAX);
            (
                pos.line.saturating_add(lines),
                count(&before[nl + 1..]).saturating_add(1),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<Result<String, ()>> {
        match name {
            "HOME" => Some(Ok("/home/me".into())),
            "EMPTY" => Some(Ok(String::new())),
            _ => None,
        }
    }

    #[test]
    fn replaces_escapes_and_reports() {
        assert_eq!(
            substitute("${HOME}/x-${EMPTY}$5", &env).unwrap(),
            ("/home/me/x-$5".into(), true)
        );
        assert_eq!(
            substitute("$${HOME} costs $", &env).unwrap(),
            ("${HOME} costs $".into(), false)
        );
        let problems = substitute("${NOPE} ${1X} ${OPEN", &env).unwrap_err();
        let needles: Vec<_> = problems.iter().map(|p| p.needle.as_str()).collect();
        assert_eq!(needles, ["${NOPE}", "${1X}", "${OPEN"]);
        assert!(problems[0].message.contains("`NOPE` is not set"));
    }

    #[test]
    fn problems_point_at_the_reference() {
        let source = "a: 'x ${NOPE}'\nb:\n  - |\n    line\n    ${GONE}\nc: ${GONE} ${GONE}\n";
        let mut tree = crate::tree::parse(source).unwrap();
        let mut problems = Vec::new();
        substitute_tree(&mut tree, "", source, &env, &mut problems);
        let at: Vec<_> = problems.iter().map(|p| p.line_col).collect();
        assert_eq!(at, [(1, 7), (5, 5), (6, 4), (6, 12)]);
    }
}

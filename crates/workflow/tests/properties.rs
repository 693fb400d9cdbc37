//! Properties of the workflow loader: whatever the text, it never panics, and every
//! error it reports has a place in the file (`FILE:LINE:COL`) within the text.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};

/// A workflow that loads, to be broken a little at a time.
const VALID: &str = r#"name: nightly
connection:
  simulator:
    speed: 60
defaults:
  workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21
  model: 75A40874E6B64FA3AE0743278996850F
  timeout: 10m
  poll: { min_interval: 100ms, max_interval: 1s }
steps:
  - id: load
    uses: anaplan/process
    with: { id: "118000000001" }
  - id: notify
    uses: anaplan/action
    needs: load
    if: failure()
    retries: 1
    with: { name: "Notify the team" }
"#;

/// Loads `text` and checks the properties; `Ok` or located errors, never a panic.
fn check(text: &str) -> Result<(), TestCaseError> {
    if let Err(errors) = runwait_workflow::load_str(text, Path::new("w.yaml")) {
        prop_assert!(!errors.errors.is_empty(), "an error without a diagnostic");
        // YAML breaks lines at `\n`, `\r\n` and a lone `\r`.
        let lines = text.replace("\r\n", "\n").matches(['\n', '\r']).count() as u32 + 1;
        for d in &errors.errors {
            let Some((line, col)) = d.line_col else {
                return Err(TestCaseError::fail(format!("not located: {d}")));
            };
            prop_assert!(
                line >= 1 && line <= lines && col >= 1,
                "{d} in {lines} lines"
            );
            prop_assert!(!d.message.is_empty());
        }
    }
    Ok(())
}

/// Values of every YAML type, under the keys a workflow knows and some it does not.
fn any_tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("10m"),
            Just("1e-300s"),
            Just("anaplan/process"),
            Just("success()"),
            Just("${NOPE}"),
            Just("118000000001"),
        ]
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        let keys = prop_oneof![
            Just("name"),
            Just("connection"),
            Just("simulator"),
            Just("auth"),
            Just("kind"),
            Just("defaults"),
            Just("poll"),
            Just("telemetry"),
            Just("steps"),
            Just("id"),
            Just("uses"),
            Just("with"),
            Just("needs"),
            Just("if"),
            Just("timeout"),
            Just("retries"),
            Just("scenario"),
            Just("zz"),
        ]
        .prop_map(str::to_owned);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics_and_errors_are_located(text in "(?s).{0,300}") {
        check(&text)?;
    }

    #[test]
    fn arbitrary_trees_never_panic_and_errors_are_located(tree in any_tree()) {
        // JSON is YAML: the flow style of the same tree.
        check(&tree.to_string())?;
    }

    #[test]
    fn a_valid_workflow_broken_anywhere_is_located(
        at in 0..VALID.len(),
        cut in 0..40usize,
        insert in prop_oneof![
            prop::sample::select(vec![":", "- ", "\t", "{", "\"", "&a *a", "\n  x: 1\n"])
                .prop_map(str::to_owned),
            ".{0,6}",
        ],
    ) {
        let at = (0..=at).rev().find(|i| VALID.is_char_boundary(*i)).unwrap_or(0);
        let end = (at + cut).min(VALID.len());
        let end = (end..=VALID.len()).find(|i| VALID.is_char_boundary(*i)).unwrap_or(VALID.len());
        let text = format!("{}{insert}{}", &VALID[..at], &VALID[end..]);
        check(&text)?;
    }
}

#[test]
fn the_base_of_the_broken_workflows_is_valid() {
    runwait_workflow::load_str(VALID, Path::new("w.yaml")).unwrap();
}

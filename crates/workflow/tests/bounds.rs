//! Values a workflow file may not hold although they have the right type: a simulator
//! speed that would never end a run, durations that would overflow a later time
//! computation, a `state:` with a password in it, text that is not UTF-8. Each is a
//! located error naming its field (and never repeating a password).

use std::path::Path;
use std::time::Duration;

use runwait_workflow::model::{Connection, SecretSource, StateLocation};

const STEP: &str = "steps:\n  - {id: a, uses: anaplan/action, with: {id: '117000000001', workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21, model: 75A40874E6B64FA3AE0743278996850F}}\n";

/// A workflow on the simulator with `speed` and `extra` (top-level keys) before its step.
fn workflow(speed: &str, extra: &str) -> String {
    format!("name: b\nconnection:\n  simulator: {{speed: {speed}}}\n{extra}{STEP}")
}

fn errors(text: &str) -> Vec<String> {
    match runwait_workflow::load_str(text, Path::new("b.yaml")) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn speed_is_bounded() {
    // (`.nan` and `.inf` are refused by the YAML parser already: not finite numbers.)
    let at = "b.yaml:3:22: connection.simulator.speed: ";
    for (speed, expected) in [
        ("0", "must be greater than 0, found 0"),
        ("-2", "must be greater than 0, found -2"),
        (
            "1e-300",
            "must be at least 0.01 (a slower simulator would hardly end a run), found 1e-300",
        ),
        (
            "0.001",
            "must be at least 0.01 (a slower simulator would hardly end a run), found 0.001",
        ),
        ("1e300", "must be at most 1000000, found 1e300"),
        ("2000000", "must be at most 1000000, found 2000000"),
        ("[1]", "expected a number greater than 0, found a list"),
    ] {
        assert_eq!(
            errors(&workflow(speed, "")),
            [format!("{at}{expected}")],
            "{speed}"
        );
    }
    for speed in ["0.01", "1", "60", "1000000"] {
        let w = runwait_workflow::load_str(&workflow(speed, ""), Path::new("b.yaml")).unwrap();
        let Connection::Simulator { speed: read, .. } = w.connection else {
            panic!("{speed}")
        };
        assert_eq!(read, speed.parse::<f64>().unwrap());
    }
}

#[test]
fn durations_are_bounded_where_they_are_read() {
    let huge = "10000000000000000000s";
    for (extra, expected) in [
        (
            format!("defaults:\n  poll: {{min_interval: {huge}}}\n"),
            format!("b.yaml:5:24: defaults.poll.min_interval: must be at most 1h, found `{huge}`"),
        ),
        (
            "defaults:\n  poll: {max_interval: 61m}\n".to_owned(),
            "b.yaml:5:24: defaults.poll.max_interval: must be at most 1h, found `61m`".to_owned(),
        ),
        (
            format!("defaults:\n  timeout: {huge}\n"),
            format!("b.yaml:5:12: defaults.timeout: must be at most 30days, found `{huge}`"),
        ),
        (
            "defaults:\n  timeout: 31days\n".to_owned(),
            "b.yaml:5:12: defaults.timeout: must be at most 30days, found `31days`".to_owned(),
        ),
    ] {
        assert_eq!(errors(&workflow("1", &extra)), [expected], "{extra}");
    }
    let step = STEP.replace("}}\n", "}, timeout: 10000000000000000000s}\n");
    let text = format!("name: b\nconnection: {{simulator: }}\n{step}");
    assert_eq!(
        errors(&text),
        [format!(
            "b.yaml:4:158: steps[0].timeout: must be at most 30days, found `{huge}`"
        )]
    );
    // The bounds themselves are fine.
    let w = runwait_workflow::load_str(
        &workflow(
            "1",
            "defaults:\n  timeout: 30days\n  poll: {min_interval: 1h, max_interval: 1h}\n",
        ),
        Path::new("b.yaml"),
    )
    .unwrap();
    assert_eq!(w.steps[0].timeout, Some(Duration::from_secs(30 * 86_400)));
    assert_eq!(w.poll.max_interval, Duration::from_secs(3600));
}

#[test]
fn a_state_with_a_password_is_refused_without_repeating_it() {
    for (state, expected) in [
        (
            "'postgres://runwait:pw-do-not-print@db/runwait'",
            "b.yaml:4:8: state: a password is a secret, and secrets must come from env or file: write `{ env: VARIABLE }` or `{ file: PATH }` for a value with a password",
        ),
        (
            "'host=db password=pw-do-not-print'",
            "b.yaml:4:8: state: a password is a secret, and secrets must come from env or file: write `{ env: VARIABLE }` or `{ file: PATH }` for a value with a password",
        ),
        (
            "{env: PG, file: pg-url}",
            "b.yaml:4:18: state: give `env` or `file`, not both",
        ),
        (
            "{}",
            "b.yaml:4:8: state: expected `{ env: VARIABLE }` or `{ file: PATH }`",
        ),
        (
            "{env: 'no such'}",
            "b.yaml:4:14: state.env: `no such` is not an environment variable name: expected letters, digits and `_`",
        ),
        ("''", "b.yaml:4:8: state: expected a non-empty string"),
        (
            "3",
            "b.yaml:4:8: state: expected a directory, a postgres:// URL, `{ env: VARIABLE }` or `{ file: PATH }`, found the integer `3`",
        ),
    ] {
        let errors = errors(&workflow("1", &format!("state: {state}\n")));
        assert_eq!(errors, [expected], "{state}");
        assert!(!errors[0].contains("pw-do-not-print"));
    }
}

#[test]
fn a_state_is_read_as_written_or_later() {
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("pg-url");
    std::fs::write(&url_file, "postgres://runwait:secret@db/runwait\n").unwrap();
    let source = dir.path().join("wf.yaml");
    let state = |value: &str| {
        let text = workflow("1", &format!("state: {value}\n"));
        runwait_workflow::load_str(&text, &source).unwrap().state
    };
    let none = runwait_workflow::load_str(&workflow("1", ""), &source).unwrap();
    assert_eq!(none.state, None);
    let url = "postgres://runwait@db:5432/runwait";
    assert_eq!(state(url), Some(StateLocation::Literal(url.to_owned())));
    let relative = state("state/runs").unwrap();
    let in_dir = dir.path().join("state/runs").display().to_string();
    assert_eq!(relative, StateLocation::Literal(in_dir.clone()));
    assert_eq!(relative.resolve().unwrap(), in_dir);

    let from_file = state("{file: pg-url}").unwrap();
    assert_eq!(from_file, StateLocation::From(SecretSource::File(url_file)));
    assert_eq!(
        from_file.resolve().unwrap(),
        "postgres://runwait:secret@db/runwait"
    );

    let unset = state("{env: RUNWAIT_TEST_STATE_SURELY_UNSET}").unwrap();
    assert_eq!(
        unset.resolve().unwrap_err().to_string(),
        "state: environment variable RUNWAIT_TEST_STATE_SURELY_UNSET is not set"
    );
    let missing = state("{file: nowhere}").unwrap();
    let err = missing.resolve().unwrap_err().to_string();
    assert!(err.starts_with("state: cannot read the file "), "{err}");
    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    let empty = state("{file: empty}").unwrap().resolve().unwrap_err();
    assert!(empty.to_string().ends_with("empty is empty"), "{empty}");
}

#[test]
fn text_that_is_not_utf8_is_located_at_its_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    for (bytes, line_col) in [
        (&b"\xffname: x\n"[..], (1, 1)),
        (
            &b"name: x\nconnection: {simulator: }\n  # caf\xc3\xa9 \xe9t\xe9\n"[..],
            (3, 10),
        ),
        (&b"name: \xc3"[..], (1, 7)),
    ] {
        let file = dir.path().join("latin1.yaml");
        std::fs::write(&file, bytes).unwrap();
        for errors in [
            runwait_workflow::load(&file).unwrap_err(),
            runwait_workflow::load_bytes_with_warnings(bytes, &file).unwrap_err(),
        ] {
            assert_eq!(errors.errors.len(), 1, "{errors}");
            assert_eq!(errors.errors[0].line_col, Some(line_col), "{errors}");
            assert!(
                errors.errors[0]
                    .message
                    .starts_with("the file is not UTF-8 text: byte 0x"),
                "{errors}"
            );
        }
    }
}

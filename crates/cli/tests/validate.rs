//! `runwait validate` and `runwait schema`, run as the user runs them: the built binary on
//! the fixture files of `tests/workflows/`, checking exactly what it prints where, and its
//! exit code.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// `runwait` started in the crate's directory, so that fixture paths print as
/// `tests/workflows/…`, without the `RUNWAIT_*` variables the fixtures use unless a test
/// sets them (`common::runwait`), so that the developer's environment cannot change the
/// output.
fn runwait(args: &[&str]) -> Command {
    let mut cmd = Command::from_std(common::runwait());
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args(args);
    cmd
}

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("runwait runs");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// Validates an invalid fixture and checks the whole of standard error, line by line: each
/// expected line is the exact text, or a prefix when it ends with `…`.
fn assert_errors(fixture: &str, expected: &[&str]) {
    let file = format!("tests/workflows/invalid/{fixture}");
    let out = run(&mut runwait(&["validate", &file]));
    assert_eq!(
        out.code,
        Some(2),
        "{file}: exit code; stderr:\n{}",
        out.stderr
    );
    assert_eq!(out.stdout, "", "{file}: nothing on stdout");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        expected.len(),
        "{file}: one line per error; got:\n{}",
        out.stderr
    );
    for (line, want) in lines.iter().zip(expected) {
        let want = want.replace("FILE", &file);
        match want.strip_suffix('…') {
            Some(prefix) => assert!(
                line.starts_with(prefix),
                "{line}\n  should start with\n{prefix}"
            ),
            None => assert_eq!(*line, want),
        }
    }
}

#[test]
fn yaml_syntax_error() {
    assert_errors(
        "syntax.yaml",
        &["FILE:3:11: invalid YAML: illegal placement of ':' indicator"],
    );
}

#[test]
fn empty_file() {
    assert_errors(
        "empty.yaml",
        &["FILE:1:1: the file is empty: expected a mapping with `name`, `connection` and `steps`"],
    );
}

#[test]
fn unknown_key_lists_the_allowed_keys() {
    assert_errors(
        "unknown-key.yaml",
        &[
            "FILE:7:5: steps[0]: unknown key `timeout_minutes`: expected one of id, uses, with, needs, if, timeout, continue_on_error, retries, on_dump, on_unsuccessful_without_evidence, poll",
        ],
    );
}

#[test]
fn duplicate_key_names_the_first() {
    assert_errors(
        "duplicate-key.yaml",
        &["FILE:8:5: steps[0]: duplicate key `retries` (first at line 7, column 5)"],
    );
}

#[test]
fn wrong_types() {
    assert_errors(
        "wrong-type.yaml",
        &[
            "FILE:1:7: name: expected a string, found a list",
            "FILE:7:24: steps[0].continue_on_error: expected true or false, found the string `yes`",
        ],
    );
}

#[test]
fn missing_required_fields() {
    assert_errors(
        "missing-required.yaml",
        &[
            "FILE:1:1: missing required key `name`",
            "FILE:3:5: steps[0]: missing required key `uses`",
        ],
    );
}

#[test]
fn unknown_uses() {
    assert_errors(
        "unknown-uses.yaml",
        &[
            "FILE:5:11: steps[0].uses: expected one of anaplan/process, anaplan/import, anaplan/export, anaplan/action, found the string `anaplan/procss`",
        ],
    );
}

#[test]
fn bad_durations() {
    assert_errors(
        "bad-duration.yaml",
        &[
            "FILE:4:12: defaults.timeout: `90` has no unit: expected a duration with a unit, like 90s, 2h or 1h30m",
            "FILE:9:14: steps[0].timeout: `5 fortnights` is not a duration (unknown time unit \"fortnights\"…",
        ],
    );
}

#[test]
fn bad_ids_without_follow_up_errors() {
    // The invalid default workspace is reported once, not again by every step using it.
    assert_errors(
        "bad-id.yaml",
        &[
            "FILE:4:14: defaults.workspace: expected a workspace id: 32 lowercase hex digits, found the string `8A81B09D5E8C6F27015E8D6C3F4A0B21`",
            "FILE:9:16: steps[0].with.id: `112000000001` is an import id, but `uses: anaplan/process` runs a process id: 12 digits starting with 118",
            "FILE:12:16: steps[1].with.id: expected an import id: 12 digits starting with 112, found the integer `11200001`",
            "FILE:13:9: steps[2].id: `bad step id!` is not a step id: expected letters, digits, `_` and `-`",
        ],
    );
}

#[test]
fn unknown_needs() {
    assert_errors(
        "unknown-needs.yaml",
        &["FILE:6:82: steps[1].needs: unknown step `lod`: expected one of load, export"],
    );
}

#[test]
fn cycles_are_named() {
    assert_errors(
        "cycle.yaml",
        &[
            "FILE:5:70: steps[0].needs: cycle in needs: a -> c -> b -> a",
            "FILE:8:71: steps[3].needs: cycle in needs: d -> d",
        ],
    );
}

#[test]
fn literal_secret_is_refused_and_not_echoed() {
    assert_errors(
        "literal-secret.yaml",
        &[
            "FILE:7:15: connection.auth.password: secrets must come from env or file: write `{ env: VARIABLE }` or `{ file: PATH }`, not a string",
        ],
    );
}

#[test]
fn substitution_cannot_make_a_literal_secret() {
    let file = "tests/workflows/invalid/literal-secret-via-env.yaml";
    let out = run(runwait(&["validate", file]).env("RUNWAIT_TEST_TOKEN", "tok-secret-value"));
    assert_eq!(out.code, Some(2));
    assert_eq!(
        out.stderr,
        format!(
            "{file}:6:12: connection.auth.token: secrets must come from env or file: write `{{ env: VARIABLE }}` or `{{ file: PATH }}`, not a string\n"
        )
    );
    assert!(!out.stderr.contains("tok-secret-value"));
}

#[test]
fn id_and_name_exactly_one() {
    assert_errors(
        "id-and-name.yaml",
        &[
            "FILE:9:7: steps[0].with: `id` and `name` are exclusive: give one of them",
            "FILE:13:7: steps[1].with: missing `id` or `name` of the object to run",
        ],
    );
}

#[test]
fn mapping_parameters_on_an_export() {
    assert_errors(
        "mapping-on-export.yaml",
        &[
            "FILE:9:7: steps[0].with: mapping parameters apply to processes and imports only, not to `anaplan/export`",
        ],
    );
}

#[test]
fn region_and_urls() {
    assert_errors(
        "region-and-urls.yaml",
        &[
            "FILE:4:3: connection: `region` and `api_url`/`auth_url` are exclusive: give a region, or both URLs",
        ],
    );
}

#[test]
fn unknown_region() {
    assert_errors(
        "unknown-region.yaml",
        &["FILE:3:11: connection.region: unknown Anaplan region `mars1`: expected one of us1, …"],
    );
}

#[test]
fn auth_keys_of_another_kind_and_oauth_url() {
    assert_errors(
        "auth-keys.yaml",
        &[
            "FILE:3:3: connection: `oauth_token_url` is required with `kind: oauth` and explicit `api_url`/`auth_url`",
            "FILE:8:5: connection.auth: `password` is not used with `kind: oauth`, which takes client_id, refresh_token, client_secret",
            "FILE:9:49: connection.auth.refresh_token: give `env` or `file`, not both",
        ],
    );
}

#[test]
fn bad_if() {
    assert_errors(
        "bad-if.yaml",
        &[
            "FILE:6:77: steps[1].if: expected one of success(), failure(), always(), found the string `failed()`",
        ],
    );
}

#[test]
fn speed_must_be_positive() {
    assert_errors(
        "bad-speed.yaml",
        &["FILE:4:12: connection.simulator.speed: must be greater than 0, found 0"],
    );
}

#[test]
fn values_that_would_never_end_or_overflow() {
    assert_errors(
        "out-of-range.yaml",
        &[
            "FILE:3:22: connection.simulator.speed: must be at least 0.01 (a slower simulator would hardly end a run), found 1e-300",
            "FILE:5:12: defaults.timeout: must be at most 30days, found `31days`",
            "FILE:6:24: defaults.poll.min_interval: must be at most 1h, found `10000000000000000000s`",
            "FILE:6:61: defaults.poll.max_interval: must be at most 1h, found `2h`",
            "FILE:11:14: steps[0].timeout: must be at most 30days, found `10000000000000000000s`",
        ],
    );
}

#[test]
fn text_that_is_not_utf8_is_located() {
    let expected =
        "1:10: the file is not UTF-8 text: byte 0xE9 is not valid UTF-8 (save the file as UTF-8)";
    assert_errors("not-utf8.yaml", &[&format!("FILE:{expected}")]);
    let bytes =
        std::fs::read(manifest_dir().join("tests/workflows/invalid/not-utf8.yaml")).unwrap();
    let out = run(runwait(&["validate", "-"]).write_stdin(bytes));
    assert_eq!(out.code, Some(2));
    assert_eq!(out.stderr, format!("<stdin>:{expected}\n"));
}

#[test]
fn poll_floor_for_a_real_tenant() {
    assert_errors(
        "poll-floor.yaml",
        &[
            "FILE:6:24: defaults.poll.min_interval: must be at least 5s: Anaplan asks clients not to poll more often (shorter intervals are for the simulator)",
        ],
    );
}

#[test]
fn unset_variable_points_at_the_reference() {
    assert_errors(
        "unset-env.yaml",
        &[
            "FILE:9:15: steps[0].with.model: environment variable `RUNWAIT_TEST_SURELY_UNSET_MODEL` is not set (write `$${RUNWAIT_TEST_SURELY_UNSET_MODEL}` for a literal `${RUNWAIT_TEST_SURELY_UNSET_MODEL}`)",
        ],
    );
}

#[test]
fn inline_scenario_errors_have_their_position() {
    assert_errors(
        "bad-scenario.yaml",
        &[
            "FILE:8:11: connection.simulator.scenario: invalid scenario: unknown field `colour`, expected one of `id`, `name`, `models`",
        ],
    );
}

#[test]
fn scenario_file_errors_name_that_file() {
    assert_errors(
        "bad-scenario-file.yaml",
        &[
            "FILE:4:15: connection.simulator.scenario: the scenario file `tests/workflows/invalid/../scenarios/wobbly.yaml` is invalid",
            "tests/workflows/invalid/../scenarios/wobbly.yaml:9:53: invalid scenario: unknown variant `wobbly`, expected one of `linear`, `steps`, `stuck`",
        ],
    );
}

#[test]
fn every_error_of_a_file_at_once() {
    assert_errors(
        "many-errors.yaml",
        &[
            "FILE:3:22: connection.simulator.speed: must be greater than 0, found -2",
            "FILE:5:12: defaults.timeout: `soon` is not a duration …",
            "FILE:12:11: steps[1].uses: expected one of anaplan/process, anaplan/import, anaplan/export, anaplan/action, found the string `anaplan/exprt`",
            "FILE:14:9: steps[1].if: expected one of success(), failure(), always(), found the string `sometimes`",
        ],
    );
}

#[test]
fn unreadable_file() {
    let out = run(&mut runwait(&[
        "validate",
        "tests/workflows/no-such-file.yaml",
    ]));
    assert_eq!(out.code, Some(2));
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .starts_with("tests/workflows/no-such-file.yaml: cannot read the file: "),
        "{}",
        out.stderr
    );
}

/// Validates a file that must pass; returns its standard error (warnings).
fn assert_valid(file: &str, steps: usize, cmd: &mut Command) -> String {
    let out = run(cmd);
    let plural = if steps == 1 { "" } else { "s" };
    assert_eq!(out.code, Some(0), "{file}: {}", out.stderr);
    assert_eq!(out.stdout, format!("{file}: ok ({steps} step{plural})\n"));
    out.stderr
}

#[test]
fn valid_fixtures() {
    for (name, steps) in [("minimal", 1), ("inline-scenario", 1), ("scenario-file", 2)] {
        let file = format!("tests/workflows/valid/{name}.yaml");
        let stderr = assert_valid(&file, steps, &mut runwait(&["validate", &file]));
        assert_eq!(stderr, "", "{file}");
    }
}

#[test]
fn missing_secret_file_is_only_a_warning() {
    let file = "tests/workflows/valid/secret-file-missing.yaml";
    let out = run(&mut runwait(&["validate", file]));
    assert_eq!(out.code, Some(0), "{file}: {}", out.stderr);
    // The ok line, then the hosts a run will contact (issue 11).
    assert_eq!(
        out.stdout,
        format!(
            "{file}: ok (1 step)\n\
             {file}: contacts https://api.anaplan.com/2/0 (Integration API)\n\
             {file}: contacts https://auth.anaplan.com (auth service)\n\
             {file}: contacts https://us1a.app.anaplan.com/oauth/token (OAuth token endpoint)\n"
        )
    );
    let stderr = out.stderr;
    assert_eq!(
        stderr,
        format!(
            "{file}:9:28: warning: connection.auth.refresh_token.file: file `tests/workflows/valid/no-such-refresh-token` does not exist (yet); it is read when the workflow runs\n"
        )
    );
}

#[test]
fn variables_are_substituted() {
    let file = "tests/workflows/valid/env.yaml";
    let mut cmd = runwait(&["validate", file]);
    cmd.env("RUNWAIT_TEST_NAME", "nightly")
        .env("RUNWAIT_TEST_SPEED", "2.5")
        .env("RUNWAIT_TEST_WORKSPACE", "8a81b09d5e8c6f27015e8d6c3f4a0b21")
        .env("RUNWAIT_TEST_RETRIES", "2")
        .env("RUNWAIT_TEST_CONTINUE", "true");
    assert_eq!(assert_valid(file, 1, &mut cmd), "");

    // A substituted value is checked like a written one.
    let out = run(runwait(&["validate", file])
        .env("RUNWAIT_TEST_NAME", "nightly")
        .env("RUNWAIT_TEST_SPEED", "fast")
        .env("RUNWAIT_TEST_WORKSPACE", "8a81b09d5e8c6f27015e8d6c3f4a0b21")
        .env("RUNWAIT_TEST_RETRIES", "-1")
        .env("RUNWAIT_TEST_CONTINUE", "true"));
    assert_eq!(out.code, Some(2));
    assert_eq!(
        out.stderr,
        format!(
            "{file}:3:23: connection.simulator.speed: expected a number greater than 0, found the string `fast`\n\
             {file}:12:14: steps[0].retries: must be 0 or more, found -1\n"
        )
    );
}

#[test]
fn standard_input() {
    let text =
        std::fs::read_to_string(manifest_dir().join("tests/workflows/valid/minimal.yaml")).unwrap();
    let out = run(runwait(&["validate", "-"]).write_stdin(text));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "<stdin>: ok (1 step)\n")
    );
    let out = run(runwait(&["validate", "-"]).write_stdin("name: x\nsteps: 3\n"));
    assert_eq!(out.code, Some(2));
    assert_eq!(
        out.stderr,
        "<stdin>:1:1: missing required key `connection`\n<stdin>:2:8: steps: expected a list of steps, found the integer `3`\n"
    );
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_workflow_validates() {
    let root = manifest_dir().join("../../workflows");
    let files: Vec<PathBuf> = yaml_files(&root)
        .into_iter()
        .chain(yaml_files(&root.join("examples")))
        .collect();
    assert!(
        files.len() >= 5,
        "demo.yaml and the four examples: {files:?}"
    );
    for file in files {
        let shown = file.display().to_string();
        let out = run(&mut runwait(&["validate", &shown]));
        assert_eq!(out.code, Some(0), "{shown}: {}", out.stderr);
        assert!(
            out.stdout.starts_with(&format!("{shown}: ok (")),
            "{}",
            out.stdout
        );
        // Only warnings (certificate or token files that are not there).
        for line in out.stderr.lines() {
            assert!(line.contains(": warning: "), "{line}");
        }
    }
}

#[test]
fn every_shipped_scenario_loads_as_a_simulator_scenario() {
    let scenarios = yaml_files(&manifest_dir().join("../../workflows/scenarios"));
    assert!(
        scenarios.len() >= 5,
        "certificates, default, dumps, faults and long-running: {scenarios:?}"
    );
    for scenario in scenarios {
        let workflow = format!(
            "name: s\nconnection:\n  simulator:\n    scenario: '{}'\nsteps:\n  - {{id: a, uses: anaplan/action, with: {{id: '117000000001', workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21, model: 75A40874E6B64FA3AE0743278996850F}}}}\n",
            scenario.display()
        );
        let out = run(runwait(&["validate", "-"]).write_stdin(workflow));
        let shown = scenario.display();
        assert_eq!(out.code, Some(0), "{shown}: {}", out.stderr);
        assert_eq!(out.stdout, "<stdin>: ok (1 step)\n", "{shown}");
        assert_eq!(out.stderr, "", "{shown}");
    }
}

#[test]
fn schema_is_a_json_schema() {
    let out = run(&mut runwait(&["schema"]));
    assert_eq!(out.code, Some(0));
    assert_eq!(out.stderr, "");
    let schema: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["additionalProperties"], false);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(required, ["name", "connection", "steps"]);
    assert!(schema["properties"]["steps"].is_object());
}

#[test]
fn a_region_prints_the_hosts_of_its_allow_list() {
    let workflow = "name: r\nconnection:\n  region: au1\n  auth: {kind: oauth, client_id: c, refresh_token: {env: RT}}\nsteps:\n  - {id: a, uses: anaplan/action, with: {id: '117000000001', workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21, model: 75A40874E6B64FA3AE0743278996850F}}\n";
    let out = run(runwait(&["validate", "-"]).write_stdin(workflow));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "<stdin>: ok (1 step)\n\
         <stdin>: contacts https://au1a.api2.anaplan.com/2/0 (Integration API)\n\
         <stdin>: contacts https://au1a.app2.anaplan.com (auth service)\n\
         <stdin>: contacts https://au1a.app2.anaplan.com/oauth/token (OAuth token endpoint)\n"
    );
}

//! The messages of `steps:` (read through their typed definitions) as the checker wrote
//! them by hand before: every problem of every step, once.

use std::path::Path;

fn errors(text: &str) -> Vec<String> {
    let err = crate::load_str(text, Path::new("t.yaml")).unwrap_err();
    err.to_string().lines().map(str::to_owned).collect()
}

#[test]
fn every_problem_of_every_step_in_flow_style() {
    let text = "name: t\nconnection: {region: eu1, auth: {kind: token, token: {env: RW_T}}}\nsteps:\n  - {colour: 1, needs: 3, if: x, timeout: 5, retries: -1, continue_on_error: 2, on_dump: z}\n  - {id: \"\", uses: anaplan/export, with: {id: 3, name: \"\", workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21, model: 75A40874E6B64FA3AE0743278996850F, mapping_parameters: [{entity_type: 1}]}}\n  - {id: b, uses: anaplan/process, with: {name: x, locale: \"\", workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21, model: 75A40874E6B64FA3AE0743278996850F, mapping_parameters: [{entity_type: V}, {entity_name: \"\"}, 3]}, needs: [a, 3, \"\"]}\n  - {id: c, uses: anaplan/import, with: {id: [1], workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21, model: 75A40874E6B64FA3AE0743278996850F, mapping_parameters: 7, colour: 2}}\n  - {id: d, uses: anaplan/x, with: {id: 117000000001, workspace: nope}}\n  - {id: e, uses: anaplan/action, with: {id: 116000000001, workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21, model: 75A40874E6B64FA3AE0743278996850F}, needs: d, retries: 1, retries: 2}\n  - 7\n  - {id: f, uses: anaplan/import, with: 3}\n  - {id: g, uses: anaplan/import, with: {id: ~, name: ~, workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21, model: 75A40874E6B64FA3AE0743278996850F}, on_unsuccessful_without_evidence: q, timeout: 0s}\n";
    assert_eq!(
        errors(text),
        [
            "t.yaml:4:5: steps[0]: missing required key `id`",
            "t.yaml:4:5: steps[0]: missing required key `uses`",
            "t.yaml:4:5: steps[0]: missing required key `with`",
            "t.yaml:4:6: steps[0]: unknown key `colour`: expected one of id, uses, with, needs, if, timeout, continue_on_error, retries, on_dump, on_unsuccessful_without_evidence, poll",
            "t.yaml:4:24: steps[0].needs: expected a step id or a list of step ids, found the integer `3`",
            "t.yaml:4:31: steps[0].if: expected one of success(), failure(), always(), found the string `x`",
            "t.yaml:4:43: steps[0].timeout: `5` has no unit: expected a duration with a unit, like 90s, 2h or 1h30m",
            "t.yaml:4:55: steps[0].retries: must be 0 or more, found -1",
            "t.yaml:4:78: steps[0].continue_on_error: expected true or false, found the integer `2`",
            "t.yaml:4:90: steps[0].on_dump: expected one of warn, fail, ignore, found the string `z`",
            "t.yaml:5:10: steps[1].id: expected a non-empty string",
            "t.yaml:5:50: steps[1].with: `id` and `name` are exclusive: give one of them",
            "t.yaml:5:146: steps[1].with: mapping parameters apply to processes and imports only, not to `anaplan/export`",
            "t.yaml:6:60: steps[2].with.locale: expected a non-empty string",
            "t.yaml:6:171: steps[2].with.mapping_parameters[0]: missing required key `entity_name`",
            "t.yaml:6:189: steps[2].with.mapping_parameters[1]: missing required key `entity_type`",
            "t.yaml:6:203: steps[2].with.mapping_parameters[1].entity_name: expected a non-empty string",
            "t.yaml:6:208: steps[2].with.mapping_parameters[2]: expected a mapping parameter (a mapping with keys entity_type, entity_name), found the integer `3`",
            "t.yaml:6:221: steps[2].needs: unknown step `a`: expected one of b, c, d, e, f, g",
            "t.yaml:6:224: steps[2].needs: expected a string, found the integer `3`",
            "t.yaml:6:227: steps[2].needs: expected a non-empty string",
            "t.yaml:7:46: steps[3].with.id: expected an import id: 12 digits starting with 112, found a list",
            "t.yaml:7:157: steps[3].with.mapping_parameters: expected a list of { entity_type, entity_name }, found the integer `7`",
            "t.yaml:7:160: steps[3].with: unknown key `colour`: expected one of id, name, workspace, model, locale, mapping_parameters",
            "t.yaml:8:19: steps[4].uses: expected one of anaplan/process, anaplan/import, anaplan/export, anaplan/action, found the string `anaplan/x`",
            "t.yaml:8:36: steps[4].with: no model: set `with.model` or `defaults.model`",
            "t.yaml:8:66: steps[4].with.workspace: expected a workspace id: 32 lowercase hex digits, found the string `nope`",
            "t.yaml:9:46: steps[5].with.id: `116000000001` is an export id, but `uses: anaplan/action` runs an action id: 12 digits starting with 117",
            "t.yaml:9:169: steps[5]: duplicate key `retries` (first at line 9, column 157)",
            "t.yaml:10:5: steps[6]: expected a step (a mapping with keys id, uses, with, needs, if, timeout, continue_on_error, retries, on_dump, on_unsuccessful_without_evidence, poll), found the integer `7`",
            "t.yaml:11:41: steps[7].with: expected the object to run (a mapping with keys id, name, workspace, model, locale, mapping_parameters), found the integer `3`",
            "t.yaml:12:49: steps[8].with: `id` and `name` are exclusive: give one of them",
            "t.yaml:12:179: steps[8].on_unsuccessful_without_evidence: expected one of warn, fail, found the string `q`",
            "t.yaml:12:191: steps[8].timeout: must be longer than 0s",
        ]
    );
}

#[test]
fn every_problem_of_a_block_style_step() {
    let text = "name: t\nconnection: {region: eu1, auth: {kind: token, token: {env: RW_T}}}\ndefaults:\n  workspace: 8a81b09d5e8c6f27015e8d6c3f4a0b21\nsteps:\n  - id: a\n    uses: anaplan/import\n    with:\n      id: \"112000000001\"\n      model: ${RW_STEPS_TEST_UNSET_X}\n      mapping_parameters:\n        - entity_type: 3\n          entity_name: x\n        - entity_name: \"\"\n          colour: 1\n    needs: b\n    retries: x\n    continue_on_error: maybe\n  - id: b\n    uses: anaplan/process\n    with:\n      name: x\n      model: 75A40874E6B64FA3AE0743278996850F\n      locale: 3\n    needs:\n      - a\n      - a\n    if: always()\n    timeout: 1h\n";
    assert_eq!(
        errors(text),
        [
            "t.yaml:10:14: steps[0].with.model: environment variable `RW_STEPS_TEST_UNSET_X` is not set (write `$${RW_STEPS_TEST_UNSET_X}` for a literal `${RW_STEPS_TEST_UNSET_X}`)",
            "t.yaml:12:24: steps[0].with.mapping_parameters[0].entity_type: expected a string, found the integer `3`",
            "t.yaml:14:11: steps[0].with.mapping_parameters[1]: missing required key `entity_type`",
            "t.yaml:14:24: steps[0].with.mapping_parameters[1].entity_name: expected a non-empty string",
            "t.yaml:15:11: steps[0].with.mapping_parameters[1]: unknown key `colour`: expected one of entity_type, entity_name",
            "t.yaml:16:12: steps[0].needs: cycle in needs: a -> b -> a",
            "t.yaml:17:14: steps[0].retries: expected an integer, found the string `x`",
            "t.yaml:18:24: steps[0].continue_on_error: expected true or false, found the string `maybe`",
            "t.yaml:24:15: steps[1].with.locale: expected a string, found the integer `3`",
        ]
    );
}

//! The tree deserializer on the simulator's scenario (the lenient mode).

use super::*;
use crate::tree::parse;

#[test]
fn scenario_from_a_tree() {
    let tree = parse(
        "workspaces:\n  - id: 8a81b09d5e8c6f27015e8d6c3f4a0b21\n    name: W\n    models:\n      - id: 75A40874E6B64FA3AE0743278996850F\n        name: M\n        imports:\n          - {id: 112000000001, name: I, duration: 2s, progress: {steps: 4}}\n",
    )
    .unwrap();
    let scenario: runwait_sim::Scenario = from_node(&tree).unwrap();
    scenario.validate().unwrap();
    let import = &scenario.workspaces[0].models[0].imports[0];
    assert_eq!(import.id.as_str(), "112000000001");
    assert_eq!(import.progress, runwait_sim::Curve::Steps(4));
}

#[test]
fn errors_carry_the_innermost_position() {
    let tree = parse("workspaces:\n  - id: w\n    name: W\n    colour: red\n").unwrap();
    let err = from_node::<runwait_sim::Scenario>(&tree).unwrap_err();
    assert!(err.message.contains("unknown field `colour`"), "{err}");
    let pos = err.pos.unwrap();
    assert_eq!((pos.line, pos.column), (4, 5));
    let tree = parse("workspaces: 3\n").unwrap();
    let pos = from_node::<runwait_sim::Scenario>(&tree)
        .unwrap_err()
        .pos
        .unwrap();
    assert_eq!((pos.line, pos.column), (1, 13));
}

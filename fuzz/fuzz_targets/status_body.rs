//! The task-status body parser and the classification on any bytes: no panic, and an
//! error is located (a line within the text) or a verdict on valid JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runwait_core::{OutcomePolicy, ParseError, TaskStatusBody, classify};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match TaskStatusBody::parse(text) {
        Ok(body) => {
            let _ = classify(&body.task, &OutcomePolicy::default());
        }
        Err(ParseError::Syntax { line, .. } | ParseError::Shape { line, .. }) => {
            assert!(line >= 1 && line <= text.split('\n').count(), "line {line}");
        }
        Err(_) => {}
    }
});

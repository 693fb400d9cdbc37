//! The workflow loader on any text: no panic, and every error has a line and column.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = runwait_workflow::load_str(text, Path::new("fuzz.yaml")) {
        for d in &errors.errors {
            assert!(d.line_col.is_some(), "not located: {d}");
        }
    }
});

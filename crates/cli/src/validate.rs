//! `runwait validate FILE` and `runwait schema`: check a workflow file without running it,
//! and print the JSON Schema of the format for editors.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::exit::Exit;
use crate::workflow;

/// Arguments of `runwait validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workflow file, or `-` for standard input (relative paths in it are then
    /// resolved against the current directory).
    file: PathBuf,
}

/// Validates the file: `FILE: ok (N steps)` on standard output, or every error, one per
/// line as `FILE:LINE:COL: message`, on standard error. Warnings go to standard error
/// either way.
pub fn run(args: &Args) -> Exit {
    let loaded = if args.file.as_os_str() == "-" {
        let mut text = String::new();
        match std::io::stdin().read_to_string(&mut text) {
            Ok(_) => workflow::load_str_with_warnings(&text, Path::new("<stdin>")),
            Err(e) => {
                eprintln!("<stdin>: cannot read: {e}");
                return Exit::Usage;
            }
        }
    } else {
        workflow::load_with_warnings(&args.file)
    };
    match loaded {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("{warning}");
            }
            let n = loaded.workflow.steps.len();
            let name = if args.file.as_os_str() == "-" {
                "<stdin>".to_owned()
            } else {
                args.file.display().to_string()
            };
            println!("{name}: ok ({n} step{})", if n == 1 { "" } else { "s" });
            Exit::Success
        }
        Err(errors) => {
            eprintln!("{errors}");
            Exit::Usage
        }
    }
}

/// Prints the JSON Schema of workflow files.
pub fn schema() -> Exit {
    match serde_json::to_string_pretty(&workflow::schema()) {
        Ok(text) => {
            println!("{text}");
            Exit::Success
        }
        Err(e) => {
            eprintln!("runwait: cannot print the schema: {e}");
            Exit::Usage
        }
    }
}

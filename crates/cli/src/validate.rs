//! `runwait validate FILE` and `runwait schema`: check a workflow file without running it,
//! and print the JSON Schema of the format for editors.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::exit::Exit;
use runwait_workflow as workflow;

/// Arguments of `runwait validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workflow file, or `-` for standard input (relative paths in it are then
    /// resolved against the current directory).
    file: PathBuf,
}

/// Validates the file: `FILE: ok (N steps)` on standard output, then for a real tenant
/// one `FILE: contacts URL (what)` line per host the runs will contact; or every error,
/// one per line as `FILE:LINE:COL: message`, on standard error. Warnings go to standard
/// error either way.
pub fn run(args: &Args) -> Exit {
    let stdin = args.file.as_os_str() == "-";
    let name = if stdin {
        Path::new("<stdin>")
    } else {
        args.file.as_path()
    };
    let loaded = if stdin {
        let mut bytes = Vec::new();
        match std::io::stdin().read_to_end(&mut bytes) {
            Ok(_) => workflow::load_bytes_with_warnings(&bytes, name),
            Err(e) => {
                eprintln!("{}: cannot read: {e}", name.display());
                return Exit::Usage;
            }
        }
    } else {
        workflow::load_with_warnings(name)
    };
    match loaded {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("{warning}");
            }
            let n = loaded.workflow.steps.len();
            println!(
                "{}: ok ({n} step{})",
                name.display(),
                if n == 1 { "" } else { "s" }
            );
            for (url, what) in hosts(&loaded.workflow.connection) {
                println!("{}: contacts {url} ({what})", name.display());
            }
            Exit::Success
        }
        Err(errors) => {
            eprintln!("{errors}");
            Exit::Usage
        }
    }
}

/// The URLs a workflow's runs will contact, for a firewall's allow-list: the
/// Integration API, the auth service and, for OAuth, the token endpoint. None for the
/// embedded simulator (loopback only).
fn hosts(connection: &workflow::model::Connection) -> Vec<(String, &'static str)> {
    match connection {
        workflow::model::Connection::Anaplan {
            endpoints,
            oauth_token_url,
            ..
        } => {
            let mut hosts = vec![
                (endpoints.api().to_string(), "Integration API"),
                (
                    endpoints.auth().as_str().trim_end_matches('/').to_owned(),
                    "auth service",
                ),
            ];
            if let Some(url) = oauth_token_url {
                hosts.push((url.to_string(), "OAuth token endpoint"));
            }
            hosts
        }
        // The embedded simulator (and any connection a later format adds that runs
        // in-process) contacts nothing beyond loopback.
        _ => Vec::new(),
    }
}

/// Prints the JSON Schema of workflow files.
pub fn schema() -> Exit {
    // `{:#}` is serde_json's pretty form, which cannot fail for a `Value`.
    println!("{:#}", workflow::schema());
    Exit::Success
}

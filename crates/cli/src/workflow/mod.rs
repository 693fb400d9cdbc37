//! Workflow files: YAML to the validated [`model::Workflow`], in two phases.
//!
//! 1. serde-saphyr parses the text into a tree whose every node knows its line and column
//!    ([`tree`]); a YAML syntax error stops here, as it leaves nothing to check.
//! 2. The tree is checked field by field ([`check`]) and every problem is collected, so
//!    that one run of `runwait validate` lists all of them, each as `FILE:LINE:COL: …`.
//!
//! `${VAR}` is substituted in string values between the two phases ([`env`]). Secrets are
//! only referenced (`{ env: VAR }` / `{ file: PATH }`) and read by the runner when it
//! connects, so a file validates without them.

mod check;
mod de;
mod env;
pub mod model;
mod schema;
mod tree;

use std::fmt;
use std::path::{Path, PathBuf};

use self::model::Workflow;

pub use self::schema::schema;

/// One problem of a workflow (or scenario) file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in, as given on the command line (or resolved from it).
    pub file: PathBuf,
    /// Line and column (1-based) when the problem has a place in the file.
    pub line_col: Option<(u32, u32)>,
    /// What is wrong and what was expected, starting with the field path when there is one.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line_col {
            Some((line, col)) => {
                write!(f, "{}:{line}:{col}: {}", self.file.display(), self.message)
            }
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Every error found in a workflow file, in file order; displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct WorkflowErrors {
    /// The errors, sorted by file, line and column.
    pub errors: Vec<Diagnostic>,
}

impl fmt::Display for WorkflowErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A workflow that loaded, with what is suspicious but not wrong (a secret file that does
/// not exist yet).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated workflow.
    pub workflow: Workflow,
    /// Warnings, in file order.
    pub warnings: Vec<Diagnostic>,
}

/// Reads and validates a workflow file; relative paths in it are resolved against its
/// directory.
pub fn load(path: &Path) -> Result<Workflow, WorkflowErrors> {
    load_str(&read(path)?, path)
}

/// [`load`] for text that did not come from a file (tests, standard input); `source`
/// names it in messages and its directory resolves relative paths.
pub fn load_str(text: &str, source: &Path) -> Result<Workflow, WorkflowErrors> {
    load_str_with_warnings(text, source).map(|loaded| loaded.workflow)
}

/// [`load`], keeping the warnings.
pub fn load_with_warnings(path: &Path) -> Result<Loaded, WorkflowErrors> {
    load_str_with_warnings(&read(path)?, path)
}

/// [`load_str`], keeping the warnings.
pub fn load_str_with_warnings(text: &str, source: &Path) -> Result<Loaded, WorkflowErrors> {
    let mut root = parse(text, source)?;
    let mut problems = Vec::new();
    env::substitute_tree(&mut root, "", text, &env::process_env, &mut problems);
    let mut checker = check::Checker::new(source);
    for (line_col, message) in problems {
        checker.error_at(line_col, message);
    }
    let workflow = checker.workflow(&root);
    let (errors, warnings) = checker.finish();
    match workflow {
        Some(workflow) if errors.is_empty() => Ok(Loaded { workflow, warnings }),
        _ => Err(WorkflowErrors { errors }),
    }
}

/// Reads a simulator scenario file (`runwait sim --scenario`, `connection.simulator.scenario`)
/// and checks it. Scenario files take no `${VAR}`: they are test data, used as written.
pub fn load_scenario(path: &Path) -> Result<runwait_sim::Scenario, WorkflowErrors> {
    let text = read(path)?;
    let root = parse(&text, path)?;
    check::scenario(&root, path, "", false).map_err(|errors| WorkflowErrors { errors })
}

fn read(path: &Path) -> Result<String, WorkflowErrors> {
    std::fs::read_to_string(path).map_err(|e| WorkflowErrors {
        errors: vec![Diagnostic {
            file: path.to_owned(),
            line_col: None,
            message: format!("cannot read the file: {e}"),
        }],
    })
}

fn parse(text: &str, source: &Path) -> Result<tree::Node, WorkflowErrors> {
    tree::parse(text).map_err(|e| WorkflowErrors {
        errors: vec![Diagnostic {
            file: source.to_owned(),
            line_col: e.line_col,
            message: format!("invalid YAML: {}", e.message),
        }],
    })
}

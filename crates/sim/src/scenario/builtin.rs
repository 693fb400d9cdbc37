//! The built-in scenario, served when none is given (`workflows/scenarios/default.yaml`
//! spells it out; a test keeps the two identical).

use std::time::Duration;

use runwait_core::{ModelId, ObjectId, WorkspaceId};

use super::{
    CertificateMatch, Curve, DetailSpec, JobSpec, ModelSpec, ModelState, OAuthClient, Outcome,
    ProcessSpec, Scenario, User, WorkspaceSpec, default_cancel_duration, default_chunk_size,
    default_token_ttl,
};

const FILE_GONE: &str = "The uploaded file is no longer available; please upload the file again";

fn job(id: &str, name: &str, secs: u64, outcome: Outcome) -> JobSpec {
    JobSpec {
        id: ObjectId::new(id),
        name: name.to_owned(),
        action_type: None,
        duration: Duration::from_secs(secs),
        progress: Curve::Linear,
        outcome,
        dump_rows: None,
        details: None,
        cancellable: true,
    }
}

fn process(id: &str, name: &str, actions: &[&str]) -> ProcessSpec {
    ProcessSpec {
        id: ObjectId::new(id),
        name: name.to_owned(),
        actions: actions.iter().map(|a| ObjectId::new(*a)).collect(),
        duration: None,
        progress: Curve::Linear,
        outcome: None,
        details: None,
        cancellable: true,
    }
}

impl Scenario {
    /// The built-in scenario served when none is given; see the crate README.
    pub fn builtin() -> Scenario {
        scenario()
    }
}

fn scenario() -> Scenario {
    let file_gone = DetailSpec {
        detail_type: "importFailedGeneralError".into(),
        message: Some(FILE_GONE.into()),
        occurrences: 0,
        values: vec![Some("errorMessage".into()), Some(FILE_GONE.into())],
    };
    let imports = vec![
        job(
            "112000000001",
            "Products from products.csv",
            20,
            Outcome::Success,
        ),
        JobSpec {
            progress: Curve::Steps(4),
            ..job(
                "112000000002",
                "Sales from sales.csv",
                20,
                Outcome::Warnings,
            )
        },
        JobSpec {
            dump_rows: Some(5),
            ..job(
                "112000000003",
                "Customers from customers.csv",
                20,
                Outcome::Failure,
            )
        },
        JobSpec {
            details: Some(vec![file_gone]),
            ..job(
                "112000000004",
                "Forecast from forecast.csv",
                5,
                Outcome::Failure,
            )
        },
    ];
    let exports = vec![
        job("116000000001", "Revenue.csv", 10, Outcome::Success),
        job("116000000002", "Plan.xls", 10, Outcome::Failure),
        job("116000000004", "Summary.csv", 5, Outcome::Success),
    ];
    let actions = vec![
        job("117000000001", "Delete old versions", 5, Outcome::Success),
        JobSpec {
            action_type: Some("ORDER_HIERARCHY".into()),
            ..job("117000000002", "Sort products", 5, Outcome::Failure)
        },
        JobSpec {
            cancellable: false,
            progress: Curve::Stuck,
            ..job(
                "117000000003",
                "Rebuild hierarchy (cannot cancel)",
                60,
                Outcome::Success,
            )
        },
    ];
    let processes = vec![
        process(
            "118000000001",
            "Nightly load",
            &["112000000001", "116000000001"],
        ),
        process(
            "118000000002",
            "Sales load (warnings)",
            &["112000000002", "116000000001"],
        ),
        process(
            "118000000003",
            "Customer load (fails)",
            &["112000000003", "116000000001"],
        ),
        process(
            "118000000004",
            "Forecast load (file gone)",
            &["112000000004", "116000000004"],
        ),
        ProcessSpec {
            outcome: Some(Outcome::UnsuccessfulWithoutEvidence),
            ..process("118000000005", "Cleanup (no evidence)", &["117000000001"])
        },
    ];
    Scenario {
        users: vec![
            User {
                name: "demo@runwait.local".into(),
                password: Some("demo".into()),
                certificate: None,
            },
            User {
                name: "certificate-user@runwait.local".into(),
                password: None,
                certificate: Some(CertificateMatch::Subject(
                    "CN=runwait test user,O=runwait test".into(),
                )),
            },
        ],
        token_ttl: default_token_ttl(),
        dump_chunk_size: default_chunk_size(),
        cancel_duration: default_cancel_duration(),
        workspaces: vec![WorkspaceSpec {
            id: WorkspaceId::new("8a81b09d5e8c6f27015e8d6c3f4a0b21"),
            name: "Demo Workspace".into(),
            models: vec![ModelSpec {
                id: ModelId::new("75A40874E6B64FA3AE0743278996850F"),
                name: "Demo Model".into(),
                imports,
                exports,
                actions,
                processes,
                state: ModelState::Online,
            }],
        }],
        faults: Vec::new(),
        oauth_clients: vec![OAuthClient {
            client_id: "runwait-demo".into(),
            user: "demo@runwait.local".into(),
            refresh_token: "demo-refresh-token".into(),
            rotate: true,
            client_secret: None,
        }],
        foreign_starts: Vec::new(),
        task_list_users: false,
        rate_limit: None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_scenario_is_valid() {
        super::Scenario::builtin().validate().unwrap();
    }
}

//! The checks serde cannot make on a scenario.

use std::collections::HashSet;

use super::{JobKind, Scenario};
use crate::SimError;
use crate::fault::Fault;

impl Scenario {
    /// Checks what serde cannot: id formats and prefixes, unique ids, process actions
    /// that exist, dumps only on imports, faults that make sense.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |msg: String| Err(SimError::Scenario(msg));
        let mut users = HashSet::new();
        for u in &self.users {
            if !users.insert(u.name.as_str()) {
                return bad(format!("user `{}` is declared twice", u.name));
            }
        }
        if self.dump_chunk_size == 0 {
            return bad("dump_chunk_size must be at least 1".into());
        }
        let mut ids = HashSet::new();
        for ws in &self.workspaces {
            if !ws.id.is_well_formed() || !ids.insert(ws.id.to_string()) {
                return bad(format!(
                    "workspace id `{}` must be 32 lowercase hex digits, unique",
                    ws.id
                ));
            }
            for m in &ws.models {
                if !m.id.is_well_formed() || !ids.insert(m.id.to_string()) {
                    return bad(format!(
                        "model id `{}` must be 32 uppercase hex digits, unique",
                        m.id
                    ));
                }
                let mut objects = HashSet::new();
                let jobs = m.job_lists();
                let all = jobs
                    .iter()
                    .flat_map(|(k, js)| js.iter().map(move |j| (*k, &j.id)))
                    .chain(m.processes.iter().map(|p| (JobKind::Process, &p.id)));
                for (kind, id) in all {
                    let ok = id.is_well_formed() && id.kind() == Some(kind.object_kind());
                    if !ok || !objects.insert(id.clone()) {
                        return bad(format!(
                            "object id `{id}` in model {} must be 12 digits with the {} prefix, unique",
                            m.id,
                            kind.object_kind()
                        ));
                    }
                }
                for (kind, js) in jobs {
                    for j in js.iter().filter(|j| j.dump_rows.is_some_and(|n| n > 0)) {
                        if kind != JobKind::Import {
                            return bad(format!("`{}`: only imports have dumps", j.id));
                        }
                    }
                }
                for p in &m.processes {
                    if let Some(a) = p.actions.iter().find(|a| m.job(a).is_none()) {
                        return bad(format!(
                            "process `{}` runs `{a}`, which is not an import, export or action of model {}",
                            p.id, m.id
                        ));
                    }
                }
            }
        }
        if let Some(f) = self
            .foreign_starts
            .iter()
            .find(|f| self.object_home(&f.object).is_none())
        {
            return bad(format!(
                "foreign start at {:?}: no model has object `{}`",
                f.at, f.object
            ));
        }
        self.faults.iter().try_for_each(Fault::validate)
    }
}

#[cfg(test)]
mod tests {
    use runwait_core::ObjectId;

    use super::*;

    #[test]
    fn validation_rejects_bad_ids_and_dangling_actions() {
        let mut s = Scenario::builtin();
        s.workspaces[0].models[0].imports[0].id = ObjectId::new("116000000009");
        let err = s.validate().unwrap_err().to_string();
        assert!(
            err.contains("`116000000009`") && err.contains("with the import prefix"),
            "{err}"
        );
        let mut s = Scenario::builtin();
        s.workspaces[0].models[0].processes[0]
            .actions
            .push(ObjectId::new("112999999999"));
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("112999999999")
        );
        let mut s = Scenario::builtin();
        s.workspaces[0].models[0].exports[0].dump_rows = Some(2);
        let err = s.validate().unwrap_err().to_string();
        assert!(
            err.contains("`116000000001`: only imports have dumps"),
            "{err}"
        );
    }
}

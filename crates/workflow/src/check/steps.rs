//! `steps:`: each step read through its typed definition, then the rules across its
//! fields by hand: the id prefix against `uses`, `id` or `name`, mapping parameters only
//! for processes and imports, and the fallbacks of `with:` to `defaults:`.

use runwait_core::ObjectId;

use super::{Checker, Defaults, StepRef, key_node, key_pos};
use crate::de::Hidden;
use crate::format::{self, StepFile, Uses, With};
use crate::model::{DEFAULT_LOCALE, ObjectRef, StepSpec};
use crate::tree::{Node, Value};

impl Checker {
    pub(super) fn steps(&mut self, node: &Node, defaults: &Defaults) -> Option<Vec<StepSpec>> {
        let Value::Seq(items) = &node.value else {
            self.error(
                node,
                "steps",
                format!("expected a list of steps, found {}", node.describe()),
            );
            return None;
        };
        if items.is_empty() {
            self.error(node, "steps", "expected at least one step");
            return None;
        }
        // Sized once: the checked steps are kept for as long as the host keeps the workflow.
        let mut specs = Vec::with_capacity(items.len());
        let mut all_checked = true;
        let mut refs = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("steps[{i}]");
            let (spec, step_ref) = self.step(item, &path, defaults);
            match spec {
                Some(spec) => specs.push(spec),
                None => all_checked = false,
            }
            refs.push(step_ref);
        }
        self.check_needs(&refs);
        all_checked.then_some(specs)
    }

    pub(super) fn step<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        defaults: &Defaults,
    ) -> (Option<StepSpec>, StepRef<'n>) {
        let mut step_ref = StepRef {
            id: None,
            needs: Vec::new(),
            path: path.to_owned(),
        };
        // `uses` as written decides how `with.id` and `with.mapping_parameters` are read.
        let uses: Option<Uses> = node.get("uses").and_then(|n| n.as_str()?.parse().ok());
        let with_node = node.get("with");
        let mut hidden: Vec<Hidden> = Vec::new();
        hidden.extend(key_pos(node, "needs"));
        hidden.extend(with_node.and_then(|w| key_pos(w, "id")));
        // With both `id` and `name`, that is the one problem of the object.
        if let Some(w) = with_node.filter(|w| w.get("id").is_some()) {
            hidden.extend(key_pos(w, "name"));
        }
        let parameters = with_node.and_then(|w| w.get("mapping_parameters"));
        let takes_parameters = uses.is_none_or(|u| u.kind().accepts_mapping_parameters());
        if parameters.is_some_and(|p| !takes_parameters || !matches!(p.value, Value::Seq(_))) {
            hidden.extend(with_node.and_then(|w| key_pos(w, "mapping_parameters")));
        }
        let Some((file, failed)) = self.typed_hiding::<StepFile>(node, path, hidden) else {
            return (None, step_ref);
        };
        let mut ok = !failed;
        if let (Some(id), Some(n)) = (&file.id, node.get("id")) {
            step_ref.id = Some((id.clone(), n));
        }
        if let Some(n) = node.get("needs") {
            step_ref.needs = self.needs(n, &format!("{path}.needs"));
        }
        for key in ["id", "uses", "with"] {
            if node.get(key).is_none() {
                self.error(node, path, format!("missing required key `{key}`"));
                ok = false;
            }
        }
        let target = match (&file.with, with_node) {
            (Some(with), Some(n)) => self.with(with, n, &format!("{path}.with"), uses, defaults),
            _ => None,
        };
        let (Some(id), Some(uses), Some(mut target), true) =
            (file.id.clone(), file.uses, target, ok)
        else {
            return (None, step_ref);
        };
        let spec = file.spec(uses, With::default());
        target.needs = step_ref.needs.iter().map(|n| n.0.clone()).collect();
        (
            Some(StepSpec {
                id,
                kind: uses.kind(),
                condition: spec.condition,
                timeout: spec.timeout.or(defaults.timeout),
                continue_on_error: spec.continue_on_error,
                retries: spec.retries,
                policy: spec.outcome_policy(defaults.policy),
                poll_history: spec.poll.and_then(|p| p.history),
                ..target
            }),
            step_ref,
        )
    }

    /// The object and where it is, from `with` as read (at `node`) and the defaults; the
    /// rest of the returned spec is filled in by the step.
    fn with(
        &mut self,
        with: &With,
        node: &Node,
        path: &str,
        uses: Option<Uses>,
        defaults: &Defaults,
    ) -> Option<StepSpec> {
        let given = |key: &str| node.get(key).is_some();
        let object = match (node.get("id"), &with.name, given("name")) {
            (Some(_), _, true) => {
                let key = key_node(node, "name").unwrap_or(node);
                self.error(key, path, format::ID_AND_NAME);
                None
            }
            (None, _, false) => {
                self.error(node, path, format::NO_ID_OR_NAME);
                None
            }
            (Some(n), _, false) => self
                .object_id(n, &format!("{path}.id"), uses)
                .map(ObjectRef::Id),
            (None, name, true) => name.clone().map(ObjectRef::Name),
        };
        let workspace = match given("workspace") {
            true => with.workspace.clone(),
            false => defaults.workspace.clone().unwrap_or_else(|| {
                self.error(
                    node,
                    path,
                    "no workspace: set `with.workspace` or `defaults.workspace`",
                );
                None
            }),
        };
        let model = match given("model") {
            true => with.model.clone(),
            false => defaults.model.clone().unwrap_or_else(|| {
                self.error(node, path, "no model: set `with.model` or `defaults.model`");
                None
            }),
        };
        let locale = match given("locale") {
            true => with.locale.clone(),
            false => Some(
                defaults
                    .locale
                    .clone()
                    .unwrap_or_else(|| DEFAULT_LOCALE.to_owned()),
            ),
        };
        let mapping_parameters = match (node.get("mapping_parameters"), uses) {
            (None, _) => Some(Vec::new()),
            (Some(_), Some(uses)) if !uses.kind().accepts_mapping_parameters() => {
                let key = key_node(node, "mapping_parameters").unwrap_or(node);
                self.error(key, path, format::mapping_parameters_message(uses));
                None
            }
            (Some(n), _) if !matches!(n.value, Value::Seq(_)) => {
                self.error(
                    n,
                    &format!("{path}.mapping_parameters"),
                    format!(
                        "expected a list of {{ entity_type, entity_name }}, found {}",
                        n.describe()
                    ),
                );
                None
            }
            (Some(_), _) => Some(
                with.mapping_parameters
                    .iter()
                    .cloned()
                    .map(Into::into)
                    .collect(),
            ),
        };
        Some(StepSpec {
            id: String::new(),
            kind: uses?.kind(),
            workspace: workspace?,
            model: model?,
            object: object?,
            locale: locale?,
            mapping_parameters: mapping_parameters?,
            needs: Vec::new(),
            condition: Default::default(),
            timeout: None,
            continue_on_error: false,
            retries: 0,
            policy: Default::default(),
            poll_history: None,
        })
    }

    /// 12 digits with the prefix of the step's kind, in one decision with its form (one
    /// message either way); YAML integers are accepted.
    fn object_id(&mut self, node: &Node, path: &str, uses: Option<Uses>) -> Option<ObjectId> {
        let id = ObjectId::new(match &node.value {
            Value::Str { text, .. } => text.clone(),
            Value::Int(i) => i.to_string(),
            _ => String::new(),
        });
        match format::check_object_id(&id, uses, &|| node.describe()) {
            Ok(()) => Some(id),
            Err(problem) => {
                self.error(node, path, problem);
                None
            }
        }
    }

    /// `needs:` a step id or a list of them, with their nodes for later messages.
    pub(super) fn needs<'n>(&mut self, node: &'n Node, path: &str) -> Vec<(String, &'n Node)> {
        let items: Vec<&Node> = match &node.value {
            Value::Str { .. } => vec![node],
            Value::Seq(items) => items.iter().collect(),
            _ => {
                self.error(
                    node,
                    path,
                    format!(
                        "expected a step id or a list of step ids, found {}",
                        node.describe()
                    ),
                );
                return Vec::new();
            }
        };
        let mut out: Vec<(String, &Node)> = Vec::new();
        for item in items {
            let id = match item.as_str() {
                Some("") => {
                    self.error(item, path, "expected a non-empty string");
                    continue;
                }
                Some(id) => id,
                None => {
                    let found = item.describe();
                    self.error(item, path, format!("expected a string, found {found}"));
                    continue;
                }
            };
            if !out.iter().any(|(seen, _)| seen == id) {
                out.push((id.to_owned(), item));
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "steps_tests.rs"]
mod tests;

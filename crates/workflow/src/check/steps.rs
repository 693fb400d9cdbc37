//! `steps:`: each step's keys and values, the id prefix against `uses`.

use runwait_anaplan::MappingParameter;
use runwait_core::{ModelId, ObjectId, WorkspaceId};

use super::{Checker, DEFAULT_LOCALE, Defaults, StepRef, choices};
use crate::format::{self, CONDITIONS, Condition, ConditionName, Uses, fields_of};
use crate::model::{ObjectRef, StepSpec};
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
        let mut specs = Vec::new();
        let mut refs = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("steps[{i}]");
            let (spec, step_ref) = self.step(item, &path, defaults);
            specs.push(spec);
            refs.push(step_ref);
        }
        self.check_needs(&refs);
        specs.into_iter().collect()
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
        let step_keys: Vec<&str> = std::iter::once("id")
            .chain(fields_of::<format::StepSpec>().iter().copied())
            .collect();
        let Some(f) = self.fields(node, path, "a step", &step_keys) else {
            return (None, step_ref);
        };
        let id = self.required(&f, "id").and_then(|n| {
            let id = self.text(n, &f.path("id"))?;
            if id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                step_ref.id = Some((id.clone(), n));
                Some(id)
            } else {
                self.error(
                    n,
                    &f.path("id"),
                    format!(
                        "`{}` is not a step id: expected letters, digits, `_` and `-`",
                        id.escape_debug()
                    ),
                );
                None
            }
        });
        let uses = self.required(&f, "uses").and_then(|n| {
            let choices = choices::<Uses, _>(&Uses::ALL);
            self.choice(n, &f.path("uses"), &choices)
        });
        let target = match self.required(&f, "with") {
            Some(n) => self.with(n, &f.path("with"), uses, defaults),
            None => None,
        };
        if let Some(n) = f.get("needs") {
            step_ref.needs = self.needs(n, &f.path("needs"));
        }
        let condition = match f.get("if") {
            Some(n) => self.choice(n, &f.path("if"), &choices::<ConditionName, _>(&CONDITIONS)),
            None => Some(Condition::Success),
        };
        let timeout = match f.get("timeout") {
            Some(n) => self.duration(n, &f.path("timeout")).map(Some),
            None => Some(defaults.timeout),
        };
        let continue_on_error = match f.get("continue_on_error") {
            Some(n) => self.boolean(n, &f.path("continue_on_error")),
            None => Some(false),
        };
        let retries = match f.get("retries") {
            Some(n) => self.integer(n, &f.path("retries"), 0),
            None => Some(0),
        };
        let policy = self.policy(&f, defaults.policy);
        let spec = (|| {
            let target = target?;
            Some(StepSpec {
                id: id?,
                kind: uses?.kind(),
                workspace: target.workspace,
                model: target.model,
                object: target.object,
                locale: target.locale,
                mapping_parameters: target.mapping_parameters,
                needs: step_ref.needs.iter().map(|n| n.0.clone()).collect(),
                condition: condition?,
                timeout: timeout?,
                continue_on_error: continue_on_error?,
                retries: retries?,
                policy: policy?,
            })
        })();
        (spec, step_ref)
    }

    fn with(
        &mut self,
        node: &Node,
        path: &str,
        uses: Option<Uses>,
        defaults: &Defaults,
    ) -> Option<Target> {
        let f = self.fields(node, path, "the object to run", fields_of::<format::With>())?;
        let object = match (f.get("id"), f.get("name")) {
            (Some(_), Some(_)) => {
                let key = f.key("name").unwrap_or(node);
                self.error(key, path, format::ID_AND_NAME);
                None
            }
            (None, None) => {
                self.error(node, path, format::NO_ID_OR_NAME);
                None
            }
            (Some(n), None) => self.object_id(n, &f.path("id"), uses).map(ObjectRef::Id),
            (None, Some(n)) => self.text(n, &f.path("name")).map(ObjectRef::Name),
        };
        let workspace = match f.get("workspace") {
            Some(n) => self.workspace_id(n, &f.path("workspace")),
            None => defaults.workspace.clone().unwrap_or_else(|| {
                self.error(
                    node,
                    path,
                    "no workspace: set `with.workspace` or `defaults.workspace`",
                );
                None
            }),
        };
        let model = match f.get("model") {
            Some(n) => self.model_id(n, &f.path("model")),
            None => defaults.model.clone().unwrap_or_else(|| {
                self.error(node, path, "no model: set `with.model` or `defaults.model`");
                None
            }),
        };
        let locale = match f.get("locale") {
            Some(n) => self.text(n, &f.path("locale")),
            None => Some(
                defaults
                    .locale
                    .clone()
                    .unwrap_or_else(|| DEFAULT_LOCALE.to_owned()),
            ),
        };
        let mapping_parameters = match (f.get("mapping_parameters"), uses) {
            (None, _) => Some(Vec::new()),
            (Some(_), Some(uses)) if !uses.kind().accepts_mapping_parameters() => {
                let key = f.key("mapping_parameters").unwrap_or(node);
                self.error(key, path, format::mapping_parameters_message(uses));
                None
            }
            (Some(n), _) => self.mapping_parameters(n, &f.path("mapping_parameters")),
        };
        Some(Target {
            workspace: workspace?,
            model: model?,
            object: object?,
            locale: locale?,
            mapping_parameters: mapping_parameters?,
        })
    }

    /// 12 digits with the prefix of the step's kind; YAML integers are accepted.
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

    fn mapping_parameters(&mut self, node: &Node, path: &str) -> Option<Vec<MappingParameter>> {
        let Value::Seq(items) = &node.value else {
            self.error(
                node,
                path,
                format!(
                    "expected a list of {{ entity_type, entity_name }}, found {}",
                    node.describe()
                ),
            );
            return None;
        };
        let mut out = Some(Vec::new());
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let parameter = self
                .fields(
                    item,
                    &p,
                    "a mapping parameter",
                    fields_of::<format::MappingParameterSpec>(),
                )
                .and_then(|f| {
                    let entity_type = self
                        .required(&f, "entity_type")
                        .and_then(|n| self.text(n, &f.path("entity_type")));
                    let entity_name = self
                        .required(&f, "entity_name")
                        .and_then(|n| self.text(n, &f.path("entity_name")));
                    Some(MappingParameter {
                        entity_type: entity_type?,
                        entity_name: entity_name?,
                    })
                });
            match (parameter, out.as_mut()) {
                (Some(p), Some(list)) => list.push(p),
                _ => out = None,
            }
        }
        out
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
            if let Some(id) = self.text(item, path)
                && !out.iter().any(|(seen, _)| *seen == id)
            {
                out.push((id, item));
            }
        }
        out
    }
}

/// What `with:` resolves to, with the defaults applied.
struct Target {
    workspace: WorkspaceId,
    model: ModelId,
    object: ObjectRef,
    locale: String,
    mapping_parameters: Vec<MappingParameter>,
}

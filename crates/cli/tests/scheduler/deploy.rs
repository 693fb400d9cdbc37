//! The definitions in `deploy/` run as their schedulers would run them: the runwait
//! container's command, arguments and environment read from the Argo and Kubernetes YAML
//! (template parameters filled in, Secrets and field references given test values, the
//! ConfigMap's connection file pointed at a `runwait sim`), the Airflow DAGs' command lines
//! read from their Python, each run with the built binary under a directory standing for
//! the pod's file system. So the definitions cannot drift from the CLI.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::common::Sim;

/// The Secret's password the test gives the pods, and the simulator's user takes.
const PASSWORD: &str = "s3cret-for-tests";

fn deploy(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path)
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(deploy(path)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map_or_else(Vec::new, |a| a.iter().map(text).collect())
}

/// `text` with each `{{ name }}` replaced by `values[name]`; an unknown name fails the
/// test, so a new placeholder in a definition gets a value here.
fn render(text: &str, values: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..].find("}}").map(|e| start + e).unwrap();
        let name = rest[start + 2..end].trim();
        let value = values
            .get(name)
            .unwrap_or_else(|| panic!("no test value for `{{{{{name}}}}}` in {text:?}"));
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The runwait container of a pod spec.
fn runwait_container(pod: &Value) -> &Value {
    pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["image"].as_str().unwrap().contains("runwait"))
        .unwrap()
}

/// How a definition runs `runwait`: the arguments and environment, with the container's
/// paths still as in the pod.
struct Invocation {
    what: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Where the pod mounts volumes: the paths the arguments may write to.
    mounts: Option<Vec<String>>,
    run_key: String,
    step_id: String,
}

/// The container's invocation, its `{{…}}` filled from `values`, its environment from
/// plain values, the Secret `runwait-anaplan` and field references (`fields`).
fn invocation(
    what: &str,
    container: &Value,
    values: &HashMap<String, String>,
    fields: &HashMap<&str, &str>,
) -> (Vec<String>, Vec<(String, String)>, Vec<String>) {
    assert_eq!(strings(&container["command"]), ["runwait"], "{what}");
    let args = strings(&container["args"])
        .iter()
        .map(|a| render(a, values))
        .collect();
    let env = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = text(&e["name"]);
            let value = if let Some(v) = e.get("value") {
                render(&text(v), values)
            } else if let Some(secret) = e["valueFrom"].get("secretKeyRef") {
                assert_eq!(secret["name"], "runwait-anaplan", "{what}");
                assert_eq!(secret["key"], "password", "{what}");
                PASSWORD.to_owned()
            } else {
                let path = e["valueFrom"]["fieldRef"]["fieldPath"].as_str().unwrap();
                fields[path].to_owned()
            };
            (name, value)
        })
        .collect();
    let mounts = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| text(&m["mountPath"]))
        .collect();
    (args, env, mounts)
}

fn argo() -> Vec<Invocation> {
    let template = yaml("argo/workflowtemplate.yaml");
    let templates = template["spec"]["templates"].as_array().unwrap();
    let anaplan = templates.iter().find(|t| t["name"] == "anaplan").unwrap();
    let dag = templates.iter().find(|t| t["name"] == "nightly").unwrap();
    let mut invocations = Vec::new();
    for task in dag["dag"]["tasks"].as_array().unwrap() {
        let mut values = HashMap::from([("workflow.uid".to_owned(), "uid-1234".to_owned())]);
        let inputs = anaplan["inputs"]["parameters"].as_array().unwrap();
        let arguments = task["arguments"]["parameters"].as_array().unwrap();
        for p in inputs.iter().chain(arguments) {
            if let Some(v) = p.get("value") {
                values.insert(format!("inputs.parameters.{}", text(&p["name"])), text(v));
            }
        }
        let (args, env, mounts) =
            invocation("argo", &anaplan["container"], &values, &HashMap::new());
        let step_id = step_id(
            &values["inputs.parameters.uses"],
            &values["inputs.parameters.id"],
        );
        invocations.push(Invocation {
            what: format!("argo task {}", task["name"]),
            args,
            env,
            mounts: Some(mounts),
            run_key: "uid-1234".to_owned(),
            step_id,
        });
    }
    // The output parameter is the summary file the container writes.
    let output = &anaplan["outputs"]["parameters"][0]["valueFrom"]["path"];
    for i in &invocations {
        assert!(i.args.contains(&text(output)), "{}: {output}", i.what);
    }
    invocations
}

fn step_id(uses: &str, id: &str) -> String {
    format!("{}-{id}", uses.trim_start_matches("anaplan/"))
}

/// The Job and the CronJob: their pods' runwait container.
fn kubernetes() -> Vec<Invocation> {
    let job = yaml("kubernetes/job.yaml");
    let cron = yaml("kubernetes/cronjob.yaml");
    let pods = [
        ("job", &job["spec"]["template"]["spec"]),
        (
            "cronjob",
            &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        ),
    ];
    pods.into_iter()
        .map(|(what, pod)| {
            let job_name = format!("runwait-{what}-29000000");
            let fields = HashMap::from([(
                "metadata.labels['batch.kubernetes.io/job-name']",
                job_name.as_str(),
            )]);
            let (args, env, mounts) =
                invocation(what, runwait_container(pod), &HashMap::new(), &fields);
            Invocation {
                what: what.to_owned(),
                step_id: step_id(&args[1], &args[3]),
                args,
                env,
                mounts: Some(mounts),
                run_key: job_name.clone(),
            }
        })
        .collect()
}

/// The top-level constants of a DAG file, read by Python itself (Airflow need not be
/// installed): the file must also compile.
fn python_constants(file: &str) -> Value {
    let path = deploy(file);
    let compiled = Command::new("python3")
        .args(["-m", "py_compile"])
        .arg(&path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env(
            "PYTHONPYCACHEPREFIX",
            std::env::temp_dir().join("runwait-pycache"),
        )
        .status()
        .unwrap();
    assert!(compiled.success(), "{file} does not compile");
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import ast, json, sys\n\
             out = {}\n\
             for node in ast.parse(open(sys.argv[1]).read()).body:\n\
             \x20   if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):\n\
             \x20       try: out[node.targets[0].id] = ast.literal_eval(node.value)\n\
             \x20       except ValueError: pass\n\
             print(json.dumps(out))",
        )
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Airflow's template values of the DAGs.
fn airflow_values() -> HashMap<String, String> {
    HashMap::from([
        (
            "run_id".to_owned(),
            "scheduled__2026-11-28T02:00:00+00:00".to_owned(),
        ),
        (
            "run_id | replace(':', '_')".to_owned(),
            "scheduled__2026-11-28T02_00_00+00_00".to_owned(),
        ),
        ("task.task_id".to_owned(), "load_actuals".to_owned()),
    ])
}

/// The KubernetesPodOperator DAG: its `cmds` are `runwait`, its arguments and templated
/// environment are constants.
fn airflow_pod() -> Invocation {
    let constants = python_constants("airflow/runwait_kubernetes_pod.py");
    let values = airflow_values();
    let args: Vec<String> = strings(&constants["RUNWAIT_ARGS"]);
    let mut env: Vec<(String, String)> = constants["RUNWAIT_ENV"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), render(&text(v), &values)))
        .collect();
    env.push(("ANAPLAN_PASSWORD".to_owned(), PASSWORD.to_owned()));
    Invocation {
        what: "airflow pod".to_owned(),
        step_id: step_id(&args[1], &args[3]),
        args,
        env,
        mounts: None,
        run_key: values["run_id"].clone(),
    }
}

/// The pod's file system under `root`: the paths of the arguments moved there, the
/// ConfigMap's connection file at its mount, pointed at the simulator.
fn pod_root(root: &Path, invocation: &Invocation, connection: &Value) -> Vec<String> {
    let args: Vec<String> = invocation
        .args
        .iter()
        .map(|a| {
            if !a.starts_with('/') {
                return a.clone();
            }
            if let Some(mounts) = &invocation.mounts {
                assert!(
                    mounts.iter().any(|m| Path::new(a).starts_with(m)),
                    "{}: {a} is on no volume of the pod",
                    invocation.what
                );
            }
            format!("{}{a}", root.display())
        })
        .collect();
    let at = args.iter().position(|a| a == "--connection").unwrap() + 1;
    write_connection(Path::new(&args[at]), connection);
    args
}

fn write_connection(path: &Path, connection: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, connection.to_string()).unwrap();
}

/// The ConfigMap's connection file, its tenant replaced by the simulator, and the
/// simulator's scenario: the file's user and the test's password, its workspace and
/// model, with the objects the definitions run.
fn connection(sim_addr: Option<&str>) -> (Value, String) {
    let config_map = yaml("kubernetes/connection.yaml");
    let text = config_map["data"]["connection.yaml"].as_str().unwrap();
    let mut file: Value = serde_saphyr::from_str(text).unwrap();
    let connection = file["connection"].as_object_mut().unwrap();
    assert!(connection.remove("region").is_some(), "{text}");
    if let Some(addr) = sim_addr {
        connection.insert("api_url".to_owned(), json!(format!("http://{addr}/2/0")));
        connection.insert("auth_url".to_owned(), json!(format!("http://{addr}")));
    }
    let user = file["connection"]["auth"]["user"].as_str().unwrap();
    let (workspace, model) = (&file["defaults"]["workspace"], &file["defaults"]["model"]);
    let scenario = format!(
        "users: [{{ name: {user}, password: {PASSWORD} }}]\n\
         workspaces:\n\
         \x20 - id: {workspace}\n    name: W\n    models:\n\
         \x20     - id: {model}\n        name: M\n\
         \x20       imports: [{{ id: \"112000000001\", name: Actuals, duration: 20s }}]\n\
         \x20       exports: [{{ id: \"116000000001\", name: Revenue, duration: 10s }}]\n\
         \x20       processes: [{{ id: \"118000000001\", name: Load, actions: [\"112000000001\", \"116000000001\"] }}]\n"
    );
    (file, scenario)
}

fn summary_of(child: Child, file: &Path, what: &str) -> (Value, String) {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{what}: {e}"));
    (serde_json::from_str(&summary).unwrap(), stdout)
}

fn assert_succeeded(summary: &Value, run_key: &str, step_id: &str, what: &str) {
    assert_eq!(summary["outcome"], "succeeded", "{what}: {summary}");
    assert_eq!(summary["run_key"], run_key, "{what}");
    assert_eq!(
        summary["workflow"], "nightly",
        "{what}: the connection file's name"
    );
    assert_eq!(summary["steps"][0]["id"], step_id, "{what}");
    assert_eq!(
        summary["steps"][0]["task_id"].as_str().unwrap().len(),
        32,
        "{what}"
    );
}

#[test]
fn the_definitions_run_against_the_simulator() {
    let (_, scenario) = connection(None);
    let dir = tempfile::tempdir().unwrap();
    let scenario_file = dir.path().join("scenario.yaml");
    std::fs::write(&scenario_file, scenario).unwrap();
    let sim = Sim::start("100", Some(&scenario_file));
    let (connection, _) = connection(Some(&sim.addr));

    let invocations: Vec<Invocation> = argo()
        .into_iter()
        .chain(kubernetes())
        .chain([airflow_pod()])
        .collect();
    let runs: Vec<_> = invocations
        .iter()
        .enumerate()
        .map(|(i, invocation)| {
            let root = dir.path().join(format!("pod{i}"));
            let args = pod_root(&root, invocation, &connection);
            let summary =
                PathBuf::from(&args[args.iter().position(|a| a == "--summary-file").unwrap() + 1]);
            let child = Command::new(env!("CARGO_BIN_EXE_runwait"))
                .args(&args)
                .env_clear()
                .envs(invocation.env.iter().cloned())
                .current_dir(dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (child, summary)
        })
        .collect();
    let bash = airflow_bash(dir.path(), &connection);
    for (invocation, (child, summary)) in invocations.iter().zip(runs) {
        let (summary, _) = summary_of(child, &summary, &invocation.what);
        assert_succeeded(
            &summary,
            &invocation.run_key,
            &invocation.step_id,
            &invocation.what,
        );
    }
    let (child, summary) = bash;
    let (summary, stdout) = summary_of(child, &summary, "airflow bash");
    assert_succeeded(
        &summary,
        &airflow_values()["run_id"],
        "process-118000000001",
        "airflow bash",
    );
    let xcom: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        xcom, summary,
        "the last line, BashOperator's XCom, is the summary"
    );
    let starts = sim.starts();
    assert_eq!(starts, invocations.len() + 1, "one task per definition");
}

/// The BashOperator DAG's command, run by `sh` with `runwait` on the PATH and the DAG's
/// environment (its `RUNWAIT_HOME` under `dir`); the child and its summary file.
fn airflow_bash(dir: &Path, connection: &Value) -> (Child, PathBuf) {
    let constants = python_constants("airflow/runwait_bash.py");
    let values = airflow_values();
    let script = render(constants["RUNWAIT_BASH"].as_str().unwrap(), &values);
    let home = dir.join("airflow-worker");
    write_connection(&home.join("connection.yaml"), connection);
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_runwait"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env_clear()
        .env("PATH", path)
        .env("RUNWAIT_HOME", &home)
        .env("ANAPLAN_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let summary = home.join(format!(
        "summaries/{}-load_actuals.json",
        values["run_id | replace(':', '_')"]
    ));
    (child, summary)
}

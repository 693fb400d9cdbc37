"""runwait in Airflow on Kubernetes: one Anaplan process per task, as a pod.

The run key is Airflow's run id, the same for every try of a task in one DAG run: a retry
(after a pod kill, a worker loss or a lost connection to Anaplan) reattaches to the task
its earlier try started instead of starting a second one. The JSON summary is the task's
XCom: runwait writes it to /airflow/xcom/return.json, which `do_xcom_push` reads.

Needs the ConfigMap `runwait-connection`, the Secret `runwait-anaplan` and the claim
`runwait-state` of deploy/kubernetes/.
"""

from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.secret import Secret
from kubernetes.client import models as k8s

# The container's command line (the test in crates/cli/tests/scheduler/ runs it).
RUNWAIT_ARGS = [
    "exec",
    "anaplan/process",
    "--id",
    "118000000001",
    "--timeout",
    "2h",
    "--connection",
    "/etc/runwait/connection.yaml",
    "--state-dir",
    "/var/lib/runwait/state",
    "--out-dir",
    "/var/lib/runwait/out",
    "--summary-file",
    "/airflow/xcom/return.json",
]

# Templated by Airflow: one run key per DAG run.
RUNWAIT_ENV = {"RUNWAIT_RUN_KEY": "{{ run_id }}"}

with DAG(
    dag_id="runwait_nightly_load",
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
) as dag:
    KubernetesPodOperator(
        task_id="load_actuals",
        name="runwait-load-actuals",
        image="ghcr.io/runwait/runwait:0.1.0",
        cmds=["runwait"],
        arguments=RUNWAIT_ARGS,
        env_vars=RUNWAIT_ENV,
        secrets=[Secret("env", "ANAPLAN_PASSWORD", "runwait-anaplan", "password")],
        volumes=[
            k8s.V1Volume(
                name="connection",
                config_map=k8s.V1ConfigMapVolumeSource(name="runwait-connection"),
            ),
            k8s.V1Volume(
                name="state",
                persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
                    claim_name="runwait-state"
                ),
            ),
        ],
        volume_mounts=[
            k8s.V1VolumeMount(name="connection", mount_path="/etc/runwait", read_only=True),
            k8s.V1VolumeMount(name="state", mount_path="/var/lib/runwait"),
        ],
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True, run_as_user=65532, run_as_group=65532, fs_group=65532
        ),
        # SIGTERM detaches at once; 30s is for the summary and the trace flush.
        termination_grace_period=30,
        do_xcom_push=True,
        # Only exit codes 4 (detached: the pod was deleted), 5 (Anaplan unreachable) and
        # a killed pod are worth a retry; 1, 2 and 3 end the same way again (see README).
        retries=3,
        retry_delay=timedelta(minutes=1),
        # Longer than runwait's own --timeout: runwait cancels the Anaplan task at its
        # deadline; Airflow's would only delete the pod and leave the task running.
        execution_timeout=timedelta(hours=3),
    )

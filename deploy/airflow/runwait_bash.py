"""runwait in Airflow without Kubernetes: the `runwait` binary installed on the workers.

The run key is Airflow's run id, the same for every try of a task in one DAG run, so a
retry reattaches to the Anaplan task its earlier try started. The XCom is the JSON
summary, compacted to the one last line BashOperator pushes. The connection file's
password comes from ANAPLAN_PASSWORD in the worker's environment (or use `{ file: … }`).
"""

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

# Templated by Airflow; exit code of runwait kept (the test in crates/cli/tests/scheduler/
# runs this command against the simulator).
RUNWAIT_BASH = """
set -u
summary="$RUNWAIT_HOME/summaries/{{ run_id | replace(':', '_') }}-{{ task.task_id }}.json"
RUNWAIT_RUN_KEY='{{ run_id }}' runwait exec anaplan/process --id 118000000001 --timeout 2h \
    --connection "$RUNWAIT_HOME/connection.yaml" \
    --state-dir "$RUNWAIT_HOME/state" --out-dir "$RUNWAIT_HOME/out" \
    --summary-file "$summary"
code=$?
if [ -f "$summary" ]; then
    python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$summary"
fi
exit $code
"""

with DAG(
    dag_id="runwait_nightly_load_bash",
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
) as dag:
    BashOperator(
        task_id="load_actuals",
        bash_command=RUNWAIT_BASH,
        env={"RUNWAIT_HOME": "/var/lib/runwait"},
        append_env=True,
        do_xcom_push=True,
        retries=3,
        retry_delay=timedelta(minutes=1),
        execution_timeout=timedelta(hours=3),
    )

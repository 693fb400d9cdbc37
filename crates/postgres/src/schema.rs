//! The schema, created and migrated by runwait itself: `runwait_schema` holds the version
//! reached; each migration runs once, in order, in one transaction, under an advisory
//! lock so processes starting together do not race.

use tokio_postgres::Client;

/// The migrations, in order: migration `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: step records, leases, history, tenant budgets.
    "
    CREATE TABLE runwait_step_record (
        workflow   text        NOT NULL,
        step_id    text        NOT NULL,
        run_key    text        NOT NULL,
        record     jsonb       NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workflow, step_id, run_key)
    );
    CREATE TABLE runwait_lease (
        workflow   text        NOT NULL,
        step_id    text        NOT NULL,
        run_key    text        NOT NULL,
        holder     text        NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (workflow, step_id, run_key)
    );
    CREATE TABLE runwait_history (
        id         bigserial   PRIMARY KEY,
        workflow   text        NOT NULL,
        target     jsonb       NOT NULL,
        ended_at   timestamptz NOT NULL,
        entry      jsonb       NOT NULL
    );
    CREATE INDEX runwait_history_target ON runwait_history (target, id DESC);
    CREATE INDEX runwait_history_workflow ON runwait_history (workflow, id DESC);
    CREATE TABLE runwait_budget (
        tenant     text        PRIMARY KEY,
        next_slot  timestamptz NOT NULL
    );
    ",
];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Arbitrary, fixed ("runwait" in ASCII): the advisory lock of runwait's migrations.
const MIGRATION_LOCK: i64 = 0x0072_756e_7761_6974;

/// A schema too new for this build, or a failed migration.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SchemaError {
    #[error(
        "the database's runwait schema is version {found}, newer than this runwait's {SCHEMA_VERSION}; upgrade runwait"
    )]
    TooNew { found: i32 },
    #[error("migrating the runwait schema: {0}")]
    Db(#[from] tokio_postgres::Error),
}

/// Brings the schema to [`SCHEMA_VERSION`]; returns the version found before.
pub(crate) async fn migrate(client: &mut Client) -> Result<i32, SchemaError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS runwait_schema (
            version    integer     PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let found: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM runwait_schema", &[])
        .await?
        .get(0);
    if found > SCHEMA_VERSION {
        return Err(SchemaError::TooNew { found });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql).await?;
        let version = i as i32 + 1;
        tx.execute(
            "INSERT INTO runwait_schema (version) VALUES ($1)",
            &[&version],
        )
        .await?;
        tracing::info!(version, "runwait schema migrated");
    }
    tx.commit().await?;
    Ok(found)
}

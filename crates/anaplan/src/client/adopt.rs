//! Which task a start whose answer was lost (or whose run crashed) created: the choice
//! among the object's tasks, made so that a stranger's task is never taken for ours.
//!
//! A schedule or another user may start the same object at any time, and the task list
//! shows every user's tasks. A task is ours only if it was not there before the attempt,
//! was created after the attempt began (less [`CLOCK_SKEW_MARGIN`]), and, when the
//! listing names who started it, was started by this client's user. One such task is
//! adopted; none means the start created nothing; several, or one that cannot be told
//! apart from a stranger's, stop with [`Error::Adoption`]: adopting the wrong task would
//! report someone else's run, and starting again could run the action twice.

use std::time::Duration;

use reqwest::Method;
use runwait_core::{EpochMillis, KnownTasks, TaskSummary, TaskTarget};

use super::segments;
use crate::{Client, Error};

/// How far Anaplan's clock (which stamps `creationTime`) may be behind ours (which
/// stamps the attempt's beginning). Two minutes covers a host whose clock is well off
/// (NTP keeps them within a second), and admits no stranger the known list does not
/// already hold: a task created in those two minutes before the list was taken is in it.
pub const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(120);

/// What the tasks beyond the known ones say.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Choice {
    /// No task can be ours: the start created none (yet).
    Nothing,
    /// This one is ours.
    Adopt(TaskSummary),
    /// None can safely be taken for ours: why, for the user.
    Unsafe(String),
}

/// Chooses among `fresh` (the tasks not known before, newest first) for an attempt that
/// began at `began` (by our clock), as user `me` when known. Pure.
pub(crate) fn choose(
    target: &TaskTarget,
    fresh: Vec<TaskSummary>,
    began: Option<EpochMillis>,
    me: Option<&str>,
) -> Choice {
    let margin = u64::try_from(CLOCK_SKEW_MARGIN.as_millis()).unwrap_or(u64::MAX);
    let earliest = began.map(|b| EpochMillis(b.0.saturating_sub(margin)));
    let mut mine = Vec::new();
    let mut unsure = false;
    for task in fresh {
        let too_old = matches!((earliest, task.creation_time), (Some(e), Some(t)) if t < e);
        let strangers = matches!((me, task.user_id.as_deref()), (Some(m), Some(u)) if m != u);
        if too_old || strangers {
            tracing::info!(task_id = %task.task_id, too_old, strangers, "not adopting a task another user, a schedule or an earlier run started");
            continue;
        }
        // A time or a user the listing leaves out cannot prove the task is ours.
        unsure |= (earliest.is_some() && task.creation_time.is_none())
            || (task.user_id.is_some() && me.is_none());
        mine.push(task);
    }
    match mine.as_slice() {
        [] => Choice::Nothing,
        [one] if !unsure => Choice::Adopt(one.clone()),
        _ => {
            let listed: Vec<String> = mine
                .iter()
                .map(|t| {
                    let at = t.creation_time.map_or("no creation time".to_owned(), |c| {
                        format!("created {}", c.0)
                    });
                    let by = t.user_id.as_deref().unwrap_or("user not listed");
                    format!("{} ({at}, {by})", t.task_id)
                })
                .collect();
            Choice::Unsafe(format!(
                "cannot tell which task the lost start of {} {} created: {} task(s) appeared since the attempt began and none can be told apart from one a schedule or another user started: {}. Not adopting a task that may be someone else's, and not starting again (that could run it twice): check the object's tasks in Anaplan, then run again",
                target.kind,
                target.object,
                mine.len(),
                listed.join(", ")
            ))
        }
    }
}

impl Client {
    /// The task of `target` that a start whose reply never arrived (or whose run
    /// crashed) created: not in `known`, created after the attempt began (less
    /// [`CLOCK_SKEW_MARGIN`]), and started by this client's user when the listing says
    /// who started it. `None` when there is no such task; [`Error::Adoption`] when tasks
    /// appeared but none can safely be taken for ours.
    pub async fn adopt_new(
        &self,
        target: &TaskTarget,
        known: &KnownTasks,
    ) -> Result<Option<TaskSummary>, Error> {
        let fresh: Vec<TaskSummary> = self
            .list_tasks(target)
            .await?
            .into_iter()
            .filter(|t| !known.contains(&t.task_id))
            .collect();
        let me = if fresh.iter().any(|t| t.user_id.is_some()) {
            Some(self.my_user_id().await?)
        } else {
            None
        };
        match choose(target, fresh, known.began(), me.as_deref()) {
            Choice::Nothing => Ok(None),
            Choice::Adopt(task) => Ok(Some(task)),
            Choice::Unsafe(message) => Err(Error::Adoption { message }),
        }
    }

    /// The id of the user this client acts as (`GET /users/me`), asked once.
    async fn my_user_id(&self) -> Result<String, Error> {
        #[derive(serde::Deserialize)]
        struct Me {
            user: User,
        }
        #[derive(serde::Deserialize)]
        struct User {
            id: String,
        }
        self.inner
            .me
            .get_or_try_init(|| async {
                let req = self.request(Method::GET, &["users", "me"], &[]);
                let me: Me = self.get(&req, None, runwait_core::wire::parse_json).await?;
                Ok(me.user.id)
            })
            .await
            .cloned()
    }
}

/// The path of `target`'s task list.
pub(super) fn tasks_path(target: &TaskTarget) -> Vec<&str> {
    segments(target, &["tasks"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use runwait_core::{TaskId, TaskKind, TaskState};

    fn target() -> TaskTarget {
        TaskTarget::new(
            "8a81b09d5e8c6f27015ece3402487d33",
            "F7177FD218234A66B0FBA94F3DC9D014",
            TaskKind::Process,
            "118000000001",
        )
    }

    fn task(id: &str, at: Option<u64>, user: Option<&str>) -> TaskSummary {
        TaskSummary {
            task_id: TaskId::new(id),
            task_state: TaskState::InProgress,
            creation_time: at.map(EpochMillis),
            user_id: user.map(str::to_owned),
        }
    }

    const BEGAN: u64 = 1_000_000_000;

    fn choice(fresh: Vec<TaskSummary>, me: Option<&str>) -> Choice {
        choose(&target(), fresh, Some(EpochMillis(BEGAN)), me)
    }

    #[test]
    fn one_task_created_since_the_attempt_is_adopted() {
        let ours = task("A", Some(BEGAN + 500), None);
        assert_eq!(choice(vec![ours.clone()], None), Choice::Adopt(ours));
        assert_eq!(choice(vec![], None), Choice::Nothing);
    }

    #[test]
    fn a_clock_behind_by_less_than_the_margin_is_allowed() {
        let skewed = task("A", Some(BEGAN - 119_000), None);
        assert_eq!(choice(vec![skewed.clone()], None), Choice::Adopt(skewed));
        let older = task("B", Some(BEGAN - 121_000), None);
        assert_eq!(
            choice(vec![older], None),
            Choice::Nothing,
            "created before the attempt"
        );
    }

    #[test]
    fn two_candidates_or_an_undated_one_are_never_adopted() {
        let two = vec![
            task("A", Some(BEGAN + 900), None),
            task("B", Some(BEGAN + 100), None),
        ];
        let Choice::Unsafe(message) = choice(two, None) else {
            panic!("two candidates")
        };
        assert!(
            message.contains("A (created") && message.contains("not starting again"),
            "{message}"
        );
        assert!(matches!(
            choice(vec![task("A", None, None)], None),
            Choice::Unsafe(_)
        ));
        // Without the attempt's time (a record of an earlier version), one task is enough.
        let old = task("A", None, None);
        assert_eq!(
            choose(&target(), vec![old.clone()], None, None),
            Choice::Adopt(old)
        );
    }

    #[test]
    fn another_users_task_is_left_alone_when_the_listing_says_who_started_it() {
        let theirs = task("T", Some(BEGAN + 900), Some("other"));
        let ours = task("O", Some(BEGAN + 100), Some("me"));
        assert_eq!(
            choice(vec![theirs.clone(), ours.clone()], Some("me")),
            Choice::Adopt(ours)
        );
        assert_eq!(choice(vec![theirs], Some("me")), Choice::Nothing);
    }
}

//! The status request of each task being waited on, built once: a wait polls the same
//! URL for hours, and building it (segments, a URL joined and encoded) cost a handful of
//! allocations on every poll. An entry goes when its task
//! is seen terminal (a cancelled one at the poll that sees it CANCELLED); a wait that
//! stops polling otherwise (detached, deadline) leaves its entry until [`MAX_ENTRIES`]
//! clears them all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use runwait_core::{TaskId, TaskTarget};

use crate::transport::ApiRequest;

/// More tasks than any process waits on at once: the cache is cleared when it has more.
const MAX_ENTRIES: usize = 65_536;

/// Status requests by task.
#[derive(Default)]
pub(crate) struct StatusRequests {
    by_task: Mutex<HashMap<TaskId, (TaskTarget, Arc<ApiRequest>)>>,
}

impl StatusRequests {
    fn map(&self) -> MutexGuard<'_, HashMap<TaskId, (TaskTarget, Arc<ApiRequest>)>> {
        self.by_task.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The request of `task` under `target`, built by `build` the first time.
    pub(crate) fn get(
        &self,
        target: &TaskTarget,
        task: &TaskId,
        build: impl FnOnce() -> ApiRequest,
    ) -> Arc<ApiRequest> {
        if let Some((cached_target, req)) = self.map().get(task)
            && cached_target == target
        {
            return req.clone();
        }
        let req = Arc::new(build());
        let mut map = self.map();
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(task.clone(), (target.clone(), req.clone()));
        req
    }

    /// Forgets `task`'s request (it was seen terminal).
    pub(crate) fn forget(&self, task: &TaskId) {
        self.map().remove(task);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use reqwest::Method;
    use runwait_core::TaskKind;
    use url::Url;

    use super::*;

    #[test]
    fn a_request_is_built_once_per_task_and_target_until_forgotten() {
        let cache = StatusRequests::default();
        let built = Cell::new(0);
        let build = || {
            built.set(built.get() + 1);
            ApiRequest::new(Method::GET, Url::parse("https://api.example/t").unwrap())
        };
        let a = TaskTarget::new("w", "m", TaskKind::Import, "112000000001");
        let b = TaskTarget::new("w", "m", TaskKind::Export, "116000000001");
        let task = TaskId::new("T1");
        // (target, forget first, builds so far)
        let steps = [
            (&a, false, 1),
            (&a, false, 1),
            (&b, false, 2),
            (&b, true, 3),
        ];
        for (i, (target, forget, builds)) in steps.into_iter().enumerate() {
            if forget {
                cache.forget(&task);
            }
            cache.get(target, &task, build);
            assert_eq!(built.get(), builds, "step {i}");
        }
    }
}

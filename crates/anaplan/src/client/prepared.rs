//! The status request of each task being waited on, built once: a wait polls the same
//! URL for hours, and building it (segments, a URL joined and encoded) cost a handful of
//! allocations on every poll. An entry goes when its task
//! is seen terminal (a cancelled one at the poll that sees it CANCELLED); a wait that
//! stops polling otherwise (detached, deadline) leaves its entry until [`MAX_ENTRIES`]
//! clears them all.
//!
//! An entry is the request alone, under a 64-bit hash of its target and task: each waiting
//! task keeps one, and a map slot holding the target and the task id beside it took
//! 112 bytes against 16 (about 100 bytes a wait with the map's spare slots). The key only
//! finds the entry; the request's own path is checked against the target and task before
//! it is used, so two tasks whose hashes meet never share a request.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};

use runwait_core::{TaskId, TaskTarget};
use url::Url;

use crate::transport::ApiRequest;

/// More tasks than any process waits on at once: the cache is cleared when it has more.
const MAX_ENTRIES: usize = 65_536;

/// Status requests by a hash of their target and task.
#[derive(Default)]
pub(crate) struct StatusRequests {
    keys: RandomState,
    by_task: Mutex<HashMap<u64, Arc<ApiRequest>>>,
}

impl StatusRequests {
    fn map(&self) -> MutexGuard<'_, HashMap<u64, Arc<ApiRequest>>> {
        self.by_task.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key(&self, target: &TaskTarget, task: &TaskId) -> u64 {
        self.keys.hash_one((target, task))
    }

    /// The request of `task` under `target`, whose URL path ends with `path` (the
    /// segments unencoded), built by `build` the first time.
    pub(crate) fn get(
        &self,
        target: &TaskTarget,
        task: &TaskId,
        path: &[&str],
        build: impl FnOnce() -> ApiRequest,
    ) -> Arc<ApiRequest> {
        let key = self.key(target, task);
        if let Some(req) = self.map().get(&key)
            && ends_with(&req.url, path)
        {
            return req.clone();
        }
        let req = Arc::new(build());
        let mut map = self.map();
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, req.clone());
        req
    }

    /// Forgets the request of `task` under `target` (it was seen terminal).
    pub(crate) fn forget(&self, target: &TaskTarget, task: &TaskId) {
        self.map().remove(&self.key(target, task));
    }
}

/// True when the last segments of `url`'s path, decoded, are `path`.
fn ends_with(url: &Url, path: &[&str]) -> bool {
    let Some(segments) = url.path_segments() else {
        return false;
    };
    let mut segments = segments.rev();
    path.iter().rev().all(|want| {
        segments
            .next()
            .is_some_and(|got| percent_encoding::percent_decode_str(got).eq(want.bytes()))
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use reqwest::Method;
    use runwait_core::TaskKind;

    use super::*;

    #[test]
    fn a_request_is_built_once_per_task_and_target_until_forgotten() {
        let cache = StatusRequests::default();
        let built = Cell::new(0);
        let a = TaskTarget::new("w", "m", TaskKind::Import, "112000000001");
        let b = TaskTarget::new("w", "m", TaskKind::Export, "116000000001");
        let task = TaskId::new("T1");
        // (target, forget first, builds so far)
        let steps = [
            (&a, false, 1),
            (&a, false, 1),
            (&b, false, 2),
            (&a, false, 2),
            (&b, true, 3),
        ];
        for (i, (target, forget, builds)) in steps.into_iter().enumerate() {
            if forget {
                cache.forget(target, &task);
            }
            let path = [target.object.as_str(), "tasks", task.as_str()];
            let req = cache.get(target, &task, &path, || {
                built.set(built.get() + 1);
                let url = format!("https://api.example/{}/tasks/T1", target.object);
                ApiRequest::new(Method::GET, Url::parse(&url).unwrap())
            });
            assert!(req.url.path().contains(target.object.as_str()), "step {i}");
            assert_eq!(built.get(), builds, "step {i}");
        }
    }

    #[test]
    fn a_request_found_under_another_task_s_key_is_built_again() {
        let cache = StatusRequests::default();
        let a = TaskTarget::new("w", "m", TaskKind::Import, "112000000001");
        let b = TaskTarget::new("w", "m", TaskKind::Import, "112000000002");
        let task = TaskId::new("T1");
        let request = |object: &str| {
            let url = format!("https://api.example/{object}/tasks/T1");
            ApiRequest::new(Method::GET, Url::parse(&url).unwrap())
        };
        // As if a's and b's hashes met: b's key holds a's request.
        cache
            .map()
            .insert(cache.key(&b, &task), Arc::new(request(a.object.as_str())));
        let built = Cell::new(false);
        let path = [b.object.as_str(), "tasks", task.as_str()];
        let got = cache.get(&b, &task, &path, || {
            built.set(true);
            request(b.object.as_str())
        });
        assert!(built.get());
        assert!(got.url.path().contains(b.object.as_str()), "{}", got.url);
    }

    #[test]
    fn a_request_is_used_only_for_the_path_it_was_built_for() {
        let url = Url::parse("https://api.example/2/0/models/a%20b%2Fc/tasks/T1").unwrap();
        assert!(ends_with(&url, &["a b/c", "tasks", "T1"]));
        assert!(ends_with(&url, &["T1"]));
        for other in [
            &["a b/c", "tasks", "T2"][..],
            &["a b/d", "tasks", "T1"],
            &["a%20b%2Fc", "tasks", "T1"],
            &["x", "2", "0", "models", "a b/c", "tasks", "T1"],
        ] {
            assert!(!ends_with(&url, other), "{other:?}");
        }
    }
}

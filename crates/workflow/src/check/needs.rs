//! `needs:` across steps: unique ids, known steps, no cycles.

use std::collections::{HashMap, HashSet};

use super::{Checker, StepRef, list};
use crate::tree::Node;

impl Checker {
    /// Unique step ids, `needs` that name a step, and no cycles (each cycle named once).
    pub(super) fn check_needs(&mut self, steps: &[StepRef<'_>]) {
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, s) in steps.iter().enumerate() {
            let Some((id, node)) = &s.id else { continue };
            match index.get(id.as_str()) {
                Some(&first) => {
                    let line = steps[first].id.as_ref().map_or(0, |f| f.1.pos.line);
                    self.error(
                        node,
                        &format!("{}.id", s.path),
                        format!("duplicate step id `{id}` (first at line {line})"),
                    );
                }
                None => {
                    index.insert(id, i);
                }
            }
        }
        let known: Vec<&str> = steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.id.as_ref().map(|id| (i, id.0.as_str())))
            .filter(|(i, id)| index.get(id) == Some(i))
            .map(|(_, id)| id)
            .collect();
        // Edges of the `needs` graph, each with the node that declares it.
        let mut edges: Vec<Vec<(usize, &Node)>> = vec![Vec::new(); steps.len()];
        for (i, s) in steps.iter().enumerate() {
            for (need, node) in &s.needs {
                match index.get(need.as_str()) {
                    Some(&j) => edges[i].push((j, node)),
                    None => self.error(
                        node,
                        &format!("{}.needs", s.path),
                        format!(
                            "unknown step `{}`: expected one of {}",
                            need.escape_debug(),
                            list(&known)
                        ),
                    ),
                }
            }
        }
        for cycle in cycles(&edges) {
            let names: Vec<&str> = cycle
                .iter()
                .chain(cycle.first())
                .map(|&i| steps[i].id.as_ref().map_or("?", |id| id.0.as_str()))
                .collect();
            let first = cycle[0];
            let next = cycle.get(1).copied().unwrap_or(first);
            let Some(&(_, node)) = edges[first].iter().find(|e| e.0 == next) else {
                continue;
            };
            self.error(
                node,
                &format!("{}.needs", steps[first].path),
                format!("cycle in needs: {}", names.join(" -> ")),
            );
        }
    }
}

/// One cycle per group of steps that need each other, each starting at its first step in
/// file order. Iterative depth-first search, so a long chain of steps cannot overflow the
/// stack.
fn cycles(edges: &[Vec<(usize, &Node)>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; edges.len()];
    let mut seen: HashSet<Vec<usize>> = HashSet::new();
    let mut found = Vec::new();
    for start in 0..edges.len() {
        if mark[start] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::Open;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let Some(&(to, _)) = edges[node].get(*next) else {
                mark[node] = Mark::Done;
                stack.pop();
                continue;
            };
            *next += 1;
            match mark[to] {
                Mark::New => {
                    mark[to] = Mark::Open;
                    stack.push((to, 0));
                }
                Mark::Open => {
                    let from = stack.iter().position(|e| e.0 == to).unwrap_or(0);
                    let mut cycle: Vec<usize> = stack[from..].iter().map(|e| e.0).collect();
                    let lowest = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|e| e.1)
                        .map_or(0, |e| e.0);
                    cycle.rotate_left(lowest);
                    let mut key = cycle.clone();
                    key.sort_unstable();
                    if seen.insert(key) {
                        found.push(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
    }
    found
}

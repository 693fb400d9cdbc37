//! The checks a list of nodes passes before anything runs.

use std::collections::HashMap;

use crate::node::{Node, NodeId};

/// Why a list of nodes cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// Two nodes have the same id.
    #[error("two nodes have the id `{0}`")]
    DuplicateId(NodeId),
    /// A node needs an id no node has.
    #[error("node `{node}` needs `{need}`, which is not a node")]
    UnknownNeed {
        /// The node.
        node: NodeId,
        /// The id it needs.
        need: NodeId,
    },
    /// The needs go round in a circle through this node.
    #[error("node `{0}` needs itself through its needs")]
    Cycle(NodeId),
}

/// Who needs whom, by place in the order given: built by [`check`], which walks it to
/// find circles, then counted down by the scheduler as nodes end. One walk of each need
/// either way (a scan of every node per freed node took 65 ms for 10,000 steps in the
/// check, and made a chain quadratic in the scheduler).
#[derive(Debug)]
pub(crate) struct Needs {
    /// Each node's place, by id.
    places: HashMap<NodeId, usize>,
    /// The places of the nodes that need each node (a need named twice, twice).
    dependents: Vec<Vec<usize>>,
    /// How many needs of each node are not settled yet.
    unsettled: Vec<usize>,
}

impl Needs {
    /// The place of node `id`.
    pub(crate) fn place(&self, id: &NodeId) -> Option<usize> {
        self.places.get(id).copied()
    }

    /// Every node's id, in the order given.
    pub(crate) fn into_ids(self) -> Vec<NodeId> {
        let mut ids = vec![None; self.places.len()];
        for (id, place) in self.places {
            ids[place] = Some(id);
        }
        // Every place has its node: `check` gave each node its own.
        ids.into_iter().flatten().collect()
    }

    /// The places of the nodes with no unsettled need.
    pub(crate) fn free(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.unsettled.len()).filter(|&place| self.unsettled[place] == 0)
    }

    /// Node `id` is settled: each node that needs it has one unsettled need fewer, and
    /// the places of those left with none go to `ready`.
    pub(crate) fn settle(&mut self, id: &NodeId, ready: &mut impl Extend<usize>) {
        if let Some(place) = self.place(id) {
            count_down(&self.dependents, &mut self.unsettled, place, ready);
        }
    }
}

/// The node at `place` is settled: see [`Needs::settle`].
fn count_down(
    dependents: &[Vec<usize>],
    unsettled: &mut [usize],
    place: usize,
    ready: &mut impl Extend<usize>,
) {
    for &dependent in &dependents[place] {
        let left = &mut unsettled[dependent];
        *left = left.saturating_sub(1);
        if *left == 0 {
            ready.extend([dependent]);
        }
    }
}

/// Every node's id unique, every need a node, no circle; who needs whom, for the run.
pub(crate) fn check(nodes: &[Node]) -> Result<Needs, PlanError> {
    let mut places = HashMap::with_capacity(nodes.len());
    for (place, node) in nodes.iter().enumerate() {
        if places.insert(node.id.clone(), place).is_some() {
            return Err(PlanError::DuplicateId(node.id.clone()));
        }
    }
    let mut dependents = vec![Vec::new(); nodes.len()];
    for (place, node) in nodes.iter().enumerate() {
        for need in &node.needs {
            let Some(&of) = places.get(need) else {
                return Err(PlanError::UnknownNeed {
                    node: node.id.clone(),
                    need: need.clone(),
                });
            };
            dependents[of].push(place);
        }
    }
    let needs = Needs {
        places,
        dependents,
        unsettled: nodes.iter().map(|n| n.needs.len()).collect(),
    };
    // Kahn: whatever never gets free of its needs is on (or behind) a circle.
    let mut unsettled = needs.unsettled.clone();
    let mut free: Vec<usize> = needs.free().collect();
    while let Some(place) = free.pop() {
        count_down(&needs.dependents, &mut unsettled, place, &mut free);
    }
    match unsettled.iter().position(|&left| left > 0) {
        Some(place) => Err(PlanError::Cycle(nodes[place].id.clone())),
        None => Ok(needs),
    }
}

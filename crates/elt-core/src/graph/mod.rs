//! Stage 3: the dependency graph of nodes and sources (petgraph), with cycle detection and the
//! traversals that selection and execution need.

pub mod select;
pub mod state;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use petgraph::algo::{astar, tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

/// Edges point from a parent (dependency) to a child.
#[derive(Debug, Default, Clone)]
pub struct Dag {
    graph: DiGraph<String, ()>,
    index: HashMap<String, NodeIndex>,
}

impl Dag {
    /// Builds the graph from `(node, parents)` pairs. Parents that are not nodes are ignored.
    pub fn new<'a>(nodes: impl IntoIterator<Item = (&'a str, &'a [String])>) -> Self {
        let nodes: Vec<(&str, &[String])> = nodes.into_iter().collect();
        let mut dag = Dag::default();
        for (id, _) in &nodes {
            dag.add(id);
        }
        for (id, parents) in &nodes {
            let child = dag.index[*id];
            for parent in parents.iter() {
                if let Some(&p) = dag.index.get(parent.as_str())
                    && !dag.graph.contains_edge(p, child)
                {
                    dag.graph.add_edge(p, child, ());
                }
            }
        }
        dag
    }

    fn add(&mut self, id: &str) -> NodeIndex {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = self.graph.add_node(id.to_string());
        self.index.insert(id.to_string(), i);
        i
    }

    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.graph.node_weights().map(String::as_str)
    }

    /// A cycle, as the ids along it (first id repeated at the end), if the graph has one.
    pub fn find_cycle(&self) -> Option<Vec<String>> {
        let start = toposort(&self.graph, None).err()?.node_id();
        let components = tarjan_scc(&self.graph);
        let component: HashSet<NodeIndex> = components
            .into_iter()
            .find(|c| c.contains(&start))
            .unwrap_or_default()
            .into_iter()
            .collect();
        // A self-loop, or the shortest way back to `start` through its strongly connected component.
        let path = self
            .graph
            .neighbors_directed(start, Direction::Outgoing)
            .filter(|n| component.contains(n))
            .filter_map(|next| {
                if next == start {
                    return Some(vec![start]);
                }
                astar(&self.graph, next, |n| n == start, |_| 1, |_| 0).map(|(_, path)| path)
            })
            .min_by_key(Vec::len)?;
        let mut cycle = vec![self.graph[start].clone()];
        cycle.extend(path.iter().map(|&n| self.graph[n].clone()));
        if path.len() == 1 && path[0] == start {
            cycle.truncate(2);
        }
        Some(cycle)
    }

    /// Ids in dependency order (parents before children). The graph must be acyclic.
    pub fn topological(&self) -> Vec<String> {
        toposort(&self.graph, None)
            .map(|order| order.into_iter().map(|i| self.graph[i].clone()).collect())
            .unwrap_or_default()
    }

    pub fn parents(&self, id: &str) -> Vec<&str> {
        self.neighbors(id, Direction::Incoming)
    }

    pub fn children(&self, id: &str) -> Vec<&str> {
        self.neighbors(id, Direction::Outgoing)
    }

    fn neighbors(&self, id: &str, direction: Direction) -> Vec<&str> {
        let Some(&i) = self.index.get(id) else {
            return vec![];
        };
        let mut out: Vec<&str> = self
            .graph
            .neighbors_directed(i, direction)
            .map(|n| self.graph[n].as_str())
            .collect();
        out.sort_unstable();
        out
    }

    /// Ancestors (`Incoming`) or descendants (`Outgoing`) of `id` up to `depth` steps (all when
    /// `None`), not including `id` itself.
    pub fn reachable(
        &self,
        id: &str,
        direction: Direction,
        depth: Option<usize>,
    ) -> HashSet<String> {
        let mut seen = HashSet::new();
        let Some(&start) = self.index.get(id) else {
            return seen;
        };
        let mut queue = VecDeque::from([(start, 0usize)]);
        let mut visited = HashSet::from([start]);
        while let Some((node, d)) = queue.pop_front() {
            if depth.is_some_and(|max| d >= max) {
                continue;
            }
            for next in self.graph.neighbors_directed(node, direction) {
                if visited.insert(next) {
                    seen.insert(self.graph[next].clone());
                    queue.push_back((next, d + 1));
                }
            }
        }
        seen
    }

    /// dbt's `parent_map` and `child_map`: every id with its sorted parents / children.
    pub fn maps(&self) -> (BTreeMap<String, Vec<String>>, BTreeMap<String, Vec<String>>) {
        let collect = |direction| {
            self.graph
                .node_indices()
                .map(|i| {
                    let id = self.graph[i].clone();
                    let list = self
                        .neighbors(&id, direction)
                        .into_iter()
                        .map(str::to_string)
                        .collect();
                    (id, list)
                })
                .collect()
        };
        (collect(Direction::Incoming), collect(Direction::Outgoing))
    }
}

pub use petgraph::Direction;

#[cfg(test)]
mod tests {
    use super::*;

    fn dag(edges: &[(&str, &[&str])]) -> Dag {
        let owned: Vec<(String, Vec<String>)> = edges
            .iter()
            .map(|(n, ps)| (n.to_string(), ps.iter().map(|p| p.to_string()).collect()))
            .collect();
        Dag::new(owned.iter().map(|(n, ps)| (n.as_str(), ps.as_slice())))
    }

    #[test]
    fn finds_cycle_path() {
        let d = dag(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &["a"])]);
        let cycle = d.find_cycle().unwrap();
        assert_eq!(cycle.len(), 4);
        assert_eq!(cycle.first(), cycle.last());
        let self_loop = dag(&[("a", &["a"])]).find_cycle().unwrap();
        assert_eq!(self_loop, ["a", "a"]);
    }

    #[test]
    fn reachable_with_depth() {
        let d = dag(&[("a", &[]), ("b", &["a"]), ("c", &["b"])]);
        assert_eq!(
            d.reachable("a", Direction::Outgoing, Some(1)),
            HashSet::from(["b".to_string()])
        );
        assert_eq!(d.reachable("c", Direction::Incoming, None).len(), 2);
        assert_eq!(d.topological(), ["a", "b", "c"]);
        assert!(d.find_cycle().is_none());
    }
}

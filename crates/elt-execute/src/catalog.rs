//! What exists in the warehouse, read once before a run (as dbt caches relations) and kept up
//! to date as nodes build: asking the warehouse before every node would cost a catalog query
//! per model.

use std::collections::HashMap;
use std::sync::Mutex;

use elt_core::adapter::Relation;
use elt_warehouse::{RelationKind, Session};

type Key = (Option<String>, String, String);

#[derive(Default)]
pub struct Catalog(Mutex<HashMap<Key, RelationKind>>);

fn key(database: Option<&str>, schema: &str, identifier: &str) -> Key {
    (
        database.map(str::to_lowercase),
        schema.to_lowercase(),
        identifier.to_lowercase(),
    )
}

fn key_of(relation: &Relation) -> Key {
    key(
        relation.database.as_deref(),
        &relation.schema,
        &relation.identifier,
    )
}

impl Catalog {
    /// Reads the relations of a schema.
    pub fn load_schema(
        &self,
        session: &mut dyn Session,
        database: Option<&str>,
        schema: &str,
    ) -> elt_warehouse::Result<()> {
        let found = session.relations_in(database, schema)?;
        let mut known = self.0.lock().expect("catalog lock");
        for (name, kind) in found {
            known.insert(key(database, schema, &name), kind);
        }
        Ok(())
    }

    pub fn kind(&self, relation: &Relation) -> Option<RelationKind> {
        let known = self.0.lock().expect("catalog lock");
        known.get(&key_of(relation)).copied()
    }

    /// Records what a node just built.
    pub fn set(&self, relation: &Relation, kind: RelationKind) {
        let mut known = self.0.lock().expect("catalog lock");
        known.insert(key_of(relation), kind);
    }
}

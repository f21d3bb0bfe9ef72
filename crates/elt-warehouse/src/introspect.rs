//! The warehouse as templates query it while compiling (`run_query`, `statement`,
//! `adapter.get_columns_in_relation`, ...): elt-core's [`Introspect`] over one session of
//! its own, opened on the first query. The threads that render share it, one query at a time.

use std::sync::{Arc, Mutex};

use elt_core::adapter::Relation;
use elt_core::diagnostics::Diagnostic;
use elt_core::template::introspect::{ColumnDef, Introspect, QueryResult, RelationType};

use crate::{RelationKind, Session, Warehouse, WarehouseError};

pub struct Introspector {
    warehouse: Arc<dyn Warehouse>,
    session: Mutex<Option<Box<dyn Session>>>,
}

impl Introspector {
    /// The introspection of `warehouse`, as templates hold it.
    pub fn over(warehouse: Arc<dyn Warehouse>) -> Arc<dyn Introspect> {
        Arc::new(Introspector {
            warehouse,
            session: Mutex::new(None),
        })
    }

    fn with<T>(
        &self,
        call: impl FnOnce(&mut dyn Session) -> Result<T, WarehouseError>,
    ) -> Result<T, WarehouseError> {
        let mut session = self.session.lock().expect("introspection session lock");
        if session.is_none() {
            *session = Some(self.warehouse.session()?);
        }
        let session = session.as_mut().expect("opened above");
        call(session.as_mut())
    }
}

fn diagnostic(error: WarehouseError) -> Diagnostic {
    let mut diagnostic = Diagnostic::error(error.message).of_kind(error.kind);
    if let Some(hint) = error.hint {
        diagnostic = diagnostic.with_help(hint);
    }
    diagnostic
}

impl Introspect for Introspector {
    fn query(&self, sql: &str) -> Result<QueryResult, Diagnostic> {
        let table = self.with(|s| s.query(sql)).map_err(diagnostic)?;
        Ok(QueryResult {
            columns: table.columns,
            types: table.types,
            rows: table.rows,
        })
    }

    fn columns(&self, relation: &Relation) -> Result<Vec<ColumnDef>, Diagnostic> {
        Ok(self
            .with(|s| s.columns(relation))
            .map_err(diagnostic)?
            .into_iter()
            .map(|c| ColumnDef {
                name: c.name,
                data_type: c.data_type,
            })
            .collect())
    }

    fn relations_in(
        &self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<(String, RelationType)>, Diagnostic> {
        Ok(self
            .with(|s| s.relations_in(database, schema))
            .map_err(diagnostic)?
            .into_iter()
            .map(|(name, kind)| {
                let kind = match kind {
                    RelationKind::Table => RelationType::Table,
                    RelationKind::View => RelationType::View,
                };
                (name, kind)
            })
            .collect())
    }
}

//! Rows the warehouse refuses for what elt does not check (a NOT NULL, a CHECK, a unique key,
//! an enum type): found by trial inserts where nothing stays, and kept as dead letters, so
//! that their batch loads without them instead of failing on every retry.

use elt_core::adapter::{Relation, RowTrial};
use elt_warehouse::{ErrorKind, Result, TextRows, WarehouseError};

use super::{Batch, Checkpoint, DeadLetter, Sink, shared};

impl Sink {
    /// The warehouse refused rows of `parts`, for what elt does not check (a NOT NULL, a
    /// CHECK, a unique key, an enum type): every retry would fail the same way and the load
    /// would never pass them. Finds the rows the raw table refuses after the rows before them,
    /// and writes the others with those as dead letters: of rows that break a unique key
    /// together, the first goes in.
    ///
    /// Halves of the rows are tried where nothing stays, and the halves of those refused, down
    /// to single rows: on PostgreSQL in one transaction rolled back at the end, each try in a
    /// savepoint so that rows let in stay for the tries after them; on DuckDB, which has no
    /// savepoints, each try in a transaction of its own, which finds the rows refused alone,
    /// then rows refused only with earlier ones one at a time (`first_refused_after_earlier`);
    /// on ClickHouse, where constraints are the row's own, into a table like the raw one whose
    /// engine, Null, keeps nothing but still reads every value and checks constraints.
    ///
    /// On ClickHouse the sifted batch's inserts carry tokens of their own: a load killed
    /// after its rows went in but before its dead letters retries the whole batch, whose
    /// insert must fail again (not be taken for the sifted one and skipped) so that the
    /// refused rows are found again, the same ones, and their dead letters written.
    pub(super) fn write_without_refused(
        &mut self,
        parts: &mut [(&mut Batch, &Checkpoint)],
        error: WarehouseError,
    ) -> Result<()> {
        // Each refused row costs a few trial inserts: say why a batch takes longer.
        tracing::warn!(
            "{} refused rows of a batch, finding them to keep them as dead letters: {}",
            self.raw,
            error.message
        );
        let trial = match self.dialect.row_trial() {
            RowTrial::DiscardingCopy(create) => Trial::DiscardingCopy(self.trial_table(create)?),
            RowTrial::Savepoint => Trial::Savepoint,
            RowTrial::Transaction => Trial::Transaction,
        };
        if let Trial::Savepoint = trial {
            self.session.execute("begin transaction")?;
        }
        let mut found = Vec::new();
        let sifted = parts.iter().try_for_each(|(batch, _)| {
            let mut refused = Vec::new();
            let all = 0..batch.rows.len();
            self.find_refused(&trial, &batch.rows, all, &mut refused)?;
            found.push(refused);
            Ok(())
        });
        match &trial {
            Trial::Savepoint => self.session.execute("rollback")?,
            Trial::DiscardingCopy(table) => self
                .session
                .execute(&format!("drop table if exists {table}"))?,
            Trial::Transaction => {}
        }
        sifted?;
        if found.iter().all(Vec::is_empty) && !matches!(trial, Trial::Transaction) {
            return Err(error);
        }
        for ((batch, _), refused) in parts.iter_mut().zip(found) {
            **batch = self.without(batch, refused);
        }
        loop {
            match self.write(&shared(parts)) {
                Err(error)
                    if error.kind == ErrorKind::RefusedRows
                        && matches!(trial, Trial::Transaction) =>
                {
                    let Some((part, row, why)) = self.first_refused_after_earlier(parts)? else {
                        return Err(error);
                    };
                    let batch = &mut *parts[part].0;
                    *batch = self.without(batch, vec![(row, why)]);
                }
                written => return written,
            }
        }
    }

    /// Adds to `refused` the rows in `range` the raw table refuses, with why: each refused
    /// on its own, and under savepoints each refused after the rows before it.
    fn find_refused(
        &mut self,
        trial: &Trial,
        rows: &TextRows,
        range: std::ops::Range<usize>,
        refused: &mut Vec<(usize, String)>,
    ) -> Result<()> {
        if range.is_empty() {
            return Ok(());
        }
        match self.try_rows(trial, &rows.select(range.clone()))? {
            None => Ok(()),
            Some(why) if range.len() == 1 => {
                refused.push((range.start, why));
                Ok(())
            }
            Some(_) => {
                let middle = range.start + range.len() / 2;
                self.find_refused(trial, rows, range.start..middle, refused)?;
                self.find_refused(trial, rows, middle..range.end, refused)
            }
        }
    }

    /// DuckDB: the first row of `parts` (in order) the raw table refuses only after the rows
    /// before it (say the second of two rows with one key): the end of the shortest prefix of
    /// the rows that is refused, found by halving. A row refused this way costs about log2(rows)
    /// tries of up to all the rows.
    fn first_refused_after_earlier(
        &mut self,
        parts: &[(&mut Batch, &Checkpoint)],
    ) -> Result<Option<(usize, usize, String)>> {
        let all: Vec<&TextRows> = parts.iter().map(|(batch, _)| &batch.rows).collect();
        let rows = TextRows::concat(self.columns.len(), &all);
        let Some(mut why) = self.try_rows(&Trial::Transaction, &rows)? else {
            return Ok(None);
        };
        // The first `accepted` rows go in together; the first `refused` do not.
        let (mut accepted, mut refused) = (0, rows.len());
        while refused - accepted > 1 {
            let middle = accepted + (refused - accepted) / 2;
            match self.try_rows(&Trial::Transaction, &rows.select(0..middle))? {
                None => accepted = middle,
                Some(message) => (refused, why) = (middle, message),
            }
        }
        let mut row = refused - 1;
        for (part, (batch, _)) in parts.iter().enumerate() {
            if row < batch.rows.len() {
                return Ok(Some((part, row, why)));
            }
            row -= batch.rows.len();
        }
        unreachable!("a refused prefix ends within the rows")
    }

    /// Inserts `rows` where nothing stays; returns why the warehouse refused them, if it did.
    fn try_rows(&mut self, trial: &Trial, rows: &TextRows) -> Result<Option<String>> {
        let (columns, session) = (&self.columns, self.session.as_mut());
        let tried = match trial {
            Trial::DiscardingCopy(table) => session.insert_text_rows(table, columns, rows),
            Trial::Transaction => {
                session.execute("begin transaction")?;
                let tried = session.insert_text_rows(&self.raw, columns, rows);
                session.execute("rollback")?;
                tried
            }
            Trial::Savepoint => {
                session.execute("savepoint elt_sift")?;
                let tried = session.insert_text_rows(&self.raw, columns, rows);
                match tried {
                    Ok(()) => session.execute("release savepoint elt_sift")?,
                    Err(_) => session.execute("rollback to savepoint elt_sift")?,
                }
                tried
            }
        };
        match tried {
            Ok(()) => Ok(None),
            Err(e) if e.kind == ErrorKind::RefusedRows => Ok(Some(e.message)),
            Err(e) => Err(e),
        }
    }

    /// A table like the raw one, as it is now, that keeps nothing: to try rows on.
    fn trial_table(&mut self, create: fn(&Relation, &Relation) -> String) -> Result<Relation> {
        let trial = Relation {
            identifier: format!("_elt_trial_{}", self.raw.identifier),
            external: None,
            ..self.raw.clone()
        };
        self.session
            .execute(&format!("drop table if exists {trial}"))?;
        self.session.execute(&create(&trial, &self.raw))?;
        Ok(trial)
    }

    /// `batch` without the `refused` rows, which become dead letters: their stream and
    /// position from elt's metadata columns, their payload the row's own columns as JSON.
    fn without(&self, batch: &mut Batch, refused: Vec<(usize, String)>) -> Batch {
        let at = |name: &str| self.columns.iter().position(|c| c == name);
        let (source, position) = (at("_elt_source"), at("_elt_position"));
        // The metadata columns come after the table's own.
        let own = source.unwrap_or(self.columns.len());
        let mut dead_letters = std::mem::take(&mut batch.dead_letters);
        for (index, error) in &refused {
            let row: Vec<Option<&str>> = batch.rows.row(*index).collect();
            let payload: serde_json::Map<String, serde_json::Value> = self.columns[..own]
                .iter()
                .zip(&row)
                .map(|(name, value)| {
                    (
                        name.clone(),
                        value.map_or(serde_json::Value::Null, |v| v.into()),
                    )
                })
                .collect();
            dead_letters.push(DeadLetter {
                stream: source.and_then(|i| row[i]).unwrap_or_default().to_string(),
                position: position
                    .and_then(|i| row[i]?.parse().ok())
                    .unwrap_or_default(),
                payload: serde_json::Value::Object(payload).to_string(),
                error: format!("the warehouse refused the row: {error}"),
            });
        }
        let refused: std::collections::HashSet<usize> =
            refused.into_iter().map(|(i, _)| i).collect();
        Batch {
            rows: batch
                .rows
                .select((0..batch.rows.len()).filter(|i| !refused.contains(i))),
            dead_letters,
            start: batch.start,
            sifted: true,
        }
    }
}

/// Where `Sink::write_without_refused` tries rows.
enum Trial {
    /// A table like the raw one that keeps nothing (ClickHouse's Null engine).
    DiscardingCopy(Relation),
    /// The raw table, in a transaction rolled back after each try.
    Transaction,
    /// The raw table, in a transaction open through the whole sifting, each try in a
    /// savepoint: rows let in stay for the tries after them.
    Savepoint,
}

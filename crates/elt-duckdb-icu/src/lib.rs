//! DuckDB's `icu` extension, compiled into the binary: time zones (`timestamptz`, `AT TIME
//! ZONE`, `SET TimeZone`), calendars and collations. Without it DuckDB downloads the extension
//! the first time a query needs it, which fails offline.
//!
//! [`register`] must run before a database is opened: DuckDB loads registered extensions into
//! the databases it opens afterwards.

use std::ffi::c_void;
use std::sync::OnceLock;

unsafe extern "C" {
    /// DuckDB's C API (`duckdb_static_extension.h`): registers an extension's describe
    /// function for every database opened afterwards; 0 on success.
    fn duckdb_register_static_extension(describe: unsafe extern "C" fn(*mut c_void) -> i32) -> i32;
    /// The extension's describe function (`src/register.cpp`).
    fn elt_duckdb_icu_describe(descriptor: *mut c_void) -> i32;
}

/// Registers the extension, once per process. Returns DuckDB's status when it refused.
pub fn register() -> Result<(), i32> {
    static STATUS: OnceLock<i32> = OnceLock::new();
    // SAFETY: both functions are DuckDB's C API and our describe function, with the
    // signatures their headers declare; DuckDB copies what the descriptor names.
    let status = *STATUS
        .get_or_init(|| unsafe { duckdb_register_static_extension(elt_duckdb_icu_describe) });
    match status {
        0 => Ok(()),
        refused => Err(refused),
    }
}

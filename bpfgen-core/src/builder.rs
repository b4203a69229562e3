//! The build-script API (filled in by the proc-macro/builder work).

//! hearth-ingest

//! hearth-restore

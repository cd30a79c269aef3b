//! hearth-index

//! hearth-format

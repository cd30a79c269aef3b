//! hearth-repo

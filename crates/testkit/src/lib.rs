//! hearth-testkit

//! hearth-crypto

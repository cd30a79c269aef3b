//! hearth-mobilesync

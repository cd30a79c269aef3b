//! hearth-chunker

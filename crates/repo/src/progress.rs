//! How long-running work reports progress. Libraries call it; the CLI draws bars; tests pass
//! [`NoProgress`].

pub trait Progress: Sync {
    /// A new phase of work; `total` in the unit `advance` counts (bytes or items), if known.
    fn start(&self, _phase: &str, _total: Option<u64>) {}
    fn advance(&self, _n: u64) {}
    fn finish(&self) {}
}

pub struct NoProgress;

impl Progress for NoProgress {}

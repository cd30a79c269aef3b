//! Response bodies written by blocking repository work (a file's bytes, a folder as a zip),
//! streamed as they are written: the work runs under the read lease on a blocking thread and
//! writes into a bounded channel of [`PIECE`]-byte pieces, so memory stays at a few pieces
//! whatever the size. A browser that goes away closes the channel, and the work's next write
//! fails, which ends it; work that fails midway ends the body with an error, so the browser
//! sees a broken download, never a short file that looks whole.

use crate::error::UiError;
use crate::state::App;
use axum::body::{Body, Bytes};
use std::io::Write;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The size of a piece sent to the browser.
pub const PIECE: usize = 64 * 1024;
/// Pieces written and not yet sent.
const QUEUED: usize = 4;

type Piece = Result<Bytes, std::io::Error>;

/// A body that `work` writes, run off the async threads under the read lease.
pub fn streamed(
    app: &Arc<App>,
    work: impl FnOnce(&App, &mut dyn Write) -> Result<(), UiError> + Send + 'static,
) -> Body {
    let (tx, rx) = mpsc::channel::<Piece>(QUEUED);
    let app = app.clone();
    tokio::spawn(async move {
        let failed = tx.clone();
        let done = app
            .read(move |app| {
                let mut out = Pieces {
                    tx,
                    buf: Vec::with_capacity(PIECE),
                };
                work(app, &mut out)?;
                out.send().map_err(|e| UiError::Internal(e.to_string()))
            })
            .await;
        if let Err(e) = done {
            let _ = failed
                .send(Err(std::io::Error::other(crate::error::error_text(&e))))
                .await;
        }
    });
    let pieces = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    });
    Body::from_stream(pieces)
}

/// The writer the work writes into.
struct Pieces {
    tx: mpsc::Sender<Piece>,
    buf: Vec<u8>,
}

impl Pieces {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE)));
        self.tx.blocking_send(Ok(piece)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the browser went away")
        })
    }
}

impl Write for Pieces {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(PIECE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == PIECE {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

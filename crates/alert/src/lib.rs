//! Tells people when a backup fails, a device is overdue, or `hearth check` finds damage: a
//! [`Notifier`] posts [`Event`]s to ntfy topics, Healthchecks-style ping URLs and generic
//! webhooks (the URL decides which, see [`target`]), from background threads that retry, so
//! that a backup never waits for a notification and never fails because of one.
//!
//! [`overdue`] is the one rule of when a device has gone quiet (the dashboard's badge uses it
//! too), with a note that keeps a device from being reported more than once a day.
//!
//! It is not a scheduler and does not decide what to report: the caller sends what happened.
//!
//! ```no_run
//! use hearth_alert::{Event, Notifier};
//! use std::time::Duration;
//!
//! let notifier = Notifier::new(&["https://ntfy.sh/family-backups".to_string()])?;
//! notifier.send(Event::Damage { summary: "1 problem: pack 1a2b…: truncated".into() });
//! for failure in notifier.finish(Duration::from_secs(30)) {
//!     eprintln!("warning: notification not sent: {failure}");
//! }
//! # Ok::<(), hearth_alert::AlertError>(())
//! ```

pub mod deliver;
mod error;
pub mod event;
mod notifier;
pub mod overdue;
pub mod target;

pub use deliver::RetryPolicy;
pub use error::AlertError;
pub use event::{DeviceRef, Event};
pub use notifier::{DeliveryFailure, Notifier, QUEUE};
pub use overdue::{DEFAULT_OVERDUE_DAYS, OverdueDevice, is_overdue};
pub use target::{Kind, Target};

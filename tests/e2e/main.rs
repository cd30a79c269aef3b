//! The end-to-end tests: the real `hearth` binary run as a process, against folders, handmade
//! and generated device backups, crashes, locks and S3 servers on loopback. One test binary (one
//! link) with a module per concern; `cargo test -p hearth-cli --test e2e MODULE::` runs one of
//! them (for example `crash::` or `s3::`).
//!
//! Every test has a world of its own (a temporary folder, see [`common::World`]) and passes
//! everything a `hearth` process needs on its command line and environment, never through
//! this process's state: no test changes an environment variable, the current folder, an
//! rlimit or a signal handler of the test process, so the modules run side by side in one
//! process as they did in processes of their own.

mod common;
mod handmade;

mod at_rest;
mod backup_restore;
mod bad_input;
mod browse;
mod check_subset;
mod cli_input;
mod concurrency;
mod config;
mod copy;
mod crash;
mod cross_device;
mod damage;
mod decrypted;
mod device_identity;
mod device_time;
mod diff_find;
mod encrypted;
mod export_cli;
mod export_contacts;
mod export_messages;
mod export_notes;
mod export_photos;
mod frozen_v1;
mod hostile_source;
mod locks;
mod mount;
mod notify;
mod prune;
mod prune_crash;
mod repair_crash;
mod s3;
mod safe_open;
mod schedule;
mod still_writing;
mod terminal_escapes;
mod ui;
mod ui_browse;
mod ui_media;
mod ui_restore;
mod unchanged;
mod watch;
mod webdav;

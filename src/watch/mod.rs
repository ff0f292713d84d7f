//! Watch mode: a long-running process that updates when the address
//! changes, driven by the kernel's rtnetlink announcements instead of
//! polling.
//!
//! Each check is one [`update::run`](crate::update::run) on a short-lived
//! thread, so signals and events are still read while a request is in
//! flight. A check never runs twice at once; hosts queue. SIGTERM stops the
//! process at once if a check is waiting for the network, or right after a
//! state write, never during one.
//!
//! What watch mode does not do: it never retries on its own beyond what the
//! guard allows, never reads `MTGSY_DDNS_NOW` (a fixed clock would stop
//! time), and never watches IPv6.
//!
//! The pieces, one concern each:
//! - `hosts`: the hosts to watch, from the settings and the config file's
//!   `hosts` list ([`configs`]).
//! - `event_loop`: [`run`], the poll over netlink, signals and a wake-up
//!   eventfd; reload and stop.
//! - `route`: which hosts an address event concerns.
//! - `check`: one check of one host on a worker thread, behind the fence
//!   that keeps a stop from landing mid-write, and its one-line report.
//! - `schedule` (pure): when each host is due; `clock`: timer and guard
//!   time; `netlink`: the socket and the parser of what it delivers.

mod check;
mod clock;
mod event_loop;
mod hosts;
mod netlink;
mod route;
mod schedule;

use std::sync::Arc;

use crate::update::Level;

pub use event_loop::run;
pub use hosts::configs;

/// A logger shared with the check threads; messages hold no password.
pub type SharedLog = Arc<dyn Fn(Level, &str) + Send + Sync>;

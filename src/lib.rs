//! # mtgsy-ddns
//!
//! A dynamic DNS client for Microtech's (mtgsy.net) update protocol, built
//! for routers: it validates every input, builds the one GET request the
//! service understands, sends it over HTTPS, classifies the reply, and keeps
//! a **rate guard** so an account is never blocked for abuse — never two
//! requests within 10 minutes, never an update that changes nothing, backoff
//! on failure — across processes, restarts and reboots.
//!
//! ## How the pieces fit
//!
//! `ARCHITECTURE.md` at the repository's root is the map; in short, in the
//! order data flows through one update:
//!
//! - [`config`]: settings by name (a JSON file via [`config_file`], flags,
//!   the C ABI's `mtgsy_set`), one row of [`config::table`] each →
//!   [`Config`].
//! - [`detect`]: the current address from an interface, a web page or a
//!   command (no policy: which addresses may be registered is checked
//!   with the request's fields).
//! - [`request`] (pure): validated [`UpdateFields`] → [`Request`] (the URL).
//! - [`guard`] (pure): [`Record`], the time and what is wanted →
//!   [`Decision`]; time is always an argument. [`jitter`] (pure) spreads a
//!   fleet's requests without weakening it.
//! - [`state`]: the JSON state file, locked and written atomically;
//!   [`status`] reports it (`status --json`, `mtgsy_status_json`).
//!   `boot_clock` (private) reads the boot clock that the guard counts
//!   the floor on besides the wall clock.
//! - [`transport`]: the only module with sockets (ureq + rustls on ring,
//!   with a pruned set of TLS algorithms).
//! - [`reply`] (pure): HTTP status and body → [`Verdict`].
//! - [`update`]: the cycle in phases ([`update::begin`] → a permit →
//!   conclude) and [`update::run`], which the CLI, [`watch`] mode and the
//!   C ABI ([`capi`]) all go through; its [`update::Outcome`] carries one
//!   [`update::Kind`] with every mapping (word, exit status, C code, log
//!   level).
//! - [`doctor`]: what stands between a host and a working record, checked
//!   without an update and without the password.
//!
//! The pure modules never open sockets or files and never read the clock,
//! so every rule is tested exhaustively in memory.
//!
//! ## The public surface
//!
//! What is public is what the `mtgsy-ddns` binary, the C ABI, the tests,
//! the fuzzers and the fleet simulation use; it is not promised to be
//! stable between versions (the C header and the command line are). File
//! primitives, the address command, the worker thread, the IPv4 range
//! rules and the TLS algorithm choice stay private. Library messages name
//! settings as the config file spells them (`allow_private`); the binary
//! swaps in its flags.
//!
//! ```no_run
//! use mtgsy_ddns::{config::Settings, transport::HttpTransport, update};
//! let mut settings = Settings::default();
//! settings.set("username", "me@example.com")?;
//! settings.set("password", "secret")?;
//! settings.set("ip", "203.0.113.7")?;
//! settings.set("allow_private", "1")?; // documentation range, for the example
//! let config = settings.resolve()?;
//! let transport = HttpTransport::new(&config.transport)?;
//! let opts = update::RunOptions { force: false, dry_run: true, now: 1_800_000_000 };
//! let outcome = update::run(&config, &opts, &transport, &mut |_, msg| eprintln!("{msg}"))?;
//! println!("{}", outcome.message);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod addr;
mod boot_clock;
pub mod capi;
mod command;
pub mod config;
pub mod config_file;
mod crypto;
pub mod detect;
pub mod doctor;
pub mod error;
mod fsio;
pub mod guard;
mod hook;
pub mod jitter;
pub mod reply;
pub mod request;
pub mod state;
pub mod status;
pub mod transport;
pub mod update;
pub mod watch;
mod worker;

pub use config::{Config, Settings};
pub use error::{Error, InputError, Status};
pub use guard::{Decision, Record};
pub use reply::Verdict;
pub use request::{Request, UpdateFields};

/// The current time in Unix seconds: `MTGSY_DDNS_NOW` when set (tests, dry
/// runs), else the system clock.
pub fn now() -> Result<i64, InputError> {
    match std::env::var("MTGSY_DDNS_NOW") {
        Ok(v) => v.trim().parse().map_err(|_| {
            InputError::new(
                "MTGSY_DDNS_NOW",
                format!("{v:?} is not a number of Unix seconds"),
            )
        }),
        Err(_) => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)),
    }
}

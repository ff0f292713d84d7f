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
//! - [`request`] (pure): validated [`UpdateFields`] → [`Request`] (the URL).
//! - [`reply`] (pure): HTTP status and body → [`Verdict`].
//! - [`guard`] (pure): [`Record`], the time and what is wanted →
//!   [`Decision`]; time is always an argument.
//! - [`state`]: the JSON state file, locked and written atomically.
//! - [`detect`]: the current address from an interface, a web page or a
//!   command.
//! - [`transport`]: the only module with sockets (ureq + rustls on ring);
//!   [`crypto`] picks the TLS algorithms it offers.
//! - [`config`]: settings by name (from JSON, flags or the C ABI) → [`Config`];
//!   [`config_file`] reads the JSON config file.
//! - [`update`]: the cycle that ties them together; [`update::run`].
//! - [`capi`]: the C ABI (`mtgsy_*`), a thin layer over the same code.
//!
//! The pure modules never open sockets or files and never read the clock,
//! so every rule is tested exhaustively in memory.
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

pub mod addr;
pub mod capi;
mod command;
pub mod config;
pub mod config_file;
pub mod crypto;
pub mod detect;
pub mod error;
pub mod fsio;
pub mod guard;
pub mod jitter;
pub mod reply;
pub mod request;
pub mod state;
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

//! The user's hooks, run after an attempt the way inadyn's `--exec` is:
//! `on_update` after every attempt (a request the guard let go out,
//! whatever came of it), then `on_change` when the attempt changed the
//! registered address (to a new one, `updated` or `unconfirmed`: both count
//! as registered). A held run (unchanged, deferred), a dry run and a run
//! that stopped before the guard (bad input, no address) run neither.
//!
//! Each is `/bin/sh -c CMD` through [`crate::command`]: its own process
//! group, no `MTGSY_*` variable and nothing holding the password or the
//! user name in its environment, killed with its group at the `timeout`
//! setting. The outcome comes in `MTGSY_*` variables added after that
//! filtering ([`environment`]). The caller runs the hooks after the
//! record is stored and the state lock released, so a hook may read the
//! state or run the client itself. A hook that fails or hangs is a
//! warning; the outcome and the exit status stay the attempt's.

#![forbid(unsafe_code)]

use std::net::Ipv4Addr;

use crate::command::{self, Exit};
use crate::config::Config;
use crate::request::Secret;
use crate::update::{Level, Log, Outcome};

/// Most bytes of a hook's standard output read (shown with `-vv`).
const MAX_OUTPUT: usize = 4096;

/// Runs `config`'s hooks for the attempt that ended with `outcome`:
/// `on_update` always, then `on_change` when the record's registered
/// address, `previous` before the attempt, is now another one,
/// `registered`. Failures and output go to `log`, nowhere else.
pub fn after_attempt(
    config: &Config,
    outcome: &Outcome,
    previous: Option<Ipv4Addr>,
    registered: Option<Ipv4Addr>,
    log: Log<'_>,
) {
    // Masked as the password is, in every spelling.
    let user = Secret::new(config.username.as_str());
    for (name, cmd) in planned(config, previous, registered) {
        let env = environment(config, &user, name, outcome, previous);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let ran = command::run_shell_env(
            cmd,
            config.transport.timeout,
            MAX_OUTPUT,
            &[config.password.expose(), &config.username],
            &env,
        );
        let (failed, output) = match ran {
            Ok((Exit::Code(0), output)) => (None, output),
            Ok((exit, output)) => (Some(exit.to_string()), output),
            Err(e) => (Some(e), Vec::new()),
        };
        let text = String::from_utf8_lossy(&output);
        let text = user.mask(&config.password.mask(text.trim_end()));
        if !text.is_empty() {
            log(Level::Debug, &format!("{name} hook printed: {text}"));
        }
        if let Some(why) = failed {
            log(Level::Warn, &format!("{name} hook failed: {why}"));
        }
    }
}

/// The hooks to run, in order, as (setting, command).
fn planned(
    config: &Config,
    previous: Option<Ipv4Addr>,
    registered: Option<Ipv4Addr>,
) -> impl Iterator<Item = (&'static str, &str)> {
    let changed = registered.is_some() && registered != previous;
    let on_change = config.on_change.as_deref().filter(|_| changed);
    [
        ("on_update", config.on_update.as_deref()),
        ("on_change", on_change),
    ]
    .into_iter()
    .filter_map(|(name, cmd)| Some((name, cmd?)))
}

/// The variables a hook `name` gets: which hook, the host (`lookup_host`,
/// empty when unset or when it is the user name), the address sent, the
/// address registered before, the outcome's word, exit status and
/// sentence (the password and the user name masked).
fn environment(
    config: &Config,
    user: &Secret,
    name: &str,
    outcome: &Outcome,
    previous: Option<Ipv4Addr>,
) -> [(&'static str, String); 7] {
    let addr = |ip: Option<Ipv4Addr>| ip.map(|ip| ip.to_string()).unwrap_or_default();
    let host = config.lookup_host.as_deref().unwrap_or_default();
    let host = if crate::guard::same_key(host, &config.username) {
        ""
    } else {
        host
    };
    [
        ("MTGSY_HOOK", name.to_string()),
        ("MTGSY_HOST", host.to_string()),
        ("MTGSY_ADDRESS", addr(outcome.ip)),
        ("MTGSY_PREVIOUS_ADDRESS", addr(previous)),
        ("MTGSY_OUTCOME", outcome.outcome.word().to_string()),
        ("MTGSY_EXIT_CODE", outcome.status().code().to_string()),
        (
            "MTGSY_MESSAGE",
            user.mask(&config.password.mask(&outcome.message)),
        ),
    ]
}

#[cfg(test)]
mod tests;

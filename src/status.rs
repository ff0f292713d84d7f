//! What `mtgsy-ddns status` and the C ABI's `mtgsy_status_json` report:
//! the state file's records for the account the settings name (all of
//! them when neither `username` nor `server` is set), and the one JSON
//! text both give, byte for byte.
//!
//! The JSON object (a stable contract, fields only ever added): `state`
//! (the file's path), `now` (the clock, Unix seconds) and `records`, one
//! flat object per (server, user name): `server`, `username`, every field
//! of the [`Record`] (among them `last_check`, when a run last looked,
//! even if it sent nothing) and `next_allowed_at` (when the next request
//! may go out, `null` if now). No secret is in the state file, so none is
//! in the reply.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Settings;
use crate::error::Error;
use crate::guard::{same_key, Record};
use crate::request::Server;
use crate::state::{self, Entry};

/// The records of the state file that `settings` name (see the module
/// documentation), with the file's path: `state`, or the default one.
/// Errors: a bad `server` setting, a state file that cannot be read.
pub fn read(settings: &Settings) -> Result<(PathBuf, Vec<Entry>), Error> {
    let path = settings.state.clone().unwrap_or_else(state::default_path);
    let server_host = match &settings.server {
        Some(url) => Some(Server::parse(url, true)?.host().to_string()),
        None => None,
    };
    let entries = state::read_entries(&path)?
        .into_iter()
        .filter(|e| {
            settings
                .username
                .as_ref()
                .is_none_or(|u| same_key(u, &e.username))
                && server_host.as_ref().is_none_or(|h| same_key(h, &e.server))
        })
        .collect();
    Ok((path, entries))
}

/// The whole `status --json` object.
#[derive(Serialize)]
struct StatusJson<'a> {
    state: String,
    now: i64,
    records: Vec<StatusRecord<'a>>,
}

/// A host's key, its record, and when the next request is allowed.
#[derive(Serialize)]
struct StatusRecord<'a> {
    server: &'a str,
    username: &'a str,
    #[serde(flatten)]
    record: &'a Record,
    next_allowed_at: Option<i64>,
}

/// The JSON text (one line, no newline) for `entries` of the state file at
/// `path`, at the clock reading `now`.
pub fn json(path: &Path, entries: &[Entry], now: i64) -> Result<String, Error> {
    let status = StatusJson {
        state: path.display().to_string(),
        now,
        records: entries
            .iter()
            .map(|e| StatusRecord {
                server: &e.server,
                username: &e.username,
                record: &e.record,
                next_allowed_at: e.record.next_allowed(now),
            })
            .collect(),
    };
    serde_json::to_string(&status).map_err(|e| Error::State {
        path: path.to_path_buf(),
        what: format!("cannot encode the state: {e}"),
    })
}

#[cfg(test)]
mod tests;

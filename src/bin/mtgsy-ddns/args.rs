//! Command-line parsing: words → [`Cli`]. The flags of settings come from
//! the library's table ([`config::SETTINGS`]): `--long-option VALUE` is the
//! key `long_option`, checked by [`Settings::set`]; a switch takes no value.
//! The rest (`--config`, `--force`, `-v`, ...) belong to the command line.

use mtgsy_ddns::config::{self, Settings};
use mtgsy_ddns::config_file::{ConfigFile, FileValue};
use mtgsy_ddns::InputError;

/// What to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// One guarded update.
    Update,
    /// Show the state.
    Status,
    /// Watch for address changes.
    Watch,
    /// Print the resolved settings.
    Config,
    /// Check each host without sending an update.
    Doctor,
    /// Print help.
    Help,
    /// No arguments: the usage on stderr, exit 2.
    Usage,
    /// Print the version.
    Version,
}

/// Parsed command line.
#[derive(Debug)]
pub struct Cli {
    /// What to do.
    pub action: Action,
    /// `--config FILE`.
    pub config_file: Option<String>,
    /// Settings given as flags, applied after the config file and the environment.
    pub flags: Vec<(String, String)>,
    /// `--force`.
    pub force: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--json`.
    pub json: bool,
    /// `-v` count.
    pub verbose: u8,
    /// `--syslog`.
    pub syslog: bool,
    /// `status --registered-ip`.
    pub registered_ip: bool,
}

/// Parses the words after the program name.
pub fn parse(args: &[String]) -> Result<Cli, InputError> {
    let mut cli = Cli {
        action: Action::Help,
        config_file: None,
        flags: Vec::new(),
        force: false,
        dry_run: false,
        json: false,
        verbose: 0,
        syslog: false,
        registered_ip: false,
    };
    let mut words = args.iter();
    match words.next().map(String::as_str) {
        None => {
            cli.action = Action::Usage;
            return Ok(cli);
        }
        Some("-h" | "--help" | "help") => return Ok(cli),
        Some("-V" | "--version") => {
            cli.action = Action::Version;
            return Ok(cli);
        }
        Some("update") => cli.action = Action::Update,
        Some("status") => cli.action = Action::Status,
        Some("watch") => cli.action = Action::Watch,
        Some("config") => cli.action = Action::Config,
        Some("doctor") => cli.action = Action::Doctor,
        Some(other) => {
            return Err(InputError::new(
                "command",
                format!(
                    "{other:?} is not a command; use update, status, watch, config or doctor (see --help)"
                ),
            ))
        }
    }
    while let Some(word) = words.next() {
        let (name, inline) = match word.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (word.as_str(), None),
        };
        let no_value = |cli_flag: &str| -> Result<(), InputError> {
            match &inline {
                Some(_) => Err(InputError::new(cli_flag, "takes no value")),
                None => Ok(()),
            }
        };
        match name {
            "-h" | "--help" => {
                cli.action = Action::Help;
                return Ok(cli);
            }
            "--verbose" => cli.verbose = cli.verbose.saturating_add(1),
            // -v, -vv, -vvv, ...: one more level per v
            _ if name.len() > 1
                && name.starts_with('-')
                && name[1..].bytes().all(|b| b == b'v') =>
            {
                let count = u8::try_from(name.len() - 1).unwrap_or(u8::MAX);
                cli.verbose = cli.verbose.saturating_add(count);
            }
            "--force" => {
                no_value("force")?;
                cli.force = true
            }
            "--dry-run" => {
                no_value("dry_run")?;
                cli.dry_run = true
            }
            "--json" => {
                no_value("json")?;
                cli.json = true
            }
            "--syslog" => {
                no_value("syslog")?;
                cli.syslog = true
            }
            "--registered-ip" if cli.action == Action::Status => cli.registered_ip = true,
            _ if name.starts_with("--") && name.len() > 2 => {
                let key = name[2..].replace('-', "_");
                let setting = config::table::find(&key);
                if setting.is_some_and(|s| s.secret) {
                    return Err(InputError::new(
                        key,
                        "is never taken on the command line (other users could read it in the process list); use MTGSY_PASSWORD, --password-file FILE or the config file",
                    ));
                }
                if setting.is_some_and(|s| s.is_switch()) {
                    no_value(&key)?;
                    cli.flags.push((key, "1".into()));
                    continue;
                }
                if key != "config" && setting.is_none() {
                    return Err(InputError::new(
                        key,
                        format!("{name} is not an option (see --help)"),
                    ));
                }
                let value = match inline {
                    Some(v) => v,
                    None => words.next().cloned().ok_or_else(|| {
                        InputError::new(key.as_str(), format!("{name} needs a value"))
                    })?,
                };
                if key == "config" {
                    cli.config_file = Some(value);
                } else {
                    cli.flags.push((key, value));
                }
            }
            _ => {
                return Err(InputError::new(
                    "arguments",
                    format!("unexpected {word:?} (options start with --; see --help)"),
                ))
            }
        }
    }
    Ok(cli)
}

/// Builds the settings: config file, then MTGSY_USERNAME / MTGSY_PASSWORD,
/// then the flags. Flags that name an address source replace the config
/// file's. A config file or password file holding the password that other
/// users may read is warned about on stderr.
pub fn settings(cli: &Cli) -> Result<(Settings, Option<ConfigFile>), InputError> {
    let mut settings = Settings {
        // `doctor` neither needs nor reads the password.
        without_password: cli.action == Action::Doctor,
        ..Settings::default()
    };
    let mut file = None;
    if let Some(path) = &cli.config_file {
        let parsed = ConfigFile::read(path)?;
        let hosts = match &parsed.hosts {
            Some(mtgsy_ddns::config_file::Hosts::List(list)) => list.as_slice(),
            _ => &[],
        };
        let mut holds_password = false;
        for object in std::iter::once(&parsed.settings).chain(hosts.iter().flatten()) {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("password", FileValue::Text(_)) => holds_password = true,
                    ("password_file", FileValue::Text(p)) => warn_if_readable(p),
                    _ => {}
                }
            }
        }
        if holds_password {
            warn_if_readable(path);
        }
        settings
            .merge_file(&parsed.settings)
            .map_err(|e| InputError::new(format!("{path}: {}", e.field()), e.reason()))?;
        file = Some(parsed);
    }
    if let Ok(user) = std::env::var("MTGSY_USERNAME") {
        if !user.is_empty() {
            settings
                .set("username", &user)
                .map_err(|e| InputError::new("MTGSY_USERNAME", e.reason()))?;
        }
    }
    if let Ok(pass) = std::env::var("MTGSY_PASSWORD") {
        if !pass.is_empty() {
            settings
                .set("password", &pass)
                .map_err(|e| InputError::new("MTGSY_PASSWORD", e.reason()))?;
        }
    }
    let mut own_address = false;
    for (key, value) in &cli.flags {
        // The first address flag replaces the config file's address source.
        if !own_address && config::ADDRESS_KEYS.contains(&key.as_str()) {
            settings.clear_address();
            own_address = true;
        }
        settings.set(key, value)?;
        if key == "password_file" {
            warn_if_readable(value);
        }
    }
    Ok((settings, file))
}

/// Warns on stderr when the file at `path`, which holds the password, can
/// be read by its group or by others.
fn warn_if_readable(path: &str) {
    use std::os::unix::fs::PermissionsExt;
    let mode = match std::fs::metadata(path) {
        Ok(meta) if path != "-" => meta.permissions().mode(),
        _ => return,
    };
    if mode & 0o044 != 0 {
        crate::output::Printer::stderr_only().log(
            mtgsy_ddns::update::Level::Warn,
            &format!(
                "{path} holds the password and other users can read it; fix: chmod 600 {path}"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(words: &[&str]) -> Result<Cli, InputError> {
        parse(&words.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn long_options_map_to_keys() {
        let cli = p(&[
            "update",
            "--offline-url",
            "http://x.example/",
            "--hb=1",
            "--allow-http",
            "--force",
            "-v",
        ])
        .unwrap();
        assert_eq!(cli.action, Action::Update);
        assert_eq!(
            cli.flags,
            [
                ("offline_url".to_string(), "http://x.example/".to_string()),
                ("hb".into(), "1".into()),
                ("allow_http".into(), "1".into())
            ]
        );
        assert!(cli.force);
        assert_eq!(cli.verbose, 1);
    }

    #[test]
    fn refusals_name_the_option() {
        assert_eq!(
            p(&["update", "--password", "x"]).unwrap_err().field(),
            "password"
        );
        assert_eq!(
            p(&["update", "--colour", "x"]).unwrap_err().field(),
            "colour"
        );
        assert_eq!(p(&["update", "--ip"]).unwrap_err().field(), "ip");
        assert_eq!(p(&["frobnicate"]).unwrap_err().field(), "command");
        assert_eq!(p(&["update", "stray"]).unwrap_err().field(), "arguments");
        assert_eq!(p(&["update", "--force=1"]).unwrap_err().field(), "force");
        let e = p(&["update", "--password=hunter2"]).unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn any_run_of_v_counts_each_v() {
        for (words, level) in [
            (&["-v"][..], 1),
            (&["-vv"], 2),
            (&["-vvv"], 3),
            (&["-v", "-v", "-vv"], 4),
            (&["--verbose", "-vvvv"], 5),
        ] {
            let cli = p(&[&["update"], words].concat()).unwrap();
            assert_eq!(cli.verbose, level, "{words:?}");
        }
        for bad in ["-", "-vx", "-V"] {
            assert_eq!(
                p(&["update", bad]).unwrap_err().field(),
                "arguments",
                "{bad}"
            );
        }
    }

    #[test]
    fn every_setting_is_a_flag_switches_without_a_value() {
        for s in config::SETTINGS {
            let flag = format!("--{}", s.name().replace('_', "-"));
            let e = p(&["update", &flag]).err();
            match (s.secret, s.is_switch()) {
                (true, _) => assert!(e.unwrap().reason().contains("never taken"), "{flag}"),
                (false, true) => {
                    assert!(e.is_none(), "{flag}");
                    let e = p(&["update", &format!("{flag}=1")]).unwrap_err();
                    assert_eq!(e.reason(), "takes no value", "{flag}");
                }
                (false, false) => assert!(e.unwrap().reason().ends_with("needs a value"), "{flag}"),
            }
        }
    }
}

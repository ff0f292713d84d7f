//! Watch mode: a long-running process that updates when the address
//! changes, driven by the kernel's rtnetlink announcements instead of
//! polling.
//!
//! One thread sleeps in `poll(2)` over three descriptors: the rtnetlink
//! socket (IPv4 address events), a `signalfd` (SIGTERM, SIGINT, SIGHUP,
//! SIGUSR1) and an `eventfd` a check raises when it ends. The poll timeout
//! is the next timer of the [`schedule`](self): the safety-net re-check
//! (`check_interval`) or, when the rate guard deferred an update, the moment
//! the guard allows it. Nothing else wakes the process.
//!
//! Each check is one [`update::run`] on a short-lived thread, so signals
//! and events are still read while a request is in flight. A check never
//! runs twice at once; hosts queue. The state file is written only while
//! the check holds a *fence*; it lets go of the fence only while the request
//! is on the wire (the attempt is already on disk by then). SIGTERM takes
//! the fence and keeps it, so the process stops at once if it is waiting
//! for the network, or right after a write, never during one.
//!
//! What watch mode does not do: it never retries on its own beyond what the
//! guard allows, never reads `MTGSY_DDNS_NOW` (a fixed clock would stop
//! time), and never watches IPv6.
//!
//! Several hosts: the config file may hold `"hosts": [{…}, {…}]`. The
//! top-level keys, the environment and the command-line flags are the
//! defaults; each host object's own keys win over them. Each host has its
//! own guard record (records are keyed by server host and user name).

mod netlink;
mod schedule;

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::config::{Config, Settings};
use crate::config_file::{ConfigFile, Hosts};
use crate::detect::AddressSource;
use crate::error::{Error, InputError};
use crate::request::Request;
use crate::transport::{HttpReply, HttpTransport, SendError, Transport, TransportConfig};
use crate::update::{self, Level, Outcome, RunOptions};
use crate::worker::{self, Worker};

use netlink::{Change, Message, Received};
use schedule::Schedule;

/// A logger shared with the check threads; messages hold no password.
pub type SharedLog = Arc<dyn Fn(Level, &str) + Send + Sync>;

/// How long a burst of address events is gathered before a host whose
/// address comes from a web page or a command is checked: one fetch per
/// burst, not one per event.
const SETTLE_MS: u64 = 5_000;

/// Largest datagram read from the netlink socket (the kernel's
/// notifications fit in a page).
const NETLINK_BUF: usize = 8192;

/// The hosts to watch, from the settings (flags, environment and the
/// config file's top level) and the config file's `hosts` list, if any.
///
/// With `interface` set and neither `ip` nor `ip_source`, the address comes
/// from that interface. A host that names any address setting replaces the
/// top level's address settings as a whole. Two hosts for the same server
/// and user name are refused: they would share one guard record.
pub fn configs(settings: &Settings, file: Option<&ConfigFile>) -> Result<Vec<Config>, InputError> {
    let configs = match file.and_then(|f| f.hosts.as_ref()) {
        None => vec![finish(settings.clone())?],
        Some(Hosts::List(items)) if !items.is_empty() => {
            let mut out = Vec::with_capacity(items.len());
            for (n, item) in items.iter().enumerate() {
                let named = |e: InputError| {
                    InputError::new(format!("hosts[{n}].{}", e.field()), e.reason())
                };
                let object = item.as_ref().ok_or_else(|| {
                    InputError::new(
                        format!("hosts[{n}]"),
                        "must be an object with the same keys as the top level",
                    )
                })?;
                let has = |key: &str| object.iter().any(|(k, _)| k == key);
                if has("hosts") {
                    return Err(InputError::new(
                        format!("hosts[{n}].hosts"),
                        "hosts cannot be nested",
                    ));
                }
                let mut s = settings.clone();
                // A host naming its own address source replaces the default one.
                if crate::config::ADDRESS_KEYS.iter().any(|k| has(k)) {
                    s.clear_address();
                }
                s.merge_file(object).map_err(named)?;
                out.push(finish(s).map_err(named)?);
            }
            out
        }
        Some(_) => {
            return Err(InputError::new(
                "hosts",
                "must be a non-empty list of objects, one per host",
            ))
        }
    };
    for (n, a) in configs.iter().enumerate() {
        if let Some(m) = configs[..n].iter().position(|b| same_account(a, b)) {
            return Err(InputError::new(
                format!("hosts[{n}].username"),
                format!(
                    "{:?} at {} is already hosts[{m}]; each host needs its own user name (an account e-mail or one dynamic domain)",
                    a.username,
                    a.server.host()
                ),
            ));
        }
    }
    Ok(configs)
}

/// Whether two hosts share one guard: the same user name at the same
/// server, letter case and a trailing dot aside, whatever state file each
/// names (one account must never have two guards).
fn same_account(a: &Config, b: &Config) -> bool {
    use crate::guard::same_key;
    same_key(a.server.host(), b.server.host()) && same_key(&a.username, &b.username)
}

fn finish(mut s: Settings) -> Result<Config, InputError> {
    if s.ip.is_none() && s.ip_source.is_none() && s.interface.is_some() {
        s.ip_source = Some("interface".into());
    }
    s.resolve()
}

/// Runs watch mode until SIGTERM or SIGINT; returns `Ok` then.
///
/// `load` reads the configuration: at start (an error is returned) and on
/// SIGHUP (an error is logged and the running configuration kept).
///
/// Call this from a process with a single thread: it blocks the four
/// signals it handles in the calling thread, and every thread it starts
/// inherits that. When it returns after a stop signal that arrived while a
/// request was on the wire, that check stays frozen before its next state
/// write; the caller should exit.
pub fn run(
    load: &mut dyn FnMut() -> Result<Vec<Config>, Error>,
    log: SharedLog,
) -> Result<(), Error> {
    let os = |what: &str, e: io::Error| Error::Detect {
        source: "watch".into(),
        what: format!("{what}: {e}"),
    };
    let signals = Signals::block_and_open().map_err(|e| os("cannot set up signals", e))?;
    let socket = netlink::Socket::open()
        .map_err(|e| os("cannot subscribe to rtnetlink address events", e))?;
    let wake = Arc::new(EventFd::new().map_err(|e| os("cannot create an eventfd", e))?);
    let clock = Clock::new();
    if clock.warp > 1 {
        log(
            Level::Warn,
            &format!(
                "test clock: time runs {}x faster (MTGSY_DDNS_TEST_WARP, debug builds only)",
                clock.warp
            ),
        );
    }

    let mut hosts = build_hosts(load()?)?;
    announce(&hosts, &log);
    let mut schedule = Schedule::new(hosts.len(), clock.ticks());
    let fence = Arc::new(Mutex::new(()));
    let mut busy: Option<(usize, Worker<Done>)> = None;
    let mut reload = false;
    let mut release_pending = false;
    let mut buf = vec![0u8; NETLINK_BUF];

    loop {
        if busy.is_none() {
            if reload {
                reload = false;
                match load().and_then(build_hosts) {
                    Ok(mut new) => {
                        for host in &mut new {
                            if let Some(old) = hosts.iter().find(|h| h.label == host.label) {
                                host.warned = old.warned.clone();
                            }
                        }
                        hosts = new;
                        log(Level::Info, "SIGHUP: configuration reloaded");
                        announce(&hosts, &log);
                        schedule = Schedule::new(hosts.len(), clock.ticks());
                    }
                    Err(e) => log(
                        Level::Error,
                        &format!("SIGHUP: {e}; keeping the running configuration"),
                    ),
                }
            }
            if let Some(i) = schedule.due(clock.ticks()) {
                schedule.started(i);
                let job = Job {
                    index: i,
                    host: hosts[i].clone(),
                    now: clock.wall(),
                    fence: fence.clone(),
                    log: log.clone(),
                };
                // The worker wakes the loop once its result is recorded.
                let wake = wake.clone();
                match worker::spawn_then(move || job.run(), move || wake.raise()) {
                    Ok(w) => busy = Some((i, w)),
                    Err(e) => {
                        log(Level::Error, &format!("cannot start a check: {e}"));
                        let safety = clock.ms_for(hosts[i].config.check_interval.as_secs());
                        schedule.finished(i, clock.ticks(), safety, Some(60_000));
                    }
                }
                continue;
            }
        }

        // Idle again after a check: hand the code it paged in (TLS, HTTP)
        // back to the system until the next one.
        if busy.is_none() && std::mem::take(&mut release_pending) {
            release_code_pages();
        }
        let timeout = match (&busy, schedule.next()) {
            (None, Some(at)) => {
                at.saturating_sub(clock.ticks()).min(i32::MAX as u64) as libc::c_int
            }
            _ => -1,
        };
        let mut fds = [
            pollfd(socket.as_raw_fd()),
            pollfd(signals.fd.as_raw_fd()),
            pollfd(wake.fd.as_raw_fd()),
        ];
        // SAFETY: `fds` is an array of valid pollfd structures of that length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(os("poll failed", e));
        }
        let now = clock.ticks();

        if fds[1].revents != 0 {
            for signo in signals.read() {
                match signo {
                    libc::SIGTERM | libc::SIGINT => {
                        let name = if signo == libc::SIGTERM {
                            "SIGTERM"
                        } else {
                            "SIGINT"
                        };
                        stop(name, busy.as_ref().map(|b| &hosts[b.0]), &fence, &log);
                        return Ok(());
                    }
                    libc::SIGHUP => {
                        log(Level::Info, "SIGHUP: reloading the configuration");
                        reload = true;
                    }
                    libc::SIGUSR1 => {
                        log(Level::Info, "SIGUSR1: checking every host now");
                        schedule.want_all(now);
                    }
                    _ => {}
                }
            }
        }

        if fds[0].revents != 0 {
            read_events(&socket, &mut buf, &hosts, &mut schedule, now, &log)
                .map_err(|e| os("reading rtnetlink failed", e))?;
        }

        if fds[2].revents != 0 {
            wake.drain();
            let finished = busy.take_if(|(_, w)| w.is_finished());
            if let Some((i, worker)) = finished {
                release_pending = true;
                let Some(done) = worker.join() else {
                    // A check that died without an answer (a bug): note it, go on.
                    log(
                        Level::Error,
                        &format!(
                            "{}: the check ended without a result (internal error); the next event or the safety net checks again",
                            hosts[i].label
                        ),
                    );
                    let safety = clock.ms_for(hosts[i].config.check_interval.as_secs());
                    schedule.finished(i, clock.ticks(), safety, None);
                    continue;
                };
                let host = &hosts[done.index];
                let retry = report(host, &done.result, &log);
                let safety = clock.ms_for(host.config.check_interval.as_secs());
                let retry_ms = retry.map(|s| clock.ms_for(s.max(1)));
                schedule.finished(done.index, clock.ticks(), safety, retry_ms);
                if let Some(at) = schedule.retry_at(done.index) {
                    log(
                        Level::Debug,
                        &format!(
                            "{}: retry timer set, {} ms from now",
                            host.label,
                            at.saturating_sub(clock.ticks())
                        ),
                    );
                }
            }
        }
    }
}

/// Asks the kernel to reclaim the pages of this program's read-only file
/// mappings (its code and constants). Between checks the watcher runs a few
/// kilobytes of code; the rest — TLS, HTTP, JSON — was paged in by the last
/// check and is read back from flash by the next one, every few minutes at
/// most. Clean file pages cost nothing to drop. Kernels before 5.4 lack
/// MADV_PAGEOUT and refuse it; then nothing changes.
fn release_code_pages() {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        // start-end perms offset dev inode [path]
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms), Some(_), Some(_), Some(inode)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            continue;
        };
        if inode == "0" || !perms.starts_with('r') || perms.as_bytes().get(1) == Some(&b'w') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // SAFETY: the range is one of this process's own mappings as the
        // kernel lists it; MADV_PAGEOUT only drops clean pages, which are
        // faulted back in from the file on the next access.
        unsafe {
            libc::madvise(
                start as *mut libc::c_void,
                end.saturating_sub(start),
                libc::MADV_PAGEOUT,
            );
        }
    }
}

/// One watched host.
#[derive(Clone)]
struct Host {
    label: String,
    config: Arc<Config>,
    transport: Arc<HttpTransport>,
    /// Warnings already shown since the configuration was loaded; a
    /// repeat (plain HTTP on every check) is logged at debug level only.
    warned: Arc<Mutex<Vec<String>>>,
}

/// Most distinct warnings remembered per host.
const WARNED_MAX: usize = 16;

fn build_hosts(configs: Vec<Config>) -> Result<Vec<Host>, Error> {
    let mut transports: Vec<(TransportConfig, Arc<HttpTransport>)> = Vec::new();
    let mut hosts = Vec::with_capacity(configs.len());
    for config in configs {
        let transport = match transports.iter().find(|(c, _)| *c == config.transport) {
            Some((_, t)) => t.clone(),
            None => {
                let t = Arc::new(HttpTransport::new(&config.transport)?);
                transports.push((config.transport.clone(), t.clone()));
                t
            }
        };
        hosts.push(Host {
            label: config.username.clone(),
            config: Arc::new(config),
            transport,
            warned: Arc::default(),
        });
    }
    Ok(hosts)
}

fn announce(hosts: &[Host], log: &SharedLog) {
    let list: Vec<String> = hosts
        .iter()
        .map(|h| format!("{} ({})", h.label, h.config.address.describe()))
        .collect();
    log(
        Level::Info,
        &format!(
            "watching {} host(s): {}; safety-net check every {} s",
            hosts.len(),
            list.join(", "),
            hosts
                .iter()
                .map(|h| h.config.check_interval.as_secs())
                .min()
                .unwrap_or(0)
        ),
    );
}

/// Stops: at once when idle; with a check running, once it is on the
/// wire or between writes, keeping it from writing again.
fn stop(name: &str, running: Option<&Host>, fence: &Mutex<()>, log: &SharedLog) {
    match running {
        None => log(Level::Info, &format!("{name}: stopping")),
        Some(host) => {
            std::mem::forget(lock(fence));
            log(
                Level::Info,
                &format!(
                    "{name}: stopping during the check of {}; the state file is consistent (an attempt on the wire is already recorded, so the 10-minute floor holds)",
                    host.label
                ),
            );
        }
    }
}

fn lock(m: &Mutex<()>) -> MutexGuard<'_, ()> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads every pending datagram and asks for the checks the events call for.
fn read_events(
    socket: &netlink::Socket,
    buf: &mut [u8],
    hosts: &[Host],
    schedule: &mut Schedule,
    now: u64,
    log: &SharedLog,
) -> io::Result<()> {
    loop {
        let n = match socket.receive(buf)? {
            Received::Empty => return Ok(()),
            Received::Ignored => continue,
            Received::Lost => {
                log(
                    Level::Info,
                    "the kernel dropped address events; checking every host",
                );
                schedule.want_all(now);
                continue;
            }
            Received::Datagram(n) => n,
        };
        match netlink::parse(&buf[..n]) {
            Ok(messages) => {
                for message in messages {
                    match message {
                        Message::Address(event) => route(&event, hosts, schedule, now, log),
                        Message::Overrun => schedule.want_all(now),
                        Message::Error(_) | Message::Other(_) => {}
                    }
                }
            }
            Err(e) => {
                log(Level::Debug, &format!("{e}; checking every host"));
                schedule.want_all(now);
            }
        }
    }
}

/// Which hosts an address event concerns: those on that interface at
/// once; those whose address comes from the web or a command after the
/// settle delay; fixed addresses never.
fn route(
    event: &netlink::AddrEvent,
    hosts: &[Host],
    schedule: &mut Schedule,
    now: u64,
    log: &SharedLog,
) {
    if event.address.is_some_and(|a| a.is_loopback()) {
        return;
    }
    let name = event.label.clone().or_else(|| interface_name(event.index));
    log(
        Level::Debug,
        &format!(
            "address event: {} {}/{} on {}",
            match event.change {
                Change::Added => "added",
                Change::Removed => "removed",
            },
            event
                .address
                .map(|a| a.to_string())
                .unwrap_or_else(|| "?".into()),
            event.prefix_len,
            name.as_deref().unwrap_or("an interface that is gone")
        ),
    );
    for (i, host) in hosts.iter().enumerate() {
        match &host.config.address {
            AddressSource::Interface(watched) => {
                if name.as_deref().is_none_or(|n| concerns(watched, n)) {
                    schedule.want(i, now);
                }
            }
            AddressSource::Web(_) | AddressSource::Command(_) => {
                schedule.want(i, now.saturating_add(SETTLE_MS))
            }
            AddressSource::Fixed(_) => {}
        }
    }
}

/// Whether an event labelled `label` concerns interface `watched`
/// (`wan0` also covers its aliases `wan0:1`, …).
fn concerns(watched: &str, label: &str) -> bool {
    label == watched
        || label
            .strip_prefix(watched)
            .is_some_and(|rest| rest.starts_with(':'))
}

fn interface_name(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has the IF_NAMESIZE bytes if_indextoname may write.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success `buf` holds a NUL-terminated name.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// Logs a check's result, one line; returns the seconds until a retry.
fn report(host: &Host, result: &Result<Outcome, Error>, log: &SharedLog) -> Option<i64> {
    let interval = host.config.check_interval.as_secs() as i64;
    match result {
        Ok(o) => {
            let level = o.outcome.watch_level();
            let next = match o.retry_after_s {
                Some(r) if r < interval => format!("; retry timer set for {r} s from now"),
                Some(_) => "; the safety-net check will look again".to_string(),
                None => String::new(),
            };
            log(level, &format!("{}: {}{next}", host.label, o.message));
            o.retry_after_s
        }
        Err(e @ Error::Detect { .. })
            if matches!(host.config.address, AddressSource::Interface(_)) =>
        {
            log(
                Level::Info,
                &format!("{}: {e}; waiting for an address event", host.label),
            );
            None
        }
        Err(e) => {
            log(Level::Error, &format!("{}: {e}", host.label));
            None
        }
    }
}

/// One check, run on a [`worker`] thread.
struct Job {
    index: usize,
    host: Host,
    now: i64,
    fence: Arc<Mutex<()>>,
    log: SharedLog,
}

struct Done {
    index: usize,
    result: Result<Outcome, Error>,
}

impl Job {
    fn run(self) -> Done {
        let fenced = Fenced {
            inner: &*self.host.transport,
            fence: &self.fence,
            held: RefCell::new(Some(lock(&self.fence))),
        };
        let opts = RunOptions {
            force: false,
            dry_run: false,
            now: self.now,
        };
        let label = &self.host.label;
        let log = &self.log;
        let warned = &self.host.warned;
        let result = update::run(&self.host.config, &opts, &fenced, &mut |level, msg| {
            let mut level = level;
            if level == Level::Warn {
                let mut seen = warned.lock().unwrap_or_else(|p| p.into_inner());
                if seen.iter().any(|m| m == msg) {
                    level = Level::Debug;
                } else if seen.len() < WARNED_MAX {
                    seen.push(msg.to_string());
                }
            }
            log(level, &format!("{label}: {msg}"))
        });
        drop(fenced);
        Done {
            index: self.index,
            result,
        }
    }
}

/// A transport that lets go of the fence only while the request is on
/// the wire: the state file is never written without holding it.
struct Fenced<'a> {
    inner: &'a dyn Transport,
    fence: &'a Mutex<()>,
    held: RefCell<Option<MutexGuard<'a, ()>>>,
}

impl Transport for Fenced<'_> {
    fn send(&self, request: &Request) -> Result<HttpReply, SendError> {
        drop(self.held.borrow_mut().take());
        let reply = self.inner.send(request);
        *self.held.borrow_mut() = Some(lock(self.fence));
        reply
    }
}

/// The clock: monotonic milliseconds for timers, Unix seconds for the guard.
///
/// Debug builds honour `MTGSY_DDNS_TEST_WARP=N`: guard time then runs N
/// times faster than real time, so tests can see the 10-minute floor end
/// in seconds. Release builds ignore the variable.
struct Clock {
    warp: u64,
    start: Instant,
    start_wall: i64,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            warp: test_warp(),
            start: Instant::now(),
            start_wall: system_now(),
        }
    }

    /// Milliseconds since start.
    fn ticks(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Unix seconds for the guard.
    fn wall(&self) -> i64 {
        if self.warp <= 1 {
            return system_now();
        }
        let warped = self.ticks().saturating_mul(self.warp) / 1000;
        self.start_wall
            .saturating_add(i64::try_from(warped).unwrap_or(i64::MAX))
    }

    /// Real milliseconds for `secs` guard seconds (rounded up).
    fn ms_for<T: TryInto<u64>>(&self, secs: T) -> u64 {
        let secs: u64 = secs.try_into().unwrap_or(0);
        secs.saturating_mul(1000).div_ceil(self.warp.max(1))
    }
}

fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(debug_assertions)]
fn test_warp() -> u64 {
    std::env::var("MTGSY_DDNS_TEST_WARP")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|w| w.clamp(1, 3600))
        .unwrap_or(1)
}

#[cfg(not(debug_assertions))]
fn test_warp() -> u64 {
    1
}

fn pollfd(fd: libc::c_int) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// The handled signals, blocked and read from a `signalfd`.
struct Signals {
    fd: OwnedFd,
}

impl Signals {
    fn block_and_open() -> io::Result<Signals> {
        // SAFETY: sigset_t is plain data, initialised by sigemptyset before
        // use; the calls get valid pointers and their results are checked.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1] {
                libc::sigaddset(&mut set, s);
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Signals {
                fd: OwnedFd::from_raw_fd(fd),
            })
        }
    }

    /// The signals that arrived, in order.
    fn read(&self) -> Vec<libc::c_int> {
        let mut out = Vec::new();
        loop {
            // SAFETY: signalfd_siginfo is plain data; read(2) writes at
            // most its size into it.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: reads at most `size` bytes into `info`.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    size,
                )
            };
            if n != size as isize {
                return out;
            }
            out.push(info.ssi_signo as libc::c_int);
        }
    }
}

/// An `eventfd` a finished check raises to wake the poll.
struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    fn new() -> io::Result<EventFd> {
        // SAFETY: plain eventfd(2) call; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor owned from here on.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn raise(&self) {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of `one`.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    fn drain(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads at most 8 bytes into `value`.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config file from a JSON value, as the CLI would read it.
    fn file(json: &serde_json::Value) -> ConfigFile {
        ConfigFile::parse("c.json", &json.to_string()).unwrap()
    }
    use std::net::Ipv4Addr;
    use std::time::Duration;

    fn base() -> Settings {
        let mut s = Settings::default();
        s.set("username", "top@example.com").unwrap();
        s.set("password", "pw").unwrap();
        s
    }

    #[test]
    fn interface_flag_alone_means_interface_source() {
        let mut s = base();
        s.set("interface", "wan0").unwrap();
        let c = configs(&s, None).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].address, AddressSource::Interface("wan0".into()));
    }

    #[test]
    fn hosts_inherit_and_override() {
        let mut s = base();
        s.set("interface", "wan0").unwrap();
        s.set("check_interval", "300").unwrap();
        let json = serde_json::json!({
            "hosts": [
                {"username": "a.example.com"},
                {"username": "b.example.com", "interface": "wan1", "hb": 1},
                {"username": "c.example.com", "ip": "1.2.3.4"},
            ]
        });
        let c = configs(&s, Some(&file(&json))).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].username, "a.example.com");
        assert_eq!(c[0].address, AddressSource::Interface("wan0".into()));
        assert_eq!(c[1].address, AddressSource::Interface("wan1".into()));
        assert!(c[1].hb && !c[0].hb);
        assert_eq!(
            c[2].address,
            AddressSource::Fixed(Ipv4Addr::new(1, 2, 3, 4))
        );
        assert!(c
            .iter()
            .all(|c| c.check_interval == Duration::from_secs(300)));
    }

    #[test]
    fn host_errors_name_the_host() {
        let mut s = base();
        s.set("interface", "wan0").unwrap();
        let cases = [
            (
                serde_json::json!({"hosts": [{"username": "a.example.com"}, {"port": 80}]}),
                "hosts[1].port",
            ),
            (
                serde_json::json!({"hosts": [{"username": "a.example.com"}, {"username": "a.example.com"}]}),
                "hosts[1].username",
            ),
            // One account however it is spelt, whatever state file each names.
            (
                serde_json::json!({"hosts": [{"username": "A.Example.COM"}, {"username": "a.example.com."}]}),
                "hosts[1].username",
            ),
            (
                serde_json::json!({"hosts": [
                    {"username": "Alice@Example.com", "state": "/tmp/one/state.json"},
                    {"username": "alice@example.com", "state": "/tmp/two/state.json"}
                ]}),
                "hosts[1].username",
            ),
            (serde_json::json!({"hosts": []}), "hosts"),
            (serde_json::json!({"hosts": {"username": "x"}}), "hosts"),
            (serde_json::json!({"hosts": ["x"]}), "hosts[0]"),
            (
                serde_json::json!({"hosts": [{"hosts": []}]}),
                "hosts[0].hosts",
            ),
        ];
        for (json, field) in cases {
            let e = configs(&s, Some(&file(&json))).unwrap_err();
            assert_eq!(e.field(), field, "{json} → {e}");
        }
        let e = configs(&base(), None).unwrap_err();
        assert_eq!(e.field(), "ip");
    }

    #[test]
    fn aliases_belong_to_their_interface() {
        assert!(concerns("wan0", "wan0"));
        assert!(concerns("wan0", "wan0:1"));
        assert!(!concerns("wan0", "wan01"));
        assert!(!concerns("wan0", "wan"));
    }

    #[test]
    fn warped_clock_converts_guard_seconds() {
        let c = Clock {
            warp: 60,
            start: Instant::now(),
            start_wall: 1_000,
        };
        assert_eq!(c.ms_for(600), 10_000);
        assert_eq!(c.ms_for(1), 17);
        assert!(c.wall() >= 1_000);
        let real = Clock {
            warp: 1,
            start: Instant::now(),
            start_wall: 0,
        };
        assert_eq!(real.ms_for(600u64), 600_000);
        assert_eq!(real.ms_for(-5i64), 0);
    }

    #[test]
    fn routing_events_to_hosts() {
        let mut s = base();
        s.set("interface", "wan0").unwrap();
        let json = serde_json::json!({"hosts": [
            {"username": "a.example.com"},
            {"username": "b.example.com", "interface": "wan1"},
            {"username": "c.example.com", "ip": "1.2.3.4"},
            {"username": "d.example.com", "ip_source": "command", "ip_command": "echo 1.2.3.4"},
        ]});
        let hosts = build_hosts(configs(&s, Some(&file(&json))).unwrap()).unwrap();
        let log: SharedLog = Arc::new(|_, _| {});
        let mut sched = Schedule::new(hosts.len(), 0);
        for i in 0..hosts.len() {
            sched.started(i);
            sched.finished(i, 0, 600_000, None);
        }
        let event = netlink::AddrEvent {
            change: Change::Added,
            index: 0,
            prefix_len: 24,
            scope: 0,
            label: Some("wan1".into()),
            address: Some(Ipv4Addr::new(5, 6, 7, 8)),
        };
        route(&event, &hosts, &mut sched, 100, &log);
        assert_eq!(sched.due(100), Some(1));
        sched.started(1);
        sched.finished(1, 100, 600_000, None);
        assert_eq!(sched.due(100), None);
        assert_eq!(sched.next(), Some(100 + SETTLE_MS));
        assert_eq!(sched.due(100 + SETTLE_MS), Some(3));
        // Loopback events concern nobody.
        let mut sched2 = sched.clone();
        let lo = netlink::AddrEvent {
            label: Some("lo".into()),
            address: Some(Ipv4Addr::LOCALHOST),
            ..event
        };
        route(&lo, &hosts, &mut sched2, 200, &log);
        assert_eq!(sched2, sched);
    }
}

//! Watch mode's event loop: [`run`].
//!
//! One thread sleeps in `poll(2)` over three descriptors: the rtnetlink
//! socket (IPv4 address events), a `signalfd` (SIGTERM, SIGINT, SIGHUP,
//! SIGUSR1) and an `eventfd` a check raises when it ends. The poll timeout
//! is the next timer of the [`Schedule`]: the safety-net re-check
//! (`check_interval`, spread by ±10%), the check an address event asked
//! for (after its random delay, `jitter`) or, when the rate guard deferred
//! an update, the moment the guard allows it (after a failure, spread over
//! the back-off step). Nothing else wakes the process.
//!
//! The loop starts one check at a time on a worker thread, reloads the
//! configuration on SIGHUP between checks, checks every host on SIGUSR1,
//! and stops on SIGTERM or SIGINT by taking the check's fence and keeping
//! it. Between checks it hands the pages of its code back to the kernel.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::error::Error;
use crate::update::Level;
use crate::worker::{self, Worker};

use super::check::{lock, report, Done, Job};
use super::clock::Clock;
use super::hosts::{announce, build_hosts, Host};
use super::netlink;
use super::route::read_events;
use super::schedule::Schedule;
use super::SharedLog;

/// Largest datagram read from the netlink socket (the kernel's
/// notifications fit in a page).
const NETLINK_BUF: usize = 8192;

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
    let os = |what: &'static str, cause: io::Error| Error::System { what, cause };
    let signals =
        Signals::block_and_open().map_err(|e| os("watch mode: cannot set up signals", e))?;
    let socket = netlink::Socket::open().map_err(|e| {
        os(
            "watch mode: cannot subscribe to rtnetlink address events",
            e,
        )
    })?;
    let wake = Arc::new(EventFd::new().map_err(|e| os("watch mode: cannot create an eventfd", e))?);
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
                        let safety = hosts[i].safety_ms(&clock);
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
            return Err(os("watch mode: poll failed", e));
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
            let spread = |host: &Host| host.event_delay_ms(&clock);
            read_events(&socket, &mut buf, &hosts, &mut schedule, now, &spread, &log)
                .map_err(|e| os("watch mode: reading rtnetlink failed", e))?;
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
                    let safety = hosts[i].safety_ms(&clock);
                    schedule.finished(i, clock.ticks(), safety, None);
                    continue;
                };
                let host = &hosts[done.index];
                let retry = report(host, &done.result, &log);
                let safety = host.safety_ms(&clock);
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

/// A poll entry waiting for `fd` to become readable.
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
    /// Blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1 in the calling thread
    /// and opens a `signalfd` that reads them.
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
    /// A new non-blocking eventfd at zero.
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

    /// Wakes the poll.
    fn raise(&self) {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of `one`.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Clears the wake-up.
    fn drain(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads at most 8 bytes into `value`.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
    }
}

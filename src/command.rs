//! Running the user's address command: `/bin/sh -c COMMAND` started with
//! `posix_spawn(3)`, its standard output read through a pipe until a
//! deadline.
//!
//! `std::process::Command` would do the job, but it links about 12 KB
//! (an environment map, fork and exec fallbacks, pidfd support) that every
//! router pays for in flash, for the one program the client ever starts.
//! The child gets what `Command` would give it: the caller's environment,
//! an empty signal mask (watch mode blocks signals for its `signalfd`),
//! `SIGPIPE` back at its default, standard input and error on `/dev/null`,
//! and no other descriptors (std opens everything close-on-exec).

use std::ffi::{c_char, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

extern "C" {
    /// The process environment (POSIX), passed on to the child unchanged.
    static environ: *const *mut c_char;
}

/// How the command ended, when it ended by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "signal {s}"),
        }
    }
}

/// Runs `/bin/sh -c command`, returns how it ended and at most
/// `max_output` bytes of what it printed. A command still running at
/// `timeout` is killed (`SIGKILL`) and reaped, and the error says so.
pub fn run_shell(
    command: &str,
    timeout: Duration,
    max_output: usize,
) -> Result<(Exit, Vec<u8>), String> {
    let command =
        CString::new(command).map_err(|_| "the command contains a NUL byte".to_string())?;
    let deadline = Instant::now() + timeout;
    let (read_end, write_end) = pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
    let child =
        spawn_shell(&command, &write_end).map_err(|e| format!("cannot start /bin/sh: {e}"))?;
    // Only the child holds the write end now: end of file means it is done
    // writing.
    drop(write_end);
    let output = read_until(read_end, deadline, max_output);
    child.wait_until(deadline).map_or_else(
        || Err(format!("did not finish within {} s", timeout.as_secs())),
        |exit| Ok((exit, output)),
    )
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both are open descriptors owned by no one
    // else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A started child; dropping it without reaping kills and reaps it.
struct Child {
    pid: libc::pid_t,
    reaped: bool,
}

fn spawn_shell(command: &CString, stdout: &OwnedFd) -> io::Result<Child> {
    let argv: [*const c_char; 4] = [
        c"sh".as_ptr(),
        c"-c".as_ptr(),
        command.as_ptr(),
        std::ptr::null(),
    ];
    let check = |rc: libc::c_int| match rc {
        0 => Ok(()),
        rc => Err(io::Error::from_raw_os_error(rc)),
    };
    // SAFETY: the file actions and attributes are initialised before use
    // and destroyed once each; every pointer passed (paths, argv, environ)
    // is a NUL-terminated string or a NULL-terminated array that outlives
    // the call, and posix_spawn copies what it needs before returning.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        check(libc::posix_spawn_file_actions_init(&mut actions))?;
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        if let Err(e) = check(libc::posix_spawnattr_init(&mut attr)) {
            libc::posix_spawn_file_actions_destroy(&mut actions);
            return Err(e);
        }
        let spawned = (|| {
            let dev_null = c"/dev/null".as_ptr();
            let mut no_signals: libc::sigset_t = std::mem::zeroed();
            let mut sigpipe: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut no_signals);
            libc::sigemptyset(&mut sigpipe);
            libc::sigaddset(&mut sigpipe, libc::SIGPIPE);
            let flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
            check(libc::posix_spawn_file_actions_addopen(
                &mut actions,
                0,
                dev_null,
                libc::O_RDONLY,
                0,
            ))?;
            check(libc::posix_spawn_file_actions_adddup2(
                &mut actions,
                stdout.as_raw_fd(),
                1,
            ))?;
            check(libc::posix_spawn_file_actions_addopen(
                &mut actions,
                2,
                dev_null,
                libc::O_WRONLY,
                0,
            ))?;
            check(libc::posix_spawnattr_setsigmask(&mut attr, &no_signals))?;
            check(libc::posix_spawnattr_setsigdefault(&mut attr, &sigpipe))?;
            check(libc::posix_spawnattr_setflags(
                &mut attr,
                flags as libc::c_short,
            ))?;
            let mut pid = 0;
            check(libc::posix_spawn(
                &mut pid,
                c"/bin/sh".as_ptr(),
                &actions,
                &attr,
                argv.as_ptr() as *const *mut c_char,
                environ,
            ))?;
            Ok(Child { pid, reaped: false })
        })();
        libc::posix_spawnattr_destroy(&mut attr);
        libc::posix_spawn_file_actions_destroy(&mut actions);
        spawned
    }
}

/// Reads from `fd` until end of file, `max` bytes, or `deadline`.
fn read_until(fd: OwnedFd, deadline: Instant, max: usize) -> Vec<u8> {
    let mut output = Vec::new();
    let mut buf = [0u8; 1024];
    while output.len() < max {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let wait_ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, wait_ms) };
        if ready < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        if ready <= 0 {
            break;
        }
        let want = buf.len().min(max - output.len());
        // SAFETY: `buf` has room for `want` bytes.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), want) };
        match n {
            0 => break,
            n if n > 0 => output.extend_from_slice(&buf[..n as usize]),
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            _ => break,
        }
    }
    output
}

impl Child {
    /// Waits for the child to end until `deadline`; `None` if it had to be
    /// killed.
    fn wait_until(mut self, deadline: Instant) -> Option<Exit> {
        loop {
            let mut status = 0;
            // SAFETY: `pid` is our unreaped child; `status` is writable.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                self.reaped = true;
                return Some(if libc::WIFSIGNALED(status) {
                    Exit::Signal(libc::WTERMSIG(status))
                } else {
                    Exit::Code(libc::WEXITSTATUS(status))
                });
            }
            if r < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                // Someone else reaped it (SIGCHLD ignored): nothing to wait for.
                self.reaped = true;
                return Some(Exit::Code(0));
            }
            if Instant::now() >= deadline {
                return None; // Drop kills and reaps it.
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: `pid` is our unreaped child, so it cannot have been
            // reused by another process.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn output_and_exit_status() {
        assert_eq!(
            run_shell("echo hello; exit 3", T, 100).unwrap(),
            (Exit::Code(3), b"hello\n".to_vec())
        );
        assert_eq!(run_shell("kill -9 $$", T, 100).unwrap().0, Exit::Signal(9));
    }

    #[test]
    fn output_is_capped() {
        let (_, out) = run_shell("yes 1.2.3.4 | head -c 100000", T, 1000).unwrap();
        assert_eq!(out.len(), 1000);
    }

    #[test]
    fn a_slow_command_is_killed_at_the_deadline() {
        let start = Instant::now();
        let err = run_shell("sleep 5", Duration::from_millis(200), 100).unwrap_err();
        assert!(err.contains("did not finish within"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn child_sees_environment_and_no_stdin() {
        std::env::set_var("MTGSY_COMMAND_TEST", "from-parent");
        let (exit, out) = run_shell("echo $MTGSY_COMMAND_TEST; cat; echo end", T, 100).unwrap();
        assert_eq!(exit, Exit::Code(0));
        assert_eq!(out, b"from-parent\nend\n");
    }

    #[test]
    fn child_has_sigpipe_at_its_default() {
        // Rust starts with SIGPIPE ignored, and an ignored signal stays
        // ignored across exec: a command whose reader went away would then
        // spin on EPIPE instead of dying. (The blocked mask cannot be seen
        // from here: dash clears it itself at start-up.)
        let (_, out) = run_shell("grep '^SigIgn' /proc/self/status", T, 1000).unwrap();
        let text = String::from_utf8(out).unwrap();
        let ignored = text.split_whitespace().nth(1).expect("a SigIgn line");
        let ignored = u64::from_str_radix(ignored, 16).unwrap();
        assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)), 0, "{text}");
    }

    #[test]
    fn nul_in_command_is_refused() {
        assert!(run_shell("echo a\0b", T, 10).unwrap_err().contains("NUL"));
    }
}

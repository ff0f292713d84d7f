//! Running the user's address command: `/bin/sh -c COMMAND` started with
//! `posix_spawn(3)`, its standard output read through a pipe until a
//! deadline.
//!
//! `std::process::Command` would do the job, but it links about 12 KB
//! (an environment map, fork and exec fallbacks, pidfd support) that every
//! router pays for in flash, for the one program the client ever starts.
//! The child gets what `Command` would give it: the caller's environment
//! less every secret (no `MTGSY_*` variable, no variable whose value holds
//! a secret the caller names), an empty signal mask (watch mode blocks
//! signals for its `signalfd`), `SIGPIPE` back at its default, standard
//! input and error on `/dev/null`, and no other descriptors (std opens
//! everything close-on-exec). It leads a process group of its own; when
//! it has ended or timed out, whatever is left in that group (a stray
//! background job, a grandchild holding the pipe) is killed.

use std::ffi::{c_char, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

extern "C" {
    /// The process environment (POSIX), passed on to the child less its
    /// secrets.
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
/// `timeout` is killed (`SIGKILL`, its whole process group) and reaped, and
/// the error says so. The child's environment carries no `MTGSY_*`
/// variable and no variable whose value contains one of `secrets`.
pub fn run_shell(
    command: &str,
    timeout: Duration,
    max_output: usize,
    secrets: &[&str],
) -> Result<(Exit, Vec<u8>), String> {
    run_shell_env(command, timeout, max_output, secrets, &[])
}

/// [`run_shell`] with `extra` (`NAME`, value) entries added to the
/// child's environment after the filtering (a NUL byte in one is dropped).
/// Name them `MTGSY_*`: no inherited variable of that name is left for
/// them to clash with.
pub fn run_shell_env(
    command: &str,
    timeout: Duration,
    max_output: usize,
    secrets: &[&str],
    extra: &[(&str, &str)],
) -> Result<(Exit, Vec<u8>), String> {
    let command =
        CString::new(command).map_err(|_| "the command contains a NUL byte".to_string())?;
    let deadline = Instant::now() + timeout;
    let (read_end, write_end) = pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
    let extra: Vec<CString> = extra
        .iter()
        .filter_map(|(name, value)| CString::new(format!("{name}={value}").replace('\0', "")).ok())
        .collect();
    // SAFETY: `environ` is the process environment, a NULL-terminated
    // array of NUL-terminated strings (or NULL), read before the spawn as
    // posix_spawn itself would read it.
    let mut env = unsafe { environment_without(environ, secrets) };
    // Before the final NULL; `extra` outlives the spawn.
    env.pop();
    env.extend(extra.iter().map(|e| e.as_ptr()));
    env.push(std::ptr::null());
    let child = spawn_shell(&command, &write_end, &env)
        .map_err(|e| format!("cannot start /bin/sh: {e}"))?;
    // Only the child holds the write end now: end of file means it is done
    // writing.
    drop(write_end);
    let output = read_until(read_end, deadline, max_output);
    child.wait_until(deadline).map_or_else(
        || {
            Err(format!(
                "did not finish within {} s; killed with its process group",
                timeout.as_secs()
            ))
        },
        |exit| Ok((exit, output)),
    )
}

/// Whether the environment entry `NAME=value` may reach the command: not
/// when it is one of the client's own variables (`MTGSY_PASSWORD`,
/// `MTGSY_USERNAME`, …) or its value holds one of `secrets`.
fn passes_on(entry: &[u8], secrets: &[&str]) -> bool {
    let (name, value) = match entry.iter().position(|&b| b == b'=') {
        Some(i) => (&entry[..i], &entry[i + 1..]),
        None => (entry, &[][..]),
    };
    if name.starts_with(b"MTGSY_") {
        return false;
    }
    !secrets
        .iter()
        .filter(|s| !s.is_empty())
        .any(|s| value.windows(s.len()).any(|w| w == s.as_bytes()))
}

/// The entries of `env` that [`passes_on`] keeps, NULL-terminated: they
/// point into `env`'s own strings.
///
/// # Safety
/// `env` is NULL or a NULL-terminated array of NUL-terminated strings that
/// stay alive and unchanged while the result is used.
unsafe fn environment_without(env: *const *mut c_char, secrets: &[&str]) -> Vec<*const c_char> {
    let mut kept = Vec::new();
    if !env.is_null() {
        let mut i = 0;
        loop {
            // SAFETY: within the NULL-terminated array, by the contract.
            let entry = unsafe { *env.add(i) };
            if entry.is_null() {
                break;
            }
            // SAFETY: a NUL-terminated string, by the contract.
            let bytes = unsafe { std::ffi::CStr::from_ptr(entry) }.to_bytes();
            if passes_on(bytes, secrets) {
                kept.push(entry.cast_const());
            }
            i += 1;
        }
    }
    kept.push(std::ptr::null());
    kept
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

fn spawn_shell(command: &CString, stdout: &OwnedFd, env: &[*const c_char]) -> io::Result<Child> {
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
    // the call (`env` ends in NULL: see environment_without), and
    // posix_spawn copies what it needs before returning.
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
            // A process group of its own (group id = its pid), so that a
            // timeout can kill everything it started.
            let flags = libc::POSIX_SPAWN_SETSIGMASK
                | libc::POSIX_SPAWN_SETSIGDEF
                | libc::POSIX_SPAWN_SETPGROUP;
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
            check(libc::posix_spawnattr_setpgroup(&mut attr, 0))?;
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
                env.as_ptr() as *const *mut c_char,
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
    /// killed. Either way, what is left of its process group is killed
    /// before the child is reaped (while its pid, the group's id, cannot be
    /// reused).
    fn wait_until(mut self, deadline: Instant) -> Option<Exit> {
        loop {
            // SAFETY: an all-zero siginfo_t is a valid value to fill.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: `pid` is our child; `info` is writable. WNOWAIT
            // leaves it a zombie: its pid stays ours.
            let r = unsafe {
                libc::waitid(
                    libc::P_PID,
                    self.pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                )
            };
            // SAFETY: waitid succeeded, so `info` holds a child's fields
            // (si_pid 0 when none had changed state).
            if r == 0 && unsafe { info.si_pid() } == self.pid {
                self.kill_group();
                let mut status = 0;
                // SAFETY: `pid` is our exited, unreaped child.
                let reaped = unsafe { libc::waitpid(self.pid, &mut status, 0) };
                self.reaped = true;
                if reaped != self.pid {
                    return Some(Exit::Code(0));
                }
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
                return None; // Drop kills the group and reaps the child.
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills every process in the child's group (the child included).
    fn kill_group(&self) {
        // SAFETY: the group's id is our unreaped child's pid, so no other
        // group can have it; killing an empty group does nothing.
        unsafe { libc::kill(-self.pid, libc::SIGKILL) };
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill_group();
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
            run_shell("echo hello; exit 3", T, 100, &[]).unwrap(),
            (Exit::Code(3), b"hello\n".to_vec())
        );
        assert_eq!(
            run_shell("kill -9 $$", T, 100, &[]).unwrap().0,
            Exit::Signal(9)
        );
    }

    #[test]
    fn output_is_capped() {
        let (_, out) = run_shell("yes 1.2.3.4 | head -c 100000", T, 1000, &[]).unwrap();
        assert_eq!(out.len(), 1000);
    }

    #[test]
    fn a_slow_command_is_killed_at_the_deadline() {
        let start = Instant::now();
        let err = run_shell("sleep 5", Duration::from_millis(200), 100, &[]).unwrap_err();
        assert!(err.contains("did not finish within"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn child_environment_carries_no_secret() {
        std::env::set_var("MTGSY_PASSWORD", "pw-from-env");
        std::env::set_var("MTGSY_USERNAME", "user-from-env");
        std::env::set_var("COPY_OF_SECRET", "prefix-s3cret Pw-suffix");
        std::env::set_var("HARMLESS_FOR_TEST", "kept");
        let (_, out) = run_shell("env", T, 1 << 16, &["s3cret Pw", ""]).unwrap();
        let env = String::from_utf8(out).unwrap();
        for gone in [
            "MTGSY_PASSWORD",
            "MTGSY_USERNAME",
            "COPY_OF_SECRET",
            "s3cret",
        ] {
            assert!(!env.contains(gone), "{gone} reached the command:\n{env}");
        }
        assert!(env.contains("HARMLESS_FOR_TEST=kept"), "{env}");
        assert!(env.contains("PATH="), "{env}");
    }

    #[test]
    fn a_timeout_kills_the_whole_group_grandchildren_too() {
        let dir = std::env::temp_dir().join(format!("mtgsy-cmd-group-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let script = format!(
            "(sleep 3; touch {d}/outlived) >/dev/null 2>&1 & echo $! >{d}/pid; sleep 30",
            d = dir.display()
        );
        let err = run_shell(&script, Duration::from_millis(500), 100, &[]).unwrap_err();
        assert!(err.contains("did not finish"), "{err}");
        let pid: i32 = std::fs::read_to_string(dir.join("pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SIGKILL is delivered at once; give init a moment to reap it.
        let gone = (0..100).any(|_| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            if stat.is_empty() || state.starts_with('Z') {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
            false
        });
        assert!(gone, "the grandchild {pid} outlived the timeout");
        std::thread::sleep(Duration::from_millis(3200));
        assert!(!dir.join("outlived").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn child_leads_its_own_process_group() {
        let (_, out) = run_shell("cut -d' ' -f5 /proc/$$/stat; echo $$", T, 100, &[]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), lines.next(), "pgid, pid: {text}");
        // SAFETY: getpgrp has no preconditions.
        let ours = unsafe { libc::getpgrp() };
        assert_ne!(text.lines().next().unwrap(), ours.to_string());
    }

    #[test]
    fn child_sees_environment_and_no_stdin() {
        std::env::set_var("COMMAND_TEST_VAR", "from-parent");
        let (exit, out) = run_shell("echo $COMMAND_TEST_VAR; cat; echo end", T, 100, &[]).unwrap();
        assert_eq!(exit, Exit::Code(0));
        assert_eq!(out, b"from-parent\nend\n");
    }

    #[test]
    fn child_has_sigpipe_at_its_default() {
        // Rust starts with SIGPIPE ignored, and an ignored signal stays
        // ignored across exec: a command whose reader went away would then
        // spin on EPIPE instead of dying. (The blocked mask cannot be seen
        // from here: dash clears it itself at start-up.)
        let (_, out) = run_shell("grep '^SigIgn' /proc/self/status", T, 1000, &[]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let ignored = text.split_whitespace().nth(1).expect("a SigIgn line");
        let ignored = u64::from_str_radix(ignored, 16).unwrap();
        assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)), 0, "{text}");
    }

    #[test]
    fn extra_entries_are_added_after_the_filter() {
        std::env::set_var("MTGSY_EXTRA_TEST", "inherited");
        let (_, out) = run_shell_env(
            "echo \"$MTGSY_A|${MTGSY_EXTRA_TEST-gone}|$MTGSY_B\"",
            T,
            100,
            &[],
            &[("MTGSY_A", "a b"), ("MTGSY_B", "c\0d")],
        )
        .unwrap();
        assert_eq!(out, b"a b|gone|cd\n");
    }

    #[test]
    fn nul_in_command_is_refused() {
        assert!(run_shell("echo a\0b", T, 10, &[])
            .unwrap_err()
            .contains("NUL"));
    }
}

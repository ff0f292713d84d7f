//! A thread for one job, without `std::thread`.
//!
//! The client needs a second thread in two places: watch mode runs each
//! check on one (so signals and address events are handled during a
//! request), and a name lookup runs on one so that it can be given up at
//! its deadline. `std::thread` would do, but it links about 35 KB on x86_64
//! (its thread registry and naming, which pulls in musl's `printf`, and the
//! channels that come with it). A worker is `pthread_create` with an
//! explicit stack, a result slot behind a mutex and a condition variable,
//! and a join.
//!
//! A job that panics (only possible in debug builds: the router profile
//! aborts) leaves its slot empty; [`Worker::join`] then returns `None`.

use std::ffi::c_void;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Stack for a worker, std's default for its threads: a TLS handshake
/// (ring's big-number and curve code, rustls's state machine; more in debug
/// builds) needs far more than musl's 128 KiB. Only the pages touched count
/// toward RSS.
const STACK_SIZE: usize = 2 << 20;

/// What the job left behind, and whether it has ended.
struct Slot<T> {
    state: Mutex<(bool, Option<T>)>,
    ended: Condvar,
}

/// A running (or finished) job on its own thread.
pub struct Worker<T> {
    thread: libc::pthread_t,
    slot: Arc<Slot<T>>,
    joined: bool,
}

/// The closure, the slot and the end hook, handed to the new thread.
struct Start<T> {
    job: Box<dyn FnOnce() -> T + Send>,
    slot: Arc<Slot<T>>,
    on_end: Box<dyn FnOnce() + Send>,
}

/// Starts `job` on a new thread.
pub fn spawn<T, F>(job: F) -> io::Result<Worker<T>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    spawn_then(job, || {})
}

/// Starts `job` on a new thread; `on_end` runs on that thread once the
/// result (or the panic) is recorded, so that whoever it wakes finds the
/// worker finished.
pub fn spawn_then<T, F, E>(job: F, on_end: E) -> io::Result<Worker<T>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
    E: FnOnce() + Send + 'static,
{
    let slot = Arc::new(Slot {
        state: Mutex::new((false, None)),
        ended: Condvar::new(),
    });
    let start = Box::into_raw(Box::new(Start {
        job: Box::new(job),
        slot: slot.clone(),
        on_end: Box::new(on_end),
    }));
    // SAFETY: `attr` is initialised before use and destroyed once.
    // `start` is a valid pointer from Box::into_raw; on success the new
    // thread takes ownership (see `run::<T>`), on failure it is reclaimed
    // here, so it is freed exactly once.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        let mut rc = libc::pthread_attr_init(&mut attr);
        if rc == 0 {
            rc = libc::pthread_attr_setstacksize(&mut attr, STACK_SIZE);
            let mut thread: libc::pthread_t = std::mem::zeroed();
            if rc == 0 {
                rc = libc::pthread_create(&mut thread, &attr, run::<T>, start.cast());
            }
            libc::pthread_attr_destroy(&mut attr);
            if rc == 0 {
                return Ok(Worker {
                    thread,
                    slot,
                    joined: false,
                });
            }
        }
        drop(Box::from_raw(start));
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// The new thread's entry point.
extern "C" fn run<T>(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the `Start<T>` that `spawn` leaked for this thread,
    // and nothing else uses it.
    let start = unsafe { Box::from_raw(arg.cast::<Start<T>>()) };
    let Start { job, slot, on_end } = *start;
    // No unwinding may cross this extern "C" boundary.
    let result = catch_unwind(AssertUnwindSafe(job)).ok();
    {
        let mut state = slot.state.lock().unwrap_or_else(|p| p.into_inner());
        *state = (true, result);
        slot.ended.notify_all();
    }
    let _ = catch_unwind(AssertUnwindSafe(on_end));
    std::ptr::null_mut()
}

impl<T> Worker<T> {
    /// Whether the job has ended (with a result or a panic).
    pub fn is_finished(&self) -> bool {
        self.state().0
    }

    /// Waits up to `timeout` for the job to end; whether it did.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.state();
        while !state.0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = match self.slot.ended.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }

    /// Waits for the job to end and returns its result; `None` if it
    /// panicked.
    pub fn join(mut self) -> Option<T> {
        self.join_thread();
        self.state().1.take()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, (bool, Option<T>)> {
        self.slot.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn join_thread(&mut self) {
        if !self.joined {
            self.joined = true;
            // SAFETY: `thread` was created joinable by `spawn` and is joined
            // at most once (`joined`).
            unsafe { libc::pthread_join(self.thread, std::ptr::null_mut()) };
        }
    }
}

impl<T> Drop for Worker<T> {
    /// A worker dropped before it was joined is detached: the job runs to
    /// its end and its thread then frees itself.
    fn drop(&mut self) {
        if !self.joined {
            // SAFETY: `thread` is joinable and was neither joined nor
            // detached before.
            unsafe { libc::pthread_detach(self.thread) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_returns_the_result() {
        let w = spawn(|| 6 * 7).unwrap();
        assert_eq!(w.join(), Some(42));
    }

    #[test]
    fn finished_and_wait_timeout() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let w = spawn(move || {
            let _ = rx.recv();
            "done"
        })
        .unwrap();
        assert!(!w.is_finished());
        assert!(!w.wait_timeout(Duration::from_millis(50)));
        tx.send(()).unwrap();
        assert!(w.wait_timeout(Duration::from_secs(5)));
        assert!(w.is_finished());
        assert_eq!(w.join(), Some("done"));
    }

    #[test]
    fn on_end_runs_after_the_result_is_recorded() {
        let (tx, rx) = std::sync::mpsc::channel();
        let w = spawn_then(|| 1, move || tx.send(()).unwrap()).unwrap();
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(w.is_finished(), "woken before the result was recorded");
        assert_eq!(w.join(), Some(1));
    }

    #[test]
    fn a_panicking_job_gives_none() {
        // The panic is on purpose: keep its message and backtrace off the
        // terminal (the worker thread's output is not captured by the test
        // harness); every other panic still goes to the hook there was.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&"test panic in a worker") {
                previous(info);
            }
        }));
        let w = spawn(|| -> u8 { panic!("test panic in a worker") }).unwrap();
        assert_eq!(w.join(), None);
    }

    #[test]
    fn a_dropped_worker_still_runs_its_job() {
        let (tx, rx) = std::sync::mpsc::channel();
        drop(spawn(move || tx.send(1).unwrap()).unwrap());
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(1));
    }

    #[test]
    fn deep_stack_is_available() {
        // Several hundred KiB of stack: far more than musl's default.
        fn depth(n: u32) -> u32 {
            let pad = std::hint::black_box([0u8; 1024]);
            if n == 0 {
                0
            } else {
                depth(n - 1) + 1 + u32::from(pad[0])
            }
        }
        assert_eq!(spawn(|| depth(400)).unwrap().join(), Some(400));
    }
}

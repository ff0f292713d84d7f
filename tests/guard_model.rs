//! Model-based test of the rate guard: thousands of random event sequences
//! (address changes, forced runs, replies of every class, network failures,
//! clock jumps backwards and forwards, reboots, lost or corrupt state,
//! concurrent runs, crashes mid-request) run through the real update cycle
//! with an in-memory transport and a real state file, checked against a
//! simple model of the service's rules:
//!
//! 1. two requests that may have reached the server are never less than
//!    600 s apart by the clock in force, nor, on one boot, by the boot
//!    clock (true time, given by `MTGSY_DDNS_BOOT`) (unless the state was
//!    lost between them — a client cannot remember what it forgot);
//! 2. an address known to be registered is not sent again inside the force
//!    interval unless forced, and never within a day of the last request
//!    that carried it, forced or not;
//! 3. a needed update is not held back when no rule holds it.
//!
//! Each case prints its seed on failure; `GUARD_MODEL_CASES` sets the count.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Mutex;

use mtgsy_ddns::config::Settings;
use mtgsy_ddns::transport::{HttpReply, SendError, Transport};
use mtgsy_ddns::update::{self, RunOptions};
use mtgsy_ddns::Request;

const FLOOR: i64 = 600;
const FORCE_INTERVAL: i64 = 86_400;
/// An update that changes nothing: at most once in this many seconds.
const UNREQUIRED: i64 = 86_400;
const MAX_BACKOFF: i64 = 3600;
const HOLD: i64 = 86_400;

/// xorshift64*: small, reproducible randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// What the fake server does with the next request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Server {
    Accept,
    Unconfirmed,
    Reject,
    Block,
    Error5xx,
    Unreachable,
    TimeoutAfterSend,
    CrashMidRequest,
}

/// An in-memory transport that logs every request that reached it.
struct FakeTransport {
    behaviour: Mutex<Server>,
    now: i64,
    /// Every call: (time, address, whether it reached the server).
    log: Mutex<Vec<(i64, Ipv4Addr, bool)>>,
}

impl Transport for FakeTransport {
    fn send(&self, request: &Request) -> Result<HttpReply, SendError> {
        let behaviour = *self.behaviour.lock().unwrap();
        let ip: Ipv4Addr = request
            .url()
            .split("&ip=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .and_then(|s| s.parse().ok())
            .expect("every request carries ip");
        let reached = behaviour != Server::Unreachable;
        self.log.lock().unwrap().push((self.now, ip, reached));
        let reply = |status: u16, body: &str| {
            Ok(HttpReply {
                status,
                body: body.as_bytes().to_vec(),
            })
        };
        match behaviour {
            Server::Accept => reply(200, "800 OK"),
            Server::Unconfirmed => reply(200, "thanks"),
            Server::Reject => reply(200, "300 Invalid login"),
            Server::Block => reply(200, "blocked"),
            Server::Error5xx => reply(500, "oops"),
            Server::Unreachable => Err(SendError {
                may_have_reached_server: false,
                message: "refused".into(),
            }),
            Server::TimeoutAfterSend => Err(SendError {
                may_have_reached_server: true,
                message: "timeout".into(),
            }),
            // The process dies after the request left: the lock is released
            // as the stack unwinds, the attempt stays recorded as pending.
            Server::CrashMidRequest => panic!("simulated crash"),
        }
    }
}

/// What the model knows of the server and the client.
#[derive(Default)]
struct Model {
    /// Requests that reached the server: (time, address, state epoch).
    reached: Vec<(i64, Ipv4Addr, u32)>,
    /// The registered address, when, and with which `hb`, if known for sure.
    registered: Option<(Ipv4Addr, i64, bool)>,
    /// When state was last lost to an unreadable file (the file's time):
    /// the floor holds from it.
    lost_at: Option<i64>,
    /// The registered address is uncertain (a request whose outcome is unknown).
    uncertain: bool,
    /// Bumped when the state file is lost or corrupted.
    epoch: u32,
    /// The latest clock reading the state holds (clock-behind rule).
    state_time: Option<i64>,
    /// The boot and boot clock of the last request that reached the server.
    reached_boot: Option<(u32, i64)>,
    last_failure: Option<i64>,
    blocked_at: Option<i64>,
    rejected: Option<(Ipv4Addr, i64)>,
}

impl Model {
    fn last_reached_in_epoch(&self) -> Option<i64> {
        self.reached
            .iter()
            .rev()
            .find(|r| r.2 == self.epoch)
            .map(|r| r.0)
    }
}

fn settings(state: &std::path::Path, ip: Ipv4Addr, hb: bool) -> mtgsy_ddns::Config {
    let mut s = Settings::default();
    for (k, v) in [
        ("username", "user@example.com"),
        ("password", "pw"),
        ("server", "https://ddns.test.invalid/dns/update.php"),
        ("force_interval", "86400"),
    ] {
        s.set(k, v).unwrap();
    }
    s.set("ip", &ip.to_string()).unwrap();
    s.set("hb", if hb { "1" } else { "0" }).unwrap();
    s.set("state", state.to_str().unwrap()).unwrap();
    s.resolve().unwrap()
}

fn run_case(seed: u64, dir: &std::path::Path) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let state: PathBuf = dir.join(format!("state-{seed}.json"));
    let _ = std::fs::remove_file(&state);
    let addrs = [
        Ipv4Addr::new(1, 2, 3, 4),
        Ipv4Addr::new(5, 6, 7, 8),
        Ipv4Addr::new(9, 9, 9, 9),
    ];
    let mut model = Model::default();
    let mut now: i64 = 1_800_000_000;
    // The boot clock: which boot, and true seconds since it began.
    let (mut boot, mut boot_s) = (0u32, 1000i64);
    let mut ip = addrs[0];
    let mut hb = false;
    let steps = 20 + rng.below(40);
    for step in 0..steps {
        let ctx = || format!("seed {seed} step {step}");
        // Time moves: mostly forward, sometimes back (a router without RTC).
        let dt = rng.pick(&[
            0i64, 1, 30, 59, 60, 120, 299, 599, 600, 601, 1200, 3600, 7200, 86_400,
        ]);
        now += dt;
        boot_s += dt;
        if rng.below(40) == 0 {
            now -= rng.pick(&[1i64, 3600, 86_400 * 365]);
        }
        // The wall clock alone stepped forward (NTP after a boot with the
        // clock behind), or a reboot.
        if rng.below(20) == 0 {
            now += rng.pick(&[600i64, 3600, 6 * 3600]);
        }
        if rng.below(30) == 0 {
            boot += 1;
            boot_s = rng.pick(&[30i64, 300]);
        }
        // Only this thread runs between steps.
        std::env::set_var("MTGSY_DDNS_BOOT", format!("boot-{boot}:{boot_s}"));
        if rng.below(4) == 0 {
            ip = rng.pick(&addrs);
        }
        // A request option changes now and then.
        if rng.below(10) == 0 {
            hb = !hb;
        }
        match rng.below(50) {
            0 => {
                let _ = std::fs::remove_file(&state);
                model = Model {
                    reached: model.reached,
                    epoch: model.epoch + 1,
                    ..Model::default()
                };
            }
            1 => {
                let _ = std::fs::write(&state, b"{\"version\":2,\"rec");
                let mtime = std::fs::metadata(&state)
                    .and_then(|m| m.modified())
                    .map(|t| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64)
                    .unwrap();
                model = Model {
                    reached: model.reached,
                    epoch: model.epoch + 1,
                    lost_at: Some(mtime),
                    ..Model::default()
                };
            }
            _ => {}
        }
        let force = rng.below(5) == 0;
        let trace = std::env::var("GUARD_MODEL_TRACE").is_ok();
        let behaviour = rng.pick(&[
            Server::Accept,
            Server::Accept,
            Server::Accept,
            Server::Unconfirmed,
            Server::Reject,
            Server::Block,
            Server::Error5xx,
            Server::Unreachable,
            Server::TimeoutAfterSend,
            Server::CrashMidRequest,
        ]);
        let runners = if rng.below(6) == 0 {
            2 + rng.below(3) as usize
        } else {
            1
        };
        let transport = FakeTransport {
            behaviour: Mutex::new(behaviour),
            now,
            log: Mutex::new(Vec::new()),
        };
        let config = settings(&state, ip, hb);
        let opts = RunOptions {
            force,
            dry_run: false,
            now,
        };

        // What the model says must or must not happen.
        let clock_behind = model.state_time.is_some_and(|t| now < t);
        let blocked = model.blocked_at.is_some_and(|t| now < t + HOLD);
        let floor_holds = model
            .last_reached_in_epoch()
            .is_some_and(|t| now < t + FLOOR)
            || model
                .reached_boot
                .is_some_and(|(b, s)| b == boot && boot_s - s < FLOOR);
        let backoff_may_hold = model.last_failure.is_some_and(|t| now < t + MAX_BACKOFF);
        let rejected_holds = model
            .rejected
            .is_some_and(|(rip, t)| rip == ip && now < t + HOLD);
        let known_same = model.registered.is_some_and(|(r, _, _)| r == ip);
        let options_changed = model.registered.is_some_and(|(_, _, h)| h != hb);
        let refresh_due = model
            .registered
            .is_some_and(|(_, t, _)| now >= t + FORCE_INTERVAL);
        let lost_floor = model.lost_at.is_some_and(|t| now < t + FLOOR);
        // An update that would change nothing goes out at most once a day,
        // counted from the last request for this address.
        let sent_same_lately = model
            .reached
            .iter()
            .any(|&(t, a, e)| e == model.epoch && a == ip && now < t + UNREQUIRED);
        let needed = model.uncertain
            || !known_same
            || options_changed
            || ((force || refresh_due) && !sent_same_lately);
        let held = clock_behind
            || blocked
            || floor_holds
            || lost_floor
            || backoff_may_hold
            || rejected_holds;
        if trace {
            eprintln!(
                "step {step}: now={now} ip={ip} force={force} server={behaviour:?} runners={runners} needed={needed} held={held} uncertain={} registered={:?}",
                model.uncertain, model.registered
            );
        }

        std::thread::scope(|scope| {
            for _ in 0..runners {
                scope.spawn(|| {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let r = update::run(&config, &opts, &transport, &mut |_, _| {});
                        if trace {
                            eprintln!(
                                "  -> {:?}",
                                r.as_ref().map(|o| (o.outcome, o.message.clone()))
                            );
                        }
                        r
                    }));
                });
            }
        });
        let log = transport.log.into_inner().unwrap();

        // At most one attempt per step, however many runs raced.
        assert!(
            log.len() <= 1,
            "{}: {} attempts in one step",
            ctx(),
            log.len()
        );
        let Some(&(t, sent_ip, reached)) = log.first() else {
            // Rule 3: nothing held it back, so it must have gone out.
            assert!(
                !needed || held,
                "{}: a needed update of {ip} was held back",
                ctx()
            );
            continue;
        };
        assert_eq!(sent_ip, ip, "{}", ctx());
        assert!(
            !clock_behind,
            "{}: attempt while the clock was behind the state",
            ctx()
        );
        assert!(!blocked, "{}: attempt while blocked", ctx());
        assert!(!rejected_holds, "{}: resent a rejected address", ctx());
        assert!(
            !lost_floor,
            "{}: attempt inside the floor after lost state",
            ctx()
        );
        // Rule 2: no redundant update.
        assert!(needed, "{}: redundant update of {sent_ip}", ctx());
        model.state_time = Some(now);
        if !reached {
            model.last_failure = Some(now);
            continue;
        }
        // Rule 1: the floor since the last request that reached the server.
        if let Some(prev) = model.last_reached_in_epoch() {
            assert!(
                t - prev >= FLOOR,
                "{}: request at {t} only {} s after {prev}",
                ctx(),
                t - prev
            );
        }
        if let Some((b, s)) = model.reached_boot.filter(|(b, _)| *b == boot) {
            assert!(
                boot_s - s >= FLOOR,
                "{}: request on boot {b} only {} s of boot time after the last",
                ctx(),
                boot_s - s
            );
        }
        model.reached.push((t, sent_ip, model.epoch));
        model.reached_boot = Some((boot, boot_s));
        match behaviour {
            Server::Accept | Server::Unconfirmed => {
                model.registered = Some((sent_ip, now, hb));
                model.uncertain = false;
                model.last_failure = None;
                model.rejected = None;
            }
            Server::Reject => {
                model.rejected = Some((sent_ip, now));
                model.last_failure = None;
            }
            Server::Block => model.blocked_at = Some(now),
            Server::Error5xx | Server::TimeoutAfterSend | Server::CrashMidRequest => {
                model.last_failure = Some(now);
                if model.registered.map(|r| r.0) != Some(sent_ip) {
                    model.uncertain = true;
                }
            }
            Server::Unreachable => unreachable!("an unreachable server is never reached"),
        }
    }
}

#[test]
fn random_event_sequences_keep_the_rules() {
    let cases: u64 = std::env::var("GUARD_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    // tmpfs when there is one: the cycle fsyncs every write, and tens of
    // thousands of runs on a disk would take minutes.
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("mtgsy-guard-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The simulated crashes panic on purpose; keep their noise out of the log.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if !info.to_string().contains("simulated crash") {
            eprintln!("{info}");
        }
    }));
    let result = std::panic::catch_unwind(|| {
        let only: Option<u64> = std::env::var("GUARD_MODEL_SEED")
            .ok()
            .and_then(|v| v.parse().ok());
        for seed in only.map_or(0..cases, |s| s..s + 1) {
            run_case(seed, &dir);
        }
    });
    std::panic::set_hook(default_hook);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    println!("guard model: {cases} cases passed");
}

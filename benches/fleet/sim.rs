//! The fleet simulation (issue 17): many clients in watch mode, one
//! service, a virtual clock.
//!
//! Every client runs the real rate guard ([`guard::decide`],
//! [`Record::attempting`], [`Record::concluded`], whose back-off is
//! [`guard::backoff`]) and the real jitter ([`jitter::event_wait`],
//! [`jitter::backoff_retry_at`], [`jitter::safety_interval`], seeded by
//! [`jitter::seed`]). Around them this file models what watch mode does
//! (an address event asks for a check; a deferral sets one retry timer,
//! spread over the event delay, left to the safety net when that comes
//! first; every check restarts the safety net) and what the world does
//! (addresses that change, a service that answers 5xx, clocks that step). Nothing sleeps and nothing touches
//! a socket or a file: events wait in a queue ordered by the true time of
//! the simulation, and each client reads its own clock, which may be wrong,
//! its boot clock, which is never stepped (which boot, and the true
//! seconds since it began), and whether its clock is synchronised (not
//! from a reboot until NTP sets it), as the real client does.
//!
//! Requests take no time and always reach the service; the service
//! answers "updated" or, during an outage, 5xx (`FailedSent`). Gaps and
//! rates are measured on the true clock.
//!
//! Shared by `benches/fleet.rs` (100,000 clients, prints the table) and
//! `tests/fleet.rs` (10,000 clients, asserts the targets).

use std::cmp::Reverse;
use std::net::Ipv4Addr;

use mtgsy_ddns::guard::{self, AttemptResult, BootTime, Decision, Now, Record, Want};
use mtgsy_ddns::jitter;

/// The true time the scenarios start their trouble at (Unix seconds).
const T0: i64 = 1_800_000_000;
/// The simulation starts an hour before the trouble (the rate before it is
/// measured there) ...
const START: i64 = -3600;
/// ... and ends six hours after it (seconds relative to [`T0`]).
pub const END: i64 = 6 * 3600;
/// Watch mode's default safety-net interval (config `check_interval`).
const CHECK_INTERVAL_S: i64 = 600;
/// Each client's address changes on its own now and then as well (a line
/// that reconnects): on average this often, at random (exponential) times.
const BACKGROUND_MEAN_S: f64 = 7200.0;
/// How long the service answers 5xx in [`Scenario::ServiceErrors`].
pub const SERVICE_OUTAGE_S: i64 = 1800;
/// How often the WANs flap in [`Scenario::Flapping`], and for how long.
const FLAP_EVERY_S: i64 = 90;
const FLAP_FOR_S: i64 = 3600;

/// What goes wrong at t = 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// (a) A regional outage: every WAN bounces at t = 0 and comes back
    /// with a new address.
    Outage,
    /// (b) Every WAN flaps every 90 s for an hour (all in step, as a
    /// regional fault would), each time with a new address.
    Flapping,
    /// (c) The service answers 5xx for 30 minutes, then recovers.
    ServiceErrors,
    /// (d1) A power cut reboots every router at t = 0 (new address, as in
    /// (a), and a new boot clock); 30% of the clocks come up hours behind
    /// (restored from a file time), 10% hours ahead (a wrong RTC); every
    /// clock counts as unsynchronised until NTP syncs it, 30 to 300 s
    /// after boot, which steps a wrong one to the true time.
    RebootClocks,
    /// (d2) No reboot: between t = 0 and 1 h, 10% of the running clocks
    /// are stepped by 1 to 6 h, half forward and half back (a bad time
    /// server), and stepped back to the true time 10 to 30 minutes later.
    SteppedClocks,
}

impl Scenario {
    /// Every scenario, in table order.
    pub const ALL: [Scenario; 5] = [
        Scenario::Outage,
        Scenario::Flapping,
        Scenario::ServiceErrors,
        Scenario::RebootClocks,
        Scenario::SteppedClocks,
    ];

    /// The table's name for it.
    pub fn label(self) -> &'static str {
        match self {
            Scenario::Outage => "(a) every WAN bounces at t=0",
            Scenario::Flapping => "(b) WANs flap every 90 s for 1 h",
            Scenario::ServiceErrors => "(c) service 5xx for 30 min",
            Scenario::RebootClocks => "(d1) reboot, clocks hours off until NTP",
            Scenario::SteppedClocks => "(d2) running clocks stepped by hours",
        }
    }
}

/// One run's measurements.
pub struct Report {
    /// What was simulated.
    pub scenario: Scenario,
    /// The event delay's maximum, J; 0 also turns off the other jitter
    /// (back-off spread, safety-net spread).
    pub jitter_s: i64,
    /// How many clients.
    pub clients: u32,
    /// Requests the service saw, per true second from [`START`].
    pub per_second: Vec<u32>,
    /// Per address change: seconds until the service held the client's
    /// address again (the new one or a newer one); [`NEVER`] for a change
    /// the service had not caught up with by the end.
    pub delays: Vec<u32>,
    /// How many delays are [`NEVER`].
    pub unresolved: u64,
    /// The delays of the address changes made at t = 0 (the bounce or the
    /// reboot of the scenario), as in [`Report::delays`].
    pub t0_delays: Vec<u32>,
    /// The smallest true gap between two requests of one client.
    pub min_gap: i64,
    /// How many true gaps were shorter than the guard's floor.
    pub gaps_under_floor: u64,
    /// The smallest true gap between two requests of one client on one
    /// boot (the boot clock's floor holds it; across a reboot only the
    /// wall clock can).
    pub min_gap_one_boot: i64,
    /// The smallest gap between two requests of one client as its own
    /// clock read them (what the guard can see).
    pub min_gap_own_clock: i64,
}

impl Report {
    /// All requests the service saw.
    pub fn requests(&self) -> u64 {
        self.per_second.iter().map(|&n| u64::from(n)).sum()
    }

    /// The most requests in one second between `from` and `to` (seconds
    /// relative to the trouble), and when.
    pub fn peak(&self, from: i64, to: i64) -> (u32, i64) {
        let (a, b) = (index(from), index(to));
        (a..b)
            .map(|i| (self.per_second[i], i as i64 + START))
            .max_by_key(|&(n, t)| (n, Reverse(t)))
            .unwrap_or((0, from))
    }

    /// Requests between `from` and `to` (seconds relative to the trouble).
    pub fn requests_between(&self, from: i64, to: i64) -> u64 {
        self.per_second[index(from)..index(to)]
            .iter()
            .map(|&n| u64::from(n))
            .sum()
    }

    /// The highest mean rate over `window` seconds (whole windows from
    /// `from` on) between `from` and `to`, in requests per second: with a
    /// small fleet, one-second counts are mostly chance.
    pub fn peak_rate(&self, from: i64, to: i64, window: i64) -> f64 {
        (from..to)
            .step_by(window.max(1) as usize)
            .map(|t| self.requests_between(t, (t + window).min(to)))
            .max()
            .map_or(0.0, |n| n as f64 / window.max(1) as f64)
    }

    /// The peak over the whole run.
    pub fn peak_all(&self) -> (u32, i64) {
        self.peak(START, END)
    }

    /// Mean requests per second in the hour before the trouble.
    pub fn rate_before(&self) -> f64 {
        self.requests_between(START, 0) as f64 / (-START) as f64
    }

    /// The 99th percentile of [`Report::delays`], in seconds.
    pub fn p99_delay(&self) -> u32 {
        percentile(&self.delays, 99)
    }

    /// The `p`th percentile of [`Report::t0_delays`], in seconds.
    pub fn t0_delay(&self, p: usize) -> u32 {
        percentile(&self.t0_delays, p)
    }
}

/// The delay of a change not caught up with by the end of the run.
pub const NEVER: u32 = u32::MAX;

fn index(t: i64) -> usize {
    (t.clamp(START, END) - START) as usize
}

fn percentile(values: &[u32], p: usize) -> u32 {
    if values.is_empty() {
        return 0;
    }
    let mut v = values.to_vec();
    let k = ((v.len() - 1) * p).div_ceil(100);
    *v.select_nth_unstable(k).1
}

/// splitmix64: the world's randomness (change times, clock errors),
/// separate from the clients' jitter.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    /// Exponential with the given mean, at least 1 s.
    fn exp(&mut self, mean: f64) -> i64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((-(1.0 - u).ln() * mean) as i64).max(1)
    }
}

/// What happens to a client at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The client's clock is stepped to the offset of its next step.
    ClockStep,
    /// The address changes on its own; the next change is drawn.
    Background,
    /// The WAN bounces (scenario); it comes back with a new address.
    Bounce,
    /// The wanted/retry timer, if still set for this moment.
    Check,
    /// The safety-net timer, if still set for this moment.
    Safety,
}

struct Client {
    /// [`jitter::seed`] of its key (what a real client takes from its user
    /// name) and run 0; later runs count up from it.
    seed: u64,
    rec: Record,
    /// The current address is number `generation`.
    generation: u32,
    /// Its clock minus the true clock, in seconds.
    offset: i64,
    /// Which boot it is on (counts reboots) ...
    boot: u64,
    /// ... and the true time that boot began.
    booted_at: i64,
    /// The true time from which its clock counts as synchronised ...
    synced_at: i64,
    /// ... and when, after a reboot, NTP syncs it (seconds after boot).
    ntp_after_boot: i64,
    /// Clock steps still to come: (true time, new offset), in order.
    steps: Vec<(i64, i64)>,
    /// The wanted/retry timer (true time).
    check_at: Option<i64>,
    /// The safety-net timer (true time).
    safety_at: i64,
    /// True times of address changes the service has not caught up with.
    stale: Vec<i64>,
    /// Its last request: (true time, its clock's reading, its boot).
    last_sent: Option<(i64, i64, u64)>,
}

impl Client {
    fn want(&self) -> Want {
        Want {
            ip: address(self.generation),
            force: false,
            force_interval: guard::DEFAULT_FORCE_INTERVAL_S,
            credential: 1,
            options: 0,
        }
    }

    /// What it reads at true time `t`: its wall clock and its boot clock.
    fn now(&self, t: i64) -> Now {
        Now {
            wall: T0 + t + self.offset,
            boot: Some(BootTime {
                boot_id: self.boot,
                secs: t - self.booted_at,
            }),
            synced: t >= self.synced_at,
        }
    }

    /// The seed of its next jittered step.
    fn seed(&mut self) -> u64 {
        self.seed = self.seed.wrapping_add(1);
        self.seed
    }
}

/// A client's `n`-th address (addresses only need to differ per client).
fn address(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000u32.wrapping_add(n))
}

struct World {
    scenario: Scenario,
    jitter_s: i64,
    clients: Vec<Client>,
    /// The event queue: one list per true second from [`START`] to
    /// [`END`] (a calendar queue: time is whole seconds).
    queue: Vec<Vec<(Kind, u32)>>,
    report: Report,
}

/// Runs `scenario` for `clients` clients with event jitter `jitter_s`
/// (0 = no jitter of any kind); `world_seed` fixes the world's randomness.
pub fn run(scenario: Scenario, clients: u32, jitter_s: i64, world_seed: u64) -> Report {
    let mut rng = Rng(world_seed ^ (scenario as u64) << 32);
    let mut world = World {
        scenario,
        jitter_s,
        clients: Vec::with_capacity(clients as usize),
        queue: vec![Vec::new(); index(END) + 1],
        report: Report {
            scenario,
            jitter_s,
            clients,
            per_second: vec![0; index(END) + 1],
            delays: Vec::new(),
            unresolved: 0,
            t0_delays: Vec::new(),
            min_gap: i64::MAX,
            gaps_under_floor: 0,
            min_gap_one_boot: i64::MAX,
            min_gap_own_clock: i64::MAX,
        },
    };
    for id in 0..clients {
        // Registered some time in the day before the simulation starts.
        let at = T0 + START - rng.range(0, 86_400);
        let mut client = Client {
            seed: jitter::seed(&format!("client{id}@example.com"), 0),
            rec: Record::default(),
            generation: 0,
            offset: 0,
            // Up for a month when the simulation starts.
            boot: 0,
            booted_at: START - 30 * 86_400,
            synced_at: i64::MIN,
            ntp_after_boot: 0,
            steps: Vec::new(),
            check_at: None,
            safety_at: START,
            stale: Vec::new(),
            last_sent: None,
        };
        let want = client.want();
        let then = client.now(at - T0);
        client.rec = Record::default().attempting(want.ip, then).concluded(
            &want,
            then,
            AttemptResult::Updated,
        );
        // Watch mode started at some moment of the last safety interval.
        client.safety_at = START + rng.range(0, CHECK_INTERVAL_S - 1);
        world.push(client.safety_at, id, Kind::Safety);
        world.push(START + rng.exp(BACKGROUND_MEAN_S), id, Kind::Background);
        match scenario {
            Scenario::RebootClocks => {
                let hours = rng.range(3600, 6 * 3600);
                let wrong = match rng.range(0, 9) {
                    0..=2 => -hours,
                    3 => hours,
                    _ => 0,
                };
                client.ntp_after_boot = rng.range(30, 300);
                if wrong != 0 {
                    client.steps = vec![(0, wrong), (client.ntp_after_boot, 0)];
                }
            }
            // One client in ten.
            Scenario::SteppedClocks if rng.range(0, 9) == 0 => {
                let at = rng.range(0, 3600);
                let by = rng.range(3600, 6 * 3600) * if rng.next() & 1 == 0 { 1 } else { -1 };
                client.steps = vec![(at, by), (at + rng.range(600, 1800), 0)];
            }
            _ => {}
        }
        for &(t, _) in &client.steps {
            world.push(t, id, Kind::ClockStep);
        }
        // Queued after the clock steps: at t = 0 a rebooted router's clock
        // is set before its WAN comes up.
        if matches!(
            scenario,
            Scenario::Outage | Scenario::Flapping | Scenario::RebootClocks
        ) {
            world.push(0, id, Kind::Bounce);
        }
        world.clients.push(client);
    }
    for t in START..=END {
        // Events of one second in the order they were queued; those they
        // add for the same second run after them.
        let mut due = std::mem::take(&mut world.queue[index(t)]);
        while !due.is_empty() {
            for &(kind, id) in &due {
                world.handle(t, id, kind, &mut rng);
            }
            due = std::mem::take(&mut world.queue[index(t)]);
        }
    }
    let World {
        clients,
        mut report,
        ..
    } = world;
    for c in clients {
        report.unresolved += c.stale.len() as u64;
        report.delays.extend(c.stale.iter().map(|_| NEVER));
        let at_t0 = c.stale.iter().filter(|&&changed| changed == 0).count();
        report.t0_delays.extend(std::iter::repeat_n(NEVER, at_t0));
    }
    report
}

impl World {
    fn push(&mut self, t: i64, id: u32, kind: Kind) {
        if (START..=END).contains(&t) {
            self.queue[index(t)].push((kind, id));
        }
    }

    fn handle(&mut self, t: i64, id: u32, kind: Kind, rng: &mut Rng) {
        let c = &mut self.clients[id as usize];
        match kind {
            Kind::Background | Kind::Bounce => {
                if kind == Kind::Background {
                    let next = t + rng.exp(BACKGROUND_MEAN_S);
                    self.push(next, id, Kind::Background);
                } else if self.scenario == Scenario::Flapping && t + FLAP_EVERY_S < FLAP_FOR_S {
                    self.push(t + FLAP_EVERY_S, id, Kind::Bounce);
                }
                let c = &mut self.clients[id as usize];
                if kind == Kind::Bounce && self.scenario == Scenario::RebootClocks && t == 0 {
                    // The power cut: the router boots again as the WAN
                    // comes back.
                    c.boot += 1;
                    c.booted_at = t;
                    c.synced_at = t + c.ntp_after_boot;
                }
                c.generation += 1;
                c.stale.push(t);
                self.address_event(t, id);
            }
            Kind::ClockStep => {
                if let Some(i) = c.steps.iter().position(|&(at, _)| at == t) {
                    c.offset = c.steps.remove(i).1;
                }
            }
            Kind::Check => {
                if c.check_at == Some(t) {
                    self.check(t, id);
                }
            }
            Kind::Safety => {
                if c.safety_at == t {
                    self.check(t, id);
                }
            }
        }
    }

    /// An address event for client `id`: watch mode asks the guard (no
    /// state written) and, when it would send, waits the event delay.
    fn address_event(&mut self, t: i64, id: u32) {
        let jitter_s = self.jitter_s;
        let c = &mut self.clients[id as usize];
        let decision = guard::decide(&c.rec, c.now(t), &c.want());
        let wait = jitter::event_wait(c.seed(), jitter_s, &decision);
        let at = t + wait;
        if c.check_at.is_none_or(|w| at < w) {
            c.check_at = Some(at);
            self.push(at, id, Kind::Check);
        }
    }

    /// One check of client `id` at true time `t`, as watch mode runs it:
    /// ask the guard; on "send", record the attempt, send, record the
    /// outcome; then restart the safety net and set the retry timer.
    fn check(&mut self, t: i64, id: u32) {
        let scenario = self.scenario;
        let jittered = self.jitter_s > 0;
        let c = &mut self.clients[id as usize];
        c.check_at = None;
        let at = c.now(t);
        let now = at.wall;
        let want = c.want();
        let retry_at = match guard::decide(&c.rec, at, &want) {
            Decision::Send(_) => {
                let pending = c.rec.attempting(want.ip, at);
                // Were the run to die now, the floor would still hold.
                assert!(
                    !matches!(guard::decide(&pending, at, &want), Decision::Send(_)),
                    "a pending attempt must hold the next request back"
                );
                let failed =
                    scenario == Scenario::ServiceErrors && (0..SERVICE_OUTAGE_S).contains(&t);
                let result = if failed {
                    AttemptResult::FailedSent
                } else {
                    AttemptResult::Updated
                };
                c.rec = c.rec.concluded(&want, at, result);
                let report = &mut self.report;
                report.per_second[index(t)] += 1;
                if let Some((true_prev, own_prev, boot)) = c.last_sent.replace((t, now, c.boot)) {
                    let gap = t - true_prev;
                    report.min_gap = report.min_gap.min(gap);
                    if boot == c.boot {
                        report.min_gap_one_boot = report.min_gap_one_boot.min(gap);
                    }
                    if gap < guard::FLOOR_S {
                        report.gaps_under_floor += 1;
                    }
                    report.min_gap_own_clock = report.min_gap_own_clock.min(now - own_prev);
                }
                if result == AttemptResult::Updated {
                    // The service now holds the current address.
                    for changed in c.stale.drain(..) {
                        report.delays.push((t - changed) as u32);
                        if changed == 0 {
                            report.t0_delays.push(t as u32);
                        }
                    }
                    None
                } else if jittered {
                    let seed = c.seed();
                    Some(jitter::backoff_retry_at(seed, &c.rec, now))
                } else {
                    c.rec.next_allowed(now)
                }
            }
            // Watch mode spreads a deferral's retry over the event delay.
            Decision::Defer { until, .. } => {
                Some(until.saturating_add(jitter::event_delay(c.seed(), self.jitter_s)))
            }
            _ => None,
        };
        // Watch mode's Schedule::finished: the safety net restarts; a retry
        // timer only when it comes before the safety net.
        let safety_in = if jittered {
            let seed = c.seed();
            jitter::safety_interval(seed, CHECK_INTERVAL_S as u64) as i64
        } else {
            CHECK_INTERVAL_S
        };
        c.safety_at = t + safety_in;
        let safety_at = c.safety_at;
        let retry = retry_at
            .map(|r| (r - now).max(1))
            .filter(|r| *r < safety_in)
            .map(|r| t + r);
        c.check_at = retry;
        self.push(safety_at, id, Kind::Safety);
        if let Some(r) = retry {
            self.push(r, id, Kind::Check);
        }
    }
}

/// The results as a Markdown table, one row per report.
pub fn table(reports: &[Report]) -> String {
    let mut out = String::from(
        "| scenario | J | clients | requests | before: mean req/s | peak req/s (at t) | after recovery: peak req/s | p99 delay to a correct record | t=0 change: median / p99 delay | unresolved | min gap per client | gaps < 600 s | min gap on one boot | min gap, client's clock |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in reports {
        let (peak, at) = r.peak_all();
        let after = if r.scenario == Scenario::ServiceErrors {
            format!(
                "{} (10 s mean: {:.1})",
                r.peak(SERVICE_OUTAGE_S, END).0,
                r.peak_rate(SERVICE_OUTAGE_S, END, 10)
            )
        } else {
            "–".into()
        };
        let delay = |d: u32| match d {
            NEVER => format!("over {END} s"),
            d => format!("{d} s"),
        };
        let t0 = if r.t0_delays.is_empty() {
            "–".into()
        } else {
            format!("{} / {}", delay(r.t0_delay(50)), delay(r.t0_delay(99)))
        };
        let gap = |g: i64| {
            if g == i64::MAX {
                "–".into()
            } else {
                format!("{g} s")
            }
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} | {} (t={} s) | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.scenario.label(),
            r.jitter_s,
            r.clients,
            r.requests(),
            r.rate_before(),
            peak,
            at,
            after,
            delay(r.p99_delay()),
            t0,
            r.unresolved,
            gap(r.min_gap),
            r.gaps_under_floor,
            gap(r.min_gap_one_boot),
            gap(r.min_gap_own_clock),
        ));
    }
    out
}

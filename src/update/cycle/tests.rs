//! Unit tests of the cycle's phases: the look-up before the lock, its
//! deadline, the clock carried into the record.

use super::*;
use std::cell::Cell;

fn written(at: Option<i64>) -> Record {
    Record {
        written_at: at,
        ..Record::default()
    }
}

#[test]
fn a_record_written_during_the_wait_sets_the_time() {
    let ms = Duration::from_millis;
    // Written 1 s after our reading, within a wait of 0.3 s rounded up.
    assert_eq!(time_after_wait(100, &written(Some(101)), ms(300)), 101);
    assert_eq!(time_after_wait(100, &written(Some(103)), ms(2_500)), 103);
    // Not ahead: our reading stands.
    assert_eq!(time_after_wait(100, &written(Some(99)), ms(300)), 100);
    assert_eq!(time_after_wait(100, &written(Some(100)), ms(0)), 100);
    assert_eq!(time_after_wait(100, &written(None), ms(5_000)), 100);
}

#[test]
fn a_record_further_ahead_is_left_for_the_guard() {
    let ms = Duration::from_millis;
    // More ahead than the wait explains: a clock behind, which the
    // guard refuses.
    assert_eq!(time_after_wait(100, &written(Some(102)), ms(300)), 100);
    assert_eq!(time_after_wait(100, &written(Some(3_700)), ms(2_000)), 100);
    assert_eq!(
        time_after_wait(i64::MAX, &written(Some(1)), Duration::MAX),
        i64::MAX
    );
}

#[test]
fn a_lookup_that_hangs_is_given_up_at_the_timeout() {
    let started = Instant::now();
    let answer = within(Duration::from_millis(200), || {
        std::thread::sleep(Duration::from_secs(3));
        Ok(vec![SocketAddr::from(([192, 0, 2, 1], 0))])
    });
    assert!(answer.is_err_and(|e| e.contains("no answer")));
    assert!(started.elapsed() < Duration::from_secs(2), "waited for it");
    let here = SocketAddr::from(([127, 0, 0, 1], 0));
    let quick = within(Duration::from_secs(5), move || Ok(vec![here]));
    assert_eq!(quick, Ok(vec![here]));
    // The real resolver, on a name every system knows.
    let local = resolve_v4("localhost", Duration::from_secs(5));
    assert!(local.is_ok_and(|found| found.contains(&Ipv4Addr::LOCALHOST)));
}

/// A config for `lookup_host` = `name`, with its state in `dir`.
fn config(dir: &std::path::Path, name: &str) -> Config {
    let mut settings = crate::config::Settings::default();
    for (key, value) in [
        ("username", "u@example.com"),
        ("password", "secret-pw"),
        ("ip", "192.0.2.7"),
        ("allow_private", "1"),
        ("lookup_host", name),
        ("timeout", "1"),
    ] {
        settings.set(key, value).unwrap();
    }
    let state = dir.join("state.json");
    settings.set("state", state.to_str().unwrap()).unwrap();
    settings.resolve().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mtgsy-cycle-{name}-{}-{:?}",
        std::process::id(),
        Instant::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut perms = std::fs::metadata(&dir).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
    std::fs::set_permissions(&dir, perms).unwrap();
    dir
}

fn want(config: &Config) -> Want {
    let fields = config.fields(Ipv4Addr::new(192, 0, 2, 7));
    super::super::want(config, &fields, false)
}

const T0: i64 = 1_800_000_000;

#[test]
fn lookup_host_is_looked_up_before_the_lock_and_seeds_a_blank_record() {
    let dir = scratch("seed");
    let config = config(&dir, "home.example.com");
    let lock_was_free = Cell::new(None);
    let resolve = |name: &str, timeout: Duration| {
        assert_eq!(
            (name, timeout),
            ("home.example.com", Duration::from_secs(1))
        );
        // Anyone may take the lock while the name is looked up.
        let free = Store::open_locked(&config.state_path, T0, Duration::ZERO).is_ok();
        lock_was_free.set(Some(free));
        Ok(vec![Ipv4Addr::new(192, 0, 2, 7)])
    };
    let mut lines = Vec::new();
    let begun = begin_with(
        &config,
        &want(&config),
        Clock::starting_at(T0),
        &mut |_, m| lines.push(m.to_string()),
        &resolve,
    )
    .unwrap();
    assert_eq!(lock_was_free.get(), Some(true), "looked up under the lock");
    let Begun::Held(o) = begun else {
        panic!("sent although the name resolves to the address: {lines:?}")
    };
    assert_eq!(o.outcome, outcome::Kind::Unchanged, "{o:?}");
    // The held run stored when it looked, not the seed: the record stays
    // blank for the guard, so the next run looks the name up again.
    let stored = peek_record(&config).unwrap();
    assert_eq!(stored.last_check, Some(T0));
    assert!(stored.is_blank(), "{stored:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_boot_clock_goes_with_the_system_time_into_the_record_and_the_guard() {
    let system = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let clock = Clock::starting_at(system);
    let Some(boot) = clock.boot else {
        // Only with MTGSY_DDNS_BOOT set to something unreadable.
        assert!(std::env::var_os("MTGSY_DDNS_BOOT").is_some());
        return;
    };
    assert!(clock.at(system).boot.is_some_and(|b| b.secs >= boot.secs));
    assert_eq!(Clock::starting_at(system - 86_400).boot, None);

    let dir = scratch("boot");
    let mut config = config(&dir, "home.example.com");
    config.lookup_host = None;
    let begin = |clock: Clock| {
        begin_with(&config, &want(&config), clock, &mut |_, _| {}, &|_, _| {
            Err("unused".into())
        })
        .unwrap()
    };
    let Begun::Send { permit, .. } = begin(clock) else {
        panic!("held back with no state")
    };
    let done = permit.conclude(AttemptResult::Updated, Some(200), Some("ok"));
    assert_eq!(
        done.record.last_attempt_boot.map(|b| b.boot_id),
        Some(boot.boot_id)
    );
    // The wall clock stepped 3 h forward at once: the boot clock holds.
    let stepped = Clock {
        now: system + 3 * 3600,
        ..clock
    };
    let mut moved = want(&config);
    moved.ip = Ipv4Addr::new(192, 0, 2, 8);
    let held = begin_with(&config, &moved, stepped, &mut |_, _| {}, &|_, _| {
        Err("unused".into())
    })
    .unwrap();
    let Begun::Held(o) = held else {
        panic!("sent within 600 s of boot time")
    };
    assert_eq!(o.outcome, outcome::Kind::Deferred, "{o:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_lookup_that_cannot_answer_sends_and_no_lookup_once_recorded() {
    let dir = scratch("noanswer");
    let config = config(&dir, "home.example.com");
    let calls = Cell::new(0);
    let resolve = |_: &str, _: Duration| {
        calls.set(calls.get() + 1);
        Err("no answer within 1 s".to_string())
    };
    let begin = || {
        begin_with(
            &config,
            &want(&config),
            Clock::starting_at(T0),
            &mut |_, _| {},
            &resolve,
        )
        .unwrap()
    };
    let Begun::Send { permit, .. } = begin() else {
        panic!("held back with no state and no answer")
    };
    let done = permit.conclude(AttemptResult::Updated, Some(200), Some("ok"));
    assert!(done.stored.is_ok());
    assert_eq!(calls.get(), 1);
    // A record exists now: no lookup, and the guard holds.
    assert!(matches!(begin(), Begun::Held(_)));
    assert_eq!(calls.get(), 1, "looked up with a record on disk");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_heartbeat_written_while_parked_does_not_change_how_the_attempt_concludes() {
    let dir = scratch("parked-heartbeat");
    let mut config = config(&dir, "home.example.com");
    config.lookup_host = None;
    config.check_interval = Duration::from_secs(60);
    let no_lookup = |_: &str, _: Duration| Err("unused".to_string());
    let begin_at = |t: i64| {
        begin_with(
            &config,
            &want(&config),
            Clock::starting_at(t),
            &mut |_, _| {},
            &no_lookup,
        )
        .unwrap()
    };
    let Begun::Send { permit, .. } = begin_at(T0) else {
        panic!("held back with no state")
    };
    let parked = permit.park();
    // Another check while the firmware sends: held by the pending
    // attempt, and its heartbeat is due (60 s).
    let Begun::Held(o) = begin_at(T0 + 100) else {
        panic!("sent while an attempt is pending")
    };
    assert_eq!(o.outcome, outcome::Kind::Deferred, "{o:?}");
    assert_eq!(peek_record(&config).unwrap().last_check, Some(T0 + 100));
    // The request never left: concluded from the record before it, the
    // attempt does not count toward the floor.
    let permit = resume(
        Some(parked),
        &config,
        want(&config),
        Clock::starting_at(T0 + 120),
    )
    .unwrap();
    let done = permit.conclude(AttemptResult::FailedUnsent, None, None);
    assert_eq!(done.record.last_attempt_at, None, "{:?}", done.record);
    assert_eq!(done.record.last_check, Some(T0 + 120));
    std::fs::remove_dir_all(dir).unwrap();
}

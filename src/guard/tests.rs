//! Unit tests of the rate guard: each rule of [`decide`] and the record
//! transitions, in memory with times given as numbers, and an exhaustive
//! check that no sequence of outcomes sends two requests within the floor.
//! Long because the guard has many rules and each has its own test; they
//! share the helpers at the top.

use super::*;

const T0: i64 = 1_800_000_000;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn want(addr: &str) -> Want {
    Want {
        ip: ip(addr),
        force: false,
        force_interval: DEFAULT_FORCE_INTERVAL_S,
        credential: 7,
        options: 0,
    }
}

/// What was sent: `addr` with credential fingerprint `credential`.
fn sent(addr: &str, credential: u16) -> Want {
    Want {
        credential,
        ..want(addr)
    }
}

/// The record after a successful update of `addr` at `at`.
fn registered(addr: &str, at: i64) -> Record {
    Record::default()
        .attempting(ip(addr), at)
        .concluded(&sent(addr, 7), at, AttemptResult::Updated)
}

#[test]
fn first_run_sends() {
    assert_eq!(
        decide(&Record::default(), T0, &want("1.2.3.4")),
        Decision::Send(SendReason::FirstRun)
    );
}

#[test]
fn unchanged_address_is_not_sent() {
    let rec = registered("1.2.3.4", T0);
    for dt in [0, 1, 599, 600, 3600, DEFAULT_FORCE_INTERVAL_S - 1] {
        assert_eq!(
            decide(&rec, T0 + dt, &want("1.2.3.4")),
            Decision::Unchanged { since: Some(T0) },
            "dt={dt}"
        );
    }
}

#[test]
fn force_interval_refreshes() {
    let rec = registered("1.2.3.4", T0);
    assert_eq!(
        decide(&rec, T0 + DEFAULT_FORCE_INTERVAL_S, &want("1.2.3.4")),
        Decision::Send(SendReason::Refresh)
    );
}

#[test]
fn force_interval_never_below_a_day() {
    let rec = registered("1.2.3.4", T0);
    let mut w = want("1.2.3.4");
    w.force_interval = 1;
    assert_eq!(
        decide(&rec, T0 + UNREQUIRED_HOLD_S - 1, &w),
        Decision::Unchanged { since: Some(T0) }
    );
    assert_eq!(
        decide(&rec, T0 + UNREQUIRED_HOLD_S, &w),
        Decision::Send(SendReason::Refresh)
    );
}

#[test]
fn a_failed_refresh_is_not_repeated_within_a_day() {
    let rec = registered("1.2.3.4", T0);
    let t = T0 + DEFAULT_FORCE_INTERVAL_S;
    let failed =
        rec.attempting(ip("1.2.3.4"), t)
            .concluded(&want("1.2.3.4"), t, AttemptResult::FailedSent);
    for dt in [600, 3600, UNREQUIRED_HOLD_S - 1] {
        assert_eq!(
            decide(&failed, t + dt, &want("1.2.3.4")),
            Decision::Unchanged { since: Some(T0) },
            "dt={dt}"
        );
    }
    assert_eq!(
        decide(&failed, t + UNREQUIRED_HOLD_S, &want("1.2.3.4")),
        Decision::Send(SendReason::Refresh)
    );
}

#[test]
fn force_respects_floor_and_once_a_day() {
    let rec = registered("1.2.3.4", T0);
    let mut w = want("1.2.3.4");
    w.force = true;
    for dt in [0, 599, 600, 3600, UNREQUIRED_HOLD_S - 1] {
        assert_eq!(
            decide(&rec, T0 + dt, &w),
            Decision::Defer {
                until: T0 + UNREQUIRED_HOLD_S,
                why: DeferReason::Unrequired
            },
            "dt={dt}"
        );
    }
    assert_eq!(
        decide(&rec, T0 + UNREQUIRED_HOLD_S, &w),
        Decision::Send(SendReason::Forced)
    );
    // A forced send that failed still counts as the day's one.
    let t = T0 + UNREQUIRED_HOLD_S;
    let failed = rec
        .attempting(ip("1.2.3.4"), t)
        .concluded(&w, t, AttemptResult::FailedSent);
    assert_eq!(
        decide(&failed, t + 3600, &w),
        Decision::Defer {
            until: t + UNREQUIRED_HOLD_S,
            why: DeferReason::Unrequired
        }
    );
    // A changed address is not held by it: only the floor.
    assert_eq!(
        decide(
            &rec,
            T0 + 600,
            &Want {
                force: true,
                ..want("5.6.7.8")
            }
        ),
        Decision::Send(SendReason::Changed {
            from: ip("1.2.3.4")
        })
    );
}

#[test]
fn force_sends_an_address_only_seen_in_dns() {
    // A record seeded from DNS: registered, never sent from here.
    let rec = Record {
        registered_ip: Some(ip("1.2.3.4")),
        registered_at: Some(T0),
        ..Record::default()
    };
    let w = Want {
        force: true,
        ..want("1.2.3.4")
    };
    assert_eq!(decide(&rec, T0, &w), Decision::Send(SendReason::Forced));
}

#[test]
fn changed_options_are_sent_after_the_floor() {
    let rec = registered("1.2.3.4", T0);
    let w = Want {
        options: 99,
        ..want("1.2.3.4")
    };
    assert_eq!(
        decide(&rec, T0 + 599, &w),
        Decision::Defer {
            until: T0 + 600,
            why: DeferReason::Floor
        }
    );
    assert_eq!(
        decide(&rec, T0 + 600, &w),
        Decision::Send(SendReason::OptionsChanged)
    );
    let done = rec.concluded(&w, T0 + 600, AttemptResult::Updated);
    assert_eq!(done.registered_options, Some(99));
    assert_eq!(
        decide(&done, T0 + 1200, &w),
        Decision::Unchanged {
            since: Some(T0 + 600)
        }
    );
    // A record from before options were stored: they count as the same.
    let old = Record {
        registered_options: None,
        ..rec
    };
    assert_eq!(
        decide(&old, T0 + 600, &w),
        Decision::Unchanged { since: Some(T0) }
    );
}

#[test]
fn an_implausible_clock_sends_nothing() {
    for now in [
        i64::MIN,
        -1,
        0,
        EARLIEST_TIME - 1,
        LATEST_TIME + 1,
        i64::MAX,
    ] {
        for rec in [Record::default(), registered("1.2.3.4", T0)] {
            assert_eq!(
                decide(&rec, now, &want("5.6.7.8")),
                Decision::ClockImplausible { now },
                "{now}"
            );
        }
    }
}

#[test]
fn implausible_record_times_count_from_the_fallback() {
    for bad in [
        i64::MIN,
        -5,
        0,
        100,
        EARLIEST_TIME - 1,
        LATEST_TIME + 1,
        i64::MAX,
    ] {
        let rec = Record {
            registered_ip: Some(ip("1.2.3.4")),
            registered_at: Some(bad),
            last_attempt_at: Some(bad),
            last_attempt_ip: Some(ip("1.2.3.4")),
            written_at: Some(bad),
            retry_not_before: Some(bad),
            ..Record::default()
        };
        let fixed = rec.with_plausible_times(T0).expect("changed");
        assert_eq!(fixed.last_attempt_at, Some(T0));
        assert_eq!(fixed.written_at, Some(T0));
        assert_eq!(
            decide(&fixed, T0 + 10, &want("5.6.7.8")),
            Decision::Defer {
                until: T0 + FLOOR_S,
                why: DeferReason::Floor
            },
            "{bad}"
        );
        // Only a registration time was wrong: the floor still holds.
        let rec = Record {
            registered_ip: Some(ip("1.2.3.4")),
            registered_at: Some(bad),
            ..Record::default()
        };
        let fixed = rec.with_plausible_times(T0).expect("changed");
        assert_eq!(fixed.last_attempt_at, Some(T0));
    }
    assert_eq!(registered("1.2.3.4", T0).with_plausible_times(T0 + 5), None);
}

#[test]
fn holds_survive_every_outcome() {
    let mut rec = registered("1.2.3.4", T0);
    rec.blocked_until = Some(T0 + 50_000);
    rec.retry_not_before = Some(T0 + 40_000);
    for r in [
        AttemptResult::Updated,
        AttemptResult::Unconfirmed,
        AttemptResult::Rejected,
        AttemptResult::Blocked,
        AttemptResult::FailedSent,
        AttemptResult::FailedUnsent,
    ] {
        let after =
            rec.attempting(ip("5.6.7.8"), T0 + 1000)
                .concluded(&want("5.6.7.8"), T0 + 1000, r);
        assert!(after.blocked_until >= Some(T0 + 50_000), "{r:?}");
        assert!(after.retry_not_before >= Some(T0 + 40_000), "{r:?}");
    }
}

#[test]
fn changed_address_waits_for_floor() {
    let rec = registered("1.2.3.4", T0);
    assert_eq!(
        decide(&rec, T0 + 599, &want("5.6.7.8")),
        Decision::Defer {
            until: T0 + 600,
            why: DeferReason::Floor
        }
    );
    assert_eq!(
        decide(&rec, T0 + 600, &want("5.6.7.8")),
        Decision::Send(SendReason::Changed {
            from: ip("1.2.3.4")
        })
    );
}

#[test]
fn pending_attempt_counts_toward_floor_then_retries() {
    // The run died after recording the attempt.
    let rec = registered("1.2.3.4", T0).attempting(ip("5.6.7.8"), T0 + 1000);
    assert_eq!(
        decide(&rec, T0 + 1001, &want("5.6.7.8")),
        Decision::Defer {
            until: T0 + 1600,
            why: DeferReason::Floor
        }
    );
    // Even the old address must be re-sent: the server may hold the new one.
    assert_eq!(
        decide(&rec, T0 + 1001, &want("1.2.3.4")),
        Decision::Defer {
            until: T0 + 1600,
            why: DeferReason::Floor
        }
    );
    assert_eq!(
        decide(&rec, T0 + 1600, &want("5.6.7.8")),
        Decision::Send(SendReason::Retry)
    );
}

#[test]
fn doubt_survives_later_unsent_failures_and_rejections() {
    // Crash while sending 5.6.7.8: the server may hold it.
    let crashed = registered("1.2.3.4", T0).attempting(ip("5.6.7.8"), T0 + 1000);
    // Then the network is down for a while, then a rejection.
    let rec = crashed
        .concluded(&sent("1.2.3.4", 7), T0 + 1700, AttemptResult::FailedUnsent)
        .concluded(&sent("9.9.9.9", 7), T0 + 1800, AttemptResult::Rejected);
    assert_eq!(rec.maybe_registered_ip, Some(ip("5.6.7.8")));
    // Wanting the old address must still send it: it may not be registered.
    assert_eq!(
        decide(&rec, T0 + 2400, &want("1.2.3.4")),
        Decision::Send(SendReason::Retry)
    );
    let done = rec.concluded(&sent("1.2.3.4", 7), T0 + 2400, AttemptResult::Updated);
    assert_eq!(
        decide(&done, T0 + 3100, &want("1.2.3.4")),
        Decision::Unchanged {
            since: Some(T0 + 2400)
        }
    );
}

#[test]
fn unsent_failure_backs_off_without_floor() {
    let before = Record::default();
    let mut rec = before.concluded(&sent("1.2.3.4", 7), T0, AttemptResult::FailedUnsent);
    assert_eq!(rec.last_attempt_at, None, "nothing reached the server");
    assert_eq!(
        decide(&rec, T0 + 59, &want("1.2.3.4")),
        Decision::Defer {
            until: T0 + 60,
            why: DeferReason::Backoff
        }
    );
    assert_eq!(
        decide(&rec, T0 + 60, &want("1.2.3.4")),
        Decision::Send(SendReason::FirstRun)
    );
    // Doubling to one hour.
    let mut now = T0;
    let mut waits = Vec::new();
    for _ in 0..9 {
        now = rec.retry_not_before.unwrap();
        rec = rec.concluded(&sent("1.2.3.4", 7), now, AttemptResult::FailedUnsent);
        waits.push(rec.retry_not_before.unwrap() - now);
    }
    assert_eq!(waits, [120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]);
    // Success clears the backoff.
    let ok = rec.concluded(&sent("1.2.3.4", 7), now + 3600, AttemptResult::Updated);
    assert_eq!((ok.failures, ok.retry_not_before), (0, None));
}

#[test]
fn sent_failure_counts_floor_and_backoff() {
    let rec = Record::default().concluded(&sent("1.2.3.4", 7), T0, AttemptResult::FailedSent);
    assert_eq!(
        decide(&rec, T0 + 60, &want("1.2.3.4")),
        Decision::Defer {
            until: T0 + 600,
            why: DeferReason::Floor
        }
    );
    assert_eq!(
        decide(&rec, T0 + 600, &want("1.2.3.4")),
        Decision::Send(SendReason::Retry)
    );
}

#[test]
fn rejected_holds_same_address_and_credentials() {
    let rec = registered("1.2.3.4", T0).concluded(
        &sent("5.6.7.8", 7),
        T0 + 1000,
        AttemptResult::Rejected,
    );
    let hold_end = T0 + 1000 + REJECT_HOLD_S;
    assert_eq!(
        decide(&rec, T0 + 5000, &want("5.6.7.8")),
        Decision::Defer {
            until: hold_end,
            why: DeferReason::Rejected
        }
    );
    let mut forced = want("5.6.7.8");
    forced.force = true;
    assert_eq!(
        decide(&rec, T0 + 5000, &forced),
        Decision::Defer {
            until: hold_end,
            why: DeferReason::Rejected
        }
    );
    assert_eq!(
        decide(&rec, hold_end, &want("5.6.7.8")),
        Decision::Send(SendReason::Changed {
            from: ip("1.2.3.4")
        })
    );
    // A new password may retry after the floor.
    let mut new_pass = want("5.6.7.8");
    new_pass.credential = 8;
    assert_eq!(
        decide(&rec, T0 + 1599, &new_pass),
        Decision::Defer {
            until: T0 + 1600,
            why: DeferReason::Floor
        }
    );
    assert_eq!(
        decide(&rec, T0 + 1600, &new_pass),
        Decision::Send(SendReason::Changed {
            from: ip("1.2.3.4")
        })
    );
    // So may a new address.
    assert_eq!(
        decide(&rec, T0 + 1600, &want("9.9.9.9")),
        Decision::Send(SendReason::Changed {
            from: ip("1.2.3.4")
        })
    );
    // The registered address is still registered.
    assert_eq!(
        decide(&rec, T0 + 1600, &want("1.2.3.4")),
        Decision::Unchanged { since: Some(T0) }
    );
}

#[test]
fn blocked_holds_everything_for_a_day() {
    let rec =
        registered("1.2.3.4", T0).concluded(&sent("5.6.7.8", 7), T0 + 1000, AttemptResult::Blocked);
    let until = T0 + 1000 + BLOCK_HOLD_S;
    for w in [
        want("5.6.7.8"),
        want("1.2.3.4"),
        Want {
            force: true,
            credential: 9,
            ..want("9.9.9.9")
        },
    ] {
        assert_eq!(decide(&rec, T0 + 2000, &w), Decision::Blocked { until });
        assert_eq!(decide(&rec, until - 1, &w), Decision::Blocked { until });
    }
    assert_eq!(
        decide(&rec, until, &want("5.6.7.8")),
        Decision::Send(SendReason::Changed {
            from: ip("1.2.3.4")
        })
    );
}

#[test]
fn clock_behind_sends_nothing() {
    let rec = registered("1.2.3.4", T0);
    assert_eq!(
        decide(&rec, T0 - 1, &want("5.6.7.8")),
        Decision::ClockBehind { state_time: T0 }
    );
    assert_eq!(
        decide(&rec, EARLIEST_TIME, &want("1.2.3.4")),
        Decision::ClockBehind { state_time: T0 }
    );
    let mut forced = want("1.2.3.4");
    forced.force = true;
    assert_eq!(
        decide(&rec, T0 - 86400, &forced),
        Decision::ClockBehind { state_time: T0 }
    );
}

#[test]
fn unconfirmed_counts_as_registered() {
    let rec = Record::default().concluded(&sent("1.2.3.4", 7), T0, AttemptResult::Unconfirmed);
    assert_eq!(
        decide(&rec, T0 + 700, &want("1.2.3.4")),
        Decision::Unchanged { since: Some(T0) }
    );
}

#[test]
fn holds_pick_the_latest_end() {
    let mut rec = registered("1.2.3.4", T0);
    rec.retry_not_before = Some(T0 + 3000);
    assert_eq!(
        decide(&rec, T0 + 10, &want("5.6.7.8")),
        Decision::Defer {
            until: T0 + 3000,
            why: DeferReason::Backoff
        }
    );
    assert_eq!(rec.next_allowed(T0 + 10), Some(T0 + 3000));
    assert_eq!(rec.next_allowed(T0 + 3000), None);
}

#[test]
fn exhaustive_floor_over_sequences() {
    // Every sequence of four runs (address, force, result) over a grid of
    // times: two sends are never closer than the floor when the
    // earlier one may have reached the server.
    let results = [
        AttemptResult::Updated,
        AttemptResult::Unconfirmed,
        AttemptResult::Rejected,
        AttemptResult::Blocked,
        AttemptResult::FailedSent,
        AttemptResult::FailedUnsent,
        AttemptResult::Pending,
    ];
    let addrs = [ip("1.2.3.4"), ip("5.6.7.8")];
    let steps = [0i64, 59, 60, 300, 599, 600, 3600];
    let mut cases = 0;
    let mut pushed = 0;
    // (record, time, sends that may have reached the server)
    let mut stack = vec![(Record::default(), T0, Vec::<(i64, Ipv4Addr)>::new())];
    while let Some((rec, now, reached)) = stack.pop() {
        if now > T0 + 4 * 3600 {
            continue;
        }
        for &dt in &steps {
            let t = now + dt;
            for &a in &addrs {
                for force in [false, true] {
                    let w = Want {
                        ip: a,
                        force,
                        force_interval: MIN_FORCE_INTERVAL_S,
                        credential: 1,
                        options: 0,
                    };
                    cases += 1;
                    if let Decision::Send(reason) = decide(&rec, t, &w) {
                        if let Some(&(prev, _)) = reached.last() {
                            assert!(t - prev >= FLOOR_S, "send at {t} after {prev}");
                        }
                        // An update that changes nothing: never within a
                        // day of another send of that address.
                        if matches!(reason, SendReason::Forced | SendReason::Refresh) {
                            assert!(
                                !reached
                                    .iter()
                                    .any(|&(p, ip)| ip == a && t - p < UNREQUIRED_HOLD_S),
                                "{reason:?} at {t} after {reached:?}"
                            );
                        }
                        if pushed < 20_000 {
                            for &r in &results {
                                let next = if r == AttemptResult::Pending {
                                    rec.attempting(a, t)
                                } else {
                                    rec.concluded(&w, t, r)
                                };
                                let mut reached = reached.clone();
                                if r != AttemptResult::FailedUnsent {
                                    reached.push((t, a));
                                }
                                stack.push((next, t, reached));
                                pushed += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(cases > 10_000, "{cases}");
}

#[test]
fn blank_is_the_default_record_only() {
    assert!(Record::default().is_blank());
    assert!(!registered("1.2.3.4", T0).is_blank());
    let one_field = [
        Record {
            failures: 1,
            ..Record::default()
        },
        Record {
            last_reply: Some(String::new()),
            ..Record::default()
        },
        Record {
            maybe_registered_ip: Some(ip("1.2.3.4")),
            ..Record::default()
        },
        Record {
            registered_options: Some(0),
            ..Record::default()
        },
    ];
    for rec in one_field {
        assert_eq!(rec.is_blank(), rec == Record::default());
        assert!(!rec.is_blank(), "{rec:?}");
    }
}

#[test]
fn a_request_sets_the_heartbeat_with_its_own_writes() {
    let pending = Record::default().attempting(ip("1.2.3.4"), T0);
    assert_eq!(pending.last_check, Some(T0));
    for result in [AttemptResult::Updated, AttemptResult::FailedUnsent] {
        let done = Record::default().concluded(&sent("1.2.3.4", 7), T0 + 5, result);
        assert_eq!(done.last_check, Some(T0 + 5), "{result:?}");
    }
}

#[test]
fn a_held_run_writes_the_heartbeat_once_per_interval() {
    let rec = registered("1.2.3.4", T0);
    // Due right after the request (last_check = T0) only once the
    // interval has passed.
    for dt in [0, 1, 599] {
        assert_eq!(rec.checked(T0 + dt, 600), None, "dt={dt}");
    }
    let due = rec.checked(T0 + 600, 600).unwrap();
    assert_eq!(
        due,
        Record {
            last_check: Some(T0 + 600),
            ..rec.clone()
        }
    );
    // Nothing the guard reads changes, so its decision stays the same.
    assert_eq!(due.written_at, rec.written_at);
    assert_eq!(
        decide(&due, T0 + 700, &want("1.2.3.4")),
        decide(&rec, T0 + 700, &want("1.2.3.4"))
    );
    // A record from before the field, a clock put back: due at once.
    let old = Record {
        last_check: None,
        ..rec.clone()
    };
    assert!(old.checked(T0 + 1, 600).is_some());
    assert!(due.checked(T0 + 599, 600).is_some());
    // A clock the guard does not believe writes nothing.
    assert_eq!(old.checked(0, 600), None);
    assert_eq!(old.checked(LATEST_TIME + 1, 600), None);
    // A heartbeat alone leaves the record blank (lookup_host may seed it).
    let only_heartbeat = Record::default().checked(T0, 600).unwrap();
    assert!(only_heartbeat.is_blank());
}

#[test]
fn backoff_steps() {
    assert_eq!(
        [1, 2, 3, 6, 7, 100, u32::MAX].map(backoff),
        [60, 120, 240, 1920, 3600, 3600, 3600]
    );
}

/// A boot clock reading of boot `id` at `secs`.
fn boot(id: u64, secs: i64) -> Option<BootTime> {
    Some(BootTime { boot_id: id, secs })
}

/// The wall clock `wall` read at boot clock `secs` of boot 1.
fn at(wall: i64, secs: i64) -> Now {
    Now {
        wall,
        boot: boot(1, secs),
        synced: true,
    }
}

/// The wall clock `wall` read at boot clock `secs` of boot `id`, the wall
/// clock synchronised or not.
fn on_boot(wall: i64, id: u64, secs: i64, synced: bool) -> Now {
    Now {
        wall,
        boot: boot(id, secs),
        synced,
    }
}

#[test]
fn a_forward_step_of_the_wall_clock_does_not_shorten_the_floor() {
    // Updated at boot second 1000; then NTP steps the wall clock 3 h on.
    let rec = Record::default()
        .attempting(ip("1.2.3.4"), at(T0, 1000))
        .concluded(&want("1.2.3.4"), at(T0, 1000), AttemptResult::Updated);
    assert_eq!(rec.last_attempt_boot, boot(1, 1000));
    let stepped = T0 + 3 * 3600;
    for dt in [0, 5, 599] {
        assert_eq!(
            decide(&rec, at(stepped + dt, 1000 + dt), &want("5.6.7.8")),
            Decision::Defer {
                until: stepped + 600,
                why: DeferReason::Floor
            },
            "dt={dt}"
        );
    }
    assert_eq!(
        decide(&rec, at(stepped + 600, 1600), &want("5.6.7.8")),
        Decision::Send(SendReason::Changed {
            from: ip("1.2.3.4")
        })
    );
    // The wall clock's floor still holds when it is the longer one.
    assert_eq!(
        decide(&rec, at(T0 + 10, 1700), &want("5.6.7.8")),
        Decision::Defer {
            until: T0 + 600,
            why: DeferReason::Floor
        }
    );
    // A pending attempt holds alike.
    let pending = rec.attempting(ip("5.6.7.8"), at(stepped + 600, 1600));
    assert_eq!(
        decide(&pending, at(stepped + 7200, 1601), &want("5.6.7.8")),
        Decision::Defer {
            until: stepped + 7200 + 599,
            why: DeferReason::Floor
        }
    );
}

#[test]
fn another_boot_or_no_boot_clock_counts_on_the_wall_clock() {
    let rec = Record::default()
        .attempting(ip("1.2.3.4"), at(T0, 1000))
        .concluded(&want("1.2.3.4"), at(T0, 1000), AttemptResult::Updated);
    let later = T0 + 3 * 3600;
    let changed = Decision::Send(SendReason::Changed {
        from: ip("1.2.3.4"),
    });
    // Rebooted: the boot clock starts again and says nothing of the floor.
    let rebooted = on_boot(later, 2, 30, true);
    assert_eq!(decide(&rec, rebooted, &want("5.6.7.8")), changed);
    // No boot clock now, or none recorded with the attempt.
    assert_eq!(decide(&rec, later, &want("5.6.7.8")), changed);
    let unstamped = registered("1.2.3.4", T0);
    assert_eq!(unstamped.last_attempt_boot, None);
    assert_eq!(
        decide(&unstamped, at(later, 1001), &want("5.6.7.8")),
        changed
    );
    // An attempt made without a boot clock drops the earlier reading.
    let rec = rec.attempting(ip("5.6.7.8"), later);
    assert_eq!(rec.last_attempt_boot, None);
}

#[test]
fn a_failure_before_sending_keeps_the_earlier_boot_reading() {
    let rec = registered("1.2.3.4", T0).attempting(ip("1.2.3.4"), at(T0, 1000));
    let before = rec.concluded(&want("1.2.3.4"), at(T0, 1000), AttemptResult::Updated);
    let unsent = before.concluded(
        &want("5.6.7.8"),
        at(T0 + 700, 1700),
        AttemptResult::FailedUnsent,
    );
    assert_eq!(unsent.last_attempt_boot, boot(1, 1000));
    let sent = before.concluded(
        &want("5.6.7.8"),
        at(T0 + 700, 1700),
        AttemptResult::FailedSent,
    );
    assert_eq!(sent.last_attempt_boot, boot(1, 1700));
}

#[test]
fn boot_clock_readings_at_the_extremes_saturate() {
    let stamped = |secs| Record {
        last_attempt_boot: boot(1, secs),
        ..registered("1.2.3.4", T0)
    };
    let w = want("5.6.7.8");
    let sends = |d: Decision| matches!(d, Decision::Send(_));
    // A boot clock earlier than the attempt (a reading that cannot be
    // right on one boot) leaves it to the wall clock, never holds for long.
    assert!(sends(decide(&stamped(i64::MAX), at(T0 + 600, 0), &w)));
    assert!(sends(decide(&stamped(5000), at(T0 + 600, 4999), &w)));
    // Differences that overflow.
    assert!(sends(decide(
        &stamped(i64::MIN),
        at(T0 + 600, i64::MAX),
        &w
    )));
    assert!(sends(decide(
        &stamped(i64::MAX),
        at(T0 + 600, i64::MIN),
        &w
    )));
    // Just inside the floor at the top of the range.
    assert_eq!(
        decide(&stamped(i64::MAX - 1), at(T0 + 600, i64::MAX), &w),
        Decision::Defer {
            until: T0 + 600 + 599,
            why: DeferReason::Floor
        }
    );
    // The hold's end saturates with the latest believable wall clock.
    assert_eq!(
        decide(&stamped(0), at(LATEST_TIME, 0), &w),
        Decision::Defer {
            until: LATEST_TIME + 600,
            why: DeferReason::Floor
        }
    );
    // Advancing a reading saturates too.
    let rec = Record::default().attempting(ip("1.2.3.4"), at(T0, i64::MAX));
    assert_eq!(rec.last_attempt_boot, boot(1, i64::MAX));
}

#[test]
fn exhaustive_floor_in_true_time_with_wall_clock_steps() {
    // Every sequence of runs on one boot, the wall clock stepped forward
    // by hours or not before each: two sends that may have reached the
    // server are never closer than the floor on the boot clock (true time).
    let results = [
        AttemptResult::Updated,
        AttemptResult::FailedSent,
        AttemptResult::FailedUnsent,
        AttemptResult::Pending,
    ];
    let addrs = [ip("1.2.3.4"), ip("5.6.7.8")];
    let mut cases = 0;
    // (record, true time = boot seconds, wall clock offset, last reached,
    // runs so far)
    let mut stack = vec![(Record::default(), 100i64, 0i64, None::<i64>, 0)];
    while let Some((rec, t0, offset0, last, runs)) = stack.pop() {
        if runs == 4 {
            continue;
        }
        for dt in [0, 5, 599, 600] {
            for step in [0, 3 * 3600] {
                let (t, offset) = (t0 + dt, offset0 + step);
                let now = at(T0 + t + offset, t);
                for &a in &addrs {
                    cases += 1;
                    let w = want(&a.to_string());
                    if !matches!(decide(&rec, now, &w), Decision::Send(_)) {
                        continue;
                    }
                    if let Some(prev) = last {
                        assert!(t - prev >= FLOOR_S, "sent at {t} after {prev}");
                    }
                    for &r in &results {
                        let next = if r == AttemptResult::Pending {
                            rec.attempting(a, now)
                        } else {
                            rec.concluded(&w, now, r)
                        };
                        let reached = if r == AttemptResult::FailedUnsent {
                            last
                        } else {
                            Some(t)
                        };
                        stack.push((next, t, offset, reached, runs + 1));
                    }
                }
            }
        }
    }
    assert!(cases > 10_000, "{cases}");
}

#[test]
fn explain_names_each_rule_and_its_end() {
    let w = want("5.6.7.8");
    let ex = |rec: &Record, now: i64, w: &Want| explain(rec, now, w);
    assert_eq!(
        ex(&Record::default(), T0, &w),
        (Some(T0), Why::Send(SendReason::FirstRun))
    );
    let rec = registered("1.2.3.4", T0);
    assert_eq!(
        ex(&rec, T0 + 10, &w),
        (Some(T0 + FLOOR_S), Why::Held(DeferReason::Floor))
    );
    assert_eq!(
        ex(&rec, T0 + 10, &want("1.2.3.4")),
        (Some(T0 + DEFAULT_FORCE_INTERVAL_S), Why::Unchanged)
    );
    let failed = rec.concluded(&sent("5.6.7.8", 7), T0 + 1000, AttemptResult::FailedUnsent);
    assert_eq!(
        ex(&failed, T0 + 1001, &w),
        (
            Some(T0 + 1000 + BACKOFF_FIRST_S),
            Why::Held(DeferReason::Backoff)
        )
    );
    let rejected = rec.concluded(&sent("5.6.7.8", 7), T0 + 1000, AttemptResult::Rejected);
    assert_eq!(
        ex(&rejected, T0 + 2000, &w),
        (
            Some(T0 + 1000 + REJECT_HOLD_S),
            Why::Held(DeferReason::Rejected)
        )
    );
    let blocked = rec.concluded(&sent("5.6.7.8", 7), T0 + 1000, AttemptResult::Blocked);
    assert_eq!(
        ex(&blocked, T0 + 2000, &w),
        (Some(T0 + 1000 + BLOCK_HOLD_S), Why::Blocked)
    );
    // Behind, then the floor from the attempt the state records.
    let attempted = rec.attempting(ip("5.6.7.8"), T0 + 100);
    assert_eq!(
        ex(&attempted, T0, &w),
        (Some(T0 + 100 + FLOOR_S), Why::ClockBehind)
    );
    assert_eq!(ex(&rec, 0, &w), (None, Why::ClockImplausible));
    assert_eq!(ex(&rec, LATEST_TIME + 1, &w), (None, Why::ClockImplausible));
    // A block running past the refresh of an unchanged address.
    let mut long_block = rec.clone();
    long_block.blocked_until = None;
    long_block.retry_not_before = Some(T0 + DEFAULT_FORCE_INTERVAL_S + 500);
    assert_eq!(
        ex(&long_block, T0 + 700, &want("1.2.3.4")),
        (Some(T0 + DEFAULT_FORCE_INTERVAL_S + 500), Why::Unchanged)
    );
    // The boot clock's floor, when the wall clock was stepped forward.
    let mut on_boot = Record::default().attempting(ip("1.2.3.4"), at(T0, 1000));
    on_boot.registered_ip = Some(ip("1.2.3.4"));
    assert_eq!(
        ex(&on_boot, T0 + 5000, &w).1,
        Why::Send(SendReason::Changed {
            from: ip("1.2.3.4")
        })
    );
    let stepped = explain(&on_boot, at(T0 + 5000, 1100), &w);
    assert_eq!(
        stepped,
        (
            Some(T0 + 5000 + FLOOR_S - 100),
            Why::Held(DeferReason::Floor)
        )
    );
}

#[test]
fn explain_agrees_with_decide_over_sequences() {
    // Records from every sequence of three outcomes of two addresses; for
    // each, at a grid of times: the time explain gives is the first at
    // which decide sends (it sends then and not a second before).
    let results = [
        AttemptResult::Updated,
        AttemptResult::Rejected,
        AttemptResult::Blocked,
        AttemptResult::FailedSent,
        AttemptResult::FailedUnsent,
        AttemptResult::Pending,
    ];
    let addrs = ["1.2.3.4", "5.6.7.8"];
    let mut records = vec![Record::default()];
    for step in 0..3 {
        let mut next = Vec::new();
        for rec in &records {
            for a in addrs {
                for r in results {
                    let t = T0 + step * 700;
                    let tried = rec.attempting(ip(a), t);
                    next.push(if r == AttemptResult::Pending {
                        tried
                    } else {
                        rec.concluded(&sent(a, 7), t + 5, r)
                    });
                }
            }
        }
        records.extend(next);
    }
    let mut checked = 0;
    for rec in &records {
        for a in addrs {
            for force in [false, true] {
                let w = Want { force, ..want(a) };
                for dt in [0, 3, 599, 1400, 1500, 4000, 90_000, 300_000] {
                    let now = T0 + dt;
                    let (t, why) = explain(rec, now, &w);
                    let t = t.unwrap_or_else(|| panic!("{rec:?} {now} {why:?}: no time"));
                    assert!(
                        matches!(decide(rec, t, &w), Decision::Send(_)),
                        "{rec:?} at {t}: {why:?}"
                    );
                    match why {
                        Why::Send(_) => assert_eq!(t, now),
                        _ => assert!(
                            !matches!(decide(rec, t - 1, &w), Decision::Send(_)),
                            "{rec:?} at {t}: {why:?} already sends a second earlier"
                        ),
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
}

#[test]
fn an_unsynced_clock_on_a_new_boot_holds_until_the_boot_is_ten_minutes_old() {
    // The last attempt: on boot 1 at boot second 1000, or on a boot not
    // recorded, or none at all (a record seeded from DNS, a blank one).
    let on_boot_1 = Record::default()
        .attempting(ip("1.2.3.4"), at(T0, 1000))
        .concluded(&want("1.2.3.4"), at(T0, 1000), AttemptResult::Updated);
    let seeded = Record {
        registered_ip: Some(ip("1.2.3.4")),
        ..Record::default()
    };
    let records = [
        ("boot 1", on_boot_1.clone(), Some(1)),
        ("boot unknown", registered("1.2.3.4", T0), None),
        ("seeded from DNS", seeded, None),
        ("blank", Record::default(), None),
    ];
    // Hours on by the wall clock, which may be ahead.
    let wall = T0 + 3 * 3600;
    let w = want("5.6.7.8");
    let mut holds = 0;
    for (name, rec, last_boot) in &records {
        let attempted = rec.last_attempt_at.is_some();
        let sends = decide(rec, wall, &w);
        assert!(matches!(sends, Decision::Send(_)), "{name}: {sends:?}");
        for now_boot in [1, 2] {
            for uptime in [0, 1, 30, 599, 600, 601, 86_400] {
                for synced in [false, true] {
                    let now = on_boot(wall, now_boot, uptime, synced);
                    let another_boot = *last_boot != Some(now_boot);
                    let held = attempted && another_boot && !synced && uptime < FLOOR_S;
                    let expected = if held {
                        holds += 1;
                        Decision::Defer {
                            until: wall + FLOOR_S - uptime,
                            why: DeferReason::Floor,
                        }
                    } else {
                        sends
                    };
                    assert_eq!(
                        decide(rec, now, &w),
                        expected,
                        "{name}, now on boot {now_boot} at {uptime} s, synced {synced}"
                    );
                }
            }
            // Without a boot clock now nothing tells the clock is unsynced.
            let no_boot = Now {
                wall,
                boot: None,
                synced: false,
            };
            assert_eq!(decide(rec, no_boot, &w), sends, "{name}");
        }
    }
    // Four uptimes under 600 s: boot 1 now on boot 2, boot unknown on both.
    assert_eq!(holds, 3 * 4);

    // The hold is the floor's: the one that ends last is reported; a wall
    // clock floor running longer wins, and a pending attempt holds alike.
    let just_sent = on_boot_1.attempting(ip("5.6.7.8"), at(T0 + 700, 1700));
    assert_eq!(
        decide(&just_sent, on_boot(T0 + 710, 2, 590, false), &w),
        Decision::Defer {
            until: T0 + 700 + FLOOR_S,
            why: DeferReason::Floor
        }
    );
    assert_eq!(
        decide(&just_sent, on_boot(T0 + 1290, 2, 10, false), &w),
        Decision::Defer {
            until: T0 + 1290 + 590,
            why: DeferReason::Floor
        }
    );
    // Other holds still count, and a clock behind the state still holds.
    let backing_off = Record {
        retry_not_before: Some(wall + 3000),
        ..on_boot_1.clone()
    };
    assert_eq!(
        decide(&backing_off, on_boot(wall, 2, 0, false), &w),
        Decision::Defer {
            until: wall + 3000,
            why: DeferReason::Backoff
        }
    );
    assert_eq!(
        decide(&on_boot_1, on_boot(T0 - 1, 2, 0, false), &w),
        Decision::ClockBehind { state_time: T0 }
    );
    // Nothing to send is still nothing to send.
    assert_eq!(
        decide(&on_boot_1, on_boot(wall, 2, 0, false), &want("1.2.3.4")),
        Decision::Unchanged { since: Some(T0) }
    );
}

#[test]
fn exhaustive_floor_in_true_time_across_reboots_with_clocks_ahead() {
    // Every sequence of runs in which, before each, time passes and the
    // router may reboot (its wall clock then unsynchronised, and right or
    // hours ahead) or have NTP sync its clock (put right): two sends that
    // may have reached the server are never closer than the floor in true
    // time. A wall clock can be ahead only while unsynchronised.
    #[derive(Clone, Copy)]
    struct Router {
        boot: u64,
        booted_at: i64,
        offset: i64,
        synced: bool,
    }
    let mut cases = 0;
    let mut sends = 0;
    let start = Router {
        boot: 1,
        booted_at: -100_000,
        offset: 0,
        synced: true,
    };
    // (record, router, true time, last reached, runs so far)
    let mut stack = vec![(Record::default(), start, 0i64, None::<i64>, 0)];
    while let Some((rec, router, t0, last, runs)) = stack.pop() {
        if runs == 5 {
            continue;
        }
        for dt in [5, 599, 600] {
            for event in 0..4 {
                let t = t0 + dt;
                let router = match event {
                    // A reboot a moment ago, the clock right or ahead.
                    1 | 2 => Router {
                        boot: router.boot + 1,
                        booted_at: t,
                        offset: if event == 1 { 0 } else { 3 * 3600 },
                        synced: false,
                    },
                    // NTP syncs the clock.
                    3 => Router {
                        offset: 0,
                        synced: true,
                        ..router
                    },
                    _ => router,
                };
                let now = on_boot(
                    T0 + t + router.offset,
                    router.boot,
                    t - router.booted_at,
                    router.synced,
                );
                // A new address each run: every run wants to send.
                let a = ip(if runs % 2 == 0 { "5.6.7.8" } else { "1.2.3.4" });
                let w = want(&a.to_string());
                cases += 1;
                if !matches!(decide(&rec, now, &w), Decision::Send(_)) {
                    stack.push((rec.clone(), router, t, last, runs + 1));
                    continue;
                }
                sends += 1;
                if let Some(prev) = last {
                    assert!(t - prev >= FLOOR_S, "sent at {t} after {prev}");
                }
                let done = rec.concluded(&w, now, AttemptResult::Updated);
                stack.push((done, router, t, Some(t), runs + 1));
                stack.push((rec.attempting(a, now), router, t, Some(t), runs + 1));
            }
        }
    }
    assert!(cases > 100_000 && sends > 10_000, "{cases} {sends}");
}

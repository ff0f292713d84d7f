/*
 * C tests of libmtgsy_ddns, run by tests/capi.rs against a loopback stand-in
 * for the service. One scenario per run: `capi_test SCENARIO`. The Rust side
 * sets the environment and counts the requests the stand-in received:
 *
 *   MTGSY_TEST_URL    the stand-in's update URL (http:// or https://)
 *   MTGSY_TEST_CA     its CA bundle (https only; empty for http)
 *   MTGSY_TEST_STATE  a state file path in a fresh directory
 *
 * Success prints "ok SCENARIO" on stdout and nothing on stderr; a failed
 * check prints the line and exits 1.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtgsy_ddns.h"

#define PASSWORD "s3cret pass&word"
#define T0 ((int64_t)1800000000)

static void fail(int line, const char *what, const char *detail)
{
    fprintf(stderr, "capi_test.c:%d: check failed: %s%s%s\n", line, what,
            detail ? " -- " : "", detail ? detail : "");
    exit(1);
}

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            fail(__LINE__, #cond, NULL); \
    } while (0)

/* Checks a call's code; on a mismatch shows both codes and the handle's
 * last error. */
#define CHECK_RC(h, call, want) \
    do { \
        int rc_ = (call); \
        if (rc_ != (want)) { \
            char buf_[2048]; \
            snprintf(buf_, sizeof buf_, "got %d (%s), want %d; last error: %s", rc_, \
                     mtgsy_strerror(rc_), (want), mtgsy_last_error(h)); \
            fail(__LINE__, #call, buf_); \
        } \
    } while (0)

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v ? v : "";
}

static int contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* What a log callback saw. */
struct log_seen {
    int lines;
    int bad_level;
    int leaked_password;
};

static void on_log(int level, const char *message, void *userdata)
{
    struct log_seen *seen = (struct log_seen *)userdata;
    seen->lines++;
    if (level != MTGSY_LOG_ERR && level != MTGSY_LOG_WARNING && level != MTGSY_LOG_INFO &&
        level != MTGSY_LOG_DEBUG)
        seen->bad_level++;
    if (message == NULL || contains(message, "s3cret"))
        seen->leaked_password++;
}

/* A handle for the stand-in, the test account and the test state file. */
static mtgsy *configured(const char *ip, const char *state)
{
    mtgsy *h = mtgsy_new();
    const char *url = env("MTGSY_TEST_URL");
    CHECK(h != NULL);
    CHECK_RC(h, mtgsy_set(h, "username", "user@example.com"), MTGSY_OK);
    CHECK_RC(h, mtgsy_set(h, "password", PASSWORD), MTGSY_OK);
    CHECK_RC(h, mtgsy_set(h, "server", url), MTGSY_OK);
    if (strncmp(url, "https://", 8) == 0)
        CHECK_RC(h, mtgsy_set(h, "ca_file", env("MTGSY_TEST_CA")), MTGSY_OK);
    else
        CHECK_RC(h, mtgsy_set(h, "allow_http", "1"), MTGSY_OK);
    CHECK_RC(h, mtgsy_set(h, "timeout", "20"), MTGSY_OK);
    CHECK_RC(h, mtgsy_set(h, "ip", ip), MTGSY_OK);
    CHECK_RC(h, mtgsy_set(h, "state", state ? state : env("MTGSY_TEST_STATE")), MTGSY_OK);
    CHECK(strcmp(mtgsy_last_error(h), "") == 0);
    return h;
}

/* Everything that needs no server: versions, codes, NULLs, bad strings,
 * bad settings, classify, and guard argument checks. */
static void scenario_api(void)
{
    static const int codes[] = {MTGSY_OK,           MTGSY_BAD_INPUT,     MTGSY_DEFERRED,
                                MTGSY_NETWORK,      MTGSY_REJECTED,      MTGSY_BLOCKED,
                                MTGSY_NULL_ARGUMENT, MTGSY_INVALID_UTF8, MTGSY_TOO_LONG,
                                MTGSY_UNKNOWN_KEY,  MTGSY_UNCHANGED,     MTGSY_INTERNAL};
    char long_value[MTGSY_STRING_MAX + 2];
    char max_value[MTGSY_STRING_MAX + 1];
    mtgsy_result r;
    int64_t wait = -1;
    int attempt = -1;
    size_t i;
    mtgsy *h;

    CHECK(strcmp(mtgsy_version(), MTGSY_VERSION) == 0);
    CHECK(mtgsy_abi_version() == MTGSY_ABI_VERSION);
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK(mtgsy_strerror(codes[i]) != NULL);
        CHECK(strlen(mtgsy_strerror(codes[i])) > 0);
        CHECK(strcmp(mtgsy_strerror(codes[i]), mtgsy_strerror(9999)) != 0);
    }
    CHECK(mtgsy_strerror(-1) != NULL && mtgsy_strerror(9999) != NULL);

    /* NULL handles. */
    mtgsy_free(NULL);
    CHECK(mtgsy_last_error(NULL) != NULL);
    CHECK_RC(NULL, mtgsy_set(NULL, "username", "u@example.com"), MTGSY_NULL_ARGUMENT);
    CHECK_RC(NULL, mtgsy_set_log(NULL, on_log, NULL), MTGSY_NULL_ARGUMENT);
    CHECK_RC(NULL, mtgsy_reset(NULL), MTGSY_NULL_ARGUMENT);
    CHECK_RC(NULL, mtgsy_update(NULL, 0, NULL), MTGSY_NULL_ARGUMENT);
    memset(&r, 0x55, sizeof r);
    CHECK_RC(NULL, mtgsy_update(NULL, 0, &r), MTGSY_NULL_ARGUMENT);
    CHECK(r.status == MTGSY_NULL_ARGUMENT && r.sent == 0 && r.outcome[0] == '\0');
    CHECK(strlen(r.message) > 0 && strlen(r.message) < sizeof r.message);
    CHECK_RC(NULL, mtgsy_guard_check(NULL, "1.2.3.4", 0, T0, &wait), MTGSY_NULL_ARGUMENT);
    CHECK(wait == 0);
    CHECK_RC(NULL, mtgsy_guard_record(NULL, "1.2.3.4", MTGSY_ATTEMPT_UPDATED, T0),
             MTGSY_NULL_ARGUMENT);

    h = mtgsy_new();
    CHECK(h != NULL);
    CHECK(strcmp(mtgsy_last_error(h), "") == 0);

    /* NULL, non-UTF-8 and over-long strings. */
    CHECK_RC(h, mtgsy_set(h, NULL, "x"), MTGSY_NULL_ARGUMENT);
    CHECK(contains(mtgsy_last_error(h), "key"));
    CHECK_RC(h, mtgsy_set(h, "username", NULL), MTGSY_NULL_ARGUMENT);
    CHECK(contains(mtgsy_last_error(h), "username"));
    CHECK_RC(h, mtgsy_set(h, "username", "\xff\xfe@example.com"), MTGSY_INVALID_UTF8);
    CHECK(contains(mtgsy_last_error(h), "username"));
    CHECK_RC(h, mtgsy_set(h, "\xc3", "x"), MTGSY_INVALID_UTF8);
    memset(long_value, 'a', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    CHECK_RC(h, mtgsy_set(h, "offline_text", long_value), MTGSY_TOO_LONG);
    CHECK_RC(h, mtgsy_set(h, long_value, "1"), MTGSY_TOO_LONG);
    memset(max_value, 'a', sizeof max_value - 1);
    max_value[sizeof max_value - 1] = '\0';
    CHECK_RC(h, mtgsy_set(h, "username", max_value), MTGSY_BAD_INPUT);

    /* Unknown keys and bad values name the key; the password never shows. */
    CHECK_RC(h, mtgsy_set(h, "colour", "red"), MTGSY_UNKNOWN_KEY);
    CHECK(contains(mtgsy_last_error(h), "colour"));
    CHECK_RC(h, mtgsy_set(h, "", "x"), MTGSY_UNKNOWN_KEY);
    CHECK_RC(h, mtgsy_set(h, "port", "80"), MTGSY_BAD_INPUT);
    CHECK(strncmp(mtgsy_last_error(h), "port", 4) == 0);
    CHECK_RC(h, mtgsy_set(h, "hb", "2"), MTGSY_BAD_INPUT);
    CHECK(strncmp(mtgsy_last_error(h), "hb", 2) == 0);
    CHECK_RC(h, mtgsy_set(h, "mx", "mail.example.com"), MTGSY_BAD_INPUT);
    CHECK(strncmp(mtgsy_last_error(h), "mx", 2) == 0);
    CHECK_RC(h, mtgsy_set(h, "password", "topsecret\nline"), MTGSY_BAD_INPUT);
    CHECK(contains(mtgsy_last_error(h), "password"));
    CHECK(!contains(mtgsy_last_error(h), "topsecret"));
    CHECK_RC(h, mtgsy_set(h, "password_file", "-"), MTGSY_BAD_INPUT);
    CHECK_RC(h, mtgsy_set(h, "password_file", "/nonexistent/pw"), MTGSY_BAD_INPUT);
    CHECK(contains(mtgsy_last_error(h), "password_file"));
    CHECK_RC(h, mtgsy_set(h, "port", "8080"), MTGSY_OK);
    CHECK(strcmp(mtgsy_last_error(h), "") == 0);

    /* An update that cannot start: nothing sent, the field named. */
    memset(&r, 0x55, sizeof r);
    CHECK_RC(h, mtgsy_update(h, 0, &r), MTGSY_BAD_INPUT);
    CHECK(r.status == MTGSY_BAD_INPUT && r.sent == 0 && r.http_status == 0);
    CHECK(strcmp(r.outcome, "invalid") == 0);
    CHECK(contains(r.message, "username") && contains(mtgsy_last_error(h), "username"));
    /* Messages name settings as mtgsy_set takes them, never a CLI flag. */
    CHECK(!contains(mtgsy_last_error(h), "--"));
    CHECK_RC(h, mtgsy_set(h, "username", "u@example.com"), MTGSY_OK);
    CHECK_RC(h, mtgsy_update(h, 0, NULL), MTGSY_BAD_INPUT);
    CHECK(contains(mtgsy_last_error(h), "password") && !contains(mtgsy_last_error(h), "--"));
    CHECK_RC(h, mtgsy_set(h, "password", PASSWORD), MTGSY_OK);
    CHECK_RC(h, mtgsy_update(h, 0, &r), MTGSY_BAD_INPUT);
    CHECK(strncmp(mtgsy_last_error(h), "ip", 2) == 0);
    CHECK(contains(mtgsy_last_error(h), "ip_command") && !contains(mtgsy_last_error(h), "--"));
    CHECK_RC(h, mtgsy_set(h, "ip", "192.168.1.1"), MTGSY_OK);
    CHECK_RC(h, mtgsy_update(h, 0, &r), MTGSY_BAD_INPUT);
    CHECK(contains(mtgsy_last_error(h), "set allow_private"));
    CHECK(!contains(mtgsy_last_error(h), "--"));
    /* Two address sources: refused, both named. */
    CHECK_RC(h, mtgsy_set(h, "ip_command", "echo 1.2.3.4"), MTGSY_OK);
    CHECK_RC(h, mtgsy_update(h, 0, &r), MTGSY_BAD_INPUT);
    CHECK(strncmp(mtgsy_last_error(h), "ip:", 3) == 0);
    CHECK(contains(mtgsy_last_error(h), "ip_command") && r.sent == 0);
    CHECK_RC(h, mtgsy_set(h, "dry_run", "maybe"), MTGSY_BAD_INPUT);
    CHECK(strncmp(mtgsy_last_error(h), "dry_run", 7) == 0);

    /* Guard arguments. */
    CHECK_RC(h, mtgsy_guard_check(h, NULL, 0, T0, &wait), MTGSY_NULL_ARGUMENT);
    CHECK_RC(h, mtgsy_guard_check(h, "1.2.3.\xff", 0, T0, &wait), MTGSY_INVALID_UTF8);
    CHECK_RC(h, mtgsy_guard_check(h, "1.2.3", 0, T0, &wait), MTGSY_BAD_INPUT);
    CHECK(strncmp(mtgsy_last_error(h), "ip", 2) == 0);
    CHECK_RC(h, mtgsy_guard_check(h, "192.168.1.1", 0, T0, NULL), MTGSY_BAD_INPUT);
    CHECK(strncmp(mtgsy_last_error(h), "ip", 2) == 0);
    CHECK_RC(h, mtgsy_guard_check(h, "1.2.3.4", 0, -5, NULL), MTGSY_BAD_INPUT);
    CHECK(strncmp(mtgsy_last_error(h), "now", 3) == 0);
    CHECK_RC(h, mtgsy_guard_record(h, "1.2.3.4", 99, T0), MTGSY_BAD_INPUT);
    CHECK(strncmp(mtgsy_last_error(h), "outcome", 7) == 0);
    CHECK_RC(h, mtgsy_guard_record(h, NULL, MTGSY_ATTEMPT_UPDATED, T0), MTGSY_NULL_ARGUMENT);

    /* Classify. */
    CHECK_RC(NULL, mtgsy_classify(200, "800 OK", 6, &attempt), MTGSY_OK);
    CHECK(attempt == MTGSY_ATTEMPT_UPDATED);
    CHECK_RC(NULL, mtgsy_classify(200, "300 Invalid login", 17, &attempt), MTGSY_OK);
    CHECK(attempt == MTGSY_ATTEMPT_REJECTED);
    CHECK_RC(NULL, mtgsy_classify(200, "hello", 5, &attempt), MTGSY_OK);
    CHECK(attempt == MTGSY_ATTEMPT_UNCONFIRMED);
    CHECK_RC(NULL, mtgsy_classify(503, NULL, 0, &attempt), MTGSY_OK);
    CHECK(attempt == MTGSY_ATTEMPT_FAILED_SENT);
    CHECK_RC(NULL, mtgsy_classify(200, "800 OK\0\xff\xfe", 9, &attempt), MTGSY_OK);
    CHECK_RC(NULL, mtgsy_classify(200, "800 OK", 6, NULL), MTGSY_NULL_ARGUMENT);
    CHECK_RC(NULL, mtgsy_classify(200, NULL, 3, &attempt), MTGSY_NULL_ARGUMENT);
    CHECK_RC(NULL, mtgsy_classify(42, "", 0, &attempt), MTGSY_BAD_INPUT);
    CHECK_RC(NULL, mtgsy_classify(-1, "", 0, &attempt), MTGSY_BAD_INPUT);

    /* Log callback on and off; reset. */
    CHECK_RC(h, mtgsy_set_log(h, on_log, NULL), MTGSY_OK);
    CHECK_RC(h, mtgsy_set_log(h, NULL, NULL), MTGSY_OK);
    CHECK_RC(h, mtgsy_reset(h), MTGSY_OK);
    CHECK_RC(h, mtgsy_update(h, 0, NULL), MTGSY_BAD_INPUT);
    CHECK(contains(mtgsy_last_error(h), "username"));
    mtgsy_free(h);
}

/* Real updates: updated, unchanged, deferred by the floor (forced too),
 * and a second handle's guard check deferred. One request in all. */
static void scenario_update(void)
{
    struct log_seen seen = {0, 0, 0};
    mtgsy_result r;
    int64_t wait = -1;
    mtgsy *h = configured("1.2.3.4", NULL);
    mtgsy *h2;

    CHECK_RC(h, mtgsy_set_log(h, on_log, &seen), MTGSY_OK);
    memset(&r, 0x55, sizeof r);
    CHECK_RC(h, mtgsy_update(h, 0, &r), MTGSY_OK);
    CHECK(r.status == MTGSY_OK && r.sent == 1 && r.http_status == 200);
    CHECK(strcmp(r.outcome, "updated") == 0);
    CHECK(strcmp(r.ip, "1.2.3.4") == 0);
    CHECK(strncmp(r.reply, "800 OK", 6) == 0);
    CHECK(!contains(r.reply, "s3cret") && contains(r.reply, "***"));
    CHECK(!contains(r.message, "s3cret"));
    CHECK(strlen(r.message) > 0);
    CHECK(strcmp(mtgsy_last_error(h), "") == 0);
    CHECK(seen.lines > 0 && seen.bad_level == 0 && seen.leaked_password == 0);

    memset(&r, 0x55, sizeof r);
    CHECK_RC(h, mtgsy_update(h, 0, &r), MTGSY_OK);
    CHECK(strcmp(r.outcome, "unchanged") == 0 && r.sent == 0 && r.http_status == 0);
    CHECK(r.reply[0] == '\0');

    CHECK_RC(h, mtgsy_set(h, "ip", "5.6.7.8"), MTGSY_OK);
    CHECK_RC(h, mtgsy_update(h, 0, &r), MTGSY_DEFERRED);
    CHECK(strcmp(r.outcome, "deferred") == 0 && r.sent == 0);
    CHECK(r.retry_after_s > 0 && r.retry_after_s <= 600);
    CHECK(strlen(mtgsy_last_error(h)) > 0);
    CHECK(strcmp(mtgsy_last_error(h), r.message) == 0);
    CHECK_RC(h, mtgsy_update(h, 1, &r), MTGSY_DEFERRED);
    CHECK_RC(h, mtgsy_update(h, 1, NULL), MTGSY_DEFERRED);

    h2 = configured("1.2.3.4", NULL);
    CHECK_RC(h2, mtgsy_guard_check(h2, "5.6.7.8", 1, 0, &wait), MTGSY_DEFERRED);
    CHECK(wait > 0 && wait <= 600);
    CHECK_RC(h2, mtgsy_guard_check(h2, "1.2.3.4", 0, 0, &wait), MTGSY_UNCHANGED);
    CHECK(wait == 0);
    CHECK(seen.leaked_password == 0 && seen.bad_level == 0);
    mtgsy_free(h2);
    mtgsy_free(h);
}

/* dry_run: the result says what would be sent; nothing is sent and no
 * state is written (the Rust side counts the requests: one, after dry_run
 * is turned off again). */
static void scenario_dryrun(void)
{
    struct log_seen seen = {0, 0, 0};
    mtgsy_result r;
    FILE *state;
    int i;
    mtgsy *h = configured("1.2.3.4", NULL);

    CHECK_RC(h, mtgsy_set_log(h, on_log, &seen), MTGSY_OK);
    CHECK_RC(h, mtgsy_set(h, "dry_run", "1"), MTGSY_OK);
    for (i = 0; i < 2; i++) {
        memset(&r, 0x55, sizeof r);
        CHECK_RC(h, mtgsy_update(h, i, &r), MTGSY_OK);
        CHECK(r.status == MTGSY_OK && r.sent == 0 && r.http_status == 0);
        CHECK(strcmp(r.outcome, "dry-run") == 0 && strcmp(r.ip, "1.2.3.4") == 0);
        CHECK(r.reply[0] == '\0');
        CHECK(contains(r.message, "nothing sent") && contains(r.message, "GET "));
        CHECK(contains(r.message, env("MTGSY_TEST_URL")));
        CHECK(contains(r.message, "&ip=1.2.3.4") && contains(r.message, "pass=***"));
        CHECK(contains(r.message, "would send"));
        CHECK(!contains(r.message, "s3cret"));
    }
    state = fopen(env("MTGSY_TEST_STATE"), "r");
    CHECK(state == NULL);
    CHECK(seen.lines > 0 && seen.leaked_password == 0 && seen.bad_level == 0);

    /* Off again: a real update. */
    CHECK_RC(h, mtgsy_set(h, "dry_run", "0"), MTGSY_OK);
    CHECK_RC(h, mtgsy_update(h, 0, &r), MTGSY_OK);
    CHECK(strcmp(r.outcome, "updated") == 0 && r.sent == 1);
    mtgsy_free(h);
    /* A dry run says when the guard would hold the request back. */
    h = configured("5.6.7.8", NULL);
    CHECK_RC(h, mtgsy_set(h, "dry_run", "1"), MTGSY_OK);
    CHECK_RC(h, mtgsy_update(h, 0, &r), MTGSY_OK);
    CHECK(strcmp(r.outcome, "dry-run") == 0 && contains(r.message, "would not send"));
    mtgsy_free(h);
}

/* The stand-in answers "300 Invalid login": rejected, then held. */
static void scenario_rejected(void)
{
    mtgsy_result r;
    mtgsy *h = configured("1.2.3.4", NULL);
    CHECK_RC(h, mtgsy_update(h, 0, &r), MTGSY_REJECTED);
    CHECK(strcmp(r.outcome, "rejected") == 0 && r.sent == 1 && r.http_status == 200);
    CHECK(contains(r.reply, "300"));
    CHECK(strlen(mtgsy_last_error(h)) > 0);
    CHECK_RC(h, mtgsy_update(h, 1, &r), MTGSY_DEFERRED);
    CHECK(r.retry_after_s > 600);
    mtgsy_free(h);
}

/* The stand-in says the account is blocked. */
static void scenario_blocked(void)
{
    mtgsy_result r;
    mtgsy *h = configured("1.2.3.4", NULL);
    CHECK_RC(h, mtgsy_update(h, 0, &r), MTGSY_BLOCKED);
    CHECK(strcmp(r.outcome, "blocked") == 0 && r.retry_after_s > 3600);
    CHECK_RC(h, mtgsy_set(h, "ip", "5.6.7.8"), MTGSY_OK);
    CHECK_RC(h, mtgsy_update(h, 1, &r), MTGSY_BLOCKED);
    CHECK(r.sent == 0 && r.retry_after_s > 3600);
    mtgsy_free(h);
}

/* Nothing listens at MTGSY_TEST_URL: a network error, then backoff. */
static void scenario_network(void)
{
    mtgsy_result r;
    mtgsy *h = configured("1.2.3.4", NULL);
    CHECK_RC(h, mtgsy_update(h, 0, &r), MTGSY_NETWORK);
    CHECK(strcmp(r.outcome, "failed") == 0 && r.sent == 0 && r.http_status == 0);
    CHECK(r.retry_after_s > 0 && strlen(r.reply) > 0);
    CHECK_RC(h, mtgsy_update(h, 0, &r), MTGSY_DEFERRED);
    mtgsy_free(h);
}

#define THREADS 8

struct racer {
    pthread_t thread;
    const char *state;
    int guard_only;
    int rc;
    char outcome[MTGSY_OUTCOME_SIZE];
    char error[512];
    struct log_seen seen;
};

static void *race(void *arg)
{
    struct racer *me = (struct racer *)arg;
    mtgsy *h = configured("1.2.3.4", me->state);
    mtgsy_set_log(h, on_log, &me->seen);
    if (me->guard_only) {
        int64_t wait = 0;
        me->rc = mtgsy_guard_check(h, "1.2.3.4", 0, T0, &wait);
    } else {
        mtgsy_result r;
        me->rc = mtgsy_update(h, 0, &r);
        memcpy(me->outcome, r.outcome, sizeof me->outcome);
    }
    snprintf(me->error, sizeof me->error, "%s", mtgsy_last_error(h));
    mtgsy_free(h);
    return NULL;
}

/* 8 threads, 8 handles, one state file. */
static void run_race(int guard_only, const char *state, int *oks, int *updated)
{
    struct racer racers[THREADS];
    int i;
    memset(racers, 0, sizeof racers);
    *oks = 0;
    *updated = 0;
    for (i = 0; i < THREADS; i++) {
        racers[i].state = state;
        racers[i].guard_only = guard_only;
        CHECK(pthread_create(&racers[i].thread, NULL, race, &racers[i]) == 0);
    }
    for (i = 0; i < THREADS; i++) {
        CHECK(pthread_join(racers[i].thread, NULL) == 0);
        CHECK(racers[i].seen.leaked_password == 0 && racers[i].seen.bad_level == 0);
        if (racers[i].rc == MTGSY_OK)
            (*oks)++;
        if (strcmp(racers[i].outcome, "updated") == 0)
            (*updated)++;
        if (racers[i].rc != MTGSY_OK && (!guard_only || racers[i].rc != MTGSY_DEFERRED)) {
            char detail[1024];
            snprintf(detail, sizeof detail, "racer %d: rc %d (%s), outcome %s, last error: %s",
                     i, racers[i].rc, mtgsy_strerror(racers[i].rc), racers[i].outcome,
                     racers[i].error);
            fail(__LINE__, "every racer ends OK (or deferred, guard only)", detail);
        }
    }
}

static void scenario_race(void)
{
    int oks, updated;
    run_race(0, env("MTGSY_TEST_STATE"), &oks, &updated);
    CHECK(oks == THREADS);
    CHECK(updated == 1);
}

/* The guard alone, with the time given: check, record, every hold. */
static void scenario_guard(void)
{
    char other_state[4096];
    int64_t wait = -1;
    int oks, updated;
    mtgsy *h1 = configured("1.2.3.4", NULL);
    mtgsy *h2 = configured("1.2.3.4", NULL);

    CHECK_RC(h1, mtgsy_guard_check(h1, "1.2.3.4", 0, T0, &wait), MTGSY_OK);
    CHECK(wait == 0 && strcmp(mtgsy_last_error(h1), "") == 0);
    /* Between check and record, the pending attempt holds everyone off. */
    CHECK_RC(h2, mtgsy_guard_check(h2, "1.2.3.4", 0, T0 + 1, &wait), MTGSY_DEFERRED);
    CHECK(wait == 599);
    CHECK_RC(h1, mtgsy_guard_record(h1, "1.2.3.4", MTGSY_ATTEMPT_UPDATED, T0 + 2), MTGSY_OK);
    CHECK_RC(h2, mtgsy_guard_check(h2, "1.2.3.4", 0, T0 + 700, &wait), MTGSY_UNCHANGED);
    CHECK(wait == 0 && strlen(mtgsy_last_error(h2)) > 0);
    CHECK_RC(h2, mtgsy_guard_check(h2, "5.6.7.8", 0, T0 + 300, &wait), MTGSY_DEFERRED);
    CHECK(wait == 302);

    /* Forced, but it would change nothing: once a day at most. */
    CHECK_RC(h2, mtgsy_guard_check(h2, "1.2.3.4", 1, T0 + 700, &wait), MTGSY_DEFERRED);
    CHECK(wait == 2 + 86400 - 700);

    /* A changed address after the floor; the request never left: backoff,
     * but the floor still runs from the last real attempt. */
    CHECK_RC(h2, mtgsy_guard_check(h2, "5.6.7.8", 0, T0 + 700, &wait), MTGSY_OK);
    CHECK_RC(h2, mtgsy_guard_record(h2, "5.6.7.8", MTGSY_ATTEMPT_FAILED_UNSENT, T0 + 701),
             MTGSY_OK);
    CHECK_RC(h1, mtgsy_guard_check(h1, "5.6.7.8", 1, T0 + 710, &wait), MTGSY_DEFERRED);
    CHECK(wait == 51);

    /* A changed address goes out; the service says blocked. */
    CHECK_RC(h1, mtgsy_guard_check(h1, "9.9.9.9", 0, T0 + 800, &wait), MTGSY_OK);
    CHECK_RC(h1, mtgsy_guard_record(h1, "9.9.9.9", MTGSY_ATTEMPT_BLOCKED, T0 + 801), MTGSY_OK);
    CHECK_RC(h2, mtgsy_guard_check(h2, "9.9.9.9", 1, T0 + 2000, &wait), MTGSY_BLOCKED);
    CHECK(wait == 801 + 86400 - 2000);
    /* A clock behind the state file sends nothing. */
    CHECK_RC(h2, mtgsy_guard_check(h2, "9.9.9.9", 0, T0 - 100, &wait), MTGSY_DEFERRED);
    CHECK(wait > 0);

    mtgsy_free(h1);
    mtgsy_free(h2);

    /* 8 threads checking at once on a fresh state file: one may send. */
    snprintf(other_state, sizeof other_state, "%s.race", env("MTGSY_TEST_STATE"));
    run_race(1, other_state, &oks, &updated);
    CHECK(oks == 1);
}

/* mtgsy_status_json: the state file as `status --json` prints it, with the
 * heartbeat of a check that sent nothing; the filter; NULL arguments. The
 * JSON is printed ("json TEXT") for the Rust side to compare with the
 * CLI's. */
static void scenario_status(void)
{
    const char *json = "unset";
    char bad_state[4096];
    FILE *bad;
    int64_t wait = -1;
    mtgsy *h = configured("1.2.3.4", NULL);

    CHECK(setenv("MTGSY_DDNS_NOW", "1800001000", 1) == 0);
    CHECK_RC(h, mtgsy_status_json(h, &json), MTGSY_OK);
    CHECK(json != NULL && contains(json, "\"records\":[]"));
    CHECK(contains(json, "\"now\":1800001000"));

    CHECK_RC(h, mtgsy_guard_check(h, "1.2.3.4", 0, T0, &wait), MTGSY_OK);
    CHECK_RC(h, mtgsy_guard_record(h, "1.2.3.4", MTGSY_ATTEMPT_UPDATED, T0 + 2), MTGSY_OK);
    /* A check that sends nothing, a check interval later: its time is
     * stored; one sooner after it is not. */
    CHECK_RC(h, mtgsy_guard_check(h, "1.2.3.4", 0, T0 + 700, &wait), MTGSY_UNCHANGED);
    CHECK_RC(h, mtgsy_guard_check(h, "1.2.3.4", 0, T0 + 800, &wait), MTGSY_UNCHANGED);
    CHECK_RC(h, mtgsy_status_json(h, &json), MTGSY_OK);
    CHECK(json != NULL);
    CHECK(contains(json, "\"username\":\"user@example.com\""));
    CHECK(contains(json, "\"registered_ip\":\"1.2.3.4\""));
    CHECK(contains(json, "\"last_result\":\"updated\""));
    CHECK(contains(json, "\"last_attempt_at\":1800000002"));
    CHECK(contains(json, "\"last_check\":1800000700"));
    CHECK(contains(json, "\"next_allowed_at\":null"));
    CHECK(!contains(json, "s3cret"));
    printf("json %s\n", json);

    /* Another account's records are not this handle's. */
    CHECK_RC(h, mtgsy_set(h, "username", "other@example.com"), MTGSY_OK);
    CHECK_RC(h, mtgsy_status_json(h, &json), MTGSY_OK);
    CHECK(json != NULL && contains(json, "\"records\":[]"));

    CHECK_RC(h, mtgsy_status_json(h, NULL), MTGSY_NULL_ARGUMENT);
    CHECK(contains(mtgsy_last_error(h), "json"));
    json = "unset";
    CHECK(mtgsy_status_json(NULL, &json) == MTGSY_NULL_ARGUMENT && json == NULL);

    /* A state file that cannot be read: an error naming it, no text. */
    snprintf(bad_state, sizeof bad_state, "%s.bad", env("MTGSY_TEST_STATE"));
    bad = fopen(bad_state, "w");
    CHECK(bad != NULL && fputs("{\"version\":2,", bad) >= 0 && fclose(bad) == 0);
    CHECK_RC(h, mtgsy_set(h, "state", bad_state), MTGSY_OK);
    json = "unset";
    CHECK_RC(h, mtgsy_status_json(h, &json), MTGSY_BAD_INPUT);
    CHECK(json == NULL && contains(mtgsy_last_error(h), "corrupt"));
    CHECK(unsetenv("MTGSY_DDNS_NOW") == 0);
    mtgsy_free(h);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "";
    if (strcmp(which, "api") == 0)
        scenario_api();
    else if (strcmp(which, "update") == 0)
        scenario_update();
    else if (strcmp(which, "dryrun") == 0)
        scenario_dryrun();
    else if (strcmp(which, "rejected") == 0)
        scenario_rejected();
    else if (strcmp(which, "blocked") == 0)
        scenario_blocked();
    else if (strcmp(which, "network") == 0)
        scenario_network();
    else if (strcmp(which, "race") == 0)
        scenario_race();
    else if (strcmp(which, "guard") == 0)
        scenario_guard();
    else if (strcmp(which, "status") == 0)
        scenario_status();
    else {
        fprintf(stderr, "usage: capi_test api|update|dryrun|rejected|blocked|network|race|guard|status\n");
        return 2;
    }
    printf("ok %s\n", which);
    return 0;
}

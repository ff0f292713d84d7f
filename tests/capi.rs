//! The C ABI from C: the header (fresh, strict C99 and C++, documented),
//! the exported symbols, the soname, the pkg-config file, the firmware
//! README example, and tests/c/capi_test.c linked against the shared and the
//! static library, also under valgrind and AddressSanitizer/UBSan, doing
//! real updates against the loopback stand-in.
//!
//! Every tool used (gcc, g++, nm, readelf, pkg-config, valgrind) must be
//! installed: a missing tool fails the test, it is never skipped.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{StubServer, TempDir};

const PASSWORD: &str = "s3cret pass&word";
const STRICT_C: &[&str] = &["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"];
const STRICT_CXX: &[&str] = &["-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn header() -> PathBuf {
    root().join("include/mtgsy_ddns.h")
}

fn out_dir() -> PathBuf {
    PathBuf::from(env!("OUT_DIR"))
}

/// A library cargo built for this test run: `target/<profile>/deps/NAME`
/// (where rustc writes it), else `target/<profile>/NAME`.
fn built_lib(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let deps = exe.parent().expect("deps directory");
    let candidates = [deps.join(name), deps.parent().unwrap_or(deps).join(name)];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| panic!("{name} not built; looked at {candidates:?}"))
}

/// Runs a tool to completion; a tool that cannot be started fails the
/// test with a hint.
fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null());
    match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run {:?}: {e}; install it (Debian: apt-get install gcc g++ binutils pkg-config valgrind)",
            cmd.get_program()
        ),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a tool that must succeed; returns its stdout.
fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The header's `MTGSY_ABI_VERSION`.
fn abi_major() -> u32 {
    let h = fs::read_to_string(header()).unwrap();
    h.lines()
        .find_map(|l| l.strip_prefix("#define MTGSY_ABI_VERSION "))
        .and_then(|v| v.trim().parse().ok())
        .expect("MTGSY_ABI_VERSION in the header")
}

/// The functions the header declares.
fn header_functions() -> BTreeSet<String> {
    let h = fs::read_to_string(header()).unwrap();
    h.lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.starts_with("typedef"))
        .filter_map(|l| {
            let start = l.find("mtgsy_")?;
            let end = start + l[start..].find('(')?;
            Some(l[start..end].to_string())
        })
        .collect()
}

#[test]
fn committed_header_matches_a_fresh_generation() {
    let fresh = fs::read(out_dir().join("mtgsy_ddns.h")).expect("build.rs generated a header");
    let committed = fs::read(header()).expect("include/mtgsy_ddns.h exists");
    assert!(
        fresh == committed,
        "include/mtgsy_ddns.h differs from what cbindgen generates from src/capi/ now \
         ({}); run `MTGSY_DDNS_WRITE_HEADER=1 cargo build` and commit the header",
        out_dir().join("mtgsy_ddns.h").display()
    );
    let text = String::from_utf8(committed).unwrap();
    assert!(text.contains(&format!(
        "#define MTGSY_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(text.is_ascii(), "the header should be plain ASCII");
}

/// Codes and constants are part of the ABI: a number, once shipped, never
/// changes meaning. New ones are appended here; none is ever removed.
#[test]
fn abi_numbers_never_change() {
    const PINNED: &[(&str, i64)] = &[
        ("MTGSY_ABI_VERSION", 1),
        ("MTGSY_OK", 0),
        ("MTGSY_BAD_INPUT", 2),
        ("MTGSY_DEFERRED", 3),
        ("MTGSY_NETWORK", 4),
        ("MTGSY_REJECTED", 5),
        ("MTGSY_BLOCKED", 6),
        ("MTGSY_NULL_ARGUMENT", 100),
        ("MTGSY_INVALID_UTF8", 101),
        ("MTGSY_TOO_LONG", 102),
        ("MTGSY_UNKNOWN_KEY", 103),
        ("MTGSY_UNCHANGED", 104),
        ("MTGSY_INTERNAL", 105),
        ("MTGSY_LOG_ERR", 3),
        ("MTGSY_LOG_WARNING", 4),
        ("MTGSY_LOG_INFO", 6),
        ("MTGSY_LOG_DEBUG", 7),
        ("MTGSY_STRING_MAX", 4096),
        ("MTGSY_OUTCOME_SIZE", 16),
        ("MTGSY_IP_SIZE", 16),
        ("MTGSY_REPLY_SIZE", 1024),
        ("MTGSY_MESSAGE_SIZE", 1024),
        ("MTGSY_ATTEMPT_UPDATED", 1),
        ("MTGSY_ATTEMPT_UNCONFIRMED", 2),
        ("MTGSY_ATTEMPT_REJECTED", 3),
        ("MTGSY_ATTEMPT_BLOCKED", 4),
        ("MTGSY_ATTEMPT_FAILED_SENT", 5),
        ("MTGSY_ATTEMPT_FAILED_UNSENT", 6),
    ];
    let h = fs::read_to_string(header()).unwrap();
    let defined: Vec<(String, i64)> = h
        .lines()
        .filter_map(|l| l.strip_prefix("#define MTGSY_"))
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((format!("MTGSY_{name}"), value.trim().parse().ok()?))
        })
        .collect();
    for (name, value) in PINNED {
        let found = defined.iter().find(|(n, _)| n == name);
        assert_eq!(
            found.map(|(_, v)| *v),
            Some(*value),
            "{name} changed or vanished: numbers are append-only (bump MTGSY_ABI_VERSION only for a real break)"
        );
    }
    for (name, _) in &defined {
        assert!(
            PINNED.iter().any(|(n, _)| n == name),
            "{name} is new: pin it in this test"
        );
    }
}

#[test]
fn header_compiles_as_strict_c99_and_cpp() {
    let dir = TempDir::new("capi-header");
    let c = dir.path().join("h.c");
    fs::write(
        &c,
        "#include \"mtgsy_ddns.h\"\n#include \"mtgsy_ddns.h\"\nint main(void) { mtgsy_result r; (void)r; return MTGSY_OK; }\n",
    )
    .unwrap();
    let include = root().join("include");
    for std in ["-std=c99", "-std=c11"] {
        ok(Command::new("gcc")
            .args(STRICT_C)
            .arg(std)
            .arg("-I")
            .arg(&include)
            .arg("-fsyntax-only")
            .arg(&c));
    }
    ok(Command::new("g++")
        .args(STRICT_CXX)
        .arg("-I")
        .arg(&include)
        .args(["-fsyntax-only", "-x", "c++"])
        .arg(&c));
}

#[test]
fn every_header_function_is_documented() {
    let h = fs::read_to_string(header()).unwrap();
    let lines: Vec<&str> = h.lines().collect();
    let functions = header_functions();
    assert!(functions.len() >= 13, "{functions:?}");
    for name in &functions {
        let at = lines
            .iter()
            .position(|l| !l.starts_with(' ') && l.contains(&format!("{name}(")))
            .unwrap();
        assert_eq!(lines[at - 1].trim(), "*/", "{name} has no doc comment");
        let start = lines[..at].iter().rposition(|l| l.trim() == "/**").unwrap();
        let doc = lines[start..at].join("\n");
        assert!(doc.len() > 80, "{name}: doc too short:\n{doc}");
    }
    // Ownership, thread safety and errors are spelled out.
    for needle in [
        "never free it",
        "Thread-safe",
        "caller owns",
        "Returns",
        "one thread at a time",
    ] {
        assert!(h.contains(needle), "header never says {needle:?}");
    }
}

#[test]
fn only_prefixed_symbols_are_exported() {
    let so = built_lib("libmtgsy_ddns.so");
    let out = ok(Command::new("nm").args(["-D", "--defined-only"]).arg(&so));
    let exported: BTreeSet<String> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(|s| s.split('@').next().unwrap_or(s).to_string())
        .collect();
    assert!(!exported.is_empty());
    let stray: Vec<_> = exported
        .iter()
        .filter(|s| !s.starts_with("mtgsy_"))
        .collect();
    assert!(
        stray.is_empty(),
        "symbols without the mtgsy_ prefix: {stray:?}"
    );
    assert_eq!(exported, header_functions(), "exported vs declared");
}

#[test]
fn shared_library_has_the_abi_soname() {
    let so = built_lib("libmtgsy_ddns.so");
    let out = ok(Command::new("readelf").arg("-d").arg(&so));
    let want = format!("Library soname: [libmtgsy_ddns.so.{}]", abi_major());
    assert!(out.contains(&want), "{out}");
}

/// A directory laid out as an installed library: the real file under its
/// soname and the link-time name pointing at it.
fn install_shared(dir: &Path) -> PathBuf {
    let lib = dir.join("lib");
    fs::create_dir_all(&lib).unwrap();
    let soname = format!("libmtgsy_ddns.so.{}", abi_major());
    symlink(built_lib("libmtgsy_ddns.so"), lib.join(&soname)).unwrap();
    symlink(&soname, lib.join("libmtgsy_ddns.so")).unwrap();
    lib
}

/// The generated pkg-config file, pointed at `libdir` and the repository's
/// headers.
fn pkg_config(libdir: &Path, args: &[&str]) -> Vec<String> {
    let out = ok(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", out_dir())
        .arg(format!("--define-variable=libdir={}", libdir.display()))
        .arg(format!(
            "--define-variable=includedir={}",
            root().join("include").display()
        ))
        .args(args)
        .arg("mtgsy-ddns"));
    out.split_whitespace().map(str::to_string).collect()
}

#[test]
fn pkg_config_file_describes_the_library() {
    let pc = fs::read_to_string(out_dir().join("mtgsy-ddns.pc")).unwrap();
    assert!(!pc.contains('@'), "unsubstituted template words:\n{pc}");
    let version = ok(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", out_dir())
        .args(["--modversion", "mtgsy-ddns"]));
    assert_eq!(version.trim(), env!("CARGO_PKG_VERSION"));
    let libs = pkg_config(Path::new("/opt/x/lib"), &["--libs"]);
    assert!(libs.contains(&"-lmtgsy_ddns".to_string()), "{libs:?}");
    let statics = pkg_config(Path::new("/opt/x/lib"), &["--static", "--libs"]);
    assert!(statics.contains(&"-lpthread".to_string()), "{statics:?}");
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Build {
    Shared,
    Static,
    Sanitized,
}

/// Compiles tests/c/capi_test.c into `dir`.
fn build_c_test(dir: &Path, build: Build) -> PathBuf {
    let exe = dir.join("capi_test");
    let mut cmd = Command::new("gcc");
    cmd.args(STRICT_C)
        .args(["-g", "-O1", "-pthread"])
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("tests/c/capi_test.c"))
        .arg("-o")
        .arg(&exe);
    match build {
        Build::Shared | Build::Sanitized => {
            let lib = install_shared(dir);
            if build == Build::Sanitized {
                cmd.args([
                    "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all",
                    "-fno-omit-frame-pointer",
                ]);
            }
            cmd.arg("-L")
                .arg(&lib)
                .arg("-lmtgsy_ddns")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        }
        Build::Static => {
            // Only the archive in the library directory, so -lmtgsy_ddns
            // from pkg-config --static picks it; Libs.private is tested too.
            let lib = dir.join("lib");
            fs::create_dir_all(&lib).unwrap();
            symlink(built_lib("libmtgsy_ddns.a"), lib.join("libmtgsy_ddns.a")).unwrap();
            cmd.args(pkg_config(&lib, &["--static", "--libs"]));
        }
    }
    ok(&mut cmd);
    let needed = ok(Command::new("readelf").arg("-d").arg(&exe));
    let soname = format!("[libmtgsy_ddns.so.{}]", abi_major());
    assert_eq!(
        needed.contains(&soname),
        build != Build::Static,
        "NEEDED entries of the {build:?} build:\n{needed}"
    );
    exe
}

/// A URL on 127.0.0.1 where nothing listens.
fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/dns/update.php")
}

/// Runs one scenario of the C test, optionally under a wrapper (valgrind),
/// and checks it printed "ok" and nothing on stderr.
fn scenario(exe: &Path, wrapper: &[&str], name: &str, url: &str, ca: Option<PathBuf>) {
    let state = TempDir::new("capi-state");
    scenario_in(exe, wrapper, name, url, ca, state.path());
}

/// [`scenario`] with its state file in `state`; returns its stdout.
fn scenario_in(
    exe: &Path,
    wrapper: &[&str],
    name: &str,
    url: &str,
    ca: Option<PathBuf>,
    state: &Path,
) -> String {
    let mut cmd = match wrapper.split_first() {
        Some((tool, args)) => {
            let mut c = Command::new(tool);
            c.args(args).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.arg(name)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MTGSY_TEST_URL", url)
        .env("MTGSY_TEST_CA", ca.unwrap_or_default())
        .env("MTGSY_TEST_STATE", state.join("state.json"))
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=1")
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
    let out = run(&mut cmd);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success() && stdout.contains(&format!("ok {name}")),
        "scenario {name} under {wrapper:?}: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        stderr.is_empty(),
        "scenario {name}: the library or a checker wrote to stderr:\n{stderr}"
    );
    stdout
}

/// The status scenario, then `mtgsy-ddns status --json` on the same state
/// file at the same clock: the C call gives the CLI's very bytes.
fn status_scenario(exe: &Path, wrapper: &[&str]) {
    let state = TempDir::new("capi-status");
    let stdout = scenario_in(exe, wrapper, "status", &dead_url(), None, state.path());
    let from_c = stdout
        .lines()
        .find_map(|l| l.strip_prefix("json "))
        .unwrap_or_else(|| panic!("no JSON printed: {stdout}"));
    let path = state.path().join("state.json");
    let cli = ok(Command::new(env!("CARGO_BIN_EXE_mtgsy-ddns"))
        .args(["status", "--json", "--state"])
        .arg(&path)
        .env_clear()
        .env("MTGSY_DDNS_NOW", "1800001000"));
    assert_eq!(
        from_c,
        cli.trim_end(),
        "mtgsy_status_json and status --json"
    );
}

/// Every scenario, with the requests the stand-in must see.
fn all_scenarios(exe: &Path, wrapper: &[&str]) {
    scenario(exe, wrapper, "api", &dead_url(), None);

    let tls = StubServer::tls();
    tls.set_reply(200, &format!("800 OK {PASSWORD}"));
    scenario(exe, wrapper, "update", &tls.url(), Some(tls.ca_pem_path()));
    let reqs = tls.requests();
    assert_eq!(reqs.len(), 1, "update: one request in all");
    assert_eq!(reqs[0].query("pass").as_deref(), Some(PASSWORD));
    assert_eq!(reqs[0].query("ip").as_deref(), Some("1.2.3.4"));
    assert_eq!(reqs[0].query("email").as_deref(), Some("user@example.com"));

    let plain = StubServer::plain();
    scenario(exe, wrapper, "dryrun", &plain.url(), None);
    assert_eq!(
        plain.requests().len(),
        1,
        "dryrun: only the update after it"
    );

    let plain = StubServer::plain();
    plain.set_reply(200, "300 Invalid login");
    scenario(exe, wrapper, "rejected", &plain.url(), None);
    assert_eq!(plain.requests().len(), 1, "rejected");

    let plain = StubServer::plain();
    plain.set_reply(200, "Your account is blocked for abuse");
    scenario(exe, wrapper, "blocked", &plain.url(), None);
    assert_eq!(plain.requests().len(), 1, "blocked");

    scenario(exe, wrapper, "network", &dead_url(), None);

    let tls = StubServer::tls();
    scenario(exe, wrapper, "race", &tls.url(), Some(tls.ca_pem_path()));
    assert_eq!(
        tls.requests().len(),
        1,
        "8 threads on one state file: exactly one request"
    );

    let plain = StubServer::plain();
    scenario(exe, wrapper, "guard", &plain.url(), None);
    assert_eq!(plain.requests().len(), 0, "the guard alone sends nothing");

    status_scenario(exe, wrapper);
}

#[test]
fn c_tests_against_the_shared_library() {
    let dir = TempDir::new("capi-shared");
    let exe = build_c_test(dir.path(), Build::Shared);
    all_scenarios(&exe, &[]);
}

#[test]
fn c_tests_against_the_static_library() {
    let dir = TempDir::new("capi-static");
    let exe = build_c_test(dir.path(), Build::Static);
    all_scenarios(&exe, &[]);
}

#[test]
fn c_tests_under_valgrind() {
    let dir = TempDir::new("capi-valgrind");
    let exe = build_c_test(dir.path(), Build::Shared);
    let supp = root().join("tests/c/valgrind.supp");
    all_scenarios(
        &exe,
        &[
            "valgrind",
            "-q",
            "--leak-check=full",
            "--error-exitcode=1",
            "--track-origins=yes",
            "--num-callers=40",
            &format!("--suppressions={}", supp.display()),
        ],
    );
}

#[test]
fn c_tests_under_address_and_undefined_sanitizers() {
    let dir = TempDir::new("capi-asan");
    let exe = build_c_test(dir.path(), Build::Sanitized);
    all_scenarios(&exe, &[]);
}

/// The firmware example from the README: the ```c block after the marker,
/// compiled exactly as written (warnings are errors), through pkg-config,
/// then run against the stand-in. The README must exist and hold the
/// marker, so the check cannot pass by finding nothing.
#[test]
fn readme_example_compiles_and_runs() {
    const MARKER: &str = "<!-- capi-example: compiled and run by tests/capi.rs -->";
    let file = "README.md";
    let readme = fs::read_to_string(root().join(file))
        .unwrap_or_else(|e| panic!("{file}, named by this test: {e}"));
    let (_, after) = readme
        .split_once(MARKER)
        .unwrap_or_else(|| panic!("{file}: no {MARKER:?}"));
    let body = after
        .split_once("```c\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(code, _)| format!("{code}\n"))
        .unwrap_or_else(|| panic!("{file}: no ```c block after the marker"));
    let examples = [(file, body)];
    for (file, code) in examples {
        let dir = TempDir::new("capi-example");
        let src = dir.path().join("ddns-hook.c");
        fs::write(&src, code).unwrap();
        let lib = install_shared(dir.path());
        let exe = dir.path().join("ddns-hook");
        ok(Command::new("gcc")
            .args(STRICT_C)
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .args(pkg_config(&lib, &["--cflags", "--libs"]))
            .arg(format!("-Wl,-rpath,{}", lib.display())));

        let server = StubServer::plain();
        let settings = dir.path().join("ddns.conf");
        fs::write(
            &settings,
            format!(
                "# written by tests/capi.rs\nusername=user@example.com\npassword={PASSWORD}\n\
                 server={}\nallow_http=1\nip=1.2.3.4\nstate={}\n",
                server.url(),
                dir.path().join("state.json").display()
            ),
        )
        .unwrap();
        let first = run(Command::new(&exe).arg(&settings));
        assert_eq!(first.status.code(), Some(0), "{file}: {first:?}");
        assert!(
            text(&first.stdout).starts_with("updated 1.2.3.4"),
            "{first:?}"
        );
        let second = run(Command::new(&exe).arg(&settings));
        assert_eq!(second.status.code(), Some(0), "{file}: {second:?}");
        assert!(text(&second.stdout).starts_with("unchanged"), "{second:?}");
        assert_eq!(server.requests().len(), 1);

        fs::write(&settings, "port=80\n").unwrap();
        let bad = run(Command::new(&exe).arg(&settings));
        assert_eq!(bad.status.code(), Some(2), "{bad:?}");
        assert!(text(&bad.stderr).contains("port"), "{bad:?}");
        let usage = run(&mut Command::new(&exe));
        assert_eq!(usage.status.code(), Some(2));
    }
}

/// The C ABI's guard, called as C would call it (from Rust, through the
/// exported functions): the same rules as the CLI, because it is the same
/// code.
mod guard_through_the_abi {
    use super::*;
    use mtgsy_ddns::capi::*;
    use std::ffi::{c_int, CStr, CString};

    const T0: i64 = 1_800_000_000;
    /// `MTGSY_ATTEMPT_UPDATED`, `_UNCONFIRMED`, `_FAILED_SENT`.
    const UPDATED: c_int = 1;
    const UNCONFIRMED: c_int = 2;
    const FAILED_SENT: c_int = 5;

    struct Handle(*mut mtgsy);

    impl Handle {
        fn new(state: &Path, username: &str) -> Handle {
            // A fresh handle, freed in Drop.
            let h = Handle(mtgsy_new());
            assert_eq!(h.set("username", username), MTGSY_OK);
            assert_eq!(h.set("password", PASSWORD), MTGSY_OK);
            assert_eq!(h.set("state", state.to_str().unwrap()), MTGSY_OK);
            h
        }
        fn set(&self, key: &str, value: &str) -> c_int {
            let (k, v) = (CString::new(key).unwrap(), CString::new(value).unwrap());
            // SAFETY: live handle, NUL-terminated strings.
            unsafe { mtgsy_set(self.0, k.as_ptr(), v.as_ptr()) }
        }
        fn check(&self, ip: &str, force: bool, now: i64) -> (c_int, i64) {
            let ip = CString::new(ip).unwrap();
            let mut wait = -1;
            // SAFETY: live handle, NUL-terminated string, writable wait.
            let code = unsafe {
                mtgsy_guard_check(self.0, ip.as_ptr(), c_int::from(force), now, &mut wait)
            };
            (code, wait)
        }
        fn record(&self, ip: &str, outcome: c_int, now: i64) -> c_int {
            let ip = CString::new(ip).unwrap();
            // SAFETY: live handle, NUL-terminated string.
            unsafe { mtgsy_guard_record(self.0, ip.as_ptr(), outcome, now) }
        }
        /// `mtgsy_update`: its code, the outcome word, `sent` and the message.
        fn update(&self) -> (c_int, String, c_int, String) {
            let mut r = std::mem::MaybeUninit::<mtgsy_result>::uninit();
            // SAFETY: live handle; `r` is writable and filled on every return.
            let (code, r) = unsafe {
                let code = mtgsy_update(self.0, 0, r.as_mut_ptr());
                (code, r.assume_init())
            };
            let text = |b: &[std::ffi::c_char]| {
                // SAFETY: every string of the result is NUL-terminated.
                unsafe { CStr::from_ptr(b.as_ptr()) }
                    .to_string_lossy()
                    .into_owned()
            };
            (code, text(&r.outcome), r.sent, text(&r.message))
        }
        fn error(&self) -> String {
            // SAFETY: live handle; the string lives until the next call.
            unsafe { CStr::from_ptr(mtgsy_last_error(self.0)) }
                .to_string_lossy()
                .into_owned()
        }
    }

    impl Drop for Handle {
        fn drop(&mut self) {
            // SAFETY: the handle from mtgsy_new, freed once.
            unsafe { mtgsy_free(self.0) }
        }
    }

    #[test]
    fn force_interval_below_a_day_is_refused() {
        let dir = TempDir::new("abi-interval");
        let h = Handle::new(&dir.path().join("state.json"), "u@example.com");
        assert_eq!(h.set("force_interval", "3600"), MTGSY_BAD_INPUT);
        assert!(h.error().contains("86400"), "{}", h.error());
        assert_eq!(h.set("force_interval", "86400"), MTGSY_OK);
    }

    #[test]
    fn forced_unchanged_updates_at_most_once_a_day() {
        let dir = TempDir::new("abi-daily");
        let h = Handle::new(&dir.path().join("state.json"), "u@example.com");
        assert_eq!(h.check("1.2.3.4", false, T0).0, MTGSY_OK);
        assert_eq!(h.record("1.2.3.4", UPDATED, T0), MTGSY_OK);
        for dt in [600, 3600, 86_399] {
            assert_eq!(
                h.check("1.2.3.4", true, T0 + dt),
                (MTGSY_DEFERRED, 86_400 - dt),
                "{}",
                h.error()
            );
        }
        assert_eq!(h.check("1.2.3.4", true, T0 + 86_400).0, MTGSY_OK);
        // A changed option is a change.
        assert_eq!(h.record("1.2.3.4", UPDATED, T0 + 86_400), MTGSY_OK);
        assert_eq!(h.set("hb", "1"), MTGSY_OK);
        assert_eq!(h.check("1.2.3.4", false, T0 + 87_000).0, MTGSY_OK);
    }

    #[test]
    fn spellings_of_one_account_share_one_guard() {
        let dir = TempDir::new("abi-spellings");
        let state = dir.path().join("state.json");
        let a = Handle::new(&state, "Home.Example.COM.");
        let b = Handle::new(&state, "home.example.com");
        assert_eq!(a.check("1.2.3.4", false, T0).0, MTGSY_OK);
        assert_eq!(a.record("1.2.3.4", FAILED_SENT, T0), MTGSY_OK);
        assert_eq!(b.check("5.6.7.8", false, T0 + 10), (MTGSY_DEFERRED, 590));
    }

    #[test]
    fn a_clock_before_2020_sends_nothing() {
        let dir = TempDir::new("abi-clock");
        let h = Handle::new(&dir.path().join("state.json"), "u@example.com");
        let (code, _) = h.check("1.2.3.4", false, 1_000);
        assert_eq!(code, MTGSY_DEFERRED, "{}", h.error());
        assert!(h.error().contains("not synced"), "{}", h.error());
    }

    #[test]
    fn dry_run_sends_nothing_and_writes_no_state() {
        let server = StubServer::plain();
        let dir = TempDir::new("abi-dry");
        let state = dir.path().join("state.json");
        let h = Handle::new(&state, "u@example.com");
        for (k, v) in [("server", server.url().as_str()), ("allow_http", "1")] {
            assert_eq!(h.set(k, v), MTGSY_OK);
        }
        assert_eq!(h.set("ip_command", "echo 1.2.3.4"), MTGSY_OK);
        assert_eq!(h.set("dry_run", "yes"), MTGSY_OK);
        let (code, outcome, sent, message) = h.update();
        assert_eq!(
            (code, outcome.as_str(), sent),
            (MTGSY_OK, "dry-run", 0),
            "{message}"
        );
        let url = format!(
            "{}?email=u%40example.com&pass=***&hb=0&ip=1.2.3.4",
            server.url()
        );
        assert!(message.contains(&url), "{message}");
        assert!(!message.contains(PASSWORD), "{message}");
        assert_eq!(server.connections(), 0, "nothing on the wire");
        assert!(!state.exists(), "no state written");
        assert_eq!(h.set("dry_run", "0"), MTGSY_OK);
        assert_eq!(h.update().1, "updated");
        assert_eq!(server.requests().len(), 1);
    }

    #[test]
    fn an_unknown_bind_interface_sends_nothing() {
        let server = StubServer::plain();
        let dir = TempDir::new("abi-bind");
        let h = Handle::new(&dir.path().join("state.json"), "u@example.com");
        for (k, v) in [
            ("server", server.url().as_str()),
            ("allow_http", "1"),
            ("ip", "1.2.3.4"),
            ("bind_interface", "nosuchwan9"),
        ] {
            assert_eq!(h.set(k, v), MTGSY_OK, "{k}");
        }
        let (code, outcome, sent, message) = h.update();
        assert_eq!(
            (code, outcome.as_str(), sent),
            (MTGSY_NETWORK, "failed", 0),
            "{message}"
        );
        let words = "bind_interface: cannot send through nosuchwan9: no such device";
        assert!(message.contains(words), "{message}");
        assert_eq!(server.connections(), 0, "nothing on the wire");
    }

    #[test]
    fn messages_name_settings_not_command_line_flags() {
        let dir = TempDir::new("abi-words");
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("ip", "10.0.0.1")], "set allow_private"),
            (
                &[
                    ("ip", "1.2.3.4"),
                    ("server", "http://127.0.0.1:1/dns/update.php"),
                ],
                "set allow_http",
            ),
            (
                &[("ip", "1.2.3.4"), ("ip_command", "echo 1.2.3.4")],
                "ip: and ip_command are both set",
            ),
            (
                &[("ip", "1.2.3.4"), ("ip_source", "web")],
                "ip_source: is \"web\" but ip is set",
            ),
        ];
        for (settings, words) in cases {
            let h = Handle::new(&dir.path().join("state.json"), "u@example.com");
            for (k, v) in *settings {
                assert_eq!(h.set(k, v), MTGSY_OK, "{k}");
            }
            let (code, outcome, sent, message) = h.update();
            assert_eq!(
                (code, outcome.as_str(), sent),
                (MTGSY_BAD_INPUT, "invalid", 0)
            );
            assert!(message.contains(words), "{message}");
            assert!(!message.contains("--"), "a CLI flag in {message}");
        }
        let blank = Handle(mtgsy_new());
        for (k, v) in [("password", PASSWORD), ("ip", "1.2.3.4"), ("", "")] {
            let (code, _, _, message) = blank.update();
            assert_eq!(code, MTGSY_BAD_INPUT);
            assert!(
                !message.contains("--") && !message.contains("MTGSY_"),
                "{message}"
            );
            if !k.is_empty() {
                assert_eq!(blank.set(k, v), MTGSY_OK);
            }
        }
    }

    #[test]
    fn classify_reads_whole_words_and_refuses_long_bodies() {
        let classify = |status: c_int, body: &[u8]| {
            let mut attempt = -1;
            // SAFETY: body and attempt valid for the call.
            let code =
                unsafe { mtgsy_classify(status, body.as_ptr().cast(), body.len(), &mut attempt) };
            assert_eq!(code, MTGSY_OK);
            attempt
        };
        assert_eq!(classify(200, b"account unblocked"), UNCONFIRMED);
        assert_eq!(classify(200, "\u{feff}800 OK".as_bytes()), UPDATED);
        let mut long = b"800 OK ".to_vec();
        long.resize(10_000, b'x');
        assert_eq!(classify(200, &long), FAILED_SENT);
    }
}

//! The outside programs the test suite runs, checked before anything else.
//!
//! Cargo runs the library's and the command's unit tests, then the
//! integration tests in the order of their file names, and stops at the
//! first test program that fails. This file's name sorts first, so on a
//! machine without the tools `cargo test` stops here with one line naming
//! the Debian/Ubuntu packages to install, instead of dozens of failures.
//! The README's prerequisites line and `.ci/run` install the same list.

use std::io::Write;
use std::path::Path;

/// Each program the tests start (by name from `PATH`, or by absolute path)
/// and the package that provides it on Debian and Ubuntu. Essential
/// packages (coreutils, dash, gzip, bsdutils, mount) are left out.
const TOOLS: &[(&str, &str)] = &[
    ("busybox", "busybox"),       // the OpenWrt scripts run under its ash
    ("valgrind", "valgrind"),     // the C ABI test under memcheck
    ("/usr/bin/time", "time"),    // peak RSS of one update
    ("ip", "iproute2"),           // network namespaces: watch mode, --interface
    ("python3", "python3"),       // the package writers openwrt/mkipk, mkapk
    ("gcc", "gcc"),               // the C ABI test, the README's example
    ("g++", "g++"),               // the header compiled as C++
    ("nm", "binutils"),           // the library's exported symbols
    ("readelf", "binutils"),      // SONAME and NEEDED entries
    ("strip", "binutils"),        // the library as a package ships it
    ("pkg-config", "pkg-config"), // the generated mtgsy-ddns.pc
    ("unshare", "util-linux"),    // private mounts: /dev, resolv.conf, a full disk
    ("flock", "util-linux"),      // another holder of the state lock
    ("kill", "procps"),           // stopping the watch daemon from a script
    ("openssl", "openssl"),       // RSA keys for the HTTPS stand-in
    ("strace", "strace"),         // the state directory is fsynced
    // not a program: the system's CA bundle, trusted without --ca-file
    ("/etc/ssl/certs/ca-certificates.crt", "ca-certificates"),
];

/// True if `tool` is an executable file: the path itself when it has a
/// slash, else the first match in `PATH`. A path under `/etc` is a data
/// file: it only has to be there.
fn found(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if tool.starts_with("/etc/") {
        return Path::new(tool).is_file();
    }
    if tool.contains('/') {
        return executable(Path::new(tool));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| executable(&dir.join(tool)))
}

/// The packages (each once, in table order) whose programs are missing.
fn missing(tools: &[(&str, &'static str)], found: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let mut packages = Vec::new();
    for &(tool, package) in tools {
        if !found(tool) && !packages.contains(&package) {
            packages.push(package);
        }
    }
    packages
}

#[test]
fn the_tools_the_tests_run_are_installed() {
    let packages = missing(TOOLS, found);
    if !packages.is_empty() {
        // One line on the terminal, past the harness's output capture, and
        // an exit that stops cargo before the other test programs run.
        let _ = writeln!(
            std::io::stderr(),
            "missing: apt-get install {}",
            packages.join(" ")
        );
        std::process::exit(1);
    }
}

#[test]
fn a_missing_tool_names_its_package_once() {
    let absent = ["nm", "readelf", "busybox"];
    let got = missing(TOOLS, |t| !absent.contains(&t));
    assert_eq!(got, ["busybox", "binutils"]);
    assert!(missing(TOOLS, |_| true).is_empty());
}

/// The packages of [`TOOLS`], each once, sorted.
fn packages() -> Vec<&'static str> {
    let mut all: Vec<&str> = TOOLS.iter().map(|&(_, p)| p).collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// The words after `apt-get install` on the first line of `text` that has
/// it (options and a trailing `\` or `>/dev/null` left out, continuation
/// lines joined), sorted.
fn install_line(text: &str) -> Vec<String> {
    let joined = text.replace("\\\n", " ");
    let line = joined
        .lines()
        .find_map(|l| l.split_once("apt-get install").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no `apt-get install` line"));
    let mut words: Vec<String> = line
        .split_whitespace()
        .take_while(|w| !w.starts_with('>'))
        .filter(|w| !w.starts_with('-'))
        .map(str::to_string)
        .collect();
    words.sort_unstable();
    words
}

#[test]
fn readme_and_ci_install_exactly_these_packages() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["README.md", ".ci/run"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert_eq!(
            install_line(&text),
            packages(),
            "{file}'s apt-get install line"
        );
    }
}

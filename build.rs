//! Build script for the C ABI.
//!
//! - Generates the C header from `src/capi/` with cbindgen into
//!   `$OUT_DIR/mtgsy_ddns.h`. The committed copy, `include/mtgsy_ddns.h`, is
//!   written only when it is missing or when `MTGSY_DDNS_WRITE_HEADER=1` is
//!   set; otherwise a stale copy gets a warning here and a failing test in
//!   `tests/capi.rs`. (A build that rewrote the committed header would make
//!   that test pass whatever changed.)
//! - Renders `mtgsy-ddns.pc.in` into `$OUT_DIR/mtgsy-ddns.pc`, with the
//!   prefix from `MTGSY_DDNS_PREFIX` (default `/usr`).
//! - Sets `MTGSY_BUILD_TIME` (Unix seconds) for `doctor`'s clock check:
//!   `SOURCE_DATE_EPOCH` when set, else the time of the checked-out commit,
//!   else 0; never the clock of the build, so a build is reproducible.
//! - Gives the shared library the soname `libmtgsy_ddns.so.<ABI major>`,
//!   the major being `MTGSY_ABI_VERSION` in `src/capi/mod.rs`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

const CAPI: &str = "src/capi/mod.rs";
const HEADER: &str = "include/mtgsy_ddns.h";

/// What the static library needs from the system when linked by C
/// (`rustc --print native-static-libs` for Linux targets).
const LIBS_PRIVATE: &str = "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc";

fn main() {
    if let Err(e) = run() {
        eprintln!("build.rs: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").ok_or("no CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("no OUT_DIR")?);
    for path in [
        "build.rs",
        "cbindgen.toml",
        "mtgsy-ddns.pc.in",
        "src/capi",
        HEADER,
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rerun-if-env-changed=MTGSY_DDNS_WRITE_HEADER");
    println!("cargo:rerun-if-env-changed=MTGSY_DDNS_PREFIX");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rustc-env=MTGSY_BUILD_TIME={}", build_time(&root));

    let abi = abi_major(&root)?;
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmtgsy_ddns.so.{abi}");
    }
    header(&root, &out)?;
    pkg_config(&root, &out)
}

/// The build's date in Unix seconds: `SOURCE_DATE_EPOCH`, else the
/// commit's time (`git log`), else 0 (the clock check then falls back to
/// the guard's earliest believed time).
fn build_time(root: &Path) -> u64 {
    let from_env = env::var("SOURCE_DATE_EPOCH").ok();
    let from_git = || {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["log", "-1", "--format=%ct"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    from_env
        .or_else(from_git)
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// `MTGSY_ABI_VERSION` as written in the C ABI's source.
fn abi_major(root: &Path) -> Result<u32, String> {
    let source = read(&root.join(CAPI))?;
    source
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("pub const MTGSY_ABI_VERSION: c_int =")?
                .trim()
                .strip_suffix(';')?
                .parse()
                .ok()
        })
        .ok_or_else(|| format!("{CAPI}: no `pub const MTGSY_ABI_VERSION: c_int = N;`"))
}

fn header(root: &Path, out: &Path) -> Result<(), String> {
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml"))?;
    config.after_includes = Some(format!(
        "\n/** The version of the library this header was generated from. */\n#define MTGSY_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION")
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join(CAPI))
        .generate()
        .map_err(|e| format!("cbindgen: {e}"))?;
    bindings.write_to_file(out.join("mtgsy_ddns.h"));
    let committed = root.join(HEADER);
    if !committed.exists() || env::var("MTGSY_DDNS_WRITE_HEADER").as_deref() == Ok("1") {
        bindings.write_to_file(&committed);
    } else if fs::read(&committed).ok() != fs::read(out.join("mtgsy_ddns.h")).ok() {
        println!(
            "cargo:warning={HEADER} is out of date; rebuild with MTGSY_DDNS_WRITE_HEADER=1 and commit it"
        );
    }
    Ok(())
}

fn pkg_config(root: &Path, out: &Path) -> Result<(), String> {
    let template = read(&root.join("mtgsy-ddns.pc.in"))?;
    let prefix = env::var("MTGSY_DDNS_PREFIX").unwrap_or_else(|_| "/usr".into());
    let text = template
        .replace("@PREFIX@", &prefix)
        .replace("@VERSION@", env!("CARGO_PKG_VERSION"))
        .replace("@LIBS_PRIVATE@", LIBS_PRIVATE);
    fs::write(out.join("mtgsy-ddns.pc"), text).map_err(|e| format!("writing mtgsy-ddns.pc: {e}"))
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

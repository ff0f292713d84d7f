//! The OpenWrt packages from `openwrt/mkipk` (.ipk, opkg, OpenWrt 24.10) and
//! `openwrt/mkapk` (.apk, apk-tools 3, OpenWrt 25.12): their contents and
//! metadata, what the writers refuse, and install / upgrade / removal with
//! the real package managers into an offline root, as an image build does.
//! The runtime library package is installed with both and a C program
//! linked against the library runs from that root alone.
//!
//! The package managers come from `APK` / `OPKG`, else `../shared/tools/`
//! next to the repository; a test that needs one that is not there prints a
//! notice and passes without checking (everything else still runs).

mod common;

use common::{StubServer, TempDir};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_mtgsy-ddns");
const V1: &str = "1.2.3-r4";
const V2: &str = "1.3.0-r1";

// ---------------------------------------------------------------- helpers --

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files() -> PathBuf {
    root().join("openwrt/files")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A package manager from the environment variable `var`, else from
/// `../shared/tools/NAME`; `None` (with a printed notice) when neither is
/// there.
fn tool(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "{var}={} is not a file", p.display());
        return Some(p);
    }
    let p = root().join("../shared/tools").join(name);
    if p.is_file() {
        return Some(p);
    }
    eprintln!(
        "NOTICE: {name} not found ({var} unset, no {}): the checks with the real {name} are skipped",
        p.display()
    );
    None
}

fn apk() -> Option<PathBuf> {
    tool("APK", "apk")
}

fn opkg() -> Option<PathBuf> {
    tool("OPKG", "opkg")
}

/// Runs a command that must succeed; returns its output.
fn ok(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null());
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// The smallest ELF file the writers' checks read: a static executable
/// (no program headers, so no interpreter and no dynamic section) for the
/// given machine, class, byte order and flags.
fn fake_elf(machine: u16, bits64: bool, big: bool, flags: u32) -> Vec<u8> {
    let mut h = vec![0x7f, b'E', b'L', b'F', if bits64 { 2 } else { 1 }];
    h.push(if big { 2 } else { 1 });
    h.push(1);
    h.resize(16, 0);
    let u16b = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u32b = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    h.extend(u16b(2)); // ET_EXEC
    h.extend(u16b(machine));
    h.extend(u32b(1));
    let word = if bits64 { 8 } else { 4 };
    h.extend(vec![0; word * 3]); // entry, phoff, shoff
    h.extend(u32b(flags));
    h.extend(u16b(if bits64 { 64 } else { 52 }));
    h.extend(u16b(if bits64 { 56 } else { 32 }));
    h.extend(u16b(0)); // phnum
    h.extend([0; 6]);
    h.extend(b"fake program body");
    h
}

/// A static x86-64 "binary" for the install tests.
fn static_x86_64(dir: &Path) -> PathBuf {
    let p = dir.join("mtgsy-ddns-static");
    fs::write(&p, fake_elf(62, true, false, 0)).unwrap();
    p
}

/// The host build's shared library (soname libmtgsy_ddns.so.1), as cargo
/// built it for this test run.
fn host_lib() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let deps = exe.parent().expect("deps directory");
    let candidates = [
        deps.join("libmtgsy_ddns.so"),
        deps.parent().unwrap_or(deps).join("libmtgsy_ddns.so"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| panic!("libmtgsy_ddns.so not built; looked at {candidates:?}"))
}

/// The host library stripped of debug information (what a build ships;
/// the debug build's 30 MB would only slow the writers down), in `dir`.
fn stripped_lib(dir: &Path) -> PathBuf {
    let p = dir.join("libmtgsy_ddns.so");
    if !p.exists() {
        ok(Command::new("strip")
            .arg("--strip-unneeded")
            .arg("-o")
            .arg(&p)
            .arg(host_lib()));
    }
    p
}

/// Runs openwrt/<writer> (mkipk or mkapk); returns its output, whatever
/// the exit status.
fn writer(writer: &str, arch: &str, bin: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new("python3")
        .arg(root().join("openwrt").join(writer))
        .args(["--arch", arch, "--bin"])
        .arg(bin)
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs the writer")
}

/// Both writers for x86_64, version `version`, with the host library.
fn build_both(dir: &Path, out: &str, version: &str) -> PathBuf {
    let bin = static_x86_64(dir);
    let lib = stripped_lib(dir);
    let outdir = dir.join(out);
    for w in ["mkipk", "mkapk"] {
        let o = writer(
            w,
            "x86_64",
            &bin,
            &outdir,
            &["--version", version, "--lib", lib.to_str().unwrap()],
        );
        assert!(o.status.success(), "{w}: {o:?}");
        assert!(
            !text(&o.stderr).contains("WARNING"),
            "{w} warned about a static binary: {}",
            text(&o.stderr)
        );
    }
    outdir
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Every file under openwrt/files/, relative.
fn tree_files() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(&files(), &files(), &mut out);
    out.sort();
    out
}

/// 0755 for a file of the tree that is executable on disk, else 0644.
fn exec_mode(rel: &str) -> u32 {
    if mode(&files().join(rel)) & 0o111 != 0 {
        0o755
    } else {
        0o644
    }
}

fn is_provider_file(rel: &str) -> bool {
    rel.starts_with("usr/lib/ddns/") || rel.starts_with("usr/share/ddns/")
}

/// The files every package should hold, with their modes.
fn expected_files(pkg: &str) -> BTreeMap<String, u32> {
    let mut m = BTreeMap::new();
    match pkg {
        "mtgsy-ddns" => {
            m.insert("usr/bin/mtgsy-ddns".to_string(), 0o755);
            for f in tree_files().into_iter().filter(|f| !is_provider_file(f)) {
                let mode = if f.starts_with("etc/config/") {
                    0o600
                } else if f.starts_with("etc/init.d/") {
                    0o755
                } else if f.starts_with("etc/hotplug.d/") {
                    0o644
                } else {
                    exec_mode(&f)
                };
                m.insert(f, mode);
            }
        }
        "ddns-scripts-mtgsy" => {
            for f in tree_files().into_iter().filter(|f| is_provider_file(f)) {
                let mode = if f.ends_with(".sh") {
                    0o755
                } else {
                    exec_mode(&f)
                };
                m.insert(f, mode);
            }
        }
        "libmtgsy-ddns1" => {
            m.insert("usr/lib/libmtgsy_ddns.so.1".to_string(), 0o755);
        }
        _ => unreachable!(),
    }
    m
}

// ------------------------------------------------------------- ipk reader --

struct TarEntry {
    mode: u32,
    uid: u64,
    gid: u64,
    typeflag: u8,
    magic: Vec<u8>,
    data: Vec<u8>,
}

fn octal(field: &[u8]) -> u64 {
    let s: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    u64::from_str_radix(s.trim(), 8).unwrap_or_else(|_| panic!("bad octal field {s:?}"))
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    assert_eq!(&data[..2], &[0x1f, 0x8b], "not gzip");
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let w = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    w.join().unwrap().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// A gzip'd tar whose every header is plain ustar/GNU (opkg drops pax
/// entries), owned by 0:0, names starting with "./".
fn untar(gz: &[u8], what: &str) -> BTreeMap<String, TarEntry> {
    let raw = gunzip(gz);
    let mut map = BTreeMap::new();
    let mut off = 0;
    while off + 512 <= raw.len() {
        let h = &raw[off..off + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let name: String = h[..100]
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| b as char)
            .collect();
        let size = octal(&h[124..136]) as usize;
        let e = TarEntry {
            mode: octal(&h[100..108]) as u32,
            uid: octal(&h[108..116]),
            gid: octal(&h[116..124]),
            typeflag: h[156],
            magic: h[257..265].to_vec(),
            data: raw[off + 512..off + 512 + size].to_vec(),
        };
        assert!(
            e.magic == b"ustar  \0" || e.magic == b"ustar\x0000",
            "{what}: {name}: not a ustar/GNU header"
        );
        assert!(
            matches!(e.typeflag, b'0' | b'5'),
            "{what}: {name}: entry type {:?} (opkg drops pax/long-name headers)",
            e.typeflag as char
        );
        assert!(name.starts_with("./"), "{what}: {name}");
        assert_eq!((e.uid, e.gid), (0, 0), "{what}: {name} not owned by 0:0");
        map.insert(name, e);
        off += 512 + size.div_ceil(512) * 512;
    }
    map
}

struct Ipk {
    control: BTreeMap<String, String>,
    control_files: BTreeMap<String, TarEntry>,
    data: BTreeMap<String, TarEntry>,
}

fn open_ipk(path: &Path) -> Ipk {
    let what = path.file_name().unwrap().to_string_lossy().into_owned();
    let outer = untar(&fs::read(path).unwrap(), &what);
    let names: Vec<&str> = outer.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["./control.tar.gz", "./data.tar.gz", "./debian-binary"],
        "{what}"
    );
    assert_eq!(outer["./debian-binary"].data, b"2.0\n");
    let control_files = untar(&outer["./control.tar.gz"].data, &what);
    let data = untar(&outer["./data.tar.gz"].data, &what);
    let mut control = BTreeMap::new();
    let mut last = String::new();
    for line in text(&control_files["./control"].data).lines() {
        if line.starts_with(' ') {
            control
                .entry(last.clone())
                .and_modify(|v: &mut String| v.push_str(&format!("\n{}", line.trim())));
        } else if let Some((k, v)) = line.split_once(": ") {
            last = k.to_string();
            control.insert(k.to_string(), v.to_string());
        }
    }
    let size: usize = data.values().map(|e| e.data.len()).sum();
    assert_eq!(control["Installed-Size"], size.to_string(), "{what}");
    Ipk {
        control,
        control_files,
        data,
    }
}

// ------------------------------------------------------------------ tests --

/// What OpenWrt's package-pack.mk puts in a control file, and every file
/// of the tree in exactly one package with its mode.
#[test]
fn ipk_packages_hold_the_tree_and_package_pack_metadata() {
    let dir = TempDir::new("pkg-ipk");
    let out = build_both(dir.path(), "out", V1);
    for (pkg, arch) in [
        ("mtgsy-ddns", "x86_64"),
        ("ddns-scripts-mtgsy", "all"),
        ("libmtgsy-ddns1", "x86_64"),
    ] {
        let ipk = open_ipk(&out.join(format!("{pkg}_{V1}_{arch}.ipk")));
        let c = &ipk.control;
        assert_eq!(c["Package"], pkg);
        assert_eq!(c["Version"], V1);
        assert_eq!(c["Architecture"], arch);
        for field in [
            "Source",
            "SourceName",
            "License",
            "Section",
            "URL",
            "Maintainer",
            "Description",
        ] {
            assert!(
                c.get(field).is_some_and(|v| !v.is_empty()),
                "{pkg}: {field}"
            );
        }
        let files: BTreeMap<String, u32> = ipk
            .data
            .iter()
            .filter(|(_, e)| e.typeflag == b'0')
            .map(|(n, e)| (n.trim_start_matches("./").to_string(), e.mode & 0o7777))
            .collect();
        assert_eq!(files, expected_files(pkg), "{pkg}: files and modes");
        for (name, e) in &ipk.data {
            if e.typeflag == b'5' {
                let want = if name == "./etc/mtgsy-ddns/" {
                    0o700
                } else {
                    0o755
                };
                assert_eq!(e.mode & 0o7777, want, "{pkg}: directory {name}");
            }
        }
        // package-pack.mk's generic scripts; the package's own parts apart
        let postinst = text(&ipk.control_files["./postinst"].data);
        assert!(postinst.starts_with("#!/bin/sh\n") && postinst.contains("default_postinst $0 $@"));
        let prerm = text(&ipk.control_files["./prerm"].data);
        assert!(prerm.starts_with("#!/bin/sh\n") && prerm.contains("default_prerm $0 $@"));
        for (name, e) in &ipk.control_files {
            assert!(
                !text(&e.data).contains("restart"),
                "{pkg}: {name} restarts a service"
            );
        }
    }
    let main = open_ipk(&out.join(format!("mtgsy-ddns_{V1}_x86_64.ipk")));
    assert_eq!(main.control["Depends"], "libc, ca-bundle");
    assert_eq!(
        main.control_files["./conffiles"].data,
        b"/etc/config/mtgsy-ddns\n"
    );
    assert_eq!(
        main.data["./usr/bin/mtgsy-ddns"].data,
        fake_elf(62, true, false, 0)
    );
    let prov = open_ipk(&out.join(format!("ddns-scripts-mtgsy_{V1}_all.ipk")));
    assert_eq!(prov.control["Depends"], "ddns-scripts, mtgsy-ddns");
    let prerm_pkg = text(&prov.control_files["./prerm-pkg"].data);
    assert!(prerm_pkg.contains("IPKG_INSTROOT") && prerm_pkg.contains("/etc/init.d/ddns stop"));
    assert!(!prov.control_files.contains_key("./postinst-pkg"));
    let lib = open_ipk(&out.join(format!("libmtgsy-ddns1_{V1}_x86_64.ipk")));
    assert_eq!(lib.control["Provides"], "libmtgsy-ddns");
    assert_eq!(lib.control["ABIVersion"], "1");
    assert_eq!(lib.control["Section"], "libs");
    assert_eq!(
        lib.data["./usr/lib/libmtgsy_ddns.so.1"].data,
        fs::read(stripped_lib(dir.path())).unwrap()
    );
}

/// `apk adbdump` (the real apk) reads each .apk and shows package-pack.mk's
/// fields, the lib/apk/packages files and the three scripts.
#[test]
fn apk_packages_show_their_metadata_in_adbdump() {
    let Some(apk) = apk() else { return };
    let dir = TempDir::new("pkg-adbdump");
    let out = build_both(dir.path(), "out", V1);
    for pkg in ["mtgsy-ddns", "ddns-scripts-mtgsy", "libmtgsy-ddns1"] {
        // unsigned, and otherwise whole: every file's hash matches
        let v = ok(Command::new(&apk)
            .args(["verify", "--allow-untrusted"])
            .arg(out.join(format!("{pkg}-{V1}.apk"))));
        assert!(text(&v.stdout).contains(": OK"), "{pkg}: {v:?}");
    }
    for (pkg, arch) in [
        ("mtgsy-ddns", "x86_64"),
        ("ddns-scripts-mtgsy", "noarch"),
        ("libmtgsy-ddns1", "x86_64"),
    ] {
        let dump = text(
            &ok(Command::new(&apk)
                .arg("adbdump")
                .arg(out.join(format!("{pkg}-{V1}.apk"))))
            .stdout,
        );
        for line in [
            format!("  name: {pkg}\n"),
            format!("  version: {V1}\n"),
            format!("  arch: {arch}\n"),
            "  origin: feeds/packages/net/mtgsy-ddns\n".to_string(),
            "  url: https://".to_string(),
            "  license: ".to_string(),
            "  maintainer: ".to_string(),
            "  description: ".to_string(),
            "  depends: # ".to_string(),
            format!("      - name: {pkg}.list\n"),
            "  post-install: |\n".to_string(),
            "  pre-deinstall: |\n".to_string(),
            "  post-upgrade: |\n".to_string(),
            "    default_postinst\n".to_string(),
            "    default_prerm\n".to_string(),
            format!("    export pkgname=\"{pkg}\"\n"),
            "    export PKG_UPGRADE=1\n".to_string(),
        ] {
            assert!(
                dump.contains(&line),
                "{pkg}: adbdump lacks {line:?}:\n{dump}"
            );
        }
        assert!(
            !dump.contains("restart"),
            "{pkg}: a script restarts:\n{dump}"
        );
    }
    let lib = text(
        &ok(Command::new(&apk)
            .arg("adbdump")
            .arg(out.join(format!("libmtgsy-ddns1-{V1}.apk"))))
        .stdout,
    );
    assert!(
        lib.contains("  provides: # 1 items\n    - libmtgsy-ddns\n"),
        "{lib}"
    );
    assert!(
        lib.contains("  tags: # 1 items\n    - openwrt:abiversion=1\n"),
        "{lib}"
    );
    assert!(lib.contains("      - name: libmtgsy_ddns.so.1\n"), "{lib}");
    assert!(!lib.contains("name: libmtgsy_ddns.so\n"), "{lib}");
    let prov = text(
        &ok(Command::new(&apk)
            .arg("adbdump")
            .arg(out.join(format!("ddns-scripts-mtgsy-{V1}.apk"))))
        .stdout,
    );
    assert!(
        prov.contains("  depends: # 2 items\n    - ddns-scripts\n    - mtgsy-ddns\n"),
        "{prov}"
    );
}

/// A root with a stub /lib/functions.sh that logs what the package scripts
/// ask for, so a script that would touch the host (or not run) shows.
fn stub_root(dir: &Path) -> PathBuf {
    let r = dir.join("root");
    fs::create_dir_all(r.join("lib")).unwrap();
    fs::write(
        r.join("lib/functions.sh"),
        "log() { echo \"$*\" >>\"${IPKG_INSTROOT:?IPKG_INSTROOT unset}/calls\"; }\n\
         name() { n=${pkgname:-$(basename \"$1\")}; echo \"${n%.*}\"; }\n\
         default_postinst() { log \"default_postinst $(name \"$1\") upgrade=${PKG_UPGRADE:-0}\"; }\n\
         default_prerm() { log \"default_prerm $(name \"$1\")\"; }\n\
         add_group_and_user() { :; }\n",
    )
    .unwrap();
    r
}

fn calls(r: &Path) -> String {
    fs::read_to_string(r.join("calls")).unwrap_or_default()
}

/// apk 3 as an image build runs it (offline root, IPKG_INSTROOT set): the
/// packages install with their modes, `apk audit` finds nothing changed,
/// an upgrade keeps the user's edited config (the new one beside it as
/// .apk-new), removal takes every file, and the scripts ran each time
/// without touching the host.
#[test]
fn apk_installs_upgrades_and_removes_in_an_offline_root() {
    let Some(apk) = apk() else { return };
    if !common::root_or_skip(
        "apk_installs_upgrades_and_removes_in_an_offline_root",
        "apk creates its database only as root",
    ) {
        return;
    }
    let dir = TempDir::new("pkg-apk");
    let d = dir.path();
    let v1 = build_both(d, "v1", V1);
    let v2 = build_both(d, "v2", V2);
    // what the router already has: libc, ca-bundle and ddns-scripts
    for (name, arch) in [
        ("libc", "x86_64"),
        ("ca-bundle", "noarch"),
        ("ddns-scripts", "noarch"),
    ] {
        ok(Command::new(&apk)
            .args(["mkpkg", "--info", &format!("name:{name}")])
            .args([
                "--info",
                "version:1.0-r1",
                "--info",
                &format!("arch:{arch}"),
            ])
            .args(["--info", "description:stand-in", "--output"])
            .arg(d.join(format!("{name}.apk"))));
    }
    let r = stub_root(d);
    let apk_in = |args: &[&str], pkgs: &[PathBuf]| {
        let out = ok(Command::new(&apk)
            .env("IPKG_INSTROOT", &r)
            .arg("--root")
            .arg(&r)
            .args(["--no-network", "--force-no-chroot", "--preserve-env"])
            .args(["--allow-untrusted", "--no-cache"])
            .args(args)
            .args(pkgs));
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains("ERROR") && !all.contains("WARNING"), "{all}");
        all
    };
    let pkgs = |dir: &Path, v: &str| -> Vec<PathBuf> {
        ["mtgsy-ddns", "ddns-scripts-mtgsy", "libmtgsy-ddns1"]
            .iter()
            .map(|p| dir.join(format!("{p}-{v}.apk")))
            .collect()
    };
    let mut first = vec![
        d.join("libc.apk"),
        d.join("ca-bundle.apk"),
        d.join("ddns-scripts.apk"),
    ];
    first.extend(pkgs(&v1, V1));
    apk_in(&["add", "--initdb"], &first);

    for pkg in ["mtgsy-ddns", "ddns-scripts-mtgsy", "libmtgsy-ddns1"] {
        for (f, m) in expected_files(pkg) {
            assert_eq!(mode(&r.join(&f)), m, "{f}");
        }
        let list = fs::read_to_string(r.join(format!("lib/apk/packages/{pkg}.list"))).unwrap();
        let want: String = expected_files(pkg)
            .keys()
            .map(|f| format!("/{f}\n"))
            .collect();
        assert_eq!(list, want, "{pkg}.list");
    }
    assert_eq!(mode(&r.join("etc/mtgsy-ddns")), 0o700);
    assert_eq!(
        fs::read_to_string(r.join("lib/apk/packages/mtgsy-ddns.conffiles")).unwrap(),
        "/etc/config/mtgsy-ddns\n"
    );
    let config = fs::read(files().join("etc/config/mtgsy-ddns")).unwrap();
    let sum =
        text(&ok(Command::new("sha256sum").arg(files().join("etc/config/mtgsy-ddns"))).stdout);
    assert_eq!(
        fs::read_to_string(r.join("lib/apk/packages/mtgsy-ddns.conffiles_static")).unwrap(),
        format!("/etc/config/mtgsy-ddns {}\n", &sum[..64])
    );
    assert!(!r.join("usr/lib/libmtgsy_ddns.so").exists());
    let c = calls(&r);
    for pkg in ["mtgsy-ddns", "ddns-scripts-mtgsy", "libmtgsy-ddns1"] {
        assert!(
            c.contains(&format!("default_postinst {pkg} upgrade=0\n")),
            "{c}"
        );
    }

    // apk's own etc/apk/ aside, nothing differs from what was installed
    let audit = |r: &Path| -> Vec<String> {
        let out = ok(Command::new(&apk).arg("--root").arg(r).arg("audit"));
        text(&out.stdout)
            .lines()
            .filter(|l| !l.ends_with(" etc/apk/"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(audit(&r), Vec::<String>::new());

    // the user edits the config; the upgrade keeps it
    let mut edited = config.clone();
    edited.extend(b"# edited by the user\n");
    fs::write(r.join("etc/config/mtgsy-ddns"), &edited).unwrap();
    assert_eq!(audit(&r), ["U etc/config/mtgsy-ddns"]);
    let log = apk_in(&["add"], &pkgs(&v2, V2));
    assert!(
        log.contains(&format!("Upgrading mtgsy-ddns ({V1} -> {V2})")),
        "{log}"
    );
    assert_eq!(fs::read(r.join("etc/config/mtgsy-ddns")).unwrap(), edited);
    assert_eq!(
        fs::read(r.join("etc/config/mtgsy-ddns.apk-new")).unwrap(),
        config
    );
    assert_eq!(mode(&r.join("etc/config/mtgsy-ddns")), 0o600);
    assert!(calls(&r).contains("default_postinst mtgsy-ddns upgrade=1\n"));

    apk_in(
        &["del", "mtgsy-ddns", "ddns-scripts-mtgsy", "libmtgsy-ddns1"],
        &[],
    );
    for pkg in ["mtgsy-ddns", "ddns-scripts-mtgsy", "libmtgsy-ddns1"] {
        for f in expected_files(pkg).keys() {
            // the edited config stays, as on a router
            if f != "etc/config/mtgsy-ddns" {
                assert!(!r.join(f).exists(), "{f} left after removal");
            }
        }
        assert!(calls(&r).contains(&format!("default_prerm {pkg}\n")));
    }
}

/// opkg (24.10) with --offline-root: install, upgrade (the edited config is
/// kept, the new one beside it as -opkg), removal; the scripts ran without
/// touching the host.
#[test]
fn opkg_installs_upgrades_and_removes_in_an_offline_root() {
    let Some(opkg) = opkg() else { return };
    let dir = TempDir::new("pkg-opkg");
    let d = dir.path();
    let v1 = build_both(d, "v1", V1);
    let v2 = build_both(d, "v2", V2);
    let r = stub_root(d);
    fs::create_dir_all(r.join("usr/lib/opkg/info")).unwrap();
    fs::create_dir_all(r.join("var/lock")).unwrap();
    // what the router already has: libc, ca-bundle and ddns-scripts
    let mut status = String::new();
    for (name, arch) in [
        ("libc", "x86_64"),
        ("ca-bundle", "all"),
        ("ddns-scripts", "all"),
    ] {
        status += &format!(
            "Package: {name}\nVersion: 1.0-r1\nStatus: install ok installed\nArchitecture: {arch}\n\n"
        );
        fs::write(r.join(format!("usr/lib/opkg/info/{name}.list")), "").unwrap();
    }
    fs::write(r.join("usr/lib/opkg/status"), status).unwrap();
    let conf = d.join("opkg.conf");
    fs::write(
        &conf,
        "dest root /\nlists_dir ext /var/opkg-lists\noption tmp_dir /tmp\n\
         arch all 1\narch noarch 1\narch x86_64 10\n",
    )
    .unwrap();
    let opkg_in = |args: &[&str], pkgs: &[PathBuf]| {
        // as OpenWrt's image build runs it (include/rootfs.mk)
        let out = ok(Command::new(&opkg)
            .env("IPKG_INSTROOT", &r)
            .arg("-f")
            .arg(&conf)
            .arg("--offline-root")
            .arg(&r)
            .arg("--force-postinstall")
            .args(args)
            .args(pkgs));
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    };
    let pkgs = |dir: &Path, v: &str| -> Vec<PathBuf> {
        [
            format!("mtgsy-ddns_{v}_x86_64.ipk"),
            format!("ddns-scripts-mtgsy_{v}_all.ipk"),
            format!("libmtgsy-ddns1_{v}_x86_64.ipk"),
        ]
        .iter()
        .map(|p| dir.join(p))
        .collect()
    };
    let log = opkg_in(&["install"], &pkgs(&v1, V1));
    assert!(!log.contains("rror"), "{log}");
    for pkg in ["mtgsy-ddns", "ddns-scripts-mtgsy", "libmtgsy-ddns1"] {
        let listed = fs::read_to_string(r.join(format!("usr/lib/opkg/info/{pkg}.list"))).unwrap();
        for (f, m) in expected_files(pkg) {
            // opkg skips what it cannot read: check the list, not only the exit
            assert!(listed.contains(&format!("/{f}")), "{pkg}.list lacks {f}");
            assert_eq!(mode(&r.join(&f)), m, "{f}");
        }
    }
    assert_eq!(mode(&r.join("etc/mtgsy-ddns")), 0o700);
    assert!(!r.join("usr/lib/libmtgsy_ddns.so").exists());
    let c = calls(&r);
    for pkg in ["mtgsy-ddns", "ddns-scripts-mtgsy", "libmtgsy-ddns1"] {
        assert!(
            c.contains(&format!("default_postinst {pkg} upgrade=0\n")),
            "{c}"
        );
    }

    let config = fs::read(files().join("etc/config/mtgsy-ddns")).unwrap();
    let mut edited = config.clone();
    edited.extend(b"# edited by the user\n");
    fs::write(r.join("etc/config/mtgsy-ddns"), &edited).unwrap();
    let log = opkg_in(&["install"], &pkgs(&v2, V2));
    assert!(
        log.contains(&format!("Upgrading mtgsy-ddns on root from {V1} to {V2}")),
        "{log}"
    );
    assert_eq!(fs::read(r.join("etc/config/mtgsy-ddns")).unwrap(), edited);
    assert_eq!(
        fs::read(r.join("etc/config/mtgsy-ddns-opkg")).unwrap(),
        config
    );
    let status = fs::read_to_string(r.join("usr/lib/opkg/status")).unwrap();
    assert!(
        status.contains(&format!("Package: mtgsy-ddns\nVersion: {V2}\n")),
        "{status}"
    );

    let log = opkg_in(
        &[
            "remove",
            "ddns-scripts-mtgsy",
            "mtgsy-ddns",
            "libmtgsy-ddns1",
        ],
        &[],
    );
    assert!(!log.contains("rror"), "{log}");
    for pkg in ["mtgsy-ddns", "ddns-scripts-mtgsy", "libmtgsy-ddns1"] {
        for f in expected_files(pkg).keys() {
            if f != "etc/config/mtgsy-ddns" {
                assert!(!r.join(f).exists(), "{f} left after removal");
            }
        }
        assert!(calls(&r).contains(&format!("default_prerm {pkg}\n")));
    }
}

/// The package scripts run as an image build runs them (IPKG_INSTROOT set,
/// the root's functions.sh logging): each ends well, writes nothing to
/// stderr (a call of /etc/init.d/ddns on this host would), and the
/// provider's own prerm part does nothing.
#[test]
fn ipk_scripts_touch_no_service_in_an_image_build() {
    let dir = TempDir::new("pkg-scripts");
    let out = build_both(dir.path(), "out", V1);
    let r = stub_root(dir.path());
    for pkg in [
        format!("mtgsy-ddns_{V1}_x86_64.ipk"),
        format!("ddns-scripts-mtgsy_{V1}_all.ipk"),
        format!("libmtgsy-ddns1_{V1}_x86_64.ipk"),
    ] {
        let ipk = open_ipk(&out.join(&pkg));
        for (name, e) in &ipk.control_files {
            if !matches!(
                name.as_str(),
                "./postinst" | "./prerm" | "./postinst-pkg" | "./prerm-pkg"
            ) {
                continue;
            }
            let script = dir.path().join("script.sh");
            fs::write(&script, &e.data).unwrap();
            let o = Command::new("sh")
                .arg(&script)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("IPKG_INSTROOT", &r)
                .output()
                .unwrap();
            assert!(o.status.success(), "{pkg} {name}: {o:?}");
            assert!(o.stderr.is_empty(), "{pkg} {name} touched the host: {o:?}");
        }
    }
    let c = calls(&r);
    assert_eq!(c.matches("default_postinst").count(), 3, "{c}");
    assert_eq!(c.matches("default_prerm").count(), 3, "{c}");
}

/// A binary for another CPU than the package's arch is refused by both
/// writers (exit 2, the CPUs named, nothing written).
#[test]
fn writers_refuse_a_binary_for_another_cpu() {
    let dir = TempDir::new("pkg-cpu");
    let d = dir.path();
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("mipsel_24kc", fake_elf(62, true, false, 0), "x86-64"),
        ("mips_24kc", fake_elf(8, false, false, 0), "little-endian"),
        ("mipsel_24kc", fake_elf(8, false, true, 0), "big-endian"),
        ("aarch64_generic", fake_elf(40, false, false, 0x400), "ARM"),
        // a hard-float binary for a soft-float arch
        (
            "arm_cortex-a9",
            fake_elf(40, false, false, 0x0500_0400),
            "hard-float",
        ),
    ];
    for (arch, elf, says) in cases {
        let bin = d.join("bin");
        fs::write(&bin, elf).unwrap();
        for w in ["mkipk", "mkapk"] {
            let out = d.join(format!("out-{w}-{arch}"));
            let o = writer(w, arch, &bin, &out, &["--version", V1]);
            assert_eq!(o.status.code(), Some(2), "{w} {arch}: {o:?}");
            let err = text(&o.stderr);
            assert!(
                err.contains(arch) && err.contains(says),
                "{w} {arch}: {err}"
            );
            assert!(!out.exists() || fs::read_dir(&out).unwrap().next().is_none());
        }
    }
    // the same binaries for their own archs are taken
    for (arch, elf) in [
        ("mips_24kc", fake_elf(8, false, true, 0)),
        (
            "arm_cortex-a7_neon-vfpv4",
            fake_elf(40, false, false, 0x0500_0400),
        ),
        ("arm_cortex-a9", fake_elf(40, false, false, 0x0500_0200)),
        ("aarch64_cortex-a53", fake_elf(183, true, false, 0)),
    ] {
        let bin = d.join("bin");
        fs::write(&bin, elf).unwrap();
        for w in ["mkipk", "mkapk"] {
            let o = writer(w, arch, &bin, &d.join("ok"), &["--version", V1]);
            assert!(o.status.success(), "{w} {arch}: {o:?}");
        }
    }
}

/// A library whose SONAME is not the file name it is packed under
/// (libmtgsy_ddns.so.1) is refused; one without a SONAME too.
#[test]
fn writers_refuse_a_library_whose_soname_differs() {
    let dir = TempDir::new("pkg-soname");
    let d = dir.path();
    let src = d.join("x.c");
    fs::write(&src, "int mtgsy_x(void) { return 1; }\n").unwrap();
    let bin = static_x86_64(d);
    for (soname, says) in [
        (Some("libmtgsy_ddns.so.2"), "libmtgsy_ddns.so.2"),
        (Some("libmtgsy_ddns.so"), "SONAME libmtgsy_ddns.so,"),
        (None, "(none)"),
    ] {
        let lib = d.join("lib.so");
        let mut cc = Command::new("gcc");
        cc.args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src);
        if let Some(s) = soname {
            cc.arg(format!("-Wl,-soname,{s}"));
        }
        ok(&mut cc);
        for w in ["mkipk", "mkapk"] {
            let out = d.join(format!("out-{w}"));
            let o = writer(
                w,
                "x86_64",
                &bin,
                &out,
                &["--version", V1, "--lib", lib.to_str().unwrap()],
            );
            assert_eq!(o.status.code(), Some(2), "{w} {soname:?}: {o:?}");
            let err = text(&o.stderr);
            assert!(
                err.contains(says) && err.contains("libmtgsy_ddns.so.1"),
                "{w} {soname:?}: {err}"
            );
            assert!(!out.exists() || fs::read_dir(&out).unwrap().next().is_none());
        }
    }
}

/// A binary that is not statically linked (the host's glibc build) is
/// packed with a loud warning; a static one without.
#[test]
fn writers_warn_loudly_about_a_dynamic_binary() {
    let dir = TempDir::new("pkg-dynamic");
    for w in ["mkipk", "mkapk"] {
        let o = writer(
            w,
            "x86_64",
            Path::new(BIN),
            &dir.path().join("o"),
            &["--version", V1],
        );
        assert!(o.status.success(), "{w}: {o:?}");
        let err = text(&o.stderr);
        assert!(
            err.contains("WARNING")
                && err.contains("not statically linked")
                && err.contains("****"),
            "{w}: {err}"
        );
        let o = writer(
            w,
            "x86_64",
            &static_x86_64(dir.path()),
            &dir.path().join("o2"),
            &["--version", V1],
        );
        assert!(
            o.status.success() && !text(&o.stderr).contains("WARNING"),
            "{w}: {o:?}"
        );
    }
}

/// The "linking from C firmware" promise: a C program linked against the
/// library starts and does its work from a root where only the runtime
/// package (installed by the real opkg and apk) provides it: the loader
/// finds libmtgsy_ddns.so.1 there, and nothing else of the library
/// (no unversioned .so) is installed.
#[test]
fn c_program_runs_against_the_installed_runtime_package() {
    let dir = TempDir::new("pkg-cprog");
    let d = dir.path();
    let out = build_both(d, "out", V1);

    // link against the build's library, as a firmware build would
    let link = d.join("link");
    fs::create_dir_all(&link).unwrap();
    symlink(host_lib(), link.join("libmtgsy_ddns.so")).unwrap();
    let exe = d.join("capi_test");
    ok(Command::new("gcc")
        .args(["-std=c99", "-O1", "-pthread", "-I"])
        .arg(root().join("include"))
        .arg(root().join("tests/c/capi_test.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&link)
        .arg("-lmtgsy_ddns"));
    let needed = text(&ok(Command::new("readelf").arg("-d").arg(&exe)).stdout);
    assert!(needed.contains("[libmtgsy_ddns.so.1]"), "{needed}");
    assert!(
        !needed.contains("RPATH") && !needed.contains("RUNPATH"),
        "{needed}"
    );

    let run_from = |r: &Path, what: &str| {
        let usr_lib = r.join("usr/lib");
        assert!(usr_lib.join("libmtgsy_ddns.so.1").is_file(), "{what}");
        assert!(!usr_lib.join("libmtgsy_ddns.so").exists(), "{what}");
        for scenario in ["api", "update"] {
            let server = StubServer::plain();
            // the reply quoting the password: the library masks it
            server.set_reply(200, "800 OK s3cret pass&word");
            let state = TempDir::new("pkg-cprog-state");
            let o = Command::new(&exe)
                .arg(scenario)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("LD_LIBRARY_PATH", &usr_lib)
                .env("MTGSY_TEST_URL", server.url())
                .env("MTGSY_TEST_STATE", state.path().join("state.json"))
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                o.status.success() && text(&o.stdout).contains(&format!("ok {scenario}")),
                "{what}: {scenario}: {o:?}"
            );
            let sent = server.requests().len();
            assert_eq!(
                sent,
                usize::from(scenario == "update"),
                "{what}: {scenario}"
            );
        }
    };

    // without the package the program does not start (the loader's 127)
    let empty = d.join("empty");
    fs::create_dir_all(empty.join("usr/lib")).unwrap();
    let o = Command::new(&exe)
        .arg("api")
        .env_clear()
        .env("LD_LIBRARY_PATH", empty.join("usr/lib"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127), "{o:?}");

    if let Some(opkg) = opkg() {
        let r = d.join("opkg-root");
        fs::create_dir_all(r.join("usr/lib/opkg/info")).unwrap();
        fs::create_dir_all(r.join("var/lock")).unwrap();
        fs::write(
            r.join("usr/lib/opkg/status"),
            "Package: libc\nVersion: 1.0-r1\nStatus: install ok installed\nArchitecture: x86_64\n\n",
        )
        .unwrap();
        fs::write(r.join("usr/lib/opkg/info/libc.list"), "").unwrap();
        let conf = d.join("opkg.conf");
        fs::write(
            &conf,
            "dest root /\nlists_dir ext /var/opkg-lists\noption tmp_dir /tmp\n\
             arch all 1\narch x86_64 10\n",
        )
        .unwrap();
        ok(Command::new(&opkg)
            .arg("-f")
            .arg(&conf)
            .arg("--offline-root")
            .arg(&r)
            .arg("install")
            .arg(out.join(format!("libmtgsy-ddns1_{V1}_x86_64.ipk"))));
        run_from(&r, "opkg");
    }
    if let Some(apk) = apk().filter(|_| {
        common::root_or_skip(
            "c_program_runs_against_the_installed_runtime_package (apk part)",
            "apk creates its database only as root",
        )
    }) {
        let r = d.join("apk-root");
        ok(Command::new(&apk)
            .args(["mkpkg", "--info", "name:libc", "--info", "version:1.0-r1"])
            .args(["--info", "arch:x86_64", "--output"])
            .arg(d.join("libc.apk")));
        ok(Command::new(&apk)
            .arg("--root")
            .arg(&r)
            .args(["add", "--initdb", "--allow-untrusted", "--no-network"])
            .args(["--force-no-chroot", "--no-cache"])
            .arg(d.join("libc.apk"))
            .arg(out.join(format!("libmtgsy-ddns1-{V1}.apk"))));
        run_from(&r, "apk");
    }
}

"""What the mtgsy-ddns OpenWrt packages contain, shared by openwrt/mkipk
(.ipk, opkg, OpenWrt 24.10) and openwrt/mkapk (.apk, apk-tools 3, 25.12).

One table decides where every file goes: everything under openwrt/files/
belongs to mtgsy-ddns, except usr/lib/ddns/** and usr/share/ddns/**, which
make the ddns-scripts provider ddns-scripts-mtgsy. A file added under
openwrt/files/ is packed without touching the writers; its mode comes from
MODE_RULES (or its own executable bit). The library package is named by its
ABI as OpenWrt names libraries (libmtgsy-ddns1) and ships the file under its
SONAME only.

Also here: the checks of what is packed (ELF CPU, class and byte order
against the package architecture; the library's SONAME; static linking),
and the maintainer scripts in the form OpenWrt's include/package-pack.mk
writes them. Python 3 standard library only.
"""

import fnmatch
import hashlib
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FILES = os.path.join(HERE, "files")

# Fallbacks when openwrt/Makefile does not say (it is the source of truth).
DEFAULT_MAINTAINER = "mtgsy-ddns developers"
DEFAULT_LICENSE = "MIT OR Apache-2.0"
DEFAULT_URL = "https://github.com/mtgsy-ddns/mtgsy-ddns"
DEFAULT_RELEASE = "1"
SOURCE = "feeds/packages/net/mtgsy-ddns"
SOURCE_NAME = "mtgsy-ddns"

LIB_BASE = "libmtgsy-ddns"
LIB_FILE = "libmtgsy_ddns.so"

# Paths (relative to openwrt/files/) that make the ddns-scripts provider.
PROVIDER_GLOBS = ("usr/lib/ddns/*", "usr/share/ddns/*")

# First match wins; a file no rule names is 0755 when executable on disk
# (or in git), else 0644.
MODE_RULES = (
    ("etc/config/*", 0o600),
    ("etc/init.d/*", 0o755),
    ("usr/bin/*", 0o755),
    ("usr/sbin/*", 0o755),
    ("usr/lib/ddns/*.sh", 0o755),
    # sourced by hotplug-call, hence not executable (as ddns-scripts' 95-ddns)
    ("etc/hotplug.d/*", 0o644),
    # rpcd runs its exec plugins; it reads the ACL files
    ("usr/libexec/rpcd/*", 0o755),
    ("usr/share/rpcd/acl.d/*", 0o644),
)
# Directories the packages create with a mode other than 0755, and whether
# each must exist even when empty. The state directory holds the guard's
# state (SECURITY.md: 0700).
DIR_MODES = {"etc/mtgsy-ddns": 0o700}
# Files under these globs are conffiles (kept when the user edited them).
CONFFILE_GLOBS = ("etc/config/*",)
# Never packed: editor and VCS leftovers.
SKIP_GLOBS = ("*~", ".#*", "*.orig", "*.rej", ".gitignore", ".gitkeep")

DESCRIPTIONS = {
    "mtgsy-ddns": """Dynamic DNS client for mtgsy.net (Microtech)
Keeps mtgsy.net dynamic hosts pointed at the router's address, with a rate
guard that keeps the service's rules (at most one update per 10 minutes, no
update that changes nothing). Updates at once when the WAN comes up or
changes address (hotplug), and runs standalone from /etc/config/mtgsy-ddns.
Status and checks over ubus: ubus call mtgsy-ddns status.""",
    "ddns-scripts-mtgsy": """ddns-scripts provider for mtgsy.net (Microtech)
Adds "mtgsy.net" to the providers of ddns-scripts and the LuCI Dynamic DNS
page; the updates are sent by mtgsy-ddns.""",
    LIB_BASE: """mtgsy.net dynamic DNS client library
The C ABI of mtgsy-ddns (libmtgsy_ddns.so.ABI) for programs that link it.""",
}

# The provider's own scripts (package-pack.mk's postinst-pkg / prerm-pkg).
# No restart of ddns after install: on 25.12 that hangs `apk add`, and
# ddns-scripts upstream dropped it. Removal stops ddns on a live router only.
PROVIDER_PRERM_PKG = """#!/bin/sh
# a live router only (an image build sets IPKG_INSTROOT): stop ddns-scripts,
# whose sections may use this provider
if [ -z "${IPKG_INSTROOT}" ] && [ -x /etc/init.d/ddns ]; then
	/etc/init.d/ddns stop
fi
true
"""


class PackError(Exception):
    """A refusal: the message says what and why."""


def fail(tool, msg):
    """Prints `tool: error: msg` and exits 2."""
    print("%s: error: %s" % (tool, msg), file=sys.stderr)
    sys.exit(2)


def warn(tool, msg):
    """A loud warning on stderr (framed so it is not missed in a build log)."""
    bar = "*" * 72
    print("%s\n%s: WARNING: %s\n%s" % (bar, tool, msg, bar), file=sys.stderr)


# ---------------------------------------------------------------- metadata --

def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def cargo_version():
    """[package] version from Cargo.toml, or None."""
    text = _read(os.path.join(REPO, "Cargo.toml")) or ""
    section = None
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"^\[([^\]]+)\]$", line)
        if m:
            section = m.group(1).strip()
            continue
        if section == "package":
            m = re.match(r'^version\s*=\s*"([^"]+)"', line)
            if m:
                return m.group(1)
    return None


def makefile_var(name):
    """A `NAME:=value` from openwrt/Makefile, or None."""
    text = _read(os.path.join(HERE, "Makefile")) or ""
    m = re.search(r"^\s*%s\s*:?=\s*(.*?)\s*$" % re.escape(name), text, re.M)
    if not m or "$(" in m.group(1):
        return None
    return m.group(1) or None


def abi_version():
    """MTGSY_ABI_VERSION from the C ABI's source (src/capi/mod.rs)."""
    text = _read(os.path.join(REPO, "src", "capi", "mod.rs")) or ""
    m = re.search(r"pub const MTGSY_ABI_VERSION: c_int = (\d+);", text)
    return m.group(1) if m else "1"


def abi_package_name(base, abi):
    """OpenWrt's ABI naming: name + ABI, with a '-' when name ends in a digit."""
    return base + ("-" if base[-1].isdigit() else "") + abi


def full_version(version):
    """`<v>-r<release>`; a version that already has a release is kept."""
    if version is None:
        version = cargo_version()
        if version is None:
            raise PackError("no --version given and none found in Cargo.toml")
    if "-" not in version:
        version = "%s-r%s" % (version, makefile_var("PKG_RELEASE") or DEFAULT_RELEASE)
    if not re.match(r"^[0-9][A-Za-z0-9_.+~]*-r[0-9]+$", version):
        raise PackError("--version '%s' is not <version>-r<release> (e.g. 0.1.0-r1)" % version)
    return version


def meta():
    """Fields every package shares (from openwrt/Makefile where it says)."""
    return {
        "maintainer": makefile_var("PKG_MAINTAINER") or DEFAULT_MAINTAINER,
        "license": makefile_var("PKG_LICENSE") or DEFAULT_LICENSE,
        "url": DEFAULT_URL,
        "source": SOURCE,
        "source_name": SOURCE_NAME,
    }


# --------------------------------------------------------------------- ELF --

EM_NAMES = {3: "x86 (i386)", 8: "MIPS", 40: "ARM", 62: "x86-64", 183: "AArch64"}
EF_ARM_ABI_FLOAT_SOFT = 0x200
EF_ARM_ABI_FLOAT_HARD = 0x400


def arch_expect(arch):
    """(e_machine, ELF class bits, byte order, float ABI or None) an arch
    name's binaries have, or None when the arch is unknown."""
    if arch == "x86_64":
        return (62, 64, "little", None)
    if arch.startswith("aarch64_"):
        return (183, 64, "little", None)
    if arch.startswith("arm_"):
        # OpenWrt: arch names with a VFP/NEON suffix are hard-float targets,
        # the bare CPU names (arm_cortex-a7, arm_cortex-a9, ...) soft-float.
        hard = bool(re.search(r"_(neon|vfp)", arch))
        return (40, 32, "little", "hard" if hard else "soft")
    if arch.startswith("mipsel_"):
        return (8, 32, "little", None)
    if arch.startswith("mips_"):
        return (8, 32, "big", None)
    if arch.startswith("mips64el_"):
        return (8, 64, "little", None)
    if arch.startswith("mips64_"):
        return (8, 64, "big", None)
    if arch.startswith("i386_"):
        return (3, 32, "little", None)
    return None


class Elf:
    """The facts the checks need from an ELF file: CPU, class, byte order,
    float ABI (ARM), interpreter, NEEDED and SONAME."""

    def __init__(self, data, what):
        if len(data) < 52 or data[:4] != b"\x7fELF":
            raise PackError("%s is not an ELF file" % what)
        cls, enc = data[4], data[5]
        if cls not in (1, 2) or enc not in (1, 2):
            raise PackError("%s: unknown ELF class/encoding" % what)
        self.bits = 32 if cls == 1 else 64
        self.order = "little" if enc == 1 else "big"
        e = "<" if enc == 1 else ">"
        try:
            if cls == 1:
                (self.type, self.machine, _, _, phoff, _, self.flags, _, phentsize,
                 phnum) = struct.unpack_from(e + "HHIIIIIHHH", data, 16)
            else:
                (self.type, self.machine, _, _, phoff, _, self.flags, _, phentsize,
                 phnum) = struct.unpack_from(e + "HHIQQQIHHH", data, 16)
            self._phdrs = []
            for i in range(phnum):
                off = phoff + i * phentsize
                if cls == 1:
                    p_type, p_offset, p_vaddr, _, p_filesz, _, _, _ = struct.unpack_from(
                        e + "IIIIIIII", data, off)
                else:
                    p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = struct.unpack_from(
                        e + "IIQQQQQQ", data, off)
                self._phdrs.append((p_type, p_offset, p_vaddr, p_filesz))
            self.interp = None
            self.needed = []
            self.soname = None
            self.dynamic = False
            for p_type, p_offset, _, p_filesz in self._phdrs:
                if p_type == 3:  # PT_INTERP
                    self.interp = data[p_offset:p_offset + p_filesz].split(b"\0")[0].decode(
                        "utf-8", "replace")
                elif p_type == 2:  # PT_DYNAMIC
                    self.dynamic = True
                    self._read_dynamic(data, e, p_offset, p_filesz)
        except struct.error:
            raise PackError("%s: truncated ELF file" % what) from None

    def _read_dynamic(self, data, e, off, size):
        fmt = e + ("iI" if self.bits == 32 else "qQ")
        step = struct.calcsize(fmt)
        entries = []
        for pos in range(off, off + size - step + 1, step):
            tag, val = struct.unpack_from(fmt, data, pos)
            if tag == 0:
                break
            entries.append((tag, val))
        strtab = next((v for t, v in entries if t == 5), None)  # DT_STRTAB (vaddr)
        if strtab is None:
            return
        base = self._vaddr_to_offset(strtab)
        if base is None:
            return

        def string(o):
            end = data.find(b"\0", base + o)
            return data[base + o:end if end >= 0 else len(data)].decode("utf-8", "replace")

        for t, v in entries:
            if t == 1:  # DT_NEEDED
                self.needed.append(string(v))
            elif t == 14:  # DT_SONAME
                self.soname = string(v)

    def _vaddr_to_offset(self, vaddr):
        for p_type, p_offset, p_vaddr, p_filesz in self._phdrs:
            if p_type == 1 and p_vaddr <= vaddr < p_vaddr + p_filesz:  # PT_LOAD
                return vaddr - p_vaddr + p_offset
        return None

    def float_abi(self):
        """'hard'/'soft' for ARM EABI files that say, else None."""
        if self.machine != 40:
            return None
        if self.flags & EF_ARM_ABI_FLOAT_HARD:
            return "hard"
        if self.flags & EF_ARM_ABI_FLOAT_SOFT:
            return "soft"
        return None

    def describe(self):
        return "%s, %d-bit, %s-endian%s" % (
            EM_NAMES.get(self.machine, "machine %d" % self.machine), self.bits, self.order,
            ", %s-float" % self.float_abi() if self.float_abi() else "")


def check_cpu(elf, arch, what):
    """Refuses an ELF file built for another CPU than `arch` runs."""
    want = arch_expect(arch)
    if want is None:
        raise PackError("--arch %s: not an OpenWrt package architecture these writers know "
                        "(x86_64, aarch64_*, arm_*, mipsel_*, mips_*, ...)" % arch)
    machine, bits, order, fabi = want
    if (elf.machine, elf.bits, elf.order) != (machine, bits, order):
        raise PackError("%s is built for %s, but packages for %s need %s, %d-bit, %s-endian"
                        % (what, elf.describe(), arch, EM_NAMES.get(machine), bits, order))
    if fabi and elf.float_abi() and elf.float_abi() != fabi:
        raise PackError("%s is %s-float, but %s is a %s-float architecture (its CPUs may "
                        "have no FPU)" % (what, elf.float_abi(), arch, fabi))


def load_binary(tool, path, arch):
    """The CLI binary's bytes, after the checks: right CPU (refused
    otherwise), statically linked (a loud warning otherwise)."""
    data = _load(path, "--bin")
    elf = Elf(data, "--bin %s" % path)
    check_cpu(elf, arch, "--bin %s" % path)
    if elf.interp or elf.needed:
        warn(tool, "--bin %s is not statically linked (interpreter %s, needs %s): routers "
             "have only musl's libc, so it will most likely not start there; use the "
             "static build from openwrt/build-all" % (
                 path, elf.interp or "none", ", ".join(elf.needed) or "nothing"))
    return data


def load_library(path, arch, abi):
    """The shared library's bytes, after the checks: right CPU, a shared
    object, and the SONAME it is packed under (refused otherwise)."""
    data = _load(path, "--lib")
    elf = Elf(data, "--lib %s" % path)
    check_cpu(elf, arch, "--lib %s" % path)
    want = "%s.%s" % (LIB_FILE, abi)
    if elf.type != 3:  # ET_DYN
        raise PackError("--lib %s is not a shared object" % path)
    if elf.soname != want:
        raise PackError("--lib %s has SONAME %s, but is packed as /usr/lib/%s: programs "
                        "linked against it would look for a file that is not there"
                        % (path, elf.soname or "(none)", want))
    return data


def _load(path, flag):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise PackError("%s %s: %s" % (flag, path, e.strerror)) from None


# ---------------------------------------------------------------- packages --

class Package:
    """One package: name, metadata, files (path -> (mode, bytes)), the
    directories it creates (path -> mode), conffiles and its own scripts."""

    def __init__(self, name, version, arch, depends, section, description,
                 provides=(), abi=None):
        self.name = name
        self.version = version
        self.arch = arch
        self.depends = list(depends)
        self.provides = list(provides)
        self.abi = abi
        self.section = section
        self.description = description
        self.files = {}
        self.dirs = {}
        self.conffiles = []
        self.postinst_pkg = None
        self.prerm_pkg = None
        self.meta = meta()

    def add_file(self, path, mode, data):
        path = path.strip("/")
        self.files[path] = (mode, data)
        if any(fnmatch.fnmatchcase(path, g) for g in CONFFILE_GLOBS):
            self.conffiles.append("/" + path)

    def add_dir(self, path, mode=0o755):
        self.dirs[path.strip("/")] = mode

    def all_dirs(self):
        """Every directory (path -> mode), parents included, root as ''."""
        out = {"": 0o755}
        for path in list(self.files) + list(self.dirs):
            parts = path.split("/")
            last = len(parts) if path in self.dirs else len(parts) - 1
            for i in range(1, last + 1):
                d = "/".join(parts[:i])
                out.setdefault(d, DIR_MODES.get(d, 0o755))
        out.update(self.dirs)
        return out

    def installed_size(self):
        return sum(len(d) for _, d in self.files.values())


def _mode_for(rel, src):
    for glob, mode in MODE_RULES:
        if fnmatch.fnmatchcase(rel, glob):
            return mode
    return 0o755 if os.stat(src).st_mode & 0o111 else 0o644


def tree_files():
    """(rel path, source path) of every file under openwrt/files/, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(FILES):
        dirnames.sort()
        for fn in sorted(filenames):
            if any(fnmatch.fnmatchcase(fn, g) for g in SKIP_GLOBS):
                continue
            src = os.path.join(dirpath, fn)
            rel = os.path.relpath(src, FILES).replace(os.sep, "/")
            out.append((rel, src))
    return out


def packages(tool, arch, bin_path, lib_path=None, version=None):
    """The packages for one architecture, checked; raises PackError."""
    version = full_version(version)
    if not re.match(r"^[a-z0-9][a-z0-9_.+-]*$", arch) or arch in ("all", "noarch"):
        raise PackError("--arch '%s' is not an OpenWrt package architecture" % arch)
    binary = load_binary(tool, bin_path, arch)

    main = Package("mtgsy-ddns", version, arch, ["libc", "ca-bundle"], "net", DESCRIPTIONS["mtgsy-ddns"])
    prov = Package("ddns-scripts-mtgsy", version, "all", ["ddns-scripts", "mtgsy-ddns"], "net",
                   DESCRIPTIONS["ddns-scripts-mtgsy"])
    prov.prerm_pkg = PROVIDER_PRERM_PKG
    main.add_file("usr/bin/mtgsy-ddns", 0o755, binary)
    for rel, src in tree_files():
        target = prov if any(fnmatch.fnmatchcase(rel, g) for g in PROVIDER_GLOBS) else main
        with open(src, "rb") as f:
            target.add_file(rel, _mode_for(rel, src), f.read())
    for d, mode in DIR_MODES.items():
        main.add_dir(d, mode)
    out = [main, prov]

    if lib_path:
        abi = abi_version()
        lib = load_library(lib_path, arch, abi)
        name = abi_package_name(LIB_BASE, abi)
        pkg = Package(name, version, arch, ["libc"], "libs",
                      DESCRIPTIONS[LIB_BASE].replace("ABI", abi), provides=[LIB_BASE], abi=abi)
        pkg.add_file("usr/lib/%s.%s" % (LIB_FILE, abi), 0o755, lib)
        out.append(pkg)
    return out


# ----------------------------------------------------------------- scripts --
# As include/package-pack.mk writes them: the generic part loads
# /lib/functions.sh from the root being installed into (IPKG_INSTROOT in an
# image build, / on a router) and hands over to default_postinst /
# default_prerm, which enable/start or stop/disable the package's init
# scripts on a live router only; the package's own part follows.

def ipk_postinst():
    return ('#!/bin/sh\n'
            '[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0\n'
            '[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0\n'
            '. "${IPKG_INSTROOT}/lib/functions.sh"\n'
            'default_postinst $0 $@\n')


def ipk_prerm():
    return ('#!/bin/sh\n'
            '[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0\n'
            '. "${IPKG_INSTROOT}/lib/functions.sh"\n'
            'default_prerm $0 $@\n')


def _body(script):
    """A script without its #! line(s), as package-pack.mk's sed does."""
    if not script:
        return ""
    return "".join(l for l in script.splitlines(True) if not l.lstrip().startswith("#!"))


def apk_post_install(pkg):
    return ('#!/bin/sh\n'
            '[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0\n'
            '[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0\n'
            '. "${IPKG_INSTROOT}/lib/functions.sh"\n'
            'export root="${IPKG_INSTROOT}"\n'
            'export pkgname="%s"\n'
            'add_group_and_user\n'
            'default_postinst\n' % pkg.name) + _body(pkg.postinst_pkg)


def apk_post_upgrade(pkg):
    return "#!/bin/sh\nexport PKG_UPGRADE=1\n" + _body(apk_post_install(pkg))


def apk_pre_deinstall(pkg):
    return ('#!/bin/sh\n'
            '[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0\n'
            '. "${IPKG_INSTROOT}/lib/functions.sh"\n'
            'export root="${IPKG_INSTROOT}"\n'
            'export pkgname="%s"\n'
            'default_prerm\n' % pkg.name) + _body(pkg.prerm_pkg)


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def source_date_epoch():
    """SOURCE_DATE_EPOCH (reproducible builds), else 0."""
    try:
        return max(0, int(os.environ.get("SOURCE_DATE_EPOCH", "0")))
    except ValueError:
        return 0


# --------------------------------------------------------------------- CLI --

def cli(tool, fmt, write):
    """The writers' shared command line:
    `--arch A --bin PATH [--lib PATH] --out DIR [--version V]`;
    `write(pkg, outdir, mtime)` writes one package and returns its path."""
    import argparse

    ap = argparse.ArgumentParser(
        prog=tool,
        description="Build the mtgsy-ddns %s packages without the OpenWrt SDK." % fmt)
    ap.add_argument("--arch", required=True,
                    help="OpenWrt package architecture, e.g. mipsel_24kc, aarch64_cortex-a53, "
                    "x86_64 (`opkg print-architecture` / `apk --print-arch` on the router)")
    ap.add_argument("--bin", required=True, help="the static mtgsy-ddns binary built for ARCH")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--version", help="package version <v>-r<release> (default: Cargo.toml's "
                    "version and openwrt/Makefile's PKG_RELEASE)")
    ap.add_argument("--lib", help="the shared library built for ARCH (SONAME "
                    "libmtgsy_ddns.so.<ABI>): adds the libmtgsy-ddns<ABI> package")
    args = ap.parse_args()
    try:
        pkgs = packages(tool, args.arch, args.bin, args.lib, args.version)
    except PackError as e:
        fail(tool, str(e))
    os.makedirs(args.out, exist_ok=True)
    mtime = source_date_epoch()
    for pkg in pkgs:
        print(write(pkg, args.out, mtime))
    if not args.lib:
        print("%s: no --lib given: %s skipped" % (tool, LIB_BASE), file=sys.stderr)
    return 0

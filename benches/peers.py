#!/usr/bin/env python3
"""mtgsy-ddns against its peers, in one run, on one loopback server.

    python3 benches/peers.py [--bin PATH] [--runs N] [--out FILE]

Needs Debian's inadyn, ddclient, valgrind, time and python3; root, or
unprivileged user namespaces, for the private mount namespace. --bin defaults to the shipped x86_64 build,
target/dist/x86_64-unknown-linux-musl/mtgsy-ddns (openwrt/build-all).

For each client it measures
  (a) a check where the address is unchanged (nothing should be sent),
  (b) an update over plain HTTP,
  (c) an update over HTTPS (ECDSA P-256 test CA made with openssl),
each as instructions (valgrind --tool=callgrind, one run), peak RSS and
median wall time (--runs runs), plus the installed footprint (executable +
every shared library and module it loads), and prints a Markdown table with
each peer's figure as a multiple of mtgsy-ddns's.

Everything talks to 127.0.0.1 only: the stand-in servers are .ci/standin.py,
and the run re-executes itself in a private mount namespace (unshare -m, or
-rm when not root) whose /etc/resolv.conf names only 127.0.0.1, so no client
can send a DNS query off the machine.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
STANDIN = os.path.join(REPO, ".ci", "standin.py")
IP = "203.0.113.7"  # what the stand-in's checkip page reports, too
USER = "bench@example.com"
PASSWORD = "bench-secret"
HOST = "bench.example.com"


def die(msg):
    print("peers: error: " + msg, file=sys.stderr)
    sys.exit(1)


def reexec_in_namespace():
    if os.environ.get("PEERS_IN_NS") == "1":
        return
    unshare = shutil.which("unshare") or die("unshare (util-linux) is needed")
    flags = "-m" if os.geteuid() == 0 else "-rm"
    env = dict(os.environ, PEERS_IN_NS="1")
    os.execve(unshare, [unshare, flags, sys.executable] + sys.argv, env)


def loopback_resolver(work):
    conf = os.path.join(work, "resolv.conf")
    with open(conf, "w", encoding="ascii") as f:
        f.write("nameserver 127.0.0.1\n")
    subprocess.run(["mount", "--make-rprivate", "/"], check=False)
    subprocess.run(["mount", "--bind", conf, "/etc/resolv.conf"], check=True)


class Server:
    def __init__(self, work, name, tls):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        if tls:
            for f in ("ca.pem", "server.pem", "server.key"):
                shutil.copy(os.path.join(work, "pki", f), self.dir)
        args = [sys.executable, STANDIN, "--dir", self.dir, "--lifetime", "3600"]
        if tls:
            args.append("--tls")
        self.proc = subprocess.Popen(args)
        port = os.path.join(self.dir, "port")
        for _ in range(200):
            if os.path.exists(port):
                break
            time.sleep(0.05)
        else:
            die("stand-in server did not start")
        with open(port, encoding="ascii") as f:
            self.port = int(f.read())

    def count(self):
        with open(os.path.join(self.dir, "requests"), encoding="utf-8") as f:
            return sum(1 for _ in f)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Case:
    """One client in one scenario: how to reset it, run it, and how many
    update requests it must send."""

    def __init__(self, argv, env, prep, server, expect_sent):
        self.argv, self.env, self.prep = argv, env, prep
        self.server, self.expect_sent = server, expect_sent


def spawn(case, wrapper=()):
    """Runs the case once (after its reset); returns (exit code, wall
    seconds, update requests the server saw)."""
    case.prep()
    before = case.server.count()
    env = dict(os.environ, **case.env)
    t0 = time.perf_counter()
    code = subprocess.call(list(wrapper) + case.argv, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    if code != 0:
        die(f"{case.argv[0]} exited {code}: {' '.join(list(wrapper) + case.argv)}")
    return wall, case.server.count() - before


def measure(case, runs, work):
    """Median wall time (runs as they are) and median peak RSS (separate runs
    under /usr/bin/time -f %M: a child forked from this big Python process
    would count Python's pages in its own peak)."""
    walls, rss, sent = [], [], []
    for _ in range(runs):
        wall, n = spawn(case)
        walls.append(wall)
        sent.append(n)
    out = os.path.join(work, "time.out")
    for _ in range(runs):
        _, n = spawn(case, ["/usr/bin/time", "-f", "%M", "-o", out])
        sent.append(n)
        with open(out, encoding="ascii") as f:
            rss.append(int(f.read().split()[-1]))
    if any(s != case.expect_sent for s in sent):
        print(f"peers: note: {os.path.basename(case.argv[0])} sent {sent} "
              f"update requests (expected {case.expect_sent} per run)", file=sys.stderr)
    return statistics.median(walls), statistics.median(rss), max(sent)


def instructions(case, work):
    case.prep()
    out = os.path.join(work, "callgrind.out")
    env = dict(os.environ, **case.env)
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
                       + case.argv, env=env, capture_output=True, text=True)
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    if r.returncode != 0 or not m:
        die(f"callgrind run of {case.argv[0]} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return int(m.group(1))


def file_size(path):
    return os.stat(path).st_size


def ldd_libs(path):
    r = subprocess.run(["ldd", path], capture_output=True, text=True)
    libs = set()
    for line in r.stdout.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            libs.add(os.path.realpath(m.group(1)))
    return libs


def footprint(paths):
    seen = {os.path.realpath(p) for p in paths}
    return sum(file_size(p) for p in seen), len(seen)


# ---------------------------------------------------------------- clients


def mtgsy_cases(binary, work, plain, tls):
    d = os.path.join(work, "mtgsy")
    os.makedirs(d)
    state = os.path.join(d, "state.json")
    seeded = os.path.join(d, "seeded.json")
    env = {"MTGSY_PASSWORD": PASSWORD}
    base = [binary, "update", "--username", USER, "--ip", IP, "--allow-private",
            "--state", state]
    https = ["--server", f"https://127.0.0.1:{tls.port}/dns/update.php"]
    http = ["--server", f"http://127.0.0.1:{plain.port}/dns/update.php", "--allow-http"]
    ca = ["--ca-file", os.path.join(tls.dir, "ca.pem")]

    def fresh():
        for p in (state, state + ".lock"):
            if os.path.exists(p):
                os.unlink(p)

    # a state file that says IP is registered at the HTTPS server
    fresh()
    r = subprocess.run(base + https + ca, env=dict(os.environ, **env),
                       capture_output=True, text=True)
    if r.returncode != 0:
        die(f"mtgsy-ddns seeding update failed: {r.stdout}{r.stderr}")
    shutil.copy(state, seeded)

    def seeded_state():
        shutil.copy(seeded, state)

    return {
        # as shipped: the system CA bundle (no --ca-file); nothing is sent, so it is never read
        "a": Case(base + https, env, seeded_state, tls, 0),
        "b": Case(base + http, env, fresh, plain, 1),
        "c": Case(base + https + ca, env, fresh, tls, 1),
    }


def inadyn_cases(work, plain, tls):
    d = os.path.join(work, "inadyn")
    cache = os.path.join(d, "cache")
    os.makedirs(cache)
    exe = shutil.which("inadyn") or die("inadyn not found (apt-get install inadyn)")

    def conf(name, server, ssl):
        path = os.path.join(d, name + ".conf")
        with open(path, "w", encoding="ascii") as f:
            if ssl:
                f.write(f'ca-trust-file = "{os.path.join(tls.dir, "ca.pem")}"\n')
            f.write(f"""custom bench {{
    username       = "{USER}"
    password       = "{PASSWORD}"
    hostname       = "{HOST}"
    ssl            = {"true" if ssl else "false"}
    ddns-server    = "127.0.0.1:{server.port}"
    ddns-path      = "/dns/update.php?email=%u&pass=%p&ip=%i"
    checkip-server = "127.0.0.1:{plain.port}"
    checkip-path   = "/ip"
    checkip-ssl    = false
}}
""")
        return path

    def seeded():
        shutil.rmtree(cache)
        os.makedirs(cache)
        with open(os.path.join(cache, HOST + ".cache"), "w", encoding="ascii") as f:
            f.write(IP)  # no newline: inadyn compares byte for byte

    def argv(conf_path, force):
        a = [exe, "--once", "--foreground", "--no-pidfile", "--cache-dir=" + cache,
             "-f", conf_path]
        return a + ["--force"] if force else a

    plain_conf = conf("plain", plain, False)
    tls_conf = conf("tls", tls, True)
    return exe, {
        "a": Case(argv(tls_conf, False), {}, seeded, tls, 0),
        "b": Case(argv(plain_conf, True), {}, seeded, plain, 1),
        "c": Case(argv(tls_conf, True), {}, seeded, tls, 1),
    }


def ddclient_cases(work, plain, tls):
    d = os.path.join(work, "ddclient")
    os.makedirs(d)
    exe = shutil.which("ddclient") or die("ddclient not found (apt-get install ddclient)")
    cache = os.path.join(d, "ddclient.cache")
    seeded = os.path.join(d, "seeded.cache")

    def conf(name, server, ssl):
        path = os.path.join(d, name + ".conf")
        with open(path, "w", encoding="ascii") as f:
            f.write(f"""daemon=0
syslog=no
ssl={"yes" if ssl else "no"}
{"ssl_ca_file=" + os.path.join(tls.dir, "ca.pem") if ssl else ""}
use=ip, ip={IP}
protocol=dyndns2
server=127.0.0.1:{server.port}
login={USER}
password={PASSWORD}
{HOST}
""")
        os.chmod(path, 0o600)
        return path

    def argv(conf_path, force):
        a = [exe, "-daemon=0", "-foreground", "-file", conf_path, "-cache", cache]
        return a + ["-force"] if force else a

    def fresh():
        if os.path.exists(cache):
            os.unlink(cache)

    def seeded_cache():
        shutil.copy(seeded, cache)

    plain_conf = conf("plain", plain, False)
    tls_conf = conf("tls", tls, True)
    fresh()
    r = subprocess.run(argv(tls_conf, True), capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(cache):
        die(f"ddclient seeding update failed: {r.stdout}{r.stderr}")
    shutil.copy(cache, seeded)
    return exe, {
        "a": Case(argv(tls_conf, False), {}, seeded_cache, tls, 0),
        "b": Case(argv(plain_conf, True), {}, fresh, plain, 1),
        "c": Case(argv(tls_conf, True), {}, fresh, tls, 1),
    }


def perl_loaded_files(case, work):
    """Every file a perl program loads: a module hooked in with PERL5OPT
    prints %INC and the mapped shared objects at exit."""
    hook = os.path.join(work, "perlhook")
    os.makedirs(hook, exist_ok=True)
    out = os.path.join(work, "perl-loaded.txt")
    with open(os.path.join(hook, "PeersFootprint.pm"), "w", encoding="ascii") as f:
        f.write("""package PeersFootprint;
END {
    if (open(my $o, '>', $ENV{PEERS_FOOTPRINT_OUT})) {
        print $o "$_\\n" for grep { defined } values %INC;
        if (open(my $m, '<', "/proc/$$/maps")) {
            while (<$m>) { print $o "$1\\n" if m{\\s(/\\S+)$}; }
        }
    }
}
1;
""")
    case.prep()
    env = dict(os.environ, PERL5LIB=hook, PERL5OPT="-MPeersFootprint",
               PEERS_FOOTPRINT_OUT=out)
    subprocess.run(case.argv, env=env, capture_output=True)
    files = set()
    with open(out, encoding="utf-8") as f:
        for line in f:
            p = line.strip()
            if p.startswith("/") and os.path.isfile(p) and "PeersFootprint" not in p:
                files.add(os.path.realpath(p))
    return files


# ---------------------------------------------------------------- report


def fmt_instr(n):
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.0f} k"


def fmt_kib(k):
    return f"{k / 1024:.1f} MiB" if k >= 1024 else f"{k} KiB"


def fmt_ms(s):
    return f"{s * 1000:.1f} ms"


def fmt_bytes(b):
    return f"{b / 1048576:.2f} MiB" if b >= 1048576 else f"{b / 1024:.0f} KiB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(
        REPO, "target", "dist", "x86_64-unknown-linux-musl", "mtgsy-ddns"))
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--out", help="also write the Markdown table here")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    if not os.access(binary, os.X_OK):
        die(f"{binary} is not executable; build it with openwrt/build-all x86_64-unknown-linux-musl")
    for tool in ("valgrind", "openssl", "ldd", "/usr/bin/time"):
        shutil.which(tool) or die(f"{tool} not found")
    reexec_in_namespace()

    work = tempfile.mkdtemp(prefix="mtgsy-peers.")
    servers = []
    try:
        loopback_resolver(work)
        subprocess.run([sys.executable, STANDIN, "--make-ca", os.path.join(work, "pki")],
                       check=True)
        plain = Server(work, "plain", False)
        servers.append(plain)
        tls = Server(work, "tls", True)
        servers.append(tls)

        clients = [("mtgsy-ddns", mtgsy_cases(binary, work, plain, tls))]
        inadyn_exe, cases = inadyn_cases(work, plain, tls)
        clients.append(("inadyn", cases))
        ddclient_exe, cases = ddclient_cases(work, plain, tls)
        clients.append(("ddclient", cases))

        results = {}
        for name, cases in clients:
            for sc, case in cases.items():
                print(f"peers: {name} ({sc}) ...", file=sys.stderr)
                wall, rss, sent = measure(case, a.runs, work)
                instr = instructions(case, work)
                results[(name, sc)] = (instr, rss, wall, sent)

        # installed footprint: the executable and everything it loads
        fp = {}
        fp["mtgsy-ddns"] = footprint({binary} | ldd_libs(binary))
        fp["inadyn"] = footprint({inadyn_exe} | ldd_libs(inadyn_exe))
        perl = os.path.realpath(shutil.which("perl"))
        fp["ddclient"] = footprint({ddclient_exe, perl} | ldd_libs(perl)
                                   | perl_loaded_files(clients[2][1]["c"], work))
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)

    names = [n for n, _ in clients]
    titles = {"a": "(a) unchanged check", "b": "(b) update, plain HTTP",
              "c": "(c) update, HTTPS"}
    lines = ["| loopback, one run | " + " | ".join(names) + " |",
             "|---|" + "---:|" * len(names)]

    def row(label, values, fmt):
        base = values[0]
        cells = [fmt(values[0])]
        for v in values[1:]:
            ratio = v / base if base else float("inf")
            cells.append(f"{fmt(v)} ({ratio:.1f}×)")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    for sc in "abc":
        row(titles[sc] + ": instructions", [results[(n, sc)][0] for n in names], fmt_instr)
        row(titles[sc] + ": peak RSS", [results[(n, sc)][1] for n in names], fmt_kib)
        row(titles[sc] + ": median wall", [results[(n, sc)][2] for n in names], fmt_ms)
        lines.append(f"| {titles[sc]}: update requests sent | "
                     + " | ".join(str(results[(n, sc)][3]) for n in names) + " |")
    row("installed footprint (executable + shared libraries, modules)",
        [fp[n][0] for n in names], fmt_bytes)
    lines.append("| files in that footprint | " + " | ".join(str(fp[n][1]) for n in names) + " |")
    table = "\n".join(lines)

    mi, mr, mw, _ = results[("mtgsy-ddns", "c")]
    ii, ir, iw, _ = results[("inadyn", "c")]
    ua = results[("mtgsy-ddns", "a")][0]
    checks = [
        ("HTTPS update: instructions < 1/2 of inadyn's", mi < ii / 2, f"{mi:,} vs {ii:,}"),
        ("HTTPS update: peak RSS < 1/2 of inadyn's", mr < ir / 2, f"{mr} KiB vs {ir} KiB"),
        ("HTTPS update: wall time < 1/5 of inadyn's", mw < iw / 5,
         f"{mw * 1000:.1f} ms vs {iw * 1000:.1f} ms"),
        ("unchanged check < 300 k instructions", ua < 300_000, f"{ua:,}"),
    ]
    report = [table, "", f"runs per wall/RSS figure: {a.runs} (median); "
              "instructions: one callgrind run each", ""]
    for label, ok, detail in checks:
        report.append(f"- {'met' if ok else 'MISSED'}: {label} ({detail})")
    text = "\n".join(report) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

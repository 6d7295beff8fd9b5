#!/usr/bin/env python3
"""Reliability of the tierwatch server, measured against the real binary.

  scripts/reliability.py TIERWATCH_BINARY DATABASE_URL

1. 50 concurrent runners each upload a distinct report: every upload must be
   acknowledged (2xx), and the server must then hold all 50 runs.
2. The server is killed with SIGKILL while 40 uploads are in flight, and
   restarted on the same database: every upload it acknowledged is there,
   evaluated, with all its directive outcomes; none is there partially.
3. 50 concurrent uploads while a large upload (LARGE_DIRECTIVES directive
   outcomes) is being stored: every answer 2xx, no run left `received`.
4. 500 slow clients from 127.0.0.2 and up, each sending half a header:
   normal requests from 127.0.0.1 are still answered (their latency with
   and without the slow clients is printed), and every half-sent header's
   connection is closed within 30 s.
5. Past the connection cap per address, a new connection is answered 503
   at once, naming the limit, while other addresses are served.
6. schemathesis runs the published OpenAPI document against the server
   (every operation, every check) and must report zero failures: once with
   a runner token, and once with a maintainer token on the promotion and
   audit operations. The server runs with its default request budgets,
   which this load must not trip.

Prints the figures recorded in the README. Exits non-zero on any failure.
"""
import concurrent.futures
import copy
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, binary, database_url, port, log):
        self.binary, self.database_url, self.port, self.log = binary, database_url, port, log
        self.base = f"http://127.0.0.1:{port}"
        self.proc = None

    def start(self, *flags):
        env = dict(os.environ, DATABASE_URL=self.database_url, TIERWATCH_POLICY=os.path.join(ROOT, "policy/wasmtime.yaml"))
        self.proc = subprocess.Popen([self.binary, "serve", "--bind", f"127.0.0.1:{self.port}", *flags], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1)
                return
            except Exception:
                time.sleep(0.1)
        sys.exit("reliability: the server did not come up")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


def token(binary, database_url, role="runner"):
    env = dict(os.environ, DATABASE_URL=database_url)
    out = subprocess.run([binary, "token", "create", "--name", f"reliability-{role}", "--role", role, "--targets", "*"],
                         env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def reports(count, prefix):
    """`count` distinct, fresh reports made from the seed-world fixture."""
    base = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(ROOT, "policy/fixtures/seed-world/seed-*.json")))
            if "build" not in p]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = []
    for i in range(count):
        r = copy.deepcopy(base[i % len(base)])
        r["run-id"] = f"{prefix}-{i:03d}"
        r["started-at"] = r["finished-at"] = now
        out.append(r)
    return out


def upload(base, tok, report):
    body = json.dumps(report).encode()
    req = urllib.request.Request(base + "/api/v1/runs", data=body, method="POST",
                                 headers={"authorization": f"Bearer {tok}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return None


def directives(report):
    return sum(len(f["directives"]) for f in report["spec"]) + len(report["wasi"])


def get_json(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return json.load(r)


def concurrent_runners(server, tok):
    rs = reports(50, "concurrent")
    started = time.time()
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(lambda r: upload(server.base, tok, r), rs))
    took = time.time() - started
    bad = [(r["run-id"], s) for r, s in zip(rs, statuses) if s not in (200, 201)]
    if bad:
        sys.exit(f"reliability: {len(bad)} of 50 concurrent uploads failed: {bad[:5]}")
    held = {r["run-id"] for r in get_json(server.base, "/api/v1/runs?limit=1000")}
    missing = [r["run-id"] for r in rs if r["run-id"] not in held]
    if missing:
        sys.exit(f"reliability: acknowledged but not held: {missing[:5]}")
    print(f"reliability: 50 concurrent uploads, 0 errors, {took:.1f} s")
    return took


def sigkill_mid_upload(server, tok):
    rs = reports(40, "killed")
    acked = {}
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        futures = {pool.submit(upload, server.base, tok, r): r for r in rs}
        # Kill once a few uploads are acknowledged and the rest in flight.
        deadline = time.time() + 30
        while time.time() < deadline and sum(1 for f in futures if f.done() and f.result() in (200, 201)) < 3:
            time.sleep(0.02)
        server.kill()
        for f in concurrent.futures.as_completed(futures):
            acked[futures[f]["run-id"]] = f.result()
    server.start()
    acknowledged = [r for r in rs if acked[r["run-id"]] in (200, 201)]
    if len(acknowledged) < 3:
        sys.exit(f"reliability: only {len(acknowledged)} uploads were acknowledged before the kill; the test needs some")
    held = {r["run-id"]: r for r in get_json(server.base, "/api/v1/runs?limit=1000")}
    lost = [r["run-id"] for r in acknowledged if r["run-id"] not in held]
    if lost:
        sys.exit(f"reliability: acknowledged runs lost after SIGKILL: {lost}")
    partial = []
    for r in rs:
        row = held.get(r["run-id"])
        if row is None:
            continue
        stored = row["passed"] + row["failed"] + row["skipped"]
        if stored != directives(r) or row["state"] not in ("evaluated", "rejected"):
            partial.append((r["run-id"], stored, directives(r), row["state"]))
    if partial:
        sys.exit(f"reliability: partial runs after SIGKILL: {partial[:5]}")
    # What was not acknowledged can simply be sent again, and is then whole.
    for r in rs:
        if r["run-id"] not in held and upload(server.base, tok, r) not in (200, 201):
            sys.exit(f"reliability: resending {r['run-id']} after the restart failed")
    print(f"reliability: SIGKILL with 40 uploads in flight: {len(acknowledged)} acknowledged before the kill, "
          f"0 lost, 0 partial; {len([r for r in rs if r['run-id'] in held])} held after restart")


LARGE_DIRECTIVES = int(os.environ.get("TIERWATCH_RELIABILITY_LARGE_DIRECTIVES", "300000"))


def large_report(run_id, directives_wanted):
    """One report with `directives_wanted` outcomes spread over 1,000
    scripts, made from a seed-world report."""
    r = reports(1, run_id)[0]
    r["run-id"] = run_id
    template = r["spec"][0]
    per = max(1, directives_wanted // 1000)
    spec = []
    for i in range(1000):
        f = copy.deepcopy({k: v for k, v in template.items() if k != "directives"})
        f["file"] = f"large/{i:04d}.wast"
        f["directives"] = [{"line": 1 + j, "kind": "assert_return", "outcome": "pass"} for j in range(per)]
        spec.append(f)
    r["spec"] = spec
    return r


def uploads_beside_a_large_one(server, tok):
    big = large_report("large-000", LARGE_DIRECTIVES)
    body = json.dumps(big).encode()
    rs = reports(50, "beside")
    with concurrent.futures.ThreadPoolExecutor(51) as pool:
        large = pool.submit(upload, server.base, tok, big)
        time.sleep(0.5)
        statuses = list(pool.map(lambda r: upload(server.base, tok, r), rs))
        large_status = large.result()
    bad = [(r["run-id"], s) for r, s in zip(rs, statuses) if s not in (200, 201)]
    if large_status not in (200, 201):
        bad.append(("large-000", large_status))
    if bad:
        sys.exit(f"reliability: uploads beside a large one failed: {bad[:5]}")
    held = {r["run-id"]: r for r in get_json(server.base, "/api/v1/runs?limit=1000")}
    stuck = [i for i, r in held.items() if r["state"] == "received"]
    if stuck:
        sys.exit(f"reliability: runs left `received`: {stuck[:5]}")
    print(f"reliability: 50 concurrent uploads beside one of {LARGE_DIRECTIVES} directives "
          f"({len(body) / 1e6:.0f} MB): 0 errors, 0 runs left received")


def connect_from(address, port):
    s = socket.socket()
    s.bind((address, 0))
    s.connect(("127.0.0.1", port))
    return s


def healthz_latency(base, n=50):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        with urllib.request.urlopen(base + "/healthz", timeout=10) as r:
            r.read()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2] * 1000, times[int(len(times) * 0.99) - 1] * 1000


def slow_clients(server):
    import selectors
    quiet = healthz_latency(server.base)
    slow = selectors.DefaultSelector()
    opened = time.monotonic()
    for i in range(500):
        s = connect_from(f"127.0.0.{2 + i // 50}", server.port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: tierwatch\r\n")
        s.setblocking(False)
        slow.register(s, selectors.EVENT_READ)
    loaded = healthz_latency(server.base)
    open_left, last_close = 500, 0.0
    while open_left and time.monotonic() - opened < 30:
        for key, _ in slow.select(timeout=1):
            try:
                data = key.fileobj.recv(4096)
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if not data:
                slow.unregister(key.fileobj)
                key.fileobj.close()
                open_left -= 1
                last_close = time.monotonic() - opened
    for key in list(slow.get_map().values()):
        key.fileobj.close()
    if open_left:
        sys.exit(f"reliability: {open_left} of 500 connections with half a header still open after 30 s")
    print(f"reliability: 500 slow clients from 10 addresses: /healthz median {loaded[0]:.1f} ms, p99 {loaded[1]:.1f} ms "
          f"(without them {quiet[0]:.1f} ms, p99 {quiet[1]:.1f} ms); every half header closed by {last_close:.1f} s")


def connection_cap(server, per_address):
    held = [connect_from("127.0.0.99", server.port) for _ in range(per_address)]
    time.sleep(0.5)
    extra = connect_from("127.0.0.99", server.port)
    extra.settimeout(5)
    asked = time.monotonic()
    answer = b""
    try:
        while chunk := extra.recv(4096):
            answer += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    took = time.monotonic() - asked
    extra.close()
    served = healthz_latency(server.base, 5)
    for s in held:
        s.close()
    if not answer.startswith(b"HTTP/1.1 503") or b"--max-connections-per-address" not in answer or took > 2:
        sys.exit(f"reliability: connection {per_address + 1} from one address: {answer[:200]!r} after {took:.1f} s")
    print(f"reliability: connection {per_address + 1} from one address refused in {took * 1000:.0f} ms with 503 naming "
          f"--max-connections-per-address; another address served meanwhile ({served[0]:.1f} ms)")


def schemathesis(server, tok, role, only=None):
    """Every operation as `role`; with `only`, just the paths it matches."""
    st = subprocess.run(["st", "--version"], capture_output=True, text=True)
    if st.returncode != 0:
        sys.exit("reliability: schemathesis is not installed (pip install schemathesis)")
    cmd = ["st", "run", server.base + "/api/v1/openapi.json", "--url", server.base,
           "--header", f"Authorization: Bearer {tok}", "--checks", "all",
           "--exclude-checks", "positive_data_acceptance",
           "--max-examples", os.environ.get("TIERWATCH_SCHEMATHESIS_EXAMPLES", "30"),
           # One worker: with two, hypothesis parses lambda sources from two
           # threads at once and CPython's ast module raises "AST constructor
           # recursion depth mismatch" inside schemathesis (a tool error, not
           # a server failure, but it fails the run).
           "--workers", "1"]
    if only:
        cmd += ["--include-path-regex", only]
    print(f"reliability: schemathesis with a {role} token" + (f" on {only}" if only else "") + " …")
    run = subprocess.run(cmd, capture_output=True, text=True)
    lines = run.stdout.strip().splitlines()
    print("\n".join(lines[-25:]))
    if run.returncode != 0:
        # The failures and errors sections, each line cut short (tracebacks
        # can quote whole source files).
        start = next((i for i, l in enumerate(lines) if l.strip("= ") in ("FAILURES", "ERRORS")), max(0, len(lines) - 200))
        print("\n".join(l[:300] for l in lines[start:start + 200]), file=sys.stderr)
        sys.exit(f"reliability: schemathesis found failures (exit {run.returncode})")
    print(f"reliability: schemathesis {st.stdout.strip()}: 0 failures")


def main():
    binary, database_url = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryFile("w+") as log:
        server = Server(binary, database_url, free_port(), log)
        tok = token(binary, database_url)
        # Room for the large upload (about 90 bytes per outcome), raised by
        # the flags that name each limit, as an operator would.
        large_flags = ["--max-body-bytes", str(max(64 << 20, LARGE_DIRECTIVES * 200)),
                       "--max-report-directives", str(max(1_000_000, LARGE_DIRECTIVES))]
        server.start(*large_flags)
        try:
            concurrent_runners(server, tok)
            sigkill_mid_upload(server, tok)
            server.stop()
            server.start(*large_flags)
            uploads_beside_a_large_one(server, tok)
            slow_clients(server)
            connection_cap(server, 256)
            schemathesis(server, tok, "runner")
            # Promotion requests and the audit log as a maintainer, so that
            # filing and voting get past authorization.
            schemathesis(server, token(binary, database_url, "maintainer"), "maintainer", "^/api/v1/(promotions|audit)")
        except SystemExit:
            log.seek(0)
            sys.stderr.write(log.read()[-4000:])
            raise
        finally:
            server.stop()


if __name__ == "__main__":
    main()

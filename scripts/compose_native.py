#!/usr/bin/env python3
"""Runs the compose file's server and x86_64 runner natively: the command
lines (each Dockerfile's ENTRYPOINT and CMD, the compose `command`), the
environment (each Dockerfile's ENV, then the compose `environment`) and the
health check, read from the files themselves, started as processes against
a PostgreSQL server outside any container.

    compose_native.py BIN_DIR POSTGRES_URL

What differs from `docker compose up`, and why, is printed: the database
host (`postgres` → the given server), the server's address (`proxy:8080`,
nginx before two replicas → one server on a free loopback port; the proxy
and the replicas are server/tests/cluster.rs's to run natively), paths
inside the image (the policy, the spool)
mapped to the repository and a scratch folder, and TIERWATCH_FUZZ_PROPOSALS
added to bound the run's time. Exits non-zero, naming the step, when the
server does not become healthy, the documented token command fails, or the
runner's report is not stored and evaluated.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

from reliability import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(msg):
    sys.exit(f"compose-native: {msg}")


def dockerfile(path):
    """ENV, ENTRYPOINT, CMD and HEALTHCHECK CMD of a Dockerfile's last stage."""
    text = open(os.path.join(ROOT, path)).read().replace("\\\n", " ")
    stage = re.split(r"(?m)^FROM ", text)[-1]
    env, entry, cmd, health = {}, [], [], None
    for line in stage.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', rest):
                env[k] = v.strip('"')
        elif word == "ENTRYPOINT":
            entry = json.loads(rest)
        elif word == "CMD":
            cmd = json.loads(rest)
        elif word == "HEALTHCHECK":
            health = json.loads(rest[rest.index("CMD ") + 4:])
    if not entry:
        fail(f"{path}: no exec-form ENTRYPOINT")
    return env, entry, cmd, health


def main():
    bin_dir, pg_url = sys.argv[1], sys.argv[2]
    compose = yaml.safe_load(open(os.path.join(ROOT, "docker-compose.yml")))
    services = compose["services"]
    server_svc, runner_svc = services["server"], services["runner-x86_64"]
    s_env, s_entry, s_cmd, s_health = dockerfile(server_svc["build"]["dockerfile"])
    r_env, r_entry, r_cmd, _ = dockerfile(runner_svc["build"]["dockerfile"])
    if not s_health:
        fail("the server image has no exec-form HEALTHCHECK")
    scratch = tempfile.mkdtemp(prefix="compose-native-")
    port = free_port()
    differs = []

    def expand(value):
        # ${VAR:-default}: the default, as compose gives it with no .env.
        return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))

    env = dict(os.environ)
    env.update(s_env)
    env.update({k: expand(v) for k, v in server_svc.get("environment", {}).items()})
    env["DATABASE_URL"] = pg_url
    differs.append(f"DATABASE_URL: {server_svc['environment']['DATABASE_URL']} -> the local PostgreSQL")
    env["TIERWATCH_BIND"] = f"127.0.0.1:{port}"
    differs.append(f"TIERWATCH_BIND: {s_env.get('TIERWATCH_BIND')} -> 127.0.0.1:{port} (a free loopback port)")
    if env.get("TIERWATCH_POLICY", "").startswith("/etc/tierwatch/policy/"):
        env["TIERWATCH_POLICY"] = os.path.join(ROOT, "policy", os.path.basename(env["TIERWATCH_POLICY"]))
        differs.append("TIERWATCH_POLICY: /etc/tierwatch/policy/ (COPY policy) -> the repository's policy/")
    argv = [os.path.join(bin_dir, s_entry[0])] + s_entry[1:] + s_cmd
    print("compose-native: server:", shlex.join(s_entry + s_cmd))
    server_log = open(os.path.join(scratch, "server.log"), "w")
    server = subprocess.Popen(argv, env=env, cwd=scratch, stdout=server_log, stderr=subprocess.STDOUT)
    try:
        # The image's health check, run as compose runs it, until it passes.
        health = [h.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for h in s_health]
        deadline = time.time() + 60
        while subprocess.run(health, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            if server.poll() is not None or time.time() > deadline:
                fail(f"the server never passed its health check {health}; log: {open(server_log.name).read()[-2000:]}")
            time.sleep(0.5)
        print("compose-native: health check passes:", shlex.join(health))
        # The token command the compose file's header documents.
        header = open(os.path.join(ROOT, "docker-compose.yml")).read()
        m = re.search(r"docker compose exec server (tierwatch token create [^\n]*)", header)
        if not m:
            fail("docker-compose.yml no longer documents `docker compose exec server tierwatch token create ...`")
        token_argv = shlex.split(m.group(1))
        token_argv[0] = os.path.join(bin_dir, token_argv[0])
        token = subprocess.run(token_argv, env=env, cwd=scratch, capture_output=True, text=True)
        if token.returncode != 0 or not token.stdout.strip():
            fail(f"`{m.group(1)}` failed: {token.stderr}")
        print("compose-native: token created with:", m.group(1))

        renv = dict(os.environ)
        renv.update(r_env)
        renv.update({k: expand(v) for k, v in runner_svc.get("environment", {}).items()})
        renv["TIERWATCH_SERVER"] = f"http://127.0.0.1:{port}"
        differs.append(f"TIERWATCH_SERVER: {runner_svc['environment']['TIERWATCH_SERVER']} -> http://127.0.0.1:{port}")
        renv["TIERWATCH_TOKEN"] = token.stdout.strip()
        differs.append("TIERWATCH_TOKEN: from .env -> the token just created")
        renv["TIERWATCH_SPOOL"] = os.path.join(scratch, "spool")
        differs.append(f"TIERWATCH_SPOOL: {r_env.get('TIERWATCH_SPOOL')} (a volume) -> a scratch folder")
        renv["TIERWATCH_FUZZ_PROPOSALS"] = "simd"
        differs.append("TIERWATCH_FUZZ_PROPOSALS: added (simd only), to bound the run to about a minute")
        if not renv.get("TIERWATCH_TESTSUITES"):
            renv.pop("TIERWATCH_TESTSUITES", None)
        # The image's wrapper runs the native runner as is on x86_64.
        rargv = [os.path.join(bin_dir, r_entry[0])] + r_entry[1:] + runner_svc.get("command", r_cmd)
        print("compose-native: runner:", shlex.join(r_entry + runner_svc.get("command", r_cmd)))
        started = time.time()
        run = subprocess.run(rargv, env=renv, cwd=scratch, capture_output=True, text=True, timeout=1800)
        if run.returncode != 0:
            fail(f"the runner exited {run.returncode}: {run.stderr[-3000:]}")
        runs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/runs", timeout=10))
        if not runs:
            fail("the runner finished but the server stored no run")
        states = sorted({r.get("state") for r in runs})
        if states != ["evaluated"]:
            fail(f"runs not all evaluated: {states}")
        print(f"compose-native: the runner delivered {len(runs)} run(s), all evaluated, in {time.time() - started:.0f} s")
        print("compose-native: differences from `docker compose up`, each needed outside containers:")
        for d in differs:
            print("  -", d)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()

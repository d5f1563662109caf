#!/usr/bin/python3
"""tests/compose_walkthrough.py -- docs/deployment.md's walk-through, carried out without Docker.

No container engine runs where the suite runs.  This program executes the
walk-through (the ```sh block after `<!-- walkthrough -->` in
docs/deployment.md) line by line with bash, in a copy of compose/, with a
`docker-compose` on PATH that is this program (`dc` mode).  That stand-in
renders the real configuration with Debian's docker-compose 1.29 (its
`config`, and its own choice of the services `up` starts under the active
profiles) and carries each command out on this machine:

  kafka, kafka-init   the local stack's Kafka development broker (the contract's
                      topics exist from its start)
  redis               Debian's redis-server running the service's own command
                      (the password from its secret, fed as configuration on
                      stdin), its listener moved to a local port and its data
                      volume to a folder; not as the user `redis`
  postgres            Debian's PostgreSQL through compose/dev; then what the
                      postgres image does on a new volume: the POSTGRES_USER role
                      and POSTGRES_DB database, and the scripts mounted on
                      /docker-entrypoint-initdb.d run with the service's
                      environment
  other services      the process the container would run (entrypoint and
                      command as rendered, the image's ENTRYPOINT and CMD from
                      compose/Dockerfile), with the rendered environment; each
                      secret the service lists is at /run/secrets/NAME's stand-in
                      path (and only those: a *_FILE naming a secret the service
                      does not list fails as it would in a container); service
                      names (kafka:9092, redis:6379, postgres:5432,
                      alpaca-sim:8080) and listen addresses mapped to local ones;
                      bind-mounted files at their container paths' stand-ins;
                      Prometheus' DNS discovery of `worker` answered with the
                      replicas' addresses.

Lines that are not docker-compose run as written, with the host ports of
.env (Kafka's host listener, Prometheus, the simulator) mapped to the local
ones.  Every step must exit 0.  Each step's command, output, status and
times (NN.time: its start and end, seconds since the epoch) are kept in
WORK/steps/ for the caller's checks; at the end everything started
is stopped and every output and log (compose/dev's state dir's too, before
it is purged) is searched for the secrets (compose/secrets/, the key files
made, and the secrets compose/dev made in its state dir).

Usage:
  compose_walkthrough.py run --repo DIR --bin DIR --work DIR [--doc FILE]
  compose_walkthrough.py dc ARGS...      (as `docker-compose`, inside a run)
"""
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import image_replay  # noqa: E402  (Dockerfile parsing)

# compose/dev's ports for the walk-through's PostgreSQL and Kafka: ports of
# their own (the test stack's - 1500), so that both can run at once.  The
# test stack's are compose/dev's test ports, or DEV_*_PORT where exported
# (as compose/dev itself takes them): one who moved the test stack moves the
# walk-through with it.  Chosen by `run`, and handed to the `dc` processes in
# EMU_DEV_PORTS.
TEST_PORTS = {"DEV_PG_PORT": 65432, "DEV_REDIS_PORT": 65379, "DEV_SIM_PORT": 65080,
              "DEV_ADMIN_PORT": 65100, "DEV_PROM_PORT": 65090}


def walkthrough_ports():
    """DEV_*_PORT for the walk-through's compose/dev, as strings."""
    return {k: str(int(os.environ.get(k) or v) - 1500) for k, v in TEST_PORTS.items()}


INFRA = ("kafka", "kafka-init", "postgres")


def say(msg):
    print("walkthrough: " + msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------------ the document


def walkthrough_commands(doc):
    """The commands of the block after <!-- walkthrough -->, heredocs and
    continuations kept whole, comments and blank lines dropped."""
    text = open(doc).read()
    i = text.index("<!-- walkthrough -->")
    m = re.search(r"```sh\n(.*?)```", text[i:], re.S)
    lines = m.group(1).split("\n")
    cmds, cur, heredoc = [], "", None
    for line in lines:
        if heredoc:
            cur += "\n" + line
            if line.strip() == heredoc:
                cmds.append(cur)
                cur, heredoc = "", None
            continue
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        cur = cur + ("\n" if cur else "") + line
        h = re.search(r"<<-?\s*'?\"?(\w+)'?\"?", line)
        if h:
            heredoc = h.group(1)
            continue
        if line.rstrip().endswith("\\"):
            continue
        cmds.append(cur)
        cur = ""
    if cur:
        cmds.append(cur)
    return cmds


# ------------------------------------------------------------------ shared state


class Emu:
    """WORK/emu.json: the stack's addresses and the processes started."""

    def __init__(self, work):
        self.work = work
        self.path = os.path.join(work, "emu.json")
        self.d = json.load(open(self.path)) if os.path.exists(self.path) else {}

    def save(self):
        tmp = self.path + ".tmp"
        json.dump(self.d, open(tmp, "w"), indent=1)
        os.replace(tmp, self.path)


def dev(env, *args):
    """compose/dev on the walk-through's own state dir."""
    r = subprocess.run(["bash", env["EMU_DEV"], "--state", env["EMU_STATE"]] + list(args),
                       env=dict(env, **json.loads(env["EMU_DEV_PORTS"]), DEV_NO_BUILD="1"),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("compose/dev %s failed: %s" % (" ".join(args),
                                                           (r.stdout + r.stderr)[-2000:]))
    return r.stdout


def dev_env(env):
    """The local stack's settings (compose/dev env) as a dict."""
    out = dev(env, "env")
    pairs = {}
    for line in out.splitlines():
        m = re.match(r"export (\w+)=(.*)", line)
        if m:
            pairs[m.group(1)] = shlex.split(m.group(2))[0] if m.group(2) else ""
    return pairs


# ------------------------------------------------------------------ docker-compose stand-in


def read_env_file(path):
    env = {}
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, _, v = line.partition("=")
                env[k.strip()] = v.strip()
    return env


def up_services(cwd, profiles=None):
    """The services `docker-compose [--profile P]... up` starts, in start
    order, as docker-compose 1.29's own code chooses them (profiles from the
    arguments, else COMPOSE_PROFILES of the environment or .env).  Raises
    compose's ConfigurationError when a started service depends on one its
    profiles leave out, as `up` would."""
    from compose.config import config as cconfig
    from compose.config.environment import Environment
    from compose.project import Project
    import compose.network
    import compose.volume
    # Nothing to ask an engine about: networks and volumes are taken as new.
    compose.network.Network._set_legacy_flag = lambda self: None
    compose.volume.Volume._set_legacy_flag = lambda self: None
    environment = Environment.from_env_file(cwd)
    if not profiles:
        profiles = [p for p in (environment.get("COMPOSE_PROFILES") or "").split(",") if p]
    details = cconfig.find(cwd, None, environment)
    project = Project.from_config("emu", cconfig.load(details, True), client=None,
                                  enabled_profiles=profiles)
    return [s.name for s in project.get_services(None, include_deps=True)]


def rendered(cwd, profiles):
    """(config dict as `docker-compose config` prints it, services `up` starts)."""
    r = subprocess.run(["/usr/bin/docker-compose", "config"], cwd=cwd, capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError("docker-compose config: " + r.stderr.strip())
    import yaml
    return yaml.safe_load(r.stdout), up_services(cwd, profiles)


def image_entry(repo):
    """(ENTRYPOINT, CMD) of the Dockerfile's last stage."""
    st = image_replay.stages(image_replay.parse_dockerfile(
        os.path.join(repo, "compose", "Dockerfile")))
    entry, cmd = [], []
    for ins, text, _ in st[-1]["ins"]:
        if ins == "ENTRYPOINT":
            entry = json.loads(text)
        if ins == "CMD":
            cmd = json.loads(text)
    return entry, cmd


def as_list(v):
    if v is None:
        return None
    return v if isinstance(v, list) else shlex.split(v)


def secret_files(cfg, service, stand_in):
    """Links stand_in/NAME -> the host file of each secret the service lists."""
    os.makedirs(stand_in, exist_ok=True)
    for name in os.listdir(stand_in):
        os.unlink(os.path.join(stand_in, name))
    for s in cfg["services"][service].get("secrets") or []:
        name = s["source"] if isinstance(s, dict) else s
        target = s.get("target", name) if isinstance(s, dict) else name
        host = cfg["secrets"][name]["file"]
        if not os.path.exists(host):
            raise RuntimeError("secret %s: %s does not exist (run ./init-secrets)" % (name, host))
        if not os.stat(host).st_mode & 0o004:
            raise RuntimeError("secret %s: %s is not readable by the containers' users "
                               "(mode %o)" % (name, host, os.stat(host).st_mode & 0o777))
        os.symlink(host, os.path.join(stand_in, target))


def map_value(v, emu, secrets_dir):
    """A rendered value as the container would see it: Compose's $$ escape
    undone, service names and /run/secrets/ mapped to their stand-ins."""
    v = str(v).replace("$$", "$")
    st = emu.d["stack"]
    for name, addr in (("kafka:9092", st["bootstrap"]), ("redis:6379", st["redis"]),
                       ("postgres:5432", st["postgres"]),
                       ("alpaca-sim:8080", "127.0.0.1:%d" % st.get("sim_port", 0))):
        v = v.replace(name, addr)
    return v.replace("/run/secrets/", secrets_dir + "/")


def service_env(cfg, service, emu, secrets_dir, base_env):
    env = {k: base_env[k] for k in ("PATH", "HOME", "LANG", "ASAN_OPTIONS", "UBSAN_OPTIONS",
                                     "LSAN_OPTIONS") if k in base_env}
    for k, v in (cfg["services"][service].get("environment") or {}).items():
        env[k] = "" if v is None else map_value(v, emu, secrets_dir)
    return env


def program(argv, binaries):
    if argv and "/" not in argv[0] and os.path.exists(os.path.join(binaries, argv[0])):
        return [os.path.join(binaries, argv[0])] + argv[1:]
    return argv


# The ENTRYPOINT of the other images the Compose file runs as processes here.
IMAGE_ENTRYPOINTS = {"prom/prometheus": ["prometheus"]}


def process_argv(cfg, service, repo, binaries, args=None, entrypoint=None):
    svc = cfg["services"][service]
    if "build" in svc:
        ientry, icmd = image_entry(repo)
    else:
        ientry, icmd = IMAGE_ENTRYPOINTS.get(svc.get("image", "").split(":")[0], []), []
    entry = as_list(entrypoint) if entrypoint is not None else as_list(svc.get("entrypoint"))
    if entry is None:
        entry = ientry
    cmd = args if args is not None else as_list(svc.get("command"))
    if cmd is None:
        cmd = icmd if svc.get("entrypoint") is None and entrypoint is None else []
    return program(entry + cmd, binaries)


def start(emu, name, argv, env, cwd, log):
    with open(log, "ab") as out:
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
    emu.d.setdefault("procs", []).append({"name": name, "pid": p.pid, "argv0": argv[0],
                                          "log": log})
    emu.save()
    return p.pid


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = open("/proc/%d/stat" % pid).read()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def http_ok(url):
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
        return False


def targets(port):
    """The active targets of the Prometheus on port."""
    import urllib.request
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/targets" % port, timeout=2) as r:
            return json.load(r)["data"]["activeTargets"]
    except Exception:  # noqa: BLE001 - not answering yet
        return []


def wait_until(what, cond, secs):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return
        time.sleep(0.2)
    raise RuntimeError("%s: not within %d s" % (what, secs))


def up_infra(emu, cfg, env, cwd):
    """Kafka and PostgreSQL from compose/dev, then what the postgres image
    does on a new volume."""
    state = env["EMU_STATE"]
    os.makedirs(state, exist_ok=True)
    for c in ("postgres", "kafka"):
        dev(env, "start", c)
    st = dev_env(env)
    pg_port = re.search(r"@127\.0\.0\.1:(\d+)/", st["DATABASE_URL"]).group(1)
    emu.d["stack"] = {"bootstrap": st["KAFKA_BROKERS"], "postgres": "127.0.0.1:" + pg_port,
                      "redis": "127.0.0.1:%d" % free_port()}
    emu.save()
    # What the postgres image does with a new volume: POSTGRES_USER (a
    # superuser there; CREATEROLE is all the init scripts need here) with
    # the password of POSTGRES_PASSWORD_FILE, POSTGRES_DB owned by it, then
    # every script of /docker-entrypoint-initdb.d as POSTGRES_USER.
    sdir = os.path.join(emu.work, "run", "postgres", "secrets")
    secret_files(cfg, "postgres", sdir)
    penv = service_env(cfg, "postgres", emu, sdir, env)
    owner, db = penv["POSTGRES_USER"], penv["POSTGRES_DB"]
    owner_pw = open(penv["POSTGRES_PASSWORD_FILE"]).read().strip()
    superpw = open(os.path.join(state, "pg-super.password")).read().strip()
    pgpass = os.path.join(emu.work, "pgpass")
    with open(pgpass, "w") as f:
        f.write("127.0.0.1:%s:*:postgres:%s\n127.0.0.1:%s:*:%s:%s\n" %
                (pg_port, superpw, pg_port, owner, owner_pw))
    os.chmod(pgpass, 0o600)
    psql = [p for p in sorted(os.listdir("/usr/lib/postgresql"))][-1]
    psql = "/usr/lib/postgresql/%s/bin/psql" % psql
    base = dict(PGHOST="127.0.0.1", PGPORT=pg_port, PGPASSFILE=pgpass, PATH=env["PATH"])
    # The password reaches psql on stdin (a \\set), never on its command line.
    sql = ("\\set pw '%s'\n" % owner_pw.replace("\\", "\\\\").replace("'", "''") +
           "SELECT format('CREATE ROLE %I LOGIN CREATEROLE PASSWORD %L', :'owner', :'pw') "
           "WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \\gexec\n"
           "SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner') "
           "WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \\gexec\n")
    r = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d",
                        "postgres", "-v", "owner=" + owner, "-v", "db=" + db],
                       input=sql, env=base, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("making the postgres image's owner role: " + r.stderr)
    initdir = dict((dst, src) for src, dst in binds(cfg["services"]["postgres"])).get(
        "/docker-entrypoint-initdb.d")
    for script in sorted(os.listdir(initdir or "/nonexistent")):
        if script.endswith(".sh"):
            r = subprocess.run(["sh", os.path.join(initdir, script)],
                               env=dict(penv, **base), capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("postgres-init/%s: %s" % (script, r.stdout + r.stderr))
            say("postgres: ran postgres-init/" + script)


def start_service(emu, cfg, name, env, repo, binaries, cwd, replicas=1):
    svc = cfg["services"][name]
    logs = os.path.join(emu.work, "logs")
    os.makedirs(logs, exist_ok=True)
    sdir = os.path.join(emu.work, "run", name, "secrets")
    secret_files(cfg, name, sdir)
    argv = process_argv(cfg, name, repo, binaries)
    if name == "alpaca-sim":
        port = emu.d["stack"]["sim_port"]
        argv = [a if a != "0.0.0.0" else "127.0.0.1" for a in argv]
        argv[argv.index("--port") + 1] = str(port)
        publish(emu, svc, "8080", port)
        senv = service_env(cfg, name, emu, sdir, env)
        start(emu, name, argv, senv, cwd, os.path.join(logs, name + ".log"))
        wait_until("alpaca-sim", lambda: http_ok("http://127.0.0.1:%d/_sim/stats" % port), 30)
        return
    if name == "redis":
        host, port = emu.d["stack"]["redis"].rsplit(":", 1)
        data = os.path.join(emu.work, "run", "redis", "data")
        os.makedirs(data, exist_ok=True)
        argv = [map_value(a, emu, sdir) for a in argv]
        for src, dst in binds(svc):
            argv = [re.sub(r"(?<=\s)%s(?=\s|$)" % re.escape(dst), data, a) for a in argv]
        # The container's own network namespace: its listener, moved here.
        argv = [a.replace("redis-server -", "redis-server - --port %s --bind %s" % (port, host))
                for a in argv]
        start(emu, name, argv, service_env(cfg, name, emu, sdir, env), data,
              os.path.join(logs, name + ".log"))
        password = open(os.path.join(sdir, "redis_password")).read().strip()

        def pong():
            r = subprocess.run(["redis-cli", "-h", host, "-p", port, "ping"],
                               env=dict(env, REDISCLI_AUTH=password), capture_output=True,
                               text=True)
            return r.stdout.strip() == "PONG"
        wait_until("redis PING with the secret's password", pong, 30)
        return
    if name == "migrate":
        senv = service_env(cfg, name, emu, sdir, env)
        with open(os.path.join(logs, "migrate.log"), "ab") as out:
            r = subprocess.run(argv, env=senv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise RuntimeError("migrate exited %d (see %s)" % (r.returncode, out.name))
        return
    if name == "worker":
        ports = []
        for i in range(1, replicas + 1):
            senv = service_env(cfg, name, emu, sdir, env)
            port = free_port()
            senv["ADMIN_ADDR"] = "127.0.0.1" if senv.get("ADMIN_ADDR") == "0.0.0.0" else \
                senv.get("ADMIN_ADDR", "")
            senv["ADMIN_PORT"] = str(port)
            ports.append(port)
            start(emu, "worker_%d" % i, argv, senv, cwd, os.path.join(logs, "worker_%d.log" % i))
        emu.d["stack"]["worker_admin_ports"] = ports
        emu.save()
        for port in ports:  # the health check: /readyz
            wait_until("worker /readyz on %d" % port,
                       lambda: http_ok("http://127.0.0.1:%d/readyz" % port), 90)
        return
    if name == "prometheus":
        run = os.path.join(emu.work, "run", "prometheus")
        mounts = {}
        for src, dst in binds(svc):
            local = run + dst
            if src.startswith("/"):  # a bind mount of a file of the host
                os.makedirs(os.path.dirname(local), exist_ok=True)
                shutil.copy(src, local)
            else:  # a named volume
                os.makedirs(local, exist_ok=True)
            mounts[dst] = local
        conf = mounts.get("/etc/prometheus/prometheus.yml")
        import yaml
        c = yaml.safe_load(open(conf))
        ports = emu.d["stack"].get("worker_admin_ports", [])
        for job in c.get("scrape_configs", []):
            for sd in job.pop("dns_sd_configs", []) or []:
                if sd.get("names") == ["worker"]:
                    job.setdefault("static_configs", []).append(
                        {"targets": ["127.0.0.1:%d" % p for p in ports]})
        yaml.safe_dump(c, open(conf, "w"))
        port = free_port()
        args = []
        for a in argv:
            for target, local in mounts.items():
                a = a.replace("=" + target, "=" + local)
            args.append(a)
        args.append("--web.listen-address=127.0.0.1:%d" % port)
        publish(emu, svc, "9090", port)
        start(emu, name, args, {"PATH": env["PATH"]}, run, os.path.join(logs, name + ".log"))
        wait_until("prometheus", lambda: http_ok("http://127.0.0.1:%d/-/ready" % port), 30)
        wait_until("prometheus' first discovery of the replicas",
                   lambda: len(targets(port)) >= len(ports), 30)
        return
    raise RuntimeError("no stand-in for service %s" % name)


def publish(emu, svc, container_port, local_port):
    """Host port of a `ports:` entry -> the local port standing in for it."""
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            target, published = str(p.get("target")), str(p.get("published"))
        else:  # "[ip:]published:target[/proto]", as 1.29 renders it
            parts = p.split("/")[0].split(":")
            target, published = parts[-1], parts[-2] if len(parts) > 1 else parts[-1]
        if target == container_port:
            emu.d.setdefault("published", {})[published] = local_port
    emu.save()


def binds(svc):
    """[(host path or volume name, container path)] of a service's volumes."""
    out = []
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            out.append((v.get("source"), v["target"]))
        else:
            parts = v.split(":")
            out.append((parts[0], parts[1]))
    return out


def stop_all(emu):
    for p in reversed(emu.d.get("procs", [])):
        if alive(p["pid"]):
            os.kill(p["pid"], signal.SIGTERM)
    for p in reversed(emu.d.get("procs", [])):
        end = time.time() + 40
        while alive(p["pid"]) and time.time() < end:
            time.sleep(0.1)
        if alive(p["pid"]):
            say("%s ignored SIGTERM; SIGKILL" % p["name"])
            os.kill(p["pid"], signal.SIGKILL)
    emu.d["procs"] = []
    emu.save()


def dc(argv):
    env = dict(os.environ)
    work, repo, binaries = env["EMU_WORK"], env["EMU_REPO"], env["EMU_BIN"]
    emu = Emu(work)
    cwd = os.getcwd()
    profiles = []
    while argv and argv[0].startswith("-"):
        opt = argv.pop(0)
        if opt == "--profile":
            profiles.append(argv.pop(0))
        else:
            raise SystemExit("walkthrough: docker-compose option %s has no stand-in" % opt)
    if not argv:
        raise SystemExit("walkthrough: docker-compose without a command")
    cmd, args = argv[0], argv[1:]
    cfg, order = rendered(cwd, profiles)
    if cmd == "up":
        scale = {}
        while args:
            a = args.pop(0)
            if a == "--scale":
                k, _, v = args.pop(0).partition("=")
                scale[k] = int(v)
            elif a not in ("-d", "--detach", "--build"):
                raise SystemExit("walkthrough: `up %s` has no stand-in" % a)
        say("up: services %s" % " ".join(order))
        if any(s in order for s in INFRA):
            up_infra(emu, cfg, env, cwd)
        # alpaca-sim's address exists before anything that names it starts
        # (in Compose, a name that does not resolve yet is retried).
        emu.d["stack"]["sim_port"] = free_port()
        emu.save()
        for name in [s for s in order if s not in INFRA]:
            replicas = scale.get(name) or (cfg["services"][name].get("deploy") or {}).get(
                "replicas", 1)
            start_service(emu, cfg, name, env, repo, binaries, cwd, replicas)
            say("up: %s started" % name)
        return 0
    if cmd == "ps":
        st = emu.d.get("stack", {})
        if st:
            print("%-16s %-8s %s" % ("kafka", "Up", "the local Kafka development broker"))
            print("%-16s %-8s %s" % ("postgres", "Up", "the local PostgreSQL on " +
                                     st["postgres"]))
        for p in emu.d.get("procs", []):
            print("%-16s %-8s pid %d" % (p["name"], "Up" if alive(p["pid"]) else "Exit",
                                         p["pid"]))
        return 0
    if cmd == "run":
        entry = None
        while args and args[0].startswith("-"):
            a = args.pop(0)
            if a == "--entrypoint":
                entry = args.pop(0)
            elif a not in ("--rm", "-T"):
                raise SystemExit("walkthrough: `run %s` has no stand-in" % a)
        service = args.pop(0)
        sdir = os.path.join(work, "run", service + "-run", "secrets")
        secret_files(cfg, service, sdir)
        senv = service_env(cfg, service, emu, sdir, env)
        argv2 = process_argv(cfg, service, repo, binaries, args if args else None, entry)
        return subprocess.run(argv2, env=senv, cwd=cwd).returncode
    if cmd == "logs":
        for p in emu.d.get("procs", []):
            sys.stdout.write(open(p["log"]).read())
        return 0
    if cmd == "down":
        stop_all(emu)
        dev(env, "down", "--purge")
        return 0
    raise SystemExit("walkthrough: docker-compose %s has no stand-in" % cmd)


# ------------------------------------------------------------------ the driver


def host_rewrite(command, emu, env_file):
    """Host ports of .env -> the local stand-ins."""
    dotenv = read_env_file(env_file)
    kafka = dotenv.get("KAFKA_HOST_PORT", "29092")
    st = emu.d.get("stack", {})
    if st.get("bootstrap"):
        command = re.sub(r"(localhost|127\.0\.0\.1):%s\b" % kafka, st["bootstrap"], command)
    for host_port, local in (emu.d.get("published") or {}).items():
        command = re.sub(r"(localhost|127\.0\.0\.1):%s\b" % host_port, "127.0.0.1:%d" % local,
                         command)
    return command


def run(opts):
    repo, work = os.path.abspath(opts["--repo"]), os.path.abspath(opts["--work"])
    binaries = os.path.abspath(opts["--bin"])
    doc = opts.get("--doc") or os.path.join(repo, "docs", "deployment.md")
    if os.path.exists(work) and os.listdir(work):
        raise SystemExit("walkthrough: %s is not empty" % work)
    os.makedirs(os.path.join(work, "steps"), exist_ok=True)
    top = os.path.join(work, "top")
    shutil.copytree(os.path.join(repo, "compose"), os.path.join(top, "compose"),
                    ignore=shutil.ignore_patterns("secrets", ".env"))
    os.symlink(os.path.join(repo, "producers"), os.path.join(top, "producers"))
    shim = os.path.join(work, "shim")
    os.makedirs(shim)
    with open(os.path.join(shim, "docker-compose"), "w") as f:
        f.write("#!/bin/sh\nexec /usr/bin/python3 %s dc \"$@\"\n" % os.path.abspath(__file__))
    os.chmod(os.path.join(shim, "docker-compose"), 0o755)
    env = dict(os.environ, EMU_DEV_PORTS=json.dumps(walkthrough_ports()))
    for k in list(env):  # the test stack's settings must not leak into the walk-through
        if re.match(r"(KAFKA|REDIS|DATABASE|ADMIN_DATABASE|ALPACA|TOPIC|INTENT|DEV)_", k):
            del env[k]
    env.update(EMU_WORK=work, EMU_REPO=repo, EMU_BIN=binaries,
               EMU_DEV=os.path.join(repo, "compose", "dev"),
               EMU_STATE=os.path.join(work, "state"), DEV_BUILD_DIR=os.path.dirname(binaries),
               PATH=shim + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    cmds = walkthrough_commands(doc)
    say("%d commands from %s" % (len(cmds), doc))
    cwd, rc = top, 0
    try:
        for n, c in enumerate(cmds, 1):
            m = re.match(r"cd\s+(\S+)$", c.strip())
            if m:
                cwd = os.path.normpath(os.path.join(cwd, m.group(1)))
                continue
            emu = Emu(work)
            real = host_rewrite(c, emu, os.path.join(cwd, ".env"))
            base = os.path.join(work, "steps", "%02d" % n)
            open(base + ".cmd", "w").write(c + "\n")
            print("$ " + c, flush=True)
            start = time.time()
            with open(base + ".out", "w") as out:
                r = subprocess.run(["bash", "-euo", "pipefail", "-c", real], cwd=cwd, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, timeout=600)
            open(base + ".rc", "w").write("%d\n" % r.returncode)
            open(base + ".time", "w").write("%.3f %.3f\n" % (start, time.time()))
            sys.stdout.write(open(base + ".out").read())
            if r.returncode != 0:
                print("walkthrough: step %d exited %d" % (n, r.returncode), flush=True)
                rc = 1
                break
    finally:
        emu = Emu(work)
        if emu.d.get("procs"):
            say("stopping what is still running")
            stop_all(emu)
        if os.path.exists(os.path.join(work, "state")):
            try:
                dev(env, "down")
            except RuntimeError as e:
                say(str(e))
    # compose/dev's state dir (PostgreSQL, Kafka) is searched too, before
    # the purge deletes its logs and secrets.
    rc |= scan_secrets(work, os.path.join(top, "compose"), os.path.join(work, "state"))
    if os.path.exists(os.path.join(work, "state")):
        try:
            dev(env, "down", "--purge")
        except RuntimeError as e:
            say(str(e))
    return rc


def state_secrets(state):
    """The secrets compose/dev made in its state dir (*.password,
    alpaca.key, alpaca.secret) and its log files."""
    values, logs = {}, []
    if not os.path.isdir(state):
        return values, logs
    for n in sorted(os.listdir(state)):
        if n.endswith(".password") or n in ("alpaca.key", "alpaca.secret"):
            v = open(os.path.join(state, n)).read().strip()
            if len(v) >= 8:
                values["state/" + n] = v
    for d in ("logs", "sanitizers"):
        for root, _, names in os.walk(os.path.join(state, d)):
            logs += [os.path.join(root, n) for n in names]
    return values, logs


def scan_secrets(work, compose, state):
    """Every secret of secrets/, of compose/dev's state dir and every key
    file made must appear in no step's output and no log."""
    values, state_logs = state_secrets(state)
    for root, _, names in os.walk(os.path.join(compose, "secrets")):
        for n in names:
            v = open(os.path.join(root, n)).read().strip()
            if len(v) >= 8:
                values[os.path.relpath(os.path.join(root, n), compose)] = v
    for n in os.listdir(compose):
        if n.endswith(".key"):
            v = open(os.path.join(compose, n)).read().strip()
            if len(v) >= 8:
                values[n] = v
    leaks = 0
    files = [os.path.join(work, "steps", f) for f in os.listdir(os.path.join(work, "steps"))
             if f.endswith(".out")]
    files += [os.path.join(work, "logs", f) for f in os.listdir(os.path.join(work, "logs"))] \
        if os.path.isdir(os.path.join(work, "logs")) else []
    files += state_logs
    for f in files:
        text = open(f, errors="replace").read()
        for name, v in values.items():
            if v in text:
                print("walkthrough: FAIL the secret %s appears in %s" % (name, f))
                leaks += 1
    print("walkthrough: %d secrets searched for in %d outputs and logs: %d found" %
          (len(values), len(files), leaks))
    return 1 if leaks else 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "dc":
        try:
            return dc(sys.argv[2:])
        except RuntimeError as e:
            print("walkthrough: docker-compose %s: %s" % (" ".join(sys.argv[2:3]), e),
                  file=sys.stderr)
            return 1
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        a = sys.argv[2:]
        opts = dict(zip(a[::2], a[1::2]))
        for k in ("--repo", "--bin", "--work"):
            if k not in opts:
                raise SystemExit(__doc__)
        return run(opts)
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main())

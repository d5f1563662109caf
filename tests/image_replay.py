#!/usr/bin/env python3
"""tests/image_replay.py -- compose/Dockerfile's build stage, replayed without Docker.

No container engine runs on the machines the suite runs on, so this does by
hand what `docker build` would do with the build stage, on this Debian
bookworm host (the image's base is bookworm too):

  1. the build context: every file under the context directory that
     .dockerignore lets through, matched as Docker matches (patterns of
     path segments with * ? [..] and **, `!` exceptions, the last matching
     pattern wins, a pattern that matches a parent directory matches what is
     under it);
  2. an empty directory as WORKDIR, filled by the stage's COPY lines exactly
     as written (a source directory's contents, a file into a directory
     ending in /, glob sources); a source that is missing or excluded fails,
     as `docker build` does;
  3. the stage's `apt-get install` packages: each must be installed here
     (otherwise the replay would not be the image's), and every header the
     build read and every pkg-config module the CMake files require must come
     from them or from what they depend on, so that a -dev package the
     Dockerfile forgets fails here too;
  4. the stage's other RUN lines, with sh -c in that directory and a clean
     environment;
  5. the runtime stage: each `COPY --from=<build stage>` source must exist
     after the build, every shared library the copied programs need must come
     from its `apt-get install` packages, their dependencies or the base
     image's required packages, and each program must answer --help.

Usage: image_replay.py [--dockerfile F] [--context DIR] [--keep] [--work DIR]
Prints one line per check ("ok ..." / "FAIL ..."), exits 1 on any failure.
"""
import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

failures = 0


def ok(msg):
    print("ok   " + msg, flush=True)


def fail(msg):
    global failures
    failures += 1
    print("FAIL " + msg, flush=True)


# ------------------------------------------------------------------ Dockerfile


def parse_dockerfile(path):
    """[(instruction, arguments text, line number)], continuations joined."""
    out, buf, start = [], "", 0
    with open(path) as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if buf and s.startswith("#"):
            continue  # a comment inside a continued instruction
        if not buf:
            start = n
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        buf += s
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip(), start))
        buf = ""
    return out


def stages(instructions):
    """[{name, instructions}] in order."""
    result = []
    for ins in instructions:
        if ins[0] == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", ins[1], re.I)
            result.append({"base": m.group(1), "name": (m.group(2) or str(len(result))),
                           "ins": []})
        elif result:
            result[-1]["ins"].append(ins)
    return result


def copy_args(text):
    """(flags {name: value}, sources, dest) of a COPY line (shell or JSON form)."""
    text = text.strip()
    flags = {}
    words = shlex.split(text) if not text.startswith("[") else None
    if words is None:
        import json
        words = json.loads(text)
    while words and words[0].startswith("--"):
        k, _, v = words.pop(0)[2:].partition("=")
        flags[k] = v
    if len(words) < 2:
        raise ValueError("COPY needs a source and a destination: " + text)
    return flags, words[:-1], words[-1]


# ------------------------------------------------------------------ .dockerignore


def ignore_patterns(context):
    path = os.path.join(context, ".dockerignore")
    pats = []
    if not os.path.exists(path):
        return pats
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        if neg:
            line = line[1:].strip()
        line = os.path.normpath(line).lstrip("/")
        pats.append((neg, segment_regex(line)))
    return pats


def segment_regex(pattern):
    """A regex for Docker's pattern syntax (filepath.Match plus **)."""
    rx, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
                rx += "(?:.*/)?"
            else:
                rx += ".*"
            continue
        if c == "*":
            rx += "[^/]*"
        elif c == "?":
            rx += "[^/]"
        elif c == "[":
            j = pattern.find("]", i)
            if j < 0:
                raise ValueError("bad pattern " + pattern)
            cls = pattern[i + 1:j]
            if cls.startswith("^") or cls.startswith("!"):
                cls = "^" + cls[1:]
            rx += "[" + cls + "]"
            i = j
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            rx += re.escape(pattern[i])
        else:
            rx += re.escape(c)
        i += 1
    return re.compile("^" + rx + "$")


def excluded(rel, pats):
    """Docker's rule: the last pattern matching the path or a parent decides."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
    result = False
    for neg, rx in pats:
        if any(rx.match(p) for p in prefixes):
            result = not neg
    return result


def context_files(context):
    """Relative paths of the files the builder would receive."""
    pats = ignore_patterns(context)
    files = set()
    for root, dirs, names in os.walk(context):
        rel_root = os.path.relpath(root, context)
        rel_root = "" if rel_root == "." else rel_root
        if rel_root.split("/")[0] == ".git":
            continue
        for name in names:
            rel = os.path.join(rel_root, name) if rel_root else name
            if not excluded(rel, pats):
                files.add(rel)
    return files


# ------------------------------------------------------------------ the build stage


def do_copy(sources, dest, files, context, workdir, line):
    """Copies as COPY would; returns the number of files copied."""
    dest_dir = dest.endswith("/") or len(sources) > 1
    target = os.path.normpath(os.path.join(workdir, dest))
    copied = 0
    for src in sources:
        src = os.path.normpath(src).lstrip("/")
        if src == ".":
            matches = sorted(files)
            base = ""
        elif any(ch in src for ch in "*?["):
            rx = segment_regex(src)
            tops = sorted({f for f in files if rx.match(f)} |
                          {d for f in files for d in parent_dirs(f) if rx.match(d)})
            if not tops:
                raise FileNotFoundError("line %d: COPY %s: no source file matches (missing, "
                                        "or excluded by .dockerignore)" % (line, src))
            for t in tops:
                copied += do_copy([t], dest if dest_dir else dest, files, context, workdir, line)
            continue
        else:
            matches = sorted(f for f in files if f == src or f.startswith(src + "/"))
            base = src
        if not matches:
            raise FileNotFoundError("line %d: COPY %s: not in the build context (missing, or "
                                    "excluded by .dockerignore)" % (line, src))
        if matches == [src]:  # one file
            out = os.path.join(target, os.path.basename(src)) if dest_dir else target
            os.makedirs(os.path.dirname(out), exist_ok=True)
            shutil.copy2(os.path.join(context, src), out)
            copied += 1
            continue
        for f in matches:  # a directory: its contents go into dest
            rel = f[len(base) + 1:] if base else f
            out = os.path.join(target, rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            shutil.copy2(os.path.join(context, f), out)
            copied += 1
    return copied


def parent_dirs(rel):
    parts = rel.split("/")
    return ["/".join(parts[:k]) for k in range(1, len(parts))]


def apt_packages(run_text):
    """Packages named by `apt-get install` in a RUN line."""
    pkgs = []
    for m in re.finditer(r"apt-get\s+install\s+(.*?)(?:&&|;|$)", run_text):
        for w in m.group(1).split():
            if not w.startswith("-") and w != "\\":
                pkgs.append(w)
    return pkgs


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", pkg],
                       capture_output=True, text=True)
    return r.returncode == 0 and r.stdout == "installed"


def closure(pkgs):
    """pkgs and everything they depend on (Depends, Pre-Depends), recursively."""
    if not pkgs:
        return set()
    r = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                        "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"] + pkgs,
                       capture_output=True, text=True)
    names = set(pkgs)
    for line in r.stdout.splitlines():
        if line and not line[0].isspace():
            names.add(line.strip().split(":")[0])
        else:
            m = re.match(r"\s*\|?(?:Pre)?Depends:\s*<?([^>\s]+)>?", line)
            if m:
                names.add(m.group(1).split(":")[0])
    return names


def required_base():
    """Packages of priority required: what debian:bookworm-slim already holds."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Priority} ${Essential}\n"],
                       capture_output=True, text=True)
    base = set()
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and (parts[1] == "required" or parts[-1] == "yes"):
            base.add(parts[0])
    return base


def owners(paths):
    """{path: package} through dpkg -S (paths owned by no package are left out)."""
    result = {}
    paths = sorted(set(paths))
    for i in range(0, len(paths), 200):
        chunk = paths[i:i + 200]
        r = subprocess.run(["dpkg", "-S"] + chunk, capture_output=True, text=True)
        for line in r.stdout.splitlines():
            pkg, _, path = line.partition(": ")
            for p in path.split(", "):
                result[p.strip()] = pkg.split(",")[0].split(":")[0].strip()
        # dpkg -S names the path as the package lists it: try the resolved
        # path for those still unknown (/lib -> /usr/lib on merged /usr)
        missing = [p for p in chunk if p not in result]
        alt = {}
        for p in missing:
            q = p.replace("/usr/lib/", "/lib/", 1) if p.startswith("/usr/lib/") else \
                p.replace("/lib/", "/usr/lib/", 1) if p.startswith("/lib/") else None
            if q:
                alt[q] = p
        if alt:
            r = subprocess.run(["dpkg", "-S"] + sorted(alt), capture_output=True, text=True)
            for line in r.stdout.splitlines():
                pkg, _, path = line.partition(": ")
                if path.strip() in alt:
                    result[alt[path.strip()]] = pkg.split(":")[0].strip()
    return result


def pkgconfig_modules(src):
    """Modules named by pkg_check_modules in every CMakeLists.txt copied."""
    mods = set()
    for cm in glob.glob(os.path.join(src, "**", "CMakeLists.txt"), recursive=True):
        text = open(cm).read()
        for m in re.finditer(r"pkg_check_modules\(([^)]*)\)", text):
            words = m.group(1).split()
            mods.update(w for w in words[1:] if w not in
                        ("REQUIRED", "QUIET", "IMPORTED_TARGET", "GLOBAL", "NO_CMAKE_PATH",
                         "NO_CMAKE_ENVIRONMENT_PATH"))
    return mods


def headers_read(build_dir):
    """System headers the compiler read (the dependency files of the build)."""
    hdrs = set()
    for d in glob.glob(os.path.join(build_dir, "**", "*.d"), recursive=True):
        text = open(d).read().replace("\\\n", " ")
        for w in text.split():
            if w.startswith("/usr/") and w.endswith(".h"):
                hdrs.add(os.path.realpath(w) if not os.path.exists(w) else w)
    return hdrs


def needed_libraries(binary):
    r = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True)
    return re.findall(r"\(NEEDED\).*\[(.+?)\]", r.stdout)


def library_path(soname):
    r = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        line = line.strip()
        if line.startswith(soname + " (") and "x86-64" in line:
            return line.split("=> ")[-1]
    return None


# ------------------------------------------------------------------ main


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dockerfile", default="compose/Dockerfile")
    ap.add_argument("--context", default=".")
    ap.add_argument("--work", default=None, help="where to replay (default: a temporary dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    a = ap.parse_args()
    context = os.path.abspath(a.context)
    st = stages(parse_dockerfile(os.path.join(context, a.dockerfile)))
    if len(st) < 2:
        fail("the Dockerfile has a build stage and a runtime stage")
        return 1
    build, runtime = st[0], st[-1]
    work = a.work or tempfile.mkdtemp(prefix="order-worker-image.")
    os.makedirs(work, exist_ok=True)
    if os.listdir(work):
        fail("the work directory %s is empty" % work)
        return 1
    try:
        return replay(context, build, runtime, work)
    finally:
        if a.keep:
            print("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def replay(context, build, runtime, work):
    files = context_files(context)
    ok("build context: %d files through .dockerignore" % len(files))
    for junk in ("build/", ".dev/", "node_modules/", "compose/secrets/", ".git/"):
        leaked = [f for f in files if f.startswith(junk) or ("/" + junk) in f]
        if leaked:
            fail("the build context holds %s (%d files, e.g. %s)" % (junk, len(leaked), leaked[0]))
    # The stage's file system: WORKDIR as set, paths mapped into work/.
    workdir = "/"
    root = os.path.join(work, "root")
    apt = []
    runs = []
    copy_failed = False
    for ins, text, line in build["ins"]:
        if ins == "WORKDIR":
            workdir = os.path.normpath(os.path.join(workdir, text))
        elif ins == "COPY":
            flags, srcs, dest = copy_args(text)
            if "from" in flags:
                fail("line %d: the build stage copies from another stage" % line)
                continue
            try:
                n = do_copy(srcs, dest, files, context, root + workdir, line)
                ok("line %d: COPY %s -> %s (%d files)" % (line, " ".join(srcs), dest, n))
            except (FileNotFoundError, ValueError) as e:
                fail(str(e))
                copy_failed = True
        elif ins == "RUN":
            if "apt-get" in text:
                apt += apt_packages(text)
            else:
                runs.append((text, line, workdir))
        elif ins in ("ENV", "ARG"):
            fail("line %d: %s in the build stage is not replayed here" % (line, ins))
    # 3. packages
    missing = [p for p in apt if not installed(p)]
    if missing:
        fail("build stage packages not installed on this host (the replay would not be the "
             "image's build): " + " ".join(missing))
    else:
        ok("the build stage's %d packages are installed here" % len(apt))
    deps = closure(apt) | required_base()
    src = root + workdir
    # 4. the build
    if copy_failed:
        print("stopping before the build: the stage's files are not all there")
        return 1
    for text, line, wd in runs:
        cwd = root + wd
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME": work, "LANG": "C.UTF-8"}
        r = subprocess.run(["sh", "-c", text], cwd=cwd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.stdout.write(r.stdout[-6000:] + r.stderr[-6000:])
            fail("line %d: RUN exited %d" % (line, r.returncode))
            return 1
        ok("line %d: RUN %s" % (line, text[:70] + ("..." if len(text) > 70 else "")))
    # 3, continued: what the build used comes from the stage's packages
    mods = pkgconfig_modules(src)
    pcs = {}
    for m in sorted(mods):
        r = subprocess.run(["pkg-config", "--path", m], capture_output=True, text=True)
        if r.returncode == 0:
            pcs[r.stdout.strip()] = m
        else:
            fail("pkg-config module %s is not installed here" % m)
    own = owners(list(pcs))
    for path, m in sorted(pcs.items(), key=lambda x: x[1]):
        pkg = own.get(path)
        if pkg and pkg in deps:
            ok("pkg-config %s comes from %s" % (m, pkg))
        else:
            fail("pkg-config %s comes from %s, which the build stage does not install"
                 % (m, pkg or "no package"))
    hdrs = headers_read(root)
    own = owners(list(hdrs))
    outside = sorted({own[h] for h in hdrs if h in own and own[h] not in deps})
    unowned = sorted(h for h in hdrs if h not in own)
    if outside:
        fail("headers from packages the build stage does not install: " + " ".join(outside))
    elif not hdrs:
        fail("no dependency files found: cannot tell which headers the build read")
    else:
        ok("the build read %d system headers, all from the stage's packages" % len(hdrs))
    if unowned:
        fail("headers the build read that no package owns: " + " ".join(unowned[:5]))
    # 5. the runtime stage
    rt_apt = []
    copied = []
    entry = []
    for ins, text, line in runtime["ins"]:
        if ins == "RUN" and "apt-get" in text:
            rt_apt += apt_packages(text)
        if ins == "COPY":
            flags, srcs, dest = copy_args(text)
            if flags.get("from") != build["name"]:
                continue
            for s in srcs:
                p = root + os.path.normpath(os.path.join(workdir, s))
                if os.path.exists(p):
                    copied.append(p)
                else:
                    fail("line %d: COPY --from=%s %s: not produced by the build" %
                         (line, build["name"], s))
        if ins == "ENTRYPOINT":
            entry = re.findall(r'"([^"]+)"', text)
    if copied:
        ok("the runtime stage's %d programs were built" % len(copied))
    rt_deps = closure(rt_apt) | required_base()
    for p in copied:
        libs = needed_libraries(p)
        paths = {l: library_path(l) for l in libs}
        own = owners([v for v in paths.values() if v])
        bad = []
        for l, path in paths.items():
            pkg = own.get(path) if path else None
            if not pkg or pkg not in rt_deps:
                bad.append("%s (%s)" % (l, pkg or "not found"))
        name = os.path.basename(p)
        if bad:
            fail("%s needs libraries the runtime stage does not install: %s" %
                 (name, ", ".join(bad)))
        else:
            ok("%s: its %d libraries come from the runtime stage's packages" % (name, len(libs)))
        r = subprocess.run([p, "--help"], capture_output=True, text=True, timeout=30)
        if r.returncode == 0 and "usage" in (r.stdout + r.stderr).lower():
            ok("%s --help" % name)
        else:
            fail("%s --help exited %d: %s" % (name, r.returncode, (r.stdout + r.stderr)[:300]))
    names = [os.path.basename(p) for p in copied]
    if entry and entry[0] not in names:
        fail("ENTRYPOINT %s is not one of the copied programs" % entry[0])
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

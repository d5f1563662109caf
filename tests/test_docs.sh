#!/usr/bin/env bash
# tests/test_docs.sh -- the documentation holds together.  A unit test: it
# needs no stack, only bash and python3 (standard library).
#
# usage: tests/test_docs.sh [REPO]      (default: the repository holding it)
#
# Checks, over the repository's own Markdown files (those git tracks or would
# track; without git, every *.md outside .git, node_modules, build*/, .dev*/):
#   [1] every relative link ([text](path), ![alt](path), [ref]: path) names a
#       file or folder that exists and is not ignored by git, and every
#       #anchor it carries (also #anchor alone, within the same file) is
#       produced by a heading of the target Markdown file, by GitHub's rule:
#       the heading's text lower-cased, punctuation other than - and _
#       dropped, each space turned into -, and -1, -2, ... added to repeats;
#   [2] every setting of worker/config.c's SETTINGS table has a row of its
#       own in docs/configuration.md (first cell `NAME`) whose default cell
#       says what the table says (`VALUE`, "required" or "empty"), and every
#       row of that page's "The worker's settings" section names a setting
#       that exists;
#   [3] README.md is at most 200 lines and links to every page of docs/, and
#       every page of docs/ starts with its title and a paragraph;
#   [4] no tracked file mentions the sibling folder of the repository (the
#       contract lives in docs/contract.md, not outside the clone).
# Prints each check; the last line is "N passed, M failed"; exits 1 on any
# failure, 2 when it cannot run.
set -euo pipefail

REPO=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)}
[[ -d $REPO && -f $REPO/worker/config.c ]] || {
    echo "test_docs: $REPO is not the order-worker repository" >&2
    exit 2
}
command -v python3 >/dev/null || { echo "test_docs: python3 is missing" >&2; exit 2; }

exec python3 - "$REPO" <<'PY'
import os
import re
import subprocess
import sys
from urllib.parse import unquote

REPO = os.path.realpath(sys.argv[1])
README_MAX_LINES = 200
# Spelt so that this file does not match itself.
OUTSIDE = re.compile(r"[.][.]/" + "shared")

passed = failed = 0


def ok(what):
    global passed
    passed += 1
    print("  ok    " + what)


def bad(what, details):
    global failed
    failed += 1
    print("  FAIL  " + what)
    for d in details[:50]:
        print("          " + d)
    if len(details) > 50:
        print("          ... and %d more" % (len(details) - 50))


def check(what, details):
    if details:
        bad(what, details)
    else:
        ok(what)


def git(*args):
    """git's output in REPO, or None when git or the repository is missing."""
    try:
        r = subprocess.run(["git", "-C", REPO] + list(args), capture_output=True,
                           text=True, check=False)
    except OSError:
        return None
    return r.stdout if r.returncode == 0 else None


# Files git tracks or would track (not ignored), relative to REPO.
listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
if listed is not None:
    KNOWN = {p for p in listed.split("\0") if p and os.path.exists(os.path.join(REPO, p))}
else:
    KNOWN = set()
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in (".git", "node_modules")
                   and not d.startswith("build") and not d.startswith(".dev")]
        for f in files:
            KNOWN.add(os.path.relpath(os.path.join(root, f), REPO))
KNOWN_DIRS = set()
for p in KNOWN:
    d = os.path.dirname(p)
    while d:
        KNOWN_DIRS.add(d)
        d = os.path.dirname(d)
MARKDOWN = sorted(p for p in KNOWN if p.endswith(".md"))

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
HTML_ANCHOR = re.compile(r"<a\s[^>]*?(?:name|id)\s*=\s*\"([^\"]+)\"", re.I)
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]\\]|\\.|\[[^\]]*\])*\]\(\s*<?([^()\s<>]*)>?"
                         r"(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")


def outside_fences(text):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for n, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip()[len(m.group(1)):].strip():
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        yield n, line


def slug(heading):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # links: their text
    text = re.sub(r"<[^>]+>", "", text)                          # HTML tags
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


ANCHORS = {}


def anchors(path):
    """Every anchor the Markdown file at path (relative to REPO) produces."""
    if path not in ANCHORS:
        seen, out = {}, set()
        with open(os.path.join(REPO, path), encoding="utf-8") as f:
            text = f.read()
        for _, line in outside_fences(text):
            m = HEADING.match(line)
            if m:
                base = slug(m.group(2))
                n = seen.get(base, 0)
                seen[base] = n + 1
                out.add(base if n == 0 else "%s-%d" % (base, n))
            out.update(HTML_ANCHOR.findall(line))
        ANCHORS[path] = out
    return ANCHORS[path]


def links(text):
    """(line number, target) of every link outside code."""
    for n, line in outside_fences(text):
        m = REF_DEF.match(line)
        if m:
            yield n, m.group(1)
            continue
        for t in INLINE_LINK.findall(CODE_SPAN.sub("", line)):
            yield n, t


# ---- [1] links and anchors --------------------------------------------------
broken, missing_anchor, n_links = [], [], 0
for md in MARKDOWN:
    with open(os.path.join(REPO, md), encoding="utf-8") as f:
        text = f.read()
    for n, target in links(text):
        if not target or SCHEME.match(target):
            continue
        n_links += 1
        path, _, frag = target.partition("#")
        path = unquote(path)
        if not path:
            rel = md
        elif path.startswith("/"):
            rel = os.path.normpath(path.lstrip("/"))
        else:
            rel = os.path.normpath(os.path.join(os.path.dirname(md), path))
        where = "%s:%d: %s" % (md, n, target)
        if rel.startswith("..") or os.path.isabs(rel):
            broken.append(where + " (outside the repository)")
            continue
        full = os.path.join(REPO, rel)
        if not os.path.exists(full):
            broken.append(where + " (no such file)")
            continue
        if not (rel in KNOWN or rel in KNOWN_DIRS or rel == "."):
            broken.append(where + " (not in the repository: ignored by git)")
            continue
        if frag and rel.endswith(".md") and os.path.isfile(full):
            if unquote(frag) not in anchors(rel):
                missing_anchor.append(where + " (no heading of %s makes #%s)" % (rel, frag))
check("every relative link of %d Markdown files (%d links) names a file of the repository"
      % (len(MARKDOWN), n_links), broken)
check("every #anchor of those links is made by a heading of its target", missing_anchor)

# ---- [2] settings -----------------------------------------------------------
with open(os.path.join(REPO, "worker", "config.c"), encoding="utf-8") as f:
    config_c = f.read()
table = re.search(r"SETTINGS\[\]\s*=\s*\{(.*?)\n\};", config_c, re.S)
settings = []
if table:
    for m in re.finditer(r"\{\s*\"([A-Z][A-Z0-9_]*)\"\s*,\s*(NULL|\"((?:[^\"\\]|\\.)*)\")",
                         table.group(1)):
        settings.append((m.group(1), None if m.group(2) == "NULL" else m.group(3)))
check("worker/config.c's SETTINGS table is read (%d settings)" % len(settings),
      [] if len(settings) >= 10 else ["found %d settings: has the table moved?" % len(settings)])


def cells(row):
    """The cells of a Markdown table row; | inside `code` does not split."""
    out, cur, code = [], "", False
    for ch in row.strip().strip("|"):
        if ch == "`":
            code = not code
        if ch == "|" and not code:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return out


conf_path = os.path.join(REPO, "docs", "configuration.md")
rows, worker_rows = {}, []
if os.path.exists(conf_path):
    section = ""
    with open(conf_path, encoding="utf-8") as f:
        for n, line in outside_fences(f.read()):
            h = HEADING.match(line)
            if h and len(h.group(1)) == 2:
                section = h.group(2)
            if not line.lstrip().startswith("|"):
                continue
            c = cells(line)
            m = re.fullmatch(r"`([A-Z][A-Z0-9_]*)`", c[0]) if c else None
            if m and len(c) >= 2:
                rows.setdefault(m.group(1), []).append(c[1])
                if section == "The worker's settings":
                    worker_rows.append((n, m.group(1)))
undocumented, wrong_default = [], []
for name, default in settings:
    if name not in rows:
        undocumented.append("%s (default %s)" % (name, "required" if default is None
                                                  else repr(default)))
        continue
    if default is None:
        good = any("required" in c for c in rows[name])
        want = "required"
    elif default == "":
        good = any(c.startswith("empty") for c in rows[name])
        want = "empty"
    else:
        good = any("`%s`" % default in c for c in rows[name])
        want = "`%s`" % default
    if not good:
        wrong_default.append("%s: the page says %s, worker/config.c %s"
                             % (name, " / ".join(rows[name]), want))
check("every setting of worker/config.c has a row in docs/configuration.md", undocumented)
check("every such row gives the default worker/config.c gives", wrong_default)
known = {name for name, _ in settings}
stale = ["docs/configuration.md:%d: %s" % (n, name) for n, name in worker_rows
         if name not in known]
if not worker_rows:
    stale = ["no table rows under the heading \"## The worker's settings\""]
check("every row of docs/configuration.md's worker settings is a setting of worker/config.c",
      stale)

# ---- [3] README and the pages of docs/ --------------------------------------
with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
    readme = f.read()
n_lines = len(readme.splitlines())
check("README.md is at most %d lines (%d)" % (README_MAX_LINES, n_lines),
      [] if n_lines <= README_MAX_LINES else
      ["README.md has %d lines: move the detail to a page of docs/" % n_lines])
linked = set()
for _, target in links(readme):
    path = unquote(target.partition("#")[0])
    if path and not SCHEME.match(target):
        linked.add(os.path.normpath(path))
pages = sorted(p for p in MARKDOWN if os.path.dirname(p) == "docs")
check("README.md links to every page of docs/ (%d)" % len(pages),
      [p + " is not linked from README.md" for p in pages if p not in linked])
no_intro = []
for p in pages:
    with open(os.path.join(REPO, p), encoding="utf-8") as f:
        blocks = [b.strip() for b in re.split(r"\n\s*\n", f.read()) if b.strip()]
    if len(blocks) < 2 or not re.match(r"# \S", blocks[0]) or "\n" in blocks[0] \
            or re.match(r"(#|```|~~~|\||[-*] |\d+\. |<)", blocks[1]):
        no_intro.append(p + ": a '# Title' line, then a paragraph saying what it covers")
check("every page of docs/ starts with its title and a paragraph", no_intro)

# ---- [4] nothing outside the repository --------------------------------------
if listed is not None:
    tracked = git("ls-files", "-z", "--cached")
    files = [p for p in tracked.split("\0") if p] if tracked is not None else sorted(KNOWN)
else:
    files = sorted(KNOWN)
mentions = []
for p in files:
    full = os.path.join(REPO, p)
    if not os.path.isfile(full) or os.path.islink(full):
        continue
    with open(full, "rb") as f:
        data = f.read()
    if b"\0" in data[:8192]:
        continue
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if OUTSIDE.search(line):
            mentions.append("%s:%d: %s" % (p, n, line.strip()[:100]))
check("no tracked file points at a folder beside the repository (%d files)" % len(files),
      mentions)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY

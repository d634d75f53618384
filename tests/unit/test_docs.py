"""The documentation cannot point nowhere: every relative link resolves (the file, and a
``#anchor`` to one of its headings, as GitHub slugs them), every repository path quoted in
backticks exists (or is one git ignores: build output), and README.md stays a first page."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

from settings import Config
from settings.declaration import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(
    {ROOT / "README.md", ROOT / "bench" / "README.md", ROOT / "tests" / "e2e" / "README.md"}
    | set((ROOT / "docs").glob("*.md"))
)
README_MAX_LINES = 200

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"(?<!!)\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
# A token that can only be a repository path: no spaces, quotes, schemes or wildcards.
PATH_LIKE = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.\-/]*")
PATH_SUFFIXES = (".py", ".md", ".conf", ".toml")
MEDIA_TYPES = {"application", "text", "multipart", "image"}


def prose(path: Path) -> str:
    """The file without its fenced code blocks (commands and output, not references)."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(prose(path)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


@cache
def tracked() -> tuple[str, ...]:
    """The repository's files (tracked or not yet added); a walk of the tree outside a git checkout."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "node_modules", "__pycache__", ".cache"}
        return tuple(
            str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.parts)
        )
    return tuple(listing.stdout.splitlines())


def ignored(relative: str) -> bool:
    try:
        return subprocess.run(["git", "check-ignore", "-q", relative], cwd=ROOT).returncode == 0
    except OSError:
        return False


def repo_path_exists(token: str, doc: Path) -> bool:
    """A quoted path exists: from the root, beside the document, as the tail of a repository
    path (``demo/`` in a table about ``api/resources/``), or it is build output git ignores."""
    bare = token.rstrip("/")
    if (ROOT / bare).exists() or (doc.parent / bare).exists():
        return True
    if any(f"/{bare}/" in f"/{path}/" for path in tracked()):
        return True
    return ignored(bare + ("/" if token.endswith("/") else ""))


def path_tokens(text: str) -> list[str]:
    """Code spans that look like repository paths."""
    tokens = []
    for _, span in CODE_SPAN.findall(text):
        span = span.strip()
        if not PATH_LIKE.fullmatch(span):
            continue
        segments = span.rstrip("/").split("/")
        if "/" not in span and not span.endswith(PATH_SUFFIXES):
            continue
        if segments[0] in MEDIA_TYPES or any(s.startswith("-") or s == "" for s in segments[1:]):
            continue  # application/json; X-Forwarded-For/-Proto
        tokens.append(span)
    return tokens


def doc_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def broken_links(doc: Path) -> list[str]:
    broken = []
    for target in LINK.findall(prose(doc)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (doc.parent / file_part).resolve() if file_part else doc
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    return broken


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_every_relative_link_resolves(doc):
    broken = broken_links(doc)
    assert not broken, broken


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_every_quoted_repository_path_exists(doc):
    missing = sorted({token for token in path_tokens(prose(doc)) if not repo_path_exists(token, doc)})
    assert not missing, f"{doc_id(doc)} quotes paths that do not exist: {missing}"


# Upper-case names the docs quote that are not settings, though they look like some.
NOT_SETTINGS = {"API_PREFIX", "REDIS_POLL"}


def setting_like_names(text: str) -> set[str]:
    """Quoted upper-case names that start like a declared setting (``DB_``, ``REDIS_``...)."""
    prefixes = {key.split("_")[0] for key in (s.key for s in SETTINGS) if "_" in key}
    names = {span.strip() for _, span in CODE_SPAN.findall(text)}
    return {
        name
        for name in names
        if re.fullmatch(r"(APP_)?[A-Z][A-Z0-9]*_[A-Z0-9_]+", name)
        and name.removeprefix("APP_").split("_")[0] in prefixes
    }


@pytest.mark.parametrize("doc", [d for d in DOCS if "bench" not in d.parts], ids=doc_id)
def test_every_setting_the_docs_name_is_declared(doc):
    known = {name for s in SETTINGS for name in (s.key, *s.env_names)} | set(vars(Config)) | NOT_SETTINGS
    unknown = sorted(setting_like_names(prose(doc)) - known)
    assert not unknown, f"{doc_id(doc)} names settings nobody declares: {unknown}"


def test_the_readme_is_a_first_page():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"


def test_every_doc_is_linked_from_the_readme():
    readme = prose(ROOT / "README.md")
    unlinked = [doc_id(d) for d in DOCS if d.name != "README.md" or d.parent != ROOT]
    unlinked = [d for d in unlinked if f"]({d})" not in readme]
    assert not unlinked, f"not linked from README.md: {unlinked}"


# The checker itself, on known cases.
@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Where the tutorial's parts went", "where-the-tutorials-parts-went"),
        ("RabbitMQ publishing (`make bench-amqp`)", "rabbitmq-publishing-make-bench-amqp"),
        ("Fuzzing: schemathesis", "fuzzing-schemathesis"),
        ("Scale: 10,000 vs 1,000,000 rows", "scale-10000-vs-1000000-rows"),
    ],
)
def test_slugs_follow_github(heading, anchor):
    assert slug(heading) == anchor


def test_path_tokens_skip_what_is_not_a_path():
    text = (
        "`application/problem+json` `text/markdown` `X-Forwarded-For/-Proto` `/api/v1/wdtests` "
        '`GET /healthz` `redis://host` `W/"x"` `wdtest.*` `core/paths.py` `hooks.py` `deploy/nginx/`'
    )
    assert path_tokens(text) == ["core/paths.py", "hooks.py", "deploy/nginx/"]
    assert not repo_path_exists("core/no_such_module.py", ROOT / "README.md")
    assert repo_path_exists("demo/", ROOT / "README.md")  # api/resources/demo/
    assert repo_path_exists("build/e2e/", ROOT / "README.md")  # ignored build output


def test_a_broken_link_or_anchor_is_caught(tmp_path):
    doc = tmp_path / "page.md"
    doc.write_text(
        "# Title\n\n## A `code` part\n\n[ok](#a-code-part) [self](page.md#title) [web](https://x.org)\n"
        "[gone](nowhere.md) [bad](#no-such) [other](page.md#nope)\n\n```sh\n[in code](skipped.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(doc) == [
        "nowhere.md: no such file",
        "#no-such: no heading #no-such in page.md",
        "page.md#nope: no heading #nope in page.md",
    ]


def test_setting_like_names_are_those_that_start_like_a_setting():
    text = "`DB_POOL_SIZ` `APP_REDIS_URL` `TEST_DATABASE_URL` `GET` `FAULT_SECONDS` `SQLALCHEMY_POOL_*`"
    assert setting_like_names(text) == {"DB_POOL_SIZ", "APP_REDIS_URL"}


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_no_merge_conflict_is_left_in_a_doc(doc):
    markers = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.MULTILINE)
    assert not markers.findall(doc.read_text(encoding="utf-8")), f"{doc_id(doc)} holds conflict markers"

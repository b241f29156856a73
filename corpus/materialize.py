"""Recreate the corpus files listed in corpus/manifest.tsv from local git mirrors.

The corpus is real public Keras code (see manifest.tsv: repo, commit, path, license, tags). The files
are not committed: this script writes them to corpus/files/<owner>+<repo>/<path> (ignored by git)
from bare git snapshots of the repositories, read with git (no network).

    python corpus/materialize.py                 # mirrors in /work/.mirror (or $K2T_CORPUS_MIRROR)
    python corpus/materialize.py --mirror DIR    # DIR/<owner>+<repo>/repo is a bare git dir (or has .git)
    python corpus/materialize.py --check         # only say which repositories are missing

A mirror is DIR/<owner>+<repo>/repo (a bare repository, or a work tree with .git). Any git clone
works too, e.g. ``git clone --bare https://github.com/<owner>/<repo> DIR/<owner>+<repo>/repo``.
Each file is taken at the manifest's commit; where the mirror lacks that commit, the file is taken
from the mirror's HEAD if it has the path there (reported as "at HEAD"), else it is reported missing.

Exit status: 0 when every file was written, 1 when some repositories or files are missing.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_MIRROR = os.environ.get("K2T_CORPUS_MIRROR", "/work/.mirror")


def read_manifest(path: Path = HERE / "manifest.tsv") -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def git_dir(mirror: Path, repo: str) -> Path | None:
    base = mirror / repo.replace("/", "+", 1) / "repo"
    for candidate in (base / ".git", base):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


class Blobs:
    """``git cat-file --batch`` over one repository: the bytes of <rev>:<path>, or None."""

    def __init__(self, gitdir: Path):
        self.proc = subprocess.Popen(
            ["git", "--git-dir", str(gitdir), "cat-file", "--batch"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )

    def get(self, rev: str, path: str) -> bytes | None:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{rev}:{path}\n".encode())
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            return None
        data = self.proc.stdout.read(int(header[2]))
        self.proc.stdout.read(1)
        return data

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=DEFAULT_MIRROR, help="directory of <owner>+<repo>/repo git mirrors")
    parser.add_argument("--out", default=str(HERE / "files"), help="where to write the files")
    parser.add_argument("--check", action="store_true", help="only report missing repositories")
    args = parser.parse_args(argv)
    mirror, out = Path(args.mirror), Path(args.out)

    by_repo: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in read_manifest():
        by_repo[row["repo"]].append(row)

    missing_repos = [repo for repo in by_repo if git_dir(mirror, repo) is None]
    if missing_repos:
        print(f"{len(missing_repos)} of {len(by_repo)} repositories have no mirror under {mirror}:", file=sys.stderr)
        for repo in missing_repos:
            print(f"  {repo} ({len(by_repo[repo])} files): fetch github:{repo}, or "
                  f"git clone --bare https://github.com/{repo} {mirror}/{repo.replace('/', '+', 1)}/repo",
                  file=sys.stderr)
    if args.check:
        return 1 if missing_repos else 0

    written = at_head = 0
    missing_files: list[str] = []
    for repo, rows in by_repo.items():
        gitdir = git_dir(mirror, repo)
        if gitdir is None:
            continue
        blobs = Blobs(gitdir)
        try:
            for row in rows:
                data = blobs.get(row["commit"], row["path"])
                if data is None:
                    data = blobs.get("HEAD", row["path"])
                    if data is None:
                        missing_files.append(f"{repo}:{row['path']}")
                        continue
                    at_head += 1
                    print(f"  at HEAD (commit {row['commit'][:10]} not in mirror): {repo}:{row['path']}",
                          file=sys.stderr)
                target = out / repo.replace("/", "+", 1) / row["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists() or target.read_bytes() != data:
                    target.write_bytes(data)
                written += 1
        finally:
            blobs.close()

    for name in missing_files:
        print(f"  missing file: {name}", file=sys.stderr)
    total = sum(len(rows) for rows in by_repo.values())
    print(f"{written} of {total} files in {out}"
          + (f" ({at_head} at the mirror's HEAD)" if at_head else "")
          + (f"; {total - written} missing" if written < total else ""))
    return 0 if written == total else 1


if __name__ == "__main__":
    sys.exit(main())

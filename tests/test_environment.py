"""What a record says produced it: the git commit is read without locking the user's index."""

from __future__ import annotations

import os
import stat

from bench import environment


def test_git_commit_never_takes_the_index_lock(tmp_path, monkeypatch):
    """`git status` refreshes and rewrites the index under .git/index.lock unless told not to;
    killed by the timeout on a loaded machine, it left a stale lock that blocked the user's
    next commit. Its status call passes --no-optional-locks."""
    log = tmp_path / "calls.txt"
    fake = tmp_path / "git"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\necho 0123abcd\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    environment.git_commit.cache_clear()
    try:
        assert environment.git_commit() == "0123abcd-dirty"  # the fake's status prints a line
    finally:
        environment.git_commit.cache_clear()
    calls = log.read_text().splitlines()
    status = [c for c in calls if "status" in c.split()]
    assert status and all(c.split()[0] == "--no-optional-locks" for c in status), calls

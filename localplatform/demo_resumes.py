"""``task demo:resumes``: the public resume dataset as discoverable people, for talent
search (its demo, its evaluation, its benchmarks).

One owner and one bot per distinct resume text (localplatform/resumes.py): bot
``resume-NNN`` (NNN the 0-based CSV row of the text's first occurrence), discoverable,
its resume uploaded as ``resume-NNN.txt`` through the public API of the running system
(sign-up, an operator's invite redeemed, the bot created, the document uploaded and
embedded by the real pipeline). The ``Category`` column is never sent.

Idempotent: each owner signs in with a password derived from a key kept in the data
directory (``demo-resumes.key``, mode 0600), and a person whose bot already holds their
resume is left alone; a second run adds nothing. Like ``task invite``, it works against
a running ``task up`` (the same PROTOSTAR_DATA), or starts the runtime for the import
and stops it afterwards.

    ./scripts/task demo:resumes                # every distinct resume (166)
    ./scripts/task demo:resumes -- --limit 20  # the first 20
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from localplatform.resumes import Resume, read

ROOT = Path(__file__).resolve().parents[1]
KEY_FILE = "demo-resumes.key"
EMAIL_DOMAIN = "demo.example.com"


@dataclass
class Counts:
    created: int = 0
    uploaded: int = 0
    present: int = 0
    failed: int = 0


def _key(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()


def password(key: bytes, slug: str) -> str:
    digest = hmac.new(key, slug.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class Importer:
    def __init__(self, public: str, admin: str, key: bytes, invite: Any) -> None:
        self.public = httpx.AsyncClient(base_url=public, timeout=60)
        self.admin = httpx.AsyncClient(base_url=admin, timeout=60)
        self.key = key
        self.invite = invite  # () -> a fresh invite code
        self.counts = Counts()
        self.tokens: dict[str, str] = {}  # slug -> a protostar's access token (15 min)

    async def close(self) -> None:
        await self.public.aclose()
        await self.admin.aclose()

    async def _session(self, person: Resume) -> str:
        if person.slug not in self.tokens:
            self.tokens[person.slug] = await self._sign_in(person)
        return self.tokens[person.slug]

    async def _sign_in(self, person: Resume) -> str:
        credentials = {
            "email": f"{person.slug}@{EMAIL_DOMAIN}",
            "password": password(self.key, person.slug),
        }
        login = await self.admin.post("/api/auth/login", json=credentials)
        if login.status_code == 200:
            session = login.json()
            if session["user"]["role"] == "protostar":
                return str(session["access_token"])
            token = session["access_token"]
        else:
            signup = await self.admin.post("/api/auth/signup", json=credentials)
            if signup.status_code != 201:
                raise RuntimeError(f"{person.slug}: sign-up answered {signup.status_code}: "
                                   f"{signup.text[:200]}")  # fmt: skip
            token = signup.json()["access_token"]
        code = await asyncio.to_thread(self.invite)
        redeemed = await self.admin.post(
            "/api/users/me/invite", json={"code": code}, headers=_bearer(token)
        )
        if redeemed.status_code != 200:
            raise RuntimeError(f"{person.slug}: invite answered {redeemed.status_code}")
        return str(redeemed.json()["access_token"])

    async def person(self, person: Resume) -> None:
        token = await self._session(person)
        headers = _bearer(token)
        bot = await self.admin.get(f"/api/bots/{person.slug}", headers=headers)
        if bot.status_code == 404:
            made = await self.admin.post(
                "/api/bots",
                headers=headers,
                json={
                    "slug": person.slug,
                    "name": f"Resume {person.row:03d}",
                    "discoverable": True,
                },
            )
            if made.status_code != 201:
                raise RuntimeError(f"{person.slug}: bot answered {made.status_code}: {made.text}")
            self.counts.created += 1
        elif bot.status_code != 200:
            raise RuntimeError(f"{person.slug}: bot answered {bot.status_code}")
        elif not bot.json().get("discoverable"):
            await self.admin.patch(
                f"/api/bots/{person.slug}", headers=headers, json={"discoverable": True}
            )
        documents = f"/api/bots/{person.slug}/documents"
        listed = await self.admin.get(documents, headers=headers)
        listed.raise_for_status()
        mine = [d for d in listed.json()["documents"] if d["filename"] == person.filename]
        if any(d["status"] != "failed" for d in mine):
            self.counts.present += 1
            return
        for failed in mine:  # a failed earlier try: start it again
            await self.admin.delete(f"{documents}/{failed['id']}", headers=headers)
        upload = await self.admin.post(
            documents,
            headers=headers,
            files={"file": (person.filename, person.text.encode(), "text/plain")},
        )
        if upload.status_code not in (201, 202):
            raise RuntimeError(f"{person.slug}: upload answered {upload.status_code}: "
                               f"{upload.text[:200]}")  # fmt: skip
        self.counts.uploaded += 1

    async def wait_ready(self, people: list[Resume], timeout: float) -> int:
        """Seconds until every uploaded resume is embedded (or failed); failures counted."""
        deadline = time.monotonic() + timeout
        pending = list(people)
        while pending and time.monotonic() < deadline:
            still = []
            for person in pending:
                token = await self._session(person)
                listed = await self.admin.get(
                    f"/api/bots/{person.slug}/documents", headers=_bearer(token)
                )
                status = {d["status"] for d in listed.json()["documents"]}
                if "failed" in status:
                    self.counts.failed += 1
                elif status != {"ready"}:
                    still.append(person)
            pending = still
            if pending:
                await asyncio.sleep(2)
        return len(pending)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _run(public: str, admin: str, data_dir: Path, people: list[Resume]) -> Counts:
    from shared.accounts import invite_cli

    importer = Importer(public, admin, _key(data_dir), invite_cli.create_code)
    try:
        limit = asyncio.Semaphore(4)

        async def one(person: Resume) -> None:
            async with limit:
                await importer.person(person)

        await asyncio.gather(*(one(p) for p in people))
        left = await importer.wait_ready(people, timeout=30 * 60)
        if left:
            raise RuntimeError(f"{left} resumes were not embedded within 30 minutes")
        return importer.counts
    finally:
        await importer.close()


def _start_runtime(data_dir: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "localplatform.runtime", "--status", "off"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    from localplatform.runtime.state import RuntimeState
    from shared.errors import ProtostarError

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the runtime exited with {proc.returncode}; see {data_dir}/logs")
        try:
            RuntimeState.read(data_dir)
            return proc
        except ProtostarError:  # not written yet
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("the runtime did not start within 5 minutes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo:resumes")
    parser.add_argument("--limit", type=int, help="import only the first N resumes")
    args = parser.parse_args(argv)
    from shared.errors import ProtostarError
    from shared.settings import check_data_dir, load_settings

    settings = load_settings()
    check_data_dir(settings.data_dir)
    people = read()[: args.limit] if args.limit else read()
    started_here: subprocess.Popen[bytes] | None = None
    from localplatform.runtime.state import RuntimeState

    try:
        try:
            state = RuntimeState.read(settings.data_dir)
        except ProtostarError:
            print("protostar: no runtime is running; starting one for the import", file=sys.stderr)
            started_here = _start_runtime(settings.data_dir)
            state = RuntimeState.read(settings.data_dir)
        # The running runtime's own address (its port may not be this shell's).
        public = state.public_url
        admin = (
            settings.admin_base_url
            if settings.admin_url or settings.protostar_admin_port
            else public
        )
        started = time.perf_counter()
        counts = asyncio.run(_run(public, admin, settings.data_dir, people))
    except (ProtostarError, RuntimeError, httpx.HTTPError, FileNotFoundError) as exc:
        print(f"protostar: {exc}", file=sys.stderr)
        return 2
    finally:
        if started_here is not None:
            started_here.send_signal(signal.SIGTERM)
            started_here.wait(timeout=60)
    print(
        f"{len(people)} resumes: {counts.created} bots created, {counts.uploaded} uploaded, "
        f"{counts.present} already there, {counts.failed} failed "
        f"({time.perf_counter() - started:.0f} s)"
    )
    return 1 if counts.failed else 0


if __name__ == "__main__":
    sys.exit(main())

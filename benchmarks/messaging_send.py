"""Raw send-pipeline throughput: one ``wafa worker run`` to a loopback SMTP sink.

    .venv/bin/python benchmarks/messaging_send.py [--recipients 100000] [--dkim] [--sqlite]
        [--out benchmarks/results/messaging.md]

Builds a fresh database (PostgreSQL by default, ``WAFA_BENCH_PG``; ``--sqlite`` for a
file) with N subscribers (COPY), queues one marketing email each through
``wafa.messaging.queue.queue_many`` (timed), starts an SMTP sink on loopback (aiosmtpd
in its own process, counting messages) and one ``wafa worker run`` process, and waits
until every message is settled. Reports messages per second (first to last hand-over,
from the rows' timestamps), what the sink received, and the worker's resident memory
sampled every second (at 10 % of the run and at the end, to show it does not grow with
the number of recipients). The email is the real thing: a per-recipient greeting, the
HTML layout with its CSS inlined, List-Unsubscribe with a signed link, and with
``--dkim`` an RSA-2048 DKIM signature. Target: at least 500 messages/s from one worker
on two cores, memory flat. The campaign-level benchmark (segments, holdout) is
``campaign_send.py``'s, built by the campaigns engineer on top of this one.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from _common import drop_database, free_port, fresh_database, write_section
from sqlalchemy import func, select, text

from wafa.core import migrate
from wafa.core.db import dispose_engines, get_engine, session_scope
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.messaging.models import Message
from wafa.messaging.policy import ChannelPolicy, MessagingPolicy, save_policy
from wafa.messaging.queue import Content, queue_many

ROOT = Path(__file__).resolve().parent
SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"

SINK = r"""
import asyncio, sys, time
from aiosmtpd.controller import Controller
class H:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        H.n += 1
        return "250 OK"
c = Controller(H(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
try:
    for line in sys.stdin:
        print(H.n, flush=True)
finally:
    c.stop()
"""

CONTENT = Content(
    subject={"en": "{{ customer.first_name }}, this week at the café"},
    text={
        "en": (
            "Hello {{ customer.first_name }},\n\nOur new single-origin beans from Ethiopia are "
            "in: bright, floral, and 10 % off for members until Sunday.\n\nSee you soon!"
        )
    },
    html={
        "en": (
            "<h2>Hello {{ customer.first_name }}</h2><p>Our new single-origin beans from "
            "Ethiopia are in: <b>bright, floral</b>, and 10&nbsp;% off for members until "
            "Sunday.</p><p>See you soon!</p>"
        )
    },
)


def build(url: str, n: int) -> tuple[float, int]:
    """Subscribers by COPY (or executemany on SQLite); then queue_many; (queue seconds, rows)."""
    engine = get_engine(Settings(database_url=url, secret_key=SECRET))
    ids = [new_id() for _ in range(n)]
    now = datetime.now(UTC)
    with engine.begin() as conn:
        if url.startswith("postgresql"):
            raw = conn.connection.dbapi_connection
            assert raw is not None
            copy_sql = (
                "COPY customers (id, name, search_name, email, tags, source, email_consent, "
                "sms_consent, created_at, updated_at) FROM STDIN"
            )
            with raw.cursor() as cur, cur.copy(copy_sql) as copy:  # type: ignore[attr-defined]
                for i, cid in enumerate(ids):
                    email = f"r{i}@bench.example.com"
                    copy.write_row(
                        (cid, f"Sara {i}", f"sara {i}", email, "[]", "bench", True, False, now, now)
                    )
        else:
            conn.execute(
                text(
                    "INSERT INTO customers (id, name, search_name, email, tags, source, "
                    "email_consent, sms_consent, created_at, updated_at) VALUES "
                    "(:id, :name, :name, :email, '[]', 'bench', 1, 0, :now, :now)"
                ),
                [
                    {
                        "id": cid.hex,
                        "name": f"Sara {i}",
                        "email": f"r{i}@bench.example.com",
                        "now": now.replace(tzinfo=None),
                    }
                    for i, cid in enumerate(ids)
                ],
            )
    settings = Settings(database_url=url, secret_key=SECRET)
    started = time.perf_counter()
    with session_scope(settings) as session:
        # Caps and quiet hours off: the run may happen at any hour, every message is due.
        open_door = ChannelPolicy(cap_hours=0, quiet=None)
        save_policy(session, MessagingPolicy(email=open_door), by="benchmark")
        campaign = uuid.uuid4()
        queued = queue_many(
            session,
            ({"customer_id": cid, "occasion": str(campaign)} for cid in ids),
            channel="email",
            kind="marketing",
            reason="benchmark",
            content=CONTENT,
            campaign_id=campaign,
        )
    return time.perf_counter() - started, queued


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def dkim_key(folder: Path) -> Path:
    key = folder / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(key), "2048"],
        check=True,
        capture_output=True,
    )
    return key


def run(url: str, n: int, use_dkim: bool) -> dict[str, object]:
    queue_seconds, queued = build(url, n)
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    assert sink.stdin is not None
    assert sink.stdout.readline().strip() == "ready"
    folder = Path(tempfile.mkdtemp())
    env = {
        **os.environ,
        "WAFA_DATABASE_URL": url,
        "WAFA_SECRET_KEY": SECRET,
        "WAFA_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "WAFA_MAIL_FROM": "Café <news@bench.example.com>",
        "WAFA_PUBLIC_URL": "https://cafe.example.com",
        "WAFA_EMAIL_RATE": "0",
    }
    if use_dkim:
        env["WAFA_DKIM_KEY_FILE"] = str(dkim_key(folder))
        env["WAFA_DKIM_DOMAIN"] = "bench.example.com"
    worker = subprocess.Popen(
        [sys.executable, "-m", "wafa.cli", "worker", "run", "--poll", "0.2", "--no-daily"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    settings = Settings(database_url=url, secret_key=SECRET)
    samples: list[tuple[int, int]] = []  # (settled, rss kB)
    clock: list[float] = []  # when each sample was taken
    cpu = 0.0
    started = time.perf_counter()
    try:
        while True:
            time.sleep(1.0)
            with session_scope(settings, write=False) as session:
                settled = (
                    session.scalar(
                        select(func.count())
                        .select_from(Message)
                        .where(Message.settled_at.is_not(None))
                    )
                    or 0
                )
            samples.append((settled, rss_kb(worker.pid)))
            clock.append(time.perf_counter())
            cpu = cpu_seconds(worker.pid)
            if settled >= queued or time.perf_counter() - started > 3600:
                break
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        sink.stdin.write("count\n")
        sink.stdin.flush()
        received = int(sink.stdout.readline())
        sink.stdin.close()
        sink.wait(timeout=30)
    with session_scope(settings, write=False) as session:
        first, last = session.execute(
            select(func.min(Message.sending_at), func.max(Message.settled_at))
        ).one()
        statuses = dict(
            session.execute(select(Message.status, func.count()).group_by(Message.status)).all()
        )
    seconds = (last - first).total_seconds()
    early = next((rss for settled, rss in samples if settled >= queued // 10), samples[0][1])

    def rate_between(low: float, high: float) -> float:
        """Messages a second while the settled count went from ``low`` to ``high`` of all."""
        a = next(i for i, (s, _) in enumerate(samples) if s >= queued * low)
        b = next(i for i, (s, _) in enumerate(samples) if s >= queued * high)
        return (samples[b][0] - samples[a][0]) / (clock[b] - clock[a]) if b > a else 0.0

    return {
        "recipients": n,
        "queue_seconds": queue_seconds,
        "seconds": seconds,
        "rate": queued / seconds if seconds else 0.0,
        "rate_first": rate_between(0.1, 0.3),
        "rate_last": rate_between(0.7, 0.95),
        "received": received,
        "statuses": statuses,
        "rss_early_mb": early / 1024,
        "rss_end_mb": samples[-1][1] / 1024,
        "rss_max_mb": max(r for _, r in samples) / 1024,
        "dkim": use_dkim,
        "worker_cpu": cpu,
        "per_cpu_second": queued / cpu if cpu else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--dkim", action="store_true")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.sqlite:
        path = Path(tempfile.mkdtemp()) / "bench.db"
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
    else:
        url = fresh_database("bench_messaging")
    try:
        result = run(url, args.recipients, args.dkim)
    finally:
        dispose_engines()
        if not args.sqlite:
            drop_database(url)
    load = os.getloadavg()
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    line = (
        f"| {backend} | {result['recipients']:,} | {'yes' if result['dkim'] else 'no'} | "
        f"{result['rate']:,.0f} | {result['seconds']:.1f} | {result['received']:,} | "
        f"{result['rss_early_mb']:.0f} / {result['rss_end_mb']:.0f} | {result['queue_seconds']:.1f} | "
        f"{result['worker_cpu']:.0f} ({result['per_cpu_second']:,.0f}/CPU-s) |"
    )
    print(line)
    print(f"statuses: {result['statuses']}; machine load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"rate 10-30 %: {result['rate_first']:.0f}/s, 70-95 %: {result['rate_last']:.0f}/s")
    if args.out:
        buffer = io.StringIO()
        buffer.write(
            "### Send pipeline: one worker to a loopback SMTP sink\n\n"
            f"Command: `.venv/bin/python benchmarks/messaging_send.py --recipients "
            f"{args.recipients}{' --dkim' if args.dkim else ''}{' --sqlite' if args.sqlite else ''}`\n\n"
            "| database | recipients | DKIM | messages/s | seconds | received by the sink | "
            "worker RSS MB at 10 % / end | queue_many s | worker CPU s (messages per CPU-s) |\n"
            "|---|---:|---|---:|---:|---:|---:|---:|---:|\n"
            f"{line}\n\n"
            f"Rate while 10-30 % were settled: {result['rate_first']:,.0f}/s; while 70-95 %: "
            f"{result['rate_last']:,.0f}/s. "
            f"Statuses after the run: {result['statuses']}. Machine load (1/5/15 min) at the end: "
            f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; the sink (aiosmtpd), the database and "
            "the worker share the machine's two cores.\n"
        )
        name = f"messaging_send_{'sqlite' if args.sqlite else 'pg'}{'_dkim' if args.dkim else ''}"
        write_section(args.out, name, buffer.getvalue(), title="Messaging")


if __name__ == "__main__":
    main()

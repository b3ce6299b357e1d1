"""Raw send-pipeline throughput: one ``wafa worker run`` to a loopback SMTP sink.

    .venv/bin/python benchmarks/messaging_send.py [--recipients 100000] [--dkim] [--sqlite]
        [--campaign] [--out benchmarks/results/messaging.md]

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
on two cores, memory flat.

With ``--campaign`` the messages are not queued by the script: a segment (every customer
who accepts email) and a campaign (10 % holdout) are made and sent
(``wafa.messaging.campaigns.service.start_sending``: the segment's snapshot, timed), and the
worker does the rest, as in production: it queues the recipients in batches (holdout drawn,
one message each) and sends them. The figure is then recipients (queued + sent) per second,
from the worker's start to the last message settled, with the queuing phase apart.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from _common import drop_database, free_port, fresh_database, revision_src, write_section
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


def build(url: str, n: int, *, campaign: bool = False) -> tuple[float, int, uuid.UUID]:
    """Subscribers by COPY (or executemany on SQLite); then queue_many, or with ``campaign``
    a segment and a campaign sent (the worker queues); (seconds, rows queued, campaign id)."""
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
    if campaign:
        return send_campaign(settings)
    with session_scope(settings) as session:
        campaign_id = uuid.uuid4()
        queued = queue_many(
            session,
            ({"customer_id": cid, "occasion": str(campaign_id)} for cid in ids),
            channel="email",
            kind="marketing",
            reason="benchmark",
            content=CONTENT,
            campaign_id=campaign_id,
        )
    return time.perf_counter() - started, queued, campaign_id


def send_campaign(settings: Settings) -> tuple[float, int, uuid.UUID]:
    """A segment of every customer who accepts email, a campaign to it, sent (the snapshot,
    timed); the worker queues. (snapshot seconds, 0, campaign id)."""
    from wafa.messaging.campaigns import service as campaigns
    from wafa.messaging.campaigns.schemas import CampaignCreate
    from wafa.messaging.segments import service as segments
    from wafa.messaging.segments.schemas import SegmentCreate

    with session_scope(settings) as session:
        segment = segments.create_segment(
            session,
            settings=settings,
            data=SegmentCreate.model_validate(
                {
                    "name": "Everyone",
                    "rules": {"all": [{"field": "consent_email", "op": "=", "value": True}]},
                }
            ),
            by="benchmark",
        )
        campaign = campaigns.create_campaign(
            session,
            settings=settings,
            data=CampaignCreate(
                name="Benchmark",
                segment_id=segment.id,
                subject=CONTENT.subject,
                body=CONTENT.text,
                html=CONTENT.html,
                holdout_percent=10,
            ),
            by="benchmark",
        )
    started = time.perf_counter()
    with session_scope(settings) as session:
        campaigns.start_sending(session, settings=settings, campaign_id=campaign.id)
    return time.perf_counter() - started, 0, campaign.id


def campaign_state(settings: Settings, campaign_id: uuid.UUID) -> tuple[bool, int]:
    """(recipients all queued, messages queued so far)."""
    from wafa.messaging.campaigns import service as campaigns

    with session_scope(settings, write=False) as session:
        status = campaigns.get_campaign(session, campaign_id).status
        total = session.scalar(select(func.count()).select_from(Message)) or 0
    return status != "queuing", int(total)


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


def run(
    url: str,
    n: int,
    use_dkim: bool,
    *,
    campaign: bool = False,
    src: Path | None = None,
    profile: Path | None = None,
) -> dict[str, object]:
    """One run; with ``src`` the worker imports the code there (an earlier revision)."""
    queue_seconds, queued, campaign_id = build(url, n, campaign=campaign)
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
    if src is not None:
        env["PYTHONPATH"] = str(src)
    if use_dkim:
        env["WAFA_DKIM_KEY_FILE"] = str(dkim_key(folder))
        env["WAFA_DKIM_DOMAIN"] = "bench.example.com"
    # With ``profile`` the worker runs under cProfile (its stats written when it stops).
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
    worker = subprocess.Popen(
        [
            sys.executable,
            *profiler,
            "-m",
            "wafa.cli",
            "worker",
            "run",
            "--poll",
            "0.2",
            "--no-daily",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    settings = Settings(database_url=url, secret_key=SECRET)
    samples: list[tuple[int, int]] = []  # (settled, rss kB)
    clock: list[float] = []  # when each sample was taken
    cpu = 0.0
    started = time.perf_counter()
    worker_started = datetime.now(UTC)
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
            if worker.poll() is not None:
                raise RuntimeError(f"the worker stopped (exit {worker.returncode})")
            if time.perf_counter() - started > 3600:
                break
            if campaign:
                all_queued, queued = campaign_state(settings, campaign_id)
                if not all_queued:
                    continue
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
    extra: dict[str, object] = {}
    if campaign:
        from wafa.messaging.campaigns import service as campaigns

        with session_scope(settings, write=False) as session:
            found = campaigns.get_campaign(session, campaign_id)
            held = campaigns.holdout_count(session, campaign_id)
            assert found.queued_at is not None
            extra = {
                "snapshot_seconds": queue_seconds,
                "recipients_snapshot": found.recipients,
                "holdout": held,
                "queuing_seconds": (found.queued_at - worker_started).total_seconds(),
                "end_to_end_seconds": (last - worker_started).total_seconds(),
            }
        extra["recipients_per_second"] = n / float(extra["end_to_end_seconds"])  # type: ignore[arg-type]
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
        **extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--dkim", action="store_true")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument(
        "--campaign", action="store_true", help="through a campaign: the worker queues too"
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--profile", type=Path, default=None, help="run the worker under cProfile, stats to FILE"
    )
    parser.add_argument(
        "--before",
        metavar="REV",
        help="with --campaign: the worker of git revision REV and of this checkout, in turns",
    )
    parser.add_argument("--rounds", type=int, default=3, help="turns of each side (--before)")
    args = parser.parse_args()
    if args.before:
        compare(args)
        return
    if args.sqlite:
        path = Path(tempfile.mkdtemp()) / "bench.db"
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
    else:
        url = fresh_database("bench_messaging")
    try:
        result = run(url, args.recipients, args.dkim, campaign=args.campaign, profile=args.profile)
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
    if args.campaign:
        write_campaign(args, result, load)
        return
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


def compare(args: argparse.Namespace) -> None:
    """A campaign run per side in turns (before, after, before, after, ...): the worker of
    ``--before`` against this checkout's, on the same machine in the same minutes; medians
    and their ratio. The database, the snapshot and the sink are this checkout's in both."""
    sides: dict[str, Path | None] = {f"before ({args.before})": revision_src(args.before)}
    sides["this checkout"] = None
    results: dict[str, list[dict[str, object]]] = {side: [] for side in sides}
    loads: list[float] = []
    for turn in range(args.rounds):
        for side, src in sides.items():
            url = fresh_database("bench_messaging")
            try:
                result = run(url, args.recipients, args.dkim, campaign=True, src=src)
            finally:
                dispose_engines()
                drop_database(url)
            load = os.getloadavg()[0]
            loads.append(load)
            results[side].append(result)
            print(
                f"turn {turn + 1} {side}: {result['recipients_per_second']:.0f} recipients/s, "
                f"queuing {result['queuing_seconds']:.1f} s, worker CPU "
                f"{result['worker_cpu']:.1f} s, received {result['received']}, load {load:.1f}",
                flush=True,
            )

    def median(side: str, key: str) -> float:
        return statistics.median(float(r[key]) for r in results[side])  # type: ignore[arg-type]

    keys = (
        ("recipients_per_second", "recipients/s (queued + sent)"),
        ("queuing_seconds", "worker: queuing s"),
        ("end_to_end_seconds", "worker: start to last settled s"),
        ("rate", "messages/s (sending)"),
        ("worker_cpu", "worker CPU s"),
        ("rss_max_mb", "worker peak RSS MB"),
    )
    before, after = sides
    rows = [
        f"| {label} | {median(before, key):,.1f} | {median(after, key):,.1f} | "
        f"{median(after, key) / median(before, key):.2f} |"
        for key, label in keys
    ]
    cpu_per = [
        f"| worker CPU ms per recipient | {1000 * median(before, 'worker_cpu') / args.recipients:.2f}"
        f" | {1000 * median(after, 'worker_cpu') / args.recipients:.2f} | "
        f"{median(after, 'worker_cpu') / median(before, 'worker_cpu'):.2f} |"
    ]
    table = (
        f"| median of {args.rounds} | {before} | {after} | after / before |\n"
        "|---|---:|---:|---:|\n" + "\n".join(rows + cpu_per) + "\n"
    )
    print(table)
    print(f"load (1 min) during the turns: {min(loads):.1f} to {max(loads):.1f}")
    if args.out:
        body = (
            "### Campaign, before and after (the worker's code only), in turns\n\n"
            f"Command: `.venv/bin/python benchmarks/messaging_send.py --campaign --recipients "
            f"{args.recipients} --before {args.before} --rounds {args.rounds}`\n\n"
            f"{table}\nLoad average (1 min) after each run: "
            f"{', '.join(f'{x:.1f}' for x in loads)}. Every run: PostgreSQL, 10 % holdout, "
            "one worker, the sink on loopback.\n"
        )
        write_section(args.out, "campaign_send_pg_before_after", body, title="Messaging")


def write_campaign(
    args: argparse.Namespace, result: dict[str, object], load: tuple[float, ...]
) -> None:
    """The campaign run's line (printed, and written to ``--out``)."""
    line = (
        f"| {'SQLite' if args.sqlite else 'PostgreSQL'} | {args.recipients:,} | "
        f"{result['holdout']:,} | {result['snapshot_seconds']:.2f} | "
        f"{result['queuing_seconds']:.1f} | {result['end_to_end_seconds']:.1f} | "
        f"**{result['recipients_per_second']:,.0f}** | {result['rate']:,.0f} | "
        f"{result['received']:,} | {result['rss_early_mb']:.0f} / {result['rss_end_mb']:.0f} | "
        f"{result['worker_cpu']:.0f} | {load[0]:.1f} |"
    )
    print(line)
    if not args.out:
        return
    body = (
        "### Campaign: segment snapshot, holdout, queued and sent by one worker\n\n"
        f"Command: `.venv/bin/python benchmarks/messaging_send.py --campaign --recipients "
        f"{args.recipients}{' --sqlite' if args.sqlite else ''}`\n\n"
        "| database | segment | held out | snapshot s (the send request) | worker: queuing s | "
        "worker: start to last settled s | recipients/s (queued + sent) | messages/s (sending) | "
        "received by the sink | worker RSS MB at 10 % / end | worker CPU s | load (1 min) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        f"{line}\n\n"
        f"Statuses after the run: {result['statuses']}. The recipients/s column counts every "
        "customer of the segment (the held-out ones are drawn and recorded too) over the "
        "worker's whole run; the messages/s column is the sending alone (first hand-over to "
        "last settled), as in the rows above.\n"
    )
    name = f"campaign_send_{'sqlite' if args.sqlite else 'pg'}"
    write_section(args.out, name, body, title="Messaging")


if __name__ == "__main__":
    main()

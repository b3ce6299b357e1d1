"""Import from the dashboard: upload, the dry run's report (figures, line-numbered problems,
the rejected rows as a file), then the import, through the ``wafa import`` engine.

The check and the import run as background tasks after the answer; the test client runs
them before it returns, so each step's page shows its outcome.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.web.helpers import csrf_token, logged_in, post_form
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.orders.importing import jobs
from wafa.orders.models import Order, Product

DATA = Path(__file__).resolve().parent.parent / "data" / "imports"
ORDERS = (
    "order_id,placed_at,customer_email,name,quantity,unit_price\n"
    "A-1,2025-08-01,omar@example.com,Flat white,1,4.50\n"
    "A-1,2025-08-01,omar@example.com,Brownie,2,3.25\n"
    "A-2,2025-08-02,sara@example.com,Cold brew,one,5.00\n"
    "=A-3,2025-08-03,=cmd|' /C calc'!A0,Tea,1,2.00\n"
    "A-4,2025-08-04,lena@example.com,Tea,1,2.00\n"
)


def upload(client: TestClient, kind: str, text: str | bytes, **extra: str) -> Any:
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        "/import",
        data={
            "kind": kind,
            "format": "generic",
            "csrf_token": csrf_token(client, "/import"),
            **extra,
        },
        files={"file": ("shop orders.csv", data, "text/csv")},
        follow_redirects=False,
    )


def job_id(answer: Any) -> str:
    assert answer.status_code == 303, answer.text[:3000]
    found = re.fullmatch(r"/import/([0-9a-f-]{36})", answer.headers["location"])
    assert found
    return found.group(1)


def count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


class TestOrders:
    def test_check_then_import_the_good_rows(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        job = job_id(upload(client, "orders", ORDERS))
        page = client.get(f"/import/{job}")
        assert page.status_code == 200
        assert "Ready to import" in page.text and "What the import would do" in page.text
        assert "2 problems in the file" in page.text
        # Each problem by line and column (the header is line 1).
        assert re.search(r'<td class="num">4</td><td><bdi>quantity</bdi></td>', page.text)
        assert re.search(r'<td class="num">5</td><td><bdi>customer_email</bdi></td>', page.text)
        assert count(session, Order) == 0  # a dry run wrote nothing
        rejected = client.get(f"/import/{job}/rejected.csv")
        assert rejected.status_code == 200
        assert 'filename="shop_orders-rejected.csv"' in rejected.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(rejected.text)))
        assert rows[0] == ["line", "column", "reason", "row"]
        assert [r[0] for r in rows[1:]] == ["4", "5"]
        assert rows[2][3].startswith("'")  # the row's text never runs as a formula

        started = post_form(client, f"/import/{job}/run", {}, page=f"/import/{job}")
        assert started.status_code == 303
        done = client.get(f"/import/{job}")
        assert "Imported" in done.text and "What was imported" in done.text
        session.expire_all()
        assert count(session, Order) == 2  # A-1 and A-4; A-2 and A-3 rejected
        # Only once: the job is done.
        again = post_form(client, f"/import/{job}/run", {}, page=f"/import/{job}")
        assert again.status_code == 303 and count(session, Order) == 2

    def test_the_same_file_again_adds_nothing(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        good = "\n".join(ORDERS.splitlines()[:3] + ORDERS.splitlines()[5:]) + "\n"
        for _ in range(2):
            job = job_id(upload(client, "orders", good))
            assert "Ready to import" in client.get(f"/import/{job}").text
            post_form(client, f"/import/{job}/run", {}, page=f"/import/{job}")
        page = client.get(f"/import/{job}").text
        assert "Orders already in Wafa" in page
        session.expire_all()
        assert count(session, Order) == 2

    def test_a_file_that_cannot_be_read_is_refused(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session)
        job = job_id(upload(client, "orders", "who,what\nx,y\n"))
        page = client.get(f"/import/{job}").text
        assert "Cannot be imported" in page and 'action="/import/' not in page
        assert post_form(client, f"/import/{job}/run", {}, page=f"/import/{job}").status_code == 303
        assert count(session, Order) == 0


class TestCustomersAndProducts:
    def test_customers(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, locale="fa")
        job = job_id(upload(client, "customers", (DATA / "customers.csv").read_bytes()))
        post_form(client, f"/import/{job}/run", {}, page=f"/import/{job}")
        page = client.get(f"/import/{job}")
        assert 'lang="fa"' in page.text and "وارد شد" in page.text
        session.expire_all()
        assert count(session, Customer) >= 2

    def test_products(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        job = job_id(upload(client, "products", (DATA / "products.csv").read_bytes()))
        post_form(client, f"/import/{job}/run", {}, page=f"/import/{job}")
        session.expire_all()
        assert count(session, Product) >= 1


class TestRefusals:
    def test_fields_are_named(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        page = upload(client, "invoices", "")
        assert page.status_code == 422
        assert 'id="kind-error"' in page.text and 'id="file-error"' in page.text
        binary = upload(client, "orders", b"\x89PNG\r\n\x1a\n\x00\x00")
        assert binary.status_code == 422 and 'id="file-error"' in binary.text

    @pytest.mark.parametrize("role", [Role.cashier])
    def test_cashiers_cannot_import(self, client: TestClient, session: Session, role: Role) -> None:
        logged_in(client, session, role=role)
        assert client.get("/import").status_code == 403
        assert 'href="/import"' not in client.get("/customers").text

    def test_a_body_announced_too_large_is_refused_before_reading(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session)
        answer = client.post(
            "/import",
            content=b"x" * 10,
            headers={
                "content-type": "multipart/form-data; boundary=x",
                "content-length": str(65 * 1024 * 1024),
                "x-csrf-token": csrf_token(client, "/import"),
            },
        )
        assert answer.status_code == 413


def test_a_job_whose_process_is_gone_reads_interrupted(session: Session) -> None:
    job = jobs.ImportJob(
        kind="orders", format="generic", filename="x.csv", size=1, upload=b"x",
        created_by="t", status="importing", runner="elsewhere:1:abc", report={},
    )  # fmt: skip
    session.add(job)
    session.flush()
    import socket

    job.runner = f"{socket.gethostname()}:999999:abc"  # no such process here
    assert jobs.state(job) == "interrupted"


KILLED = textwrap.dedent(
    """
    import os, sys, threading, time, uuid
    from wafa.core.db import session_factory
    from wafa.core.settings import Settings
    from wafa.orders.importing import jobs

    settings = Settings.model_validate_json(sys.argv[1])
    job_id = uuid.UUID(sys.argv[2])

    def watch():
        while True:
            found = jobs.progress(job_id)
            if found and found[0] == "writing" and found[1] > 0:
                print("writing", flush=True)
                return
            time.sleep(0.01)

    threading.Thread(target=watch, daemon=True).start()
    factory = session_factory(settings)
    with factory() as s:
        jobs.start_import(s, job_id=job_id)
        s.commit()
    jobs.run_import(factory, job_id, settings)
    print("finished", flush=True)
    """
)


def test_an_import_killed_mid_write_leaves_nothing(committed_db: Settings, tmp_path: Path) -> None:
    """The process running an import is killed (SIGKILL) while it writes: no order, no
    customer of the file is in the database, and the job reads interrupted."""
    lines = ["order_id,placed_at,customer_email,name,quantity,unit_price"]
    lines += [f"K-{n},2025-08-01,k{n}@example.com,Tea,1,2.00" for n in range(20_000)]
    with session_scope(committed_db) as session:
        job = jobs.create_job(
            session, kind="orders", fmt="generic", filename="big.csv",
            data=("\n".join(lines) + "\n").encode(), created_by="test",
        )  # fmt: skip
        job.status = jobs.JobStatus.checked.value
        job.report = {"figures": {}, "error_count": 0, "errors": []}
        job_id = job.id
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    child = subprocess.Popen(
        [sys.executable, str(script), committed_db.model_dump_json(), str(job_id)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert child.stdout is not None
    first = child.stdout.readline().strip()
    child.kill()
    child.wait(timeout=30)
    assert first == "writing", "the import ended before it could be killed"
    with session_scope(committed_db) as session:
        assert count(session, Order) == 0
        assert session.scalar(select(func.count()).select_from(Customer)) == 0
        stored = jobs.get_job(session, job_id)
        assert stored.status == "importing" and jobs.state(stored) == "interrupted"

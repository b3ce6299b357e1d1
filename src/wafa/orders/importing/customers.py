"""Customer imports: the generic format, Shopify's Customers export and WooCommerce's.

Each row is matched or created through ``customers.service.resolve_contacts`` (the
matching engine), in file order; then the fields it carries that matching does not
set (birthday, tags, notes, language, gender) are applied with
``customers.service.update_customer``. Tags are added to those already on file. A row
needs an email, a phone or a ``customer_id`` so that a re-import finds the same person
again; a row with none of them is refused. Re-importing a file changes nothing.

Generic fields (case-insensitive; ``--map``/``--mapping`` rename columns):
``name`` (or ``first_name`` + ``last_name``), ``email``, ``phone``, ``customer_id``
(external id under ``--source``), ``birthday`` (``1990-05-17``, or ``05-17`` without a
year), ``birthday_calendar`` (gregorian or jalali; default the business calendar — a
year before 1700 in a Gregorian birthday is refused as probably Jalali), ``city``,
``address``, ``tags`` (comma-separated), ``notes``, ``language``, ``gender``
(female/male/other), ``accepts_email_marketing``, ``accepts_sms_marketing`` (yes/no).

Shopify's export columns read: ``Customer ID``, ``First Name``, ``Last Name``,
``Email``, ``Phone`` (else ``Default Address Phone``), ``Accepts Email Marketing`` (or
``Accepts Marketing``), ``Accepts SMS Marketing``, ``Default Address City`` (or
``City``), ``Default Address Address1`` (or ``Address1``), ``Tags``, ``Note``; its other
columns (totals, tax exemption, province…) are ignored.

WooCommerce has no customer export of its own in the admin's Customers list, so two
common files are read: the Analytics > Customers download (``Name``, ``Email``,
``City``) and the customer exports of the export extensions (``customer_id``,
``first_name``/``last_name`` else ``billing_first_name``/``billing_last_name``,
``email``/``user_email`` else ``billing_email``, ``billing_phone``, ``billing_city``,
``billing_address_1``). A ``customer_id`` of 0 (a guest) is no id. WooCommerce keeps no
marketing consent, so none is recorded.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.core.calendars import days_in_month, is_valid_month_day
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.models import ConsentChannel, ConsentRecord, Gender
from wafa.customers.schemas import Birthday, ConsentIn, CustomerUpdate
from wafa.customers.service import BIRTH_YEARS
from wafa.ingest.values import CellProblem, optional_yes_no
from wafa.orders.importing.base import Rejected, Table, read_email, read_phone
from wafa.orders.importing.errors import (
    FileRefused,
    ImportRejected,
    RowError,
    write_errors,
)
from wafa.orders.importing.readers import CsvSource, Record

GENERIC_FIELDS = (
    "name", "first_name", "last_name", "email", "phone", "customer_id", "birthday",
    "birthday_calendar", "city", "address", "tags", "notes", "language", "gender",
    "accepts_email_marketing", "accepts_sms_marketing",
)  # fmt: skip

SHOPIFY_COLUMNS = {
    "Customer ID": "customer_id",
    "First Name": "first_name",
    "Last Name": "last_name",
    "Email": "email",
    "Phone": "phone",
    "Default Address Phone": "address_phone",
    "Accepts Email Marketing": "accepts_email_marketing",
    "Accepts Marketing": "accepts_email_marketing",
    "Accepts SMS Marketing": "accepts_sms_marketing",
    "Default Address City": "city",
    "City": "city",
    "Default Address Address1": "address",
    "Address1": "address",
    "Tags": "tags",
    "Note": "notes",
}
WOOCOMMERCE_COLUMNS = {
    "customer_id": "customer_id",
    "name": "name",
    "first_name": "first_name",
    "billing_first_name": "first_name",
    "last_name": "last_name",
    "billing_last_name": "last_name",
    "email": "email",
    "user_email": "email",
    "billing_email": "email",
    "phone": "phone",
    "billing_phone": "phone",
    "city": "city",
    "billing_city": "city",
    "billing_address_1": "address",
}
_BIRTHDAY = re.compile(r"(?:(\d{4})-)?-?(\d{1,2})-(\d{1,2})")


@dataclass
class CustomerRow:
    """One validated customer row."""

    line: int
    contact: customers.Contact
    update: dict[str, object] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


@dataclass
class CustomerReport:
    """What a customer import found and did."""

    rows: int = 0
    created: int = 0
    matched: int = 0
    updated: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """The figures, for printing."""
        return {
            "rows": self.rows,
            "customers created": self.created,
            "customers matched": self.matched,
            "customers updated": self.updated,
            "rejected rows": self.rejected,
        }


class CustomerReader:
    """Validates customer rows of the generic, Shopify or WooCommerce layout."""

    def __init__(
        self, *, fmt: str, settings: Settings, source: str, mapping: Mapping[str, str | None] | None
    ) -> None:
        if fmt not in ("generic", "shopify", "woocommerce"):
            raise FileRefused(
                f"customers can be imported from generic, shopify or woocommerce, not {fmt!r}"
            )
        self.fmt = fmt
        self.settings = settings
        self.source = source
        self.mapping = mapping
        self.table: Table

    def bind(self, header: Record) -> None:
        """Read the header."""
        if self.fmt == "shopify":
            self.table = Table(header, fmt="shopify customers", columns=tuple(SHOPIFY_COLUMNS),
                               mapping=self.mapping, strict=False)  # fmt: skip
            self.rename = SHOPIFY_COLUMNS
        elif self.fmt == "woocommerce":
            self.table = Table(header, fmt="woocommerce customers",
                               columns=tuple(WOOCOMMERCE_COLUMNS), mapping=self.mapping,
                               strict=False)  # fmt: skip
            self.rename = WOOCOMMERCE_COLUMNS
        else:
            self.table = Table(header, fmt="generic customers", columns=GENERIC_FIELDS,
                               mapping=self.mapping)  # fmt: skip
            self.rename = {f: f for f in GENERIC_FIELDS}

    def read(self, record: Record) -> CustomerRow | Rejected:
        """Validate one row."""
        errors: list[RowError] = []
        width = self.table.width_error(record)
        if width is not None:
            return Rejected(str(record.line), [width], [record])
        cells: dict[str, str] = {}
        columns: dict[str, str] = {}
        raw_get = self.table.getter(record.values)
        for column, name in self.rename.items():
            value = raw_get(column).strip()
            if name == "customer_id" and self.fmt == "woocommerce" and value == "0":
                continue  # a guest
            if value and not cells.get(name):
                cells[name] = value
                columns[name] = self.table.col(column)

        def get(name: str) -> str:
            return cells.get(name, "")

        def col(name: str) -> str:
            return columns.get(name, name)

        def check(read: Callable[[], object]) -> object:
            try:
                return read()
            except CellProblem as exc:
                errors.append(RowError(record.line, exc.column, exc.reason, record.raw))
                return None

        region = self.settings.phone_region
        email = check(lambda: read_email(get("email"), col("email")))
        phone = check(
            lambda: read_phone(get("phone") or get("address_phone"), col("phone"), region)
        )
        email_opt = check(
            lambda: optional_yes_no(get("accepts_email_marketing"), col("accepts_email_marketing"))
        )
        sms_opt = check(
            lambda: optional_yes_no(get("accepts_sms_marketing"), col("accepts_sms_marketing"))
        )
        update: dict[str, object] = {}
        birthday = check(
            lambda: self._birthday(get("birthday"), get("birthday_calendar"), col("birthday"))
        )
        if birthday is not None:
            update["birthday"] = birthday
        gender = get("gender").lower()
        if gender:
            if gender not in {g.value for g in Gender}:
                errors.append(
                    RowError(
                        record.line,
                        col("gender"),
                        f"{gender!r} is not female, male or other",
                        record.raw,
                    )
                )
            else:
                update["gender"] = gender
        for name in ("notes", "language"):
            if get(name):
                update[name] = get(name)[: 8 if name == "language" else 5000]
        name = get("name") or " ".join(p for p in (get("first_name"), get("last_name")) if p)
        external = get("customer_id")
        if not (email or phone or external) and not errors:
            errors.append(
                RowError(
                    record.line,
                    None,
                    "a customer needs an email, a phone or a customer_id",
                    record.raw,
                )
            )
        if errors:
            return Rejected(str(record.line), errors, [record])
        given = [
            col(f)
            for f, v in (("accepts_email_marketing", email_opt), ("accepts_sms_marketing", sms_opt))
            if v is not None
        ]
        contact = customers.Contact(
            email=email,  # type: ignore[arg-type]
            phone=phone,  # type: ignore[arg-type]
            name=name[:200] or None,
            external_source=self.source if external else None,
            external_id=external[:200] or None,
            city=get("city")[:120] or None,
            address=get("address")[:1000] or None,
            email_opt_in=email_opt,  # type: ignore[arg-type]
            sms_opt_in=sms_opt,  # type: ignore[arg-type]
            consent_source=f"{self.fmt} import: {', '.join(given)}" if given else None,
        )
        tags = [t.strip()[:50] for t in get("tags").split(",") if t.strip()]
        return CustomerRow(record.line, contact, update, tags)

    def _birthday(self, text: str, calendar_text: str, column: str) -> Birthday | None:
        if not text:
            return None
        match = _BIRTHDAY.fullmatch(text)
        if match is None:
            raise CellProblem(
                column, f"{text!r} is not a birthday (use 1990-05-17, or 05-17 without a year)"
            )
        year = int(match.group(1)) if match.group(1) else None
        month, day = int(match.group(2)), int(match.group(3))
        try:
            kind = CalendarKind(calendar_text.lower()) if calendar_text else self.settings.calendar
        except ValueError:
            raise CellProblem(
                "birthday_calendar", f"{calendar_text!r} is not gregorian or jalali"
            ) from None
        if year is not None and kind is CalendarKind.gregorian and year < 1700:
            raise CellProblem(
                column, f"{text!r}: year {year} looks Jalali; add birthday_calendar=jalali"
            )
        if not is_valid_month_day(month, day, kind):
            raise CellProblem(column, f"{text!r} is not a day of the {kind} calendar")
        if year is not None:
            low, high = BIRTH_YEARS[kind]
            if not low <= year <= high:
                raise CellProblem(column, f"{text!r} has an implausible {kind} year")
            if day > days_in_month(year, month, kind):
                raise CellProblem(column, f"{text!r} is not a day of the {kind} calendar")
        return Birthday(day=day, month=month, year=year, calendar=kind)


def import_customers(
    session: Session,
    path: Path,
    *,
    fmt: str,
    settings: Settings,
    source: str | None = None,
    mapping: Mapping[str, str | None] | None = None,
    encoding: str | None = None,
    skip_invalid: bool = False,
    errors_path: Path | None = None,
    batch_size: int = 1000,
) -> CustomerReport:
    """Import customers into ``session`` (the caller commits); all rows are checked first."""
    source = source or fmt
    reader = CustomerReader(fmt=fmt, settings=settings, source=source, mapping=mapping)
    report = CustomerReport()
    csv_source = CsvSource(path, encoding=encoding)
    records = csv_source.records()
    header = next(records, None)
    if header is None:
        raise FileRefused("the file is empty: no header line")
    reader.bind(header)
    good: list[CustomerRow] = []
    rejected: list[Rejected] = []
    for record in records:
        report.rows += 1
        item = reader.read(record)
        if isinstance(item, Rejected):
            rejected.append(item)
        else:
            good.append(item)
    errors = [e for r in rejected for e in r.errors] + csv_source.errors
    report.errors = sorted(errors, key=lambda e: e.line)
    report.rejected = len(rejected) + len(csv_source.errors)
    if errors and not skip_invalid:
        raise ImportRejected(
            f"{len(errors)} problem(s) in {path.name}; nothing was imported",
            report.errors,
            len(errors),
        )
    if errors_path is not None and skip_invalid:
        write_errors(errors_path, report.errors)
    for start in range(0, len(good), batch_size):
        batch = good[start : start + batch_size]
        # Consent is applied after matching, and only when it changes what is on file,
        # so that importing the same file again records nothing new.
        resolution = customers.resolve_contacts(
            session,
            [replace(row.contact, email_opt_in=None, sms_opt_in=None) for row in batch],
            source=source,
        )
        created = set(resolution.created)
        report.created += len(created)
        decided = _consent_on_file(session, [cid for cid in resolution.customer_ids if cid])
        for row, cid in zip(batch, resolution.customer_ids, strict=True):
            assert cid is not None  # every row is identifiable
            if cid not in created:
                report.matched += 1
            changed = _apply_consent(session, cid, row.contact, decided)
            if ((row.update or row.tags) and _apply(session, cid, row, settings)) or changed:
                report.updated += 1
    session.flush()
    return report


def _consent_on_file(session: Session, ids: list[uuid.UUID]) -> set[tuple[uuid.UUID, str]]:
    """(customer, channel) pairs that already have a recorded consent decision."""
    if not ids:
        return set()
    rows = session.execute(
        select(ConsentRecord.customer_id, ConsentRecord.channel)
        .where(ConsentRecord.customer_id.in_(ids))
        .distinct()
    )
    return {(cid, channel) for cid, channel in rows}


def _apply_consent(
    session: Session,
    customer_id: uuid.UUID,
    contact: customers.Contact,
    decided: set[tuple[uuid.UUID, str]],
) -> bool:
    wanted = [
        (ConsentChannel.email, contact.email_opt_in),
        (ConsentChannel.sms, contact.sms_opt_in),
    ]
    if all(value is None for _, value in wanted):
        return False
    customer = customers.get_live_customer(session, customer_id)
    changed = False
    for channel, value in wanted:
        if value is None:
            continue
        current = (
            customer.email_consent if channel is ConsentChannel.email else customer.sms_consent
        )
        if current == value and (customer.id, channel.value) in decided:
            continue
        customers.record_consent(
            session,
            customer=customer,
            consent=ConsentIn(
                channel=channel, granted=value, source=contact.consent_source or "import"
            ),
        )
        decided.add((customer.id, channel.value))
        changed = True
    return changed


def _apply(session: Session, customer_id: object, row: CustomerRow, settings: Settings) -> bool:
    customer = customers.get_live_customer(session, customer_id)  # type: ignore[arg-type]
    fields = dict(row.update)
    if row.tags:
        merged = sorted(set(customer.tags or []) | set(row.tags))
        if merged != sorted(customer.tags or []):
            fields["tags"] = merged
    birthday = fields.get("birthday")
    if isinstance(birthday, Birthday) and customer.birthday is not None:
        current = customer.birthday
        if (current.day, current.month, current.year, current.calendar) == (
            birthday.day, birthday.month, birthday.year, str(birthday.calendar),
        ):  # fmt: skip
            del fields["birthday"]
    for name in ("notes", "language", "gender"):
        if name in fields and getattr(customer, name) == fields[name]:
            del fields[name]
    if not fields:
        return False
    customers.update_customer(
        session,
        customer_id=customer.id,
        data=CustomerUpdate(**fields),
        region=settings.phone_region,
        calendar=settings.calendar,
    )
    return True

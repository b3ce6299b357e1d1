"""Segments: a rule over what Wafa knows about a customer, compiled to one SQL query.

A rule is JSON (``{"all"|"any": [{"field", "op", "value"}, ...]}``, groups nest) that
staff build in the dashboard or integrators send by API. It is read in three steps,
each in its own module:

* :mod:`~wafa.messaging.segments.fields`: the catalogue of fields (what each means,
  its type, the operators it takes, its choices). One place; the validator, the
  compiler, the API's field list and the builder page all read it.
* :mod:`~wafa.messaging.segments.rules`: the pydantic models; a bad rule is refused
  with the path of the offending part (``rules.all.2.value``).
* :mod:`~wafa.messaging.segments.compiler`: one SQLAlchemy Core ``SELECT`` over the
  customers, outer-joined to the tables a rule needs, that runs on SQLite and
  PostgreSQL. Calendar facts ("days since the last order", "birthday month") are
  turned into instants of the business's timezone and calendar in Python, so the
  database compares plain columns and can use its indexes.

Order figures come from :mod:`~wafa.messaging.segments.stats`, a per-customer table
kept by this domain (counting a segment of a million customers must not group five
million orders each time). It is maintained from order and customer events and
rebuilt from the orders every day; it never writes the orders' tables.
"""

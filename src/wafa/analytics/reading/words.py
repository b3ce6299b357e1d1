"""A shop format's status words in SQL: what each row's status cells say, as bits.

The words and their meanings are the format's own vocabularies (``wafa.ingest``), the
ones the importer reads: a word the importer takes for a cancellation cancels here, a
word it refuses is refused here, with the importer's message. Nothing about statuses is
written in this module but how to say the vocabulary in SQL.

A row's status cells become an integer of bits (OR-ed over an order's rows):
``CANCELLED`` (the word means the order was cancelled), ``WHOLE`` (refunded in full),
``PARTIAL`` (refunded in part: the file must give the amount) and ``UNKNOWN`` (a word a
strict vocabulary does not know: the file is refused).
"""

from __future__ import annotations

from wafa.ingest.describe import RefundMeaning, Vocabulary, Word

__all__ = [
    "BITS",
    "CANCELLED",
    "PARTIAL",
    "UNKNOWN",
    "WHOLE",
    "Bits",
    "bits_sql",
    "literal",
    "unknown_message",
    "word_bits",
]

CANCELLED, WHOLE, PARTIAL, UNKNOWN = 1, 2, 4, 8


def literal(text: str) -> str:
    """Quote ``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


#: The bits, in order: cancelled, refunded in full, refunded in part, unknown.
Bits = tuple[int, int, int, int]
BITS: Bits = (CANCELLED, WHOLE, PARTIAL, UNKNOWN)


def word_bits(word: Word | None, bits: Bits = BITS) -> int:
    """Return the bits of one meaning (``None``: the cell says nothing)."""
    if word is None:
        return 0
    found = bits[0] if word.status == "cancelled" else 0
    if word.refund is RefundMeaning.whole:
        found |= bits[1]
    elif word.refund is RefundMeaning.partial:
        found |= bits[2]
    return found


def _arms(words: dict[str, int]) -> str:
    return " ".join(f"WHEN {literal(w)} THEN {b}" for w, b in words.items())


def bits_sql(vocabulary: Vocabulary, cell: str, bits: Bits = BITS) -> str:
    """Return SQL for the bits of the status ``cell`` (an SQL expression of text or NULL).

    The words as the vocabulary lists them (and with its prefix) are compared first, as
    written: most rows of a big export carry one of a few such words, and a ``CASE``
    stops at the first match. Only other cells are lower-cased, trimmed and stripped of
    the prefix, exactly as ``Vocabulary.normal`` does. ``bits`` gives the values of the
    four bits (a reader that keeps other flags in the same integer moves them).
    """
    blank = word_bits(vocabulary.blank, bits)
    unknown = bits[3] if vocabulary.strict else 0
    words = {w: word_bits(m, bits) for w, m in vocabulary.words.items()}
    as_written = dict(words)
    if vocabulary.prefix:
        as_written.update({vocabulary.prefix + w: b for w, b in words.items()})
    as_written[""] = blank
    lowered = f"lower(trim({cell}))"
    normal = lowered
    if vocabulary.prefix:
        prefix = vocabulary.prefix
        normal = (
            f"(CASE WHEN starts_with({lowered}, {literal(prefix)}) "
            f"THEN substr({lowered}, {len(prefix) + 1}) ELSE {lowered} END)"
        )
    slow = f"CASE {normal} {_arms(words)} WHEN '' THEN {blank} ELSE {unknown} END"
    return (
        f"(CASE WHEN {cell} IS NULL THEN {blank} "
        f"ELSE CASE {cell} {_arms(as_written)} ELSE {slow} END END)"
    )


def unknown_message(vocabulary: Vocabulary, value: str, column: str) -> str:
    """Return the importer's own message for a word ``vocabulary`` refuses."""
    from wafa.ingest.values import CellProblem

    try:
        vocabulary.meaning(value, column)
    except CellProblem as exc:
        return exc.reason
    return f"{value!r} is not a known status"  # pragma: no cover - called for refused words

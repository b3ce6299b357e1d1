from __future__ import annotations

from wafa.core.ids import new_id


class TestNewId:
    def test_is_version_7_and_strictly_increasing(self) -> None:
        ids = [new_id() for _ in range(5000)]
        assert all(i.version == 7 for i in ids)
        assert ids == sorted(ids)
        assert len(set(ids)) == len(ids)

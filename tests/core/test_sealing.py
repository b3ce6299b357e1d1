"""Sealed values: Fernet under a key ring, named by key id; rotation keeps old values open."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.conftest import TEST_DATA_KEY, make_settings
from wafa.core.errors import Conflict
from wafa.core.sealing import (
    SealError,
    is_sealed,
    key_id,
    key_id_of,
    key_ring,
    prune_keys,
    rotate_key,
    seal,
    unseal,
)
from wafa.core.settings import Settings


def _file_settings(tmp_path: Path) -> Settings:
    return make_settings(
        f"sqlite:///{tmp_path / 'w.db'}", data_keys=None, data_keys_file=str(tmp_path / "keys")
    )


class TestSeal:
    def test_a_value_opens_and_names_its_key(self) -> None:
        settings = make_settings("sqlite://")
        sealed = seal(settings, "shpss_secret")
        assert sealed.startswith(f"enc1:{key_id(TEST_DATA_KEY)}:")
        assert "shpss_secret" not in sealed
        assert unseal(settings, sealed) == "shpss_secret"
        assert key_id_of(sealed) == key_id(TEST_DATA_KEY)

    def test_the_same_value_seals_differently_each_time(self) -> None:
        settings = make_settings("sqlite://")
        assert seal(settings, "x" * 20) != seal(settings, "x" * 20)

    def test_a_changed_value_never_opens(self) -> None:
        settings = make_settings("sqlite://")
        sealed = seal(settings, "secret-value")
        cut = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
        with pytest.raises(SealError, match="damaged"):
            unseal(settings, cut)

    def test_plain_text_is_refused_not_passed_through(self) -> None:
        settings = make_settings("sqlite://")
        assert not is_sealed("shpss_plain")
        with pytest.raises(SealError, match="not sealed"):
            unseal(settings, "shpss_plain")

    def test_a_key_not_in_the_ring_is_named(self) -> None:
        other = make_settings("sqlite://", data_keys=Fernet.generate_key().decode())
        sealed = seal(other, "secret-value")
        with pytest.raises(SealError, match=f"key {key_id_of(sealed)} .* not in the key ring"):
            unseal(make_settings("sqlite://"), sealed)

    def test_a_bad_key_in_settings_is_refused_clearly(self) -> None:
        with pytest.raises(SealError, match="WAFA_DATA_KEYS holds a value that is not a Fernet"):
            seal(make_settings("sqlite://", data_keys="not-a-key"), "x")

    def test_every_key_of_the_ring_opens_the_newest_seals(self) -> None:
        old, new = TEST_DATA_KEY, Fernet.generate_key().decode()
        before = seal(make_settings("sqlite://"), "one")
        both = make_settings("sqlite://", data_keys=f"{new},{old}")
        assert unseal(both, before) == "one"
        assert key_id_of(seal(both, "two")) == key_id(new)


class TestKeyFile:
    def test_made_on_first_use_private_and_beside_the_secret_key(self, tmp_path: Path) -> None:
        default = make_settings(f"sqlite:///{tmp_path / 'shop.db'}", data_keys=None)
        assert default.data_keys_path == tmp_path / "shop.db.keys"
        settings = _file_settings(tmp_path)
        sealed = seal(settings, "secret-value")
        path = tmp_path / "keys"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert key_id_of(sealed) == key_id(path.read_text().strip())

    def test_rotation_keeps_old_values_open_and_seals_with_the_new_key(
        self, tmp_path: Path
    ) -> None:
        settings = _file_settings(tmp_path)
        before = seal(settings, "before")
        ring = rotate_key(settings)
        assert len(ring.ids) == 2 and ring.ids[1] == key_id_of(before)
        # The same settings object sees the new file (another process would too).
        after = seal(settings, "after")
        assert key_id_of(after) == ring.ids[0]
        assert (unseal(settings, before), unseal(settings, after)) == ("before", "after")

    def test_prune_drops_unused_keys_but_never_the_newest(self, tmp_path: Path) -> None:
        settings = _file_settings(tmp_path)
        before = seal(settings, "before")
        rotate_key(settings)
        kept = key_id_of(before)
        assert kept is not None
        assert prune_keys(settings, {kept}) == []
        assert prune_keys(settings, set()) == [kept]
        assert key_ring(settings).ids == (key_ring(settings).ids[0],)
        with pytest.raises(SealError, match="not in the key ring"):
            unseal(settings, before)

    def test_keys_from_the_environment_are_not_rotated_here(self) -> None:
        with pytest.raises(Conflict, match="WAFA_DATA_KEYS"):
            rotate_key(make_settings("sqlite://"))

from __future__ import annotations

import pytest
from pydantic import ValidationError

from wafa.core.settings import Environment, Settings


def build(**values: object) -> Settings:
    return Settings.model_validate(values)


class TestSettings:
    def test_every_field_has_a_description(self) -> None:
        missing = [name for name, f in Settings.model_fields.items() if not f.description]
        assert missing == []

    def test_defaults_are_sqlite_in_the_working_directory(self) -> None:
        assert build().database_url == "sqlite:///./wafa.db"

    def test_env_prefix_is_wafa(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("WAFA_CURRENCY", "irr")
        monkeypatch.setenv("WAFA_TIMEZONE", "Asia/Tehran")
        monkeypatch.setenv("WAFA_CALENDAR", "jalali")
        s = Settings(_env_file=None)
        assert (s.currency, s.timezone, s.calendar) == ("IRR", "Asia/Tehran", "jalali")

    @pytest.mark.parametrize("secret", ["change-me", "secret", "short"])
    def test_placeholder_secret_refused_in_production(self, secret: str) -> None:
        with pytest.raises(ValidationError, match="WAFA_SECRET_KEY"):
            build(environment=Environment.production, secret_key=secret)

    def test_placeholder_secret_allowed_in_development(self) -> None:
        assert build(secret_key="change-me").secret_key == "change-me"

    def test_unknown_currency_refused(self) -> None:
        with pytest.raises(ValidationError, match="currency"):
            build(currency="XYZ")

    def test_unknown_timezone_refused(self) -> None:
        with pytest.raises(ValidationError, match="timezone"):
            build(timezone="Mars/Olympus")

"""The ``wafa`` CLI fixture for the segment CLI tests."""

from tests.cli.conftest import wafa  # noqa: F401 - re-exported fixture

"""``python -m wafa.cli``."""

from wafa.cli.main import main

main()

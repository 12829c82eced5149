"""``python -m evoforum``: the command line."""

from evoforum.cli import main

raise SystemExit(main())

"""``python -m imgprivacy.cli``: the ``imgprivacy`` command."""

from ._parser import main

raise SystemExit(main())

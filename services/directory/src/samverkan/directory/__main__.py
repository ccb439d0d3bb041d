"""`python -m samverkan.directory serve|migrate`."""

from samverkan.directory.app import main

raise SystemExit(main())

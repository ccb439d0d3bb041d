"""`python -m samverkan.audit serve|migrate`."""

from samverkan.audit.app import main

raise SystemExit(main())

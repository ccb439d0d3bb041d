"""`python -m samverkan.notification serve|migrate`."""

from samverkan.notification.app import main

raise SystemExit(main())

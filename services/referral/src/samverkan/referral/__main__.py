"""`python -m samverkan.referral serve|migrate`."""

from samverkan.referral.app import main

raise SystemExit(main())

"""Keys made for one request and never stored: DUKPT keys from a BDK and KSN, and wrapped (dynamic) keys."""

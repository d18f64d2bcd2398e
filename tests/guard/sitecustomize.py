"""Python programs a test starts are guarded like the test (see componentguard)."""

import componentguard

componentguard.install_in_child()

"""softgem.notifier."""

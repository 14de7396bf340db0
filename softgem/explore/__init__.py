"""softgem.explore."""

"""softgem.host."""

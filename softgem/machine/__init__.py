"""softgem.machine."""

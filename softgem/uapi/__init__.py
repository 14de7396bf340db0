"""softgem.uapi."""

"""softgem.gpu."""

"""The read side: who may see what, folder queries, search, read state."""

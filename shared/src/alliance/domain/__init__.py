"""Domain building blocks: aggregates, deadlines, ids, units, code lists, names. No I/O, no runtime."""

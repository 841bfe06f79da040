"""Feature store, training and report on top of the marts."""

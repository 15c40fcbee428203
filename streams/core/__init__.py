"""Pure, typed domain logic: no I/O, no clocks read; time arrives in events."""

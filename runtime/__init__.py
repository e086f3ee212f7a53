"""What every process shares: the settings object and structured logging. No business logic;
the edge and the core both depend on it, it depends on neither."""

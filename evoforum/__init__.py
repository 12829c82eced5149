"""evoforum."""

"""Directory service: this principal's functions and formalised contacts, and the map of all."""

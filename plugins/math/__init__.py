"""Math environments: answers checked with sympy."""

"""Incentive compensation: versioned plans, the pure statement calculation, and period close."""

"""Settlement: business days, fees, the daily settlement, its fan-out, payouts and bank batch files."""

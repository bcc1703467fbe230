"""Compare runs and render reports: gather run directories into pandas, check protocols, tables, plots."""

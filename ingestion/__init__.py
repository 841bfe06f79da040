"""Land J-Quants v2 data (API or bulk files) in `jquants_raw`."""

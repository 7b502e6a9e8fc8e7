"""Operating a deployment: the server secret, backups and restores, schema upgrades."""

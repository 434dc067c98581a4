"""Device drivers: one module per platform, turning journeys' operations into that platform's commands."""

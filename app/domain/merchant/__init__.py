"""What the merchant pages read and change, as plain queries and use cases (no Flask).

settings.py and overrides.py parse and save the settings forms all or nothing;
queue.py, purchasing.py and dashboard.py are read models scoped to one shop.
"""

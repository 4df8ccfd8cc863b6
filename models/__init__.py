"""Model files of smsem (data, not code): installed as the ``smsem.models`` package data."""

"""Latent interactions: estimators (LMS, QML, product indicators) and moderation reports."""

"""Anomaly detectors behind the dbt Python models in models/detectors/ (the `anomalies` mart).

- ``features``  feature names and definitions, a pandas reference of `bar_features`, the record shape
- ``zscore``    ZSCORE_SPREAD_BP, ZSCORE_LOG_VOLUME, ZSCORE_VWAP_DRIFT_BP (trailing-hour z-scores)
- ``jump``      JUMP (one-second return over its trailing sigma, gated, clustered)
- ``iforest``   IFOREST (IsolationForest on per-symbol standardised features)
- ``labeler``   the `rules` labeler: label, rationale, confidence

Every module works on plain pandas frames, so pytest runs them without dbt. The package imports none of
them itself: the z-score and JUMP models do not pay for importing scikit-learn.
"""

"""spark-lgbm-tuning"""

__version__ = "0.1"
